//! Validation: invalid programs are caught before any tensor exists, with the reason and the
//! instruction; search-space files with bad fields name the field.

use primer_dsl::error::{Invalid, Location};
use primer_dsl::space::SearchSpace;
use primer_dsl::text::parse;
use primer_dsl::validate::validate;
use primer_dsl::{ModelConfig, Shape};

const CONFIG: ModelConfig = ModelConfig { d_model: 64, seq_len: 16, n_layers: 1, vocab: 256 };

fn invalid(src: &str) -> (Location, Invalid) {
    let p = parse(src, "<test>").unwrap();
    let e = validate(&p, &CONFIG).expect_err("must be invalid");
    (e.location, e.reason)
}

fn at(sub: &str, index: usize, name: &str) -> Location {
    Location::Instruction { subprogram: sub.into(), index, name: name.into() }
}

#[test]
fn dense_of_a_square_is_invalid() {
    let (loc, why) = invalid("bank {\n dim d = 8\n}\ndef main(x) {\n  s = T_MAT_MUL(x, x)\n  y = DENSE(s, d)\n}\n");
    assert_eq!(loc, at("main", 1, "y"));
    assert_eq!(why, Invalid::NeedsSequence { op: "DENSE" });
}

#[test]
fn main_must_return_d_model_channels() {
    let (loc, why) = invalid("bank {\n dim d = 4\n}\ndef main(x) {\n  y = DENSE(x, d)\n}\n");
    assert_eq!(loc, at("main", 0, "y"));
    assert_eq!(why, Invalid::BadOutput { expected: 64, found: "[T,32]".into() });
    let (_, why) = invalid("def main(x) {\n  s = T_MAT_MUL(x, x)\n}\n");
    assert_eq!(why, Invalid::BadOutput { expected: 64, found: "[T,T]".into() });
}

#[test]
fn mask_needs_a_square_and_mat_mul_one() {
    let (_, why) = invalid("def main(x) {\n  y = MASK(x)\n}\n");
    assert_eq!(why, Invalid::NeedsSquare { op: "MASK", shape: "[T,64]".into() });
    let (_, why) = invalid("def main(x) {\n  y = MAT_MUL(x, x)\n}\n");
    assert_eq!(why, Invalid::MatMulOfSequences);
    let (_, why) = invalid("def main(x) {\n  s = T_MAT_MUL(x, x)\n  y = T_MAT_MUL(s, x)\n}\n");
    assert_eq!(why, Invalid::TMatMulMixed);
}

#[test]
fn branching_limits() {
    let src = "def main(x) {\n  y = CALL[16] f(x)\n  z = RED_MEAN(y)\n  w = ADD(x, z)\n}\ndef f(x) {\n  y = CALL[2] g(x)\n}\ndef g(x) {\n  y = RED_SUM(x)\n}\n";
    let (loc, why) = invalid(src);
    assert_eq!(loc, at("f", 0, "y"));
    assert_eq!(why, Invalid::TooManyBranches(32));
    let src = "def main(x) {\n  y = CALL[2] f(x)\n  z = RED_MEAN(y)\n  w = ADD(x, z)\n}\ndef f(x) {\n  y = T_MAT_MUL(x, x)\n}\n";
    assert_eq!(invalid(src).1, Invalid::BranchedSquare { branching: 2 });
}

#[test]
fn values_wider_than_eight_d_model_are_invalid() {
    let src = "bank {\n dim d = 64\n}\ndef main(x) {\n  y = CALL[2] f(x)\n  z = RED_MEAN(y)\n  w = ADD(x, z)\n}\ndef f(x) {\n  y = DENSE(x, d)\n}\n";
    assert_eq!(invalid(src), (at("main", 0, "y"), Invalid::TooWide { units: 128 }));
}

#[test]
fn dead_instructions_are_not_shape_checked_and_cost_nothing() {
    let p = parse(
        "bank {\n dim d = 8\n}\ndef main(x) {\n  s = T_MAT_MUL(x, x)\n  bad = DENSE(s, d)\n  y = EXP(x)\n}\n",
        "<t>",
    )
    .unwrap();
    let v = validate(&p, &CONFIG).unwrap();
    assert_eq!(v.layer_params(), 0);
    assert_eq!(v.layer_forward_flops(), 64);
    assert_eq!(v.instances[v.main].values, vec![Some(Shape::Seq(64)), None, None, Some(Shape::Seq(64))]);
}

