//! Export of a compiled program into people's own code: a self-contained, readable PyTorch
//! `model.py` generated from the program, its weights as safetensors under the names of that
//! module's `state_dict()`, a check file (tokens and this model's logits) that `model.py`
//! verifies itself against, and a TorchScript module traced from [`crate::compile::Model::forward`]
//! ([`torchscript`]). Weights live in [`weights`]; the Python the generator does not compute
//! is in real files beside this one (`header.py`, `prelude.py`, `stem.py`, `epilogue.py`).
//!
//! `model.py` mirrors the compiler exactly: values are `[batch, copies, time, channels]`
//! (`[batch, copies, time, time]` for squares), the same broadcasting rules, the same stem, and
//! the same fused kernels where [`crate::patterns`] finds attention and layer norm, so its
//! logits equal this crate's within float rounding (the tests check 1e-4).
//!
//! Each distinct instance of a subprogram (a subprogram with its input shapes and number of
//! copies, as the validator computes them) becomes one `nn.Module` class whose `forward` has
//! one line per live instruction, commented with the instruction as `.prim` writes it.
//! Parameter names follow the compiler's (`l0.heads.q.w`), except that a name Python cannot
//! use for a variable or a module attribute (a keyword, an `nn.Module` attribute such as
//! `forward`, a leading underscore) is changed, the same way everywhere: see [`ExportNames`].

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use primer_dsl::validate::{Validated, validate};
use primer_dsl::{Field, ModelConfig, Program, Shape, ValidationError, text};

use crate::compile::EMBEDDING_STD;
use crate::lower::{self, Lowering, Structural, lowering};
use crate::patterns::{self, Pattern};

mod torchscript;
mod weights;

pub use torchscript::trace;
pub use weights::{
    check_bytes, load_model_weights, model_weights, python_weights, read_safetensors, safetensors_bytes,
};

/// Python keywords, names the generated `forward`s use, and `nn.Module`'s attributes (torch
/// 2.13): a program name among them gets a trailing underscore in `model.py`.
const RESERVED: &[&str] = &[
    // keywords (soft keywords are fine as names)
    "False",
    "None",
    "True",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    // what the generated code refers to inside a forward
    "self",
    "torch",
    "F",
    "nn",
    "math",
    "T",
    "cyclic",
    "causal_mask",
    "spread",
    "join_copies",
    "expand_copies",
    "attention",
    // nn.Module
    "T_destination",
    "add_module",
    "apply",
    "bfloat16",
    "buffers",
    "call_super_init",
    "children",
    "compile",
    "cpu",
    "cuda",
    "double",
    "dump_patches",
    "eval",
    "extra_repr",
    "float",
    "forward",
    "get_buffer",
    "get_extra_state",
    "get_parameter",
    "get_submodule",
    "half",
    "ipu",
    "load_state_dict",
    "modules",
    "mtia",
    "named_buffers",
    "named_children",
    "named_modules",
    "named_parameters",
    "parameters",
    "register_backward_hook",
    "register_buffer",
    "register_forward_hook",
    "register_forward_pre_hook",
    "register_full_backward_hook",
    "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook",
    "register_module",
    "register_parameter",
    "register_state_dict_post_hook",
    "register_state_dict_pre_hook",
    "requires_grad_",
    "set_extra_state",
    "set_submodule",
    "share_memory",
    "state_dict",
    "to",
    "to_empty",
    "train",
    "training",
    "type",
    "xpu",
    "zero_grad",
];

/// Class names of the generated building blocks and the stem.
const BUILTIN_CLASSES: &[&str] = &["Dense", "Conv", "DepthwiseConv", "Scale", "Shift", "Model"];

