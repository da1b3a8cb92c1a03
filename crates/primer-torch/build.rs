//! Embeds libtorch's RUNPATH (and keeps libtorch_cuda for CUDA builds) for this crate's tests.
include!("link_libtorch.rs");

fn main() {
    link_libtorch("rustc-link-arg");
}
