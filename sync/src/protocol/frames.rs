//! Wire frames: `[codec::VERSION] ++ bincode(Frame)` (varint integers). Heads travel as raw
//! 32-byte hashes and documents as `save_after` bytes, so a small edit costs its change plus about
//! 60 bytes of framing.

use super::{DocPayload, Heads};
use crate::codec::{self, CodecError};
use crate::doc::{DocKind, DocMeta};
use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use switchboard_domain::CallCenterId;
use uuid::Uuid;

/// Frames larger than this are refused before decoding.
pub const MAX_FRAME_BYTES: u64 = 32 * 1024 * 1024;

/// The batch size a sender aims for (one document larger than this still travels alone).
pub const TARGET_FRAME_BYTES: usize = 4 * 1024 * 1024;

/// A frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// Initiator → responder.
    Request(SyncRequest),
    /// Responder → initiator.
    Response(SyncResponse),
    /// Either way: the frame was refused and nothing of it applied.
    Error(ErrorFrame),
}

/// One request of a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncRequest {
    /// Chosen by the initiator; echoed in the response.
    pub session: u64,
    /// Request number within the session; echoed, so stale duplicates are recognised.
    pub n: u32,
    /// The initiator's feed epoch (a new one tells the responder the initiator was restored).
    pub epoch: Uuid,
    /// Documents pushed (changes after the heads the responder is known to hold).
    pub push: Vec<WireDoc>,
    /// Heads the initiator now holds durably (replacing what the responder knew).
    pub acks: Vec<WireHeads>,
    /// Where to pull from in the responder's feed; `None` when the pull is finished.
    pub pull: Option<PullSince>,
    /// Byte budget for the response.
    pub max_bytes: u32,
}

/// A pull position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullSince {
    /// The responder's feed epoch the position belongs to (`None`: never pulled).
    pub epoch: Option<Uuid>,
    /// The last seq received.
    pub seq: u64,
}

/// A response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncResponse {
    /// Echo of the request.
    pub session: u64,
    /// Echo of the request.
    pub n: u32,
    /// One result per pushed document, in order.
    pub pushed: Vec<PushResult>,
    /// The pulled batch, when the request asked.
    pub pull: Option<PullBatch>,
}

/// What became of a pushed document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PushResult {
    /// Merged durably.
    Applied,
    /// Its changes depend on changes the responder lacks: resend after these heads (the
    /// responder's), or in full.
    Missing(Vec<[u8; 32]>),
}

/// A batch of the responder's feed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullBatch {
    /// The responder's feed epoch.
    pub epoch: Uuid,
    /// Changed documents, in feed order.
    pub docs: Vec<PulledDoc>,
    /// The feed position this batch covers (skipped entries included).
    pub next_seq: u64,
    /// Whether the feed has more.
    pub more: bool,
}

/// A pulled document with its feed seq.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PulledDoc {
    /// Its seq in the responder's feed.
    pub seq: u64,
    /// The changes.
    pub doc: WireDoc,
}

/// A document's heads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireHeads {
    /// The document.
    pub doc: Uuid,
    /// Its heads.
    pub heads: Vec<[u8; 32]>,
}

/// The kind of a document, on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WireKind {
    /// An order.
    Order,
    /// A customer.
    Customer,
    /// A call center's configuration.
    CallCenter,
    /// The product catalog.
    Catalog,
}

/// A document's changes, on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireDoc {
    /// The document.
    pub doc: Uuid,
    /// Its kind.
    pub kind: WireKind,
    /// Its call center.
    pub call_center: Option<CallCenterId>,
    /// The sender's heads.
    pub heads: Vec<[u8; 32]>,
    /// `save_after` or full save bytes.
    pub changes: Vec<u8>,
}

/// Why a frame was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorCode {
    /// Not decodable, oversized, or of an unknown version.
    Malformed,
    /// A frame of the wrong kind.
    Unexpected,
    /// A document outside the sender's write scope or the receiver's read scope.
    OutOfScope,
    /// A document whose content was refused.
    Refused,
    /// The receiver failed.
    Internal,
}

/// An error frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorFrame {
    /// The session it answers (0 when unknown).
    pub session: u64,
    /// The code.
    pub code: ErrorCode,
    /// A sentence.
    pub message: String,
}

/// Raw heads for the wire.
pub fn heads_to_wire(heads: &Heads) -> Vec<[u8; 32]> {
    heads.iter().map(|h| h.0).collect()
}

/// Heads from the wire.
pub fn heads_from_wire(heads: &[[u8; 32]]) -> Heads {
    let mut h: Heads = heads.iter().map(|b| ChangeHash(*b)).collect();
    h.sort_unstable();
    h
}

impl WireKind {
    fn from_kind(k: DocKind) -> Self {
        match k {
            DocKind::Order => WireKind::Order,
            DocKind::Customer => WireKind::Customer,
            DocKind::CallCenter => WireKind::CallCenter,
            DocKind::Catalog => WireKind::Catalog,
        }
    }

    fn to_kind(self) -> DocKind {
        match self {
            WireKind::Order => DocKind::Order,
            WireKind::Customer => DocKind::Customer,
            WireKind::CallCenter => DocKind::CallCenter,
            WireKind::Catalog => DocKind::Catalog,
        }
    }
}

impl WireDoc {
    /// The wire form of a payload.
    pub fn from_payload(p: DocPayload) -> Self {
        WireDoc {
            doc: p.doc,
            kind: WireKind::from_kind(p.meta.kind),
            call_center: p.meta.call_center,
            heads: heads_to_wire(&p.heads),
            changes: p.changes,
        }
    }

    /// The meta it declares.
    pub fn meta(&self) -> DocMeta {
        DocMeta {
            kind: self.kind.to_kind(),
            call_center: self.call_center.clone(),
        }
    }

    /// Back to a payload.
    pub fn into_payload(self) -> DocPayload {
        DocPayload {
            meta: self.meta(),
            doc: self.doc,
            heads: heads_from_wire(&self.heads),
            changes: self.changes,
        }
    }

    /// Roughly what it costs on the wire.
    pub fn wire_size(&self) -> usize {
        self.changes.len() + self.heads.len() * 32 + 48
    }
}

/// Encodes a frame.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    codec::encode(frame)
}

/// Decodes a frame, refusing anything over [`MAX_FRAME_BYTES`].
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, CodecError> {
    codec::decode(bytes, MAX_FRAME_BYTES)
}
