//! The B-tree page layout and its in-memory form, `Node`.
//!
//! A B-tree page uses only the first `usable_size()` bytes of the page; the reserved tail
//! (the pager's checksum) is never read or written here. All integers are little-endian.
//!
//! ```text
//! offset 0      kind: 1 = leaf, 2 = interior
//! offset 1..3   cell count (u16)
//! offset 3..7   interior: rightmost child page (u32); leaf: 0
//! offset 7..    cells, packed back to back in key order, then zeros to usable_size
//!
//! leaf cell      key length (u8, 1..=255) | value length (u16) | key | value
//! interior cell  child page (u32, non-zero) | key length (u8, 1..=255) | key
//! ```
//!
//! The layout is compact: there is no cell pointer array, a page is decoded whole into a
//! `Node`, changed in memory, and encoded whole again.
//!
//! An interior node with keys `k0 < k1 < .. < k(n-1)` has `n + 1` children: cell `i` holds
//! child `i`, whose keys lie in `[k(i-1), k(i))`, and the header holds the rightmost child,
//! whose keys are `>= k(n-1)`. A key `k` is looked up in the child at index "number of
//! separator keys `<= k`". An interior node may hold zero keys (a single child): with
//! 512-byte pages and 255-byte keys only one separator fits, and a node with three children
//! cannot be split into two nodes of two children each.
//!
//! Fill: a node's fill is the bytes its cells use (header excluded); it is at most
//! `capacity = usable_size - HEADER_BYTES`. A node is *underfull* below a quarter of the
//! capacity. Minimum-fill rule, kept by every change and checked by `integrity_check`: an
//! underfull node other than the root can be merged with neither adjacent sibling (their
//! cells, plus the separator between them for interior nodes, would not fit in one page).
//! A byte lower bound for every node is impossible here because one leaf cell may take up
//! to three quarters of a 512-byte page.

use std::cmp::Ordering;

use crate::storage::PageNo;
use crate::storage::format::MIN_PAGE_SIZE;
use crate::storage::page_access::PAGE_RESERVED_BYTES;

/// Bytes of the page header at the start of every B-tree page.
pub const HEADER_BYTES: usize = 7;
/// Largest key, in bytes.
pub const MAX_KEY_BYTES: usize = 255;
/// Bytes a leaf cell uses besides its key and value.
pub const LEAF_CELL_OVERHEAD: usize = 3;
/// Bytes an interior cell uses besides its key.
pub const INTERIOR_CELL_OVERHEAD: usize = 5;

pub(super) const KIND_LEAF: u8 = 1;
const KIND_INTERIOR: u8 = 2;

// A cell stores its key's length in one byte and a leaf value's length in two, for every
// page size `DbOptions::validate` accepts (at most 65536).
const _: () = assert!(MAX_KEY_BYTES <= u8::MAX as usize);
const _: () = assert!(max_value_bytes(65536) <= u16::MAX as usize);
// The largest leaf cell fits a page of the smallest size.
const _: () = assert!(
    LEAF_CELL_OVERHEAD + MAX_KEY_BYTES + max_value_bytes(MIN_PAGE_SIZE)
        <= capacity(MIN_PAGE_SIZE - PAGE_RESERVED_BYTES)
);
const _: () = assert!(KIND_LEAF != KIND_INTERIOR);

/// Largest value, in bytes, for a given page size.
pub const fn max_value_bytes(page_size: usize) -> usize {
    page_size / 4
}

/// Bytes available for cells in a page with `usable_size` usable bytes.
pub const fn capacity(usable_size: usize) -> usize {
    usable_size - HEADER_BYTES
}

/// Fill below which a node is underfull.
pub fn min_fill(capacity: usize) -> usize {
    capacity / 4
}

/// One decoded B-tree page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// Key/value pairs, in strictly increasing key order.
    Leaf { cells: Vec<(Vec<u8>, Vec<u8>)> },
    /// Separator keys and child pages; `children.len() == keys.len() + 1`.
    Interior {
        keys: Vec<Vec<u8>>,
        children: Vec<PageNo>,
    },
}

