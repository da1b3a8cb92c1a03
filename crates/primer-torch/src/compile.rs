//! The compiler: a program and a model config become a libtorch model, the fixed stem (byte
//! embedding, learned positions, `n_layers` copies of the program's `main` with separate
//! weights, final layer norm, output projection) around the evolved layer.
//!
//! Values are tensors `[B, K, T, C]` (sequences) or `[B, K, T, T]` (squares), where K is the
//! number of parallel copies: a `CALL[k]` repeats its inputs k times along K, runs the callee
//! once on the batched axis with per-copy weights stored in one tensor (`[K·k, C_in, C_out]`
//! for a dense), and concatenates the copies' outputs on channels. Parameters are created per
//! call site (two calls of `norm` have two sets of weights), in instruction order, under names
//! `l{layer}.{call site}.….{instruction}.{w|b|g}`.
//!
//! No shape is computed from the batch size (it is `-1` in every reshape), so a module traced
//! from [`Model::forward`] (the TorchScript export) takes any batch size.
//!
//! Every tensor call inside a candidate is fallible (`f_*`): a libtorch error (a shape the
//! validator missed, out of memory) comes back as an error, never a panic.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use tch::nn::{Init, Path, VarStore};
use tch::{Device, Kind, TchError, Tensor};

use primer_dsl::op::ShapeRule;
use primer_dsl::training::Precision;
use primer_dsl::validate::{Validated, validate};
use primer_dsl::{Field, ModelConfig, Op, Program, Shape, ValidationError};

use crate::lower::{Lowering, Structural, lowering};
use crate::patterns::{self, Pattern};

/// A program that cannot become a model.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("invalid program: {0}")]
    Invalid(#[from] ValidationError),
    #[error("libtorch: {0}")]
    Torch(#[from] TchError),
    #[error(
        "out of memory: {parameters} parameters need about {need_mib} MiB for weights, gradients and AdamW state, {available_mib} MiB are available"
    )]
    OutOfMemory { parameters: u64, need_mib: u64, available_mib: u64 },
}

/// Memory this process may still use, in bytes: MemAvailable from /proc/meminfo (None where
/// unknown).
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 =
        info.lines().find_map(|l| l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?.trim().parse().ok())?;
    Some(kb * 1024)
}

/// One instruction, ready to run.
enum Step {
    Primitive {
        op: Op,
        in1: usize,
        in2: usize,
        constant: f64,
        params: Vec<Tensor>,
    },
    Call {
        callee: Box<Compiled>,
        branching: i64,
        in1: usize,
        in2: Option<usize>,
    },
    /// A recognised causal attention (T_MAT_MUL, C_MUL, MASK, the softmax primitives,
    /// MAT_MUL) run as one fused scaled-dot-product attention.
    Attention {
        q: usize,
        k: usize,
        v: usize,
        scale: f64,
    },
    /// A recognised layer norm (mean, centre, variance, epsilon, root, divide, SCALE, SHIFT)
    /// run as libtorch's layer norm with the SCALE and SHIFT parameters.
    LayerNorm {
        x: usize,
        eps: f64,
        gain: Tensor,
        bias: Tensor,
    },
    /// `MAX(x, CONSTANT(c))` (or `MIN`, either operand order) run as `threshold(x, c, c)`, i.e.
    /// `clamp_min(x, c)` (`clamp_max` for MIN): the same values without materialising the
    /// constant, and a one-mask backward (at an exact tie x = c the gradient is ReLU's, where
    /// `maximum` splits it).
    Clamp {
        x: usize,
        bound: f64,
        /// `true` for MAX (a lower bound), `false` for MIN.
        lower: bool,
    },
}

/// Whether the compiler replaces recognised primitive patterns by fused kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fusion {
    /// Attention and layer-norm patterns run as fused kernels (the default: same results,
    /// faster).
    #[default]
    Fused,
    /// Every instruction runs as its primitive: the plain reference path.
    Primitives,
}

/// One call site's subprogram: steps for live instructions (`None` for dead ones).
struct Compiled {
    n_inputs: usize,
    /// K, the number of copies this call site runs. Values may carry 1 instead of K on the
    /// copies axis while all copies are still equal (a call's input before any per-copy
    /// weight): they broadcast, and are materialised only where an op needs the K copies.
    copies: i64,
    steps: Vec<Option<Step>>,
}

/// `x` with K = `n` copies on axis 1 (a broadcast value is materialised).
fn materialize(x: &Tensor, n: i64) -> Result<Tensor, TchError> {
    if x.size()[1] == n {
        return Ok(x.shallow_clone());
    }
    x.f_expand([-1, n, -1, -1], false)?.f_contiguous()
}

/// A compiled model. Weights live in [`Model::vs`].
pub struct Model {
    pub vs: VarStore,
    pub config: ModelConfig,
    pub validated: Validated,
    layers: Vec<Compiled>,
    tok: Tensor,
    pos: Tensor,
    norm_g: Tensor,
    norm_b: Tensor,
    head_w: Tensor,
    head_b: Tensor,
    /// `true` where s > t, `[T, T]`.
    future: Tensor,
    /// bf16 mixed precision ([`Model::with_precision`]).
    half: bool,
}

/// Standard deviation of the stem's embeddings at init (GPT-2's).
pub const EMBEDDING_STD: f64 = 0.02;

