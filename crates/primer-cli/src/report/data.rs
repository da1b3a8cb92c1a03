//! The report's data: [`load`] reads everything the page needs from the store in one place,
//! [`build`] makes the page's [`Data`] from it without touching the store (tested on a
//! fixture).

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde::Serialize;

use primer_dsl::Program;
use primer_store::{Campaign, CheckpointCount, Counts, CurvePoint, HistoryRow, Outcome, Status, Store, WorkerRow};

use crate::analyze::{Analysis, analyze_history, ranked, stored_mutations};
use primer_campaign::resolve::find_campaign;
use primer_campaign::spec::CampaignSpec;

/// The top K shown with curves and diffs.
const TOP: usize = 20;

/// What the page is drawn from (serialized into it as JSON).
#[derive(Debug, Serialize)]
pub struct Data {
    pub campaign: Header,
    /// Seconds between rewrites when the page is being watched (it reloads itself), else 0.
    pub refresh: u64,
    pub outcomes: Vec<&'static str>,
    pub kinds: Vec<String>,
    /// One entry per candidate, in birth order (columns).
    pub c: Columns,
    /// Median loss of the living population (the last P results) as births go on: (birth, loss).
    pub population_median: Vec<(i64, f64)>,
    pub hurdles: Hurdles,
    pub analysis: Option<Analysis>,
    pub top: Vec<Top>,
    pub lineage: Vec<Node>,
    /// The Pareto front by (loss, the campaign's second objective or FLOPs per byte) of the
    /// candidates trained to the full budget (`primer top --pareto`).
    pub front: crate::pareto::Front,
}

#[derive(Debug, Serialize)]
pub struct Header {
    pub id: i64,
    pub name: String,
    pub store: String,
    pub created_at: f64,
    pub finished_at: Option<f64>,
    pub generated_at: f64,
    pub target: u64,
    pub budget: String,
    pub model: String,
    /// `bytes`, `bpe:4096 (sha256 ...)`, ...
    pub tokenizer: String,
    /// Bits per byte = nats per token / ln 2 / this.
    pub bytes_per_token: f64,
    pub strategy: String,
    pub population: usize,
    pub tournament: usize,
    pub hurdles: usize,
    pub seeds: Vec<String>,
    pub config: serde_json::Value,
    pub measured: i64,
    pub lost: i64,
    pub stopped: i64,
    pub reused: i64,
    pub program_failures: i64,
    pub running: i64,
    pub pending: i64,
    pub elapsed: f64,
    pub eta: Option<f64>,
    pub workers: Vec<Worker>,
    pub best: Option<Best>,
}

#[derive(Debug, Serialize)]
pub struct Worker {
    pub id: String,
    pub host: String,
    pub device: String,
    pub state: &'static str,
    pub done: i64,
}

#[derive(Debug, Serialize)]
pub struct Best {
    pub candidate: i64,
    pub birth: i64,
    pub fitness: f64,
    pub description: String,
    pub program: String,
}

/// Per-candidate columns (the same index everywhere).
#[derive(Debug, Default, Serialize)]
pub struct Columns {
    pub id: Vec<i64>,
    pub birth: Vec<i64>,
    /// Index of the parent in these columns, -1 for none.
    pub parent: Vec<i64>,
    pub fitness: Vec<Option<f64>>,
    /// Index into `outcomes`; -1: no result yet.
    pub outcome: Vec<i64>,
    pub steps: Vec<i64>,
    pub flops: Vec<f64>,
    pub seconds: Vec<f64>,
    pub params: Vec<i64>,
    pub fpt: Vec<i64>,
    pub hurdles: Vec<i64>,
    /// Index into `kinds`; -1: a seed.
    pub kind: Vec<i64>,
    pub desc: Vec<String>,
    /// The seed program's index for seeds, -1 otherwise.
    pub seed: Vec<i64>,
}

