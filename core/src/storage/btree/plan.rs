//! Planning a change to the tree: a pure function from the pages read so far to either the
//! next page it needs or the complete set of new page images.
//!
//! Planning never mutates anything. A write operation re-runs it after each page read until
//! it is `Ready`, so the gather phase is simply "read what the planner asks for". Pages the
//! plan allocates carry placeholder numbers (`PLACEHOLDER_BASE + i`) that the apply phase
//! replaces with the pages the pager hands out.
//!
//! What a plan does, bottom up from the changed leaf:
//! - a node that no longer fits is split into the fewest pieces (`pack::split`); the first
//!   piece keeps the page, the others get new pages, the separators go into the parent; a
//!   root that splits gets a new root above it;
//! - a node that shrank, and every new piece, is *settled* with its siblings: any underfull
//!   node next to one of them is merged into an adjacent sibling when the two fit in one
//!   page, until no such merge is left (the minimum-fill rule of `node.rs`). Merging two
//!   interior nodes makes two grandchildren adjacent, so the merged node is settled too.
//!   An underfull leaf that fits with neither sibling takes cells from one of them when
//!   that leaves both at least at the minimum fill (redistribution);
//! - a parent that changed is handled the same way at its level; a root left with a single
//!   child is freed and the child becomes the root.

use std::collections::{BTreeMap, BTreeSet};

use super::node::{LookupStep, Node, child_index, leaf_cell_bytes, lookup, min_fill};
use super::pack::{Pieces, merge, split};
use super::read::{MAX_DEPTH, too_deep};
use crate::error::Corruption;
use crate::storage::{PageNo, PageRef};
use crate::{Error, Result};

/// Page numbers at and above this stand for pages a plan allocates.
pub(super) const PLACEHOLDER_BASE: PageNo = u32::MAX - 65_536;

/// The change to plan.
#[derive(Debug, Clone, Copy)]
pub(super) enum Change<'a> {
    /// Insert `key`, or replace its value.
    Put { key: &'a [u8], value: &'a [u8] },
    /// Remove `key` if present.
    Delete { key: &'a [u8] },
}

/// The complete effect of one change.
#[derive(Debug)]
pub(super) struct Plan {
    /// New contents of every page written, existing or placeholder.
    pub writes: BTreeMap<PageNo, Node>,
    /// New contents of pages written as edited images instead of nodes (never a page of
    /// `writes`); the planner makes none, the common leaf split makes its parent's.
    pub edited: BTreeMap<PageNo, EditedImage>,
    /// Pages that leave the tree.
    pub frees: Vec<PageNo>,
    /// How many placeholder pages the plan uses.
    pub new_pages: u32,
    /// The root after the change (maybe a placeholder).
    pub root: PageNo,
    /// Whether some node was split.
    pub split: bool,
    /// Whether some nodes were merged.
    pub merge: bool,
    /// Put: whether a value was replaced. Delete: whether the key was there.
    pub outcome: bool,
}

/// A page's new image made by editing its old one (its reserved tail copied unchanged).
/// The child pointers at byte offsets `placeholders` hold placeholder pages, which the
/// apply phase replaces with the pages it allocates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct EditedImage {
    pub image: Vec<u8>,
    pub placeholders: Vec<usize>,
}

/// What planning produced.
#[derive(Debug)]
pub(super) enum Planned {
    /// Read this page, then plan again.
    Need(PageNo),
    Ready(Plan),
}

/// The pages a plan has to work with: every image read so far (`usable_size` bytes of each
/// hold the node), and those of them that were decoded.
#[derive(Debug, Clone, Copy)]
pub(super) struct Read<'a> {
    pub images: &'a BTreeMap<PageNo, PageRef>,
    pub nodes: &'a BTreeMap<PageNo, Node>,
    pub usable_size: usize,
}

