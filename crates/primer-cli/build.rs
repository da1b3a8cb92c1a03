//! Embeds libtorch's RUNPATH (and keeps libtorch_cuda for CUDA builds) for `primer-engine`, and
//! records the workspace root so the binaries find the set-up folders and the default corpus.
include!("../primer-torch/link_libtorch.rs");

fn main() {
    // Only the engine links libtorch; `primer` itself must start without it.
    link_libtorch("rustc-link-arg-bin=primer-engine");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).unwrap().to_path_buf();
    println!("cargo:rustc-env=PRIMER_WORKSPACE_ROOT={}", root.display());
    let libtorch = std::env::var("LIBTORCH").unwrap_or_else(|_| root.join(".libtorch").display().to_string());
    println!("cargo:rustc-env=PRIMER_LIBTORCH_DIR={libtorch}");
}

