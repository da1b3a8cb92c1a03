//! `primer hurdles CAMPAIGN`: are the hurdles where rankings hold? From the stored learning
//! curves of the candidates that trained to the full budget, the rank correlation (Kendall's
//! tau-b) between their validation losses at a point of the budget and their losses at the end,
//! at each of the campaign's hurdles, where the same number of hurdles would sit with bands
//! from the start (the rule of campaigns made before `[hurdles] start`), at the end of the
//! warm-up, and at any fraction asked for. A tau near 1 means stopping the worse half there
//! stops the ones that would end worse; near 0, a coin would do as well.
//!
//! Only candidates with a full-budget loss can be ranked at the end: in a campaign with
//! hurdles those are the ones that passed them all, a selected set; a campaign with `count =
//! 0` (or a study's curves) ranks every candidate.

use anyhow::Result;
use primer_dsl::budget::Budget;
use primer_store::{CurvePoint, Outcome, Store};
use serde::Serialize;

use crate::resolve::find_campaign;
use crate::spec::CampaignSpec;

/// Kendall's tau-b of two equally long samples (ties counted as tau-b counts them); NaN with
/// fewer than two pairs that are not tied in both.
pub fn kendall_tau(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let (mut concordant, mut discordant, mut tied_a, mut tied_b) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..a.len() {
        for j in i + 1..a.len() {
            let (da, db) = (a[i].total_cmp(&a[j]) as i64, b[i].total_cmp(&b[j]) as i64);
            match (da, db) {
                (0, 0) => {}
                (0, _) => tied_a += 1,
                (_, 0) => tied_b += 1,
                _ if da == db => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n1 = (concordant + discordant + tied_a) as f64;
    let n2 = (concordant + discordant + tied_b) as f64;
    (concordant - discordant) as f64 / (n1 * n2).sqrt()
}

/// Where a curve point is in the budget, as a fraction of it.
fn fraction(p: &CurvePoint, budget: &Budget) -> f64 {
    match *budget {
        Budget::Steps(n) => p.step as f64 / n as f64,
        Budget::Tokens(n) => p.tokens as f64 / n as f64,
        Budget::Flops(x) => p.flops / x,
        Budget::Seconds(s) => p.seconds / s,
    }
}

/// The validation loss at fraction `f` of the budget, linear between the validation points
/// around it; `None` before the first or after the last.
pub fn loss_at(points: &[(f64, f64)], f: f64) -> Option<f64> {
    let after = points.iter().position(|&(x, _)| x >= f)?;
    let (x1, y1) = points[after];
    if after == 0 {
        return ((x1 - f).abs() < 1e-9).then_some(y1);
    }
    let (x0, y0) = points[after - 1];
    Some(if x1 > x0 { y0 + (y1 - y0) * (f - x0) / (x1 - x0) } else { y1 })
}

/// One point of the budget and how well the ranking there predicts the final one.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
    pub fraction: f64,
    /// What sits there: `hurdle 1`, `hurdle 1 with start 0`, `end of warm-up`, `asked`.
    pub what: String,
    /// Candidates with a loss at this point and at the end.
    pub candidates: usize,
    pub tau: f64,
}

/// The check for one campaign.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    pub campaign: String,
    pub budget: String,
    pub hurdles: usize,
    pub start: f64,
    /// Candidates trained to the full budget (the ranking's members).
    pub finished: usize,
    pub points: Vec<Point>,
}

/// The points to check: the campaign's hurdles, the same hurdles with bands from 0 (when
/// `start` moved them), the end of the warm-up (placed for the costliest seed,
/// `seed_flops_per_token`, as `[hurdles] start` is), and `asked`.
fn points_of(spec: &CampaignSpec, seed_flops_per_token: u64, asked: &[f64]) -> Vec<(f64, String)> {
    let h = spec.hurdles;
    let mut out: Vec<(f64, String)> =
        h.fractions().into_iter().enumerate().map(|(k, f)| (f, format!("hurdle {}", k + 1))).collect();
    if h.start > 0.0 {
        let from_zero = primer_evolve::HalvingHurdles { start: 0.0, ..h };
        out.extend(
            from_zero.fractions().into_iter().enumerate().map(|(k, f)| (f, format!("hurdle {} with start 0", k + 1))),
        );
    }
    if let Ok(w) = crate::spec::warmup_fraction(&spec.training, &spec.model, seed_flops_per_token)
        && w > 0.0
    {
        out.push((w, "end of warm-up".into()));
    }
    out.extend(asked.iter().map(|&f| (f, "asked".to_string())));
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    out
}

/// The check of one campaign from its stored curves.
pub async fn placement(store: &Store, which: &str, asked: &[f64]) -> Result<Placement> {
    let c = find_campaign(store, which).await?;
    let spec: CampaignSpec = serde_json::from_str(&c.config)?;
    let budget = spec.training.budget;
    let mut curves = Vec::new();
    for r in store.history(c.id).await? {
        let (Some(Outcome::Finished), Some(end)) = (r.outcome, r.fitness) else { continue };
        if !end.is_finite() {
            continue;
        }
        let points: Vec<(f64, f64)> = store
            .curve(r.candidate)
            .await?
            .iter()
            .filter_map(|p| Some((fraction(p, &budget), p.val_loss.filter(|v| v.is_finite())?)))
            .collect();
        curves.push((points, end));
    }
    // The seeds' costs as stored with their programs (the seed files may be elsewhere now).
    let seed_flops_per_token = store
        .programs_of(c.id)
        .await?
        .into_iter()
        .filter(|p| spec.seeds.iter().any(|s| s.hash == p.hash))
        .map(|p| p.flops_per_token.max(0) as u64)
        .max()
        .unwrap_or(0);
    let points = points_of(&spec, seed_flops_per_token, asked)
        .into_iter()
        .map(|(f, what)| {
            let (at, end): (Vec<f64>, Vec<f64>) =
                curves.iter().filter_map(|(pts, end)| Some((loss_at(pts, f)?, *end))).unzip();
            Point { fraction: f, what, candidates: at.len(), tau: kendall_tau(&at, &end) }
        })
        .collect();
    Ok(Placement {
        campaign: c.name,
        budget: budget.to_string(),
        hurdles: spec.hurdles.hurdles,
        start: spec.hurdles.start,
        finished: curves.len(),
        points,
    })
}

/// `primer hurdles CAMPAIGN... [--at F,...]`.
pub async fn hurdles(store: &Store, campaigns: &[String], asked: &[f64], json: bool) -> Result<Vec<Placement>> {
    let mut all = Vec::new();
    for which in campaigns {
        all.push(placement(store, which, asked).await?);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(all);
    }
    for p in &all {
        println!(
            "campaign `{}`: budget {}, {} hurdles, bands from {:.3} of the budget; {} candidates trained to the full budget",
            p.campaign, p.budget, p.hurdles, p.start, p.finished
        );
        println!("  {:>9}  {:<26} {:>10} {:>12}", "at", "what", "candidates", "Kendall tau");
        for x in &p.points {
            println!("  {:>9.3}  {:<26} {:>10} {:>12.3}", x.fraction, x.what, x.candidates, x.tau);
        }
    }
    println!(
        "(Kendall tau-b between the validation losses at that point of the budget, read off the stored curves, and the losses at the end; 1: the same order, 0: no relation)"
    );
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kendall_tau_counts_pairs() {
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0);
        assert_eq!(kendall_tau(&[1.0, 2.0, 3.0], &[30.0, 20.0, 10.0]), -1.0);
        // One discordant pair of six: (5 - 1) / 6.
        assert!((kendall_tau(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]) - 4.0 / 6.0).abs() < 1e-12);
        // tau-b with a tie: pairs (1,2) tied in a; C = 2, D = 0, n1 = 2, n2 = 3.
        assert!((kendall_tau(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]) - 2.0 / 6f64.sqrt()).abs() < 1e-12);
        assert!(kendall_tau(&[1.0], &[1.0]).is_nan());
    }

    #[test]
    fn loss_is_read_between_validation_points() {
        let pts = [(0.25, 4.0), (0.5, 3.0), (1.0, 2.0)];
        assert_eq!(loss_at(&pts, 0.25), Some(4.0));
        assert_eq!(loss_at(&pts, 0.375), Some(3.5));
        assert_eq!(loss_at(&pts, 0.75), Some(2.5));
        assert_eq!(loss_at(&pts, 0.1), None, "before the first point");
        assert_eq!(loss_at(&pts, 1.1), None, "after the last");
    }
}
