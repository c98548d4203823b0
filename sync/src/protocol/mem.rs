//! An in-memory [`Replica`] for tests, simulations and benchmarks. Everything it holds is what a
//! durable store would hold (documents as saved bytes, the feed, per-peer state, the coupon index),
//! so it is `Clone` and serializable: a simulation "restarts" a node from a copy of it.

use super::apply::{payload_of, plan_apply, ApplySource};
use super::frames::{heads_from_wire, heads_to_wire};
use super::{
    ApplyBatch, ApplyOutcome, DocPayload, FeedEntry, Heads, NodeIdentity, PeerCheckpoint, Replica,
    ReplicaError,
};
use crate::codec::{self, CodecError};
use crate::doc::{self, Author, CallCenterState, DocKind, DocMeta};
use crate::protocol::merge::MergeError;
use automerge::{ActorId, Automerge};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::commands::OrderReads;
use switchboard_domain::config::{CallCenter, Catalog};
use switchboard_domain::order::SYSTEM_USER;
use switchboard_domain::{CallCenterId, CouponCode, NodeId, OrderId, Timestamp, UserId};
use uuid::Uuid;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct StoredDoc {
    bytes: Vec<u8>,
    heads: Vec<[u8; 32]>,
    meta: DocMeta,
    seq: u64,
}

/// An in-memory replica.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MemReplica {
    identity: NodeIdentity,
    actor: Vec<u8>,
    now_ms: i64,
    seq: u64,
    docs: BTreeMap<Uuid, StoredDoc>,
    feed: BTreeMap<u64, Uuid>,
    peers: BTreeMap<NodeId, PeerCheckpoint>,
    peer_heads: BTreeMap<(NodeId, Uuid), Vec<[u8; 32]>>,
    /// Coupon redemptions by order (non-canceled orders only), the read model the rank needs.
    redemptions: BTreeMap<Uuid, Vec<(CouponCode, Timestamp)>>,
}

impl MemReplica {
    /// An empty replica; `actor` is the automerge actor this node writes with.
    pub fn new(identity: NodeIdentity, actor: ActorId) -> Self {
        MemReplica {
            identity,
            actor: actor.to_bytes().to_vec(),
            now_ms: 0,
            seq: 0,
            docs: BTreeMap::new(),
            feed: BTreeMap::new(),
            peers: BTreeMap::new(),
            peer_heads: BTreeMap::new(),
            redemptions: BTreeMap::new(),
        }
    }

    /// Sets the time used for what this node writes by itself (system holds).
    pub fn set_now(&mut self, now: Timestamp) {
        self.now_ms = now.as_millis();
    }

