//! Analysis: dead code, the canonical form and its hash, and parameter and FLOP counts for a
//! model config (the dataflow DAG and liveness they read are in [`crate::dataflow`], re-exported
//! here).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::op::Op;
use crate::program::{BankEntry, Field, Instruction, ModelConfig, Program, Subprogram, ValueBank};
use crate::validate::Validated;

pub use crate::dataflow::{Liveness, dataflow_graph, liveness};

/// The program without dead instructions and uncalled subprograms (names and order kept;
/// references renumbered). Its meaning is unchanged.
pub fn eliminate_dead_code(p: &Program) -> Program {
    let live = liveness(p);
    let sub_map: Vec<Option<usize>> = {
        let mut next = 0;
        live.subprograms
            .iter()
            .map(|&l| {
                l.then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect()
    };
    let subprograms = p
        .subprograms
        .iter()
        .enumerate()
        .filter(|(si, _)| live.subprograms[*si])
        .map(|(si, sub)| {
            let mut map: Vec<usize> = (0..sub.inputs.len()).collect();
            let mut instructions = Vec::new();
            for (i, ins) in sub.instructions.iter().enumerate() {
                if live.instructions[si][i] {
                    let mut ins = ins.clone();
                    // Ignored inputs take the default (the value just before), as `.prim` does.
                    let prev = sub.inputs.len() + instructions.len() - 1;
                    ins.in1 = if p.reads(&ins, Field::In1) { map[ins.in1] } else { prev };
                    ins.in2 = if p.reads(&ins, Field::In2) { map[ins.in2] } else { prev };
                    if let Op::Call(c) = ins.op {
                        ins.op = Op::Call(sub_map[c].expect("callee of a live call is live"));
                    }
                    map.push(sub.inputs.len() + instructions.len());
                    instructions.push(ins);
                } else {
                    map.push(usize::MAX);
                }
            }
            Subprogram { name: sub.name.clone(), inputs: sub.inputs.clone(), instructions }
        })
        .collect();
    Program { bank: p.bank.clone(), subprograms }
}

/// The identity of a program: SHA-256 of its canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProgramHash(#[serde(with = "hex_bytes")] pub [u8; 32]);

impl ProgramHash {
    /// The full 64-digit hex form.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// The first 12 hex digits, for people.
    pub fn short(&self) -> String {
        self.hex()[..12].to_string()
    }
}

impl std::fmt::Display for ProgramHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        let bad = || serde::de::Error::custom(format!("`{s}` is not 64 hex digits"));
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())?;
        }
        Ok(out)
    }
}

/// One subprogram in canonical form: live instructions in depth-first post-order from the
/// output (first input before second), inputs renumbered, ignored fields cleared.
struct CanonicalSub {
    /// Value indices of the original subprogram, in canonical order (instructions only).
    order: Vec<usize>,
    hash: [u8; 32],
}

fn canonical_sub(p: &Program, si: usize, callee_hash: &HashMap<usize, [u8; 32]>) -> CanonicalSub {
    let sub = &p.subprograms[si];
    let n_in = sub.inputs.len();
    let mut order = Vec::new();
    let mut seen = vec![false; sub.num_values()];
    // Iterative post-order DFS: (value, expanded?).
    let mut stack = vec![(sub.output(), false)];
    while let Some((v, expanded)) = stack.pop() {
        if v < n_in || (seen[v] && !expanded) {
            continue;
        }
        if expanded {
            order.push(v);
            continue;
        }
        seen[v] = true;
        stack.push((v, true));
        let ins = &sub.instructions[v - n_in];
        if p.reads(ins, Field::In2) {
            stack.push((ins.in2, false));
        }
        if p.reads(ins, Field::In1) {
            stack.push((ins.in1, false));
        }
    }
    let mut canon_index: HashMap<usize, usize> = (0..n_in).map(|v| (v, v)).collect();
    for (k, &v) in order.iter().enumerate() {
        canon_index.insert(v, n_in + k);
    }
    let mut h = Sha256::new();
    h.update(b"sub");
    h.update((n_in as u64).to_le_bytes());
    for &v in &order {
        let ins = &sub.instructions[v - n_in];
        h.update(b"|");
        match ins.op {
            Op::Call(c) => {
                h.update(b"CALL");
                h.update(callee_hash[&c]);
            }
            op => h.update(op.name().as_bytes()),
        }
        for field in Field::ALL {
            if field == Field::Op || !p.reads(ins, field) {
                continue;
            }
            h.update([field as u8]);
            match field {
                Field::In1 => h.update((canon_index[&ins.in1] as u64).to_le_bytes()),
                Field::In2 => h.update((canon_index[&ins.in2] as u64).to_le_bytes()),
                Field::Constant => h.update(p.constant_key(ins).unwrap_or(f64::NAN.to_bits()).to_le_bytes()),
                Field::Dim => h.update((p.dim_units(ins).unwrap_or(0) as u64).to_le_bytes()),
                Field::Branching => h.update((ins.branching as u64).to_le_bytes()),
                Field::Op => {}
            }
        }
    }
    CanonicalSub { order, hash: h.finalize().into() }
}