impl Model {
    /// Validates and compiles `p`; random initial weights come from `seed` (see
    /// [`Initializer`]).
    pub fn new(p: &Program, config: ModelConfig, device: Device, seed: u64) -> Result<Model, CompileError> {
        Model::with_fusion(p, config, device, seed, Fusion::Fused)
    }

    /// [`Model::new`], choosing whether recognised patterns run fused.
    pub fn with_fusion(
        p: &Program,
        config: ModelConfig,
        device: Device,
        seed: u64,
        fusion: Fusion,
    ) -> Result<Model, CompileError> {
        // Derived constants (`rsqrt(head)`) take their values at this size.
        let p = &p.at_size(&config);
        let validated = validate(p, &config)?;
        // Weights, gradients and two AdamW moments, 4 bytes each: refuse before allocating
        // what cannot fit (an allocation failure in Rust would abort the process).
        let parameters = primer_dsl::Cost::of(&validated).model_params;
        let need = parameters.saturating_mul(16);
        if let Some(available) = available_memory()
            && device == Device::Cpu
            && need > available
        {
            return Err(CompileError::OutOfMemory { parameters, need_mib: need >> 20, available_mib: available >> 20 });
        }
        let vs = VarStore::new(device);
        let root = vs.root();
        let mut init = Initializer::new(seed);
        let (d, t, v) = (config.d_model as i64, config.seq_len as i64, config.vocab as i64);
        let tok = init.normal(&root, "tok", &[v, d], EMBEDDING_STD)?;
        let pos = init.normal(&root, "pos", &[t, d], EMBEDDING_STD)?;
        let mut layers = Vec::new();
        for l in 0..config.n_layers {
            let path = &root / format!("l{l}");
            layers.push(compile_instance(p, &validated, validated.main, &path, fusion, &mut init)?);
        }
        let norm_g = root.f_var("norm_g", &[d], Init::Const(1.0))?;
        let norm_b = root.f_var("norm_b", &[d], Init::Const(0.0))?;
        let head_w = init.normal(&root, "head_w", &[d, v], fan_in(d))?;
        let head_b = root.f_var("head_b", &[v], Init::Const(0.0))?;
        let future = Tensor::f_ones([t, t], (Kind::Bool, device))?.f_triu(1)?;
        Ok(Model { vs, config, validated, layers, tok, pos, norm_g, norm_b, head_w, head_b, future, half: false })
    }

    /// The model run in `precision`: with [`Precision::Bf16`], the inputs of every matrix
    /// product, convolution and attention (and the output head) are cast to bf16 and their
    /// results back to f32, while the weights (the optimizer's master copy), embeddings,
    /// element-wise ops, reductions, norms, the softmax of the loss and the gradients' sums stay
    /// in f32: what CUDA autocast does with bf16, written out so that it runs (and is tested) on
    /// any device. tch's `autocast` is float16 on CUDA only.
    pub fn with_precision(mut self, precision: Precision) -> Model {
        self.half = precision == Precision::Bf16;
        self
    }

    /// Logits `[B, T, vocab]` for tokens `[B, T]` (int64, T = the config's seq_len or less).
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor, TchError> {
        let t = tokens.size()[1];
        let x = Tensor::f_embedding(&self.tok, tokens, -1, false, false)?.f_add(&self.pos.f_narrow(0, 0, t)?)?;
        let mut h = x.f_unsqueeze(1)?; // [B, 1, T, D]
        let future = self.future.f_narrow(0, 0, t)?.f_narrow(1, 0, t)?;
        let cx = Ctx { future: &future, half: self.half };
        for layer in &self.layers {
            h = run(layer, &[h], &cx)?;
        }
        let h = h.f_squeeze_dim(1)?;
        let d = self.config.d_model as i64;
        let normed = h.f_layer_norm([d], Some(&self.norm_g), Some(&self.norm_b), 1e-5, false)?;
        mixed(self.half, [&normed, &self.head_w], |[x, w]| x.f_matmul(w))?.f_add(&self.head_b)
    }

    /// Mean next-token cross-entropy (nats) of `tokens[:, :-1]` predicting `tokens[:, 1:]`,
    /// for windows `[B, T+1]`.
    pub fn loss(&self, window: &Tensor) -> Result<Tensor, TchError> {
        let t = window.size()[1] - 1;
        let input = window.f_narrow(1, 0, t)?;
        let target = window.f_narrow(1, 1, t)?;
        cross_entropy(&self.forward(&input)?, &target)
    }

    /// How many call sites run fused: (attentions, layer norms), over all layers.
    pub fn fused(&self) -> (usize, usize) {
        fn count(c: &Compiled, acc: &mut (usize, usize)) {
            for step in c.steps.iter().flatten() {
                match step {
                    Step::Attention { .. } => acc.0 += 1,
                    Step::LayerNorm { .. } => acc.1 += 1,
                    Step::Call { callee, .. } => count(callee, acc),
                    Step::Primitive { .. } | Step::Clamp { .. } => {}
                }
            }
        }
        let mut acc = (0, 0);
        for l in &self.layers {
            count(l, &mut acc);
        }
        acc
    }

    /// Trainable parameters, by name.
    pub fn parameters(&self) -> HashMap<String, Tensor> {
        self.vs.variables()
    }

