//! Campaigns end to end, with real worker processes, on both backends (a SQLite file and a
//! database on a real, throwaway PostgreSQL server): outcomes, lineage, the population rule and
//! hurdles; a worker killed with SIGKILL; a controller killed and the same command run again;
//! identical histories with one worker; a reader during a campaign; bad campaign files.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use primer_store::testing::TestBackend;
use primer_store::{HistoryRow, Outcome, Status, Store};

use primer_store::on_both_backends;

mod common;
use common::{history, primer, root, rt};

on_both_backends!(
    a_tiny_campaign_with_two_workers,
    one_worker_and_a_step_budget_give_identical_histories,
    a_worker_killed_mid_training_is_replaced_and_nothing_is_lost,
    a_killed_controller_resumes_with_the_same_command,
    a_reader_can_query_while_a_campaign_runs,
    bad_campaign_files_name_the_field_and_where,
    status_top_show_and_lineage_read_a_stored_campaign,
    a_controller_alone_and_two_workers_started_by_hand,
    simulated_workers_evaluate_every_candidate_once,
    status_shows_workers_as_they_are,
);

/// A temp folder with a campaign file; returns (folder, config path, db URL).
fn campaign(
    b: TestBackend,
    name: &str,
    candidates: u64,
    workers: usize,
    budget: &str,
    extra: &str,
) -> (PathBuf, PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("primer-search-{}-{name}-{b:?}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let r = root();
    let text = format!(
        r#"name = "{name}"
seed = 3
search_space = "{space}"
seeds = ["{seed}"]
candidates = {candidates}
workers = {workers}

[model]
d_model = 16
seq_len = 16
n_layers = 1

[training]
budget = "{budget}"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2

[evolution]
population = 6
tournament = 3

[hurdles]
count = 2
min_predecessors = 2
{extra}
"#,
        space = r.join("search-spaces/primer-cpu.toml").display(),
        seed = r.join("search-spaces/programs/transformer.prim").display(),
    );
    let config = dir.join("campaign.toml");
    std::fs::write(&config, text).unwrap();
    let db = b.url(&dir, name);
    (dir, config, db)
}

fn search(config: &Path, db: &str) -> Output {
    let out = primer().arg("search").arg(config).args(["--db", db]).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

/// Every candidate has an outcome, births are 0..n, programs are distinct.
fn all_accounted(h: &[HistoryRow], n: usize) {
    assert_eq!(h.len(), n);
    for (i, r) in h.iter().enumerate() {
        assert_eq!(r.birth, i as i64);
        assert!(r.outcome.is_some() && (r.status == Status::Done || r.status == Status::Failed), "{r:?}");
    }
    let mut programs: Vec<&str> = h.iter().map(|r| r.program.as_str()).collect();
    programs.sort();
    programs.dedup();
    assert_eq!(programs.len(), n, "a program trained twice");
}

fn a_tiny_campaign_with_two_workers(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "tiny", 30, 2, "40steps", "");
    let out = search(&config, &db);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("campaign `tiny` finished"), "{stdout}");
    assert!(stdout.contains("rank  candidate"), "{stdout}");
    let h = history(&db, "tiny");
    all_accounted(&h, 30);
    for r in &h[1..] {
        // Lineage: every child names a parent born before it, which finished with a fitness.
        // (Which parents were alive depends on the order candidates finished in, which two
        // workers make vary: a candidate trained to the end can join the population many
        // births after one stopped early. The population rule itself is tested in
        // primer-evolve, and with one worker in `one_worker_and_a_step_budget_give_identical_histories`.)
        let parent = h.iter().find(|p| Some(p.candidate) == r.parent).unwrap_or_else(|| panic!("no parent: {r:?}"));
        assert!(parent.birth < r.birth && parent.fitness.is_some(), "{r:?} <- {parent:?}");
        assert!(r.mutation.is_some() && r.description.is_some());
    }
    let stopped = h.iter().filter(|r| r.outcome == Some(Outcome::Stopped)).count();
    assert!(stopped > 0, "hurdles stopped no candidate");
    let stopped_rows = h.iter().filter(|r| r.outcome == Some(Outcome::Stopped));
    assert!(stopped_rows.clone().all(|r| r.steps.unwrap() < 40 && r.fitness.is_some()));
}

fn one_worker_and_a_step_budget_give_identical_histories(b: TestBackend) {
    let run = |tag: &str| {
        let (_dir, config, db) = campaign(b, &format!("same-{tag}"), 14, 1, "30steps", "");
        search(&config, &db);
        let h = history(&db, &format!("same-{tag}"));
        let birth_of = |c: Option<i64>| c.and_then(|c| h.iter().find(|p| p.candidate == c)).map(|p| p.birth);
        h.iter()
            .map(|r| {
                let parent = birth_of(r.parent);
                (
                    r.birth,
                    r.program.clone(),
                    parent,
                    r.mutation.clone(),
                    r.fitness.map(f64::to_bits),
                    r.outcome,
                    r.steps,
                )
            })
            .collect::<Vec<_>>()
    };
    let (a, b) = (run("a"), run("b"));
    // Births, programs, lineage (by birth), mutations and losses must agree.
    assert_eq!(a, b);
    // The population rule: with one worker (and the controller's one spare candidate) birth n
    // is bred from the results of births below n - 1, all in by then, so its parent is among
    // the P = 6 births before n - 1; until 6 are measured (a full first population) it is the
    // seed, birth 0.
    let mut tournaments = 0;
    for (birth, _, parent, ..) in &a[1..] {
        let parent = parent.expect("a parent");
        let alive: Vec<i64> = a
            .iter()
            .filter(|r| r.0 < birth - 1 && r.4.is_some_and(|f| f64::from_bits(f).is_finite()))
            .map(|r| r.0)
            .collect();
        let population = &alive[alive.len().saturating_sub(6)..];
        let ok = if population.len() < 6 { parent == 0 } else { population.contains(&parent) };
        assert!(ok, "birth {birth} has parent birth {parent}, not one of {population:?}");
        tournaments += usize::from(population.len() == 6);
    }
    assert!(tournaments > 0, "14 candidates reach a full population of 6");
}

/// The OS pid of the worker process started with `--id id`.
fn pid_of_worker(id: &str) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        if args.iter().any(|a| a == "worker") && args.windows(2).any(|w| w[0] == "--id" && w[1] == id) {
            return Some(pid);
        }
    }
    None
}

