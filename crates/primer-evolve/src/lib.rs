//! primer-evolve: the search engine over `primer-dsl` programs, pure and deterministic from a
//! seed, with no I/O and no clock, so it can be tested exhaustively without training anything.
//!
//! - [`mutation`]: the paper's six mutations ([`Mutation`]), drawn by a [`Mutator`] from a
//!   search space, replayable, described in words; invalid, unchanged and already-seen children
//!   are re-mutated (bounded, counted).
//! - [`evolution`]: regularized evolution from the history of finished candidates
//!   (steady state, asynchronous), and [`Evolver::propose`], the whole proposal step.
//! - [`hurdles`]: the paper's halving hurdles (equal-compute checkpoints, median rule).
//! - [`dedup`]: the functional-equivalence cache ([`FecCache`]) and its replay over a campaign.
//!
//! ```
//! use primer_dsl::{ModelConfig, SearchSpace, analysis::canonical_hash, text};
//! use primer_evolve::{Mutator, evolution::rng_for};
//! let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../search-spaces");
//! let space = SearchSpace::load(format!("{root}/primer-cpu.toml").as_ref()).unwrap();
//! let seed = text::parse_file(format!("{root}/programs/transformer.prim").as_ref()).unwrap();
//! let mutator = Mutator::new(space, ModelConfig::default(), 100);
//! let child = mutator.child(&mut rng_for(42, 1), &seed, &canonical_hash(&seed), &|_| false).unwrap();
//! assert_ne!(child.hash, canonical_hash(&seed));
//! println!("{}", child.description); // e.g. "delete main.z = CONSTANT(zero) (line 19)"
//! ```

pub mod dedup;
pub mod evolution;
pub mod hurdles;
pub mod mutation;

pub use dedup::{FecCache, FecDecision};
pub use evolution::{Evolver, Finished, Objective, Parent, Proposal, RegularizedEvolution, Strategy, pareto_ranks};
pub use hurdles::HalvingHurdles;
pub use mutation::{Child, Mutation, MutationKind, Mutator, NoChild, Rejections};
