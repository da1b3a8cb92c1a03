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
use primer_dsl::validate::{Validated, validate};
use primer_dsl::{Field, ModelConfig, Op, Program, Shape, ValidationError};

use crate::patterns::{self, Pattern};

/// A program that cannot become a model.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("invalid program: {0}")]
    Invalid(#[from] ValidationError),
    #[error("libtorch: {0}")]
    Torch(#[from] TchError),
    #[error("out of memory: {parameters} parameters need about {need_mib} MiB for weights, gradients and AdamW state, {available_mib} MiB are available")]
    OutOfMemory { parameters: u64, need_mib: u64, available_mib: u64 },
}

/// Memory this process may still use, in bytes: MemAvailable from /proc/meminfo (None where
/// unknown).
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info.lines().find_map(|l| l.strip_prefix("MemAvailable:")?.trim().strip_suffix("kB")?.trim().parse().ok())?;
    Some(kb * 1024)
}

/// One instruction, ready to run.
enum Step {
    Primitive { op: Op, in1: usize, in2: usize, constant: f64, params: Vec<Tensor> },
    Call { callee: Box<Compiled>, branching: i64, in1: usize, in2: Option<usize> },
    /// A recognised causal attention (T_MAT_MUL, C_MUL, MASK, the softmax primitives,
    /// MAT_MUL) run as one fused scaled-dot-product attention.
    Attention { q: usize, k: usize, v: usize, scale: f64 },
    /// A recognised layer norm (mean, centre, variance, epsilon, root, divide, SCALE, SHIFT)
    /// run as libtorch's layer norm with the SCALE and SHIFT parameters.
    LayerNorm { x: usize, eps: f64, gain: Tensor, bias: Tensor },
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
    pub fn with_fusion(p: &Program, config: ModelConfig, device: Device, seed: u64, fusion: Fusion) -> Result<Model, CompileError> {
        let validated = validate(p, &config)?;
        // Weights, gradients and two AdamW moments, 4 bytes each: refuse before allocating
        // what cannot fit (an allocation failure in Rust would abort the process).
        let parameters = primer_dsl::Cost::of(&validated).model_params;
        let need = parameters.saturating_mul(16);
        if let Some(available) = available_memory()
            && device == Device::Cpu
            && need > available
        {
            return Err(CompileError::OutOfMemory {
                parameters,
                need_mib: need >> 20,
                available_mib: available >> 20,
            });
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
        Ok(Model { vs, config, validated, layers, tok, pos, norm_g, norm_b, head_w, head_b, future })
    }

    /// Logits `[B, T, vocab]` for tokens `[B, T]` (int64, T = the config's seq_len or less).
    pub fn forward(&self, tokens: &Tensor) -> Result<Tensor, TchError> {
        let t = tokens.size()[1];
        let x = Tensor::f_embedding(&self.tok, tokens, -1, false, false)?.f_add(&self.pos.f_narrow(0, 0, t)?)?;
        let mut h = x.f_unsqueeze(1)?; // [B, 1, T, D]
        let future = self.future.f_narrow(0, 0, t)?.f_narrow(1, 0, t)?;
        for layer in &self.layers {
            h = run(layer, &[h], &future)?;
        }
        let h = h.f_squeeze_dim(1)?;
        let d = self.config.d_model as i64;
        let normed = h.f_layer_norm([d], Some(&self.norm_g), Some(&self.norm_b), 1e-5, false)?;
        normed.f_matmul(&self.head_w)?.f_add(&self.head_b)
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
                    Step::Primitive { .. } => {}
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
                Step::Primitive { op, in1: ins.in1, in2: ins.in2, constant, params }
            }
        };
        steps.push(Some(step));
    }
    if fusion == Fusion::Fused {
        fuse(p, inst.subprogram, &inst.values, &mut steps);
    }
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

/// Runs a compiled subprogram on its inputs (each `[B, K, T, C]`).
fn run(c: &Compiled, inputs: &[Tensor], future: &Tensor) -> Result<Tensor, TchError> {
    run_shaped(c, inputs.iter().map(|x| (x.shallow_clone(), false)).collect(), future).map(|(t, _)| t)
}

