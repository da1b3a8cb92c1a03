//! Properties over thousands of random programs (random instructions drawn from the paper's
//! search space, plus random edits of the reference programs), each from a fixed seed.

use std::path::PathBuf;

use primer_dsl::analysis::{canonical_form, canonical_hash, eliminate_dead_code, liveness};
use primer_dsl::sample::{random_instruction, random_program};
use primer_dsl::text::{from_json, parse, parse_file, print, to_json};
use primer_dsl::validate::check_structure;
use primer_dsl::{Field, Op, Program, SearchSpace};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../search-spaces")
}

fn space() -> SearchSpace {
    SearchSpace::load(&root().join("primer.toml")).unwrap()
}

fn seeds() -> Vec<Program> {
    ["transformer.prim", "primer_ez.prim", "primer.prim"]
        .iter()
        .map(|n| parse_file(&root().join("programs").join(n)).unwrap())
        .collect()
}

/// Random programs: fully random ones, and seeds with random instructions inserted.
fn programs(n: usize, seed: u64) -> Vec<Program> {
    let space = space();
    let seeds = seeds();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|k| {
            if k % 2 == 0 {
                random_program(&mut rng, &space, 3, 12)
            } else {
                let mut p = seeds.choose(&mut rng).unwrap().clone();
                for _ in 0..rng.random_range(1..6) {
                    let si = rng.random_range(0..p.subprograms.len());
                    let pos = rng.random_range(0..=p.subprograms[si].instructions.len());
                    let ins = random_instruction(&mut rng, &space, &p, si, pos);
                    p = p.with_inserted(si, pos, ins);
                }
                p
            }
        })
        .collect()
}

#[test]
fn print_then_parse_round_trips_5000_random_programs() {
    for (k, p) in programs(5000, 1).into_iter().enumerate() {
        check_structure(&p).unwrap();
        let text = print(&p);
        let q = parse(&text, "<printed>").unwrap_or_else(|e| panic!("program {k}: {e}\n{text}"));
        assert_eq!(p, q, "program {k}:\n{text}");
        // Printing is a fixed point too.
        assert_eq!(print(&q), text);
    }
}

#[test]
fn json_round_trips_2000_random_programs() {
    for p in programs(2000, 2) {
        assert_eq!(from_json(&to_json(&p), "<json>").unwrap(), p);
    }
}

/// Every constant survives the store's JSON to the bit, whatever its value: 1e-25 came back
/// as 9.999999999999999e-26 before serde_json's exact float parsing was switched on (found
/// by fuzzing program JSON; fuzz/seeds/program_json/regression-1e-25.json).
#[test]
fn json_keeps_every_constant_to_the_bit() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut p = programs(1, 3).remove(0);
    let mut values = vec![1e-25, 5e-324, f64::MAX, f64::MIN_POSITIVE, 0.1 + 0.2, -0.0];
    while values.len() < 20_000 {
        let v = f64::from_bits(rng.random::<u64>());
        if v.is_finite() {
            values.push(v);
        }
    }
    for v in values {
        p.bank.constants[0].value = v;
        let back = from_json(&to_json(&p), "<json>").unwrap();
        assert_eq!(back.bank.constants[0].value.to_bits(), v.to_bits(), "{v:e}");
    }
}

/// Renames every value, input, subprogram and bank entry.
fn renamed(p: &Program, rng: &mut ChaCha8Rng) -> Program {
    let mut q = p.clone();
    let tag: u32 = rng.random();
    for (i, c) in q.bank.constants.iter_mut().enumerate() {
        c.name = format!("k{tag}_{i}");
    }
    for (i, d) in q.bank.dims.iter_mut().enumerate() {
        d.name = format!("w{tag}_{i}");
    }
    for (si, sub) in q.subprograms.iter_mut().enumerate() {
        sub.name = format!("f{tag}_{si}");
        for (i, input) in sub.inputs.iter_mut().enumerate() {
            *input = format!("in{tag}_{i}");
        }
        for (i, ins) in sub.instructions.iter_mut().enumerate() {
            ins.name = format!("t{tag}_{i}");
        }
    }
    q
}

/// Inserts a random instruction that nothing reads (dead code) anywhere but last.
fn with_dead_code(p: &Program, space: &SearchSpace, rng: &mut ChaCha8Rng) -> Program {
    let si = rng.random_range(0..p.subprograms.len());
    let pos = rng.random_range(0..p.subprograms[si].instructions.len());
    let ins = random_instruction(rng, space, p, si, pos);
    p.with_inserted(si, pos, ins)
}

#[test]
fn canonical_hash_ignores_names_dead_code_and_ignored_fields() {
    let space = space();
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (k, p) in programs(3000, 3).into_iter().enumerate() {
        let h = canonical_hash(&p);
        assert_eq!(canonical_hash(&renamed(&p, &mut rng)), h, "rename changed program {k}");
        let dead = with_dead_code(&p, &space, &mut rng);
        assert_eq!(canonical_hash(&dead), h, "dead code changed program {k}:\n{}", print(&dead));
        assert_eq!(canonical_hash(&eliminate_dead_code(&p)), h, "program {k}");
        // The canonical form is itself a program with the same hash, and a fixed point.
        let c = canonical_form(&p);
        check_structure(&c).unwrap_or_else(|e| panic!("program {k}: {e}\n{}", print(&c)));
        assert_eq!(canonical_hash(&c), h, "program {k}");
        assert_eq!(canonical_form(&c), c, "program {k}");
        // Ignored fields of live instructions do not count.
        let mut q = p.clone();
        let live = liveness(&q);
        for (si, sub) in q.subprograms.iter_mut().enumerate() {
            for (i, ins) in sub.instructions.iter_mut().enumerate() {
                if live.instructions[si][i] && !ins.op.reads().branching {
                    ins.branching = 16;
                }
            }
        }
        assert_eq!(canonical_hash(&q), h, "program {k}");
    }
}