impl Node {
    /// An empty leaf (the root of an empty tree).
    pub fn empty_leaf() -> Node {
        Node::Leaf { cells: Vec::new() }
    }

    /// Whether this is a leaf.
    pub fn is_leaf(&self) -> bool {
        matches!(self, Node::Leaf { .. })
    }

    /// Bytes the cells of this node take in a page (header excluded).
    pub fn fill(&self) -> usize {
        match self {
            Node::Leaf { cells } => cells.iter().map(|(k, v)| leaf_cell_bytes(k, v)).sum(),
            Node::Interior { keys, .. } => keys.iter().map(|k| interior_cell_bytes(k)).sum(),
        }
    }

    /// The node's keys, in page order (cell keys for a leaf, separators for an interior).
    pub fn keys(&self) -> Vec<&[u8]> {
        match self {
            Node::Leaf { cells } => cells.iter().map(|(k, _)| k.as_slice()).collect(),
            Node::Interior { keys, .. } => keys.iter().map(Vec::as_slice).collect(),
        }
    }

    /// Writes this node into the first `usable_size` bytes of `image`, leaving the rest
    /// of `image` untouched. Panics if the node does not fit: callers split first.
    pub fn encode_into(&self, image: &mut [u8], usable_size: usize) {
        self.encode_renumbered(image, usable_size, |child| child);
    }

