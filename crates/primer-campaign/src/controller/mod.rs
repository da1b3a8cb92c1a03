//! `primer search`: the controller. It creates or resumes a campaign in the store, enqueues the
//! seed programs, runs N local worker processes (`primer worker`), and keeps one candidate
//! queued or training per worker: each new child comes from a tournament over the population
//! of finished candidates (primer-evolve), so with one worker the whole history is a function
//! of the config and seed. Expired leases and dead workers put candidates back to pending; the
//! store is the only state, so running the same command again resumes.
//!
//! The loop, one pass every 50-200 ms, in named steps: stop if told to; renew the controller
//! lease ([`Lease::renew`]); requeue candidates whose leases ran out; reap local workers that
//! exited, requeueing and blaming ([`pool::reap`], [`ended_by`]); sync the finished history
//! ([`Memory::sync`]) and count; end when every birth has a result ([`done`]); breed children
//! up to the queue depth ([`queue_depth`], [`horizon`], [`memory::propose`]); start workers
//! that are missing ([`pool::may_replace`]); print progress.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use primer_dsl::Program;
use primer_dsl::training::Precision;
use primer_evolve::Evolver;
use primer_store::{Campaign, Counts, NewCandidate, Store};

pub mod lease;
pub mod memory;
pub mod pool;

use crate::devices::Placement;
use crate::output::clock;
use crate::paths;
use crate::records::program_row;
use crate::signals::{install_stop_signals, stopping};
use crate::spec::CampaignSpec;
pub use crate::spec::Overrides;
pub use lease::{Lease, describe_controller, take_controller};
pub use memory::Memory;
pub use pool::{Worker, ended_by};

/// Opens the campaign the config names: creates it (with its seed candidates) or checks that
/// the stored one has the same resolved config (workers and candidates may change).
pub async fn open_campaign(
    store: &Store,
    config: &Path,
    o: &Overrides,
) -> Result<(Campaign, CampaignSpec, Vec<Program>)> {
    let (resolved, stored) = crate::seeds::resolve_in(store, config, o, &paths::default_corpus()).await?;
    let mut spec = resolved.spec;
    // A campaign made under older defaults resumes as it was made.
    if let Some(stored) = &stored {
        spec.adopt_defaults(stored, resolved.defaulted);
    }
    // Workers that cannot run as asked are refused before anything is stored.
    check_placement(&spec, &o.placement, &crate::devices::allowed_cpus())?;
    let json = serde_json::to_string_pretty(&spec)?;
    // Created here, or by another process a moment ago (a second controller started at once):
    // either way the stored config must be this one.
    let c = match store.campaign(&spec.name).await? {
        Some(c) => c,
        None => match store.create_campaign(&spec.name, &json, spec.seed as i64).await? {
            Some(c) => c,
            None => store.campaign(&spec.name).await?.context("a campaign that was just created")?,
        },
    };
    let stored: CampaignSpec = serde_json::from_str(&c.config)
        .with_context(|| format!("campaign `{}`: its stored config cannot be read", c.name))?;
    let diff = spec.differences(&stored);
    if !diff.is_empty() {
        bail!(
            "campaign `{}` already exists in {} with a different {}; run with --name NEW for a new campaign",
            c.name,
            store.url,
            diff.iter().map(|d| format!("`{d}`")).collect::<Vec<_>>().join(", ")
        );
    }
    // The seeds, every time: a controller killed between creating the campaign and enqueuing
    // its seeds left some out (adding one that is there is a no-op).
    for (i, p) in resolved.seed_programs.iter().enumerate() {
        let row = program_row(&spec, p);
        store.put_program(&row).await?;
        store
            .add_candidate(&NewCandidate {
                campaign: c.id,
                birth: i as i64,
                program: row.hash,
                parent: None,
                seed_index: Some(i as i64),
                mutation: None,
                description: Some(format!("seed {}", spec.seeds[i].file)),
            })
            .await?;
    }
    Ok((c, spec, resolved.seed_programs))
}

/// How a controller's run ended.
pub enum Run {
    /// Every candidate has a result.
    Done(Box<Summary>),
    /// Told to stop (SIGTERM, Ctrl-C): the exit code to leave with (128 + the signal).
    Stopped(ExitCode),
}

