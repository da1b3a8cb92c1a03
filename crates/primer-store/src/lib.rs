//! primer-store: the only crate that speaks SQL (sqlx): SQLite by default, PostgreSQL for
//! campaigns on many machines.
//!
//! Not written yet (issue 6): this crate is an empty member of the workspace so that the
//! layout and dependency arrows of `../shared/DESIGN.md` hold from the start.
