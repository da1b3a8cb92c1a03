//! The reference programs (search-spaces/programs): they parse, validate, print back, count
//! parameters and FLOPs as the closed forms say, and differ exactly as the paper says.

use std::path::PathBuf;

use primer_dsl::analysis::{Cost, canonical_hash};
use primer_dsl::diff::{Change, diff};
use primer_dsl::text::{from_json, parse, parse_file, print, to_json};
use primer_dsl::validate::validate;
use primer_dsl::{ModelConfig, Program, text};

fn programs_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces/programs")
}

fn load(name: &str) -> Program {
    parse_file(&programs_dir().join(name)).unwrap_or_else(|e| panic!("{e}"))
}

fn config(d: usize, t: usize) -> ModelConfig {
    ModelConfig { d_model: d, seq_len: t, n_layers: 6, vocab: 256 }
}

#[test]
fn the_three_programs_are_valid_at_two_sizes() {
    for name in ["transformer.prim", "primer_ez.prim", "primer.prim"] {
        let p = load(name);
        for c in [config(128, 128), config(512, 64)] {
            validate(&p, &c).unwrap_or_else(|e| panic!("{name} at {c:?}: {e}"));
        }
    }
}

#[test]
fn printing_then_parsing_gives_the_same_program() {
    for name in ["transformer.prim", "primer_ez.prim", "primer.prim"] {
        let p = load(name);
        let text = print(&p);
        let q = parse(&text, "<printed>").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(p, q, "{name}");
        assert_eq!(from_json(&to_json(&p), "<json>").unwrap(), p);
    }
}

/// 12·D² + 13·D per layer: q, k, v and output projections with biases (4·D² + 4·D), the
/// feed-forward D -> 4D -> D with biases (8·D² + 5·D), two norms with gain and bias (4·D).
fn transformer_layer_params(d: u64) -> u64 {
    12 * d * d + 13 * d
}

#[test]
fn transformer_parameters_match_the_closed_form() {
    let p = load("transformer.prim");
    for (d, t) in [(128u64, 128usize), (512, 64)] {
        let v = validate(&p, &config(d as usize, t)).unwrap();
        assert_eq!(v.layer_params(), transformer_layer_params(d), "d_model {d}");
        let cost = Cost::of(&v);
        // Stem: byte embedding 256·D, positions T·D, final norm 2·D, output D·256 + 256.
        let stem = 256 * d + t as u64 * d + 2 * d + d * 256 + 256;
        assert_eq!(cost.model_params, 6 * transformer_layer_params(d) + stem);
    }
    // Primer-EZ adds 3 depthwise convolutions of width 3 on D channels (per head: D/8 each).
    let ez = load("primer_ez.prim");
    let v = validate(&ez, &config(128, 128)).unwrap();
    assert_eq!(v.layer_params(), transformer_layer_params(128) + 9 * 128);
}

/// Forward FLOPs per token of one Transformer layer, counted op by op by hand.
fn hand_count(d: u64, t: u64) -> u64 {
    let h = d / 8; // head width
    let norm = 7 * d + 2; // mean, diff, square, mean, +eps, sqrt, divide, scale, shift
    let head = 3 * (2 * d * h + h) // q, k, v projections with bias
        + 2 * t * h                // q·kᵀ: t dot products of length h
        + 7 * t                    // scale, mask, row max, subtract, exp, row sum, divide
        + 2 * t * h; //               weights·v
    let main = 2 * norm + 8 * head
        + (2 * d * d + d) + d      // output projection, residual
        + (2 * d * 4 * d + 4 * d) + 4 * d + (2 * 4 * d * d + d) + d; // up, relu, down, residual
    main
}

