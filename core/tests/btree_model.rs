//! The B-tree against a `BTreeMap` model: random put/delete/get/scan sequences with fixed
//! seeds, at several page sizes, with and without injected yields, with the integrity
//! check after every batch.

use std::collections::BTreeMap;

use braid_core::storage::PageAccess;
use braid_core::storage::btree::{
    CreateTree, Delete, Get, IntegrityCheck, Put, Scan, TestPages, max_value_bytes,
};
use braid_core::{Error, YieldPoint};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

type Rows = Vec<(Vec<u8>, Vec<u8>)>;

/// A tree over test pages, driven to completion op by op.
struct Tree {
    pages: TestPages,
}

impl Tree {
    fn new(pages: TestPages) -> Tree {
        let mut tree = Tree { pages };
        let mut create = CreateTree::new();
        tree.pages
            .drive(|p| create.step(p))
            .expect("create the tree");
        tree
    }

    fn put(&mut self, key: &[u8], value: &[u8]) -> bool {
        self.try_put(key, value).expect("put")
    }

    fn try_put(&mut self, key: &[u8], value: &[u8]) -> Result<bool, Error> {
        let mut op = Put::new(key.to_vec(), value.to_vec());
        self.pages.drive(|p| op.step(p))
    }

    fn delete(&mut self, key: &[u8]) -> bool {
        let mut op = Delete::new(key.to_vec());
        self.pages.drive(|p| op.step(p)).expect("delete")
    }

    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        let mut op = Get::new(key.to_vec());
        self.pages.drive(|p| op.step(p)).expect("get")
    }

    fn scan(&mut self, start: &[u8], end: Option<&[u8]>, limit: usize) -> Rows {
        let mut op = Scan::new(start.to_vec(), end.map(<[u8]>::to_vec), limit);
        self.pages.drive(|p| op.step(p)).expect("scan")
    }

    fn assert_sound(&mut self) {
        let mut check =
            IntegrityCheck::new(self.pages.freelist().to_vec(), self.pages.page_count());
        let problems = self
            .pages
            .drive(|p| check.step(p))
            .expect("integrity check");
        assert!(problems.is_empty(), "integrity problems: {problems:#?}");
    }
}

/// Key number `id`: 255 bytes, all sharing a 247-byte prefix, so separators cannot be
/// shortened and a 512-byte interior page holds a single key.
fn long_key_for(id: u64) -> Vec<u8> {
    let mut key = vec![b'p'; 247];
    key.extend(format!("{id:08}").bytes());
    key
}

/// Key number `id`: mostly short, one in ten near the 255-byte maximum, all distinct.
fn key_for(id: u64) -> Vec<u8> {
    let len = if id.is_multiple_of(10) {
        200 + (id % 56) as usize
    } else {
        8 + (id % 13) as usize
    };
    let mut key = format!("{id:08}").into_bytes();
    key.resize(len, b'k');
    key
}

/// A value of random length: mostly small, sometimes up to the maximum.
fn value_for(rng: &mut Xoshiro256PlusPlus, page_size: usize) -> Vec<u8> {
    let max = max_value_bytes(page_size);
    let len = match rng.next_u64() % 10 {
        0 => (rng.next_u64() as usize) % (max + 1),
        1 => max,
        _ => (rng.next_u64() % 40) as usize,
    };
    let byte = rng.next_u64() as u8;
    vec![byte; len]
}

/// Runs `ops` random operations against the tree and a model; checks integrity every
/// `batch` operations and compares a full scan at the end.
fn run_model(tree: Tree, seed: u64, ops: usize, key_pool: u64, batch: usize) -> Tree {
    run_model_with_keys(tree, seed, ops, key_pool, batch, key_for)
}

