//! `switchboard sync ...`: run a sync session now (`POST /api/v1/sync`) or show each peer's sync
//! state (`GET /api/v1/sync/status`).

use crate::client::{enc, Client, Conn};
use crate::output::{self, opt};
use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use switchboard_node::sync_driver::{PeerStatus, PeerSyncResult};

/// `switchboard sync ...`
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: SyncCmd,
}

#[derive(Subcommand, Debug)]
enum SyncCmd {
    /// Run a sync session now with every peer (or one), and report what moved.
    Now {
        /// Only this peer.
        #[arg(long)]
        peer: Option<String>,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Show each peer's sync state: reachable, last success, last error, pending documents.
    Status {
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// The `{"peers": [...]}` answer of `POST /api/v1/sync` (with [`PeerSyncResult`]s) and of
/// `GET /api/v1/sync/status` (with [`PeerStatus`]es). The node writes this envelope inline and
/// exports no type for it, so it is spelled out here.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PerPeer<T> {
    /// One entry per peer.
    pub peers: Vec<T>,
}

/// Runs `switchboard sync ...`.
pub async fn run(args: SyncArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        SyncCmd::Now { peer, json } => {
            let run = sync_now(&c, peer.as_deref(), !json).await?;
            output::print(json, &run, |r| {
                output::print_table_or(
                    "no peers to sync with",
                    &[
                        "PEER",
                        "RESULT",
                        "SENT",
                        "RECEIVED",
                        "BYTES OUT",
                        "BYTES IN",
                        "ERROR",
                    ],
                    &result_rows(&r.peers),
                );
            })?;
            let failed: Vec<String> = run
                .peers
                .iter()
                .filter(|p| !p.ok)
                .map(|p| format!("{}: {}", p.name, opt(&p.error)))
                .collect();
            if !failed.is_empty() {
                bail!("sync failed with {}", failed.join("; "));
            }
        }
        SyncCmd::Status { json } => {
            let status: PerPeer<PeerStatus> = c.get("/api/v1/sync/status").await?;
            output::print(json, &status, |s| {
                output::print_table_or(
                    "no peers",
                    &[
                        "PEER",
                        "URL",
                        "REACHABLE",
                        "LAST SUCCESS",
                        "LAST ERROR",
                        "PENDING",
                    ],
                    &status_rows(&s.peers),
                );
            })?;
        }
    }
    Ok(())
}

/// `POST /api/v1/sync[?peer=NAME]`, with a spinner on a terminal while the session runs.
pub async fn sync_now(
    c: &Client,
    peer: Option<&str>,
    spinner: bool,
) -> Result<PerPeer<PeerSyncResult>> {
    let path = match peer {
        Some(p) => format!("/api/v1/sync?peer={}", enc(p)),
        None => "/api/v1/sync".to_string(),
    };
    let pb = if spinner {
        let pb = ProgressBar::new_spinner();
        pb.set_message(match peer {
            Some(p) => format!("syncing with {p}..."),
            None => "syncing with all peers...".to_string(),
        });
        pb.enable_steady_tick(Duration::from_millis(100));
        Some(pb)
    } else {
        None
    };
    let res = c.post(&path, &serde_json::json!({})).await;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    res
}

fn result_rows(peers: &[PeerSyncResult]) -> Vec<Vec<String>> {
    peers
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                if p.ok { "ok" } else { "FAILED" }.to_string(),
                p.sent_docs.to_string(),
                p.received_docs.to_string(),
                p.bytes_out.to_string(),
                p.bytes_in.to_string(),
                opt(&p.error),
            ]
        })
        .collect()
}

fn status_rows(peers: &[PeerStatus]) -> Vec<Vec<String>> {
    peers
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.url.clone(),
                opt(&p.reachable),
                opt(&p.last_success),
                opt(&p.last_error),
                p.pending_out.to_string(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_rows_name_failures() {
        let run: PerPeer<PeerSyncResult> = serde_json::from_value(json!({"peers": [
            {"name": "hq", "ok": true, "sent_docs": 2, "received_docs": 5, "bytes_out": 100,
             "bytes_in": 2048, "error": null},
            {"name": "far", "ok": false, "sent_docs": 0, "received_docs": 0, "bytes_out": 0,
             "bytes_in": 0, "error": "connection refused"}
        ]}))
        .expect("sync answer");
        assert_eq!(
            result_rows(&run.peers),
            [
                vec!["hq", "ok", "2", "5", "100", "2048", ""],
                vec!["far", "FAILED", "0", "0", "0", "0", "connection refused"],
            ]
        );
    }

    #[test]
    fn status_rows_leave_unknowns_empty() {
        let st: PerPeer<PeerStatus> = serde_json::from_value(json!({"peers": [
            {"name": "hq", "url": "http://hq:7070", "reachable": null, "last_success": null,
             "last_error": null, "pending_out": 0, "checkpoint": {}},
            {"name": "far", "url": "http://far:1", "reachable": false,
             "last_success": "2026-12-01T10:00:00.250Z", "last_error": "refused",
             "pending_out": 3, "checkpoint": {"sent": 4}}
        ]}))
        .expect("status answer");
        assert_eq!(
            status_rows(&st.peers),
            [
                vec!["hq", "http://hq:7070", "", "", "", "0"],
                vec![
                    "far",
                    "http://far:1",
                    "false",
                    "2026-12-01T10:00:00.250Z",
                    "refused",
                    "3"
                ],
            ]
        );
    }
}
