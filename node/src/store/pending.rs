//! The writes of the writer's current batch that are not yet in the engine, and a [`Store`]
//! view that layers them over the engine, so that a job sees every earlier job of its batch.
//! The batch goes to the engine in one atomic write before its flush: one engine transaction
//! per batch instead of one per job (a sled transaction costs ~70 µs whatever its size).

use super::{Kv, KvIter, Op, Store, TreeId};
use crate::error::NodeError;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Pending writes: (tree, key) → value, `None` = delete.
#[derive(Default)]
pub(crate) struct Pending {
    map: BTreeMap<(TreeId, Vec<u8>), Option<Vec<u8>>>,
}

impl Pending {
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub(crate) fn get(&self, tree: TreeId, key: &[u8]) -> Option<&Option<Vec<u8>>> {
        self.map.get(&(tree, key.to_vec()))
    }

    /// Adds a job's ops (later ops on a key win).
    pub(crate) fn absorb(&mut self, ops: Vec<Op>) {
        for op in ops {
            self.map.insert((op.tree, op.key), op.value);
        }
    }

    /// Takes the pending writes as ops.
    pub(crate) fn take_ops(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.map)
            .into_iter()
            .map(|((tree, key), value)| Op { tree, key, value })
            .collect()
    }

    /// Pending entries of `tree` whose key starts with `prefix` and is `>= start`, ascending.
    fn range(
        &self,
        tree: TreeId,
        prefix: &[u8],
        start: &[u8],
    ) -> Vec<(&Vec<u8>, &Option<Vec<u8>>)> {
        let from = if start > prefix { start } else { prefix };
        self.map
            .range((Bound::Included((tree, from.to_vec())), Bound::Unbounded))
            .take_while(|((t, k), _)| *t == tree && k.starts_with(prefix))
            .map(|((_, k), v)| (k, v))
            .collect()
    }
}

/// The engine as the current batch will leave it.
pub(crate) struct PendingView<'a> {
    pub(crate) engine: &'a dyn Store,
    pub(crate) pending: &'a Pending,
}

impl PendingView<'_> {
    fn merged<'s>(
        &'s self,
        tree: TreeId,
        prefix: &[u8],
        start: &[u8],
        engine: KvIter<'s>,
        reverse: bool,
    ) -> KvIter<'s> {
        let mut over: Vec<PendingEntry> = self
            .pending
            .range(tree, prefix, start)
            .into_iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if over.is_empty() {
            return engine;
        }
        if reverse {
            over.reverse();
        }
        Box::new(Merge {
            engine: engine.peekable(),
            over: over.into_iter().peekable(),
            reverse,
        })
    }

    fn direct_write_allowed(&self) -> Result<(), NodeError> {
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(NodeError::Engine(
                "direct engine writes inside a job need an exclusive job".into(),
            ))
        }
    }
}

/// A pending key and its value (`None` = delete).
type PendingEntry = (Vec<u8>, Option<Vec<u8>>);

/// Streams the engine's entries with the pending ones merged in (pending wins on equal keys,
/// pending deletes hide engine entries), in the engine iterator's direction.
struct Merge<'s> {
    engine: std::iter::Peekable<KvIter<'s>>,
    over: std::iter::Peekable<std::vec::IntoIter<PendingEntry>>,
    reverse: bool,
}

impl Iterator for Merge<'_> {
    type Item = Result<Kv, NodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let engine_key = match self.engine.peek() {
                Some(Ok((k, _))) => Some(k.clone()),
                Some(Err(_)) => return self.engine.next(),
                None => None,
            };
            let over_key = self.over.peek().map(|(k, _)| k.clone());
            let take_over = match (&engine_key, &over_key) {
                (None, None) => return None,
                (Some(_), None) => false,
                (None, Some(_)) => true,
                (Some(e), Some(o)) => {
                    if e == o {
                        self.engine.next(); // shadowed by the pending value
                        true
                    } else if self.reverse {
                        o > e
                    } else {
                        o < e
                    }
                }
            };
            if take_over {
                if let Some((k, Some(v))) = self.over.next() {
                    return Some(Ok((k, v)));
                }
                // a pending delete: nothing to yield
            } else {
                return self.engine.next();
            }
        }
    }
}