#[test]
fn transformer_flops_match_a_hand_count() {
    let p = load("transformer.prim");
    for (d, t) in [(128u64, 128u64), (512, 64)] {
        let v = validate(&p, &config(d as usize, t as usize)).unwrap();
        let counted = v.layer_forward_flops();
        let hand = hand_count(d, t);
        let rel = (counted as f64 - hand as f64).abs() / hand as f64;
        assert!(rel < 0.02, "d {d} t {t}: counted {counted}, by hand {hand}");
        // The usual matmul-only estimate (24·D² + 4·T·D) is within 3% too at these sizes.
        let matmul_only = 24 * d * d + 4 * t * d;
        assert!((counted as f64 / matmul_only as f64 - 1.0).abs() < 0.03, "{counted} vs {matmul_only}");
        let cost = Cost::of(&v);
        assert_eq!(cost.training_flops_per_token, 3 * (6 * counted + 2 * d * 256 + 256 + 7 * d));
    }
}

#[test]
fn primer_ez_differs_from_the_transformer_by_exactly_the_paper_changes() {
    let t = load("transformer.prim");
    let ez = load("primer_ez.prim");
    let d = diff(&t, &ez);
    let mut inserted: Vec<(String, String)> = Vec::new();
    for ch in &d.changes {
        match ch {
            Change::Inserted { subprogram, text, .. } => inserted.push((subprogram.clone(), text.clone())),
            other => panic!("unexpected change {other:?}\n{d}"),
        }
    }
    inserted.sort();
    assert_eq!(
        inserted,
        vec![
            ("attention_head".to_string(), "DCONV3(k_proj)".to_string()),
            ("attention_head".to_string(), "DCONV3(q_proj)".to_string()),
            ("attention_head".to_string(), "DCONV3(v_proj)".to_string()),
            ("main".to_string(), "SQUARE(relu)".to_string()),
        ],
        "{d}"
    );
    assert_eq!(d.counts(), (4, 0, 0));
    assert!(diff(&t, &t).is_empty());
    assert_ne!(canonical_hash(&t), canonical_hash(&ez));
}

#[test]
fn primer_differs_from_the_transformer_in_attention_norms_and_feed_forward() {
    let t = load("transformer.prim");
    let p = load("primer.prim");
    let d = diff(&t, &p);
    let text = d.to_string();
    assert!(text.contains("SQUARE(relu)"), "{text}");
    assert!(text.contains("DCONV3(k_proj)") && text.contains("DCONV3(v_proj)"), "{text}");
    assert!(text.contains("def primer_norm") || text.contains("primer_norm"), "{text}");
}

#[test]
fn diff_names_changed_and_deleted_instructions() {
    let t = load("transformer.prim");
    // Change the op of `relu` (MAX -> MIN): one changed instruction, field op.
    let mut changed = t.clone();
    let relu = changed.subprograms[0].instructions.iter().position(|i| i.name == "relu").unwrap();
    changed.subprograms[0].instructions[relu].op = primer_dsl::Op::Min;
    let d = diff(&t, &changed);
    assert_eq!(
        d.changes,
        vec![Change::Changed {
            subprogram: "main".into(),
            index: relu,
            name: "relu".into(),
            old: "MAX(up, z)".into(),
            new: "MIN(up, z)".into(),
            fields: vec![primer_dsl::Field::Op],
        }]
    );
    // Delete the row max of the softmax: its reader now reads its input (`without`), which the
    // diff reports as the one deletion, not as a change of the reader too.
    let head = t.subprograms.iter().position(|s| s.name == "attention_head").unwrap();
    let row_max = t.subprograms[head].instructions.iter().position(|i| i.name == "row_max").unwrap();
    let deleted = t.without(head, row_max);
    let d = diff(&t, &deleted);
    assert_eq!(d.counts(), (0, 1, 0), "{d}");
    assert_eq!(d.to_string(), "- attention_head[6]: row_max = RED_MAX(masked)\n");
    // A changed bank value is named.
    let mut bank = t.clone();
    bank.bank.constants[0].value = 1e-6;
    assert_eq!(diff(&t, &bank).changes[0], Change::Constant { name: "eps".into(), old: Some(1e-5), new: Some(1e-6) });
}