    /// `encode_into`, writing each child pointer of an interior node as `renumber(child)`
    /// (the apply phase gives placeholder pages their real numbers without copying the
    /// node).
    pub fn encode_renumbered(
        &self,
        image: &mut [u8],
        usable_size: usize,
        renumber: impl Fn(PageNo) -> PageNo,
    ) {
        assert!(
            image.len() >= usable_size,
            "page image shorter than its usable size"
        );
        assert!(
            self.fill() <= capacity(usable_size),
            "node of {} bytes encoded into a page with room for {}",
            self.fill(),
            capacity(usable_size)
        );
        let area = &mut image[..usable_size];
        area.fill(0);
        let (kind, count, rightmost) = match self {
            Node::Leaf { cells } => (KIND_LEAF, cells.len(), 0),
            Node::Interior { keys, children } => {
                assert_eq!(children.len(), keys.len() + 1, "interior node child count");
                let rightmost = renumber(*children.last().expect("an interior node has a child"));
                (KIND_INTERIOR, keys.len(), rightmost)
            }
        };
        area[0] = kind;
        let count = u16::try_from(count).expect("cell count fits u16: cells are >= 4 bytes");
        area[1..3].copy_from_slice(&count.to_le_bytes());
        area[3..7].copy_from_slice(&rightmost.to_le_bytes());
        let mut at = HEADER_BYTES;
        let mut put = |bytes: &[u8]| {
            area[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        match self {
            Node::Leaf { cells } => {
                for (key, value) in cells {
                    put(&[u8::try_from(key.len()).expect("key length checked on entry")]);
                    let value_len = u16::try_from(value.len()).expect("value length checked");
                    put(&value_len.to_le_bytes());
                    put(key);
                    put(value);
                }
            }
            Node::Interior { keys, children } => {
                for (key, child) in keys.iter().zip(children) {
                    put(&renumber(*child).to_le_bytes());
                    put(&[u8::try_from(key.len()).expect("separators are keys")]);
                    put(key);
                }
            }
        }
    }

    /// Decodes the first `usable_size` bytes of `image`, checking what one page can show:
    /// kind, lengths, bounds, key order inside the page. How pages relate to each other is
    /// `IntegrityCheck`'s business. The error says what is wrong, without the page number.
    pub fn decode(image: &[u8], usable_size: usize) -> Result<Node, String> {
        let area = usable_area(image, usable_size)?;
        let (count, rightmost) = header(area);
        let mut reader = Reader {
            area,
            at: HEADER_BYTES,
        };
        match area[0] {
            KIND_LEAF => {
                if rightmost != 0 {
                    return Err(format!("leaf has a rightmost child pointer ({rightmost})"));
                }
                let mut cells = Vec::with_capacity(count);
                for index in 0..count {
                    let key_len = usize::from(reader.take(1, index)?[0]);
                    let value_len = reader.take(2, index)?;
                    let value_len = usize::from(u16::from_le_bytes([value_len[0], value_len[1]]));
                    check_key_len(key_len, index)?;
                    let key = reader.take(key_len, index)?.to_vec();
                    let value = reader.take(value_len, index)?.to_vec();
                    cells.push((key, value));
                }
                let node = Node::Leaf { cells };
                check_order(&node.keys())?;
                Ok(node)
            }
            KIND_INTERIOR => {
                let mut keys = Vec::with_capacity(count);
                let mut children = Vec::with_capacity(count + 1);
                for index in 0..count {
                    let child = reader.take(4, index)?;
                    let child = u32::from_le_bytes([child[0], child[1], child[2], child[3]]);
                    let key_len = usize::from(reader.take(1, index)?[0]);
                    check_key_len(key_len, index)?;
                    children.push(child);
                    keys.push(reader.take(key_len, index)?.to_vec());
                }
                children.push(rightmost);
                if let Some(index) = children.iter().position(|&child| child < 2) {
                    return Err(format!("child {index} points to page {}", children[index]));
                }
                let node = Node::Interior { keys, children };
                check_order(&node.keys())?;
                Ok(node)
            }
            kind => Err(format!("unknown node kind {kind}")),
        }
    }
}

/// Where a point lookup goes from one page, read straight from the page image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupStep<'a> {
    /// Descend into child `index` of the node, page `page`.
    Child {
        /// The child's page.
        page: PageNo,
        /// Its position among the node's children (`child_index` of the key).
        index: usize,
    },
    /// The page is a leaf: the key's value, if present.
    Leaf(Option<&'a [u8]>),
}

/// The first `usable_size` bytes of `image`, if the page has them and they hold a header.
fn usable_area(image: &[u8], usable_size: usize) -> Result<&[u8], String> {
    image
        .get(..usable_size)
        .filter(|area| area.len() >= HEADER_BYTES)
        .ok_or_else(|| format!("page is {} bytes, shorter than expected", image.len()))
}

/// The cell count and the rightmost child pointer of a page header.
pub(super) fn header(area: &[u8]) -> (usize, u32) {
    let count = usize::from(u16::from_le_bytes([area[1], area[2]]));
    let rightmost = u32::from_le_bytes([area[3], area[4], area[5], area[6]]);
    (count, rightmost)
}

/// A point lookup in one encoded page without decoding it into a `Node`: no allocation,
/// which makes it the hot path of `Get`. It checks everything `Node::decode` checks over
/// the whole page (bounds, kinds, key lengths, key order, child pointers), so a page is
/// rejected here exactly when decoding it would fail.
pub fn lookup<'a>(
    image: &'a [u8],
    usable_size: usize,
    key: &[u8],
) -> Result<LookupStep<'a>, String> {
    let area = usable_area(image, usable_size)?;
    let (count, rightmost) = header(area);
    let mut reader = Reader {
        area,
        at: HEADER_BYTES,
    };
    let mut previous: Option<&[u8]> = None;
    let mut in_order = |cell_key: &'a [u8], index: usize| -> Result<(), String> {
        if previous.is_some_and(|prev| prev >= cell_key) {
            return Err(format!(
                "keys out of order at cells {} and {index}",
                index - 1
            ));
        }
        previous = Some(cell_key);
        Ok(())
    };
    match area[0] {
        KIND_LEAF => {
            if rightmost != 0 {
                return Err(format!("leaf has a rightmost child pointer ({rightmost})"));
            }
            Ok(LookupStep::Leaf(walk_leaf_cells(area, count, key)?.value))
        }
        KIND_INTERIOR => {
            // The child is the first one whose separator is above the key.
            let mut chosen = None;
            for index in 0..count {
                let child = reader.take(4, index)?;
                let child = u32::from_le_bytes([child[0], child[1], child[2], child[3]]);
                let key_len = usize::from(reader.take(1, index)?[0]);
                check_key_len(key_len, index)?;
                let separator = reader.take(key_len, index)?;
                if child < 2 {
                    return Err(format!("child {index} points to page {child}"));
                }
                in_order(separator, index)?;
                if chosen.is_none() && key < separator {
                    chosen = Some((child, index));
                }
            }
            if rightmost < 2 {
                return Err(format!("child {count} points to page {rightmost}"));
            }
            let (page, index) = chosen.unwrap_or((rightmost, count));
            Ok(LookupStep::Child { page, index })
        }
        kind => Err(format!("unknown node kind {kind}")),
    }
}