/// Python names of one subprogram's values: the program's names, changed only where Python
/// cannot use them (`v` before a leading underscore, `_` after a reserved word, then `_` until
/// unique).
fn python_names(names: &[&str]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    // Names that need no change are claimed first, so a changed name never takes one of them.
    let fine = |n: &str| !n.starts_with('_') && !RESERVED.contains(&n);
    for n in names {
        if fine(n) {
            taken.insert(n.to_string());
        }
    }
    for n in names {
        if fine(n) {
            out.push(n.to_string());
            continue;
        }
        let mut m = if n.starts_with('_') { format!("v{n}") } else { format!("{n}_") };
        while RESERVED.contains(&m.as_str()) || taken.contains(&m) {
            m.push('_');
        }
        taken.insert(m.clone());
        out.push(m);
    }
    out
}

/// `attention_head` -> `AttentionHead`.
fn camel(name: &str) -> String {
    let mut s = String::new();
    for part in name.split('_').filter(|p| !p.is_empty()) {
        let mut cs = part.chars();
        if let Some(c) = cs.next() {
            s.extend(c.to_uppercase());
            s.push_str(cs.as_str());
        }
    }
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) { format!("Sub{s}") } else { s }
}

/// A float as a Python literal.
fn py_float(v: f64) -> String {
    if v.is_nan() {
        "float('nan')".into()
    } else if v.is_infinite() {
        if v > 0.0 { "float('inf')".into() } else { "float('-inf')".into() }
    } else {
        format!("{v:?}")
    }
}

/// The parameter names of a model in the compiler's naming and in `model.py`'s `state_dict()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportNames {
    /// (compiler name, Python name), in the compiler's creation order.
    pub pairs: Vec<(String, String)>,
}

/// The generated PyTorch source and its parameter names.
#[derive(Debug, Clone)]
pub struct PyTorchExport {
    /// The text of `model.py`.
    pub source: String,
    pub names: ExportNames,
}

/// What `model.py`'s module docstring says about where the program came from.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// One line, e.g. "candidate 70 of campaign `demo` (birth 69)" or "transformer.prim".
    pub origin: String,
    /// More lines (fitness, budget), each written as is.
    pub details: Vec<String>,
}

struct Gen<'a> {
    p: &'a Program,
    v: &'a Validated,
    /// Class name of each instance.
    class_of: HashMap<usize, String>,
    /// Instances in the order their classes are written (main first).
    order: Vec<usize>,
}

/// Generates `model.py` for `p` at `config`.
pub fn pytorch_source(
    p: &Program,
    config: ModelConfig,
    provenance: &Provenance,
) -> Result<PyTorchExport, ValidationError> {
    let p = &p.at_size(&config);
    let v = validate(p, &config)?;
    // Class names: one per instance reached from main, in first-call order.
    let mut order = vec![v.main];
    let mut k = 0;
    while k < order.len() {
        let inst = &v.instances[order[k]];
        for c in inst.callees.iter().flatten() {
            if !order.contains(c) {
                order.push(*c);
            }
        }
        k += 1;
    }
    let mut class_of = HashMap::new();
    let mut used: HashSet<String> = BUILTIN_CLASSES.iter().map(|s| s.to_string()).collect();
    for &i in &order {
        let base = camel(&p.subprograms[v.instances[i].subprogram].name);
        let base = if used.contains(&base) { format!("{base}Block") } else { base };
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        used.insert(name.clone());
        class_of.insert(i, name);
    }
    let g = Gen { p, v: &v, class_of, order };
    let mut names = Vec::new();
    names.push(("tok".to_string(), "tok".to_string()));
    names.push(("pos".to_string(), "pos".to_string()));
    for l in 0..config.n_layers {
        g.param_names(v.main, &format!("l{l}"), &format!("l{l}"), &mut names);
    }
    for n in ["norm_g", "norm_b", "head_w", "head_b"] {
        names.push((n.to_string(), n.to_string()));
    }
    let source = g.source(provenance);
    Ok(PyTorchExport { source, names: ExportNames { pairs: names } })
}

