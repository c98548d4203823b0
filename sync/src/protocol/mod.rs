//! The multi-document sync protocol, as a sans-IO state machine.
//!
//! Every node keeps a change feed (a local sequence number bumped whenever a document changes,
//! locally or by a merge; one entry per document, its latest seq, as CouchDB's by-seq index) and,
//! per peer, a durable [`PeerCheckpoint`] plus the heads it knows the peer holds durably for each
//! document ([`Replica::peer_heads`]). A session is driven by the initiator: each request carries
//! a batch of pushed documents (changes after the heads the peer is known to hold, `save_after`),
//! acknowledgements of what the initiator now holds, and the pull position in the responder's feed;
//! each response carries per-document push results and a batch of the responder's changed
//! documents. Round trips do not grow with the number of changed documents (batches are bounded by
//! bytes), and a no-op session is one small request and one small response.
//!
//! Control flow: [`engine::Initiator::new`] returns the first frame; the caller sends it and feeds
//! the answer to [`engine::Initiator::on_frame`], until it reports `done`; or, to overlap the
//! next pull with the merge, to [`engine::Initiator::accept`], runs the returned
//! [`engine::Merge`] while it sends the request returned with it, and hands the merge's result to
//! [`engine::Initiator::merged`] (see the engine's module documentation). The peer answers with
//! the stateless [`engine::respond`]. All storage goes through the [`Replica`] trait, the IO
//! boundary: the node implements it on sled, the tests on memory ([`mem::MemReplica`]).
//! [`link::PeerLink`] is the retry schedule of one peer link (capped exponential backoff with
//! jitter passed in). [`merge`] merges one received payload into a stored document, the part of
//! [`Replica::apply`] every replica shares.

pub mod apply;
pub mod bounds;
pub mod engine;
pub mod frames;
pub mod link;
pub mod mem;
pub mod merge;
pub mod scope;
#[cfg(test)]
mod test_fixtures;

use crate::doc::DocMeta;
use automerge::ChangeHash;
use merge::MergeError;
use serde::{Deserialize, Serialize};
use switchboard_domain::{CallCenterId, NodeId};
use uuid::Uuid;

pub use engine::{
    respond, respond_or_error, Accepted, Initiator, Merge, Merged, Next, SessionReport, Step,
};
pub use link::{Backoff, PeerLink};
pub use scope::{may_read, may_write};

/// The heads of a document (sorted, as `Automerge::get_heads` returns them).
pub type Heads = Vec<ChangeHash>;

/// Whether a node is the headquarters or a call-center site: the role of a node's identity, of
/// its configuration (`role = "hq"` / `"site"`) and of a peer as pinned on first contact.
///
/// The variant order is part of the node's stored records (bincode writes the variant index:
/// `Hq` = 0, `Site` = 1): append new roles, never reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Headquarters: replicates and may write everything.
    Hq,
    /// A call-center site: replicates the configuration and its call centers' orders and customers.
    Site,
}

impl Role {
    /// `hq` or `site` (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hq => "hq",
            Role::Site => "site",
        }
    }

    /// Parses `hq` or `site` (case-insensitive, surrounding whitespace ignored).
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hq" => Some(Role::Hq),
            "site" => Some(Role::Site),
            _ => None,
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a node is and what it replicates: the scope half of its identity, as a peer sees it
/// (from configuration, after the transport authenticated the peer).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerInfo {
    /// The node.
    pub node_id: NodeId,
    /// Site or HQ.
    pub role: Role,
    /// The call centers a site serves (ignored for HQ).
    pub call_centers: Vec<CallCenterId>,
}

/// A node's own identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// The node.
    pub node_id: NodeId,
    /// Site or HQ.
    pub role: Role,
    /// The call centers a site serves.
    pub call_centers: Vec<CallCenterId>,
    /// The epoch of this node's change feed; a node restored from a backup takes a new one, so
    /// peers that pulled a feed position beyond the backup start over from zero.
    pub feed_epoch: Uuid,
}

impl NodeIdentity {
    /// The scope of this node, as its peers see it.
    pub fn info(&self) -> PeerInfo {
        PeerInfo {
            node_id: self.node_id,
            role: self.role,
            call_centers: self.call_centers.clone(),
        }
    }
}

/// A position in a peer's change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedPos {
    /// The feed's epoch.
    pub epoch: Uuid,
    /// The last sequence number received.
    pub seq: u64,
}