/// Plans `change` against the tree rooted at `root`, given only decoded pages (tests).
#[cfg(test)]
pub(super) fn plan(
    nodes: &BTreeMap<PageNo, Node>,
    root: PageNo,
    change: Change<'_>,
    capacity: usize,
) -> Result<Planned> {
    let images = BTreeMap::new();
    let read = Read {
        images: &images,
        nodes,
        usable_size: 0,
    };
    plan_over(read, root, change, capacity)
}

/// Plans `change` against the tree rooted at `root`, given the pages read so far. The
/// descent looks interior pages up in their images; a page the plan must change or
/// inspect as a whole is asked for (`Need`) until it is decoded into `read.nodes`.
pub(super) fn plan_over(
    read: Read<'_>,
    root: PageNo,
    change: Change<'_>,
    capacity: usize,
) -> Result<Planned> {
    let mut planner = Planner {
        images: read.images,
        usable_size: read.usable_size,
        nodes: read.nodes,
        capacity,
        writes: BTreeMap::new(),
        frees: Vec::new(),
        new_pages: 0,
        split: false,
        merge: false,
    };
    match planner.run(root, change) {
        Ok((root, outcome)) => Ok(Planned::Ready(Plan {
            writes: planner.writes,
            edited: BTreeMap::new(),
            frees: planner.frees,
            new_pages: planner.new_pages,
            root,
            split: planner.split,
            merge: planner.merge,
            outcome,
        })),
        Err(Stop::Missing(pgno)) => Ok(Planned::Need(pgno)),
        Err(Stop::Failed(error)) => Err(error),
    }
}

/// Whether `change` splits a leaf holding `cells` (`fill` bytes) or makes it shrink:
/// exactly when `propagate` goes on to the parent.
fn leaf_leaves_its_size(
    cells: &[(Vec<u8>, Vec<u8>)],
    fill: usize,
    change: Change<'_>,
    capacity: usize,
) -> bool {
    let key = match change {
        Change::Put { key, .. } | Change::Delete { key } => key,
    };
    let old_cell = cells
        .binary_search_by(|(k, _)| k.as_slice().cmp(key))
        .map_or(0, |index| leaf_cell_bytes(&cells[index].0, &cells[index].1));
    let new_cell = match change {
        Change::Put { key, value } => leaf_cell_bytes(key, value),
        Change::Delete { .. } => 0,
    };
    let new_fill = fill - old_cell + new_cell;
    new_fill > capacity || new_fill < fill
}

/// Why planning stopped early.
enum Stop {
    /// A page that has not been read yet.
    Missing(PageNo),
    Failed(Error),
}

type Planning<T> = std::result::Result<T, Stop>;

fn corrupt(pgno: PageNo, what: impl std::fmt::Display) -> Stop {
    Stop::Failed(Corruption::node(pgno, what).into())
}

struct Planner<'a> {
    images: &'a BTreeMap<PageNo, PageRef>,
    usable_size: usize,
    nodes: &'a BTreeMap<PageNo, Node>,
    capacity: usize,
    writes: BTreeMap<PageNo, Node>,
    frees: Vec<PageNo>,
    new_pages: u32,
    split: bool,
    merge: bool,
}

