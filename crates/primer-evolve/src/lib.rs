//! primer-evolve: mutations, regularized evolution, halving hurdles and duplicate detection
//! over `primer-dsl` programs, deterministic from a seed, with no I/O.
//!
//! Not written yet (issue 5): this crate is an empty member of the workspace so that the
//! layout and dependency arrows of `../shared/DESIGN.md` hold from the start.
