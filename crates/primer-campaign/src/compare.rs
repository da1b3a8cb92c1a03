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

/// The pointwise sample standard deviation of curves of (compute, loss), truncated to the
/// shortest (the spread over seeds that [`mean_curve`] averages away).
pub fn sd_curve(curves: &[Vec<(f64, f64)>]) -> Vec<f64> {
    let n = curves.iter().map(Vec::len).min().unwrap_or(0);
    (0..n).map(|i| mean_sd(&curves.iter().map(|c| c[i].1).collect::<Vec<_>>()).1).collect()
}

/// One line of a plot: its points (compute, loss) and, where known, the spread (± one sd over
/// seeds) or a band (the interquartile range over campaigns) at each point, drawn as a band.
#[derive(Debug, Clone, Default)]
pub struct Line {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// Empty, or one value per point.
    pub spread: Vec<f64>,
    /// Empty, or (low, high) per point: drawn instead of the spread.
    pub band: Vec<(f64, f64)>,
}

impl Line {
    /// (low, high) of the band at point `k` (the point itself where there is none).
    fn band_at(&self, k: usize) -> (f64, f64) {
        let y = self.points[k].1;
        if let Some(&(lo, hi)) = self.band.get(k).filter(|b| b.0.is_finite() && b.1.is_finite()) {
            return (lo, hi);
        }
        let sd = self.spread.get(k).copied().filter(|s| s.is_finite()).unwrap_or(0.0);
        (y - sd, y + sd)
    }
}

/// Ticks of an axis: (value, label) for the labelled ones, and the minor ones.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    pub major: Vec<(f64, String)>,
    pub minor: Vec<f64>,
}

/// Decade ticks on a log axis (`1e11`, `1e12`), with minor ticks at 2..9 times each; a range
/// of less than two decades also labels 2 and 5 times each (`2e11`, `5e11`).
pub fn log_ticks(lo: f64, hi: f64) -> Ticks {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let inside = |v: f64| v >= lo * (1.0 - 1e-9) && v <= hi * (1.0 + 1e-9);
    let mut major = Vec::new();
    let mut minor = Vec::new();
    for e in a..=b {
        let d = 10f64.powi(e);
        if inside(d) {
            major.push((d, format!("1e{e}")));
        }
        for k in 2..=9 {
            if inside(k as f64 * d) {
                minor.push((k, e, k as f64 * d));
            }
        }
    }
    let few = major.len() < 2;
    let minor = minor
        .into_iter()
        .filter_map(|(k, e, v)| {
            if few && (k == 2 || k == 5) {
                major.push((v, format!("{k}e{e}")));
                None
            } else {
                Some(v)
            }
        })
        .collect();
    major.sort_by(|x, y| x.0.total_cmp(&y.0));
    Ticks { major, minor }
}

/// Round ticks on a linear axis: steps of 1, 2 or 5 times a power of ten, about `n` of them.
pub fn linear_ticks(lo: f64, hi: f64, n: usize) -> Ticks {
    let raw = (hi - lo).abs().max(1e-12) / n.max(1) as f64;
    let p = 10f64.powf(raw.log10().floor());
    let step = p * match raw / p {
        m if m < 1.5 => 1.0,
        m if m < 3.0 => 2.0,
        m if m < 7.0 => 5.0,
        _ => 10.0,
    };
    let digits = (-step.log10().floor()).max(0.0) as usize;
    let mut major = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + step * 1e-9 {
        major.push((v, format!("{v:.digits$}")));
        v += step;
    }
    Ticks { major, minor: Vec::new() }
}

/// An SVG line plot of loss against compute (log scale), one line per named curve.
pub fn svg(title: &str, x_label: &str, curves: &[(String, Vec<(f64, f64)>)]) -> String {
    let lines: Vec<Line> =
        curves.iter().map(|(n, c)| Line { name: n.clone(), points: c.clone(), ..Line::default() }).collect();
    plot(title, x_label, &lines, &[])
}

