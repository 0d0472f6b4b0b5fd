//! `IntegrityCheck` on hand-made trees: a sound tree passes, and each kind of damage is
//! reported by a message naming the page. Also: operations meeting a damaged page fail
//! with `Error::Corrupt` instead of answering.

use braid_core::Error;
use braid_core::storage::btree::{Get, IntegrityCheck, Node, Put, Scan, TestPages};
use braid_core::storage::{PageAccess, PageNo};

const PAGE: usize = 512;

fn cell(key: &str, value_len: usize) -> (Vec<u8>, Vec<u8>) {
    (key.as_bytes().to_vec(), vec![7; value_len])
}

fn leaf(cells: &[(&str, usize)]) -> Node {
    Node::Leaf {
        cells: cells.iter().map(|&(k, len)| cell(k, len)).collect(),
    }
}

fn interior(keys: &[&str], children: &[PageNo]) -> Node {
    Node::Interior {
        keys: keys.iter().map(|k| k.as_bytes().to_vec()).collect(),
        children: children.to_vec(),
    }
}

fn put_node(pages: &mut TestPages, pgno: PageNo, node: &Node) {
    let mut image = vec![0; PAGE];
    node.encode_into(&mut image, pages.usable_size());
    pages.put_raw_page(pgno, image);
}

/// Root 2 over leaves 3 (keys a, b) and 4 (keys m, n), each about 200 bytes full.
fn sound_tree() -> TestPages {
    let mut pages = TestPages::new(PAGE);
    put_node(&mut pages, 2, &interior(&["m"], &[3, 4]));
    put_node(&mut pages, 3, &leaf(&[("a", 100), ("b", 100)]));
    put_node(&mut pages, 4, &leaf(&[("m", 100), ("n", 100)]));
    pages.set_root(2).expect("set root");
    pages
}

fn problems(pages: &mut TestPages) -> Vec<String> {
    let mut check = IntegrityCheck::new(pages.freelist().to_vec(), pages.page_count());
    pages
        .drive(|p| check.step(p))
        .expect("the check itself does not fail")
}

fn assert_reports(pages: &mut TestPages, fragments: &[&str]) {
    let found = problems(pages);
    assert!(
        found
            .iter()
            .any(|problem| fragments.iter().all(|f| problem.contains(f))),
        "expected a problem mentioning {fragments:?}, got {found:#?}"
    );
}

#[test]
fn the_hand_made_tree_is_sound() {
    assert_eq!(problems(&mut sound_tree()), Vec::<String>::new());
}

#[test]
fn keys_out_of_order_in_a_page() {
    let mut pages = sound_tree();
    put_node(&mut pages, 3, &leaf(&[("b", 100), ("a", 100)]));
    assert_reports(&mut pages, &["page 3", "out of order"]);
}

#[test]
fn a_separator_that_violates_its_childs_range() {
    let mut pages = sound_tree();
    // Leaf 4 holds "m" and "n"; a separator "n" sends "m" to the left child.
    put_node(&mut pages, 2, &interior(&["n"], &[3, 4]));
    assert_reports(&mut pages, &["page 4", "outside the range", "page 2"]);
    // A separator below the left child's keys is caught on the left child.
    put_node(&mut pages, 2, &interior(&["b"], &[3, 4]));
    assert_reports(&mut pages, &["page 3", "outside the range"]);
}

#[test]
fn an_orphan_page() {
    let mut pages = sound_tree();
    put_node(&mut pages, 5, &leaf(&[("z", 10)]));
    assert_reports(&mut pages, &["page 5", "orphan"]);
}

#[test]
fn a_page_in_the_tree_and_on_the_freelist() {
    let mut pages = sound_tree();
    pages.push_raw_free(4);
    assert_reports(
        &mut pages,
        &["page 4", "on the freelist and also in the tree"],
    );
}

#[test]
fn a_page_twice_on_the_freelist_or_outside_the_file() {
    let mut pages = sound_tree();
    put_node(&mut pages, 5, &leaf(&[]));
    pages.push_raw_free(5);
    pages.push_raw_free(5);
    pages.push_raw_free(9);
    assert_reports(&mut pages, &["page 5", "freelist 2 times"]);
    assert_reports(&mut pages, &["page 9", "outside 2..=5"]);
}

