//! Editing a leaf page image in place: the fast path of a put whose leaf keeps room for it.
//!
//! A put that replaces a value or inserts a cell into a leaf that still fits needs neither
//! the planner nor a decoded `Node`: the cells of a leaf are packed in key order (node.rs),
//! so the new image is the old one with one cell spliced in (or swapped) and the counts
//! updated. The result is byte for byte what `Node::encode_into` would write for the
//! changed node, so both paths produce the same pages.
//!
//! The fast path applies only when the leaf does not shrink: a leaf that grows in place
//! cannot make itself or a sibling mergeable, so the minimum-fill rule still holds (the
//! planner's `propagate` relies on the same fact). Anything else (a split, a smaller value)
//! goes through the planner.

use super::node::{HEADER_BYTES, LEAF_CELL_OVERHEAD, capacity, header, leaf_cell_bytes, walk_leaf};
use crate::storage::page_access::CellIndex;

/// Where a key sits in a leaf image, found without decoding the leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LeafSlot {
    /// Byte offset of the key's cell, or of the first cell above the key (where a new cell
    /// goes); the end of the cells when every key is below it.
    pub offset: usize,
    /// Length in bytes of the key's cell when the key is present.
    pub existing: Option<usize>,
    /// Byte offset just past the last cell.
    pub end: usize,
    /// Number of cells.
    pub count: usize,
}

/// What an in-place put produced.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum InPlace {
    /// The key already holds exactly this value: nothing to write.
    Unchanged,
    /// The new leaf image (the page's reserved tail copied unchanged) and its cell index
    /// (the image is sound: built from a checked one); `replaced` says whether a value was
    /// overwritten.
    Written {
        image: Vec<u8>,
        index: CellIndex,
        replaced: bool,
    },
    /// The change does not fit in place (the leaf would overflow or shrink): plan it.
    NeedsPlan,
}

