//! The docs stay true to the code: every relative link in README.md, docs/ and
//! experiments/README.md reaches a file (and a heading, for `file.md#anchor`), and every
//! `primer` command line they quote names real subcommands and flags, checked against primer's
//! own parser.

use std::path::PathBuf;

use clap::CommandFactory;

mod common;
use common::root;

/// README.md, every docs/*.md and experiments/README.md.
fn documents() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    assert!(docs.len() >= 6, "{docs:?}");
    docs.insert(0, root().join("README.md"));
    docs.push(root().join("experiments/README.md"));
    docs
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a Markdown file's headings (outside code blocks).
fn anchors(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// (line, target) of every Markdown link `[text](target)` and image.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(j) = after.find(')') else { break };
            out.push((n + 1, after[..j].to_string()));
            rest = &after[j..];
        }
    }
    out
}

#[test]
fn every_relative_link_reaches_a_file_and_a_heading() {
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let here = doc.parent().unwrap();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            let (path, anchor) = target.split_once('#').map_or((target.as_str(), None), |(p, a)| (p, Some(a)));
            let file = if path.is_empty() { doc.clone() } else { here.join(path) };
            let at = format!("{}:{line}: `{target}`", doc.display());
            assert!(file.exists(), "{at}: {} does not exist", file.display());
            if let Some(anchor) = anchor {
                let heads = anchors(&std::fs::read_to_string(&file).unwrap());
                assert!(heads.iter().any(|h| h == anchor), "{at}: no heading with that anchor in {}", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links: is the parser broken?");
}

/// Every `primer ...` command line the documents quote: in code spans and in code blocks (a
/// line ending in `\` continues), from `primer` up to a comment or the span's end.
fn quoted_commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    let mut pending: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            let code = line.split(" #").next().unwrap_or("").trim_end();
            if let Some((at, mut so_far)) = pending.take() {
                so_far.push(' ');
                so_far.push_str(code.trim_end_matches('\\').trim());
                if code.ends_with('\\') {
                    pending = Some((at, so_far));
                } else {
                    out.push((at, so_far));
                }
                continue;
            }
            let code = code.trim_start();
            if code.starts_with("primer ") {
                if code.ends_with('\\') {
                    pending = Some((n + 1, code.trim_end_matches('\\').trim().to_string()));
                } else {
                    out.push((n + 1, code.to_string()));
                }
            }
            continue;
        }
        for (k, span) in line.split('`').enumerate() {
            if k % 2 == 1 && span.starts_with("primer ") {
                out.push((n + 1, span.to_string()));
            }
        }
    }
    out
}

/// Checks one quoted command against the parser: its subcommands exist, and so does every flag
/// it names (`--flag`, `--flag=value`, `-k`), wherever it appears (also inside `[...]`).
fn check_command(cli: &clap::Command, line: &str) -> Result<(), String> {
    let words: Vec<&str> = line.split_whitespace().skip(1).collect();
    // `primer COMMAND --help`: a placeholder for any command.
    if words.first().is_some_and(|w| w.chars().all(|c| c.is_ascii_uppercase())) {
        return Ok(());
    }
    let mut command = cli.clone();
    let mut path = vec!["primer".to_string()];
    let mut rest = &words[..];
    while let Some((first, tail)) = rest.split_first() {
        match command.find_subcommand(first) {
            Some(sub) => {
                path.push(first.to_string());
                command = sub.clone();
                rest = tail;
            }
            None => break,
        }
    }
    if path.len() == 1 {
        return Err(format!("`{}` is not a primer command", words.first().unwrap_or(&"")));
    }
    // A group named alone (`primer bench` in prose) is fine; with words after it, they must
    // start with one of its subcommands.
    if command.has_subcommands() && !rest.is_empty() {
        return Err(format!("`{}` has no subcommand `{}`", path.join(" "), rest[0]));
    }
    for word in rest {
        let word = word.trim_start_matches(['[', '(']);
        let flag: String = word.chars().take_while(|c| c.is_alphanumeric() || *c == '-').collect();
        let known = if let Some(long) = flag.strip_prefix("--") {
            long.is_empty() || long == "help" || command.get_arguments().any(|a| a.get_long() == Some(long))
        } else if let Some(short) = flag.strip_prefix('-').filter(|s| s.len() == 1) {
            let c = short.chars().next().unwrap();
            c == 'h' || command.get_arguments().any(|a| a.get_short() == Some(c))
        } else {
            true
        };
        if !known {
            return Err(format!("`{}` has no flag `{flag}`", path.join(" ")));
        }
    }
    Ok(())
}

#[test]
fn docs_quote_only_commands_and_flags_that_parse() {
    let cli = primer_cli::commands::Cli::command();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for doc in documents() {
        for (line, command) in quoted_commands(&std::fs::read_to_string(&doc).unwrap()) {
            if let Err(e) = check_command(&cli, &command) {
                wrong.push(format!("{}:{line}: {e}: {command}", doc.display()));
            }
            checked += 1;
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(checked > 40, "only {checked} commands: is the extractor broken?");
}

#[test]
fn the_checker_catches_what_it_must() {
    let cli = primer_cli::commands::Cli::command();
    assert!(check_command(&cli, "primer top demo -k 5 --db sqlite://x.db").is_ok());
    assert!(check_command(&cli, "primer launch slurm C.toml --workers 4 [--dry-run]").is_ok());
    assert!(check_command(&cli, "primer top demo --nope").unwrap_err().contains("no flag `--nope`"));
    assert!(check_command(&cli, "primer frobnicate x").unwrap_err().contains("not a primer command"));
    assert!(check_command(&cli, "primer top demo -q").is_err());
    assert!(check_command(&cli, "primer bench frob").unwrap_err().contains("no subcommand `frob`"));
    assert!(check_command(&cli, "primer bench").is_ok() && check_command(&cli, "primer COMMAND --help").is_ok());
    let quoted = quoted_commands("a `primer top x --db y` b\n```bash\nprimer show 1 \\\n    --format json  # c\n```\n");
    assert_eq!(quoted, [(1, "primer top x --db y".to_string()), (3, "primer show 1 --format json".to_string())]);
    assert_eq!(slug("The `primer` command"), "the-primer-command");
    assert_eq!(slug("Set-up"), "set-up");
}
