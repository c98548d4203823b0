//! The sync driver: runs the `switchboard-sync` engine between this node and its peers over HTTP.
//!
//! - [`NodeReplica`] is the engine's IO boundary on this node: reads go straight to the store,
//!   merges go through the writer thread as one job (planned by the shared
//!   `switchboard_sync::protocol::apply::plan_apply`), so merged documents, the peer's heads and the
//!   new checkpoint become durable together, in the same group commit as agents' writes.
//! - [`SyncHub`] owns the peer links: a background loop starts a session with each peer when its
//!   [`PeerLink`] is due (interval when healthy, capped exponential backoff with jitter after a
//!   failure, sooner after local changes), and `POST /api/v1/sync` runs sessions on demand. Agent
//!   requests never wait on it.
//! - Transport: `POST /sync/v1/hello` exchanges identities (node id, role, call centers; pinned on
//!   first contact), `POST /sync/v1/frame` carries one engine frame each way. Both are signed with
//!   the per-peer secret ([`crate::peer_auth`]); responses are signed too.

use crate::api::error::ApiError;
use crate::config::NodeRole;
use crate::error::NodeError;
use crate::peer_auth::{self, ReplayGuard, RequestParts, H_NODE, H_NONCE, H_SIG, H_TS};
use crate::service::AppState;
use crate::store::records::{self, NodeMeta, PeerConfig, PeerErrorRecord, PeerState};
use crate::store::writer::WriteCtx;
use crate::store::{StoreExt, TreeId};
use automerge::Automerge;
use axum::body::Bytes;
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard_domain::order::SYSTEM_USER;
use switchboard_domain::{CallCenterId, CouponCode, NodeId, Timestamp};
use switchboard_sync::doc::{Author, DocMeta};
use switchboard_sync::protocol::apply::{payload_of, plan_apply, ApplySource};
use switchboard_sync::protocol::{
    self, ApplyBatch, ApplyOutcome, Backoff, DocPayload, FeedEntry, Heads, Initiator, NodeIdentity,
    PeerCheckpoint, PeerInfo, PeerLink, Replica, ReplicaError, Role, SessionReport, SyncError,
};
use uuid::Uuid;

/// Longest a peer may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Most requests one session may take (a session that needs more resumes next time).
const MAX_ROUNDS: usize = 10_000;

impl From<NodeError> for ReplicaError {
    fn from(e: NodeError) -> Self {
        ReplicaError::Store(e.to_string())
    }
}

fn role_of(r: NodeRole) -> Role {
    match r {
        NodeRole::Hq => Role::Hq,
        NodeRole::Site => Role::Site,
    }
}

/// This node's identity as the engine sees it.
pub fn node_identity(meta: &NodeMeta) -> NodeIdentity {
    NodeIdentity {
        node_id: meta.node_id,
        role: role_of(meta.role),
        call_centers: meta.call_centers.clone(),
        feed_epoch: meta.feed_epoch,
    }
}

fn checkpoint_key(peer: &NodeId) -> String {
    peer.to_string()
}

fn decode_checkpoint(state: Option<PeerState>) -> Result<PeerCheckpoint, NodeError> {
    state
        .map(|s| s.checkpoint())
        .transpose()
        .map(Option::unwrap_or_default)
}

fn real_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
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
    ) -> Result<Option<switchboard_domain::config::CallCenter>, ReplicaError> {
        Ok(self.app.configs.call_center(cc).map(|s| s.config.clone()))
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
        node_identity(&self.app.identity)
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
            .peer_state(&checkpoint_key(&peer))?;
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
                    ctx.put_doc(id, staged.meta, &staged.doc)?;
                }
                let key = checkpoint_key(&batch.peer);
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

/// Identities exchanged by `/sync/v1/hello`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The node.
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// Site or HQ.
    pub role: NodeRole,
    /// Call centers it serves.
    pub call_centers: Vec<CallCenterId>,
}

/// One peer's answer in `POST /api/v1/sync`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerSyncResult {
    /// Peer name.
    pub name: String,
    /// Whether the session completed.
    pub ok: bool,
    /// Documents sent.
    pub sent_docs: u64,
    /// Documents received.
    pub received_docs: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Bytes received.
    pub bytes_in: u64,
    /// Why it failed.
    pub error: Option<String>,
}

