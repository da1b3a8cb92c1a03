//! The `.prim` text format: parse and print.
//!
//! ```text
//! # A comment runs to the end of the line.
//! bank {
//!   const eps = 1e-6          # constants: any finite number
//!   const scale = rsqrt(head) # or 1/sqrt(channels of a bank dim) at the model's size
//!   dim model = 8             # relative dims, in units of d_model/8
//! }
//!
//! def main(x) {               # subprogram 0: one decoder layer, x is [B,T,d_model]
//!   n = CALL norm(x)          # a call; CALL[8] head(n) runs 8 copies, concatenated
//!   y = DENSE(n, model)       # inputs by name, then the bank entry the op reads
//!   z = ADD(x, y)             # the last value is the output
//! }
//!
//! def norm(x) { ... }         # may only be called from subprograms defined before it
//! ```
//!
//! One instruction a line: `NAME = OP(args)`, where args are the inputs the op reads, then the
//! constant (`C_MUL(x, c)`, `CONSTANT(c)`) or dim (`DENSE(x, d)`, `CONV3(x, d)`) it reads.
//! Fields an op ignores are kept too, after `with` (`y = EXP(x) with in2=a const=eps dim=model
//! branch=4`), but only where they differ from the defaults: both inputs the value just before
//! the instruction, the first constant, the first dim, branching 1. So printing then parsing
//! gives back an identical program, and a person need not write ignored fields at all.

use std::collections::HashMap;
use std::fmt::Write;

use crate::error::ParseError;
use crate::op::Op;
use crate::program::{BRANCHING, BankEntry, DIM_VOCABULARY, Field, Instruction, Program, Subprogram, ValueBank};

/// Where each instruction of a parsed program was written: `lines[s][i]` = (line, column).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    pub file: String,
    pub lines: Vec<Vec<(usize, usize)>>,
}

/// Parses `.prim` text; `file` names the source in errors.
pub fn parse(text: &str, file: &str) -> Result<Program, ParseError> {
    parse_with_source_map(text, file).map(|(p, _)| p)
}

/// Parses `.prim` text and says where each instruction was written. A UTF-8 byte-order mark
/// (some editors save one) is skipped: columns are counted as the editor shows them.
pub fn parse_with_source_map(text: &str, file: &str) -> Result<(Program, SourceMap), ParseError> {
    let tokens = lex(without_bom(text), file)?;
    Parser { tokens, pos: 0, file: file.to_string() }.program()
}

/// Reads and parses a `.prim` file.
pub fn parse_file(path: &std::path::Path) -> Result<Program, ParseError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ParseError {
        file: file.clone(),
        line: 0,
        column: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(&text, &file)
}

// ---------------------------------------------------------------------------------------------
// lexer

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(String),
    Sym(char),
    Newline,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Number(s) => format!("number `{s}`"),
            Tok::Sym(c) => format!("`{c}`"),
            Tok::Newline => "end of line".into(),
            Tok::Eof => "end of file".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

fn lex(text: &str, file: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    let mut last_line = 1;
    for (li, line) in text.lines().enumerate() {
        let line_no = li + 1;
        last_line = line_no;
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let col = i + 1;
            if c == '#' {
                break;
            } else if c.is_whitespace() {
                i += 1;
            } else if c.is_ascii_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token { tok: Tok::Ident(chars[start..i].iter().collect()), line: line_no, col });
            } else if c.is_ascii_digit()
                || ((c == '-' || c == '.') && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            {
                let start = i;
                i += 1;
                while i < chars.len() {
                    let d = chars[i];
                    let exp_sign = (d == '-' || d == '+') && matches!(chars[i - 1], 'e' | 'E');
                    if d.is_ascii_alphanumeric() || d == '.' || exp_sign {
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push(Token { tok: Tok::Number(chars[start..i].iter().collect()), line: line_no, col });
            } else if "=(),{}[]".contains(c) {
                out.push(Token { tok: Tok::Sym(c), line: line_no, col });
                i += 1;
            } else {
                return Err(ParseError {
                    file: file.into(),
                    line: line_no,
                    column: col,
                    message: format!("unexpected character `{c}`"),
                });
            }
        }
        out.push(Token { tok: Tok::Newline, line: line_no, col: chars.len() + 1 });
    }
    out.push(Token { tok: Tok::Eof, line: last_line + 1, col: 1 });
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// parser

const KEYWORDS: [&str; 6] = ["bank", "def", "const", "dim", "with", "CALL"];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    file: String,
}

