//! The six mutations: every kind is drawn, every accepted child is valid and different from
//! its parent, mutations replay and round-trip through JSON, splicing and its inverse, swaps,
//! and the bounded, counted re-mutation.

mod common;

use std::collections::HashMap;

use common::*;
use primer_dsl::analysis::{canonical_hash, eliminate_dead_code};
use primer_dsl::validate::validate;
use primer_evolve::evolution::rng_for;
use primer_evolve::{Mutation, MutationKind};

#[test]
fn children_are_valid_different_and_replayable_for_every_kind() {
    let m = mutator();
    let mut counts: HashMap<MutationKind, u32> = HashMap::new();
    let mut rejected = 0;
    for name in ["transformer.prim", "primer_ez.prim", "primer.prim"] {
        let p = program(name);
        let hash = canonical_hash(&p);
        for birth in 0..1_500 {
            let child = m.child(&mut rng_for(1, birth), &p, &hash, &|_| false).unwrap();
            validate(&child.program, &config()).unwrap();
            assert!(m.space.admits(&child.program).is_ok());
            assert_ne!(child.hash, hash);
            assert_eq!(child.hash, canonical_hash(&child.program));
            // The recorded mutation replays to the same child, also after a JSON round trip.
            let json = serde_json::to_string(&child.mutation).unwrap();
            let back: Mutation = serde_json::from_str(&json).unwrap();
            assert_eq!(eliminate_dead_code(&back.apply(&p)), child.program, "{json}");
            assert!(!child.description.is_empty());
            *counts.entry(child.mutation.kind()).or_default() += 1;
            rejected += child.rejected.total();
        }
    }
    println!("accepted children by kind: {counts:?}; {rejected} drawn children rejected");
    for kind in MutationKind::ALL {
        assert!(counts.get(&kind).copied().unwrap_or(0) > 100, "{kind:?}: {counts:?}");
    }
    assert!(rejected > 0, "some draws are invalid or unchanged and are re-mutated");
}

#[test]
fn deleting_a_spliced_instruction_gives_the_parent_back() {
    let t = program("transformer.prim");
    let with_square = squared_relu().apply(&t);
    let back = Mutation::DeleteInstruction { subprogram: MAIN, position: 8 }.apply(&with_square);
    assert_eq!(back, t);
}

#[test]
fn swap_keeps_references_and_fixes_forward_ones() {
    let t = program("transformer.prim");
    // Swap main.up (5) and main.z (6): `relu = MAX(up, z)` now reads them the other way round,
    // and up (moved later) still reads n2; z reads nothing.
    let s = Mutation::Swap { subprogram: MAIN, first: 5, second: 6 }.apply(&t);
    let main = &s.subprograms[MAIN];
    assert_eq!((main.instructions[5].name.as_str(), main.instructions[6].name.as_str()), ("z", "up"));
    assert_eq!((main.instructions[7].in1, main.instructions[7].in2), (6, 7));
    // Swap n2 (4) and up (5): up moves before n2, which it read, so it reads the value before.
    let s = Mutation::Swap { subprogram: MAIN, first: 4, second: 5 }.apply(&t);
    assert_eq!(s.subprograms[MAIN].instructions[4].in1, 4, "reads h, the value just before");
    assert_eq!(
        Mutation::Swap { subprogram: MAIN, first: 4, second: 5 }.describe(&t),
        "swap main.n2 = CALL norm(h) (line 15) and main.up = DENSE(n2, ffn) (line 16)"
    );
}

#[test]
fn re_mutation_is_bounded_and_counted() {
    let m = mutator();
    let t = program("transformer.prim");
    // Everything is already in the campaign: no child is acceptable.
    let err = m.child(&mut rng_for(0, 0), &t, &canonical_hash(&t), &|_| true).unwrap_err();
    assert_eq!(err.tries, m.max_tries);
    assert_eq!(err.rejected.total(), m.max_tries);
    assert!(err.rejected.duplicate > 0 && err.rejected.duplicate < m.max_tries, "{err}");
}

#[test]
fn describes_field_and_bank_changes_in_words() {
    use primer_evolve::mutation::{BankChange, FieldValue};
    let t = program("transformer.prim");
    let op = Mutation::MutateField { subprogram: MAIN, position: 7, value: FieldValue::Op(primer_dsl::Op::Min) };
    assert_eq!(op.describe(&t), "change the op of main.relu (line 18) from MAX to MIN");
    let dim = Mutation::MutateField { subprogram: MAIN, position: 5, value: FieldValue::Dim(0) };
    assert_eq!(dim.describe(&t), "change the dim of main.up (line 16) from ffn (32) to model (8)");
    let bank = Mutation::MutateBank { change: BankChange::Constant { index: 2, value: 0.3 } };
    assert_eq!(bank.describe(&t), "change bank constant attn_scale from rsqrt(head) to 0.3");
    // Given a value, the derived constant becomes that value.
    let changed = bank.apply(&t);
    assert_eq!((changed.bank.constants[2].value, changed.bank.constants[2].rsqrt_of), (0.3, None));
    let eps = Mutation::MutateBank { change: BankChange::Constant { index: 0, value: 0.3 } };
    assert_eq!(eps.describe(&t), "change bank constant eps from 0.00001 to 0.3");
}