/// One peer's line in `GET /api/v1/sync/status`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PeerStatus {
    /// Peer name.
    pub name: String,
    /// Peer URL.
    pub url: String,
    /// Whether the last attempt reached it (`null` before the first).
    pub reachable: Option<bool>,
    /// End of the last successful session.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success: Option<Timestamp>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Local documents changed since the peer's last acknowledgement, in its scope.
    pub pending_out: u64,
    /// The checkpoint: our feed position the peer acknowledged, and its feed position we hold.
    #[schema(value_type = Object)]
    pub checkpoint: serde_json::Value,
}

#[derive(Default)]
struct LinkState {
    link: Option<PeerLink>,
    reachable: Option<bool>,
    last_error: Option<String>,
    last_success: Option<Timestamp>,
}

/// A peer, its checkpoint, its pending count and its saved status.
type StatusRow = (PeerConfig, PeerCheckpoint, u64, Option<PeerState>);

/// The node's peer links.
pub struct SyncHub {
    app: AppState,
    http: reqwest::Client,
    replay: ReplayGuard,
    links: Mutex<BTreeMap<String, LinkState>>,
    sessions: tokio::sync::Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    session_seq: AtomicU64,
    wake: tokio::sync::Notify,
    backoff: Backoff,
}

/// A transport or protocol failure of one session, as a sentence.
type SessionError = String;

impl SyncHub {
    /// A hub for a node.
    pub fn new(app: AppState) -> Arc<SyncHub> {
        let interval_ms = app.config.sync_interval_secs.max(1).saturating_mul(1000);
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .unwrap_or_default();
        Arc::new(SyncHub {
            app,
            http,
            replay: ReplayGuard::default(),
            links: Mutex::new(BTreeMap::new()),
            sessions: tokio::sync::Mutex::new(BTreeMap::new()),
            session_seq: AtomicU64::new(real_now_ms() as u64),
            wake: tokio::sync::Notify::new(),
            backoff: Backoff {
                base_ms: 500,
                max_ms: 60_000,
                interval_ms,
            },
        })
    }

    fn links(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LinkState>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn my_hello(&self) -> Hello {
        let m = &self.app.identity;
        Hello {
            node_id: m.node_id,
            name: m.name.clone(),
            role: m.role,
            call_centers: m.call_centers.clone(),
        }
    }

    async fn peers(&self) -> Result<Vec<PeerConfig>, NodeError> {
        let store = self.app.storage.store_arc();
        tokio::task::spawn_blocking(move || store.peers())
            .await
            .map_err(|e| NodeError::io("background task", std::io::Error::other(e.to_string())))?
    }

    async fn put_peer(&self, peer: PeerConfig) -> Result<(), NodeError> {
        self.app
            .storage
            .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_peer(&peer))
            .await
    }

