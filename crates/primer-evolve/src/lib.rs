//! primer-evolve: mutations, regularized evolution, halving hurdles and duplicate detection
//! over `primer-dsl` programs, deterministic from a seed, with no I/O.
//!
//! Written so far: [`hurdles`] (the paper's halving hurdles). Mutations, regularized evolution
//! and duplicate detection follow (issue 5).
//!
//! ```
//! use primer_evolve::hurdles::HalvingHurdles;
//! let h = HalvingHurdles { hurdles: 4, min_predecessors: 1 };
//! let at: Vec<f64> = h.checkpoints(25_200.0);
//! assert_eq!(at.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>(), ["812.9", "2438.7", "5690.3", "12193.5"]);
//! ```

pub mod hurdles;