    /// Total number of trainable scalars (matches `primer_dsl::Cost::model_params`).
    pub fn num_parameters(&self) -> i64 {
        self.vs.trainable_variables().iter().map(|t| t.numel() as i64).sum()
    }
}

/// Mean cross-entropy of logits `[B, T, V]` against targets `[B, T]`.
pub fn cross_entropy(logits: &Tensor, target: &Tensor) -> Result<Tensor, TchError> {
    let logp = logits.f_log_softmax(-1, None::<Kind>)?;
    logp.f_gather(-1, &target.f_unsqueeze(-1)?, false)?.f_neg()?.f_mean(None::<Kind>)
}

/// The standard deviation of fan-in scaled weights.
fn fan_in(c_in: i64) -> f64 {
    1.0 / (c_in as f64).sqrt()
}

/// Draws every random initial weight from one ChaCha stream of the model's seed, in creation
/// order: the same program and seed give the same weights whatever else runs in the process
/// (libtorch's global generator is never used).
pub struct Initializer {
    rng: ChaCha8Rng,
}

impl Initializer {
    pub fn new(seed: u64) -> Initializer {
        Initializer { rng: ChaCha8Rng::seed_from_u64(seed) }
    }

    /// A trainable variable `name` under `path`, normal(0, std) entries.
    pub fn normal(&mut self, path: &Path, name: &str, dims: &[i64], std: f64) -> Result<Tensor, TchError> {
        let n: i64 = dims.iter().product();
        let values: Vec<f32> = (0..n).map(|_| (std * self.rng.sample::<f64, _>(StandardNormal)) as f32).collect();
        path.f_var_copy(name, &Tensor::from_slice(&values).f_view(dims)?)
    }
}

/// Compiles one instance (a call site's view of a subprogram) with its own parameters.
fn compile_instance(
    p: &Program,
    v: &Validated,
    instance: usize,
    path: &Path,
    fusion: Fusion,
    init: &mut Initializer,
) -> Result<Compiled, TchError> {
    let inst = &v.instances[instance];
    let sub = &p.subprograms[inst.subprogram];
    let n = inst.copies as i64;
    let mut steps = Vec::new();
    for (i, ins) in sub.instructions.iter().enumerate() {
        let Some(out) = inst.values[sub.value_of(i)] else {
            steps.push(None);
            continue;
        };
        let here = path / ins.name.as_str();
        let c_in = inst.values[ins.in1].map_or(0, |s| s.width_or(0)) as i64;
        let c_out = out.width_or(0) as i64;
        let step = match ins.op {
            Op::Call(_) => {
                let callee = inst.callees[i].expect("validated calls have callee instances");
                let two = p.subprograms[v.instances[callee].subprogram].inputs.len() == 2;
                Step::Call {
                    callee: Box::new(compile_instance(p, v, callee, &here, fusion, init)?),
                    branching: ins.branching as i64,
                    in1: ins.in1,
                    in2: two.then_some(ins.in2),
                }
            }
            op => {
                let params = match op.rule() {
                    ShapeRule::Project => {
                        let w = op.kernel_width().unwrap_or(1) as i64;
                        let weight = if w == 1 {
                            init.normal(&here, "w", &[n, c_in, c_out], fan_in(c_in))?
                        } else {
                            init.normal(&here, "w", &[n * c_out, c_in, w], fan_in(c_in * w))?
                        };
                        vec![weight, here.f_var("b", &[n, c_out], Init::Const(0.0))?]
                    }
                    ShapeRule::Depthwise => {
                        // Primer's init: 0.5 on the current position, 0.5/w on each earlier one.
                        let w = op.kernel_width().expect("depthwise has a width") as i64;
                        let mut init = vec![0.5 / w as f64; w as usize];
                        init[w as usize - 1] = 0.5;
                        let row = Tensor::from_slice(&init).f_to_kind(Kind::Float)?;
                        let full = row.f_view([1, 1, w])?.f_repeat([n * c_out, 1, 1])?;
                        vec![here.f_var_copy("w", &full)?]
                    }
                    ShapeRule::PerChannel => {
                        let init = if op == Op::Scale { 1.0 } else { 0.0 };
                        vec![here.f_var("g", &[n, c_out], Init::Const(init))?]
                    }
                    _ => Vec::new(),
                };
                let constant = if p.reads(ins, Field::Constant) { p.constant(ins).unwrap_or(0.0) } else { 0.0 };
                // An op that reads no input (CONSTANT) takes its shape from the first input, which
                // is always there, not from the value it names (which may be dead).
                let in1 = if p.reads(ins, Field::In1) { ins.in1 } else { 0 };
                Step::Primitive { op, in1, in2: ins.in2, constant, params }
            }
        };
        steps.push(Some(step));
    }
    if fusion == Fusion::Fused {
        fuse(p, inst.subprogram, &inst.values, &mut steps);
    }
    lower_clamps(p, inst.subprogram, &mut steps);
    Ok(Compiled { n_inputs: sub.inputs.len(), copies: n, steps })
}

