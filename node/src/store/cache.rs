//! A bounded least-recently-used cache of loaded automerge documents, owned by the writer
//! thread. A loaded order costs ~22 KiB of heap, so memory is bounded by the capacity, never by
//! the number of stored documents. A job takes a document out ([`DocCache::take`]) and the writer
//! puts the version it stored back ([`DocCache::insert`]), which makes it the most recently used.
//!
//! Beside an order's document it may keep the order as the last write left it ([`OrderState`]):
//! the next command on that order then starts from it instead of reading the whole order out of
//! the document again (about 5 % of the node's CPU per write at 64 clients, plus its allocations;
//! BENCHMARKS.md).

use super::DocMeta;
use automerge::{Automerge, ChangeHash};
use std::collections::{BTreeMap, HashMap};
use switchboard_domain::order::Order;
use switchboard_sync::doc::Conflict;
use uuid::Uuid;

/// An order as it stands in its document at `heads`: what `sync::doc::read_order` returns for
/// the document at exactly those heads. Used only while the document's heads are still these.
#[derive(Clone, Debug)]
pub struct OrderState {
    /// The document's heads the order was read or written at.
    pub heads: Vec<ChangeHash>,
    /// The order.
    pub order: Order,
    /// Its conflicts.
    pub conflicts: Vec<Conflict>,
}

impl OrderState {
    /// The order state of `doc`, if `state` was taken at the document's current heads.
    pub fn current(state: Option<OrderState>, doc: &Automerge) -> Option<(Order, Vec<Conflict>)> {
        state
            .filter(|s| s.heads == doc.get_heads())
            .map(|s| (s.order, s.conflicts))
    }
}

/// A cached document, and the order it holds when a write left one.
pub(super) type Cached = (DocMeta, Automerge, Option<OrderState>);

struct Entry {
    tick: u64,
    meta: DocMeta,
    doc: Automerge,
    order: Option<OrderState>,
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
    pub(super) fn take(&mut self, id: &Uuid) -> Option<Cached> {
        let e = self.map.remove(id)?;
        self.order.remove(&e.tick);
        Some((e.meta, e.doc, e.order))
    }

    /// Inserts or replaces a document as the most recently used, evicting the least recently
    /// used beyond capacity.
    pub(super) fn insert(&mut self, id: Uuid, (meta, doc, order): Cached) {
        let tick = self.next_tick();
        let entry = Entry {
            tick,
            meta,
            doc,
            order,
        };
        if let Some(old) = self.map.insert(id, entry) {
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
            c.insert(*id, (meta(), Automerge::new(), None));
        }
        // A job takes 0 and puts it back: 0 is now the most recent.
        let hit = c.take(&ids[0]).expect("cached");
        c.insert(ids[0], hit);
        c.insert(ids[3], (meta(), Automerge::new(), None)); // evicts 1
        assert!(c.take(&ids[1]).is_none());
        assert!(c.take(&ids[0]).is_some());
        assert_eq!(c.len(), 2);
        for id in &ids {
            c.insert(*id, (meta(), Automerge::new(), None));
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
