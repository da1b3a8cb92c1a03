//! Helpers shared by the primer-torch integration tests.
#![allow(dead_code)] // each test file uses a part

use std::path::PathBuf;

use primer_dsl::analysis::{canonical_hash, liveness};
use primer_dsl::{Instruction, Op, Program, text};
use primer_evolve::{Mutation, Mutator};
use tch::Tensor;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn program(name: &str) -> Program {
    text::parse_file(&root().join("search-spaces/programs").join(name)).unwrap()
}

/// Random tokens `[b, t]` from a seed (not libtorch's global generator: tests run in parallel).
pub fn tokens(b: i64, t: i64, seed: u64) -> Tensor {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<i64> = (0..b * t).map(|_| rng.random_range(0..256)).collect();
    Tensor::from_slice(&v).view([b, t])
}

/// A valid program in which `op` is live: the first valid splice of `op` into `t`, trying
/// every subprogram, position and input.
pub fn with_op(t: &Program, mutator: &Mutator, op: Op) -> Option<Program> {
    let hash = canonical_hash(t);
    for (si, sub) in t.subprograms.iter().enumerate() {
        for position in 0..=sub.instructions.len() {
            for in1 in 0..sub.inputs.len() + position {
                let instruction =
                    Instruction { name: "probe".into(), op, in1, in2: in1, constant: 0, dim: 1, branching: 1 };
                let m = Mutation::InsertInstruction { subprogram: si, position, instruction };
                if let Ok((p, _, _)) = mutator.check(t, &hash, &m, &|_| false) {
                    let live = liveness(&p);
                    let found = p.subprograms.iter().enumerate().any(|(s, sub)| {
                        sub.instructions.iter().enumerate().any(|(i, ins)| ins.op == op && live.instructions[s][i])
                    });
                    if found {
                        return Some(p);
                    }
                }
            }
        }
    }
    None
}
