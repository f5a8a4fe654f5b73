use super::*;

fn g(edges: &[(&str, &str)]) -> Graph {
    let mut graph = Graph::new();
    for (a, b) in edges {
        graph.entry(a.to_string()).or_default().insert(b.to_string());
        graph.entry(b.to_string()).or_default();
    }
    graph
}

#[test]
fn a_chain_has_no_cycle_and_a_loop_is_named() {
    assert_eq!(cycle(&g(&[("cli", "daemon"), ("daemon", "route"), ("cli", "route")])), None);
    let found = cycle(&g(&[("a", "b"), ("b", "c"), ("c", "a"), ("x", "a")])).expect("a cycle");
    assert_eq!(found.first(), found.last());
    assert_eq!(found.len(), 4, "{found:?}");
}

#[test]
fn crate_paths_are_read_from_uses_paths_and_doc_links() {
    let text = "use crate::kernel::wire;\nuse crate::{route::X, messages};\n/// see [`crate::config::Y`]\nfn f() { crate::time::now(); notcrate::x(); }";
    let found: Vec<String> = crate_paths(text).into_iter().collect();
    assert_eq!(found, ["config", "kernel", "messages", "route", "time"]);
}

/// The daemon's own modules: no cycle (see the module doc).
#[test]
fn guardian_has_no_import_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../guardian/src");
    let graph = graph(&src).unwrap();
    assert!(graph.contains_key("reconcile") && graph.contains_key("messages"), "{graph:?}");
    if let Some(path) = cycle(&graph) {
        panic!("import cycle among guardian's top-level modules: {}", path.join(" -> "));
    }
}