#[derive(Debug, Serialize)]
pub struct Hurdles {
    /// Budget fractions of the checkpoints.
    pub fractions: Vec<f64>,
    /// Candidates that reached each checkpoint.
    pub reached: Vec<i64>,
    /// The median loss there over every candidate that reached it.
    pub medians: Vec<Option<f64>>,
    /// Candidates that passed each hurdle (went on past it).
    pub passed: Vec<i64>,
    /// Training FLOPs spent, and what training every trained candidate to the end would have cost.
    pub flops_spent: f64,
    pub flops_if_all_full: f64,
}

#[derive(Debug, Serialize)]
pub struct Top {
    pub rank: usize,
    pub candidate: i64,
    pub birth: i64,
    pub fitness: f64,
    pub bits_per_byte: f64,
    pub outcome: String,
    pub steps: i64,
    pub params: i64,
    pub description: String,
    /// (FLOPs, step, validation loss) at each point with a validation loss.
    pub curve: Vec<(f64, i64, f64)>,
    /// `primer diff` of the seed it descends from and this program.
    pub diff: String,
}

#[derive(Debug, Serialize)]
pub struct Node {
    pub candidate: i64,
    pub birth: i64,
    pub fitness: Option<f64>,
    pub outcome: String,
    /// The mutation that made it from the node before (empty for the seed).
    pub mutation: String,
    pub program: String,
}

const OUTCOMES: [Outcome; 7] = [
    Outcome::Finished,
    Outcome::Stopped,
    Outcome::Reused,
    Outcome::Invalid,
    Outcome::Diverged,
    Outcome::OutOfMemory,
    Outcome::Failed,
];

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Everything the page is built from, as read from the store.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub campaign: Campaign,
    pub spec: CampaignSpec,
    pub store_url: String,
    /// The history, in birth order.
    pub rows: Vec<HistoryRow>,
    /// (parameters, FLOPs per token) and the parsed program, by hash.
    pub costs: HashMap<String, (i64, i64)>,
    pub programs: HashMap<String, Program>,
    /// Candidates that reached each hurdle checkpoint, and the median loss there.
    pub reached: Vec<CheckpointCount>,
    pub medians: Vec<Option<f64>>,
    /// The curves of the top candidates, by id.
    pub curves: HashMap<i64, Vec<CurvePoint>>,
    pub counts: Counts,
    pub workers: Vec<WorkerRow>,
    /// The store server's clock when it was read.
    pub now: f64,
}

/// Reads what the page of `campaign` needs.
pub async fn load(store: &Store, campaign: &str) -> Result<Loaded> {
    let c = find_campaign(store, campaign).await?;
    let spec: CampaignSpec =
        serde_json::from_str(&c.config).with_context(|| format!("campaign `{}`: its stored config", c.name))?;
    let rows = store.history(c.id).await?;
    // The campaign's programs, read once: their costs and the parsed programs.
    let mut costs: HashMap<String, (i64, i64)> = HashMap::new();
    let mut programs: HashMap<String, Program> = HashMap::new();
    for stored in store.programs_of(c.id).await? {
        let hash = stored.hash;
        let p = primer_dsl::text::from_json(&stored.json, "<store>").with_context(|| format!("program {hash}"))?;
        costs.insert(hash.clone(), (stored.parameters, stored.flops_per_token));
        programs.insert(hash, p);
    }
    let reached = store.checkpoint_counts(c.id).await?;
    let mut medians = Vec::new();
    for k in 0..spec.hurdles.fractions().len() {
        medians.push(store.checkpoint_median(c.id, k as i64, i64::MAX, 0).await?.1);
    }
    let mut curves = HashMap::new();
    for r in ranked(&rows).into_iter().take(TOP) {
        curves.insert(r.candidate, store.curve(r.candidate).await?);
    }
    let counts = store.counts(c.id).await?;
    let workers = store.workers(c.id).await?;
    let now = store.server_now().await.unwrap_or_else(|_| primer_store::now());
    Ok(Loaded {
        campaign: c,
        spec,
        store_url: store.url.clone(),
        rows,
        costs,
        programs,
        reached,
        medians,
        curves,
        counts,
        workers,
        now,
    })
}

