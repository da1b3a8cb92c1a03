//! Records the workspace root so the binaries find the set-up folders and the default corpus,
//! and the LIBTORCH folder the engine was built against (`primer doctor` reports it). `primer`
//! itself never links libtorch: that is `primer-engine` (crates/primer-engine).

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf();
    println!("cargo:rustc-env=PRIMER_WORKSPACE_ROOT={}", root.display());
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let libtorch = std::env::var("LIBTORCH").unwrap_or_else(|_| root.join(".libtorch").display().to_string());
    println!("cargo:rustc-env=PRIMER_LIBTORCH_DIR={libtorch}");
}
