//! Program JSON (what the store holds and `primer check x.json` reads): reading never panics;
//! what reads writes back to JSON that reads as the same program, and prints as `.prim` text
//! that parses to it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use primer_dsl::{ModelConfig, text};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(p) = text::from_json(s, "fuzz.json") else { return };
    let model = ModelConfig { d_model: 16, seq_len: 8, n_layers: 1, vocab: 256 };
    // JSON can say what text cannot (names, shapes): only a valid program must round-trip.
    if primer_dsl::validate::validate(&p, &model).is_ok() {
        assert_eq!(text::from_json(&text::to_json(&p), "again.json").expect("written JSON reads"), p);
        let _ = primer_dsl::analysis::canonical_hash(&p);
        let _ = text::parse(&text::print(&p), "printed.prim");
    }
});
