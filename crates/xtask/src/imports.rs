//! The import rule `cargo xtask test` checks (and `cargo xtask imports` prints): inside each
//! crate, the top-level modules must not import each other in a circle, and no module under
//! `commands/` may import another command.
//!
//! A module's imports are the `crate::NAME` paths its files name (in `use` lines, braces
//! included, and inline), `super::NAME` from a file one level down, comments and string
//! literals left out; a top-level module is `src/NAME.rs` with everything under `src/NAME/`.
//! The crate root (`lib.rs`, `main.rs`) declares and re-exports modules and is not a node.
//! Cycles are the strongly connected components of more than one module (Tarjan's algorithm).
//!
//! Between crates, cargo refuses cycles itself; what the rule adds is the layering
//! ([`LAYERS`]): the runtime (`primer-campaign`) has no command line and no libtorch, the shared
//! flags (`primer-args`) no libtorch, and the engine does not depend on the `primer` command's
//! crate (editing the report's JavaScript must not rebuild the libtorch binary).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module -> the modules it imports, for one crate's `src/`.
pub type Graph = BTreeMap<String, BTreeSet<String>>;

/// Every `.rs` file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The source without comments and string literals (their text is not code).
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'r' && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#')) && !ident_byte(b, i) {
            // A raw string r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push(b[i] as char);
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"').chain(std::iter::repeat_n(b'#', hashes)).collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i] == b'\'' && b.get(i + 2) == Some(&b'\'') {
            // A char literal like '"' or '{'.
            i += 3;
        } else if b[i] == b'\'' && b.get(i + 1) == Some(&b'\\') {
            i += 2;
            while i < b.len() && b[i] != b'\'' {
                i += 1;
            }
            i += 1;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Whether the byte before `i` continues an identifier (so `r` at `i` is not a raw-string prefix).
fn ident_byte(b: &[u8], i: usize) -> bool {
    i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
}

/// The first path segment of each item of a `use` tree body starting at `s` (after `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    let mut word = String::new();
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                item_start = true;
                continue;
            }
            _ => {}
        }
        if depth == 0 && item_start {
            if c.is_alphanumeric() || c == '_' {
                word.push(c);
            } else if !word.is_empty() {
                out.push(std::mem::take(&mut word));
                item_start = false;
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out.retain(|w| w != "self");
    out
}

/// The modules a piece of code names after `prefix` (`crate::` or `super::`).
fn named_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find(prefix) {
        let before = rest[..i].chars().last();
        rest = &rest[i + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(body) = rest.strip_prefix('{') {
            out.extend(group_heads(body));
        } else {
            let w: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !w.is_empty() {
                out.insert(w);
            }
        }
    }
    out
}

/// The import graph of one crate's top-level modules.
pub fn graph(src: &Path) -> Graph {
    let mut g = Graph::new();
    let top_level: BTreeSet<String> = files(src)
        .iter()
        .filter_map(|f| f.strip_prefix(src).ok())
        .filter_map(|rel| rel.components().next())
        .map(|c| c.as_os_str().to_string_lossy().trim_end_matches(".rs").to_string())
        .filter(|m| m != "lib" && m != "main")
        .collect();
    for f in files(src) {
        let rel = f.strip_prefix(src).expect("under src");
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let module = parts[0].trim_end_matches(".rs").to_string();
        if module == "lib" || module == "main" {
            continue;
        }
        let code = code_only(&std::fs::read_to_string(&f).unwrap_or_default());
        let mut names = named_after(&code, "crate::");
        // One level down (`src/a/b.rs`), `super::x` is the top-level module's own item; two
        // levels down it is a sibling of `a`'s children: still `a`. From `src/a.rs` it is the
        // root, which re-exports: its names are the top-level modules themselves.
        if parts.len() == 1 {
            names.extend(named_after(&code, "super::"));
        }
        let edges = g.entry(module.clone()).or_default();
        for n in names {
            if n != module && top_level.contains(&n) {
                edges.insert(n);
            }
        }
    }
    g
}

/// The cycles of a graph: its strongly connected components of more than one module, each
/// sorted, in name order (Tarjan's algorithm).
pub fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let i = self.index.len();
            self.index.insert(v, i);
            self.low.insert(v, i);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.g.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let lw = self.low[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(lw);
                } else if self.on_stack.contains(w) {
                    let iw = self.index[w];
                    let lv = self.low.get_mut(v).expect("visited");
                    *lv = (*lv).min(iw);
                }
            }
            if self.low[v] == self.index[v] {
                let mut component = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    component.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.out.push(component);
                }
            }
        }
    }
    let mut t = Tarjan {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}

/// Crates and the dependencies (`[dependencies]`, not dev-dependencies) they must not have.
pub const LAYERS: &[(&str, &[&str])] = &[
    ("primer-campaign", &["clap", "tch", "torch-sys", "primer-torch", "primer-args", "primer-cli", "primer-engine"]),
    ("primer-args", &["tch", "torch-sys", "primer-torch", "primer-cli", "primer-engine"]),
    ("primer-engine", &["primer-cli"]),
];

