//! Validation: structure, then shape inference over the live instructions for a model config,
//! with parameters and FLOPs per instruction. Invalid programs are known before any tensor.

use std::collections::HashMap;

use crate::dataflow::{Liveness, liveness};
use crate::error::{Invalid, Location, ValidationError};
use crate::op::{Op, ShapeRule};
use crate::program::{BRANCHING, DIM_VOCABULARY, Field, MAX_BRANCH_PRODUCT, MAX_WIDTH_UNITS, ModelConfig, Program};
use crate::shape::{Shape, broadcast};

/// Shapes and costs of one subprogram for one set of input shapes (a call site's view).
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    pub subprogram: usize,
    pub inputs: Vec<Shape>,
    /// How many copies run (product of the branchings of the calls that lead here).
    pub copies: usize,
    /// Shape of every value (inputs, then instructions); `None` for dead instructions.
    pub values: Vec<Option<Shape>>,
    /// Parameters of each instruction for one copy of this subprogram (calls: the callee's
    /// total times the branching); 0 for dead instructions.
    pub params: Vec<u64>,
    /// Forward FLOPs per token of each instruction for one copy (calls: as for params).
    pub flops: Vec<u64>,
    /// For call instructions, the index of the callee's instance in [`Validated::instances`].
    pub callees: Vec<Option<usize>>,
}

impl Instance {
    pub fn total_params(&self) -> u64 {
        self.params.iter().sum()
    }
    pub fn total_flops(&self) -> u64 {
        self.flops.iter().sum()
    }
    pub fn output(&self) -> Shape {
        self.values.last().copied().flatten().expect("the output is live")
    }
}

/// A program known to be valid for a model config, with its shapes and costs.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    pub config: ModelConfig,
    pub liveness: Liveness,
    /// Every (subprogram, input shapes, copies) reached from `main`.
    pub instances: Vec<Instance>,
    /// The index of `main` on `x: Seq(d_model)` in `instances`.
    pub main: usize,
}

impl Validated {
    /// Parameters of one decoder layer (one copy of `main`).
    pub fn layer_params(&self) -> u64 {
        self.instances[self.main].total_params()
    }
    /// Forward FLOPs per token of one decoder layer.
    pub fn layer_forward_flops(&self) -> u64 {
        self.instances[self.main].total_flops()
    }
}

