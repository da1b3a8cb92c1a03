//! Campaign files: parsing never panics, and every error names the file, line and column.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    if let Err(e) = primer_cli::campaign::CampaignFile::parse(s, "fuzz.toml") {
        let m = e.to_string();
        assert!(m.starts_with("fuzz.toml:"), "an error that does not say where: {m}");
    }
});