/// Hashes of every live subprogram (callees first), keyed by index.
fn canonical_subs(p: &Program) -> (Liveness, HashMap<usize, CanonicalSub>) {
    let live = liveness(p);
    let mut hashes: HashMap<usize, [u8; 32]> = HashMap::new();
    let mut subs = HashMap::new();
    for si in (0..p.subprograms.len()).rev() {
        if live.subprograms[si] {
            let c = canonical_sub(p, si, &hashes);
            hashes.insert(si, c.hash);
            subs.insert(si, c);
        }
    }
    (live, subs)
}

/// The canonical hash: unchanged by value names, dead code, the order of independent
/// instructions, subprogram order and ignored argument fields; changed by any live change.
/// Bank entries count by value. Requires a structurally valid program
/// ([`crate::validate::check_structure`]).
pub fn canonical_hash(p: &Program) -> ProgramHash {
    let (_, subs) = canonical_subs(p);
    ProgramHash(subs[&0].hash)
}

/// The canonical form as a program: live code only, instructions in canonical order, values
/// named `v0, v1, ...` (inputs `x`, `y`), subprograms `main, s1, s2, ...` in a deterministic
/// topological order, bank entries deduplicated by value in order of first use, ignored fields
/// set to their defaults. `canonical_form(p) == canonical_form(q)` iff `canonical_hash(p) == canonical_hash(q)`
/// (barring hash collisions).
pub fn canonical_form(p: &Program) -> Program {
    let (_, subs) = canonical_subs(p);
    // Order: main, then repeatedly the callable subprogram (all callers placed) with the
    // smallest hash.
    let mut callers: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&si, c) in &subs {
        let sub = &p.subprograms[si];
        for &v in &c.order {
            if let Op::Call(callee) = sub.instructions[v - sub.inputs.len()].op {
                callers.entry(callee).or_default().push(si);
            }
        }
    }
    let mut placed = vec![0usize];
    let mut remaining: Vec<usize> = subs.keys().copied().filter(|&s| s != 0).collect();
    while !remaining.is_empty() {
        let next = remaining
            .iter()
            .copied()
            .filter(|s| callers.get(s).is_none_or(|cs| cs.iter().all(|c| placed.contains(c))))
            .min_by_key(|s| (subs[s].hash, *s))
            .expect("the call graph is acyclic");
        placed.push(next);
        remaining.retain(|&s| s != next);
    }
    let new_index: HashMap<usize, usize> = placed.iter().enumerate().map(|(k, &s)| (s, k)).collect();

    let mut constants: Vec<BankEntry<f64>> = Vec::new();
    let mut dims: Vec<BankEntry<u32>> = Vec::new();
    let mut subprograms = Vec::new();
    for &si in &placed {
        let sub = &p.subprograms[si];
        let n_in = sub.inputs.len();
        let c = &subs[&si];
        let mut index: HashMap<usize, usize> = (0..n_in).map(|v| (v, v)).collect();
        let mut instructions = Vec::new();
        for (k, &v) in c.order.iter().enumerate() {
            let ins = &sub.instructions[v - n_in];
            let prev = n_in + k - 1;
            let mut out = Instruction {
                name: format!("v{k}"),
                op: match ins.op {
                    Op::Call(callee) => Op::Call(new_index[&callee]),
                    op => op,
                },
                in1: prev,
                in2: prev,
                constant: 0,
                dim: 0,
                branching: 1,
            };
            if p.reads(ins, Field::In1) {
                out.in1 = index[&ins.in1];
            }
            if p.reads(ins, Field::In2) {
                out.in2 = index[&ins.in2];
            }
            if p.reads(ins, Field::Constant) {
                let entry = &p.bank.constants[ins.constant];
                out.constant = match entry.rsqrt_of {
                    Some(d) => {
                        let units = p.bank.dims[d].value;
                        let d = position_or_push(&mut dims, units, |n| format!("d{n}"));
                        match constants.iter().position(|c| c.rsqrt_of == Some(d)) {
                            Some(i) => i,
                            None => {
                                constants.push(BankEntry {
                                    name: format!("c{}", constants.len()),
                                    value: 0.0,
                                    rsqrt_of: Some(d),
                                });
                                constants.len() - 1
                            }
                        }
                    }
                    None => position_or_push(&mut constants, entry.value, |n| format!("c{n}")),
                };
            }
            if p.reads(ins, Field::Dim) {
                let value = p.dim_units(ins).expect("valid dim ref");
                out.dim = position_or_push(&mut dims, value, |n| format!("d{n}"));
            }
            if p.reads(ins, Field::Branching) {
                out.branching = ins.branching;
            }
            index.insert(v, n_in + k);
            instructions.push(out);
        }
        let name = if si == 0 { "main".to_string() } else { format!("s{}", new_index[&si]) };
        let inputs = ["x", "y"][..n_in].iter().map(|s| s.to_string()).collect();
        subprograms.push(Subprogram { name, inputs, instructions });
    }
    Program { bank: ValueBank { constants, dims }, subprograms }
}