/// The names under a manifest's `[dependencies]` table.
pub fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line == "[dependencies]";
        } else if inside && !line.is_empty() && !line.starts_with('#') {
            let key = line.split(['=', '.']).next().unwrap_or("").trim();
            out.insert(key.to_string());
        }
    }
    out
}

/// One violation of the rule, said whole: the crate, the modules, and who imports whom.
pub fn violations(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(root.join("crates"))
        .map(|d| d.flatten().map(|e| e.path().join("src")).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    crates.sort();
    for (krate, banned) in LAYERS {
        let manifest = std::fs::read_to_string(root.join("crates").join(krate).join("Cargo.toml")).unwrap_or_default();
        for d in dependencies(&manifest).iter().filter(|d| banned.contains(&d.as_str())) {
            out.push(format!(
                "{krate}: depends on `{d}`, which its layer must not (see LAYERS in crates/xtask/src/imports.rs)"
            ));
        }
    }
    for src in crates {
        let name =
            src.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let g = graph(&src);
        for c in cycles(&g) {
            let edges: Vec<String> = c
                .iter()
                .flat_map(|a| g[a].iter().filter(|b| c.contains(b)).map(move |b| format!("{a} -> {b}")))
                .collect();
            out.push(format!("{name}: modules import each other in a circle: {} ({})", c.join(", "), edges.join(", ")));
        }
        let commands = src.join("commands");
        if commands.is_dir() {
            for f in files(&commands) {
                let me = f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                let code = code_only(&std::fs::read_to_string(&f).unwrap_or_default());
                let mut named = named_after(&code, "crate::commands::");
                named.extend(named_after(&code, "super::"));
                for other in named {
                    let is_command = commands.join(format!("{other}.rs")).is_file() || commands.join(&other).is_dir();
                    if other != me && other != "mod" && is_command {
                        out.push(format!("{name}: command `{me}` imports command `{other}` (share it through a library module instead)"));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_are_read_from_the_dependencies_table_only() {
        let m = "[package]\nname = \"x\"\n[dependencies]\nclap.workspace = true\n# tch = 1\nserde = { version = \"1\" }\n\n[dev-dependencies]\ntch = \"1\"\n";
        assert_eq!(dependencies(m), BTreeSet::from(["clap".to_string(), "serde".to_string()]));
    }

    #[test]
    fn a_runtime_that_depends_on_clap_is_refused() {
        let root = std::env::temp_dir().join(format!("primer-layers-{}", std::process::id()));
        let dir = root.join("crates/primer-campaign");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Cargo.toml"), "[dependencies]\nanyhow.workspace = true\n").unwrap();
        assert!(violations(&root).is_empty());
        std::fs::write(dir.join("Cargo.toml"), "[dependencies]\nclap.workspace = true\n").unwrap();
        let v = violations(&root);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].contains("primer-campaign: depends on `clap`"), "{v:?}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    fn g(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.entry(a.to_string()).or_default().insert(b.to_string());
            g.entry(b.to_string()).or_default();
        }
        g
    }

    #[test]
    fn cycles_are_the_strongly_connected_components() {
        assert!(cycles(&g(&[("a", "b"), ("b", "c")])).is_empty());
        assert_eq!(cycles(&g(&[("a", "b"), ("b", "a"), ("c", "a")])), [["a", "b"]]);
        assert_eq!(
            cycles(&g(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "e"), ("e", "d"), ("c", "d")])),
            [vec!["a", "b", "c"], vec!["d", "e"]]
        );
    }

    #[test]
    fn imports_are_read_from_code_not_from_comments_or_strings() {
        let code = code_only(
            "use crate::{a::X, b, c::{d, e}};\n// crate::zz\n/* crate::yy */ let s = \"crate::xx\"; let r = r#\"crate::ww\"#;\nfn f() { crate::f::g(); let c = '\"'; other_crate::h(); }",
        );
        let named = named_after(&code, "crate::");
        assert_eq!(named.into_iter().collect::<Vec<_>>(), ["a", "b", "c", "f"]);
        assert_eq!(group_heads("self, x::{y}, z}"), ["x", "z"]);
    }

    #[test]
    fn a_crate_with_a_circle_and_a_command_importing_a_command_is_refused() {
        let dir = std::env::temp_dir().join(format!("xtask-imports-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let src = dir.join("crates/demo/src");
        std::fs::create_dir_all(src.join("commands")).unwrap();
        std::fs::write(src.join("lib.rs"), "pub mod a; pub mod b; pub mod c; pub mod commands;").unwrap();
        std::fs::write(src.join("a.rs"), "use crate::b::x;").unwrap();
        std::fs::write(src.join("b.rs"), "pub fn x() { crate::a::y() }").unwrap();
        std::fs::write(src.join("c.rs"), "use crate::a;").unwrap();
        std::fs::write(src.join("commands/mod.rs"), "pub mod top; pub mod show;").unwrap();
        std::fs::write(src.join("commands/top.rs"), "use super::show::helper; use crate::c;").unwrap();
        std::fs::write(src.join("commands/show.rs"), "pub fn helper() {}").unwrap();
        let v = violations(&dir);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].contains("demo: modules import each other in a circle: a, b (a -> b, b -> a)"), "{v:?}");
        assert!(v[1].contains("command `top` imports command `show`"), "{v:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
