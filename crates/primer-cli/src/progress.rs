//! `primer progress [CAMPAIGN...] [--at FLOPS]`: search progress of campaigns side by side, and
//! one strategy tested against another at equal compute (issue 27: evolution against random
//! search): at `--at`, or by default at the compute every campaign reached.
//!
//! Each campaign's best loss so far is read against its cumulative training compute (a reused
//! result costs nothing; a candidate stopped at a hurdle costs what it trained). At the compute
//! every campaign reached, each campaign contributes its best loss, whether its best program is
//! in the local basin (no attention, tokens mixed by a convolution:
//! [`primer_dsl::motifs::TokenMixing::local_basin`]) and whether one of Primer's motifs
//! (squared ReLU, a depthwise convolution after Q, K or V) is in its top K. Per strategy: the
//! median and quartiles of the best losses; between two strategies: the Mann-Whitney U test of
//! the best losses and Fisher's exact test of each hit count ([`primer_campaign::stats`]).

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::Serialize;

use primer_dsl::Program;
use primer_dsl::motifs::{motifs, token_mixing};
use primer_store::{HistoryRow, Store};

use primer_args::Format;
use primer_campaign::compare::{Line, mean_sd, plot};
use primer_campaign::resolve::find_campaign;
use primer_campaign::spec::CampaignSpec;
use primer_campaign::stats::{fisher_exact, mann_whitney_u};

/// The top K in which a Primer motif counts as a hit.
pub const TOP_K: usize = 5;

/// One campaign's search progress: best loss so far against cumulative training compute, in
/// birth order (a reused result costs nothing; a candidate stopped at a hurdle costs what it
/// trained).
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub campaign: String,
    pub strategy: String,
    pub seed: u64,
    /// (cumulative training FLOPs, best loss so far) after each evaluated candidate.
    pub points: Vec<(f64, f64)>,
}

/// The evaluated candidates of a history with the cumulative compute after each, in birth order.
fn evaluated(rows: &[HistoryRow]) -> impl Iterator<Item = (f64, &HistoryRow)> {
    let mut flops = 0.0;
    rows.iter().filter(|r| r.outcome.is_some()).map(move |r| {
        flops += r.flops.unwrap_or(0.0);
        (flops, r)
    })
}

/// The best-so-far curve of a history.
pub fn progress_of(name: &str, spec: &CampaignSpec, rows: &[HistoryRow]) -> Progress {
    let mut best = f64::INFINITY;
    let mut points = Vec::new();
    for (flops, r) in evaluated(rows) {
        if let Some(f) = r.fitness.filter(|f| f.is_finite()) {
            best = best.min(f);
        }
        if best.is_finite() {
            points.push((flops, best));
        }
    }
    Progress {
        campaign: name.into(),
        strategy: if spec.strategy.is_evolution() { "evolution".into() } else { "random".into() },
        seed: spec.seed,
        points,
    }
}

/// The best loss a curve had reached by `compute` (None: nothing evaluated by then).
pub fn best_at(points: &[(f64, f64)], compute: f64) -> Option<f64> {
    points.iter().take_while(|p| p.0 <= compute).last().map(|p| p.1)
}

/// What one campaign had found by a given compute.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    pub campaign: String,
    pub strategy: String,
    pub seed: u64,
    pub best_loss: Option<f64>,
    pub best_candidate: Option<i64>,
    /// Its best program has no attention and mixes tokens by a convolution.
    pub local_basin: bool,
    /// Squared ReLU, or a depthwise convolution after Q, K or V, in one of its top K.
    pub primer_motif_in_top: bool,
}

/// What campaign `p` (its history `rows`, its programs by hash) had found by `compute`: among
/// the candidates evaluated by then, ranked by loss.
pub fn found_at(
    p: &Progress,
    rows: &[HistoryRow],
    programs: &HashMap<String, Program>,
    compute: f64,
    k: usize,
) -> Found {
    let ranked = crate::analyze::ranked(evaluated(rows).take_while(|(flops, _)| *flops <= compute).map(|(_, r)| r));
    let program = |r: &HistoryRow| programs.get(&r.program);
    let best = ranked.first();
    Found {
        campaign: p.campaign.clone(),
        strategy: p.strategy.clone(),
        seed: p.seed,
        best_loss: best.and_then(|r| r.fitness),
        best_candidate: best.map(|r| r.candidate),
        local_basin: best.and_then(|r| program(r)).is_some_and(|p| token_mixing(p).local_basin()),
        primer_motif_in_top: ranked.iter().take(k).filter_map(|r| program(r)).any(|p| {
            let m = motifs(p);
            m.squared_relu || m.dconv_qkv()
        }),
    }
}

