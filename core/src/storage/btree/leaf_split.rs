//! The common split, planned without the planner: a put overflows its leaf, the leaf splits
//! into pieces none of which is underfull, neither neighbour the planner would look at is
//! underfull, and the parent takes the new separators without overflowing. Then settling
//! changes nothing and the plan is just the pieces and the parent with the pieces spliced
//! in, which this file builds directly, decoding only the leaf and the parent.
//!
//! It must plan exactly what `plan.rs` would, reading the same pages in the same order:
//! the neighbours are read left first (the right one first when there is no left one), and
//! the right one after the left one only when the left one is not underfull, as settling
//! does. Whenever a condition fails the write hands over to the planner with every page
//! read so far; those reads are a prefix of what the planner asks for, so it goes on
//! exactly as if it had asked for them itself.

use std::collections::BTreeMap;

use super::node::{Node, capacity, interior_cell_bytes, is_interior_image, min_fill, walk_leaf};
use super::pack::{Pieces, split};
use super::plan::{PLACEHOLDER_BASE, Plan};
use crate::storage::{PageNo, PageRef};

/// A leaf split in progress: what is known once the leaf is decoded and changed.
#[derive(Debug)]
pub(super) struct LeafSplit {
    /// Every page read so far (the path, the leaf, the neighbours read).
    pub images: BTreeMap<PageNo, PageRef>,
    pub leaf: PageNo,
    /// Bytes of a page the B-tree uses: the leaf is decoded again from its image in
    /// `images` if this path gives up, rather than kept decoded all along.
    pub usable_size: usize,
    pub parent: PageNo,
    /// The parent, decoded.
    pub parent_node: Node,
    /// The leaf's position among the parent's children.
    pub position: usize,
    /// The leaf's neighbours among the parent's children.
    pub left: Option<PageNo>,
    pub right: Option<PageNo>,
    /// The changed leaf cut into pieces, and the separators between them.
    pub pieces: Pieces,
    /// Whether the put replaced a value.
    pub replaced: bool,
    /// The root (unchanged by this split).
    pub root: PageNo,
}

/// What to do next with a split.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    /// Read this neighbour, then call `neighbour_read`.
    Read(PageNo),
    /// Everything needed was read: build the plan.
    Plan,
    /// A condition failed: hand over to the planner.
    GiveUp,
}

impl LeafSplit {
    /// The first neighbour to read: the left one, else the right one.
    pub(super) fn first(&self) -> Next {
        match self.left.or(self.right) {
            Some(page) => Next::Read(page),
            None => Next::Plan,
        }
    }

    /// `page` was read: give up if it is not a leaf or is underfull; else the next step.
    pub(super) fn neighbour_read(&self, page: PageNo, usable_size: usize) -> Result<Next, String> {
        let image = self.images.get(&page).expect("the neighbour was read");
        if is_interior_image(image) {
            return Ok(Next::GiveUp); // damage the planner reports in its own way
        }
        let fill = walk_leaf(image, usable_size, &[])?.end - super::node::HEADER_BYTES;
        if fill < min_fill(capacity(usable_size)) {
            return Ok(Next::GiveUp);
        }
        match (self.left, self.right) {
            (Some(left), Some(right)) if left == page => Ok(Next::Read(right)),
            _ => Ok(Next::Plan),
        }
    }

    /// The plan the planner would make: the pieces, and the parent with them spliced in,
    /// with the pages read; or the hand-over to the planner when the parent would
    /// overflow.
    pub(super) fn plan(
        self,
        usable_size: usize,
    ) -> Result<(BTreeMap<PageNo, PageRef>, Plan), HandOver> {
        let grown: usize = (self.pieces.separators.iter())
            .map(|s| interior_cell_bytes(s))
            .sum();
        let fits = self.parent_node.fill() + grown <= capacity(usable_size);
        let Node::Interior {
            mut keys,
            mut children,
        } = self.parent_node
        else {
            unreachable!("start checked the parent is an interior node")
        };
        if !fits {
            let parent_node = Node::Interior { keys, children };
            let leaf_node = decode_again(&self.images, self.leaf, self.usable_size);
            let nodes = BTreeMap::from([(self.leaf, leaf_node), (self.parent, parent_node)]);
            return Err((self.images, nodes));
        }
        let Pieces { pieces, separators } = self.pieces;
        let new_pages = u32::try_from(pieces.len() - 1).expect("few pieces");
        let mut numbers = vec![self.leaf];
        numbers.extend((0..new_pages).map(|i| PLACEHOLDER_BASE + i));
        assert_eq!(
            children[self.position], self.leaf,
            "the descent recorded the child it took"
        );
        children.splice(self.position..=self.position, numbers.iter().copied());
        keys.splice(self.position..self.position, separators);
        let mut writes: BTreeMap<PageNo, Node> = numbers.into_iter().zip(pieces).collect();
        writes.insert(self.parent, Node::Interior { keys, children });
        let plan = Plan {
            writes,
            frees: Vec::new(),
            new_pages,
            root: self.root,
            split: true,
            merge: false,
            outcome: self.replaced,
        };
        Ok((self.images, plan))
    }
}

