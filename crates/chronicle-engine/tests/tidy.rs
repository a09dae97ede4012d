#![allow(clippy::unwrap_used)] // in tests, a failed unwrap is a failed test
//! Structural rules of the engine crate, checked from its sources so they
//! cannot erode unnoticed: it stays pure (no runtime, network or database
//! dependencies), and its modules import each other without cycles, so
//! each can be read and changed in dependency order. Std only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Crates that would make the engine do I/O or need a runtime.
const FORBIDDEN: &[&str] = &["tokio", "tonic", "rusqlite", "hyper", "reqwest", "sqlx", "tokio-postgres"];

#[test]
fn engine_has_no_io_dependencies() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = dependencies(&manifest);
    assert!(!deps.is_empty(), "no [dependencies] found: is the manifest parsed right?");
    let bad: Vec<&String> = deps.iter().filter(|d| FORBIDDEN.contains(&d.as_str())).collect();
    assert!(bad.is_empty(), "chronicle-engine must stay pure, but depends on {bad:?}");
}

#[test]
fn module_graph_has_no_cycles() {
    let graph = module_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let listing = graph.iter().map(|(m, deps)| format!("  {m}: {}", join(deps))).collect::<Vec<_>>().join("\n");
    println!("module dependencies:\n{listing}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("module import cycle: {}\nmodule dependencies:\n{listing}", cycle.join(" -> "));
    }
}

#[test]
fn references_are_found_in_code_only() {
    let src = r#"
        use crate::{a, b::{C, d::E}, self};
        use crate::c; // crate::commented
        /* crate::block /* nested crate::x */ */
        let s = "crate::in_string \" crate::still"; let q = '"'; let r = crate::f::g();
        fn l<'a>(x: &'a str) -> &'a str { mycrate::h(x) }
    "#;
    let found = references(src);
    assert_eq!(found, ["a", "b", "c", "f"].iter().map(std::string::ToString::to_string).collect::<BTreeSet<_>>());
}

#[test]
fn cycles_are_found() {
    let graph = |edges: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (from, to) in edges {
            g.entry(from.to_string()).or_default().insert(to.to_string());
            g.entry(to.to_string()).or_default();
        }
        g
    };
    assert_eq!(find_cycle(&graph(&[("a", "b"), ("b", "c"), ("a", "c")])), None);
    let cycle = find_cycle(&graph(&[("a", "b"), ("b", "c"), ("c", "b")])).unwrap();
    assert_eq!(cycle, ["b", "c", "b"]);
}

#[test]
fn dependencies_are_read_from_every_form() {
    let manifest = r#"
        [package]
        name = "x"
        [dependencies]
        prost.workspace = true
        "tokio" = "1" # comment
        net = { package = "hyper", version = "1" }
        [dependencies.sqlx]
        version = "0.8"
        [dev-dependencies]
        proptest = "1"
    "#;
    let found: Vec<String> = dependencies(manifest).into_iter().collect();
    assert_eq!(found, ["hyper", "net", "prost", "sqlx", "tokio"]);
}

/// Names of the dependencies in `[dependencies]` (and target-specific
/// ones); dev- and build-dependencies may use anything.
fn dependencies(manifest: &str) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if let Some(header) = line.strip_prefix('[') {
            let header = header.trim_end_matches(']').trim();
            in_deps = header == "dependencies" || (header.starts_with("target.") && header.ends_with(".dependencies"));
            if let Some(name) = header.strip_prefix("dependencies.") {
                deps.insert(name.trim_matches('"').to_string());
            }
            continue;
        }
        if !in_deps {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let name = key.trim().split('.').next().unwrap_or_default().trim_matches('"');
            deps.insert(name.to_string());
            // A renamed dependency: `alias = { package = "real", ... }`.
            if let Some(rest) = value.split("package").nth(1)
                && let Some(real) = rest.split('"').nth(1)
            {
                deps.insert(real.to_string());
            }
        }
    }
    deps
}

/// Each module (`src/<name>.rs`) and the modules it refers to.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut sources = BTreeMap::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().to_string();
            if name != "lib" {
                sources.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    let modules: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(name, text)| {
            // `crate::api` and the like are re-exports, not modules.
            let deps = references(text).into_iter().filter(|d| d != name && modules.contains(d)).collect();
            (name.clone(), deps)
        })
        .collect()
}

/// First path segments after `crate::` in code (comments and literals
/// skipped), including each item of a `crate::{...}` group.
fn references(source: &str) -> BTreeSet<String> {
    let code = strip_comments_and_literals(source);
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let after = rest.trim_start();
        if let Some(group) = after.strip_prefix('{') {
            for item in top_level_items(group) {
                let first = ident(item.trim_start());
                if !first.is_empty() && first != "self" {
                    found.insert(first.to_string());
                }
            }
        } else {
            let first = ident(after);
            if !first.is_empty() {
                found.insert(first.to_string());
            }
        }
    }
    found
}

fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(s.len());
    &s[..end]
}

/// The comma-separated items of a `{...}` group (`s` starts after `{`).
fn top_level_items(s: &str) -> Vec<&str> {
    let (mut items, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                items.push(&s[start..i]);
                return items;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
}

/// The source with comments and string/char literals blanked, so that
/// prose and messages mentioning `crate::x` are not counted.
fn strip_comments_and_literals(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
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
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !prev_is_ident(&chars, i) {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A char literal ('x', '\n', '"'); otherwise a lifetime.
            i += if next == Some('\\') { 2 } else { 1 };
            while i < chars.len() && chars[i] != '\'' {
                i += 1;
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev_is_ident(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// A cycle as a path that starts and ends at the same module, if any.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnPath,
        Done,
    }
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        marks: &mut BTreeMap<&'a str, Mark>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        marks.insert(node, Mark::OnPath);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next.as_str()).copied().unwrap_or(Mark::New) {
                Mark::OnPath => {
                    let from = path.iter().position(|m| *m == next).unwrap();
                    let mut cycle: Vec<String> = path[from..].iter().map(std::string::ToString::to_string).collect();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Mark::New => {
                    if let Some(cycle) = visit(next, graph, marks, path) {
                        return Some(cycle);
                    }
                }
                Mark::Done => {}
            }
        }
        path.pop();
        marks.insert(node, Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if marks.get(node.as_str()).copied().unwrap_or(Mark::New) == Mark::New
            && let Some(cycle) = visit(node, graph, &mut marks, &mut Vec::new())
        {
            return Some(cycle);
        }
    }
    None
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().map(String::as_str).collect::<Vec<_>>().join(" ")
}
