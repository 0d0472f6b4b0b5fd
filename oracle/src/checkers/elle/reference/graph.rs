//! (Reference copy for tests; see `reference/mod.rs`.)
//!
//! The dependency graph of a list-append history and its cycle search.
//!
//! Edges: ww from each appender to the next appender of the same key (version order),
//! wr from the appender of the last element a transaction read to the reader, rw from a
//! reader to the appender of the element after the version it read. Cycles are searched
//! inside strongly connected components; for each kind, the shortest cycle (by BFS) is
//! the evidence.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::orders::Analysis;
use crate::checkers::elle::{Anomaly, AnomalyKind};
use crate::logical::ElleTxn;

/// Edge kinds as bits, so one pair of transactions can carry several.
const WW: u8 = 1;
const WR: u8 = 2;
const RW: u8 = 4;

/// At most this many edges seed a cycle search per component and kind (bounds the cost
/// on very large components; the first cycles found are still real evidence).
const MAX_SEARCH_SEEDS: usize = 512;

fn kind_name(kind: u8) -> &'static str {
    match kind {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        _ => unreachable!("single edge kinds only"),
    }
}

/// Dependencies between transactions (by index).
#[derive(Debug, Default)]
pub(super) struct Graph {
    /// `from → to → [(kind, key)]`.
    edges: BTreeMap<usize, BTreeMap<usize, Vec<(u8, u64)>>>,
}

impl Graph {
    /// Derives the edges from the analysed reads.
    pub fn build(txns: &[ElleTxn], analysis: &Analysis) -> Self {
        let mut graph = Graph::default();
        let node = |element: (u64, u64)| {
            analysis
                .appender
                .get(&element)
                .copied()
                .filter(|t| analysis.nodes.contains(t))
        };
        for (key, order) in &analysis.orders {
            for pair in order.windows(2) {
                if let (Some(a), Some(b)) = (node((*key, pair[0])), node((*key, pair[1]))) {
                    graph.add(a, b, WW, *key);
                }
            }
        }
        for read in &analysis.external_reads {
            debug_assert!(
                read.txn < txns.len(),
                "reads name transactions of the history"
            );
            if let Some(writer) = read.list.last().and_then(|last| node((read.key, *last))) {
                graph.add(writer, read.txn, WR, read.key);
            }
            let Some(order) = analysis.orders.get(&read.key) else {
                continue;
            };
            if !order.starts_with(&read.list) {
                continue;
            }
            if let Some(next) = order
                .get(read.list.len())
                .and_then(|e| node((read.key, *e)))
            {
                graph.add(read.txn, next, RW, read.key);
            }
        }
        graph
    }

    fn add(&mut self, from: usize, to: usize, kind: u8, key: u64) {
        if from == to {
            return;
        }
        let labels = self.edges.entry(from).or_default().entry(to).or_default();
        if !labels.iter().any(|(k, _)| *k == kind) {
            labels.push((kind, key));
        }
    }

    fn has(&self, from: usize, to: usize, mask: u8) -> Option<(u8, u64)> {
        self.edges
            .get(&from)?
            .get(&to)?
            .iter()
            .find(|(kind, _)| kind & mask != 0)
            .copied()
    }

    /// Every cycle anomaly: per component, the shortest G0, G1c and G-single cycles, and
    /// a G2-item cycle when the component has no cycle with fewer anti-dependencies.
    pub fn cycle_anomalies(&self) -> Vec<Anomaly> {
        let mut anomalies = Vec::new();
        for component in self.components() {
            let mut found_lighter = false;
            let searches = [
                (AnomalyKind::G0, WW, WW),
                (AnomalyKind::G1c, WR, WW | WR),
                (AnomalyKind::GSingle, RW, WW | WR),
            ];
            for (kind, seed, mask) in searches {
                if let Some(cycle) = self.shortest_cycle(&component, seed, mask) {
                    anomalies.push(self.describe(kind, cycle, seed, mask));
                    found_lighter = true;
                }
            }
            if !found_lighter && let Some(cycle) = self.shortest_cycle(&component, RW, WW | WR | RW)
            {
                anomalies.push(self.describe(AnomalyKind::G2Item, cycle, RW, WW | WR | RW));
            }
        }
        anomalies
    }

