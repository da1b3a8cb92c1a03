//! Errors: where a `.prim` file is malformed, and why a program is invalid.

use thiserror::Error;

/// A `.prim` text that cannot be read: where (line and column, 1-based) and what.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ParseError {
    /// The file name given to the parser (`<input>` for a string).
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// What was found and what was expected.
    pub message: String,
}

/// Why a program is invalid, and where: the subprogram and instruction (0-based index and
/// the value's name), or the bank. Found before any tensor exists.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{location}: {reason}")]
pub struct ValidationError {
    pub location: Location,
    pub reason: Invalid,
}

/// Where in a program a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Program,
    Bank { entry: String },
    Subprogram { subprogram: String },
    Instruction { subprogram: String, index: usize, name: String },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Program => write!(f, "program"),
            Location::Bank { entry } => write!(f, "bank entry `{entry}`"),
            Location::Subprogram { subprogram } => write!(f, "subprogram `{subprogram}`"),
            Location::Instruction { subprogram, index, name } => {
                write!(f, "`{subprogram}` instruction {index} (`{name}`)")
            }
        }
    }
}

/// The reasons a program can be invalid.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Invalid {
    #[error("the program has no subprograms")]
    NoSubprograms,
    #[error("main must take exactly one input, it takes {0}")]
    MainArity(usize),
    #[error("a subprogram takes 1 or 2 inputs, this one takes {0}")]
    Arity(usize),
    #[error("the subprogram has no instructions")]
    Empty,
    #[error("input {field} refers to value {index}, but only {available} values come before it")]
    BadInput { field: &'static str, index: usize, available: usize },
    #[error("constant ref {index} is out of the bank's {len} constants")]
    BadConstant { index: usize, len: usize },
    #[error("dim ref {index} is out of the bank's {len} dims")]
    BadDim { index: usize, len: usize },
    #[error("relative dim {0} is not in the vocabulary [1,2,4,8,12,16,24,32,48,64]")]
    DimNotInVocabulary(u32),
    #[error("constant {0} is not finite")]
    NonFiniteConstant(String),
    #[error("branching {0} is not one of 1, 2, 4, 8, 16")]
    BadBranching(u32),
    #[error(
        "calls subprogram {callee}, but a subprogram may only call higher-numbered ones (this is {caller}, there are {count})"
    )]
    BadCall { caller: usize, callee: usize, count: usize },
    #[error("duplicate name `{0}`")]
    DuplicateName(String),
    #[error("{op} needs a sequence, got a square [T,T]")]
    NeedsSequence { op: &'static str },
    #[error("{op} needs a square [T,T], got a sequence {shape}")]
    NeedsSquare { op: &'static str, shape: String },
    #[error("MAT_MUL needs one square (attention weights), got two sequences")]
    MatMulOfSequences,
    #[error("T_MAT_MUL needs two sequences or two squares, got a sequence and a square")]
    TMatMulMixed,
    #[error("a call with branching {branching} returns a square: only sequences can be concatenated")]
    BranchedSquare { branching: u32 },
    #[error("nested branching makes {0} copies, more than the 16 allowed")]
    TooManyBranches(usize),
    #[error("value is {units} dim units wide, more than the 64 allowed (8 x d_model)")]
    TooWide { units: usize },
    #[error("main must return a sequence of width d_model = {expected}, it returns {found}")]
    BadOutput { expected: usize, found: String },
    #[error("d_model {0} is not a positive multiple of 8")]
    BadDModel(usize),
    #[error("program has {found} {what}, the search space allows at most {max}")]
    TooLarge { what: &'static str, found: usize, max: usize },
    #[error("op {0} is not allowed in this search space")]
    OpNotAllowed(&'static str),
}
