//! `primer report`: a campaign as one self-contained HTML page (data, styles and scripts
//! inside: it opens offline from disk, no server, no network). The store is read-only. The page
//! (`report/page.html`, `report/report.js`, `report/report.css`) draws eight sections on
//! canvases and SVG with the project's own plotting code (no library): the header, search
//! progress, loss against cost with the Pareto front, hurdles, mutations, the top 20 with
//! their curves and diffs, the lineage of the best, and Primer's motifs. Each section marks
//! itself drawn (`data-drawn`), and the page sets its title to `ready: NAME` when all are, so
//! that a browser test can wait for it and check every section.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use primer_dsl::Program;
use primer_store::{HistoryRow, Outcome, Status, Store};

use crate::analyze::{Analysis, analyze_history, stored_mutations};
use crate::campaign::CampaignSpec;
use crate::resolve::find_campaign;

const PAGE: &str = include_str!("report/page.html");
const SCRIPT: &str = include_str!("report/report.js");
const STYLE: &str = include_str!("report/report.css");

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

/// How long building and writing took, and how big the page is.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub candidates: usize,
    pub bytes: usize,
    pub seconds: f64,
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

/// Builds the page's data from the store.
pub async fn data(store: &Store, campaign: &str, refresh: u64) -> Result<Data> {
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
    let k = 20;
    let analysis = analyze_history(&c.name, &spec, &rows, &programs, 5).ok();
    let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.candidate, i)).collect();

    // Columns.
    let mut kinds: Vec<String> = Vec::new();
    let mut col = Columns::default();
    for r in &rows {
        let (params, fpt) = costs.get(&r.program).copied().unwrap_or((0, 0));
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

    // The population's median loss: the last P results, sampled to at most 1,000 points.
    let p = spec.evolution.population_size.max(1);
    let mut window: std::collections::VecDeque<f64> = std::collections::VecDeque::new();
    let mut population_median = Vec::new();
    let every = (rows.len() / 1000).max(1);
    for (i, r) in rows.iter().enumerate() {
        if let Some(f) = r.fitness.filter(|f| f.is_finite()) {
            window.push_back(f);
            if window.len() > p {
                window.pop_front();
            }
        }
        if (i % every == 0 || i + 1 == rows.len())
            && let Some(m) = median(&mut window.iter().copied().collect::<Vec<_>>())
        {
            population_median.push((r.birth, m));
        }
    }

    // Hurdles.
    let fractions = spec.hurdles.fractions();
    let reached_rows = store.checkpoint_counts(c.id).await?;
    let mut reached = vec![0; fractions.len()];
    for r in reached_rows {
        if let Some(x) = reached.get_mut(r.k as usize) {
            *x = r.candidates;
        }
    }
    let mut medians = Vec::new();
    for k in 0..fractions.len() {
        let (_, m) = store.checkpoint_median(c.id, k as i64, i64::MAX, 0).await?;
        medians.push(m.filter(|m| m.is_finite()));
    }
    // Passed per hurdle and the compute against all-to-full: as `primer savings` counts them.
    let saved = crate::savings::of(&c.name, &spec, &rows, 1);
    let passed: Vec<i64> = saved.passed.iter().map(|&n| n as i64).collect();
    let (flops_spent, flops_if_all_full) = (saved.flops_spent, saved.flops_if_all_full);

    // The top 20, with curves and diffs against their seeds.
    let by_id: HashMap<i64, &HistoryRow> = rows.iter().map(|r| (r.candidate, r)).collect();
    let mut ranked: Vec<&HistoryRow> = rows.iter().filter(|r| r.fitness.is_some_and(f64::is_finite)).collect();
    ranked.sort_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()).then(a.birth.cmp(&b.birth)));
    let seed_program = |r: &HistoryRow| -> Option<&Program> {
        let s = crate::analyze::seed_of(r, &by_id)?;
        programs.get(&s.program)
    };
    let mut top = Vec::new();
    for (rank, r) in ranked.iter().take(k).enumerate() {
        let curve = store
            .curve(r.candidate)
            .await?
            .into_iter()
            .filter_map(|p| Some((p.flops, p.step, p.val_loss.filter(|v| v.is_finite())?)))
            .collect();
        let diff = match (seed_program(r), programs.get(&r.program)) {
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
            bits_per_byte: spec.bits_per_byte(fitness),
            outcome: r.outcome.map_or("", |o| o.as_str()).into(),
            steps: r.steps.unwrap_or(0),
            params: costs.get(&r.program).map_or(0, |c| c.0),
            description: r.description.clone().unwrap_or_default(),
            curve,
            diff,
        });
    }

    // The lineage of the best: seed first.
    let mut lineage = Vec::new();
    let mut at = ranked.first().copied();
    while let Some(r) = at {
        lineage.push(Node {
            candidate: r.candidate,
            birth: r.birth,
            fitness: r.fitness.filter(|f| f.is_finite()),
            outcome: r.outcome.map_or("", |o| o.as_str()).into(),
            mutation: if r.parent.is_some() { r.description.clone().unwrap_or_default() } else { String::new() },
            program: programs.get(&r.program).map(primer_dsl::text::print).unwrap_or_default(),
        });
        at = r.parent.and_then(|p| by_id.get(&p).copied());
        if lineage.len() > 10_000 {
            break;
        }
    }
    lineage.reverse();

    // The header.
    let counts = store.counts(c.id).await?;
    let outcome_count = |o: Outcome| rows.iter().filter(|r| r.outcome == Some(o)).count() as i64;
    let lease = spec.execution.lease_seconds;
    let workers = store
        .workers(c.id)
        .await?
        .into_iter()
        .map(|w| Worker { state: w.state(lease), id: w.id, host: w.host, device: w.device, done: w.done })
        .collect();
    let now = store.server_now().await.unwrap_or_else(|_| primer_store::now());
    let end = c.finished_at.unwrap_or(now);
    let elapsed = (end - c.created_at).max(0.0);
    let finished = counts.finished();
    let eta = (c.finished_at.is_none() && finished > 0)
        .then(|| elapsed / finished as f64 * (spec.candidates as i64 - finished).max(0) as f64);
    let best = ranked.first().map(|r| Best {
        candidate: r.candidate,
        birth: r.birth,
        fitness: r.fitness.unwrap(),
        description: r.description.clone().unwrap_or_default(),
        program: programs.get(&r.program).map(primer_dsl::text::print).unwrap_or_default(),
    });
    let header = Header {
        id: c.id,
        name: c.name.clone(),
        store: store.url.clone(),
        created_at: c.created_at,
        finished_at: c.finished_at,
        generated_at: now,
        target: spec.candidates,
        budget: spec.training.budget.to_string(),
        model: format!(
            "d_model {}, seq_len {}, {} layers",
            spec.model.d_model, spec.model.seq_len, spec.model.n_layers
        ),
        tokenizer: spec.tokenizer.describe(),
        bytes_per_token: spec.validation.map_or(1.0, |v| v.bytes_per_token()),
        strategy: if spec.strategy.is_evolution() { "regularized evolution".into() } else { "random search".into() },
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
        measured: counts.finished() - outcome_count(Outcome::Failed),
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
    };
    Ok(Data {
        campaign: header,
        refresh,
        outcomes: OUTCOMES.iter().map(|o| o.as_str()).collect(),
        kinds,
        c: col,
        population_median,
        hurdles: Hurdles { fractions, reached, medians, passed, flops_spent, flops_if_all_full },
        analysis,
        top,
        lineage,
    })
}

