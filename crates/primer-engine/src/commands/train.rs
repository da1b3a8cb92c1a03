//! `primer train`: training one program.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;

use primer_args::{Format, ModelArgs, TrainArgs};
use primer_campaign::paths;
use primer_campaign::resolve::load_program;
use primer_dsl::ModelConfig;
use primer_dsl::analysis::Cost;
use primer_dsl::validate::validate;
use primer_torch::train::{Budget, Decision, TrainJob, train_program};

use crate::setup::{load_corpus, memory_mib, settings};

/// `primer train FILE --budget B`.
pub fn train(
    file: &Path,
    budget: Budget,
    corpus: Option<&Path>,
    t: &TrainArgs,
    m: &ModelArgs,
    format: Format,
) -> Result<ExitCode> {
    let (p, _) = load_program(file)?;
    let (tc, device) = settings(t)?;
    let corpus_path = corpus.map(Path::to_path_buf).unwrap_or_else(paths::default_corpus);
    let (data, tokenizer) = load_corpus(&corpus_path, m.config().seq_len, &t.tokenizer)?;
    let config = ModelConfig { vocab: data.vocab(), ..m.config() };
    let human = format == Format::Table;
    if human {
        println!(
            "training {} (d_model {}, seq_len {}, {} layers) on {} ({}: {} training, {} held-out tokens), budget {budget}, seed {}",
            file.display(),
            config.d_model,
            config.seq_len,
            config.n_layers,
            corpus_path.display(),
            tokenizer.describe(),
            data.tokens.train.len(),
            data.tokens.validation.len(),
            tc.seed
        );
        if let Ok(v) = validate(&p, &config) {
            let cost = Cost::of(&v);
            println!("{} parameters, {} training FLOPs per token", cost.model_params, cost.training_flops_per_token);
        }
    }
    let start = Instant::now();
    let job = TrainJob { corpus: &data, config, settings: &tc, budget, checkpoints: &[], device, stop: None };
    let r = train_program(&p, &job, &mut |_, _| Decision::Continue, &mut |pt| {
        if human {
            let val = pt.val_loss.map_or(String::new(), |v| format!("  val {v:.4}"));
            println!(
                "step {:>6}  tokens {:>10}  {:>8.1} s  train {:.4}{val}",
                pt.step, pt.tokens, pt.seconds, pt.train_loss
            );
        }
    });
    let (peak, _) = memory_mib();
    let wall = start.elapsed().as_secs_f64();
    match format {
        Format::Json => {
            let mut v = serde_json::to_value(&r)?;
            v["bits_per_byte"] = serde_json::json!(r.bits_per_byte());
            v["tokens_per_second"] = serde_json::json!(r.tokens_per_second());
            v["peak_memory_mib"] = serde_json::json!(peak);
            v["wall_seconds"] = serde_json::json!(wall);
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Csv => {
            println!("step,tokens,flops,seconds,train_loss,val_loss");
            for c in &r.curve {
                println!(
                    "{},{},{},{},{},{}",
                    c.step,
                    c.tokens,
                    c.flops,
                    c.seconds,
                    c.train_loss,
                    c.val_loss.map_or(String::new(), |v| v.to_string())
                );
            }
        }
        Format::Table => {
            println!("outcome            {}", r.outcome);
            if let (Some(loss), Some(bpb)) = (r.fitness, r.bits_per_byte()) {
                println!("validation loss    {loss:.4} nats per token ({bpb:.4} bits per byte)");
            }
            println!("steps              {} ({} tokens, {:.3e} FLOPs)", r.steps, r.tokens, r.flops);
            println!(
                "throughput         {:.0} tokens/s ({:.1} s in training steps, {wall:.1} s wall)",
                r.tokens_per_second(),
                r.seconds
            );
            println!("peak memory        {peak:.0} MiB");
        }
    }
    Ok(if r.fitness.is_some() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
