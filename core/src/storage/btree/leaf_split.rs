//! The common split, planned without the planner: a put overflows its leaf, the leaf splits
//! into pieces none of which is underfull, neither neighbour the planner would look at is
//! underfull, and the parent takes the new separators without overflowing. Then settling
//! changes nothing and the plan is just the pieces and the parent with the pieces spliced
//! in, which this file builds directly: the leaf is decoded, the parent is not. Its new
//! image is the old one with the separator cells spliced in at the leaf's cell and one
//! child pointer changed, byte for byte what encoding the planner's parent node writes.
//!
//! It must plan exactly what `plan.rs` would, reading the same pages in the same order:
//! the neighbours are read left first (the right one first when there is no left one), and
//! the right one after the left one only when the left one is not underfull, as settling
//! does. Whenever a condition fails the write hands over to the planner with every page
//! read so far; those reads are a prefix of what the planner asks for, so it goes on
//! exactly as if it had asked for them itself.

use std::collections::BTreeMap;

use super::node::{
    HEADER_BYTES, INTERIOR_CELL_OVERHEAD, Node, capacity, header, interior_cell_bytes,
    is_interior_image, min_fill, walk_leaf,
};
use super::pack::{Pieces, split};
use super::plan::{EditedImage, PLACEHOLDER_BASE, Plan};
use crate::storage::{PageNo, PageRef};

/// A leaf split in progress: what is known once the leaf is decoded and changed.
#[derive(Debug)]
pub(super) struct LeafSplit {
    /// Every page read so far (the path, the leaf, the neighbours read).
    pub images: BTreeMap<PageNo, PageRef>,
    pub leaf: PageNo,
    /// Bytes of a page the B-tree uses: the leaf and the parent are decoded from their
    /// images in `images` if this path gives up, rather than kept decoded all along.
    pub usable_size: usize,
    pub parent: PageNo,
    /// Where the leaf's cell lies in the parent's image.
    pub slot: ParentSlot,
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

/// The leaf's place in its parent's image, found by walking the parent's cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ParentSlot {
    /// Byte offset of the cell holding child `position`; the end of the cells when the
    /// child is the rightmost one (held in the header).
    pub offset: usize,
    /// Byte offset just past the last cell.
    pub end: usize,
    /// Number of cells (separator keys).
    pub count: usize,
    /// The children before, at and after `position` (`None` past either end).
    pub left: Option<PageNo>,
    pub child: PageNo,
    pub right: Option<PageNo>,
}

