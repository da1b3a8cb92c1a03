//! `primer savings`: what a campaign's halving hurdles and functional dedup saved, measured,
//! beside the theory.
//!
//! Hurdles: the compute spent by the candidates that trained, against what they would have
//! cost trained to the full budget (a candidate stopped at checkpoint k costs its FLOPs over
//! that checkpoint's fraction of the budget). The theory (Primer, appendix A): with H hurdles
//! the bands last a·2^k (k = 0..H, a = T / (2^(H+1) − 1)), so with pass rates p_k a trained
//! candidate costs a·Σ 2^k·Π_{j<k} p_j, and the saving is (2^(H+1) − 1) / Σ 2^k·Π_{j<k} p_j:
//! (2^(H+1) − 1)/(H+1) at p = ½ (2.33x for H = 2, 6.2x for H = 4). Printed for p = ½ and for
//! the pass rates measured. When the bands begin at a fraction s of the budget (`[hurdles]
//! start`, after the warm-up), every trained candidate also pays s, a = (1 − s)·T / (2^(H+1)
//! − 1), and the saving is T over s·T + a·Σ 2^k·Π_{j<k} p_j.
//!
//! Dedup: a candidate whose program is functionally equal to an earlier one (same fingerprint)
//! reuses its fitness and trains nothing; it would have cost about the mean of the trained
//! candidates.

use anyhow::Result;
use primer_store::{HistoryRow, Outcome, Store};
use serde::Serialize;

use primer_campaign::resolve::find_campaign;
use primer_campaign::spec::CampaignSpec;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_f(x: &f64) -> bool {
    *x == 0.0
}

/// One campaign's savings.
#[derive(Debug, Clone, Serialize)]
pub struct Savings {
    pub campaign: String,
    pub hurdles: usize,
    pub window: usize,
    pub min_predecessors: usize,
    /// Where the bands begin, as a fraction of the budget (`[hurdles] start`).
    pub start: f64,
    /// Candidates with a result, and of them those that trained (at least one step).
    pub candidates: usize,
    pub trained: usize,
    /// Candidates that reached each checkpoint, and that went on past it.
    pub reached: Vec<usize>,
    pub passed: Vec<usize>,
    /// passed / reached at each checkpoint.
    pub pass_rates: Vec<f64>,
    pub flops_spent: f64,
    pub flops_if_all_full: f64,
    /// flops_if_all_full / flops_spent.
    pub hurdle_saving: f64,
    /// The saving at pass rate ½: (2^(H+1) − 1)/(H+1) when the bands begin at 0.
    pub theory_at_half: f64,
    /// The closed form at the measured pass rates.
    pub theory_at_measured: f64,
    /// Candidates that reused an equal program's fitness, and the compute they would have
    /// cost at the trained candidates' mean.
    pub reused: usize,
    pub dedup_flops_saved: f64,
    /// (spent + saved) / spent.
    pub dedup_saving: f64,
    /// Candidates that took a loss measured in another campaign of the store (fitness reused
    /// across campaigns), and the training FLOPs those measurements cost there: compute this
    /// campaign did not spend.
    #[serde(skip_serializing_if = "is_zero")]
    pub reused_across: usize,
    #[serde(skip_serializing_if = "is_zero_f")]
    pub reuse_flops_saved: f64,
    /// Pass counts per block of births (`--blocks`): first and last birth, reached, passed.
    pub blocks: Vec<(i64, i64, Vec<usize>, Vec<usize>)>,
}

/// The saving of H hurdles with pass rates `p` (missing rates count as ½).
fn theory(h: usize, start: f64, p: &[f64]) -> f64 {
    let a = (1.0 - start) / ((1u64 << (h + 1)) - 1) as f64;
    let (mut cost, mut reach) = (start, 1.0);
    for k in 0..=h {
        cost += a * (1u64 << k) as f64 * reach;
        reach *= p.get(k).copied().unwrap_or(0.5);
    }
    1.0 / cost
}

/// A candidate stopped having reached `h` checkpoints stopped at checkpoint h-1's fraction.
fn stop_fraction(h: usize, fractions: &[f64]) -> f64 {
    h.checked_sub(1).and_then(|i| fractions.get(i)).copied().unwrap_or(1.0)
}