/// What a walk over every cell of a leaf found about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafWalk<'a> {
    /// The key's value, if present.
    pub value: Option<&'a [u8]>,
    /// Byte offset of the key's cell, or of the first cell above the key; the end of the
    /// cells when every key is below it.
    pub offset: usize,
    /// Length of the key's cell when present.
    pub existing: Option<usize>,
    /// Byte offset just past the last cell.
    pub end: usize,
    /// Number of cells.
    pub count: usize,
}

/// Walks a leaf image for `key`, checking what `lookup` checks over the whole page, in one
/// pass that also finds where the key's cell is or would go (for an in-place edit).
pub fn walk_leaf<'a>(
    image: &'a [u8],
    usable_size: usize,
    key: &[u8],
) -> Result<LeafWalk<'a>, String> {
    let area = usable_area(image, usable_size)?;
    let (count, rightmost) = header(area);
    match area[0] {
        KIND_LEAF if rightmost != 0 => {
            Err(format!("leaf has a rightmost child pointer ({rightmost})"))
        }
        KIND_LEAF => walk_leaf_cells(area, count, key),
        KIND_INTERIOR => Err("expected a leaf, found an interior page".into()),
        kind => Err(format!("unknown node kind {kind}")),
    }
}

/// The cell walk of `walk_leaf` and of `lookup` on a leaf: bounds, key lengths and key
/// order of every cell.
fn walk_leaf_cells<'a>(area: &'a [u8], count: usize, key: &[u8]) -> Result<LeafWalk<'a>, String> {
    let mut reader = Reader {
        area,
        at: HEADER_BYTES,
    };
    let mut previous: Option<&[u8]> = None;
    let mut walk = LeafWalk {
        value: None,
        offset: 0,
        existing: None,
        end: 0,
        count,
    };
    let mut placed = false;
    for index in 0..count {
        let start = reader.at;
        let key_len = usize::from(reader.take(1, index)?[0]);
        let value_len = reader.take(2, index)?;
        let value_len = usize::from(u16::from_le_bytes([value_len[0], value_len[1]]));
        check_key_len(key_len, index)?;
        let cell_key = reader.take(key_len, index)?;
        let value = reader.take(value_len, index)?;
        if previous.is_some_and(|prev| prev >= cell_key) {
            return Err(format!(
                "keys out of order at cells {} and {index}",
                index - 1
            ));
        }
        previous = Some(cell_key);
        if !placed {
            match cell_key.cmp(key) {
                Ordering::Less => {}
                Ordering::Equal => {
                    (walk.value, walk.existing) = (Some(value), Some(reader.at - start));
                    (walk.offset, placed) = (start, true);
                }
                Ordering::Greater => (walk.offset, placed) = (start, true),
            }
        }
    }
    walk.end = reader.at;
    if !placed {
        walk.offset = reader.at;
    }
    Ok(walk)
}

/// Checks a page as a whole (what `lookup` checks) and lists the byte offset of each of
/// its cells: the index that lets later lookups in the same image search instead of walk
/// (`lookup_indexed`).
pub fn cell_index(image: &[u8], usable_size: usize) -> Result<Vec<u16>, String> {
    // The key is irrelevant to the checks, which cover every cell whatever is looked up.
    lookup(image, usable_size, &[])?;
    let area = &image[..usable_size];
    let (count, _) = header(area);
    let leaf = area[0] == KIND_LEAF;
    let mut offsets = Vec::with_capacity(count);
    let mut at = HEADER_BYTES;
    for _ in 0..count {
        offsets.push(u16::try_from(at).expect("cells lie below a usable size of at most 65528"));
        at += match leaf {
            true => {
                let value_len = u16::from_le_bytes([area[at + 1], area[at + 2]]);
                LEAF_CELL_OVERHEAD + usize::from(area[at]) + usize::from(value_len)
            }
            false => INTERIOR_CELL_OVERHEAD + usize::from(area[at + 4]),
        };
    }
    Ok(offsets)
}

