//! `switchboard node`: the node's identity and document counts (`GET /api/v1/node`).

use crate::client::{Client, Conn};
use crate::output;
use anyhow::Result;
use clap::Args;
use switchboard_node::views::NodeView;

/// `switchboard node`: identity and counts.
#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(flatten)]
    conn: Conn,
    /// Print the node's JSON answer.
    #[arg(long)]
    json: bool,
}

/// Runs `switchboard node`.
pub async fn run(args: NodeArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    let node: NodeView = c.get("/api/v1/node").await?;
    output::print(args.json, &node, |v| {
        for line in describe(v) {
            outln!("{line}");
        }
    })
}

/// The human form: one labelled line per field.
fn describe(v: &NodeView) -> Vec<String> {
    vec![
        format!("node id:       {}", v.fingerprint),
        format!("internal id:   {}", v.node_id),
        format!("name:          {}", v.name),
        format!("role:          {}", v.role),
        format!("call centers:  {}", v.call_centers.join(", ")),
        format!("version:       {}", v.version),
        format!(
            "documents:     {} orders, {} customers",
            v.documents.orders, v.documents.customers
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_every_field() {
        let v: NodeView = serde_json::from_value(serde_json::json!({
            "node_id": "00000000-0000-0000-0000-000000000007",
            "fingerprint": "ab".repeat(32), "name": "hq-1", "role": "hq",
            "call_centers": ["east", "west"], "version": "0.1.0",
            "documents": {"orders": 3, "customers": 1}
        }))
        .expect("node view");
        assert_eq!(
            describe(&v),
            [
                format!("node id:       {}", "ab".repeat(32)).as_str(),
                "internal id:   00000000-0000-0000-0000-000000000007",
                "name:          hq-1",
                "role:          hq",
                "call centers:  east, west",
                "version:       0.1.0",
                "documents:     3 orders, 1 customers",
            ]
        );
    }
}
