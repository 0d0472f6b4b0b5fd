//! Pure node arithmetic for structural changes: splitting an overfull node into the fewest
//! pages that hold it (balanced when possible), and merging two adjacent siblings.
//!
//! Splits always use the minimal number of pieces, so no two adjacent pieces of one split
//! could be merged: merging them would give a packing with one piece fewer.

use std::ops::Range;

use super::node::{Node, interior_cell_bytes, leaf_cell_bytes};

/// A node cut into pieces that each fit, with the separator keys that go between them
/// (`separators.len() == pieces.len() - 1`).
#[derive(Debug)]
pub(super) struct Pieces {
    pub pieces: Vec<Node>,
    pub separators: Vec<Vec<u8>>,
}

/// Splits `node` into the fewest pieces of at most `capacity` bytes each. A node that fits
/// comes back as the single piece.
pub(super) fn split(node: Node, capacity: usize) -> Pieces {
    if node.fill() <= capacity {
        return Pieces {
            pieces: vec![node],
            separators: Vec::new(),
        };
    }
    match node {
        Node::Leaf { cells } => split_leaf(cells, capacity),
        Node::Interior { keys, children } => split_interior(keys, children, capacity),
    }
}

/// Where a leaf whose cells have these sizes is cut: the index of the first cell of each
/// piece after the first. The fewest pieces, balanced when that keeps their number.
pub(super) fn leaf_cuts(sizes: &[usize], capacity: usize) -> Vec<usize> {
    let greedy = cuts(sizes, capacity, None, false);
    let balanced = cuts(sizes, capacity, Some(greedy.len() + 1), false);
    if balanced.len() == greedy.len() {
        balanced
    } else {
        greedy
    }
}

fn split_leaf(cells: Vec<(Vec<u8>, Vec<u8>)>, capacity: usize) -> Pieces {
    let sizes: Vec<usize> = cells.iter().map(|(k, v)| leaf_cell_bytes(k, v)).collect();
    let cuts = leaf_cuts(&sizes, capacity);
    let mut ranges = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&cells.len())) {
        ranges.push(start..cut);
        start = cut;
    }
    let mut separators = Vec::new();
    for pair in ranges.windows(2) {
        let last_left = &cells[pair[0].end - 1].0;
        let first_right = &cells[pair[1].start].0;
        separators.push(shortest_separator(last_left, first_right));
    }
    let mut rest = cells.into_iter();
    let pieces = ranges
        .iter()
        .map(|range: &Range<usize>| Node::Leaf {
            cells: rest.by_ref().take(range.len()).collect(),
        })
        .collect();
    Pieces { pieces, separators }
}

fn split_interior(keys: Vec<Vec<u8>>, children: Vec<u32>, capacity: usize) -> Pieces {
    let sizes: Vec<usize> = keys.iter().map(|k| interior_cell_bytes(k)).collect();
    let greedy = cuts(&sizes, capacity, None, true);
    let balanced = cuts(&sizes, capacity, Some(greedy.len() + 1), true);
    let cuts = if balanced.len() == greedy.len() {
        balanced
    } else {
        greedy
    };
    let mut pieces = Vec::new();
    let mut separators = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&keys.len())) {
        pieces.push(Node::Interior {
            keys: keys[start..cut].to_vec(),
            children: children[start..=cut].to_vec(),
        });
        if cut < keys.len() {
            separators.push(keys[cut].clone());
        }
        start = cut + 1;
    }
    Pieces { pieces, separators }
}

/// Chooses where to cut a run of cells of the given sizes into pieces of at most
/// `capacity` bytes. A leaf piece starts at each cut; for an interior node (`consume_cut`)
/// the cell at a cut is the separator that goes up, and the next piece starts after it.
///
/// Without `pieces` the cut is greedy (fill each piece as far as it goes), which gives the
/// fewest pieces. With `pieces = Some(m)` each piece aims at an even share of what remains;
/// the caller keeps that result only if it also has `m` pieces.
fn cuts(sizes: &[usize], capacity: usize, pieces: Option<usize>, consume_cut: bool) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    // An even share of what is left, fixed when a piece starts.
    let share = |cuts: usize, remaining: usize| {
        pieces.map_or(usize::MAX, |m| remaining / m.saturating_sub(cuts).max(1))
    };
    let last_piece = |cuts: usize| pieces.is_some_and(|m| cuts + 1 >= m);
    let mut cuts = Vec::new();
    let mut remaining = total;
    let mut target = share(0, remaining);
    let mut fill = 0;
    for (index, &size) in sizes.iter().enumerate() {
        let over_capacity = fill + size > capacity;
        let over_target = fill > 0 && fill + size / 2 > target && !last_piece(cuts.len());
        if over_capacity || over_target {
            cuts.push(index);
            fill = 0;
            target = share(cuts.len(), remaining);
            if consume_cut {
                remaining -= size;
                continue;
            }
        }
        fill += size;
        remaining -= size;
    }
    cuts
}

