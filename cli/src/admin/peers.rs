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
    /// Add a peer (both sides add each other with the same secret).
    Add {
        /// A short name for the peer, used by `sync now --peer` and `peers remove`.
        #[arg(long)]
        name: String,
        /// The peer's base URL, e.g. http://hq.example:7070 (`--url` is the node you talk to).
        #[arg(long, value_name = "URL")]
        peer_url: String,
        /// Shared secret that authenticates the link (the same on both sides).
        #[arg(long, env = "SWITCHBOARD_PEER_SECRET", hide_env_values = true)]
        secret: String,
        /// The peer's node id, if known (checked on the first session).
        #[arg(long)]
        node_id: Option<String>,
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
                output::print_table_or("no peers", &["PEER", "URL", "NODE ID"], &rows(&l.peers));
            })?;
        }
        PeersCmd::Add {
            name,
            peer_url: url,
            secret,
            node_id,
            json,
        } => {
            // `NewPeerBody` only derives `Deserialize`, so the body is written out here; the
            // node id is left out, not sent as null, when it is not known.
            let mut body = json!({ "name": name, "url": url, "secret": secret });
            if let Some(id) = node_id {
                body["node_id"] = json!(id);
            }
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
        .map(|p| vec![p.name.clone(), p.url.clone(), opt(&p.node_id)])
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
            "hq",
            "--peer-url",
            "http://peer:1",
            "--secret",
            "s",
            "--url",
            "http://node:2",
        ])
        .expect("parse");
        assert_eq!(p.args.conn.url, "http://node:2");
        match p.args.cmd {
            PeersCmd::Add { peer_url, .. } => assert_eq!(peer_url, "http://peer:1"),
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn an_unknown_node_id_is_an_empty_cell() {
        let list: PeerList = serde_json::from_value(json!({
            "items": [],
            "peers": [{"name": "hq", "url": "http://hq:7070", "node_id": null},
                      {"name": "north", "url": "http://n:7070",
                       "node_id": "00000000-0000-0000-0000-000000000002"}]
        }))
        .expect("peer list");
        assert_eq!(
            rows(&list.peers),
            [
                vec!["hq", "http://hq:7070", ""],
                vec![
                    "north",
                    "http://n:7070",
                    "00000000-0000-0000-0000-000000000002"
                ],
            ]
        );
    }
}