fn run_model_with_keys(
    mut tree: Tree,
    seed: u64,
    ops: usize,
    key_pool: u64,
    batch: usize,
    key_for: fn(u64) -> Vec<u8>,
) -> Tree {
    let page_size = tree.pages.page_size();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    for op in 0..ops {
        let key = key_for(rng.next_u64() % key_pool);
        match rng.next_u64() % 20 {
            0..=8 => {
                let value = value_for(&mut rng, page_size);
                let replaced = tree.put(&key, &value);
                assert_eq!(
                    replaced,
                    model.insert(key, value).is_some(),
                    "put outcome, op {op}"
                );
            }
            9..=13 => {
                assert_eq!(
                    tree.delete(&key),
                    model.remove(&key).is_some(),
                    "delete, op {op}"
                );
            }
            14..=17 => assert_eq!(tree.get(&key), model.get(&key).cloned(), "get, op {op}"),
            _ => {
                let end = (rng.next_u64() % 3 != 0).then(|| key_for(rng.next_u64() % key_pool));
                let limit = (rng.next_u64() % 50) as usize;
                let expected: Rows = model
                    .range(key.clone()..)
                    .take_while(|(k, _)| end.as_ref().is_none_or(|end| *k < end))
                    .take(limit)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(
                    tree.scan(&key, end.as_deref(), limit),
                    expected,
                    "scan, op {op}"
                );
            }
        }
        if (op + 1) % batch == 0 {
            tree.assert_sound();
        }
    }
    tree.assert_sound();
    let all: Rows = model.into_iter().collect();
    assert_eq!(tree.scan(&[0], None, usize::MAX), all, "final full scan");
    tree
}

#[test]
fn random_ops_match_the_model_at_512_bytes() {
    for seed in 1..=3 {
        run_model(Tree::new(TestPages::new(512)), seed, 4000, 600, 250);
    }
}

#[test]
fn long_keys_with_a_shared_prefix_match_the_model_at_512_bytes() {
    for seed in 61..=62 {
        let pages = TestPages::with_yields(512, seed, 200_000, 500_000);
        run_model_with_keys(Tree::new(pages), seed, 3000, 300, 250, long_key_for);
    }
}

#[test]
fn yielding_builds_the_same_pages_as_never_yielding() {
    let quiet = run_model(Tree::new(TestPages::new(512)), 71, 2500, 500, 500);
    // Every yield point taken; then also reads and reservations yielding at random.
    for read_yield_ppm in [0, 300_000] {
        let pages = TestPages::with_yields(512, 72, read_yield_ppm, 1_000_000);
        let yielding = run_model(Tree::new(pages), 71, 2500, 500, 500);
        assert!(yielding.pages.yields_taken(YieldPoint::BtreeSplit) > 0);
        assert!(yielding.pages.yields_taken(YieldPoint::BtreeMerge) > 0);
        assert_eq!(quiet.pages.root(), yielding.pages.root());
        assert_eq!(quiet.pages.freelist(), yielding.pages.freelist());
        assert_eq!(quiet.pages.page_count(), yielding.pages.page_count());
        for pgno in 2..=quiet.pages.page_count() {
            assert_eq!(
                quiet.pages.raw_page(pgno),
                yielding.pages.raw_page(pgno),
                "page {pgno}"
            );
        }
    }
}

#[test]
fn random_ops_match_the_model_with_random_yields() {
    for seed in 11..=13 {
        let pages = TestPages::with_yields(512, seed, 200_000, 300_000);
        let tree = run_model(Tree::new(pages), seed, 4000, 600, 250);
        assert!(
            tree.pages.yields_taken(YieldPoint::BtreeSplit) > 0,
            "splits yielded"
        );
        assert!(
            tree.pages.yields_taken(YieldPoint::BtreeMerge) > 0,
            "merges yielded"
        );
    }
}

#[test]
fn a_yield_at_every_split_and_merge_still_gives_correct_results() {
    let pages = TestPages::with_yields(512, 21, 0, 1_000_000);
    let tree = run_model(Tree::new(pages), 21, 3000, 400, 200);
    assert!(tree.pages.yields_taken(YieldPoint::BtreeSplit) > 20);
    assert!(tree.pages.yields_taken(YieldPoint::BtreeMerge) > 20);
}

#[test]
fn random_ops_match_the_model_at_4096_and_65536_bytes() {
    run_model(
        Tree::new(TestPages::with_yields(4096, 31, 100_000, 300_000)),
        31,
        3000,
        1500,
        500,
    );
    let tree = run_model(
        Tree::new(TestPages::with_yields(65536, 32, 100_000, 300_000)),
        32,
        600,
        200,
        100,
    );
    assert!(
        tree.pages.pages_in_use() > 1,
        "big values split even 64 KiB pages"
    );
}

