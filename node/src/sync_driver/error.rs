//! [`SyncError`]: why a sync session with a peer failed (this node initiating), or why this node
//! refused a peer's request (this node answering). Its text is what users see: the
//! `last_error` of `GET /api/v1/sync/status`, the `error` of `POST /api/v1/sync`, and the
//! `detail` of the problem a refused peer gets. The API layer maps it to HTTP statuses, once
//! (`crate::api::sync`).

use crate::error::NodeError;
use crate::peer_auth::AuthError;
use switchboard_domain::NodeId;
use switchboard_sync::protocol::{self, Role};

/// Which half of a request to a peer broke off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Connecting or sending: no answer came.
    Send,
    /// Reading the answer's body.
    Answer,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stage::Send => "peer unreachable",
            Stage::Answer => "reading the answer",
        })
    }
}

/// A failed sync session, or a refused peer request.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    // Reaching the peer (this node initiates).
    /// The connection failed, or the answer broke off.
    #[error("{stage}: {error}")]
    Unreachable {
        /// Where it broke off.
        stage: Stage,
        /// The HTTP client's error.
        error: reqwest::Error,
    },
    /// The peer did not connect or answer within the client's timeouts.
    #[error("{stage}: {error}")]
    Timeout {
        /// Where time ran out.
        stage: Stage,
        /// The HTTP client's error.
        error: reqwest::Error,
    },
    /// The peer refused this node's credentials (401 or 403).
    #[error("peer answered {status}: {detail}")]
    AuthRefused {
        /// The peer's status.
        status: reqwest::StatusCode,
        /// The peer's `detail` (or the start of its body).
        detail: String,
    },
    /// The peer answered another error status.
    #[error("peer answered {status}: {detail}")]
    Remote {
        /// The peer's status.
        status: reqwest::StatusCode,
        /// The peer's `detail` (or the start of its body).
        detail: String,
    },
    /// The answer carries no node id or signature header.
    #[error("unsigned answer")]
    UnsignedAnswer,
    /// The answer's signature does not verify with the peer's secret.
    #[error("answer signature: {0}")]
    AnswerSignature(AuthError),
    /// The answer's node id header does not parse.
    #[error("bad node id in answer")]
    AnswerNodeId,
    /// The answer comes from another node than the one pinned or first heard.
    #[error("peer is node {got}, expected {expected}")]
    WrongNode {
        /// The node that answered.
        got: NodeId,
        /// The node expected.
        expected: NodeId,
    },
    /// The peer has no secret here (this node was restored from a backup made without keys).
    #[error("peer {peer} has no secret (restored from a backup without keys): add it again with its secret (switchboard peers add)")]
    NoSecret {
        /// The peer's name.
        peer: String,
    },
    /// The peer's answer is larger than any answer may be; it was not read further.
    #[error("the answer is larger than {limit} bytes")]
    AnswerTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// The peer's answer to `/sync/v1/hello` is not a hello.
    #[error("bad hello answer: {0}")]
    HelloAnswer(serde_json::Error),
    /// The session needed more round trips than one session may take.
    #[error("session did not finish in {0} round trips")]
    TooManyRounds(usize),
    /// This node's own hello could not be encoded.
    #[error("{0}")]
    Encode(serde_json::Error),

    // Authenticating a peer's request (this node answers).
    /// A signature header is missing.
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    /// The node id header does not parse.
    #[error("malformed node id")]
    MalformedNodeId,
    /// The timestamp header does not parse.
    #[error("malformed timestamp")]
    MalformedTimestamp,
    /// No configured peer's secret verifies the signature.
    #[error("unknown peer or bad signature")]
    UnknownPeer,
    /// A stale timestamp or a nonce seen before.
    #[error("{0}")]
    Replay(AuthError),
    /// The body of a `/sync/v1/hello` is not a hello.
    #[error("{0}")]
    MalformedHello(serde_json::Error),
    /// A request body larger than the endpoint takes (or with an unreadable length).
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit, bytes.
        limit: usize,
    },
    /// Peer requests already hold every byte this node buffers for them; retry shortly.
    #[error("too many peer requests in flight on this node, retry shortly")]
    Busy,
    /// A frame from a peer whose identity is not known yet.
    #[error("unknown peer identity: POST /sync/v1/hello first")]
    Unidentified,

    // Either side.
    /// A hello whose node id is not the one that signed it.
    #[error("hello names another node than its signature")]
    HelloMismatch,
    /// The peer is another node than the one pinned on first contact.
    #[error("peer {peer} is node {claimed}, not the pinned {pinned}")]
    NodeChanged {
        /// The peer's name.
        peer: String,
        /// The node it claims to be.
        claimed: NodeId,
        /// The node pinned.
        pinned: NodeId,
    },
    /// The peer claims another role than the one pinned.
    #[error("peer {peer} now claims role {claimed:?}, pinned {pinned:?}")]
    RoleChanged {
        /// The peer's name.
        peer: String,
        /// The role it claims.
        claimed: Role,
        /// The role pinned.
        pinned: Role,
    },
    /// The peer claims other call centers than the ones pinned.
    #[error("peer {peer} now claims other call centers than pinned")]
    CallCentersChanged {
        /// The peer's name.
        peer: String,
    },
    /// The sync engine refused a frame, or the store refused a merge.
    #[error(transparent)]
    Protocol(#[from] protocol::SyncError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] NodeError),
    /// A blocking task of the session panicked or was cancelled.
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    /// `POST /api/v1/sync?peer=NAME` names no configured peer.
    #[error("no peer named {0}")]
    NoSuchPeer(String),
}

