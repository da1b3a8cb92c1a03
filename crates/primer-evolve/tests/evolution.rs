//! Regularized evolution on a synthetic fitness (no training; `common::synthetic_loss`, the
//! target's instruction signatures a program lacks, optimum 0 at Primer-EZ): it finds the optimum
//! reliably across seeds and beats random search at equal evaluations; the same seed and the
//! same order of results give the same children, bit for bit.

mod common;

use std::collections::{HashMap, HashSet};

use common::*;
use primer_dsl::analysis::canonical_hash;
use primer_dsl::{Program, ProgramHash};
use primer_evolve::{Evolver, Finished, Parent, RegularizedEvolution, Strategy};

fn evolver(seed: u64) -> Evolver {
    Evolver {
        evolution: RegularizedEvolution {
            population_size: 100,
            tournament_size: 10,
            full_first: true,
            objective: primer_evolve::Objective::Loss,
        },
        mutator: primer_evolve::Mutator::new(small_space(), config(), 100),
        seeds: vec![program("transformer.prim")],
        seed,
        max_parents: 10,
        strategy: Strategy::Evolution,
    }
}

/// A serial campaign on the synthetic fitness: returns the best loss and the evaluations it
/// took to reach 0 (if it did), and every child's (parent, hash, mutation JSON) in birth order.
fn evolve(
    seed: u64,
    evaluations: u64,
    stop_at_optimum: bool,
) -> (f64, Option<u64>, Vec<(Parent, ProgramHash, String)>) {
    let e = evolver(seed);
    let target = program("primer_ez.prim");
    let mut history: Vec<Finished> = Vec::new();
    let mut programs: HashMap<u64, Program> = HashMap::new();
    let mut seen: HashSet<ProgramHash> = HashSet::from([canonical_hash(&e.seeds[0])]);
    // The seed itself is candidate 0.
    history.push(Finished {
        candidate: 0,
        birth: 0,
        fitness: synthetic_loss(&e.seeds[0], &program("primer_ez.prim")),
        cost: 0.0,
    });
    programs.insert(0, e.seeds[0].clone());
    let (mut best, mut reached, mut log) = (f64::INFINITY, None, Vec::new());
    for birth in 1..=evaluations {
        let proposal = e.propose(birth, &history, &|c| programs[&c].clone(), &|h| seen.contains(h)).unwrap();
        let fitness = synthetic_loss(&proposal.child.program, &target);
        seen.insert(proposal.child.hash);
        log.push((proposal.parent, proposal.child.hash, serde_json::to_string(&proposal.child.mutation).unwrap()));
        programs.insert(birth, proposal.child.program);
        history.push(Finished { candidate: birth, birth, fitness, cost: 0.0 });
        best = best.min(fitness);
        if fitness == 0.0 && reached.is_none() {
            reached = Some(birth);
            if stop_at_optimum {
                break;
            }
        }
    }
    (best, reached, log)
}

/// Random search as campaigns run it (`strategy = "random"`): each candidate is the seed after
/// 1 to 8 random mutations (uniform), new to the campaign, evaluated independently.
fn random_search(seed: u64, evaluations: u64) -> f64 {
    let e = Evolver { strategy: Strategy::Random { max_mutations: 8 }, ..evolver(seed) };
    let target = program("primer_ez.prim");
    let mut seen: HashSet<ProgramHash> = HashSet::from([canonical_hash(&e.seeds[0])]);
    let mut best = f64::INFINITY;
    for birth in 1..evaluations {
        let p = e
            .propose(birth, &[], &|_| unreachable!("random search reads no population"), &|h| seen.contains(h))
            .unwrap();
        assert_eq!(p.parent, Parent::Seed(0));
        assert!((1..=8).contains(&p.mutations.len()));
        assert_eq!(p.mutations.last(), Some(&p.child.mutation));
        // The mutations replay from the seed to the child.
        let replayed =
            p.mutations.iter().fold(e.seeds[0].clone(), |q, m| primer_dsl::analysis::eliminate_dead_code(&m.apply(&q)));
        assert_eq!(canonical_hash(&replayed), p.child.hash);
        seen.insert(p.child.hash);
        best = best.min(synthetic_loss(&p.child.program, &target));
    }
    best
}

