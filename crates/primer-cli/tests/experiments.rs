//! Every table and plot of experiments/README.md that a render script makes is rebuilt from
//! committed files alone (campaign archives, configs; no store): each `experiments/*/render.sh`
//! runs into an empty folder with this build's `primer`, what it writes equals what is
//! committed beside it byte for byte, and every text file it writes is quoted verbatim in
//! experiments/README.md.

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::root;

fn render(folder: &Path, out: &Path) {
    let script = folder.join("render.sh");
    let run = Command::new("bash").arg(&script).arg(out).env("PRIMER", env!("CARGO_BIN_EXE_primer")).output().unwrap();
    assert!(
        run.status.success(),
        "{}: {}{}",
        script.display(),
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
}

#[test]
fn every_render_script_rebuilds_its_committed_files() {
    let experiments = root().join("experiments");
    let readme = std::fs::read_to_string(experiments.join("README.md")).unwrap();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&experiments)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("render.sh").is_file())
        .collect();
    folders.sort();
    let names: Vec<String> = folders.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&"evolution-vs-random".to_string()), "{names:?}");
    let scratch = std::env::temp_dir().join(format!("primer-render-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    for (folder, name) in folders.iter().zip(&names) {
        let out = scratch.join(name);
        render(folder, &out);
        let mut written: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
        written.sort();
        assert!(!written.is_empty(), "{name}: render.sh wrote nothing");
        for file in written {
            let file_name = file.file_name().unwrap();
            let committed = folder.join(file_name);
            let (made, kept) = (std::fs::read(&file).unwrap(), std::fs::read(&committed));
            assert!(
                kept.as_ref().is_ok_and(|k| *k == made),
                "{name}/{}: the committed file is missing or differs from what render.sh makes from the archives",
                file_name.to_string_lossy()
            );
            if file.extension().is_some_and(|e| e == "txt") {
                let text = String::from_utf8(made).unwrap();
                assert!(
                    readme.contains(text.trim_end()),
                    "experiments/README.md does not quote {name}/{} as rendered",
                    file_name.to_string_lossy()
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

/// The winners' comparison (`rediscover-bpe/compare.sh`, hours of training, so not rerun here)
/// is quoted in experiments/README.md as the committed output says, and names no folder of the
/// machine it ran on.
#[test]
fn the_winners_comparison_is_quoted_as_committed() {
    let here = root().join("experiments/rediscover-bpe");
    let readme = std::fs::read_to_string(root().join("experiments/README.md")).unwrap();
    for corpus in ["shakespeare", "moby-dick"] {
        let text = std::fs::read_to_string(here.join(format!("compare-{corpus}.txt"))).unwrap();
        assert!(text.lines().count() == 9 && text.contains("winner-rediscover-bpe-3.prim"), "{corpus}: {text}");
        assert!(readme.contains(text.trim_end()), "experiments/README.md does not quote compare-{corpus}.txt");
        assert!(
            text.contains(&format!("plot: experiments/rediscover-bpe/compare-{corpus}.svg\n")),
            "{corpus}: the plot's path is not relative to the checkout:\n{text}"
        );
        assert!(std::fs::read_to_string(here.join(format!("compare-{corpus}.svg"))).unwrap().contains("<polyline"));
    }
}