/// The page's data from what was read (pure).
pub fn build(l: &Loaded, refresh: u64) -> Data {
    let (kinds, c) = columns(l);
    let ranked = ranked(&l.rows);
    let analysis = analyze_history(&l.campaign.name, &l.spec, &l.rows, &l.programs, 5).ok();
    Data {
        campaign: header(l, ranked.first().copied()),
        refresh,
        outcomes: OUTCOMES.iter().map(|o| o.as_str()).collect(),
        kinds,
        c,
        population_median: population_median(l),
        hurdles: hurdles(l),
        analysis,
        top: top(l, &ranked),
        lineage: lineage(l, ranked.first().copied()),
        front: crate::pareto::front_of(&l.campaign.name, &l.campaign.config, &l.rows, &l.costs),
    }
}

/// One column entry per candidate, and the names of the mutation kinds they index.
fn columns(l: &Loaded) -> (Vec<String>, Columns) {
    let index: HashMap<i64, usize> = l.rows.iter().enumerate().map(|(i, r)| (r.candidate, i)).collect();
    let mut kinds: Vec<String> = Vec::new();
    let mut col = Columns::default();
    for r in &l.rows {
        let (params, fpt) = l.costs.get(&r.program).copied().unwrap_or((0, 0));
        let kind = match r.mutation.as_deref().map(stored_mutations) {
            Some(Ok(ms)) if !ms.is_empty() => {
                let name =
                    if ms.len() == 1 { ms[0].kind().name().to_string() } else { format!("{} mutations", ms.len()) };
                let i = kinds.iter().position(|k| *k == name).unwrap_or_else(|| {
                    kinds.push(name);
                    kinds.len() - 1
                });
                i as i64
            }
            _ => -1,
        };
        col.id.push(r.candidate);
        col.birth.push(r.birth);
        col.parent.push(r.parent.and_then(|p| index.get(&p)).map_or(-1, |&i| i as i64));
        col.fitness.push(r.fitness.filter(|f| f.is_finite()));
        col.outcome.push(r.outcome.and_then(|o| OUTCOMES.iter().position(|x| *x == o)).map_or(-1, |i| i as i64));
        col.steps.push(r.steps.unwrap_or(0));
        col.flops.push(r.flops.unwrap_or(0.0));
        col.seconds.push(r.seconds.unwrap_or(0.0));
        col.params.push(params);
        col.fpt.push(fpt);
        col.hurdles.push(r.hurdles.unwrap_or(0));
        col.kind.push(kind);
        col.desc.push(r.description.clone().unwrap_or_default());
        col.seed.push(r.seed_index.unwrap_or(-1));
    }
    (kinds, col)
}

/// The population's median loss: the last P results, sampled to at most 1,000 points.
fn population_median(l: &Loaded) -> Vec<(i64, f64)> {
    let p = l.spec.evolution.population_size.max(1);
    let mut window: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
    let mut out = Vec::new();
    let every = (l.rows.len() / 1000).max(1);
    for (i, r) in l.rows.iter().enumerate() {
        if let Some(f) = r.fitness.filter(|f| f.is_finite()) {
            window.push_back(f);
            if window.len() > p {
                window.pop_front();
            }
        }
        if (i % every == 0 || i + 1 == l.rows.len())
            && let Some(m) = median(&mut window.iter().copied().collect::<Vec<_>>())
        {
            out.push((r.birth, m));
        }
    }
    out
}