    /// Runs the background loop until `shutdown` resolves.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_seq = self.app.storage.store().feed_seq().unwrap_or(0);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = self.wake.notified() => {}
            }
            let now = real_now_ms().max(0) as u64;
            let seq = self.app.storage.store().feed_seq().unwrap_or(last_seq);
            let changed = seq != last_seq;
            last_seq = seq;
            let peers = match self.peers().await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read peers");
                    continue;
                }
            };
            // Due links sync side by side, so one slow or unreachable peer delays no other.
            let mut sessions = tokio::task::JoinSet::new();
            for peer in peers {
                let due = {
                    let mut links = self.links();
                    let st = links.entry(peer.name.clone()).or_default();
                    let link = st.link.get_or_insert_with(|| PeerLink::new(self.backoff));
                    if changed {
                        link.on_local_change(now);
                    }
                    link.due(now)
                };
                if due {
                    let hub = self.clone();
                    sessions.spawn(async move { hub.sync_peer(peer).await });
                }
            }
            while let Some(done) = sessions.join_next().await {
                match done {
                    Ok(r) if !r.ok => {
                        tracing::debug!(peer = %r.name, error = ?r.error, "sync session failed")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "sync session task failed"),
                }
            }
        }
    }

    /// Runs a session with every peer now (or with the one named).
    pub async fn sync_now(&self, only: Option<&str>) -> Result<Vec<PeerSyncResult>, ApiError> {
        let peers = self.peers().await?;
        if let Some(name) = only {
            if !peers.iter().any(|p| p.name == name) {
                return Err(ApiError::not_found(format!("no peer named {name}")));
            }
        }
        let mut out = Vec::new();
        for p in peers
            .into_iter()
            .filter(|p| only.is_none_or(|n| n == p.name))
        {
            out.push(self.sync_peer(p).await);
        }
        Ok(out)
    }

    async fn sync_peer(&self, peer: PeerConfig) -> PeerSyncResult {
        let lock = {
            let mut s = self.sessions.lock().await;
            s.entry(peer.name.clone()).or_default().clone()
        };
        let _one_session_per_peer = lock.lock().await;
        let span = tracing::info_span!("sync_session", peer = %peer.name);
        let result = tracing::Instrument::instrument(self.session(&peer), span).await;
        let now_ms = real_now_ms().max(0) as u64;
        let now = self.app.now();
        let name = peer.name.clone();
        metrics::counter!("switchboard_sync_sessions_total", "peer" => name.clone(), "ok" => result.is_ok().to_string())
            .increment(1);
        let out = match result {
            Ok(r) => {
                metrics::counter!("switchboard_sync_bytes_out_total", "peer" => name.clone())
                    .increment(r.bytes_out as u64);
                metrics::counter!("switchboard_sync_bytes_in_total", "peer" => name.clone())
                    .increment(r.bytes_in as u64);
                {
                    let mut links = self.links();
                    let st = links.entry(name.clone()).or_default();
                    st.link
                        .get_or_insert_with(|| PeerLink::new(self.backoff))
                        .on_success(now_ms);
                    st.reachable = Some(true);
                    st.last_success = Some(now);
                    st.last_error = None;
                }
                PeerSyncResult {
                    name,
                    ok: true,
                    sent_docs: r.sent_docs as u64,
                    received_docs: r.received_docs as u64,
                    bytes_out: r.bytes_out as u64,
                    bytes_in: r.bytes_in as u64,
                    error: None,
                }
            }
            Err((reached, e)) => {
                metrics::counter!("switchboard_sync_errors_total", "peer" => name.clone())
                    .increment(1);
                {
                    let mut links = self.links();
                    let st = links.entry(name.clone()).or_default();
                    st.link
                        .get_or_insert_with(|| PeerLink::new(self.backoff))
                        .on_failure(now_ms, rand::random::<f64>());
                    st.reachable = Some(reached);
                    st.last_error = Some(e.clone());
                }
                PeerSyncResult {
                    name,
                    ok: false,
                    sent_docs: 0,
                    received_docs: 0,
                    bytes_out: 0,
                    bytes_in: 0,
                    error: Some(e),
                }
            }
        };
        self.persist_status(&peer, &out, now).await;
        out
    }

    /// Keeps last success / last error beside the checkpoint, so status survives a restart.
    async fn persist_status(&self, peer: &PeerConfig, r: &PeerSyncResult, now: Timestamp) {
        let key = format!("status:{}", peer.name);
        let (ok, err) = (r.ok, r.error.clone());
        let res = self
            .app
            .storage
            .submit(move |ctx: &mut WriteCtx<'_>| {
                let mut st: PeerState = match ctx.get(TreeId::PeerState, key.as_bytes())? {
                    Some(b) => records::decode(&b)?,
                    None => PeerState::default(),
                };
                if ok {
                    st.last_success = Some(now);
                } else {
                    st.last_error = err.map(|message| PeerErrorRecord { at: now, message });
                }
                ctx.put_peer_state(&key, &st)
            })
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot record peer status");
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

    /// Sends one signed request and checks the signed answer. `Err((reached, why))`.
    async fn post(
        &self,
        peer: &PeerConfig,
        path: &str,
        body: Vec<u8>,
        expect_node: Option<NodeId>,
    ) -> Result<(Vec<u8>, NodeId), (bool, SessionError)> {
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
            .map_err(|e| (false, format!("peer unreachable: {e}")))?;
        let status = resp.status();
        let h = resp.headers().clone();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| (false, format!("reading the answer: {e}")))?
            .to_vec();
        if !status.is_success() {
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err((true, format!("peer answered {status}: {detail}")));
        }
        let hdr = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let node = hdr(H_NODE).ok_or((true, "unsigned answer".to_string()))?;
        let sig = hdr(H_SIG).ok_or((true, "unsigned answer".to_string()))?;
        peer_auth::verify_response(&peer.secret, &node, &nonce, &bytes, &sig)
            .map_err(|e| (true, format!("answer signature: {e}")))?;
        let node_id: NodeId = node
            .parse()
            .map_err(|_| (true, "bad node id in answer".to_string()))?;
        if let Some(expected) = expect_node.or(peer.node_id) {
            if expected != node_id {
                return Err((true, format!("peer is node {node_id}, expected {expected}")));
            }
        }
        Ok((bytes, node_id))
    }

    async fn session(&self, peer: &PeerConfig) -> Result<SessionReport, (bool, SessionError)> {
        // Step 1: identities. The peer's id, role and call centers are pinned on first contact.
        let hello = serde_json::to_vec(&self.my_hello()).map_err(|e| (false, e.to_string()))?;
        let (answer, node_id) = self.post(peer, "/sync/v1/hello", hello, None).await?;
        let theirs: Hello = serde_json::from_slice(&answer)
            .map_err(|e| (true, format!("bad hello answer: {e}")))?;
        if theirs.node_id != node_id {
            return Err((true, "hello names another node than its signature".into()));
        }
        let peer = self.pin(peer, &theirs).await.map_err(|e| (true, e))?;
        let info = PeerInfo {
            node_id,
            role: role_of(theirs.role),
            call_centers: theirs.call_centers.clone(),
        };
        // Step 2: frames until the engine is done.
        let replica = NodeReplica::new(self.app.clone());
        let session_id = self.session_seq.fetch_add(1, Ordering::Relaxed);
        let frame_budget = self
            .app
            .config
            .sync_frame_bytes
            .unwrap_or(protocol::frames::TARGET_FRAME_BYTES);
        let r = replica.clone();
        let (mut init, mut frame) = tokio::task::spawn_blocking(move || {
            Initiator::with_max_bytes(&r, info, session_id, frame_budget)
        })
        .await
        .map_err(|e| (true, e.to_string()))?
        .map_err(|e| (true, e.to_string()))?;
        for _ in 0..MAX_ROUNDS {
            let (answer, _) = self
                .post(&peer, "/sync/v1/frame", frame, Some(node_id))
                .await?;
            let mut r = replica.clone();
            let (back, step) = tokio::task::spawn_blocking(move || {
                let step = init.on_frame(&answer, &mut r);
                (init, step)
            })
            .await
            .map_err(|e| (true, e.to_string()))?;
            init = back;
            let step = step.map_err(|e| (true, e.to_string()))?;
            if let Some(report) = step.done {
                return Ok(report);
            }
            match step.send {
                Some(f) => frame = f,
                None => return Ok(init.report()),
            }
        }
        Err((
            true,
            format!("session did not finish in {MAX_ROUNDS} round trips"),
        ))
    }

    /// Trust on first use: records the peer's identity, or refuses one that changed.
    async fn pin(&self, peer: &PeerConfig, h: &Hello) -> Result<PeerConfig, String> {
        if let Some(id) = peer.node_id {
            if id != h.node_id {
                return Err(format!(
                    "peer {} is node {}, not the pinned {}",
                    peer.name, h.node_id, id
                ));
            }
        }
        if let Some(role) = peer.role {
            if role != h.role {
                return Err(format!(
                    "peer {} now claims role {:?}, pinned {:?}",
                    peer.name, h.role, role
                ));
            }
        }
        if let Some(ccs) = &peer.call_centers {
            if *ccs != h.call_centers {
                return Err(format!(
                    "peer {} now claims other call centers than pinned",
                    peer.name
                ));
            }
        }
        if peer.node_id.is_some() && peer.role.is_some() && peer.call_centers.is_some() {
            return Ok(peer.clone());
        }
        let mut p = peer.clone();
        p.node_id = Some(h.node_id);
        p.role = Some(h.role);
        p.call_centers = Some(h.call_centers.clone());
        self.put_peer(p.clone()).await.map_err(|e| e.to_string())?;
        Ok(p)
    }

    /// Authenticates a peer request: a known node id (or an unpinned peer whose secret verifies),
    /// a valid signature, a fresh timestamp and an unseen nonce.
    async fn authenticate(
        &self,
        headers: &HeaderMap,
        path: &str,
        body: &[u8],
    ) -> Result<(PeerConfig, String), ApiError> {
        let hdr = |k: &'static str| {
            headers
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .ok_or_else(|| ApiError::unauthorized(format!("missing {k} header")))
        };
        let node_s = hdr(H_NODE)?;
        let node: NodeId = node_s
            .parse()
            .map_err(|_| ApiError::unauthorized("malformed node id"))?;
        let ts: i64 = hdr(H_TS)?
            .parse()
            .map_err(|_| ApiError::unauthorized("malformed timestamp"))?;
        let nonce = hdr(H_NONCE)?;
        let sig = hdr(H_SIG)?;
        let peers = self.peers().await?;
        let pinned: Vec<&PeerConfig> = peers.iter().filter(|p| p.node_id == Some(node)).collect();
        let candidates: Vec<&PeerConfig> = if pinned.is_empty() {
            peers.iter().filter(|p| p.node_id.is_none()).collect()
        } else {
            pinned
        };
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
            .ok_or_else(|| ApiError::unauthorized("unknown peer or bad signature"))?
            .clone();
        self.replay
            .check(real_now_ms(), ts, &nonce)
            .map_err(|e| ApiError::unauthorized(e.to_string()))?;
        Ok((peer, nonce))
    }

    fn signed(
        &self,
        peer: &PeerConfig,
        nonce: &str,
        content_type: &'static str,
        body: Vec<u8>,
    ) -> Response {
        let node = self.app.identity.node_id.to_string();
        let sig = peer_auth::sign_response(&peer.secret, &node, nonce, &body);
        let mut resp = (StatusCode::OK, body).into_response();
        let h = resp.headers_mut();
        h.insert("content-type", HeaderValue::from_static(content_type));
        if let (Ok(n), Ok(s)) = (HeaderValue::from_str(&node), HeaderValue::from_str(&sig)) {
            h.insert(H_NODE, n);
            h.insert(H_SIG, s);
        }
        resp
    }

    /// Status of every peer.
    pub async fn status(&self) -> Result<Vec<PeerStatus>, ApiError> {
        let peers = self.peers().await?;
        let store = self.app.storage.store_arc();
        let me = node_identity(&self.app.identity);
        let rows = tokio::task::spawn_blocking(move || -> Result<Vec<StatusRow>, NodeError> {
            let mut out = Vec::new();
            for p in peers {
                let cp = match p.node_id {
                    Some(id) => decode_checkpoint(store.peer_state(&checkpoint_key(&id))?)?,
                    None => PeerCheckpoint::default(),
                };
                let info = PeerInfo {
                    node_id: p.node_id.unwrap_or(me.node_id),
                    role: p.role.map(role_of).unwrap_or(Role::Hq),
                    call_centers: p.call_centers.clone().unwrap_or_default(),
                };
                let pending = store
                    .feed_since(cp.push, 1_000_000)?
                    .iter()
                    .filter(|f| {
                        protocol::may_read(&info, &f.meta)
                            && protocol::may_write(&me.info(), &f.meta)
                    })
                    .count() as u64;
                let saved = store.peer_state(&format!("status:{}", p.name))?;
                out.push((p, cp, pending, saved));
            }
            Ok(out)
        })
        .await
        .map_err(ApiError::internal)??;
        let links = self.links();
        Ok(rows
            .into_iter()
            .map(|(p, cp, pending, saved)| {
                let live = links.get(&p.name);
                PeerStatus {
                    reachable: live.and_then(|l| l.reachable),
                    last_success: live.and_then(|l| l.last_success).or(saved.as_ref().and_then(|s| s.last_success)),
                    last_error: match live {
                        Some(l) if l.reachable.is_some() => l.last_error.clone(),
                        _ => saved.as_ref().and_then(|s| s.last_error.as_ref().map(|e| e.message.clone())),
                    },
                    pending_out: pending,
                    checkpoint: serde_json::json!({
                        "push": cp.push,
                        "pull": cp.pull.map(|p| serde_json::json!({"epoch": p.epoch, "seq": p.seq})),
                    }),
                    name: p.name,
                    url: p.url,
                }
            })
            .collect())
    }
}