#[test]
fn canonical_hash_ignores_subprogram_order() {
    // The reference programs' two helpers do not call each other: swap them.
    for p in seeds() {
        let mut q = p.clone();
        q.subprograms.swap(1, 2);
        for ins in &mut q.subprograms[0].instructions {
            ins.op = match ins.op {
                Op::Call(1) => Op::Call(2),
                Op::Call(2) => Op::Call(1),
                op => op,
            };
        }
        check_structure(&q).unwrap();
        assert_ne!(p, q);
        assert_eq!(canonical_hash(&p), canonical_hash(&q));
    }
}

/// Live instructions as (subprogram, index).
fn live_positions(p: &Program) -> Vec<(usize, usize)> {
    let live = liveness(p);
    let mut out = Vec::new();
    for (si, sub) in live.instructions.iter().enumerate() {
        for (i, &l) in sub.iter().enumerate() {
            if l {
                out.push((si, i));
            }
        }
    }
    out
}

#[test]
fn canonical_hash_changes_with_any_live_change() {
    let space = space();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let unary: Vec<Op> = Op::PRIMITIVES.iter().copied().filter(|o| o.reads() == Op::Exp.reads()).collect();
    let mut checked = [0usize; 4];
    for (k, p) in programs(3000, 4).into_iter().enumerate() {
        let h = canonical_hash(&p);
        let &(si, i) = live_positions(&p).choose(&mut rng).unwrap();
        let ins = p.subprograms[si].instructions[i].clone();
        let mut q = p.clone();
        let target = &mut q.subprograms[si].instructions[i];
        let kind;
        if p.reads(&ins, Field::Constant) {
            // Point the constant ref at a fresh bank entry with another value.
            let value = p.constant(&ins).unwrap() + 1.0;
            q.bank.constants.push(primer_dsl::BankEntry::new("fresh", value));
            q.subprograms[si].instructions[i].constant = q.bank.constants.len() - 1;
            kind = 0;
        } else if p.reads(&ins, Field::Dim) {
            let value = *space
                .dims
                .iter()
                .filter(|&&d| Some(d) != p.dim_units(&ins))
                .collect::<Vec<_>>()
                .choose(&mut rng)
                .unwrap();
            q.bank.dims.push(primer_dsl::BankEntry::new("fresh", *value));
            q.subprograms[si].instructions[i].dim = q.bank.dims.len() - 1;
            kind = 1;
        } else if unary.contains(&ins.op) {
            target.op =
                *unary.iter().filter(|&&o| o != ins.op).collect::<Vec<_>>().choose(&mut rng).unwrap().to_owned();
            kind = 2;
        } else if p.reads(&ins, Field::Branching) {
            target.branching = if ins.branching == 1 { 2 } else { 1 };
            kind = 3;
        } else {
            continue;
        }
        checked[kind] += 1;
        assert_ne!(
            canonical_hash(&q),
            h,
            "program {k}: live change of kind {kind} at {si}/{i} kept the hash\n{}",
            print(&p)
        );
    }
    assert!(checked.iter().all(|&c| c > 20), "too few changes of some kind: {checked:?}");
}

#[test]
fn rerouting_a_live_input_from_the_layer_input_changes_the_hash() {
    // An instruction's value can never be structurally equal to a subprogram input.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut checked = 0;
    for p in programs(2000, 5) {
        let h = canonical_hash(&p);
        let candidates: Vec<(usize, usize)> = live_positions(&p)
            .into_iter()
            .filter(|&(si, i)| {
                let ins = &p.subprograms[si].instructions[i];
                ins.in1 < p.subprograms[si].inputs.len() && p.reads(ins, Field::In1) && i > 0
            })
            .collect();
        let Some(&(si, i)) = candidates.choose(&mut rng) else { continue };
        let mut q = p.clone();
        let n_in = q.subprograms[si].inputs.len();
        q.subprograms[si].instructions[i].in1 = n_in + rng.random_range(0..i);
        assert_ne!(canonical_hash(&q), h);
        checked += 1;
    }
    assert!(checked > 500, "{checked}");
}

#[test]
fn parser_never_panics_on_5000_corrupted_files() {
    let text = std::fs::read_to_string(root().join("programs/primer_ez.prim")).unwrap();
    let bytes: Vec<char> = text.chars().collect();
    let alphabet: Vec<char> = "abcXYZ_019.-+e=(),{}[]# \n\tADDCALL".chars().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut errors = 0;
    for _ in 0..5000 {
        let mut t = bytes.clone();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..t.len());
            match rng.random_range(0..3) {
                0 => {
                    t.remove(at);
                }
                1 => t.insert(at, *alphabet.choose(&mut rng).unwrap()),
                _ => t[at] = *alphabet.choose(&mut rng).unwrap(),
            }
        }
        let s: String = t.into_iter().collect();
        match parse(&s, "<corrupt>") {
            Ok(p) => check_structure(&p).unwrap(),
            Err(e) => {
                assert!(e.line >= 1 && e.column >= 1, "{e}");
                errors += 1;
            }
        }
    }
    assert!(errors > 1000, "{errors}");
}