    /// The shortest cycle inside `component` that starts with an edge of kind `seed` and
    /// continues along edges in `mask`. The cycle lists the seed edge's source first.
    fn shortest_cycle(
        &self,
        component: &BTreeSet<usize>,
        seed: u8,
        mask: u8,
    ) -> Option<Vec<usize>> {
        let mut best: Option<Vec<usize>> = None;
        let seeds = component
            .iter()
            .flat_map(|from| {
                self.edges[from]
                    .iter()
                    .filter(|(to, labels)| {
                        component.contains(to) && labels.iter().any(|(kind, _)| *kind == seed)
                    })
                    .map(move |(to, _)| (*from, *to))
            })
            .take(MAX_SEARCH_SEEDS);
        for (from, to) in seeds {
            if let Some(path) = self.bfs(component, to, from, mask) {
                let mut cycle = vec![from];
                cycle.extend(&path[..path.len() - 1]);
                if best.as_ref().is_none_or(|b| cycle.len() < b.len()) {
                    best = Some(cycle);
                }
            }
        }
        best
    }

    /// The shortest path `start → … → goal` inside `component` along edges in `mask`.
    fn bfs(
        &self,
        component: &BTreeSet<usize>,
        start: usize,
        goal: usize,
        mask: u8,
    ) -> Option<Vec<usize>> {
        let mut parent: BTreeMap<usize, usize> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut visited = BTreeSet::from([start]);
        while let Some(node) = queue.pop_front() {
            if node == goal {
                let mut path = vec![goal];
                let mut at = goal;
                while let Some(previous) = parent.get(&at) {
                    path.push(*previous);
                    at = *previous;
                }
                path.reverse();
                return Some(path);
            }
            for (next, labels) in self.edges.get(&node).into_iter().flatten() {
                let usable = labels.iter().any(|(kind, _)| kind & mask != 0);
                if usable && component.contains(next) && visited.insert(*next) {
                    parent.insert(*next, node);
                    queue.push_back(*next);
                }
            }
        }
        None
    }

    fn describe(&self, kind: AnomalyKind, cycle: Vec<usize>, seed: u8, mask: u8) -> Anomaly {
        let mut text = format!("T{}", cycle[0]);
        for (i, from) in cycle.iter().enumerate() {
            let to = cycle[(i + 1) % cycle.len()];
            let allowed = if i == 0 { seed } else { mask };
            let (edge, key) = self.has(*from, to, allowed).expect("cycle edges exist");
            text.push_str(&format!(" -{} on key {key}-> T{to}", kind_name(edge)));
        }
        Anomaly {
            kind,
            explanation: format!("dependency cycle {text}"),
            cycle,
        }
    }

    /// Strongly connected components with at least two transactions (Tarjan's algorithm,
    /// iterative so deep histories do not exhaust the stack).
    fn components(&self) -> Vec<BTreeSet<usize>> {
        let nodes: BTreeSet<usize> = self
            .edges
            .iter()
            .flat_map(|(from, tos)| std::iter::once(*from).chain(tos.keys().copied()))
            .collect();
        let mut index_of: BTreeMap<usize, usize> = BTreeMap::new();
        let mut low: BTreeMap<usize, usize> = BTreeMap::new();
        let mut on_stack: BTreeSet<usize> = BTreeSet::new();
        let mut stack: Vec<usize> = Vec::new();
        let mut components = Vec::new();
        let mut next_index = 0;
        let successors = |node: usize| -> Vec<usize> {
            self.edges
                .get(&node)
                .map(|tos| tos.keys().copied().collect())
                .unwrap_or_default()
        };
        for root in nodes {
            if index_of.contains_key(&root) {
                continue;
            }
            // Each frame: (node, its successors, how many were visited).
            let mut frames: Vec<(usize, Vec<usize>, usize)> = Vec::new();
            index_of.insert(root, next_index);
            low.insert(root, next_index);
            next_index += 1;
            stack.push(root);
            on_stack.insert(root);
            frames.push((root, successors(root), 0));
            while let Some((node, succ, position)) = frames.last_mut() {
                let node = *node;
                if let Some(next) = succ.get(*position).copied() {
                    *position += 1;
                    if let std::collections::btree_map::Entry::Vacant(entry) = index_of.entry(next)
                    {
                        entry.insert(next_index);
                        low.insert(next, next_index);
                        next_index += 1;
                        stack.push(next);
                        on_stack.insert(next);
                        frames.push((next, successors(next), 0));
                    } else if on_stack.contains(&next) {
                        let lowest = low[&node].min(index_of[&next]);
                        low.insert(node, lowest);
                    }
                    continue;
                }
                frames.pop();
                if let Some((parent, _, _)) = frames.last() {
                    let lowest = low[parent].min(low[&node]);
                    low.insert(*parent, lowest);
                }
                if low[&node] == index_of[&node] {
                    let mut component = BTreeSet::new();
                    loop {
                        let member = stack.pop().expect("the root is on the stack");
                        on_stack.remove(&member);
                        component.insert(member);
                        if member == node {
                            break;
                        }
                    }
                    if component.len() >= 2 {
                        components.push(component);
                    }
                }
            }
        }
        components
    }
}
