//! Start order: dependencies first, then lower `priority`, then name. Pure functions.
//!
//! Specs form a graph through `depends_on`. [`check`] rejects a dependency on an unknown
//! spec and a cycle (naming it: `a -> b -> a`); [`start_order`] sorts an acyclic graph
//! topologically, choosing among the specs whose dependencies are all placed the one with
//! the lowest `(priority, name)`. So priority orders whatever dependencies leave free,
//! and a run is repeatable. Stops go in the reverse order: dependents first.

use crate::spec::ProcessSpec;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// One spec as the ordering sees it.
#[derive(Clone, Copy, Debug)]
pub struct Node<'a> {
    /// Spec name.
    pub name: &'a str,
    /// Lower starts first.
    pub priority: i32,
    /// Names of the specs it depends on.
    pub depends_on: &'a [String],
}

impl<'a> From<&'a ProcessSpec> for Node<'a> {
    fn from(s: &'a ProcessSpec) -> Self {
        Self { name: &s.name, priority: s.priority, depends_on: &s.depends_on }
    }
}

/// Why a set of specs cannot be ordered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderError {
    /// `spec` depends on `dependency`, which is not registered.
    UnknownDependency {
        /// The dependent.
        spec: String,
        /// The missing name.
        dependency: String,
    },
    /// A cycle, as the path that closes it (`["a", "b", "a"]`).
    Cycle(Vec<String>),
}

impl fmt::Display for OrderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownDependency { spec, dependency } => {
                write!(f, "{spec:?} depends on {dependency:?}, which is not registered")
            }
            Self::Cycle(path) => write!(f, "dependency cycle: {}", path.join(" -> ")),
        }
    }
}

/// Every dependency exists and there is no cycle.
pub fn check<'a>(nodes: impl IntoIterator<Item = Node<'a>>) -> Result<(), OrderError> {
    let graph: BTreeMap<&str, Node<'a>> = nodes.into_iter().map(|n| (n.name, n)).collect();
    for node in graph.values() {
        if let Some(dep) = node.depends_on.iter().find(|d| !graph.contains_key(d.as_str())) {
            return Err(OrderError::UnknownDependency { spec: node.name.to_string(), dependency: dep.clone() });
        }
    }
    // Depth-first search; a dependency found on the current path closes a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        OnPath,
        Done,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    for &start in graph.keys() {
        if marks.contains_key(start) {
            continue;
        }
        // (node, index of the next dependency to visit)
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        marks.insert(start, Mark::OnPath);
        while let Some(&mut (name, ref mut next)) = path.last_mut() {
            let deps = graph[name].depends_on;
            if *next == deps.len() {
                marks.insert(name, Mark::Done);
                path.pop();
                continue;
            }
            let dep = deps[*next].as_str();
            *next += 1;
            match marks.get(dep) {
                Some(Mark::Done) => {}
                Some(Mark::OnPath) => {
                    let from = path.iter().position(|(n, _)| *n == dep).unwrap_or(0);
                    let mut cycle: Vec<String> = path[from..].iter().map(|(n, _)| n.to_string()).collect();
                    cycle.push(dep.to_string());
                    return Err(OrderError::Cycle(cycle));
                }
                None => {
                    marks.insert(dep, Mark::OnPath);
                    path.push((dep, 0));
                }
            }
        }
    }
    Ok(())
}

/// The names in start order. Dependencies outside `nodes` are ignored; should the
/// graph have a cycle anyway, its members come last, by `(priority, name)`.
pub fn start_order<'a>(nodes: impl IntoIterator<Item = Node<'a>>) -> Vec<String> {
    let graph: BTreeMap<&str, Node<'a>> = nodes.into_iter().map(|n| (n.name, n)).collect();
    let mut waiting_on: BTreeMap<&str, usize> = BTreeMap::new();
    let mut dependents: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for node in graph.values() {
        let deps: BTreeSet<&str> =
            node.depends_on.iter().map(String::as_str).filter(|d| graph.contains_key(d) && *d != node.name).collect();
        waiting_on.insert(node.name, deps.len());
        for d in deps {
            dependents.entry(d).or_default().push(node.name);
        }
    }
    let mut ready: BTreeSet<(i32, &str)> =
        waiting_on.iter().filter(|(_, n)| **n == 0).map(|(name, _)| (graph[name].priority, *name)).collect();
    let mut out = Vec::with_capacity(graph.len());
    while let Some(next) = ready.pop_first() {
        out.push(next.1.to_string());
        for dependent in dependents.get(next.1).into_iter().flatten() {
            let n = waiting_on.get_mut(dependent).expect("every node is counted");
            *n -= 1;
            if *n == 0 {
                ready.insert((graph[dependent].priority, dependent));
            }
        }
    }
    if out.len() < graph.len() {
        let placed: BTreeSet<String> = out.iter().cloned().collect();
        let mut rest: Vec<(i32, &str)> =
            graph.values().filter(|n| !placed.contains(n.name)).map(|n| (n.priority, n.name)).collect();
        rest.sort();
        out.extend(rest.into_iter().map(|(_, n)| n.to_string()));
    }
    out
}

