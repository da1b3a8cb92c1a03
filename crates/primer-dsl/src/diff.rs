//! What changed between two programs: inserted, deleted and changed instructions, per
//! subprogram, and changed bank values.
//!
//! Subprograms are paired by name (then by position). Within a pair, instructions are aligned
//! by a longest common subsequence over what they compute (op, callee, constant and dim values,
//! branching: not names, not inputs). An aligned pair whose inputs differ is *changed*, unless
//! the difference is only that the input now passes through inserted instructions (or used to
//! pass through deleted ones): inserting `q = DCONV3(q_proj)` before `T_MAT_MUL(q, k)` is one
//! insertion, not a change of the `T_MAT_MUL`. A deletion and an insertion at the same place
//! are reported as one changed instruction.

use std::fmt;

use serde::Serialize;

use crate::op::Op;
use crate::program::{Field, Program, Subprogram};
use crate::text::instruction_text;

/// One difference.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Constant {
        name: String,
        old: Option<f64>,
        new: Option<f64>,
    },
    Dim {
        name: String,
        old: Option<u32>,
        new: Option<u32>,
    },
    SubprogramAdded {
        subprogram: String,
    },
    SubprogramRemoved {
        subprogram: String,
    },
    /// `index` is the instruction's position in the new program's subprogram.
    Inserted {
        subprogram: String,
        index: usize,
        name: String,
        text: String,
    },
    /// `index` is the instruction's position in the old program's subprogram.
    Deleted {
        subprogram: String,
        index: usize,
        name: String,
        text: String,
    },
    Changed {
        subprogram: String,
        index: usize,
        name: String,
        old: String,
        new: String,
        fields: Vec<Field>,
    },
}

/// The differences from an old program to a new one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diff {
    pub changes: Vec<Change>,
}

impl Diff {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Counts of (inserted, deleted, changed) instructions.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for ch in &self.changes {
            match ch {
                Change::Inserted { .. } => c.0 += 1,
                Change::Deleted { .. } => c.1 += 1,
                Change::Changed { .. } => c.2 += 1,
                _ => {}
            }
        }
        c
    }
}

impl fmt::Display for Diff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no differences");
        }
        for ch in &self.changes {
            match ch {
                Change::Constant { name, old, new } => {
                    writeln!(f, "~ bank const {name}: {} -> {}", opt(old), opt(new))?
                }
                Change::Dim { name, old, new } => writeln!(f, "~ bank dim {name}: {} -> {}", opt(old), opt(new))?,
                Change::SubprogramAdded { subprogram } => writeln!(f, "+ def {subprogram}")?,
                Change::SubprogramRemoved { subprogram } => writeln!(f, "- def {subprogram}")?,
                Change::Inserted { subprogram, index, name, text } => {
                    writeln!(f, "+ {subprogram}[{index}]: {name} = {text}")?
                }
                Change::Deleted { subprogram, index, name, text } => {
                    writeln!(f, "- {subprogram}[{index}]: {name} = {text}")?
                }
                Change::Changed { subprogram, index, name, old, new, fields } => {
                    let fields: Vec<&str> = fields.iter().map(|f| f.name()).collect();
                    writeln!(f, "~ {subprogram}[{index}]: {name} = {old}  ->  {new}  ({})", fields.join(", "))?
                }
            }
        }
        Ok(())
    }
}

fn opt<T: fmt::Display>(v: &Option<T>) -> String {
    v.as_ref().map_or("(none)".into(), |v| v.to_string())
}

/// What an instruction computes, apart from its inputs.
#[derive(Debug, Clone, PartialEq)]
struct Key {
    op: String,
    constant: Option<u64>,
    dim: Option<u32>,
    branching: Option<u32>,
}

/// `callee` maps a called subprogram's index to the index it is compared under (old
/// subprograms are mapped to their partners in the new program).
fn key(p: &Program, sub: &Subprogram, i: usize, callee: &dyn Fn(usize) -> Option<usize>) -> Key {
    let ins = &sub.instructions[i];
    let op = match ins.op {
        Op::Call(c) => format!("CALL {}", callee(c).map_or("?".into(), |c| c.to_string())),
        op => op.name().to_string(),
    };
    Key {
        op,
        constant: p.reads(ins, Field::Constant).then(|| p.constant_key(ins).unwrap_or(f64::NAN.to_bits())),
        dim: p.reads(ins, Field::Dim).then(|| p.dim_units(ins).unwrap_or(0)),
        branching: p.reads(ins, Field::Branching).then_some(ins.branching),
    }
}

enum Step {
    Match(usize, usize),
    Del(usize),
    Ins(usize),
}