/// Compute spent by the candidates and what it would have been with every trained candidate
/// taken to the full budget.
fn spent_and_full(rows: &[HistoryRow], fractions: &[f64]) -> (f64, f64) {
    let (mut spent, mut full) = (0.0, 0.0);
    for r in rows {
        let (Some(o), Some(f)) = (r.outcome, r.flops) else { continue };
        spent += f;
        full += match o {
            Outcome::Stopped => {
                let at = stop_fraction(r.hurdles.unwrap_or(0).max(0) as usize, fractions);
                if at > 0.0 { f / at } else { f }
            }
            _ => f,
        };
    }
    (spent, full)
}

/// How many of `rows` reached each of `h` hurdles, and how many of those went on past it.
fn pass_counts(rows: &[HistoryRow], h: usize) -> (Vec<usize>, Vec<usize>) {
    let (mut reached, mut passed) = (vec![0usize; h], vec![0usize; h]);
    for r in rows {
        let Some(o) = r.outcome else { continue };
        let k = r.hurdles.unwrap_or(0).max(0) as usize;
        match o {
            // Reached and passed every checkpoint (a candidate that diverged after some is
            // counted as far as it got: its last checkpoint passed).
            Outcome::Finished | Outcome::Diverged => {
                for j in 0..k.min(h) {
                    reached[j] += 1;
                    passed[j] += 1;
                }
            }
            Outcome::Stopped => {
                for j in 0..k.min(h) {
                    reached[j] += 1;
                    passed[j] += usize::from(j + 1 < k);
                }
            }
            _ => {}
        }
    }
    (reached, passed)
}

/// Pass counts per block of births: the births split into `blocks` equal runs, each as
/// (first birth, last birth, reached, passed).
fn by_birth(rows: &[HistoryRow], h: usize, blocks: usize) -> Vec<(i64, i64, Vec<usize>, Vec<usize>)> {
    let n = rows.iter().map(|r| r.birth + 1).max().unwrap_or(0);
    let blocks = blocks.max(1) as i64;
    (0..blocks)
        .map(|b| {
            let (lo, hi) = (n * b / blocks, n * (b + 1) / blocks);
            let part: Vec<HistoryRow> = rows.iter().filter(|r| r.birth >= lo && r.birth < hi).cloned().collect();
            let (reached, passed) = pass_counts(&part, h);
            (lo, hi - 1, reached, passed)
        })
        .collect()
}

/// The savings of one campaign's rows.
pub fn of(name: &str, spec: &CampaignSpec, rows: &[HistoryRow], blocks: usize) -> Savings {
    let h = spec.hurdles.hurdles;
    let fractions = spec.hurdles.fractions();
    let (reached, passed) = pass_counts(rows, h);
    let pass_rates: Vec<f64> =
        reached.iter().zip(&passed).map(|(&r, &p)| if r > 0 { p as f64 / r as f64 } else { f64::NAN }).collect();
    let (spent, full) = spent_and_full(rows, &fractions);
    let trained: Vec<&HistoryRow> = rows.iter().filter(|r| r.steps.unwrap_or(0) > 0).collect();
    let mean = trained.iter().filter_map(|r| r.flops).sum::<f64>() / trained.len().max(1) as f64;
    let across: Vec<&HistoryRow> = rows.iter().filter(|r| primer_campaign::reuse::from_elsewhere(r, rows)).collect();
    let reused = rows.iter().filter(|r| r.outcome == Some(Outcome::Reused)).count() - across.len();
    let dedup_flops_saved = reused as f64 * mean;
    let measured: Vec<f64> = pass_rates.iter().map(|p| if p.is_finite() { *p } else { 0.5 }).collect();
    Savings {
        campaign: name.to_string(),
        hurdles: h,
        window: spec.hurdles.window,
        min_predecessors: spec.hurdles.min_predecessors,
        start: spec.hurdles.start,
        candidates: rows.iter().filter(|r| r.outcome.is_some()).count(),
        trained: trained.len(),
        reached,
        passed,
        pass_rates,
        flops_spent: spent,
        flops_if_all_full: full,
        hurdle_saving: if spent > 0.0 { full / spent } else { f64::NAN },
        theory_at_half: theory(h, spec.hurdles.start, &[]),
        theory_at_measured: theory(h, spec.hurdles.start, &measured),
        reused,
        dedup_flops_saved,
        dedup_saving: if spent > 0.0 { (spent + dedup_flops_saved) / spent } else { f64::NAN },
        reused_across: across.len(),
        reuse_flops_saved: across
            .iter()
            .filter_map(|r| r.reason.as_deref().and_then(primer_campaign::reuse::source_flops))
            .sum(),
        blocks: if blocks > 1 { by_birth(rows, h, blocks) } else { Vec::new() },
    }
}

