//! Where primer finds its set-up folders, engine, corpus and store (each overridable by env).

use std::path::PathBuf;

use crate::pins;

/// The workspace this binary was built from (where `cargo xtask setup` put things).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("PRIMER_WORKSPACE_ROOT"))
}

/// The LIBTORCH folder: `$PRIMER_LIBTORCH`, else the one the build used.
pub fn libtorch_dir() -> PathBuf {
    std::env::var_os("PRIMER_LIBTORCH").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("PRIMER_LIBTORCH_DIR")))
}

/// The default corpus: `$PRIMER_CORPUS`, else the file `cargo xtask setup` fetched.
pub fn default_corpus() -> PathBuf {
    std::env::var_os("PRIMER_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(pins::CORPUS_DIR).join(pins::CORPUS_FILE))
}

/// Whether the corpus in use is the pinned default (so its checksum must match).
pub fn corpus_is_pinned_default() -> bool {
    std::env::var_os("PRIMER_CORPUS").is_none()
}

/// The default store URL: `$PRIMER_DB`, else `sqlite://primer.db` in the current folder.
pub fn default_store_url() -> String {
    std::env::var("PRIMER_DB").unwrap_or_else(|_| "sqlite://primer.db".into())
}

/// The `primer-engine` executable: `$PRIMER_ENGINE`, else next to the running executable.
pub fn engine_exe() -> PathBuf {
    if let Some(p) = std::env::var_os("PRIMER_ENGINE") {
        return PathBuf::from(p);
    }
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("primer"));
    me.with_file_name("primer-engine")
}

/// The one command that installs what set-up provides.
pub fn setup_hint() -> String {
    format!("cd {} && cargo xtask setup", workspace_root().display())
}

/// The shipped search spaces and reference programs.
pub fn search_spaces_dir() -> PathBuf {
    workspace_root().join("search-spaces")
}

/// The reference programs (`transformer.prim`, `primer_ez.prim`, `primer.prim`).
pub fn programs_dir() -> PathBuf {
    search_spaces_dir().join("programs")
}