impl Store for PendingView<'_> {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        match self.pending.get(tree, key) {
            Some(v) => Ok(v.clone()),
            None => self.engine.get(tree, key),
        }
    }

    fn iter_from(&self, tree: TreeId, start: &[u8]) -> KvIter<'_> {
        self.merged(tree, b"", start, self.engine.iter_from(tree, start), false)
    }

    fn iter_prefix(&self, tree: TreeId, prefix: &[u8], reverse: bool) -> KvIter<'_> {
        self.merged(
            tree,
            prefix,
            prefix,
            self.engine.iter_prefix(tree, prefix, reverse),
            reverse,
        )
    }

    fn last(&self, tree: TreeId) -> Result<Option<Kv>, NodeError> {
        let pending_last = self
            .pending
            .range(tree, b"", b"")
            .into_iter()
            .rev()
            .find_map(|(k, v)| v.as_ref().map(|v| (k.clone(), v.clone())));
        let mut engine_last = None;
        for kv in self.engine.iter_prefix(tree, b"", true) {
            let (k, v) = kv?;
            match self.pending.get(tree, &k) {
                Some(None) => continue,
                Some(Some(pv)) => {
                    engine_last = Some((k, pv.clone()));
                    break;
                }
                None => {
                    engine_last = Some((k, v));
                    break;
                }
            }
        }
        Ok(match (pending_last, engine_last) {
            (Some(p), Some(e)) => Some(if p.0 >= e.0 { p } else { e }),
            (p, e) => p.or(e),
        })
    }

    fn count(&self, tree: TreeId) -> Result<u64, NodeError> {
        let mut n = self.engine.count(tree)? as i64;
        for (k, v) in self.pending.range(tree, b"", b"") {
            let exists = self.engine.get(tree, k)?.is_some();
            match (exists, v.is_some()) {
                (false, true) => n += 1,
                (true, false) => n -= 1,
                _ => {}
            }
        }
        Ok(n.max(0) as u64)
    }

    fn apply(&self, ops: &[Op]) -> Result<(), NodeError> {
        self.direct_write_allowed()?;
        self.engine.apply(ops)
    }

    fn clear(&self, tree: TreeId) -> Result<(), NodeError> {
        self.direct_write_allowed()?;
        self.engine.clear(tree)
    }

    fn flush(&self) -> Result<(), NodeError> {
        self.direct_write_allowed()?;
        self.engine.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sled::SledStore;

    fn op(k: &[u8], v: Option<&[u8]>) -> Op {
        Op {
            tree: TreeId::IdxStatus,
            key: k.to_vec(),
            value: v.map(<[u8]>::to_vec),
        }
    }

    #[test]
    fn view_merges_pending_over_engine() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = SledStore::open(dir.path(), 1 << 20).expect("open");
        engine
            .apply(&[
                op(b"a1", Some(b"e")),
                op(b"a3", Some(b"e")),
                op(b"b1", Some(b"e")),
            ])
            .expect("apply");
        let mut pending = Pending::default();
        pending.absorb(vec![
            op(b"a2", Some(b"p")),
            op(b"a3", None),
            op(b"a4", Some(b"p")),
            op(b"a4", Some(b"q")),
        ]);
        let view = PendingView {
            engine: &engine,
            pending: &pending,
        };
        let keys = |it: KvIter<'_>| -> Vec<Vec<u8>> { it.map(|kv| kv.expect("kv").0).collect() };
        assert_eq!(
            keys(view.iter_prefix(TreeId::IdxStatus, b"a", false)),
            vec![b"a1".to_vec(), b"a2".to_vec(), b"a4".to_vec()]
        );
        assert_eq!(
            keys(view.iter_prefix(TreeId::IdxStatus, b"a", true)),
            vec![b"a4".to_vec(), b"a2".to_vec(), b"a1".to_vec()]
        );
        assert_eq!(
            keys(view.iter_from(TreeId::IdxStatus, b"a2")),
            vec![b"a2".to_vec(), b"a4".to_vec(), b"b1".to_vec()]
        );
        assert_eq!(
            view.get(TreeId::IdxStatus, b"a4").expect("get"),
            Some(b"q".to_vec())
        );
        assert_eq!(view.get(TreeId::IdxStatus, b"a3").expect("get"), None);
        assert_eq!(view.count(TreeId::IdxStatus).expect("count"), 4);
        assert_eq!(
            view.last(TreeId::IdxStatus).expect("last").map(|kv| kv.0),
            Some(b"b1".to_vec())
        );
        assert_eq!(
            keys(view.iter_prefix(TreeId::IdxStatus, b"", true)),
            vec![
                b"b1".to_vec(),
                b"a4".to_vec(),
                b"a2".to_vec(),
                b"a1".to_vec()
            ]
        );
        let mut more = Pending::default();
        more.absorb(vec![
            op(b"0", Some(b"p")),
            op(b"a1", None),
            op(b"c", Some(b"p")),
        ]);
        let view2 = PendingView {
            engine: &engine,
            pending: &more,
        };
        assert_eq!(
            keys(view2.iter_prefix(TreeId::IdxStatus, b"", false)),
            vec![b"0".to_vec(), b"a3".to_vec(), b"b1".to_vec(), b"c".to_vec()]
        );
        assert_eq!(
            keys(view2.iter_prefix(TreeId::IdxStatus, b"", true)),
            vec![b"c".to_vec(), b"b1".to_vec(), b"a3".to_vec(), b"0".to_vec()]
        );
        assert!(view.apply(&[]).is_err());
        let ops = pending.take_ops();
        assert_eq!(ops.len(), 3);
        engine.apply(&ops).expect("apply");
        assert_eq!(engine.count(TreeId::IdxStatus).expect("count"), 4);
    }
}
