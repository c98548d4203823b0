//! A bounded least-recently-used cache of loaded automerge documents, owned by the writer
//! thread. A loaded order costs ~22 KiB of heap, so memory is bounded by the capacity, never by
//! the number of stored documents. A job takes a document out ([`DocCache::take`]) and the writer
//! puts the version it stored back ([`DocCache::insert`]), which makes it the most recently used.

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
pub(super) struct DocCache {
    capacity: usize,
    tick: u64,
    map: HashMap<Uuid, Entry>,
    order: BTreeMap<u64, Uuid>,
}

impl DocCache {
    /// A cache holding at most `capacity` documents (at least 1).
    pub(super) fn new(capacity: usize) -> DocCache {
        DocCache {
            capacity: capacity.max(1),
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// Takes a cached document out (the caller puts it back with [`DocCache::insert`]).
    pub(super) fn take(&mut self, id: &Uuid) -> Option<(DocMeta, Automerge)> {
        let e = self.map.remove(id)?;
        self.order.remove(&e.tick);
        Some((e.meta, e.doc))
    }

    /// Inserts or replaces a document as the most recently used, evicting the least recently
    /// used beyond capacity.
    pub(super) fn insert(&mut self, id: Uuid, meta: DocMeta, doc: Automerge) {
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

    /// Drops a document.
    pub(super) fn remove(&mut self, id: &Uuid) {
        if let Some(e) = self.map.remove(id) {
            self.order.remove(&e.tick);
        }
    }

    /// Documents held.
    pub(super) fn len(&self) -> usize {
        self.map.len()
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
        // A job takes 0 and puts it back: 0 is now the most recent.
        let (m, d) = c.take(&ids[0]).expect("cached");
        c.insert(ids[0], m, d);
        c.insert(ids[3], meta(), Automerge::new()); // evicts 1
        assert!(c.take(&ids[1]).is_none());
        assert!(c.take(&ids[0]).is_some());
        assert_eq!(c.len(), 2);
        for id in &ids {
            c.insert(*id, meta(), Automerge::new());
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.order.len(), 3);
        // The three most recent stay.
        for id in &ids[2..] {
            assert!(c.take(id).is_some());
        }
        assert_eq!(c.len(), 0);
        assert!(c.order.is_empty());
    }
}
