//! [`NodeReplica`]: the sans-IO sync engine's view of this node's store (its `Replica`). Reads go
//! straight to the store; a merge goes through the writer thread as one job, planned by the
//! shared `switchboard_sync::protocol::apply::plan_apply`, so the merged documents, the peer's
//! heads and the new checkpoint become durable together, in the same group commit as agents'
//! writes.

use crate::error::NodeError;
use crate::read_model::order_entries;
use crate::service::AppState;
use crate::store::records::{self, PeerState};
use crate::store::{StoreExt, TreeId, WriteCtx};
use automerge::Automerge;
use std::cell::RefCell;
use switchboard_domain::order::SYSTEM_USER;
use switchboard_domain::{CallCenterId, CouponCode, NodeId, Timestamp};
use switchboard_sync::doc::{Author, DocMeta};
use switchboard_sync::protocol::apply::{payload_of, plan_apply, ApplySource};
use switchboard_sync::protocol::{
    ApplyBatch, ApplyOutcome, DocPayload, FeedEntry, Heads, NodeIdentity, PeerCheckpoint, Replica,
    ReplicaError,
};
use uuid::Uuid;

impl From<NodeError> for ReplicaError {
    fn from(e: NodeError) -> Self {
        ReplicaError::Store(e.to_string())
    }
}

/// A stored checkpoint, or the empty one.
pub(super) fn decode_checkpoint(state: Option<PeerState>) -> Result<PeerCheckpoint, NodeError> {
    state
        .map(|s| s.checkpoint())
        .transpose()
        .map(Option::unwrap_or_default)
}

/// The engine's view of this node. Cheap to clone; every call is blocking (run it off the async
/// workers).
#[derive(Clone)]
pub struct NodeReplica {
    app: AppState,
}

impl NodeReplica {
    /// The replica of a node.
    pub fn new(app: AppState) -> Self {
        NodeReplica { app }
    }
}

/// The planner's view of the store from inside a writer job.
struct WriterSource<'c, 'w> {
    ctx: RefCell<&'c mut WriteCtx<'w>>,
    app: &'c AppState,
}

impl ApplySource for WriterSource<'_, '_> {
    fn load_doc(&self, doc: Uuid) -> Result<Option<Automerge>, ReplicaError> {
        let loaded = self.ctx.borrow_mut().load_doc(doc)?;
        Ok(loaded.map(|(_, mut d)| {
            d.set_actor(self.app.identity.actor_id());
            d
        }))
    }

    fn stored_meta(&self, doc: Uuid) -> Result<Option<DocMeta>, ReplicaError> {
        Ok(self.ctx.borrow().doc_record(doc)?.map(|r| r.meta))
    }

    fn catalog(&self) -> Result<Option<switchboard_domain::config::Catalog>, ReplicaError> {
        Ok(Some((*self.app.catalog()).clone()))
    }

    fn call_center(
        &self,
        cc: &CallCenterId,
    ) -> Result<Option<switchboard_sync::doc::CallCenterState>, ReplicaError> {
        Ok(self.app.configs.call_center(cc).map(|s| (*s).clone()))
    }

    fn redeemers(&self, code: &CouponCode) -> Result<Vec<(Uuid, Timestamp)>, ReplicaError> {
        let ctx = self.ctx.borrow();
        let prefix = records::rm_keys::status_prefix(code.as_str());
        let mut out = Vec::new();
        // Through the job's view: earlier jobs of the same batch included.
        for (k, v) in ctx.scan_prefix(TreeId::IdxCoupon, &prefix)? {
            let Some(id) = records::rm_keys::trailing_uuid(&k) else {
                continue;
            };
            let at = v
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            out.push((id, Timestamp::from_millis(at)));
        }
        Ok(out)
    }
}

impl Replica for NodeReplica {
    fn identity(&self) -> NodeIdentity {
        self.app.identity.sync_identity()
    }

    fn feed_since(&self, since: u64, limit: usize) -> Result<Vec<FeedEntry>, ReplicaError> {
        Ok(self
            .app
            .storage
            .store()
            .feed_since(since, limit)?
            .into_iter()
            .map(|f| FeedEntry {
                seq: f.seq,
                doc: f.doc,
                meta: f.meta,
            })
            .collect())
    }

    fn payload(&self, doc: Uuid, base: Option<&Heads>) -> Result<Option<DocPayload>, ReplicaError> {
        let Some((meta, am)) = self.app.storage.store().load_doc(doc)? else {
            return Ok(None);
        };
        Ok(Some(payload_of(doc, meta, &am, base)))
    }

    fn heads(&self, doc: Uuid) -> Result<Option<Heads>, ReplicaError> {
        Ok(self.app.storage.store().doc_heads(doc)?)
    }

    fn peer_heads(&self, peer: NodeId, doc: Uuid) -> Result<Option<Heads>, ReplicaError> {
        Ok(self.app.storage.store().peer_heads(&peer, &doc)?)
    }

    fn peer_state(&self, peer: NodeId) -> Result<PeerCheckpoint, ReplicaError> {
        let state = self
            .app
            .storage
            .store()
            .peer_state(&records::peer_checkpoint_key(&peer))?;
        Ok(decode_checkpoint(state)?)
    }

    fn apply(&mut self, batch: ApplyBatch) -> Result<ApplyOutcome, ReplicaError> {
        let app = self.app.clone();
        self.app
            .storage
            .writer()
            .submit_blocking(move |ctx: &mut WriteCtx<'_>| {
                let author = Author {
                    actor: app.identity.actor_id(),
                    user: SYSTEM_USER,
                    node: app.identity.node_id,
                    now: app.now(),
                };
                let src = WriterSource {
                    ctx: RefCell::new(ctx),
                    app: &app,
                };
                let plan = plan_apply(&src, &batch, &author)?;
                let ctx = src.ctx.into_inner();
                for (id, staged) in plan.staged {
                    match staged.order {
                        // The merge read the order already (for its invariants): project that,
                        // rather than reading the document a second time, and hand the document
                        // over rather than copying it for the cache.
                        Some(order) => {
                            let entries = order_entries(id, &order, &staged.doc, &app.configs);
                            ctx.put_doc_projected(id, staged.meta, staged.doc, entries)?;
                        }
                        None => {
                            ctx.put_doc(id, staged.meta, &staged.doc)?;
                        }
                    }
                }
                let key = records::peer_checkpoint_key(&batch.peer);
                let mut state: PeerState = match ctx.get(TreeId::PeerState, key.as_bytes())? {
                    Some(b) => records::decode(&b)?,
                    None => PeerState::default(),
                };
                let prev = state.checkpoint()?;
                let (next, forget) = batch.checkpoint_after(&prev, &plan.outcome);
                if forget {
                    ctx.forget_peer_heads(&batch.peer)?;
                }
                for (doc, heads) in &batch.learned {
                    ctx.put_peer_heads(&batch.peer, doc, heads)?;
                }
                for p in &batch.docs {
                    ctx.put_peer_heads(&batch.peer, &p.doc, &p.heads)?;
                }
                if next != prev {
                    state.set_checkpoint(&next);
                    ctx.put_peer_state(&key, &state)?;
                }
                Ok::<_, ReplicaError>(plan.outcome)
            })
    }
}