fn kill9(pid: i32) {
    assert!(Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap().success());
}

fn start(config: &Path, db: &str) -> Child {
    primer().arg("search").arg(config).args(["--db", db]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
}

/// Waits until `f` holds for the campaign's history.
fn wait_for(db: &str, name: &str, what: &str, f: impl Fn(&[HistoryRow]) -> bool) -> Vec<HistoryRow> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if primer_store::sqlite_file(db).is_none_or(|f| f.exists()) {
            let h = rt().block_on(async {
                let s = Store::open(db).await.unwrap();
                match s.campaign(name).await.unwrap() {
                    Some(c) => s.history(c.id).await.unwrap(),
                    None => Vec::new(),
                }
            });
            if f(&h) {
                return h;
            }
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn a_worker_killed_mid_training_is_replaced_and_nothing_is_lost(b: TestBackend) {
    let (_dir, config, db) =
        campaign(b, "sigkill", 8, 2, "400steps", "[execution]\nlease_seconds = 5\nmax_attempts = 3\n");
    let mut controller = start(&config, &db);
    // A candidate in training, with some curve already written.
    let h = wait_for(&db, "sigkill", "a running candidate", |h| {
        h.iter().any(|r| r.status == Status::Running && r.birth >= 1)
    });
    let victim = h.iter().find(|r| r.status == Status::Running && r.birth >= 1).unwrap().clone();
    let worker = victim.worker.clone().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    kill9(pid_of_worker(&worker).expect("the worker's process"));
    assert!(controller.wait().unwrap().success());
    let h = history(&db, "sigkill");
    all_accounted(&h, 8);
    let again = h.iter().find(|r| r.candidate == victim.candidate).unwrap();
    assert_eq!(again.status, Status::Done, "{again:?}");
    assert!(again.attempts >= 2, "trained again: {again:?}");
    assert_ne!(again.worker.as_deref(), Some(worker.as_str()), "by another worker");
    // Its curve is the new attempt's only: one point per step recorded, none twice.
    let curve = rt().block_on(async { Store::open(&db).await.unwrap().curve(victim.candidate).await.unwrap() });
    let steps: Vec<i64> = curve.iter().map(|c| c.step).collect();
    let mut unique = steps.clone();
    unique.dedup();
    assert_eq!(steps, unique);
}

fn a_killed_controller_resumes_with_the_same_command(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "resume", 16, 2, "150steps", "");
    let mut controller = start(&config, &db);
    wait_for(&db, "resume", "some finished candidates", |h| h.iter().filter(|r| r.outcome.is_some()).count() >= 4);
    controller.kill().unwrap(); // SIGKILL
    controller.wait().unwrap();
    let out = search(&config, &db);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("resuming with"), "{stdout}");
    all_accounted(&history(&db, "resume"), 16);
}

fn a_reader_can_query_while_a_campaign_runs(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "reader", 10, 2, "60steps", "");
    let mut controller = start(&config, &db);
    let mut reads = 0;
    let rt = rt();
    let store = rt.block_on(async {
        loop {
            if let Ok(s) = Store::open(&db).await {
                break s;
            }
        }
    });
    while controller.try_wait().unwrap().is_none() {
        rt.block_on(async {
            if let Some(c) = store.campaign("reader").await.unwrap() {
                store.history(c.id).await.unwrap();
                store.counts(c.id).await.unwrap();
                reads += 1;
            }
        });
    }
    assert!(controller.wait().unwrap().success());
    assert!(reads > 5, "{reads} reads");
    all_accounted(&history(&db, "reader"), 10);
}

fn bad_campaign_files_name_the_field_and_where(b: TestBackend) {
    let (dir, config, db) = campaign(b, "bad", 4, 1, "10steps", "");
    let text = std::fs::read_to_string(&config).unwrap();
    let cases = [
        (text.replace("batch = 4", "batch = 4\nbatchh = 5"), "campaign.toml:16:1: `training`: unknown field `batchh`"),
        (text.replace("tournament = 3", "tournament = 0"), "`evolution.tournament`: must be positive"),
        (
            text.replace("budget = \"10steps\"", "budget = \"10parsecs\""),
            "`training.budget`: `10parsecs`: unknown unit",
        ),
        (text.replace("d_model = 16", "d_model = 12"), "`model.d_model`: 12 is not a multiple of 8"),
        (text.replace("batch = 4", "batch = 0"), "campaign.toml:15:1: `training.batch`: must be positive, is 0"),
        (text.replace("lr = 0.002", "lr = -0.002"), "`training.lr`: must be positive, is -0.002"),
        (
            text.replace("budget = \"10steps\"", "budget = \"0.5steps\""),
            "`training.budget`: `0.5steps`: steps must be a whole number",
        ),
        (
            text.replace("min_predecessors = 2", "min_predecessors = 2\nwindow = 1"),
            "campaign.toml:28:1: `hurdles.window`: 1 is fewer than min_predecessors (2)",
        ),
        (
            text.replace("min_predecessors = 2", "min_predecessors = 2\nstart = 1.5"),
            "`hurdles.start`: 1.5 is not a fraction of the budget in [0, 1)",
        ),
        (
            text.replace("min_predecessors = 2", "min_predecessors = 2\nstart = \"later\""),
            "`hurdles.start`: `later`: expected \"warmup\" or a fraction",
        ),
        (
            text.replace("warmup = 5", "warmup = 10")
                .replace("min_predecessors = 2", "min_predecessors = 2\nstart = \"warmup\""),
            "campaign.toml:28:1: `hurdles.start`: the warm-up (10 steps) takes 100% of the budget",
        ),
        (
            text.replace("budget = \"10steps\"", "budget = \"30s\"")
                .replace("min_predecessors = 2", "min_predecessors = 2\nstart = \"warmup\""),
            "`hurdles.start`: \"warmup\" cannot place the warm-up in a budget of seconds",
        ),
        (
            text.replace("tournament = 3", "tournament = 3\nfirst_population = \"copies\""),
            "`evolution.first_population`: unknown variant `copies`",
        ),
    ];
    for (bad, want) in cases {
        std::fs::write(&config, bad).unwrap();
        let out = primer().arg("search").arg(&config).args(["--db", &db]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(want), "want `{want}` in: {stderr}");
    }
    // A resumed campaign must keep its config: a changed budget is refused, naming it. (Saved
    // with a byte-order mark, as some editors do: read as without.)
    std::fs::write(&config, format!("\u{feff}{text}")).unwrap();
    search(&config, &db);
    std::fs::write(&config, text.replace("lr = 0.002", "lr = 0.003")).unwrap();
    let out = primer().arg("search").arg(&config).args(["--db", &db]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("with a different `training`"), "{stderr}");
    assert_eq!(history(&db, "bad").len(), 4, "nothing stored was lost");
    let _ = std::fs::remove_dir_all(dir);
}