fn sync_error(e: SyncError) -> ApiError {
    match e {
        SyncError::Frame(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation",
            format!("bad frame: {e}"),
        ),
        SyncError::UnexpectedFrame(m) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation",
            format!("unexpected frame: {m}"),
        ),
        SyncError::Remote { code, message } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation",
            format!("peer sent an error frame: {code:?}: {message}"),
        ),
        e @ SyncError::OutOfScope { .. } => ApiError::forbidden(e.to_string()),
        e @ (SyncError::Replica(ReplicaError::Refused { .. }) | SyncError::Stuck(_)) => {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                e.to_string(),
            )
        }
        SyncError::Replica(e) => ApiError::internal(e),
    }
}

async fn read_body(body: axum::body::Body) -> Result<Bytes, ApiError> {
    let limit = protocol::frames::MAX_FRAME_BYTES as usize;
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::payload_too_large(Some(limit)))
}

async fn hello(
    Extension(hub): Extension<Arc<SyncHub>>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let (peer, nonce) = hub
        .authenticate(&parts.headers, "/sync/v1/hello", &body)
        .await?;
    let theirs: Hello =
        serde_json::from_slice(&body).map_err(|e| ApiError::malformed_body(e.to_string()))?;
    let node: NodeId = parts
        .headers
        .get(H_NODE)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::unauthorized("missing node id"))?;
    if theirs.node_id != node {
        return Err(ApiError::unauthorized(
            "hello names another node than its signature",
        ));
    }
    let peer = hub.pin(&peer, &theirs).await.map_err(ApiError::forbidden)?;
    let mine = serde_json::to_vec(&hub.my_hello()).map_err(ApiError::internal)?;
    Ok(hub.signed(&peer, &nonce, "application/json", mine))
}