fn align(a: &[Key], b: &[Key]) -> Vec<Step> {
    let (n, m) = (a.len(), b.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut steps) = (0, 0, Vec::new());
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            steps.push(Step::Match(i, j));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            steps.push(Step::Ins(j));
            j += 1;
        } else {
            steps.push(Step::Del(i));
            i += 1;
        }
    }
    steps
}

/// The differences from `old` to `new`.
pub fn diff(old: &Program, new: &Program) -> Diff {
    let mut changes = Vec::new();
    bank_changes(old, new, &mut changes);
    // Pair subprograms by name, then the rest by position.
    let mut pairs: Vec<(Option<usize>, Option<usize>)> = Vec::new();
    let mut new_used = vec![false; new.subprograms.len()];
    let mut old_unpaired = Vec::new();
    for (oi, s) in old.subprograms.iter().enumerate() {
        match new.subprograms.iter().position(|t| t.name == s.name) {
            Some(ni) => {
                new_used[ni] = true;
                pairs.push((Some(oi), Some(ni)));
            }
            None => old_unpaired.push(oi),
        }
    }
    let mut new_unpaired: Vec<usize> = (0..new.subprograms.len()).filter(|&i| !new_used[i]).collect();
    for oi in old_unpaired {
        if new_unpaired.is_empty() {
            pairs.push((Some(oi), None));
        } else {
            pairs.push((Some(oi), Some(new_unpaired.remove(0))));
        }
    }
    pairs.extend(new_unpaired.into_iter().map(|ni| (None, Some(ni))));
    let partner: Vec<Option<usize>> =
        (0..old.subprograms.len()).map(|oi| pairs.iter().find(|(o, _)| *o == Some(oi)).and_then(|(_, n)| *n)).collect();
    for (oi, ni) in pairs {
        match (oi, ni) {
            (Some(oi), Some(ni)) => sub_changes(old, oi, new, ni, &partner, &mut changes),
            (Some(oi), None) => {
                changes.push(Change::SubprogramRemoved { subprogram: old.subprograms[oi].name.clone() })
            }
            (None, Some(ni)) => changes.push(Change::SubprogramAdded { subprogram: new.subprograms[ni].name.clone() }),
            (None, None) => {}
        }
    }
    Diff { changes }
}

fn bank_changes(old: &Program, new: &Program, out: &mut Vec<Change>) {
    for (i, c) in old.bank.constants.iter().enumerate() {
        let other = new.bank.constants.iter().find(|d| d.name == c.name).or_else(|| new.bank.constants.get(i));
        match other {
            Some(d) if new.entry_key(d) == old.entry_key(c) => {}
            Some(d) => out.push(Change::Constant { name: c.name.clone(), old: Some(c.value), new: Some(d.value) }),
            None => out.push(Change::Constant { name: c.name.clone(), old: Some(c.value), new: None }),
        }
    }
    for (i, d) in new.bank.constants.iter().enumerate() {
        if !old.bank.constants.iter().any(|c| c.name == d.name) && old.bank.constants.get(i).is_none() {
            out.push(Change::Constant { name: d.name.clone(), old: None, new: Some(d.value) });
        }
    }
    for (i, c) in old.bank.dims.iter().enumerate() {
        let other = new.bank.dims.iter().find(|d| d.name == c.name).or_else(|| new.bank.dims.get(i));
        match other {
            Some(d) if d.value == c.value => {}
            Some(d) => out.push(Change::Dim { name: c.name.clone(), old: Some(c.value), new: Some(d.value) }),
            None => out.push(Change::Dim { name: c.name.clone(), old: Some(c.value), new: None }),
        }
    }
    for (i, d) in new.bank.dims.iter().enumerate() {
        if !old.bank.dims.iter().any(|c| c.name == d.name) && old.bank.dims.get(i).is_none() {
            out.push(Change::Dim { name: d.name.clone(), old: None, new: Some(d.value) });
        }
    }
}

/// How an alignment pairs two subprograms' values: the partner of each old value in the new
/// subprogram (inputs map to inputs), which values on each side have one, and the runs of
/// deletions and insertions between matches (equal-length runs pair up as changes: the count
/// paired).
struct Matching {
    a_to_b: Vec<Option<usize>>,
    a_matched: Vec<bool>,
    b_matched: Vec<bool>,
    runs: Vec<(Vec<usize>, Vec<usize>, usize)>,
}

