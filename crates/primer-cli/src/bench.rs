//! `primer bench dsl` and `primer bench evolve`: throughput of the pure-Rust parts (the
//! training benchmark, `bench train`, is the engine's).

use std::path::Path;
use std::time::Instant;

use anyhow::Result;
use primer_dsl::ModelConfig;
use primer_dsl::analysis::canonical_hash;
use primer_dsl::validate::validate;

use primer_campaign::disturbance::{Spread, Watch};
use primer_campaign::paths;

/// Rounds each figure is measured in (its median is reported, with the spread).
const ROUNDS: usize = 5;
use primer_campaign::resolve::load_program;

/// `primer bench dsl`: parse, validate and hash throughput on one thread.
pub fn bench_dsl(file: Option<&Path>, seconds: f64) -> Result<()> {
    let path = file.map(Path::to_path_buf).unwrap_or_else(|| paths::programs_dir().join("transformer.prim"));
    let text = std::fs::read_to_string(&path)?;
    let config = ModelConfig::default();
    let name = path.display().to_string();
    let p = primer_dsl::text::parse(&text, &name)?;
    let watch = Watch::start();
    // Each stage in ROUNDS rounds of seconds / ROUNDS: the median round, and the spread.
    let measure = |label: &str, f: &mut dyn FnMut() -> usize| -> f64 {
        let rates: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let start = Instant::now();
                let mut n = 0usize;
                while start.elapsed().as_secs_f64() < seconds / ROUNDS as f64 {
                    for _ in 0..64 {
                        std::hint::black_box(f());
                    }
                    n += 64;
                }
                n as f64 / start.elapsed().as_secs_f64()
            })
            .collect();
        let s = Spread::of(&rates);
        println!(
            "{label:<34} {:>12.0} programs/s  ({:.2} µs each; rounds {:.0}-{:.0})",
            s.median,
            1e6 / s.median,
            s.min,
            s.max
        );
        s.median
    };
    println!("bench dsl: {name} ({} instructions), d_model {}, one thread", p.num_instructions(), config.d_model);
    measure("parse", &mut || primer_dsl::text::parse(&text, &name).map(|p| p.subprograms.len()).unwrap_or(0));
    measure("validate (shapes, params, FLOPs)", &mut || validate(&p, &config).map(|v| v.instances.len()).unwrap_or(0));
    measure("canonical hash", &mut || canonical_hash(&p).0[0] as usize);
    let all = measure("parse + validate + hash", &mut || {
        let p = primer_dsl::text::parse(&text, &name).expect("parsed above");
        let v = validate(&p, &config).map(|v| v.instances.len()).unwrap_or(0);
        v + canonical_hash(&p).0[0] as usize
    });
    println!("=> {all:.0} programs per second per core (median of {ROUNDS} rounds)");
    watch.verdict().print();
    Ok(())
}

/// `primer bench evolve`: children per second per core, each one mutation (re-drawn while
/// invalid or unchanged), dead-code removal, validation, canonical hash and description.
pub fn bench_evolve(file: Option<&Path>, space: Option<&Path>, seconds: f64) -> Result<()> {
    use primer_evolve::{Mutator, evolution::rng_for};
    let path = file.map(Path::to_path_buf).unwrap_or_else(|| paths::programs_dir().join("transformer.prim"));
    let space_path = space.map(Path::to_path_buf).unwrap_or_else(|| paths::search_spaces_dir().join("primer-cpu.toml"));
    let (p, _) = load_program(&path)?;
    let space = primer_dsl::SearchSpace::load(&space_path)?;
    let config = ModelConfig::default();
    let mutator = Mutator::new(space, config, 100);
    let hash = canonical_hash(&p);
    println!(
        "bench evolve: children of {} ({} instructions) in {}, d_model {}, one thread",
        path.display(),
        p.num_instructions(),
        space_path.display(),
        config.d_model
    );
    let watch = Watch::start();
    let start = Instant::now();
    let (mut n, mut drawn) = (0u64, 0u64);
    let mut rates = Vec::new();
    for _ in 0..ROUNDS {
        let (round, before) = (Instant::now(), n);
        while round.elapsed().as_secs_f64() < seconds / ROUNDS as f64 {
            for _ in 0..64 {
                let child = mutator.child(&mut rng_for(0, n), &p, &hash, &|_| false)?;
                drawn += 1 + child.rejected.total() as u64;
                std::hint::black_box(child);
                n += 1;
            }
        }
        rates.push((n - before) as f64 / round.elapsed().as_secs_f64());
    }
    let secs = start.elapsed().as_secs_f64();
    let s = Spread::of(&rates);
    println!("children accepted      {n:>10} in {secs:.2} s");
    println!("mutations drawn        {drawn:>10} ({:.2} per accepted child)", drawn as f64 / n as f64);
    println!(
        "=> {:.0} children per second per core ({:.1} µs each; median of {ROUNDS} rounds, {:.0}-{:.0}; target > 10,000)",
        s.median,
        1e6 / s.median,
        s.min,
        s.max
    );
    watch.verdict().print();
    Ok(())
}