/// Finds `key` in a leaf image. Unless the image was checked already (`index`, its cell
/// index, is given), the same walk checks what `node::lookup` checks over the whole page
/// (bounds, kind, key lengths, key order), so a page is refused here exactly when decoding
/// it would fail. A checked image is binary-searched through its index instead. The
/// caller knows the image is a leaf's (`is_interior_image` is false).
pub(super) fn locate(
    image: &[u8],
    usable_size: usize,
    key: &[u8],
    index: Option<&[u16]>,
) -> Result<LeafSlot, String> {
    let Some(index) = index else {
        let walk = walk_leaf(image, usable_size, key)?;
        return Ok(LeafSlot {
            offset: walk.offset,
            existing: walk.existing,
            end: walk.end,
            count: walk.count,
        });
    };
    let area = &image[..usable_size];
    // The index was built from this very image when it was checked; still, a wrong one
    // gives an error, never a read past the usable end.
    let cell = |at: u16| -> Result<(usize, &[u8]), String> {
        let at = usize::from(at);
        let lengths = (area.get(at..at + LEAF_CELL_OVERHEAD))
            .ok_or_else(|| format!("indexed cell at {at} runs past the usable end"))?;
        let key_len = usize::from(lengths[0]);
        let len = LEAF_CELL_OVERHEAD
            + key_len
            + usize::from(u16::from_le_bytes([lengths[1], lengths[2]]));
        let cell_key = (area.get(at + LEAF_CELL_OVERHEAD..at + LEAF_CELL_OVERHEAD + key_len))
            .filter(|_| at + len <= area.len())
            .ok_or_else(|| format!("indexed cell at {at} runs past the usable end"))?;
        Ok((len, cell_key))
    };
    let (count, _) = header(area);
    if count != index.len() {
        return Err(format!("{count} cells but an index of {}", index.len()));
    }
    let (mut low, mut high) = (0, index.len());
    while low < high {
        let middle = (low + high) / 2;
        if cell(index[middle])?.1 < key {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    let end = match index.last() {
        Some(&last) => usize::from(last) + cell(last)?.0,
        None => HEADER_BYTES,
    };
    let (offset, existing) = match index.get(low) {
        Some(&at) => {
            let (len, cell_key) = cell(at)?;
            (usize::from(at), (cell_key == key).then_some(len))
        }
        None => (end, None),
    };
    Ok(LeafSlot {
        offset,
        existing,
        end,
        count,
    })
}

/// Puts `key` = `value` into the leaf `image` in place when the leaf neither overflows nor
/// shrinks. Errors are damage found in the page (as `Node::decode` would report it); an
/// image already checked (its cell `index` given) is not checked again, and its new index
/// is the old one with the changed cells' offsets moved instead of a walk of the new image.
pub(super) fn put_in_place(
    image: &[u8],
    usable_size: usize,
    key: &[u8],
    value: &[u8],
    index: Option<&[u16]>,
) -> Result<InPlace, String> {
    let slot = locate(image, usable_size, key, index)?;
    let new_cell = leaf_cell_bytes(key, value);
    let old_cell = slot.existing.unwrap_or(0);
    if let Some(len) = slot.existing {
        let stored = &image[slot.offset + LEAF_CELL_OVERHEAD + key.len()..slot.offset + len];
        if stored == value {
            return Ok(InPlace::Unchanged);
        }
    }
    let old_fill = slot.end - HEADER_BYTES;
    let new_fill = old_fill - old_cell + new_cell;
    if new_fill < old_fill || new_fill > capacity(usable_size) {
        return Ok(InPlace::NeedsPlan);
    }
    let count = if slot.existing.is_some() {
        slot.count
    } else {
        slot.count + 1
    };
    let Ok(count) = u16::try_from(count) else {
        return Ok(InPlace::NeedsPlan);
    };
    let tail_from = slot.offset + old_cell;
    let new_end = slot.end - old_cell + new_cell;
    // One pass over the page: the cells before the slot, the new cell, the cells after the
    // slot (moved by the difference in size), zeros to the usable end, the reserved tail.
    let key_len = u8::try_from(key.len()).expect("key length checked on entry");
    let value_len = u16::try_from(value.len()).expect("value length checked on entry");
    let mut new_image = Vec::with_capacity(image.len());
    new_image.extend_from_slice(&image[..slot.offset]);
    new_image.push(key_len);
    new_image.extend_from_slice(&value_len.to_le_bytes());
    new_image.extend_from_slice(key);
    new_image.extend_from_slice(value);
    new_image.extend_from_slice(&image[tail_from..slot.end]);
    assert_eq!(
        new_image.len(),
        new_end,
        "the cells end where the fill says"
    );
    // What follows the cells is zero, as `encode_into` leaves it.
    new_image.resize(usable_size, 0);
    new_image.extend_from_slice(&image[usable_size..]);
    new_image[1..3].copy_from_slice(&count.to_le_bytes());
    // The cells before the slot keep their offsets; the new or changed cell sits at the
    // slot; the ones after it moved by the difference in size.
    // Collected from iterators of known length, the index is built in its shared
    // allocation at once.
    let index: CellIndex = match index {
        Some(old) => {
            // The cells before the slot keep their offsets; the new or changed cell sits at
            // the slot; the ones after it moved by the growth (a put in place never
            // shrinks the leaf).
            let position = old.partition_point(|&at| usize::from(at) < slot.offset);
            let after = position + usize::from(slot.existing.is_some());
            let growth = u16::try_from(new_cell - old_cell).expect("a cell is below 64 KiB");
            let offset = u16::try_from(slot.offset).expect("cells lie below 65528");
            (old[..position].iter().copied())
                .chain(std::iter::once(offset))
                .chain(old[after..].iter().map(|&at| at + growth))
                .collect()
        }
        None => {
            let mut at = HEADER_BYTES;
            let index = (0..count)
                .map(|_| {
                    let cell = at;
                    let value_len = u16::from_le_bytes([new_image[at + 1], new_image[at + 2]]);
                    at += LEAF_CELL_OVERHEAD + usize::from(new_image[at]) + usize::from(value_len);
                    u16::try_from(cell).expect("cells lie below a usable size of at most 65528")
                })
                .collect();
            assert_eq!(at, new_end, "the cell count matches the cells");
            index
        }
    };
    assert_eq!(index.len(), usize::from(count), "one index entry per cell");
    Ok(InPlace::Written {
        image: new_image,
        index,
        replaced: slot.existing.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::node::Node;
    use super::*;

    const PAGE: usize = 512;
    const USABLE: usize = PAGE - 8;

    fn leaf(cells: &[(&str, &[u8])]) -> Node {
        Node::Leaf {
            cells: cells
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.to_vec()))
                .collect(),
        }
    }

    /// The image of `node`, with a recognisable reserved tail.
    fn image_of(node: &Node) -> Vec<u8> {
        let mut image = vec![0xAB; PAGE];
        node.encode_into(&mut image, USABLE);
        image
    }

    fn index_of(image: &[u8]) -> Vec<u16> {
        super::super::node::cell_index(image, USABLE).expect("a sound page")
    }

    /// Over many leaves and puts, the put through the index (binary search, index moved)
    /// writes the same image and index as the put that walks and checks the page.
    #[test]
    fn the_indexed_put_writes_what_the_walking_put_writes() {
        let mut compared = 0;
        for cells in 0..12u8 {
            let keys: Vec<Vec<u8>> = (0..cells).map(|i| vec![b'b', i * 3]).collect();
            let values: Vec<Vec<u8>> = (0..cells)
                .map(|i| vec![i; usize::from(i % 5) * 7])
                .collect();
            let node = Node::Leaf {
                cells: keys.iter().cloned().zip(values.iter().cloned()).collect(),
            };
            let image = image_of(&node);
            let index = index_of(&image);
            for probe in 0..cells * 3 + 2 {
                for len in [0usize, 3, 9, 40] {
                    let key = [b'b', probe];
                    let value = vec![probe; len];
                    let walked = put_in_place(&image, USABLE, &key, &value, None);
                    let indexed = put_in_place(&image, USABLE, &key, &value, Some(&index));
                    assert_eq!(indexed, walked, "{cells} cells, key {probe}, value {len}");
                    if let Ok(InPlace::Written { image, index, .. }) = walked {
                        assert_eq!(&index[..], &index_of(&image)[..]);
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 300, "only {compared} in-place puts compared");
    }

    /// An index that does not match the image is an error, never a read past the page.
    #[test]
    fn a_wrong_index_is_refused() {
        let image = image_of(&leaf(&[("b", b"1"), ("d", b"22")]));
        assert!(
            locate(&image, USABLE, b"c", Some(&[7])).is_err(),
            "too few entries"
        );
        assert!(
            locate(&image, USABLE, b"c", Some(&[7, 600])).is_err(),
            "past the end"
        );
    }

    #[test]
    fn an_in_place_put_writes_exactly_what_encoding_the_changed_node_writes() {
        let before = leaf(&[("b", b"1"), ("d", b"22"), ("f", b"333")]);
        let cases: [(&str, &[u8], Node, bool); 5] = [
            (
                "a",
                b"x",
                leaf(&[("a", b"x"), ("b", b"1"), ("d", b"22"), ("f", b"333")]),
                false,
            ),
            (
                "c",
                b"x",
                leaf(&[("b", b"1"), ("c", b"x"), ("d", b"22"), ("f", b"333")]),
                false,
            ),
            (
                "g",
                b"x",
                leaf(&[("b", b"1"), ("d", b"22"), ("f", b"333"), ("g", b"x")]),
                false,
            ),
            (
                "d",
                b"44",
                leaf(&[("b", b"1"), ("d", b"44"), ("f", b"333")]),
                true,
            ),
            (
                "b",
                b"5555",
                leaf(&[("b", b"5555"), ("d", b"22"), ("f", b"333")]),
                true,
            ),
        ];
        for (key, value, after, replaced) in cases {
            let got = put_in_place(&image_of(&before), USABLE, key.as_bytes(), value, None);
            let expected = image_of(&after);
            let index = super::super::node::cell_index(&expected, USABLE).expect("sound");
            let index = CellIndex::from(index);
            assert_eq!(
                got,
                Ok(InPlace::Written {
                    image: expected,
                    index,
                    replaced
                }),
                "put {key}"
            );
        }
        let empty = image_of(&Node::empty_leaf());
        let Ok(InPlace::Written { image, .. }) = put_in_place(&empty, USABLE, b"k", b"v", None)
        else {
            panic!("an empty leaf takes a cell in place");
        };
        assert_eq!(image, image_of(&leaf(&[("k", b"v")])));
    }

    #[test]
    fn same_value_is_unchanged_and_shrinking_or_overflowing_is_not_in_place() {
        let before = image_of(&leaf(&[("b", b"1"), ("d", b"22")]));
        assert_eq!(
            put_in_place(&before, USABLE, b"d", b"22", Some(&index_of(&before))),
            Ok(InPlace::Unchanged)
        );
        assert_eq!(
            put_in_place(&before, USABLE, b"d", b"2", Some(&index_of(&before))),
            Ok(InPlace::NeedsPlan),
            "a smaller value shrinks the leaf: the planner settles it"
        );
        // A value that would pass the usable end.
        let big = vec![7u8; 120];
        let full = image_of(&leaf(&[
            ("a", &big),
            ("b", &big),
            ("c", &big),
            ("d", &big[..100]),
        ]));
        assert_eq!(
            put_in_place(&full, USABLE, b"e", &big, None),
            Ok(InPlace::NeedsPlan)
        );
    }

    #[test]
    fn the_checking_walk_and_the_trusting_walk_find_the_same_slots() {
        let image = image_of(&leaf(&[("b", b"1"), ("d", b"22"), ("f", b"333")]));
        for probe in ["a", "b", "c", "d", "e", "f", "g", "dd"] {
            assert_eq!(
                locate(&image, USABLE, probe.as_bytes(), Some(&index_of(&image))),
                locate(&image, USABLE, probe.as_bytes(), None),
                "probe {probe}"
            );
        }
        let slot = locate(&image, USABLE, b"d", None).expect("a sound leaf");
        assert_eq!(slot.existing, Some(3 + 1 + 2));
        assert_eq!((slot.offset, slot.count), (HEADER_BYTES + 3 + 1 + 1, 3));
    }

    #[test]
    fn damaged_leaves_are_refused_as_decode_refuses_them() {
        let mut image = image_of(&leaf(&[("a", b"1"), ("b", b"2")]));
        image[HEADER_BYTES + 3] = b'c'; // the first key becomes "c", above "b"
        assert!(Node::decode(&image, USABLE).is_err());
        let why = put_in_place(&image, USABLE, b"z", b"v", None).expect_err("unsorted keys");
        assert!(why.contains("out of order"), "{why}");
        let mut image = image_of(&leaf(&[("a", b"1")]));
        image[1] = 9; // claims nine cells
        image[20..USABLE].fill(0xFF);
        assert!(put_in_place(&image, USABLE, b"z", b"v", None).is_err());
        let interior = image_of(&Node::Interior {
            keys: vec![b"m".to_vec()],
            children: vec![5, 9],
        });
        assert!(put_in_place(&interior, USABLE, b"a", b"v", None).is_err());
    }
}