/// Reached, the median and passed per hurdle; the compute against all-to-full, as `primer
/// savings` counts them.
fn hurdles(l: &Loaded) -> Hurdles {
    let fractions = l.spec.hurdles.fractions();
    let mut reached = vec![0; fractions.len()];
    for r in &l.reached {
        if let Some(x) = reached.get_mut(r.k as usize) {
            *x = r.candidates;
        }
    }
    let medians = l.medians.iter().map(|m| m.filter(|m| m.is_finite())).collect();
    let saved = crate::savings::of(&l.campaign.name, &l.spec, &l.rows, 1);
    let passed: Vec<i64> = saved.passed.iter().map(|&n| n as i64).collect();
    Hurdles {
        fractions,
        reached,
        medians,
        passed,
        flops_spent: saved.flops_spent,
        flops_if_all_full: saved.flops_if_all_full,
    }
}

/// The top K, with curves and diffs against their seeds.
fn top(l: &Loaded, ranked: &[&HistoryRow]) -> Vec<Top> {
    let by_id: HashMap<i64, &HistoryRow> = l.rows.iter().map(|r| (r.candidate, r)).collect();
    let seed_program = |r: &HistoryRow| -> Option<&Program> {
        let s = crate::analyze::seed_of(r, &by_id)?;
        l.programs.get(&s.program)
    };
    let mut top = Vec::new();
    for (rank, r) in ranked.iter().take(TOP).enumerate() {
        let curve = l
            .curves
            .get(&r.candidate)
            .into_iter()
            .flatten()
            .filter_map(|p| Some((p.flops, p.step, p.val_loss.filter(|v| v.is_finite())?)))
            .collect();
        let diff = match (seed_program(r), l.programs.get(&r.program)) {
            (Some(s), Some(p)) => {
                let d = primer_dsl::diff::diff(s, p);
                if d.is_empty() { "(the seed itself)".to_string() } else { d.to_string() }
            }
            _ => String::new(),
        };
        let fitness = r.fitness.unwrap();
        top.push(Top {
            rank: rank + 1,
            candidate: r.candidate,
            birth: r.birth,
            fitness,
            bits_per_byte: l.spec.bits_per_byte(fitness),
            outcome: r.outcome.map_or("", |o| o.as_str()).into(),
            steps: r.steps.unwrap_or(0),
            params: l.costs.get(&r.program).map_or(0, |c| c.0),
            description: r.description.clone().unwrap_or_default(),
            curve,
            diff,
        });
    }
    top
}

/// The lineage of the best: seed first.
fn lineage(l: &Loaded, best: Option<&HistoryRow>) -> Vec<Node> {
    let by_id: HashMap<i64, &HistoryRow> = l.rows.iter().map(|r| (r.candidate, r)).collect();
    let mut lineage = Vec::new();
    let mut at = best;
    while let Some(r) = at {
        lineage.push(Node {
            candidate: r.candidate,
            birth: r.birth,
            fitness: r.fitness.filter(|f| f.is_finite()),
            outcome: r.outcome.map_or("", |o| o.as_str()).into(),
            mutation: if r.parent.is_some() { r.description.clone().unwrap_or_default() } else { String::new() },
            program: l.programs.get(&r.program).map(primer_dsl::text::print).unwrap_or_default(),
        });
        at = r.parent.and_then(|p| by_id.get(&p).copied());
        if lineage.len() > 10_000 {
            break;
        }
    }
    lineage.reverse();
    lineage
}