/// A call site, resolved once every subprogram is known.
struct PendingCall {
    sub: usize,
    instruction: usize,
    callee: String,
    arity: usize,
    line: usize,
    col: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.pos]
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.pos].clone();
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn error_at(&self, line: usize, col: usize, message: impl Into<String>) -> ParseError {
        ParseError { file: self.file.clone(), line, column: col, message: message.into() }
    }

    fn unexpected(&self, t: &Token, expected: &str) -> ParseError {
        self.error_at(t.line, t.col, format!("expected {expected}, found {}", t.tok.describe()))
    }

    fn skip_newlines(&mut self) {
        while self.peek().tok == Tok::Newline {
            self.pos += 1;
        }
    }

    fn expect_sym(&mut self, c: char) -> Result<Token, ParseError> {
        let t = self.next();
        if t.tok == Tok::Sym(c) { Ok(t) } else { Err(self.unexpected(&t, &format!("`{c}`"))) }
    }

    fn expect_newline(&mut self) -> Result<(), ParseError> {
        let t = self.next();
        match t.tok {
            Tok::Newline => Ok(()),
            _ => Err(self.unexpected(&t, "end of line")),
        }
    }

    /// An identifier that is not a keyword.
    fn name(&mut self, what: &str) -> Result<(String, Token), ParseError> {
        let t = self.next();
        match &t.tok {
            Tok::Ident(s) if KEYWORDS.contains(&s.as_str()) => {
                Err(self.error_at(t.line, t.col, format!("expected {what}, found keyword `{s}`")))
            }
            Tok::Ident(s) => Ok((s.clone(), t)),
            _ => Err(self.unexpected(&t, what)),
        }
    }

    fn program(mut self) -> Result<(Program, SourceMap), ParseError> {
        let mut bank = ValueBank { constants: Vec::new(), dims: Vec::new() };
        let mut seen_bank = false;
        let mut subprograms: Vec<Subprogram> = Vec::new();
        let mut lines: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut sub_pos: Vec<(usize, usize)> = Vec::new();
        let mut calls: Vec<PendingCall> = Vec::new();
        loop {
            self.skip_newlines();
            let t = self.next();
            match &t.tok {
                Tok::Eof => break,
                Tok::Ident(k) if k == "bank" => {
                    if seen_bank {
                        return Err(self.error_at(t.line, t.col, "a second `bank` block: write all entries in one"));
                    }
                    if !subprograms.is_empty() {
                        return Err(self.error_at(t.line, t.col, "the `bank` block must come before the first `def`"));
                    }
                    seen_bank = true;
                    self.bank(&mut bank)?;
                }
                Tok::Ident(k) if k == "def" => {
                    let (name, nt) = self.name("a subprogram name")?;
                    if subprograms.iter().any(|s| s.name == name) {
                        return Err(self.error_at(nt.line, nt.col, format!("subprogram `{name}` is defined twice")));
                    }
                    let si = subprograms.len();
                    let (sub, sub_lines) = self.def(name, si, &bank, &mut calls)?;
                    subprograms.push(sub);
                    lines.push(sub_lines);
                    sub_pos.push((nt.line, nt.col));
                }
                _ => return Err(self.unexpected(&t, "`bank` or `def`")),
            }
        }
        if subprograms.is_empty() {
            let t = self.peek().clone();
            return Err(self.error_at(t.line, t.col, "no subprogram: a program needs at least `def main(x) { ... }`"));
        }
        if subprograms[0].inputs.len() != 1 {
            let (l, c) = sub_pos[0];
            return Err(self.error_at(
                l,
                c,
                format!(
                    "the first subprogram (`{}`) is the layer's entry point and takes exactly one input, not {}",
                    subprograms[0].name,
                    subprograms[0].inputs.len()
                ),
            ));
        }
        for call in calls {
            let Some(callee) = subprograms.iter().position(|s| s.name == call.callee) else {
                return Err(self.error_at(call.line, call.col, format!("unknown subprogram `{}`", call.callee)));
            };
            if callee <= call.sub {
                return Err(self.error_at(
                    call.line,
                    call.col,
                    format!(
                        "`{}` may only call subprograms defined after it, and `{}` is not",
                        subprograms[call.sub].name, call.callee
                    ),
                ));
            }
            let arity = subprograms[callee].inputs.len();
            if arity != call.arity {
                return Err(self.error_at(
                    call.line,
                    call.col,
                    format!("`{}` takes {arity} input(s), the call gives {}", call.callee, call.arity),
                ));
            }
            subprograms[call.sub].instructions[call.instruction].op = Op::Call(callee);
        }
        Ok((Program { bank, subprograms }, SourceMap { file: self.file.clone(), lines }))
    }

    fn bank(&mut self, bank: &mut ValueBank) -> Result<(), ParseError> {
        self.expect_sym('{')?;
        self.expect_newline()?;
        // Derived constants name a dim that may come later in the bank: (constant, dim, where).
        let mut derived: Vec<(usize, String, usize, usize)> = Vec::new();
        loop {
            self.skip_newlines();
            let t = self.next();
            let kind = match &t.tok {
                Tok::Sym('}') => break,
                Tok::Ident(k) if k == "const" || k == "dim" => k.clone(),
                _ => return Err(self.unexpected(&t, "`const`, `dim` or `}`")),
            };
            let (name, nt) = self.name("a bank entry name")?;
            if bank.constants.iter().any(|c| c.name == name) || bank.dims.iter().any(|d| d.name == name) {
                return Err(self.error_at(nt.line, nt.col, format!("bank entry `{name}` is defined twice")));
            }
            self.expect_sym('=')?;
            let v = self.next();
            if kind == "const" && matches!(&v.tok, Tok::Ident(f) if f == "rsqrt") {
                self.expect_sym('(')?;
                let (dim, dt) = self.name("a bank dim's name")?;
                self.expect_sym(')')?;
                derived.push((bank.constants.len(), dim, dt.line, dt.col));
                bank.constants.push(BankEntry { name, value: 0.0, rsqrt_of: Some(usize::MAX) });
                self.expect_newline()?;
                continue;
            }
            let Tok::Number(text) = &v.tok else {
                return Err(self.unexpected(&v, if kind == "const" { "a number or rsqrt(DIM)" } else { "a number" }));
            };
            if kind == "const" {
                let value: f64 =
                    text.parse().map_err(|_| self.error_at(v.line, v.col, format!("`{text}` is not a number")))?;
                if !value.is_finite() {
                    return Err(self.error_at(v.line, v.col, format!("constant `{text}` is not finite")));
                }
                bank.constants.push(BankEntry::new(name, value));
            } else {
                let value: u32 = text.parse().map_err(|_| {
                    self.error_at(v.line, v.col, format!("`{text}` is not a relative dim (a whole number)"))
                })?;
                if !DIM_VOCABULARY.contains(&value) {
                    return Err(self.error_at(
                        v.line,
                        v.col,
                        format!("relative dim {value} is not in the vocabulary 1, 2, 4, 8, 12, 16, 24, 32, 48, 64"),
                    ));
                }
                bank.dims.push(BankEntry::new(name, value));
            }
            self.expect_newline()?;
        }
        for (c, dim, line, col) in derived {
            let Some(d) = bank.dims.iter().position(|d| d.name == dim) else {
                return Err(self.error_at(
                    line,
                    col,
                    format!("`{dim}` is not a dim of the bank (rsqrt takes a bank dim)"),
                ));
            };
            bank.constants[c].rsqrt_of = Some(d);
        }
        self.expect_newline()
    }

    fn def(
        &mut self,
        name: String,
        si: usize,
        bank: &ValueBank,
        calls: &mut Vec<PendingCall>,
    ) -> Result<(Subprogram, Vec<(usize, usize)>), ParseError> {
        self.expect_sym('(')?;
        let mut inputs = Vec::new();
        loop {
            let (input, it) = self.name("an input name")?;
            if inputs.contains(&input) {
                return Err(self.error_at(it.line, it.col, format!("input `{input}` is named twice")));
            }
            inputs.push(input);
            let t = self.next();
            match t.tok {
                Tok::Sym(',') => continue,
                Tok::Sym(')') => break,
                _ => return Err(self.unexpected(&t, "`,` or `)`")),
            }
        }
        if inputs.len() > 2 {
            let t = &self.tokens[self.pos - 1];
            return Err(self.error_at(
                t.line,
                t.col,
                format!("`{name}` takes {} inputs; a subprogram takes 1 or 2", inputs.len()),
            ));
        }
        self.expect_sym('{')?;
        self.expect_newline()?;
        let mut names: HashMap<String, usize> = inputs.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let mut instructions = Vec::new();
        let mut lines = Vec::new();
        loop {
            self.skip_newlines();
            if self.peek().tok == Tok::Sym('}') {
                let t = self.next();
                if instructions.is_empty() {
                    return Err(self.error_at(t.line, t.col, format!("`{name}` has no instructions")));
                }
                break;
            }
            if self.peek().tok == Tok::Eof {
                let t = self.peek().clone();
                return Err(self.error_at(t.line, t.col, format!("`{name}` is not closed: expected `}}`")));
            }
            let (value, vt) = self.name("a value name or `}`")?;
            if names.contains_key(&value) {
                return Err(self.error_at(vt.line, vt.col, format!("value `{value}` is defined twice in `{name}`")));
            }
            self.expect_sym('=')?;
            let index = inputs.len() + instructions.len();
            let ins = self.instruction(value.clone(), index, si, instructions.len(), &names, bank, calls)?;
            names.insert(value, index);
            instructions.push(ins);
            lines.push((vt.line, vt.col));
        }
        self.expect_newline_or_eof()?;
        Ok((Subprogram { name, inputs, instructions }, lines))
    }

    fn expect_newline_or_eof(&mut self) -> Result<(), ParseError> {
        if self.peek().tok == Tok::Eof { Ok(()) } else { self.expect_newline() }
    }

    /// A branching factor: 1, 2, 4, 8 or 16.
    fn branching(&mut self) -> Result<u32, ParseError> {
        let t = self.next();
        match &t.tok {
            Tok::Number(s) => s.parse::<u32>().ok().filter(|k| BRANCHING.contains(k)),
            _ => None,
        }
        .ok_or_else(|| self.error_at(t.line, t.col, "branching must be 1, 2, 4, 8 or 16"))
    }

    fn value_ref(&mut self, names: &HashMap<String, usize>, what: &str) -> Result<usize, ParseError> {
        let (name, t) = self.name(what)?;
        names.get(&name).copied().ok_or_else(|| {
            self.error_at(t.line, t.col, format!("unknown value `{name}`: not an input or an earlier value"))
        })
    }

    fn constant_ref(&mut self, bank: &ValueBank) -> Result<usize, ParseError> {
        let (name, t) = self.name("a bank constant")?;
        bank.constants.iter().position(|c| c.name == name).ok_or_else(|| {
            let is_dim = bank.dims.iter().any(|d| d.name == name);
            let hint = if is_dim { " (it is a dim)" } else { "" };
            self.error_at(t.line, t.col, format!("unknown constant `{name}`{hint}"))
        })
    }

    fn dim_ref(&mut self, bank: &ValueBank) -> Result<usize, ParseError> {
        let (name, t) = self.name("a bank dim")?;
        bank.dims.iter().position(|d| d.name == name).ok_or_else(|| {
            let is_const = bank.constants.iter().any(|c| c.name == name);
            let hint = if is_const { " (it is a constant)" } else { "" };
            self.error_at(t.line, t.col, format!("unknown dim `{name}`{hint}"))
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn instruction(
        &mut self,
        name: String,
        index: usize,
        si: usize,
        position: usize,
        names: &HashMap<String, usize>,
        bank: &ValueBank,
        calls: &mut Vec<PendingCall>,
    ) -> Result<Instruction, ParseError> {
        let prev = index - 1;
        let mut ins = Instruction { name, op: Op::Add, in1: prev, in2: prev, constant: 0, dim: 0, branching: 1 };
        let (opname, ot) = match self.next() {
            Token { tok: Tok::Ident(s), line, col } => (s, Token { tok: Tok::Newline, line, col }),
            t => return Err(self.unexpected(&t, "an op")),
        };
        let mut explicit: Vec<Field> = Vec::new();
        if opname == "CALL" {
            if self.peek().tok == Tok::Sym('[') {
                self.next();
                ins.branching = self.branching()?;
                self.expect_sym(']')?;
            }
            let (callee, ct) = self.name("a subprogram name")?;
            self.expect_sym('(')?;
            ins.in1 = self.value_ref(names, "an input value")?;
            let mut arity = 1;
            if self.peek().tok == Tok::Sym(',') {
                self.next();
                ins.in2 = self.value_ref(names, "an input value")?;
                arity = 2;
            }
            self.expect_sym(')')?;
            explicit.extend([Field::In1, Field::Branching]);
            if arity == 2 {
                explicit.push(Field::In2);
            }
            // Placeholder op until every subprogram is known; the index is fixed up later.
            ins.op = Op::Call(usize::MAX);
            calls.push(PendingCall { sub: si, instruction: position, callee, arity, line: ct.line, col: ct.col });
        } else {
            let op = Op::from_name(&opname).ok_or_else(|| {
                let upper = opname.to_ascii_uppercase();
                let hint = if Op::from_name(&upper).is_some() || upper == "CALL" {
                    format!(" (did you mean `{upper}`?)")
                } else {
                    String::new()
                };
                self.error_at(ot.line, ot.col, format!("unknown op `{opname}`{hint}"))
            })?;
            ins.op = op;
            let r = op.reads();
            let mut wanted: Vec<&str> = Vec::new();
            if r.in1 {
                wanted.push("in1");
            }
            if r.in2 {
                wanted.push("in2");
            }
            if r.constant {
                wanted.push("a constant");
            }
            if r.dim {
                wanted.push("a dim");
            }
            self.expect_sym('(')?;
            for (k, what) in wanted.iter().enumerate() {
                if k > 0 {
                    let t = self.next();
                    if t.tok != Tok::Sym(',') {
                        let msg = if t.tok == Tok::Sym(')') {
                            format!("{opname} takes {} arguments ({}), found {k}", wanted.len(), wanted.join(", "))
                        } else {
                            format!("expected `,`, found {}", t.tok.describe())
                        };
                        return Err(self.error_at(t.line, t.col, msg));
                    }
                }
                match *what {
                    "in1" => ins.in1 = self.value_ref(names, "an input value")?,
                    "in2" => ins.in2 = self.value_ref(names, "an input value")?,
                    "a constant" => ins.constant = self.constant_ref(bank)?,
                    _ => ins.dim = self.dim_ref(bank)?,
                }
            }
            let t = self.next();
            if t.tok != Tok::Sym(')') {
                let msg = if t.tok == Tok::Sym(',') {
                    format!("{opname} takes {} argument(s) ({}), found more", wanted.len(), wanted.join(", "))
                } else {
                    format!("expected `)`, found {}", t.tok.describe())
                };
                return Err(self.error_at(t.line, t.col, msg));
            }
            for (f, read) in
                [(Field::In1, r.in1), (Field::In2, r.in2), (Field::Constant, r.constant), (Field::Dim, r.dim)]
            {
                if read {
                    explicit.push(f);
                }
            }
        }
        // Ignored fields, after `with`.
        if matches!(&self.peek().tok, Tok::Ident(w) if w == "with") {
            self.next();
            self.with_fields(&mut ins, &opname, &explicit, names, bank)?;
        }
        self.expect_newline_or_eof()?;
        Ok(ins)
    }

    /// The fields an op ignores, given after `with` (`with` already read): each once, none the
    /// op reads (those are its arguments).
    fn with_fields(
        &mut self,
        ins: &mut Instruction,
        opname: &str,
        explicit: &[Field],
        names: &HashMap<String, usize>,
        bank: &ValueBank,
    ) -> Result<(), ParseError> {
        let mut given: Vec<Field> = Vec::new();
        loop {
            let t = self.next();
            let field = match &t.tok {
                Tok::Ident(f) => match f.as_str() {
                    "in1" => Field::In1,
                    "in2" => Field::In2,
                    "const" => Field::Constant,
                    "dim" => Field::Dim,
                    "branch" => Field::Branching,
                    other => {
                        return Err(self.error_at(
                            t.line,
                            t.col,
                            format!("unknown field `{other}`: the fields are in1, in2, const, dim, branch"),
                        ));
                    }
                },
                _ => return Err(self.unexpected(&t, "a field (in1, in2, const, dim, branch)")),
            };
            if explicit.contains(&field) {
                return Err(self.error_at(
                    t.line,
                    t.col,
                    format!("{} reads `{}`: give it as an argument, not after `with`", opname, field_keyword(field)),
                ));
            }
            if given.contains(&field) {
                return Err(self.error_at(t.line, t.col, format!("field `{}` is given twice", field_keyword(field))));
            }
            given.push(field);
            self.expect_sym('=')?;
            match field {
                Field::In1 => ins.in1 = self.value_ref(names, "a value")?,
                Field::In2 => ins.in2 = self.value_ref(names, "a value")?,
                Field::Constant => ins.constant = self.constant_ref(bank)?,
                Field::Dim => ins.dim = self.dim_ref(bank)?,
                Field::Branching => ins.branching = self.branching()?,
                Field::Op => unreachable!(),
            }
            if self.peek().tok == Tok::Newline || self.peek().tok == Tok::Eof {
                break;
            }
        }
        Ok(())
    }
}

fn field_keyword(f: Field) -> &'static str {
    match f {
        Field::In1 => "in1",
        Field::In2 => "in2",
        Field::Constant => "const",
        Field::Dim => "dim",
        Field::Branching => "branch",
        Field::Op => "op",
    }
}

// ---------------------------------------------------------------------------------------------
// printer

/// Formats a constant so that parsing it gives back the same f64.
fn number(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-4..1e15).contains(&a) { format!("{v:e}") } else { format!("{v}") }
}