/// A finished campaign, for the report at the end of a search.
pub struct Summary {
    pub campaign: Campaign,
    pub spec: CampaignSpec,
    pub seeds: Vec<Program>,
    pub seconds: f64,
}

/// How many candidates to keep queued or training: one per live worker, wherever it runs (the
/// controller's own, and the ones that joined from elsewhere; at least one), plus spares (one,
/// and one more per 8 workers) so that a worker that finishes claims its next candidate at once
/// instead of waiting for the loop to breed one (that wait was 3.7% of the workers' time in
/// `primer bench campaign`). A spare is bred one result earlier than it would be otherwise;
/// regularized evolution runs asynchronously anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Depth {
    pub workers: i64,
    pub spares: i64,
    pub depth: i64,
}

/// The queue depth for `live` workers in the store and `local` worker processes.
pub fn queue_depth(live: i64, local: usize) -> Depth {
    let workers = live.max(local as i64).max(1);
    let spares = 1 + workers / 8;
    Depth { workers, spares, depth: workers + spares }
}

/// The births whose results the child born `birth` may read: those below the returned one.
/// With one worker the search stays deterministic: birth n is bred from the results of births
/// below n - spares, which are all in by the time it is bred (the worker takes candidates in
/// birth order), whatever the timing. With more, whatever has come in.
pub fn horizon(depth: Depth, birth: i64) -> i64 {
    if depth.workers == 1 { birth - depth.spares } else { i64::MAX }
}

/// Whether the campaign is done: `goal` births made and none queued or training.
pub fn done(births: i64, goal: i64, counts: &Counts) -> bool {
    births >= goal && counts.pending + counts.running == 0
}

/// The controller's state between passes of its loop.
struct Controller<'a> {
    store: &'a Store,
    campaign: &'a Campaign,
    spec: &'a CampaignSpec,
    db: &'a str,
    evolver: Evolver,
    memory: Memory,
    lease: Lease,
    pool: Vec<Worker>,
    logs: PathBuf,
    spawned: usize,
    /// Where local workers run, and the cores this process may use.
    placement: &'a Placement,
    allowed: Vec<usize>,
    died_since_progress: usize,
    progress_seen: i64,
    seen_finished: i64,
    /// The sampler found no acceptable child: the campaign ends with the births it has.
    exhausted: bool,
}

impl Controller<'_> {
    /// Candidates whose leases ran out (a worker on another machine, or hung) go back to pending.
    async fn requeue_expired(&self) -> Result<()> {
        let max_attempts = self.spec.execution.max_attempts;
        let (rq, failed) = self.store.requeue(self.campaign.id, None, None, self.lease.seconds, max_attempts).await?;
        if rq + failed > 0 {
            eprintln!(
                "{rq} candidate(s) with expired leases back to pending, {failed} failed after {max_attempts} attempts"
            );
        }
        Ok(())
    }

    /// Counted without reading the finished candidates: the in-flight ones from the store, the
    /// finished from memory. (In flight first: a result recorded in between is then both out
    /// of flight and in memory, so a child is never bred as if a finished candidate were still
    /// training.)
    async fn count(&mut self) -> Result<Counts> {
        let primer_store::InFlight { pending, running } = self.store.in_flight(self.campaign.id).await?;
        self.memory.sync(self.store, self.campaign.id).await?;
        let failed = self.memory.failed;
        let counts = Counts { pending, running, done: self.memory.history.len() as i64 - failed, failed };
        if counts.finished() != self.progress_seen {
            self.progress_seen = counts.finished();
            self.died_since_progress = 0;
        }
        Ok(counts)
    }

    /// Breeds children from birth `births` on until `depth` are queued or training (or the
    /// target is born); returns the next birth.
    async fn breed(&mut self, births: i64, counts: &Counts, depth: Depth) -> Result<i64> {
        let target = self.spec.candidates as i64;
        let mut queued = counts.pending + counts.running;
        let mut next = births;
        while !self.exhausted && next < target && queued < depth.depth {
            let (store, id, spec) = (self.store, self.campaign.id, self.spec);
            if memory::propose(store, id, spec, &self.evolver, &mut self.memory, next, horizon(depth, next)).await? {
                next += 1;
                queued += 1;
            } else {
                self.exhausted = true;
            }
        }
        Ok(next)
    }

    /// Starts local workers up to the campaign's count while there is work for them.
    fn spawn_missing(&mut self, counts: &Counts, bred: bool) -> Result<()> {
        while self.pool.len() < self.spec.workers && (counts.pending > 0 || bred) {
            self.spawned += 1;
            anyhow::ensure!(
                pool::may_replace(self.died_since_progress, self.spec.workers),
                "{} workers died with no result recorded in between: see the logs in {}",
                self.died_since_progress,
                self.logs.display()
            );
            let id = format!("local-{}-{}", std::process::id(), self.spawned);
            let log = self.logs.join(format!("primer-worker-{}-{}.log", self.campaign.id, self.spawned));
            // The first free slot: a replacement takes the device and cores of the one it replaces.
            let at = (0..).find(|i| self.pool.iter().all(|w| w.slot != *i)).expect("a free slot");
            let slot = self.placement.slot(at, self.spec.training.threads, &self.allowed);
            self.pool.push(pool::spawn_worker(self.db, self.campaign.id, &id, &log, at, &slot)?);
        }
        Ok(())
    }

    /// Told to stop: the workers stop and give back what they hold; the lease is released.
    async fn stop(&mut self) -> Result<ExitCode> {
        let (lease, attempts) = (self.lease.seconds, self.spec.execution.max_attempts);
        pool::stop(self.store, self.campaign.id, &self.lease.holder, &mut self.pool, lease, attempts).await
    }
}