/// Checks that every index, name and bank value is well formed (all instructions, live or
/// not), so that the program can be printed, analysed and mutated.
pub fn check_structure(p: &Program) -> Result<(), ValidationError> {
    let err = |location, reason| Err(ValidationError { location, reason });
    if p.subprograms.is_empty() {
        return err(Location::Program, Invalid::NoSubprograms);
    }
    for c in &p.bank.constants {
        if let Some(d) = c.rsqrt_of {
            if d >= p.bank.dims.len() {
                return err(
                    Location::Bank { entry: c.name.clone() },
                    Invalid::BadDim { index: d, len: p.bank.dims.len() },
                );
            }
            continue;
        }
        if !c.value.is_finite() {
            return err(Location::Bank { entry: c.name.clone() }, Invalid::NonFiniteConstant(c.value.to_string()));
        }
    }
    for d in &p.bank.dims {
        if !DIM_VOCABULARY.contains(&d.value) {
            return err(Location::Bank { entry: d.name.clone() }, Invalid::DimNotInVocabulary(d.value));
        }
    }
    let mut bank_names = std::collections::HashSet::new();
    for name in p.bank.constants.iter().map(|c| &c.name).chain(p.bank.dims.iter().map(|d| &d.name)) {
        if !bank_names.insert(name) {
            return err(Location::Bank { entry: name.clone() }, Invalid::DuplicateName(name.clone()));
        }
    }
    let mut sub_names = std::collections::HashSet::new();
    for (si, sub) in p.subprograms.iter().enumerate() {
        let at_sub = || Location::Subprogram { subprogram: sub.name.clone() };
        if !sub_names.insert(&sub.name) {
            return err(at_sub(), Invalid::DuplicateName(sub.name.clone()));
        }
        if si == 0 && sub.inputs.len() != 1 {
            return err(at_sub(), Invalid::MainArity(sub.inputs.len()));
        }
        if !(1..=2).contains(&sub.inputs.len()) {
            return err(at_sub(), Invalid::Arity(sub.inputs.len()));
        }
        if sub.instructions.is_empty() {
            return err(at_sub(), Invalid::Empty);
        }
        let mut names = std::collections::HashSet::new();
        for v in 0..sub.num_values() {
            let name = sub.value_name(v);
            if !names.insert(name) {
                let location = if v < sub.inputs.len() {
                    at_sub()
                } else {
                    Location::Instruction {
                        subprogram: sub.name.clone(),
                        index: v - sub.inputs.len(),
                        name: name.into(),
                    }
                };
                return err(location, Invalid::DuplicateName(name.into()));
            }
        }
        for (i, ins) in sub.instructions.iter().enumerate() {
            let at = || Location::Instruction { subprogram: sub.name.clone(), index: i, name: ins.name.clone() };
            let available = sub.value_of(i);
            for (field, index) in [("in1", ins.in1), ("in2", ins.in2)] {
                if index >= available {
                    return err(at(), Invalid::BadInput { field, index, available });
                }
            }
            if ins.constant >= p.bank.constants.len() && (ins.constant > 0 || p.reads(ins, Field::Constant)) {
                return err(at(), Invalid::BadConstant { index: ins.constant, len: p.bank.constants.len() });
            }
            if ins.dim >= p.bank.dims.len() && (ins.dim > 0 || p.reads(ins, Field::Dim)) {
                return err(at(), Invalid::BadDim { index: ins.dim, len: p.bank.dims.len() });
            }
            if !BRANCHING.contains(&ins.branching) {
                return err(at(), Invalid::BadBranching(ins.branching));
            }
            if let Op::Call(c) = ins.op
                && (c <= si || c >= p.subprograms.len())
            {
                return err(at(), Invalid::BadCall { caller: si, callee: c, count: p.subprograms.len() });
            }
        }
    }
    Ok(())
}

/// Validates `p` for `config`: structure, then shapes of every live instruction, `main`'s
/// output width, branching and width limits. Returns shapes and costs.
pub fn validate(p: &Program, config: &ModelConfig) -> Result<Validated, ValidationError> {
    if config.d_model == 0 || !config.d_model.is_multiple_of(8) {
        return Err(ValidationError { location: Location::Program, reason: Invalid::BadDModel(config.d_model) });
    }
    check_structure(p)?;
    let live = liveness(p);
    let mut ctx = Inference { p, config, live: &live, instances: Vec::new(), memo: HashMap::new() };
    let main = ctx.instance(0, vec![Shape::Seq(config.d_model)], 1)?;
    let out = ctx.instances[main].output();
    if out != Shape::Seq(config.d_model) {
        let sub = p.main();
        return Err(ValidationError {
            location: Location::Instruction {
                subprogram: sub.name.clone(),
                index: sub.instructions.len() - 1,
                name: sub.instructions.last().unwrap().name.clone(),
            },
            reason: Invalid::BadOutput { expected: config.d_model, found: out.to_string() },
        });
    }
    let instances = ctx.instances;
    Ok(Validated { config: *config, liveness: live, instances, main })
}

struct Inference<'a> {
    p: &'a Program,
    config: &'a ModelConfig,
    live: &'a Liveness,
    instances: Vec<Instance>,
    memo: HashMap<(usize, Vec<Shape>, usize), usize>,
}