/// `lookup` in an image whose cells `index` lists (`cell_index`, built when the image was
/// checked): the same answer, by binary search, without checking the page again. It never
/// reads past the usable end, so a wrong index gives an error, never a panic.
pub fn lookup_indexed<'a>(
    image: &'a [u8],
    usable_size: usize,
    index: &[u16],
    key: &[u8],
) -> Result<LookupStep<'a>, String> {
    let area = usable_area(image, usable_size)?;
    let field = |at: usize, len: usize| -> Result<&'a [u8], String> {
        area.get(at..at + len)
            .ok_or_else(|| format!("indexed cell at {at} runs past the usable end of the page"))
    };
    let (mut low, mut high) = (0, index.len());
    match area[0] {
        KIND_LEAF => {
            while low < high {
                let middle = (low + high) / 2;
                let at = usize::from(index[middle]);
                let lengths = field(at, LEAF_CELL_OVERHEAD)?;
                let key_len = usize::from(lengths[0]);
                let cell_key = field(at + LEAF_CELL_OVERHEAD, key_len)?;
                match cell_key.cmp(key) {
                    Ordering::Less => low = middle + 1,
                    Ordering::Greater => high = middle,
                    Ordering::Equal => {
                        let value_len = usize::from(u16::from_le_bytes([lengths[1], lengths[2]]));
                        let value = field(at + LEAF_CELL_OVERHEAD + key_len, value_len)?;
                        return Ok(LookupStep::Leaf(Some(value)));
                    }
                }
            }
            Ok(LookupStep::Leaf(None))
        }
        KIND_INTERIOR => {
            // The child is the first one whose separator is above the key.
            while low < high {
                let middle = (low + high) / 2;
                let at = usize::from(index[middle]);
                let key_len = usize::from(field(at + 4, 1)?[0]);
                if field(at + INTERIOR_CELL_OVERHEAD, key_len)? <= key {
                    low = middle + 1;
                } else {
                    high = middle;
                }
            }
            let page = match index.get(low) {
                Some(&at) => field(usize::from(at), 4)?,
                None => &area[3..7],
            };
            Ok(LookupStep::Child {
                page: u32::from_le_bytes([page[0], page[1], page[2], page[3]]),
                index: low,
            })
        }
        kind => Err(format!("unknown node kind {kind}")),
    }
}

/// Cell `position` of an indexed page (`cell_index`): its key, and for a leaf its value
/// (empty for an interior cell). Never reads past the usable end: a wrong index is an
/// error.
pub fn indexed_cell<'a>(
    image: &'a [u8],
    usable_size: usize,
    index: &[u16],
    position: usize,
) -> Result<(&'a [u8], &'a [u8]), String> {
    let area = usable_area(image, usable_size)?;
    let at = usize::from(
        *index
            .get(position)
            .ok_or_else(|| format!("no cell {position} in the page's index"))?,
    );
    let field = |at: usize, len: usize| -> Result<&'a [u8], String> {
        area.get(at..at + len)
            .ok_or_else(|| format!("indexed cell at {at} runs past the usable end of the page"))
    };
    if area[0] == KIND_INTERIOR {
        let key_len = usize::from(field(at + 4, 1)?[0]);
        return Ok((field(at + INTERIOR_CELL_OVERHEAD, key_len)?, &[]));
    }
    let lengths = field(at, LEAF_CELL_OVERHEAD)?;
    let key_len = usize::from(lengths[0]);
    let value_len = usize::from(u16::from_le_bytes([lengths[1], lengths[2]]));
    let key = field(at + LEAF_CELL_OVERHEAD, key_len)?;
    let value = field(at + LEAF_CELL_OVERHEAD + key_len, value_len)?;
    Ok((key, value))
}

