//! Export of a compiled program into people's own code: a self-contained, readable PyTorch
//! `model.py` generated from the program, its weights as safetensors under the names of that
//! module's `state_dict()`, a check file (tokens and this model's logits) that `model.py`
//! verifies itself against, and a TorchScript module traced from [`Model::forward`].
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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors};
use tch::{Kind, Tensor};

use primer_dsl::validate::{Validated, validate};
use primer_dsl::{Field, ModelConfig, Op, Program, Shape, ValidationError, text};

use crate::compile::{EMBEDDING_STD, Model};
use crate::patterns::{self, Pattern};

/// Python keywords, names the generated `forward`s use, and `nn.Module`'s attributes (torch
/// 2.13): a program name among them gets a trailing underscore in `model.py`.
const RESERVED: &[&str] = &[
    // keywords (soft keywords are fine as names)
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
    "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
    "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    // what the generated code refers to inside a forward
    "self", "torch", "F", "nn", "math", "T", "cyclic", "causal_mask", "spread", "join_copies", "expand_copies",
    "attention",
    // nn.Module
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children", "compile", "cpu",
    "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "half", "ipu", "load_state_dict", "modules", "mtia", "named_buffers",
    "named_children", "named_modules", "named_parameters", "parameters", "register_backward_hook",
    "register_buffer", "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook",
    "register_module", "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook",
    "requires_grad_", "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "training", "type", "xpu", "zero_grad",
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
pub fn pytorch_source(p: &Program, config: ModelConfig, provenance: &Provenance) -> Result<PyTorchExport, ValidationError> {
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
            match ins.op {
                Op::Call(_) => {
                    let callee = instance.callees[i].expect("validated calls have callee instances");
                    self.param_names(callee, &r, &q, out);
                }
                op => match op.rule() {
                    primer_dsl::op::ShapeRule::Project => {
                        out.push((format!("{r}.w"), format!("{q}.w")));
                        out.push((format!("{r}.b"), format!("{q}.b")));
                    }
                    primer_dsl::op::ShapeRule::Depthwise => out.push((format!("{r}.w"), format!("{q}.w"))),
                    primer_dsl::op::ShapeRule::PerChannel => out.push((format!("{r}.g"), format!("{q}.g"))),
                    _ => {}
                },
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
        let _ = writeln!(s, "r\"\"\"A decoder-only byte-level language model exported by primer {}.", env!("CARGO_PKG_VERSION"));
        s.push('\n');
        let _ = writeln!(s, "Program: {}.", safe(&provenance.origin));
        for d in &provenance.details {
            let _ = writeln!(s, "{}", safe(d));
        }
        let _ = write!(
            s,
            r#"
The evolved decoder layer is the program's `main` (class `{main}` below); around it sits the
fixed stem: a byte embedding plus learned positions, N_LAYERS copies of the layer with their
own weights, a final layer norm and an output projection. {params} parameters.

Inside the layer every value is a tensor [batch, copies, time, channels], or
[batch, copies, time, time] for a "square" of attention-like scores. `CALL[k]` runs k copies of
a subprogram side by side, each with its own weights, on the copies axis, and concatenates
their outputs on channels (a multi-head attention is `CALL[8] attention_head`). Each line of a
`forward` is one instruction of the program, written in the comment beside it as primer prints
it. Causal softmax attention and layer norm run as PyTorch's fused kernels, with the
primitives they stand for in the comments.

Use:
    from model import Model
    model = Model.from_safetensors("weights.safetensors")
    logits = model(tokens)  # tokens: int64 [batch, time], bytes 0..255, time <= SEQ_LEN

    python model.py [weights.safetensors] [check.safetensors]
        loads the weights and checks the logits against the ones primer computed (check file).

Only torch is needed (the safetensors reader is below).
"""

import json
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

D_MODEL = {d}
SEQ_LEN = {t}
N_LAYERS = {l}
VOCAB = {vocab}

# The program, as primer prints it.
PROGRAM = r"""
{program}"""

"#,
            main = self.class_of[&self.v.main],
            params = cost.model_params,
            d = c.d_model,
            t = c.seq_len,
            l = c.n_layers,
            vocab = c.vocab,
            program = text::print(self.p),
        );
        s.push_str(PRELUDE);
        s.push_str("\n\n# ---- the program: one class per subprogram instance ----\n");
        for &inst in &self.order {
            s.push_str("\n\n");
            self.class(inst, &mut s);
        }
        let _ = write!(
            s,
            r#"

# ---- the stem around the layers ----


class Model(nn.Module):
    """Byte embedding + learned positions, N_LAYERS x `{main}`, final layer norm, projection."""

    def __init__(self):
        super().__init__()
        self.tok = nn.Parameter(torch.randn(VOCAB, D_MODEL) * {std})
        self.pos = nn.Parameter(torch.randn(SEQ_LEN, D_MODEL) * {std})
        for i in range(N_LAYERS):
            self.add_module(f"l{{i}}", {main}())
        self.norm_g = nn.Parameter(torch.ones(D_MODEL))
        self.norm_b = nn.Parameter(torch.zeros(D_MODEL))
        self.head_w = nn.Parameter(torch.randn(D_MODEL, VOCAB) / math.sqrt(D_MODEL))
        self.head_b = nn.Parameter(torch.zeros(VOCAB))

    def forward(self, tokens):
        """Logits [batch, time, VOCAB] for tokens [batch, time] (int64, time <= SEQ_LEN)."""
        T = tokens.shape[1]
        h = (self.tok[tokens] + self.pos[:T]).unsqueeze(1)  # [batch, 1 copy, time, D_MODEL]
        for i in range(N_LAYERS):
            h = getattr(self, f"l{{i}}")(h)
        h = F.layer_norm(h.squeeze(1), (D_MODEL,), self.norm_g, self.norm_b, 1e-5)
        return h @ self.head_w + self.head_b

    def loss(self, window):
        """Mean next-byte cross-entropy (nats) of windows [batch, time + 1]."""
        logits = self(window[:, :-1])
        return F.cross_entropy(logits.reshape(-1, VOCAB), window[:, 1:].reshape(-1))

    @classmethod
    def from_safetensors(cls, path):
        """A model with the weights of a .safetensors file (in their precision)."""
        weights = load_safetensors(path)
        model = cls().to(next(iter(weights.values())).dtype)
        model.load_state_dict(weights, strict=True)
        return model
"#,
            main = self.class_of[&self.v.main],
            std = py_float(EMBEDDING_STD),
        );
        s.push_str(EPILOGUE);
        s
    }

    /// One instance's class.
    fn class(&self, inst: usize, s: &mut String) {
        let p = self.p;
        let instance = &self.v.instances[inst];
        let si = instance.subprogram;
        let sub = &p.subprograms[si];
        let names = self.py_names(si);
        let n = instance.copies;
        let t = self.v.config.seq_len;
        let shape = |v: usize| instance.values[v].expect("live values have shapes");
        let live: Vec<bool> = (0..sub.instructions.len()).map(|i| instance.values[sub.value_of(i)].is_some()).collect();
        let found = patterns::find(p, si, &instance.values, &live);
        let mut fused_out: HashMap<usize, &Pattern> = HashMap::new();
        let mut gone: HashSet<usize> = HashSet::new();
        for pat in &found {
            fused_out.insert(pat.out(), pat);
            gone.extend(pat.gone().iter().copied());
        }

        let ins_text = |i: usize| format!("{} = {}", sub.instructions[i].name, text::instruction_text(p, sub, i));
        let shape_text = |sh: Shape| match sh {
            Shape::Seq(c) => format!("[B, {n}, T, {c}]"),
            Shape::Square => format!("[B, {n}, T, T]"),
        };
        let inputs: Vec<String> = (0..sub.inputs.len()).map(|k| names[k].clone()).collect();
        let _ = writeln!(s, "class {}(nn.Module):", self.class_of[&inst]);
        let copies = if n == 1 { "1 copy".to_string() } else { format!("{n} copies side by side, each with its own weights") };
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

        // __init__: one module per instruction with weights or a call.
        let mut init = String::new();
        for (i, ins) in sub.instructions.iter().enumerate() {
            if !live[i] {
                continue;
            }
            let name = &names[sub.value_of(i)];
            let c_in = instance.values[ins.in1].map_or(0, |sh| sh.width_or(t));
            let c_out = shape(sub.value_of(i)).width_or(t);
            let module = match ins.op {
                Op::Call(_) => {
                    let callee = instance.callees[i].expect("validated calls have callee instances");
                    Some(format!("{}()", self.class_of[&callee]))
                }
                Op::Dense => Some(format!("Dense({n}, {c_in}, {c_out})")),
                Op::Conv3 | Op::Conv7 | Op::Conv15 | Op::Conv31 => {
                    Some(format!("Conv({n}, {c_in}, {c_out}, {})", ins.op.kernel_width().expect("conv")))
                }
                Op::DConv3 | Op::DConv7 | Op::DConv15 | Op::DConv31 => {
                    Some(format!("DepthwiseConv({n}, {c_out}, {})", ins.op.kernel_width().expect("dconv")))
                }
                Op::Scale => Some(format!("Scale({n}, {c_out})")),
                Op::Shift => Some(format!("Shift({n}, {c_out})")),
                _ => None,
            };
            if let Some(m) = module {
                let _ = writeln!(init, "        self.{name} = {m}  # {}", ins_text(i));
            }
        }
        let _ = writeln!(s, "    def __init__(self):");
        let _ = writeln!(s, "        super().__init__()");
        s.push_str(&init);
        s.push('\n');

        // forward: one line per live instruction.
        let mut body = String::new();
        let mut uses_t = false;
        for (i, ins) in sub.instructions.iter().enumerate() {
            if !live[i] || gone.contains(&i) {
                continue;
            }
            let me = sub.value_of(i);
            let name = &names[me];
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
                    let _ = writeln!(body, "        #   {}", ins_text(l));
                }
                let _ = writeln!(body, "        {name} = {expr}");
                continue;
            }
            let a = ins.in1;
            let b = ins.in2;
            // Both inputs of a binary op at one width (the wider wins; a square's width is T).
            // Width 1 broadcasts in elementwise ops (`exact` false); a product needs it spelled out.
            let pair = |a: usize, b: usize, exact: bool, uses_t: &mut bool| -> (String, String) {
                match (shape(a), shape(b)) {
                    (Shape::Seq(x), Shape::Seq(y)) if x != y && (exact || (x != 1 && y != 1)) => {
                        if x < y { (format!("cyclic({}, {y})", var(a)), var(b)) } else { (var(a), format!("cyclic({}, {x})", var(b))) }
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
            let expr = match ins.op {
                Op::Add | Op::Difference | Op::Multiply | Op::Divide | Op::Max | Op::Min => {
                    let (x, y) = pair(a, b, false, &mut uses_t);
                    match ins.op {
                        Op::Add => format!("{x} + {y}"),
                        Op::Difference => format!("{x} - {y}"),
                        Op::Multiply => format!("{x} * {y}"),
                        Op::Divide => format!("{x} / {y}"),
                        Op::Max => format!("torch.maximum({x}, {y})"),
                        _ => format!("torch.minimum({x}, {y})"),
                    }
                }
                Op::Constant => format!("torch.full_like({}[..., :1], {constant})", names[0]),
                Op::Abs => format!("{}.abs()", var(a)),
                Op::AbsRoot => format!("{}.abs().sqrt()", var(a)),
                Op::Square => format!("{}.square()", var(a)),
                Op::Exp => format!("{}.exp()", var(a)),
                Op::Log => format!("{}.abs().log()", var(a)),
                Op::Recip => format!("{}.reciprocal()", var(a)),
                Op::Sign => format!("{}.sign()", var(a)),
                Op::Sin => format!("{}.sin()", var(a)),
                Op::Cos => format!("{}.cos()", var(a)),
                Op::Tanh => format!("{}.tanh()", var(a)),
                Op::Sigmoid => format!("{}.sigmoid()", var(a)),
                Op::CMul => format!("{} * {constant}", var(a)),
                Op::Mask => format!("causal_mask({})", var(a)),
                Op::CumSum => format!("{}.cumsum(2)", var(a)),
                Op::CumProd => format!("{}.cumprod(2)", var(a)),
                Op::RedMean => format!("{}.mean(-1, keepdim=True)", var(a)),
                Op::RedSum => format!("{}.sum(-1, keepdim=True)", var(a)),
                Op::RedMax => format!("{}.amax(-1, keepdim=True)", var(a)),
                Op::RedMin => format!("{}.amin(-1, keepdim=True)", var(a)),
                Op::RedProd => format!("{}.prod(-1, keepdim=True)", var(a)),
                Op::MatMul => {
                    if shape(a).is_square() {
                        format!("{}.tril() @ {}", var(a), var(b))
                    } else {
                        format!("{}.tril() @ {}", var(b), var(a))
                    }
                }
                Op::TMatMul => {
                    let (x, y) = pair(a, b, true, &mut uses_t);
                    format!("({x} @ {y}.transpose(-1, -2)).tril()")
                }
                Op::Dense
                | Op::Conv3
                | Op::Conv7
                | Op::Conv15
                | Op::Conv31
                | Op::DConv3
                | Op::DConv7
                | Op::DConv15
                | Op::DConv31
                | Op::Scale
                | Op::Shift => format!("self.{name}({})", var(a)),
                Op::Call(c) => {
                    let k = ins.branching;
                    let spread = |v: usize| if k == 1 || n == 1 { var(v) } else { format!("spread({}, {k})", var(v)) };
                    let mut args = vec![spread(a)];
                    if p.subprograms[c].inputs.len() == 2 && p.reads(ins, Field::In2) {
                        args.push(spread(b));
                    }
                    let call = format!("self.{name}({})", args.join(", "));
                    if k == 1 { call } else { format!("join_copies({call}, {k})") }
                }
            };
            let _ = writeln!(body, "        {name} = {expr}  # {}", ins_text(i));
        }
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
}

/// Building blocks and shape helpers of `model.py`.
const PRELUDE: &str = r#"
# ---- building blocks: the primitives with weights, and the shape rules ----
#
# Weights carry the copies axis first: a block inside `CALL[8]` holds 8 sets of weights in one
# tensor and runs them at once. An input whose copies are all still equal may carry 1 instead
# of the number of copies (it broadcasts).


class Dense(nn.Module):
    """DENSE: a linear map with bias, per copy. w [copies, c_in, c_out], b [copies, c_out]."""

    def __init__(self, copies, c_in, c_out):
        super().__init__()
        self.w = nn.Parameter(torch.randn(copies, c_in, c_out) / math.sqrt(c_in))
        self.b = nn.Parameter(torch.zeros(copies, c_out))

    def forward(self, x):
        return x @ self.w + self.b[None, :, None, :]


class Conv(nn.Module):
    """CONV3/7/15/31: a causal convolution over time with bias, per copy (time t sees t-width+1..t).
    w [copies * c_out, c_in, width], b [copies, c_out]."""

    def __init__(self, copies, c_in, c_out, width):
        super().__init__()
        self.width = width
        self.w = nn.Parameter(torch.randn(copies * c_out, c_in, width) / math.sqrt(c_in * width))
        self.b = nn.Parameter(torch.zeros(copies, c_out))

    def forward(self, x):
        n = self.b.shape[0]
        x = expand_copies(x, n)
        B, _, T, C = x.shape
        x = F.pad(x.permute(0, 1, 3, 2).reshape(B, n * C, T), (self.width - 1, 0))
        y = F.conv1d(x, self.w, self.b.reshape(-1), groups=n)
        return y.reshape(B, n, -1, T).permute(0, 1, 3, 2)


class DepthwiseConv(nn.Module):
    """DCONV3/7/15/31: a causal convolution over time of each channel on its own, no bias (the
    paper's multi-dconv-head attention puts one after Q, K and V). w [copies * channels, 1, width],
    initialised 0.5 on the current position and 0.5/width on each earlier one."""

    def __init__(self, copies, channels, width):
        super().__init__()
        self.copies, self.width = copies, width
        init = torch.full((width,), 0.5 / width)
        init[-1] = 0.5
        self.w = nn.Parameter(init.repeat(copies * channels, 1, 1))

    def forward(self, x):
        x = expand_copies(x, self.w.shape[0] // x.shape[3])
        B, n, T, C = x.shape
        x = F.pad(x.permute(0, 1, 3, 2).reshape(B, n * C, T), (self.width - 1, 0))
        y = F.conv1d(x, self.w, groups=n * C)
        return y.reshape(B, n, C, T).permute(0, 1, 3, 2)


class Scale(nn.Module):
    """SCALE: times a learned per-channel gain (init 1). g [copies, channels]."""

    def __init__(self, copies, channels):
        super().__init__()
        self.g = nn.Parameter(torch.ones(copies, channels))

    def forward(self, x):
        return x * self.g[None, :, None, :]


class Shift(nn.Module):
    """SHIFT: plus a learned per-channel bias (init 0). g [copies, channels]."""

    def __init__(self, copies, channels):
        super().__init__()
        self.g = nn.Parameter(torch.zeros(copies, channels))

    def forward(self, x):
        return x + self.g[None, :, None, :]


def cyclic(x, width):
    """The last axis repeated cyclically to `width` (how a narrower input meets a wider one)."""
    c = x.shape[-1]
    if c == width:
        return x
    if c == 1:
        return x.expand(*x.shape[:-1], width)
    return x.repeat(*([1] * (x.dim() - 1)), -(-width // c))[..., :width]


def causal_mask(scores):
    """MASK: entries of a square with key s after query t set to -1e9."""
    T = scores.shape[-2]
    future = torch.ones(T, T, dtype=torch.bool, device=scores.device).triu(1)
    return scores.masked_fill(future, -1e9)


def expand_copies(x, n):
    """`x` with n copies on the copies axis (an input whose copies are still equal carries 1)."""
    if x.shape[1] == n:
        return x
    return x.expand(-1, n, -1, -1).contiguous()


def spread(x, k):
    """The input of a `CALL[k]` inside copies: each copy repeated k times."""
    if x.shape[1] == 1:
        return x
    return x.repeat_interleave(k, dim=1)


def join_copies(y, k):
    """The output of a `CALL[k]`: the k copies of each caller copy concatenated on channels."""
    B, n, T, C = y.shape
    return y.reshape(B, n // k, k, T, C).permute(0, 1, 3, 2, 4).reshape(B, n // k, T, k * C)


def attention(q, k, v, scale):
    """Causal softmax attention of queries q and keys k ([B, copies, T, c]) over values v."""
    n = max(q.shape[1], k.shape[1], v.shape[1])
    q, k, v = expand_copies(q, n), expand_copies(k, n), expand_copies(v, n)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)
"#;

/// The safetensors reader and the self-check of `model.py`.
const EPILOGUE: &str = r#"

# ---- weights ----

_DTYPES = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8}


def load_safetensors(path):
    """The tensors of a .safetensors file, by name (a plain reader: only torch is needed)."""
    with open(path, "rb") as f:
        data = f.read()
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=_DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    weights = argv[1] if len(argv) > 1 else os.path.join(here, "weights.safetensors")
    check = argv[2] if len(argv) > 2 else os.path.join(here, "check.safetensors")
    model = Model.from_safetensors(weights).eval()
    print(f"{sum(p.numel() for p in model.parameters())} parameters loaded from {weights}")
    if not os.path.exists(check):
        print(f"no check file {check}: nothing to compare")
        return 0
    want = load_safetensors(check)
    with torch.no_grad():
        got = model(want["tokens"])
    diff = (got - want["logits"]).abs().max().item()
    ok = diff <= 1e-4
    print(f"logits of {tuple(want['tokens'].shape)} tokens: max |difference| from primer's = {diff:.3g} "
          f"({'ok' if ok else 'MISMATCH'}, tolerance 1e-4)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
"#;

// ---------------------------------------------------------------------------------------------
// weights

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

fn dtype(kind: Kind) -> Result<Dtype, ExportError> {
    Ok(match kind {
        Kind::Float => Dtype::F32,
        Kind::Double => Dtype::F64,
        Kind::Int64 => Dtype::I64,
        Kind::Int => Dtype::I32,
        Kind::Uint8 => Dtype::U8,
        other => return Err(ExportError::SafeTensors(format!("no safetensors dtype for {other:?}"))),
    })
}

/// Named tensors as safetensors bytes, with string metadata in the header. The same tensors
/// and metadata always give the same bytes (the header's keys are sorted), unlike the
/// `safetensors` crate's writer, whose metadata order follows a hash map.
pub fn safetensors_bytes(tensors: &[(String, Tensor)], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, ExportError> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata).expect("strings serialize"));
    }
    let mut sorted: Vec<&(String, Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut data = Vec::new();
    for (name, t) in sorted {
        if name == "__metadata__" || header.contains_key(name) {
            return Err(ExportError::SafeTensors(format!("tensor name `{name}` is reserved or repeated")));
        }
        let t = t.f_to_device(tch::Device::Cpu)?.f_contiguous()?;
        let numel = t.numel();
        let start = data.len();
        data.resize(start + numel * t.kind().elt_size_in_bytes(), 0);
        t.f_copy_data_u8(&mut data[start..], numel)?;
        let dtype = format!("{:?}", dtype(t.kind())?);
        header.insert(
            name.clone(),
            serde_json::json!({ "dtype": dtype, "shape": t.size(), "data_offsets": [start, data.len()] }),
        );
    }
    let mut head = serde_json::to_string(&header).expect("json serializes").into_bytes();
    // The data starts 8-byte aligned: the header is padded with spaces.
    while !(8 + head.len()).is_multiple_of(8) {
        head.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + head.len() + data.len());
    out.extend((head.len() as u64).to_le_bytes());
    out.extend(head);
    out.extend(data);
    Ok(out)
}

/// Named tensors (CPU) from safetensors bytes.
pub fn read_safetensors(bytes: &[u8]) -> Result<Vec<(String, Tensor)>, ExportError> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| ExportError::SafeTensors(format!("{e:?}")))?;
    let mut out = Vec::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            Dtype::F32 => Kind::Float,
            Dtype::F64 => Kind::Double,
            Dtype::I64 => Kind::Int64,
            Dtype::I32 => Kind::Int,
            Dtype::U8 => Kind::Uint8,
            other => return Err(ExportError::SafeTensors(format!("`{name}`: unsupported dtype {other:?}"))),
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        out.push((name, Tensor::f_from_data_size(view.data(), &shape, kind)?));
    }
    Ok(out)
}

/// The model's weights under the compiler's names, as safetensors bytes (what the store keeps).
pub fn model_weights(model: &Model, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, ExportError> {
    let mut params: Vec<(String, Tensor)> = model.parameters().into_iter().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    safetensors_bytes(&params, metadata)
}

/// Loads weights (compiler names, e.g. from [`model_weights`]) into `model`: every parameter
/// must be present with its shape, and nothing else.
pub fn load_model_weights(model: &Model, bytes: &[u8]) -> Result<(), ExportError> {
    let loaded: HashMap<String, Tensor> = read_safetensors(bytes)?.into_iter().collect();
    let params = model.parameters();
    if let Some(extra) = loaded.keys().find(|k| !params.contains_key(*k)) {
        return Err(ExportError::Mismatch(format!("`{extra}` is not a parameter of this model")));
    }
    tch::no_grad(|| {
        for (name, mut p) in params {
            let t = loaded.get(&name).ok_or_else(|| ExportError::Mismatch(format!("`{name}` is missing")))?;
            if t.size() != p.size() {
                return Err(ExportError::Mismatch(format!("`{name}` has shape {:?}, the model's is {:?}", t.size(), p.size())));
            }
            p.f_copy_(&t.f_to_device(p.device())?)?;
        }
        Ok(())
    })
}

/// The model's weights under `model.py`'s names, as safetensors bytes.
pub fn python_weights(model: &Model, names: &ExportNames, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, ExportError> {
    let params = model.parameters();
    if params.len() != names.pairs.len() {
        return Err(ExportError::Mismatch(format!("the model has {} parameters, the export names {}", params.len(), names.pairs.len())));
    }
    let mut out = Vec::new();
    for (rust, py) in &names.pairs {
        let t = params.get(rust).ok_or_else(|| ExportError::Mismatch(format!("the model has no parameter `{rust}`")))?;
        out.push((py.clone(), t.f_detach()?));
    }
    safetensors_bytes(&out, metadata)
}

/// Check data for `model.py`: `tokens` [B, T] and the model's `logits` [B, T, vocab] for them.
pub fn check_bytes(model: &Model, tokens: &Tensor) -> Result<Vec<u8>, ExportError> {
    let logits = tch::no_grad(|| model.forward(tokens))?;
    let meta = BTreeMap::from([("what".to_string(), "tokens and primer's logits for them".to_string())]);
    safetensors_bytes(&[("tokens".into(), tokens.shallow_clone()), ("logits".into(), logits)], &meta)
}

/// Traces [`Model::forward`] on `example` tokens into a TorchScript module saved at `path`
/// (`torch.jit.load` reads it). The weights are constants of the trace; any batch size works,
/// the sequence length is the example's.
pub fn trace(model: &Model, example: &Tensor, path: &Path) -> Result<(), ExportError> {
    // The tracer keeps weights as constants, which it refuses while they require gradients.
    let params: Vec<Tensor> = model.parameters().into_values().collect();
    let grads: Vec<bool> = params.iter().map(Tensor::requires_grad).collect();
    for p in &params {
        let _ = p.f_set_requires_grad(false)?;
    }
    let traced = trace_frozen(model, example, path);
    for (p, g) in params.iter().zip(grads) {
        let _ = p.f_set_requires_grad(g)?;
    }
    traced
}

fn trace_frozen(model: &Model, example: &Tensor, path: &Path) -> Result<(), ExportError> {
    let mut failure = None;
    let module = tch::no_grad(|| {
        let mut closure = |inputs: &[Tensor]| match model.forward(&inputs[0]) {
            Ok(y) => vec![y],
            Err(e) => {
                failure = Some(e);
                vec![inputs[0].shallow_clone()]
            }
        };
        tch::CModule::create_by_tracing("PrimerModel", "forward", &[example.shallow_clone()], &mut closure)
    })?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    module.save(path)?;
    Ok(())
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
