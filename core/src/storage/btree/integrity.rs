//! `IntegrityCheck`: walks the whole tree and reports every structural problem it finds,
//! each as a sentence naming the page.
//!
//! Checked: each page decodes; keys strictly increase inside each page and lie in the
//! range the separators above allow (so they increase across the tree); separators of a
//! node lie inside the node's own range; all leaves are at the same depth; the minimum-fill
//! rule of `node.rs` (an underfull non-root node cannot be merged with an adjacent
//! sibling); every page `2..=page_count` is in the tree or on the freelist, exactly once.
//! Page checksums and the header are the pager's part of the check.
//!
//! A re-entrant state machine: the pages still to visit live in the state, and a page is
//! taken off that list only after its read has completed.

use std::collections::BTreeMap;

use super::node::{Node, capacity, interior_cell_bytes, min_fill};
use super::read::read_node;
use crate::io::IOResult;
use crate::storage::{PageAccess, PageNo};
use crate::{Error, Result};

/// Checks the tree and the page accounting.
#[derive(Debug)]
pub struct IntegrityCheck {
    state: CheckState,
    findings: Findings,
}

/// What the walk has learned so far, and the problems found.
#[derive(Debug)]
struct Findings {
    freelist: Vec<PageNo>,
    page_count: u32,
    /// Pages met in the tree, with the page that points to them (0 for the root).
    seen: BTreeMap<PageNo, PageNo>,
    /// Kind (leaf?) and fill of each page decoded.
    fills: BTreeMap<PageNo, (bool, usize)>,
    /// Separators and children of each interior node decoded.
    interiors: Vec<(PageNo, Vec<Vec<u8>>, Vec<PageNo>)>,
    leaf_depth: Option<(usize, PageNo)>,
    problems: Vec<String>,
}

#[derive(Debug)]
enum CheckState {
    /// Waiting to learn the root.
    Start,
    /// Waiting for the last page of `pending` (visited depth first, left to right).
    WaitPage { pending: Vec<Visit> },
    /// Finished; stepping again is a bug.
    Done,
}

/// A page to visit and what its parent promises about it.
#[derive(Debug)]
struct Visit {
    pgno: PageNo,
    parent: PageNo,
    depth: usize,
    /// Keys must be `>= lower` and `< upper`.
    lower: Option<Vec<u8>>,
    upper: Option<Vec<u8>>,
}

impl IntegrityCheck {
    /// A check of the tree against the pager's `freelist` and `page_count` (the highest
    /// page number in the database; page 1 is the header).
    pub fn new(freelist: Vec<PageNo>, page_count: u32) -> IntegrityCheck {
        let findings = Findings {
            freelist,
            page_count,
            seen: BTreeMap::new(),
            fills: BTreeMap::new(),
            interiors: Vec::new(),
            leaf_depth: None,
            problems: Vec::new(),
        };
        IntegrityCheck {
            state: CheckState::Start,
            findings,
        }
    }

    /// Advances the check; `Done(problems)`, empty when the tree is sound. I/O errors are
    /// returned as errors; corrupt pages are reported as problems.
    pub fn step<P: PageAccess + ?Sized>(&mut self, pages: &mut P) -> Result<IOResult<Vec<String>>> {
        loop {
            match &mut self.state {
                CheckState::Start => {
                    let root = pages.root();
                    let mut pending = Vec::new();
                    if root != 0 {
                        pending.push(Visit {
                            pgno: root,
                            parent: 0,
                            depth: 0,
                            lower: None,
                            upper: None,
                        });
                    }
                    self.state = CheckState::WaitPage { pending };
                }
                CheckState::WaitPage { pending } => {
                    let Some(visit) = pending.last() else {
                        self.state = CheckState::Done;
                        self.findings.check_fill(capacity(pages.usable_size()));
                        self.findings.check_accounting();
                        return Ok(IOResult::Done(std::mem::take(&mut self.findings.problems)));
                    };
                    let (pgno, parent) = (visit.pgno, visit.parent);
                    if pgno < 2 || pgno > self.findings.page_count {
                        let count = self.findings.page_count;
                        self.findings.problems.push(format!(
                            "page {parent} points to page {pgno}, outside 2..={count}"
                        ));
                        pending.pop();
                        continue;
                    }
                    if let Some(first) = self.findings.seen.get(&pgno) {
                        self.findings.problems.push(format!(
                            "page {pgno} is used twice in the tree: by page {first} and by page {parent}"
                        ));
                        pending.pop();
                        continue;
                    }
                    let node = match read_node(pages, pgno, 0) {
                        Ok(IOResult::IO(io)) => return Ok(IOResult::IO(io)),
                        Ok(IOResult::Done(node)) => Some(node),
                        Err(Error::Corrupt(why)) => {
                            self.findings.problems.push(why.to_string());
                            None
                        }
                        Err(error) => return Err(error),
                    };
                    let visit = pending.pop().expect("a visit was peeked above");
                    self.findings.seen.insert(pgno, parent);
                    if let Some(node) = node {
                        let children = self.findings.check_page(&visit, node);
                        pending.extend(children.into_iter().rev());
                    }
                }
                CheckState::Done => panic!("a finished integrity check was stepped again"),
            }
        }
    }
}

