//! The primitive operations: each defined once (name, arguments read, shape rule, cost).

use serde::{Deserialize, Serialize};

use crate::shape::Shape;

/// Which fields of an instruction's argument set an op reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reads {
    pub in1: bool,
    pub in2: bool,
    pub constant: bool,
    pub dim: bool,
    pub branching: bool,
}

const fn reads(in1: bool, in2: bool, constant: bool, dim: bool, branching: bool) -> Reads {
    Reads { in1, in2, constant, dim, branching }
}

/// How an op turns input shapes into an output shape (see [`crate::shape`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeRule {
    /// Output shape = input shape; sequences and squares alike.
    Unary,
    /// Elementwise on two inputs, mismatches resolved by [`crate::shape::broadcast`].
    Binary,
    /// A [B,T,1] sequence holding the bank constant.
    Constant,
    /// Per-channel learned parameter (scale or shift): sequences only.
    PerChannel,
    /// Causal mask of a square: squares only.
    Mask,
    /// Cumulative along the sequence axis: any shape.
    Cumulative,
    /// Reduction over the last axis (channels, or keys for a square) to width 1.
    Reduce,
    /// `MAT_MUL`: square weights times a sequence (or a square), summing only over s <= t.
    MatMul,
    /// `T_MAT_MUL`: a·bᵀ over channels, giving a square whose strict upper triangle is zero.
    TMatMul,
    /// Dense or convolution to the dim size: sequences only.
    Project,
    /// Depthwise convolution: sequences only, width unchanged.
    Depthwise,
    /// Call of another subprogram.
    Call,
}

macro_rules! ops {
    ($( $variant:ident = $name:literal, $reads:expr, $rule:ident, $tf:literal; )*) => {
        /// A primitive operation of the search space (the paper's vocabulary), or a call.
        ///
        /// Every op reads the fields of the argument set named by [`Op::reads`] and ignores
        /// the rest; a mutation may change an ignored field that a later op change makes live.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Op {
            $( #[doc = $tf] $variant, )*
            /// Call of the subprogram with this index (always higher than the caller's).
            Call(usize),
        }

        impl Op {
            /// Every primitive, in a fixed order (calls excluded).
            pub const PRIMITIVES: &'static [Op] = &[ $( Op::$variant, )* ];

            /// The name used in `.prim` files and JSON (`ADD`, `DCONV3`, ...); `CALL` for calls.
            pub fn name(self) -> &'static str {
                match self { $( Op::$variant => $name, )* Op::Call(_) => "CALL" }
            }

            /// Which argument fields the op reads.
            pub fn reads(self) -> Reads {
                match self { $( Op::$variant => $reads, )* Op::Call(_) => reads(true, true, false, false, true) }
            }

            /// The shape rule.
            pub fn rule(self) -> ShapeRule {
                match self { $( Op::$variant => ShapeRule::$rule, )* Op::Call(_) => ShapeRule::Call }
            }

            /// The TensorFlow counterpart, as the paper's appendix maps it.
            pub fn tf(self) -> &'static str {
                match self { $( Op::$variant => $tf, )* Op::Call(_) => "a call of another subprogram" }
            }

            /// The primitive with this name (calls are written `CALL` or `CALL[k]`, not here).
            pub fn from_name(name: &str) -> Option<Op> {
                match name { $( $name => Some(Op::$variant), )* _ => None }
            }
        }
    };
}

const U: Reads = reads(true, false, false, false, false);
const B: Reads = reads(true, true, false, false, false);
const C: Reads = reads(true, false, true, false, false);
const K: Reads = reads(false, false, true, false, false);
const D: Reads = reads(true, false, false, true, false);

