//! Programs: a value bank and subprograms of instructions with one full argument set each.

use serde::{Deserialize, Serialize};

use crate::op::Op;

/// The vocabulary of relative dims, in units of d_model/8 (8 = d_model, 32 = a 4x
/// feed-forward, 1 = one head of an 8-head model), as in the paper's appendix.
pub const DIM_VOCABULARY: [u32; 10] = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64];

/// The branching factors a call may have.
pub const BRANCHING: [u32; 5] = [1, 2, 4, 8, 16];

/// At most this many copies of any instruction (the product of nested branchings).
pub const MAX_BRANCH_PRODUCT: usize = 16;

/// No value may be wider than this many units of d_model/8 (8 x d_model).
pub const MAX_WIDTH_UNITS: usize = 64;

/// Constants and relative dims that instructions refer to by index (shared: one bank edit
/// changes every instruction that uses the entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValueBank {
    pub constants: Vec<BankEntry<f64>>,
    pub dims: Vec<BankEntry<u32>>,
}

/// A named bank entry (names are for people; the canonical form ignores them).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankEntry<T> {
    pub name: String,
    pub value: T,
    /// Constants only: the value is 1/sqrt(channels of bank dim #i) at the model's size
    /// (`const attn_scale = rsqrt(head)`: attention logits scaled by 1/sqrt(head width) at
    /// any d_model). `value` is 0 until [`Program::at_size`] fills it in (the compiler and
    /// the exporter do), and equality ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsqrt_of: Option<usize>,
}

impl<T: PartialEq> PartialEq for BankEntry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.rsqrt_of == other.rsqrt_of
            && (self.rsqrt_of.is_some() || self.value == other.value)
    }
}

impl<T> BankEntry<T> {
    /// A plain entry.
    pub fn new(name: impl Into<String>, value: T) -> BankEntry<T> {
        BankEntry { name: name.into(), value, rsqrt_of: None }
    }
}

/// Tags a derived constant's key (a NaN payload no finite constant has).
const RSQRT_TAG: u64 = 0x7ff8_5157_0000_0000;

/// One instruction: an op and one full argument set. The op reads some fields and ignores
/// the rest (see [`Op::reads`]); every instruction appends one value to its subprogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instruction {
    /// The name of the value this instruction produces.
    pub name: String,
    pub op: Op,
    /// First input: index into the subprogram's values (inputs first, then instructions).
    pub in1: usize,
    /// Second input, same indexing.
    pub in2: usize,
    /// Index into the bank's constants.
    pub constant: usize,
    /// Index into the bank's dims.
    pub dim: usize,
    /// Number of parallel copies (calls only), one of [`BRANCHING`].
    pub branching: u32,
}

/// A subprogram: inputs (1 or 2) and instructions; its output is its last value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subprogram {
    pub name: String,
    pub inputs: Vec<String>,
    pub instructions: Vec<Instruction>,
}

impl Subprogram {
    /// Number of values: inputs plus one per instruction.
    pub fn num_values(&self) -> usize {
        self.inputs.len() + self.instructions.len()
    }

    /// The name of value `v` (an input or an instruction).
    pub fn value_name(&self, v: usize) -> &str {
        if v < self.inputs.len() { &self.inputs[v] } else { &self.instructions[v - self.inputs.len()].name }
    }

    /// The value index of instruction `i`.
    pub fn value_of(&self, i: usize) -> usize {
        self.inputs.len() + i
    }

    /// The index of the output value (the last one).
    pub fn output(&self) -> usize {
        self.num_values() - 1
    }
}

/// A program: the value bank and subprograms; subprogram 0 (`main`) is one decoder layer with
/// input `x` [B,T,D] and an output of the same shape. Programs are immutable values: mutations
/// return new programs. Equality is exact (names included); use
/// [`crate::analysis::canonical_hash`] for structural identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Program {
    pub bank: ValueBank,
    pub subprograms: Vec<Subprogram>,
}

/// The fields of an instruction's argument set, for mutations and diffs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    Op,
    In1,
    In2,
    Constant,
    Dim,
    Branching,
}

impl Field {
    pub const ALL: [Field; 6] = [Field::Op, Field::In1, Field::In2, Field::Constant, Field::Dim, Field::Branching];

    pub fn name(self) -> &'static str {
        match self {
            Field::Op => "op",
            Field::In1 => "in1",
            Field::In2 => "in2",
            Field::Constant => "constant",
            Field::Dim => "dim",
            Field::Branching => "branching",
        }
    }
}

impl Program {
    /// The entry point, `main`.
    pub fn main(&self) -> &Subprogram {
        &self.subprograms[0]
    }

    /// Total number of instructions over all subprograms.
    pub fn num_instructions(&self) -> usize {
        self.subprograms.iter().map(|s| s.instructions.len()).sum()
    }

