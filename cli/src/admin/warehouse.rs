//! `switchboard warehouse ...`: the PostgreSQL warehouse a node feeds: its follower's status
//! (`GET /api/v1/warehouse`) and a rebuild from the start of the feed
//! (`POST /api/v1/warehouse/rebuild`).

use crate::client::{Client, Conn};
use crate::output::{self, opt};
use anyhow::Result;
use clap::{Args, Subcommand};
use switchboard_node::warehouse::WarehouseStatus;

/// `switchboard warehouse ...`
#[derive(Args, Debug)]
pub struct WarehouseArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: WarehouseCmd,
}

#[derive(Subcommand, Debug)]
enum WarehouseCmd {
    /// Show whether the node feeds a warehouse, where it is in the node's feed and how far behind.
    Status {
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Empty the warehouse and feed it again from the start (every node feeding it starts over).
    Rebuild {
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `switchboard warehouse ...`.
pub async fn run(args: WarehouseArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        WarehouseCmd::Status { json } => {
            let st: WarehouseStatus = c.get("/api/v1/warehouse").await?;
            output::print(json, &st, |s| {
                for line in describe(s) {
                    outln!("{line}");
                }
            })
        }
        WarehouseCmd::Rebuild { json } => {
            let st: WarehouseStatus = c
                .post("/api/v1/warehouse/rebuild", &serde_json::json!({}))
                .await?;
            output::print(json, &st, |s| {
                outln!(
                    "warehouse {} emptied; feeding it again from the start (feed at {})",
                    opt(&s.target),
                    s.node_feed_seq
                );
            })
        }
    }
}

/// The human form of the status: one labelled line per field.
fn describe(s: &WarehouseStatus) -> Vec<String> {
    if !s.configured {
        return vec![
            "warehouse:     off (set warehouse.postgres_url or SWITCHBOARD_WAREHOUSE_URL)"
                .to_string(),
        ];
    }
    let position = s
        .position
        .map(|p| format!("{} (epoch {})", p.seq, p.epoch))
        .unwrap_or_else(|| "none".to_string());
    let mut lines = vec![
        format!("warehouse:     {}", opt(&s.target)),
        format!("state:         {}", s.state.as_str()),
        format!("position:      {position}"),
        format!(
            "node feed:     {} (epoch {})",
            s.node_feed_seq, s.feed_epoch
        ),
        format!("lag:           {} changes", s.lag),
        format!(
            "applied:       {} batches, {} documents since the node started",
            s.batches_applied, s.docs_applied
        ),
        format!("contact:       {}", contact(&s.contact_fields)),
        format!("last success:  {}", opt(&s.last_success)),
    ];
    if let Some(e) = &s.last_error {
        lines.push(format!("last error:    {} ({e})", opt(&s.last_error_at)));
    }
    if let Some(ms) = s.retry_in_ms {
        lines.push(format!("next retry in: {:.1} s", ms as f64 / 1000.0));
    }
    lines
}

fn contact(fields: &[String]) -> String {
    if fields.is_empty() {
        "none (customer contact fields are left out)".to_string()
    } else {
        fields.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(v: serde_json::Value) -> WarehouseStatus {
        serde_json::from_value(v).expect("warehouse status")
    }

    #[test]
    fn describes_a_lagging_warehouse() {
        let s = status(json!({
            "configured": true, "target": "db:5432/hq", "state": "backing_off",
            "contact_fields": [], "batch_size": 500,
            "node_id": "00000000-0000-0000-0000-000000000007",
            "feed_epoch": "00000000-0000-0000-0000-0000000000e1",
            "node_feed_seq": 120,
            "position": {"epoch": "00000000-0000-0000-0000-0000000000e1", "seq": 100},
            "lag": 20, "batches_applied": 3, "docs_applied": 100,
            "last_success": "2026-12-01T10:00:00.000Z",
            "last_error_at": "2026-12-01T10:00:05.000Z",
            "last_error": "cannot connect to db:5432/hq: refused",
            "retry_in_ms": 2500
        }));
        assert_eq!(
            describe(&s),
            [
                "warehouse:     db:5432/hq",
                "state:         backing_off",
                "position:      100 (epoch 00000000-0000-0000-0000-0000000000e1)",
                "node feed:     120 (epoch 00000000-0000-0000-0000-0000000000e1)",
                "lag:           20 changes",
                "applied:       3 batches, 100 documents since the node started",
                "contact:       none (customer contact fields are left out)",
                "last success:  2026-12-01T10:00:00.000Z",
                "last error:    2026-12-01T10:00:05.000Z (cannot connect to db:5432/hq: refused)",
                "next retry in: 2.5 s",
            ]
        );
    }

    #[test]
    fn says_when_there_is_no_warehouse() {
        let s = status(json!({
            "configured": false, "target": null, "state": "off",
            "contact_fields": ["name", "phone", "email", "address", "ship_to"], "batch_size": 500,
            "node_id": "00000000-0000-0000-0000-000000000007",
            "feed_epoch": "00000000-0000-0000-0000-0000000000e1",
            "node_feed_seq": 4, "position": null, "lag": 0, "batches_applied": 0,
            "docs_applied": 0, "last_success": null, "last_error_at": null, "last_error": null,
            "retry_in_ms": null
        }));
        let lines = describe(&s);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("off"), "{lines:?}");
    }
}