/// The campaign's header: configuration, progress, workers, the best so far.
fn header(l: &Loaded, best: Option<&HistoryRow>) -> Header {
    let (c, spec, rows) = (&l.campaign, &l.spec, &l.rows);
    let outcome_count = |o: Outcome| rows.iter().filter(|r| r.outcome == Some(o)).count() as i64;
    let lease = spec.execution.lease_seconds;
    let workers = l
        .workers
        .iter()
        .map(|w| Worker {
            state: w.state(lease),
            id: w.id.clone(),
            host: w.host.clone(),
            device: w.device.clone(),
            done: w.done,
        })
        .collect();
    let end = c.finished_at.unwrap_or(l.now);
    let elapsed = (end - c.created_at).max(0.0);
    let finished = l.counts.finished();
    let eta = (c.finished_at.is_none() && finished > 0)
        .then(|| elapsed / finished as f64 * (spec.candidates as i64 - finished).max(0) as f64);
    let best = best.map(|r| Best {
        candidate: r.candidate,
        birth: r.birth,
        fitness: r.fitness.unwrap(),
        description: r.description.clone().unwrap_or_default(),
        program: l.programs.get(&r.program).map(primer_dsl::text::print).unwrap_or_default(),
    });
    Header {
        id: c.id,
        name: c.name.clone(),
        store: l.store_url.clone(),
        created_at: c.created_at,
        finished_at: c.finished_at,
        generated_at: l.now,
        target: spec.candidates,
        budget: spec.training.budget.to_string(),
        model: format!(
            "d_model {}, seq_len {}, {} layers",
            spec.model.d_model, spec.model.seq_len, spec.model.n_layers
        ),
        tokenizer: spec.tokenizer.describe(),
        bytes_per_token: spec.validation.map_or(1.0, |v| v.bytes_per_token()),
        strategy: match (spec.strategy.is_evolution(), spec.second_objective) {
            (false, _) => "random search".into(),
            (true, None) => "regularized evolution".into(),
            (true, Some(second)) => format!("regularized evolution, Pareto by (loss, {})", second.name()),
        },
        population: spec.evolution.population_size,
        tournament: spec.evolution.tournament_size,
        hurdles: spec.hurdles.hurdles,
        seeds: spec.seeds.iter().map(|s| s.file.clone()).collect(),
        config: {
            // The tokenizer's file is the campaign's, not the page's: its name and hash stay.
            let mut v: serde_json::Value = serde_json::from_str(&c.config).unwrap_or_default();
            if let Some(t) = v.get_mut("tokenizer").and_then(|t| t.as_object_mut()) {
                t.remove("json");
            }
            v
        },
        measured: l.counts.finished() - outcome_count(Outcome::Failed),
        lost: outcome_count(Outcome::Failed),
        stopped: outcome_count(Outcome::Stopped),
        reused: outcome_count(Outcome::Reused),
        program_failures: outcome_count(Outcome::Invalid)
            + outcome_count(Outcome::Diverged)
            + outcome_count(Outcome::OutOfMemory),
        running: rows.iter().filter(|r| r.status == Status::Running).count() as i64,
        pending: rows.iter().filter(|r| r.status == Status::Pending).count() as i64,
        elapsed,
        eta,
        workers,
        best,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::tests::{demo_spec, root, row};
    use primer_dsl::analysis::{canonical_hash, eliminate_dead_code};
    use primer_dsl::op::Op;
    use primer_dsl::program::Instruction;
    use primer_evolve::Mutation;

    /// A hand-made campaign: the Transformer (2.0), its squared-ReLU child (1.8, with a
    /// curve), that child's child stopped at the first hurdle (2.5), and one still pending.
    fn fixture() -> Loaded {
        let spec = demo_spec();
        let t = primer_dsl::text::parse_file(&root().join("search-spaces/programs/transformer.prim")).unwrap();
        let sq = Instruction { name: "sq".into(), op: Op::Square, in1: 8, in2: 0, constant: 0, dim: 0, branching: 1 };
        let insert = Mutation::InsertInstruction { subprogram: 0, position: 8, instruction: sq };
        let child = eliminate_dead_code(&insert.apply(&t));
        let mut rows = vec![
            row(1, None, &t, None, Outcome::Finished, 2.0, 2),
            row(2, Some(1), &child, Some(&insert), Outcome::Finished, 1.8, 2),
            row(3, Some(2), &t, None, Outcome::Stopped, 2.5, 1),
            row(4, Some(1), &child, None, Outcome::Finished, 0.0, 0),
        ];
        rows[1].description = Some("insert sq".into());
        rows[3].outcome = None;
        rows[3].fitness = None;
        rows[3].status = Status::Pending;
        let programs: HashMap<String, Program> =
            [&t, &child].into_iter().map(|p| (canonical_hash(p).hex(), p.clone())).collect();
        let costs = programs.keys().map(|h| (h.clone(), (1000, 50))).collect();
        let point = |step: i64, val: f64| CurvePoint {
            step,
            tokens: step * 64,
            flops: step as f64 * 1e8,
            seconds: step as f64,
            train_loss: val + 0.1,
            val_loss: Some(val),
        };
        Loaded {
            campaign: Campaign {
                id: 7,
                name: "fixture".into(),
                config: serde_json::to_string(&spec).unwrap(),
                seed: 1,
                created_at: 1000.0,
                finished_at: None,
            },
            spec,
            store_url: "sqlite://fixture.db".into(),
            rows,
            costs,
            programs,
            reached: vec![CheckpointCount { k: 0, candidates: 3 }, CheckpointCount { k: 1, candidates: 2 }],
            medians: vec![Some(2.1), Some(f64::NAN)],
            curves: [(2, vec![point(10, 1.9), point(20, f64::NAN), point(30, 1.8)])].into_iter().collect(),
            counts: Counts { pending: 1, running: 0, done: 3, failed: 0 },
            workers: Vec::new(),
            now: 1100.0,
        }
    }

    #[test]
    fn the_page_data_is_built_from_what_was_read() {
        let l = fixture();
        let d = build(&l, 30);
        assert_eq!(d.refresh, 30);
        // Columns, in birth order; parents by column index; outcomes by index into `outcomes`.
        assert_eq!(d.c.id, [1, 2, 3, 4]);
        assert_eq!(d.c.parent, [-1, 0, 1, 0]);
        assert_eq!(d.c.fitness, [Some(2.0), Some(1.8), Some(2.5), None]);
        assert_eq!(d.outcomes[..2], ["finished", "stopped"]);
        assert_eq!(d.c.outcome, [0, 0, 1, -1]);
        assert_eq!(d.kinds, ["insert"]);
        assert_eq!(d.c.kind, [-1, 0, -1, -1]);
        assert_eq!(d.c.params, [1000; 4]);
        // The median of the last P (20) results as births go on.
        assert_eq!(d.population_median, [(0, 2.0), (1, 1.9), (2, 2.0), (3, 2.0)]);
        // Hurdles: reached as counted, a non-finite median left out.
        assert_eq!(d.hurdles.reached, [3, 2]);
        assert_eq!(d.hurdles.medians, [Some(2.1), None]);
        // The top, best first, with the curve's finite validation points and diffs.
        let ids: Vec<i64> = d.top.iter().map(|t| t.candidate).collect();
        assert_eq!(ids, [2, 1, 3]);
        assert_eq!(d.top[0].curve, [(1e9, 10, 1.9), (3e9, 30, 1.8)]);
        assert!(d.top[0].diff.contains("SQUARE"), "{}", d.top[0].diff);
        assert_eq!(d.top[1].diff, "(the seed itself)");
        assert!(d.top[1].curve.is_empty());
        // The lineage of the best, seed first, each node with the mutation that made it.
        let chain: Vec<(i64, &str)> = d.lineage.iter().map(|n| (n.candidate, n.mutation.as_str())).collect();
        assert_eq!(chain, [(1, ""), (2, "insert sq")]);
        // The header: counts, elapsed on the store's clock, the rest estimated from the rate.
        let h = &d.campaign;
        assert_eq!((h.measured, h.stopped, h.pending, h.running, h.lost), (3, 1, 1, 0, 0));
        assert_eq!(h.elapsed, 100.0);
        assert_eq!(h.eta, Some(100.0 / 3.0 * (l.spec.candidates as f64 - 3.0)));
        assert_eq!(h.best.as_ref().map(|b| b.candidate), Some(2));
        assert_eq!(h.store, "sqlite://fixture.db");
    }
}