/// Replaces recognised patterns (see [`crate::patterns`]) by fused steps.
fn fuse(p: &Program, si: usize, shapes: &[Option<Shape>], steps: &mut [Option<Step>]) {
    let live: Vec<bool> = steps.iter().map(Option::is_some).collect();
    let param = |s: &Option<Step>| match s {
        Some(Step::Primitive { params, .. }) => params.first().map(Tensor::shallow_clone),
        _ => None,
    };
    let mut plans = Vec::new();
    for pattern in patterns::find(p, si, shapes, &live) {
        let step = match pattern {
            Pattern::Attention { q, k, v, scale, .. } => Step::Attention { q, k, v, scale },
            Pattern::LayerNorm { out, x, eps, gain, .. } => {
                let (Some(gain), Some(bias)) = (param(&steps[gain]), param(&steps[out])) else { continue };
                Step::LayerNorm { x, eps, gain, bias }
            }
        };
        plans.push((pattern, step));
    }
    for (pattern, step) in plans {
        for &g in pattern.gone() {
            steps[g] = None;
        }
        steps[pattern.out()] = Some(step);
    }
}

/// MAX/MIN against a CONSTANT become clamps ([`Step::Clamp`]) on both paths, fused or not: a
/// lowering of one primitive, not a fusion of several (`clamp_and_maximum_agree` checks it
/// against `maximum`/`minimum`).
fn lower_clamps(p: &Program, si: usize, steps: &mut [Option<Step>]) {
    let n_in = p.subprograms[si].inputs.len();
    let constant_of = |steps: &[Option<Step>], v: usize| match v.checked_sub(n_in).and_then(|i| steps[i].as_ref()) {
        Some(Step::Primitive { op: Op::Constant, constant, .. }) => Some(*constant),
        _ => None,
    };
    for i in 0..steps.len() {
        let Some(Step::Primitive { op: op @ (Op::Max | Op::Min), in1, in2, .. }) = &steps[i] else { continue };
        let (op, in1, in2) = (*op, *in1, *in2);
        let clamp = match (constant_of(steps, in1), constant_of(steps, in2)) {
            (_, Some(c)) => (in1, c),
            (Some(c), None) => (in2, c),
            (None, None) => continue,
        };
        steps[i] = Some(Step::Clamp { x: clamp.0, bound: clamp.1, lower: op == Op::Max });
    }
}

/// Repeats the last axis cyclically to `width` (width 1 broadcasts).
fn cyclic(x: &Tensor, width: i64) -> Result<Tensor, TchError> {
    let size = x.size();
    let c = *size.last().expect("values have axes");
    if c == width {
        return Ok(x.shallow_clone());
    }
    if c == 1 {
        let mut to = vec![-1; size.len()];
        *to.last_mut().expect("axes") = width;
        return x.f_expand(&to, false);
    }
    let reps = (width + c - 1) / c;
    let mut r = vec![1i64; size.len()];
    *r.last_mut().expect("axes") = reps;
    x.f_repeat(&r)?.f_narrow(-1, 0, width)
}

/// Brings two inputs of a binary op to one shape: the wider last axis wins (a square's last
/// axis is T, and a square beats a sequence), the other is repeated cyclically.
fn broadcast(a: &Tensor, b: &Tensor) -> Result<(Tensor, Tensor), TchError> {
    let (wa, wb) = (*a.size().last().expect("axes"), *b.size().last().expect("axes"));
    let w = wa.max(wb);
    Ok((cyclic(a, w)?, cyclic(b, w)?))
}

/// What every step of a forward pass reads besides its values.
struct Ctx<'a> {
    /// `true` where s > t, `[T, T]`.
    future: &'a Tensor,
    /// Matrix products, convolutions and attention in bf16 (see [`Model::with_precision`]).
    half: bool,
}

/// `f` (a matrix product, convolution or attention) on `xs`: as they are, or, when `half`, on
/// their bf16 copies with the result back in f32. The f32 path adds nothing to the op.
fn mixed<const N: usize>(
    half: bool,
    xs: [&Tensor; N],
    f: impl FnOnce([&Tensor; N]) -> Result<Tensor, TchError>,
) -> Result<Tensor, TchError> {
    if !half {
        return f(xs);
    }
    let low = xs.iter().map(|x| x.f_to_kind(Kind::BFloat16)).collect::<Result<Vec<_>, _>>()?;
    f(std::array::from_fn(|i| &low[i]))?.f_to_kind(Kind::Float)
}

/// Runs a compiled subprogram on its inputs (each `[B, K, T, C]`).
fn run(c: &Compiled, inputs: &[Tensor], cx: &Ctx) -> Result<Tensor, TchError> {
    run_shaped(c, inputs.iter().map(|x| (x.shallow_clone(), false)).collect(), cx).map(|(t, _)| t)
}

