//! `primer proposals CAMPAIGN.toml`: how often the sampler proposes each of Primer's changes,
//! so that a campaign that did not find one can be read ("not proposed" against "proposed and
//! lost").
//!
//! N children of each seed program are drawn as the campaign draws them (one mutation each,
//! re-drawn while invalid or unchanged, from the campaign's search space and model; child
//! `b`'s randomness from `rng_for(seed, b)`), and the children that have a motif their parent
//! lacks are counted ([`primer_dsl::motifs`]). The rate comes with its 95% Wilson interval, and
//! with what it makes likely in the campaign's candidates: the expected number of proposals and
//! the chance of at least one, if every child had a seed-like parent. That is an upper bound
//! once the population leaves the seed's shape (a program without attention has no Q, K or V
//! to put a convolution after).

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use primer_dsl::analysis::canonical_hash;
use primer_dsl::motifs::{Motifs, motifs};
use primer_evolve::{Mutator, evolution::rng_for};

use primer_args::Format;

/// The motifs counted: Primer's changes as `primer analyze` names and detects them (the first
/// five: squared ReLU and the convolutions after Q, K, V and any of them).
const COUNTED: &[(&str, &str)] = crate::analyze::MOTIFS.split_at(5).0;

fn has(name: &str, m: &Motifs) -> bool {
    crate::analyze::has(name, m, m)
}

/// One motif's proposal rate among the children of one parent.
#[derive(Debug, Clone, Serialize)]
pub struct Rate {
    pub motif: String,
    pub meaning: String,
    /// The parent has it already (its children are not counted).
    pub in_parent: bool,
    pub children: u64,
    pub proposed: u64,
    pub rate: f64,
    /// 95% Wilson score interval of the rate.
    pub low: f64,
    pub high: f64,
    /// Expected proposals in the campaign's candidates, and the chance of at least one.
    pub expected: f64,
    pub at_least_one: f64,
}

/// The 95% Wilson score interval of `k` successes in `n` trials.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n, p) = (1.959_963_984_540_054_f64, n as f64, k as f64 / n as f64);
    let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
    let half = z / (1.0 + z * z / n) * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    // At k = 0 (k = n) the low (high) end is 0 (1) exactly; rounding would leave a residue.
    let low = if k == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if k as f64 == n { 1.0 } else { (centre + half).min(1.0) };
    (low, high)
}

/// Rates among `n` children of `parent` drawn with `seed`, read against `candidates`.
pub fn rates(mutator: &Mutator, parent: &primer_dsl::Program, seed: u64, n: u64, candidates: u64) -> Result<Vec<Rate>> {
    let hash = canonical_hash(parent);
    let mine = motifs(parent);
    let mut counts = [0u64; COUNTED.len()];
    for birth in 0..n {
        let child = mutator.child(&mut rng_for(seed, birth), parent, &hash, &|_| false)?;
        let m = motifs(&child.program);
        for (k, (name, _)) in COUNTED.iter().enumerate() {
            counts[k] += u64::from(has(name, &m) && !has(name, &mine));
        }
    }
    Ok(COUNTED
        .iter()
        .zip(counts)
        .map(|(&(name, meaning), proposed)| {
            let rate = proposed as f64 / n as f64;
            let (low, high) = wilson(proposed, n);
            Rate {
                motif: name.into(),
                meaning: meaning.into(),
                in_parent: has(name, &mine),
                children: n,
                proposed,
                rate,
                low,
                high,
                expected: rate * candidates as f64,
                at_least_one: 1.0 - (1.0 - rate).powf(candidates as f64),
            }
        })
        .collect())
}