/// The page for `data`: one HTML file with everything inside. The template's `{{name}}`
/// places are filled in one pass ([`fill`]), so that text which itself reads `{{...}}` (a
/// campaign's name, a program's comment) is never expanded; each value is escaped for where it
/// goes: the title as HTML text, the data as JSON inside `<script>` ([`script_json`]).
pub fn html(data: &Data) -> Result<String> {
    let json = script_json(&serde_json::to_string(data)?);
    let title = html_escape(&data.campaign.name);
    let refresh = if data.refresh > 0 {
        format!("<meta http-equiv=\"refresh\" content=\"{}\">", data.refresh)
    } else {
        String::new()
    };
    fill(PAGE, &[("title", &title), ("refresh", &refresh), ("style", STYLE), ("data", &json), ("script", SCRIPT)])
}

/// `template` with each `{{name}}` replaced by its value, in one pass over the template: what a
/// value holds is copied as it is, never read for places. A place with no value is an error
/// (a template and its caller out of step), and so is a value with no place.
pub fn fill(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let mut out = String::with_capacity(template.len() + values.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| anyhow::anyhow!("report template: `{{{{` with no `}}}}`"))?;
        let name = &after[..end];
        let k = values
            .iter()
            .position(|(n, _)| *n == name)
            .ok_or_else(|| anyhow::anyhow!("report template: no value for `{{{{{name}}}}}`"))?;
        out.push_str(values[k].1);
        used[k] = true;
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    if let Some(k) = used.iter().position(|u| !u) {
        anyhow::bail!("report template: no place for `{{{{{}}}}}`", values[k].0);
    }
    Ok(out)
}

