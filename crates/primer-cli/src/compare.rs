//! The arithmetic of `primer compare` (libtorch-free, so it is unit-tested anywhere): mean
//! curves over seeds, the compute a curve needs to reach a loss, speedups as the paper defines
//! them, and the SVG plot.

use std::fmt::Write as _;

/// Mean and (sample) standard deviation.
pub fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// The pointwise mean of curves of (compute, loss), truncated to the shortest.
pub fn mean_curve(curves: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let n = curves.iter().map(Vec::len).min().unwrap_or(0);
    (0..n)
        .map(|i| {
            let k = curves.len() as f64;
            (curves.iter().map(|c| c[i].0).sum::<f64>() / k, curves.iter().map(|c| c[i].1).sum::<f64>() / k)
        })
        .collect()
}

/// The compute at which a curve first reaches `target` (linear interpolation between the two
/// points around the crossing), or `None` if it never does.
pub fn compute_to_reach(curve: &[(f64, f64)], target: f64) -> Option<f64> {
    let i = curve.iter().position(|&(_, l)| l <= target)?;
    if i == 0 {
        return Some(curve[0].0);
    }
    let ((c0, l0), (c1, l1)) = (curve[i - 1], curve[i]);
    Some(if l0 == l1 { c1 } else { c0 + (c1 - c0) * (l0 - target) / (l0 - l1) })
}

/// The paper's speedup of `curve` against `baseline`: the compute the baseline needs to reach
/// its final loss over the compute `curve` needs for the same loss (`None`: never reached).
pub fn speedup(baseline: &[(f64, f64)], curve: &[(f64, f64)]) -> Option<f64> {
    let target = baseline.last()?.1;
    let base = compute_to_reach(baseline, target)?;
    compute_to_reach(curve, target).map(|c| base / c)
}

/// An SVG line plot of loss against compute (log scale), one line per named curve.
pub fn svg(title: &str, x_label: &str, curves: &[(String, Vec<(f64, f64)>)]) -> String {
    let (w, h, left, right, top, bottom) = (720.0, 440.0, 70.0, 180.0, 40.0, 50.0);
    let points: Vec<(f64, f64)> =
        curves.iter().flat_map(|(_, c)| c.iter().copied()).filter(|p| p.0 > 0.0 && p.1.is_finite()).collect();
    let (mut x0, mut x1) =
        points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0.log10()), b.max(p.0.log10())));
    let (mut y0, mut y1) = points.iter().fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
    if points.is_empty() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 - x0 < 1e-9 {
        x1 = x0 + 1.0;
    }
    if y1 - y0 < 1e-9 {
        y1 = y0 + 1.0;
    }
    let px = |x: f64| left + (x.log10() - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| top + (y1 - y) / (y1 - y0) * (h - top - bottom);
    let colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="{left}" y="22" font-size="14">{}</text>"#,
        escape(title)
    );
    let _ =
        writeln!(s, r#"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>"#, h - bottom, w - right, h - bottom);
    let _ = writeln!(s, r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>"#, h - bottom);
    for d in (x0.floor() as i32)..=(x1.ceil() as i32) {
        let x = 10f64.powi(d);
        if (d as f64) < x0 - 1e-9 || (d as f64) > x1 + 1e-9 {
            continue;
        }
        let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">1e{d}</text>"#, px(x), h - bottom + 16.0);
    }
    for k in 0..=4 {
        let y = y0 + (y1 - y0) * k as f64 / 4.0;
        let _ = writeln!(s, r#"<text x="{}" y="{:.1}" text-anchor="end">{y:.3}</text>"#, left - 6.0, py(y) + 4.0);
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
        (left + w - right) / 2.0,
        h - 12.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">validation loss (nats per byte)</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    for (i, (name, c)) in curves.iter().enumerate() {
        let color = colors[i % colors.len()];
        let pts: Vec<String> = c
            .iter()
            .filter(|p| p.0 > 0.0 && p.1.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, pts.join(" "));
        let ly = top + 16.0 * i as f64 + 8.0;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/>"#,
            w - right + 10.0,
            w - right + 30.0
        );
        let _ = writeln!(s, r#"<text x="{}" y="{:.1}">{}</text>"#, w - right + 35.0, ly + 4.0, escape(name));
    }
    s.push_str("</svg>\n");
    s
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaching_a_loss_interpolates_between_points() {
        let c = [(1.0, 5.0), (2.0, 3.0), (4.0, 2.0)];
        assert_eq!(compute_to_reach(&c, 6.0), Some(1.0));
        assert_eq!(compute_to_reach(&c, 4.0), Some(1.5));
        assert_eq!(compute_to_reach(&c, 2.5), Some(3.0));
        assert_eq!(compute_to_reach(&c, 1.0), None);
    }

    #[test]
    fn speedup_is_the_baselines_compute_over_this_ones() {
        // The baseline reaches 2.0 at 4 units; a program that reaches 2.0 at 2 units is 2x.
        let base = [(1.0, 5.0), (2.0, 3.0), (4.0, 2.0)];
        let fast = [(1.0, 4.0), (2.0, 2.0), (4.0, 1.5)];
        assert_eq!(speedup(&base, &fast), Some(2.0));
        assert_eq!(speedup(&base, &base), Some(1.0));
        assert_eq!(speedup(&base, &[(1.0, 9.0), (4.0, 2.5)]), None);
    }

    #[test]
    fn mean_curves_and_spread() {
        assert_eq!(mean_curve(&[vec![(1.0, 2.0), (2.0, 1.0)], vec![(1.0, 4.0)]]), vec![(1.0, 3.0)]);
        let (m, sd) = mean_sd(&[1.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((sd - 2f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn the_plot_has_a_line_and_a_legend_entry_per_program() {
        let s = svg(
            "t",
            "FLOPs",
            &[("a<b".into(), vec![(1e9, 3.0), (1e10, 2.0)]), ("c".into(), vec![(1e9, 3.5), (1e10, 2.5)])],
        );
        assert!(s.starts_with("<svg") && s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<polyline").count(), 2);
        assert!(s.contains("a&lt;b") && s.contains(">1e9<") && s.contains(">1e10<"));
    }
}