/// The plot's x range (log scale, padded by 8%) and y range (padded by 4%) over the lines'
/// points with their bands and the marks.
fn ranges(lines: &[Line], marks: &[(f64, String)]) -> ((f64, f64), (f64, f64)) {
    let ok = |p: &(f64, f64)| p.0 > 0.0 && p.1.is_finite();
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for l in lines {
        for (i, p) in l.points.iter().enumerate().filter(|(_, p)| ok(p)) {
            xs.push(p.0);
            let (lo, hi) = l.band_at(i);
            ys.extend([lo, hi]);
        }
    }
    xs.extend(marks.iter().map(|m| m.0).filter(|x| *x > 0.0));
    let (mut x0, mut x1) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let (mut y0, mut y1) = ys.iter().fold((f64::MAX, f64::MIN), |(a, b), &y| (a.min(y), b.max(y)));
    if xs.is_empty() {
        (x0, x1) = (1.0, 10.0);
    }
    if ys.is_empty() {
        (y0, y1) = (0.0, 1.0);
    }
    if x1 / x0 < 1.0 + 1e-9 {
        (x0, x1) = (x0 / 2.0, x1 * 2.0);
    }
    (x0, x1) = (x0 / 1.08, x1 * 1.08);
    if y1 - y0 < 1e-9 {
        (y0, y1) = (y0 - 0.5, y1 + 0.5);
    }
    let pad = (y1 - y0) * 0.04;
    (y0, y1) = (y0 - pad, y1 + pad);
    ((x0, x1), (y0, y1))
}

/// What the bands show, for the legend.
fn band_note(lines: &[Line]) -> Option<&'static str> {
    if lines.iter().any(|l| !l.band.is_empty()) {
        Some("bands: quartiles over campaigns")
    } else if lines.iter().any(|l| !l.spread.is_empty()) {
        Some("bands: ± 1 sd over seeds")
    } else {
        None
    }
}