/// The progress line (or, on a terminal, bar), at most once a second while results come in and
/// every 30 s while nothing does.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
    start_finished: i64,
    last_done: i64,
    last_line: Instant,
}

impl Progress {
    fn new(target: i64, start_finished: i64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(target as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} candidates  {elapsed_precise} (eta {eta})\n{msg}",
                )
                .expect("a valid template"),
            );
            b
        });
        Progress { bar, started: Instant::now(), start_finished, last_done: -1, last_line: Instant::now() }
    }

    async fn show(&mut self, store: &Store, campaign: i64, counts: &Counts, goal: i64, live: i64) -> Result<()> {
        // (At most once a second: with many workers results come in faster than anyone reads.)
        let changed = counts.finished() != self.last_done && self.last_line.elapsed() >= Duration::from_secs(1);
        if !changed && self.last_line.elapsed() <= Duration::from_secs(30) {
            return Ok(());
        }
        let best = store.best(campaign).await?.map_or("best: none yet".into(), |b| {
            format!("best: {:.4} (candidate {}, birth {})", b.fitness.unwrap_or(f64::NAN), b.candidate, b.birth)
        });
        let running = store.running(campaign).await?;
        let elapsed = self.started.elapsed().as_secs_f64();
        let done_now = counts.finished() - self.start_finished;
        let eta =
            if done_now > 0 { elapsed / done_now as f64 * (goal - counts.finished()).max(0) as f64 } else { f64::NAN };
        if let Some(b) = &self.bar {
            b.set_position(counts.finished() as u64);
            let lines: Vec<String> = running
                .iter()
                .map(|r| {
                    format!(
                        "  {}: candidate {} ({})",
                        r.worker.as_deref().unwrap_or("?"),
                        r.candidate,
                        short(r.description.as_deref().unwrap_or(""), 70)
                    )
                })
                .collect();
            b.set_message(format!("{best}\n{}", lines.join("\n")));
        } else {
            println!(
                "[{}] {}/{} done ({} without a loss), {} training, {live} workers, {best}, eta {}",
                clock(elapsed),
                counts.finished(),
                goal,
                counts.failed,
                running.len(),
                if eta.is_finite() { clock(eta) } else { "?".into() }
            );
        }
        self.last_done = counts.finished();
        self.last_line = Instant::now();
        Ok(())
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

/// The first line of a search.
fn announce(store: &Store, campaign: &Campaign, spec: &CampaignSpec, finished: i64) {
    println!(
        "campaign `{}` (id {}) in {}: {} candidates, {} workers, budget {} per candidate, {} hurdles{}",
        spec.name,
        campaign.id,
        store.url,
        spec.candidates,
        spec.workers,
        spec.training.budget,
        spec.hurdles.hurdles,
        if finished > 0 { format!("; resuming with {finished} finished") } else { String::new() }
    );
    if spec.workers == 0 {
        println!(
            "no local workers: start them where you like, e.g. `primer worker --db {} --campaign {}`",
            store.url, spec.name
        );
    }
}

/// Refuses, before anything starts, local workers that cannot run as asked: pinned workers
/// that do not fit on this process's cores, or bf16 training on a CPU (measured slower there:
/// [`primer_dsl::training::CPU_BF16`]).
fn check_placement(spec: &CampaignSpec, placement: &Placement, allowed: &[usize]) -> Result<()> {
    placement.check(spec.workers, spec.training.threads, allowed).map_err(anyhow::Error::msg)?;
    if spec.training.precision == Precision::Bf16 && placement.any_cpu(spec.workers) {
        anyhow::bail!(
            "training.precision = \"bf16\" with local workers on the CPU: {} Give the workers GPUs (--devices cuda:all), or run the controller alone (--workers 0) and the workers on GPU machines",
            primer_dsl::training::CPU_BF16
        );
    }
    Ok(())
}

/// `primer search`: runs the campaign `config` names in the store at `db` until every
/// candidate has a result or the controller is told to stop.
pub async fn run(config: &Path, db: &str, o: &Overrides) -> Result<Run> {
    let store = Store::open(db).await?;
    let (campaign, spec, seeds) = open_campaign(&store, config, o).await?;
    let allowed = crate::devices::allowed_cpus();
    let start_finished = store.counts(campaign.id).await?.finished();
    announce(&store, &campaign, &spec, start_finished);
    if spec.workers > 0 && (o.placement.pin || !o.placement.devices.is_empty()) {
        let slots: Vec<String> = (0..spec.workers)
            .map(|i| {
                let s = o.placement.slot(i, spec.training.threads, &allowed);
                match &s.cpus {
                    Some(c) => format!("{} (cores {})", s.device, crate::devices::format_cpus(c)),
                    None => s.device.to_string(),
                }
            })
            .collect();
        println!("workers on: {}", slots.join(", "));
    }
    // One controller per campaign: a second one is refused here, before it changes anything.
    let lease = Lease::take(&store, campaign.id, spec.execution.lease_seconds).await?;
    // A dead controller's workers finish what they hold (or their leases run out) and exit.
    store.reopen(campaign.id).await?;
    let mut progress = Progress::new(spec.candidates as i64, start_finished);
    if o.retry_failed {
        let n = store.retry_failed(campaign.id).await?;
        println!("{n} candidate(s) that failed only because their workers died are pending again");
    }
    install_stop_signals();
    let evolver = Evolver {
        evolution: spec.evolution,
        mutator: spec.mutator(),
        seeds: seeds.clone(),
        seed: spec.seed,
        max_parents: 10,
        strategy: spec.strategy,
    };
    let memory = Memory::load(&store, campaign.id, spec.cost_of()).await?;
    let mut c = Controller {
        store: &store,
        campaign: &campaign,
        spec: &spec,
        db,
        evolver,
        memory,
        lease,
        pool: Vec::new(),
        logs: pool::log_dir(db),
        spawned: 0,
        placement: &o.placement,
        allowed,
        died_since_progress: 0,
        progress_seen: -1,
        seen_finished: -1,
        exhausted: false,
    };
    loop {
        if stopping() {
            return Ok(Run::Stopped(c.stop().await?));
        }
        c.lease.renew(&store, campaign.id, &spec.name).await?;
        c.requeue_expired().await?;
        // Workers that exited: their candidates go back, and a new worker takes their place.
        let reaped = pool::reap(&store, campaign.id, &mut c.pool, c.lease.seconds, spec.execution.max_attempts).await?;
        c.died_since_progress += reaped.died;
        let counts = c.count().await?;
        let births = store.next_birth(campaign.id).await?;
        let goal = if c.exhausted { births } else { spec.candidates as i64 };
        if done(births, goal, &counts) {
            break;
        }
        let live = store.live_workers(campaign.id, spec.execution.lease_seconds).await?;
        let next = c.breed(births, &counts, queue_depth(live, c.pool.len())).await?;
        c.spawn_missing(&counts, next > births)?;
        progress.show(&store, campaign.id, &counts, goal, live).await?;
        // Back soon while results come in (many workers), at ease while nothing moves.
        let moved = counts.finished() != c.seen_finished || next > births;
        c.seen_finished = counts.finished();
        tokio::time::sleep(Duration::from_millis(if moved { 50 } else { 200 })).await;
    }
    store.mark_finished(campaign.id).await?;
    store.release_controller(campaign.id, &c.lease.holder).await?;
    if let Some(b) = &progress.bar {
        b.finish_and_clear();
    }
    pool::finish(&mut c.pool).await?;
    let seconds = progress.started.elapsed().as_secs_f64();
    Ok(Run::Done(Box::new(Summary { campaign, spec, seeds, seconds })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pending: i64, running: i64) -> Counts {
        Counts { pending, running, done: 0, failed: 0 }
    }

    #[test]
    fn the_queue_holds_one_candidate_per_worker_and_a_spare_per_8() {
        // No worker yet: one to start with, and its spare.
        assert_eq!(queue_depth(0, 0), Depth { workers: 1, spares: 1, depth: 2 });
        // Workers from elsewhere count as much as local ones; the larger count wins.
        assert_eq!(queue_depth(3, 2), Depth { workers: 3, spares: 1, depth: 4 });
        assert_eq!(queue_depth(2, 3), Depth { workers: 3, spares: 1, depth: 4 });
        assert_eq!(queue_depth(8, 0), Depth { workers: 8, spares: 2, depth: 10 });
        assert_eq!(queue_depth(64, 0), Depth { workers: 64, spares: 9, depth: 73 });
    }

    #[test]
    fn one_worker_breeds_only_from_results_that_are_in_whatever_the_timing() {
        let one = queue_depth(1, 1);
        // Birth 10 reads births below 9: the one before it may still be training.
        assert_eq!(horizon(one, 10), 9);
        assert_eq!(horizon(queue_depth(0, 0), 5), 4);
        // More workers: whatever has come in.
        assert_eq!(horizon(queue_depth(2, 2), 10), i64::MAX);
    }

    #[test]
    fn a_campaign_is_done_when_every_birth_is_made_and_nothing_is_in_flight() {
        assert!(done(10, 10, &counts(0, 0)));
        assert!(!done(10, 10, &counts(1, 0)));
        assert!(!done(10, 10, &counts(0, 1)));
        assert!(!done(9, 10, &counts(0, 0)));
        // Exhausted: the goal is the births there are.
        assert!(done(7, 7, &counts(0, 0)));
    }

    /// A store with a campaign of `n` candidates (births 0..n), each claimed by worker `w{birth}`.
    async fn claimed(tag: &str, n: i64) -> (Store, i64, Vec<i64>) {
        let file = std::env::temp_dir().join(format!("primer-controller-{tag}-{}.db", std::process::id()));
        let _ = std::fs::remove_file(&file);
        let store = Store::open(&format!("sqlite://{}", file.display())).await.unwrap();
        let campaign = store.create_campaign(tag, "{}", 1).await.unwrap().unwrap().id;
        let mut ids = Vec::new();
        for birth in 0..n {
            let hash = format!("{birth:064x}");
            let row = primer_store::ProgramRow {
                hash: hash.clone(),
                text: String::new(),
                json: String::new(),
                parameters: 0,
                flops_per_token: 0,
            };
            store.put_program(&row).await.unwrap();
            let c = NewCandidate {
                campaign,
                birth,
                program: hash,
                parent: None,
                seed_index: None,
                mutation: None,
                description: None,
            };
            ids.push(store.add_candidate(&c).await.unwrap().unwrap());
        }
        for birth in 0..n {
            let claim = store.claim(campaign, &format!("w{birth}"), 60.0).await.unwrap().unwrap();
            assert_eq!(claim.birth, birth);
        }
        (store, campaign, ids)
    }

    fn result(fitness: Option<f64>) -> primer_store::Evaluation {
        primer_store::Evaluation {
            budget: "10steps".into(),
            fitness,
            steps: 10,
            tokens: 100,
            flops: 1e6,
            seconds: 0.1,
            hurdles: 0,
            outcome: if fitness.is_some() { primer_store::Outcome::Finished } else { primer_store::Outcome::Diverged },
            reason: None,
            reused_from: None,
        }
    }

    #[tokio::test]
    async fn history_sync_keeps_birth_order_and_the_frontier_below_the_first_missing_result() {
        let (store, campaign, ids) = claimed("sync", 4).await;
        let mut memory = Memory::load(&store, campaign, None).await.unwrap();
        assert!(memory.history.is_empty());
        assert_eq!(memory.frontier, 0);
        // Results out of order: births 2 and 0; birth 1 is still training.
        assert!(store.finish(ids[2], "w2", &result(Some(3.0))).await.unwrap());
        assert!(store.finish(ids[0], "w0", &result(Some(5.0))).await.unwrap());
        memory.sync(&store, campaign).await.unwrap();
        let births = |m: &Memory| m.history.iter().map(|h| h.birth).collect::<Vec<_>>();
        assert_eq!(births(&memory), [0, 2]);
        assert_eq!(memory.frontier, 1, "birth 1 has no result yet: the next sync reads from it");
        // Birth 1 fails: it joins in its place, counted as failed, and the frontier moves on.
        assert!(store.finish(ids[1], "w1", &result(None)).await.unwrap());
        memory.sync(&store, campaign).await.unwrap();
        assert_eq!(births(&memory), [0, 1, 2]);
        assert_eq!((memory.failed, memory.frontier), (1, 3));
        assert!(memory.history[1].fitness.is_infinite());
        // A second sync reads nothing twice.
        memory.sync(&store, campaign).await.unwrap();
        assert_eq!(memory.history.len(), 3);
        // The population's tail: the last P candidates with a loss below the horizon, and the
        // failed ones between them.
        let tail = |p, h| memory.tail(p, h).iter().map(|f| f.birth).collect::<Vec<_>>();
        assert_eq!(tail(1, 3), [2]);
        assert_eq!(tail(2, 3), [0, 1, 2]);
        assert_eq!(tail(1, 2), [0, 1]);
        assert_eq!(tail(5, 1), [0]);
    }

    #[tokio::test]
    async fn a_worker_that_died_is_blamed_and_one_that_was_stopped_is_not() {
        let (store, campaign, _) = claimed("reap", 2).await;
        // w0 is killed by SIGKILL (as the out-of-memory killer does): its attempt is charged,
        // and with one attempt allowed its candidate fails. w1 is stopped by SIGTERM: its
        // candidate goes back to pending, not charged.
        let spawn = |id: &str, signal: &str| Worker {
            id: id.into(),
            child: tokio::process::Command::new("sh").args(["-c", &format!("kill -{signal} $$")]).spawn().unwrap(),
            slot: 0,
        };
        let mut workers = vec![spawn("w0", "KILL"), spawn("w1", "TERM")];
        let mut reaped = pool::Reaped::default();
        for _ in 0..100 {
            let r = pool::reap(&store, campaign, &mut workers, 60.0, 1).await.unwrap();
            reaped.exited += r.exited;
            reaped.died += r.died;
            if workers.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(reaped, pool::Reaped { exited: 2, died: 2 });
        let counts = store.counts(campaign).await.unwrap();
        assert_eq!((counts.pending, counts.running, counts.failed), (1, 0, 1), "{counts:?}");
        let history = store.history(campaign).await.unwrap();
        assert_eq!(history[0].birth, 0);
        assert_eq!(history[1].birth, 1);
        assert_eq!(history[0].outcome, Some(primer_store::Outcome::Failed), "{:?}", history[0]);
        assert_eq!(history[1].outcome, None, "{:?}", history[1]);
    }

    #[test]
    fn workers_are_replaced_until_too_many_die_with_no_result_in_between() {
        assert!(pool::may_replace(0, 2));
        assert!(pool::may_replace(8, 2));
        assert!(!pool::may_replace(9, 2));
        assert!(pool::may_replace(20, 8));
        assert!(!pool::may_replace(21, 8));
    }
}
