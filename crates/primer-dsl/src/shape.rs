//! Shapes of values and the one rule that resolves mismatched inputs.
//!
//! A value is a *sequence* `[B,(k),T,C]` (written `Seq(C)`) or a *square* `[B,(k),T,T]` of
//! attention-like scores. The branch axis `k` is implicit: inside a call with branching k every
//! value carries it, and the call concatenates the k copies on channels.
//!
//! **Mismatched inputs of a binary op** are resolved, never rejected, by one rule:
//! 1. equal shapes give that shape;
//! 2. a square and a sequence give a square: the sequence's channels are repeated cyclically
//!    along the key axis (`out[t,s] = f(a[t,s], b[t, s mod C])`; width 1 is a broadcast);
//! 3. two sequences of widths a != b give `Seq(max(a,b))`: the narrower is repeated cyclically
//!    along channels (`b[c mod width]`; width 1 is a broadcast).
//!
//! **Causality** holds by construction: row t of every value depends only on positions <= t.
//! Sequence ops are elementwise, per-position, or causal along the sequence (cumulative ops and
//! convolutions look back only); reductions run over the last axis, within a row; `T_MAT_MUL`
//! sets its strict upper triangle (s > t) to zero; `MAT_MUL` sums only over s <= t.

use serde::{Deserialize, Serialize};

/// The shape of a value, with channel widths in real channels (not dim units).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Shape {
    /// `[B,T,C]`.
    Seq(usize),
    /// `[B,T,T]`.
    Square,
}

impl Shape {
    /// The channel width of a sequence, or `default` for a square.
    pub fn width_or(self, default: usize) -> usize {
        match self {
            Shape::Seq(c) => c,
            Shape::Square => default,
        }
    }

    /// Elements of one token's row: C for a sequence, T for a square.
    pub fn row_len(self, t: usize) -> usize {
        self.width_or(t)
    }

    pub fn is_square(self) -> bool {
        matches!(self, Shape::Square)
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Shape::Seq(c) => write!(f, "[T,{c}]"),
            Shape::Square => write!(f, "[T,T]"),
        }
    }
}

/// The output shape of a binary elementwise op on `a` and `b` (rules 1-3 above).
pub fn broadcast(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Square, _) | (_, Shape::Square) => Shape::Square,
        (Shape::Seq(x), Shape::Seq(y)) => Shape::Seq(x.max(y)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rule() {
        assert_eq!(broadcast(Shape::Seq(64), Shape::Seq(64)), Shape::Seq(64));
        assert_eq!(broadcast(Shape::Seq(64), Shape::Seq(1)), Shape::Seq(64));
        assert_eq!(broadcast(Shape::Seq(1), Shape::Seq(64)), Shape::Seq(64));
        assert_eq!(broadcast(Shape::Seq(16), Shape::Seq(48)), Shape::Seq(48));
        assert_eq!(broadcast(Shape::Square, Shape::Seq(1)), Shape::Square);
        assert_eq!(broadcast(Shape::Seq(8), Shape::Square), Shape::Square);
    }
}
