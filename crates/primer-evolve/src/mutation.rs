//! The paper's six mutations: what each changes ([`Mutation`], replayable with
//! [`Mutation::apply`]), how one is drawn ([`Mutator`]), and the re-mutation of children that
//! are invalid, unchanged or already seen.
//!
//! Semantics, chosen so that the paper's discoveries are one mutation each:
//! - **Insert** splices a random instruction onto the edges leaving a random value `in1`: it
//!   goes right after `in1` (or, half the time, at a random later position) and the later
//!   instructions that read `in1` read the new value instead. `SQUARE(relu)` inserted after
//!   `relu` is squared ReLU; `DCONV3(q)` after `q` is a depthwise convolution on Q.
//! - **Delete** is the inverse: readers of the removed value read its `in1`.
//! - **Swap** exchanges two instructions of a subprogram while readers keep their references
//!   (so they now read the other value); a moved instruction that would read a value at or after
//!   its new position reads the value just before it instead.
//! - **Mutate field** redraws one field the instruction's op reads (op, in1, in2, constant ref,
//!   dim ref, branching).
//! - **Mutate bank** changes one used bank entry: a constant c becomes c·10^X + Y with
//!   X, Y ~ N(0, 1) (the paper's rule), rounded to 4 significant digits; a dim is redrawn from
//!   the space's vocabulary.
//! - **Delete + insert** does both in one subprogram, keeping its length.
//!
//! A child keeps only live code (the canonical hash ignores dead code, so evolution cannot
//! select on it). A child that is invalid for the model config, outside the space's limits,
//! structurally equal to its parent (same canonical hash) or already seen in the campaign is
//! thrown away and a new mutation of the parent is drawn, at most [`Mutator::max_tries`] times;
//! every rejection is counted in [`Rejections`].

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_distr::weighted::WeightedIndex;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use primer_dsl::analysis::{Cost, Liveness, ProgramHash, canonical_hash, eliminate_dead_code, liveness};
use primer_dsl::program::{BRANCHING, Field};
use primer_dsl::sample::{random_instruction, random_op};
use primer_dsl::text::{instruction_text, printed_line};
use primer_dsl::validate::validate;
use primer_dsl::{Instruction, ModelConfig, Op, Program, SearchSpace};

/// The six mutation kinds, in the order of the space's `mutation_weights`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MutationKind {
    Delete,
    Insert,
    DeleteInsert,
    MutateField,
    Swap,
    Bank,
}

impl MutationKind {
    pub const ALL: [MutationKind; 6] = [
        MutationKind::Delete,
        MutationKind::Insert,
        MutationKind::DeleteInsert,
        MutationKind::MutateField,
        MutationKind::Swap,
        MutationKind::Bank,
    ];

    pub fn name(self) -> &'static str {
        match self {
            MutationKind::Delete => "delete",
            MutationKind::Insert => "insert",
            MutationKind::DeleteInsert => "delete_insert",
            MutationKind::MutateField => "mutate_field",
            MutationKind::Swap => "swap",
            MutationKind::Bank => "bank",
        }
    }
}

/// The new value of one field of an instruction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldValue {
    Op(Op),
    In1(usize),
    In2(usize),
    Constant(usize),
    Dim(usize),
    Branching(u32),
}

impl FieldValue {
    pub fn field(self) -> Field {
        match self {
            FieldValue::Op(_) => Field::Op,
            FieldValue::In1(_) => Field::In1,
            FieldValue::In2(_) => Field::In2,
            FieldValue::Constant(_) => Field::Constant,
            FieldValue::Dim(_) => Field::Dim,
            FieldValue::Branching(_) => Field::Branching,
        }
    }
}

/// A new value for one bank entry.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankChange {
    Constant { index: usize, value: f64 },
    Dim { index: usize, value: u32 },
}

/// One mutation, with everything needed to replay it on the parent ([`Mutation::apply`]).
/// Positions are instruction indices within the subprogram (0-based).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mutation {
    DeleteInstruction {
        subprogram: usize,
        position: usize,
    },
    InsertInstruction {
        subprogram: usize,
        position: usize,
        instruction: Instruction,
    },
    /// Delete at `delete`, then insert at `position` (of the program after the deletion).
    DeleteInsert {
        subprogram: usize,
        delete: usize,
        position: usize,
        instruction: Instruction,
    },
    MutateField {
        subprogram: usize,
        position: usize,
        value: FieldValue,
    },
    Swap {
        subprogram: usize,
        first: usize,
        second: usize,
    },
    MutateBank {
        change: BankChange,
    },
}

