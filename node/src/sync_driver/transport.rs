//! The HTTP transport of sync: `POST /sync/v1/hello` exchanges identities (node id, role, call
//! centers; pinned on first contact), `POST /sync/v1/frame` carries one engine frame each way.
//! Both requests and their answers are signed with the per-peer secret ([`crate::peer_auth`]).
//!
//! The client half (`SyncHub::post`) sends a signed request and checks the signed answer: its
//! headers before its body, and the body read as a stream capped at the largest frame (a
//! misbehaving peer cannot make this node buffer more). The responder half first admits a request
//! on its headers alone ([`SyncHub::admit`]: a plausible signer, a size within bounds, a share of
//! the inbound byte budget), then reads its body, authenticates it ([`SyncHub::answer_hello`],
//! [`SyncHub::answer_frame`]) and produces the [`SignedAnswer`] that the API layer
//! (`crate::api::sync`) sends back.

use super::error::{Stage, SyncError};
use super::replica::NodeReplica;
use super::{real_now_ms, SyncHub};
use crate::peer_auth::{self, RequestParts, H_NODE, H_NONCE, H_SIG, H_TS};
use crate::store::records::PeerConfig;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard_domain::{CallCenterId, NodeId};
use switchboard_sync::protocol::{self, PeerInfo, Role};

/// Path of the identity exchange.
pub const HELLO_PATH: &str = "/sync/v1/hello";
/// Path of the frame exchange.
pub const FRAME_PATH: &str = "/sync/v1/frame";

/// Longest a peer may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a connection to a peer may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest `/sync/v1/hello` body or answer (a hello is a few hundred bytes of JSON).
pub const MAX_HELLO_BYTES: usize = 64 * 1024;
/// Largest frame body or answer.
pub const MAX_FRAME_BODY: usize = protocol::frames::MAX_FRAME_BYTES as usize;
/// Largest error answer read from a peer (only its `detail` is kept).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Bytes of peer request bodies this node holds at once, all peers together: each request takes
/// its declared length (the largest frame when it declares none) before its body is read.
pub const INBOUND_BYTES: usize = 8 * MAX_FRAME_BODY;
/// How long a peer request waits for its share of [`INBOUND_BYTES`] before it is refused (429).
const INBOUND_WAIT: Duration = Duration::from_secs(30);

/// The largest body a peer endpoint takes.
pub fn body_limit(path: &str) -> usize {
    if path == HELLO_PATH {
        MAX_HELLO_BYTES
    } else {
        MAX_FRAME_BODY
    }
}

/// Reads an answer's body chunk by chunk, failing as soon as it grows past `limit` (or declares
/// a larger length up front).
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, SyncError> {
    let too_large = || SyncError::AnswerTooLarge { limit };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| SyncError::transport(Stage::Answer, e))?
    {
        if out.len() + chunk.len() > limit {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The HTTP client a hub sends its requests with.
pub(super) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .unwrap_or_default()
}

/// Identities exchanged by `/sync/v1/hello`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// Site or HQ.
    pub role: Role,
    /// Call centers it serves.
    pub call_centers: Vec<CallCenterId>,
}

/// A successful answer to a peer's request, signed for that peer: sent with status 200, the
/// content type, and the node id and signature in the [`H_NODE`] and [`H_SIG`] headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAnswer {
    /// `application/json` (hello) or `application/octet-stream` (frame).
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// This node's id.
    pub node: String,
    /// The signature of the body for the peer's request.
    pub signature: String,
}

/// A peer request admitted on its headers ([`SyncHub::admit`]): it holds its share of the
/// inbound byte budget until dropped, and its body may be read up to `limit` bytes.
#[derive(Debug)]
pub struct Admitted {
    _permit: tokio::sync::OwnedSemaphorePermit,
    /// The most body bytes to read: the declared length, or the endpoint's limit.
    pub limit: usize,
}

