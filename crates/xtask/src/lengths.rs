//! The function-length rule `cargo xtask test` checks (and `cargo xtask imports` prints with the
//! import rule): no function outside tests is longer than [`MAX_LINES`] lines, from its `fn`
//! line to its closing brace. A file's tests are what follows its first `#[cfg(test)]`;
//! comments, strings and character literals are left out when braces are counted.

use std::path::Path;

/// The longest a function outside tests may be.
pub const MAX_LINES: usize = 120;

/// The source with comments, string literals (raw ones too) and character literals replaced by
/// spaces, newlines kept: line numbers stay, braces inside text do not count.
fn masked(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to.min(b.len())] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let mut i = 0;
    while i < b.len() {
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            let end = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = src[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 2);
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'r' && !ident_before && matches!(b.get(i + 1), Some(b'"' | b'#')) {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let close = format!("\"{}", "#".repeat(hashes));
            let start = i + 2 + hashes;
            let end = src[start..].find(&close).map_or(b.len(), |p| start + p + close.len());
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            let end = b[i + 2..].iter().position(|&c| c == b'\'').map_or(b.len(), |p| i + 2 + p + 1);
            blank(&mut out, i, end);
            i = end;
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            blank(&mut out, i, i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The name a line declares a function by (`pub async fn name(`, `fn name<T>(`), if it does.
fn declares(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.next() {
        match w {
            "pub" | "async" | "const" | "unsafe" | "extern" | "default" => continue,
            w if w.starts_with("pub(") => continue,
            "fn" => {
                let name = words.next()?;
                let end = name.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(name.len());
                return (end > 0).then_some(&name[..end]);
            }
            _ => return None,
        }
    }
    None
}

/// The functions of one file, outside its tests, longer than `max` lines: (name, first line, lines).
pub fn long_functions(src: &str, max: usize) -> Vec<(String, usize, usize)> {
    let code = masked(src);
    let lines: Vec<&str> = code.lines().collect();
    let end = lines.iter().position(|l| l.trim() == "#[cfg(test)]").unwrap_or(lines.len());
    let mut out = Vec::new();
    let mut i = 0;
    while i < end {
        let Some(name) = declares(lines[i]) else {
            i += 1;
            continue;
        };
        let (mut depth, mut opened, mut j) = (0i64, false, i);
        'scan: while j < lines.len() {
            for c in lines[j].chars() {
                match c {
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth -= 1,
                    ';' if !opened => break 'scan,
                    _ => {}
                }
                if opened && depth == 0 {
                    break 'scan;
                }
            }
            j += 1;
        }
        let n = j - i + 1;
        if opened && n > max {
            out.push((name.to_string(), i + 1, n));
        }
        i += 1;
    }
    out
}

/// Every function of the workspace's crates over [`MAX_LINES`], said whole.
pub fn violations(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs = vec![root.join("crates")];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "tests" && n != "target") {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && p.components().any(|c| c.as_os_str() == "src") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).unwrap_or_default();
        for (name, line, n) in long_functions(&src, MAX_LINES) {
            let at = f.strip_prefix(root).unwrap_or(&f).display().to_string();
            out.push(format!("{at}:{line}: fn {name} is {n} lines (at most {MAX_LINES} outside tests: split it)"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_function_is_measured_from_fn_to_its_closing_brace_braces_in_text_left_out() {
        let src = "pub async fn short() {\n    let s = \"}}}\";\n    let c = '{';\n}\n\nfn long<'a>(x: &'a str) -> usize {\n    // }\n    let r = r#\"{\"#;\n    /* { */\n    1\n}\ntrait T {\n    fn declared(&self);\n}\n";
        assert_eq!(long_functions(src, 4), vec![("long".to_string(), 6, 6)]);
        assert_eq!(long_functions(src, 6), vec![]);
        assert_eq!(
            long_functions(src, 1).iter().map(|f| (f.0.as_str(), f.2)).collect::<Vec<_>>(),
            [("short", 4), ("long", 6)]
        );
    }

    #[test]
    fn tests_are_not_measured() {
        let body = "    x();\n".repeat(10);
        let src = format!("fn kept() {{\n{body}}}\n#[cfg(test)]\nmod tests {{\n    fn helper() {{\n{body}    }}\n}}\n");
        assert_eq!(long_functions(&src, 5), vec![("kept".to_string(), 1, 12)]);
    }
}
