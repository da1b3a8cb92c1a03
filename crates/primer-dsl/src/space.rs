//! Search-space configs (`search-spaces/*.toml`): which ops, dims and branchings mutations
//! may use, program size limits, and the weight of each mutation.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Invalid, Location, ValidationError};
use crate::op::Op;
use crate::program::{BRANCHING, DIM_VOCABULARY, Program};

/// A search space. Every field is required except where a default is documented; unknown
/// fields are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpace {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The primitives an inserted or mutated instruction may use.
    pub ops: Vec<Op>,
    /// The relative dims a bank dim may take (a subset of the paper's vocabulary).
    pub dims: Vec<u32>,
    /// The branching factors a call may take.
    pub branching: Vec<u32>,
    /// The chance that an inserted or re-drawn op is a call of a later subprogram (when one
    /// exists) rather than a primitive.
    #[serde(default = "default_call_probability")]
    pub call_probability: f64,
    pub limits: Limits,
    pub mutation_weights: MutationWeights,
}

fn default_call_probability() -> f64 {
    0.05
}

/// Program size limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Instructions in one subprogram.
    pub max_instructions: usize,
    /// Instructions over all subprograms.
    pub max_total_instructions: usize,
    /// Bank constants (and, separately, bank dims).
    pub max_bank_entries: usize,
    /// Parameters of the whole model at the campaign's size (optional): a child with more is
    /// redrawn before it is queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_parameters: Option<u64>,
    /// Training FLOPs per token of the whole model at the campaign's size (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_flops_per_token: Option<u64>,
    /// Training FLOPs per byte of text: per token over the tokenizer's bytes per token
    /// (optional; with bytes as tokens it is the same as per token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_flops_per_byte: Option<f64>,
}

impl Limits {
    /// What a program of this size breaks, in words (`None`: within every cost limit);
    /// `bytes_per_token`: the tokenizer's.
    pub fn over(&self, parameters: u64, flops_per_token: u64, bytes_per_token: f64) -> Option<String> {
        if let Some(max) = self.max_parameters.filter(|&m| parameters > m) {
            return Some(format!("{parameters} parameters, over max_parameters = {max}"));
        }
        if let Some(max) = self.max_flops_per_token.filter(|&m| flops_per_token > m) {
            return Some(format!("{flops_per_token} training FLOPs per token, over max_flops_per_token = {max}"));
        }
        let per_byte = flops_per_token as f64 / bytes_per_token;
        if let Some(max) = self.max_flops_per_byte.filter(|&m| per_byte > m) {
            return Some(format!("{per_byte:.0} training FLOPs per byte, over max_flops_per_byte = {max}"));
        }
        None
    }
}

/// Relative weights of the paper's six mutations (need not sum to 1; zero disables one).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MutationWeights {
    pub delete: f64,
    pub insert: f64,
    pub delete_insert: f64,
    pub mutate_field: f64,
    pub swap: f64,
    pub bank: f64,
}

/// A search-space file that cannot be used: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SpaceError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl SearchSpace {
    /// Parses and checks a search space; `file` names it in errors.
    pub fn from_toml(text: &str, file: &str) -> Result<SearchSpace, SpaceError> {
        let text = crate::text::without_bom(text);
        let space: SearchSpace = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            SpaceError { file: file.into(), line, column, message: e.message().to_string() }
        })?;
        space.check().map_err(|(field, message)| {
            let (line, column) = find_key(text, field);
            SpaceError { file: file.into(), line, column, message: format!("`{field}`: {message}") }
        })?;
        Ok(space)
    }

    /// Reads a search-space file.
    pub fn load(path: &Path) -> Result<SearchSpace, SpaceError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SpaceError {
            file: file.clone(),
            line: 0,
            column: 0,
            message: format!("cannot read: {e}"),
        })?;
        SearchSpace::from_toml(&text, &file)
    }

    fn check(&self) -> Result<(), (&'static str, String)> {
        if self.ops.is_empty() {
            return Err(("ops", "at least one op is needed".into()));
        }
        if self.dims.is_empty() {
            return Err(("dims", "at least one dim is needed".into()));
        }
        if let Some(d) = self.dims.iter().find(|d| !DIM_VOCABULARY.contains(d)) {
            return Err(("dims", format!("{d} is not in the vocabulary 1, 2, 4, 8, 12, 16, 24, 32, 48, 64")));
        }
        if self.branching.is_empty() {
            return Err(("branching", "at least one branching factor is needed".into()));
        }
        if let Some(b) = self.branching.iter().find(|b| !BRANCHING.contains(b)) {
            return Err(("branching", format!("{b} is not one of 1, 2, 4, 8, 16")));
        }
        if !(0.0..=1.0).contains(&self.call_probability) {
            return Err(("call_probability", format!("{} is not a probability", self.call_probability)));
        }
        let w = &self.mutation_weights;
        let weights = [w.delete, w.insert, w.delete_insert, w.mutate_field, w.swap, w.bank];
        if weights.iter().any(|x| !x.is_finite() || *x < 0.0) || weights.iter().sum::<f64>() <= 0.0 {
            return Err(("mutation_weights", "weights must be finite, non-negative, and not all zero".into()));
        }
        if self.limits.max_instructions == 0 || self.limits.max_total_instructions == 0 {
            return Err(("limits", "size limits must be positive".into()));
        }
        if self.limits.max_parameters == Some(0) {
            return Err(("max_parameters", "must be positive".into()));
        }
        if self.limits.max_flops_per_token == Some(0) {
            return Err(("max_flops_per_token", "must be positive".into()));
        }
        if let Some(x) = self.limits.max_flops_per_byte.filter(|x| !(x.is_finite() && *x > 0.0)) {
            return Err(("max_flops_per_byte", format!("must be positive, is {x}")));
        }
        Ok(())
    }

    /// Checks a program against the size limits and allowed ops (live or not).
    pub fn admits(&self, p: &Program) -> Result<(), ValidationError> {
        let total = p.num_instructions();
        if total > self.limits.max_total_instructions {
            return Err(ValidationError {
                location: Location::Program,
                reason: Invalid::TooLarge {
                    what: "instructions",
                    found: total,
                    max: self.limits.max_total_instructions,
                },
            });
        }
        for sub in &p.subprograms {
            if sub.instructions.len() > self.limits.max_instructions {
                return Err(ValidationError {
                    location: Location::Subprogram { subprogram: sub.name.clone() },
                    reason: Invalid::TooLarge {
                        what: "instructions in one subprogram",
                        found: sub.instructions.len(),
                        max: self.limits.max_instructions,
                    },
                });
            }
            for (i, ins) in sub.instructions.iter().enumerate() {
                if !matches!(ins.op, Op::Call(_)) && !self.ops.contains(&ins.op) {
                    return Err(ValidationError {
                        location: Location::Instruction {
                            subprogram: sub.name.clone(),
                            index: i,
                            name: ins.name.clone(),
                        },
                        reason: Invalid::OpNotAllowed(ins.op.name()),
                    });
                }
            }
        }
        for (what, n) in [("bank constants", p.bank.constants.len()), ("bank dims", p.bank.dims.len())] {
            if n > self.limits.max_bank_entries {
                return Err(ValidationError {
                    location: Location::Program,
                    reason: Invalid::TooLarge { what, found: n, max: self.limits.max_bank_entries },
                });
            }
        }
        Ok(())
    }
}

