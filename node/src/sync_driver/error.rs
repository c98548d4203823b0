//! [`SyncError`]: why a sync session with a peer failed (this node initiating), or why this node
//! refused a peer's request (this node answering). Its text is what users see: the
//! `last_error` of `GET /api/v1/sync/status`, the `error` of `POST /api/v1/sync`, and the
//! `detail` of the problem a refused peer gets. The API layer maps it to HTTP statuses, once
//! (`crate::api::sync`).

use crate::error::NodeError;
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
    /// The connection or the TLS handshake failed (a peer whose certificate is not the pinned
    /// one ends here), or the answer broke off.
    #[error("{stage}: {error}")]
    Unreachable {
        /// Where it broke off.
        stage: Stage,
        /// What the HTTP client said, with its causes.
        error: String,
    },
    /// The peer did not answer (body included) within the request timeout.
    #[error("no answer within {limit_secs} seconds")]
    Timeout {
        /// The limit, seconds.
        limit_secs: u64,
    },
    /// The whole session (waiting for one already running with the peer included) did not end
    /// within the session timeout.
    #[error("the session did not end within {limit_secs} seconds (sync_session_timeout_secs)")]
    SessionTimeout {
        /// The limit, seconds.
        limit_secs: u64,
    },
    /// The peer refused this node (401 or 403).
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
    /// A peer of contract v1 (a shared secret, no node id): not contacted until added again.
    #[error("peer {peer} was added with a shared secret, which no longer authenticates: add it again by node id (switchboard peers add --node-id …)")]
    NotAddedByNodeId {
        /// The peer's name.
        peer: String,
    },
    /// The peer's URL does not make a request.
    #[error("peer {peer} has an unusable URL: {error}")]
    BadUrl {
        /// The peer's name.
        peer: String,
        /// Why.
        error: String,
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

    // A peer's request (this node answers).
    /// The request carries no client certificate of a peer added here.
    #[error("not a peer of this node: add it by node id first")]
    UnknownPeer,
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
    /// This node could not answer a peer's frame in time (its store busy): the peer's session
    /// ends with this error and retries later (what the frame carried is merged whole or not at all).
    #[error("could not answer the frame within {limit_secs} seconds, retry later")]
    AnswerTimeout {
        /// The limit, seconds.
        limit_secs: u64,
    },
    /// A frame from a peer whose identity is not known yet.
    #[error("unknown peer identity: POST /sync/v1/hello first")]
    Unidentified,

    // Either side.
    /// The peer's hello names another internal node id than the one pinned (or this node's).
    #[error("peer {peer} says it is node {claimed}, {}", match pinned { Some(p) => format!("pinned {p}"), None => "which is this node".to_string() })]
    NodeChanged {
        /// The peer's name.
        peer: String,
        /// The node it claims to be.
        claimed: NodeId,
        /// The node pinned (`None`: it claimed this node's id).
        pinned: Option<NodeId>,
    },
    /// The peer's hello claims another role than the one declared for it.
    #[error("peer {peer} says its role is {claimed}, declared {declared}")]
    RoleMismatch {
        /// The peer's name.
        peer: String,
        /// The role it claims.
        claimed: Role,
        /// The role declared by the admin.
        declared: Role,
    },
    /// The peer's hello claims other call centers than the ones declared for it.
    #[error("peer {peer} says it serves other call centers than declared")]
    CallCentersMismatch {
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
    /// Whether the peer answered at all before the session failed (the `reachable` of
    /// `GET /api/v1/sync/status`).
    pub fn reached(&self) -> bool {
        !matches!(
            self,
            SyncError::Unreachable { .. }
                | SyncError::Timeout { .. }
                | SyncError::Encode(_)
                | SyncError::NotAddedByNodeId { .. }
                | SyncError::BadUrl { .. }
        )
    }
}

impl SyncError {
    /// Whether the failure came from the link to the peer (no answer, a broken or timed-out
    /// exchange, an error status from its server) rather than from what was said over it.
    pub fn is_transport(&self) -> bool {
        match self {
            SyncError::Unreachable { .. }
            | SyncError::Timeout { .. }
            | SyncError::SessionTimeout { .. }
            | SyncError::AnswerTooLarge { .. } => true,
            SyncError::Remote { status, .. } => status.is_server_error(),
            _ => false,
        }
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
                    detail: "not a peer of this node: add it by node id first".into(),
                },
                "peer answered 401 Unauthorized: not a peer of this node: add it by node id first",
            ),
            (
                SyncError::NodeChanged {
                    peer: "north".into(),
                    claimed: node,
                    pinned: Some(other),
                },
                "peer north says it is node 00000000-0000-0000-0000-000000000001, pinned 00000000-0000-0000-0000-000000000002",
            ),
            (
                SyncError::NodeChanged {
                    peer: "north".into(),
                    claimed: node,
                    pinned: None,
                },
                "peer north says it is node 00000000-0000-0000-0000-000000000001, which is this node",
            ),
            (
                SyncError::RoleMismatch {
                    peer: "north".into(),
                    claimed: Role::Hq,
                    declared: Role::Site,
                },
                "peer north says its role is hq, declared site",
            ),
            (
                SyncError::TooManyRounds(10_000),
                "session did not finish in 10000 round trips",
            ),
            (SyncError::NoSuchPeer("west".into()), "no peer named west"),
        ];
        for (e, text) in cases {
            assert!(e.reached(), "{e:?}");
            assert_eq!(e.to_string(), text);
        }
        // A contract v1 peer is never contacted: the session says why.
        let e = SyncError::NotAddedByNodeId { peer: "hq".into() };
        assert!(!e.reached());
        assert_eq!(
            e.to_string(),
            "peer hq was added with a shared secret, which no longer authenticates: add it again by node id (switchboard peers add --node-id …)"
        );
        assert_eq!(
            SyncError::AnswerTooLarge { limit: 65536 }.to_string(),
            "the answer is larger than 65536 bytes"
        );
        assert!(!SyncError::Timeout { limit_secs: 60 }.reached());
    }
}
