//! [`WriteCtx`]: what a write job sees and stages. Reads see the store as earlier jobs of the
//! batch left it plus the job's own staged writes; writes are staged and reach the engine only
//! when the job returns `Ok` (see [`super::writer`]). Storing a document also moves its feed
//! entry, keeps the per-kind counters and replaces its read-model entries.

use super::cache::{Cached, DocCache, OrderState};
use super::pending::PendingView;
use super::records::{self, keys, DocRecord, FeedValue};
use super::{DocKind, DocMeta, Kv, Op, PeerConfig, PeerState, Projector, RmEntry, Store, TreeId};
use crate::error::NodeError;
use automerge::{Automerge, ChangeHash, ReadDoc};
use std::collections::{BTreeMap, HashMap, HashSet};
use switchboard_domain::order::Order;
use switchboard_domain::NodeId;
use switchboard_sync::doc::Conflict;
use uuid::Uuid;

/// What a successful job leaves for the writer thread.
pub(super) struct Parts {
    /// Staged writes, in order.
    pub(super) ops: Vec<Op>,
    /// Documents the job stored, for the cache.
    pub(super) docs: HashMap<Uuid, Cached>,
    /// The last feed seq assigned, including the job's `put_doc`s.
    pub(super) seq: u64,
}

/// What a job sees: reads (including its own staged writes) and staged mutations that are
/// applied atomically when the job returns `Ok`.
pub struct WriteCtx<'a> {
    view: PendingView<'a>,
    cache: &'a mut DocCache,
    projector: Option<&'a Projector>,
    ops: Vec<Op>,
    overlay: HashMap<(TreeId, Vec<u8>), Option<Vec<u8>>>,
    docs: HashMap<Uuid, Cached>,
    seq: u64,
}

impl<'a> WriteCtx<'a> {
    pub(super) fn new(
        view: PendingView<'a>,
        cache: &'a mut DocCache,
        projector: Option<&'a Projector>,
        seq: u64,
    ) -> Self {
        WriteCtx {
            view,
            cache,
            projector,
            ops: Vec::new(),
            overlay: HashMap::new(),
            docs: HashMap::new(),
            seq,
        }
    }

    pub(super) fn into_parts(self) -> Parts {
        Parts {
            ops: self.ops,
            docs: self.docs,
            seq: self.seq,
        }
    }

    /// The store as earlier jobs left it (also those of this batch, not yet in the engine),
    /// without this job's own staged writes (see [`WriteCtx::get`], [`WriteCtx::scan_prefix`]).
    /// Writing through it is refused except in [`super::Writer::submit_exclusive`] jobs.
    pub fn store(&self) -> &dyn Store {
        &self.view
    }

    /// A value, seeing this job's staged writes.
    pub fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        match self.overlay.get(&(tree, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => self.view.get(tree, key),
        }
    }

