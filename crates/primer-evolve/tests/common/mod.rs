//! Helpers shared by the primer-evolve tests: the reference programs, the CPU search space,
//! the mutations that lead from the Transformer to Primer-EZ, and a synthetic fitness.

#![allow(dead_code)]

use std::path::PathBuf;

use primer_dsl::analysis::{ProgramHash, canonical_hash, liveness};
use primer_dsl::{Field, Instruction, ModelConfig, Op, Program, SearchSpace, text};
use primer_evolve::{Mutation, Mutator};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces")
}

pub fn program(name: &str) -> Program {
    text::parse_file(&root().join("programs").join(name)).unwrap()
}

pub fn space() -> SearchSpace {
    SearchSpace::load(&root().join("primer-cpu.toml")).unwrap()
}

/// The demo-size model the mutator validates children for.
pub fn config() -> ModelConfig {
    ModelConfig { d_model: 64, seq_len: 64, n_layers: 2, vocab: 256 }
}

pub fn mutator() -> Mutator {
    Mutator::new(space(), config(), 100)
}

/// A smaller space for the synthetic-fitness tests: the Transformer's own ops plus DCONV3 and
/// TANH (20 ops instead of 38), so that a search of a few thousand evaluations is a meaningful
/// test of the evolution itself.
pub fn small_space() -> SearchSpace {
    let text = r#"
name = "test-small"
ops = ["ADD", "DIFFERENCE", "DIVIDE", "MAX", "CONSTANT", "ABS_ROOT", "SQUARE", "EXP", "TANH",
       "C_MUL", "SCALE", "SHIFT", "MASK", "RED_MEAN", "RED_SUM", "RED_MAX", "MAT_MUL", "T_MAT_MUL",
       "DENSE", "DCONV3"]
dims = [1, 2, 4, 8, 16, 32]
branching = [1, 2, 4, 8]
[limits]
max_instructions = 30
max_total_instructions = 60
max_bank_entries = 8
[mutation_weights]
delete = 1.0
insert = 1.0
delete_insert = 1.0
mutate_field = 1.0
swap = 1.0
bank = 1.0
"#;
    SearchSpace::from_toml(text, "<small space>").unwrap()
}

fn op_on(name: &str, op: Op, v: usize) -> Instruction {
    Instruction { name: name.into(), op, in1: v, in2: v, constant: 0, dim: 0, branching: 1 }
}

/// transformer.prim: main is subprogram 0 (relu = value 8, instruction 7), attention_head is 1
/// (q, k, v = values 1, 2, 3).
pub const MAIN: usize = 0;
pub const HEAD: usize = 1;

/// Squared ReLU: SQUARE(relu) inserted after relu (instruction 7), so `down` reads it.
pub fn squared_relu() -> Mutation {
    Mutation::InsertInstruction { subprogram: MAIN, position: 8, instruction: op_on("sq", Op::Square, 8) }
}

/// DCONV3 on Q (from the Transformer): inserted after q (instruction 0, value 1).
pub fn dconv_q() -> Mutation {
    Mutation::InsertInstruction { subprogram: HEAD, position: 1, instruction: op_on("q_conv", Op::DConv3, 1) }
}
/// DCONV3 on K once Q has its convolution (k = instruction 2, value 3).
pub fn dconv_k() -> Mutation {
    Mutation::InsertInstruction { subprogram: HEAD, position: 3, instruction: op_on("k_conv", Op::DConv3, 3) }
}
/// DCONV3 on V once Q and K have theirs (v = instruction 4, value 5).
pub fn dconv_v() -> Mutation {
    Mutation::InsertInstruction { subprogram: HEAD, position: 5, instruction: op_on("v_conv", Op::DConv3, 5) }
}
/// DCONV3 on K or V straight from the Transformer (k = value 2, v = value 3).
pub fn dconv_k_first() -> Mutation {
    Mutation::InsertInstruction { subprogram: HEAD, position: 2, instruction: op_on("k_conv", Op::DConv3, 2) }
}
pub fn dconv_v_first() -> Mutation {
    Mutation::InsertInstruction { subprogram: HEAD, position: 3, instruction: op_on("v_conv", Op::DConv3, 3) }
}

