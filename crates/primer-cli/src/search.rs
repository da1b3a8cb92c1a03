//! `primer search`: the controller. It creates or resumes a campaign in the store, enqueues the
//! seed programs, runs N local worker processes (`primer worker`), and keeps one candidate
//! queued or training per worker: each new child comes from a tournament over the population
//! of finished candidates (primer-evolve), so with one worker the whole history is a function
//! of the config and seed. Expired leases and dead workers put candidates back to pending; the
//! store is the only state, so running the same command again resumes.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use tokio::process::{Child, Command};

use primer_dsl::analysis::canonical_hash;
use primer_dsl::{Program, text};
use primer_evolve::{Evolver, Finished, Mutator, Parent};
use primer_store::{Campaign, NewCandidate, Outcome, ProgramRow, Store};

pub use crate::campaign::Overrides;
use crate::campaign::{CampaignSpec, resolve};
use crate::paths;
use crate::work::{install_stop_signals, stop_reason, stopping};

/// The program row of a program at a campaign's model size.
pub fn program_row(spec: &CampaignSpec, p: &Program) -> ProgramRow {
    let cost = spec.cost(p);
    ProgramRow {
        hash: canonical_hash(p).hex(),
        text: text::print(p),
        json: text::to_json(p),
        parameters: cost.map_or(0, |c| c.model_params as i64),
        flops_per_token: cost.map_or(0, |c| c.training_flops_per_token as i64),
    }
}

/// Opens the campaign the config names: creates it (with its seed candidates) or checks that
/// the stored one has the same resolved config (workers and candidates may change).
pub async fn open_campaign(
    store: &Store,
    config: &Path,
    o: &Overrides,
) -> Result<(Campaign, CampaignSpec, Vec<Program>)> {
    let resolved = resolve(config, o, &paths::default_corpus())?;
    let mut spec = resolved.spec;
    // A campaign made under older defaults resumes as it was made.
    if let Some(c) = store.campaign(&spec.name).await?
        && let Ok(stored) = serde_json::from_str::<CampaignSpec>(&c.config)
    {
        spec.adopt_defaults(&stored, resolved.defaulted);
    }
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

/// What the controller keeps between births instead of reading it again, so that a birth
/// costs the same at 25,000 candidates of history as at 10: the finished history (only what
/// finished since the last birth is read), the parsed programs of the living population
/// (parents come from it, and it changes by a candidate or two a birth), the canonical hashes
/// already in the campaign (no program is proposed twice), and the seeds' candidate ids.
struct Memory {
    history: Vec<Finished>,
    /// How many of them have no loss (failed).
    failed: i64,
    finished: HashSet<i64>,
    /// Every birth below it has a result.
    frontier: i64,
    programs: HashMap<u64, Program>,
    seen: HashSet<String>,
    seeds: HashMap<i64, i64>,
}

impl Memory {
    /// Loads what a (possibly resumed) campaign already holds.
    async fn load(store: &Store, campaign: i64) -> Result<Memory> {
        let seen = store.program_hashes(campaign).await?.into_iter().collect();
        let seeds =
            store.history(campaign).await?.iter().filter_map(|r| r.seed_index.map(|i| (i, r.candidate))).collect();
        let mut m = Memory {
            history: Vec::new(),
            failed: 0,
            finished: HashSet::new(),
            frontier: 0,
            programs: HashMap::new(),
            seen,
            seeds,
        };
        m.sync(store, campaign).await?;
        Ok(m)
    }

    /// Reads the results that came in since the last call.
    async fn sync(&mut self, store: &Store, campaign: i64) -> Result<()> {
        let mut births = HashSet::new();
        for f in store.finished_since(campaign, self.frontier).await? {
            births.insert(f.birth);
            if self.finished.insert(f.candidate) {
                // Kept in birth order (results come in out of order).
                let at = self.history.partition_point(|h| h.birth < f.birth as u64);
                let row = Finished {
                    candidate: f.candidate as u64,
                    birth: f.birth as u64,
                    fitness: f.fitness.unwrap_or(f64::INFINITY),
                };
                self.history.insert(at, row);
                self.failed += i64::from(f.fitness.is_none());
            }
        }
        while births.contains(&self.frontier) {
            self.frontier += 1;
        }
        Ok(())
    }

    /// The end of the history, among births below `horizon`, that holds the last `population`
    /// finished candidates with a loss: all that regularized evolution's population (and so the
    /// tournament) depends on.
    fn tail(&self, population: usize, horizon: u64) -> &[Finished] {
        let end = self.history.partition_point(|h| h.birth < horizon);
        let mut alive = 0;
        let mut start = end;
        while start > 0 && alive < population {
            start -= 1;
            alive += usize::from(self.history[start].fitness.is_finite());
        }
        &self.history[start..end]
    }
}

/// Proposes and enqueues the child born `birth`; `false` when no acceptable child exists.
async fn propose(
    store: &Store,
    campaign: i64,
    spec: &CampaignSpec,
    evolver: &Evolver,
    memory: &mut Memory,
    birth: i64,
    horizon: i64,
) -> Result<bool> {
    // (The controller's loop synced `memory` with the store just before.) Only results of
    // births below `horizon` count.
    let history = memory.tail(evolver.evolution.population_size, horizon.max(0) as u64).to_vec();
    // Only the living population can be parents: keep their programs (random search has none),
    // reading from the store only the ones that joined it since the last birth.
    let living = if evolver.strategy.is_evolution() { evolver.evolution.population(&history) } else { Vec::new() };
    let alive: HashSet<u64> = living.iter().map(|f| f.candidate).collect();
    memory.programs.retain(|c, _| alive.contains(c));
    for f in living {
        if memory.programs.contains_key(&f.candidate) {
            continue;
        }
        let hash = store.candidate_program(f.candidate as i64).await?.context("a finished candidate's program")?;
        let json = store.program_json(&hash).await?.context("a stored program")?;
        memory.programs.insert(f.candidate, text::from_json(&json, "<store>")?);
    }
    let (programs, seen) = (&memory.programs, &memory.seen);
    let proposal =
        match evolver.propose(birth as u64, &history, &|c| programs[&c].clone(), &|h| seen.contains(&h.hex())) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("birth {birth}: {e}; the search stops here");
                return Ok(false);
            }
        };
    let row = program_row(spec, &proposal.child.program);
    store.put_program(&row).await?;
    let parent = match proposal.parent {
        Parent::Candidate(c) => Some(c as i64),
        Parent::Seed(i) => memory.seeds.get(&(i as i64)).copied(),
    };
    let added = store
        .add_candidate(&NewCandidate {
            campaign,
            birth,
            program: row.hash.clone(),
            parent,
            seed_index: None,
            // One mutation under evolution (as before); the list under random search.
            mutation: Some(if proposal.mutations.len() == 1 {
                serde_json::to_string(&proposal.child.mutation)?
            } else {
                serde_json::to_string(&proposal.mutations)?
            }),
            description: Some(proposal.child.description),
        })
        .await?;
    if added.is_some() {
        memory.seen.insert(row.hash);
    }
    Ok(added.is_some())
}