#[test]
fn mismatched_widths_broadcast_cyclically() {
    let src = "bank {\n dim a = 2\n dim b = 8\n}\ndef main(x) {\n  n = DENSE(x, a)\n  m = MULTIPLY(n, x)\n}\n";
    let v = validate(&parse(src, "<t>").unwrap(), &CONFIG).unwrap();
    assert_eq!(v.instances[v.main].values[2], Some(Shape::Seq(64)));
}

#[test]
fn d_model_must_be_a_multiple_of_8() {
    let p = parse("def main(x) {\n  y = EXP(x)\n}\n", "<t>").unwrap();
    let e = validate(&p, &ModelConfig { d_model: 60, ..CONFIG }).unwrap_err();
    assert_eq!(e.reason, Invalid::BadDModel(60));
}

const SPACE: &str = "name = \"s\"\nops = [\"ADD\", \"EXP\"]\ndims = [1, 8]\nbranching = [1, 2]\n\n[limits]\nmax_instructions = 10\nmax_total_instructions = 20\nmax_bank_entries = 4\n\n[mutation_weights]\ndelete = 1.0\ninsert = 1.0\ndelete_insert = 1.0\nmutate_field = 1.0\nswap = 1.0\nbank = 1.0\n";

#[test]
fn search_spaces_parse_and_bad_fields_are_named() {
    let s = SearchSpace::from_toml(SPACE, "s.toml").unwrap();
    assert_eq!(s.ops.len(), 2);
    let e = SearchSpace::from_toml(&SPACE.replace("bank = 1.0", "bank = 1.0\nbogus = 2.0"), "s.toml").unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.column), ("s.toml", 18, 1));
    assert!(e.message.contains("unknown field `bogus`"), "{e}");
    let e = SearchSpace::from_toml(&SPACE.replace("\"EXP\"", "\"EXPP\""), "s.toml").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.message.contains("unknown op `EXPP`"), "{e}");
    let e = SearchSpace::from_toml(&SPACE.replace("dims = [1, 8]", "dims = [1, 5]"), "s.toml").unwrap_err();
    assert_eq!((e.line, e.column), (3, 1));
    assert!(e.message.contains("`dims`: 5 is not in the vocabulary"), "{e}");
    let e = SearchSpace::from_toml(&SPACE.replace("max_bank_entries = 4\n", ""), "s.toml").unwrap_err();
    assert!(e.message.contains("missing field `max_bank_entries`"), "{e}");
}

#[test]
fn the_shipped_search_spaces_load() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces");
    let paper = SearchSpace::load(&dir.join("primer.toml")).unwrap();
    assert_eq!(paper.ops.len(), 40);
    assert_eq!(paper.dims, vec![1, 2, 4, 8, 12, 16, 24, 32, 48, 64]);
    SearchSpace::load(&dir.join("primer-cpu.toml")).unwrap();
}

/// An op that reads no input (CONSTANT) whose unused in1 names a dead value (as mutations and
/// hand-written JSON can make it) validates; it panicked before (found by `primer drill
/// programs`).
#[test]
fn a_constant_naming_a_dead_value_validates() {
    let src = "bank {\n const c = 0.5\n dim d = 8\n}\ndef main(x) {\n  dead = DENSE(x, d)\n  z = CONSTANT(c)\n  y = ADD(x, z)\n}\n";
    let mut p = parse(src, "<test>").unwrap();
    p.subprograms[0].instructions[1].in1 = 1;
    let json = primer_dsl::text::to_json(&p);
    let p = primer_dsl::text::from_json(&json, "<test>").unwrap();
    let v = validate(&p, &CONFIG).expect("valid");
    assert!(!v.liveness.instructions[0][0], "`dead` is dead");
    let out = primer_dsl::analysis::eliminate_dead_code(&p);
    validate(&out, &CONFIG).expect("still valid without dead code");
}
