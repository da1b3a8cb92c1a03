//! Primer's changes, detected structurally: on the live program, whatever the names, the order
//! of independent instructions or the subprogram they sit in.
//!
//! - **squared ReLU**: `SQUARE(r)` (or `MULTIPLY(r, r)`) of a ReLU-like value `r = MAX(u, 0)`
//!   (the zero a `CONSTANT` whose bank value is 0), read by a projection (`DENSE` or `CONV*`):
//!   the feed-forward's down projection.
//! - **depthwise convolution after Q, K or V**: inside a subprogram that computes attention
//!   (`T_MAT_MUL(q, k)` whose product reaches a `MAT_MUL(w, v)`), the value used as Q, K or V is a
//!   `DCONV*` (any width) of a projection, possibly followed by ops of one input (scales,
//!   activations). Reported per role.
//! - **shared Q/K**: Q and K are one value, or one is computed from the other through ops of one
//!   input (Primer's `q = DENSE(k)`), without going back to the subprogram's inputs.
//! - **norms**: layer-norm-like patterns per layer (`(x - RED_MEAN(x)) / ABS_ROOT(...)`, or the
//!   product with its `RECIP`), counted through calls with their copies; more than the seed's
//!   are extra norms.
//!
//! Beside them, [`token_mixing`]: how a program's live code moves information between
//! positions (attention, a causal convolution, a cumulative op). A program with a convolution
//! and no attention is in the "local" basin that small searches fall into
//! ([`TokenMixing::local_basin`]).

use serde::Serialize;

use crate::analysis::eliminate_dead_code;
use crate::op::Op;
use crate::program::{Program, Subprogram};

/// Which of Primer's changes a program has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Motifs {
    pub squared_relu: bool,
    pub dconv_q: bool,
    pub dconv_k: bool,
    pub dconv_v: bool,
    pub shared_qk: bool,
    /// Layer-norm-like patterns computed per layer (a call of k copies counts k times).
    pub norms: usize,
}

impl Motifs {
    /// Any depthwise convolution after a Q, K or V projection.
    pub fn dconv_qkv(&self) -> bool {
        self.dconv_q || self.dconv_k || self.dconv_v
    }

    /// Short names of the changes present (`norms` counted apart).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        for (on, name) in [
            (self.squared_relu, "squared_relu"),
            (self.dconv_q, "dconv_q"),
            (self.dconv_k, "dconv_k"),
            (self.dconv_v, "dconv_v"),
            (self.shared_qk, "shared_qk"),
        ] {
            if on {
                v.push(name);
            }
        }
        v
    }
}

/// The motifs of a program (its live code).
pub fn motifs(program: &Program) -> Motifs {
    let p = eliminate_dead_code(program);
    let mut m = Motifs::default();
    for s in &p.subprograms {
        m.squared_relu |= has_squared_relu(&p, s);
        for (q, k, v) in attention_operands(s) {
            m.dconv_q |= dconv_of_projection(s, q);
            m.dconv_k |= dconv_of_projection(s, k);
            m.dconv_v |= dconv_of_projection(s, v);
            m.shared_qk |= derived_from(s, q, k) || derived_from(s, k, q);
        }
    }
    if !p.subprograms.is_empty() {
        m.norms = norms_in(&p, 0, 0);
    }
    m
}

/// How a program's live code mixes positions of the sequence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenMixing {
    /// Some `T_MAT_MUL(q, k)` whose product reaches a `MAT_MUL(w, v)`.
    pub attention: bool,
    /// Some causal convolution (`CONV*` or `DCONV*`, width 3 or more).
    pub convolution: bool,
    /// Some `CUM_SUM` or `CUM_PROD` along the sequence.
    pub cumulative: bool,
}

impl TokenMixing {
    /// No attention, and tokens mixed by a convolution: the cheap local programs that win small
    /// budgets (experiments/README.md), not Primer's route.
    pub fn local_basin(&self) -> bool {
        !self.attention && self.convolution
    }
}

