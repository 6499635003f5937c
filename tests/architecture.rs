//! The structure of `src/`, read from the code's own paths (every `crate::`, `super::` and
//! `self::` path, in `use` lines and inline; comments, strings and test modules left out): no
//! circle between files, no import up the layers, and each crate kept to its layer (clap and
//! indicatif only in the command line, SQL only in the library, no files in the features).
//! `torch/src` (the crate that trains) is held to no circles too.
//!
//! Layers, lowest first: `config` < `audio`, `features` < `table` < `extract`, `check`, `model`,
//! `report` < `recommend`, `library` < `serve` < `cli` < `main`. A file may use its own layer and
//! those below.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer of a top-level module of `src/`.
fn layer(top: &str) -> Option<usize> {
    Some(match top {
        "config" => 0,
        "audio" | "features" => 1,
        "table" => 2,
        "extract" | "check" | "model" | "report" => 3,
        "recommend" | "library" => 4,
        "serve" => 5,
        "cli" => 6,
        "main" => 7,
        _ => return None,
    })
}

/// Crates only some layers may name: (crate, the top-level modules that may).
const CONFINED: &[(&str, &[&str])] = &[
    ("clap", &["cli", "main"]),
    ("indicatif", &["cli", "main"]),
    ("rusqlite", &["library"]),
];

/// A source file: its path relative to the crate's `src/` and its module path.
#[derive(Debug, Clone)]
struct File {
    rel: String,
    module: Vec<String>,
    text: String,
}

fn read_tree(root: &Path) -> Vec<File> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut paths = Vec::new();
    walk(root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let mut module: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(String::from)
                .collect();
            if matches!(
                module.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                module.pop();
            }
            File {
                text: std::fs::read_to_string(&p).unwrap(),
                rel,
                module,
            }
        })
        .collect()
}

/// The code without comments, string and character literals (each replaced by a space).
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&b, i) {
            // A raw string r"…", r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.push(' ');
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(' ');
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), or a lifetime ('a).
            if next == Some('\\') {
                let mut j = i + 2;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
                out.push(' ');
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
                out.push(' ');
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(b: &[char], i: usize) -> bool {
    i > 0 && (b[i - 1].is_alphanumeric() || b[i - 1] == '_')
}

/// The index just past the brace that closes the one at `open`.
fn matching_brace(s: &[u8], open: usize) -> usize {
    let mut depth = 0;
    for (k, &c) in s.iter().enumerate().skip(open) {
        match c {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

/// Removes the items marked `#[cfg(test)]` (a test module, a test-only `use` or function).
fn without_tests(code: &str) -> String {
    let mut s = code.to_string();
    while let Some(at) = s.find("#[cfg(test)]") {
        let bytes = s.as_bytes();
        let mut end = at + "#[cfg(test)]".len();
        while end < bytes.len() && bytes[end] != b'{' && bytes[end] != b';' {
            end += 1;
        }
        if end < bytes.len() && bytes[end] == b'{' {
            end = matching_brace(bytes, end);
        } else {
            end += 1;
        }
        s.replace_range(at..end.min(s.len()), " ");
    }
    s
}

/// Splits code into (inline module path relative to the file, code of that module alone).
fn inline_modules(code: &str, prefix: &[String], out: &mut Vec<(Vec<String>, String)>) {
    let mut rest = String::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        if let Some(m) = code[i..].find("mod ") {
            let at = i + m;
            let word_start =
                at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
            let name_start = at + 4;
            let name_len = code[name_start..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(0);
            let after = code[name_start + name_len..].trim_start();
            if word_start && name_len > 0 && after.starts_with('{') {
                let open = code.len() - after.len();
                let close = matching_brace(bytes, open);
                rest.push_str(&code[i..at]);
                let mut inner = prefix.to_vec();
                inner.push(code[name_start..name_start + name_len].to_string());
                inline_modules(&code[open + 1..close - 1], &inner, out);
                i = close;
                continue;
            }
            rest.push_str(&code[i..name_start]);
            i = name_start;
        } else {
            rest.push_str(&code[i..]);
            break;
        }
    }
    out.push((prefix.to_vec(), rest));
}

/// Expands a `use` tree (`crate::a::{b, c::{d, e}}`) into its paths.
fn expand(tree: &str) -> Vec<String> {
    let tree: String = tree.split_whitespace().collect::<Vec<_>>().join(" ");
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap_or("").trim().to_string()];
    };
    let prefix = tree[..open].trim_end_matches("::").trim();
    let close = tree.rfind('}').unwrap_or(tree.len());
    let inner = &tree[open + 1..close];
    let (mut items, mut depth, mut cur) = (Vec::new(), 0, String::new());
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            items.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    items.push(cur);
    let mut out = Vec::new();
    for it in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if it == "self" {
            out.push(prefix.to_string());
        } else {
            out.extend(expand(&format!("{prefix}::{it}")));
        }
    }
    out
}

/// Every path of the code that starts at `crate`, `super` or `self` (`tuneprint` in the
/// binary's root, which names the library).
fn paths(code: &str, crate_names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    // `use` trees.
    let mut rest = code;
    while let Some(k) = rest.find("use ") {
        let at = k;
        let boundary = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let tail = &rest[at + 4..];
        let end = tail.find(';').unwrap_or(tail.len());
        if boundary {
            out.extend(expand(&tail[..end]));
        }
        rest = &rest[at + 4..];
    }
    // Inline paths: `a::b::c` sequences.
    let b = code.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic()
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_' || b[i - 1] == b':'))
        {
            let mut j = i;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b':') {
                j += 1;
            }
            let p = &code[i..j];
            if p.contains("::") {
                out.push(p.trim_end_matches(':').to_string());
            }
            i = j.max(i + 1);
        } else {
            i += 1;
        }
    }
    out.into_iter()
        .filter(|p| {
            let first = p.split("::").next().unwrap_or("");
            first == "super" || first == "self" || crate_names.contains(&first)
        })
        .collect()
}

