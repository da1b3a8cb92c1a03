//! `primer train`, `primer bench train` and `primer bench matmul`: training one program; the
//! throughput of the compiled Transformer and Primer-EZ against their hand-written references,
//! with model FLOPs utilisation; and libtorch's matmul GFLOP/s at the models' shapes.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use primer_torch::tch::{self, Device};

use primer_args::{BenchProgram, BenchSize, DeviceArg, Format, ModelArgs, TrainArgs};
use primer_campaign::disturbance::{Spread, Watch};
use primer_campaign::paths;
use primer_campaign::resolve::load_program;
use primer_dsl::ModelConfig;
use primer_dsl::analysis::Cost;
use primer_dsl::validate::validate;
use primer_tokens::{Choice, TokenizerSpec};
use primer_torch::compile::Model;
use primer_torch::data::Corpus;
use primer_torch::reference::{Reference, Variant};
use primer_torch::train::{Budget, Decision, LanguageModel, TrainConfig, TrainJob, train_program};
use serde::Serialize;

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

/// Reads a corpus and encodes it with the tokenizer `choice` names (`--tokenizer`: relative
/// tokenizer.json paths against the working folder).
pub fn load_corpus(path: &Path, window: usize, choice: &str) -> Result<(Corpus, TokenizerSpec)> {
    let choice = Choice::parse(choice, Path::new(".")).map_err(|e| anyhow::anyhow!("--tokenizer: {e}"))?;
    Corpus::load_choice(path, window, &choice)
        .with_context(|| format!("the corpus (fix: {} or pass --corpus PATH)", paths::setup_hint()))
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

/// What `primer bench train` runs.
pub struct TrainBench {
    pub steps: u64,
    pub rounds: usize,
    pub sizes: Vec<BenchSize>,
    pub programs: Vec<BenchProgram>,
    pub seed: u64,
    pub device: DeviceArg,
    pub out: Option<std::path::PathBuf>,
}

/// One matmul shape of a model size: `[m, k] x [k, n]`, `batch` of them (attention).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Shape {
    pub name: &'static str,
    pub batch: i64,
    pub m: i64,
    pub k: i64,
    pub n: i64,
}

/// The matmul shapes of a training step at `size`: projections, feed-forward, output head, a
/// weight gradient and the attention scores (8 heads).
pub fn shapes(size: BenchSize) -> Vec<Shape> {
    let c = size.model();
    let (bt, d, v) = ((size.batch() * c.seq_len) as i64, c.d_model as i64, c.vocab as i64);
    let t = c.seq_len as i64;
    let s = |name, batch, m, k, n| Shape { name, batch, m, k, n };
    vec![
        s("projection [BT,D]x[D,D]", 1, bt, d, d),
        s("feed-forward up [BT,D]x[D,4D]", 1, bt, d, 4 * d),
        s("feed-forward down [BT,4D]x[4D,D]", 1, bt, 4 * d, d),
        s("output head [BT,D]x[D,V]", 1, bt, d, v),
        s("weight gradient [4D,BT]x[BT,D]", 1, 4 * d, bt, d),
        s("attention scores 8B x [T,hd]x[hd,T]", 8 * size.batch() as i64, t, d / 8, t),
    ]
}

/// GFLOP/s of one matmul shape, in `kind`, measured for about `seconds`.
pub fn matmul_gflops(s: &Shape, kind: tch::Kind, device: Device, seconds: f64) -> Result<f64> {
    let opts = (kind, device);
    let (a, b) = if s.batch == 1 {
        (tch::Tensor::f_randn([s.m, s.k], opts)?, tch::Tensor::f_randn([s.k, s.n], opts)?)
    } else {
        (tch::Tensor::f_randn([s.batch, s.m, s.k], opts)?, tch::Tensor::f_randn([s.batch, s.k, s.n], opts)?)
    };
    let sync = || {
        if let Device::Cuda(n) = device {
            tch::Cuda::synchronize(n as i64);
        }
    };
    for _ in 0..5 {
        let _ = a.f_matmul(&b)?;
    }
    sync();
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed().as_secs_f64() < seconds {
        for _ in 0..10 {
            let _ = a.f_matmul(&b)?;
        }
        n += 10;
        sync();
    }
    let flops = 2.0 * (s.batch * s.m * s.k * s.n) as f64 * n as f64;
    Ok(flops / start.elapsed().as_secs_f64() / 1e9)
}