impl Findings {
    /// Checks one page against its promised range; returns the visits for its children.
    fn check_page(&mut self, visit: &Visit, node: Node) -> Vec<Visit> {
        let pgno = visit.pgno;
        let keys: Vec<Vec<u8>> = node.keys().into_iter().map(<[u8]>::to_vec).collect();
        for (index, key) in keys.iter().enumerate() {
            let below = visit.lower.as_ref().is_some_and(|lower| key < lower);
            let above = visit.upper.as_ref().is_some_and(|upper| key >= upper);
            if below || above {
                self.problems.push(format!(
                    "page {pgno}: key {index} lies outside the range its parent page {} gives it",
                    visit.parent
                ));
            }
        }
        self.fills.insert(pgno, (node.is_leaf(), node.fill()));
        match node {
            Node::Leaf { .. } => {
                match self.leaf_depth {
                    None => self.leaf_depth = Some((visit.depth, pgno)),
                    Some((depth, first)) if depth != visit.depth => self.problems.push(format!(
                        "page {pgno}: leaf at depth {}, but leaf page {first} is at depth {depth}",
                        visit.depth
                    )),
                    Some(_) => {}
                }
                Vec::new()
            }
            Node::Interior { keys, children } => {
                let visits = children
                    .iter()
                    .enumerate()
                    .map(|(index, &child)| Visit {
                        pgno: child,
                        parent: pgno,
                        depth: visit.depth + 1,
                        lower: if index == 0 {
                            visit.lower.clone()
                        } else {
                            Some(keys[index - 1].clone())
                        },
                        upper: keys.get(index).cloned().or_else(|| visit.upper.clone()),
                    })
                    .collect();
                self.interiors.push((pgno, keys, children));
                visits
            }
        }
    }

    /// The minimum-fill rule: no underfull child can be merged with an adjacent sibling.
    fn check_fill(&mut self, capacity: usize) {
        for (pgno, keys, children) in &self.interiors {
            for index in 0..children.len().saturating_sub(1) {
                let (left, right) = (children[index], children[index + 1]);
                let (Some(&(left_leaf, left_fill)), Some(&(right_leaf, right_fill))) =
                    (self.fills.get(&left), self.fills.get(&right))
                else {
                    continue;
                };
                if left_leaf != right_leaf {
                    self.problems.push(format!(
                        "page {pgno}: children {left} and {right} are a leaf and an interior node"
                    ));
                    continue;
                }
                let separator = if left_leaf {
                    0
                } else {
                    interior_cell_bytes(&keys[index])
                };
                let fits = left_fill + separator + right_fill <= capacity;
                if fits && left_fill.min(right_fill) < min_fill(capacity) {
                    self.problems.push(format!(
                        "page {pgno}: children {left} ({left_fill} bytes) and {right} \
                         ({right_fill} bytes) fit in one page of {capacity} bytes, yet one \
                         of them is underfull (below {} bytes) and was not merged",
                        min_fill(capacity)
                    ));
                }
            }
        }
    }

    /// Every page `2..=page_count` in the tree or on the freelist, exactly once.
    fn check_accounting(&mut self) {
        let mut free: BTreeMap<PageNo, usize> = BTreeMap::new();
        for &pgno in &self.freelist {
            *free.entry(pgno).or_insert(0) += 1;
        }
        for (&pgno, &times) in &free {
            if pgno < 2 || pgno > self.page_count {
                self.problems.push(format!(
                    "page {pgno} is on the freelist but outside 2..={}",
                    self.page_count
                ));
            }
            if times > 1 {
                self.problems
                    .push(format!("page {pgno} is on the freelist {times} times"));
            }
            if let Some(parent) = self.seen.get(&pgno) {
                self.problems.push(format!(
                    "page {pgno} is on the freelist and also in the tree (under page {parent})"
                ));
            }
        }
        for pgno in 2..=self.page_count {
            if !self.seen.contains_key(&pgno) && !free.contains_key(&pgno) {
                self.problems.push(format!(
                    "page {pgno} is an orphan: neither in the tree nor on the freelist"
                ));
            }
        }
    }
}
