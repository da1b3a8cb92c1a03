//! `primer status`, `top`, `show` and `lineage`: reading a store, during or after a search.
//! Every listing prints a table, JSON or CSV (`--format`).

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context, Result};
use serde::Serialize;

use primer_dsl::text;
use primer_store::{HistoryRow, Outcome, Store};

use primer_args::Format;
use primer_campaign::output::{csv_line, loss, opt};
use primer_campaign::resolve::{find_campaign, program};

/// One campaign's line in `status`.
#[derive(Debug, Serialize)]
pub struct StatusRow {
    pub campaign: i64,
    pub name: String,
    pub target: u64,
    /// Measured: a result of the program (finished, stopped at a hurdle, reused, or failed on
    /// its own).
    pub done: i64,
    /// Of `done`, the programs that failed on their own: invalid, diverged, out of memory.
    pub program_failures: i64,
    /// Never measured: their workers died too often (`primer search --retry-failed` gives them
    /// new attempts).
    pub failed: i64,
    pub running: i64,
    pub pending: i64,
    pub finished: bool,
    pub best_fitness: Option<f64>,
    pub best_candidate: Option<i64>,
    /// Workers that are alive, stale (no heartbeat for longer than the campaign's lease), and
    /// dead (on this host, their process is gone, whatever their lease says).
    pub live_workers: usize,
    pub stale_workers: usize,
    pub dead_workers: usize,
    pub workers: Vec<WorkerStatus>,
}

/// A worker of a campaign, as `status` shows it.
#[derive(Debug, Serialize)]
pub struct WorkerStatus {
    #[serde(flatten)]
    pub worker: primer_store::WorkerRow,
    /// live, stale, dead or exited.
    pub state: &'static str,
}

/// A worker's state as `status` shows it: `exited` (it said so), `dead` (on this host, with no
/// primer process of its pid: killed, or crashed, before its lease ran out), `stale` (no
/// heartbeat within the lease) or `live`.
pub fn worker_state(w: &primer_store::WorkerRow, stale_after: f64, here: &str) -> &'static str {
    match w.state(stale_after) {
        "exited" => "exited",
        _ if w.host == here && !primer_process(w.pid) => "dead",
        state => state,
    }
}

/// Whether a primer process (not a zombie) has this pid on this host: `/proc/PID` exists, its
/// state is not `Z`, and its command line names primer (a pid reused by another program is
/// not the worker).
fn primer_process(pid: i64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // `PID (COMM) STATE ...`: the state follows the last `)`.
    let zombie = stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    !zombie && String::from_utf8_lossy(&cmdline).contains("primer")
}