/// The `q` quantile of sorted values, interpolated linearly between order statistics (R's
/// type 7, numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Median and quartiles of values (any order).
fn quartiles(values: &[f64]) -> (f64, f64, f64) {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    (quantile(&v, 0.5), quantile(&v, 0.25), quantile(&v, 0.75))
}

/// One strategy's campaigns at equal compute.
#[derive(Debug, Clone, Serialize)]
pub struct Arm {
    pub strategy: String,
    pub campaigns: usize,
    pub median: f64,
    pub q1: f64,
    pub q3: f64,
    pub mean: f64,
    pub sd: f64,
    pub local_basin: usize,
    pub primer_motif_in_top: usize,
}

/// Two strategies tested against each other (the first against the second, by name).
#[derive(Debug, Clone, Serialize)]
pub struct Test {
    /// U of the first arm's best losses (pairs where the first's is higher; ties one half).
    pub mann_whitney_u: f64,
    pub mann_whitney_p: f64,
    /// The chance that a campaign of the first arm ends below one of the second (ties one
    /// half): 1 - U / (n1 n2).
    pub first_lower: f64,
    pub fisher_local_basin_p: f64,
    pub fisher_primer_motif_p: f64,
    /// The shift of the best loss this design detects with 80% power at two-sided 0.05, from the
    /// measured spread: the t-test's (z_0.975 + z_0.8) x pooled sd x sqrt(1/n1 + 1/n2), over the
    /// square root of Mann-Whitney's efficiency against it under normality (3/pi).
    pub detectable_shift: f64,
    /// The same for the local-basin hit rate, around the pooled rate (normal approximation of
    /// two proportions; Fisher's exact test is a little more conservative).
    pub detectable_basin_difference: f64,
}

/// z_0.975 + z_0.8: two-sided 0.05 with 80% power.
const Z_POWER: f64 = 1.959_963_984_540_054 + 0.841_621_233_572_914_3;

/// The shift two samples of these sizes and pooled sd detect (see [`Test::detectable_shift`]).
pub fn detectable_shift(pooled_sd: f64, n1: usize, n2: usize) -> f64 {
    Z_POWER * pooled_sd * (1.0 / n1 as f64 + 1.0 / n2 as f64).sqrt() / (3.0 / std::f64::consts::PI).sqrt()
}

/// The difference of rates two arms of these sizes detect around a pooled rate.
pub fn detectable_difference(pooled_rate: f64, n1: usize, n2: usize) -> f64 {
    Z_POWER * (pooled_rate * (1.0 - pooled_rate) * (1.0 / n1 as f64 + 1.0 / n2 as f64)).sqrt()
}

/// Every strategy at one compute, and the test when there are exactly two.
#[derive(Debug, Clone, Serialize)]
pub struct Versus {
    pub compute: f64,
    pub arms: Vec<Arm>,
    pub test: Option<Test>,
}