ops! {
    Add = "ADD", B, Binary, "tf.math.add(in1, in2)";
    Difference = "DIFFERENCE", B, Binary, "tf.math.subtract(in1, in2)";
    Multiply = "MULTIPLY", B, Binary, "tf.math.multiply(in1, in2)";
    Divide = "DIVIDE", B, Binary, "tf.math.divide(in1, in2)";
    Max = "MAX", B, Binary, "tf.math.maximum(in1, in2)";
    Min = "MIN", B, Binary, "tf.math.minimum(in1, in2)";
    Constant = "CONSTANT", K, Constant, "tf.constant(constant), one channel broadcast over the sequence";
    Abs = "ABS", U, Unary, "tf.math.abs(in1)";
    AbsRoot = "ABS_ROOT", U, Unary, "tf.math.sqrt(tf.math.abs(in1))";
    Square = "SQUARE", U, Unary, "tf.math.square(in1)";
    Exp = "EXP", U, Unary, "tf.math.exp(in1)";
    Log = "LOG", U, Unary, "tf.math.log(tf.math.abs(in1))";
    Recip = "RECIP", U, Unary, "tf.math.reciprocal(in1)";
    Sign = "SIGN", U, Unary, "tf.math.sign(in1)";
    Sin = "SIN", U, Unary, "tf.math.sin(in1)";
    Cos = "COS", U, Unary, "tf.math.cos(in1)";
    Tanh = "TANH", U, Unary, "tf.math.tanh(in1)";
    Sigmoid = "SIGMOID", U, Unary, "tf.math.sigmoid(in1)";
    CMul = "C_MUL", C, Unary, "tf.math.multiply(in1, constant)";
    Scale = "SCALE", U, PerChannel, "in1 * v, v a trainable per-channel tf.Variable (init 1)";
    Shift = "SHIFT", U, PerChannel, "in1 + v, v a trainable per-channel tf.Variable (init 0)";
    Mask = "MASK", U, Mask, "causal mask of attention logits: entries s > t set to -1e9 (tf.linalg.band_part)";
    CumSum = "CUM_SUM", U, Cumulative, "tf.math.cumsum(in1) along the sequence";
    CumProd = "CUM_PROD", U, Cumulative, "tf.math.cumprod(in1) along the sequence";
    RedMean = "RED_MEAN", U, Reduce, "tf.math.reduce_mean(in1, axis=-1, keepdims=True)";
    RedSum = "RED_SUM", U, Reduce, "tf.math.reduce_sum(in1, axis=-1, keepdims=True)";
    RedMax = "RED_MAX", U, Reduce, "tf.math.reduce_max(in1, axis=-1, keepdims=True)";
    RedMin = "RED_MIN", U, Reduce, "tf.math.reduce_min(in1, axis=-1, keepdims=True)";
    RedProd = "RED_PROD", U, Reduce, "tf.math.reduce_prod(in1, axis=-1, keepdims=True)";
    MatMul = "MAT_MUL", B, MatMul, "tf.matmul(in1, in2): attention weights (square) times values, over s <= t";
    TMatMul = "T_MAT_MUL", B, TMatMul, "tf.matmul(in1, in2, transpose_b=True): [T,T] logits, strict upper triangle 0";
    Dense = "DENSE", D, Project, "tf.layers.dense(in1, dim) (CONV 1X1 in the paper), with bias";
    Conv3 = "CONV3", D, Project, "tf.nn.conv1d(in1, dim, width 3), causal, with bias";
    Conv7 = "CONV7", D, Project, "tf.nn.conv1d(in1, dim, width 7), causal, with bias";
    Conv15 = "CONV15", D, Project, "tf.nn.conv1d(in1, dim, width 15), causal, with bias";
    Conv31 = "CONV31", D, Project, "tf.nn.conv1d(in1, dim, width 31), causal, with bias";
    DConv3 = "DCONV3", U, Depthwise, "tf.nn.depthwise_conv2d(in1, width 3), causal, no bias";
    DConv7 = "DCONV7", U, Depthwise, "tf.nn.depthwise_conv2d(in1, width 7), causal, no bias";
    DConv15 = "DCONV15", U, Depthwise, "tf.nn.depthwise_conv2d(in1, width 15), causal, no bias";
    DConv31 = "DCONV31", U, Depthwise, "tf.nn.depthwise_conv2d(in1, width 31), causal, no bias";
}

impl Op {
    /// Kernel width of a convolution (1 for dense), `None` for other ops.
    pub fn kernel_width(self) -> Option<usize> {
        match self {
            Op::Dense => Some(1),
            Op::Conv3 | Op::DConv3 => Some(3),
            Op::Conv7 | Op::DConv7 => Some(7),
            Op::Conv15 | Op::DConv15 => Some(15),
            Op::Conv31 | Op::DConv31 => Some(31),
            _ => None,
        }
    }

    /// Whether the op has trainable parameters of its own (calls: through the callee).
    pub fn has_params(self) -> bool {
        matches!(self.rule(), ShapeRule::Project | ShapeRule::Depthwise | ShapeRule::PerChannel)
    }

