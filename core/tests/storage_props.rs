//! The B-tree on the real pager: thousands of random puts, deletes, gets and scans at
//! page size 512, checked against a `BTreeMap`, under `MemoryIO` and `ShuffleIO` (random
//! completion order and yields), with checkpoints and reopens mixed in and an integrity
//! check after every batch; and 100,000 keys through `FileIO` read back after reopen.

use std::collections::BTreeMap;
use std::sync::Arc;

use braid_core::storage::btree::{CreateTree, Delete, Get, IntegrityCheck, Put, Scan};
use braid_core::storage::{CheckpointMode, FreelistScan, PageAccess, Pager};
use braid_core::{DbOptions, FileIO, IO, MemoryIO, ShuffleIO, block_on};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn key(n: u64) -> Vec<u8> {
    format!("k{n:05}").into_bytes()
}

fn value(rng: &mut Xoshiro256PlusPlus, max: usize) -> Vec<u8> {
    let len = (rng.next_u64() % (max as u64 + 1)) as usize;
    let byte = rng.next_u64() as u8;
    vec![byte; len]
}

fn integrity(io: &Arc<dyn IO>, pager: &Arc<Pager>) -> Vec<String> {
    let mut txn = pager.begin_read().expect("reader");
    let header = *txn.header();
    let mut scan = FreelistScan::new(header.freelist_head, header.freelist_count);
    let freelist = block_on(io.as_ref(), || scan.step(&mut txn)).expect("freelist");
    if header.root == 0 {
        return Vec::new();
    }
    let mut check = IntegrityCheck::new(freelist, header.page_count);
    block_on(io.as_ref(), || check.step(&mut txn)).expect("integrity check runs")
}

/// `ops` random operations in write batches, each checked against the model.
fn random_ops(io: Arc<dyn IO>, opts: DbOptions, seed: u64, ops: usize) {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut pager = Pager::open_blocking(io.clone(), "props.db", opts.clone()).expect("open");
    let mut model = Model::new();
    let max_value = opts.page_size / 4;
    let mut done = 0;
    let mut batch = 0u64;
    while done < ops {
        let mut txn = pager.try_begin_write(None).expect("write lock");
        let mut create = CreateTree::new();
        block_on(io.as_ref(), || create.step(&mut txn)).expect("create tree");
        let mut pending = model.clone();
        for _ in 0..25 {
            let k = key(rng.next_u64() % 400);
            match rng.next_u64() % 10 {
                0..=4 => {
                    let v = value(&mut rng, max_value);
                    let mut put = Put::new(k.clone(), v.clone());
                    let replaced = block_on(io.as_ref(), || put.step(&mut txn)).expect("put");
                    assert_eq!(replaced, pending.insert(k, v).is_some(), "seed {seed}");
                }
                5..=7 => {
                    let mut delete = Delete::new(k.clone());
                    let found = block_on(io.as_ref(), || delete.step(&mut txn)).expect("delete");
                    assert_eq!(found, pending.remove(&k).is_some(), "seed {seed}");
                }
                _ => {
                    let mut get = Get::new(k.clone());
                    let got = block_on(io.as_ref(), || get.step(&mut txn)).expect("get");
                    assert_eq!(
                        got.as_ref(),
                        pending.get(&k),
                        "seed {seed}: read your writes"
                    );
                }
            }
            done += 1;
        }
        batch += 1;
        if rng.next_u64() % 8 == 0 {
            txn.rollback();
        } else {
            block_on(io.as_ref(), || txn.commit()).expect("commit");
            model = pending;
            drop(txn);
        }
        check_reads(&io, &pager, &model, &mut rng, seed);
        let problems = integrity(&io, &pager);
        assert!(
            problems.is_empty(),
            "seed {seed} batch {batch}: {problems:?}"
        );
        match rng.next_u64() % 10 {
            0 => {
                let mode = [
                    CheckpointMode::Passive,
                    CheckpointMode::Full,
                    CheckpointMode::Restart,
                    CheckpointMode::Truncate,
                ][(rng.next_u64() % 4) as usize];
                let mut checkpoint = pager.checkpoint(mode);
                block_on(io.as_ref(), || checkpoint.step()).expect("checkpoint");
            }
            1 => {
                drop(pager);
                pager = Pager::open_blocking(io.clone(), "props.db", opts.clone()).expect("reopen");
            }
            _ => {}
        }
    }
    check_reads(&io, &pager, &model, &mut rng, seed);
}

