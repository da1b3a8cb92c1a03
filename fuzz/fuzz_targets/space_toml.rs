//! Search-space files: parsing and checking never panic; errors name the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Err(e) = primer_dsl::SearchSpace::from_toml(s, "fuzz.toml") {
        assert_eq!(e.file, "fuzz.toml");
    }
});
