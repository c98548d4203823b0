//! The HTTP transport of sync, over TLS 1.3 with client certificates: `POST /sync/v1/hello`
//! confirms identities and scope, `POST /sync/v1/frame` carries one engine frame each way.
//!
//! Who a peer is comes from TLS alone: this node dials a peer with a client configuration that
//! pins the peer's fingerprint ([`crate::tls::PinnedServer`]) and presents its own certificate;
//! the peers' listener accepts only certificates of peers an admin added
//! ([`crate::tls::PeerClients`]) and hands each request the fingerprint ([`PeerCert`]). Replay
//! protection is TLS's; nothing reads a clock. The peer's role and call centers are the ones the
//! admin declared: a hello that says otherwise is refused, and the engine is only ever given the
//! declared scope.
//!
//! The client half ([`SyncHub::post`], over [`crate::peer_client`]) reads an answer as a stream
//! capped at the largest frame (a misbehaving peer cannot make this node buffer more), all within
//! the request timeout. The
//! responder half first admits a request on its certificate and headers alone
//! ([`SyncHub::admit`]: a configured peer, a size within bounds, a share of the inbound byte
//! budget), then reads its body and answers it ([`SyncHub::answer_hello`],
//! [`SyncHub::answer_frame`]); the API layer (`crate::api::sync`) sends the [`Answer`] back.

use super::error::SyncError;
use super::replica::NodeReplica;
use super::SyncHub;
use crate::http_server::PeerCert;
use crate::peer_client::PeerClient;
use crate::store::records::PeerConfig;
use crate::tls::Fingerprint;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard_domain::{CallCenterId, NodeId};
use switchboard_sync::protocol::{self, PeerInfo, Role};

/// Path of the identity exchange.
pub const HELLO_PATH: &str = "/sync/v1/hello";
/// Path of the frame exchange.
pub const FRAME_PATH: &str = "/sync/v1/frame";

/// Largest `/sync/v1/hello` body or answer (a hello is a few hundred bytes of JSON).
pub const MAX_HELLO_BYTES: usize = 64 * 1024;
/// Largest frame body or answer.
pub const MAX_FRAME_BODY: usize = protocol::frames::MAX_FRAME_BYTES as usize;
/// Bytes of peer request bodies this node holds at once, all peers together: each request takes
/// its declared length (the largest frame when it declares none) before its body is read.
pub const INBOUND_BYTES: usize = 8 * MAX_FRAME_BODY;
/// How long a peer request waits for its share of [`INBOUND_BYTES`] before it is refused (429).
const INBOUND_WAIT: Duration = Duration::from_secs(10);
/// Longest the engine may take to answer one peer frame (its merge included) before the peer is
/// answered 503 ([`SyncError::AnswerTimeout`]): well within the peer's own request timeout, so
/// a responder never leaves a peer's session waiting on this node's store.
pub const ANSWER_LIMIT: Duration = Duration::from_secs(30);

/// The largest body a peer endpoint takes.
pub fn body_limit(path: &str) -> usize {
    if path == HELLO_PATH {
        MAX_HELLO_BYTES
    } else {
        MAX_FRAME_BODY
    }
}

/// Identities exchanged by `/sync/v1/hello`: the sender's internal node id (pinned on first
/// contact), and the scope it believes it has, which must be the scope declared for it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The node's internal id.
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// Site or HQ.
    pub role: Role,
    /// Call centers it serves.
    pub call_centers: Vec<CallCenterId>,
    /// The node id (certificate fingerprint) it will present once its key rotation is done
    /// (`switchboard node rotate-key`): said over the link authenticated by the current one, so
    /// the receiver records it as a second accepted node id of this peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_node_id: Option<Fingerprint>,
}

/// A successful answer to a peer's request: sent with status 200 and the content type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    /// `application/json` (hello) or `application/octet-stream` (frame).
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
}

/// A peer request admitted on its certificate and headers ([`SyncHub::admit`]): the peer it
/// comes from, and its share of the inbound byte budget (held until dropped); its body may be
/// read up to `limit` bytes.
#[derive(Debug)]
pub struct Admitted {
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// The peer, as configured here.
    pub peer: PeerConfig,
    /// The most body bytes to read: the declared length, or the endpoint's limit.
    pub limit: usize,
}

/// Sorted and without repeats: call centers compare as sets.
fn set(ccs: &[CallCenterId]) -> Vec<CallCenterId> {
    let mut v = ccs.to_vec();
    v.sort();
    v.dedup();
    v
}

