//! The peer links: the background loop that starts a session with each peer when its
//! [`PeerLink`] is due (interval when healthy, capped exponential backoff with jitter after a
//! failure, sooner after local changes), on-demand sessions (`POST /api/v1/sync`), one session at
//! a time per peer, and what each link reports (`GET /api/v1/sync/status`), kept beside the
//! checkpoint so that it survives a restart.

use super::error::SyncError;
use super::replica::decode_checkpoint;
use super::{real_now_ms, SyncHub};
use crate::error::NodeError;
use crate::store::records::{self, PeerConfig, PeerErrorRecord, PeerState};
use crate::store::{StoreExt, TreeId, WriteCtx};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use switchboard_domain::Timestamp;
use switchboard_sync::protocol::{self, PeerCheckpoint, PeerInfo, PeerLink, Role};

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

/// Answer of `POST /api/v1/sync`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncRun {
    /// One result per peer synced.
    pub peers: Vec<PeerSyncResult>,
}

/// Answer of `GET /api/v1/sync/status`.
#[derive(Clone, Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncStatus {
    /// One status per configured peer.
    pub peers: Vec<PeerStatus>,
}

/// The live state of one peer's link.
#[derive(Default)]
pub(super) struct LinkState {
    link: Option<PeerLink>,
    reachable: Option<bool>,
    last_error: Option<String>,
    last_success: Option<Timestamp>,
}

/// A peer, its checkpoint, its pending count and its saved status.
type StatusRow = (PeerConfig, PeerCheckpoint, u64, Option<PeerState>);

impl SyncHub {
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
    pub async fn sync_now(&self, only: Option<&str>) -> Result<Vec<PeerSyncResult>, SyncError> {
        let peers = self.peers().await?;
        if let Some(name) = only {
            if !peers.iter().any(|p| p.name == name) {
                return Err(SyncError::NoSuchPeer(name.to_string()));
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

    /// One session with a peer (waiting for one already running with it), its outcome recorded
    /// on the link, in the metrics and in the store.
    async fn sync_peer(&self, peer: PeerConfig) -> PeerSyncResult {
        let lock = {
            let mut s = self.sessions.lock().await;
            s.entry(peer.name.clone()).or_default().clone()
        };
        // The whole session, waiting for one already running with this peer included, ends
        // within the session timeout: a peer that stops answering, a connection that went
        // dead under a pooled client, or a session ahead of this one that is itself stuck
        // ends it with a clear error rather than leaving `sync now` (and the link) waiting.
        let limit_secs = self.app.config.sync_session_timeout_secs.max(1);
        let span = tracing::info_span!("sync_session", peer = %peer.name);
        let bounded = tokio::time::timeout(Duration::from_secs(limit_secs), async {
            let _one_session_per_peer = lock.lock().await;
            self.session(&peer).await
        });
        let result = tracing::Instrument::instrument(bounded, span)
            .await
            .unwrap_or(Err(SyncError::SessionTimeout { limit_secs }));
        if result.as_ref().is_err_and(SyncError::is_transport) {
            // Never reuse a connection of a session that broke off: the next one dials afresh.
            self.forget_client(&peer);
        }
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
            Err(e) => {
                metrics::counter!("switchboard_sync_errors_total", "peer" => name.clone())
                    .increment(1);
                let message = e.to_string();
                {
                    let mut links = self.links();
                    let st = links.entry(name.clone()).or_default();
                    st.link
                        .get_or_insert_with(|| PeerLink::new(self.backoff))
                        .on_failure(now_ms, rand::random::<f64>());
                    st.reachable = Some(e.reached());
                    st.last_error = Some(message.clone());
                }
                PeerSyncResult {
                    name,
                    ok: false,
                    sent_docs: 0,
                    received_docs: 0,
                    bytes_out: 0,
                    bytes_in: 0,
                    error: Some(message),
                }
            }
        };
        self.persist_status(&peer, &out, now).await;
        out
    }

    /// Keeps last success / last error beside the checkpoint, so status survives a restart.
    async fn persist_status(&self, peer: &PeerConfig, r: &PeerSyncResult, now: Timestamp) {
        let key = records::peer_status_key(&peer.name);
        let name = peer.name.clone();
        let (ok, err) = (r.ok, r.error.clone());
        let res = self
            .app
            .storage
            .submit(move |ctx: &mut WriteCtx<'_>| {
                // A session that outlived its peer (deleted meanwhile) leaves no status behind.
                if ctx.get(TreeId::Peers, name.as_bytes())?.is_none() {
                    return Ok(());
                }
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

    /// Status of every peer.
    pub async fn status(&self) -> Result<Vec<PeerStatus>, SyncError> {
        let peers = self.peers().await?;
        let store = self.app.storage.store_arc();
        let me = self.app.identity.sync_identity();
        let rows = tokio::task::spawn_blocking(move || -> Result<Vec<StatusRow>, NodeError> {
            let mut out = Vec::new();
            for p in peers {
                let cp = match p.node_id {
                    Some(id) => {
                        decode_checkpoint(store.peer_state(&records::peer_checkpoint_key(&id))?)?
                    }
                    None => PeerCheckpoint::default(),
                };
                let info = PeerInfo {
                    node_id: p.node_id.unwrap_or(me.node_id),
                    role: p.role.unwrap_or(Role::Hq),
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
                let saved = store.peer_state(&records::peer_status_key(&p.name))?;
                out.push((p, cp, pending, saved));
            }
            Ok(out)
        })
        .await??;
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
