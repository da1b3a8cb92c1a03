//! Campaigns that build on campaigns, end to end with real training (tiny models): seeds taken
//! from an earlier campaign's results, with lineage across campaigns; fitness reused across
//! campaigns, and a mismatch in each setting that must prevent it; cost limits in the search
//! space; a Pareto search and `top --pareto`; bad input named by field.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use primer_store::{HistoryRow, Outcome, Store};

mod common;
use common::{history, primer, program, root, rt, temp_dir};

/// A corpus of `bytes` bytes of the default corpus from `offset` (small: set-up and BPE are quick).
fn corpus(dir: &Path, name: &str, offset: usize, bytes: usize) -> PathBuf {
    let text =
        std::fs::read(root().join(".cache/corpus/shakespeare.txt")).expect("the default corpus (cargo xtask setup)");
    let path = dir.join(name);
    std::fs::write(&path, &text[offset..offset + bytes]).unwrap();
    path
}

/// The settings every campaign here starts from; `edit` replaces lines (`key = value`) by key
/// within their section, or adds lines to a section (`[section] key = value`).
struct Config {
    lines: Vec<String>,
}

impl Config {
    fn new(name: &str, corpus: &Path, space: &Path, seeds: &str, candidates: u64) -> Config {
        let text = format!(
            r#"name = "{name}"
seed = 3
search_space = "{space}"
seeds = {seeds}
candidates = {candidates}
workers = 1

[model]
d_model = 16
seq_len = 16
n_layers = 1

[training]
budget = "30steps"
batch = 4
lr = 0.002
warmup = 5
eval_interval = 10
val_batches = 2
corpus = "{corpus}"
validation_bytes = 4096

[evolution]
population = 4
tournament = 2

[hurdles]
count = 0
min_predecessors = 2

[dedup]
fec_remeasure_after = 0
"#,
            space = space.display(),
            corpus = corpus.display(),
        );
        Config { lines: text.lines().map(String::from).collect() }
    }

    /// Sets `key` (in `section`, "" for the top) to `value`, adding it when absent.
    fn set(mut self, section: &str, key: &str, value: &str) -> Config {
        let start = if section.is_empty() {
            0
        } else {
            self.lines.iter().position(|l| l == &format!("[{section}]")).expect("a section") + 1
        };
        let end = self.lines[start..].iter().position(|l| l.starts_with('[')).map_or(self.lines.len(), |i| start + i);
        let line = format!("{key} = {value}");
        match self.lines[start..end].iter().position(|l| l.starts_with(&format!("{key} ="))) {
            Some(i) => self.lines[start + i] = line,
            None => self.lines.insert(end, line),
        }
        self
    }

    fn write(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        std::fs::write(&path, self.lines.join("\n") + "\n").unwrap();
        path
    }
}

fn search(config: &Path, db: &str, extra: &[&str]) -> Output {
    let out = primer().arg("search").arg(config).args(["--db", db]).args(extra).output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    out
}

