//! One sync session, this node initiating: exchange hellos (pinning the peer's identity on first
//! contact), then drive the engine's `Initiator` with frames until it is done. The engine runs on
//! the blocking pool; requests go through the transport ([`super::transport`]).

use super::error::SyncError;
use super::replica::NodeReplica;
use super::transport::{Hello, FRAME_PATH, HELLO_PATH};
use super::SyncHub;
use crate::store::records::PeerConfig;
use std::sync::atomic::Ordering;
use switchboard_sync::protocol::{self, Initiator, PeerInfo, SessionReport};

/// Most requests one session may take (a session that needs more resumes next time).
const MAX_ROUNDS: usize = 10_000;

/// Whether a peer refused a frame for its version: what a node from before frame version 2
/// answers to one (`400`, "bad frame: unknown encoding version 2 …"), before applying anything.
fn refused_frame_version(e: &SyncError) -> bool {
    matches!(e, SyncError::Remote { status, detail }
        if *status == reqwest::StatusCode::BAD_REQUEST && detail.contains("unknown encoding version"))
}

impl SyncHub {
    /// Runs one session with a peer.
    pub(super) async fn session(&self, peer: &PeerConfig) -> Result<SessionReport, SyncError> {
        // Step 1: identities. The peer's id, role and call centers are pinned on first contact.
        let hello = serde_json::to_vec(&self.my_hello()).map_err(SyncError::Encode)?;
        let (answer, node_id) = self.post(peer, HELLO_PATH, hello, None).await?;
        let theirs: Hello = serde_json::from_slice(&answer).map_err(SyncError::HelloAnswer)?;
        if theirs.node_id != node_id {
            return Err(SyncError::HelloMismatch);
        }
        let peer = self.pin(peer, &theirs).await?;
        let info = PeerInfo {
            node_id,
            role: theirs.role,
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
        .await??;
        for _ in 0..MAX_ROUNDS {
            let answer = match self.post(&peer, FRAME_PATH, frame, Some(node_id)).await {
                Ok((answer, _)) => answer,
                // A peer from before frame version 2 refuses the first request whole: the same
                // request again, in version 1.
                Err(e) if refused_frame_version(&e) => match init.downgrade() {
                    Some(plain) => self.post(&peer, FRAME_PATH, plain, Some(node_id)).await?.0,
                    None => return Err(e),
                },
                Err(e) => return Err(e),
            };
            let mut r = replica.clone();
            let (back, step) = tokio::task::spawn_blocking(move || {
                let step = init.on_frame(&answer, &mut r);
                (init, step)
            })
            .await?;
            init = back;
            let step = step?;
            if let Some(report) = step.done {
                return Ok(report);
            }
            match step.send {
                Some(f) => frame = f,
                None => return Ok(init.report()),
            }
        }
        Err(SyncError::TooManyRounds(MAX_ROUNDS))
    }

    /// Trust on first use: records the peer's identity, or refuses one that changed.
    pub(super) async fn pin(&self, peer: &PeerConfig, h: &Hello) -> Result<PeerConfig, SyncError> {
        if let Some(pinned) = peer.node_id {
            if pinned != h.node_id {
                return Err(SyncError::NodeChanged {
                    peer: peer.name.clone(),
                    claimed: h.node_id,
                    pinned,
                });
            }
        }
        if let Some(pinned) = peer.role {
            if pinned != h.role {
                return Err(SyncError::RoleChanged {
                    peer: peer.name.clone(),
                    claimed: h.role,
                    pinned,
                });
            }
        }
        if let Some(ccs) = &peer.call_centers {
            if *ccs != h.call_centers {
                return Err(SyncError::CallCentersChanged {
                    peer: peer.name.clone(),
                });
            }
        }
        if peer.node_id.is_some() && peer.role.is_some() && peer.call_centers.is_some() {
            return Ok(peer.clone());
        }
        let mut p = peer.clone();
        p.node_id = Some(h.node_id);
        p.role = Some(h.role);
        p.call_centers = Some(h.call_centers.clone());
        self.put_peer(p.clone()).await?;
        Ok(p)
    }
}
