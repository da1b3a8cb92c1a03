// Link settings for every package that produces binaries or tests linked against libtorch.
// Included by crates/primer-torch/build.rs and crates/primer-cli/build.rs (a build script's
// link arguments reach only its own package's targets, so each such package runs this).
//
// - Embeds the folder that really holds libtorch_cpu.so (the symlinks of the LIBTORCH folder
//   resolved) as the RUNPATH, so binaries run without LD_LIBRARY_PATH, and libtorch's own
//   `$ORIGIN`-relative RUNPATH finds the CUDA libraries of the wheel next to it.
//   DEP_TCH_LIBTORCH_LIB comes from torch-sys (`links = "tch"`) to its direct dependents.
// - For the CUDA variant of the LIBTORCH folder (`cargo xtask setup --cuda`), keeps
//   libtorch_cuda as NEEDED: no symbol of it is used directly, so `--as-needed` drops it and
//   CUDA would silently be unavailable.
// - Exposes the lib folder and the header version to the code (PRIMER_LIBTORCH_LIB,
//   PRIMER_LIBTORCH_HEADER_VERSION).

//
// `link_arg` is the cargo instruction the link arguments go to: `rustc-link-arg` for every
// target of the package, `rustc-link-arg-bin=NAME` for one binary.
fn link_libtorch(link_arg: &str) {
    use std::path::Path;
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!("cargo:warning=DEP_TCH_LIBTORCH_LIB is not set: no rpath embedded");
        return;
    };
    let real = std::fs::canonicalize(Path::new(&lib).join("libtorch_cpu.so"))
        .ok()
        .and_then(|f| f.parent().map(|d| d.display().to_string()))
        .unwrap_or_else(|| lib.clone());
    println!("cargo:{link_arg}=-Wl,-rpath,{real}");
    println!("cargo:rustc-env=PRIMER_LIBTORCH_LIB={real}");
    let root = Path::new(&lib).parent().expect("lib folder has a parent");
    let variant_file = root.join("VARIANT");
    println!("cargo:rerun-if-changed={}", variant_file.display());
    let variant = std::fs::read_to_string(&variant_file).unwrap_or_default();
    if variant.trim() == "cuda" && Path::new(&lib).join("libtorch_cuda.so").exists() {
        println!("cargo:{link_arg}=-Wl,--no-as-needed");
        println!("cargo:{link_arg}=-L{lib}");
        println!("cargo:{link_arg}=-ltorch_cuda");
        println!("cargo:{link_arg}=-Wl,--as-needed");
    }
    let header = root.join("include/torch/headeronly/version.h");
    println!("cargo:rerun-if-changed={}", header.display());
    let text = std::fs::read_to_string(&header).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(&format!("#define {name} ")).map(|v| v.trim().to_string()))
            .unwrap_or_else(|| "?".into())
    };
    let version = format!(
        "{}.{}.{}",
        field("TORCH_VERSION_MAJOR"),
        field("TORCH_VERSION_MINOR"),
        field("TORCH_VERSION_PATCH")
    );
    println!("cargo:rustc-env=PRIMER_LIBTORCH_HEADER_VERSION={version}");
}