/// `primer savings CAMPAIGN...`.
pub async fn savings(store: &Store, campaigns: &[String], blocks: usize, json: bool) -> Result<Vec<Savings>> {
    let mut all = Vec::new();
    for which in campaigns {
        let c = find_campaign(store, which).await?;
        let spec: CampaignSpec = serde_json::from_str(&c.config)?;
        let rows = store.history(c.id).await?;
        all.push(of(&c.name, &spec, &rows, blocks));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&all)?);
        return Ok(all);
    }
    println!(
        "{:<18} {:>2} {:>6} {:>9} {:>22} {:>9} {:>10} {:>10} {:>7} {:>9}",
        "campaign",
        "H",
        "window",
        "trained",
        "pass rate per hurdle",
        "saving",
        "theory ½",
        "theory p̂",
        "reused",
        "dedup"
    );
    for s in &all {
        let rates: Vec<String> = s
            .pass_rates
            .iter()
            .zip(s.passed.iter().zip(&s.reached))
            .map(|(p, (a, b))| if p.is_finite() { format!("{a}/{b}") } else { "-".into() })
            .collect();
        println!(
            "{:<18} {:>2} {:>6} {:>9} {:>22} {:>8.2}x {:>9.2}x {:>9.2}x {:>7} {:>8.2}x",
            s.campaign,
            s.hurdles,
            if s.window == 0 { "all".to_string() } else { s.window.to_string() },
            s.trained,
            rates.join(" "),
            s.hurdle_saving,
            s.theory_at_half,
            s.theory_at_measured,
            s.reused,
            s.dedup_saving
        );
    }
    for s in all.iter().filter(|s| s.reused_across > 0) {
        println!(
            "{}: {} candidates took a loss measured in another campaign: {:.3e} training FLOPs saved (what those measurements cost), {:.3e} spent here: {:.2}x",
            s.campaign,
            s.reused_across,
            s.reuse_flops_saved,
            s.flops_spent,
            (s.flops_spent + s.reuse_flops_saved) / s.flops_spent.max(f64::MIN_POSITIVE)
        );
    }
    if all.iter().any(|s| !s.blocks.is_empty()) {
        println!("\npassed / reached per hurdle, by births:");
        for s in &all {
            let parts: Vec<String> = s
                .blocks
                .iter()
                .map(|(lo, hi, reached, passed)| {
                    let rates: Vec<String> = passed.iter().zip(reached).map(|(p, r)| format!("{p}/{r}")).collect();
                    format!("{lo}-{hi}: {}", rates.join(" "))
                })
                .collect();
            println!("{:<18} {}", s.campaign, parts.join(" | "));
        }
    }
    println!(
        "(saving: FLOPs the trained candidates would have cost at the full budget over the FLOPs they cost; theory ½: (2^(H+1)-1)/(H+1), the saving if half pass each hurdle; theory p̂: the same closed form at the pass rates measured; dedup: (spent + reused × mean trained cost) / spent)"
    );
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closed_form_at_half_and_at_other_pass_rates() {
        assert!((theory(2, 0.0, &[]) - 7.0 / 3.0).abs() < 1e-12);
        assert!((theory(4, 0.0, &[0.5; 4]) - 31.0 / 5.0).abs() < 1e-12, "Primer's 6.2x");
        assert_eq!(theory(0, 0.0, &[]), 1.0);
        // Everyone passes: no saving; no one passes the first hurdle: only band 0 is paid.
        assert!((theory(2, 0.0, &[1.0, 1.0]) - 1.0).abs() < 1e-12);
        assert!((theory(2, 0.0, &[0.0, 0.0]) - 7.0).abs() < 1e-12);
        // The demo's measured rates (38/53, 29/38): 7 / (1 + 2·0.717 + 4·0.717·0.763) = 1.514.
        assert!((theory(2, 0.0, &[38.0 / 53.0, 29.0 / 38.0]) - 1.5143).abs() < 1e-3);
        // Bands after a start of 0.3: everyone pays 0.3 + a; at p = 1 nothing is saved.
        let a = 0.7 / 7.0;
        assert!((theory(2, 0.3, &[]) - 1.0 / (0.3 + a * 3.0)).abs() < 1e-12);
        assert!((theory(2, 0.3, &[1.0, 1.0]) - 1.0).abs() < 1e-12);
    }
}