/// How the live code of `program` mixes positions (uncalled subprograms and dead instructions
/// do not count).
pub fn token_mixing(program: &Program) -> TokenMixing {
    let p = eliminate_dead_code(program);
    let mut m = TokenMixing::default();
    for s in &p.subprograms {
        m.attention |= !attention_operands(s).is_empty();
        for ins in &s.instructions {
            m.convolution |= ins.op.kernel_width().is_some_and(|w| w > 1);
            m.cumulative |= matches!(ins.op, Op::CumSum | Op::CumProd);
        }
    }
    m
}

/// The instruction that computes value `v`, if `v` is not an input.
fn def(s: &Subprogram, v: usize) -> Option<&crate::program::Instruction> {
    v.checked_sub(s.inputs.len()).and_then(|i| s.instructions.get(i))
}

fn is_projection(op: Op) -> bool {
    matches!(op, Op::Dense | Op::Conv3 | Op::Conv7 | Op::Conv15 | Op::Conv31)
}

fn is_dconv(op: Op) -> bool {
    matches!(op, Op::DConv3 | Op::DConv7 | Op::DConv15 | Op::DConv31)
}

/// An op that reads only its first input and is not a call.
fn single_input(op: Op) -> bool {
    let r = op.reads();
    r.in1 && !r.in2 && !matches!(op, Op::Call(_))
}

fn is_zero_constant(p: &Program, s: &Subprogram, v: usize) -> bool {
    def(s, v).is_some_and(|i| i.op == Op::Constant && p.constant(i) == Some(0.0))
}

fn is_relu(p: &Program, s: &Subprogram, v: usize) -> bool {
    def(s, v).is_some_and(|i| i.op == Op::Max && (is_zero_constant(p, s, i.in2) != is_zero_constant(p, s, i.in1)))
}

fn has_squared_relu(p: &Program, s: &Subprogram) -> bool {
    s.instructions.iter().enumerate().any(|(i, ins)| {
        let squares_relu = match ins.op {
            Op::Square => is_relu(p, s, ins.in1),
            Op::Multiply => ins.in1 == ins.in2 && is_relu(p, s, ins.in1),
            _ => false,
        };
        let v = s.value_of(i);
        squares_relu && s.instructions.iter().any(|r| is_projection(r.op) && r.in1 == v)
    })
}

/// (Q, K, V) of each attention in the subprogram: `T_MAT_MUL(q, k)` whose product reaches the
/// first input of a `MAT_MUL(w, v)`.
fn attention_operands(s: &Subprogram) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    for (i, ins) in s.instructions.iter().enumerate() {
        if ins.op != Op::TMatMul {
            continue;
        }
        let logits = s.value_of(i);
        for mm in &s.instructions {
            if mm.op == Op::MatMul && reaches(s, logits, mm.in1) {
                out.push((ins.in1, ins.in2, mm.in2));
            }
        }
    }
    out
}

/// Whether value `from` is an ancestor of (or is) value `to`.
fn reaches(s: &Subprogram, from: usize, to: usize) -> bool {
    let mut stack = vec![to];
    let mut seen = vec![false; s.num_values()];
    while let Some(v) = stack.pop() {
        if v == from {
            return true;
        }
        if v >= seen.len() || seen[v] {
            continue;
        }
        seen[v] = true;
        if let Some(ins) = def(s, v) {
            let r = ins.op.reads();
            if r.in1 || matches!(ins.op, Op::Call(_)) {
                stack.push(ins.in1);
            }
            if r.in2 || matches!(ins.op, Op::Call(_)) {
                stack.push(ins.in2);
            }
        }
    }
    false
}

/// `v` is a depthwise convolution of a projection, possibly followed by ops of one input.
fn dconv_of_projection(s: &Subprogram, mut v: usize) -> bool {
    while let Some(ins) = def(s, v) {
        if is_dconv(ins.op) {
            return def(s, ins.in1).is_some_and(|src| is_projection(src.op));
        }
        if is_projection(ins.op) || !single_input(ins.op) {
            return false;
        }
        v = ins.in1;
    }
    false
}