    /// Whether instruction `ins` reads `field`, given the arity of a called subprogram.
    pub fn reads(&self, ins: &Instruction, field: Field) -> bool {
        let r = ins.op.reads();
        match field {
            Field::Op => true,
            Field::In1 => r.in1,
            Field::In2 => match ins.op {
                Op::Call(c) => self.subprograms.get(c).is_some_and(|s| s.inputs.len() >= 2),
                _ => r.in2,
            },
            Field::Constant => r.constant,
            Field::Dim => r.dim,
            Field::Branching => r.branching,
        }
    }

    /// The relative dim an instruction's dim ref points to, if it exists.
    pub fn dim_units(&self, ins: &Instruction) -> Option<u32> {
        self.bank.dims.get(ins.dim).map(|d| d.value)
    }

    /// The constant an instruction's constant ref points to, if it exists (0 for a derived
    /// constant of a program not yet at a size: see [`Program::at_size`]).
    pub fn constant(&self, ins: &Instruction) -> Option<f64> {
        self.bank.constants.get(ins.constant).map(|c| c.value)
    }

    /// What identifies an instruction's constant: the value's bits, or, for a derived constant,
    /// a tag and the relative dim it is derived from (so identity does not depend on the size).
    pub fn constant_key(&self, ins: &Instruction) -> Option<u64> {
        let c = self.bank.constants.get(ins.constant)?;
        Some(self.entry_key(c))
    }

    /// [`Program::constant_key`] of a bank constant.
    pub fn entry_key(&self, c: &BankEntry<f64>) -> u64 {
        match c.rsqrt_of {
            Some(d) => RSQRT_TAG | self.bank.dims.get(d).map_or(0xffff, |d| d.value as u64),
            None => c.value.to_bits(),
        }
    }

    /// The program with every derived constant's value at this model size.
    pub fn at_size(&self, config: &ModelConfig) -> Program {
        let mut p = self.clone();
        for c in &mut p.bank.constants {
            if let Some(d) = c.rsqrt_of {
                c.value = match self.bank.dims.get(d) {
                    Some(d) => 1.0 / ((d.value as usize * config.unit()) as f64).sqrt(),
                    None => f64::NAN,
                };
            }
        }
        p
    }
}

/// The model around the program: what shapes and costs are computed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Width of the residual stream; a multiple of 8 (relative dims are in units of d_model/8).
    pub d_model: usize,
    /// Sequence length T.
    pub seq_len: usize,
    /// Number of stacked copies of `main`, each with its own weights.
    pub n_layers: usize,
    /// Vocabulary size (256 for bytes; the default where a file leaves it out).
    #[serde(default = "byte_vocab")]
    pub vocab: usize,
}

fn byte_vocab() -> usize {
    256
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig { d_model: 128, seq_len: 128, n_layers: 2, vocab: 256 }
    }
}

impl ModelConfig {
    /// Channels of one dim unit (d_model / 8).
    pub fn unit(&self) -> usize {
        self.d_model / 8
    }
}

/// Edits that keep every reference pointing at the same value (programs are values: each
/// returns a new program).
impl Program {
    /// Inserts `ins` at `position` of subprogram `si`. References to values at or after the
    /// new one shift by one; `ins`'s own inputs must refer to values before `position`.
    pub fn with_inserted(&self, si: usize, position: usize, ins: Instruction) -> Program {
        let mut p = self.clone();
        let sub = &mut p.subprograms[si];
        let v = sub.inputs.len() + position;
        for later in &mut sub.instructions[position..] {
            if later.in1 >= v {
                later.in1 += 1;
            }
            if later.in2 >= v {
                later.in2 += 1;
            }
        }
        sub.instructions.insert(position, ins);
        p
    }

    /// Removes instruction `position` of subprogram `si`. Readers of the removed value read
    /// its first input instead; later references shift down by one.
    pub fn without(&self, si: usize, position: usize) -> Program {
        let mut p = self.clone();
        let sub = &mut p.subprograms[si];
        let v = sub.inputs.len() + position;
        let replacement = sub.instructions[position].in1;
        sub.instructions.remove(position);
        for later in &mut sub.instructions[position..] {
            for r in [&mut later.in1, &mut later.in2] {
                if *r == v {
                    *r = replacement;
                } else if *r > v {
                    *r -= 1;
                }
            }
        }
        p
    }

    /// A value name not yet used in subprogram `si`: `base`, else `base_2`, `base_3`, ...
    pub fn fresh_name(&self, si: usize, base: &str) -> String {
        let sub = &self.subprograms[si];
        let taken = |n: &str| (0..sub.num_values()).any(|v| sub.value_name(v) == n);
        if !taken(base) {
            return base.to_string();
        }
        (2..).map(|k| format!("{base}_{k}")).find(|n| !taken(n)).expect("some name is free")
    }
}