fn age(secs: f64) -> String {
    let s = secs.max(0.0);
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// One row per campaign of the store, with its workers' states.
async fn status_rows(store: &Store) -> Result<Vec<StatusRow>> {
    let here = primer_campaign::signals::hostname();
    let mut rows = Vec::new();
    for c in store.campaigns().await? {
        let counts = store.counts(c.id).await?;
        let outcomes = store.outcome_counts(c.id).await?;
        let count =
            |f: &dyn Fn(Outcome) -> bool| outcomes.iter().filter(|o| f(o.outcome)).map(|o| o.count).sum::<i64>();
        let program_failures = count(&|o| matches!(o, Outcome::Invalid | Outcome::Diverged | Outcome::OutOfMemory));
        let lost = count(&|o| o == Outcome::Failed);
        let target = serde_json::from_str::<serde_json::Value>(&c.config)
            .ok()
            .and_then(|v| v["candidates"].as_u64())
            .unwrap_or(counts.total() as u64);
        let best = store.top(c.id, 1).await?.into_iter().next();
        let config = serde_json::from_str::<serde_json::Value>(&c.config).unwrap_or_default();
        let stale_after = config["execution"]["lease_seconds"].as_f64().unwrap_or(30.0);
        let workers: Vec<WorkerStatus> = store
            .workers(c.id)
            .await?
            .into_iter()
            .map(|w| WorkerStatus { state: worker_state(&w, stale_after, &here), worker: w })
            .collect();
        rows.push(StatusRow {
            campaign: c.id,
            name: c.name,
            target,
            done: counts.finished() - lost,
            program_failures,
            failed: lost,
            running: counts.running,
            pending: counts.pending,
            finished: c.finished_at.is_some(),
            best_fitness: best.as_ref().and_then(|b| b.fitness),
            best_candidate: best.map(|b| b.candidate),
            live_workers: workers.iter().filter(|w| w.state == "live").count(),
            stale_workers: workers.iter().filter(|w| w.state == "stale").count(),
            dead_workers: workers.iter().filter(|w| w.state == "dead").count(),
            workers,
        });
    }
    Ok(rows)
}

/// The workers of each campaign that did not exit: counted, and listed (a finished campaign's
/// dead and stale ones only with `all`).
fn print_workers(rows: &[StatusRow], all: bool) {
    for r in rows.iter().filter(|r| r.workers.iter().any(|w| w.state != "exited")) {
        let exited = r.workers.iter().filter(|w| w.state == "exited").count();
        println!(
            "\nworkers of `{}`: {} live, {} stale (no heartbeat within the lease), {} dead (process gone), {exited} exited",
            r.name, r.live_workers, r.stale_workers, r.dead_workers
        );
        // A finished campaign's dead and stale workers are history: counted above,
        // listed with --all.
        let listed = |w: &&WorkerStatus| w.state == "live" || (w.state != "exited" && (all || !r.finished));
        if r.workers.iter().any(|w| listed(&w)) {
            println!(
                "  {:<28} {:<16} {:>8} {:<10} {:>9} {:>9} {:>5}  state",
                "id", "host", "pid", "device", "started", "heartbeat", "done"
            );
        }
        for w in r.workers.iter().filter(listed) {
            let x = &w.worker;
            println!(
                "  {:<28} {:<16} {:>8} {:<10} {:>9} {:>9} {:>5}  {}",
                x.id,
                x.host,
                x.pid,
                x.device,
                format!("{} ago", age(x.silent + x.heartbeat_at - x.started_at)),
                format!("{} ago", age(x.silent)),
                x.done,
                w.state
            );
        }
        let hidden = r.workers.iter().filter(|w| w.state != "exited" && !listed(w)).count();
        if hidden > 0 {
            println!("  ({hidden} dead or stale of a finished campaign not listed: --all lists them)");
        }
    }
}

/// `primer status`.
///
/// A finished campaign's workers that did not exit (dead or stale) are counted, and listed
/// only with `all`: after a campaign ends they are history, not something to act on.
pub async fn status(store: &Store, format: Format, all: bool) -> Result<()> {
    let rows = status_rows(store).await?;
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => {
            println!(
                "campaign,name,target,done,program_failures,failed,running,pending,finished,best_fitness,best_candidate,live_workers,stale_workers,dead_workers"
            );
            for r in &rows {
                println!(
                    "{}",
                    csv_line(&[
                        r.campaign.to_string(),
                        r.name.clone(),
                        r.target.to_string(),
                        r.done.to_string(),
                        r.program_failures.to_string(),
                        r.failed.to_string(),
                        r.running.to_string(),
                        r.pending.to_string(),
                        r.finished.to_string(),
                        opt(r.best_fitness),
                        opt(r.best_candidate),
                        r.live_workers.to_string(),
                        r.stale_workers.to_string(),
                        r.dead_workers.to_string(),
                    ])
                );
            }
        }
        Format::Table => {
            if rows.is_empty() {
                println!("no campaigns in {}", store.url);
            }
            println!(
                "{:>3}  {:<20} {:>9} {:>5} {:>9} {:>6} {:>7} {:>7}  {:<9} {:>9} {:>9}",
                "id",
                "name",
                "progress",
                "done",
                "prog-fail",
                "lost",
                "running",
                "pending",
                "state",
                "best",
                "candidate"
            );
            for r in &rows {
                println!(
                    "{:>3}  {:<20} {:>9} {:>5} {:>9} {:>6} {:>7} {:>7}  {:<9} {:>9} {:>9}",
                    r.campaign,
                    r.name,
                    format!("{}/{}", r.done + r.failed, r.target),
                    r.done,
                    r.program_failures,
                    r.failed,
                    r.running,
                    r.pending,
                    if r.finished { "finished" } else { "open" },
                    loss(r.best_fitness),
                    opt(r.best_candidate)
                );
            }
            if rows.iter().any(|r| r.failed > 0) {
                println!(
                    "\ndone: measured (prog-fail: of them, programs that failed on their own: invalid, diverged, out of memory);\nlost: never measured, their workers died too often (`primer search CAMPAIGN.toml --retry-failed` tries them again)"
                );
            }
            print_workers(&rows, all);
        }
    }
    Ok(())
}

