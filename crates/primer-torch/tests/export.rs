//! The PyTorch export against Python's torch: for the three reference programs, a program with
//! each of the 40 primitives live, random mutants and a program whose names Python cannot use
//! as they are, the generated `model.py` with the exported weights gives the compiled model's
//! logits (within a bound derived from model.py's own rounding error, see
//! check_export.py), its state dict has exactly the safetensors keys, its safetensors reader agrees
//! with the `safetensors` package, and the traced TorchScript module agrees too, at a batch size
//! it was not traced with.
//!
//! Needs a Python with torch and safetensors: `.venv/bin/python` after `cargo xtask setup
//! --python` (which `cargo xtask test` runs), or `$PRIMER_PYTHON`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use primer_dsl::analysis::canonical_hash;
use primer_dsl::{ModelConfig, Op, Program, SearchSpace, text};
use primer_evolve::Mutator;
use primer_evolve::evolution::rng_for;
use primer_torch::compile::Model;
mod common;
use common::{program, root, tokens, with_op};
use primer_torch::export::{
    Provenance, check_bytes, load_model_weights, model_weights, python_weights, pytorch_source, trace,
};
use tch::{Device, Tensor};

/// The Python that has torch: `$PRIMER_PYTHON`, else the workspace's `.venv`.
pub fn python() -> PathBuf {
    std::env::var_os("PRIMER_PYTHON").map(PathBuf::from).unwrap_or_else(|| root().join(".venv/bin/python"))
}

/// Adds seeded noise to every parameter, so that weights under a wrong name would show.
fn perturb(m: &Model, seed: u64) {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut params: Vec<(String, Tensor)> = m.parameters().into_iter().collect();
    params.sort_by(|a, b| a.0.cmp(&b.0));
    tch::no_grad(|| {
        for (_, mut p) in params {
            let noise: Vec<f32> = (0..p.numel()).map(|_| rng.random_range(-0.1f32..0.1)).collect();
            let _ = p.g_add_(&Tensor::from_slice(&noise).view(p.size().as_slice()));
        }
    });
}

/// Writes model.py, weights.safetensors, check.safetensors and model.pt for `p` into `dir`.
fn export(p: &Program, config: ModelConfig, seed: u64, double: bool, dir: &Path) -> String {
    std::fs::create_dir_all(dir).unwrap();
    let mut m = Model::new(p, config, Device::Cpu, seed).unwrap();
    if double {
        m.vs.double();
    }
    perturb(&m, seed);
    let ex =
        pytorch_source(p, config, &Provenance { origin: format!("test program {seed}"), details: vec![] }).unwrap();
    std::fs::write(dir.join("model.py"), &ex.source).unwrap();
    std::fs::write(dir.join("weights.safetensors"), python_weights(&m, &ex.names, &BTreeMap::new()).unwrap()).unwrap();
    let t = config.seq_len as i64;
    std::fs::write(dir.join("check.safetensors"), check_bytes(&m, &tokens(2, t, seed)).unwrap()).unwrap();
    trace(&m, &tokens(1, t, seed + 1), &dir.join("model.pt")).unwrap();
    ex.source
}