/// The hash of `p` after `m` (live code).
pub fn hash_after(p: &Program, m: &Mutation) -> ProgramHash {
    canonical_hash(&m.apply(p))
}

/// Synthetic fitness with a known optimum of 0: one point for each of Primer-EZ's four changes
/// that is missing. Structural, so no training: a live SQUARE of a MAX that a DENSE reads
/// (squared ReLU); a T_MAT_MUL whose first / second input is a DCONV3 of a DENSE (Q / K); a
/// MAT_MUL whose second input is a DCONV3 of a DENSE (V).
pub fn missing_features(p: &Program) -> f64 {
    let live = liveness(p);
    let mut found = [false; 4];
    for (si, sub) in p.subprograms.iter().enumerate() {
        if !live.subprograms[si] {
            continue;
        }
        let n_in = sub.inputs.len();
        let ins_of = |v: usize| (v >= n_in).then(|| &sub.instructions[v - n_in]);
        let is = |v: usize, op: Op| ins_of(v).is_some_and(|i| i.op == op);
        let conv_of_dense = |v: usize| ins_of(v).is_some_and(|i| i.op == Op::DConv3 && is(i.in1, Op::Dense));
        for (i, ins) in sub.instructions.iter().enumerate() {
            if !live.instructions[si][i] {
                continue;
            }
            let v = sub.value_of(i);
            match ins.op {
                Op::Square if is(ins.in1, Op::Max) => {
                    let read_by_dense = sub.instructions[i + 1..].iter().any(|r| r.op == Op::Dense && r.in1 == v);
                    found[0] |= read_by_dense;
                }
                Op::TMatMul => {
                    found[1] |= conv_of_dense(ins.in1);
                    found[2] |= conv_of_dense(ins.in2);
                }
                Op::MatMul => found[3] |= conv_of_dense(ins.in2),
                _ => {}
            }
        }
    }
    found.iter().filter(|f| !**f).count() as f64
}

/// What one live instruction computes, locally: its op (calls with their branching) and the
/// ops of the instructions it reads (`-` for an input or an unread field).
fn signatures(p: &Program) -> Vec<String> {
    let live = liveness(p);
    let mut out = Vec::new();
    for (si, sub) in p.subprograms.iter().enumerate() {
        if !live.subprograms[si] {
            continue;
        }
        let n_in = sub.inputs.len();
        let name = |ins: &Instruction| match ins.op {
            Op::Call(_) => format!("CALL[{}]", ins.branching),
            op => op.name().to_string(),
        };
        let source = |v: usize, read: bool| {
            if !read || v < n_in { "-".to_string() } else { name(&sub.instructions[v - n_in]) }
        };
        for (i, ins) in sub.instructions.iter().enumerate() {
            if live.instructions[si][i] {
                let (a, b) = (p.reads(ins, Field::In1), p.reads(ins, Field::In2));
                out.push(format!("{}({},{})", name(ins), source(ins.in1, a), source(ins.in2, b)));
            }
        }
    }
    out.sort();
    out
}

/// The synthetic loss: how many of the target's instruction signatures (op and the ops it
/// reads, as a multiset) `p` lacks. Extra instructions cost nothing, as many harmless changes
/// cost (almost) nothing in real training; breaking what the target has costs. The optimum, 0,
/// is reached by the target (and by programs that contain it). From the Transformer to
/// Primer-EZ it is 7: squared ReLU brings 2 (SQUARE(MAX), DENSE(SQUARE)), the convolution on Q
/// 1 (DCONV3(DENSE)), on K 2 (DCONV3(DENSE), T_MAT_MUL(DCONV3,DCONV3)), on V 2.
pub fn synthetic_loss(p: &Program, target: &Program) -> f64 {
    let (a, b) = (signatures(p), signatures(target));
    let (mut i, mut j, mut missing) = (0, 0, 0);
    while j < b.len() {
        if i < a.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && a[i] < b[j] {
            i += 1;
        } else {
            missing += 1;
            j += 1;
        }
    }
    missing as f64
}
