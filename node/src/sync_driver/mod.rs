//! The sync driver: runs the `switchboard-sync` engine between this node and its peers over HTTP.
//!
//! - [`replica`]: [`NodeReplica`], the engine's IO boundary on this node (reads from the store,
//!   merges as one writer job).
//! - [`links`]: [`SyncHub`]'s peer links: the background loop that starts a session with each
//!   peer when it is due, on-demand sessions (`POST /api/v1/sync`), and each link's status.
//!   Agent requests never wait on it.
//! - [`session`]: one session, this node initiating: hellos, then frames until the engine is done.
//! - [`transport`]: requests to peers over TLS pinned by node id, and the answers to theirs
//!   (`/sync/v1/hello`, `/sync/v1/frame`; keys and verifiers in [`crate::tls`]).
//! - [`error`]: [`SyncError`], why a session failed or a peer request was refused.
//!
//! The HTTP handlers of the sync endpoints live in the API layer (`crate::api::sync`).

pub mod error;
pub mod links;
pub mod replica;
pub mod session;
pub mod transport;

pub use error::{Stage, SyncError};
pub use links::{PeerStatus, PeerSyncResult, SyncRun, SyncStatus};
pub use replica::NodeReplica;
pub use transport::{Admitted, Answer, Hello, FRAME_PATH, HELLO_PATH};

use crate::error::NodeError;
use crate::service::AppState;
use crate::store::records::PeerConfig;
use crate::store::{StoreExt, WriteCtx};
use links::LinkState;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use switchboard_sync::protocol::Backoff;

/// The system clock in Unix milliseconds (link scheduling uses the real clock, never the node's
/// business clock; peer authentication uses no clock at all).
fn real_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A peer's pinned node id and its announced next one.
type ClientKey = (crate::tls::Fingerprint, Option<crate::tls::Fingerprint>);

/// The node's peer links, and its side of the sync transport.
pub struct SyncHub {
    app: AppState,
    /// One pooled TLS client per peer fingerprint (each pins its peer).
    /// (keyed by its node id and the next one it announced).
    clients: Mutex<std::collections::HashMap<ClientKey, crate::peer_client::PeerClient>>,
    /// This node's next node id (a key rotation under way), announced in its hello.
    next_fingerprint: Option<crate::tls::Fingerprint>,
    links: Mutex<BTreeMap<String, LinkState>>,
    sessions: tokio::sync::Mutex<BTreeMap<String, Arc<tokio::sync::Mutex<()>>>>,
    session_seq: AtomicU64,
    wake: tokio::sync::Notify,
    backoff: Backoff,
    /// Bytes of peer request bodies admitted and not yet answered ([`transport::INBOUND_BYTES`]).
    inbound: Arc<tokio::sync::Semaphore>,
}

impl SyncHub {
    /// A hub for a node.
    pub fn new(app: AppState) -> Arc<SyncHub> {
        let interval_ms = app.config.sync_interval_secs.max(1).saturating_mul(1000);
        let next_fingerprint = match crate::tls::NodeKey::load_next(&app.config.data_dir) {
            Ok(next) => next.map(|k| k.fingerprint),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the next node key: not announcing it");
                None
            }
        };
        if let Some(next) = next_fingerprint {
            tracing::info!(next_node_id = %next, "key rotation under way: announcing the next node id to peers");
        }
        Arc::new(SyncHub {
            next_fingerprint,
            app,
            clients: Mutex::new(std::collections::HashMap::new()),
            links: Mutex::new(BTreeMap::new()),
            sessions: tokio::sync::Mutex::new(BTreeMap::new()),
            session_seq: AtomicU64::new(real_now_ms() as u64),
            wake: tokio::sync::Notify::new(),
            backoff: Backoff {
                base_ms: 500,
                max_ms: 60_000,
                interval_ms,
            },
            inbound: Arc::new(tokio::sync::Semaphore::new(transport::INBOUND_BYTES)),
        })
    }

    fn links(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, LinkState>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
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
}