/// The best f32 matmul GFLOP/s over a size's shapes at the current thread count.
fn matmul_peak(size: BenchSize, device: Device, seconds: f64) -> Result<f64> {
    let mut best = 0.0f64;
    for s in shapes(size) {
        best = best.max(matmul_gflops(&s, tch::Kind::Float, device, seconds)?);
    }
    Ok(best)
}

/// `primer bench matmul`.
pub fn bench_matmul(
    threads: &[usize],
    sizes: &[BenchSize],
    seconds: f64,
    device: DeviceArg,
    out: Option<&Path>,
) -> Result<ExitCode> {
    let device = self::device(device)?;
    let watch = Watch::start();
    println!(
        "bench matmul: libtorch {} on {device:?}, GFLOP/s (2·m·k·n per product), {seconds} s per figure (the median of {MATMUL_ROUNDS} rounds; spread = (max - min) / median over the row)",
        tch_version()
    );
    let mut rows = Vec::new();
    for &size in sizes {
        let c = size.model();
        println!("\n{size:?} size (d_model {}, seq_len {}, batch {}):", c.d_model, c.seq_len, size.batch());
        print!("{:<40}", "shape");
        for &t in threads {
            print!(" {:>9} {:>9}", format!("f32 {t}t"), format!("bf16 {t}t"));
        }
        println!(" {:>10} {:>7}", "bf16/f32", "spread");
        let mut peak = vec![(0.0f64, 0.0f64); threads.len()];
        for s in shapes(size) {
            print!("{:<40}", s.name);
            let mut ratio = Vec::new();
            let mut spread = 0.0f64;
            for (i, &t) in threads.iter().enumerate() {
                tch::set_num_threads(t as i32);
                let rounds = |kind| -> Result<Spread> {
                    let v = (0..MATMUL_ROUNDS)
                        .map(|_| matmul_gflops(&s, kind, device, seconds / MATMUL_ROUNDS as f64))
                        .collect::<Result<Vec<f64>>>()?;
                    Ok(Spread::of(&v))
                };
                let (f32_s, bf16_s) = (rounds(tch::Kind::Float)?, rounds(tch::Kind::BFloat16)?);
                let (f32_g, bf16_g) = (f32_s.median, bf16_s.median);
                spread = spread.max(f32_s.relative()).max(bf16_s.relative());
                print!(" {f32_g:>9.1} {bf16_g:>9.1}");
                peak[i] = (peak[i].0.max(f32_g), peak[i].1.max(bf16_g));
                ratio.push(bf16_g / f32_g);
                rows.push(serde_json::json!({
                    "size": size, "shape": s, "threads": t, "f32_gflops": f32_g, "bf16_gflops": bf16_g,
                    "f32_rounds": f32_s, "bf16_rounds": bf16_s,
                }));
            }
            println!(
                " {:>10} {:>6.0}%",
                ratio.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join("/"),
                100.0 * spread
            );
        }
        print!("{:<40}", "best");
        for (f, b) in &peak {
            print!(" {f:>9.1} {b:>9.1}");
        }
        println!();
    }
    let verdict = watch.verdict();
    verdict.print();
    if let Some(out) = out {
        std::fs::write(out, serde_json::to_string_pretty(&serde_json::json!({"rows": rows, "machine": verdict}))?)
            .with_context(|| format!("--out {}", out.display()))?;
        println!("figures: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn tch_version() -> String {
    primer_torch::runtime::LibtorchInfo::probe().header_version
}

/// Rounds each matmul figure is measured in (the median is reported, with the spread).
const MATMUL_ROUNDS: usize = 3;

/// One program at one size.
#[derive(Debug, Serialize)]
struct TrainRow {
    program: BenchProgram,
    size: BenchSize,
    d_model: usize,
    seq_len: usize,
    n_layers: usize,
    batch: usize,
    threads: usize,
    parameters: i64,
    training_flops_per_token: u64,
    reference_tokens_per_s: f64,
    compiled_tokens_per_s: f64,
    reference_rounds: Vec<f64>,
    compiled_rounds: Vec<f64>,
    reference_spread: Spread,
    compiled_spread: Spread,
    /// compiled / reference, medians.
    ratio: f64,
    /// The ratio within each round (the two models run back to back): min and max, the
    /// interval the ratio of medians is read with.
    ratio_low: f64,
    ratio_high: f64,
    matmul_peak_gflops: f64,
    reference_mfu: f64,
    compiled_mfu: f64,
    reference_peak_mib: f64,
    compiled_peak_mib: f64,
}

/// `primer bench train`.
pub fn bench(b: &TrainBench) -> Result<ExitCode> {
    let device = device(b.device)?;
    let watch = Watch::start();
    let tc = TrainConfig { seed: b.seed, ..TrainConfig::default() };
    println!(
        "bench train: compiled programs vs their hand-written references on {device:?} (libtorch {}); {} rounds of {} timed steps per model, after 3 warm-up steps; median round [min-max]",
        tch_version(),
        b.rounds,
        b.steps
    );
    println!(
        "{:<12} {:<9} {:>21} {:>21} {:>19} {:>8} {:>8} {:>8} {:>10}",
        "program", "size", "ref tok/s", "comp tok/s", "ratio [per round]", "peak GF", "ref MFU", "comp MFU", "RSS MiB"
    );
    let mut rows = Vec::new();
    for &size in &b.sizes {
        let config = size.model();
        if device == Device::Cpu {
            tch::set_num_threads(size.threads() as i32);
        }
        let tc = TrainConfig { batch: size.batch(), ..tc };
        let data = Corpus::load_bytes(&paths::default_corpus(), config.seq_len)
            .with_context(|| format!("the corpus (fix: {})", paths::setup_hint()))?;
        let peak = matmul_peak(size, device, 0.3)?;
        for &program in &b.programs {
            let (file, variant) = match program {
                BenchProgram::Transformer => ("transformer.prim", Variant::Transformer),
                BenchProgram::PrimerEz => ("primer_ez.prim", Variant::PrimerEz),
            };
            let (p, _) = load_program(&paths::programs_dir().join(file))?;
            let compiled = Model::new(&p, config, device, tc.seed)?;
            let mut reference = Reference::new(variant, config, device)?;
            reference.copy_from(&compiled)?;
            let flops_per_token = Cost::of(&compiled.validated).training_flops_per_token;
            let (mut r, mut c, mut rm, mut cm) = (Vec::new(), Vec::new(), 0.0f64, 0.0f64);
            for _ in 0..b.rounds {
                let (t, m) = time_steps(&reference, &data, &tc, config.seq_len, b.steps, device)?;
                r.push(t);
                rm = rm.max(m);
                let (t, m) = time_steps(&compiled, &data, &tc, config.seq_len, b.steps, device)?;
                c.push(t);
                cm = cm.max(m);
            }
            let (rs, cs) = (Spread::of(&r), Spread::of(&c));
            let (rt, ct) = (rs.median, cs.median);
            let per_round = Spread::of(&c.iter().zip(&r).map(|(c, r)| c / r).collect::<Vec<_>>());
            let mfu = |tps: f64| flops_per_token as f64 * tps / (peak * 1e9);
            let row = TrainRow {
                program,
                size,
                d_model: config.d_model,
                seq_len: config.seq_len,
                n_layers: config.n_layers,
                batch: tc.batch,
                threads: tch::get_num_threads() as usize,
                parameters: compiled.num_parameters(),
                training_flops_per_token: flops_per_token,
                reference_tokens_per_s: rt,
                compiled_tokens_per_s: ct,
                reference_rounds: r,
                compiled_rounds: c,
                reference_spread: rs,
                compiled_spread: cs,
                ratio: ct / rt,
                ratio_low: per_round.min,
                ratio_high: per_round.max,
                matmul_peak_gflops: peak,
                reference_mfu: mfu(rt),
                compiled_mfu: mfu(ct),
                reference_peak_mib: rm,
                compiled_peak_mib: cm,
            };
            println!(
                "{:<12} {:<9} {:>21} {:>21} {:>19} {:>8.1} {:>7.1}% {:>7.1}% {:>5.0}/{:<4.0}",
                format!("{program:?}"),
                format!("{size:?}"),
                rs.show(0),
                cs.show(0),
                format!("{:.3} [{:.3}-{:.3}]", row.ratio, row.ratio_low, row.ratio_high),
                peak,
                100.0 * row.reference_mfu,
                100.0 * row.compiled_mfu,
                rm,
                cm
            );
            rows.push(row);
        }
    }
    println!(
        "(sizes: Campaign = d_model 64, seq_len 64, 2 layers, batch 16, 1 thread; Large = d_model 128, seq_len 128, 2 layers, batch 16, 2 threads. ratio = compiled / reference tokens/s (medians), goal >= 1.0, with the lowest and highest ratio within one round; MFU = analytic training FLOPs/s over the best f32 matmul GFLOP/s at the size's shapes and threads, measured here)"
    );
    let verdict = watch.verdict();
    verdict.print();
    if let Some(out) = &b.out {
        std::fs::write(out, serde_json::to_string_pretty(&serde_json::json!({"rows": rows, "machine": verdict}))?)
            .with_context(|| format!("--out {}", out.display()))?;
        println!("figures: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}
