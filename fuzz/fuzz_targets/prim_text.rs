//! `.prim` text: parsing never panics; what parses prints and parses back to the same
//! program, and validation, the canonical hash and the cost model never panic on it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use primer_dsl::{ModelConfig, text};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(p) = text::parse(s, "fuzz.prim") else { return };
    let printed = text::print(&p);
    let again = text::parse(&printed, "printed.prim").expect("a printed program parses");
    assert_eq!(again, p, "print then parse changed the program");
    let model = ModelConfig { d_model: 16, seq_len: 8, n_layers: 1, vocab: 256 };
    if let Ok(v) = primer_dsl::validate::validate(&p, &model) {
        let _ = primer_dsl::analysis::canonical_hash(&p);
        let _ = primer_dsl::analysis::Cost::of(&v);
    }
});
