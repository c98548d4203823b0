//! The history of a document, read back from the change metadata.

use super::HistoryEntry;
use automerge::Automerge;
use serde::Deserialize;
use switchboard_domain::ids::{NodeId, UserId};
use switchboard_domain::Timestamp;

#[derive(Deserialize)]
struct Message {
    by: Option<UserId>,
    node: Option<NodeId>,
    summary: Option<String>,
}

/// Every change of the document, in causal order (oldest first), with the user, node and summary
/// its message records. A change without a JSON message shows its raw message as the summary.
pub fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    doc.get_changes_meta(&[])
        .into_iter()
        .map(|c| {
            let at = Timestamp::from_millis(c.timestamp.saturating_mul(1000));
            let raw = c.message.as_deref().unwrap_or_default();
            match serde_json::from_str::<Message>(raw) {
                Ok(m) => HistoryEntry {
                    at,
                    by: m.by,
                    node: m.node,
                    summary: m.summary.unwrap_or_default(),
                },
                Err(_) => HistoryEntry {
                    at,
                    by: None,
                    node: None,
                    summary: raw.to_string(),
                },
            }
        })
        .collect()
}