/// What the planner starts from when this path gives up: every page read so far, and the
/// nodes decoded.
pub(super) type HandOver = (BTreeMap<PageNo, PageRef>, BTreeMap<PageNo, Node>);

impl LeafSplit {
    /// Gives up: the pages read and the nodes decoded, for the planner.
    pub(super) fn hand_over(self) -> HandOver {
        let leaf_node = decode_again(&self.images, self.leaf, self.usable_size);
        let nodes = BTreeMap::from([(self.leaf, leaf_node), (self.parent, self.parent_node)]);
        (self.images, nodes)
    }
}

/// The leaf as it was read, decoded again from its image for the planner.
fn decode_again(images: &BTreeMap<PageNo, PageRef>, leaf: PageNo, usable_size: usize) -> Node {
    let image = images
        .get(&leaf)
        .expect("the leaf's image is among the pages read");
    Node::decode(image, usable_size).expect("the leaf decoded before this split started")
}

/// Starts a split for a put of `key` = `value` into `leaf_node` (page `leaf`, child
/// `position` of `parent`, whose decoded node is `parent_node`), or hands over to the
/// planner when the leaf does not overflow (a shrink, which settling may merge), a piece
/// would be underfull, or the parent is not an interior node.
pub(super) fn start(
    images: BTreeMap<PageNo, PageRef>,
    leaf: (PageNo, Node),
    parent: (PageNo, Node, usize),
    change: (&[u8], &[u8]),
    root: PageNo,
    usable_size: usize,
) -> Result<LeafSplit, HandOver> {
    let ((leaf, leaf_node), (parent, parent_node, position), (key, value)) = (leaf, parent, change);
    let hand_over = |images, leaf_node, parent_node| {
        Err((
            images,
            BTreeMap::from([(leaf, leaf_node), (parent, parent_node)]),
        ))
    };
    let (Node::Leaf { .. }, Node::Interior { children, .. }) = (&leaf_node, &parent_node) else {
        return hand_over(images, leaf_node, parent_node);
    };
    if children.get(position) != Some(&leaf) {
        return hand_over(images, leaf_node, parent_node);
    }
    let (left, right) = (
        position.checked_sub(1).map(|i| children[i]),
        children.get(position + 1).copied(),
    );
    // The cells move into the changed leaf; a hand-over from here on decodes the leaf
    // again from its image (rare: most overflowing leaves split this way).
    let Node::Leaf { mut cells } = leaf_node else {
        unreachable!("matched as a leaf above")
    };
    let replaced = match cells.binary_search_by(|(k, _)| k.as_slice().cmp(key)) {
        Ok(i) => {
            cells[i].1 = value.to_vec();
            true
        }
        Err(i) => {
            cells.insert(i, (key.to_vec(), value.to_vec()));
            false
        }
    };
    let capacity = capacity(usable_size);
    let changed = Node::Leaf { cells };
    if changed.fill() <= capacity {
        let leaf_node = decode_again(&images, leaf, usable_size);
        return hand_over(images, leaf_node, parent_node);
    }
    let pieces = split(changed, capacity);
    if pieces.pieces.iter().any(|p| p.fill() < min_fill(capacity)) {
        let leaf_node = decode_again(&images, leaf, usable_size);
        return hand_over(images, leaf_node, parent_node);
    }
    Ok(LeafSplit {
        images,
        leaf,
        usable_size,
        parent,
        parent_node,
        position,
        left,
        right,
        pieces,
        replaced,
        root,
    })
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    use super::super::plan::{Change, Planned, plan};
    use super::*;

    const USABLE: usize = 512 - 8;

    /// A leaf of `count` cells with keys `prefix` + i and values of random lengths.
    fn leaf(rng: &mut Xoshiro256PlusPlus, prefix: u8, count: usize) -> Node {
        let cells = (0..count)
            .map(|i| {
                let len = usize::try_from(rng.next_u64() % 60).expect("small");
                (
                    vec![prefix, u8::try_from(i * 4).expect("small")],
                    vec![7; len],
                )
            })
            .collect();
        Node::Leaf { cells }
    }

    /// Random parents of a few leaves and random puts into one of them: whenever the split
    /// path makes a plan, the planner, given every page, makes the same one.
    #[test]
    fn the_split_path_plans_what_the_planner_plans() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let (mut compared, mut handed_over) = (0, 0);
        for _ in 0..6_000 {
            let children_count = 1 + usize::try_from(rng.next_u64() % 4).expect("small");
            let mut nodes = BTreeMap::new();
            let mut children = Vec::new();
            let mut keys = Vec::new();
            let mut prefixes = Vec::new();
            for c in 0..children_count {
                let prefix = b'b' + u8::try_from(c * 2).expect("small");
                let count = usize::try_from(rng.next_u64() % 14).expect("small");
                let node = leaf(&mut rng, prefix, count);
                if node.fill() > capacity(USABLE) {
                    continue;
                }
                let page = 10 + PageNo::try_from(c).expect("small");
                if !children.is_empty() {
                    keys.push(vec![prefix]);
                }
                children.push(page);
                prefixes.push(prefix);
                nodes.insert(page, node);
            }
            if children.is_empty() {
                continue;
            }
            let parent = Node::Interior {
                keys,
                children: children.clone(),
            };
            nodes.insert(2, parent.clone());
            let position = usize::try_from(rng.next_u64()).expect("fits") % children.len();
            let target = children[position];
            let Node::Leaf { cells } = &nodes[&target] else {
                unreachable!()
            };
            let key = match cells.first() {
                Some((k, _)) if rng.next_u64() % 3 == 0 => k.clone(),
                _ => vec![prefixes[position], 1],
            };
            let value = vec![9; usize::try_from(rng.next_u64() % 120).expect("small")];
            let mut image = vec![0; USABLE + 8];
            nodes[&target].encode_into(&mut image, USABLE);
            let started = start(
                BTreeMap::from([(target, PageRef::new(image))]),
                (target, nodes[&target].clone()),
                (2, parent, position),
                (&key, &value),
                2,
                USABLE,
            );
            let handed_over_leaf = |(_, handed): HandOver| handed[&target] == nodes[&target];
            let split = match started {
                Ok(split) => split,
                Err(handed) => {
                    assert!(
                        handed_over_leaf(handed),
                        "the planner gets the leaf as read"
                    );
                    handed_over += 1;
                    continue;
                }
            };
            let neighbours_ok = [split.left, split.right]
                .into_iter()
                .flatten()
                .all(|n| nodes[&n].fill() >= min_fill(capacity(USABLE)));
            if !neighbours_ok {
                continue;
            }
            let fast = match split.plan(USABLE) {
                Ok((_, fast)) => fast,
                Err(handed) => {
                    assert!(
                        handed_over_leaf(handed),
                        "the planner gets the leaf as read"
                    );
                    handed_over += 1;
                    continue;
                }
            };
            let change = Change::Put {
                key: &key,
                value: &value,
            };
            let Ok(Planned::Ready(slow)) = plan(&nodes, 2, change, capacity(USABLE)) else {
                panic!("the planner has every page");
            };
            assert_eq!(fast.writes, slow.writes);
            assert_eq!(
                (
                    fast.new_pages,
                    fast.root,
                    fast.outcome,
                    fast.split,
                    fast.merge
                ),
                (
                    slow.new_pages,
                    slow.root,
                    slow.outcome,
                    slow.split,
                    slow.merge
                )
            );
            assert_eq!(fast.frees, slow.frees);
            compared += 1;
        }
        assert!(compared > 100, "only {compared} splits compared");
        assert!(handed_over > 100, "only {handed_over} hand-overs checked");
    }
}
