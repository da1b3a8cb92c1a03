//! `primer bench train` and `primer bench matmul`: the throughput of the compiled Transformer
//! and Primer-EZ against their hand-written references, with model FLOPs utilisation; and
//! libtorch's matmul GFLOP/s at the models' shapes.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use primer_torch::tch::{self, Device};

use primer_args::{BenchProgram, BenchSize, DeviceArg};
use primer_campaign::disturbance::{Spread, Watch};
use primer_campaign::paths;
use primer_campaign::resolve::load_program;
use primer_dsl::analysis::Cost;
use primer_torch::compile::Model;
use primer_torch::data::Corpus;
use primer_torch::reference::{Reference, Variant};
use primer_torch::train::{LanguageModel, Precision, TrainConfig};
use serde::Serialize;

use crate::setup::{device, memory_mib, reset_peak};

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
    /// bf16: the compiled program in bf16 against itself in f32 (the baseline columns).
    pub precision: Precision,
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
    /// What the `reference_*` columns measured: `reference` (the hand-written model) or `f32`
    /// (the compiled program in f32, with --precision bf16).
    baseline: &'static str,
    precision: Precision,
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
    let half = b.precision == Precision::Bf16;
    let (against, base, this) = if half {
        ("themselves in f32", "f32 tok/s", "bf16 tok/s")
    } else {
        ("their hand-written references", "ref tok/s", "comp tok/s")
    };
    println!(
        "bench train: compiled programs in {} vs {against} on {device:?} (libtorch {}); {} rounds of {} timed steps per model, after 3 warm-up steps; median round [min-max]",
        b.precision,
        tch_version(),
        b.rounds,
        b.steps
    );
    println!(
        "{:<12} {:<9} {base:>21} {this:>21} {:>19} {:>8} {:>8} {:>8} {:>10}",
        "program", "size", "ratio [per round]", "peak GF", "base MFU", "MFU", "RSS MiB"
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
            let compiled = Model::new(&p, config, device, tc.seed)?.with_precision(b.precision);
            let reference: Box<dyn LanguageModel> = if half {
                Box::new(Model::new(&p, config, device, tc.seed)?)
            } else {
                let mut reference = Reference::new(variant, config, device)?;
                reference.copy_from(&compiled)?;
                Box::new(reference)
            };
            let flops_per_token = Cost::of(&compiled.validated).training_flops_per_token;
            let (mut r, mut c, mut rm, mut cm) = (Vec::new(), Vec::new(), 0.0f64, 0.0f64);
            for _ in 0..b.rounds {
                let (t, m) = time_steps(reference.as_ref(), &data, &tc, config.seq_len, b.steps, device)?;
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
                baseline: if half { "f32" } else { "reference" },
                precision: b.precision,
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
    let ratio = if half {
        "bf16 / f32 tokens/s (medians): bf16 pays where it is above 1.0"
    } else {
        "compiled / reference tokens/s (medians), goal >= 1.0"
    };
    println!(
        "(sizes: Campaign = d_model 64, seq_len 64, 2 layers, batch 16, 1 thread; Large = d_model 128, seq_len 128, 2 layers, batch 16, 2 threads. ratio = {ratio}, with the lowest and highest ratio within one round; MFU = analytic training FLOPs/s over the best f32 matmul GFLOP/s at the size's shapes and threads, measured here)"
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
