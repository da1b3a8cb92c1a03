//! Compiled programs against the hand-written references (same logits, same loss after 20
//! training steps), causality of random programs, every op training a step, failures as
//! outcomes, determinism, and the functional fingerprint.

use std::path::PathBuf;

use primer_dsl::analysis::canonical_hash;
use primer_dsl::{ModelConfig, Op, Program, SearchSpace, text};
use primer_evolve::Mutator;
use primer_evolve::evolution::rng_for;
mod common;
use common::{program, root, tokens, with_op};
use primer_torch::compile::{Fusion, Model};
use primer_torch::data::Corpus;
use primer_torch::fingerprint::fingerprint;
use primer_torch::reference::{Reference, Variant};
use primer_torch::train::{Budget, Decision, Outcome, TrainConfig, TrainJob, TrainResult, train, train_program};
use tch::{Device, Tensor};

/// The default corpus, fetched by `cargo xtask setup`.
fn corpus(window: usize) -> Corpus {
    let path = std::env::var_os("PRIMER_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/corpus/shakespeare.txt"));
    Corpus::load_bytes(&path, window).expect("the corpus (run `cargo xtask setup`)")
}

fn small() -> ModelConfig {
    ModelConfig { d_model: 32, seq_len: 16, n_layers: 1, vocab: 256 }
}

fn job<'a>(corpus: &'a Corpus, config: ModelConfig, tc: &'a TrainConfig, budget: Budget) -> TrainJob<'a> {
    TrainJob { corpus, config, settings: tc, budget, checkpoints: &[], device: Device::Cpu, stop: None }
}