/// The file that `path`, written in module `at`, points into: the longest module prefix that
/// is a file of the tree.
fn resolve(
    path: &str,
    at: &[String],
    crate_names: &[&str],
    modules: &BTreeMap<Vec<String>, String>,
) -> Option<String> {
    let parts: Vec<&str> = path.split("::").map(str::trim).collect();
    let mut base: Vec<String>;
    let mut k = 0;
    if crate_names.contains(&parts[0]) {
        base = Vec::new();
        k = 1;
    } else {
        base = at.to_vec();
        while k < parts.len() && (parts[k] == "super" || parts[k] == "self") {
            if parts[k] == "super" {
                base.pop();
            }
            k += 1;
        }
    }
    base.extend(parts[k..].iter().map(|s| s.to_string()));
    (0..=base.len())
        .rev()
        .find_map(|n| modules.get(&base[..n].to_vec()).cloned())
}

/// What is wrong with a tree: circles between files, imports up the layers, confined crates
/// named elsewhere, files in the features.
fn problems(root: &Path, layered: bool) -> Vec<String> {
    let files = read_tree(root);
    let modules: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|f| (f.module.clone(), f.rel.clone()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for f in &files {
        let code = without_tests(&strip(&f.text));
        let crate_names: &[&str] = if f.rel == "main.rs" {
            &["crate", "tuneprint"]
        } else {
            &["crate"]
        };
        let mut parts = Vec::new();
        inline_modules(&code, &[], &mut parts);
        let targets = edges.entry(f.rel.clone()).or_default();
        for (inner, part) in &parts {
            let mut at = f.module.clone();
            at.extend(inner.iter().cloned());
            for p in paths(part, crate_names) {
                if let Some(t) = resolve(&p, &at, crate_names, &modules) {
                    if t != f.rel {
                        targets.insert(t);
                    }
                }
            }
        }
        if layered {
            let top = f.module.first().map(String::as_str).unwrap_or("main");
            for (name, allowed) in CONFINED {
                let named =
                    code.contains(&format!("{name}::")) || code.contains(&format!("use {name}"));
                if named && !allowed.contains(&top) && f.rel != "lib.rs" {
                    out.push(format!(
                        "{}: uses `{name}`, which belongs to {}",
                        f.rel,
                        allowed.join(" and ")
                    ));
                }
            }
            if top == "features" && (code.contains("std::fs") || code.contains("File::")) {
                out.push(format!("{}: the features read no files", f.rel));
            }
        }
    }
    if layered {
        let top = |rel: &str| {
            rel.split('/')
                .next()
                .unwrap_or("")
                .trim_end_matches(".rs")
                .to_string()
        };
        for (a, ts) in &edges {
            for b in ts {
                let (la, lb) = (layer(&top(a)), layer(&top(b)));
                if let (Some(la), Some(lb)) = (la, lb) {
                    if lb > la {
                        out.push(format!("{a} imports {b}, a higher layer"));
                    }
                }
            }
        }
    }
    for circle in circles(&edges) {
        out.push(format!("circle between files: {}", circle.join(" → ")));
    }
    out
}

/// The strongly connected groups of more than one file (Tarjan), each as one cycle through it.
fn circles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct T<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> T<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on.insert(v);
            if let Some(ws) = self.edges.get(v) {
                for w in ws {
                    if !self.index.contains_key(w.as_str()) {
                        self.visit(w);
                        let lw = self.low[w.as_str()];
                        let lv = self.low.get_mut(v).unwrap();
                        *lv = (*lv).min(lw);
                    } else if self.on.contains(w.as_str()) {
                        let iw = self.index[w.as_str()];
                        let lv = self.low.get_mut(v).unwrap();
                        *lv = (*lv).min(iw);
                    }
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on.remove(w);
                    group.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if group.len() > 1 {
                    group.sort();
                    self.out.push(group);
                }
            }
        }
    }
    let mut t = T {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

#[test]
fn src_has_no_circle_no_import_up_the_layers_and_keeps_each_crate_in_its_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let found = problems(&root.join("src"), true);
    assert!(found.is_empty(), "src/:\n  {}", found.join("\n  "));
    let found = problems(&root.join("torch/src"), false);
    assert!(found.is_empty(), "torch/src/:\n  {}", found.join("\n  "));
}