/// Per strategy (in name order) its campaigns' findings at one compute, and the test of the
/// first against the second when there are exactly two (pure: tested without a store).
pub fn versus(found: &[Found], compute: f64) -> Versus {
    let mut strategies: Vec<&str> = found.iter().map(|f| f.strategy.as_str()).collect();
    strategies.sort();
    strategies.dedup();
    let losses =
        |s: &str| -> Vec<f64> { found.iter().filter(|f| f.strategy == s).filter_map(|f| f.best_loss).collect() };
    let arms: Vec<Arm> = strategies
        .iter()
        .map(|&s| {
            let mine: Vec<&Found> = found.iter().filter(|f| f.strategy == s).collect();
            let v = losses(s);
            let (median, q1, q3) = quartiles(&v);
            let (mean, sd) = if v.is_empty() { (f64::NAN, f64::NAN) } else { mean_sd(&v) };
            Arm {
                strategy: s.into(),
                campaigns: mine.len(),
                median,
                q1,
                q3,
                mean,
                sd,
                local_basin: mine.iter().filter(|f| f.local_basin).count(),
                primer_motif_in_top: mine.iter().filter(|f| f.primer_motif_in_top).count(),
            }
        })
        .collect();
    let test = match arms.as_slice() {
        [a, b] => mann_whitney_u(&losses(&a.strategy), &losses(&b.strategy)).map(|(u, p)| {
            let pairs = (losses(&a.strategy).len() * losses(&b.strategy).len()) as f64;
            let fisher = |x: usize, y: usize| {
                fisher_exact(x as u64, (a.campaigns - x) as u64, y as u64, (b.campaigns - y) as u64)
            };
            let (n1, n2) = (losses(&a.strategy).len(), losses(&b.strategy).len());
            let pooled_sd = if n1 + n2 > 2 {
                (((n1 - 1) as f64 * a.sd.powi(2) + (n2 - 1) as f64 * b.sd.powi(2)) / (n1 + n2 - 2) as f64).sqrt()
            } else {
                f64::NAN
            };
            let basin_rate = (a.local_basin + b.local_basin) as f64 / (a.campaigns + b.campaigns) as f64;
            Test {
                mann_whitney_u: u,
                mann_whitney_p: p,
                first_lower: 1.0 - u / pairs,
                fisher_local_basin_p: fisher(a.local_basin, b.local_basin),
                fisher_primer_motif_p: fisher(a.primer_motif_in_top, b.primer_motif_in_top),
                detectable_shift: detectable_shift(pooled_sd, n1, n2),
                detectable_basin_difference: detectable_difference(basin_rate, a.campaigns, b.campaigns),
            }
        }),
        _ => None,
    };
    Versus { compute, arms, test }
}

/// Per strategy and compute step: median and quartiles of the best loss so far over its
/// campaigns (None where no campaign had a loss yet).
fn distribution_at(all: &[Progress], strategy: &str, compute: f64) -> Option<(f64, f64, f64)> {
    let v: Vec<f64> =
        all.iter().filter(|p| p.strategy == strategy).filter_map(|p| best_at(&p.points, compute)).collect();
    (!v.is_empty()).then(|| quartiles(&v))
}

/// Per-campaign lines in the table up to this many campaigns; a line per strategy beyond.
const LISTED: usize = 12;

/// `primer progress [CAMPAIGN...]` (every campaign of the store when none is named).
pub async fn progress(
    store: &Store,
    campaigns: &[String],
    svg_path: Option<&std::path::Path>,
    at: Option<f64>,
    format: Format,
) -> Result<()> {
    let chosen = if campaigns.is_empty() {
        let all = store.campaigns().await?;
        anyhow::ensure!(!all.is_empty(), "the store {} has no campaign", store.url);
        all
    } else {
        let mut v = Vec::new();
        for name in campaigns {
            v.push(find_campaign(store, name).await?);
        }
        v
    };
    let mut all = Vec::new();
    let mut histories = Vec::new();
    let mut programs = HashMap::new();
    for c in &chosen {
        let spec: CampaignSpec =
            serde_json::from_str(&c.config).with_context(|| format!("campaign `{}`: its stored config", c.name))?;
        let rows = store.history(c.id).await?;
        all.push(progress_of(&c.name, &spec, &rows));
        histories.push(rows);
        programs.extend(crate::analyze::parsed_programs(store, c.id).await?);
    }
    let reached = all.iter().map(|p| p.points.last().map_or(0.0, |l| l.0)).fold(f64::INFINITY, f64::min);
    let common = match at {
        None => reached,
        Some(at) => {
            let short: Vec<String> = all
                .iter()
                .filter(|p| p.points.last().map_or(0.0, |l| l.0) < at)
                .map(|p| format!("{} ({:.3e})", p.campaign, p.points.last().map_or(0.0, |l| l.0)))
                .collect();
            anyhow::ensure!(
                short.is_empty(),
                "--at {at:e}: {} of the campaigns did not reach that much training compute: {}",
                short.len(),
                short.join(", ")
            );
            at
        }
    };
    let steps: Vec<f64> = (1..=10).map(|i| common * i as f64 / 10.0).collect();
    let mut strategies: Vec<String> = all.iter().map(|p| p.strategy.clone()).collect();
    strategies.sort();
    strategies.dedup();
    let found: Vec<Found> =
        all.iter().zip(&histories).map(|(p, rows)| found_at(p, rows, &programs, common, TOP_K)).collect();
    let vs = versus(&found, common);
    if let Some(path) = svg_path {
        let fine: Vec<f64> = (1..=40).map(|i| common * i as f64 / 40.0).collect();
        let lines: Vec<Line> = strategies
            .iter()
            .map(|s| {
                let cells: Vec<(f64, (f64, f64, f64))> =
                    fine.iter().filter_map(|&c| distribution_at(&all, s, c).map(|d| (c, d))).collect();
                let n = all.iter().filter(|p| &p.strategy == s).count();
                Line {
                    name: format!("{s} (median of {n})"),
                    points: cells.iter().map(|(c, d)| (*c, d.0)).collect(),
                    band: cells.iter().map(|(_, d)| (d.1, d.2)).collect(),
                    ..Line::default()
                }
            })
            .collect();
        std::fs::write(
            path,
            plot(
                "best loss so far against training compute (median and quartiles over campaigns)",
                "cumulative training FLOPs (log scale)",
                &lines,
                &[],
            ),
        )
        .with_context(|| format!("{}", path.display()))?;
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "campaigns": all,
                "compute": steps,
                "by_strategy": strategies.iter().map(|s| {
                    let cells: Vec<Option<(f64, f64, f64)>> = steps.iter().map(|&c| distribution_at(&all, s, c)).collect();
                    serde_json::json!({ "strategy": s, "median_q1_q3": cells })
                }).collect::<Vec<_>>(),
                "at_equal_compute": { "found": found, "versus": vs },
            }))?
        ),
        Format::Csv => {
            println!("campaign,strategy,seed,compute_flops,best_loss,local_basin,primer_motif_in_top{TOP_K}");
            for (p, f) in all.iter().zip(&found) {
                for &c in &steps {
                    println!(
                        "{},{},{},{c},{},{},{}",
                        p.campaign,
                        p.strategy,
                        p.seed,
                        best_at(&p.points, c).map_or(String::new(), |b| b.to_string()),
                        f.local_basin,
                        f.primer_motif_in_top
                    );
                }
            }
        }
        Format::Table => print!("{}", table(&all, &strategies, &steps, &vs, at.is_some(), svg_path)),
    }
    Ok(())
}

