//! `primer compare`: programs trained at several budgets over several seeds; the loss table,
//! the paper's speedups against the first program, and an SVG plot.
//!
//! Each (program, seed) trains once, to the largest budget, with checkpoints at the smaller
//! ones: the learning-rate schedule has no horizon, so the loss at a checkpoint is the loss a
//! separate run to that budget would end with (same batches, same weights).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use primer_args::{Format, ModelArgs, TrainArgs};
use primer_campaign::compare::{mean_curve, mean_sd, speedup};
use primer_campaign::paths;
use primer_campaign::resolve::load_program;
use primer_campaign::resolve::{candidate_id, candidate_program};
use primer_dsl::ModelConfig;
use primer_dsl::budget::Budget;
use primer_store::Store;
use primer_torch::train::{Decision, TrainConfig, TrainJob, train_program};

use crate::setup::settings;

#[derive(Debug, Serialize)]
struct Row {
    program: String,
    parameters: i64,
    /// Per budget: (mean, standard deviation) of the validation loss over seeds, in bits per byte.
    losses: Vec<(f64, f64)>,
    /// Against the first program (None: it never reaches the first's final loss).
    speedup: Option<f64>,
    outcomes: Vec<String>,
}

/// The budgets, all FLOPs or all seconds, smallest first, and their unit.
fn sorted(budgets: &[Budget]) -> Result<(Vec<Budget>, &'static str)> {
    let mut parsed: Vec<Budget> = budgets.to_vec();
    let kind = |b: &Budget| match b {
        Budget::Flops(_) => Some("FLOPs"),
        Budget::Seconds(_) => Some("seconds"),
        _ => None,
    };
    let Some(unit) = parsed.first().and_then(kind) else {
        bail!("--budgets: compare needs FLOPs or seconds budgets, e.g. 1e11flops,3e11flops")
    };
    if parsed.iter().any(|b| kind(b) != Some(unit)) {
        bail!("--budgets: all budgets must be of one kind (all FLOPs or all seconds)");
    }
    let amount = |b: &Budget| match *b {
        Budget::Flops(f) | Budget::Seconds(f) => f,
        _ => unreachable!("checked above"),
    };
    parsed.sort_by(|a, b| amount(a).total_cmp(&amount(b)));
    Ok((parsed, unit))
}

/// The programs named (candidate ids from the store, files from disk), all read before any training.
fn load(programs: &[String], db: &str) -> Result<Vec<(String, primer_dsl::Program)>> {
    // Candidate ids are read from the store, files from disk; all before any training.
    let mut loaded = Vec::new();
    let mut store = None;
    for arg in programs {
        if let Some(id) = candidate_id(arg) {
            if store.is_none() {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                let s = rt.block_on(Store::open_read(db))?;
                store = Some((rt, s));
            }
            let (rt, s) = store.as_ref().expect("opened above");
            let c = rt.block_on(candidate_program(s, id))?;
            loaded.push((format!("candidate {id}"), c.program));
        } else {
            let file = Path::new(arg);
            let (p, _) = load_program(file)?;
            loaded.push((file.file_name().map_or_else(|| arg.clone(), |n| n.to_string_lossy().into_owned()), p));
        }
    }
    Ok(loaded)
}