impl Mutation {
    pub fn kind(&self) -> MutationKind {
        match self {
            Mutation::DeleteInstruction { .. } => MutationKind::Delete,
            Mutation::InsertInstruction { .. } => MutationKind::Insert,
            Mutation::DeleteInsert { .. } => MutationKind::DeleteInsert,
            Mutation::MutateField { .. } => MutationKind::MutateField,
            Mutation::Swap { .. } => MutationKind::Swap,
            Mutation::MutateBank { .. } => MutationKind::Bank,
        }
    }

    /// The child, before dead code is removed. The parent must be structurally valid and the
    /// mutation drawn for it (indices in range); this is a pure function of the two.
    pub fn apply(&self, parent: &Program) -> Program {
        match self {
            Mutation::DeleteInstruction { subprogram, position } => parent.without(*subprogram, *position),
            Mutation::InsertInstruction { subprogram, position, instruction } => {
                spliced(parent, *subprogram, *position, instruction.clone())
            }
            Mutation::DeleteInsert { subprogram, delete, position, instruction } => {
                spliced(&parent.without(*subprogram, *delete), *subprogram, *position, instruction.clone())
            }
            Mutation::MutateField { subprogram, position, value } => {
                let mut p = parent.clone();
                let ins = &mut p.subprograms[*subprogram].instructions[*position];
                match *value {
                    FieldValue::Op(op) => ins.op = op,
                    FieldValue::In1(v) => ins.in1 = v,
                    FieldValue::In2(v) => ins.in2 = v,
                    FieldValue::Constant(c) => ins.constant = c,
                    FieldValue::Dim(d) => ins.dim = d,
                    FieldValue::Branching(b) => ins.branching = b,
                }
                p
            }
            Mutation::Swap { subprogram, first, second } => swapped(parent, *subprogram, *first, *second),
            Mutation::MutateBank { change } => {
                let mut p = parent.clone();
                match *change {
                    // A derived constant given a value becomes that value.
                    BankChange::Constant { index, value } => {
                        p.bank.constants[index].value = value;
                        p.bank.constants[index].rsqrt_of = None;
                    }
                    BankChange::Dim { index, value } => p.bank.dims[index].value = value,
                }
                p
            }
        }
    }