async fn frame(
    Extension(hub): Extension<Arc<SyncHub>>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let body = read_body(body).await?;
    let (peer, nonce) = hub
        .authenticate(&parts.headers, "/sync/v1/frame", &body)
        .await?;
    let (Some(node_id), Some(role)) = (peer.node_id, peer.role) else {
        return Err(ApiError::conflict(
            "unknown peer identity: POST /sync/v1/hello first",
        ));
    };
    let info = PeerInfo {
        node_id,
        role: role_of(role),
        call_centers: peer.call_centers.clone().unwrap_or_default(),
    };
    let mut replica = NodeReplica::new(hub.app.clone());
    let span = tracing::info_span!("sync_respond", peer = %peer.name);
    let answer = tokio::task::spawn_blocking(move || {
        span.in_scope(|| protocol::respond(&mut replica, &info, &body))
    })
    .await
    .map_err(ApiError::internal)?;
    match answer {
        Ok(bytes) => Ok(hub.signed(&peer, &nonce, "application/octet-stream", bytes)),
        Err(e) => {
            tracing::warn!(peer = %peer.name, error = %e, "refused a sync frame");
            metrics::counter!("switchboard_sync_errors_total", "peer" => peer.name.clone())
                .increment(1);
            Err(sync_error(e))
        }
    }
}