/// Like [`run`], with each value paired with whether it is a square.
fn run_shaped(c: &Compiled, inputs: Vec<(Tensor, bool)>, cx: &Ctx) -> Result<(Tensor, bool), TchError> {
    let mut values: Vec<Option<(Tensor, bool)>> = inputs.into_iter().map(Some).collect();
    debug_assert!(values.len() == c.n_inputs);
    let get = |values: &Vec<Option<(Tensor, bool)>>, v: usize| -> (Tensor, bool) {
        let (t, s) = values[v].as_ref().expect("inputs of live instructions are live");
        (t.shallow_clone(), *s)
    };
    for step in &c.steps {
        let Some(step) = step else {
            values.push(None);
            continue;
        };
        let out = match step {
            Step::Call { callee, branching, in1, in2 } => {
                let k = *branching;
                let spread = |(x, sq): (Tensor, bool)| -> Result<(Tensor, bool), TchError> {
                    if k == 1 || x.size()[1] == 1 {
                        // Equal copies stay a broadcast.
                        return Ok((x, sq));
                    }
                    let s = x.size();
                    let e = x.f_unsqueeze(2)?.f_expand([-1, -1, k, -1, -1], false)?;
                    Ok((e.f_reshape([-1, s[1] * k, s[2], s[3]])?, sq))
                };
                let mut args = vec![spread(get(&values, *in1))?];
                if let Some(b) = in2 {
                    args.push(spread(get(&values, *b))?);
                }
                let (y, sq) = run_shaped(callee, args, cx)?;
                if k == 1 {
                    (y, sq)
                } else {
                    let y = materialize(&y, callee.copies)?;
                    let s = y.size();
                    let y = y.f_reshape([-1, s[1] / k, k, s[2], s[3]])?.f_permute([0, 1, 3, 2, 4])?;
                    (y.f_reshape([-1, s[1] / k, s[2], k * s[3]])?, false)
                }
            }
            Step::Attention { q, k, v, scale } => {
                let (q, k, v) = (get(&values, *q).0, get(&values, *k).0, get(&values, *v).0);
                let n = q.size()[1].max(k.size()[1]).max(v.size()[1]);
                let (q, k, v) = (materialize(&q, n)?, materialize(&k, n)?, materialize(&v, n)?);
                let y = mixed(cx.half, [&q, &k, &v], |[q, k, v]| {
                    Tensor::f_scaled_dot_product_attention(q, k, v, None::<&Tensor>, 0.0, true, *scale, false)
                })?;
                (y, false)
            }
            Step::LayerNorm { x, eps, gain, bias } => {
                let x = get(&values, *x).0;
                let c = *x.size().last().expect("axes");
                let s = gain.size();
                let y = if s[0] == 1 {
                    // One copy's gain and bias: libtorch's affine layer norm, one kernel.
                    x.f_layer_norm([c], Some(&gain.f_view([c])?), Some(&bias.f_view([c])?), *eps, false)?
                } else {
                    let n = x.f_layer_norm([c], None::<&Tensor>, None::<&Tensor>, *eps, false)?;
                    n.f_mul(&gain.f_view([1, s[0], 1, s[1]])?)?.f_add(&bias.f_view([1, s[0], 1, s[1]])?)?
                };
                (y, false)
            }
            Step::Clamp { x, bound, lower } => {
                let (x, sq) = get(&values, *x);
                // threshold(x, c, c) is clamp_min(x, c) with ReLU's vectorised backward (clamp's
                // goes through a scalar `where` kernel: 5% of a campaign-size training step).
                (if *lower { x.f_threshold(*bound, *bound)? } else { x.f_clamp_max(*bound)? }, sq)
            }
            Step::Primitive { op, in1, in2, constant, params } => {
                let (a, a_sq) = get(&values, *in1);
                primitive(*op, a, a_sq, || get(&values, *in2), *constant, params, cx)?
            }
        };
        values.push(Some(out));
    }
    Ok(values.pop().flatten().expect("the output is live"))
}