/// Whether an encoded page says it is an interior node (its other bytes are not checked).
pub fn is_interior_image(image: &[u8]) -> bool {
    image.first() == Some(&KIND_INTERIOR)
}

/// Bytes one leaf cell takes.
pub fn leaf_cell_bytes(key: &[u8], value: &[u8]) -> usize {
    LEAF_CELL_OVERHEAD + key.len() + value.len()
}

/// Bytes one interior cell takes.
pub fn interior_cell_bytes(key: &[u8]) -> usize {
    INTERIOR_CELL_OVERHEAD + key.len()
}

/// Index of the child of an interior node whose range holds `key`.
pub fn child_index(keys: &[Vec<u8>], key: &[u8]) -> usize {
    keys.partition_point(|separator| separator.as_slice() <= key)
}

/// Keys inside one page strictly increase; anything else is damage, and splitting such a
/// page would compute nonsense separators.
fn check_order(keys: &[&[u8]]) -> Result<(), String> {
    match keys.windows(2).position(|pair| pair[0] >= pair[1]) {
        Some(index) => Err(format!(
            "keys out of order at cells {index} and {}",
            index + 1
        )),
        None => Ok(()),
    }
}

fn check_key_len(key_len: usize, index: usize) -> Result<(), String> {
    if key_len == 0 {
        return Err(format!("cell {index} has an empty key"));
    }
    Ok(())
}

