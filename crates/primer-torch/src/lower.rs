//! The lowering table: what each primitive means, once, for both backends. An elementwise op
//! or a reduction is one line here, holding its libtorch call (run by [`crate::compile`]) and
//! its PyTorch expression (written into `model.py` by [`crate::export`]); the exported model is
//! checked against the compiled one in the tests, so the two forms cannot drift apart silently.
//!
//! Ops with structure of their own (weights, squares, the causal mask, calls) lower to a
//! [`Structural`] kind, which the compiler and the exporter each lower in one exhaustive match.
//! The match below is exhaustive too (no catch-all anywhere), so a new op in `primer_dsl::op`
//! does not compile until it has a line here, and an elementwise one needs nothing else.
//!
//! Python templates name the first input `{x}`, the second `{y}` and the instruction's
//! constant `{c}` (written as a Python float literal).

use tch::{Kind, TchError, Tensor};

use primer_dsl::Op;

type Out = Result<Tensor, TchError>;

/// How a primitive is lowered.
#[derive(Clone, Copy)]
pub enum Lowering {
    /// One input, output shape = input shape (a square stays a square); `c` is the
    /// instruction's constant (0 where the op reads none).
    Unary { tch: fn(&Tensor, f64) -> Out, py: &'static str },
    /// Two inputs brought to one shape first (see the compiler's broadcasting rule).
    Binary { tch: fn(&Tensor, &Tensor) -> Out, py: &'static str },
    /// Over the last axis (channels, or keys for a square) to width 1: a sequence out.
    Reduce { tch: fn(&Tensor) -> Out, py: &'static str },
    /// Weights, squares, the mask or a call: lowered by hand in the compiler and the exporter.
    Structural(Structural),
}

/// The ops the table does not lower, by kind (a convolution's width is `Op::kernel_width`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structural {
    /// A [B,T,1] sequence holding the constant.
    Constant,
    /// Times a per-channel weight (init 1).
    Scale,
    /// Plus a per-channel weight (init 0).
    Shift,
    /// The causal mask of a square.
    Mask,
    /// Square weights times a sequence or a square, over s <= t.
    MatMul,
    /// a·bᵀ over channels: a square.
    TMatMul,
    /// A dense projection with bias.
    Dense,
    /// A causal convolution with bias (CONV3 .. CONV31).
    Conv,
    /// A causal depthwise convolution, no bias (DCONV3 .. DCONV31).
    Depthwise,
    /// A call of the subprogram with this index.
    Call(usize),
}

/// The lowering of `op`.
pub fn lowering(op: Op) -> Lowering {
    use Lowering::{Binary, Reduce, Unary};
    match op {
        Op::Add => Binary { tch: |x, y| x.f_add(y), py: "{x} + {y}" },
        Op::Difference => Binary { tch: |x, y| x.f_sub(y), py: "{x} - {y}" },
        Op::Multiply => Binary { tch: |x, y| x.f_mul(y), py: "{x} * {y}" },
        Op::Divide => Binary { tch: |x, y| x.f_div(y), py: "{x} / {y}" },
        Op::Max => Binary { tch: |x, y| x.f_maximum(y), py: "torch.maximum({x}, {y})" },
        Op::Min => Binary { tch: |x, y| x.f_minimum(y), py: "torch.minimum({x}, {y})" },
        Op::Abs => Unary { tch: |x, _| x.f_abs(), py: "{x}.abs()" },
        Op::AbsRoot => Unary { tch: |x, _| x.f_abs()?.f_sqrt(), py: "{x}.abs().sqrt()" },
        Op::Square => Unary { tch: |x, _| x.f_square(), py: "{x}.square()" },
        Op::Exp => Unary { tch: |x, _| x.f_exp(), py: "{x}.exp()" },
        Op::Log => Unary { tch: |x, _| x.f_abs()?.f_log(), py: "{x}.abs().log()" },
        Op::Recip => Unary { tch: |x, _| x.f_reciprocal(), py: "{x}.reciprocal()" },
        Op::Sign => Unary { tch: |x, _| x.f_sign(), py: "{x}.sign()" },
        Op::Sin => Unary { tch: |x, _| x.f_sin(), py: "{x}.sin()" },
        Op::Cos => Unary { tch: |x, _| x.f_cos(), py: "{x}.cos()" },
        Op::Tanh => Unary { tch: |x, _| x.f_tanh(), py: "{x}.tanh()" },
        Op::Sigmoid => Unary { tch: |x, _| x.f_sigmoid(), py: "{x}.sigmoid()" },
        Op::CMul => Unary { tch: |x, c| x.f_mul_scalar(c), py: "{x} * {c}" },
        Op::CumSum => Unary { tch: |x, _| x.f_cumsum(2, None::<Kind>), py: "{x}.cumsum(2)" },
        Op::CumProd => Unary { tch: |x, _| x.f_cumprod(2, None::<Kind>), py: "{x}.cumprod(2)" },
        Op::RedMean => Reduce { tch: |x| x.f_mean_dim(-1, true, None::<Kind>), py: "{x}.mean(-1, keepdim=True)" },
        Op::RedSum => Reduce { tch: |x| x.f_sum_dim_intlist(-1, true, None::<Kind>), py: "{x}.sum(-1, keepdim=True)" },
        Op::RedMax => Reduce { tch: |x| x.f_amax(-1, true), py: "{x}.amax(-1, keepdim=True)" },
        Op::RedMin => Reduce { tch: |x| x.f_amin(-1, true), py: "{x}.amin(-1, keepdim=True)" },
        Op::RedProd => Reduce { tch: |x| x.f_prod_dim_int(-1, true, None::<Kind>), py: "{x}.prod(-1, keepdim=True)" },
        Op::Constant => Lowering::Structural(Structural::Constant),
        Op::Scale => Lowering::Structural(Structural::Scale),
        Op::Shift => Lowering::Structural(Structural::Shift),
        Op::Mask => Lowering::Structural(Structural::Mask),
        Op::MatMul => Lowering::Structural(Structural::MatMul),
        Op::TMatMul => Lowering::Structural(Structural::TMatMul),
        Op::Dense => Lowering::Structural(Structural::Dense),
        Op::Conv3 | Op::Conv7 | Op::Conv15 | Op::Conv31 => Lowering::Structural(Structural::Conv),
        Op::DConv3 | Op::DConv7 | Op::DConv15 | Op::DConv31 => Lowering::Structural(Structural::Depthwise),
        Op::Call(c) => Lowering::Structural(Structural::Call(c)),
    }
}

/// A Python template with its inputs (and constant) filled in.
pub fn python(template: &str, x: &str, y: &str, c: &str) -> String {
    template.replace("{x}", x).replace("{y}", y).replace("{c}", c)
}