fn position_or_push<T: PartialEq + Copy>(
    bank: &mut Vec<BankEntry<T>>,
    value: T,
    name: impl Fn(usize) -> String,
) -> usize {
    if let Some(i) = bank.iter().position(|e| e.value == value && e.rsqrt_of.is_none()) {
        return i;
    }
    bank.push(BankEntry::new(name(bank.len()), value));
    bank.len() - 1
}

/// Sizes and costs of the whole model: the evolved layer stacked `n_layers` times inside the
/// fixed stem (byte embedding, learned positions, final norm, output projection with bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cost {
    /// Parameters of one decoder layer.
    pub layer_params: u64,
    /// Forward FLOPs per token of one decoder layer.
    pub layer_forward_flops: u64,
    /// Parameters of the whole model.
    pub model_params: u64,
    /// Training FLOPs per token of the whole model: 3 x forward (the backward pass costs
    /// about twice the forward).
    pub training_flops_per_token: u64,
}

impl Cost {
    pub fn of(v: &Validated) -> Cost {
        let ModelConfig { d_model: d, seq_len: t, n_layers: l, vocab } = v.config;
        let (d, t, l, vocab) = (d as u64, t as u64, l as u64, vocab as u64);
        let layer_params = v.layer_params();
        let layer_forward_flops = v.layer_forward_flops();
        // Token embedding, positions, final norm (scale and shift), output projection + bias.
        let stem_params = vocab * d + t * d + 2 * d + d * vocab + vocab;
        // Output projection, and the final norm's elementwise work (about 7 per channel).
        let stem_flops = 2 * d * vocab + vocab + 7 * d;
        Cost {
            layer_params,
            layer_forward_flops,
            model_params: l * layer_params + stem_params,
            training_flops_per_token: 3 * (l * layer_forward_flops + stem_flops),
        }
    }
}
