//! Wire frames. Two versions, told apart by the first byte:
//!
//! - version 1: `[1] ++ bincode(Frame)` (varint integers), what every node reads;
//! - version 2: `[2] ++ [method] ++ body`, where `method` 0 means `body` is `bincode(Frame)` as in
//!   version 1 and method 1 means `body` is one zstd frame of it, declaring its decompressed size
//!   (at most [`MAX_FRAME_BYTES`], checked before anything is decompressed, and then held to).
//!
//! Heads travel as raw 32-byte hashes and documents as automerge bytes, so a small edit costs its
//! change plus about 60 bytes of framing; version 2 compresses a batch of documents together.
//!
//! Negotiation is by the version byte alone: a responder answers in the version of the request
//! (see [`super::engine::respond`]), so a peer that only writes version 1 only ever reads
//! version 1. An initiator writes version 2 ([`WIRE_VERSION`]); a peer from before version 2
//! refuses such a request whole ("unknown encoding version 2"), before applying anything, and the
//! initiator sends the same request again in version 1
//! ([`super::engine::Initiator::downgrade`]).

use super::{DocPayload, Heads};
use crate::codec::{self, CodecError};
use crate::doc::{DocKind, DocMeta};
use automerge::ChangeHash;
use serde::{Deserialize, Serialize};
use switchboard_domain::CallCenterId;
use uuid::Uuid;

/// Frames larger than this are refused before decoding; in version 2, the decompressed body
/// too.
pub const MAX_FRAME_BYTES: u64 = 32 * 1024 * 1024;

/// Version 1: `[1] ++ bincode(Frame)`.
pub const FRAME_V1: u8 = codec::VERSION;
/// Version 2: `[2] ++ [method] ++ body`, the body optionally zstd-compressed.
pub const FRAME_V2: u8 = 2;
/// The version an initiator writes.
pub const WIRE_VERSION: u8 = FRAME_V2;

/// Version 2 method byte: the body is `bincode(Frame)`.
const METHOD_PLAIN: u8 = 0;
/// Version 2 method byte: the body is one zstd frame of `bincode(Frame)`.
const METHOD_ZSTD: u8 = 1;
/// Bodies shorter than this are not worth compressing (no-op and one-change sessions).
const COMPRESS_FROM: usize = 512;
/// zstd level: 3 (zstd's default) compresses a batch of orders at a few hundred MB/s.
const ZSTD_LEVEL: i32 = 3;

/// The batch size a sender aims for (one document larger than this still travels alone).
///
/// 1 MiB of documents: the receiver holds every document of a batch loaded (tens of times its
/// bytes on the wire) until the batch is durable, so this bounds a catch-up's memory. At 4 MiB
/// an HQ taking 100,000 realistic orders peaked at 309 MiB, at 1 MiB 201 MiB (BENCHMARKS.md).
/// A responder grants an initiator up to four times this, so an initiator from before (4 MiB)
/// still gets what it asks for.
pub const TARGET_FRAME_BYTES: usize = 1024 * 1024;

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

/// Encodes a frame in version 1.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    codec::encode(frame)
}

/// Encodes a frame in `version` ([`FRAME_V1`] or [`FRAME_V2`]; anything else is written as
/// version 1). In version 2 the body is compressed when that makes it smaller.
pub fn encode_frame_as(frame: &Frame, version: u8) -> Vec<u8> {
    let v1 = codec::encode(frame);
    if version == FRAME_V2 {
        to_v2(&v1)
    } else {
        v1
    }
}

/// The version 2 form of a version 1 frame (its bincode body compressed when that helps).
pub fn to_v2(v1: &[u8]) -> Vec<u8> {
    let body = v1.get(1..).unwrap_or_default();
    if body.len() >= COMPRESS_FROM {
        if let Ok(z) = compress(body) {
            if z.len() + 1 < body.len() {
                let mut out = Vec::with_capacity(z.len() + 2);
                out.extend_from_slice(&[FRAME_V2, METHOD_ZSTD]);
                out.extend_from_slice(&z);
                return out;
            }
        }
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    out.extend_from_slice(&[FRAME_V2, METHOD_PLAIN]);
    out.extend_from_slice(body);
    out
}

/// One zstd frame of `body` declaring its content size (the receiver checks it against its bound
/// before decompressing) and carrying a checksum of it.
fn compress(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut c = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    c.include_checksum(true)?;
    c.include_contentsize(true)?;
    c.compress(body)
}

/// The version byte of a frame (`None` for an empty one).
pub fn frame_version(bytes: &[u8]) -> Option<u8> {
    bytes.first().copied()
}

/// Decodes a frame of either version, refusing anything over [`MAX_FRAME_BYTES`] (compressed or
/// not) before decoding or decompressing it.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, CodecError> {
    if bytes.len() as u64 > MAX_FRAME_BYTES {
        return Err(CodecError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_FRAME_BYTES,
        });
    }
    match bytes.first() {
        Some(&FRAME_V2) => {}
        _ => return codec::decode(bytes, MAX_FRAME_BYTES),
    }
    match bytes.get(1) {
        Some(&METHOD_PLAIN) => codec::decode_body(&bytes[2..], MAX_FRAME_BYTES),
        Some(&METHOD_ZSTD) => {
            let body = decompress_bounded(&bytes[2..], MAX_FRAME_BYTES)?;
            codec::decode_body(&body, MAX_FRAME_BYTES)
        }
        Some(m) => Err(CodecError::Malformed(format!(
            "unknown frame compression method {m}"
        ))),
        None => Err(CodecError::Malformed("truncated frame header".into())),
    }
}

/// Decompresses one zstd frame whose header declares a content size of at most `limit`: the
/// output buffer is that size and decompression fails rather than grow it, so a hostile body
/// (a lying size, several frames, a bomb) costs at most `limit` bytes. Single-shot
/// decompression writes into that buffer directly, so no window is allocated besides it.
fn decompress_bounded(z: &[u8], limit: u64) -> Result<Vec<u8>, CodecError> {
    let malformed = |what: &str| CodecError::Malformed(format!("compressed frame: {what}"));
    let declared = match zstd::zstd_safe::get_frame_content_size(z) {
        Ok(Some(n)) => n,
        Ok(None) => return Err(malformed("no declared size")),
        Err(_) => return Err(malformed("not a zstd frame")),
    };
    if declared > limit {
        return Err(CodecError::TooLarge {
            size: declared,
            limit,
        });
    }
    let cap = usize::try_from(declared).map_err(|_| malformed("declared size"))?;
    let out = zstd::bulk::Decompressor::new()
        .and_then(|mut d| d.decompress(z, cap))
        .map_err(|e| malformed(&e.to_string()))?;
    if out.len() != cap {
        return Err(malformed("size differs from the declared one"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