    /// The time set with [`MemReplica::set_now`].
    pub fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.now_ms)
    }

    /// The actor this node writes with.
    pub fn actor(&self) -> ActorId {
        ActorId::from(self.actor.clone())
    }

    /// An author for a user's change made now.
    pub fn author(&self, user: UserId) -> Author {
        Author {
            actor: self.actor(),
            user,
            node: self.identity.node_id,
            now: self.now(),
        }
    }

    /// The author of what the node does by itself.
    pub fn system_author(&self) -> Author {
        self.author(SYSTEM_USER)
    }

    /// Replaces the identity: what the node believes it is (a simulation's compromised node
    /// claims more than its peers declared for it).
    pub fn set_identity(&mut self, identity: NodeIdentity) {
        self.identity = identity;
    }

    /// A new actor and feed epoch, as a node restored from a backup must take before writing.
    pub fn restored_from_backup(&mut self, feed_epoch: Uuid, actor: ActorId) {
        self.identity.feed_epoch = feed_epoch;
        self.actor = actor.to_bytes().to_vec();
    }

    /// The documents held, by id.
    pub fn doc_ids(&self) -> Vec<Uuid> {
        self.docs.keys().copied().collect()
    }

    /// How many documents are held.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether no document is held.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The documents of a kind.
    pub fn docs_of(&self, kind: DocKind) -> Vec<Uuid> {
        self.docs
            .iter()
            .filter(|(_, d)| d.meta.kind == kind)
            .map(|(id, _)| *id)
            .collect()
    }

    /// A stored document's meta.
    pub fn meta(&self, doc: Uuid) -> Option<DocMeta> {
        self.docs.get(&doc).map(|d| d.meta.clone())
    }

    /// The last feed seq.
    pub fn feed_seq(&self) -> u64 {
        self.seq
    }

    /// Loads a document (with this node's actor, ready for a local change).
    pub fn load(&self, doc: Uuid) -> Option<Automerge> {
        let d = self.docs.get(&doc)?;
        let mut am = Automerge::load(&d.bytes).ok()?;
        am.set_actor(self.actor());
        Some(am)
    }

    /// Stores a document after a local change (the document must already hold every change the
    /// stored one holds, as one loaded with [`MemReplica::load`] does) and bumps the feed.
    pub fn put(&mut self, id: Uuid, doc: &Automerge) -> Result<Heads, ReplicaError> {
        let meta = doc::read_meta(doc).map_err(|e| ReplicaError::Refused {
            doc: id,
            source: MergeError::Doc(e),
        })?;
        if let Some(stored) = self.docs.get(&id) {
            if stored.meta != meta {
                return Err(ReplicaError::Refused {
                    doc: id,
                    source: MergeError::MetaChanged {
                        stored: stored.meta.clone(),
                        merged: meta,
                    },
                });
            }
        }
        let redemptions = if meta.kind == DocKind::Order {
            let (order, _) = doc::read_order(doc).map_err(|e| ReplicaError::Refused {
                doc: id,
                source: MergeError::Doc(e),
            })?;
            Some(doc::coupon_redemptions(&order))
        } else {
            None
        };
        let heads = doc.get_heads();
        self.commit(id, doc.save(), &heads, meta, redemptions);
        Ok(heads)
    }

    /// Stores saved document bytes as they are (bulk loading for benchmarks); bumps the feed.
    pub fn put_saved(&mut self, id: Uuid, bytes: Vec<u8>, heads: &Heads, meta: DocMeta) {
        self.commit(id, bytes, heads, meta, None);
    }

    fn commit(
        &mut self,
        id: Uuid,
        bytes: Vec<u8>,
        heads: &Heads,
        meta: DocMeta,
        redemptions: Option<Vec<(CouponCode, Timestamp)>>,
    ) {
        self.seq += 1;
        if let Some(old) = self.docs.get(&id) {
            self.feed.remove(&old.seq);
        }
        self.feed.insert(self.seq, id);
        self.docs.insert(
            id,
            StoredDoc {
                bytes,
                heads: heads_to_wire(heads),
                meta,
                seq: self.seq,
            },
        );
        match redemptions {
            Some(r) if !r.is_empty() => {
                self.redemptions.insert(id, r);
            }
            Some(_) => {
                self.redemptions.remove(&id);
            }
            None => {}
        }
    }

    /// Records a peer's checkpoint directly (setup of tests and benchmarks that build two
    /// replicas already in sync).
    pub fn set_peer_state(&mut self, peer: NodeId, checkpoint: PeerCheckpoint) {
        self.peers.insert(peer, checkpoint);
    }

    /// Records the heads a peer holds for a document directly (setup, see
    /// [`MemReplica::set_peer_state`]).
    pub fn set_peer_heads(&mut self, peer: NodeId, doc: Uuid, heads: &Heads) {
        self.peer_heads.insert((peer, doc), heads_to_wire(heads));
    }

    /// The catalog, when held.
    pub fn catalog(&self) -> Option<Catalog> {
        self.load(doc::catalog_doc_id())
            .and_then(|d| doc::read_catalog(&d).ok())
    }

    /// A call center's configuration, when held.
    pub fn call_center(&self, cc: &CallCenterId) -> Option<CallCenter> {
        self.load(doc::call_center_doc_id(cc))
            .and_then(|d| doc::read_call_center(&d).ok())
            .map(|s| s.config)
    }

    /// The durable state as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    /// A replica from [`MemReplica::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CodecError> {
        codec::decode(bytes, u64::MAX)
    }

    fn stored_heads(&self, doc: Uuid) -> Option<Heads> {
        self.docs.get(&doc).map(|d| heads_from_wire(&d.heads))
    }
}

