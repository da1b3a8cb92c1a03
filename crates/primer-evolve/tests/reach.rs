//! Reachability: from transformer.prim, squared ReLU is one mutation away and the three
//! depthwise convolutions of Primer-EZ three more; the sampler proposes each of these steps
//! with a measured, non-zero frequency.

mod common;

use common::*;
use primer_dsl::analysis::{canonical_hash, eliminate_dead_code};
use primer_evolve::evolution::rng_for;

#[test]
fn primer_ez_is_four_mutations_from_the_transformer() {
    let m = mutator();
    let mut p = program("transformer.prim");
    let descriptions: Vec<String> = [squared_relu(), dconv_q(), dconv_k(), dconv_v()]
        .iter()
        .map(|mutation| {
            let hash = canonical_hash(&p);
            let (child, _, _) = m.check(&p, &hash, mutation, &|_| false).expect("an acceptable child");
            let description = mutation.describe(&p);
            p = child;
            description
        })
        .collect();
    assert_eq!(canonical_hash(&p), canonical_hash(&program("primer_ez.prim")));
    assert_eq!(missing_features(&p), 0.0);
    assert_eq!(missing_features(&program("transformer.prim")), 4.0);
    // Descriptions name the value, the line of the parent as printed, and who now reads it.
    assert_eq!(descriptions[0], "insert sq = SQUARE(relu) after main.relu (line 18); main.down reads it");
    assert_eq!(
        descriptions[1],
        "insert q_conv = DCONV3(q) after attention_head.q (line 25); attention_head.logits reads it"
    );
    assert!(descriptions[2].starts_with("insert k_conv = DCONV3(k) after attention_head.k"), "{}", descriptions[2]);
    assert!(descriptions[3].ends_with("attention_head.mixed reads it"), "{}", descriptions[3]);
}

#[test]
fn squared_relu_is_one_mutation_and_so_is_each_first_convolution() {
    let t = program("transformer.prim");
    let m = mutator();
    for mutation in [squared_relu(), dconv_q(), dconv_k_first(), dconv_v_first()] {
        let (child, _, _) = m.check(&t, &canonical_hash(&t), &mutation, &|_| false).unwrap();
        assert_eq!(missing_features(&child), 3.0, "{}", mutation.describe(&t));
    }
}

/// Draws `n` children of `parent` and counts those equal to each target.
fn frequencies(parent: &primer_dsl::Program, targets: &[primer_dsl::ProgramHash], n: u64, seed: u64) -> Vec<u64> {
    let m = mutator();
    let hash = canonical_hash(parent);
    let mut counts = vec![0; targets.len()];
    for birth in 0..n {
        let child = m.child(&mut rng_for(seed, birth), parent, &hash, &|_| false).unwrap();
        if let Some(k) = targets.iter().position(|t| *t == child.hash) {
            counts[k] += 1;
        }
    }
    counts
}

#[test]
fn the_sampler_proposes_each_step_with_a_measured_frequency() {
    let n = 60_000;
    let t = program("transformer.prim");
    let targets: Vec<_> =
        [squared_relu(), dconv_q(), dconv_k_first(), dconv_v_first()].iter().map(|m| hash_after(&t, m)).collect();
    let counts = frequencies(&t, &targets, n, 11);
    println!(
        "from the Transformer, per {n} children: squared ReLU {}, DCONV3 on q {}, k {}, v {}",
        counts[0], counts[1], counts[2], counts[3]
    );
    for (what, c) in ["squared ReLU", "DCONV3 q", "DCONV3 k", "DCONV3 v"].iter().zip(&counts) {
        assert!(*c > 0, "{what} never proposed in {n} children");
    }
    // The later steps of the path, from the programs the path goes through.
    let q = eliminate_dead_code(&dconv_q().apply(&t));
    let qk = eliminate_dead_code(&dconv_k().apply(&q));
    let k_count = frequencies(&q, &[hash_after(&q, &dconv_k())], n, 12)[0];
    let v_count = frequencies(&qk, &[hash_after(&qk, &dconv_v())], n, 13)[0];
    println!("DCONV3 on k after q: {k_count}; on v after q and k: {v_count} (per {n})");
    assert!(k_count > 0 && v_count > 0);
}
