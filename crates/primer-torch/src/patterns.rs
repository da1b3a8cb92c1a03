//! Recognised primitive patterns that run as one fused kernel: causal softmax attention and
//! layer norm. Pure analysis of a program (no tensors), shared by the compiler ([`crate::compile`],
//! which runs them fused) and the PyTorch export ([`crate::export`], which writes them as
//! `F.scaled_dot_product_attention` and `F.layer_norm`), so the two always agree on what is
//! fused.
//!
//! A pattern is taken only when each of its intermediate values is read by nothing but the
//! pattern itself, so skipping them changes nothing else. Patterns never share an instruction.

use primer_dsl::{Field, Op, Program, Shape};

/// A recognised pattern in one subprogram. Indices are instruction indices, value ids are
/// value indices of the subprogram (inputs first).
#[derive(Debug, Clone, PartialEq)]
pub enum Pattern {
    /// `out = MAT_MUL(softmax(MASK(C_MUL(T_MAT_MUL(q, k), scale))), v)`, the softmax written as
    /// RED_MAX, DIFFERENCE, EXP, RED_SUM, DIVIDE (the C_MUL is optional: scale 1).
    Attention { out: usize, q: usize, k: usize, v: usize, scale: f64, gone: Vec<usize> },
    /// `out = SHIFT(SCALE((x - mean) / ABS_ROOT(var + eps)))` over channels. `gain` is the
    /// SCALE instruction (its parameter is the gain), `out` the SHIFT (its parameter the bias).
    LayerNorm { out: usize, x: usize, eps: f64, gain: usize, gone: Vec<usize> },
}

impl Pattern {
    /// The instruction whose value the pattern produces.
    pub fn out(&self) -> usize {
        match self {
            Pattern::Attention { out, .. } | Pattern::LayerNorm { out, .. } => *out,
        }
    }

    /// Instructions the pattern replaces (besides `out`), which are not computed on their own
    /// (a layer norm's SCALE among them: its parameter is used by the fused step).
    pub fn gone(&self) -> &[usize] {
        match self {
            Pattern::Attention { gone, .. } | Pattern::LayerNorm { gone, .. } => gone,
        }
    }
}

/// The patterns of subprogram `si`, given the shapes of its values in one instance (`None`:
/// dead) and which instructions run (`live[i]`).
pub fn find(p: &Program, si: usize, shapes: &[Option<Shape>], live: &[bool]) -> Vec<Pattern> {
    let sub = &p.subprograms[si];
    let n_in = sub.inputs.len();
    // Readers (instruction indices) of every value, among live instructions.
    let mut readers: Vec<Vec<usize>> = vec![Vec::new(); sub.num_values()];
    for (i, ins) in sub.instructions.iter().enumerate() {
        if !live[i] {
            continue;
        }
        for (field, v) in [(Field::In1, ins.in1), (Field::In2, ins.in2)] {
            if p.reads(ins, field) && !readers[v].contains(&i) {
                readers[v].push(i);
            }
        }
    }
    // The instruction defining value `v` if it has op `op` and exactly the readers `by`.
    let def = |v: usize, op: Op, by: &[usize]| -> Option<usize> {
        let i = v.checked_sub(n_in)?;
        let mut r = readers[v].clone();
        r.sort_unstable();
        let mut want = by.to_vec();
        want.sort_unstable();
        (sub.instructions[i].op == op && live[i] && r == want).then_some(i)
    };
    let seq = |v: usize| match shapes[v] {
        Some(Shape::Seq(c)) => Some(c),
        _ => None,
    };
    let mut found = Vec::new();
    for (i, ins) in sub.instructions.iter().enumerate() {
        if !live[i] {
            continue;
        }
        if ins.op == Op::MatMul {
            let attention = (|| {
                // weights = DIVIDE(e, total); total = RED_SUM(e); e = EXP(shifted);
                // shifted = DIFFERENCE(masked, row_max); row_max = RED_MAX(masked);
                // masked = MASK(scores); scores = C_MUL(logits, c) or logits;
                // logits = T_MAT_MUL(q, k); out = MAT_MUL(weights, v).
                let (w_val, v_val) = (ins.in1, ins.in2);
                let w = def(w_val, Op::Divide, &[i])?;
                let e_val = sub.instructions[w].in1;
                let total = def(sub.instructions[w].in2, Op::RedSum, &[w])?;
                let e = def(e_val, Op::Exp, &[total, w])?;
                (sub.instructions[total].in1 == e_val).then_some(())?;
                let shifted = def(sub.instructions[e].in1, Op::Difference, &[e])?;
                let m_val = sub.instructions[shifted].in1;
                let row_max = def(sub.instructions[shifted].in2, Op::RedMax, &[shifted])?;
                let masked = def(m_val, Op::Mask, &[row_max, shifted])?;
                (sub.instructions[row_max].in1 == m_val).then_some(())?;
                let s_val = sub.instructions[masked].in1;
                let (logits, scale, scaled) = match def(s_val, Op::CMul, &[masked]) {
                    Some(c) => {
                        let scale = p.constant(&sub.instructions[c])?;
                        (def(sub.instructions[c].in1, Op::TMatMul, &[c])?, scale, Some(c))
                    }
                    None => (def(s_val, Op::TMatMul, &[masked])?, 1.0, None),
                };
                let (q, k) = (sub.instructions[logits].in1, sub.instructions[logits].in2);
                let (cq, ck, cv) = (seq(q)?, seq(k)?, seq(v_val)?);
                (cq == ck && cv > 0).then_some(())?;
                let gone: Vec<usize> =
                    [w, total, e, shifted, row_max, masked, logits].into_iter().chain(scaled).collect();
                Some(Pattern::Attention { out: i, q, k, v: v_val, scale, gone })
            })();
            found.extend(attention);
        }
        if ins.op == Op::Shift {
            let norm = (|| {
                // out = SHIFT(SCALE(DIVIDE(centered, ABS_ROOT(ADD(RED_MEAN(SQUARE(centered)),
                // CONSTANT(eps)))))), centered = DIFFERENCE(x, RED_MEAN(x)).
                let gain = def(ins.in1, Op::Scale, &[i])?;
                let divide = def(sub.instructions[gain].in1, Op::Divide, &[gain])?;
                let c_val = sub.instructions[divide].in1;
                let root = def(sub.instructions[divide].in2, Op::AbsRoot, &[divide])?;
                let add = def(sub.instructions[root].in1, Op::Add, &[root])?;
                let (a, b) = (sub.instructions[add].in1, sub.instructions[add].in2);
                let (var, eps) = match (def(a, Op::RedMean, &[add]), def(b, Op::Constant, &[add])) {
                    (Some(var), Some(eps)) => (var, eps),
                    _ => (def(b, Op::RedMean, &[add])?, def(a, Op::Constant, &[add])?),
                };
                let square = def(sub.instructions[var].in1, Op::Square, &[var])?;
                (sub.instructions[square].in1 == c_val).then_some(())?;
                let centered = def(c_val, Op::Difference, &[square, divide])?;
                let x = sub.instructions[centered].in1;
                let mean = def(sub.instructions[centered].in2, Op::RedMean, &[centered])?;
                (sub.instructions[mean].in1 == x && seq(x)? > 1).then_some(())?;
                let eps_value = p.constant(&sub.instructions[eps])?;
                (eps_value > 0.0).then_some(())?;
                let gone = vec![gain, divide, root, add, var, eps, square, centered, mean];
                Some(Pattern::LayerNorm { out: i, x, eps: eps_value, gain, gone })
            })();
            found.extend(norm);
        }
    }
    found
}