impl SyncError {
    /// A transport error of the HTTP client, at `stage`.
    pub(super) fn transport(stage: Stage, error: reqwest::Error) -> Self {
        if error.is_timeout() {
            SyncError::Timeout { stage, error }
        } else {
            SyncError::Unreachable { stage, error }
        }
    }

    /// Whether the peer answered at all before the session failed (the `reachable` of
    /// `GET /api/v1/sync/status`).
    pub fn reached(&self) -> bool {
        !matches!(
            self,
            SyncError::Unreachable { .. }
                | SyncError::Timeout { .. }
                | SyncError::Encode(_)
                | SyncError::NoSecret { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_users_see() {
        let node: NodeId = "00000000-0000-0000-0000-000000000001".parse().expect("id");
        let other: NodeId = "00000000-0000-0000-0000-000000000002".parse().expect("id");
        let cases: Vec<(SyncError, &str)> = vec![
            (
                SyncError::AuthRefused {
                    status: reqwest::StatusCode::UNAUTHORIZED,
                    detail: "unknown peer or bad signature".into(),
                },
                "peer answered 401 Unauthorized: unknown peer or bad signature",
            ),
            (SyncError::UnsignedAnswer, "unsigned answer"),
            (
                SyncError::AnswerSignature(AuthError::BadSignature),
                "answer signature: bad signature",
            ),
            (
                SyncError::WrongNode {
                    got: node,
                    expected: other,
                },
                "peer is node 00000000-0000-0000-0000-000000000001, expected 00000000-0000-0000-0000-000000000002",
            ),
            (
                SyncError::RoleChanged {
                    peer: "north".into(),
                    claimed: Role::Hq,
                    pinned: Role::Site,
                },
                "peer north now claims role Hq, pinned Site",
            ),
            (
                SyncError::TooManyRounds(10_000),
                "session did not finish in 10000 round trips",
            ),
            (
                SyncError::MissingHeader(crate::peer_auth::H_NODE),
                "missing x-switchboard-node header",
            ),
            (
                SyncError::NoSuchPeer("west".into()),
                "no peer named west",
            ),
        ];
        for (e, text) in cases {
            assert!(e.reached(), "{e:?}");
            assert_eq!(e.to_string(), text);
        }
        // A peer restored without its secret is never contacted: the session says why.
        let e = SyncError::NoSecret { peer: "hq".into() };
        assert!(!e.reached());
        assert_eq!(
            e.to_string(),
            "peer hq has no secret (restored from a backup without keys): add it again with its secret (switchboard peers add)"
        );
        assert_eq!(
            SyncError::AnswerTooLarge { limit: 65536 }.to_string(),
            "the answer is larger than 65536 bytes"
        );
    }
}