impl SyncHub {
    /// This node's hello.
    pub(super) fn my_hello(&self) -> Hello {
        let m = &self.app.identity;
        Hello {
            node_id: m.node_id,
            name: m.name.clone(),
            role: m.role,
            call_centers: m.call_centers.clone(),
            next_node_id: self.next_fingerprint,
        }
    }

    /// The pinned client of a peer (made on first use, kept while the peer keeps its node ids):
    /// it accepts the peer's node id and the next one it announced.
    fn client(&self, fp: Fingerprint, next: Option<Fingerprint>) -> Result<PeerClient, SyncError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&(fp, next)) {
            return Ok(c.clone());
        }
        let pins = std::iter::once(fp).chain(next).collect();
        let c = crate::peer_client::peer_client_any(&self.app.node_key, pins)?;
        clients.insert((fp, next), c.clone());
        Ok(c)
    }

    /// Drops the pooled client of a peer (and with it its idle connections), so that the next
    /// session dials afresh.
    pub(super) fn forget_client(&self, peer: &PeerConfig) {
        if let Some(fp) = peer.fingerprint {
            let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
            clients.retain(|(pinned, _), _| *pinned != fp);
        }
    }

    /// Sends one request to a peer over its pinned TLS link and reads the answer, all within
    /// the request timeout.
    pub(super) async fn post(
        &self,
        peer: &PeerConfig,
        path: &str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, SyncError> {
        let Some(fp) = peer.fingerprint.filter(|_| peer.usable()) else {
            return Err(SyncError::NotAddedByNodeId {
                peer: peer.name.clone(),
            });
        };
        let client = self.client(fp, peer.next_fingerprint)?;
        let url = format!("{}{}", peer.url.trim_end_matches('/'), path);
        crate::peer_client::exchange(&client, &peer.name, &url, body, body_limit(path)).await
    }

    /// The configured peer a request's client certificate belongs to (401 otherwise: a peer
    /// removed since its handshake, or a request that did not come over the peers' listener).
    async fn peer_of(&self, cert: Option<PeerCert>) -> Result<PeerConfig, SyncError> {
        let PeerCert(fp) = cert.ok_or(SyncError::UnknownPeer)?;
        let peer = self
            .peers()
            .await?
            .into_iter()
            .find(|p| p.accepts(&fp))
            .ok_or(SyncError::UnknownPeer)?;
        if peer.fingerprint == Some(fp) {
            return Ok(peer);
        }
        // The peer finished the rotation it announced: its next node id becomes the pinned
        // one, and the old one is no longer accepted.
        let mut rotated = peer;
        rotated.fingerprint = Some(fp);
        rotated.next_fingerprint = None;
        self.put_peer(rotated.clone()).await?;
        tracing::info!(peer = %rotated.name, node_id = %fp, "peer rotated its key to the node id it announced");
        Ok(rotated)
    }

    /// Admits a peer request before its body is read (`content_length`: its `Content-Length`,
    /// `Some(None)` when the header does not parse): a client certificate of a configured peer
    /// (else [`SyncError::UnknownPeer`]), a declared length within the endpoint's limit (else
    /// [`SyncError::BodyTooLarge`]) and a share of [`INBOUND_BYTES`] (waiting up to
    /// `INBOUND_WAIT`, else [`SyncError::Busy`]).
    pub async fn admit(
        &self,
        cert: Option<PeerCert>,
        content_length: Option<Option<u64>>,
        path: &str,
    ) -> Result<Admitted, SyncError> {
        let peer = self.peer_of(cert).await?;
        let limit = body_limit(path);
        // A length header that does not parse counts as too large.
        let declared = match content_length {
            None => None,
            Some(v) => Some(v.ok_or(SyncError::BodyTooLarge { limit })?),
        };
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(SyncError::BodyTooLarge { limit });
        }
        let want = declared.map_or(limit, |n| n as usize).max(1);
        let permits = u32::try_from(want).unwrap_or(u32::MAX);
        let permit = tokio::time::timeout(
            INBOUND_WAIT,
            self.inbound.clone().acquire_many_owned(permits),
        )
        .await
        .map_err(|_| SyncError::Busy)?
        .map_err(|_| SyncError::Busy)?;
        Ok(Admitted {
            _permit: permit,
            peer,
            limit: want,
        })
    }

    /// Checks a peer's hello against what the admin declared for it and pins its internal id
    /// on first contact (refusing one that changed, or that is this node's own).
    pub(super) async fn confirm(
        &self,
        peer: &PeerConfig,
        h: &Hello,
    ) -> Result<PeerConfig, SyncError> {
        let (Some(role), Some(ccs)) = (peer.role, peer.call_centers.as_ref()) else {
            return Err(SyncError::NotAddedByNodeId {
                peer: peer.name.clone(),
            });
        };
        if h.role != role {
            return Err(SyncError::RoleMismatch {
                peer: peer.name.clone(),
                claimed: h.role,
                declared: role,
            });
        }
        if set(&h.call_centers) != set(ccs) {
            return Err(SyncError::CallCentersMismatch {
                peer: peer.name.clone(),
            });
        }
        if h.node_id == self.app.identity.node_id {
            return Err(SyncError::NodeChanged {
                peer: peer.name.clone(),
                claimed: h.node_id,
                pinned: None,
            });
        }
        // A next node id announced over this authenticated link is recorded beside the pinned
        // one (a rotation under way); one equal to the pinned id means nothing.
        let announced = h.next_node_id.filter(|n| Some(*n) != peer.fingerprint);
        if announced.is_some() && announced != peer.next_fingerprint {
            let mut p = peer.clone();
            p.next_fingerprint = announced;
            if p.node_id.is_none() {
                p.node_id = Some(h.node_id);
            }
            if p.node_id == Some(h.node_id) {
                self.put_peer(p.clone()).await?;
                tracing::info!(peer = %p.name, next = ?announced, "peer announced its next node id");
                return Ok(p);
            }
        }
        match peer.node_id {
            Some(pinned) if pinned == h.node_id => Ok(peer.clone()),
            Some(pinned) => Err(SyncError::NodeChanged {
                peer: peer.name.clone(),
                claimed: h.node_id,
                pinned: Some(pinned),
            }),
            None => {
                let mut p = peer.clone();
                p.node_id = Some(h.node_id);
                self.put_peer(p.clone()).await?;
                Ok(p)
            }
        }
    }

    /// Answers a peer's `POST /sync/v1/hello`: its scope must be the declared one; its internal
    /// id is pinned on first contact; the answer is this node's hello.
    pub async fn answer_hello(
        &self,
        admitted: &Admitted,
        body: &[u8],
    ) -> Result<Answer, SyncError> {
        let theirs: Hello = serde_json::from_slice(body).map_err(SyncError::MalformedHello)?;
        if let Err(e) = self.confirm(&admitted.peer, &theirs).await {
            tracing::warn!(peer = %admitted.peer.name, error = %e, "refused a peer's hello");
            return Err(e);
        }
        let mine = serde_json::to_vec(&self.my_hello()).map_err(SyncError::Encode)?;
        Ok(Answer {
            content_type: "application/json",
            body: mine,
        })
    }

    /// Answers a peer's `POST /sync/v1/frame`: the engine answers the frame within the scope
    /// declared for the peer (merging what it sent).
    pub async fn answer_frame(
        &self,
        admitted: &Admitted,
        body: impl AsRef<[u8]> + Send + 'static,
    ) -> Result<Answer, SyncError> {
        let peer = admitted.peer.clone();
        let (Some(node_id), Some(role), Some(ccs)) =
            (peer.node_id, peer.role, peer.call_centers.clone())
        else {
            return Err(SyncError::Unidentified);
        };
        let info = PeerInfo {
            node_id,
            role,
            call_centers: ccs,
        };
        let mut replica = NodeReplica::new(self.app.clone());
        let span = tracing::info_span!("sync_respond", peer = %peer.name);
        let answering = tokio::task::spawn_blocking(move || {
            span.in_scope(|| protocol::respond(&mut replica, &info, body.as_ref()))
        });
        // Past the limit the peer gets its answer (503) at once; a merge already under way
        // finishes whole on its own, and the peer's next session finds it done.
        let Ok(answer) = tokio::time::timeout(ANSWER_LIMIT, answering).await else {
            tracing::warn!(peer = %peer.name, limit_secs = ANSWER_LIMIT.as_secs(), "could not answer a sync frame in time");
            return Err(SyncError::AnswerTimeout {
                limit_secs: ANSWER_LIMIT.as_secs(),
            });
        };
        let answer = answer?;
        match answer {
            Ok(bytes) => Ok(Answer {
                content_type: "application/octet-stream",
                body: bytes,
            }),
            Err(e) => {
                tracing::warn!(peer = %peer.name, error = %e, "refused a sync frame");
                metrics::counter!("switchboard_sync_errors_total", "peer" => peer.name.clone())
                    .increment(1);
                Err(SyncError::Protocol(e))
            }
        }
    }
}

pub use crate::peer_client::{head_only_as, post_as, RawAnswer};