/// The comparison in `format`.
#[allow(clippy::too_many_arguments)]
fn print(
    format: Format,
    budgets: &[Budget],
    seeds: u64,
    parsed: &[Budget],
    unit: &str,
    rows: &[Row],
    svg_path: &Path,
    config: &ModelConfig,
    batch: usize,
) -> Result<()> {
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "budgets": budgets.iter().map(Budget::to_string).collect::<Vec<_>>(), "seeds": seeds, "rows": rows, "svg": svg_path })
            )?
        ),
        Format::Csv => {
            let header: Vec<String> = parsed.iter().map(|b| format!("loss_{b},sd_{b}")).collect();
            println!("program,parameters,{},speedup", header.join(","));
            for r in rows {
                let cells: Vec<String> = r.losses.iter().map(|(m, s)| format!("{m},{s}")).collect();
                println!(
                    "{},{},{},{}",
                    r.program,
                    r.parameters,
                    cells.join(","),
                    r.speedup.map_or(String::new(), |s| s.to_string())
                );
            }
        }
        Format::Table => {
            println!(
                "validation loss in bits per byte, mean ± sd over {seeds} seed(s); d_model {}, seq_len {}, {} layers, batch {}",
                config.d_model, config.seq_len, config.n_layers, batch
            );
            let heads: Vec<String> = parsed.iter().map(|b| format!("{:>17}", b.to_string())).collect();
            // The program column as wide as its longest name, so every row's numbers line up.
            let w = rows.iter().map(|r| r.program.chars().count()).max().unwrap_or(0).max(24);
            println!("{:<w$} {:>10} {} {:>9}", "program", "params", heads.join(" "), "speedup");
            for r in rows {
                let cells: Vec<String> =
                    r.losses.iter().map(|(m, s)| format!("{:>17}", format!("{m:.4} ± {s:.4}"))).collect();
                let sp = r.speedup.map_or("not reached".into(), |s| format!("{s:.2}x"));
                println!("{:<w$} {:>10} {} {:>9}", r.program, r.parameters, cells.join(" "), sp);
            }
            println!(
                "speedup: the {unit} {} needs to reach its final loss, over the {unit} each program needs for that loss (on its mean curve)",
                rows[0].program
            );
            println!("plot: {}", svg_path.display());
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub fn compare(
    programs: &[String],
    budgets: &[Budget],
    seeds: u64,
    svg_path: &Path,
    db: &str,
    corpus: Option<&Path>,
    t: &TrainArgs,
    m: &ModelArgs,
    format: Format,
) -> Result<ExitCode> {
    let (parsed, unit) = sorted(budgets)?;
    let amount = |b: &Budget| match *b {
        Budget::Flops(f) | Budget::Seconds(f) => f,
        _ => unreachable!("checked in sorted"),
    };
    anyhow::ensure!(seeds > 0, "--seeds must be at least 1");
    let largest = *parsed.last().expect("at least one budget");
    let fractions: Vec<f64> = parsed[..parsed.len() - 1].iter().map(|b| amount(b) / amount(&largest)).collect();
    let (tc, device) = settings(t)?;
    let corpus_path = corpus.map(Path::to_path_buf).unwrap_or_else(paths::default_corpus);
    let (data, _) = crate::setup::load_corpus(&corpus_path, m.config().seq_len, &t.tokenizer)?;
    let config = ModelConfig { vocab: data.vocab(), ..m.config() };

    let mut rows = Vec::new();
    let mut plot = Vec::new();
    let loaded = load(programs, db)?;
    for (name, p) in loaded {
        let mut per_budget: Vec<Vec<f64>> = vec![Vec::new(); parsed.len()];
        let mut curves = Vec::new();
        let mut outcomes = Vec::new();
        let mut parameters = 0;
        for seed in 0..seeds {
            let settings = TrainConfig { seed, ..tc };
            let job = TrainJob {
                corpus: &data,
                config,
                settings: &settings,
                budget: largest,
                checkpoints: &fractions,
                device,
                stop: None,
            };
            let mut at = Vec::new();
            let r = train_program(
                &p,
                &job,
                &mut |_, loss| {
                    at.push(loss);
                    Decision::Continue
                },
                &mut |_| {},
            );
            parameters = r.parameters;
            outcomes.push(format!("{:?}", r.outcome));
            if human(format) {
                eprintln!("{name} seed {seed}: {:?}, loss {:?}, {} steps", r.outcome, r.fitness, r.steps);
            }
            let Some(fitness) = r.fitness else { continue };
            at.push(fitness);
            // Bits per byte: comparable across tokenizers.
            let bits = |l: f64| primer_tokens::bits_per_byte(l, r.bytes_per_token);
            for (k, l) in at.into_iter().enumerate() {
                per_budget[k].push(bits(l));
            }
            let curve: Vec<(f64, f64)> = r
                .curve
                .iter()
                .filter_map(|c| Some((if unit == "FLOPs" { c.flops } else { c.seconds }, bits(c.val_loss?))))
                .collect();
            curves.push(curve);
        }
        let losses = per_budget.iter().map(|v| if v.is_empty() { (f64::NAN, f64::NAN) } else { mean_sd(v) }).collect();
        let mean = mean_curve(&curves);
        let spread = primer_campaign::compare::sd_curve(&curves);
        rows.push(Row { program: name.clone(), parameters, losses, speedup: None, outcomes });
        plot.push((name, mean, spread));
    }
    let baseline = plot[0].1.clone();
    for (row, (_, curve, _)) in rows.iter_mut().zip(&plot) {
        row.speedup = speedup(&baseline, curve);
    }
    let lines: Vec<primer_campaign::compare::Line> = plot
        .into_iter()
        .map(|(name, points, spread)| primer_campaign::compare::Line { name, points, spread, band: Vec::new() })
        .collect();
    let marks: Vec<(f64, String)> = parsed
        .iter()
        .map(|b| match *b {
            Budget::Flops(f) | Budget::Seconds(f) => (f, b.to_string()),
            _ => (f64::NAN, String::new()),
        })
        .collect();
    std::fs::write(
        svg_path,
        primer_campaign::compare::plot(
            &format!("validation loss in bits per byte against training {unit}"),
            &format!("training {unit} (log scale)"),
            &lines,
            &marks,
        ),
    )
    .with_context(|| format!("{}", svg_path.display()))?;
    print(format, budgets, seeds, &parsed, unit, &rows, svg_path, &config, tc.batch)?;
    Ok(ExitCode::SUCCESS)
}

fn human(format: Format) -> bool {
    format == Format::Table
}
