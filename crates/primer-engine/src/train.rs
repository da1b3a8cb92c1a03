//! `primer train` and `primer bench train`: training one program, and the throughput of the
//! compiled Transformer against the hand-written reference.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use primer_torch::tch::{self, Device};

use primer_cli::cli::{DeviceArg, Format, ModelArgs, TrainArgs};
use primer_cli::paths;
use primer_cli::resolve::load_program;
use primer_dsl::analysis::Cost;
use primer_dsl::validate::validate;
use primer_torch::compile::Model;
use primer_torch::data::Corpus;
use primer_torch::reference::{Reference, Variant};
use primer_torch::train::{Budget, Decision, LanguageModel, TrainConfig, TrainJob, train_program};

pub fn device(d: DeviceArg) -> Result<Device> {
    match d {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda(_) if !tch::Cuda::is_available() => {
            bail!("--device {d}: CUDA is not available here (see `primer doctor`)")
        }
        DeviceArg::Cuda(n) => Ok(Device::Cuda(n)),
    }
}

pub fn settings(t: &TrainArgs) -> Result<(TrainConfig, Device)> {
    if let Some(n) = t.threads {
        tch::set_num_threads(n as i32);
    }
    Ok((t.config(), device(t.device)?))
}

/// Peak and current resident memory of this process, in MiB (from /proc/self/status).
pub fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Resets the peak-memory mark (Linux: writing 5 to clear_refs).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

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
    let config = m.config();
    let (tc, device) = settings(t)?;
    let corpus_path = corpus.map(Path::to_path_buf).unwrap_or_else(paths::default_corpus);
    let data = Corpus::load(&corpus_path, config.seq_len)
        .with_context(|| format!("the corpus (fix: {} or pass --corpus PATH)", paths::setup_hint()))?;
    let human = format == Format::Table;
    if human {
        println!(
            "training {} (d_model {}, seq_len {}, {} layers) on {} ({} training, {} validation bytes), budget {budget}, seed {}",
            file.display(),
            config.d_model,
            config.seq_len,
            config.n_layers,
            corpus_path.display(),
            data.train.len(),
            data.validation.len(),
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
                println!("validation loss    {loss:.4} nats per byte ({bpb:.4} bits per byte)");
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

/// Times `steps` training steps (after 3 warm-up steps): tokens per second and peak MiB.
fn time_steps(
    model: &dyn LanguageModel,
    data: &Corpus,
    tc: &TrainConfig,
    seq_len: usize,
    steps: u64,
    device: Device,
) -> Result<(f64, f64)> {
    use tch::nn::OptimizerConfig;
    let mut opt = tch::nn::AdamW::default().build(model.var_store(), tc.lr)?;
    let mut rng = primer_torch::data::batch_rng(tc.seed);
    let mut step = |rng: &mut _| -> Result<()> {
        let batch = data.train_batch(rng, tc.batch, seq_len, device);
        let loss = model.loss(&batch)?;
        opt.zero_grad();
        loss.f_backward()?;
        opt.clip_grad_norm(tc.clip);
        opt.step();
        Ok(())
    };
    for _ in 0..3 {
        step(&mut rng)?;
    }
    reset_peak();
    let start = Instant::now();
    for _ in 0..steps {
        step(&mut rng)?;
    }
    if device != Device::Cpu {
        tch::Cuda::synchronize(0);
    }
    let secs = start.elapsed().as_secs_f64();
    let (peak, _) = memory_mib();
    Ok(((steps as usize * tc.batch * seq_len) as f64 / secs, peak))
}

/// `primer bench train`.
pub fn bench(steps: u64, t: &TrainArgs, m: &ModelArgs) -> Result<ExitCode> {
    let config = m.config();
    let (tc, device) = settings(t)?;
    let data = Corpus::load(&paths::default_corpus(), config.seq_len)
        .with_context(|| format!("the corpus (fix: {})", paths::setup_hint()))?;
    let (p, _) = load_program(&paths::programs_dir().join("transformer.prim"))?;
    let compiled = Model::new(&p, config, device, tc.seed)?;
    let mut reference = Reference::new(Variant::Transformer, config, device)?;
    reference.copy_from(&compiled)?;
    println!(
        "bench train: transformer.prim compiled vs the hand-written reference; d_model {}, seq_len {}, {} layers, batch {}, {} threads, {:?}",
        config.d_model,
        config.seq_len,
        config.n_layers,
        tc.batch,
        tch::get_num_threads(),
        device
    );
    println!("{} parameters each; {steps} timed steps each, after 3 warm-up steps", compiled.num_parameters());
    // Reference, compiled, reference again: the two reference runs show the noise.
    let (r1, rm1) = time_steps(&reference, &data, &tc, config.seq_len, steps, device)?;
    let (c, cm) = time_steps(&compiled, &data, &tc, config.seq_len, steps, device)?;
    let (r2, rm2) = time_steps(&reference, &data, &tc, config.seq_len, steps, device)?;
    let r = 0.5 * (r1 + r2);
    println!("reference          {r:>10.0} tokens/s  (runs: {r1:.0}, {r2:.0})  peak RSS {:.0} MiB", rm1.max(rm2));
    println!("compiled program   {c:>10.0} tokens/s  peak RSS {cm:.0} MiB");
    println!("=> {:.3} compiled / reference (target >= 0.8)", c / r);
    Ok(ExitCode::SUCCESS)
}