/// The order commands of a test read coupon uses from this replica's redemptions, as the node
/// reads them from its coupon index.
impl OrderReads for MemReplica {
    fn coupon_uses_elsewhere(&self, code: &CouponCode, except: OrderId) -> u32 {
        let n = self
            .redemptions
            .iter()
            .filter(|(id, r)| **id != except.0 && r.iter().any(|(c, _)| c == code))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

impl Replica for MemReplica {
    fn identity(&self) -> NodeIdentity {
        self.identity.clone()
    }

    fn feed_since(&self, since: u64, limit: usize) -> Result<Vec<FeedEntry>, ReplicaError> {
        Ok(self
            .feed
            .range(since.saturating_add(1)..)
            .take(limit)
            .filter_map(|(seq, id)| {
                self.docs.get(id).map(|d| FeedEntry {
                    seq: *seq,
                    doc: *id,
                    meta: d.meta.clone(),
                })
            })
            .collect())
    }

    fn payload(&self, doc: Uuid, base: Option<&Heads>) -> Result<Option<DocPayload>, ReplicaError> {
        let Some(stored) = self.docs.get(&doc) else {
            return Ok(None);
        };
        let am = Automerge::load(&stored.bytes)
            .map_err(|e| ReplicaError::Store(format!("stored document {doc}: {e}")))?;
        Ok(Some(payload_of(doc, stored.meta.clone(), &am, base)))
    }

    fn heads(&self, doc: Uuid) -> Result<Option<Heads>, ReplicaError> {
        Ok(self.stored_heads(doc))
    }

    fn peer_heads(&self, peer: NodeId, doc: Uuid) -> Result<Option<Heads>, ReplicaError> {
        Ok(self
            .peer_heads
            .get(&(peer, doc))
            .map(|h| heads_from_wire(h)))
    }

    fn peer_state(&self, peer: NodeId) -> Result<PeerCheckpoint, ReplicaError> {
        Ok(self.peers.get(&peer).copied().unwrap_or_default())
    }

    fn apply(&mut self, batch: ApplyBatch) -> Result<ApplyOutcome, ReplicaError> {
        // All-or-nothing: the shared planner merges without writing; the plan is committed below.
        let author = self.system_author();
        let plan = plan_apply(&*self, &batch, &author)?;
        let outcome = plan.outcome;
        for (id, s) in plan.staged {
            let heads = s.doc.get_heads();
            let redemptions = s.order.as_ref().map(doc::coupon_redemptions);
            self.commit(id, s.doc.save(), &heads, s.meta, redemptions);
        }
        let stored = self.peers.get(&batch.peer).copied().unwrap_or_default();
        let (checkpoint, forget) = batch.checkpoint_after(&stored, &outcome);
        if forget {
            self.peer_heads.retain(|(peer, _), _| *peer != batch.peer);
        }
        for (doc, heads) in &batch.learned {
            self.peer_heads
                .insert((batch.peer, *doc), heads_to_wire(heads));
        }
        for p in &batch.docs {
            self.peer_heads
                .insert((batch.peer, p.doc), heads_to_wire(&p.heads));
        }
        self.peers.insert(batch.peer, checkpoint);
        Ok(outcome)
    }
}

impl ApplySource for MemReplica {
    fn load_doc(&self, doc: Uuid) -> Result<Option<Automerge>, ReplicaError> {
        Ok(self.load(doc))
    }

    fn stored_meta(&self, doc: Uuid) -> Result<Option<DocMeta>, ReplicaError> {
        Ok(self.meta(doc))
    }

    fn catalog(&self) -> Result<Option<Catalog>, ReplicaError> {
        Ok(MemReplica::catalog(self))
    }

    fn call_center(&self, cc: &CallCenterId) -> Result<Option<CallCenterState>, ReplicaError> {
        Ok(self
            .load(doc::call_center_doc_id(cc))
            .and_then(|d| doc::read_call_center(&d).ok()))
    }

    fn redeemers(&self, code: &CouponCode) -> Result<Vec<(Uuid, Timestamp)>, ReplicaError> {
        Ok(self
            .redemptions
            .iter()
            .filter_map(|(id, r)| r.iter().find(|(c, _)| c == code).map(|(_, at)| (*id, *at)))
            .collect())
    }
}