/// `a` is `b`, or computed from `b` through ops of one input only.
fn derived_from(s: &Subprogram, mut a: usize, b: usize) -> bool {
    loop {
        if a == b {
            return true;
        }
        match def(s, a) {
            Some(ins) if single_input(ins.op) => a = ins.in1,
            _ => return false,
        }
    }
}

/// Layer-norm-like patterns computed by subprogram `si` and its callees (with copies).
fn norms_in(p: &Program, si: usize, depth: usize) -> usize {
    let s = &p.subprograms[si];
    let mut n = 0;
    for ins in &s.instructions {
        match ins.op {
            Op::Divide if centered(s, ins.in1) && is_root(s, ins.in2) => n += 1,
            Op::Multiply
                if (centered(s, ins.in1) && recip_root(s, ins.in2))
                    || (centered(s, ins.in2) && recip_root(s, ins.in1)) =>
            {
                n += 1
            }
            Op::Call(c) if c < p.subprograms.len() && c > si && depth < 16 => {
                n += ins.branching.max(1) as usize * norms_in(p, c, depth + 1)
            }
            _ => {}
        }
    }
    n
}

/// `v = x - RED_MEAN(x)`.
fn centered(s: &Subprogram, v: usize) -> bool {
    def(s, v)
        .is_some_and(|d| d.op == Op::Difference && def(s, d.in2).is_some_and(|m| m.op == Op::RedMean && m.in1 == d.in1))
}

fn is_root(s: &Subprogram, v: usize) -> bool {
    def(s, v).is_some_and(|d| d.op == Op::AbsRoot)
}