fn history_csv_header() -> &'static str {
    "rank,candidate,birth,fitness,bits_per_byte,outcome,steps,flops,seconds,hurdles,parent,program,mutation"
}

/// `primer top CAMPAIGN -k N`.
pub async fn top(store: &Store, campaign: &str, k: i64, format: Format) -> Result<()> {
    let c = find_campaign(store, campaign).await?;
    let rows = store.top(c.id, k).await?;
    let per_token = primer_campaign::spec::bytes_per_token(&c.config);
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
        Format::Csv => {
            println!("{}", history_csv_header());
            for (i, r) in rows.iter().enumerate() {
                let f = r.fitness.unwrap_or(f64::NAN);
                println!(
                    "{}",
                    csv_line(&[
                        (i + 1).to_string(),
                        r.candidate.to_string(),
                        r.birth.to_string(),
                        f.to_string(),
                        primer_tokens::bits_per_byte(f, per_token).to_string(),
                        opt(r.outcome),
                        opt(r.steps),
                        opt(r.flops),
                        opt(r.seconds),
                        opt(r.hurdles),
                        opt(r.parent),
                        r.program.clone(),
                        opt(r.description.clone()),
                    ])
                );
            }
        }
        Format::Table => {
            println!(
                "campaign `{}` (id {}): the {} best of {} candidates",
                c.name,
                c.id,
                rows.len(),
                store.counts(c.id).await?.total()
            );
            println!(
                "{:<5} {:>9} {:>6} {:>9} {:>8} {:>10} {:>6} {:>7}  mutation",
                "rank", "candidate", "birth", "val loss", "bits/B", "outcome", "steps", "parent"
            );
            for (i, r) in rows.iter().enumerate() {
                let f = r.fitness.unwrap_or(f64::NAN);
                println!(
                    "{:<5} {:>9} {:>6} {:>9.4} {:>8.4} {:>10} {:>6} {:>7}  {}",
                    i + 1,
                    r.candidate,
                    r.birth,
                    f,
                    primer_tokens::bits_per_byte(f, per_token),
                    opt(r.outcome),
                    opt(r.steps),
                    opt(r.parent),
                    r.description.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

/// The ancestors of a candidate, itself first, back to its seed.
async fn ancestors(store: &Store, id: i64) -> Result<(i64, Vec<HistoryRow>)> {
    let primer_store::CandidateIn { campaign, row } =
        store.candidate(id).await?.with_context(|| format!("no candidate {id} in {}", store.url))?;
    let history = store.history(campaign).await?;
    let by_id: HashMap<i64, &HistoryRow> = history.iter().map(|r| (r.candidate, r)).collect();
    let mut chain = vec![row];
    while let Some(parent) = chain.last().and_then(|r| r.parent).and_then(|p| by_id.get(&p)) {
        chain.push((*parent).clone());
    }
    Ok((campaign, chain))
}

/// Everything `show` prints, for JSON.
#[derive(Debug, Serialize)]
struct Shown {
    campaign: i64,
    candidate: HistoryRow,
    /// Bits per byte of the fitness (its campaign's tokens: nats per token / ln 2 / bytes per token).
    bits_per_byte: Option<f64>,
    program_text: String,
    parameters: Option<i64>,
    flops_per_token: Option<i64>,
    checkpoints: Vec<(i64, f64)>,
    curve: Vec<primer_store::CurvePoint>,
    diff_against_seed: primer_dsl::diff::Diff,
    diff_against_parent: Option<primer_dsl::diff::Diff>,
}

/// `primer show CANDIDATE`.
pub async fn show(store: &Store, id: i64, format: Format) -> Result<()> {
    let (campaign, chain) = ancestors(store, id).await?;
    let me = chain[0].clone();
    let p = program(store, &me.program).await?;
    let seed = program(store, &chain.last().expect("the chain holds the candidate").program).await?;
    let parent = match chain.get(1) {
        Some(r) => Some(program(store, &r.program).await?),
        None => None,
    };
    let cost = store.program_cost(&me.program).await?;
    let per_token = match store.campaign_by_id(campaign).await? {
        Some(c) => primer_campaign::spec::bytes_per_token(&c.config),
        None => 1.0,
    };
    let shown = Shown {
        campaign,
        bits_per_byte: me.fitness.map(|f| primer_tokens::bits_per_byte(f, per_token)),
        program_text: text::print(&p),
        parameters: cost.map(|c| c.parameters),
        flops_per_token: cost.map(|c| c.flops_per_token),
        // As (k, loss) pairs: the JSON `show` has always printed.
        checkpoints: store.checkpoints_of(id).await?.into_iter().map(|c| (c.k, c.loss)).collect(),
        curve: store.curve(id).await?,
        diff_against_seed: primer_dsl::diff::diff(&seed, &p),
        diff_against_parent: parent.as_ref().map(|q| primer_dsl::diff::diff(q, &p)),
        candidate: me,
    };
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&shown)?),
        Format::Csv => {
            // The learning curve, the part of `show` that is a table.
            println!("step,tokens,flops,seconds,train_loss,val_loss");
            for c in &shown.curve {
                println!("{},{},{},{},{},{}", c.step, c.tokens, c.flops, c.seconds, c.train_loss, opt(c.val_loss));
            }
        }
        Format::Table => print!("{}", show_table(&shown)),
    }
    Ok(())
}

fn show_table(s: &Shown) -> String {
    let r = &s.candidate;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "candidate {} of campaign {} (birth {}, program {})",
        r.candidate,
        s.campaign,
        r.birth,
        &r.program[..12.min(r.program.len())]
    );
    let _ = writeln!(
        out,
        "status       {} ({} attempt(s), worker {})",
        r.status,
        r.attempts,
        r.worker.as_deref().unwrap_or("-")
    );
    let _ = writeln!(
        out,
        "outcome      {}{}",
        r.outcome.map_or("-", Outcome::as_str),
        r.reason.as_ref().map_or(String::new(), |x| format!(": {x}"))
    );
    if let Some(f) = r.fitness {
        let _ = writeln!(
            out,
            "val loss     {f:.4} nats per token ({:.4} bits per byte)",
            s.bits_per_byte.unwrap_or(f64::NAN)
        );
    }
    let _ = writeln!(
        out,
        "trained      {} steps, {:.3e} FLOPs, {:.1} s; hurdles passed {}",
        opt(r.steps),
        r.flops.unwrap_or(0.0),
        r.seconds.unwrap_or(0.0),
        opt(r.hurdles)
    );
    if let (Some(p), Some(f)) = (s.parameters, s.flops_per_token) {
        let _ = writeln!(
            out,
            "size         {} parameters, {} training FLOPs per token",
            primer_campaign::output::group(p as u64),
            primer_campaign::output::group(f as u64)
        );
    }
    for (k, l) in &s.checkpoints {
        let _ = writeln!(out, "hurdle {}     loss {l:.4}", k + 1);
    }
    match (r.parent, &r.description) {
        (Some(p), Some(d)) => {
            let _ = writeln!(out, "parent       candidate {p}\nmutation     {d}");
        }
        (None, d) => {
            let _ = writeln!(out, "parent       none: {}", d.as_deref().unwrap_or("a seed"));
        }
        _ => {}
    }
    if !s.curve.is_empty() {
        let _ = writeln!(
            out,
            "\nlearning curve:\n{:>7} {:>10} {:>10} {:>8} {:>8}",
            "step", "tokens", "FLOPs", "train", "val"
        );
        for c in &s.curve {
            let _ = writeln!(
                out,
                "{:>7} {:>10} {:>10.3e} {:>8.4} {:>8}",
                c.step,
                c.tokens,
                c.flops,
                c.train_loss,
                loss(c.val_loss)
            );
        }
    }
    let _ = writeln!(out, "\nprogram:\n{}", s.program_text);
    if let Some(d) = &s.diff_against_parent {
        let _ = writeln!(
            out,
            "against its parent:\n{}",
            if d.is_empty() { "  (no change)\n".into() } else { d.to_string() }
        );
    }
    let _ = write!(
        out,
        "against its seed:\n{}",
        if s.diff_against_seed.is_empty() { "  (the seed itself)\n".into() } else { s.diff_against_seed.to_string() }
    );
    out
}