/// JSON text made safe inside an HTML `<script>` element: `<`, `>` and `&` written as JSON's
/// `\u003c`, `\u003e` and `\u0026` (the same string to `JSON.parse`), so that no `</script>`,
/// `<!--` or `<script` in a name or comment can end or change the element. These characters
/// occur only inside JSON strings, where the escapes mean the same.
pub fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// Builds and writes the report of `campaign` to `out` (through a temporary file, so that a
/// browser reloading it never sees half a page).
pub async fn write(store: &Store, campaign: &str, out: &Path, refresh: u64) -> Result<Written> {
    let started = Instant::now();
    let d = data(store, campaign, refresh).await?;
    let page = html(&d)?;
    let tmp = out.with_extension("html.tmp");
    std::fs::write(&tmp, &page).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, out).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(Written { candidates: d.c.id.len(), bytes: page.len(), seconds: started.elapsed().as_secs_f64() })
}

/// `primer report`: writes the page once, or every `watch` seconds until the campaign is
/// finished (the open page reloads itself).
pub async fn report(store: &Store, campaign: &str, out: &Path, watch: Option<f64>) -> Result<()> {
    let refresh = watch.map_or(0, |w| w.ceil().max(1.0) as u64);
    loop {
        let w = write(store, campaign, out, refresh).await?;
        let path = std::fs::canonicalize(out).unwrap_or_else(|_| out.to_path_buf());
        println!(
            "wrote {} ({} candidates, {:.1} MB, {:.1} s): open file://{}",
            out.display(),
            w.candidates,
            w.bytes as f64 / 1e6,
            w.seconds,
            path.display()
        );
        let Some(every) = watch else { return Ok(()) };
        let c = find_campaign(store, campaign).await?;
        if c.finished_at.is_some() {
            // One last page without the reload.
            write(store, campaign, out, 0).await?;
            println!("the campaign is finished; stopped watching");
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs_f64(every)).await;
    }
}

