//! The end of `primer demo`: what the campaign found, in words a newcomer understands. The
//! campaign's analysis (`primer analyze`), then its best program retrained beside the
//! Transformer and Primer-EZ at the campaign's budget (`primer compare`, 2 seeds), and what that
//! means at this budget, with where to go for the search that looks for Primer's changes.

use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::analyze::Analysis;
use primer_campaign::paths;
use primer_campaign::spec::CampaignSpec;

/// One program of `primer compare --format json`.
#[derive(Debug, Deserialize)]
pub struct CompareRow {
    pub parameters: i64,
    /// Per budget: mean and sd of the validation loss.
    pub losses: Vec<(f64, f64)>,
    /// Against the first program.
    pub speedup: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct CompareOut {
    rows: Vec<CompareRow>,
}

/// Seeds of the closing comparison.
pub const SEEDS: u32 = 2;

/// Retrains `best` (a candidate id), transformer.prim and primer_ez.prim at the campaign's
/// budget, model and settings over [`SEEDS`] seeds, with the engine's `compare`.
fn compare(db: &str, spec: &CampaignSpec, best: i64, svg: &std::path::Path) -> Result<Vec<CompareRow>> {
    let programs = paths::workspace_root().join("search-spaces/programs");
    let t = &spec.training;
    let out = Command::new(paths::engine_exe())
        .arg("compare")
        .arg(programs.join("transformer.prim"))
        .arg(programs.join("primer_ez.prim"))
        .arg(format!("candidate:{best}"))
        .args(["--budgets", &t.budget.to_string(), "--seeds", &SEEDS.to_string(), "--db", db, "--format", "json"])
        .args(["--d-model", &spec.model.d_model.to_string(), "--seq-len", &spec.model.seq_len.to_string()])
        .args([
            "--n-layers",
            &spec.model.n_layers.to_string(),
            "--batch",
            &t.batch.to_string(),
            "--lr",
            &t.lr.to_string(),
        ])
        // (The comparison's curves keep a point every 100 steps at most, whatever the campaign
        // uses: the speedups are read off them.)
        .args(["--warmup", &t.warmup.to_string(), "--eval-interval", &t.eval_interval.min(100).to_string()])
        .args(["--threads", "2"])
        .arg("--svg")
        .arg(svg)
        .args(t.corpus.as_ref().map(|c| vec!["--corpus".to_string(), c.display().to_string()]).unwrap_or_default())
        .output()
        .context("could not start primer-engine compare")?;
    if !out.status.success() {
        bail!("primer compare failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let parsed: CompareOut = serde_json::from_slice(&out.stdout).context("primer compare's JSON")?;
    Ok(parsed.rows)
}

/// The closing words of the demo: the three programs' losses and speedups, and what they mean.
/// What the summary says about the programs besides their losses.
pub struct Facts {
    /// The best program still computes attention (a T_MAT_MUL in its live code).
    pub best_has_attention: bool,
    /// Bytes of training text per Transformer parameter at the campaign's budget.
    pub tokens_per_param: f64,
    pub best_flops_per_token: f64,
    pub transformer_flops_per_token: f64,
}

pub fn summary(spec: &CampaignSpec, a: &Analysis, rows: &[CompareRow], facts: &Facts) -> String {
    let Facts { best_has_attention, tokens_per_param, best_flops_per_token, transformer_flops_per_token } = *facts;
    use std::fmt::Write as _;
    let mut s = String::new();
    let best_id = a.best_candidate.unwrap_or(-1);
    let _ = writeln!(
        s,
        "At {} of training per candidate (d_model {}, {} layers, {} bytes of context), retrained over {SEEDS} seeds; \
         validation loss in bits per byte (lower is better), and how much less compute each needs to reach the Transformer's loss:",
        spec.training.budget, spec.model.d_model, spec.model.n_layers, spec.model.seq_len
    );
    let names = [
        "the Transformer (the seed)",
        "Primer-EZ (the paper's changes)",
        &format!("the search's best (candidate {best_id})"),
    ];
    for (name, r) in names.iter().zip(rows) {
        let (m, sd) = r.losses.last().copied().unwrap_or((f64::NAN, f64::NAN));
        let sp = r.speedup.map_or("never reaches it".to_string(), |x| format!("{x:.1}x"));
        let _ = writeln!(s, "  {name:<36} {m:.3} ± {sd:.3}   {sp:>8}   {} parameters", r.parameters);
    }
    let (ez, best) = (&rows[1], &rows[2]);
    let loss = |r: &CompareRow| r.losses.last().map_or(f64::NAN, |l| l.0);
    let _ = writeln!(s);
    if loss(best) < loss(ez) {
        let _ = write!(s, "The search's best beats Primer-EZ at this budget");
    } else {
        let _ = write!(s, "Primer-EZ beats the search's best at this budget");
    }
    if !best_has_attention {
        let _ = write!(s, ", and it has no attention left");
    }
    let _ = writeln!(s, ".");
    let cheaper = best_flops_per_token < transformer_flops_per_token;
    if cheaper && loss(best) < loss(&rows[0]) {
        let _ = writeln!(
            s,
            "Why: the best program costs {:.0}% of the Transformer's training FLOPs per byte, and at this budget the \
             Transformer sees about {tokens_per_param:.1} bytes of text per parameter, far from trained (the paper judged \
             candidates where the Transformer is close to converged). With a fixed compute budget a program that costs less \
             per byte trains on more bytes, so cheaper programs win here; that is the right answer for this budget, not a bug.",
            100.0 * best_flops_per_token / transformer_flops_per_token
        );
    } else {
        let _ = writeln!(
            s,
            "At this budget the Transformer sees about {tokens_per_param:.1} bytes of text per parameter (the paper judged \
             candidates where the Transformer is close to converged); the best program costs {:.0}% of its training FLOPs per byte.",
            100.0 * best_flops_per_token / transformer_flops_per_token
        );
    }
    let motif = |name: &str| a.motifs.iter().find(|m| m.motif == name);
    for (name, words) in [("squared_relu", "Squared ReLU"), ("dconv_any", "A depthwise convolution after Q, K or V")] {
        if let Some(m) = motif(name) {
            let _ = writeln!(
                s,
                "{words}: {} in this campaign{}.",
                if m.candidates == 0 {
                    "never proposed".to_string()
                } else {
                    format!("proposed in {} candidate(s), first at birth {}", m.candidates, m.first_birth.unwrap_or(0))
                },
                match m.best_rank {
                    Some(r) if m.in_top_k => format!(", best at rank {r} (in the top {})", a.k),
                    Some(r) => format!(", best at rank {r}"),
                    None => String::new(),
                }
            );
        }
    }
    let _ = writeln!(
        s,
        "Primer's changes need a budget where the Transformer is trained well, and thousands of candidates to be proposed \
         at all: experiments/README.md (section 1b) has the landscape study that chose such a regime (subword tokens, \
         3e12 FLOPs per candidate) and its campaign (`primer search experiments/rediscover-bpe.toml`, about a day on 2 \
         cores; it resumes when run again)."
    );
    s
}

/// The demo's closing: analysis, comparison, words.
pub async fn close(store: &primer_store::Store, db: &str, campaign: &str) -> Result<()> {
    let a = crate::analyze::load(store, campaign, 5).await?;
    println!("\n== primer analyze {campaign} --top 5");
    print!("{}", crate::analyze::table(&a));
    let c = primer_campaign::resolve::find_campaign(store, campaign).await?;
    let spec: CampaignSpec = serde_json::from_str(&c.config)?;
    let Some(best) = a.best_candidate else { return write_report(store, db, campaign).await };
    let svg = std::env::temp_dir().join(format!("primer-demo-{}.svg", std::process::id()));
    println!(
        "\n== primer compare transformer.prim primer_ez.prim candidate:{best} --budgets {} --seeds {SEEDS} (about a minute)",
        spec.training.budget
    );
    let rows = compare(db, &spec, best, &svg)?;
    let _ = std::fs::remove_file(&svg);
    anyhow::ensure!(rows.len() == 3, "compare returned {} rows", rows.len());
    let hash = store.candidate_program(best).await?.context("the best candidate's program")?;
    let json = store.program_json(&hash).await?.context("the best program")?;
    let p = primer_dsl::text::from_json(&json, "<store>")?;
    let live = primer_dsl::analysis::eliminate_dead_code(&p);
    let has_attention =
        live.subprograms.iter().any(|s| s.instructions.iter().any(|i| i.op == primer_dsl::op::Op::TMatMul));
    let transformer =
        primer_dsl::text::parse_file(&paths::workspace_root().join("search-spaces/programs/transformer.prim"))?;
    let per_token = |p: &primer_dsl::Program| spec.cost(p).map_or(f64::NAN, |c| c.training_flops_per_token as f64);
    let budget = match spec.training.budget {
        primer_dsl::budget::Budget::Flops(f) => f,
        _ => f64::NAN,
    };
    let facts = Facts {
        best_has_attention: has_attention,
        tokens_per_param: budget / per_token(&transformer) / rows[0].parameters as f64,
        best_flops_per_token: per_token(&p),
        transformer_flops_per_token: per_token(&transformer),
    };
    println!();
    print!("{}", summary(&spec, &a, &rows, &facts));
    write_report(store, db, campaign).await
}

/// The campaign as a page (`primer report`), beside a SQLite store (else in the current
/// folder), and where it is.
async fn write_report(store: &primer_store::Store, db: &str, campaign: &str) -> Result<()> {
    let dir = primer_store::sqlite_file(db)
        .and_then(|f| f.parent().map(std::path::Path::to_path_buf))
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::PathBuf::from("."));
    let out = dir.join(format!("{campaign}-report.html"));
    let w = crate::report::write(store, campaign, &out, 0).await?;
    let path = std::fs::canonicalize(&out).unwrap_or(out);
    println!(
        "\n== primer report {campaign} --out {}\nthe campaign as a page ({:.1} MB): open file://{}",
        path.display(),
        w.bytes as f64 / 1e6,
        path.display()
    );
    Ok(())
}