/// The shortest key `s` with `left < s <= right`: a prefix of `right`. Keeps separators
/// short so interior nodes hold more of them.
pub(super) fn shortest_separator(left: &[u8], right: &[u8]) -> Vec<u8> {
    assert!(left < right, "separator asked for keys out of order");
    let common = left.iter().zip(right).take_while(|(a, b)| a == b).count();
    right[..common + 1].to_vec()
}

/// Merges `left` and `right` (adjacent siblings, `separator` between them in their parent)
/// into one node if the result fits in `capacity` bytes.
pub(super) fn merge(left: &Node, separator: &[u8], right: &Node, capacity: usize) -> Option<Node> {
    let merged_fill = match (left, right) {
        (Node::Leaf { .. }, Node::Leaf { .. }) => left.fill() + right.fill(),
        (Node::Interior { .. }, Node::Interior { .. }) => {
            left.fill() + interior_cell_bytes(separator) + right.fill()
        }
        _ => panic!("siblings at the same depth are of the same kind"),
    };
    if merged_fill > capacity {
        return None;
    }
    Some(match (left, right) {
        (Node::Leaf { cells: l }, Node::Leaf { cells: r }) => Node::Leaf {
            cells: l.iter().chain(r).cloned().collect(),
        },
        (
            Node::Interior {
                keys: lk,
                children: lc,
            },
            Node::Interior {
                keys: rk,
                children: rc,
            },
        ) => {
            let mut keys = lk.clone();
            keys.push(separator.to_vec());
            keys.extend(rk.iter().cloned());
            Node::Interior {
                keys,
                children: lc.iter().chain(rc).copied().collect(),
            }
        }
        _ => unreachable!("kinds matched above"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(sizes: &[usize]) -> Node {
        let cells = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| (vec![b'a' + i as u8], vec![0; size - 4]))
            .collect();
        Node::Leaf { cells }
    }

    #[test]
    fn leaf_split_is_minimal_and_every_piece_fits() {
        // The three-way case: no two-way cut of 200 | 386 | 297 fits in 497 bytes.
        let pieces = split(leaf(&[200, 386, 297]), 497);
        assert_eq!(pieces.pieces.len(), 3);
        assert_eq!(pieces.separators, vec![b"b".to_vec(), b"c".to_vec()]);
        let pieces = split(leaf(&[100; 10]), 497);
        assert_eq!(pieces.pieces.len(), 3);
        assert!(
            pieces
                .pieces
                .iter()
                .all(|p| p.fill() <= 497 && p.fill() >= 300)
        );
    }

    #[test]
    fn interior_split_pushes_one_key_up_per_cut() {
        let keys: Vec<Vec<u8>> = (0..4u8).map(|i| vec![b'a' + i; 200]).collect();
        let node = Node::Interior {
            keys: keys.clone(),
            children: vec![10, 11, 12, 13, 14],
        };
        let pieces = split(node, 497);
        assert_eq!(pieces.pieces.len(), 2);
        let children: Vec<u32> = pieces
            .pieces
            .iter()
            .flat_map(|p| match p {
                Node::Interior { children, .. } => children.clone(),
                Node::Leaf { .. } => panic!("interior split made a leaf"),
            })
            .collect();
        assert_eq!(children, vec![10, 11, 12, 13, 14]);
        assert_eq!(pieces.separators.len(), 1);
        assert!(keys.contains(&pieces.separators[0]));
        assert!(pieces.pieces.iter().all(|p| p.fill() <= 497));
    }

    #[test]
    fn shortest_separator_lies_between_its_keys() {
        assert_eq!(shortest_separator(b"abc", b"abd"), b"abd".to_vec());
        assert_eq!(shortest_separator(b"ab", b"abzz"), b"abz".to_vec());
        assert_eq!(shortest_separator(b"a", b"zzz"), b"z".to_vec());
    }

    #[test]
    fn merge_refuses_what_does_not_fit() {
        assert!(merge(&leaf(&[300]), b"b", &leaf(&[300]), 497).is_none());
        assert_eq!(
            merge(&leaf(&[100]), b"b", &leaf(&[100]), 497).map(|n| n.fill()),
            Some(200)
        );
    }
}