/// Point reads and a few scans from a fresh reader agree with the model.
fn check_reads(
    io: &Arc<dyn IO>,
    pager: &Arc<Pager>,
    model: &Model,
    rng: &mut Xoshiro256PlusPlus,
    seed: u64,
) {
    let mut txn = pager.begin_read().expect("reader");
    if txn.root() == 0 {
        assert!(model.is_empty());
        return;
    }
    for _ in 0..10 {
        let k = key(rng.next_u64() % 400);
        let mut get = Get::new(k.clone());
        let got = block_on(io.as_ref(), || get.step(&mut txn)).expect("get");
        assert_eq!(got.as_ref(), model.get(&k), "seed {seed}: get {k:?}");
    }
    for _ in 0..2 {
        let start = key(rng.next_u64() % 400);
        let end = (rng.next_u64().is_multiple_of(2)).then(|| key(rng.next_u64() % 400));
        let limit = (rng.next_u64() % 50) as usize + 1;
        let mut scan = Scan::new(start.clone(), end.clone(), limit);
        let rows = block_on(io.as_ref(), || scan.step(&mut txn)).expect("scan");
        let want: Vec<(Vec<u8>, Vec<u8>)> = model
            .range(start..)
            .take_while(|(k, _)| end.as_ref().is_none_or(|e| *k < e))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        assert_eq!(rows, want, "seed {seed}: scan");
    }
}

fn small_options() -> DbOptions {
    DbOptions {
        page_size: 512,
        cache_pages: 16,
        ..DbOptions::default()
    }
}

#[test]
fn random_ops_match_a_btreemap_on_memory_io() {
    random_ops(Arc::new(MemoryIO::new()), small_options(), 1, 4000);
}

#[test]
fn random_ops_match_a_btreemap_under_shuffle_io() {
    for seed in 0..3 {
        let shuffle = ShuffleIO::new(seed);
        let mut opts = small_options();
        opts.yield_injector = Some(shuffle.injector());
        random_ops(Arc::new(shuffle), opts, seed, 1500);
    }
}

#[test]
fn a_hundred_thousand_keys_survive_reopen_on_real_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("big.db");
    let path = path.to_str().expect("utf-8 path");
    let io: Arc<dyn IO> = Arc::new(FileIO::new());
    let opts = DbOptions::default();
    let total = 100_000u64;
    let value_of = |n: u64| format!("value-{n}").into_bytes();
    {
        let pager = Pager::open_blocking(io.clone(), path, opts.clone()).expect("create");
        for chunk in 0..20 {
            let mut txn = pager.try_begin_write(None).expect("lock");
            let mut create = CreateTree::new();
            block_on(io.as_ref(), || create.step(&mut txn)).expect("create tree");
            for n in chunk * 5000..(chunk + 1) * 5000 {
                let k = format!("key{:08}", n * 7919 % total).into_bytes();
                let mut put = Put::new(k, value_of(n * 7919 % total));
                block_on(io.as_ref(), || put.step(&mut txn)).expect("put");
            }
            block_on(io.as_ref(), || txn.commit()).expect("commit");
            if chunk % 5 == 4 {
                let mut checkpoint = pager.checkpoint(CheckpointMode::Truncate);
                block_on(io.as_ref(), || checkpoint.step()).expect("checkpoint");
            }
        }
    }
    let pager = Pager::open_blocking(io.clone(), path, opts).expect("reopen");
    let mut txn = pager.begin_read().expect("reader");
    let mut scan = Scan::new(Vec::new(), None, usize::MAX);
    let rows = block_on(io.as_ref(), || scan.step(&mut txn)).expect("scan");
    assert_eq!(rows.len(), total as usize);
    for (n, (k, v)) in rows.iter().enumerate() {
        assert_eq!(k, &format!("key{n:08}").into_bytes());
        assert_eq!(v, &value_of(n as u64));
    }
    drop(txn);
    assert!(integrity(&io, &pager).is_empty());
}
