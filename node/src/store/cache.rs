//! A bounded least-recently-used cache of loaded automerge documents, owned by the writer
//! thread. A loaded order costs ~22 KiB of heap, so memory is bounded by the capacity, never by
//! the number of stored documents.

use super::DocMeta;
use automerge::Automerge;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

struct Entry {
    tick: u64,
    meta: DocMeta,
    doc: Automerge,
}

/// LRU cache keyed by document id.
pub struct DocCache {
    capacity: usize,
    tick: u64,
    map: HashMap<Uuid, Entry>,
    order: BTreeMap<u64, Uuid>,
    hits: u64,
    misses: u64,
}

impl DocCache {
    /// A cache holding at most `capacity` documents (at least 1).
    pub fn new(capacity: usize) -> DocCache {
        DocCache {
            capacity: capacity.max(1),
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
            hits: 0,
            misses: 0,
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// A copy of a cached document (marks it recently used).
    pub fn get_clone(&mut self, id: &Uuid) -> Option<(DocMeta, Automerge)> {
        let tick = self.next_tick();
        match self.map.get_mut(id) {
            Some(e) => {
                self.order.remove(&e.tick);
                e.tick = tick;
                self.order.insert(tick, *id);
                self.hits += 1;
                Some((e.meta.clone(), e.doc.clone()))
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Takes a cached document out (the caller puts it back with [`DocCache::insert`]).
    pub fn take(&mut self, id: &Uuid) -> Option<(DocMeta, Automerge)> {
        match self.map.remove(id) {
            Some(e) => {
                self.order.remove(&e.tick);
                self.hits += 1;
                Some((e.meta, e.doc))
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Reads a cached document in place (marks it recently used).
    pub fn peek<R>(&mut self, id: &Uuid, f: impl FnOnce(&DocMeta, &Automerge) -> R) -> Option<R> {
        let tick = self.next_tick();
        match self.map.get_mut(id) {
            Some(e) => {
                self.order.remove(&e.tick);
                e.tick = tick;
                self.order.insert(tick, *id);
                self.hits += 1;
                Some(f(&e.meta, &e.doc))
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Inserts or replaces a document, evicting the least recently used beyond capacity.
    pub fn insert(&mut self, id: Uuid, meta: DocMeta, doc: Automerge) {
        let tick = self.next_tick();
        if let Some(old) = self.map.insert(id, Entry { tick, meta, doc }) {
            self.order.remove(&old.tick);
        }
        self.order.insert(tick, id);
        while self.map.len() > self.capacity {
            match self.order.pop_first() {
                Some((_, victim)) => {
                    self.map.remove(&victim);
                }
                None => break,
            }
        }
    }

    /// Whether a document is cached.
    pub fn contains(&self, id: &Uuid) -> bool {
        self.map.contains_key(id)
    }

    /// Drops a document.
    pub fn remove(&mut self, id: &Uuid) {
        if let Some(e) = self.map.remove(id) {
            self.order.remove(&e.tick);
        }
    }

    /// Documents held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The bound.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// (hits, misses) so far.
    pub fn hit_stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sync::doc::DocKind;

    fn meta() -> DocMeta {
        DocMeta {
            kind: DocKind::Catalog,
            call_center: None,
        }
    }

    #[test]
    fn evicts_least_recently_used() {
        let mut c = DocCache::new(3);
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        for id in &ids[..3] {
            c.insert(*id, meta(), Automerge::new());
        }
        assert!(c.get_clone(&ids[0]).is_some()); // 0 is now most recent
        c.insert(ids[3], meta(), Automerge::new()); // evicts 1
        assert!(c.get_clone(&ids[1]).is_none());
        assert!(c.get_clone(&ids[0]).is_some());
        for id in &ids {
            c.insert(*id, meta(), Automerge::new());
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.order.len(), 3);
    }
}
