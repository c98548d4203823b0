//! One sync session, this node initiating: exchange hellos over the pinned TLS link (the peer's
//! must confirm the scope its admin declared here), then drive the engine's `Initiator` with frames until it is done. The engine runs on
//! the blocking pool; requests go through the transport ([`super::transport`]).
//!
//! Each answer is accepted first, then merged; when the engine sends the next pull ahead of the
//! merge (a catch-up: the peer's feed has more, nothing to push), that request is posted while
//! the merge runs, so the peer builds the next batch while this node merges the current one. At
//! most one request is outstanding beyond the merge in progress.

use super::error::SyncError;
use super::replica::NodeReplica;
use super::transport::{Hello, FRAME_PATH, HELLO_PATH};
use super::SyncHub;
use crate::store::records::PeerConfig;
use std::sync::atomic::Ordering;
use switchboard_sync::protocol::{self, Accepted, Initiator, Next, PeerInfo, SessionReport};

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
        // Step 1: identities. TLS pinned the peer's node id; its hello must confirm the scope
        // the admin declared, and its internal id is pinned on first contact.
        let hello = serde_json::to_vec(&self.my_hello()).map_err(SyncError::Encode)?;
        let answer = self.post(peer, HELLO_PATH, hello).await?;
        let theirs: Hello = serde_json::from_slice(&answer).map_err(SyncError::HelloAnswer)?;
        let peer = self.confirm(peer, &theirs).await?;
        let (Some(node_id), Some(role), Some(call_centers)) =
            (peer.node_id, peer.role, peer.call_centers.clone())
        else {
            return Err(SyncError::Unidentified);
        };
        // The engine gets the declared scope, never the one the peer says.
        let info = PeerInfo {
            node_id,
            role,
            call_centers,
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
        let (mut init, frame) = tokio::task::spawn_blocking(move || {
            Initiator::with_max_bytes(&r, info, session_id, frame_budget)
        })
        .await??;
        let mut answer = match self.post(&peer, FRAME_PATH, frame).await {
            Ok(answer) => answer,
            // A peer from before frame version 2 refuses the first request whole: the same
            // request again, in version 1.
            Err(e) if refused_frame_version(&e) => match init.downgrade() {
                Some(plain) => self.post(&peer, FRAME_PATH, plain).await?,
                None => return Err(e),
            },
            Err(e) => return Err(e),
        };
        for _ in 0..MAX_ROUNDS {
            // Accept the answer: checks, and the batch to merge (decoding is CPU: blocking pool).
            let r = replica.clone();
            let (back, accepted) = tokio::task::spawn_blocking(move || {
                let accepted = init.accept(&answer, &r);
                (init, accepted)
            })
            .await?;
            init = back;
            let (merge, prefetch) = match accepted? {
                Accepted::Merge { merge, prefetch } => (merge, prefetch),
                Accepted::Ignored => return Ok(init.report()),
            };
            // Merge it durably, and meanwhile post the next pull when the engine sent it ahead.
            let mut r = replica.clone();
            let merging = tokio::task::spawn_blocking(move || merge.run(&mut r));
            let (merged, ahead) = match prefetch {
                Some(next) => {
                    let (merged, ahead) = tokio::join!(merging, self.post(&peer, FRAME_PATH, next));
                    (merged, Some(ahead))
                }
                None => (merging.await, None),
            };
            // A failed merge ends the session: nothing of its batch (or after it) is recorded.
            let merged = merged??;
            let r = replica.clone();
            let (back, next) = tokio::task::spawn_blocking(move || {
                let next = init.merged(merged, &r);
                (init, next)
            })
            .await?;
            init = back;
            answer = match next? {
                Next::Done(report) => return Ok(report),
                // A request sent ahead is superseded (a pulled document missed dependencies):
                // its answer is dropped.
                Next::Send(f) => self.post(&peer, FRAME_PATH, f).await?,
                Next::AwaitPrefetch => match ahead {
                    Some(answer) => answer?,
                    None => {
                        return Err(protocol::SyncError::UnexpectedFrame(
                            "no request was sent ahead of the merge".into(),
                        )
                        .into())
                    }
                },
            };
        }
        Err(SyncError::TooManyRounds(MAX_ROUNDS))
    }
}
