//! `switchboard peers ...`: list, add and remove the node's sync peers (`/api/v1/peers`).

use crate::client::{enc, Client, Conn};
use crate::output::{self, opt};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::json;
use switchboard_node::views::{PeerList, PeerView};

/// `switchboard peers ...`
#[derive(Args, Debug)]
pub struct PeersArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: PeersCmd,
}

#[derive(Subcommand, Debug)]
enum PeersCmd {
    /// List the node's peers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a peer by its node id, with its whole scope (both sides add each other).
    Add {
        /// A short name for the peer, used by `sync now --peer` and `peers remove`.
        #[arg(long)]
        name: String,
        /// The peer's node id: the fingerprint `switchboard node` prints on the peer.
        #[arg(long, value_name = "FINGERPRINT")]
        node_id: String,
        /// The peer's role: site or hq.
        #[arg(long)]
        role: String,
        /// A call center the peer serves (a site: at least one; repeat for more).
        #[arg(long = "call-center", value_name = "ID")]
        call_centers: Vec<String>,
        /// The peer's sync listener, e.g. https://hq.example:7071 (`--url` is the node you talk
        /// to).
        #[arg(long, value_name = "URL")]
        peer_url: String,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Remove a peer by name.
    Remove {
        /// The peer's name.
        name: String,
    },
}

/// Runs `switchboard peers ...`.
pub async fn run(args: PeersArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        PeersCmd::List { json } => {
            let list: PeerList = c.get("/api/v1/peers").await?;
            output::print(json, &list, |l| {
                output::print_table_or(
                    "no peers",
                    &["PEER", "URL", "NODE ID", "ROLE", "CALL CENTERS"],
                    &rows(&l.peers),
                );
            })?;
        }
        PeersCmd::Add {
            name,
            node_id,
            role,
            call_centers,
            peer_url: url,
            json,
        } => {
            let body = json!({
                "name": name, "node_id": node_id, "url": url, "role": role,
                "call_centers": call_centers,
            });
            let peer: PeerView = c.post("/api/v1/peers", &body).await?;
            output::print(json, &peer, |_| outln!("added peer {name} at {url}"))?;
        }
        PeersCmd::Remove { name } => {
            c.delete(&format!("/api/v1/peers/{}", enc(&name))).await?;
            outln!("removed peer {name}");
        }
    }
    Ok(())
}

fn rows(peers: &[PeerView]) -> Vec<Vec<String>> {
    peers
        .iter()
        .map(|p| {
            vec![
                p.name.clone(),
                p.url.clone(),
                // A contract v1 peer (shared secret) has no node id: it must be added again.
                p.node_id
                    .map(|f| f.to_string())
                    .unwrap_or_else(|| "(add again by node id)".into()),
                opt(&p.role),
                p.call_centers
                    .as_ref()
                    .map(|c| {
                        c.iter()
                            .map(|c| c.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    })
                    .unwrap_or_default(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Peers {
        #[command(flatten)]
        args: PeersArgs,
    }

    #[test]
    fn peer_url_and_node_url_stay_apart() {
        let p = Peers::try_parse_from([
            "peers",
            "add",
            "--name",
            "north",
            "--node-id",
            "ab",
            "--role",
            "site",
            "--call-center",
            "east",
            "--call-center",
            "west",
            "--peer-url",
            "https://peer:1",
            "--url",
            "http://node:2",
        ])
        .expect("parse");
        assert_eq!(p.args.conn.url, "http://node:2");
        match p.args.cmd {
            PeersCmd::Add {
                peer_url,
                call_centers,
                role,
                ..
            } => {
                assert_eq!(peer_url, "https://peer:1");
                assert_eq!(call_centers, ["east", "west"]);
                assert_eq!(role, "site");
            }
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn a_peer_without_node_id_says_to_add_it_again() {
        let fp = "ab".repeat(32);
        let list: PeerList = serde_json::from_value(json!({
            "items": [],
            "peers": [{"name": "hq", "url": "http://hq:7070", "node_id": null},
                      {"name": "north", "url": "https://n:7071", "node_id": fp,
                       "role": "site", "call_centers": ["east", "west"]}]
        }))
        .expect("peer list");
        assert_eq!(
            rows(&list.peers),
            [
                vec!["hq", "http://hq:7070", "(add again by node id)", "", ""],
                vec!["north", "https://n:7071", fp.as_str(), "site", "east,west"],
            ]
        );
    }
}