impl Planner<'_> {
    /// Runs the plan; returns the new root and the outcome.
    fn run(&mut self, root: PageNo, change: Change<'_>) -> Planning<(PageNo, bool)> {
        let key = match change {
            Change::Put { key, .. } | Change::Delete { key } => key,
        };
        let mut path = Vec::new();
        let mut pgno = root;
        // The descent borrows each node; only the leaf, which changes, is copied.
        let (mut cells, old_fill) = loop {
            if path.len() > MAX_DEPTH {
                return Err(Stop::Failed(too_deep(pgno).into()));
            }
            if !self.nodes.contains_key(&pgno)
                && let Some(image) = self.images.get(&pgno)
            {
                // Not decoded: an interior page is only passed through (decoding it copied
                // every separator, per put); a leaf is asked for decoded.
                match lookup(image, self.usable_size, key).map_err(|why| corrupt(pgno, why))? {
                    LookupStep::Child { page, index } => {
                        path.push((pgno, index));
                        pgno = page;
                        continue;
                    }
                    LookupStep::Leaf(_) => return Err(Stop::Missing(pgno)),
                }
            }
            let node = self.node_ref(pgno)?;
            match node {
                Node::Interior { keys, children } => {
                    let index = child_index(keys, key);
                    path.push((pgno, index));
                    pgno = children[index];
                }
                Node::Leaf { cells } => {
                    let fill = node.fill();
                    if let Some(&(parent, index)) = path.last()
                        && leaf_leaves_its_size(cells, fill, change, self.capacity)
                    {
                        // A split or a shrink settles with the neighbours: ask for the
                        // parent and the first neighbour before copying the leaf.
                        self.ask_for_neighbours(parent, index, false)?;
                    }
                    break (cells.clone(), fill);
                }
            }
        };
        let found = cells.binary_search_by(|(k, _)| k.as_slice().cmp(key));
        let outcome = match (change, found) {
            (Change::Put { value, .. }, Ok(index)) if cells[index].1 == value => {
                return Ok((root, true));
            }
            (Change::Put { value, .. }, Ok(index)) => {
                cells[index].1 = value.to_vec();
                true
            }
            (Change::Put { value, .. }, Err(index)) => {
                cells.insert(index, (key.to_vec(), value.to_vec()));
                false
            }
            (Change::Delete { .. }, Ok(index)) => {
                cells.remove(index);
                true
            }
            (Change::Delete { .. }, Err(_)) => return Ok((root, false)),
        };
        let root = self.propagate(path, pgno, old_fill, Node::Leaf { cells }, root)?;
        Ok((root, outcome))
    }

    /// Writes `node` as the new content of `pgno` (whose fill was `old_fill`) and carries
    /// the consequences up the `path`. Returns the root afterwards.
    fn propagate(
        &mut self,
        mut path: Vec<(PageNo, usize)>,
        mut pgno: PageNo,
        mut old_fill: usize,
        mut node: Node,
        root: PageNo,
    ) -> Planning<PageNo> {
        loop {
            let leaf_level = node.is_leaf();
            let Pieces { pieces, separators } = split(node, self.capacity);
            let pieces_underfull = pieces.iter().any(|p| p.fill() < min_fill(self.capacity));
            let mut numbers = vec![pgno];
            for _ in 1..pieces.len() {
                numbers.push(self.new_page());
            }
            self.split |= pieces.len() > 1;
            let shrank = pieces.len() == 1 && pieces[0].fill() < old_fill;
            for (&number, piece) in numbers.iter().zip(pieces) {
                self.writes.insert(number, piece);
            }
            let Some((parent_pgno, index)) = path.pop() else {
                if numbers.len() == 1 {
                    return self.collapse_root(pgno);
                }
                // The root split: a new root above the pieces, which may itself need a split.
                node = Node::Interior {
                    keys: separators,
                    children: numbers,
                };
                pgno = self.new_page();
                old_fill = 0;
                continue;
            };
            if numbers.len() == 1 && !shrank {
                // Growing in place cannot make any sibling mergeable.
                return Ok(root);
            }
            self.ask_for_neighbours(parent_pgno, index, leaf_level && !pieces_underfull)?;
            let parent = self.node(parent_pgno)?;
            let parent_fill = parent.fill();
            let Node::Interior {
                mut keys,
                mut children,
            } = parent
            else {
                return Err(corrupt(
                    parent_pgno,
                    "a leaf on the path above another page",
                ));
            };
            assert_eq!(
                children[index], pgno,
                "the path records the child it descended into"
            );
            let pieces_count = numbers.len();
            children.splice(index..=index, numbers.iter().copied());
            keys.splice(index..index, separators);
            let merged = self.settle(parent_pgno, &mut keys, &mut children, numbers, true)?;
            if pieces_count == 1 && !merged {
                return Ok(root);
            }
            node = Node::Interior { keys, children };
            pgno = parent_pgno;
            old_fill = parent_fill;
        }
    }

    /// Asks for the pages `settle` will look at first, before the parent is copied, so that a
    /// planning pass that has to stop for a page stops before copying anything; the pages
    /// are asked for in the order `settle` asks for them. `settle` looks at the changed
    /// child's left neighbour first (its right one if it has none on the left). When no
    /// changed piece is underfull (`then_right`, leaf level only: merges a level above may
    /// ask for grandchildren first) and the left neighbour is not underfull either, nothing
    /// merges before `settle` reaches the right neighbour, so it is asked for second.
    fn ask_for_neighbours(&self, parent: PageNo, index: usize, then_right: bool) -> Planning<()> {
        let Node::Interior { children, .. } = self.node_ref(parent)? else {
            return Ok(()); // `propagate` reports the damage
        };
        let left = index.checked_sub(1).map(|i| children[i]);
        let right = children.get(index + 1).copied();
        let Some(first) = left.or(right) else {
            return Ok(());
        };
        let first_fill = self.node_ref(first)?.fill();
        if let (Some(_), Some(right)) = (left, right)
            && then_right
            && first_fill >= min_fill(self.capacity)
        {
            self.node_ref(right)?;
        }
        Ok(())
    }

    /// Merges underfull children of one interior node (`keys`, `children`, stored at
    /// `owner`) into adjacent siblings while possible, looking only at the `dirty` children
    /// and their neighbours (the only ones whose status can have changed). An underfull
    /// leaf that cannot merge takes cells from a sibling when that leaves both at least at
    /// the minimum fill (`redistribute`; it may change a separator's length, so it is off
    /// where the owner must not grow). Returns whether anything changed.
    fn settle(
        &mut self,
        owner: PageNo,
        keys: &mut Vec<Vec<u8>>,
        children: &mut Vec<PageNo>,
        dirty: Vec<PageNo>,
        redistribute: bool,
    ) -> Planning<bool> {
        let mut dirty: BTreeSet<PageNo> = dirty.into_iter().collect();
        let mut merged_any = false;
        'restart: loop {
            for index in 0..children.len() {
                if children.len() < 2 {
                    break 'restart;
                }
                let near_dirty = index.saturating_sub(1)..(index + 2).min(children.len());
                if !children[near_dirty]
                    .iter()
                    .any(|child| dirty.contains(child))
                {
                    continue;
                }
                if self.node_ref(children[index])?.fill() >= min_fill(self.capacity) {
                    continue;
                }
                let neighbours = [index.checked_sub(1), Some(index + 1)];
                for neighbour in neighbours.into_iter().flatten() {
                    if neighbour >= children.len() {
                        continue;
                    }
                    let left = index.min(neighbour);
                    if self.merge_pair(owner, keys, children, left)? {
                        dirty.insert(children[left]);
                        merged_any = true;
                        continue 'restart;
                    }
                }
                for neighbour in neighbours.into_iter().flatten() {
                    let left = index.min(neighbour);
                    if redistribute
                        && neighbour < children.len()
                        && self.redistribute_leaves(keys, children, left)?
                    {
                        dirty.extend([children[left], children[left + 1]]);
                        merged_any = true;
                        continue 'restart;
                    }
                }
            }
            break;
        }
        Ok(merged_any)
    }

    /// Merges `children[left]` and `children[left + 1]` if they fit in one page: the left
    /// page keeps the result, the right page is freed, their separator leaves the parent.
    fn merge_pair(
        &mut self,
        owner: PageNo,
        keys: &mut Vec<Vec<u8>>,
        children: &mut Vec<PageNo>,
        left: usize,
    ) -> Planning<bool> {
        let left_node = self.node(children[left])?;
        let right_node = self.node(children[left + 1])?;
        if left_node.is_leaf() != right_node.is_leaf() {
            return Err(corrupt(
                owner,
                "children of one node are at different depths",
            ));
        }
        let Some(mut merged) = merge(&left_node, &keys[left], &right_node, self.capacity) else {
            return Ok(false);
        };
        if let Node::Interior {
            keys: inner_keys,
            children: inner_children,
        } = &mut merged
        {
            // The last child of the left node and the first of the right are now siblings.
            let junction = match (&left_node, &right_node) {
                (Node::Interior { children: l, .. }, Node::Interior { children: r, .. }) => {
                    vec![*l.last().expect("interior has a child"), r[0]]
                }
                _ => unreachable!("both interior: checked above"),
            };
            self.settle(children[left], inner_keys, inner_children, junction, false)?;
        }
        let gone = children.remove(left + 1);
        keys.remove(left);
        self.free(gone);
        self.writes.insert(children[left], merged);
        self.merge = true;
        Ok(true)
    }

    /// Moves cells between leaves `children[left]` and `children[left + 1]` so that both end
    /// at least at the minimum fill, if some cut of their cells does that.
    fn redistribute_leaves(
        &mut self,
        keys: &mut [Vec<u8>],
        children: &[PageNo],
        left: usize,
    ) -> Planning<bool> {
        let (Node::Leaf { cells: left_cells }, Node::Leaf { cells: right_cells }) =
            (self.node(children[left])?, self.node(children[left + 1])?)
        else {
            return Ok(false);
        };
        let cells = left_cells.into_iter().chain(right_cells).collect();
        let Pieces {
            pieces,
            mut separators,
        } = split(Node::Leaf { cells }, self.capacity);
        let min = min_fill(self.capacity);
        if pieces.len() != 2 || pieces.iter().any(|piece| piece.fill() < min) {
            return Ok(false);
        }
        for (&pgno, piece) in children[left..=left + 1].iter().zip(pieces) {
            self.writes.insert(pgno, piece);
        }
        keys[left] = separators.pop().expect("two pieces have one separator");
        self.merge = true;
        Ok(true)
    }

    /// Frees single-child roots from the top down; returns the root that remains.
    fn collapse_root(&mut self, mut root: PageNo) -> Planning<PageNo> {
        loop {
            match self.node(root)? {
                Node::Interior { keys, children } if keys.is_empty() => {
                    self.free(root);
                    root = children[0];
                }
                _ => return Ok(root),
            }
        }
    }

    /// The current content of `pgno`: as planned so far, else as read.
    fn node(&self, pgno: PageNo) -> Planning<Node> {
        self.node_ref(pgno).cloned()
    }

    /// The current content of `pgno`, borrowed: for reading a node without copying it.
    fn node_ref(&self, pgno: PageNo) -> Planning<&Node> {
        if let Some(node) = self.writes.get(&pgno) {
            return Ok(node);
        }
        if let Some(node) = self.nodes.get(&pgno) {
            return Ok(node);
        }
        if !(2..PLACEHOLDER_BASE).contains(&pgno) {
            return Err(corrupt(pgno, "page number out of range in a child pointer"));
        }
        Err(Stop::Missing(pgno))
    }

    fn new_page(&mut self) -> PageNo {
        let pgno = PLACEHOLDER_BASE + self.new_pages;
        self.new_pages += 1;
        pgno
    }

    fn free(&mut self, pgno: PageNo) {
        self.writes.remove(&pgno);
        assert!(
            !self.frees.contains(&pgno),
            "page {pgno} freed twice by one plan"
        );
        self.frees.push(pgno);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPACITY: usize = 497; // a 512-byte page

    fn leaf(cells: &[(&str, usize)]) -> Node {
        let cells = cells
            .iter()
            .map(|&(k, len)| (k.as_bytes().to_vec(), vec![1; len]))
            .collect();
        Node::Leaf { cells }
    }

    fn two_leaves(left: Node, right: Node) -> BTreeMap<PageNo, Node> {
        let root = Node::Interior {
            keys: vec![b"m".to_vec()],
            children: vec![3, 4],
        };
        BTreeMap::from([(2, root), (3, left), (4, right)])
    }

    fn ready(nodes: &BTreeMap<PageNo, Node>, change: Change<'_>) -> Plan {
        match plan(nodes, 2, change, CAPACITY).expect("plan") {
            Planned::Ready(plan) => plan,
            Planned::Need(pgno) => panic!("plan needs page {pgno}"),
        }
    }

    /// Plans over images only (nothing decoded) of 512-byte pages.
    fn plan_images(
        images: &BTreeMap<PageNo, PageRef>,
        nodes: &BTreeMap<PageNo, Node>,
        change: Change<'_>,
    ) -> Result<Planned> {
        let read = Read {
            images,
            nodes,
            usable_size: 512,
        };
        plan_over(read, 2, change, CAPACITY)
    }

    fn image_of(node: &Node) -> PageRef {
        let mut image = vec![0; 512];
        node.encode_into(&mut image, 512);
        std::sync::Arc::new(image)
    }

    #[test]
    fn an_interior_image_is_passed_through_and_a_leaf_asked_for_decoded() {
        let nodes = two_leaves(leaf(&[("a", 10)]), leaf(&[("m", 10)]));
        let images: BTreeMap<PageNo, PageRef> = nodes
            .iter()
            .map(|(&pgno, node)| (pgno, image_of(node)))
            .collect();
        let change = Change::Put {
            key: b"n",
            value: b"v",
        };
        let none = BTreeMap::new();
        // The root is looked up in its image; the leaf it leads to must be decoded.
        assert!(matches!(
            plan_images(&images, &none, change),
            Ok(Planned::Need(4))
        ));
        let leaf_only = BTreeMap::from([(4, nodes[&4].clone())]);
        let Ok(Planned::Ready(plan)) = plan_images(&images, &leaf_only, change) else {
            panic!("the root's image and the decoded leaf are all a growing put needs");
        };
        assert_eq!(plan.writes.keys().copied().collect::<Vec<_>>(), vec![4]);
        assert!(!plan.outcome);
        // A damaged interior image is refused as corrupt, as decoding it would be.
        let mut damaged = images[&2].as_ref().clone();
        damaged[0] = 9;
        let damaged = BTreeMap::from([(2, std::sync::Arc::new(damaged))]);
        assert!(matches!(
            plan_images(&damaged, &none, change),
            Err(Error::Corrupt(_))
        ));
    }

    /// The pages a plan asks for, in order, when it starts from `known` and each page it
    /// asks for is then given from `all`.
    fn needs_in_order(
        all: &BTreeMap<PageNo, Node>,
        mut known: BTreeMap<PageNo, Node>,
        change: Change<'_>,
    ) -> Vec<PageNo> {
        let mut asked = Vec::new();
        loop {
            match plan(&known, 2, change, CAPACITY).expect("plan") {
                Planned::Ready(_) => return asked,
                Planned::Need(pgno) => {
                    asked.push(pgno);
                    known.insert(pgno, all[&pgno].clone());
                }
            }
        }
    }

    #[test]
    fn a_split_asks_for_neighbours_in_the_order_settling_looks_at_them() {
        let middle = leaf(&[("m", 120), ("n", 120), ("o", 120), ("p", 120)]);
        let tree = |left: Node| {
            let root = Node::Interior {
                keys: vec![b"g".to_vec(), b"m".to_vec(), b"t".to_vec()],
                children: vec![3, 4, 5, 6],
            };
            BTreeMap::from([
                (2, root),
                (3, leaf(&[("a", 200)])),
                (4, left),
                (5, middle.clone()),
                (6, leaf(&[("t", 200)])),
            ])
        };
        let change = Change::Put {
            key: b"o5",
            value: &[3; 50],
        };
        let start = |all: &BTreeMap<PageNo, Node>| {
            BTreeMap::from([(2, all[&2].clone()), (5, all[&5].clone())])
        };
        // The left neighbour is not underfull: settling looks at it, then at the right one.
        let all = tree(leaf(&[("g", 200)]));
        assert_eq!(needs_in_order(&all, start(&all), change), vec![4, 6]);
        // An underfull left neighbour is merged with its own left one first: asking for the
        // right neighbour second would change the order of reads.
        let all = tree(leaf(&[("g", 10)]));
        assert_eq!(needs_in_order(&all, start(&all), change)[..2], [4, 3]);
    }

    #[test]
    fn planning_asks_for_each_page_it_lacks() {
        let nodes = BTreeMap::new();
        let change = Change::Delete { key: b"a" };
        assert!(matches!(
            plan(&nodes, 2, change, CAPACITY),
            Ok(Planned::Need(2))
        ));
        // Deleting from the left leaf needs its sibling to settle it.
        let mut nodes = two_leaves(leaf(&[("a", 10)]), leaf(&[("m", 10)]));
        nodes.remove(&4);
        assert!(matches!(
            plan(&nodes, 2, change, CAPACITY),
            Ok(Planned::Need(4))
        ));
    }

    #[test]
    fn small_siblings_merge_and_the_root_collapses() {
        let nodes = two_leaves(leaf(&[("a", 10), ("b", 10)]), leaf(&[("m", 10)]));
        let plan = ready(&nodes, Change::Delete { key: b"a" });
        assert!(plan.outcome && plan.merge && !plan.split);
        assert_eq!(plan.root, 3);
        assert_eq!(plan.frees, vec![4, 2]);
        assert_eq!(plan.writes.get(&3), Some(&leaf(&[("b", 10), ("m", 10)])));
    }

    #[test]
    fn an_underfull_leaf_that_cannot_merge_takes_cells_from_its_sibling() {
        let right = leaf(&[("m", 115), ("n", 115), ("o", 115), ("p", 115)]);
        let nodes = two_leaves(leaf(&[("a", 200), ("b", 20)]), right);
        let plan = ready(&nodes, Change::Delete { key: b"a" });
        assert!(plan.merge && plan.frees.is_empty() && plan.new_pages == 0);
        assert_eq!(
            plan.writes.get(&3),
            Some(&leaf(&[("b", 20), ("m", 115), ("n", 115)]))
        );
        assert_eq!(plan.writes.get(&4), Some(&leaf(&[("o", 115), ("p", 115)])));
        let root = Node::Interior {
            keys: vec![b"o".to_vec()],
            children: vec![3, 4],
        };
        assert_eq!(plan.writes.get(&2), Some(&root));
    }

    #[test]
    fn a_full_root_leaf_splits_under_a_new_root() {
        let nodes = BTreeMap::from([(2, leaf(&[("a", 120), ("b", 120), ("c", 120)]))]);
        let plan = ready(
            &nodes,
            Change::Put {
                key: b"d",
                value: &[2; 125],
            },
        );
        assert!(plan.split && !plan.outcome);
        assert_eq!(plan.new_pages, 2);
        assert_eq!(plan.root, PLACEHOLDER_BASE + 1);
        let Some(Node::Interior { keys, children }) = plan.writes.get(&plan.root) else {
            panic!("the new root is an interior node");
        };
        assert_eq!(keys, &vec![b"c".to_vec()]);
        assert_eq!(children, &vec![2, PLACEHOLDER_BASE]);
    }

    #[test]
    fn rewriting_the_same_value_writes_nothing() {
        let nodes = two_leaves(leaf(&[("a", 10)]), leaf(&[("m", 10)]));
        let plan = ready(
            &nodes,
            Change::Put {
                key: b"a",
                value: &[1; 10],
            },
        );
        assert!(plan.outcome && plan.writes.is_empty() && plan.frees.is_empty());
    }
}