/// Prints a program in the `.prim` format; [`parse`] gives it back unchanged.
///
/// The program must be structurally valid ([`crate::validate::check_structure`]).
pub fn print(p: &Program) -> String {
    let mut out = String::new();
    if !p.bank.constants.is_empty() || !p.bank.dims.is_empty() {
        out.push_str("bank {\n");
        for c in &p.bank.constants {
            match c.rsqrt_of.and_then(|d| p.bank.dims.get(d)) {
                Some(d) => {
                    let _ = writeln!(out, "  const {} = rsqrt({})", c.name, d.name);
                }
                None => {
                    let _ = writeln!(out, "  const {} = {}", c.name, number(c.value));
                }
            }
        }
        for d in &p.bank.dims {
            let _ = writeln!(out, "  dim {} = {}", d.name, d.value);
        }
        out.push_str("}\n");
    }
    for (si, sub) in p.subprograms.iter().enumerate() {
        if si > 0 || !out.is_empty() {
            out.push('\n');
        }
        let _ = writeln!(out, "def {}({}) {{", sub.name, sub.inputs.join(", "));
        let width = sub.instructions.iter().map(|i| i.name.len()).max().unwrap_or(0);
        for (i, ins) in sub.instructions.iter().enumerate() {
            let _ = writeln!(out, "  {:width$} = {}", ins.name, instruction_text(p, sub, i));
        }
        out.push_str("}\n");
    }
    out
}