fn recip_root(s: &Subprogram, v: usize) -> bool {
    def(s, v).is_some_and(|d| d.op == Op::Recip && is_root(s, d.in1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::parse;

    fn program(name: &str) -> Program {
        let path = format!("{}/../../search-spaces/programs/{name}", env!("CARGO_MANIFEST_DIR"));
        parse(&std::fs::read_to_string(&path).unwrap(), &path).unwrap()
    }

    /// A reference program with one line replaced (the line must exist).
    fn edited(name: &str, from: &str, to: &str) -> Program {
        let path = format!("{}/../../search-spaces/programs/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{from}");
        parse(&text.replacen(from, to, 1), &path).unwrap()
    }

    #[test]
    fn the_reference_programs_have_exactly_their_motifs() {
        let t = motifs(&program("transformer.prim"));
        assert_eq!(t, Motifs { norms: 2, ..Motifs::default() });
        let ez = motifs(&program("primer_ez.prim"));
        assert_eq!(
            ez,
            Motifs { squared_relu: true, dconv_q: true, dconv_k: true, dconv_v: true, shared_qk: false, norms: 2 }
        );
        // Primer: Q = DENSE(K) with K = DCONV3(DENSE(x)); its custom norm multiplies by RECIP.
        let p = motifs(&program("primer.prim"));
        assert_eq!(
            p,
            Motifs { squared_relu: true, dconv_q: false, dconv_k: true, dconv_v: true, shared_qk: true, norms: 2 }
        );
        assert_eq!(p.names(), ["squared_relu", "dconv_k", "dconv_v", "shared_qk"]);
    }

    #[test]
    fn token_mixing_reads_the_live_code() {
        let t = token_mixing(&program("transformer.prim"));
        assert_eq!(t, TokenMixing { attention: true, convolution: false, cumulative: false });
        assert!(!t.local_basin());
        let ez = token_mixing(&program("primer_ez.prim"));
        assert!(ez.attention && ez.convolution && !ez.local_basin());
        // Attention no longer called (its subprogram is dead), a convolution instead: the basin.
        let local = token_mixing(&edited(
            "transformer.prim",
            "heads = CALL[8] attention_head(n1)\n  attn  = DENSE(heads, model)",
            "attn  = DCONV15(n1)",
        ));
        assert_eq!(local, TokenMixing { attention: false, convolution: true, cumulative: false });
        assert!(local.local_basin());
        // A convolution whose result is never used does not mix anything.
        let dead = token_mixing(&edited(
            "transformer.prim",
            "heads = CALL[8] attention_head(n1)\n  attn  = DENSE(heads, model)",
            "unused = CONV3(n1, model)\n  attn  = DENSE(n1, model)",
        ));
        assert_eq!(dead, TokenMixing::default());
        // A running sum along the sequence.
        let cum = token_mixing(&edited(
            "transformer.prim",
            "attn  = DENSE(heads, model)",
            "c = CUM_SUM(heads)\n  attn  = DENSE(c, model)",
        ));
        assert!(cum.attention && cum.cumulative && !cum.convolution);
    }

    #[test]
    fn near_misses_are_not_motifs() {
        // Squaring the pre-activation, not the ReLU.
        let m = motifs(&edited("primer_ez.prim", "sq    = SQUARE(relu)", "sq    = SQUARE(up)"));
        assert!(!m.squared_relu);
        // MAX against a constant that is not zero is not a ReLU.
        let m = motifs(&edited("primer_ez.prim", "const zero = 0", "const zero = 0.5"));
        assert!(!m.squared_relu);
        // A squared ReLU that only feeds a residual ADD, not a projection.
        let m = motifs(&edited(
            "primer_ez.prim",
            "  down  = DENSE(sq, model)\n  out   = ADD(h, down)",
            "  down  = DENSE(relu, model)\n  d2    = ADD(down, sq)\n  out   = ADD(h, d2)",
        ));
        assert!(!m.squared_relu);
        // A depthwise convolution of the logits is not one after Q, K or V.
        let m = motifs(&edited(
            "transformer.prim",
            "scaled  = C_MUL(logits, attn_scale)",
            "conv    = DCONV3(logits)\n  scaled  = C_MUL(conv, attn_scale)",
        ));
        assert!(!m.dconv_qkv());
        // A full convolution (CONV3) is not a depthwise one; and a dconv of the head's input
        // (before the projection) is not after it.
        let m = motifs(&edited("transformer.prim", "q       = DENSE(x, head)", "q       = CONV3(x, head)"));
        assert!(!m.dconv_qkv());
        let m = motifs(&edited(
            "transformer.prim",
            "q       = DENSE(x, head)",
            "xc      = DCONV3(x)\n  q       = DENSE(xc, head)",
        ));
        assert!(!m.dconv_qkv());
        // Q = K without convolution is shared, but not a dconv.
        let m = motifs(&edited("transformer.prim", "logits  = T_MAT_MUL(q, k)", "logits  = T_MAT_MUL(k, k)"));
        assert!(m.shared_qk && !m.dconv_qkv());
    }

    #[test]
    fn motifs_are_found_whatever_the_names_widths_and_places() {
        // Width 7 on V only, with a scale after it; squared ReLU written as MULTIPLY(r, r).
        let m = motifs(&edited(
            "transformer.prim",
            "v       = DENSE(x, head)",
            "vp      = DENSE(x, head)\n  vc      = DCONV7(vp)\n  v       = C_MUL(vc, attn_scale)",
        ));
        assert!(m.dconv_v && !m.dconv_q && !m.dconv_k);
        let m = motifs(&edited(
            "transformer.prim",
            "down  = DENSE(relu, model)",
            "sq2   = MULTIPLY(relu, relu)\n  down  = DENSE(sq2, model)",
        ));
        assert!(m.squared_relu);
        // A third norm call is an extra norm; a dead one is not.
        let m = motifs(&edited(
            "transformer.prim",
            "out   = ADD(h, down)",
            "n3    = CALL norm(down)\n  out   = ADD(h, n3)",
        ));
        assert_eq!(m.norms, 3);
        let m = motifs(&edited(
            "transformer.prim",
            "out   = ADD(h, down)",
            "n3    = CALL norm(down)\n  out   = ADD(h, down)",
        ));
        assert_eq!(m.norms, 2);
        // Deleting a norm.
        let m = motifs(&edited(
            "transformer.prim",
            "heads = CALL[8] attention_head(n1)",
            "heads = CALL[8] attention_head(x)",
        ));
        assert_eq!(m.norms, 1);
    }
}