    /// The mutation in words, naming values as `subprogram.value` and citing the line of the
    /// parent as [`primer_dsl::text::print`] writes it, e.g.
    /// `insert sq = SQUARE(relu) after main.relu (line 19); main.down reads it`.
    pub fn describe(&self, parent: &Program) -> String {
        let at = |si: usize, i: usize| {
            let sub = &parent.subprograms[si];
            format!("{}.{} (line {})", sub.name, sub.instructions[i].name, printed_line(parent, si, Some(i)))
        };
        let full = |si: usize, i: usize| {
            let sub = &parent.subprograms[si];
            format!(
                "{}.{} = {} (line {})",
                sub.name,
                sub.instructions[i].name,
                instruction_text(parent, sub, i),
                printed_line(parent, si, Some(i))
            )
        };
        match self {
            Mutation::DeleteInstruction { subprogram, position } => format!("delete {}", full(*subprogram, *position)),
            Mutation::InsertInstruction { subprogram, position, instruction } => {
                describe_insert(parent, *subprogram, *position, instruction)
            }
            Mutation::DeleteInsert { subprogram, delete, position, instruction } => {
                let after = parent.without(*subprogram, *delete);
                format!(
                    "delete {}, then {}",
                    full(*subprogram, *delete),
                    describe_insert(&after, *subprogram, *position, instruction)
                )
            }
            Mutation::MutateField { subprogram, position, value } => {
                let sub = &parent.subprograms[*subprogram];
                let ins = &sub.instructions[*position];
                let constant = |c: usize| {
                    parent.bank.constants.get(c).map_or(format!("#{c}"), |e| format!("{} ({})", e.name, e.value))
                };
                let dim =
                    |d: usize| parent.bank.dims.get(d).map_or(format!("#{d}"), |e| format!("{} ({})", e.name, e.value));
                let op = |op: Op| match op {
                    Op::Call(c) => format!("CALL {}", parent.subprograms[c].name),
                    op => op.name().to_string(),
                };
                let (old, new) = match *value {
                    FieldValue::Op(o) => (op(ins.op), op(o)),
                    FieldValue::In1(v) => (sub.value_name(ins.in1).to_string(), sub.value_name(v).to_string()),
                    FieldValue::In2(v) => (sub.value_name(ins.in2).to_string(), sub.value_name(v).to_string()),
                    FieldValue::Constant(c) => (constant(ins.constant), constant(c)),
                    FieldValue::Dim(d) => (dim(ins.dim), dim(d)),
                    FieldValue::Branching(b) => (ins.branching.to_string(), b.to_string()),
                };
                format!("change the {} of {} from {old} to {new}", value.field().name(), at(*subprogram, *position))
            }
            Mutation::Swap { subprogram, first, second } => {
                format!("swap {} and {}", full(*subprogram, *first), full(*subprogram, *second))
            }
            Mutation::MutateBank { change } => match *change {
                BankChange::Constant { index, value } => {
                    let e = &parent.bank.constants[index];
                    let old = match e.rsqrt_of.and_then(|d| parent.bank.dims.get(d)) {
                        Some(d) => format!("rsqrt({})", d.name),
                        None => e.value.to_string(),
                    };
                    format!("change bank constant {} from {old} to {value}", e.name)
                }
                BankChange::Dim { index, value } => {
                    let e = &parent.bank.dims[index];
                    format!("change bank dim {} from {} to {value}", e.name, e.value)
                }
            },
        }
    }
}

fn describe_insert(parent: &Program, si: usize, position: usize, ins: &Instruction) -> String {
    let child = spliced(parent, si, position, ins.clone());
    let sub = &parent.subprograms[si];
    let csub = &child.subprograms[si];
    let text = format!("{} = {}", ins.name, instruction_text(&child, csub, position));
    let place = if position == 0 {
        format!("at the start of {} (line {})", sub.name, printed_line(parent, si, None))
    } else {
        let prev = position - 1;
        format!("after {}.{} (line {})", sub.name, sub.instructions[prev].name, printed_line(parent, si, Some(prev)))
    };
    let new_value = csub.value_of(position);
    let readers: Vec<String> = csub.instructions[position + 1..]
        .iter()
        .filter(|r| r.in1 == new_value || r.in2 == new_value)
        .map(|r| format!("{}.{}", sub.name, r.name))
        .collect();
    let reads = match readers.len() {
        0 if position == sub.instructions.len() => format!("; it is {}'s new output", sub.name),
        0 => String::new(),
        1 => format!("; {} reads it", readers[0]),
        _ => format!("; {} read it", readers.join(", ")),
    };
    format!("insert {text} {place}{reads}")
}

/// `ins` inserted at `position` of subprogram `si`; later instructions that read `ins.in1`
/// (in a field their op reads) read the new value instead.
fn spliced(p: &Program, si: usize, position: usize, ins: Instruction) -> Program {
    let source = ins.in1;
    let mut child = p.with_inserted(si, position, ins);
    let new_value = child.subprograms[si].value_of(position);
    let readers: Vec<(usize, bool, bool)> = child.subprograms[si].instructions[position + 1..]
        .iter()
        .enumerate()
        .map(|(k, r)| {
            (
                position + 1 + k,
                child.reads(r, Field::In1) && r.in1 == source,
                child.reads(r, Field::In2) && r.in2 == source,
            )
        })
        .collect();
    let sub = &mut child.subprograms[si];
    for (i, in1, in2) in readers {
        if in1 {
            sub.instructions[i].in1 = new_value;
        }
        if in2 {
            sub.instructions[i].in2 = new_value;
        }
    }
    child
}