#[test]
fn a_page_used_twice_in_the_tree() {
    let mut pages = sound_tree();
    put_node(&mut pages, 2, &interior(&["m"], &[3, 3]));
    pages.push_raw_free(4);
    assert_reports(&mut pages, &["page 3", "used twice"]);
}

#[test]
fn leaves_at_different_depths() {
    let mut pages = sound_tree();
    // Page 5 is an interior node over leaf 4, so leaf 4 sits one level deeper than leaf 3.
    put_node(&mut pages, 5, &interior(&[], &[4]));
    put_node(&mut pages, 2, &interior(&["m"], &[3, 5]));
    assert_reports(&mut pages, &["page 4", "depth 2", "depth 1"]);
}

#[test]
fn underfull_siblings_that_fit_in_one_page() {
    let mut pages = sound_tree();
    put_node(&mut pages, 4, &leaf(&[("m", 10)]));
    assert_reports(&mut pages, &["page 2", "children 3", "and 4", "underfull"]);
    // One small leaf is fine when it cannot merge with its sibling.
    put_node(&mut pages, 3, &leaf(&[("a", 250), ("b", 230)]));
    assert_eq!(problems(&mut pages), Vec::<String>::new());
}

#[test]
fn an_undecodable_page_and_a_child_outside_the_file() {
    let mut pages = sound_tree();
    pages.put_raw_page(4, vec![0xAB; PAGE]);
    assert_reports(&mut pages, &["page 4", "unknown node kind"]);
    let mut pages = sound_tree();
    put_node(&mut pages, 2, &interior(&["m"], &[3, 40]));
    pages.push_raw_free(4);
    assert_reports(&mut pages, &["page 2", "page 40", "outside"]);
}

#[test]
fn damage_in_a_tree_built_by_operations_is_found() {
    let mut pages = TestPages::new(PAGE);
    let mut create = braid_core::storage::btree::CreateTree::new();
    pages.drive(|p| create.step(p)).expect("create");
    for i in 0..400u32 {
        let mut put = Put::new(format!("key{i:05}").into_bytes(), vec![1; 20]);
        pages.drive(|p| put.step(p)).expect("put");
    }
    assert_eq!(problems(&mut pages), Vec::<String>::new());
    // Reverse the cells of some leaf.
    let leaf_pgno = (2..=pages.page_count())
        .find(|&pgno| {
            let image = pages.raw_page(pgno).expect("every page is in use");
            matches!(
                Node::decode(image, pages.usable_size()),
                Ok(Node::Leaf { .. })
            )
        })
        .expect("the tree has leaves");
    let image = pages.raw_page(leaf_pgno).expect("in use");
    let Ok(Node::Leaf { mut cells }) = Node::decode(image, pages.usable_size()) else {
        panic!("page {leaf_pgno} was a leaf a moment ago");
    };
    cells.reverse();
    put_node(&mut pages, leaf_pgno, &Node::Leaf { cells });
    assert_reports(&mut pages, &[&format!("page {leaf_pgno}"), "out of order"]);
}

#[test]
fn operations_on_a_damaged_page_fail_as_corrupt() {
    let mut pages = sound_tree();
    pages.put_raw_page(4, vec![0xAB; PAGE]);
    let mut get = Get::new(b"n".to_vec());
    assert!(
        matches!(pages.drive(|p| get.step(p)), Err(Error::Corrupt(m)) if m.to_string().contains("page 4"))
    );
    let mut scan = Scan::new(b"a".to_vec(), None, 10);
    assert!(matches!(
        pages.drive(|p| scan.step(p)),
        Err(Error::Corrupt(_))
    ));
    let mut put = Put::new(b"n".to_vec(), b"v".to_vec());
    assert!(matches!(
        pages.drive(|p| put.step(p)),
        Err(Error::Corrupt(_))
    ));
    // A cycle: the root's child points back at the root.
    let mut pages = sound_tree();
    put_node(&mut pages, 3, &interior(&[], &[2]));
    let mut get = Get::new(b"a".to_vec());
    assert!(matches!(
        pages.drive(|p| get.step(p)),
        Err(Error::Corrupt(_))
    ));
    assert_reports(&mut pages, &["page 2", "used twice"]);
}