/// A synthetic campaign of `n` candidates for `primer bench report`: real, distinct programs
/// (each a mutation of a parent drawn from the last P births, as regularized evolution makes
/// them), losses inherited from the parent with noise, outcomes as a campaign has them (about
/// half stopped at a hurdle, some reused, a few diverged or invalid), a curve point at each
/// checkpoint reached and at the end, and the hurdle checkpoints.
pub fn synthetic(n: usize, seed: u64) -> Result<primer_store::CampaignDump> {
    use primer_store::{CampaignDump, CandidateRow, CheckpointRow, CurvePoint, CurveRow, EvaluationRow, ProgramRow};
    use rand::{Rng, SeedableRng};
    let config = crate::paths::workspace_root().join("experiments/demo.toml");
    let o = crate::campaign::Overrides {
        name: Some(format!("synthetic-{n}")),
        candidates: Some(n as u64),
        ..Default::default()
    };
    let resolved = crate::campaign::resolve(&config, &o, &crate::paths::default_corpus())?;
    let spec = resolved.spec;
    let mutator = primer_evolve::Mutator::new(spec.space.clone(), spec.model, 200);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let fractions = spec.hurdles.fractions();
    let budget = spec.training.budget.to_string();
    let mut d = CampaignDump {
        campaign: primer_store::Campaign {
            id: 1,
            name: format!("synthetic-{n}"),
            config: serde_json::to_string_pretty(&spec)?,
            seed: spec.seed as i64,
            created_at: primer_store::now() - n as f64 * 9.0,
            finished_at: Some(primer_store::now()),
        },
        programs: Vec::new(),
        candidates: Vec::new(),
        evaluations: Vec::new(),
        checkpoints: Vec::new(),
        curve_points: Vec::new(),
        reruns: Vec::new(),
        weights: Vec::new(),
        requeues: Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    let mut programs: Vec<Program> = Vec::new();
    // Each program's loss at the full budget (what a child inherits, with noise); what is stored
    // is the loss where training stopped.
    let mut losses: Vec<f64> = Vec::new();
    let p = spec.evolution.population_size.max(1);
    for birth in 0..n {
        let id = birth as i64 + 1;
        let (program, parent, mutation, description, inherited) = if birth == 0 {
            (resolved.seed_programs[0].clone(), None, None, Some("seed".to_string()), 2.6)
        } else {
            let lo = birth.saturating_sub(p);
            // A tournament of 3 among the last P: the best parent, as evolution picks.
            let pi =
                (0..3).map(|_| rng.random_range(lo..birth)).min_by(|a, b| losses[*a].total_cmp(&losses[*b])).unwrap();
            let parent_hash = primer_dsl::analysis::canonical_hash(&programs[pi]);
            let child = mutator
                .child(&mut rng, &programs[pi], &parent_hash, &|h| seen.contains(&h.hex()))
                .map_err(|e| anyhow::anyhow!("synthetic birth {birth}: {e}"))?;
            let json = serde_json::to_string(&child.mutation)?;
            // Children differ from their parents by a few percent of the way to a floor of 1.2.
            let noise: f64 = rng.random_range(-0.03..0.04);
            let loss = 1.2 + (losses[pi] - 1.2) * (1.0 + noise);
            (child.program, Some(pi as i64 + 1), Some(json), Some(child.description), loss)
        };
        let row = crate::search::program_row(&spec, &program);
        seen.insert(row.hash.clone());
        let roll: f64 = rng.random();
        let (outcome, hurdles_reached) = match roll {
            r if r < 0.02 => (Outcome::Diverged, 0),
            r if r < 0.03 => (Outcome::Invalid, 0),
            r if r < 0.08 => (Outcome::Reused, 0),
            r if r < 0.33 => (Outcome::Stopped, 1),
            r if r < 0.55 => (Outcome::Stopped, 2),
            _ => (Outcome::Finished, fractions.len()),
        };
        let reached_fraction = match outcome {
            Outcome::Stopped => fractions[hurdles_reached - 1],
            Outcome::Finished => 1.0,
            _ => 0.0,
        };
        let full_flops = 5e11;
        let fitness = match outcome {
            Outcome::Diverged | Outcome::Invalid => None,
            // Stopped early: the loss there, higher than at the end.
            _ => Some(inherited + 0.4 * (1.0 - reached_fraction)),
        };
        losses.push(if fitness.is_some() { inherited } else { inherited + 1.0 });
        programs.push(program);
        d.candidates.push(CandidateRow {
            id,
            birth: birth as i64,
            program: row.hash.clone(),
            parent,
            seed_index: (birth == 0).then_some(0),
            mutation,
            description,
            status: Status::Done,
            worker: Some("synthetic".into()),
            attempts: 1,
            retry_from: 0,
            fingerprint: None,
            created_at: 0.0,
        });
        let steps = (600.0 * reached_fraction) as i64;
        d.evaluations.push(EvaluationRow {
            candidate: id,
            budget: budget.clone(),
            fitness,
            steps,
            tokens: steps * 1024,
            flops: full_flops * reached_fraction,
            seconds: 19.0 * reached_fraction,
            hurdles: hurdles_reached as i64,
            outcome,
            reason: None,
            reused_from: (outcome == Outcome::Reused && birth > 0).then_some(parent.unwrap_or(1)),
            worker: Some("synthetic".into()),
            finished_at: 0.0,
        });
        if let Some(f) = fitness.filter(|_| reached_fraction > 0.0) {
            let mut at: Vec<f64> = fractions.iter().copied().filter(|x| *x <= reached_fraction).collect();
            if reached_fraction >= 1.0 {
                at.push(1.0);
            }
            for (k, frac) in at.iter().enumerate() {
                let loss = f + 0.4 * (reached_fraction - frac);
                let step = (600.0 * frac).round() as i64;
                d.curve_points.push(CurveRow {
                    candidate: id,
                    point: CurvePoint {
                        step,
                        tokens: step * 1024,
                        flops: full_flops * frac,
                        seconds: 19.0 * frac,
                        train_loss: loss + 0.05,
                        val_loss: Some(loss),
                    },
                });
                if k < fractions.len() && *frac < 1.0 {
                    d.checkpoints.push(CheckpointRow { candidate: id, k: k as i64, loss });
                }
            }
        }
        d.programs.push(ProgramRow {
            hash: row.hash,
            text: row.text,
            json: row.json,
            parameters: row.parameters,
            flops_per_token: row.flops_per_token,
        });
    }
    Ok(d)
}

/// `primer bench report`: builds the synthetic store of `n` candidates in `dir` (a SQLite file),
/// then writes its report there and prints the seconds and size of each step.
pub async fn bench(n: usize, dir: &Path) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = dir.join(format!("synthetic-{n}.db"));
    let url = format!("sqlite://{}", db.display());
    let name = format!("synthetic-{n}");
    let started = Instant::now();
    {
        let store = Store::open(&url).await?;
        if store.campaign(&name).await?.is_none() {
            let d = synthetic(n, 1)?;
            store.load_campaign(&d).await?;
        }
    }
    let built = started.elapsed().as_secs_f64();
    let store = Store::open_read(&url).await?;
    let out = dir.join(format!("report-{n}.html"));
    let w = write(&store, &name, &out, 0).await?;
    println!("synthetic store of {n} candidates: {} ({built:.1} s to build, or found)", db.display());
    println!("report: {} ({:.2} MB) written in {:.2} s", out.display(), w.bytes as f64 / 1e6, w.seconds);
    Ok(w)
}

#[cfg(test)]
mod template_tests {
    use super::{fill, script_json};

    #[test]
    fn values_that_read_like_places_are_not_expanded() {
        let page = fill("<t>{{title}}</t><s>{{script}}</s>", &[("title", "x{{script}}"), ("script", "run()")]).unwrap();
        assert_eq!(page, "<t>x{{script}}</t><s>run()</s>");
        assert!(fill("{{nope}}", &[]).unwrap_err().to_string().contains("no value for `{{nope}}`"));
        assert!(fill("plain", &[("a", "b")]).unwrap_err().to_string().contains("no place for `{{a}}`"));
    }

    #[test]
    fn json_in_a_script_element_cannot_end_it_and_parses_the_same() {
        let text = "</script><!--<script>&\u{2028}\"é";
        let json = serde_json::to_string(&text).unwrap();
        let safe = script_json(&json);
        assert!(!safe.contains('<') && !safe.contains('>') && !safe.contains('&'), "{safe}");
        assert_eq!(serde_json::from_str::<String>(&safe).unwrap(), text);
    }
}