#[test]
fn printed_line_points_at_the_printed_instruction() {
    for name in ["transformer.prim", "primer_ez.prim", "primer.prim"] {
        let p = load(name);
        let printed = text::print(&p);
        let lines: Vec<&str> = printed.lines().collect();
        for (si, sub) in p.subprograms.iter().enumerate() {
            let def = text::printed_line(&p, si, None);
            assert!(lines[def - 1].starts_with(&format!("def {}(", sub.name)), "{name}: {}", lines[def - 1]);
            for (i, ins) in sub.instructions.iter().enumerate() {
                let line = lines[text::printed_line(&p, si, Some(i)) - 1];
                assert!(line.trim_start().starts_with(&format!("{} ", ins.name)), "{name}: {line}");
                assert!(line.ends_with(&text::instruction_text(&p, sub, i)), "{name}: {line}");
            }
        }
    }
}

/// The JSON of every reference and landscape program, as the store keeps it, is what
/// fuzz/seeds/program_json/ holds: the stored form does not change unnoticed, and the JSON
/// fuzz target starts from real programs. `PRIMER_BLESS=1` rewrites the files.
#[test]
fn program_json_seeds_are_current() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let seeds = root.join("fuzz/seeds/program_json");
    let bless = std::env::var_os("PRIMER_BLESS").is_some();
    let mut stale = Vec::new();
    for dir in ["search-spaces/programs", "experiments/landscape/programs", "experiments/landscape/setup/programs"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        for f in files.iter().filter(|f| f.extension().is_some_and(|e| e == "prim")) {
            let json = to_json(&parse_file(f).unwrap_or_else(|e| panic!("{e}"))) + "\n";
            let name = format!("{}.json", f.file_stem().unwrap().to_string_lossy());
            let seed = seeds.join(&name);
            if bless {
                std::fs::create_dir_all(&seeds).unwrap();
                std::fs::write(&seed, &json).unwrap();
            } else if std::fs::read_to_string(&seed).ok().as_deref() != Some(json.as_str()) {
                stale.push(name);
            }
        }
    }
    assert!(stale.is_empty(), "stale or missing in fuzz/seeds/program_json (PRIMER_BLESS=1 rewrites them): {stale:?}");
}

/// `const s = rsqrt(head)`: 1/sqrt(the head's channels) at every size; prints and parses back;
/// identity follows the dim, not the size; an unknown dim is refused where it is written.
#[test]
fn a_derived_constant_follows_its_dim_at_every_size() {
    let text = "bank {\n  const s = rsqrt(head)\n  dim head = 2\n}\n\ndef main(x) {\n  y = C_MUL(x, s)\n}\n";
    let p = primer_dsl::text::parse(text, "s.prim").unwrap();
    assert_eq!(primer_dsl::text::print(&p), text);
    let at = |d: usize| {
        p.at_size(&primer_dsl::ModelConfig { d_model: d, seq_len: 8, n_layers: 1, vocab: 256 }).bank.constants[0].value
    };
    assert_eq!(at(32), 1.0 / 8f64.sqrt(), "2 units of 4 channels");
    assert_eq!(at(128), 1.0 / 32f64.sqrt(), "2 units of 16 channels");
    let literal = primer_dsl::text::parse(&text.replace("rsqrt(head)", "0.25"), "s.prim").unwrap();
    let other_dim = primer_dsl::text::parse(&text.replace("head = 2", "head = 4"), "s.prim").unwrap();
    let hash = primer_dsl::analysis::canonical_hash;
    assert_ne!(hash(&p), hash(&literal), "a rule is not the value it has at one size");
    assert_ne!(hash(&p), hash(&other_dim));
    assert_eq!(hash(&p), hash(&primer_dsl::analysis::canonical_form(&p)), "canonical form keeps the rule");
    let e = primer_dsl::text::parse(&text.replace("rsqrt(head)", "rsqrt(nope)"), "s.prim").unwrap_err();
    assert_eq!(e.to_string(), "s.prim:2:19: `nope` is not a dim of the bank (rsqrt takes a bank dim)");
}