/// `primer proposals CAMPAIGN.toml --children N`.
pub fn proposals(config: &Path, children: u64, seed: Option<u64>, format: Format) -> Result<()> {
    let resolved = primer_campaign::spec::resolve(
        config,
        &Default::default(),
        &primer_campaign::paths::default_corpus(),
        &Default::default(),
    )?;
    let spec = &resolved.spec;
    let mutator = spec.mutator();
    let seed = seed.unwrap_or(spec.seed);
    let mut out = Vec::new();
    for (s, p) in spec.seeds.iter().zip(&resolved.seed_programs) {
        let name = Path::new(&s.file).file_name().map_or(s.file.clone(), |n| n.to_string_lossy().into_owned());
        out.push((name, rates(&mutator, p, seed, children, spec.candidates)?));
    }
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &out.iter().map(|(f, r)| serde_json::json!({ "parent": f, "rates": r })).collect::<Vec<_>>()
            )?
        ),
        Format::Csv => {
            println!("parent,motif,in_parent,children,proposed,rate,low,high,expected,at_least_one");
            for (f, rs) in &out {
                for r in rs {
                    println!(
                        "{f},{},{},{},{},{},{},{},{},{}",
                        r.motif, r.in_parent, r.children, r.proposed, r.rate, r.low, r.high, r.expected, r.at_least_one
                    );
                }
            }
        }
        Format::Table => {
            for (f, rs) in &out {
                println!(
                    "children of {f} proposing each of Primer's changes ({children} drawn, seed {seed}; {} candidates in the campaign, as if each had a parent like this one):",
                    spec.candidates
                );
                println!(
                    "{:<13} {:>8} {:>11} {:>23} {:>9} {:>8}  meaning",
                    "motif", "proposed", "per child", "95% interval", "expected", "P(>= 1)"
                );
                for r in rs {
                    if r.in_parent {
                        println!("{:<13} {:>8}  (the parent has it)", r.motif, "–");
                        continue;
                    }
                    println!(
                        "{:<13} {:>8} {:>11} {:>23} {:>9.1} {:>7.0}%  {}",
                        r.motif,
                        r.proposed,
                        format!("1 in {:.0}", 1.0 / r.rate.max(1e-300)),
                        format!("1 in {:.0} to 1 in {:.0}", 1.0 / r.high, 1.0 / r.low.max(1e-300)),
                        r.expected,
                        100.0 * r.at_least_one,
                        r.meaning
                    );
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_the_closed_form_at_known_points() {
        // 0 of 100: [0, z^2 / (n + z^2)].
        let (lo, hi) = wilson(0, 100);
        assert_eq!(lo, 0.0);
        let z2 = 1.959_963_984_540_054_f64.powi(2);
        assert!((hi - z2 / (100.0 + z2)).abs() < 1e-12, "{hi}");
        // Symmetric around 1/2 at k = n/2; inside [0, 1]; narrower with more trials.
        let (lo, hi) = wilson(50, 100);
        assert!(((lo + hi) / 2.0 - 0.5).abs() < 1e-12 && lo > 0.39 && hi < 0.61, "{lo} {hi}");
        let (lo2, hi2) = wilson(500, 1000);
        assert!(hi2 - lo2 < hi - lo);
    }

    #[test]
    fn the_transformers_children_propose_squared_relu_and_convolutions_after_qkv() {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let t = primer_dsl::text::parse_file(&root.join("search-spaces/programs/transformer.prim")).unwrap();
        let space = primer_dsl::SearchSpace::load(&root.join("search-spaces/primer-cpu.toml")).unwrap();
        let mutator = Mutator::new(space, primer_dsl::ModelConfig::default(), 100);
        let r = rates(&mutator, &t, 1, 4000, 1500).unwrap();
        let get = |name: &str| r.iter().find(|x| x.motif == name).unwrap();
        // Each is one mutation away (tests/reach.rs in primer-evolve), so some of 4,000
        // children propose squared ReLU; a convolution after Q, K or V is rarer than 1 in 100.
        let sq = get("squared_relu");
        assert!(sq.proposed > 0 && !sq.in_parent, "{sq:?}");
        let any = get("dconv_any");
        assert!(any.rate < 0.01, "{any:?}");
        assert!(any.proposed >= get("dconv_q").proposed.max(get("dconv_k").proposed).max(get("dconv_v").proposed));
        // What the rate makes likely: expected = rate x candidates; P(>= 1) = 1 - (1 - rate)^C.
        assert!((sq.expected - sq.rate * 1500.0).abs() < 1e-9);
        assert!((sq.at_least_one - (1.0 - (1.0 - sq.rate).powi(1500))).abs() < 1e-9);
        assert!(sq.low <= sq.rate && sq.rate <= sq.high);
        // The same seed draws the same children.
        let again = rates(&mutator, &t, 1, 4000, 1500).unwrap();
        assert_eq!(
            r.iter().map(|x| x.proposed).collect::<Vec<_>>(),
            again.iter().map(|x| x.proposed).collect::<Vec<_>>()
        );
    }
}
