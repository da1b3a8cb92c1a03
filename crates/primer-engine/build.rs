//! Embeds libtorch's RUNPATH (and keeps libtorch_cuda for CUDA builds) for `primer-engine`.
include!("../primer-torch/link_libtorch.rs");

fn main() {
    link_libtorch("rustc-link-arg-bins");
}