fn matching(a: &Subprogram, b: &Subprogram, steps: &[Step]) -> Matching {
    // Partner of each old instruction's value in the new subprogram (inputs map to inputs).
    let mut a_to_b: Vec<Option<usize>> = (0..a.num_values()).map(|v| (v < a.inputs.len()).then_some(v)).collect();
    let mut b_matched = vec![false; b.num_values()];
    b_matched[..b.inputs.len()].fill(true);
    let mut a_matched = vec![false; a.num_values()];
    a_matched[..a.inputs.len()].fill(true);
    // Runs of deletions and insertions between matches; equal-length runs pair up as changes.
    let mut runs: Vec<(Vec<usize>, Vec<usize>, usize)> = Vec::new();
    let mut k = 0;
    while k < steps.len() {
        if let Step::Match(i, j) = steps[k] {
            a_to_b[a.value_of(i)] = Some(b.value_of(j));
            a_matched[a.value_of(i)] = true;
            b_matched[b.value_of(j)] = true;
            k += 1;
            continue;
        }
        let (mut dels, mut ins) = (Vec::new(), Vec::new());
        while k < steps.len() {
            match steps[k] {
                Step::Del(i) => dels.push(i),
                Step::Ins(j) => ins.push(j),
                Step::Match(..) => break,
            }
            k += 1;
        }
        let paired = if dels.len() == ins.len() { dels.len() } else { 0 };
        for (&i, &j) in dels.iter().zip(&ins).take(paired) {
            a_to_b[a.value_of(i)] = Some(b.value_of(j));
            a_matched[a.value_of(i)] = true;
            b_matched[b.value_of(j)] = true;
        }
        runs.push((dels, ins, paired));
    }
    Matching { a_to_b, a_matched, b_matched, runs }
}

fn sub_changes(old: &Program, oi: usize, new: &Program, ni: usize, partner: &[Option<usize>], out: &mut Vec<Change>) {
    let (a, b) = (&old.subprograms[oi], &new.subprograms[ni]);
    let old_callee = |c: usize| partner.get(c).copied().flatten();
    let new_callee = |c: usize| Some(c);
    let ka: Vec<Key> = (0..a.instructions.len()).map(|i| key(old, a, i, &old_callee)).collect();
    let kb: Vec<Key> = (0..b.instructions.len()).map(|i| key(new, b, i, &new_callee)).collect();
    let steps = align(&ka, &kb);
    let Matching { a_to_b, a_matched, b_matched, runs } = matching(a, b, &steps);
    // Skips unmatched (inserted or deleted) instructions through their first input.
    let through = |s: &Subprogram, matched: &[bool], mut v: usize| {
        while !matched[v] {
            v = s.instructions[v - s.inputs.len()].in1;
        }
        v
    };
    let name = &b.name;
    // The fields in which old instruction i and new instruction j differ: what they compute,
    // and inputs that do not correspond (looking through inserted or deleted instructions).
    let differing = |i: usize, j: usize| -> Vec<Field> {
        let (ia, ib, x, y) = (&a.instructions[i], &b.instructions[j], &ka[i], &kb[j]);
        let mut fields = Vec::new();
        for (field, differs) in [
            (Field::Op, x.op != y.op),
            (Field::Constant, x.constant != y.constant),
            (Field::Dim, x.dim != y.dim),
            (Field::Branching, x.branching != y.branching),
        ] {
            if differs {
                fields.push(field);
            }
        }
        for (field, va, vb) in [(Field::In1, ia.in1, ib.in1), (Field::In2, ia.in2, ib.in2)] {
            if (old.reads(ia, field) || new.reads(ib, field))
                && a_to_b[through(a, &a_matched, va)] != Some(through(b, &b_matched, vb))
            {
                fields.push(field);
            }
        }
        fields
    };
    let changed = |i: usize, j: usize, fields: Vec<Field>| Change::Changed {
        subprogram: name.clone(),
        index: j,
        name: b.instructions[j].name.clone(),
        old: instruction_text(old, a, i),
        new: instruction_text(new, b, j),
        fields,
    };
    let (mut k, mut run) = (0, 0);
    while k < steps.len() {
        match steps[k] {
            Step::Match(i, j) => {
                let fields = differing(i, j);
                if !fields.is_empty() {
                    out.push(changed(i, j, fields));
                }
                k += 1;
            }
            _ => {
                let (dels, ins, paired) = &runs[run];
                run += 1;
                while k < steps.len() && !matches!(steps[k], Step::Match(..)) {
                    k += 1;
                }
                let paired = *paired;
                for (&i, &j) in dels.iter().zip(ins).take(paired) {
                    out.push(changed(i, j, differing(i, j)));
                }
                for &i in &dels[paired..] {
                    let ia = &a.instructions[i];
                    out.push(Change::Deleted {
                        subprogram: name.clone(),
                        index: i,
                        name: ia.name.clone(),
                        text: instruction_text(old, a, i),
                    });
                }
                for &j in &ins[paired..] {
                    let ib = &b.instructions[j];
                    out.push(Change::Inserted {
                        subprogram: name.clone(),
                        index: j,
                        name: ib.name.clone(),
                        text: instruction_text(new, b, j),
                    });
                }
            }
        }
    }
}