/// The checker finds what it is for, in a small tree written here: a circle through `use`
/// lines and inline paths, an import up the layers, a confined crate out of its layer, and
/// none of the things it must not count (comments, strings, test modules, `super` inside an
/// inline module).
#[test]
fn the_checker_finds_circles_up_imports_and_misplaced_crates() {
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, text: &str| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    write(
        "lib.rs",
        "pub mod audio;\npub mod table;\npub mod cli;\npub mod features;\n",
    );
    write("audio/mod.rs", "pub mod a;\npub mod b;\n");
    write("audio/a.rs", "use super::b::{X, y::{Z}};\n");
    write("audio/b.rs", "pub fn f() { crate::audio::a::g(); }\n");
    write("table.rs", "use crate::cli::Args;\n// crate::features::x in a comment\nconst S: &str = \"crate::features::y\";\n#[cfg(test)]\nmod tests { use crate::cli::T; }\n");
    write(
        "features/mod.rs",
        "mod inner { use super::x; }\nfn read() { std::fs::read(\"x\"); let _ = clap::Parser; }\n",
    );
    write("cli/mod.rs", "use crate::table::Record;\n");
    let mut found = problems(dir.path(), true);
    found.sort();
    assert_eq!(
        found,
        [
            "circle between files: audio/a.rs → audio/b.rs",
            "circle between files: cli/mod.rs → table.rs",
            "features/mod.rs: the features read no files",
            "features/mod.rs: uses `clap`, which belongs to cli and main",
            "table.rs imports cli/mod.rs, a higher layer",
        ]
    );
}