/// An SVG plot of loss against compute: a log x axis with decade and minor ticks, a linear y
/// axis with round ticks, each line with its spread over seeds as a band, and `marks` (the
/// compared budgets) as dashed verticals.
pub fn plot(title: &str, x_label: &str, lines: &[Line], marks: &[(f64, String)]) -> String {
    let (w, h, left, right, top, bottom) = (760.0, 460.0, 70.0, 190.0, 40.0, 54.0);
    let ok = |p: &(f64, f64)| p.0 > 0.0 && p.1.is_finite();
    let ((x0, x1), (y0, y1)) = ranges(lines, marks);
    let px = |x: f64| left + (x.log10() - x0.log10()) / (x1.log10() - x0.log10()) * (w - left - right);
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
    let (xt, yt) = (log_ticks(x0, x1), linear_ticks(y0, y1, 6));
    for (v, label) in &xt.major {
        let x = px(*v);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" stroke="#e4e7ec"/><line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="black"/><text x="{x:.1}" y="{}" text-anchor="middle">{label}</text>"##,
            h - bottom,
            h - bottom,
            h - bottom + 6.0,
            h - bottom + 19.0
        );
    }
    for v in &xt.minor {
        let x = px(*v);
        let _ = writeln!(
            s,
            r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="black"/>"#,
            h - bottom,
            h - bottom + 3.0
        );
    }
    for (v, label) in &yt.major {
        let y = py(*v);
        let _ = writeln!(
            s,
            r##"<line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#e4e7ec"/><line x1="{}" y1="{y:.1}" x2="{left}" y2="{y:.1}" stroke="black"/><text x="{}" y="{:.1}" text-anchor="end">{label}</text>"##,
            w - right,
            left - 5.0,
            left - 8.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        s,
        r#"<rect x="{left}" y="{top}" width="{}" height="{}" fill="none" stroke="black"/>"#,
        w - left - right,
        h - top - bottom
    );
    for (v, label) in marks.iter().filter(|m| m.0 > 0.0) {
        let x = px(*v);
        // Labelled on its left when it is near the right edge.
        let (lx, anchor) = if x > w - right - 70.0 { (x - 3.0, "end") } else { (x + 3.0, "start") };
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{}" stroke="#888" stroke-dasharray="4 3"/><text x="{lx:.1}" y="{}" font-size="10" fill="#555" text-anchor="{anchor}">{}</text>"##,
            h - bottom,
            top + 11.0,
            escape(label)
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
        (left + w - right) / 2.0,
        h - 10.0,
        escape(x_label)
    );
    let _ = writeln!(
        s,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle">validation loss (nats per token)</text>"#,
        (top + h - bottom) / 2.0,
        (top + h - bottom) / 2.0
    );
    for (i, l) in lines.iter().enumerate() {
        let color = colors[i % colors.len()];
        let pts: Vec<(f64, f64, (f64, f64))> =
            l.points.iter().enumerate().filter(|(_, p)| ok(p)).map(|(k, p)| (p.0, p.1, l.band_at(k))).collect();
        if pts.iter().any(|p| p.2.1 > p.2.0) {
            let upper = pts.iter().map(|p| format!("{:.1},{:.1}", px(p.0), py(p.2.1)));
            let lower = pts.iter().rev().map(|p| format!("{:.1},{:.1}", px(p.0), py(p.2.0)));
            let band: Vec<String> = upper.chain(lower).collect();
            let _ = writeln!(
                s,
                r#"<polygon fill="{color}" fill-opacity="0.15" stroke="none" points="{}"/>"#,
                band.join(" ")
            );
        }
        let line: Vec<String> = pts.iter().map(|p| format!("{:.1},{:.1}", px(p.0), py(p.1))).collect();
        let _ = writeln!(s, r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#, line.join(" "));
        let ly = top + 18.0 * i as f64 + 8.0;
        let _ = writeln!(
            s,
            r#"<line x1="{}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/>"#,
            w - right + 10.0,
            w - right + 30.0
        );
        let _ = writeln!(s, r#"<text x="{}" y="{:.1}">{}</text>"#, w - right + 35.0, ly + 4.0, escape(&l.name));
    }
    let note = band_note(lines);
    if let Some(note) = note {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{:.1}" font-size="10" fill="#555">{note}</text>"##,
            w - right + 10.0,
            top + 18.0 * lines.len() as f64 + 12.0
        );
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
    fn log_axes_get_decade_and_minor_ticks_and_linear_axes_round_ones() {
        let t = log_ticks(3e10, 2e13);
        let labels: Vec<&str> = t.major.iter().map(|m| m.1.as_str()).collect();
        assert_eq!(labels, ["1e11", "1e12", "1e13"]);
        assert!(t.minor.contains(&5e11) && t.minor.contains(&4e10) && !t.minor.contains(&1e12));
        // Less than two decades: 2 and 5 times are labelled too (not a single `1e12`).
        let t = log_ticks(3e11, 2e12);
        let labels: Vec<&str> = t.major.iter().map(|m| m.1.as_str()).collect();
        assert_eq!(labels, ["5e11", "1e12", "2e12"]);
        let t = linear_ticks(2.52, 2.83, 6);
        let labels: Vec<&str> = t.major.iter().map(|m| m.1.as_str()).collect();
        assert_eq!(labels, ["2.55", "2.60", "2.65", "2.70", "2.75", "2.80"]);
    }

    #[test]
    fn the_plot_draws_spread_bands_and_budget_marks() {
        let line = Line {
            name: "a".into(),
            points: vec![(1e11, 3.0), (1e12, 2.5)],
            spread: vec![0.1, 0.05],
            ..Line::default()
        };
        let s = plot("t", "x", std::slice::from_ref(&line), &[(1e11, "1e11flops".into()), (1e12, "1e12flops".into())]);
        assert_eq!(s.matches("<polygon").count(), 1);
        assert_eq!(s.matches("stroke-dasharray").count(), 2);
        assert!(s.contains(">1e11flops<") && s.contains("bands: ± 1 sd over seeds"));
        // An explicit band (quartiles) is drawn instead of the spread, from its own ends.
        let quartiles = Line { band: vec![(2.9, 3.4), (2.4, 2.6)], ..line };
        let s = plot("t", "x", &[quartiles], &[]);
        assert_eq!(s.matches("<polygon").count(), 1);
        assert!(s.contains("bands: quartiles over campaigns") && !s.contains("1 sd"));
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