    /// Parameters of one copy of this op for input width `c_in` and output shape `out`.
    /// Calls count through their callee (see [`crate::analysis`]), so this returns 0 for them.
    pub fn params(self, c_in: usize, out: Shape) -> usize {
        let c_out = out.width_or(0);
        match self.rule() {
            ShapeRule::Project => self.kernel_width().unwrap_or(1) * c_in * c_out + c_out,
            ShapeRule::Depthwise => self.kernel_width().unwrap_or(1) * c_out,
            ShapeRule::PerChannel => c_out,
            _ => 0,
        }
    }

    /// Forward FLOPs per token of one copy of this op (calls: 0, counted through the callee).
    ///
    /// `in1`, `in2` are the input shapes, `out` the output shape, `t` the sequence length. A
    /// square's row (the part that belongs to one token) has `t` entries. Elementwise ops cost
    /// one FLOP per output element, reductions one per input element, a dense `2·c_in·c_out`
    /// plus the bias, a width-w convolution `w` times that, matrix products `2·t·c` per row.
    pub fn forward_flops(self, in1: Shape, in2: Shape, out: Shape, t: usize) -> u64 {
        let row = |s: Shape| s.row_len(t) as u64;
        let w = self.kernel_width().unwrap_or(1) as u64;
        match self.rule() {
            ShapeRule::Constant | ShapeRule::Call => 0,
            ShapeRule::Unary | ShapeRule::Binary | ShapeRule::PerChannel | ShapeRule::Mask | ShapeRule::Cumulative => {
                row(out)
            }
            ShapeRule::Reduce => row(in1),
            ShapeRule::Project => 2 * w * row(in1) * row(out) + row(out),
            ShapeRule::Depthwise => 2 * w * row(out),
            // Row t of the product: t entries (square) or c channels, each a sum over t terms.
            ShapeRule::MatMul => 2 * row(out) * t as u64,
            // Row t of a·bᵀ: t dot products over the common channel width.
            ShapeRule::TMatMul => 2 * t as u64 * row(in1).max(row(in2)),
        }
    }
}

impl Serialize for Op {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Op::Call(i) => s.serialize_str(&format!("CALL:{i}")),
            op => s.serialize_str(op.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        let s = String::deserialize(d)?;
        if let Some(i) = s.strip_prefix("CALL:") {
            return i.parse().map(Op::Call).map_err(|_| serde::de::Error::custom(format!("bad call `{s}`")));
        }
        Op::from_name(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown op `{s}`")))
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_primitive_round_trips_its_name() {
        // The paper's 40 primitives at least, each name once.
        assert!(Op::PRIMITIVES.len() >= 40);
        let names: std::collections::HashSet<&str> = Op::PRIMITIVES.iter().map(|op| op.name()).collect();
        assert_eq!(names.len(), Op::PRIMITIVES.len());
        for &op in Op::PRIMITIVES {
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert!(!op.tf().is_empty());
        }
        assert_eq!(Op::from_name("CALL"), None);
    }

    #[test]
    fn ops_read_what_the_paper_says() {
        assert_eq!(Op::Add.reads(), reads(true, true, false, false, false));
        assert_eq!(Op::CMul.reads(), reads(true, false, true, false, false));
        assert_eq!(Op::Dense.reads(), reads(true, false, false, true, false));
        assert_eq!(Op::Constant.reads(), reads(false, false, true, false, false));
        assert!(Op::Call(1).reads().branching);
    }

    #[test]
    fn costs_of_dense_and_depthwise() {
        // dense 64 -> 256 with bias: 64*256 + 256 params, 2*64*256 + 256 FLOPs per token.
        let out = Shape::Seq(256);
        assert_eq!(Op::Dense.params(64, out), 64 * 256 + 256);
        assert_eq!(Op::Dense.forward_flops(Shape::Seq(64), Shape::Seq(64), out, 32), 2 * 64 * 256 + 256);
        // depthwise width 3 on 64 channels: 3 weights a channel, no bias.
        assert_eq!(Op::DConv3.params(64, Shape::Seq(64)), 192);
        // T_MAT_MUL of two 16-wide sequences at T=32: 32 dot products of length 16 per row.
        assert_eq!(Op::TMatMul.forward_flops(Shape::Seq(16), Shape::Seq(16), Shape::Square, 32), 2 * 32 * 16);
    }
}