/// The 1-based line on which [`print`] writes instruction `i` of subprogram `si` (`i` =
/// `None`: the subprogram's `def` line), without printing: mutation descriptions cite it.
pub fn printed_line(p: &Program, si: usize, i: Option<usize>) -> usize {
    let has_bank = !p.bank.constants.is_empty() || !p.bank.dims.is_empty();
    let mut line = if has_bank { 2 + p.bank.constants.len() + p.bank.dims.len() } else { 0 };
    for (k, sub) in p.subprograms.iter().enumerate() {
        if k > 0 || has_bank {
            line += 1; // the blank line between blocks
        }
        line += 1; // `def ...`
        if k == si {
            return line + i.map_or(0, |i| i + 1);
        }
        line += sub.instructions.len() + 1; // the instructions and `}`
    }
    line
}

/// The right-hand side of one instruction as written in `.prim` (`OP(args) [with ...]`).
pub fn instruction_text(p: &Program, sub: &Subprogram, i: usize) -> String {
    let ins = &sub.instructions[i];
    let value = |v: usize| sub.value_name(v).to_string();
    let constant = |c: usize| p.bank.constants.get(c).map_or(format!("#{c}"), |e| e.name.clone());
    let dim = |d: usize| p.bank.dims.get(d).map_or(format!("#{d}"), |e| e.name.clone());
    let mut s = match ins.op {
        Op::Call(c) => {
            let callee = p.subprograms.get(c).map_or(format!("#{c}"), |s| s.name.clone());
            let branch = if ins.branching == 1 { String::new() } else { format!("[{}]", ins.branching) };
            let args = if p.reads(ins, Field::In2) {
                format!("{}, {}", value(ins.in1), value(ins.in2))
            } else {
                value(ins.in1)
            };
            format!("CALL{branch} {callee}({args})")
        }
        op => {
            let r = op.reads();
            let mut args = Vec::new();
            if r.in1 {
                args.push(value(ins.in1));
            }
            if r.in2 {
                args.push(value(ins.in2));
            }
            if r.constant {
                args.push(constant(ins.constant));
            }
            if r.dim {
                args.push(dim(ins.dim));
            }
            format!("{}({})", op.name(), args.join(", "))
        }
    };
    let prev = sub.value_of(i) - 1;
    let mut extra = Vec::new();
    if !p.reads(ins, Field::In1) && ins.in1 != prev {
        extra.push(format!("in1={}", value(ins.in1)));
    }
    if !p.reads(ins, Field::In2) && ins.in2 != prev {
        extra.push(format!("in2={}", value(ins.in2)));
    }
    if !p.reads(ins, Field::Constant) && ins.constant != 0 {
        extra.push(format!("const={}", constant(ins.constant)));
    }
    if !p.reads(ins, Field::Dim) && ins.dim != 0 {
        extra.push(format!("dim={}", dim(ins.dim)));
    }
    if !p.reads(ins, Field::Branching) && ins.branching != 1 {
        extra.push(format!("branch={}", ins.branching));
    }
    if !extra.is_empty() {
        s.push_str(" with ");
        s.push_str(&extra.join(" "));
    }
    s
}

/// The program as pretty JSON (serde).
pub fn to_json(p: &Program) -> String {
    serde_json::to_string_pretty(p).expect("programs serialize")
}

/// The text without a leading UTF-8 byte-order mark.
pub fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// A program from JSON; errors name line and column (a byte-order mark is skipped).
pub fn from_json(text: &str, file: &str) -> Result<Program, ParseError> {
    serde_json::from_str(without_bom(text)).map_err(|e| ParseError {
        file: file.into(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}
