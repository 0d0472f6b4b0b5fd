//! The shared page cache: bounded, least-recently-used, deterministic.
//!
//! Entries are keyed by (page, version), so readers on different snapshots share it
//! safely: a version is the database file, one WAL frame of one generation, or one
//! writer's private dirty image. Dirty entries are pinned: eviction never drops them
//! (except under the evict-dirty-page canary), so the cache may exceed its capacity while
//! a large transaction is open.
//!
//! Each entry also keeps, once the B-tree has checked its image as a whole, the B-tree's
//! cell index of it (`mark_checked`): images never change once cached, so a page checked
//! once need not be checked again, nor walked cell by cell, by every lookup through it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::storage::page_access::{CellIndex, PageNo, PageRef};

/// Which version of a page an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Version {
    /// The image in the database file.
    DbFile,
    /// The image in WAL frame `frame` of generation `generation`.
    Frame { generation: u32, frame: u32 },
    /// The private, uncommitted image of write transaction `txn`.
    Dirty { txn: u64 },
}

/// Key of one cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CacheKey {
    pub(crate) page: PageNo,
    pub(crate) version: Version,
}

/// A fixed hasher for cache keys (multiply and rotate over the key's words), with no
/// random state: the same keys land in the same buckets in every run. The cache only
/// looks keys up in its map and never walks it, so nothing depends on the map's order
/// anyway; the hashing is what a lookup in the B-tree-ordered map it replaces spent
/// comparisons on.
#[derive(Default, Clone, Copy)]
struct KeyHasher {
    hash: u64,
}

impl KeyHasher {
    /// An odd constant with well-spread bits (the golden ratio in 64 bits).
    const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(Self::MULTIPLIER);
    }
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        bytes.iter().for_each(|&b| self.add(u64::from(b)));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        // The map picks buckets by the low bits: bring the product's well-mixed high
        // bits down.
        self.hash.rotate_left(26)
    }
}

/// Index of a slot in `PageCache::slots`.
type Slot = usize;
/// The end of a recency list.
const NONE: Slot = usize::MAX;

struct Entry {
    key: CacheKey,
    image: PageRef,
    /// Set once the image passed the B-tree's whole-page check: its cell index.
    index: Option<CellIndex>,
    /// Neighbours in the entry's recency list (`NONE` at the ends): older, newer.
    older: Slot,
    newer: Slot,
}

/// A recency list threaded through the slots: oldest first.
#[derive(Clone, Copy)]
struct Recency {
    oldest: Slot,
    newest: Slot,
}

impl Recency {
    const EMPTY: Recency = Recency {
        oldest: NONE,
        newest: NONE,
    };
}

/// The cache itself; lives inside the pager's mutex.
///
/// Entries live in slots (a `Vec`, reused through a free list); each clean or dirty entry
/// is threaded into the recency list of its kind, so a use moves it to the newest end and
/// eviction takes the oldest, both without searching.
pub(crate) struct PageCache {
    capacity: usize,
    index: HashMap<CacheKey, Slot, BuildHasherDefault<KeyHasher>>,
    slots: Vec<Option<Entry>>,
    /// The slot whose image was handed out last (by `get_checked` or `insert_checked`):
    /// the one `mark_checked` almost always asks about, so it is looked at first.
    last_handed: Slot,
    free_slots: Vec<Slot>,
    /// Clean entries, least recently used first.
    clean: Recency,
    /// Dirty entries, least recently used first (evictable only by the canary).
    dirty: Recency,
}

