//! The dependency graph of a list-append history and its cycle search.
//!
//! Edges: ww from each appender to the next appender of the same key (version order),
//! wr from the appender of the last element a transaction read to the reader, rw from a
//! reader to the appender of the element after the version it read. Cycles are searched
//! inside strongly connected components; for each kind, the shortest cycle (by BFS) is
//! the evidence.
//!
//! The graph is stored flat (compressed rows): each transaction's successors lie in one
//! slice of `targets`, ascending, and each pair of transactions carries its edge labels
//! in the order they were first derived. Walks therefore visit successors in ascending
//! order, which fixes which cycle is reported.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::checkers::elle::orders::Analysis;
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

/// The labels of one pair of transactions: at most one `(kind, key)` per kind, in the
/// order the kinds were first derived.
#[derive(Debug, Clone, Copy, Default)]
struct Labels {
    len: u8,
    items: [(u8, u64); 3],
}

impl Labels {
    fn add(&mut self, kind: u8, key: u64) {
        let len = usize::from(self.len);
        if !self.items[..len].iter().any(|(k, _)| *k == kind) {
            assert!(len < 3, "one label per kind, three kinds");
            self.items[len] = (kind, key);
            self.len += 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = &(u8, u64)> {
        self.items[..usize::from(self.len)].iter()
    }

    /// The first label whose kind is in `mask`.
    fn find(&self, mask: u8) -> Option<(u8, u64)> {
        self.iter().find(|(kind, _)| kind & mask != 0).copied()
    }
}

/// Dependencies between transactions (by index).
#[derive(Debug, Default)]
pub(super) struct Graph {
    /// Transaction `t`'s successors are `targets[starts[t]..starts[t + 1]]`.
    starts: Vec<usize>,
    /// `(to, labels)`, grouped by source, ascending `to` within a source.
    targets: Vec<(usize, Labels)>,
    /// Whether each transaction has any edge, in or out.
    touched: Vec<bool>,
}

impl Graph {
    /// Derives the edges from the analysed reads.
    pub fn build(txns: &[ElleTxn], analysis: &Analysis) -> Self {
        // (from, to, kind, key), in the order the edges are derived.
        let mut edges: Vec<(usize, usize, u8, u64)> = Vec::new();
        let mut add = |from: usize, to: usize, kind: u8, key: u64| {
            if from != to {
                edges.push((from, to, kind, key));
            }
        };
        for (key, order) in &analysis.orders {
            for pair in order.windows(2) {
                if let (Some(a), Some(b)) =
                    (analysis.node(*key, pair[0]), analysis.node(*key, pair[1]))
                {
                    add(a, b, WW, *key);
                }
            }
        }
        for read in &analysis.external_reads {
            debug_assert!(
                read.txn < txns.len(),
                "reads name transactions of the history"
            );
            if let Some(writer) = read
                .list
                .last()
                .and_then(|last| analysis.node(read.key, *last))
            {
                add(writer, read.txn, WR, read.key);
            }
            let Some(order) = analysis.order(read.key) else {
                continue;
            };
            if !order.starts_with(read.list) {
                continue;
            }
            if let Some(next) = order
                .get(read.list.len())
                .and_then(|e| analysis.node(read.key, *e))
            {
                add(read.txn, next, RW, read.key);
            }
        }
        Graph::from_edges(txns.len(), edges)
    }

    /// Groups `edges` (in derivation order) by source and target.
    fn from_edges(nodes: usize, mut edges: Vec<(usize, usize, u8, u64)>) -> Self {
        // A stable sort keeps each pair's labels in derivation order.
        edges.sort_by_key(|(from, to, _, _)| (*from, *to));
        let mut graph = Graph {
            starts: vec![0; nodes + 1],
            targets: Vec::with_capacity(edges.len()),
            touched: vec![false; nodes],
        };
        for pair in edges.chunk_by(|a, b| (a.0, a.1) == (b.0, b.1)) {
            let (from, to) = (pair[0].0, pair[0].1);
            let mut labels = Labels::default();
            for (_, _, kind, key) in pair {
                labels.add(*kind, *key);
            }
            graph.targets.push((to, labels));
            graph.starts[from + 1] += 1;
            graph.touched[from] = true;
            graph.touched[to] = true;
        }
        for node in 0..nodes {
            graph.starts[node + 1] += graph.starts[node];
        }
        graph
    }

    fn successors(&self, node: usize) -> &[(usize, Labels)] {
        &self.targets[self.starts[node]..self.starts[node + 1]]
    }

    fn has(&self, from: usize, to: usize, mask: u8) -> Option<(u8, u64)> {
        let successors = self.successors(from);
        let at = successors.binary_search_by_key(&to, |(t, _)| *t).ok()?;
        successors[at].1.find(mask)
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
                self.successors(*from)
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
            for (next, labels) in self.successors(node) {
                let usable = labels.find(mask).is_some();
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
    /// iterative so deep histories do not exhaust the stack). Roots are taken in
    /// ascending order among the transactions with an edge.
    fn components(&self) -> Vec<BTreeSet<usize>> {
        const UNSEEN: usize = usize::MAX;
        let nodes = self.touched.len();
        let mut index_of = vec![UNSEEN; nodes];
        let mut low = vec![0; nodes];
        let mut on_stack = vec![false; nodes];
        let mut stack: Vec<usize> = Vec::new();
        let mut components = Vec::new();
        let mut next_index = 0;
        // Each frame: (node, how many of its successors were visited).
        let mut frames: Vec<(usize, usize)> = Vec::new();
        for root in (0..nodes).filter(|node| self.touched[*node]) {
            if index_of[root] != UNSEEN {
                continue;
            }
            index_of[root] = next_index;
            low[root] = next_index;
            next_index += 1;
            stack.push(root);
            on_stack[root] = true;
            frames.push((root, 0));
            while let Some((node, position)) = frames.last_mut() {
                let node = *node;
                if let Some((next, _)) = self.successors(node).get(*position) {
                    let next = *next;
                    *position += 1;
                    if index_of[next] == UNSEEN {
                        index_of[next] = next_index;
                        low[next] = next_index;
                        next_index += 1;
                        stack.push(next);
                        on_stack[next] = true;
                        frames.push((next, 0));
                    } else if on_stack[next] {
                        low[node] = low[node].min(index_of[next]);
                    }
                    continue;
                }
                frames.pop();
                if let Some((parent, _)) = frames.last() {
                    low[*parent] = low[*parent].min(low[node]);
                }
                if low[node] == index_of[node] {
                    let at = stack
                        .iter()
                        .rposition(|member| *member == node)
                        .expect("a component's root is on the stack");
                    for member in &stack[at..] {
                        on_stack[*member] = false;
                    }
                    if stack.len() - at >= 2 {
                        components.push(stack.drain(at..).collect());
                    } else {
                        stack.truncate(at);
                    }
                }
            }
        }
        components
    }
}