/// Trains `p` with no checkpoints.
fn run(p: &Program, job: &TrainJob) -> TrainResult {
    train_program(p, job, &mut |_, _| Decision::Continue, &mut |_| {})
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

/// Compiled `.prim` and reference, same weights, in double precision.
fn pair(name: &str, variant: Variant, config: ModelConfig) -> (Model, Reference) {
    let mut m = Model::new(&program(name), config, Device::Cpu, 1).unwrap();
    let mut r = Reference::new(variant, config, Device::Cpu).unwrap();
    m.vs.double();
    r.vs.double();
    r.copy_from(&m).unwrap();
    (m, r)
}

/// The files' attention scale is `rsqrt(head)`: 1/sqrt(head width) at every size, as the
/// references (scaled dot-product attention) use. At d_model 32 a head is 4 channels (0.5).
#[test]
fn compiled_programs_match_the_references_at_small_sizes_too() {
    for d in [32, 64] {
        let config = ModelConfig { d_model: d, seq_len: 16, n_layers: 2, vocab: 256 };
        for (name, variant) in [("transformer.prim", Variant::Transformer), ("primer_ez.prim", Variant::PrimerEz)] {
            let (m, r) = pair(name, variant, config);
            let x = tokens(3, 16, 9);
            let diff = max_abs_diff(&m.forward(&x).unwrap(), &r.forward(&x).unwrap());
            assert!(diff < 1e-9, "{name} at d_model {d}: logits differ by {diff}");
        }
    }
}

/// A BPE corpus and the spread validation set: the model's vocabulary is the tokenizer's, the
/// loss is measured on every window at the end and on its 4 parts, and bits per byte divide by
/// the bytes a token stands for.
#[test]
fn bpe_tokens_and_the_spread_validation_set_train_and_measure() {
    let path = std::env::var_os("PRIMER_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".cache/corpus/shakespeare.txt"));
    let (data, spec) = Corpus::load_choice(&path, 16, &primer_tokens::Choice::Bpe(512)).unwrap();
    assert_eq!((data.vocab(), spec.vocab), (512, 512));
    let config = ModelConfig { d_model: 32, seq_len: 16, n_layers: 1, vocab: 512 };
    let tc =
        TrainConfig { batch: 4, eval_interval: 5, val_batches: 2, validation_bytes: 8192, ..TrainConfig::default() };
    let r = run(&program("transformer.prim"), &job(&data, config, &tc, Budget::Steps(10)));
    assert_eq!(r.outcome, Outcome::Finished);
    let set = data.tokens.validation_set(primer_torch::data::ValidationRule::Spread { bytes: 8192 }, 16);
    assert!(set.bytes >= 8192 && set.offsets.len() * 16 == set.tokens as usize);
    assert!(
        (r.bytes_per_token - set.bytes_per_token()).abs() < 1e-12 && r.bytes_per_token > 1.5,
        "{}",
        r.bytes_per_token
    );
    // The fitness is the mean over windows: the parts' means weighted by their windows.
    assert_eq!(r.validation_parts.len(), 4);
    let n = set.offsets.len();
    let sizes: Vec<f64> = (0..4).map(|p| (0..n).filter(|i| i % 4 == p).count() as f64).collect();
    let weighted = r.validation_parts.iter().zip(&sizes).map(|(l, w)| l * w).sum::<f64>() / n as f64;
    let fitness = r.fitness.unwrap();
    assert!((weighted - fitness).abs() < 1e-12 * fitness, "{weighted} vs {fitness}: the same f64 sums regrouped");
    let bpb = r.bits_per_byte().unwrap();
    assert!((bpb - fitness / std::f64::consts::LN_2 / r.bytes_per_token).abs() < 1e-12);
    assert!(r.validation_error().unwrap() > 0.0);
    // A model whose vocabulary is not the tokenizer's is refused, not run.
    let wrong = run(&program("transformer.prim"), &job(&data, small(), &tc, Budget::Steps(2)));
    assert!(
        matches!(&wrong.outcome, Outcome::Invalid { reason } if reason.contains("256 tokens") && reason.contains("bpe:512")),
        "{:?}",
        wrong.outcome
    );
}

#[test]
fn compiled_programs_match_the_references_before_and_after_training() {
    // d_model 128: 8 heads of 16 channels (attn_scale 0.25).
    let config = ModelConfig { d_model: 128, seq_len: 32, n_layers: 2, vocab: 256 };
    let data = corpus(config.seq_len);
    for (name, variant) in [("transformer.prim", Variant::Transformer), ("primer_ez.prim", Variant::PrimerEz)] {
        let (m, r) = pair(name, variant, config);
        assert_eq!(m.num_parameters(), r.vs.trainable_variables().iter().map(|t| t.numel() as i64).sum::<i64>());
        let x = tokens(4, 32, 5);
        let diff = max_abs_diff(&m.forward(&x).unwrap(), &r.forward(&x).unwrap());
        assert!(diff < 1e-9, "{name}: logits differ by {diff}");
        // 20 steps of the same training on both.
        let tc = TrainConfig { batch: 4, eval_interval: 10, val_batches: 2, ..TrainConfig::default() };
        let job = job(&data, config, &tc, Budget::Steps(20));
        let a = train(&m, 1, &job, &mut |_, _| Decision::Continue, &mut |_| {});
        let b = train(&r, 1, &job, &mut |_, _| Decision::Continue, &mut |_| {});
        assert_eq!((&a.outcome, &b.outcome), (&Outcome::Finished, &Outcome::Finished));
        let (la, lb) = (a.fitness.unwrap(), b.fitness.unwrap());
        println!("{name}: validation loss after 20 steps, compiled {la:.8}, reference {lb:.8}");
        assert!((la - lb).abs() < 1e-4, "{name}: {la} vs {lb}");
        assert!(la < 5.0, "20 steps learn something below ln 256 = 5.55: {la}");
        let diff = max_abs_diff(&m.forward(&x).unwrap(), &r.forward(&x).unwrap());
        assert!(diff < 1e-4, "{name}: logits after training differ by {diff}");
    }
}

/// Whether logits at positions < t are unchanged when token t changes.
fn causal(m: &Model, t: i64) -> bool {
    let x = tokens(2, m.config.seq_len as i64, 3);
    let y = x.copy();
    y.narrow(1, t, 1).copy_(&(x.narrow(1, t, 1) + 1).remainder(256));
    let (a, b) = tch::no_grad(|| (m.forward(&x).unwrap(), m.forward(&y).unwrap()));
    let (a, b) = (a.narrow(1, 0, t), b.narrow(1, 0, t));
    let both_nan = a.isnan().logical_and(&b.isnan());
    let close = (&a - &b).abs().le(1e-9).logical_or(&both_nan).logical_or(&a.eq_tensor(&b));
    close.all().int64_value(&[]) == 1
}

#[test]
fn random_programs_are_causal() {
    let space = SearchSpace::load(&root().join("search-spaces/primer-cpu.toml")).unwrap();
    let config = small();
    let mutator = Mutator::new(space, config, 100);
    let seeds = [program("transformer.prim"), program("primer_ez.prim"), program("primer.prim")];
    let mut checked = 0;
    for (n, seed) in seeds.iter().cycle().take(210).enumerate() {
        // 1 to 4 mutations of a seed.
        let mut p = seed.clone();
        let mut rng = rng_for(77, n as u64);
        for _ in 0..1 + n % 4 {
            p = mutator.child(&mut rng, &p, &canonical_hash(&p), &|_| false).unwrap().program;
        }
        let mut m = Model::new(&p, config, Device::Cpu, n as u64).unwrap();
        m.vs.double();
        for t in [1, 7, 15] {
            assert!(causal(&m, t), "not causal at {t}:\n{}", text::print(&p));
        }
        checked += 1;
    }
    assert_eq!(checked, 210);
}

#[test]
fn every_op_compiles_and_trains_a_step() {
    let space = SearchSpace::load(&root().join("search-spaces/primer.toml")).unwrap();
    let config = small();
    let mutator = Mutator::new(space, config, 100);
    let t = program("transformer.prim");
    let data = corpus(config.seq_len);
    let tc = TrainConfig { batch: 2, val_batches: 1, ..TrainConfig::default() };
    for &op in Op::PRIMITIVES {
        let p = with_op(&t, &mutator, op).unwrap_or_else(|| panic!("no valid program with a live {op}"));
        let r = run(&p, &job(&data, config, &tc, Budget::Steps(1)));
        assert!(
            matches!(r.outcome, Outcome::Finished | Outcome::Diverged { .. }),
            "{op}: {:?}\n{}",
            r.outcome,
            text::print(&p)
        );
    }
}

#[test]
fn invalid_and_diverging_programs_are_outcomes() {
    let config = small();
    let data = corpus(config.seq_len);
    let tc = TrainConfig { batch: 2, val_batches: 1, ..TrainConfig::default() };
    let go = |src: &str| {
        let p = text::parse(src, "<test>").unwrap();
        run(&p, &job(&data, config, &tc, Budget::Steps(5)))
    };
    let invalid = go("bank {\n  dim ffn = 32\n}\ndef main(x) {\n  y = DENSE(x, ffn)\n}\n");
    assert!(
        matches!(&invalid.outcome, Outcome::Invalid { reason } if reason.contains("main must return a sequence of width d_model")),
        "{:?}",
        invalid.outcome
    );
    let diverged =
        go("bank {\n  const big = 1e6\n}\ndef main(x) {\n  a = C_MUL(x, big)\n  e = EXP(a)\n  y = ADD(x, e)\n}\n");
    assert_eq!(diverged.outcome, Outcome::Diverged { step: 1 });
    assert_eq!(diverged.fitness, None);
    // A model far larger than this machine's memory: an outcome, before anything is allocated.
    let huge = ModelConfig { d_model: 16_384, seq_len: 16, n_layers: 4, vocab: 256 };
    let p = program("transformer.prim");
    let r = run(&p, &job(&data, huge, &tc, Budget::Steps(1)));
    assert!(
        matches!(&r.outcome, Outcome::OutOfMemory { message } if message.contains("parameters need about")),
        "{:?}",
        r.outcome
    );
}

#[test]
fn same_program_seed_and_budget_give_the_same_loss() {
    let config = small();
    let data = corpus(config.seq_len);
    let p = program("primer_ez.prim");
    let tc = TrainConfig { batch: 4, val_batches: 2, eval_interval: 5, seed: 3, ..TrainConfig::default() };
    let go = |budget| run(&p, &job(&data, config, &tc, budget));
    for budget in [Budget::Steps(12), Budget::Flops(3e8)] {
        let (a, b) = (go(budget), go(budget));
        assert_eq!(a.outcome, Outcome::Finished);
        assert_eq!(a.fitness.unwrap().to_bits(), b.fitness.unwrap().to_bits(), "{budget}");
        // The curves agree in everything but wall-clock seconds.
        let strip = |r: &TrainResult| {
            r.curve
                .iter()
                .map(|c| (c.step, c.tokens, c.flops, c.train_loss.to_bits(), c.val_loss.map(f64::to_bits)))
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&a), strip(&b));
    }
    let other = run(&p, &job(&data, config, &TrainConfig { seed: 4, ..tc }, Budget::Steps(12)));
    assert_ne!(other.fitness, go(Budget::Steps(12)).fitness);
}

#[test]
fn checkpoints_can_stop_training() {
    let config = small();
    let data = corpus(config.seq_len);
    let p = program("transformer.prim");
    let tc = TrainConfig { batch: 2, val_batches: 1, eval_interval: 100, ..TrainConfig::default() };
    let mut seen = Vec::new();
    let job = TrainJob { checkpoints: &[1.0 / 7.0, 3.0 / 7.0], ..job(&data, config, &tc, Budget::Steps(21)) };
    let mut stop_at_second = |k: usize, loss: f64| {
        seen.push((k, loss));
        if k == 1 { Decision::Stop } else { Decision::Continue }
    };
    let r = train_program(&p, &job, &mut stop_at_second, &mut |_| {});
    assert_eq!(r.outcome, Outcome::Stopped { checkpoint: 1 });
    assert_eq!(r.steps, 9, "3/7 of 21 steps");
    assert_eq!(seen.len(), 2);
    assert_eq!(r.fitness, Some(seen[1].1));
    assert_eq!(r.checkpoints_reached, 2);
}

#[test]
fn fingerprints_match_for_functionally_equal_programs() {
    let config = small();
    let t = program("transformer.prim");
    let ft = fingerprint(&t, config).unwrap();
    // Renamed values and a dead instruction: the same function.
    let renamed = text::parse(&text::print(&t).replace("relu", "activation"), "<renamed>").unwrap();
    assert_eq!(fingerprint(&renamed, config).unwrap(), ft);
    // ADD(x, attn) instead of ADD(attn, x)... the residual with its operands swapped.
    let swapped =
        text::parse(&text::print(&t).replace("h     = ADD(x, attn)", "h     = ADD(attn, x)"), "<swapped>").unwrap();
    assert_ne!(canonical_hash(&swapped), canonical_hash(&t), "structurally different");
    assert_eq!(fingerprint(&swapped, config).unwrap(), ft, "functionally equal");
    assert_ne!(fingerprint(&program("primer_ez.prim"), config).unwrap(), ft);
}

#[test]
fn parameter_count_matches_the_dsl() {
    for name in ["transformer.prim", "primer_ez.prim", "primer.prim"] {
        let p = program(name);
        let config = ModelConfig { d_model: 64, seq_len: 32, n_layers: 2, vocab: 256 };
        let v = primer_dsl::validate::validate(&p, &config).unwrap();
        let m = Model::new(&p, config, Device::Cpu, 0).unwrap();
        assert_eq!(m.num_parameters() as u64, primer_dsl::Cost::of(&v).model_params, "{name}");
    }
}

/// The fused kernels (attention, layer norm) against the plain primitive path: same logits and
/// same gradients, on the reference programs and on mutants of them (where patterns may be
/// broken, partly shared, or branched).
#[test]
fn fused_kernels_agree_with_the_primitive_path() {
    let config = ModelConfig { d_model: 64, seq_len: 16, n_layers: 2, vocab: 256 };
    let space = SearchSpace::load(&root().join("search-spaces/primer-cpu.toml")).unwrap();
    let mutator = Mutator::new(space, config, 100);
    let mut programs = vec![program("transformer.prim"), program("primer_ez.prim"), program("primer.prim")];
    for n in 0..60u64 {
        let seed = &programs[(n % 3) as usize];
        let child = mutator.child(&mut rng_for(5, n), seed, &canonical_hash(seed), &|_| false).unwrap();
        programs.push(child.program);
    }
    let x = tokens(2, 16, 9);
    let mut fused_any = 0;
    for (n, p) in programs.iter().enumerate() {
        let build = |fusion| {
            let mut m = Model::with_fusion(p, config, Device::Cpu, n as u64, fusion).unwrap();
            m.vs.double();
            m
        };
        let (fused, plain) = (build(Fusion::Fused), build(Fusion::Primitives));
        assert_eq!(plain.fused(), (0, 0));
        if n < 3 {
            // Per layer: one attention call site, two norms (primer.prim: its custom norm is not
            // a layer norm, so only the attention is fused there).
            let want = if n == 2 { (2, 0) } else { (2, 4) };
            assert_eq!(fused.fused(), want, "program {n}");
        }
        fused_any += (fused.fused() != (0, 0)) as usize;
        let (a, b) = (fused.forward(&x).unwrap(), plain.forward(&x).unwrap());
        let finite = a.isfinite().all().int64_value(&[]) == 1;
        if finite {
            let d = max_abs_diff(&a, &b);
            assert!(d < 1e-8, "program {n}: logits differ by {d}\n{}", text::print(p));
            // Gradients agree too.
            let ga = fused.loss(&x).unwrap();
            ga.backward();
            let gb = plain.loss(&x).unwrap();
            gb.backward();
            let (pa, pb) = (fused.parameters(), plain.parameters());
            for (name, t) in &pa {
                // Equal up to rounding, NaN where the other is NaN (0/0 in a broken softmax).
                let (ga, gb) = (t.grad(), pb[name].grad());
                let scale = 1.0 + ga.nan_to_num(0.0, 0.0, 0.0).abs().max().double_value(&[]);
                let close = (&ga - &gb).abs().le(1e-8 * scale).logical_or(&ga.isnan().logical_and(&gb.isnan()));
                assert!(
                    close.all().int64_value(&[]) == 1,
                    "program {n}: gradients of {name} differ\n{}",
                    text::print(p)
                );
            }
        }
    }
    assert!(fused_any > 40, "most mutants keep some fusable pattern: {fused_any}");
}

/// A CONSTANT whose unused in1 names a dead value (mutations and JSON can make one) compiles
/// and trains: the compiler takes the constant's shape from the first input, not from the dead
/// value (it panicked before; found by `primer drill programs`).
#[test]
fn a_constant_naming_a_dead_value_compiles_and_trains() {
    let src = "bank {\n const c = 0.5\n dim d = 8\n}\ndef main(x) {\n  dead = DENSE(x, d)\n  z = CONSTANT(c)\n  y = ADD(x, z)\n}\n";
    let mut p = text::parse(src, "<test>").unwrap();
    p.subprograms[0].instructions[1].in1 = 1;
    let data = corpus(small().seq_len);
    let tc = TrainConfig { batch: 2, ..TrainConfig::default() };
    let r = run(&p, &job(&data, small(), &tc, Budget::Steps(2)));
    assert_eq!(r.outcome, Outcome::Finished, "{:?}", r.outcome);
}