#[test]
fn evolution_finds_the_optimum_and_beats_random_search() {
    let evaluations = 20_000;
    // One thread per seed (the machine has two cores; every seed is independent).
    let results: Vec<((f64, Option<u64>), f64)> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..6u64)
            .map(|seed| {
                scope.spawn(move || {
                    let (best, reached, _) = evolve(seed, evaluations, true);
                    ((best, reached), random_search(seed, evaluations))
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let (evo, rs): (Vec<(f64, Option<u64>)>, Vec<f64>) = results.into_iter().unzip();
    println!(
        "evolution (P=100, S=10), up to {evaluations} evaluations: (best loss, evaluations to reach 0) per seed: {evo:?}"
    );
    println!("random search, {evaluations} evaluations: best loss per seed: {rs:?}");
    let found = evo.iter().filter(|(b, _)| *b == 0.0).count();
    // Measured (deterministic: seeded, integer losses): with a full first population (100
    // one-mutation mutants of the seed before the first tournament) 4 of 6 seeds reach 0, after
    // 4,925 to 14,818 evaluations; the other two end 1 and 2 mutations away. (Before the seeds'
    // attention scale became `rsqrt(head)`, which bank mutations do not change by value, the
    // draws differed: 4 of 6 reached 0 after 3,918 to 7,357, the others ended at 1.) Random
    // search's best is 5 for every seed: every evolution run ends closer than any of them.
    assert!(found >= 4, "evolution reached the optimum for {found} of 6 seeds");
    let worst = evo.iter().map(|(b, _)| *b).fold(0.0, f64::max);
    let best_random = rs.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(worst < best_random, "an evolution run ended no closer than random search: {evo:?} against {rs:?}");
    assert!(rs.iter().all(|&r| r >= 3.0), "random search came close: {rs:?}");
}

#[test]
fn same_seed_and_results_give_the_same_children_bit_for_bit() {
    let (_, _, a) = evolve(3, 300, false);
    let (_, _, b) = evolve(3, 300, false);
    assert_eq!(a, b);
    let (_, _, c) = evolve(4, 300, false);
    assert_ne!(a, c);
}

/// Results arriving out of order: the children depend on which results are in the history at
/// each proposal, not on the order they arrived in.
#[test]
fn children_depend_on_the_history_not_on_arrival_order() {
    // Tournaments from the first member on, so that nine finished candidates already select.
    let mut e = evolver(9);
    e.evolution.full_first = false;
    let t = e.seeds[0].clone();
    let mut programs: HashMap<u64, Program> = HashMap::from([(0, t.clone())]);
    let mut history = vec![Finished {
        candidate: 0,
        birth: 0,
        fitness: synthetic_loss(&program("transformer.prim"), &program("primer_ez.prim")),
        cost: 0.0,
    }];
    // Eight children of the seed, finished with made-up losses.
    for birth in 1..=8 {
        let p = e.propose(birth, &history[..1], &|c| programs[&c].clone(), &|_| false).unwrap();
        programs.insert(birth, p.child.program);
        history.push(Finished { candidate: birth, birth, fitness: 4.0 - (birth % 3) as f64, cost: 0.0 });
    }
    let mut shuffled = history.clone();
    shuffled.reverse();
    shuffled.swap(1, 5);
    for birth in 9..20 {
        let a = e.propose(birth, &history, &|c| programs[&c].clone(), &|_| false).unwrap();
        let b = e.propose(birth, &shuffled, &|c| programs[&c].clone(), &|_| false).unwrap();
        assert_eq!((a.parent, &a.child.program, &a.child.mutation), (b.parent, &b.child.program, &b.child.mutation));
    }
}