/// Durable per-peer sync progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerCheckpoint {
    /// How far the peer's feed has been received and stored.
    pub pull: Option<FeedPos>,
    /// How far our own feed has been acknowledged by the peer.
    pub push: u64,
    /// The peer's feed epoch when last seen. A new one means the peer was restored from a
    /// backup: what we knew it held may be gone.
    pub peer_epoch: Option<Uuid>,
}

impl PeerCheckpoint {
    /// Whether seeing `epoch` means the peer was restored since we last saw it.
    pub fn peer_restarted(&self, epoch: Uuid) -> bool {
        self.peer_epoch.is_some_and(|e| e != epoch)
    }

    /// The checkpoint after seeing the peer's feed epoch: unchanged (epoch recorded) for the
    /// epoch we know, reset (pull from its start, push ours again) for a restored peer.
    pub fn with_peer_epoch(&self, epoch: Uuid) -> PeerCheckpoint {
        if self.peer_restarted(epoch) {
            PeerCheckpoint {
                pull: None,
                push: 0,
                peer_epoch: Some(epoch),
            }
        } else {
            PeerCheckpoint {
                peer_epoch: Some(epoch),
                ..*self
            }
        }
    }
}

/// One entry of a change feed: the latest change of a document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedEntry {
    /// The sequence number.
    pub seq: u64,
    /// The document.
    pub doc: Uuid,
    /// What the document is (for scope checks without loading it).
    pub meta: DocMeta,
}

/// A document's changes for a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocPayload {
    /// The document.
    pub doc: Uuid,
    /// What it is (checked against the content when merged).
    pub meta: DocMeta,
    /// The sender's heads: the sender holds these durably.
    pub heads: Heads,
    /// `save_after(base)` or a full `save()`.
    pub changes: Vec<u8>,
}

/// What a [`Replica::apply`] stores, all in one durable batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyBatch {
    /// The peer it comes from.
    pub peer: NodeId,
    /// The peer's role as declared for it: what a site sends is judged by the role rules, and a
    /// site never sends configuration.
    pub peer_role: Role,
    /// This node's role: HQ knows every legitimate author, so it also judges what authors it
    /// does not know did (see `domain::roles::RoleRules::knows_every_author`).
    pub local_role: Role,
    /// Payloads to merge. For each, the replica also records `payload.heads` as heads the peer
    /// holds (the sender holds what it sent, whether or not it merged here).
    pub docs: Vec<DocPayload>,
    /// Heads the peer told us it now holds, replacing what we knew (recorded before `docs`).
    pub learned: Vec<(Uuid, Heads)>,
    /// The new checkpoint for the peer, resolved against the outcome with
    /// [`CheckpointUpdate::resolve`].
    pub checkpoint: Option<CheckpointUpdate>,
    /// The peer's feed epoch as seen in this exchange. Applied first, with
    /// [`PeerCheckpoint::with_peer_epoch`]; when the peer was restored, every head recorded for it
    /// is forgotten as well.
    pub peer_epoch: Option<Uuid>,
}

impl ApplyBatch {
    /// The peer's checkpoint after this batch, from the stored one and the merge outcome, and
    /// whether every head recorded for the peer must be forgotten first (the peer was restored
    /// from a backup). Replicas call this instead of combining [`PeerCheckpoint::with_peer_epoch`]
    /// and [`CheckpointUpdate::resolve`] themselves.
    pub fn checkpoint_after(
        &self,
        stored: &PeerCheckpoint,
        outcome: &ApplyOutcome,
    ) -> (PeerCheckpoint, bool) {
        let (prev, forget) = match self.peer_epoch {
            Some(e) => (stored.with_peer_epoch(e), stored.peer_restarted(e)),
            None => (*stored, false),
        };
        let next = match &self.checkpoint {
            Some(update) => update.resolve(&prev, outcome),
            None => prev,
        };
        (next, forget)
    }
}

/// How a checkpoint advances with a batch: the pull position moves to `next_seq`, unless a
/// pulled document could not be merged (missing dependencies), in which case it stops just before
/// the first such document, so that it is asked for again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckpointUpdate {
    /// The new push position.
    pub push: u64,
    /// The pull advance, if the batch carries pulled documents.
    pub pull: Option<PullUpdate>,
}

/// See [`CheckpointUpdate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullUpdate {
    /// The peer's feed epoch.
    pub epoch: Uuid,
    /// Where the pull stood before this batch (in `epoch`).
    pub prev_seq: u64,
    /// Where it stands if everything merged.
    pub next_seq: u64,
    /// The peer feed seq of each of `ApplyBatch::docs`, in order.
    pub doc_seqs: Vec<u64>,
}