/// `primer lineage CANDIDATE [--dot]`.
/// One generation of a lineage: a candidate and the campaign it is in.
#[derive(Debug, Serialize)]
struct Step {
    campaign: String,
    #[serde(flatten)]
    row: HistoryRow,
    /// The candidate of an earlier campaign this seed was taken from (`seeds` from a campaign).
    #[serde(skip_serializing_if = "Option::is_none")]
    seed_from: Option<i64>,
}

/// The candidate's ancestors, newest first, across campaigns: at a seed taken from an earlier
/// campaign the chain goes on from that campaign's candidate, in this store or in the store
/// the seed names (when it opens; said when it does not).
async fn lineage_across(store: &Store, id: i64) -> Result<Vec<Step>> {
    let mut steps: Vec<Step> = Vec::new();
    let mut next: Option<(Option<String>, i64)> = Some((None, id));
    let mut opened: Option<Store> = None;
    // (A seed's origin is always an earlier campaign, so this ends; the cap guards a store
    // edited by hand.)
    for _ in 0..1000 {
        let Some((url, id)) = next.take() else { break };
        if let Some(u) = &url {
            match Store::open(u).await {
                Ok(s) => opened = Some(s),
                Err(e) => {
                    eprintln!("note: the lineage goes on in {u}, which does not open: {e}");
                    break;
                }
            }
        }
        let s = if url.is_some() { opened.as_ref().expect("opened") } else { store };
        let (campaign, chain) = ancestors(s, id).await?;
        let c = s.campaign_by_id(campaign).await?.context("the candidate's campaign")?;
        let origin = chain.last().and_then(|r| r.seed_index).and_then(|i| {
            let spec = serde_json::from_str::<primer_campaign::spec::CampaignSpec>(&c.config).ok()?;
            spec.seeds.get(i as usize)?.origin.clone()
        });
        let n = chain.len();
        for (k, row) in chain.into_iter().enumerate() {
            let seed_from = if k + 1 == n { origin.as_ref().map(|o| o.candidate) } else { None };
            steps.push(Step { campaign: c.name.clone(), row, seed_from });
        }
        next = origin.map(|o| (o.store.or(url), o.candidate));
    }
    Ok(steps)
}