impl Gen<'_> {
    fn py_names(&self, si: usize) -> Vec<String> {
        let sub = &self.p.subprograms[si];
        let names: Vec<&str> = (0..sub.num_values()).map(|v| sub.value_name(v)).collect();
        python_names(&names)
    }

    /// Parameter names of instance `inst` under (compiler, Python) prefixes, in the compiler's
    /// order.
    fn param_names(&self, inst: usize, rust: &str, py: &str, out: &mut Vec<(String, String)>) {
        let instance = &self.v.instances[inst];
        let sub = &self.p.subprograms[instance.subprogram];
        let py_names = self.py_names(instance.subprogram);
        for (i, ins) in sub.instructions.iter().enumerate() {
            if instance.values[sub.value_of(i)].is_none() {
                continue;
            }
            let (r, q) = (format!("{rust}.{}", ins.name), format!("{py}.{}", py_names[sub.value_of(i)]));
            match lowering(ins.op) {
                Lowering::Structural(Structural::Call(_)) => {
                    let callee = instance.callees[i].expect("validated calls have callee instances");
                    self.param_names(callee, &r, &q, out);
                }
                Lowering::Structural(Structural::Dense | Structural::Conv) => {
                    out.push((format!("{r}.w"), format!("{q}.w")));
                    out.push((format!("{r}.b"), format!("{q}.b")));
                }
                Lowering::Structural(Structural::Depthwise) => out.push((format!("{r}.w"), format!("{q}.w"))),
                Lowering::Structural(Structural::Scale | Structural::Shift) => {
                    out.push((format!("{r}.g"), format!("{q}.g")))
                }
                Lowering::Structural(
                    Structural::Constant | Structural::Mask | Structural::MatMul | Structural::TMatMul,
                )
                | Lowering::Unary { .. }
                | Lowering::Binary { .. }
                | Lowering::Reduce { .. } => {}
            }
        }
    }

    fn source(&self, provenance: &Provenance) -> String {
        let c = self.v.config;
        let cost = primer_dsl::Cost::of(self.v);
        let mut s = String::new();
        // A raw docstring: the provenance is written as is (only a closing quote triple is
        // broken up).
        let safe = |t: &str| t.replace("\"\"\"", "\"\" \"");
        let _ = writeln!(
            s,
            "r\"\"\"A decoder-only {} language model exported by primer {}.",
            if c.vocab == 256 { "byte-level".to_string() } else { format!("{}-token", c.vocab) },
            env!("CARGO_PKG_VERSION")
        );
        s.push('\n');
        let _ = writeln!(s, "Program: {}.", safe(&provenance.origin));
        for d in &provenance.details {
            let _ = writeln!(s, "{}", safe(d));
        }
        s.push_str(
            &HEADER
                .replace("@MAIN@", &self.class_of[&self.v.main])
                .replace("@PARAMS@", &cost.model_params.to_string())
                .replace("@D@", &c.d_model.to_string())
                .replace("@T@", &c.seq_len.to_string())
                .replace("@L@", &c.n_layers.to_string())
                .replace("@VOCAB@", &c.vocab.to_string())
                // Last: the program's text is written as it is.
                .replace("@PROGRAM@", &text::print(self.p)),
        );
        s.push_str(PRELUDE);
        s.push_str("\n\n# ---- the program: one class per subprogram instance ----\n");
        for &inst in &self.order {
            s.push_str("\n\n");
            self.class(inst, &mut s);
        }
        s.push_str(&STEM.replace("@MAIN@", &self.class_of[&self.v.main]).replace("@STD@", &py_float(EMBEDDING_STD)));
        s.push_str(EPILOGUE);
        s
    }

    /// One instance's class.
    fn class(&self, inst: usize, s: &mut String) {
        let instance = &self.v.instances[inst];
        let sub = &self.p.subprograms[instance.subprogram];
        let names = self.py_names(instance.subprogram);
        let n = instance.copies;
        let live: Vec<bool> = (0..sub.instructions.len()).map(|i| instance.values[sub.value_of(i)].is_some()).collect();
        let shape_text = |sh: Shape| match sh {
            Shape::Seq(c) => format!("[B, {n}, T, {c}]"),
            Shape::Square => format!("[B, {n}, T, T]"),
        };
        let inputs: Vec<String> = (0..sub.inputs.len()).map(|k| names[k].clone()).collect();
        let _ = writeln!(s, "class {}(nn.Module):", self.class_of[&inst]);
        let copies =
            if n == 1 { "1 copy".to_string() } else { format!("{n} copies side by side, each with its own weights") };
        let ins_shapes: Vec<String> = instance.inputs.iter().map(|sh| shape_text(*sh)).collect();
        let _ = writeln!(s, "    \"\"\"`def {}({})`: {copies}.", sub.name, sub.inputs.join(", "));
        s.push('\n');
        let _ = writeln!(s, "    Inputs {}; output {}.", ins_shapes.join(", "), shape_text(instance.output()));
        let dead = live.iter().filter(|l| !**l).count();
        if dead > 0 {
            let _ = writeln!(s, "    {dead} dead instruction(s) of the program (not read by the output) are left out.");
        }
        let _ = writeln!(s, "    \"\"\"");
        s.push('\n');
        let _ = writeln!(s, "    def __init__(self):");
        let _ = writeln!(s, "        super().__init__()");
        s.push_str(&self.init(inst, &live));
        s.push('\n');
        let (body, uses_t) = self.forward(inst, &live);
        let out = &names[sub.output()];
        let _ = writeln!(s, "    def forward(self, {}):", inputs.join(", "));
        if uses_t {
            let _ = writeln!(s, "        T = {}.shape[2]", inputs[0]);
        }
        s.push_str(&body);
        if n > 1 {
            let _ = writeln!(s, "        return expand_copies({out}, {n})");
        } else {
            let _ = writeln!(s, "        return {out}");
        }
    }

    /// An instruction as the program's text says it, for the comments of `model.py`.
    fn ins_text(&self, inst: usize, i: usize) -> String {
        let sub = &self.p.subprograms[self.v.instances[inst].subprogram];
        format!("{} = {}", sub.instructions[i].name, text::instruction_text(self.p, sub, i))
    }

    /// The body of an instance's `__init__`: one module per live instruction with weights or a call.
    fn init(&self, inst: usize, live: &[bool]) -> String {
        let instance = &self.v.instances[inst];
        let sub = &self.p.subprograms[instance.subprogram];
        let names = self.py_names(instance.subprogram);
        let (n, t) = (instance.copies, self.v.config.seq_len);
        let mut init = String::new();
        for (i, ins) in sub.instructions.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let name = &names[sub.value_of(i)];
            let c_in = instance.values[ins.in1].map_or(0, |sh| sh.width_or(t));
            let c_out = instance.values[sub.value_of(i)].expect("live values have shapes").width_or(t);
            let width = || ins.op.kernel_width().expect("convolutions have a width");
            let module = match lowering(ins.op) {
                Lowering::Structural(Structural::Call(_)) => {
                    let callee = instance.callees[i].expect("validated calls have callee instances");
                    Some(format!("{}()", self.class_of[&callee]))
                }
                Lowering::Structural(Structural::Dense) => Some(format!("Dense({n}, {c_in}, {c_out})")),
                Lowering::Structural(Structural::Conv) => Some(format!("Conv({n}, {c_in}, {c_out}, {})", width())),
                Lowering::Structural(Structural::Depthwise) => {
                    Some(format!("DepthwiseConv({n}, {c_out}, {})", width()))
                }
                Lowering::Structural(Structural::Scale) => Some(format!("Scale({n}, {c_out})")),
                Lowering::Structural(Structural::Shift) => Some(format!("Shift({n}, {c_out})")),
                Lowering::Structural(
                    Structural::Constant | Structural::Mask | Structural::MatMul | Structural::TMatMul,
                )
                | Lowering::Unary { .. }
                | Lowering::Binary { .. }
                | Lowering::Reduce { .. } => None,
            };
            if let Some(m) = module {
                let _ = writeln!(init, "        self.{name} = {m}  # {}", self.ins_text(inst, i));
            }
        }
        init
    }

    /// The body of an instance's `forward`: one line per live instruction (fused patterns as one
    /// call, their instructions in a comment), and whether it reads `T`.
    fn forward(&self, inst: usize, live: &[bool]) -> (String, bool) {
        let instance = &self.v.instances[inst];
        let si = instance.subprogram;
        let sub = &self.p.subprograms[si];
        let names = self.py_names(si);
        let found = patterns::find(self.p, si, &instance.values, live);
        let mut fused_out: HashMap<usize, &Pattern> = HashMap::new();
        let mut gone: HashSet<usize> = HashSet::new();
        for pat in &found {
            fused_out.insert(pat.out(), pat);
            gone.extend(pat.gone().iter().copied());
        }
        let mut body = String::new();
        let mut uses_t = false;
        for i in 0..sub.instructions.len() {
            if !live[i] || gone.contains(&i) {
                continue;
            }
            let name = &names[sub.value_of(i)];
            let var = |v: usize| names[v].clone();
            if let Some(pat) = fused_out.get(&i) {
                let mut lines: Vec<usize> = pat.gone().to_vec();
                lines.push(i);
                lines.sort_unstable();
                let (what, expr) = match pat {
                    Pattern::Attention { q, k, v, scale, .. } => (
                        "Causal softmax attention, run as one fused kernel; in primitives:",
                        format!("attention({}, {}, {}, scale={})", var(*q), var(*k), var(*v), py_float(*scale)),
                    ),
                    Pattern::LayerNorm { x, eps, gain, .. } => (
                        "Layer norm over channels, run as one fused kernel (then SCALE, SHIFT); in primitives:",
                        format!(
                            "self.{}(self.{}(F.layer_norm({x}, {x}.shape[-1:], eps={})))",
                            name,
                            names[sub.value_of(*gain)],
                            py_float(*eps),
                            x = var(*x)
                        ),
                    ),
                };
                let _ = writeln!(body, "        # {what}");
                for l in lines {
                    let _ = writeln!(body, "        #   {}", self.ins_text(inst, l));
                }
                let _ = writeln!(body, "        {name} = {expr}");
                continue;
            }
            let expr = self.expression(inst, i, &names, &mut uses_t);
            let _ = writeln!(body, "        {name} = {expr}  # {}", self.ins_text(inst, i));
        }
        (body, uses_t)
    }

    /// The Python expression of instruction `i` of an instance (not fused; `names`: its values'
    /// Python names); sets `uses_t` when it reads `T`.
    fn expression(&self, inst: usize, i: usize, names: &[String], uses_t: &mut bool) -> String {
        let p = self.p;
        let instance = &self.v.instances[inst];
        let sub = &p.subprograms[instance.subprogram];
        let n = instance.copies;
        let ins = &sub.instructions[i];
        let name = &names[sub.value_of(i)];
        let shape = |v: usize| instance.values[v].expect("live values have shapes");
        let var = |v: usize| names[v].clone();
        let a = ins.in1;
        let b = ins.in2;
        // Both inputs of a binary op at one width (the wider wins; a square's width is T).
        // Width 1 broadcasts in elementwise ops (`exact` false); a product needs it spelled out.
        let pair = |a: usize, b: usize, exact: bool, uses_t: &mut bool| -> (String, String) {
            match (shape(a), shape(b)) {
                (Shape::Seq(x), Shape::Seq(y)) if x != y && (exact || (x != 1 && y != 1)) => {
                    if x < y {
                        (format!("cyclic({}, {y})", var(a)), var(b))
                    } else {
                        (var(a), format!("cyclic({}, {x})", var(b)))
                    }
                }
                (Shape::Square, Shape::Seq(c)) if c != 1 => {
                    *uses_t = true;
                    (var(a), format!("cyclic({}, T)", var(b)))
                }
                (Shape::Seq(c), Shape::Square) if c != 1 => {
                    *uses_t = true;
                    (format!("cyclic({}, T)", var(a)), var(b))
                }
                _ => (var(a), var(b)),
            }
        };
        let constant = p.constant(ins).map(py_float).unwrap_or_else(|| "0.0".into());
        match lowering(ins.op) {
            Lowering::Unary { py, .. } => lower::python(py, &var(a), "", &constant),
            Lowering::Binary { py, .. } => {
                let (x, y) = pair(a, b, false, uses_t);
                lower::python(py, &x, &y, "")
            }
            Lowering::Reduce { py, .. } => lower::python(py, &var(a), "", ""),
            Lowering::Structural(Structural::Constant) => {
                format!("torch.full_like({}[..., :1], {constant})", names[0])
            }
            Lowering::Structural(Structural::Mask) => format!("causal_mask({})", var(a)),
            Lowering::Structural(Structural::MatMul) => {
                if shape(a).is_square() {
                    format!("{}.tril() @ {}", var(a), var(b))
                } else {
                    format!("{}.tril() @ {}", var(b), var(a))
                }
            }
            Lowering::Structural(Structural::TMatMul) => {
                let (x, y) = pair(a, b, true, uses_t);
                format!("({x} @ {y}.transpose(-1, -2)).tril()")
            }
            Lowering::Structural(
                Structural::Dense | Structural::Conv | Structural::Depthwise | Structural::Scale | Structural::Shift,
            ) => format!("self.{name}({})", var(a)),
            Lowering::Structural(Structural::Call(c)) => {
                let k = ins.branching;
                let spread = |v: usize| if k == 1 || n == 1 { var(v) } else { format!("spread({}, {k})", var(v)) };
                let mut args = vec![spread(a)];
                if p.subprograms[c].inputs.len() == 2 && p.reads(ins, Field::In2) {
                    args.push(spread(b));
                }
                let call = format!("self.{name}({})", args.join(", "));
                if k == 1 { call } else { format!("join_copies({call}, {k})") }
            }
        }
    }
}