fn run_ok(args: &[&str]) -> String {
    let out = primer().args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{args:?}: {stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

fn json(args: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_str(&run_ok(&a)).unwrap()
}

fn status_top_show_and_lineage_read_a_stored_campaign(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "inspect", 12, 1, "30steps", "");
    search(&config, &db);
    let h = history(&db, "inspect");
    let db = db.as_str();

    // status: one campaign, all 12 accounted for, the best named.
    let s = json(&["status", "--db", db]);
    let c = &s[0];
    assert_eq!((c["name"].as_str(), c["target"].as_u64()), (Some("inspect"), Some(12)));
    assert_eq!(c["done"].as_i64().unwrap() + c["failed"].as_i64().unwrap(), 12);
    assert_eq!(c["finished"], true);
    let table = run_ok(&["status", "--db", db]);
    assert!(table.contains("inspect") && table.contains("12/12") && table.contains("finished"), "{table}");
    assert_eq!(run_ok(&["status", "--db", db, "--format", "csv"]).lines().count(), 2);

    // top: sorted by loss, k respected, by name or id.
    let t = json(&["top", "inspect", "-k", "4", "--db", db]);
    let losses: Vec<f64> = t.as_array().unwrap().iter().map(|r| r["fitness"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 4);
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "{losses:?}");
    let best = h
        .iter()
        .filter(|r| r.fitness.is_some())
        .min_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()))
        .unwrap();
    assert_eq!(t[0]["candidate"].as_i64(), Some(best.candidate));
    assert_eq!(json(&["top", &c["campaign"].to_string(), "-k", "4", "--db", db]), t);
    let table = run_ok(&["top", "inspect", "-k", "4", "--db", db]);
    assert!(table.contains("rank  candidate") && table.lines().count() == 6, "{table}");
    assert_eq!(run_ok(&["top", "inspect", "-k", "4", "--db", db, "--format", "csv"]).lines().count(), 5);

    // show: a trained child with a parent.
    let child =
        h.iter().rev().find(|r| r.parent.is_some() && r.outcome == Some(Outcome::Finished)).expect("a finished child");
    let s = json(&["show", &child.candidate.to_string(), "--db", db]);
    assert_eq!(s["candidate"]["candidate"].as_i64(), Some(child.candidate));
    let text = s["program_text"].as_str().unwrap();
    assert!(primer_dsl::text::parse(text, "<show>").is_ok());
    assert!(!s["curve"].as_array().unwrap().is_empty());
    assert_eq!(s["checkpoints"].as_array().unwrap().len(), 2, "two hurdles passed by a finished candidate");
    assert!(!s["diff_against_parent"]["changes"].as_array().unwrap().is_empty());
    let table = run_ok(&["show", &child.candidate.to_string(), "--db", db]);
    for want in ["val loss", "learning curve:", "program:", "against its parent:", "against its seed:", "hurdle 2"] {
        assert!(table.contains(want), "no `{want}` in:\n{table}");
    }
    let curve_csv = run_ok(&["show", &child.candidate.to_string(), "--db", db, "--format", "csv"]);
    assert!(curve_csv.starts_with("step,tokens,flops,seconds,train_loss,val_loss"));
    let seed = json(&["show", &h[0].candidate.to_string(), "--db", db]);
    assert!(seed["diff_against_seed"]["changes"].as_array().unwrap().is_empty());

    // lineage: seed first, each generation the child of the one before, ending at the candidate.
    let l = json(&["lineage", &child.candidate.to_string(), "--db", db]);
    let chain = l.as_array().unwrap();
    assert!(chain[0]["parent"].is_null() && chain[0]["seed_index"] == 0);
    assert_eq!(chain.last().unwrap()["candidate"].as_i64(), Some(child.candidate));
    for w in chain.windows(2) {
        assert_eq!(w[1]["parent"], w[0]["candidate"]);
    }
    let dot = run_ok(&["lineage", &child.candidate.to_string(), "--dot", "--db", db]);
    assert!(dot.starts_with("digraph lineage {") && dot.matches(" -> ").count() == chain.len() - 1, "{dot}");

    // rerun: the top 3 retrained at another budget over 2 seeds, stored beside the originals.
    let r = json(&["rerun", "inspect", "--top", "3", "--budget", "50steps", "--seeds", "2", "--db", db]);
    let rows = r.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|x| x["seeds"] == 2 && x["original"].is_f64()));
    let means: Vec<f64> = rows.iter().map(|x| x["mean"].as_f64().unwrap()).collect();
    assert!(means.windows(2).all(|w| w[0] <= w[1]), "{means:?}");
    let top3: Vec<i64> = t.as_array().unwrap()[..3].iter().map(|x| x["candidate"].as_i64().unwrap()).collect();
    let mut rerun: Vec<i64> = rows.iter().map(|x| x["candidate"].as_i64().unwrap()).collect();
    rerun.sort();
    let mut want = top3.clone();
    want.sort();
    assert_eq!(rerun, want, "the top 3 by original loss were retrained");
    // Shown by top --budget (in any spelling of the budget); a second rerun trains nothing.
    assert_eq!(json(&["top", "inspect", "--budget", "5e1steps", "--db", db]), r);
    let again = primer()
        .args(["rerun", "inspect", "--top", "3", "--budget", "50steps", "--seeds", "2", "--db", db])
        .output()
        .unwrap();
    assert!(again.status.success() && !String::from_utf8_lossy(&again.stderr).contains("seed 0:"), "trained again");
    let table = run_ok(&["top", "inspect", "--budget", "50steps", "--db", db]);
    assert!(table.contains("retrained at 50steps") && table.contains("±"), "{table}");
    let out = primer().args(["top", "inspect", "--budget", "99steps", "--db", db]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no retrainings at 99steps"));

    // Bad references say what exists.
    let out = primer().args(["top", "nope", "--db", db]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no campaign `nope`") && stderr.contains("inspect ("), "{stderr}");
    let out = primer().args(["show", "99999", "--db", db]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no candidate 99999"));
    let out = primer().args(["status", "--db", "sqlite:///nonexistent/x.db"]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("no store at"));
    let out = primer().args(["status", "--db", "mysql://x@localhost/db"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("sqlite://PATH") && stderr.contains("postgres://"), "{stderr}");
}

#[test]
fn random_search_proposes_chains_from_the_seed_and_analyze_reads_the_campaign() {
    let (_dir, config, db) = campaign(TestBackend::Sqlite, "random", 16, 2, "30steps", "");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("tournament = 3\n", "tournament = 3\nstrategy = \"random\"\nmax_mutations = 4\n");
    std::fs::write(&config, text).unwrap();
    search(&config, &db);
    let h = history(&db, "random");
    all_accounted(&h, 16);
    let programs = |hash: &str| {
        rt().block_on(async {
            let json = Store::open(&db).await.unwrap().program_json(hash).await.unwrap().unwrap();
            primer_dsl::text::from_json(&json, "<store>").unwrap()
        })
    };
    let seed = programs(&h[0].program);
    let mut lengths = Vec::new();
    for r in &h[1..] {
        // Every candidate descends from the seed directly, by 1 to 4 mutations that replay.
        assert_eq!(r.parent, Some(h[0].candidate), "{r:?}");
        let muts = primer_cli::analyze::stored_mutations(r.mutation.as_deref().unwrap()).unwrap();
        assert!((1..=4).contains(&muts.len()), "{r:?}");
        lengths.push(muts.len());
        let replayed = muts.iter().fold(seed.clone(), |p, m| primer_dsl::analysis::eliminate_dead_code(&m.apply(&p)));
        assert_eq!(primer_dsl::analysis::canonical_hash(&replayed).hex(), r.program);
    }
    assert!(lengths.iter().any(|&n| n > 1), "never more than one mutation: {lengths:?}");

    let out = primer().args(["analyze", "random", "--db", &db, "--format", "json", "--top", "3"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (a["campaign"].as_str(), a["strategy"].as_str(), a["candidates"].as_u64()),
        (Some("random"), Some("random"), Some(16))
    );
    let motifs = a["motifs"].as_array().unwrap();
    assert_eq!(motifs.len(), 7);
    for m in motifs {
        // Two hurdles, then the full budget: counts never grow along the way.
        let passed: Vec<u64> = m["passed"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(passed.len(), 3);
        assert!(passed.windows(2).all(|w| w[0] >= w[1]) && passed[0] <= m["candidates"].as_u64().unwrap(), "{m}");
    }
    // Every child counts once per kind it used; kinds used >= children.
    let kinds: u64 = a["mutation_kinds"].as_array().unwrap().iter().map(|k| k["proposed"].as_u64().unwrap()).sum();
    assert!(kinds >= 15, "{kinds}");
    let table = primer().args(["analyze", "random", "--db", &db]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("campaign `random` (random): 16 candidates") && table.contains("squared_relu"), "{table}");
    let progress = primer().args(["progress", "random", "--db", &db, "--format", "csv"]).output().unwrap();
    let progress = String::from_utf8_lossy(&progress.stdout);
    assert_eq!(progress.lines().count(), 11, "{progress}");
    let missing = primer().args(["analyze", "nope", "--db", &db]).output().unwrap();
    assert!(!missing.status.success());
}

/// A folder of archives opens as one store: `progress` over it (every campaign, none named)
/// says what it says over the store, and tests evolution against random search.
#[test]
fn a_folder_of_archives_opens_as_one_store() {
    let (dir, evolution, db) = campaign(TestBackend::Sqlite, "arm-evolution", 8, 2, "30steps", "");
    let (_other, random, _) = campaign(TestBackend::Sqlite, "arm-random", 8, 2, "30steps", "");
    let text = std::fs::read_to_string(&random)
        .unwrap()
        .replace("tournament = 3\n", "tournament = 3\nstrategy = \"random\"\nmax_mutations = 4\n");
    std::fs::write(&random, text).unwrap();
    search(&evolution, &db);
    search(&random, &db);
    let folder = dir.join("archives");
    std::fs::create_dir_all(&folder).unwrap();
    for name in ["arm-evolution", "arm-random"] {
        let out = folder.join(format!("{name}.archive.json.gz"));
        run_ok(&["archive", name, "--out", out.to_str().unwrap(), "--db", &db]);
    }
    std::fs::write(folder.join("notes.txt"), "not an archive").unwrap();
    let archives = format!("archive://{}", folder.display());
    for format in ["table", "json", "csv"] {
        assert_eq!(
            run_ok(&["progress", "arm-evolution", "arm-random", "--db", &db, "--format", format]),
            run_ok(&["progress", "--db", &archives, "--format", format]),
            "{format}"
        );
    }
    let svg = dir.join("progress.svg");
    let table = run_ok(&["progress", "--db", &archives, "--svg", svg.to_str().unwrap()]);
    assert!(
        table.contains("2 campaign(s)")
            && table.contains("Mann-Whitney U (evolution against random)")
            && table.contains("Fisher's exact test"),
        "{table}"
    );
    // At a fixed compute every campaign reached; one beyond what one reached is refused.
    let fixed = run_ok(&["progress", "--db", &archives, "--at", "1e6"]);
    assert!(fixed.contains("at 1.000e6 training FLOPs (given; every campaign reached it)"), "{fixed}");
    let out = primer().args(["progress", "--db", &archives, "--at", "1e30"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("did not reach") && stderr.contains("arm-random"), "{stderr}");
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.contains("evolution (median of 1)") && plot.contains("random (median of 1)"), "{plot}");
    let status = json(&["status", "--db", &archives]);
    assert_eq!(status.as_array().map(Vec::len), Some(2), "{status}");

    // The same campaign twice, or no archive at all: refused, the folder or file named.
    std::fs::copy(folder.join("arm-random.archive.json.gz"), folder.join("copy.archive.json.gz")).unwrap();
    let out = primer().args(["progress", "--db", &archives]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("also in another archive") && stderr.contains("copy.archive.json.gz"),
        "{stderr}"
    );
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = primer().args(["status", "--db", &format!("archive://{}", empty.display())]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("no campaign archive") && stderr.contains("empty"), "{stderr}");
}

/// Functional dedup in a real campaign: a candidate whose untrained model computes the same
/// function as an earlier one's (same fingerprint) takes that one's loss instead of training,
/// and says whose. One worker, so the run is the same every time.
#[test]
fn functionally_equal_candidates_reuse_an_earlier_loss() {
    // The demo's campaign (d_model 64, where equal functions are common among early
    // children), cut to 40 small candidates on one worker.
    let dir = std::env::temp_dir().join(format!("primer-search-{}-fec", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let config = root().join("experiments/demo.toml");
    let args = ["--candidates", "40", "--budget", "1e9flops", "--workers", "1", "--name", "fec", "--db", &db];
    let out = primer().arg("search").arg(&config).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let h = history(&db, "fec");
    all_accounted(&h, 40);
    let by_id: std::collections::HashMap<i64, &HistoryRow> = h.iter().map(|r| (r.candidate, r)).collect();
    let fingerprint = |id: i64| {
        rt().block_on(async { Store::open(&db).await.unwrap().fingerprint(id).await.unwrap() }).expect("a fingerprint")
    };
    let reused: Vec<&HistoryRow> = h.iter().filter(|r| r.outcome == Some(Outcome::Reused)).collect();
    assert!(!reused.is_empty(), "no candidate reused a loss in 40: {h:?}");
    for r in reused {
        let src = by_id[&r.reused_from.expect("a reused loss names its source")];
        assert!(src.birth < r.birth && src.reused_from.is_none(), "{r:?} from {src:?}");
        assert_eq!(r.fitness, src.fitness, "the source's loss");
        assert_eq!(r.steps, Some(0), "not trained");
        assert_eq!(fingerprint(r.candidate), fingerprint(src.candidate), "the same function");
        assert_ne!(r.program, src.program, "a different program");
    }
}

/// `primer search --workers 0` runs the controller alone; two `primer worker`s started by hand
/// (as on other machines) join by campaign name, show in `primer status` while it runs, do all
/// the work, and exit 0 when the campaign is finished.
fn a_controller_alone_and_two_workers_started_by_hand(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "apart", 10, 1, "60steps", "");
    let controller = primer()
        .arg("search")
        .arg(&config)
        .args(["--db", &db, "--workers", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let worker = |name: &str| {
        primer()
            .args(["worker", "--db", &db, "--campaign", "apart", "--id", name, "--wait", "60", "--threads", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut workers = [worker("hand-a"), worker("hand-b")];
    // Both show in `primer status` as live while the campaign runs.
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let out = primer().args(["status", "--db", &db, "--format", "json"]).output().unwrap();
        if out.status.success() {
            let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if let Some(c) = s.as_array().and_then(|a| a.iter().find(|c| c["name"] == "apart")) {
                let live: Vec<String> = c["workers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|w| w["state"] == "live")
                    .map(|w| w["id"].as_str().unwrap().to_string())
                    .collect();
                if live.len() == 2 {
                    let table = run_ok(&["status", "--db", &db]);
                    assert!(table.contains("workers of `apart`: 2 live") && table.contains("hand-a"), "{table}");
                    break live;
                }
            }
        }
        assert!(Instant::now() < deadline, "never saw two live workers");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(seen.len(), 2);
    let out = controller.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no local workers"));
    for w in &mut workers {
        assert!(w.wait().unwrap().success(), "a worker exits 0 once the campaign is finished");
    }
    let h = history(&db, "apart");
    all_accounted(&h, 10);
    // (Which of the two trained what depends on timing: on a busy machine one may still be
    // loading libtorch while the other trains; each result is counted once below.)
    assert!(h.iter().all(|r| matches!(r.worker.as_deref(), Some("hand-a" | "hand-b"))), "{h:?}");
    let s = json(&["status", "--db", &db]);
    let c = s.as_array().unwrap().iter().find(|c| c["name"] == "apart").unwrap();
    let workers = c["workers"].as_array().unwrap();
    assert!(workers.iter().all(|w| w["state"] == "exited"), "{workers:?}");
    let done: i64 = workers.iter().map(|w| w["done"].as_i64().unwrap()).sum();
    assert_eq!(done, 10, "each result counted once, by the worker that recorded it");
}

/// `primer worker --simulate` (no libtorch) against a controller alone: every candidate is
/// evaluated exactly once, with a loss that is a function of the program.
fn simulated_workers_evaluate_every_candidate_once(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "simulated", 60, 1, "40steps", "");
    let mut controller = primer()
        .arg("search")
        .arg(&config)
        .args(["--db", &db, "--workers", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut workers: Vec<Child> = (0..4)
        .map(|i| {
            primer()
                .args(["worker", "--db", &db, "--campaign", "simulated", "--simulate", "1e9", "--wait", "60"])
                .args(["--id", &format!("sim-{i}")])
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    assert!(controller.wait().unwrap().success());
    for w in &mut workers {
        assert!(w.wait().unwrap().success());
    }
    let h = history(&db, "simulated");
    all_accounted(&h, 60);
    for r in &h {
        if r.outcome == Some(Outcome::Finished) {
            assert_eq!(r.fitness, Some(primer_campaign::worker::Simulated::loss(&r.program)), "{r:?}");
        }
    }
    assert!(h.iter().any(|r| r.outcome == Some(Outcome::Stopped)), "the hurdles apply to simulated workers too");
}

/// `primer store copy`: a campaign goes SQLite -> PostgreSQL -> SQLite with the same row counts
/// and content hash, and `primer top` / `show` print the same on all three; a name the target
/// has is refused with nothing written; where the target's ids are taken, the candidates are
/// renumbered and the content hash is still the same.
/// Stores a retraining of `candidate` at 60 steps (seed 1, loss 3.25), as `primer rerun` would.
fn add_rerun(db: &str, candidate: i64) {
    rt().block_on(async {
        let s = Store::open(db).await.unwrap();
        let rerun = primer_store::Rerun {
            candidate,
            budget: "60steps".into(),
            seed: 1,
            fitness: Some(3.25),
            steps: 60,
            flops: 1e9,
            seconds: 1.5,
            outcome: Outcome::Finished,
            reason: None,
        };
        assert!(s.add_rerun(&rerun).await.unwrap());
    });
}

#[test]
fn store_copy_round_trips_a_campaign_through_postgres() {
    let (dir, config, a) = campaign(TestBackend::Sqlite, "copied", 8, 2, "30steps", "");
    search(&config, &a);
    // Rows of every table: a retraining and stored weights, too.
    let h = history(&a, "copied");
    add_rerun(&a, h.iter().find(|r| r.fitness.is_some()).unwrap().candidate);
    rt().block_on(async {
        let s = Store::open(&a).await.unwrap();
        let best = h.iter().find(|r| r.fitness.is_some()).unwrap();
        let w = primer_store::Weights {
            candidate: best.candidate,
            budget: "60steps".into(),
            seed: 1,
            fitness: Some(3.25),
            steps: 60,
            data: (0..=255u8).collect(),
        };
        assert!(s.put_weights(&w).await.unwrap());
    });
    let pg = TestBackend::Postgres.url(&dir, "copy_target");
    let b = format!("sqlite://{}", dir.join("back.db").display());
    let copy = |from: &str, to: &str| json(&["store", "copy", from, to, "--campaign", "copied"]);
    let there = copy(&a, &pg);
    let back = copy(&pg, &b);
    let hash = there[0]["content_hash"].as_str().unwrap();
    assert_eq!(back[0]["content_hash"].as_str(), Some(hash), "{there} {back}");
    assert_eq!(there[0]["rows"], back[0]["rows"]);
    assert_eq!(there[0]["ids_kept"], true);
    let rows: std::collections::HashMap<String, u64> = there[0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_u64().unwrap()))
        .collect();
    assert_eq!((rows["candidates"], rows["evaluations"], rows["reruns"], rows["weights"]), (8, 8, 1, 1));
    assert!(rows["curve_points"] > 8 && rows["checkpoints"] > 0, "{rows:?}");
    // The same answers from all three stores.
    let child = h.iter().rev().find(|r| r.parent.is_some() && r.outcome == Some(Outcome::Finished)).unwrap();
    for args in [
        vec!["top", "copied", "-k", "5"],
        vec!["show", &child.candidate.to_string()],
        vec!["lineage", &child.candidate.to_string()],
        vec!["top", "copied", "--budget", "60steps"],
    ] {
        let on = |db: &str| run_ok(&[args.clone(), vec!["--db", db]].concat());
        let first = on(&a);
        assert_eq!(first, on(&pg), "{args:?}");
        assert_eq!(first, on(&b), "{args:?}");
    }
    // A name the target has: refused, nothing written.
    let out = primer().args(["store", "copy", &a, &pg]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("already in"), "{stderr}");
    assert_eq!(
        copy(&pg, &format!("sqlite://{}", dir.join("again.db").display()))[0]["content_hash"].as_str(),
        Some(hash)
    );
    // A target whose ids are taken: renumbered, the same content.
    let c = format!("sqlite://{}", dir.join("busy.db").display());
    rt().block_on(async {
        let s = Store::open(&c).await.unwrap();
        let other = s.create_campaign("other", "{}", 1).await.unwrap().unwrap();
        for i in 0..20 {
            let p = primer_store::ProgramRow {
                hash: format!("h{i}"),
                text: String::new(),
                json: String::new(),
                parameters: 0,
                flops_per_token: 0,
            };
            s.put_program(&p).await.unwrap();
            let n = primer_store::NewCandidate {
                campaign: other.id,
                birth: i,
                program: p.hash,
                parent: None,
                seed_index: None,
                mutation: None,
                description: None,
            };
            s.add_candidate(&n).await.unwrap().unwrap();
        }
    });
    let moved = copy(&pg, &c);
    assert_eq!((moved[0]["ids_kept"].as_bool(), moved[0]["content_hash"].as_str()), (Some(false), Some(hash)));
    let renumbered = history(&c, "copied");
    assert_eq!(renumbered.len(), 8);
    assert!(renumbered[1..].iter().all(|r| renumbered.iter().any(|p| Some(p.candidate) == r.parent)), "parents follow");
}

/// `primer status` shows a worker of this host whose process is gone as `dead` at once (not
/// `live` until its lease runs out), and a finished campaign's dead and stale workers as a
/// count, listed with `--all`.
fn status_shows_workers_as_they_are(b: TestBackend) {
    let (_dir, config, db) = campaign(b, "workers", 10, 1, "40steps", "");
    let mut controller = primer()
        .arg("search")
        .arg(&config)
        .args(["--db", &db, "--workers", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut worker = primer()
        .args(["worker", "--db", &db, "--campaign", "workers", "--simulate", "1e9", "--wait", "60", "--id", "sim"])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(controller.wait().unwrap().success() && worker.wait().unwrap().success());
    // A pid that is no process now: one that ran and was waited for.
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id() as i64;
    gone.wait().unwrap();
    let here = primer_campaign::signals::hostname();
    rt().block_on(async {
        let s = Store::open(&db).await.unwrap();
        let c = s.campaign("workers").await.unwrap().unwrap();
        for (id, host) in [("gone-here", here.as_str()), ("quiet-there", "elsewhere")] {
            let w =
                primer_store::NewWorker { id: id.into(), campaign: c.id, host: host.into(), pid, device: "cpu".into() };
            s.register_worker(&w).await.unwrap();
        }
    });
    // The one elsewhere went quiet an hour ago; the one here registered a second ago, well
    // inside its lease, but its process is gone.
    rt().block_on(primer_store::testing::raw_sql(
        &db,
        &["UPDATE workers SET heartbeat_at = heartbeat_at - 3600, started_at = started_at - 3600 WHERE id = 'quiet-there'"],
    ));
    let states = || -> Vec<(String, String)> {
        let s = json(&["status", "--db", &db]);
        let c = s.as_array().unwrap().iter().find(|c| c["name"] == "workers").unwrap().clone();
        let mut v: Vec<(String, String)> = c["workers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| (w["id"].as_str().unwrap().to_string(), w["state"].as_str().unwrap().to_string()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        states(),
        [("gone-here", "dead"), ("quiet-there", "stale"), ("sim", "exited")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .to_vec()
    );
    // Finished: counted, not listed, unless --all.
    let table = run_ok(&["status", "--db", &db]);
    assert!(table.contains("1 stale (no heartbeat within the lease), 1 dead (process gone)"), "{table}");
    assert!(!table.contains("gone-here") && !table.contains("quiet-there"), "{table}");
    assert!(table.contains("2 dead or stale of a finished campaign not listed: --all lists them"), "{table}");
    let all = run_ok(&["status", "--db", &db, "--all"]);
    assert!(all.lines().any(|l| l.contains("gone-here") && l.trim_end().ends_with("dead")), "{all}");
    assert!(all.lines().any(|l| l.contains("quiet-there") && l.trim_end().ends_with("stale")), "{all}");
    // An open campaign lists them without --all: they may hold candidates.
    rt().block_on(primer_store::testing::raw_sql(&db, &["UPDATE campaigns SET finished_at = NULL"]));
    let table = run_ok(&["status", "--db", &db]);
    assert!(table.lines().any(|l| l.contains("gone-here") && l.trim_end().ends_with("dead")), "{table}");
}

/// `primer hurdles`: for the candidates trained to the full budget, Kendall's tau between the
/// losses at each hurdle (and where hurdles with bands from 0 would sit, at the end of the
/// warm-up, and at --at) and the losses at the end, read off the stored curves; at the end
/// itself the ranking is the final one (tau 1).
#[test]
fn hurdles_reports_rank_correlation_at_each_point() {
    let (_dir, config, db) = campaign(TestBackend::Sqlite, "placement", 16, 1, "40steps", "");
    let text = std::fs::read_to_string(&config).unwrap().replace("eval_interval = 10", "eval_interval = 2");
    std::fs::write(&config, text).unwrap();
    search(&config, &db);
    let out = json(&["hurdles", "placement", "--db", &db, "--at", "0.5,1"]);
    let p = &out[0];
    let finished = history(&db, "placement").iter().filter(|r| r.outcome == Some(Outcome::Finished)).count();
    assert_eq!(p["finished"], finished as u64, "{p}");
    assert!(finished >= 3, "{p}");
    // Bands after the warm-up (5 of 40 steps).
    assert_eq!(p["start"], 0.125, "{p}");
    let points = p["points"].as_array().unwrap();
    let at = |what: &str| points.iter().find(|x| x["what"] == what).unwrap_or_else(|| panic!("no `{what}` in {p}"));
    let end_of_warmup = at("end of warm-up");
    assert_eq!(end_of_warmup["fraction"], 0.125);
    let h1 = at("hurdle 1")["fraction"].as_f64().unwrap();
    assert!((h1 - (0.125 + 0.875 / 7.0)).abs() < 1e-12, "{p}");
    assert!(at("hurdle 1 with start 0")["fraction"].as_f64().unwrap() < h1);
    // Every finished candidate has a loss at each hurdle (measured there) and at the end.
    for what in ["hurdle 1", "hurdle 2"] {
        assert_eq!(at(what)["candidates"], finished as u64, "{p}");
        let tau = at(what)["tau"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&tau), "{p}");
    }
    let end = points.iter().find(|x| x["what"] == "asked" && x["fraction"] == 1.0).unwrap();
    assert_eq!((end["candidates"].as_u64(), end["tau"].as_f64()), (Some(finished as u64), Some(1.0)), "{p}");
    let table = run_ok(&["hurdles", "placement", "--db", &db]);
    assert!(table.contains("Kendall tau") && table.contains("hurdle 2 with start 0"), "{table}");
    // A fraction outside (0, 1] is refused at the door.
    let out = primer().args(["hurdles", "placement", "--db", &db, "--at", "1.5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A campaign made before the defaults of `[hurdles] start` and `window` and `[evolution]
/// first_population` changed resumes from the same file, which does not name them: the stored
/// values are kept, nothing is refused.
#[test]
fn a_campaign_made_under_older_defaults_resumes_from_its_file() {
    let old = "start = 0.0\nwindow = 0\n";
    let (_dir, config, db) = campaign(TestBackend::Sqlite, "older", 6, 1, "20steps", old);
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("tournament = 3", "tournament = 3\nfirst_population = \"grow\"")).unwrap();
    search(&config, &db);
    let stored = |db: &str| -> serde_json::Value {
        rt().block_on(async {
            let s = Store::open_read(db).await.unwrap();
            serde_json::from_str(&s.campaign("older").await.unwrap().unwrap().config).unwrap()
        })
    };
    let before = stored(&db);
    assert_eq!(before["hurdles"].get("start"), None, "start 0 is not written: {before}");
    assert_eq!(before["evolution"].get("full_first"), None, "{before}");
    // The file as it was before the settings existed: resumes, with 4 more candidates.
    std::fs::write(&config, text.replace(old, "")).unwrap();
    let out = primer().arg("search").arg(&config).args(["--db", &db, "--candidates", "10"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stored(&db), before, "the stored config is unchanged");
    assert_eq!(history(&db, "older").len(), 10);
    // A file that names a different value is still refused.
    std::fs::write(&config, text.replace(old, "start = 0.3\n")).unwrap();
    let out = primer().arg("search").arg(&config).args(["--db", &db]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("with a different `hurdles`"));
}

/// A campaign archived in one checkout, restored into a new store and resumed from another
/// checkout, where its space, seed program and corpus are the same files at other paths: it
/// resumes (its identity compares the files' contents). A seed file that says something else
/// there is refused, named.
#[test]
fn a_campaign_restored_from_its_archive_resumes_from_another_checkout() {
    let (dir, config, db) = campaign(TestBackend::Sqlite, "moved", 6, 1, "20steps", "");
    search(&config, &db);
    let archive = dir.join("moved.archive.json.gz");
    run_ok(&["archive", "moved", "--out", archive.to_str().unwrap(), "--db", &db]);
    let restored = format!("sqlite://{}", dir.join("restored.db").display());
    run_ok(&["store", "copy", &format!("archive://{}", archive.display()), &restored]);

    let other = dir.join("other-checkout");
    std::fs::create_dir_all(other.join("programs")).unwrap();
    let r = root();
    let (space, seed, corpus) =
        (other.join("primer-cpu.toml"), other.join("programs/transformer.prim"), other.join("text.txt"));
    std::fs::copy(r.join("search-spaces/primer-cpu.toml"), &space).unwrap();
    std::fs::copy(r.join("search-spaces/programs/transformer.prim"), &seed).unwrap();
    std::fs::copy(r.join(".cache/corpus/shakespeare.txt"), &corpus).unwrap();
    let text = std::fs::read_to_string(&config).unwrap();
    let moved = text
        .replace(&r.join("search-spaces/primer-cpu.toml").display().to_string(), &space.display().to_string())
        .replace(&r.join("search-spaces/programs/transformer.prim").display().to_string(), &seed.display().to_string())
        .replace("[training]\n", &format!("[training]\ncorpus = \"{}\"\n", corpus.display()));
    assert!(!moved.contains(&r.display().to_string()), "{moved}");
    let config2 = other.join("campaign.toml");
    std::fs::write(&config2, &moved).unwrap();
    let out = primer().arg("search").arg(&config2).args(["--db", &restored, "--candidates", "9"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("resuming with 6 finished"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(history(&restored, "moved").len(), 9);

    // The same path holding another program is another campaign.
    std::fs::write(&seed, std::fs::read_to_string(r.join("search-spaces/programs/primer_ez.prim")).unwrap()).unwrap();
    let out = primer().arg("search").arg(&config2).args(["--db", &restored]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("with a different `seeds`"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `primer archive` writes a campaign's compact copy, and every command that only reads answers
/// from `--db archive://FILE` what it answered from the store; the archive restores into a store
/// with the same content hash; writes, damage, other formats and versions are refused, named.
#[test]
fn an_archive_answers_every_reading_command_as_its_store_did() {
    let (dir, config, db) = campaign(TestBackend::Sqlite, "archived", 10, 2, "30steps", "");
    search(&config, &db);
    let h = history(&db, "archived");
    let best =
        h.iter().filter(|r| r.fitness.is_some()).min_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()));
    let best = best.unwrap().candidate;
    add_rerun(&db, best);
    let file = dir.join("archived.archive.json.gz");
    let said = run_ok(&["archive", "archived", "--out", file.to_str().unwrap(), "--db", &db]);
    assert!(said.contains("archived `archived`: 10 candidates (0 not finished)"), "{said}");
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..2], &[0x1f, 0x8b], "gzip");
    let archive = format!("archive://{}", file.display());

    let child = h.iter().rev().find(|r| r.parent.is_some() && r.outcome == Some(Outcome::Finished)).unwrap();
    let child = child.candidate.to_string();
    for args in [
        vec!["top", "archived", "-k", "10"],
        vec!["top", "archived", "--format", "json"],
        vec!["top", "archived", "--budget", "60steps"],
        vec!["show", &child],
        vec!["show", &child, "--format", "json"],
        vec!["lineage", &child],
        vec!["analyze", "archived", "--format", "json"],
        vec!["progress", "archived", "--format", "csv"],
        vec!["savings", "archived", "--format", "json"],
        vec!["hurdles", "archived", "--format", "json"],
    ] {
        let on = |db: &str| run_ok(&[args.clone(), vec!["--db", db]].concat());
        assert_eq!(on(&db), on(&archive), "{args:?}");
    }
    // status: the campaign's counts and best (the archive keeps no workers).
    let status = |db: &str| {
        let s = json(&["status", "--db", db]);
        let c = &s[0];
        (c["name"].clone(), c["target"].clone(), c["done"].clone(), c["failed"].clone(), c["best"].clone())
    };
    assert_eq!(status(&db), status(&archive));
    // The report and an export of a candidate read it too.
    let page = dir.join("report.html");
    run_ok(&["report", "archived", "--db", &archive, "--out", page.to_str().unwrap()]);
    assert!(std::fs::read_to_string(&page).unwrap().contains("archived"));
    let (from_store, from_archive) = (dir.join("export-store"), dir.join("export-archive"));
    for (db, out) in [(&db, &from_store), (&archive, &from_archive)] {
        run_ok(&["export", &child, "--db", db, "--out", out.to_str().unwrap(), "--format", "prim"]);
    }
    assert_eq!(
        std::fs::read_to_string(from_store.join("program.prim")).unwrap(),
        std::fs::read_to_string(from_archive.join("program.prim")).unwrap()
    );
    assert_eq!(std::fs::read(&file).unwrap(), bytes, "a read changed the archive");

    // Restored into a store: the same rows, by content hash.
    let restored = format!("sqlite://{}", dir.join("restored.db").display());
    let copied = json(&["store", "copy", &archive, &restored]);
    let original = rt().block_on(async {
        let s = Store::open_read(&db).await.unwrap();
        let c = s.campaign("archived").await.unwrap().unwrap();
        s.dump_campaign(c.id).await.unwrap().content_hash()
    });
    assert_eq!(copied[0]["content_hash"].as_str(), Some(original.as_str()), "{copied}");
    assert_eq!(run_ok(&["top", "archived", "--db", &restored]), run_ok(&["top", "archived", "--db", &archive]));

    // Refused, named: a command that writes, a damaged archive, another format or version.
    let out = primer().arg("search").arg(&config).args(["--db", &archive]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("read-only") && stderr.contains(file.to_str().unwrap()),
        "{stderr}"
    );
    let mut value: serde_json::Value = {
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut s).unwrap();
        serde_json::from_str(&s).unwrap()
    };
    assert_eq!(value["format"], "primer-campaign-archive");
    let fails_with = |value: &serde_json::Value, name: &str, want: &str| {
        let f = dir.join(name);
        std::fs::write(&f, serde_json::to_vec(value).unwrap()).unwrap();
        let out = primer().args(["top", "archived", "--db", &format!("archive://{}", f.display())]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(want) && stderr.contains(name), "{want}: {stderr}");
    };
    let plain = value.clone();
    fails_with(&serde_json::json!({"campaign": 1}), "other.json", "no `format` field");
    value["version"] = 99.into();
    fails_with(&value, "future.json", "version 99");
    value = plain.clone();
    let e = value["evaluations"].as_array_mut().unwrap().iter_mut().find(|e| e["fitness"].is_f64()).unwrap();
    e["fitness"] = (e["fitness"].as_f64().unwrap() - 0.5).into();
    fails_with(&value, "damaged.json", "content hash");
    // Uncompressed JSON is read too.
    let f = dir.join("plain.json");
    std::fs::write(&f, serde_json::to_vec(&plain).unwrap()).unwrap();
    assert_eq!(
        run_ok(&["top", "archived", "--db", &format!("archive://{}", f.display())]),
        run_ok(&["top", "archived", "--db", &db])
    );
}