/// A peer request that passed authentication.
struct Authenticated {
    /// The configured peer whose secret verified it.
    peer: PeerConfig,
    /// The node id it was signed as.
    node: NodeId,
    /// Its nonce (the answer's signature covers it).
    nonce: String,
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
        }
    }

    fn sign_headers(&self, peer: &PeerConfig, path: &str, body: &[u8]) -> (HeaderMap, String) {
        let ts = real_now_ms();
        let nonce = hex::encode(rand::random::<[u8; 16]>());
        let node = self.app.identity.node_id.to_string();
        let sig = RequestParts {
            method: "POST",
            path,
            node: &node,
            ts,
            nonce: &nonce,
            body,
        }
        .sign(&peer.secret);
        let mut h = HeaderMap::new();
        let mut put = |k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        put(H_NODE, node);
        put(H_TS, ts.to_string());
        put(H_NONCE, nonce.clone());
        put(H_SIG, sig);
        (h, nonce)
    }

    /// Sends one signed request and checks the signed answer: its body and the node that sent
    /// it (which must be `expect_node`, or the pinned node, when either is known).
    pub(super) async fn post(
        &self,
        peer: &PeerConfig,
        path: &str,
        body: Vec<u8>,
        expect_node: Option<NodeId>,
    ) -> Result<(Vec<u8>, NodeId), SyncError> {
        if peer.secret.is_empty() {
            return Err(SyncError::NoSecret {
                peer: peer.name.clone(),
            });
        }
        let (headers, nonce) = self.sign_headers(peer, path, &body);
        let url = format!("{}{}", peer.url.trim_end_matches('/'), path);
        let resp = self
            .http
            .post(&url)
            .headers(headers)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| SyncError::transport(Stage::Send, e))?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = read_capped(resp, MAX_ERROR_BODY).await?;
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(match status {
                reqwest::StatusCode::UNAUTHORIZED | reqwest::StatusCode::FORBIDDEN => {
                    SyncError::AuthRefused { status, detail }
                }
                _ => SyncError::Remote { status, detail },
            });
        }
        // The headers first: an answer from another node, or unsigned, is not read at all.
        let h = resp.headers();
        let hdr = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let node = hdr(H_NODE).ok_or(SyncError::UnsignedAnswer)?;
        let sig = hdr(H_SIG).ok_or(SyncError::UnsignedAnswer)?;
        let node_id: NodeId = node.parse().map_err(|_| SyncError::AnswerNodeId)?;
        if let Some(expected) = expect_node.or(peer.node_id) {
            if expected != node_id {
                return Err(SyncError::WrongNode {
                    got: node_id,
                    expected,
                });
            }
        }
        let bytes = read_capped(resp, body_limit(path)).await?;
        peer_auth::verify_response(&peer.secret, &node, &nonce, &bytes, &sig)
            .map_err(SyncError::AnswerSignature)?;
        Ok((bytes, node_id))
    }

    /// Admits a peer request on its headers, before its body is read: a declared length within
    /// the endpoint's limit (else [`SyncError::BodyTooLarge`]), well-formed signature headers with
    /// a fresh timestamp from a node that some configured peer could be (else the errors
    /// [`SyncHub::authenticate`] gives), and a share of [`INBOUND_BYTES`] (waiting up to
    /// `INBOUND_WAIT`, else [`SyncError::Busy`]). The signature itself covers the body, so it is
    /// verified once the body is read.
    pub async fn admit(&self, headers: &HeaderMap, path: &str) -> Result<Admitted, SyncError> {
        let limit = body_limit(path);
        let declared = match headers.get(reqwest::header::CONTENT_LENGTH) {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .ok_or(SyncError::BodyTooLarge { limit })?,
            ),
        };
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(SyncError::BodyTooLarge { limit });
        }
        let hdr = |k: &'static str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .ok_or(SyncError::MissingHeader(k))
        };
        let node: NodeId = hdr(H_NODE)?
            .parse()
            .map_err(|_| SyncError::MalformedNodeId)?;
        let ts: i64 = hdr(H_TS)?
            .parse()
            .map_err(|_| SyncError::MalformedTimestamp)?;
        if (real_now_ms() - ts).abs() > peer_auth::REPLAY_WINDOW_MS {
            return Err(SyncError::Replay(peer_auth::AuthError::Stale));
        }
        let nonce = hdr(H_NONCE)?;
        if nonce.len() < 16 || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SyncError::Replay(peer_auth::AuthError::BadHeader(H_NONCE)));
        }
        let sig = hdr(H_SIG)?;
        if sig.len() != 64 || !sig.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SyncError::Replay(peer_auth::AuthError::BadHeader(H_SIG)));
        }
        let peers = self.peers().await?;
        let plausible = peers
            .iter()
            .any(|p| !p.secret.is_empty() && (p.node_id == Some(node) || p.node_id.is_none()));
        if !plausible {
            return Err(SyncError::UnknownPeer);
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
            limit: want,
        })
    }

    /// Authenticates a peer request: a known node id (or an unpinned peer whose secret verifies),
    /// a valid signature, a fresh timestamp and an unseen nonce.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<Authenticated, SyncError> {
        let hdr = |k: &'static str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or(SyncError::MissingHeader(k))
        };
        let node_s = hdr(H_NODE)?;
        let node: NodeId = node_s.parse().map_err(|_| SyncError::MalformedNodeId)?;
        let ts: i64 = hdr(H_TS)?
            .parse()
            .map_err(|_| SyncError::MalformedTimestamp)?;
        let nonce = hdr(H_NONCE)?;
        let sig = hdr(H_SIG)?;
        let peers = self.peers().await?;
        let pinned: Vec<&PeerConfig> = peers.iter().filter(|p| p.node_id == Some(node)).collect();
        let candidates: Vec<&PeerConfig> = if pinned.is_empty() {
            peers.iter().filter(|p| p.node_id.is_none()).collect()
        } else {
            pinned
        };
        // A peer without a secret (restored from a backup without keys) authenticates nobody.
        let candidates = candidates.into_iter().filter(|p| !p.secret.is_empty());
        let peer = candidates
            .into_iter()
            .find(|p| {
                let parts = RequestParts {
                    method: "POST",
                    path,
                    node: &node_s,
                    ts,
                    nonce: &nonce,
                    body,
                };
                parts.verify(&p.secret, &sig).is_ok()
            })
            .ok_or(SyncError::UnknownPeer)?
            .clone();
        self.replay
            .check(real_now_ms(), ts, &nonce)
            .map_err(SyncError::Replay)?;
        Ok(Authenticated { peer, node, nonce })
    }

    fn signed(
        &self,
        peer: &PeerConfig,
        nonce: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> SignedAnswer {
        let node = self.app.identity.node_id.to_string();
        let signature = peer_auth::sign_response(&peer.secret, &node, nonce, &body);
        SignedAnswer {
            content_type,
            body,
            node,
            signature,
        }
    }

    /// Answers a peer's `POST /sync/v1/hello`: authenticates it, pins the peer's identity on
    /// first contact (or refuses one that changed) and answers with this node's hello.
    pub async fn answer_hello(
        &self,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<SignedAnswer, SyncError> {
        let auth = self.authenticate(headers, HELLO_PATH, body).await?;
        let theirs: Hello = serde_json::from_slice(body).map_err(SyncError::MalformedHello)?;
        if theirs.node_id != auth.node {
            return Err(SyncError::HelloMismatch);
        }
        let peer = self.pin(&auth.peer, &theirs).await?;
        let mine = serde_json::to_vec(&self.my_hello()).map_err(SyncError::Encode)?;
        Ok(self.signed(&peer, &auth.nonce, "application/json", mine))
    }

    /// Answers a peer's `POST /sync/v1/frame`: authenticates it and lets the engine answer the
    /// frame within the peer's scope (merging what it sent).
    pub async fn answer_frame(
        &self,
        headers: &HeaderMap,
        body: impl AsRef<[u8]> + Send + 'static,
    ) -> Result<SignedAnswer, SyncError> {
        let auth = self
            .authenticate(headers, FRAME_PATH, body.as_ref())
            .await?;
        let peer = auth.peer;
        let (Some(node_id), Some(role)) = (peer.node_id, peer.role) else {
            return Err(SyncError::Unidentified);
        };
        let info = PeerInfo {
            node_id,
            role,
            call_centers: peer.call_centers.clone().unwrap_or_default(),
        };
        let mut replica = NodeReplica::new(self.app.clone());
        let span = tracing::info_span!("sync_respond", peer = %peer.name);
        let answer = tokio::task::spawn_blocking(move || {
            span.in_scope(|| protocol::respond(&mut replica, &info, body.as_ref()))
        })
        .await?;
        match answer {
            Ok(bytes) => Ok(self.signed(&peer, &auth.nonce, "application/octet-stream", bytes)),
            Err(e) => {
                tracing::warn!(peer = %peer.name, error = %e, "refused a sync frame");
                metrics::counter!("switchboard_sync_errors_total", "peer" => peer.name.clone())
                    .increment(1);
                Err(SyncError::Protocol(e))
            }
        }
    }
}