impl Inference<'_> {
    fn instance(&mut self, si: usize, inputs: Vec<Shape>, copies: usize) -> Result<usize, ValidationError> {
        let key = (si, inputs.clone(), copies);
        if let Some(&i) = self.memo.get(&key) {
            return Ok(i);
        }
        let p = self.p;
        let sub = &p.subprograms[si];
        let t = self.config.seq_len;
        let unit = self.config.unit();
        let n = sub.instructions.len();
        let mut values: Vec<Option<Shape>> = inputs.iter().copied().map(Some).collect();
        let (mut params, mut flops, mut callees) = (vec![0; n], vec![0; n], vec![None; n]);
        for (i, ins) in sub.instructions.iter().enumerate() {
            if !self.live.instructions[si][i] {
                values.push(None);
                continue;
            }
            let at = || Location::Instruction { subprogram: sub.name.clone(), index: i, name: ins.name.clone() };
            let fail = |reason| Err(ValidationError { location: at(), reason });
            // An op that reads no input (CONSTANT) may name a dead value: it does not read it.
            let a = if p.reads(ins, Field::In1) {
                values[ins.in1].expect("inputs of live instructions are live")
            } else {
                Shape::Seq(1)
            };
            let b = if p.reads(ins, Field::In2) { values[ins.in2].expect("live") } else { a };
            let seq = |s: Shape| match s {
                Shape::Seq(c) => Ok(c),
                Shape::Square => {
                    Err(ValidationError { location: at(), reason: Invalid::NeedsSequence { op: ins.op.name() } })
                }
            };
            let out = match ins.op.rule() {
                ShapeRule::Unary | ShapeRule::Cumulative => a,
                ShapeRule::Binary => broadcast(a, b),
                ShapeRule::Constant => Shape::Seq(1),
                ShapeRule::PerChannel | ShapeRule::Depthwise => Shape::Seq(seq(a)?),
                ShapeRule::Mask => {
                    if !a.is_square() {
                        return fail(Invalid::NeedsSquare { op: ins.op.name(), shape: a.to_string() });
                    }
                    a
                }
                ShapeRule::Reduce => Shape::Seq(1),
                ShapeRule::MatMul => match (a, b) {
                    (Shape::Square, Shape::Square) => Shape::Square,
                    (Shape::Square, s) | (s, Shape::Square) => s,
                    _ => return fail(Invalid::MatMulOfSequences),
                },
                ShapeRule::TMatMul => {
                    if a.is_square() != b.is_square() {
                        return fail(Invalid::TMatMulMixed);
                    }
                    Shape::Square
                }
                ShapeRule::Project => {
                    seq(a)?;
                    let units = p.dim_units(ins).expect("structure checked") as usize;
                    Shape::Seq(units * unit)
                }
                ShapeRule::Call => {
                    let Op::Call(c) = ins.op else { unreachable!() };
                    let k = ins.branching as usize;
                    if copies * k > MAX_BRANCH_PRODUCT {
                        return fail(Invalid::TooManyBranches(copies * k));
                    }
                    let mut call_inputs = vec![a];
                    if p.subprograms[c].inputs.len() == 2 {
                        call_inputs.push(b);
                    }
                    let callee = self.instance(c, call_inputs, copies * k)?;
                    callees[i] = Some(callee);
                    let inst = &self.instances[callee];
                    params[i] = k as u64 * inst.total_params();
                    flops[i] = k as u64 * inst.total_flops();
                    match (inst.output(), k) {
                        (s, 1) => s,
                        (Shape::Seq(c), k) => Shape::Seq(c * k),
                        (Shape::Square, _) => return fail(Invalid::BranchedSquare { branching: ins.branching }),
                    }
                }
            };
            if let Shape::Seq(c) = out
                && c > MAX_WIDTH_UNITS * unit
            {
                return fail(Invalid::TooWide { units: c.div_ceil(unit) });
            }
            if !matches!(ins.op, Op::Call(_)) {
                params[i] = ins.op.params(a.width_or(t), out) as u64;
                flops[i] = ins.op.forward_flops(a, b, out, t);
            }
            values.push(Some(out));
        }
        let inst = Instance { subprogram: si, inputs, copies, values, params, flops, callees };
        self.instances.push(inst);
        let idx = self.instances.len() - 1;
        self.memo.insert(key, idx);
        Ok(idx)
    }
}