fn table(
    all: &[Progress],
    strategies: &[String],
    steps: &[f64],
    vs: &Versus,
    fixed: bool,
    svg_path: Option<&std::path::Path>,
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "best loss so far (median [quartiles] over campaigns) at equal training compute; {} campaign(s):",
        all.len()
    );
    if all.len() <= LISTED {
        for p in all {
            let last = p.points.last().copied().unwrap_or((0.0, f64::NAN));
            let _ = writeln!(
                s,
                "  {} ({}, seed {}): {} evaluated, {:.3e} FLOPs, best {:.4}",
                p.campaign,
                p.strategy,
                p.seed,
                p.points.len(),
                last.0,
                last.1
            );
        }
    } else {
        for st in strategies {
            let mine: Vec<&Progress> = all.iter().filter(|p| &p.strategy == st).collect();
            let evaluated: Vec<usize> = mine.iter().map(|p| p.points.len()).collect();
            let flops: Vec<f64> = mine.iter().map(|p| p.points.last().map_or(0.0, |l| l.0)).collect();
            let seeds: Vec<u64> = mine.iter().map(|p| p.seed).collect();
            let _ = writeln!(
                s,
                "  {st}: {} campaigns (seeds {}..{}), {}..{} evaluated, {:.3e}..{:.3e} FLOPs",
                mine.len(),
                seeds.iter().min().unwrap_or(&0),
                seeds.iter().max().unwrap_or(&0),
                evaluated.iter().min().unwrap_or(&0),
                evaluated.iter().max().unwrap_or(&0),
                flops.iter().copied().fold(f64::INFINITY, f64::min),
                flops.iter().copied().fold(0.0, f64::max),
            );
        }
    }
    let _ = write!(s, "{:>12}", "FLOPs");
    for st in strategies {
        let _ = write!(s, " {st:>26}");
    }
    let _ = writeln!(s);
    for &c in steps {
        let _ = write!(s, "{c:>12.3e}");
        for st in strategies {
            let cell =
                distribution_at(all, st, c).map_or("–".into(), |(m, q1, q3)| format!("{m:.4} [{q1:.4}, {q3:.4}]"));
            let _ = write!(s, " {cell:>26}");
        }
        let _ = writeln!(s);
    }
    let which = if fixed { "given; every campaign reached it" } else { "the compute every campaign reached" };
    let _ = writeln!(s, "at {:.3e} training FLOPs ({which}):", vs.compute);
    for a in &vs.arms {
        let _ = writeln!(
            s,
            "  {:<10} {:>3} campaigns: best loss median {:.4}, quartiles {:.4} to {:.4}, mean {:.4} ± {:.4}; local basin {}/{}; a Primer motif in the top {TOP_K} {}/{}",
            a.strategy,
            a.campaigns,
            a.median,
            a.q1,
            a.q3,
            a.mean,
            a.sd,
            a.local_basin,
            a.campaigns,
            a.primer_motif_in_top,
            a.campaigns
        );
    }
    if let (Some(t), [a, b]) = (&vs.test, vs.arms.as_slice()) {
        let _ = writeln!(
            s,
            "  Mann-Whitney U ({} against {}) = {:.1}, two-sided p = {:.4}; P({} ends lower) = {:.3}",
            a.strategy, b.strategy, t.mann_whitney_u, t.mann_whitney_p, a.strategy, t.first_lower
        );
        let _ = writeln!(
            s,
            "  Fisher's exact test, two-sided: local basin (best program: no attention, a convolution) p = {:.4}; a Primer motif (squared ReLU, a depthwise conv after Q, K or V) in the top {TOP_K} p = {:.4}",
            t.fisher_local_basin_p, t.fisher_primer_motif_p
        );
        let _ = writeln!(
            s,
            "  what {} against {} campaigns detect (80% power, two-sided 0.05, from the measured spread): a shift of {:.4} in the best loss; a difference of {:.2} in the local-basin rate",
            a.campaigns, b.campaigns, t.detectable_shift, t.detectable_basin_difference
        );
    }
    if let Some(p) = svg_path {
        let _ = writeln!(s, "plot: {}", p.display());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::tests::{demo_spec, root, row};
    use primer_dsl::analysis::canonical_hash;
    use primer_store::Outcome;

    #[test]
    fn progress_is_the_best_so_far_against_cumulative_compute() {
        let root = root();
        let spec = demo_spec();
        let t = primer_dsl::text::parse_file(&root.join("search-spaces/programs/transformer.prim")).unwrap();
        let mut rows = vec![
            row(1, None, &t, None, Outcome::Finished, 2.0, 2),
            row(2, Some(1), &t, None, Outcome::Stopped, 2.5, 1),
            row(3, Some(1), &t, None, Outcome::Finished, 1.5, 2),
        ];
        rows[1].flops = Some(0.25e9);
        rows.push(HistoryRow {
            outcome: None,
            fitness: None,
            flops: None,
            ..row(4, Some(1), &t, None, Outcome::Finished, 0.0, 0)
        });
        let p = progress_of("x", &spec, &rows);
        assert_eq!((p.strategy.as_str(), p.seed), ("evolution", 1));
        assert_eq!(p.points, [(1e9, 2.0), (1.25e9, 2.0), (2.25e9, 1.5)]);
        assert_eq!(best_at(&p.points, 0.5e9), None);
        assert_eq!(best_at(&p.points, 2e9), Some(2.0));
        assert_eq!(best_at(&p.points, 3e9), Some(1.5));
    }

    fn found(strategy: &str, loss: f64, basin: bool, motif: bool) -> Found {
        Found {
            campaign: format!("{strategy}-{loss}"),
            strategy: strategy.into(),
            seed: 1,
            best_loss: Some(loss),
            best_candidate: Some(1),
            local_basin: basin,
            primer_motif_in_top: motif,
        }
    }

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.25), 1.75);
        assert_eq!(quantile(&v, 0.75), 3.25);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert_eq!(quantile(&[7.0], 0.25), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn two_strategies_are_tested_against_each_other() {
        // Evolution lower in every pair: U = 0, the exact two-sided p of 3 against 3 is 2/20.
        let f = vec![
            found("random", 2.3, false, false),
            found("evolution", 2.0, true, false),
            found("evolution", 2.1, true, true),
            found("random", 2.4, false, false),
            found("evolution", 2.2, true, false),
            found("random", 2.5, true, false),
        ];
        let vs = versus(&f, 1e12);
        let names: Vec<&str> = vs.arms.iter().map(|a| a.strategy.as_str()).collect();
        assert_eq!(names, ["evolution", "random"]);
        let (e, r) = (&vs.arms[0], &vs.arms[1]);
        // Interpolated quartiles: exact up to the rounding of one multiply-add.
        let close = |x: f64, y: f64| (x - y).abs() < 1e-12;
        assert_eq!(e.campaigns, 3);
        assert!(close(e.median, 2.1) && close(e.q1, 2.05) && close(e.q3, 2.15), "{e:?}");
        assert!((r.median - 2.4).abs() < 1e-12);
        assert_eq!((e.local_basin, r.local_basin, e.primer_motif_in_top, r.primer_motif_in_top), (3, 1, 1, 0));
        let t = vs.test.unwrap();
        assert_eq!((t.mann_whitney_u, t.first_lower), (0.0, 1.0));
        assert!((t.mann_whitney_p - 0.1).abs() < 1e-12, "{}", t.mann_whitney_p);
        // Fisher, [[3, 0], [1, 2]]: the tables as or less likely than this one are it and
        // [[1, 2], [3, 0]], each 3/15 of the hypergeometric mass.
        assert!((t.fisher_local_basin_p - 0.4).abs() < 1e-12, "{}", t.fisher_local_basin_p);
        assert!((t.fisher_primer_motif_p - 1.0).abs() < 1e-12);
        // The design's power: sd 0.1 in both arms of 3 -> 2.8016 x 0.1 x sqrt(2/3) / sqrt(3/pi).
        assert!(
            (t.detectable_shift
                - 2.801_585_218_112_968 * 0.1 * (2.0f64 / 3.0).sqrt() / (3.0 / std::f64::consts::PI).sqrt())
            .abs()
                < 1e-9,
            "{}",
            t.detectable_shift
        );
        // Basin 4 of 6 pooled: 2.8016 x sqrt(4/6 x 2/6 x 2/3).
        assert!(
            (t.detectable_basin_difference - 2.801_585_218_112_968 * (4.0f64 / 6.0 * 2.0 / 6.0 * 2.0 / 3.0).sqrt())
                .abs()
                < 1e-9
        );
        // One strategy alone: arms, no test.
        let solo = versus(&f[1..3], 1e12);
        assert_eq!(solo.arms.len(), 1);
        assert!(solo.test.is_none());
    }

    #[test]
    fn a_campaign_is_judged_by_what_it_had_found_by_the_compute() {
        let root = root();
        let spec = demo_spec();
        let parse = |name: &str| primer_dsl::text::parse_file(&root.join("search-spaces/programs").join(name)).unwrap();
        let t = parse("transformer.prim");
        let ez = parse("primer_ez.prim");
        let text = std::fs::read_to_string(root.join("search-spaces/programs/transformer.prim")).unwrap();
        let local = primer_dsl::text::parse(
            &text.replace("heads = CALL[8] attention_head(n1)\n  attn  = DENSE(heads, model)", "attn  = DCONV15(n1)"),
            "local.prim",
        )
        .unwrap();
        let programs: HashMap<String, Program> =
            [&t, &ez, &local].into_iter().map(|p| (canonical_hash(p).hex(), p.clone())).collect();
        // 1e9 FLOPs each: the Transformer (2.0), Primer-EZ (1.9), then the local program (1.5).
        let rows = vec![
            row(1, None, &t, None, Outcome::Finished, 2.0, 2),
            row(2, Some(1), &ez, None, Outcome::Finished, 1.9, 2),
            row(3, Some(1), &local, None, Outcome::Finished, 1.5, 2),
        ];
        let p = progress_of("x", &spec, &rows);
        let by2 = found_at(&p, &rows, &programs, 2e9, 5);
        assert_eq!(
            (by2.best_loss, by2.best_candidate, by2.local_basin, by2.primer_motif_in_top),
            (Some(1.9), Some(2), false, true)
        );
        let by3 = found_at(&p, &rows, &programs, 3e9, 5);
        assert_eq!(
            (by3.best_loss, by3.best_candidate, by3.local_basin, by3.primer_motif_in_top),
            (Some(1.5), Some(3), true, true)
        );
        // Primer-EZ falls out of a top 1.
        assert!(!found_at(&p, &rows, &programs, 3e9, 1).primer_motif_in_top);
        let nothing = found_at(&p, &rows, &programs, 0.5e9, 5);
        assert_eq!((nothing.best_loss, nothing.local_basin), (None, false));
    }
}
