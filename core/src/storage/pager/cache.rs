//! The shared page cache: bounded, least-recently-used, deterministic.
//!
//! Entries are keyed by (page, version), so readers on different snapshots share it
//! safely: a version is the database file, one WAL frame of one generation, or one
//! writer's private dirty image. Dirty entries are pinned: eviction never drops them
//! (except under the evict-dirty-page canary), so the cache may exceed its capacity while
//! a large transaction is open.
//!
//! Each entry also remembers whether its image passed the B-tree's whole-page check
//! (`mark_checked`): images never change once cached, so a page checked once need not be
//! checked again by every lookup that passes through it.

use std::collections::BTreeMap;

use crate::storage::page_access::{PageNo, PageRef};

/// Which version of a page an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Version {
    /// The image in the database file.
    DbFile,
    /// The image in WAL frame `frame` of generation `generation`.
    Frame { generation: u32, frame: u32 },
    /// The private, uncommitted image of write transaction `txn`.
    Dirty { txn: u64 },
}

/// Key of one cache entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CacheKey {
    pub(crate) page: PageNo,
    pub(crate) version: Version,
}

struct Entry {
    image: PageRef,
    last_used: u64,
    /// The image passed the B-tree's whole-page check.
    checked: bool,
}

/// The cache itself; lives inside the pager's mutex.
pub(crate) struct PageCache {
    capacity: usize,
    entries: BTreeMap<CacheKey, Entry>,
    /// last_used tick -> key of clean entries, oldest first.
    clean_lru: BTreeMap<u64, CacheKey>,
    /// last_used tick -> key of dirty entries (evictable only by the canary).
    dirty_lru: BTreeMap<u64, CacheKey>,
    tick: u64,
}

impl PageCache {
    pub(crate) fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a cache holds at least one page");
        PageCache {
            capacity,
            entries: BTreeMap::new(),
            clean_lru: BTreeMap::new(),
            dirty_lru: BTreeMap::new(),
            tick: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether inserting a new entry would evict one first.
    pub(crate) fn is_full(&self) -> bool {
        self.entries.len() >= self.capacity
    }

    /// The image under `key`, marking it recently used.
    pub(crate) fn get(&mut self, key: &CacheKey) -> Option<PageRef> {
        self.get_checked(key).map(|(image, _)| image)
    }

    /// The image under `key` and whether it passed the whole-page check, marking it
    /// recently used.
    pub(crate) fn get_checked(&mut self, key: &CacheKey) -> Option<(PageRef, bool)> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(key)?;
        let lru = Self::lru_of(&mut self.clean_lru, &mut self.dirty_lru, key);
        lru.remove(&entry.last_used);
        entry.last_used = tick;
        lru.insert(tick, *key);
        Some((entry.image.clone(), entry.checked))
    }

    /// Records that `image`, cached under some version of `page`, passed the B-tree's
    /// whole-page check. Touches neither the recency order nor anything else; an image no
    /// longer cached is ignored.
    pub(crate) fn mark_checked(&mut self, page: PageNo, image: &PageRef) {
        let versions = CacheKey {
            page,
            version: Version::DbFile,
        }..;
        for (key, entry) in self.entries.range_mut(versions) {
            if key.page != page {
                break;
            }
            if std::sync::Arc::ptr_eq(&entry.image, image) {
                entry.checked = true;
                return;
            }
        }
    }

    /// The image under `key` without touching the recency order.
    pub(crate) fn peek(&self, key: &CacheKey) -> Option<PageRef> {
        self.entries.get(key).map(|e| e.image.clone())
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, key: &CacheKey) -> bool {
        self.entries.contains_key(key)
    }

    /// Inserts (or replaces) an entry, evicting least-recently-used clean entries while
    /// the cache is over capacity. `evict_dirty` is the canary that lets dirty entries go.
    pub(crate) fn insert(&mut self, key: CacheKey, image: PageRef, evict_dirty: bool) {
        self.remove(&key);
        while self.entries.len() >= self.capacity {
            if !self.evict_one(evict_dirty) {
                break; // only pinned entries left: grow past capacity
            }
        }
        self.tick += 1;
        Self::lru_of(&mut self.clean_lru, &mut self.dirty_lru, &key).insert(self.tick, key);
        self.entries.insert(
            key,
            Entry {
                image,
                last_used: self.tick,
                checked: false,
            },
        );
    }

    pub(crate) fn remove(&mut self, key: &CacheKey) -> Option<PageRef> {
        let entry = self.entries.remove(key)?;
        Self::lru_of(&mut self.clean_lru, &mut self.dirty_lru, key).remove(&entry.last_used);
        Some(entry.image)
    }

    /// The recency map `key` belongs in.
    fn lru_of<'a>(
        clean: &'a mut BTreeMap<u64, CacheKey>,
        dirty: &'a mut BTreeMap<u64, CacheKey>,
        key: &CacheKey,
    ) -> &'a mut BTreeMap<u64, CacheKey> {
        match key.version {
            Version::Dirty { .. } => dirty,
            _ => clean,
        }
    }

    /// Drops the oldest evictable entry; false if there is none. Clean entries only,
    /// unless `evict_dirty` (the canary), which takes the oldest dirty entry first so the
    /// lost change shows up in ordinary runs, not only in transactions larger than the cache.
    fn evict_one(&mut self, evict_dirty: bool) -> bool {
        let clean = self
            .clean_lru
            .first_key_value()
            .map(|(&tick, &key)| (tick, key));
        let dirty = self
            .dirty_lru
            .first_key_value()
            .map(|(&tick, &key)| (tick, key));
        let victim = match (clean, dirty) {
            (_, Some(d)) if evict_dirty => Some(d),
            (c, _) => c,
        };
        match victim {
            Some((_, key)) => {
                self.remove(&key);
                true
            }
            None => false,
        }
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
        cache.insert(key(5, Version::DbFile), old.clone(), false);
        cache.insert(key(5, frame), new.clone(), false);
        cache.mark_checked(5, &new);
        cache.mark_checked(6, &old); // another page: no effect
        assert_eq!(cache.get_checked(&key(5, frame)), Some((new.clone(), true)));
        assert_eq!(
            cache.get_checked(&key(5, Version::DbFile)),
            Some((old, false))
        );
        // A replaced image starts unchecked, even under the same key.
        cache.insert(key(5, frame), image(2), false);
        assert_eq!(
            cache.get_checked(&key(5, frame)).map(|(_, c)| c),
            Some(false)
        );
        cache.mark_checked(5, &new); // no longer cached: ignored
        assert_eq!(
            cache.get_checked(&key(5, frame)).map(|(_, c)| c),
            Some(false)
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