/// 1-based line and column of a byte offset (TOML error spans; campaign files use it too).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Where a key (or the table of that name) is first written, for errors found after parsing.
pub fn find_key(text: &str, key: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if t.starts_with(&format!("[{key}]")) || t.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('=')) {
            return (i + 1, indent + 1);
        }
    }
    (0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_instructions: 10,
            max_total_instructions: 20,
            max_bank_entries: 4,
            max_parameters: None,
            max_flops_per_token: None,
            max_flops_per_byte: None,
        }
    }

    #[test]
    fn cost_limits_name_the_first_one_a_size_breaks_and_flops_per_byte_divide_by_bytes_per_token() {
        assert_eq!(limits().over(u64::MAX, u64::MAX, 1.0), None, "no cost limit set");
        let l = Limits { max_parameters: Some(1000), ..limits() };
        assert_eq!(l.over(1000, 0, 1.0), None, "at the limit is within it");
        assert_eq!(l.over(1001, 0, 1.0).unwrap(), "1001 parameters, over max_parameters = 1000");
        let l = Limits { max_flops_per_token: Some(5000), ..limits() };
        assert!(l.over(0, 5001, 1.0).unwrap().contains("over max_flops_per_token = 5000"));
        // 8,000 FLOPs per token at 4 bytes per token: 2,000 per byte.
        let l = Limits { max_flops_per_byte: Some(2000.0), ..limits() };
        assert_eq!(l.over(0, 8000, 4.0), None);
        assert_eq!(l.over(0, 8004, 4.0).unwrap(), "2001 training FLOPs per byte, over max_flops_per_byte = 2000");
        // With bytes as tokens, per byte is per token.
        assert!(l.over(0, 2001, 1.0).is_some());
    }

    #[test]
    fn cost_limits_are_optional_in_a_space_file_and_must_be_positive() {
        let file = include_str!("../../../search-spaces/primer-cpu.toml");
        let plain = SearchSpace::from_toml(file, "s.toml").unwrap();
        assert_eq!((plain.limits.max_parameters, plain.limits.max_flops_per_byte), (None, None));
        // A space without limits serializes as before (stored specs stay as they were).
        assert!(!serde_json::to_string(&plain).unwrap().contains("max_parameters"));
        let with = file.replace("[limits]\n", "[limits]\nmax_parameters = 50000\nmax_flops_per_byte = 1e6\n");
        let s = SearchSpace::from_toml(&with, "s.toml").unwrap();
        assert_eq!((s.limits.max_parameters, s.limits.max_flops_per_byte), (Some(50000), Some(1e6)));
        let zero = file.replace("[limits]\n", "[limits]\nmax_flops_per_token = 0\n");
        let e = SearchSpace::from_toml(&zero, "s.toml").unwrap_err().to_string();
        let line = zero.lines().position(|l| l.starts_with("max_flops_per_token")).unwrap() + 1;
        assert!(
            e.starts_with(&format!("s.toml:{line}:")) && e.contains("`max_flops_per_token`: must be positive"),
            "{e}"
        );
        let typo = file.replace("[limits]\n", "[limits]\nmax_param = 5\n");
        assert!(SearchSpace::from_toml(&typo, "s.toml").unwrap_err().to_string().contains("unknown field `max_param`"));
    }
}