    /// Entries under a prefix, ascending, seeing this job's staged writes (unlike
    /// `ctx.store().iter_prefix`, which sees only what earlier jobs committed). Use it for
    /// counts that this job's own writes may change, such as coupon redemptions in `idx_coupon`.
    pub fn scan_prefix(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<Kv>, NodeError> {
        let mut merged = BTreeMap::new();
        for kv in self.view.iter_prefix(tree, prefix, false) {
            let (k, v) = kv?;
            merged.insert(k, v);
        }
        for ((t, k), v) in &self.overlay {
            if *t == tree && k.starts_with(prefix) {
                match v {
                    Some(v) => merged.insert(k.clone(), v.clone()),
                    None => merged.remove(k),
                };
            }
        }
        Ok(merged.into_iter().collect())
    }

    fn stage(&mut self, tree: TreeId, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.overlay.insert((tree, key.clone()), value.clone());
        self.ops.push(Op { tree, key, value });
    }

    /// A document record, seeing this job's staged writes.
    pub fn doc_record(&self, id: Uuid) -> Result<Option<DocRecord>, NodeError> {
        self.get(TreeId::Docs, id.as_bytes())?
            .map(|b| records::decode(&b))
            .transpose()
    }

    /// Loads a document for changing. The job owns what it gets: changing it changes nothing
    /// until [`WriteCtx::put_doc`] / [`WriteCtx::put_doc_projected`]. The writer's cached copy
    /// is handed over rather than cloned (a clone of a loaded order costs about as much as the
    /// change itself), so a job that fails or does not put the document back leaves it out of
    /// the cache (never a changed copy in it); the next load reads it from the store.
    pub fn load_doc(&mut self, id: Uuid) -> Result<Option<(DocMeta, Automerge)>, NodeError> {
        Ok(self.load_cached(id)?.map(|(meta, doc, _)| (meta, doc)))
    }

    /// [`WriteCtx::load_doc`] for an order: also the order as it stands in the document, when
    /// the last write to it left one in the cache for exactly the document's current heads
    /// (`None`: the caller reads it from the document, `sync::doc::read_order`).
    #[allow(clippy::type_complexity)]
    pub fn load_order_doc(
        &mut self,
        id: Uuid,
    ) -> Result<Option<(DocMeta, Automerge, Option<(Order, Vec<Conflict>)>)>, NodeError> {
        Ok(self.load_cached(id)?.map(|(meta, doc, state)| {
            let order = OrderState::current(state, &doc);
            (meta, doc, order)
        }))
    }

    fn load_cached(&mut self, id: Uuid) -> Result<Option<Cached>, NodeError> {
        if let Some((m, d, o)) = self.docs.get(&id) {
            return Ok(Some((m.clone(), d.clone(), o.clone())));
        }
        if let Some(hit) = self.cache.take(&id) {
            return Ok(Some(hit));
        }
        Ok(self
            .load_from_store(id)?
            .map(|(meta, doc)| (meta, doc, None)))
    }

    fn load_from_store(&self, id: Uuid) -> Result<Option<(DocMeta, Automerge)>, NodeError> {
        let Some(rec) = self.doc_record(id)? else {
            return Ok(None);
        };
        let doc = rec.load(id)?;
        Ok(Some((rec.meta, doc)))
    }

    /// Stores a document: saves its bytes, gives it the next feed seq (removing its previous
    /// feed entry) and, with a projector, replaces its read-model entries. Returns the seq.
    /// Keeps a copy for the cache.
    pub fn put_doc(&mut self, id: Uuid, meta: DocMeta, doc: &Automerge) -> Result<u64, NodeError> {
        let seq = self.stage_doc(id, &meta, doc, None)?;
        self.docs.insert(id, (meta, doc.clone(), None));
        Ok(seq)
    }

    /// [`WriteCtx::put_doc`] taking the document by value (no copy for the cache) with the
    /// read-model entries the caller already computed for this exact document (what the
    /// projector would return for it), so the document is not read back a second time on the
    /// hot path.
    pub fn put_doc_projected(
        &mut self,
        id: Uuid,
        meta: DocMeta,
        doc: Automerge,
        entries: Vec<RmEntry>,
    ) -> Result<u64, NodeError> {
        let seq = self.stage_doc(id, &meta, &doc, Some(entries))?;
        self.docs.insert(id, (meta, doc, None));
        Ok(seq)
    }

    /// [`WriteCtx::put_doc_projected`] for an order whose state the caller holds: `order` and
    /// `conflicts` must be what `sync::doc::read_order` returns for `doc` as given (the domain's
    /// fold of the event that was just written, tested equal to the read-back by
    /// `sync::doc::tests`). The cache keeps them with the document's heads, for the next
    /// command on this order ([`WriteCtx::load_order_doc`]).
    pub fn put_order_projected(
        &mut self,
        id: Uuid,
        meta: DocMeta,
        doc: Automerge,
        entries: Vec<RmEntry>,
        order: Order,
        conflicts: Vec<Conflict>,
    ) -> Result<u64, NodeError> {
        let seq = self.stage_doc(id, &meta, &doc, Some(entries))?;
        let state = OrderState {
            heads: doc.get_heads(),
            order,
            conflicts,
        };
        self.docs.insert(id, (meta, doc, Some(state)));
        Ok(seq)
    }

    fn stage_doc(
        &mut self,
        id: Uuid,
        meta: &DocMeta,
        doc: &Automerge,
        projected: Option<Vec<RmEntry>>,
    ) -> Result<u64, NodeError> {
        let old = self.doc_record(id)?;
        if let Some(old) = &old {
            self.stage(TreeId::Feed, records::seq_key(old.seq).to_vec(), None);
        }
        match old.as_ref().map(|o| o.meta.kind) {
            None => self.bump_count(meta.kind, 1)?,
            Some(k) if k != meta.kind => {
                self.bump_count(k, -1)?;
                self.bump_count(meta.kind, 1)?;
            }
            Some(_) => {}
        }
        self.seq += 1;
        let seq = self.seq;
        // Store the changes since the stored version when the new version descends from it,
        // compacting into a fresh snapshot now and then.
        let (bytes, increments) = match old {
            Some(old)
                if old.increments.len() < records::MAX_INCREMENTS
                    && old.increment_bytes() < old.bytes.len().max(4096)
                    && old
                        .change_hashes()
                        .iter()
                        .all(|h| doc.get_change_by_hash(h).is_some()) =>
            {
                let chunk = doc.save_after(&old.change_hashes());
                let mut increments = old.increments;
                if !chunk.is_empty() {
                    increments.push(chunk);
                }
                (old.bytes, increments)
            }
            _ => (doc.save(), Vec::new()),
        };
        let rec = DocRecord {
            meta: meta.clone(),
            seq,
            heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
            bytes,
            increments,
        };
        let feed = FeedValue {
            doc: id,
            meta: meta.clone(),
        };
        let rec_bytes = records::encode(&rec)?;
        let feed_bytes = records::encode(&feed)?;
        self.stage(TreeId::Docs, id.as_bytes().to_vec(), Some(rec_bytes));
        self.stage(
            TreeId::Feed,
            records::seq_key(seq).to_vec(),
            Some(feed_bytes),
        );
        self.stage(
            TreeId::Meta,
            keys::FEED_SEQ.to_vec(),
            Some(seq.to_be_bytes().to_vec()),
        );
        if let Some(p) = self.projector {
            let entries = match projected {
                Some(e) => e,
                None => p(id, meta, doc),
            };
            self.replace_projection(id, entries)?;
            self.stage(
                TreeId::Meta,
                keys::READ_MODEL_SEQ.to_vec(),
                Some(seq.to_be_bytes().to_vec()),
            );
        }
        Ok(seq)
    }

    fn bump_count(&mut self, kind: DocKind, delta: i64) -> Result<(), NodeError> {
        let key = records::doc_count_key(kind);
        let now = match self.get(TreeId::Meta, &key)? {
            Some(b) => records::read_u64(&b)?,
            None => 0,
        };
        let next = now.saturating_add_signed(delta);
        self.stage(TreeId::Meta, key, Some(next.to_be_bytes().to_vec()));
        Ok(())
    }

    fn replace_projection(&mut self, id: Uuid, entries: Vec<RmEntry>) -> Result<(), NodeError> {
        let old: Vec<(u8, Vec<u8>)> = match self.get(TreeId::RmOwner, id.as_bytes())? {
            Some(b) => records::decode(&b)?,
            None => Vec::new(),
        };
        let mut new_keys: Vec<(u8, Vec<u8>)> = Vec::with_capacity(entries.len());
        for e in &entries {
            if !e.tree.is_projectable() {
                return Err(NodeError::Corrupt(format!(
                    "projector wrote to non read-model tree {}",
                    e.tree.name()
                )));
            }
            new_keys.push((e.tree.index() as u8, e.key.clone()));
        }
        let keep: HashSet<&(u8, Vec<u8>)> = new_keys.iter().collect();
        for k in &old {
            if !keep.contains(k) {
                let tree = TreeId::from_index(k.0)?;
                self.stage(tree, k.1.clone(), None);
            }
        }
        for e in entries {
            self.stage(e.tree, e.key, Some(e.value));
        }
        if new_keys.is_empty() {
            self.stage(TreeId::RmOwner, id.as_bytes().to_vec(), None);
        } else {
            let v = records::encode(&new_keys)?;
            self.stage(TreeId::RmOwner, id.as_bytes().to_vec(), Some(v));
        }
        Ok(())
    }

    /// Replaces a user entry written on this node rather than projected from a document (the
    /// admin `init` made): the entry under the token hash `old` goes, `entry` is stored under
    /// `new` (the same hash to change the entry only).
    pub fn replace_local_user(
        &mut self,
        old: &str,
        new: &str,
        entry: &super::UserEntry,
    ) -> Result<(), NodeError> {
        if entry.origin != super::UserOrigin::Local {
            return Err(NodeError::Corrupt(
                "only a local user entry is written directly".into(),
            ));
        }
        let value = entry.encode()?;
        self.stage(TreeId::Users, old.as_bytes().to_vec(), None);
        self.stage(TreeId::Users, new.as_bytes().to_vec(), Some(value));
        Ok(())
    }

    /// Adds or replaces a peer.
    pub fn put_peer(&mut self, peer: &PeerConfig) -> Result<(), NodeError> {
        let v = records::encode(peer)?;
        self.stage(TreeId::Peers, peer.name.as_bytes().to_vec(), Some(v));
        Ok(())
    }

    /// Removes a configured peer and the sync state kept for it: its status record
    /// ([`records::peer_status_key`]) and, unless another configured peer has the same node id,
    /// its checkpoint ([`records::peer_checkpoint_key`]) and the heads it is known to hold, so a
    /// peer added again later starts from scratch. Returns whether the peer existed.
    pub fn delete_peer(&mut self, name: &str) -> Result<bool, NodeError> {
        let Some(bytes) = self.get(TreeId::Peers, name.as_bytes())? else {
            return Ok(false);
        };
        self.stage(TreeId::Peers, name.as_bytes().to_vec(), None);
        self.stage(
            TreeId::PeerState,
            records::peer_status_key(name).into_bytes(),
            None,
        );
        // An undecodable record has no node id to clean up after (`verify` reports it).
        let Some(node) = PeerConfig::decode(&bytes).ok().and_then(|p| p.node_id) else {
            return Ok(true);
        };
        let shared = self
            .scan_prefix(TreeId::Peers, b"")?
            .iter()
            .any(|(_, v)| PeerConfig::decode(v).is_ok_and(|p| p.node_id == Some(node)));
        if !shared {
            self.stage(
                TreeId::PeerState,
                records::peer_checkpoint_key(&node).into_bytes(),
                None,
            );
            self.forget_peer_heads(&node)?;
        }
        Ok(true)
    }

    /// Records a peer's sync state under its key: [`records::peer_checkpoint_key`] for the
    /// checkpoint, [`records::peer_status_key`] for the last success / last error.
    pub fn put_peer_state(&mut self, key: &str, state: &PeerState) -> Result<(), NodeError> {
        let v = records::encode(state)?;
        self.stage(TreeId::PeerState, key.as_bytes().to_vec(), Some(v));
        Ok(())
    }

    /// Forgets every head recorded for a peer (it was restored from a backup: what it held
    /// before may be gone).
    pub fn forget_peer_heads(&mut self, peer: &NodeId) -> Result<(), NodeError> {
        let keys: Vec<Vec<u8>> = self
            .scan_prefix(TreeId::PeerHeads, &records::peer_heads_prefix(peer))?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for k in keys {
            self.stage(TreeId::PeerHeads, k, None);
        }
        Ok(())
    }

    /// Records the heads a peer is known to hold for a document.
    pub fn put_peer_heads(
        &mut self,
        peer: &NodeId,
        doc: &Uuid,
        heads: &[ChangeHash],
    ) -> Result<(), NodeError> {
        let raw: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
        let v = records::encode(&raw)?;
        self.stage(
            TreeId::PeerHeads,
            records::peer_heads_key(peer, doc).to_vec(),
            Some(v),
        );
        Ok(())
    }
}
