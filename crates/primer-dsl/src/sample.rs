//! Random instructions and programs, drawn from a search space with a caller's RNG (so every
//! draw is reproducible from a recorded seed).

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::op::Op;
use crate::program::{BankEntry, Instruction, Program, Subprogram, ValueBank};
use crate::space::SearchSpace;

/// An op for an instruction of subprogram `si`: a call of a later subprogram with probability
/// `space.call_probability` (when one exists), else a primitive of the space, uniformly.
pub fn random_op<R: Rng + ?Sized>(rng: &mut R, space: &SearchSpace, p: &Program, si: usize) -> Op {
    let callable = p.subprograms.len().saturating_sub(si + 1);
    if callable > 0 && rng.random_bool(space.call_probability) {
        return Op::Call(rng.random_range(si + 1..p.subprograms.len()));
    }
    *space.ops.choose(rng).expect("a space has ops")
}

/// A random instruction for position `position` of subprogram `si`: every field of the
/// argument set is drawn (inputs uniformly over the values before it, bank refs uniformly,
/// branching from the space), read or not. Named after its op, uniquely.
pub fn random_instruction<R: Rng + ?Sized>(
    rng: &mut R,
    space: &SearchSpace,
    p: &Program,
    si: usize,
    position: usize,
) -> Instruction {
    let sub = &p.subprograms[si];
    let available = sub.inputs.len() + position;
    let op = random_op(rng, space, p, si);
    let base = match op {
        Op::Call(c) => p.subprograms[c].name.to_ascii_lowercase(),
        op => op.name().to_ascii_lowercase(),
    };
    Instruction {
        name: p.fresh_name(si, &base),
        op,
        in1: rng.random_range(0..available),
        in2: rng.random_range(0..available),
        constant: if p.bank.constants.is_empty() { 0 } else { rng.random_range(0..p.bank.constants.len()) },
        dim: if p.bank.dims.is_empty() { 0 } else { rng.random_range(0..p.bank.dims.len()) },
        branching: *space.branching.choose(rng).expect("a space has branchings"),
    }
}

/// A random constant for the bank: sign, magnitude 10^U(-3,1), rounded to 4 significant digits.
pub fn random_constant<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    let magnitude = 10f64.powf(rng.random_range(-3.0..1.0));
    let v = if rng.random_bool(0.5) { magnitude } else { -magnitude };
    let digits = 10f64.powi(3 - v.abs().log10().floor() as i32);
    (v * digits).round() / digits
}

/// A random, structurally valid program (shapes not checked): a bank of 1-4 constants and
/// 1-4 dims, `max_subs` or fewer subprograms of 1 to `max_len` instructions each. Used by
/// tests and as raw material; search starts from seed programs instead.
pub fn random_program<R: Rng + ?Sized>(rng: &mut R, space: &SearchSpace, max_subs: usize, max_len: usize) -> Program {
    let constants =
        (0..rng.random_range(1..=4)).map(|i| BankEntry::new(format!("c{i}"), random_constant(rng))).collect();
    let dims = (0..rng.random_range(1..=4))
        .map(|i| BankEntry::new(format!("d{i}"), *space.dims.choose(rng).expect("a space has dims")))
        .collect();
    let n_subs = rng.random_range(1..=max_subs.max(1));
    let subprograms = (0..n_subs)
        .map(|si| Subprogram {
            name: if si == 0 { "main".into() } else { format!("sub{si}") },
            inputs: if si == 0 || rng.random_bool(0.5) { vec!["x".into()] } else { vec!["x".into(), "y".into()] },
            instructions: Vec::new(),
        })
        .collect();
    let mut p = Program { bank: ValueBank { constants, dims }, subprograms };
    for si in 0..n_subs {
        for position in 0..rng.random_range(1..=max_len.max(1)) {
            let ins = random_instruction(rng, space, &p, si, position);
            p.subprograms[si].instructions.push(ins);
        }
    }
    p
}