/// Instructions `a` and `b` of subprogram `si` exchanged; references of other instructions are
/// kept (they now read the other value). The instruction moved earlier reads the value just
/// before its new position where it read one at or after it.
fn swapped(p: &Program, si: usize, a: usize, b: usize) -> Program {
    let (a, b) = (a.min(b), a.max(b));
    let mut child = p.clone();
    let sub = &mut child.subprograms[si];
    sub.instructions.swap(a, b);
    let limit = sub.inputs.len() + a; // values the instruction now at `a` may read
    let moved = &mut sub.instructions[a];
    for r in [&mut moved.in1, &mut moved.in2] {
        if *r >= limit {
            *r = limit - 1;
        }
    }
    child
}

/// Where mutations of a parent may act, computed once per parent: its live instructions
/// (subprogram, position) and live subprograms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSites {
    pub instructions: Vec<(usize, usize)>,
    pub subprograms: Vec<usize>,
}

impl LiveSites {
    pub fn of(p: &Program) -> LiveSites {
        let live: Liveness = liveness(p);
        let instructions = live
            .instructions
            .iter()
            .enumerate()
            .flat_map(|(si, l)| l.iter().enumerate().filter(|(_, x)| **x).map(move |(i, _)| (si, i)))
            .collect();
        let subprograms = (0..p.subprograms.len()).filter(|&s| live.subprograms[s]).collect();
        LiveSites { instructions, subprograms }
    }
}

/// Why a drawn child was thrown away, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejections {
    /// The drawn kind had nothing to act on (e.g. a swap in a one-instruction program).
    pub inapplicable: u32,
    /// Outside the space's size limits or ops.
    pub outside_space: u32,
    /// Invalid for the model config (shapes, widths, branching).
    pub invalid: u32,
    /// Structurally equal to the parent (same canonical hash).
    pub unchanged: u32,
    /// Structurally equal to a program already in the campaign.
    pub duplicate: u32,
    /// Over one of the space's cost limits (`max_parameters`, `max_flops_per_token`,
    /// `max_flops_per_byte`) at the campaign's model size.
    #[serde(default)]
    pub over_limit: u32,
}

impl Rejections {
    pub fn total(&self) -> u32 {
        self.inapplicable + self.outside_space + self.invalid + self.unchanged + self.duplicate + self.over_limit
    }
}

/// A child that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// The child, live code only.
    pub program: Program,
    pub hash: ProgramHash,
    pub cost: Cost,
    pub mutation: Mutation,
    /// [`Mutation::describe`] against the parent.
    pub description: String,
    /// Children drawn and thrown away before this one.
    pub rejected: Rejections,
}

/// No acceptable child within the allowed tries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no acceptable child in {tries} tries ({} outside the space, {} over a cost limit, {} invalid, {} unchanged, {} duplicates, {} inapplicable)",
    rejected.outside_space, rejected.over_limit, rejected.invalid, rejected.unchanged, rejected.duplicate, rejected.inapplicable)]
pub struct NoChild {
    pub tries: u32,
    pub rejected: Rejections,
}

/// Draws mutations from a search space for programs of one model config.
#[derive(Debug, Clone)]
pub struct Mutator {
    pub space: SearchSpace,
    pub config: ModelConfig,
    /// Children drawn per call of [`Mutator::child`] before giving up.
    pub max_tries: u32,
    /// Bytes of text per token (the tokenizer's), for `max_flops_per_byte` (1: bytes).
    pub bytes_per_token: f64,
    weights: WeightedIndex<f64>,
}

impl Mutator {
    pub fn new(space: SearchSpace, config: ModelConfig, max_tries: u32) -> Mutator {
        let w = &space.mutation_weights;
        let weights = WeightedIndex::new([w.delete, w.insert, w.delete_insert, w.mutate_field, w.swap, w.bank])
            .expect("a checked space has positive mutation weights");
        Mutator { space, config, max_tries, bytes_per_token: 1.0, weights }
    }

    /// A kind drawn by the space's weights.
    pub fn draw_kind<R: Rng + ?Sized>(&self, rng: &mut R) -> MutationKind {
        MutationKind::ALL[self.weights.sample(rng)]
    }

    /// One mutation of `parent` (with its [`LiveSites`]) of the drawn kind, or `None` when the
    /// kind has nothing to act on.
    pub fn draw<R: Rng + ?Sized>(&self, rng: &mut R, parent: &Program, live: &LiveSites) -> Option<Mutation> {
        let kind = self.draw_kind(rng);
        self.draw_of_kind(rng, parent, live, kind)
    }