/// Sorts specs into start order, after checking them as a whole (every dependency among
/// them, no cycle). For registering a set of specs one by one, e.g. at boot.
pub fn sort_specs(specs: &mut [ProcessSpec]) -> Result<(), OrderError> {
    check(specs.iter().map(Node::from))?;
    let order = start_order(specs.iter().map(Node::from));
    let rank: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    let mut keyed: Vec<(usize, ProcessSpec)> =
        specs.iter().map(|s| (rank.get(s.name.as_str()).copied().unwrap_or(usize::MAX), s.clone())).collect();
    keyed.sort_by_key(|(r, _)| *r);
    for (slot, (_, spec)) in specs.iter_mut().zip(keyed) {
        *slot = spec;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Graph = Vec<(&'static str, i32, Vec<String>)>;
    /// `(name, priority, depends_on)` rows.
    type Rows<'a> = &'a [(&'a str, i32, &'a [&'a str])];

    fn graph(spec: &[(&'static str, i32, &[&str])]) -> Graph {
        spec.iter().map(|(n, p, d)| (*n, *p, d.iter().map(|s| s.to_string()).collect())).collect()
    }

    fn nodes(g: &Graph) -> Vec<Node<'_>> {
        g.iter().map(|(n, p, d)| Node { name: n, priority: *p, depends_on: d }).collect()
    }

    #[test]
    fn orders() {
        // graph → start order
        let table: &[(Rows, &[&str])] = &[
            (&[], &[]),
            (&[("b", 0, &[]), ("a", 0, &[])], &["a", "b"]),
            (&[("a", 5, &[]), ("b", 1, &[])], &["b", "a"]),
            (&[("a", -1, &["b"]), ("b", 10, &[])], &["b", "a"]),
            (
                &[("web", 0, &["db", "cache"]), ("db", 5, &[]), ("cache", 1, &[]), ("ui", 0, &[])],
                &["ui", "cache", "db", "web"],
            ),
            (&[("c", 0, &["b"]), ("b", 0, &["a"]), ("a", 9, &[])], &["a", "b", "c"]),
            (&[("x", 0, &["gone"])], &["x"]),
            (&[("a", 0, &["b"]), ("b", 0, &["a"]), ("z", 0, &[])], &["z", "a", "b"]),
        ];
        for (i, (g, want)) in table.iter().enumerate() {
            let g = graph(g);
            assert_eq!(start_order(nodes(&g)), *want, "row {i}");
        }
    }

    #[test]
    fn checks() {
        let cycle = |p: &[&str]| Err(OrderError::Cycle(p.iter().map(|s| s.to_string()).collect()));
        let table: &[(Rows, Result<(), OrderError>)] = &[
            (&[("a", 0, &[]), ("b", 0, &["a"])], Ok(())),
            (&[("a", 0, &["b"]), ("b", 0, &["a"])], cycle(&["a", "b", "a"])),
            (&[("a", 0, &["a"])], cycle(&["a", "a"])),
            (&[("a", 0, &["b"]), ("b", 0, &["c"]), ("c", 0, &["b"])], cycle(&["b", "c", "b"])),
            (&[("x", 0, &[]), ("a", 0, &["x", "b"]), ("b", 0, &["c"]), ("c", 0, &["a"])], cycle(&["a", "b", "c", "a"])),
            (&[("d", 0, &["a", "b"]), ("a", 0, &["c"]), ("b", 0, &["c"]), ("c", 0, &[])], Ok(())),
            (
                &[("web", 0, &["db"])],
                Err(OrderError::UnknownDependency { spec: "web".into(), dependency: "db".into() }),
            ),
        ];
        for (i, (g, want)) in table.iter().enumerate() {
            let g = graph(g);
            assert_eq!(check(nodes(&g)), *want, "row {i}");
        }
        assert_eq!(
            OrderError::Cycle(vec!["a".into(), "b".into(), "a".into()]).to_string(),
            "dependency cycle: a -> b -> a"
        );
    }

    #[test]
    fn sorts_specs() {
        let mut web = ProcessSpec::new("web", "true");
        web.depends_on = vec!["db".into()];
        web.priority = -5;
        let db = ProcessSpec::new("db", "true");
        let mut specs = vec![web, db];
        sort_specs(&mut specs).expect("acyclic");
        assert_eq!(specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["db", "web"]);
        specs[0].depends_on = vec!["web".into()];
        assert!(matches!(sort_specs(&mut specs), Err(OrderError::Cycle(_))));
    }
}