/// Finds child `position` in an interior image that already passed the whole-page check
/// (the descent looked the key up in it). `None` when the image does not hold such a
/// child after all; the caller then hands over to the planner, which decodes the page.
pub(super) fn parent_slot(image: &[u8], usable_size: usize, position: usize) -> Option<ParentSlot> {
    let area = image.get(..usable_size)?;
    if area.len() < HEADER_BYTES || !is_interior_image(area) {
        return None;
    }
    let (count, rightmost) = header(area);
    let child_at = |at: usize| -> Option<PageNo> {
        let bytes = area.get(at..at + 4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    let (mut at, mut offset, mut end) = (HEADER_BYTES, None, None);
    let (mut left, mut child, mut right) = (None, None, None);
    for index in 0..=count {
        let this = if index == count {
            end = Some(at);
            rightmost
        } else {
            child_at(at)?
        };
        if index + 1 == position {
            left = Some(this);
        } else if index == position {
            (offset, child) = (Some(at), Some(this));
        } else if index == position + 1 {
            right = Some(this);
        }
        if index < count {
            at += INTERIOR_CELL_OVERHEAD + usize::from(*area.get(at + 4)?);
        }
    }
    Some(ParentSlot {
        offset: offset?,
        end: end?,
        count,
        left,
        child: child?,
        right,
    })
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
        let fill = walk_leaf(image, usable_size, &[])?.end - HEADER_BYTES;
        if fill < min_fill(capacity(usable_size)) {
            return Ok(Next::GiveUp);
        }
        match (self.left, self.right) {
            (Some(left), Some(right)) if left == page => Ok(Next::Read(right)),
            _ => Ok(Next::Plan),
        }
    }

    /// The plan the planner would make: the pieces, and the parent's image with them
    /// spliced in, with the pages read; or the hand-over to the planner when the parent
    /// would overflow.
    pub(super) fn plan(
        self,
        usable_size: usize,
    ) -> Result<(BTreeMap<PageNo, PageRef>, Plan), HandOver> {
        let grown: usize = (self.pieces.separators.iter())
            .map(|s| interior_cell_bytes(s))
            .sum();
        let slot = self.slot;
        let new_count = u16::try_from(slot.count + self.pieces.separators.len());
        let fits = slot.end - HEADER_BYTES + grown <= capacity(usable_size);
        let (true, Ok(new_count)) = (fits, new_count) else {
            return Err(self.hand_over());
        };
        let Pieces { pieces, separators } = self.pieces;
        let new_pages = u32::try_from(pieces.len() - 1).expect("few pieces");
        assert_eq!(
            slot.child, self.leaf,
            "the descent recorded the child it took"
        );
        let parent_image = self.images.get(&self.parent).expect("the parent was read");
        let mut image = parent_image.as_ref().clone();
        // The separator cells go in at the leaf's cell: separator i with the child left of
        // it (the leaf, then the new pieces); the leaf's old cell, moved past them, or the
        // header when the leaf was the rightmost child, points to the last new piece.
        image.copy_within(slot.offset..slot.end, slot.offset + grown);
        let mut placeholders = Vec::with_capacity(separators.len());
        let mut at = slot.offset;
        for (i, separator) in separators.iter().enumerate() {
            let child = match i {
                0 => self.leaf,
                _ => PLACEHOLDER_BASE + u32::try_from(i - 1).expect("few pieces"),
            };
            if i > 0 {
                placeholders.push(at);
            }
            let key_len = u8::try_from(separator.len()).expect("separators are keys");
            image[at..at + 4].copy_from_slice(&child.to_le_bytes());
            image[at + 4] = key_len;
            image[at + INTERIOR_CELL_OVERHEAD..at + INTERIOR_CELL_OVERHEAD + separator.len()]
                .copy_from_slice(separator);
            at += interior_cell_bytes(separator);
        }
        let last_piece = PLACEHOLDER_BASE + new_pages - 1;
        // A slot at the end of the cells is the rightmost child's, whose pointer is the
        // header's (bytes 3..7).
        let moved_child = if slot.offset == slot.end { 3 } else { at };
        image[moved_child..moved_child + 4].copy_from_slice(&last_piece.to_le_bytes());
        placeholders.push(moved_child);
        image[1..3].copy_from_slice(&new_count.to_le_bytes());
        // What follows the cells is zero, as `Node::encode_into` leaves it.
        image[slot.end + grown..usable_size].fill(0);
        let mut numbers = vec![self.leaf];
        numbers.extend((0..new_pages).map(|i| PLACEHOLDER_BASE + i));
        let writes: BTreeMap<PageNo, Node> = numbers.into_iter().zip(pieces).collect();
        let edited = EditedImage {
            image,
            placeholders,
        };
        let plan = Plan {
            writes,
            edited: BTreeMap::from([(self.parent, edited)]),
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
    /// Gives up: the pages read and the leaf and the parent decoded, for the planner.
    pub(super) fn hand_over(self) -> HandOver {
        hand_over(self.images, self.leaf, self.parent, self.usable_size)
    }
}

/// The leaf and the parent as they were read, decoded from their images for the planner.
fn hand_over(
    images: BTreeMap<PageNo, PageRef>,
    leaf: PageNo,
    parent: PageNo,
    usable_size: usize,
) -> HandOver {
    let decode = |page: PageNo| {
        let image = images.get(&page).expect("the page is among the pages read");
        Node::decode(image, usable_size)
            .expect("the page passed the descent's whole-page check before this split started")
    };
    let nodes = BTreeMap::from([(leaf, decode(leaf)), (parent, decode(parent))]);
    (images, nodes)
}

/// Starts a split for a put of `key` = `value` into `leaf_node` (page `leaf`, child
/// `position` of `parent`, whose image is among `images`), or hands over to the planner
/// when the leaf does not overflow (a shrink, which settling may merge), a piece would be
/// underfull, or the parent's image does not hold the leaf at `position`. Both the leaf
/// and the parent passed the whole-page check on the way down.
pub(super) fn start(
    images: BTreeMap<PageNo, PageRef>,
    leaf: (PageNo, Node),
    parent: (PageNo, usize),
    change: (&[u8], &[u8]),
    root: PageNo,
    usable_size: usize,
) -> Result<LeafSplit, HandOver> {
    let ((leaf, leaf_node), (parent, position), (key, value)) = (leaf, parent, change);
    let slot = (images.get(&parent))
        .and_then(|image| parent_slot(image, usable_size, position))
        .filter(|slot| slot.child == leaf);
    let (Node::Leaf { mut cells }, Some(slot)) = (leaf_node, slot) else {
        return Err(hand_over(images, leaf, parent, usable_size));
    };
    // The cells move into the changed leaf; a hand-over from here on decodes the leaf
    // again from its image (rare: most overflowing leaves split this way).
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
        return Err(hand_over(images, leaf, parent, usable_size));
    }
    let pieces = split(changed, capacity);
    if pieces.pieces.iter().any(|p| p.fill() < min_fill(capacity)) {
        return Err(hand_over(images, leaf, parent, usable_size));
    }
    Ok(LeafSplit {
        images,
        leaf,
        usable_size,
        parent,
        slot,
        left: slot.left,
        right: slot.right,
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
            let encode = |node: &Node| {
                let mut image = vec![0xa5; USABLE + 8];
                node.encode_into(&mut image, USABLE);
                image
            };
            let parent_image = encode(&parent);
            let images = BTreeMap::from([
                (target, PageRef::new(encode(&nodes[&target]))),
                (2, PageRef::new(parent_image.clone())),
            ]);
            let started = start(
                images,
                (target, nodes[&target].clone()),
                (2, position),
                (&key, &value),
                2,
                USABLE,
            );
            let handed_over_leaf = |(_, handed): HandOver| {
                handed[&target] == nodes[&target] && handed[&2] == nodes[&2]
            };
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
            let mut fast = match split.plan(USABLE) {
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
            // The parent's edited image is what encoding the planner's parent writes over
            // the old image, byte for byte, and its placeholders are the new pieces'.
            let edited = fast.edited.remove(&2).expect("the parent is edited");
            assert!(fast.edited.is_empty(), "only the parent is edited");
            let mut encoded = parent_image.clone();
            slow.writes[&2].encode_into(&mut encoded, USABLE);
            assert_eq!(edited.image, encoded, "edited parent image");
            for &at in &edited.placeholders {
                let child = u32::from_le_bytes(edited.image[at..at + 4].try_into().expect("4"));
                assert!(
                    child >= PLACEHOLDER_BASE,
                    "placeholder at {at} holds {child}"
                );
            }
            assert_eq!(
                edited.placeholders.len(),
                usize::try_from(fast.new_pages).expect("small")
            );
            let parent = Node::decode(&edited.image, USABLE).expect("edited parent decodes");
            fast.writes.insert(2, parent);
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

    /// The slot walk finds each child's cell, the rightmost child in the header, and
    /// nothing past the last child.
    #[test]
    fn parent_slot_finds_every_child_and_refuses_positions_past_the_end() {
        let parent = Node::Interior {
            keys: vec![b"f".to_vec(), b"mm".to_vec()],
            children: vec![10, 11, 12],
        };
        let mut image = vec![0; USABLE + 8];
        parent.encode_into(&mut image, USABLE);
        let end = HEADER_BYTES + 6 + 7;
        let slot = |position| parent_slot(&image, USABLE, position);
        let first = slot(0).expect("child 0");
        assert_eq!(
            (first.offset, first.end, first.count),
            (HEADER_BYTES, end, 2)
        );
        assert_eq!((first.left, first.child, first.right), (None, 10, Some(11)));
        let middle = slot(1).expect("child 1");
        assert_eq!(middle.offset, HEADER_BYTES + 6);
        assert_eq!(
            (middle.left, middle.child, middle.right),
            (Some(10), 11, Some(12))
        );
        let last = slot(2).expect("child 2");
        assert_eq!(last.offset, end, "the rightmost child has no cell");
        assert_eq!((last.left, last.child, last.right), (Some(11), 12, None));
        assert_eq!(slot(3), None);
        let mut leaf = vec![0; USABLE + 8];
        Node::empty_leaf().encode_into(&mut leaf, USABLE);
        assert_eq!(parent_slot(&leaf, USABLE, 0), None, "a leaf is no parent");
    }
}
