//! `primer`: the command people run. It does not link libtorch; commands that train or
//! evaluate models are handed to `primer-engine` (see the crate docs).

use std::os::unix::process::CommandExt;
use std::process::ExitCode;

use anyhow::{Context, Result};
use primer_campaign::paths;
use primer_campaign::spec::Overrides;
use primer_cli::cli::{Bench, Cli, Command, Drill, EngineCommand, Format, Launch, StoreCommand};
use primer_cli::{bench, check, doctor, inspect};
use primer_dsl::budget::Budget;

fn main() -> ExitCode {
    primer_cli::exit_with(run())
}

fn run() -> Result<ExitCode> {
    let cli = Cli::parse_checked();
    if reads_only(&cli.command) {
        // `primer top ... | head`: stop quietly when the reader goes away (Rust ignores SIGPIPE,
        // and a failed print would panic). Not for the controller, which must outlive its
        // terminal's pipe.
        // SAFETY: restoring a signal's default disposition before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match cli.command {
        Command::Engine(worker @ EngineCommand::Worker { simulate: Some(speed), .. }) => {
            let args = worker.worker_args().expect("a worker command");
            let joined = primer_campaign::worker::join(&args)?;
            primer_campaign::worker::run(joined, &args, &mut primer_campaign::worker::Simulated { speed })
        }
        Command::Engine(_) | Command::Bench { what: Bench::Engine(_) } | Command::Drill { what: Drill::Engine(_) } => {
            exec_engine()
        }
        Command::Doctor { format } => {
            let ok = doctor::report(&doctor::run_checks(), format);
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Demo { db, name, workers, candidates, budget } => demo(db, name, workers, candidates, budget),
        Command::Check { file, model, format } => {
            let ok = check::check(&file, model.config(), format)?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Proposals { config, children, seed, format } => {
            primer_cli::proposals::proposals(&config, children, seed, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Diff { old, new, format } => {
            check::diff_files(&old, &new, format)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what: Bench::Dsl { file, seconds } } => {
            bench::bench_dsl(file.as_deref(), seconds)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what: Bench::Coordination { config, backends, workers, history, births, rate, out } } => {
            primer_cli::loadtest::coordination(&primer_cli::loadtest::LoadTest {
                config,
                backends,
                workers,
                history,
                births,
                rate,
                out,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what: Bench::Campaign { config, splits, candidates, dir, out } } => {
            primer_cli::throughput::campaign(&primer_cli::throughput::CampaignBench {
                config,
                splits,
                candidates,
                dir,
                out,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { what: Bench::Evolve { file, space, seconds } } => {
            bench::bench_evolve(file.as_deref(), space.as_deref(), seconds)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Search { config, db, workers, budget, name, candidates, seed, retry_failed } => {
            let db = db.unwrap_or_else(paths::default_store_url);
            let o = Overrides { name, workers, budget, candidates, seed, retry_failed };
            tokio::runtime::Runtime::new()?.block_on(primer_cli::summary::search(&config, &db, &o))
        }
        Command::Launch {
            what:
                Launch::Slurm { config, workers, partition, gpus_per_worker, time, threads, with_controller, dry_run, db },
        } => {
            let l = primer_cli::launch::SlurmLaunch {
                config,
                db: db.unwrap_or_else(paths::default_store_url),
                workers,
                partition,
                gpus_per_worker,
                time,
                threads,
                with_controller,
                dry_run,
            };
            tokio::runtime::Runtime::new()?.block_on(primer_cli::launch::slurm(&l))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Store { what: StoreCommand::Copy { from, to, campaign, format } } => {
            tokio::runtime::Runtime::new()?.block_on(async {
                let src = primer_store::Store::open_read(&from).await?;
                let dst = primer_store::Store::open(&to).await?;
                inspect::copy(&src, &dst, campaign.as_deref(), format).await
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Drill {
            what:
                Drill::Chaos {
                    db,
                    config,
                    name,
                    workers,
                    worker_kills,
                    controller_kills,
                    seed,
                    candidates,
                    min_gap,
                    max_gap,
                    timeout,
                    worker_signal,
                    spawned,
                    logs,
                    out,
                },
        } => {
            let d = primer_cli::drill::ChaosDrill {
                config: config.unwrap_or_else(|| paths::workspace_root().join("experiments/drill/campaign.toml")),
                db,
                name: name.unwrap_or_else(|| format!("chaos-{seed}")),
                workers,
                worker_kills,
                controller_kills,
                seed,
                candidates,
                min_gap,
                max_gap,
                timeout,
                logs: logs.unwrap_or_else(|| std::env::temp_dir().join(format!("primer-drill-{}", std::process::id()))),
                worker_signal: match worker_signal {
                    primer_cli::cli::WorkerSignal::Kill => libc::SIGKILL,
                    primer_cli::cli::WorkerSignal::Term => libc::SIGTERM,
                },
                spawned,
            };
            let report = primer_cli::drill::chaos(&d)?;
            primer_cli::drill::print(&report);
            if let Some(out) = out {
                std::fs::write(&out, serde_json::to_string_pretty(&report)? + "\n")
                    .with_context(|| format!("cannot write {}", out.display()))?;
            }
            Ok(if report.check.violations.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Status { db, format, all } => {
            inspect_with(db, |s| async move { inspect::status(&s, format, all).await })
        }
        Command::Top { campaign, k, budget, db, format } => inspect_with(db, |s| async move {
            match budget {
                Some(b) => primer_campaign::reruns::top_rerun(&s, &campaign, b, k, format).await,
                None => inspect::top(&s, &campaign, k, format).await,
            }
        }),
        Command::Show { candidate, db, format } => {
            inspect_with(db, |s| async move { inspect::show(&s, candidate, format).await })
        }
        Command::Analyze { campaign, top, db, format } => {
            inspect_with(db, |s| async move { primer_cli::analyze::analyze(&s, &campaign, top, format).await })
        }
        Command::Savings { campaigns, blocks, db, format } => inspect_with(db, |s| async move {
            let json = format == primer_cli::cli::Format::Json;
            primer_cli::savings::savings(&s, &campaigns, blocks, json).await.map(|_| ())
        }),
        Command::Hurdles { campaigns, at, db, format } => inspect_with(db, |s| async move {
            let json = format == primer_cli::cli::Format::Json;
            primer_campaign::placement::hurdles(&s, &campaigns, &at, json).await.map(|_| ())
        }),
        Command::Progress { campaigns, svg, at, db, format } => inspect_with(db, |s| async move {
            primer_cli::progress::progress(&s, &campaigns, svg.as_deref(), at, format).await
        }),
        Command::Report { campaign, out, watch, db } => {
            inspect_with(db, |s| async move { primer_cli::report::report(&s, &campaign, &out, watch).await })
        }
        Command::Bench { what: Bench::Report { candidates, dir } } => {
            let dir =
                dir.unwrap_or_else(|| std::env::temp_dir().join(format!("primer-bench-report-{}", std::process::id())));
            let watch = primer_campaign::disturbance::Watch::start();
            tokio::runtime::Runtime::new()?.block_on(primer_cli::report::bench(candidates, &dir))?;
            watch.verdict().print();
            Ok(ExitCode::SUCCESS)
        }
        Command::Archive { campaign, out, db } => {
            inspect_with(db, |s| async move { inspect::archive(&s, &campaign, &out).await })
        }
        Command::Lineage { candidate, dot, db, format } => {
            inspect_with(db, |s| async move { inspect::lineage(&s, candidate, dot, format).await })
        }
    }
}

/// The main job: the installation, then the demo campaign.
fn demo(
    db: Option<String>,
    name: Option<String>,
    workers: Option<usize>,
    candidates: Option<u64>,
    budget: Option<Budget>,
) -> Result<ExitCode> {
    println!("== primer doctor");
    if !doctor::report(&doctor::run_checks(), Format::Table) {
        return Ok(ExitCode::FAILURE);
    }
    let config = paths::workspace_root().join("experiments/demo.toml");
    let db = db.unwrap_or_else(|| format!("sqlite://{}", paths::workspace_root().join("demo.db").display()));
    println!("\n== primer search {} --db {db}", config.display());
    let o = Overrides { name: name.clone(), workers, candidates, budget, ..Default::default() };
    let rt = tokio::runtime::Runtime::new()?;
    let code = rt.block_on(primer_cli::summary::search(&config, &db, &o))?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    // What happened, in words: the analysis, and the winner against the paper's programs.
    rt.block_on(async {
        let store = primer_store::Store::open(&db).await?;
        primer_cli::demo::close(&store, &db, name.as_deref().unwrap_or("demo")).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Runs an inspection command against the store, opened read-only: it must exist and be a
/// primer store at this version (inspection never creates, migrates or writes one).
fn inspect_with<F, Fut>(db: Option<String>, f: F) -> Result<ExitCode>
where
    F: FnOnce(primer_store::Store) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let db = db.unwrap_or_else(paths::default_store_url);
    tokio::runtime::Runtime::new()?.block_on(async {
        let store = primer_store::Store::open_read(&db).await?;
        f(store).await
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Commands that only read and print (their output is often piped into `head`).
fn reads_only(c: &Command) -> bool {
    matches!(
        c,
        Command::Check { .. }
            | Command::Proposals { .. }
            | Command::Diff { .. }
            | Command::Status { .. }
            | Command::Top { .. }
            | Command::Show { .. }
            | Command::Analyze { .. }
            | Command::Progress { .. }
            | Command::Savings { .. }
            | Command::Hurdles { .. }
            | Command::Lineage { .. }
            | Command::Archive { .. }
            | Command::Report { .. }
    )
}

/// Replaces this process with `primer-engine`, passing the same arguments.
fn exec_engine() -> Result<ExitCode> {
    let exe = paths::engine_exe();
    anyhow::ensure!(
        exe.exists(),
        "{} is missing: build it with `cd {} && cargo build --release -p primer-cli -p primer-engine`",
        exe.display(),
        paths::workspace_root().display()
    );
    let err = std::process::Command::new(&exe).args(std::env::args_os().skip(1)).exec();
    Err(err).with_context(|| format!("could not start {}", exe.display()))
}