/// Like [`run`], with each value paired with whether it is a square.
fn run_shaped(c: &Compiled, inputs: Vec<(Tensor, bool)>, future: &Tensor) -> Result<(Tensor, bool), TchError> {
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
                let (y, sq) = run_shaped(callee, args, future)?;
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
                let y = Tensor::f_scaled_dot_product_attention(&q, &k, &v, None::<&Tensor>, 0.0, true, *scale, false)?;
                (y, false)
            }
            Step::LayerNorm { x, eps, gain, bias } => {
                let x = get(&values, *x).0;
                let c = *x.size().last().expect("axes");
                let n = x.f_layer_norm([c], None::<&Tensor>, None::<&Tensor>, *eps, false)?;
                let s = gain.size();
                let y = n.f_mul(&gain.f_view([1, s[0], 1, s[1]])?)?.f_add(&bias.f_view([1, s[0], 1, s[1]])?)?;
                (y, false)
            }
            Step::Primitive { op, in1, in2, constant, params } => {
                let (a, a_sq) = get(&values, *in1);
                primitive(*op, a, a_sq, || get(&values, *in2), *constant, params, future)?
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
    future: &Tensor,
) -> Result<(Tensor, bool), TchError> {
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
    match op {
        Op::Add => binary(&|x, y| x.f_add(y)),
        Op::Difference => binary(&|x, y| x.f_sub(y)),
        Op::Multiply => binary(&|x, y| x.f_mul(y)),
        Op::Divide => binary(&|x, y| x.f_div(y)),
        Op::Max => binary(&|x, y| x.f_maximum(y)),
        Op::Min => binary(&|x, y| x.f_minimum(y)),
        Op::Constant => Ok((a.f_narrow(3, 0, 1)?.f_full_like(constant)?, false)),
        Op::Abs => unary(a.f_abs()),
        Op::AbsRoot => unary(a.f_abs()?.f_sqrt()),
        Op::Square => unary(a.f_square()),
        Op::Exp => unary(a.f_exp()),
        Op::Log => unary(a.f_abs()?.f_log()),
        Op::Recip => unary(a.f_reciprocal()),
        Op::Sign => unary(a.f_sign()),
        Op::Sin => unary(a.f_sin()),
        Op::Cos => unary(a.f_cos()),
        Op::Tanh => unary(a.f_tanh()),
        Op::Sigmoid => unary(a.f_sigmoid()),
        Op::CMul => unary(a.f_mul_scalar(constant)),
        Op::Scale | Op::Shift => {
            let g = &params[0];
            let s = g.size();
            let g = g.f_view([1, s[0], 1, s[1]])?;
            unary(if op == Op::Scale { a.f_mul(&g) } else { a.f_add(&g) })
        }
        Op::Mask => unary(a.f_masked_fill(future, -1e9)),
        Op::CumSum => unary(a.f_cumsum(2, None::<Kind>)),
        Op::CumProd => unary(a.f_cumprod(2, None::<Kind>)),
        Op::RedMean => Ok((a.f_mean_dim(-1, true, None::<Kind>)?, false)),
        Op::RedSum => Ok((a.f_sum_dim_intlist(-1, true, None::<Kind>)?, false)),
        Op::RedMax => Ok((a.f_amax(-1, true)?, false)),
        Op::RedMin => Ok((a.f_amin(-1, true)?, false)),
        Op::RedProd => Ok((a.f_prod_dim_int(-1, true, None::<Kind>)?, false)),
        Op::MatMul => {
            let (b, b_sq) = second();
            // The square operand is the weights; only s <= t is summed.
            let (w, x, out_sq) = match (a_sq, b_sq) {
                (true, true) => (a, b, true),
                (true, false) => (a, b, false),
                (false, true) => (b, a, false),
                (false, false) => unreachable!("validated: MAT_MUL needs a square"),
            };
            Ok((w.f_tril(0)?.f_matmul(&x)?, out_sq))
        }
        Op::TMatMul => {
            let (b, _) = second();
            let (x, y) = broadcast(&a, &b)?;
            Ok((x.f_matmul(&y.f_transpose(-1, -2)?)?.f_tril(0)?, true))
        }
        Op::Dense => {
            let (w, b) = (&params[0], &params[1]);
            let (n, c_in, c_out) = (w.size()[0], w.size()[1], w.size()[2]);
            let y = if a.size()[1] == 1 && n > 1 {
                // One input for all copies: one matmul against the copies' weights side by side.
                let s = a.size();
                let wide = w.f_permute([1, 0, 2])?.f_reshape([c_in, n * c_out])?;
                a.f_squeeze_dim(1)?.f_matmul(&wide)?.f_view([-1, s[2], n, c_out])?.f_permute([0, 2, 1, 3])?
            } else if n == 1 {
                a.f_matmul(&w.f_squeeze_dim(0)?)?
            } else {
                Tensor::f_einsum("bntc,ncd->bntd", &[&a, w], None::<&[i64]>)?
            };
            Ok((y.f_add(&b.f_view([1, n, 1, c_out])?)?, false))
        }
        Op::Conv3 | Op::Conv7 | Op::Conv15 | Op::Conv31 => {
            let (w, b) = (&params[0], &params[1]);
            let width = op.kernel_width().expect("conv") as i64;
            let n = b.size()[0];
            let a = materialize(&a, n)?;
            let s = a.size(); // [B, n, T, C]
            let x = a.f_permute([0, 1, 3, 2])?.f_reshape([-1, n * s[3], s[2]])?;
            let x = x.f_constant_pad_nd([width - 1, 0])?;
            let y = x.f_conv1d(w, Some(&b.f_reshape([-1])?), [1], [0], [1], n)?;
            let c_out = b.size()[1];
            Ok((y.f_reshape([-1, n, c_out, s[2]])?.f_permute([0, 1, 3, 2])?, false))
        }
        Op::DConv3 | Op::DConv7 | Op::DConv15 | Op::DConv31 => {
            let w = &params[0];
            let width = op.kernel_width().expect("dconv") as i64;
            let a = materialize(&a, w.size()[0] / a.size()[3])?;
            let s = a.size(); // [B, n, T, C]
            // A causal depthwise convolution as `width` shifted multiply-adds: y[t] = sum_j
            // w[j] * x[t - (width-1) + j]. On CPU at these sizes libtorch's grouped conv1d (one
            // group per channel) is several times slower than the whole rest of a layer.
            let taps = w.f_view([s[1], s[3], width])?.f_permute([2, 0, 1])?; // [width, n, C]
            let x = a.f_constant_pad_nd([0, 0, width - 1, 0])?;
            let mut y: Option<Tensor> = None;
            for j in 0..width {
                let term = x.f_narrow(2, j, s[2])?.f_mul(&taps.f_get(j)?.f_view([1, s[1], 1, s[3]])?)?;
                y = Some(match y {
                    None => term,
                    Some(acc) => acc.f_add(&term)?,
                });
            }
            Ok((y.expect("a width of at least 1"), false))
        }
        Op::Call(_) => unreachable!("calls are steps of their own"),
    }
}