pub async fn lineage(store: &Store, id: i64, dot: bool, format: Format) -> Result<()> {
    let chain = lineage_across(store, id).await?;
    if dot {
        let mut out = String::from("digraph lineage {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
        for Step { row: r, .. } in &chain {
            let label = format!("candidate {}\\nbirth {}\\nloss {}", r.candidate, r.birth, loss(r.fitness));
            let _ = writeln!(out, "  c{} [label=\"{label}\"];", r.candidate);
        }
        for Step { row: r, seed_from, campaign } in &chain {
            if let Some(p) = r.parent {
                let d = r.description.as_deref().unwrap_or("").replace('"', "'");
                let _ = writeln!(out, "  c{p} -> c{} [label=\"{d}\"];", r.candidate);
            }
            if let Some(p) = seed_from {
                let _ =
                    writeln!(out, "  c{p} -> c{} [label=\"seed of campaign {campaign}\", style=dashed];", r.candidate);
            }
        }
        out.push_str("}\n");
        print!("{out}");
        return Ok(());
    }
    let oldest_first: Vec<&Step> = chain.iter().rev().collect();
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&oldest_first)?),
        Format::Csv => {
            println!("generation,candidate,birth,fitness,outcome,parent,mutation,campaign");
            for (g, Step { row: r, campaign, seed_from }) in oldest_first.iter().copied().enumerate() {
                println!(
                    "{}",
                    csv_line(&[
                        g.to_string(),
                        r.candidate.to_string(),
                        r.birth.to_string(),
                        opt(r.fitness),
                        opt(r.outcome),
                        opt(r.parent.or(*seed_from)),
                        opt(r.description.clone()),
                        campaign.clone(),
                    ])
                );
            }
        }
        Format::Table => {
            println!("{:>3} {:>9} {:>6} {:>9}  mutation", "gen", "candidate", "birth", "val loss");
            let crosses = chain.iter().any(|s| s.campaign != chain[0].campaign);
            let mut last: Option<&str> = None;
            for (g, Step { row: r, campaign, seed_from }) in oldest_first.iter().copied().enumerate() {
                if crosses && last != Some(campaign.as_str()) {
                    match seed_from {
                        Some(p) => println!("    -- campaign `{campaign}`, seeded with candidate {p}:"),
                        None => println!("    -- campaign `{campaign}`:"),
                    }
                }
                last = Some(campaign);
                println!(
                    "{:>3} {:>9} {:>6} {:>9}  {}",
                    g,
                    r.candidate,
                    r.birth,
                    loss(r.fitness),
                    r.description.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

/// `primer archive`: writes one campaign's archive and says what it holds.
pub async fn archive(store: &Store, campaign: &str, out: &std::path::Path) -> Result<()> {
    let c = find_campaign(store, campaign).await?;
    let a = store.archive_campaign(c.id, out).await.with_context(|| format!("archiving `{}`", c.name))?;
    let bytes = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    let running = a
        .candidates
        .iter()
        .filter(|c| c.status != primer_store::Status::Done && c.status != primer_store::Status::Failed)
        .count();
    println!(
        "archived `{}`: {} candidates ({} not finished), {} programs, {} evaluations, {} curve points, {} retrainings; {:.1} KB, content hash {}; read it with --db archive://{}",
        a.campaign.name,
        a.candidates.len(),
        running,
        a.programs.len(),
        a.evaluations.len(),
        a.curve_points.len(),
        a.reruns.len(),
        bytes as f64 / 1024.0,
        a.content_hash,
        out.display()
    );
    Ok(())
}

/// `primer store copy FROM TO [--campaign NAME]`.
pub async fn copy(from: &Store, to: &Store, campaign: Option<&str>, format: Format) -> Result<()> {
    let campaigns = match campaign {
        Some(c) => vec![find_campaign(from, c).await?],
        None => from.campaigns().await?,
    };
    anyhow::ensure!(!campaigns.is_empty(), "no campaigns in {}", from.url);
    let mut done = Vec::new();
    for c in campaigns {
        let copied =
            from.copy_campaign(c.id, to).await.with_context(|| format!("copying {} to {}", from.url, to.url))?;
        if format == Format::Table {
            let rows: Vec<String> = copied.rows.iter().map(|(t, n)| format!("{n} {t}")).collect();
            println!(
                "copied `{}` (id {} -> {}{}): {}; content hash {} verified",
                copied.name,
                copied.from_id,
                copied.to_id,
                if copied.ids_kept { ", candidate ids kept" } else { ", candidates renumbered" },
                rows.join(", "),
                copied.content_hash
            );
        }
        done.push(copied);
    }
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&done)?),
        Format::Csv => {
            println!("name,from_id,to_id,ids_kept,candidates,evaluations,curve_points,content_hash");
            for c in &done {
                let n = |t: &str| c.rows.iter().find(|(x, _)| *x == t).map_or(0, |(_, n)| *n).to_string();
                println!(
                    "{}",
                    csv_line(&[
                        c.name.clone(),
                        c.from_id.to_string(),
                        c.to_id.to_string(),
                        c.ids_kept.to_string(),
                        n("candidates"),
                        n("evaluations"),
                        n("curve_points"),
                        c.content_hash.clone()
                    ])
                );
            }
        }
        Format::Table => {}
    }
    Ok(())
}