impl PageCache {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a cache holds at least one page");
        assert!(capacity < NONE, "slot numbers stay below the end marker");
        PageCache {
            capacity,
            index: HashMap::default(),
            slots: Vec::new(),
            last_handed: NONE,
            free_slots: Vec::new(),
            clean: Recency::EMPTY,
            dirty: Recency::EMPTY,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether inserting a new entry would evict one first.
    pub(crate) fn is_full(&self) -> bool {
        self.index.len() >= self.capacity
    }

    /// The image under `key`, marking it recently used.
    pub(crate) fn get(&mut self, key: &CacheKey) -> Option<PageRef> {
        self.get_checked(key).map(|(image, _)| image)
    }

    /// The image under `key` and its cell index if it passed the whole-page check,
    /// marking it recently used.
    pub(crate) fn get_checked(&mut self, key: &CacheKey) -> Option<(PageRef, Option<CellIndex>)> {
        let slot = *self.index.get(key)?;
        self.unlink(slot);
        self.link_newest(slot);
        self.last_handed = slot;
        let entry = self.entry(slot);
        Some((entry.image.clone(), entry.index.clone()))
    }

    /// Records that `image`, cached under some version of `page`, passed the B-tree's
    /// whole-page check, with its cell index. Touches neither the recency order nor anything else; an image no
    /// longer cached is ignored.
    pub(crate) fn mark_checked(&mut self, page: PageNo, image: &PageRef, index: CellIndex) {
        let holds = |entry: &Option<Entry>| {
            entry
                .as_ref()
                .is_some_and(|e| e.key.page == page && std::sync::Arc::ptr_eq(&e.image, image))
        };
        let slot = match self.slots.get(self.last_handed) {
            Some(entry) if holds(entry) => self.last_handed,
            _ => match self.slots.iter().position(holds) {
                Some(slot) => slot,
                None => return,
            },
        };
        self.entry_mut(slot).index = Some(index);
    }

    /// Changes the image under `key` in place (copying it first only if someone else still
    /// shares it) and returns it, without touching the recency order or the checked mark:
    /// for changes outside the B-tree's part of the page (the pager's checksum tail).
    pub(crate) fn update_tail(
        &mut self,
        key: &CacheKey,
        change: impl FnOnce(&mut [u8]),
    ) -> Option<PageRef> {
        let slot = *self.index.get(key)?;
        let entry = self.entry_mut(slot);
        let len = entry.image.len();
        change(std::sync::Arc::make_mut(&mut entry.image).as_mut_slice());
        assert_eq!(entry.image.len(), len, "a tail update keeps the page size");
        Some(entry.image.clone())
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        self.index.contains_key(key)
    }

    /// Inserts (or replaces) an entry, evicting least-recently-used clean entries while
    /// the cache is over capacity. `evict_dirty` is the canary that lets dirty entries go.
    pub(crate) fn insert(&mut self, key: CacheKey, image: PageRef, evict_dirty: bool) {
        self.insert_checked(key, image, evict_dirty, None);
    }

    /// `insert`, with the image's cell index when the B-tree vouches for the image (it
    /// built it from a checked one).
    pub(crate) fn insert_checked(
        &mut self,
        key: CacheKey,
        image: PageRef,
        evict_dirty: bool,
        index: Option<CellIndex>,
    ) {
        assert!(!image.is_empty(), "a cached page has an image");
        self.remove(&key);
        while self.index.len() >= self.capacity {
            if !self.evict_one(evict_dirty) {
                break; // only pinned entries left: grow past capacity
            }
        }
        assert!(
            self.index.len() < self.capacity || self.clean.oldest == NONE,
            "only pinned entries make the cache grow past its capacity"
        );
        let entry = Entry {
            key,
            image,
            index,
            older: NONE,
            newer: NONE,
        };
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot] = Some(entry);
                slot
            }
            None => {
                self.slots.push(Some(entry));
                self.slots.len() - 1
            }
        };
        self.link_newest(slot);
        self.last_handed = slot;
        let previous = self.index.insert(key, slot);
        assert!(previous.is_none(), "the key was removed above");
        debug_assert!(
            self.lists_agree(),
            "every entry is on the recency list of its kind"
        );
    }

    pub(crate) fn remove(&mut self, key: &CacheKey) -> Option<PageRef> {
        self.remove_checked(key).map(|(image, _)| image)
    }

    /// `remove`, also giving the entry's cell index.
    pub(crate) fn remove_checked(
        &mut self,
        key: &CacheKey,
    ) -> Option<(PageRef, Option<CellIndex>)> {
        let slot = self.index.remove(key)?;
        self.unlink(slot);
        let entry = self.slots[slot].take().expect("indexed slots hold entries");
        assert_eq!(entry.key, *key, "the index points at the entry of its key");
        self.free_slots.push(slot);
        Some((entry.image, entry.index))
    }

    fn entry(&self, slot: Slot) -> &Entry {
        self.slots[slot]
            .as_ref()
            .expect("linked slots hold entries")
    }

    fn entry_mut(&mut self, slot: Slot) -> &mut Entry {
        self.slots[slot]
            .as_mut()
            .expect("linked slots hold entries")
    }

    /// The recency list `key` belongs in.
    fn recency_of(&mut self, key: &CacheKey) -> &mut Recency {
        match key.version {
            Version::Dirty { .. } => &mut self.dirty,
            _ => &mut self.clean,
        }
    }

    /// Takes `slot` out of its recency list.
    fn unlink(&mut self, slot: Slot) {
        let (key, older, newer) = {
            let entry = self.entry(slot);
            (entry.key, entry.older, entry.newer)
        };
        match older {
            NONE => self.recency_of(&key).oldest = newer,
            older => self.entry_mut(older).newer = newer,
        }
        match newer {
            NONE => self.recency_of(&key).newest = older,
            newer => self.entry_mut(newer).older = older,
        }
        let entry = self.entry_mut(slot);
        entry.older = NONE;
        entry.newer = NONE;
    }

    /// Puts `slot` at the newest end of its recency list.
    fn link_newest(&mut self, slot: Slot) {
        let key = self.entry(slot).key;
        let newest = self.recency_of(&key).newest;
        {
            let entry = self.entry_mut(slot);
            entry.older = newest;
            entry.newer = NONE;
        }
        match newest {
            NONE => self.recency_of(&key).oldest = slot,
            newest => self.entry_mut(newest).newer = slot,
        }
        self.recency_of(&key).newest = slot;
    }

    /// Drops the oldest evictable entry; false if there is none. Clean entries only,
    /// unless `evict_dirty` (the canary), which takes the oldest dirty entry first so the
    /// lost change shows up in ordinary runs, not only in transactions larger than the cache.
    fn evict_one(&mut self, evict_dirty: bool) -> bool {
        let victim = match (self.clean.oldest, self.dirty.oldest) {
            (_, dirty) if evict_dirty && dirty != NONE => dirty,
            (clean, _) => clean,
        };
        if victim == NONE {
            return false;
        }
        let key = self.entry(victim).key;
        assert!(
            evict_dirty || !matches!(key.version, Version::Dirty { .. }),
            "eviction never drops a dirty page (only the evict-dirty-page canary does)"
        );
        self.remove(&key);
        true
    }

    /// Whether the two recency lists hold exactly the indexed entries, each on the list of
    /// its kind, linked both ways (debug builds check it after every insertion).
    fn lists_agree(&self) -> bool {
        let mut seen = 0;
        for (list, dirty) in [(self.clean, false), (self.dirty, true)] {
            let (mut slot, mut older) = (list.oldest, NONE);
            while slot != NONE {
                let entry = self.entry(slot);
                let is_dirty = matches!(entry.key.version, Version::Dirty { .. });
                if is_dirty != dirty
                    || entry.older != older
                    || self.index.get(&entry.key) != Some(&slot)
                {
                    return false;
                }
                seen += 1;
                (older, slot) = (slot, entry.newer);
            }
            if list.newest != older {
                return false;
            }
        }
        seen == self.index.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn key(page: PageNo, version: Version) -> CacheKey {
        CacheKey { page, version }
    }

    fn image(byte: u8) -> PageRef {
        Arc::new(vec![byte; 4])
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut cache = PageCache::new(2);
        cache.insert(key(1, Version::DbFile), image(1), false);
        cache.insert(key(2, Version::DbFile), image(2), false);
        assert!(cache.get(&key(1, Version::DbFile)).is_some());
        cache.insert(key(3, Version::DbFile), image(3), false);
        assert!(cache.contains(&key(1, Version::DbFile)));
        assert!(!cache.contains(&key(2, Version::DbFile)));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn never_evicts_dirty_pages() {
        let mut cache = PageCache::new(2);
        let dirty = Version::Dirty { txn: 1 };
        cache.insert(key(1, dirty), image(1), false);
        cache.insert(key(2, dirty), image(2), false);
        cache.insert(key(3, Version::DbFile), image(3), false);
        assert!(cache.contains(&key(1, dirty)) && cache.contains(&key(2, dirty)));
        assert_eq!(
            cache.len(),
            3,
            "grows past capacity rather than drop a dirty page"
        );
        // With the canary the oldest dirty page goes.
        cache.insert(key(4, Version::DbFile), image(4), true);
        assert!(!cache.contains(&key(1, dirty)));
    }

    #[test]
    fn a_checked_mark_sticks_to_one_image_and_dies_with_it() {
        let mut cache = PageCache::new(4);
        let frame = Version::Frame {
            generation: 0,
            frame: 3,
        };
        let (old, new) = (image(1), image(2));
        let index: CellIndex = Arc::from(vec![7u16, 9]);
        cache.insert(key(5, Version::DbFile), old.clone(), false);
        cache.insert(key(5, frame), new.clone(), false);
        cache.mark_checked(5, &new, index.clone());
        cache.mark_checked(6, &old, index.clone()); // another page: no effect
        let checked = |cache: &mut PageCache, k| cache.get_checked(&k).map(|(_, i)| i);
        assert_eq!(
            checked(&mut cache, key(5, frame)),
            Some(Some(index.clone()))
        );
        assert_eq!(checked(&mut cache, key(5, Version::DbFile)), Some(None));
        // A replaced image starts unchecked, even under the same key.
        cache.insert(key(5, frame), image(2), false);
        assert_eq!(checked(&mut cache, key(5, frame)), Some(None));
        cache.mark_checked(5, &new, index); // no longer cached: ignored
        assert_eq!(checked(&mut cache, key(5, frame)), Some(None));
    }

    #[test]
    fn eviction_order_matches_a_model_of_least_recently_used() {
        let mut cache = PageCache::new(5);
        let mut model: Vec<(CacheKey, u64)> = Vec::new(); // key, last use
        let mut seed = 7u64;
        for tick in 0..2_000u64 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let page = ((seed >> 33) % 9) as PageNo;
            let version = match (seed >> 20) % 4 {
                0 => Version::Dirty { txn: 1 },
                _ => Version::DbFile,
            };
            let k = key(page, version);
            let evict_dirty = (seed >> 40).is_multiple_of(16);
            match (seed >> 10) % 3 {
                0 => {
                    let got = cache.get(&k).is_some();
                    let found = model.iter_mut().find(|(mk, _)| *mk == k);
                    assert_eq!(got, found.is_some());
                    if let Some(entry) = found {
                        entry.1 = tick;
                    }
                }
                1 => {
                    cache.remove(&k);
                    model.retain(|(mk, _)| *mk != k);
                }
                _ => {
                    cache.insert(k, image(1), evict_dirty);
                    model.retain(|(mk, _)| *mk != k);
                    while model.len() >= 5 {
                        let oldest = |dirty: bool| {
                            model
                                .iter()
                                .filter(|(mk, _)| {
                                    matches!(mk.version, Version::Dirty { .. }) == dirty
                                })
                                .min_by_key(|(_, used)| *used)
                                .map(|(mk, _)| *mk)
                        };
                        let victim = match (oldest(false), oldest(true)) {
                            (_, Some(d)) if evict_dirty => Some(d),
                            (c, _) => c,
                        };
                        let Some(victim) = victim else { break };
                        model.retain(|(mk, _)| *mk != victim);
                    }
                    model.push((k, tick));
                }
            }
            let mut expected: Vec<CacheKey> = model.iter().map(|(mk, _)| *mk).collect();
            expected.sort();
            let mut held: Vec<CacheKey> = cache.index.keys().copied().collect();
            held.sort();
            assert_eq!(held, expected, "after operation {tick}");
        }
    }

    #[test]
    fn update_tail_changes_the_cached_image_in_place_and_keeps_its_place() {
        let mut cache = PageCache::new(2);
        let dirty = key(3, Version::Dirty { txn: 1 });
        cache.insert(dirty, image(1), false);
        cache.insert(key(4, Version::DbFile), image(2), false);
        let changed = cache.update_tail(&dirty, |bytes| bytes[3] = 9);
        assert_eq!(changed.as_deref(), Some(&vec![1, 1, 1, 9]));
        assert_eq!(cache.get(&dirty), changed);
        assert_eq!(cache.update_tail(&key(5, Version::DbFile), |_| {}), None);
        // A shared image is copied first: the other holder keeps the old bytes.
        let shared = cache.get(&key(4, Version::DbFile)).expect("cached");
        cache.update_tail(&key(4, Version::DbFile), |bytes| bytes[0] = 7);
        assert_eq!(shared.as_slice(), &[2, 2, 2, 2]);
        assert_eq!(
            cache.get(&key(4, Version::DbFile)).as_deref(),
            Some(&vec![7, 2, 2, 2])
        );
    }

    #[test]
    fn an_index_given_on_insert_comes_back_on_get_and_remove() {
        let mut cache = PageCache::new(4);
        let dirty = key(3, Version::Dirty { txn: 1 });
        let index: CellIndex = Arc::from(vec![7u16]);
        cache.insert_checked(dirty, image(1), false, Some(index.clone()));
        assert_eq!(
            cache.get_checked(&dirty).map(|(_, i)| i),
            Some(Some(index.clone()))
        );
        assert_eq!(cache.remove_checked(&dirty), Some((image(1), Some(index))));
        assert_eq!(cache.remove_checked(&dirty), None);
    }

    #[test]
    fn mark_checked_finds_an_image_that_was_not_handed_out_last() {
        let mut cache = PageCache::new(8);
        let images: Vec<PageRef> = (0..5).map(image).collect();
        for (page, image) in (10..).zip(&images) {
            cache.insert(key(page, Version::DbFile), image.clone(), false);
        }
        let index: CellIndex = Arc::from(vec![3u16]);
        // The oldest entry, far from the last one handed out.
        cache.mark_checked(10, &images[0], index.clone());
        // The right image under the wrong page marks nothing.
        cache.mark_checked(11, &images[2], index.clone());
        let checked = |cache: &mut PageCache, page| {
            cache
                .get_checked(&key(page, Version::DbFile))
                .and_then(|(_, i)| i)
        };
        assert_eq!(checked(&mut cache, 10), Some(index));
        assert_eq!(checked(&mut cache, 11), None);
        assert_eq!(checked(&mut cache, 12), None);
    }

    #[test]
    fn key_hashes_are_fixed_across_runs() {
        use std::hash::{BuildHasher, BuildHasherDefault};
        let build = BuildHasherDefault::<KeyHasher>::default();
        let a = key(
            7,
            Version::Frame {
                generation: 1,
                frame: 9,
            },
        );
        let b = key(
            7,
            Version::Frame {
                generation: 1,
                frame: 10,
            },
        );
        assert_eq!(build.hash_one(a), build.hash_one(a));
        assert_eq!(
            build.hash_one(a),
            BuildHasherDefault::<KeyHasher>::default().hash_one(a),
            "no per-map random state"
        );
        assert_ne!(build.hash_one(a), build.hash_one(b));
        assert_ne!(
            build.hash_one(key(7, Version::DbFile)),
            build.hash_one(key(7, Version::Dirty { txn: 0 }))
        );
    }

    #[test]
    fn versions_of_one_page_are_distinct() {
        let mut cache = PageCache::new(4);
        let frame = Version::Frame {
            generation: 0,
            frame: 3,
        };
        cache.insert(key(5, Version::DbFile), image(1), false);
        cache.insert(key(5, frame), image(2), false);
        assert_eq!(cache.get(&key(5, Version::DbFile)), Some(image(1)));
        assert_eq!(cache.get(&key(5, frame)), Some(image(2)));
    }
}