#[test]
fn inserting_then_deleting_most_keys_shrinks_the_tree() {
    let mut tree = Tree::new(TestPages::with_yields(512, 41, 50_000, 100_000));
    let key = |i: u32| format!("key-{:06}", (i * 7919) % 20_000).into_bytes();
    for i in 0..20_000 {
        assert!(!tree.put(&key(i), &i.to_le_bytes()));
    }
    tree.assert_sound();
    let full = tree.pages.pages_in_use();
    for i in 0..18_000 {
        assert!(tree.delete(&key(i)), "key {i} was there");
    }
    tree.assert_sound();
    let shrunk = tree.pages.pages_in_use();
    assert!(
        shrunk * 5 < full,
        "{full} pages before, {shrunk} after deleting 90% of the keys"
    );
    for i in 18_000..20_000 {
        assert_eq!(tree.get(&key(i)), Some(i.to_le_bytes().to_vec()));
    }
    assert_eq!(tree.scan(b"key-", None, usize::MAX).len(), 2_000);
    for i in 18_000..20_000 {
        assert!(tree.delete(&key(i)));
    }
    tree.assert_sound();
    assert_eq!(
        tree.pages.pages_in_use(),
        1,
        "an empty tree is one root leaf"
    );
}

#[test]
fn max_size_keys_and_values_at_every_page_size() {
    for page_size in [512, 1024, 4096, 65536] {
        let mut tree = Tree::new(TestPages::with_yields(page_size, 51, 100_000, 500_000));
        let max_value = max_value_bytes(page_size);
        let key = |i: u8| {
            let mut key = vec![b'm'; 254];
            key.push(i);
            key
        };
        for i in 0..60u8 {
            tree.put(&key(i), &vec![i; max_value]);
        }
        tree.assert_sound();
        for i in 0..60u8 {
            assert_eq!(
                tree.get(&key(i)),
                Some(vec![i; max_value]),
                "page size {page_size}"
            );
        }
        assert_eq!(tree.scan(&key(10), Some(&key(20)), 100).len(), 10);
        for i in (0..60u8).rev() {
            assert!(tree.delete(&key(i)));
        }
        tree.assert_sound();
        assert_eq!(tree.pages.pages_in_use(), 1, "page size {page_size}");
    }
}

#[test]
fn oversized_and_empty_keys_and_values_are_rejected() {
    let mut tree = Tree::new(TestPages::new(512));
    assert_eq!(
        tree.try_put(&[1; 256], b"v"),
        Err(Error::KeyTooLarge { len: 256, max: 255 })
    );
    assert_eq!(
        tree.try_put(b"k", &[0; 129]),
        Err(Error::ValueTooLarge { len: 129, max: 128 })
    );
    assert!(matches!(tree.try_put(b"", b"v"), Err(Error::Misuse(_))));
    assert_eq!(tree.try_put(b"k", &[0; 128]), Ok(false));
    assert_eq!(tree.try_put(b"k", b""), Ok(true));
    assert_eq!(tree.get(b"k"), Some(Vec::new()));
}

#[test]
fn operations_before_create_tree() {
    let mut pages = TestPages::new(512);
    let mut get = Get::new(b"k".to_vec());
    assert_eq!(pages.drive(|p| get.step(p)), Ok(None));
    let mut scan = Scan::new(b"a".to_vec(), None, 10);
    assert_eq!(pages.drive(|p| scan.step(p)), Ok(Vec::new()));
    let mut put = Put::new(b"k".to_vec(), b"v".to_vec());
    assert!(matches!(
        pages.drive(|p| put.step(p)),
        Err(Error::Misuse(_))
    ));
    let mut create = CreateTree::new();
    let root = pages.drive(|p| create.step(p)).expect("create");
    assert_eq!(pages.root(), root);
    let mut again = CreateTree::new();
    assert_eq!(
        pages.drive(|p| again.step(p)),
        Ok(root),
        "creating twice keeps the root"
    );
}