#[derive(Deserialize)]
struct SyncQuery {
    peer: Option<String>,
}

async fn sync_now(
    Extension(hub): Extension<Arc<SyncHub>>,
    user: crate::api::auth::CurrentUser,
    Query(q): Query<SyncQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    user.require_admin()?;
    let peers = hub.sync_now(q.peer.as_deref()).await?;
    Ok(Json(serde_json::json!({ "peers": peers })))
}

async fn sync_status(
    Extension(hub): Extension<Arc<SyncHub>>,
    user: crate::api::auth::CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    user.require_admin()?;
    Ok(Json(serde_json::json!({ "peers": hub.status().await? })))
}

/// Routes under `/api/v1` (bearer auth): `POST /sync`, `GET /sync/status`.
pub fn api_routes(hub: Arc<SyncHub>) -> Router<AppState> {
    Router::new()
        .route("/sync", post(sync_now))
        .route("/sync/status", get(sync_status))
        .layer(Extension(hub))
}

/// Peer routes (peer-signed, no bearer token): `POST /sync/v1/hello`, `POST /sync/v1/frame`.
pub fn peer_routes(hub: Arc<SyncHub>) -> Router<AppState> {
    Router::new()
        .route("/sync/v1/hello", post(hello))
        .route("/sync/v1/frame", post(frame))
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(Extension(hub))
}