    /// One mutation of the given kind. Deletions and field changes act on live instructions
    /// only, bank changes on entries that live instructions use (anything else could not change
    /// the program's canonical form).
    pub fn draw_of_kind<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        parent: &Program,
        live: &LiveSites,
        kind: MutationKind,
    ) -> Option<Mutation> {
        let (live_sites, live_subs) = (&live.instructions, &live.subprograms);
        match kind {
            MutationKind::Delete => {
                let &(subprogram, position) = live_sites.choose(rng)?;
                Some(Mutation::DeleteInstruction { subprogram, position })
            }
            MutationKind::Insert => {
                let subprogram = *live_subs.choose(rng)?;
                let (position, instruction) = self.draw_insertion(rng, parent, subprogram);
                Some(Mutation::InsertInstruction { subprogram, position, instruction })
            }
            MutationKind::DeleteInsert => {
                let &(subprogram, delete) = live_sites.choose(rng)?;
                let after = parent.without(subprogram, delete);
                let (position, instruction) = self.draw_insertion(rng, &after, subprogram);
                Some(Mutation::DeleteInsert { subprogram, delete, position, instruction })
            }
            MutationKind::MutateField => {
                let &(subprogram, position) = live_sites.choose(rng)?;
                let sub = &parent.subprograms[subprogram];
                let ins = &sub.instructions[position];
                let fields: Vec<Field> = Field::ALL.into_iter().filter(|&f| parent.reads(ins, f)).collect();
                let available = sub.inputs.len() + position;
                let value = match *fields.choose(rng)? {
                    Field::Op => FieldValue::Op(random_op(rng, &self.space, parent, subprogram)),
                    Field::In1 => FieldValue::In1(rng.random_range(0..available)),
                    Field::In2 => FieldValue::In2(rng.random_range(0..available)),
                    Field::Constant => FieldValue::Constant(rng.random_range(0..parent.bank.constants.len().max(1))),
                    Field::Dim => FieldValue::Dim(rng.random_range(0..parent.bank.dims.len().max(1))),
                    Field::Branching => {
                        FieldValue::Branching(*self.space.branching.choose(rng).unwrap_or(&BRANCHING[0]))
                    }
                };
                Some(Mutation::MutateField { subprogram, position, value })
            }
            MutationKind::Swap => {
                let subprogram = *live_subs.choose(rng)?;
                let n = parent.subprograms[subprogram].instructions.len();
                if n < 2 {
                    return None;
                }
                let first = rng.random_range(0..n);
                let second = (first + rng.random_range(1..n)) % n;
                Some(Mutation::Swap { subprogram, first: first.min(second), second: first.max(second) })
            }
            MutationKind::Bank => {
                let mut constants = vec![false; parent.bank.constants.len()];
                let mut dims = vec![false; parent.bank.dims.len()];
                for &(si, i) in live_sites {
                    let ins = &parent.subprograms[si].instructions[i];
                    // A derived constant (`rsqrt(dim)`) changes with its dim, not by itself.
                    if parent.reads(ins, Field::Constant)
                        && ins.constant < constants.len()
                        && parent.bank.constants[ins.constant].rsqrt_of.is_none()
                    {
                        constants[ins.constant] = true;
                    }
                    if parent.reads(ins, Field::Dim) && ins.dim < dims.len() {
                        dims[ins.dim] = true;
                    }
                }
                let used: Vec<(bool, usize)> =
                    (constants.iter().enumerate().filter(|(_, u)| **u).map(|(i, _)| (true, i)))
                        .chain(dims.iter().enumerate().filter(|(_, u)| **u).map(|(i, _)| (false, i)))
                        .collect();
                let &(is_constant, index) = used.choose(rng)?;
                let change = if is_constant {
                    let c = parent.bank.constants[index].value;
                    let normal = Normal::new(0.0, 1.0).expect("unit normal");
                    let (x, y): (f64, f64) = (normal.sample(rng), normal.sample(rng));
                    BankChange::Constant { index, value: round_significant(c * 10f64.powf(x) + y, 4) }
                } else {
                    let old = parent.bank.dims[index].value;
                    let others: Vec<u32> = self.space.dims.iter().copied().filter(|&d| d != old).collect();
                    BankChange::Dim { index, value: *others.choose(rng)? }
                };
                Some(Mutation::MutateBank { change })
            }
        }
    }

    /// Where and what to insert in subprogram `si`: the value to splice after (`in1`) is drawn
    /// uniformly; the new instruction goes right after it (all of its readers then read the new
    /// value) with probability 1/2, else at a uniform position further on (only the readers
    /// after it do). The op and the other fields are drawn as [`random_instruction`] does.
    fn draw_insertion<R: Rng + ?Sized>(&self, rng: &mut R, p: &Program, si: usize) -> (usize, Instruction) {
        let sub = &p.subprograms[si];
        let n_in = sub.inputs.len();
        let source = rng.random_range(0..sub.num_values());
        let earliest = (source + 1).saturating_sub(n_in); // the position right after `source`
        let n = sub.instructions.len();
        let position = if rng.random_bool(0.5) { earliest } else { rng.random_range(earliest..=n) };
        let mut instruction = random_instruction(rng, &self.space, p, si, position);
        instruction.in1 = source;
        (position, instruction)
    }

    /// A child of `parent`: mutations are drawn until one gives a program that is valid for the
    /// config, inside the space, structurally different from the parent and not `seen` (a
    /// campaign's structural dedup). `parent_hash` is the parent's canonical hash.
    pub fn child<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        parent: &Program,
        parent_hash: &ProgramHash,
        seen: &dyn Fn(&ProgramHash) -> bool,
    ) -> Result<Child, NoChild> {
        let live = LiveSites::of(parent);
        let mut rejected = Rejections::default();
        for _ in 0..self.max_tries {
            let Some(mutation) = self.draw(rng, parent, &live) else {
                rejected.inapplicable += 1;
                continue;
            };
            match self.check(parent, parent_hash, &mutation, seen) {
                Ok((program, hash, cost)) => {
                    let description = mutation.describe(parent);
                    return Ok(Child { program, hash, cost, mutation, description, rejected });
                }
                Err(Rejection::OutsideSpace) => rejected.outside_space += 1,
                Err(Rejection::Invalid) => rejected.invalid += 1,
                Err(Rejection::Unchanged) => rejected.unchanged += 1,
                Err(Rejection::Duplicate) => rejected.duplicate += 1,
                Err(Rejection::OverLimit) => rejected.over_limit += 1,
            }
        }
        Err(NoChild { tries: self.max_tries, rejected })
    }

    /// Applies a mutation and runs every check on the child (live code only).
    pub fn check(
        &self,
        parent: &Program,
        parent_hash: &ProgramHash,
        mutation: &Mutation,
        seen: &dyn Fn(&ProgramHash) -> bool,
    ) -> Result<(Program, ProgramHash, Cost), Rejection> {
        let raw = mutation.apply(parent);
        if primer_dsl::validate::check_structure(&raw).is_err() {
            return Err(Rejection::Invalid);
        }
        let program = eliminate_dead_code(&raw);
        if self.space.admits(&program).is_err() {
            return Err(Rejection::OutsideSpace);
        }
        let validated = validate(&program, &self.config).map_err(|_| Rejection::Invalid)?;
        let hash = canonical_hash(&program);
        if hash == *parent_hash {
            return Err(Rejection::Unchanged);
        }
        if seen(&hash) {
            return Err(Rejection::Duplicate);
        }
        let cost = Cost::of(&validated);
        if self.space.limits.over(cost.model_params, cost.training_flops_per_token, self.bytes_per_token).is_some() {
            return Err(Rejection::OverLimit);
        }
        Ok((program, hash, cost))
    }
}

/// Why one drawn child was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    OutsideSpace,
    Invalid,
    Unchanged,
    Duplicate,
    OverLimit,
}

fn round_significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_keeps_four_significant_digits() {
        assert_eq!(round_significant(0.123456, 4), 0.1235);
        assert_eq!(round_significant(-98765.4, 4), -98770.0);
        assert_eq!(round_significant(0.0, 4), 0.0);
    }
}