fn fails(config: &Path, db: &str, extra: &[&str]) -> String {
    let out = primer().arg("search").arg(config).args(["--db", db]).args(extra).output().unwrap();
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The stored spec of a campaign, as JSON.
fn spec(db: &str, name: &str) -> serde_json::Value {
    rt().block_on(async {
        let s = Store::open(db).await.unwrap();
        serde_json::from_str(&s.campaign(name).await.unwrap().unwrap().config).unwrap()
    })
}

/// (parameters, training FLOPs per token) of a campaign's programs by hash.
fn sizes(db: &str, name: &str) -> HashMap<String, (i64, i64)> {
    rt().block_on(async {
        let s = Store::open(db).await.unwrap();
        let c = s.campaign(name).await.unwrap().unwrap();
        s.programs_of(c.id).await.unwrap().into_iter().map(|p| (p.hash, (p.parameters, p.flops_per_token))).collect()
    })
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = primer().args(args).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn text(args: &[&str]) -> String {
    let out = primer().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn space() -> PathBuf {
    root().join("search-spaces/primer-cpu.toml")
}

#[test]
fn a_warm_started_campaign_takes_its_seeds_from_an_earlier_one_and_reuses_their_losses() {
    let dir = temp_dir("warm");
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let text_corpus = corpus(&dir, "corpus.txt", 0, 400_000);
    let transformer = format!("[\"{}\"]", program("transformer.prim"));
    let first = Config::new("first", &text_corpus, &space(), &transformer, 8).write(&dir, "first.toml");
    search(&first, &db, &[]);
    let h1 = history(&db, "first");
    // (No hurdles and no functional dedup here: every candidate is trained to the end, or
    // diverges.)
    assert!(h1.iter().all(|r| matches!(r.outcome, Some(Outcome::Finished | Outcome::Diverged))), "{h1:?}");
    let mut best: Vec<&HistoryRow> = h1.iter().filter(|r| r.fitness.is_some()).collect();
    best.sort_by(|a, b| a.fitness.unwrap().total_cmp(&b.fitness.unwrap()).then(a.birth.cmp(&b.birth)));
    let top3: Vec<&HistoryRow> = best[..3].to_vec();

    // Its three best as seeds, under the same settings: each seed's loss is reused, nothing
    // is trained for them, and where each came from is recorded.
    let seeds = "[{ campaign = \"first\", top = 3 }]";
    let second = Config::new("second", &text_corpus, &space(), seeds, 6).write(&dir, "second.toml");
    search(&second, &db, &[]);
    let h2 = history(&db, "second");
    assert_eq!(h2.len(), 6);
    for (seed, src) in h2[..3].iter().zip(&top3) {
        assert_eq!(seed.seed_index, Some(seed.birth), "{seed:?}");
        assert_eq!(seed.program, src.program, "the seeds are the first campaign's best, best first");
        assert_eq!(seed.outcome, Some(Outcome::Reused), "{seed:?}");
        assert_eq!(seed.reused_from, Some(src.candidate));
        assert_eq!(seed.fitness, src.fitness);
        assert_eq!(seed.steps, Some(0));
        assert!(seed.reason.as_deref().unwrap().starts_with("measured in campaign `first`"), "{seed:?}");
    }
    // The children are new programs: trained.
    // The children are new to this campaign: trained, unless the first campaign measured the
    // same program (then reused from it).
    for r in &h2[3..] {
        match r.outcome {
            Some(Outcome::Reused) => {
                let src = h1.iter().find(|s| Some(s.candidate) == r.reused_from).expect("a source in `first`");
                assert_eq!((&src.program, src.fitness), (&r.program, r.fitness));
            }
            _ => assert!(r.steps.unwrap() > 0, "{r:?}"),
        }
    }
    let origins = spec(&db, "second")["seeds"].clone();
    for (s, src) in origins.as_array().unwrap().iter().zip(&top3) {
        assert_eq!(s["origin"]["campaign"], "first");
        assert_eq!(s["origin"]["candidate"], src.candidate);
        assert_eq!(s["origin"]["selector"], "campaign:first top=3");
        assert_eq!(s["file"], format!("campaign:first candidate {}", src.candidate));
    }

    // Lineage crosses campaigns: a child of the second campaign goes back, through its seed,
    // to the first campaign's candidate and from there to the Transformer.
    let child = h2[3..].iter().find(|r| r.parent.is_some()).expect("a child");
    let chain = json(&["lineage", &child.candidate.to_string(), "--db", &db]);
    let chain = chain.as_array().unwrap();
    assert_eq!(chain.last().unwrap()["candidate"], child.candidate);
    assert_eq!(chain.last().unwrap()["campaign"], "second");
    assert_eq!(chain[0]["campaign"], "first");
    assert_eq!(chain[0]["seed_index"], 0, "back to the first campaign's seed: {chain:?}");
    let crossing = chain.iter().position(|s| s["campaign"] == "second").unwrap();
    let seed = &chain[crossing];
    assert!(seed["seed_index"].is_number(), "{chain:?}");
    assert_eq!(seed["seed_from"], chain[crossing - 1]["candidate"]);
    let table = text(&["lineage", &child.candidate.to_string(), "--db", &db]);
    assert!(
        table.contains("-- campaign `first`:") && table.contains("-- campaign `second`, seeded with candidate"),
        "{table}"
    );

    // What it saved: the measurements' FLOPs, as recorded with the reused losses.
    let spent: f64 = top3.iter().map(|r| r.flops.unwrap()).sum();
    let s = json(&["savings", "second", "--db", &db]);
    assert_eq!(s[0]["reused_across"], 3);
    let saved = s[0]["reuse_flops_saved"].as_f64().unwrap();
    assert!((saved - spent).abs() <= 5e-4 * spent, "{saved} against {spent} (4 significant digits)");
    assert_eq!(s[0]["reused"], 0, "no functional dedup counted");
    let a = json(&["analyze", "second", "--db", &db]);
    assert_eq!(a["reused_from_other_campaigns"], 3);

    // --no-reuse: the same seeds, trained.
    search(&second, &db, &["--name", "third", "--no-reuse"]);
    let h3 = history(&db, "third");
    assert!(h3[..3].iter().all(|r| r.outcome != Some(Outcome::Reused) && r.steps.unwrap() > 0), "{h3:?}");
    assert_eq!(spec(&db, "third")["dedup"].get("reuse"), None, "stored only when on");
    assert_eq!(spec(&db, "second")["dedup"]["reuse"], true);

    // The first campaign goes on and its best change; the second, resumed (extended), keeps
    // the seeds it began with.
    search(&first, &db, &["--candidates", "14"]);
    search(&second, &db, &["--candidates", "7"]);
    assert_eq!(spec(&db, "second")["seeds"], origins);
    assert_eq!(history(&db, "second").len(), 7);

    // --seed-from on the command line, and the same choice in the file, are one selector.
    search(&first, &db, &["--name", "fourth", "--seed-from", "campaign:first", "--seed-top", "2", "--candidates", "4"]);
    let s4 = spec(&db, "fourth")["seeds"].clone();
    let s4 = s4.as_array().unwrap();
    assert!(s4[0]["file"].as_str().unwrap().ends_with("transformer.prim") && s4[0].get("origin").is_none(), "{s4:?}");
    // (A program that is a seed already is taken once: the Transformer may be among the best.)
    assert!((2..=3).contains(&s4.len()), "{s4:?}");
    assert!(s4[1..].iter().all(|s| s["origin"]["selector"] == "campaign:first top=2"), "{s4:?}");

    // Seeds from a campaign in another store: its origin names that store, the lineage goes on
    // there, and nothing is reused across stores (reuse looks in the campaign's own store).
    let db2 = format!("sqlite://{}", dir.join("other.db").display());
    let child_of_first = h1.iter().find(|r| r.birth > 0 && r.fitness.is_some()).expect("a measured child");
    let pick = format!("campaign:first#{}", child_of_first.candidate);
    search(&first, &db2, &["--name", "elsewhere", "--seed-from", &pick, "--seed-store", &db, "--candidates", "3"]);
    let s5 = spec(&db2, "elsewhere")["seeds"].clone();
    let origin =
        s5.as_array().unwrap().iter().find(|s| s.get("origin").is_some()).expect("a seed from `first`").clone();
    assert_eq!(origin["origin"]["store"], db.as_str());
    let h5 = history(&db2, "elsewhere");
    assert!(h5.iter().all(|r| r.outcome != Some(Outcome::Reused)), "{h5:?}");
    let seeded = h5.iter().find(|r| r.program == origin["hash"].as_str().unwrap()).unwrap();
    let chain = json(&["lineage", &seeded.candidate.to_string(), "--db", &db2]);
    let chain = chain.as_array().unwrap();
    assert_eq!(chain.last().unwrap()["campaign"], "elsewhere");
    assert_eq!(chain[chain.len() - 2]["campaign"], "first", "{chain:?}");
    assert_eq!(chain[chain.len() - 2]["candidate"], origin["origin"]["candidate"]);

    // An archive of the warm-started campaign keeps what it reused (the source's id is not in
    // it; the reason still says where the loss came from).
    let archive = dir.join("second.archive.json.gz");
    text(&["archive", "second", "--db", &db, "--out", archive.to_str().unwrap()]);
    let adb = format!("archive://{}", archive.display());
    assert_eq!(json(&["analyze", "second", "--db", &adb])["reused_from_other_campaigns"], 3);
    let s = json(&["savings", "second", "--db", &adb]);
    assert_eq!(s[0]["reuse_flops_saved"].as_f64().unwrap(), saved);
}

#[test]
fn a_mismatch_in_any_setting_prevents_reuse() {
    let dir = temp_dir("mismatch");
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let text_corpus = corpus(&dir, "corpus.txt", 0, 400_000);
    let other_corpus = corpus(&dir, "other.txt", 1_000_000, 400_000);
    let transformer = format!("[\"{}\"]", program("transformer.prim"));
    let base = || Config::new("base", &text_corpus, &space(), &transformer, 1);
    search(&base().write(&dir, "base.toml"), &db, &[]);
    let measured = history(&db, "base")[0].clone();
    assert_eq!(measured.outcome, Some(Outcome::Finished));

    // Another campaign seed (the training seed is not part of the settings): reused.
    let same = base().set("", "name", "\"same\"").set("", "seed", "4");
    search(&same.write(&dir, "same.toml"), &db, &[]);
    let h = history(&db, "same");
    assert_eq!(
        (h[0].outcome, h[0].reused_from, h[0].fitness),
        (Some(Outcome::Reused), Some(measured.candidate), measured.fitness)
    );

    // One setting changed at a time: trained, not reused.
    let other = other_corpus.display().to_string();
    let cases: Vec<(&str, &str, String)> = vec![
        ("model", "d_model", "24".into()),
        ("model", "seq_len", "24".into()),
        ("model", "n_layers", "2".into()),
        ("training", "budget", "\"31steps\"".into()),
        ("training", "batch", "5".into()),
        ("training", "lr", "0.003".into()),
        ("training", "warmup", "6".into()),
        ("training", "eval_interval", "15".into()),
        ("training", "val_batches", "3".into()),
        ("training", "validation_bytes", "8192".into()),
        ("training", "tokenizer", "\"bpe:300\"".into()),
        ("training", "corpus", format!("\"{other}\"")),
    ];
    for (i, (section, key, value)) in cases.iter().enumerate() {
        let name = format!("changed-{i}");
        let c = base().set("", "name", &format!("\"{name}\"")).set(section, key, value);
        search(&c.write(&dir, &format!("{name}.toml")), &db, &[]);
        let h = history(&db, &name);
        assert_eq!(h[0].outcome, Some(Outcome::Finished), "{section}.{key} = {value}: {:?}", h[0]);
        assert!(h[0].steps.unwrap() > 0 && h[0].reused_from.is_none(), "{section}.{key} = {value}: {:?}", h[0]);
    }
}

#[test]
fn cost_limits_redraw_children_over_them_and_analyze_counts_them() {
    let dir = temp_dir("limits");
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let text_corpus = corpus(&dir, "corpus.txt", 0, 400_000);
    // The Transformer's parameters at this size: a child with more (a wider feed-forward, an
    // extra dense layer) is redrawn.
    let model = primer_dsl::ModelConfig { d_model: 16, seq_len: 16, n_layers: 1, vocab: 256 };
    let t = primer_dsl::text::parse_file(Path::new(&program("transformer.prim"))).unwrap();
    let params = primer_dsl::analysis::Cost::of(&primer_dsl::validate::validate(&t, &model).unwrap()).model_params;
    let limited = std::fs::read_to_string(space())
        .unwrap()
        .replace("[limits]\n", &format!("[limits]\nmax_parameters = {params}\n"));
    let space_file = dir.join("limited-space.toml");
    std::fs::write(&space_file, &limited).unwrap();
    let transformer = format!("[\"{}\"]", program("transformer.prim"));
    let config = Config::new("limited", &text_corpus, &space_file, &transformer, 12).write(&dir, "limited.toml");
    search(&config, &db, &[]);
    let h = history(&db, "limited");
    assert_eq!(h.len(), 12);
    let sizes = sizes(&db, "limited");
    for r in &h {
        assert!(
            sizes[&r.program].0 <= params as i64,
            "candidate {} has {} parameters",
            r.candidate,
            sizes[&r.program].0
        );
    }
    let redrawn: i64 = h.iter().filter_map(|r| r.over_limit).sum();
    assert!(redrawn > 0, "11 children of the Transformer with no parameter to spare: none redrawn? {h:?}");
    let a = json(&["analyze", "limited", "--db", &db]);
    assert_eq!(a["redrawn_over_limit"], redrawn);
    let table = text(&["analyze", "limited", "--db", &db]);
    assert!(table.contains(&format!("{redrawn} children were over the search space's cost limits")), "{table}");
    // The report's page carries it (its header says it when there is one).
    let page = dir.join("report.html");
    text(&["report", "limited", "--db", &db, "--out", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains(&format!("\"redrawn_over_limit\":{redrawn}")), "the page's data");
    // The count survives an archive.
    let archive = dir.join("limited.archive.json.gz");
    text(&["archive", "limited", "--db", &db, "--out", archive.to_str().unwrap()]);
    let adb = format!("archive://{}", archive.display());
    assert_eq!(json(&["analyze", "limited", "--db", &adb])["redrawn_over_limit"], redrawn);

    // A seed over the limit is refused, by name.
    let tight = limited.replace(&format!("max_parameters = {params}"), &format!("max_parameters = {}", params - 1));
    std::fs::write(&space_file, tight).unwrap();
    let e = fails(&config, &db, &["--name", "tight"]);
    assert!(e.contains("transformer.prim") && e.contains("over max_parameters"), "{e}");
    // A limit of 0 is named where it is.
    std::fs::write(&space_file, limited.replace(&format!("max_parameters = {params}"), "max_parameters = 0")).unwrap();
    let e = fails(&config, &db, &["--name", "zero"]);
    assert!(e.contains("limited-space.toml:") && e.contains("`max_parameters`: must be positive"), "{e}");
}

#[test]
fn a_pareto_search_ranks_by_front_and_top_pareto_shows_it() {
    let dir = temp_dir("pareto");
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let text_corpus = corpus(&dir, "corpus.txt", 0, 400_000);
    let transformer = format!("[\"{}\"]", program("transformer.prim"));
    let config = Config::new("pareto", &text_corpus, &space(), &transformer, 14)
        .set("evolution", "objective", "\"pareto\"")
        .set("evolution", "second_objective", "\"parameters\"")
        .write(&dir, "pareto.toml");
    search(&config, &db, &[]);
    let stored = spec(&db, "pareto");
    assert_eq!(stored["evolution"]["objective"], "pareto");
    assert_eq!(stored["second_objective"], "parameters");
    let h = history(&db, "pareto");
    let sizes = sizes(&db, "pareto");
    let f = json(&["top", "pareto", "--pareto", "--db", &db]);
    assert_eq!(f["second_objective"], "parameters");
    let front: Vec<i64> = f["front"].as_array().unwrap().iter().map(|r| r["candidate"].as_i64().unwrap()).collect();
    assert!(!front.is_empty());
    // The front is exactly the candidates no other beats on both loss and parameters.
    let full: Vec<(i64, f64, f64)> = h
        .iter()
        .filter(|r| matches!(r.outcome, Some(Outcome::Finished | Outcome::Reused)))
        .map(|r| (r.candidate, r.fitness.unwrap(), sizes[&r.program].0 as f64))
        .collect();
    let dominated = |&(c, l, p): &(i64, f64, f64)| {
        full.iter().any(|&(d, l2, p2)| d != c && l2 <= l && p2 <= p && (l2 < l || p2 < p))
    };
    for m in &full {
        assert_eq!(front.contains(&m.0), !dominated(m), "candidate {}: {full:?} front {front:?}", m.0);
    }
    // Cheapest first.
    let costs: Vec<f64> = f["front"].as_array().unwrap().iter().map(|r| r["cost"].as_f64().unwrap()).collect();
    assert!(costs.windows(2).all(|w| w[0] <= w[1]), "{costs:?}");
    let table = text(&["top", "pareto", "--pareto", "--db", &db]);
    assert!(table.contains("the Pareto front by (val loss, parameters)"), "{table}");
    // The report's page carries the front.
    let page = dir.join("report.html");
    text(&["report", "pareto", "--db", &db, "--out", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("\"second_objective\":\"parameters\"") && html.contains("Pareto by (loss, parameters)"),
        "the page's data"
    );
}

#[test]
fn bad_settings_for_building_on_campaigns_are_named() {
    let dir = temp_dir("building-bad");
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let text_corpus = corpus(&dir, "corpus.txt", 0, 400_000);
    let transformer = format!("[\"{}\"]", program("transformer.prim"));
    let base = || Config::new("bad", &text_corpus, &space(), &transformer, 4);
    let cases: Vec<(Config, &str)> = vec![
        (
            base().set("evolution", "objective", "\"pareto\""),
            "`evolution.objective`: \"pareto\" needs `second_objective`",
        ),
        (
            base().set("evolution", "second_objective", "\"parameters\""),
            "`evolution.second_objective`: only a Pareto search",
        ),
        (
            base().set("evolution", "objective", "\"pareto\"").set("evolution", "second_objective", "\"flops\""),
            "unknown variant `flops`",
        ),
        (base().set("", "seeds", "[{ campaign = \"x\", tops = 3 }]"), "unknown field `tops`"),
        (base().set("", "seeds", "[{ campaign = \"x\", top = 0 }]"), "`top` must be at least 1"),
        (base().set("", "seeds", "[\"campaign:nope\"]"), "no campaign `nope`"),
        (base().set("", "seeds", "[\"campaign:bad\"]"), "a campaign cannot take its seeds from itself"),
    ];
    for (i, (c, message)) in cases.into_iter().enumerate() {
        let file = c.write(&dir, &format!("bad-{i}.toml"));
        let e = fails(&file, &db, &[]);
        assert!(e.contains(message), "case {i}: {e}");
    }
    let file = base().write(&dir, "good.toml");
    let out = primer().arg("search").arg(&file).args(["--db", &db, "--seed-from", "first"]).output().unwrap();
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("expected campaign:NAME"), "{e}");
    let e = fails(&file, &db, &["--seed-from", "campaign:nope#1,x"]);
    assert!(e.contains("candidate ids"), "{e}");
    // Nothing was stored by the refusals.
    let campaigns = rt().block_on(async { Store::open(&db).await.unwrap().campaigns().await.unwrap().len() });
    assert_eq!(campaigns, 0);
}

#[test]
fn a_reused_loss_brings_its_hurdle_checkpoints_when_the_hurdles_agree() {
    let dir = temp_dir("reuse-hurdles");
    let db = format!("sqlite://{}", dir.join("store.db").display());
    let text_corpus = corpus(&dir, "corpus.txt", 0, 400_000);
    let transformer = format!("[\"{}\"]", program("transformer.prim"));
    let base = |name: &str| {
        Config::new(name, &text_corpus, &space(), &transformer, 1).set("hurdles", "count", "2").set("", "seed", "5")
    };
    search(&base("source").write(&dir, "source.toml"), &db, &[]);
    // The same hurdles in another campaign (another seed): the loss and its checkpoints.
    search(&base("same").set("", "seed", "6").write(&dir, "same.toml"), &db, &[]);
    // Other hurdles (not part of the settings a loss depends on): the loss alone.
    search(&base("other").set("hurdles", "count", "1").write(&dir, "other.toml"), &db, &[]);
    let checkpoints = |name: &str| {
        rt().block_on(async {
            let s = Store::open(&db).await.unwrap();
            let c = s.campaign(name).await.unwrap().unwrap();
            let h = s.history(c.id).await.unwrap();
            let ks = s.checkpoints_of(h[0].candidate).await.unwrap();
            (h[0].clone(), ks.into_iter().map(|k| (k.k, k.loss)).collect::<Vec<_>>())
        })
    };
    let (src, at_src) = checkpoints("source");
    assert_eq!(src.outcome, Some(Outcome::Finished));
    assert_eq!(at_src.len(), 2, "{at_src:?}");
    let (same, at_same) = checkpoints("same");
    assert_eq!((same.outcome, same.reused_from, same.hurdles), (Some(Outcome::Reused), Some(src.candidate), Some(2)));
    assert_eq!(at_same, at_src);
    let (other, at_other) = checkpoints("other");
    assert_eq!((other.outcome, other.reused_from), (Some(Outcome::Reused), Some(src.candidate)));
    assert!(at_other.is_empty(), "{at_other:?}");
}