/// A local worker process.
struct Worker {
    id: String,
    child: Child,
}

fn spawn_worker(db: &str, campaign: i64, id: &str, log: &Path) -> Result<Worker> {
    let exe = paths::engine_exe();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("{}", log.display()))?;
    let child = Command::new(&exe)
        .args(["worker", "--db", db, "--campaign", &campaign.to_string(), "--id", id, "--follow-parent"])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .kill_on_drop(false)
        .spawn()
        .with_context(|| format!("could not start {}", exe.display()))?;
    Ok(Worker { id: id.into(), child })
}

/// Where worker logs go: next to a SQLite file, else the temp folder.
fn log_dir(db: &str) -> PathBuf {
    primer_store::sqlite_file(db)
        .and_then(|f| f.parent().filter(|p| !p.as_os_str().is_empty()).map(Path::to_path_buf))
        .unwrap_or_else(std::env::temp_dir)
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { format!("{}…", s.chars().take(n - 1).collect::<String>()) }
}

fn clock(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `primer search`.
pub async fn search(config: &Path, db: &str, o: &Overrides) -> Result<ExitCode> {
    let store = Store::open(db).await?;
    let (campaign, spec, seed_programs) = open_campaign(&store, config, o).await?;
    let target = spec.candidates as i64;
    let workers = spec.workers;
    let evolver = Evolver {
        evolution: spec.evolution,
        mutator: Mutator::new(spec.space.clone(), spec.model, spec.max_tries),
        seeds: seed_programs.clone(),
        seed: spec.seed,
        max_parents: 10,
        strategy: spec.strategy,
    };
    let start_counts = store.counts(campaign.id).await?;
    let resumed = start_counts.finished() > 0;
    println!(
        "campaign `{}` (id {}) in {}: {} candidates, {} workers, budget {} per candidate, {} hurdles{}",
        spec.name,
        campaign.id,
        store.url,
        target,
        workers,
        spec.training.budget,
        spec.hurdles.hurdles,
        if resumed { format!("; resuming with {} finished", start_counts.finished()) } else { String::new() }
    );
    if workers == 0 {
        println!(
            "no local workers: start them where you like, e.g. `primer worker --db {} --campaign {}`",
            store.url, spec.name
        );
    }
    // One controller per campaign: a second one is refused here, before it changes anything.
    let lease = spec.execution.lease_seconds;
    let me = take_controller(&store, campaign.id, lease).await?;
    let mut renewed = Instant::now();
    // A dead controller's workers finish what they hold (or their leases run out) and exit.
    store.reopen(campaign.id).await?;

    let logs = log_dir(db);
    let mut pool: Vec<Worker> = Vec::new();
    let mut spawned = 0usize;
    let mut died_since_progress = 0usize;
    let mut progress_seen = -1i64;
    let started = Instant::now();
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let b = indicatif::ProgressBar::new(target as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:30} {pos}/{len} candidates  {elapsed_precise} (eta {eta})\n{msg}",
            )
            .expect("a valid template"),
        );
        b
    });
    if o.retry_failed {
        let n = store.retry_failed(campaign.id).await?;
        println!("{n} candidate(s) that failed only because their workers died are pending again");
    }
    install_stop_signals();
    let mut exhausted = false;
    let mut memory = Memory::load(&store, campaign.id).await?;
    let mut last_done = -1;
    let mut seen_finished = -1;
    let mut last_line = Instant::now();
    loop {
        if stopping() {
            return stop(&store, campaign.id, &me, &mut pool, lease, spec.execution.max_attempts).await;
        }
        if renewed.elapsed().as_secs_f64() > lease / 3.0 {
            if !store.controller_heartbeat(campaign.id, &me).await? {
                let other = store.controller(campaign.id).await?;
                bail!(
                    "campaign `{}`: another controller took it over ({}); this one stops",
                    spec.name,
                    other.map_or("none now".into(), |c| describe_controller(&c))
                );
            }
            renewed = Instant::now();
        }
        // Leases that ran out (a worker on another machine, or hung).
        let (rq, failed) = store.requeue(campaign.id, None, None, lease, spec.execution.max_attempts).await?;
        if rq + failed > 0 {
            eprintln!(
                "{rq} candidate(s) with expired leases back to pending, {failed} failed after {} attempts",
                spec.execution.max_attempts
            );
        }
        // Workers that exited: their candidates go back, and a new worker takes their place.
        let mut i = 0;
        while i < pool.len() {
            if let Some(status) = pool[i].child.try_wait()? {
                let w = pool.remove(i);
                let why = ended_by(&w.id, status);
                let (rq, failed) =
                    store.requeue(campaign.id, Some(&w.id), Some(&why), lease, spec.execution.max_attempts).await?;
                if rq + failed > 0 || !status.success() {
                    eprintln!(
                        "worker {} exited ({status}); {rq} candidate(s) back to pending, {failed} failed ({}charged)",
                        w.id,
                        if why.charged { "" } else { "not " }
                    );
                }
                if !status.success() {
                    died_since_progress += 1;
                }
            } else {
                i += 1;
            }
        }
        // Counted without reading the finished candidates: the in-flight ones from the store,
        // the finished from memory.
        // (In flight first: a result recorded in between is then both out of flight and in
        // memory, so a child is never bred as if a finished candidate were still training.)
        let primer_store::InFlight { pending, running } = store.in_flight(campaign.id).await?;
        memory.sync(&store, campaign.id).await?;
        let failed = memory.failed;
        let counts = primer_store::Counts { pending, running, done: memory.history.len() as i64 - failed, failed };
        if counts.finished() != progress_seen {
            progress_seen = counts.finished();
            died_since_progress = 0;
        }
        let births = store.next_birth(campaign.id).await?;
        let goal = if exhausted { births } else { target };
        if births >= goal && counts.pending + counts.running == 0 {
            break;
        }
        // One candidate queued or training per live worker, wherever it runs (its own, and
        // the ones that joined from elsewhere), plus spares (one, and one more per 8 workers)
        // so that a worker that finishes claims its next candidate at once instead of waiting
        // for this loop to breed one (that wait was 3.7% of the workers' time in
        // `primer bench campaign`). A spare is bred one result earlier than it would be
        // otherwise; regularized evolution runs asynchronously anyway.
        let live = store.live_workers(campaign.id, spec.execution.lease_seconds).await?;
        let workers_now = live.max(pool.len() as i64).max(1);
        let spares = 1 + workers_now / 8;
        let depth = workers_now + spares;
        // With one worker the search stays deterministic: birth n is bred from the results of
        // births below n - spares, which are all in by the time it is bred (the worker takes
        // candidates in birth order), whatever the timing.
        let horizon = |birth: i64| if workers_now == 1 { birth - spares } else { i64::MAX };
        let mut queued = counts.pending + counts.running;
        let mut next = births;
        while !exhausted && next < target && queued < depth {
            if propose(&store, campaign.id, &spec, &evolver, &mut memory, next, horizon(next)).await? {
                next += 1;
                queued += 1;
            } else {
                exhausted = true;
            }
        }
        while pool.len() < workers && (counts.pending > 0 || next > births) {
            spawned += 1;
            // Workers that die again and again while nothing finishes: something is wrong with
            // the set-up, not with a candidate (workers killed from outside while results keep
            // coming in are replaced for as long as it takes).
            anyhow::ensure!(
                died_since_progress <= 2 * workers + 4,
                "{died_since_progress} workers died with no result recorded in between: see the logs in {}",
                logs.display()
            );
            let id = format!("local-{}-{}", std::process::id(), spawned);
            let log = logs.join(format!("primer-worker-{}-{}.log", campaign.id, spawned));
            pool.push(spawn_worker(db, campaign.id, &id, &log)?);
        }
        // Progress.
        // (At most once a second: with many workers results come in faster than anyone reads.)
        let changed = counts.finished() != last_done && last_line.elapsed() >= Duration::from_secs(1);
        if changed || last_line.elapsed() > Duration::from_secs(30) {
            let best = store.best(campaign.id).await?.map_or("best: none yet".into(), |b| {
                format!("best: {:.4} (candidate {}, birth {})", b.fitness.unwrap_or(f64::NAN), b.candidate, b.birth)
            });
            let running = store.running(campaign.id).await?;
            let elapsed = started.elapsed().as_secs_f64();
            let done_now = counts.finished() - start_counts.finished();
            let eta = if done_now > 0 {
                elapsed / done_now as f64 * (goal - counts.finished()).max(0) as f64
            } else {
                f64::NAN
            };
            if let Some(b) = &bar {
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
            last_done = counts.finished();
            last_line = Instant::now();
        }
        // Back soon while results come in (many workers), at ease while nothing moves.
        let moved = counts.finished() != seen_finished || next > births;
        seen_finished = counts.finished();
        tokio::time::sleep(Duration::from_millis(if moved { 50 } else { 200 })).await;
    }
    store.mark_finished(campaign.id).await?;
    store.release_controller(campaign.id, &me).await?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // Workers see the campaign finished and exit; give them a moment, then stop them.
    let deadline = Instant::now() + Duration::from_secs(10);
    for w in &mut pool {
        while w.child.try_wait()?.is_none() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = w.child.start_kill();
    }
    report(&store, &campaign, &spec, &seed_programs, started.elapsed().as_secs_f64()).await?;
    Ok(ExitCode::SUCCESS)
}