fn primitive(
    op: Op,
    a: Tensor,
    a_sq: bool,
    second: impl Fn() -> (Tensor, bool),
    constant: f64,
    params: &[Tensor],
    cx: &Ctx,
) -> Result<(Tensor, bool), TchError> {
    let (future, h) = (cx.future, cx.half);
    let binary = |f: &dyn Fn(&Tensor, &Tensor) -> Result<Tensor, TchError>| -> Result<(Tensor, bool), TchError> {
        let (b, b_sq) = second();
        let sq = a_sq || b_sq;
        let (x, y) = if a_sq == b_sq {
            broadcast(&a, &b)?
        } else if a_sq {
            (a.shallow_clone(), cyclic(&b, future.size()[0])?)
        } else {
            (cyclic(&a, future.size()[0])?, b.shallow_clone())
        };
        Ok((f(&x, &y)?, sq))
    };
    let unary = |t: Result<Tensor, TchError>| t.map(|t| (t, a_sq));
    let kind = match lowering(op) {
        Lowering::Unary { tch, .. } => return unary(tch(&a, constant)),
        Lowering::Binary { tch, .. } => return binary(&tch),
        Lowering::Reduce { tch, .. } => return Ok((tch(&a)?, false)),
        Lowering::Structural(kind) => kind,
    };
    match kind {
        Structural::Constant => Ok((a.f_narrow(3, 0, 1)?.f_full_like(constant)?, false)),
        Structural::Scale | Structural::Shift => {
            let g = &params[0];
            let s = g.size();
            let g = g.f_view([1, s[0], 1, s[1]])?;
            unary(if kind == Structural::Scale { a.f_mul(&g) } else { a.f_add(&g) })
        }
        Structural::Mask => unary(a.f_masked_fill(future, -1e9)),
        Structural::MatMul => {
            let (b, b_sq) = second();
            // The square operand is the weights; only s <= t is summed.
            let (w, x, out_sq) = match (a_sq, b_sq) {
                (true, true) => (a, b, true),
                (true, false) => (a, b, false),
                (false, true) => (b, a, false),
                (false, false) => unreachable!("validated: MAT_MUL needs a square"),
            };
            Ok((mixed(h, [&w.f_tril(0)?, &x], |[w, x]| w.f_matmul(x))?, out_sq))
        }
        Structural::TMatMul => {
            let (b, _) = second();
            let (x, y) = broadcast(&a, &b)?;
            Ok((mixed(h, [&x, &y.f_transpose(-1, -2)?], |[x, y]| x.f_matmul(y))?.f_tril(0)?, true))
        }
        Structural::Dense => {
            let (w, b) = (&params[0], &params[1]);
            let (n, c_in, c_out) = (w.size()[0], w.size()[1], w.size()[2]);
            let s = a.size();
            if a.size()[1] == 1 {
                // One input for all copies (or one copy): one matrix product with the bias added
                // in it (addmm), against the copies' weights side by side.
                let wide =
                    if n == 1 { w.f_squeeze_dim(0)? } else { w.f_permute([1, 0, 2])?.f_reshape([c_in, n * c_out])? };
                let (bias, x) = (b.f_reshape([n * c_out])?, a.f_reshape([-1, c_in])?);
                let y = mixed(h, [&bias, &x, &wide], |[b, x, w]| b.f_addmm(x, w))?;
                let y = if n == 1 {
                    y.f_view([-1, 1, s[2], c_out])?
                } else {
                    y.f_view([-1, s[2], n, c_out])?.f_permute([0, 2, 1, 3])?
                };
                return Ok((y, false));
            }
            let y = mixed(h, [&a, w], |[a, w]| {
                if n == 1 {
                    a.f_matmul(&w.f_squeeze_dim(0)?)
                } else {
                    Tensor::f_einsum("bntc,ncd->bntd", &[a, w], None::<&[i64]>)
                }
            })?;
            Ok((y.f_add(&b.f_view([1, n, 1, c_out])?)?, false))
        }
        Structural::Conv => {
            let (w, b) = (&params[0], &params[1]);
            let width = op.kernel_width().expect("conv") as i64;
            let n = b.size()[0];
            let a = materialize(&a, n)?;
            let s = a.size(); // [B, n, T, C]
            let x = a.f_permute([0, 1, 3, 2])?.f_reshape([-1, n * s[3], s[2]])?;
            let x = x.f_constant_pad_nd([width - 1, 0])?;
            let y = mixed(h, [&x, w, &b.f_reshape([-1])?], |[x, w, b]| x.f_conv1d(w, Some(b), [1], [0], [1], n))?;
            let c_out = b.size()[1];
            Ok((y.f_reshape([-1, n, c_out, s[2]])?.f_permute([0, 1, 3, 2])?, false))
        }
        Structural::Depthwise => {
            let w = &params[0];
            let width = op.kernel_width().expect("dconv") as i64;
            let a = materialize(&a, w.size()[0] / a.size()[3])?;
            let s = a.size(); // [B, n, T, C]
            // A causal depthwise convolution: libtorch's grouped conv1d (one group per channel)
            // over time, on [B, K·C, T] padded with width - 1 zeros in front (the pad writes the
            // channels-first copy that conv1d needs). The output is made contiguous again so that
            // a fused attention reading it stays on the flash kernel (unit stride on channels).
            let ch = s[1] * s[3];
            let x =
                a.f_permute([0, 1, 3, 2])?.f_constant_pad_nd([width - 1, 0])?.f_reshape([-1, ch, s[2] + width - 1])?;
            let y = mixed(h, [&x, w], |[x, w]| x.f_conv1d(w, None::<&Tensor>, [1], [0], [1], ch))?;
            Ok((y.f_view([-1, s[1], s[3], s[2]])?.f_permute([0, 1, 3, 2])?.f_contiguous()?, false))
        }
        Structural::Call(_) => unreachable!("calls are steps of their own"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `[1, 1, T=2, C]` value from rows.
    fn value(rows: &[&[f64]]) -> Tensor {
        let c = rows[0].len() as i64;
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().map(|&v| v as f32)).collect();
        Tensor::from_slice(&flat).view([1, 1, rows.len() as i64, c])
    }

    /// What one op is given and must return, written out by hand.
    struct Case {
        a: Vec<Vec<f64>>,
        a_square: bool,
        b: Vec<Vec<f64>>,
        constant: f64,
        params: Vec<Tensor>,
        want: Vec<Vec<f64>>,
    }

    fn rows(r: &[&[f64]]) -> Vec<Vec<f64>> {
        r.iter().map(|x| x.to_vec()).collect()
    }

    /// Every primitive on a literal input: x = [[1, -2], [0.5, 4]] (T = 2 positions, 2
    /// channels), y = [[3, 1], [-1, 2]], the constant 0.7. The match has no catch-all: a new op
    /// needs its case here.
    fn case(op: Op) -> Case {
        let x: &[&[f64]] = &[&[1.0, -2.0], &[0.5, 4.0]];
        let y: &[&[f64]] = &[&[3.0, 1.0], &[-1.0, 2.0]];
        let un = |want: &[&[f64]]| Case {
            a: rows(x),
            a_square: false,
            b: rows(y),
            constant: 0.7,
            params: vec![],
            want: rows(want),
        };
        let t = |v: &[f32], shape: &[i64]| Tensor::from_slice(v).view(shape);
        // Convolution weights: [1, 2, 3] on channel 0 and [0, 1, -1] on channel 1 (oldest tap
        // first), or all ones for the wider kernels (only the two newest taps reach T = 2).
        let taps = |w: i64| -> Vec<f32> {
            if w == 3 { vec![1.0, 2.0, 3.0, 0.0, 1.0, -1.0] } else { vec![1.0; 2 * w as usize] }
        };
        // CONVw: [c_out = 1, c_in = 2, w] and a bias 0.5; DCONVw: [channels = 2, 1, w].
        let conv =
            |w: i64, want: &[&[f64]]| Case { params: vec![t(&taps(w), &[1, 2, w]), t(&[0.5], &[1, 1])], ..un(want) };
        let dconv = |w: i64, want: &[&[f64]]| Case { params: vec![t(&taps(w), &[2, 1, w])], ..un(want) };
        let e = std::f64::consts::E;
        match op {
            Op::Add => un(&[&[4.0, -1.0], &[-0.5, 6.0]]),
            Op::Difference => un(&[&[-2.0, -3.0], &[1.5, 2.0]]),
            Op::Multiply => un(&[&[3.0, -2.0], &[-0.5, 8.0]]),
            Op::Divide => un(&[&[1.0 / 3.0, -2.0], &[-0.5, 2.0]]),
            Op::Max => un(&[&[3.0, 1.0], &[0.5, 4.0]]),
            Op::Min => un(&[&[1.0, -2.0], &[-1.0, 2.0]]),
            Op::Constant => un(&[&[0.7], &[0.7]]),
            Op::Abs => un(&[&[1.0, 2.0], &[0.5, 4.0]]),
            Op::AbsRoot => un(&[&[1.0, 2f64.sqrt()], &[0.5f64.sqrt(), 2.0]]),
            Op::Square => un(&[&[1.0, 4.0], &[0.25, 16.0]]),
            Op::Exp => un(&[&[e, 1.0 / (e * e)], &[e.sqrt(), e.powi(4)]]),
            Op::Log => un(&[&[0.0, 2f64.ln()], &[-(2f64.ln()), 4f64.ln()]]),
            Op::Recip => un(&[&[1.0, -0.5], &[2.0, 0.25]]),
            Op::Sign => un(&[&[1.0, -1.0], &[1.0, 1.0]]),
            Op::Sin => un(&[&[0.841_470_98, -0.909_297_43], &[0.479_425_54, -0.756_802_5]]),
            Op::Cos => un(&[&[0.540_302_31, -0.416_146_84], &[0.877_582_56, -0.653_643_62]]),
            Op::Tanh => un(&[&[0.761_594_16, -0.964_027_58], &[0.462_117_16, 0.999_329_3]]),
            Op::Sigmoid => un(&[&[0.731_058_58, 0.119_202_92], &[0.622_459_33, 0.982_013_79]]),
            Op::CMul => un(&[&[0.7, -1.4], &[0.35, 2.8]]),
            Op::Scale => Case { params: vec![t(&[2.0, 3.0], &[1, 2])], ..un(&[&[2.0, -6.0], &[1.0, 12.0]]) },
            Op::Shift => Case { params: vec![t(&[2.0, 3.0], &[1, 2])], ..un(&[&[3.0, 1.0], &[2.5, 7.0]]) },
            // A square [[1, 2], [3, 4]]: the entry s > t is masked.
            Op::Mask => {
                Case { a: rows(&[&[1.0, 2.0], &[3.0, 4.0]]), a_square: true, ..un(&[&[1.0, -1e9], &[3.0, 4.0]]) }
            }
            Op::CumSum => un(&[&[1.0, -2.0], &[1.5, 2.0]]),
            Op::CumProd => un(&[&[1.0, -2.0], &[0.5, -8.0]]),
            Op::RedMean => un(&[&[-0.5], &[2.25]]),
            Op::RedSum => un(&[&[-1.0], &[4.5]]),
            Op::RedMax => un(&[&[1.0], &[4.0]]),
            Op::RedMin => un(&[&[-2.0], &[0.5]]),
            Op::RedProd => un(&[&[-2.0], &[2.0]]),
            // Weights [[1, 2], [3, 4]] (a square, only s <= t used) times x.
            Op::MatMul => Case {
                a: rows(&[&[1.0, 2.0], &[3.0, 4.0]]),
                a_square: true,
                b: rows(x),
                ..un(&[&[1.0, -2.0], &[5.0, 10.0]])
            },
            // x · yᵀ, the strict upper triangle zero.
            Op::TMatMul => un(&[&[1.0, 0.0], &[5.5, 7.5]]),
            // x · [1, 2]ᵀ + 0.5.
            Op::Dense => {
                Case { params: vec![t(&[1.0, 2.0], &[1, 2, 1]), t(&[0.5], &[1, 1])], ..un(&[&[-2.5], &[9.0]]) }
            }
            Op::Conv3 => conv(3, &[&[5.5], &[-2.0]]),
            Op::Conv7 => conv(7, &[&[-0.5], &[4.0]]),
            Op::Conv15 => conv(15, &[&[-0.5], &[4.0]]),
            Op::Conv31 => conv(31, &[&[-0.5], &[4.0]]),
            Op::DConv3 => dconv(3, &[&[3.0, 2.0], &[3.5, -6.0]]),
            Op::DConv7 => dconv(7, &[&[1.0, -2.0], &[1.5, 2.0]]),
            Op::DConv15 => dconv(15, &[&[1.0, -2.0], &[1.5, 2.0]]),
            Op::DConv31 => dconv(31, &[&[1.0, -2.0], &[1.5, 2.0]]),
            Op::Call(_) => unreachable!("not a primitive"),
        }
    }

    /// The clamp a MAX/MIN against a CONSTANT is lowered to computes `maximum`/`minimum`'s values
    /// and, away from exact ties, their gradients (at a tie `maximum` splits the gradient,
    /// the clamp gives ReLU's).
    #[test]
    fn clamp_and_maximum_agree() {
        let x = Tensor::randn([4, 2, 8, 16], (Kind::Double, Device::Cpu)).set_requires_grad(true);
        for (c, lower) in [(0.0, true), (0.3, true), (-0.2, false)] {
            let (y, _) = run_shaped(
                &Compiled { n_inputs: 1, copies: 1, steps: vec![Some(Step::Clamp { x: 0, bound: c, lower })] },
                vec![(x.shallow_clone(), false)],
                &Ctx { future: &Tensor::zeros([8, 8], (Kind::Bool, Device::Cpu)), half: false },
            )
            .unwrap();
            let constant = x.narrow(3, 0, 1).full_like(c).expand([-1, -1, -1, 16], false);
            let want = if lower { x.maximum(&constant) } else { x.minimum(&constant) };
            assert!(f64::try_from((&y - &want).abs().max()).unwrap() == 0.0, "values, bound {c}");
            let g = Tensor::randn([4, 2, 8, 16], (Kind::Double, Device::Cpu));
            let grad = |v: &Tensor| Tensor::run_backward(&[&(v * &g).sum(Kind::Double)], &[&x], true, false).remove(0);
            assert!(f64::try_from((grad(&y) - grad(&want)).abs().max()).unwrap() < 1e-12, "gradients, bound {c}");
        }
    }

    /// In bf16, a matrix product's, convolution's or dense projection's inputs each move by up
    /// to u = 2^-8 of themselves (8 significant bits) and the product's output once more, with
    /// f32 sums in between: |bf16 - f32| <= (3u + u^2) times the same op on the inputs'
    /// absolute values. Every other op runs in f32 and must not change at all.
    #[test]
    fn bf16_products_stay_within_their_rounding_bound_and_nothing_else_moves() {
        let future = Tensor::ones([2, 2], (Kind::Bool, Device::Cpu)).triu(1);
        let (exact, half) = (Ctx { future: &future, half: false }, Ctx { future: &future, half: true });
        let u = 2f64.powi(-8);
        tch::manual_seed(7);
        let mut wrong = Vec::new();
        for &op in Op::PRIMITIVES {
            let c = case(op);
            let a: Vec<&[f64]> = c.a.iter().map(Vec::as_slice).collect();
            let b: Vec<&[f64]> = c.b.iter().map(Vec::as_slice).collect();
            let (a, b) = (value(&a).randn_like(), value(&b).randn_like());
            let params: Vec<Tensor> = c.params.iter().map(Tensor::randn_like).collect();
            let go = |a: &Tensor, b: &Tensor, params: &[Tensor], cx: &Ctx| {
                let b = b.shallow_clone();
                primitive(op, a.shallow_clone(), c.a_square, || (b.shallow_clone(), false), c.constant, params, cx)
                    .unwrap()
                    .0
            };
            let (want, got) = (go(&a, &b, &params, &exact), go(&a, &b, &params, &half));
            let diff = (&got - &want).abs();
            let bilinear = matches!(
                lowering(op),
                Lowering::Structural(
                    Structural::MatMul
                        | Structural::TMatMul
                        | Structural::Dense
                        | Structural::Conv
                        | Structural::Depthwise
                )
            );
            if bilinear {
                let abs: Vec<Tensor> = params.iter().map(Tensor::abs).collect();
                let bound = go(&a.abs(), &b.abs(), &abs, &exact) * (3.0 * u + u * u) + 1e-6;
                let over = (&diff - &bound).max().double_value(&[]);
                if over > 0.0 || diff.max().double_value(&[]) == 0.0 {
                    wrong.push(format!("{op}: bf16 moved {diff} against the bound {bound}"));
                }
            } else if got.eq_tensor(&want).logical_or(&got.isnan().logical_and(&want.isnan())).all().int64_value(&[])
                == 0
            {
                wrong.push(format!("{op}: runs in f32 but bf16 changed it: {got} against {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn every_primitive_computes_its_value_on_a_literal_input() {
        let future = Tensor::ones([2, 2], (Kind::Bool, Device::Cpu)).triu(1);
        let future = Ctx { future: &future, half: false };
        let mut wrong = Vec::new();
        for &op in Op::PRIMITIVES {
            let c = case(op);
            let a: Vec<&[f64]> = c.a.iter().map(Vec::as_slice).collect();
            let b: Vec<&[f64]> = c.b.iter().map(Vec::as_slice).collect();
            let (a, b) = (value(&a), value(&b));
            let (got, _) =
                primitive(op, a, c.a_square, || (b.shallow_clone(), false), c.constant, &c.params, &future).unwrap();
            let want: Vec<&[f64]> = c.want.iter().map(Vec::as_slice).collect();
            let want = value(&want);
            if got.size() != want.size() || f64::try_from((&got - &want).abs().max()).unwrap() > 1e-5 {
                wrong.push(format!("{op}: got {got} want {want}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}