/// Runs check_export.py on `dirs`: one JSON object per dir.
pub fn python_check(dirs: &[PathBuf]) -> Vec<serde_json::Value> {
    let py = python();
    let probe = Command::new(&py).args(["-c", "import torch, safetensors"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{} cannot import torch and safetensors: run `cargo xtask setup --python` (or set PRIMER_PYTHON): {:?}",
        py.display(),
        probe.map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/check_export.py");
    let out = Command::new(&py).arg(script).args(dirs).output().unwrap();
    assert!(out.status.success(), "check_export.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), dirs.len(), "one result per dir: {}", String::from_utf8_lossy(&out.stderr));
    lines
}

/// The Transformer with names Python cannot take as they are.
fn awkward_names() -> Program {
    let mut p = program("transformer.prim");
    let rename = |p: &mut Program, sub: &str, from: &str, to: &str| {
        let s = p.subprograms.iter_mut().find(|s| s.name == sub).unwrap();
        if let Some(i) = s.inputs.iter_mut().find(|n| n.as_str() == from) {
            *i = to.into();
        } else {
            s.instructions.iter_mut().find(|i| i.name == from).unwrap().name = to.into();
        }
    };
    rename(&mut p, "main", "attn", "forward");
    rename(&mut p, "main", "heads", "training");
    rename(&mut p, "main", "up", "lambda");
    rename(&mut p, "attention_head", "q", "_parameters");
    rename(&mut p, "attention_head", "k", "self");
    rename(&mut p, "attention_head", "v", "T");
    rename(&mut p, "attention_head", "x", "in");
    rename(&mut p, "norm", "gained", "state_dict");
    rename(&mut p, "norm", "out", "forward_");
    p
}

#[test]
fn exported_pytorch_matches_the_compiled_model() {
    let config = ModelConfig { d_model: 32, seq_len: 16, n_layers: 2, vocab: 256 };
    let tmp = std::env::temp_dir().join(format!("primer-export-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let mut programs: Vec<(String, Program)> = vec![
        ("transformer".into(), program("transformer.prim")),
        ("primer_ez".into(), program("primer_ez.prim")),
        ("primer".into(), program("primer.prim")),
        ("awkward_names".into(), awkward_names()),
    ];
    let named = programs.len();
    // The paper's space, opened to every primitive the DSL has (one exported program per op).
    let mut every_op = SearchSpace::load(&root().join("search-spaces/primer.toml")).unwrap();
    every_op.ops = Op::PRIMITIVES.to_vec();
    let full = Mutator::new(every_op, config, 100);
    let t = program("transformer.prim");
    for &op in Op::PRIMITIVES {
        programs.push((format!("op_{}", op.name()), with_op(&t, &full, op).unwrap()));
    }
    let cpu = Mutator::new(SearchSpace::load(&root().join("search-spaces/primer-cpu.toml")).unwrap(), config, 100);
    let seeds = [program("transformer.prim"), program("primer_ez.prim"), program("primer.prim")];
    for (n, seed) in seeds.iter().cycle().take(60).enumerate() {
        let mut p = seed.clone();
        let mut rng = rng_for(91, n as u64);
        for _ in 0..1 + n % 4 {
            p = cpu.child(&mut rng, &p, &canonical_hash(&p), &|_| false).unwrap().program;
        }
        programs.push((format!("mutant_{n}"), p));
    }
    let mut dirs = Vec::new();
    let mut sources = Vec::new();
    for (n, (name, p)) in programs.iter().enumerate() {
        let dir = tmp.join(format!("{n:03}_{name}"));
        // Random programs in double precision: some amplify rounding (a RECIP of a value near
        // 0), and what is checked is that the two compute the same function.
        sources.push(export(p, config, n as u64, n >= named + Op::PRIMITIVES.len(), &dir));
        dirs.push(dir);
    }

    // The readable parts: attention and the norm as fused calls, with their primitives beside.
    let transformer = &sources[0];
    for want in [
        "class Main(nn.Module):",
        "class AttentionHead(nn.Module):",
        "heads = join_copies(self.heads(n1), 8)  # heads = CALL[8] attention_head(n1)",
        "q = self.q(x)  # q = DENSE(x, head)",
        "#   logits = T_MAT_MUL(q, k)",
        "mixed = attention(q, k, v, scale=0.5)", // rsqrt(head): 1/sqrt(4 channels) at d_model 32
        "out = self.out(self.gained(F.layer_norm(x, x.shape[-1:], eps=1e-5)))",
        "relu = torch.maximum(up, z)  # relu = MAX(up, z)",
    ] {
        assert!(transformer.contains(want), "model.py lacks `{want}`:\n{transformer}");
    }
    assert!(sources[1].contains("q = self.q(q_proj)  # q = DCONV3(q_proj)"), "{}", sources[1]);
    assert!(sources[1].contains("sq = relu.square()  # sq = SQUARE(relu)"), "{}", sources[1]);
    assert!(sources[3].contains("self.forward_ = Dense("), "{}", sources[3]);

    let results = python_check(&dirs);
    let mut failures = Vec::new();
    for (k, r) in results.iter().enumerate() {
        let name = &programs[k].0;
        if let Some(e) = r.get("error") {
            failures.push(format!("{name}: {e}\n{}", text::print(&programs[k].1)));
            continue;
        }
        let ok = r["keys_match"] == true
            && r["reader_matches"] == true
            && r["not_close"] == 0
            && r["ts_not_close"] == 0
            && r["ts_batch3"] == 0
            && (k >= named || r["bound"].as_f64().unwrap() < 1e-2)
            && r["shape"] == serde_json::json!([2, 16, 256]);
        if !ok {
            failures.push(format!("{name}: {r}\n{}", text::print(&programs[k].1)));
        }
    }
    assert!(failures.is_empty(), "{} of {} exports disagree:\n{}", failures.len(), results.len(), failures.join("\n"));
    let worst = results[..named].iter().map(|r| r["max_abs"].as_f64().unwrap()).fold(0.0, f64::max);
    // How close the bound came to failing: each float32 implementation's distance from float64
    // over model.py's own float32 error (the bound allows 4).
    let ratio = |key: &str| {
        results
            .iter()
            .filter(|r| r["dtype"] == "float32" && r["err"].as_f64().unwrap() > 0.0)
            .filter_map(|r| Some(r[key].as_f64()? / r["err"].as_f64().unwrap()))
            .fold(0.0, f64::max)
    };
    eprintln!(
        "{} programs exported and checked in Python; reference programs' max |logit difference| {worst:.2e}; \
         float32 exports: worst distance from float64 over model.py's own: compiled {:.2}, traced {:.2}",
        results.len(),
        ratio("rust_err"),
        ratio("ts_err")
    );
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn stored_weights_round_trip_into_a_fresh_model() {
    let config = ModelConfig { d_model: 32, seq_len: 16, n_layers: 2, vocab: 256 };
    let p = program("primer_ez.prim");
    let a = Model::new(&p, config, Device::Cpu, 1).unwrap();
    perturb(&a, 5);
    let meta = BTreeMap::from([("candidate".to_string(), "7".to_string())]);
    let bytes = model_weights(&a, &meta).unwrap();
    let b = Model::new(&p, config, Device::Cpu, 2).unwrap();
    let x = tokens(2, 16, 3);
    let before = (a.forward(&x).unwrap() - b.forward(&x).unwrap()).abs().max().double_value(&[]);
    assert!(before > 1e-3, "different seeds give different models");
    load_model_weights(&b, &bytes).unwrap();
    assert!(a.forward(&x).unwrap().equal(&b.forward(&x).unwrap()), "the same logits after loading");
    // The header keeps the metadata; a model of another program refuses the weights by name.
    let st = safetensors::SafeTensors::read_metadata(&bytes).unwrap().1;
    assert_eq!(st.metadata().as_ref().unwrap()["candidate"], "7");
    let other = Model::new(&program("transformer.prim"), config, Device::Cpu, 1).unwrap();
    let err = load_model_weights(&other, &bytes).unwrap_err().to_string();
    assert!(err.contains("is not a parameter of this model") || err.contains("is missing"), "{err}");
}