impl CheckpointUpdate {
    /// The checkpoint after the batch, given what the merge did.
    pub fn resolve(&self, prev: &PeerCheckpoint, outcome: &ApplyOutcome) -> PeerCheckpoint {
        let pull = match &self.pull {
            None => prev.pull,
            Some(p) => {
                let first_missing = p
                    .doc_seqs
                    .iter()
                    .zip(&outcome.docs)
                    .filter(|(_, (_, o))| matches!(o, DocOutcome::MissingDeps { .. }))
                    .map(|(s, _)| *s)
                    .min();
                let seq = match first_missing {
                    Some(s) => s.saturating_sub(1).max(p.prev_seq).min(p.next_seq),
                    None => p.next_seq,
                };
                Some(FeedPos {
                    epoch: p.epoch,
                    seq,
                })
            }
        };
        PeerCheckpoint {
            pull,
            push: self.push.max(prev.push),
            peer_epoch: prev.peer_epoch,
        }
    }
}

/// What merging one payload did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocOutcome {
    /// Merged; the document's heads now.
    Applied {
        /// Heads after the merge (and any system holds it placed).
        heads: Heads,
    },
    /// The payload's changes depend on changes we do not have; nothing of it was stored.
    MissingDeps {
        /// Our heads for the document (empty if we do not hold it).
        heads: Heads,
    },
}

/// The outcome of [`Replica::apply`], one entry per payload, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyOutcome {
    /// Per payload.
    pub docs: Vec<(Uuid, DocOutcome)>,
}

/// Why the replica failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplicaError {
    /// A payload was refused (content does not match its meta, malformed changes, ...); nothing
    /// of the batch was stored.
    #[error("document {doc} refused: {source}")]
    Refused {
        /// The document.
        doc: Uuid,
        /// Why.
        #[source]
        source: MergeError,
    },
    /// The store failed.
    #[error("store: {0}")]
    Store(String),
}

/// The IO boundary of the protocol: a node's documents, feed and per-peer state.
pub trait Replica {
    /// This node's identity.
    fn identity(&self) -> NodeIdentity;
    /// Feed entries with `seq > since`, ascending, at most `limit`.
    fn feed_since(&self, since: u64, limit: usize) -> Result<Vec<FeedEntry>, ReplicaError>;
    /// The changes of a document after `base` (the heads a peer holds): `save_after` of the base
    /// heads this node has, or a full save when there is no base or none of it is known here.
    /// `None` when the document is not held.
    fn payload(&self, doc: Uuid, base: Option<&Heads>) -> Result<Option<DocPayload>, ReplicaError>;
    /// A document's heads, `None` when not held.
    fn heads(&self, doc: Uuid) -> Result<Option<Heads>, ReplicaError>;
    /// The heads a peer is known to hold durably for a document.
    fn peer_heads(&self, peer: NodeId, doc: Uuid) -> Result<Option<Heads>, ReplicaError>;
    /// The durable checkpoint for a peer (default when never synced).
    fn peer_state(&self, peer: NodeId) -> Result<PeerCheckpoint, ReplicaError>;
    /// Durably merges payloads (each: merge into the stored document, check its meta against its
    /// content, run the merge-time invariants, bump the feed when it changed), records learned peer
    /// heads and the new checkpoint, all in one durable batch. All or nothing.
    fn apply(&mut self, batch: ApplyBatch) -> Result<ApplyOutcome, ReplicaError>;
}

/// Why a sync step failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The frame could not be decoded (empty, unknown version, oversized, malformed, trailing bytes).
    #[error("bad frame: {0}")]
    Frame(#[from] crate::codec::CodecError),
    /// A frame of the wrong kind or for another request.
    #[error("unexpected frame: {0}")]
    UnexpectedFrame(String),
    /// The peer sent a document outside its write scope or our read scope; nothing was applied.
    #[error("document {doc} ({kind:?}, call center {call_center:?}) is outside the scope of node {peer}")]
    OutOfScope {
        /// The document.
        doc: Uuid,
        /// Its kind.
        kind: crate::doc::DocKind,
        /// Its call center.
        call_center: Option<CallCenterId>,
        /// The peer.
        peer: NodeId,
    },
    /// The peer refused our frame.
    #[error("peer refused: {code:?}: {message}")]
    Remote {
        /// Its error code.
        code: frames::ErrorCode,
        /// Its message.
        message: String,
    },
    /// A document kept failing to merge with missing dependencies.
    #[error("document {0} still misses dependencies after a full resend")]
    Stuck(Uuid),
    /// The replica failed.
    #[error(transparent)]
    Replica(#[from] ReplicaError),
}