/// Reads consecutive fields of one page, failing instead of reading past its cell area.
struct Reader<'a> {
    area: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, cell: usize) -> Result<&'a [u8], String> {
        let end = self.at + len;
        if end > self.area.len() {
            return Err(format!("cell {cell} runs past the usable end of the page"));
        }
        let bytes = &self.area[self.at..end];
        self.at = end;
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_and_interior_round_trip_without_touching_the_tail() {
        let leaf = Node::Leaf {
            cells: vec![(b"a".to_vec(), vec![]), (vec![b'z'; 255], vec![1; 128])],
        };
        let interior = Node::Interior {
            keys: vec![b"m".to_vec()],
            children: vec![5, 9],
        };
        for node in [leaf, interior] {
            let mut image = vec![0xEE; 512];
            node.encode_into(&mut image, 504);
            assert_eq!(&image[504..], &[0xEE; 8], "reserved tail untouched");
            assert_eq!(Node::decode(&image, 504), Ok(node));
        }
    }

    #[test]
    fn decode_rejects_cells_past_the_end_and_bad_children() {
        let mut image = vec![0; 512];
        Node::Leaf {
            cells: vec![(b"k".to_vec(), vec![3; 10])],
        }
        .encode_into(&mut image, 504);
        image[1] = 2; // claims a second cell, whose lengths run past the usable end
        image[21..504].fill(0xFF);
        assert!(Node::decode(&image, 504).unwrap_err().contains("runs past"));
        let mut image = vec![0; 512];
        Node::Interior {
            keys: vec![b"m".to_vec()],
            children: vec![5, 9],
        }
        .encode_into(&mut image, 504);
        image[3..7].copy_from_slice(&0u32.to_le_bytes());
        assert!(
            Node::decode(&image, 504)
                .unwrap_err()
                .contains("points to page 0")
        );
        image[0] = 9;
        assert!(
            Node::decode(&image, 504)
                .unwrap_err()
                .contains("unknown node kind")
        );
    }

    #[test]
    fn decode_rejects_keys_out_of_order() {
        let mut image = vec![0; 512];
        let cells = vec![(b"a".to_vec(), vec![]), (b"b".to_vec(), vec![])];
        Node::Leaf { cells }.encode_into(&mut image, 504);
        image[HEADER_BYTES + 3] = b'c'; // the first key becomes "c", above "b"
        let why = Node::decode(&image, 504).expect_err("unsorted keys are damage");
        assert!(why.contains("out of order at cells 0 and 1"), "{why}");
    }

    #[test]
    fn child_index_sends_equal_keys_right() {
        let keys = vec![b"b".to_vec(), b"d".to_vec()];
        assert_eq!(child_index(&keys, b"a"), 0);
        assert_eq!(child_index(&keys, b"b"), 1);
        assert_eq!(child_index(&keys, b"c"), 1);
        assert_eq!(child_index(&keys, b"d"), 2);
        assert_eq!(child_index(&keys, b"z"), 2);
    }
    #[test]
    fn lookup_indexed_gives_the_answers_of_lookup() {
        let usable = 512 - 8;
        let cells: Vec<(Vec<u8>, Vec<u8>)> = (0..20u8)
            .map(|i| (vec![b'b' + i, i], vec![i; usize::from(i % 5)]))
            .collect();
        let leaf = Node::Leaf { cells };
        let interior = Node::Interior {
            keys: (0..20u8).map(|i| vec![b'b' + i, i]).collect(),
            children: (0..21).map(|i| 10 + i).collect(),
        };
        let probes: Vec<Vec<u8>> = (0..24u8)
            .flat_map(|i| [vec![b'a' + i], vec![b'a' + i, i], vec![b'a' + i, i, 0]])
            .collect();
        for node in [leaf, interior] {
            let mut image = vec![0u8; 512];
            node.encode_into(&mut image, usable);
            let index = cell_index(&image, usable).expect("a sound page");
            assert_eq!(index.len(), 20);
            for probe in &probes {
                assert_eq!(
                    lookup_indexed(&image, usable, &index, probe),
                    lookup(&image, usable, probe),
                    "probe {probe:?}"
                );
            }
        }
        // An index refuses what lookup refuses, and a wrong index is an error, not a panic.
        let mut image = vec![0u8; 512];
        image[0] = KIND_LEAF;
        image[1] = 3;
        image[HEADER_BYTES] = 200;
        image[HEADER_BYTES + 1..HEADER_BYTES + 3].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(cell_index(&image, usable).is_err());
        assert!(lookup_indexed(&image, usable, &[503], &[255]).is_err());
    }

    #[test]
    fn lookup_agrees_with_decoding_and_rejects_what_decode_rejects() {
        let usable = 512 - 8;
        let leaf = Node::Leaf {
            cells: vec![
                (b"b".to_vec(), b"1".to_vec()),
                (b"d".to_vec(), b"2".to_vec()),
            ],
        };
        let mut image = vec![0u8; 512];
        leaf.encode_into(&mut image, usable);
        assert_eq!(
            lookup(&image, usable, b"d"),
            Ok(LookupStep::Leaf(Some(&b"2"[..])))
        );
        assert_eq!(lookup(&image, usable, b"c"), Ok(LookupStep::Leaf(None)));
        let interior = Node::Interior {
            keys: vec![b"g".to_vec(), b"p".to_vec()],
            children: vec![5, 6, 7],
        };
        interior.encode_into(&mut image, usable);
        for (key, child) in [(&b"a"[..], 5), (b"g", 6), (b"o", 6), (b"p", 7), (b"z", 7)] {
            let expected = child_index(&[b"g".to_vec(), b"p".to_vec()], key);
            assert_eq!(
                lookup(&image, usable, key),
                Ok(LookupStep::Child {
                    page: child,
                    index: expected
                })
            );
            assert_eq!([5, 6, 7][expected], child);
        }
        // Swap the two separators' first bytes: out of order, for decode and lookup alike.
        let mut damaged = image.clone();
        let second = HEADER_BYTES + INTERIOR_CELL_OVERHEAD + 1 + 4 + 1;
        damaged[HEADER_BYTES + 5] = b'q';
        assert_eq!(damaged[second], b'p');
        assert!(Node::decode(&damaged, usable).is_err());
        assert!(lookup(&damaged, usable, b"a").is_err());
        damaged[3..7].copy_from_slice(&0u32.to_le_bytes());
        image[3..7].copy_from_slice(&0u32.to_le_bytes());
        assert!(Node::decode(&image, usable).is_err(), "rightmost child 0");
        assert!(lookup(&image, usable, b"a").is_err(), "rightmost child 0");
    }
}
