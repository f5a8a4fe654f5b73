//! `cargo xtask layers`: the imports between the daemon's top-level modules
//! (`guardian/src/<module>.rs` or `<module>/`), and whether they form a
//! cycle. Every `crate::<module>` path in a file counts, tests included:
//! the layering (cli -> daemon -> tasks -> kernel, ebpf, config -> messages,
//! route, metrics) holds only while no module reaches back up. A unit test
//! runs this on the repository, so CI fails on a new cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

/// Module -> the modules it imports (itself excluded).
pub type Graph = BTreeMap<String, BTreeSet<String>>;

pub fn run() -> Result<ExitCode> {
    let src = crate::cargo::workspace_root().join("guardian/src");
    let graph = graph(&src)?;
    for (module, uses) in &graph {
        let list: Vec<&str> = uses.iter().map(String::as_str).collect();
        println!("{module:<12} -> {}", list.join(", "));
    }
    match cycle(&graph) {
        None => {
            println!("no cycle among {} modules", graph.len());
            Ok(ExitCode::SUCCESS)
        }
        Some(path) => bail!("import cycle: {}", path.join(" -> ")),
    }
}

/// The import graph of the crate whose sources are in `src`.
pub fn graph(src: &Path) -> Result<Graph> {
    let mut graph = Graph::new();
    for file in rust_files(src)? {
        let rel = file.strip_prefix(src).expect("under src");
        let first = rel.components().next().expect("a component").as_os_str().to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
        let uses = graph.entry(module.clone()).or_default();
        for used in crate_paths(&text) {
            if used != module {
                uses.insert(used);
            }
        }
    }
    Ok(graph)
}

/// The first segment after every `crate::` in `text`, and of each item of
/// a `crate::{...}` group (comments included: a doc link is a dependency of
/// the reader's mind too, and cheap to keep pointing down).
fn crate_paths(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("crate::") {
        let bytes = rest.as_bytes();
        let standalone = at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        rest = &rest[at + "crate::".len()..];
        if !standalone {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Items at the group's top level: split on commas outside braces.
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.extend(first_ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.extend(first_ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.extend(first_ident(rest));
        }
    }
    found
}

/// The leading lowercase identifier of `text` (a module name), if any.
fn first_ident(text: &str) -> Option<String> {
    let name: String = text.trim_start().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    name.chars().next().is_some_and(|c| c.is_ascii_lowercase()).then_some(name)
}

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).with_context(|| format!("listing {}", d.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A cycle in `graph` as the modules along it (first repeated at the end),
/// if there is one.
pub fn cycle(graph: &Graph) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    fn visit(node: &str, graph: &Graph, marks: &mut BTreeMap<String, Mark>, path: &mut Vec<String>) -> bool {
        match marks.get(node).copied().unwrap_or(Mark::New) {
            Mark::Done => return false,
            Mark::Open => {
                let start = path.iter().position(|p| p == node).expect("an open node is on the path");
                path.drain(..start);
                path.push(node.to_owned());
                return true;
            }
            Mark::New => {}
        }
        marks.insert(node.to_owned(), Mark::Open);
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if visit(next, graph, marks, path) {
                return true;
            }
        }
        path.pop();
        marks.insert(node.to_owned(), Mark::Done);
        false
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if visit(node, graph, &mut marks, &mut path) {
            return Some(path);
        }
    }
    None
}

#[cfg(test)]
mod tests;