/// Takes the campaign's controller lease, or says who holds it. A holder on this host whose
/// process is gone (a controller that was killed) is taken over at once; elsewhere, once its
/// heartbeat is older than the lease. Returns this controller's holder name.
pub async fn take_controller(store: &Store, campaign: i64, lease: f64) -> Result<String> {
    let host = crate::work::hostname();
    let pid = std::process::id();
    let me = primer_store::NewController {
        campaign,
        holder: format!("{host}:{pid}:{}", primer_store::now()),
        host: host.clone(),
        pid: pid as i64,
    };
    let mut got = store.acquire_controller(&me, lease, None).await?;
    if got.holder != me.holder && got.host == host && !process_alive(got.pid) {
        eprintln!("the campaign's last controller ({}) is gone: taking over", describe_controller(&got));
        got = store.acquire_controller(&me, lease, Some(&got.holder)).await?;
    }
    if got.holder != me.holder {
        bail!(
            "the campaign already has a controller: {}; stop it first (or, if it died on another machine, wait until its heartbeat is {lease:.0} s old)",
            describe_controller(&got)
        );
    }
    Ok(me.holder)
}

/// The controller was told to stop (SIGTERM, Ctrl-C): its workers are told too, give their
/// candidates back (no attempt charged) and exit; then it gives up the campaign's controller
/// lease and exits 128 + the signal. Running the same command again resumes.
async fn stop(
    store: &Store,
    campaign: i64,
    me: &str,
    pool: &mut [Worker],
    lease: f64,
    max_attempts: i64,
) -> Result<ExitCode> {
    let reason = stop_reason();
    eprintln!("{reason}: stopping {} worker(s), which give back what they train", pool.len());
    for w in pool.iter() {
        if let Some(pid) = w.child.id() {
            // SAFETY: a signal to our own child process.
            unsafe {
                libc::kill(pid as i32, libc::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    for w in pool.iter_mut() {
        let status = loop {
            if let Some(s) = w.child.try_wait()? {
                break Some(s);
            }
            if Instant::now() >= deadline {
                let _ = w.child.start_kill();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let why = match status {
            Some(s) => ended_by(&w.id, s),
            None => primer_store::Ended::free(format!("worker {} did not stop within 60 s of {reason}", w.id)),
        };
        store.requeue(campaign, Some(&w.id), Some(&why), lease, max_attempts).await?;
    }
    store.release_controller(campaign, me).await?;
    eprintln!("stopped; run the same command to resume");
    let signal = crate::work::stop_signal();
    Ok(ExitCode::from(if signal > 0 { (128 + signal).min(255) as u8 } else { 1 }))
}

/// How the exit of a local worker that still held a candidate counts (see
/// [`primer_store::Ended`]): stopped by a signal that asks it to stop, or exited cleanly: not
/// charged; killed by SIGKILL (the kernel's out-of-memory killer), another signal, or a crash:
/// charged.
pub fn ended_by(id: &str, status: std::process::ExitStatus) -> primer_store::Ended {
    use primer_store::Ended;
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(0), _) => Ended::free(format!("worker {id} exited cleanly while holding it")),
        (_, Some(s)) if [libc::SIGTERM, libc::SIGINT, libc::SIGHUP].contains(&s) => {
            Ended::free(format!("worker {id} was stopped by signal {s}"))
        }
        (_, Some(libc::SIGKILL)) => {
            Ended::charged(format!("worker {id} was killed by SIGKILL (as the kernel's out-of-memory killer does)"))
        }
        (_, Some(s)) => Ended::charged(format!("worker {id} died of signal {s}")),
        (Some(c), _) => Ended::charged(format!("worker {id} crashed (exit status {c})")),
        (None, None) => Ended::charged(format!("worker {id} ended ({status})")),
    }
}

/// Whether a process of this host exists (signal 0: nothing is sent).
fn process_alive(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else { return false };
    // SAFETY: kill with signal 0 only checks that the process exists and may be signalled.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn describe_controller(c: &primer_store::ControllerRow) -> String {
    format!(
        "pid {} on {}, running for {:.0} s, last heartbeat {:.0} s ago",
        c.pid,
        c.host,
        primer_store::now() - c.started_at,
        c.silent.max(0.0)
    )
}

/// The end of a search: the top programs and the best one's diff against its seed.
async fn report(store: &Store, campaign: &Campaign, spec: &CampaignSpec, seeds: &[Program], secs: f64) -> Result<()> {
    let counts = store.counts(campaign.id).await?;
    let history = store.history(campaign.id).await?;
    let stopped = history.iter().filter(|r| r.outcome == Some(Outcome::Stopped)).count();
    let reused = history.iter().filter(|r| r.outcome == Some(Outcome::Reused)).count();
    println!(
        "\ncampaign `{}` finished in {}: {} candidates ({} trained to the end, {stopped} stopped at a hurdle, {reused} reused a functionally equal program's fitness, {} failed)",
        spec.name,
        clock(secs),
        counts.total(),
        history.iter().filter(|r| r.outcome == Some(Outcome::Finished)).count(),
        counts.failed
    );
    let top = store.top(campaign.id, 5).await?;
    println!();
    crate::inspect::top(store, &campaign.name, 5, crate::output::Format::Table).await?;
    if let Some(best) = top.first() {
        let json = store.program_json(&best.program).await?.context("the best program")?;
        let p = text::from_json(&json, "<store>")?;
        // The seed it descends from.
        let by_id: HashMap<i64, &primer_store::HistoryRow> = history.iter().map(|r| (r.candidate, r)).collect();
        let at = crate::analyze::seed_of(best, &by_id);
        let seed = at.and_then(|r| r.seed_index).and_then(|i| seeds.get(i as usize)).unwrap_or(&seeds[0]);
        let d = primer_dsl::diff::diff(seed, &p);
        println!("\nbest: candidate {} (program {}), against its seed:", best.candidate, &best.program[..12]);
        if d.is_empty() { println!("  (the seed itself)") } else { print!("{d}") }
    }
    Ok(())
}