/// The module docstring (`@NAME@` fields filled in), imports and the model's constants.
const HEADER: &str = include_str!("header.py");

/// Building blocks and shape helpers of `model.py`.
const PRELUDE: &str = include_str!("prelude.py");

/// The stem around the layers (`@MAIN@`: the main layer's class, `@STD@`: the embeddings' init).
const STEM: &str = include_str!("stem.py");

/// The safetensors reader and the self-check of `model.py`.
const EPILOGUE: &str = include_str!("epilogue.py");

/// What can go wrong making weights, check data or a trace.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error("safetensors: {0}")]
    SafeTensors(String),
    #[error("the weights do not fit the model: {0}")]
    Mismatch(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_names_keep_good_names_and_fix_the_rest() {
        let got = python_names(&["x", "forward", "lambda", "_hidden", "forward_", "q", "T", "__init__"]);
        assert_eq!(got, vec!["x", "forward__", "lambda_", "v_hidden", "forward_", "q", "T_", "v__init__"]);
        let unique: HashSet<&String> = got.iter().collect();
        assert_eq!(unique.len(), got.len());
    }

    #[test]
    fn class_names_are_camel_case() {
        assert_eq!(camel("attention_head"), "AttentionHead");
        assert_eq!(camel("main"), "Main");
        assert_eq!(camel("_2x"), "Sub2x");
    }

    #[test]
    fn floats_are_python_literals() {
        assert_eq!(py_float(1e-5), "1e-5");
        assert_eq!(py_float(0.25), "0.25");
        assert_eq!(py_float(3.0), "3.0");
        assert_eq!(py_float(f64::NEG_INFINITY), "float('-inf')");
    }
}
