//! The history of a document, read back from the change metadata.

use super::HistoryEntry;
use automerge::{Automerge, ChangeHash, ChangeMetadata};
use serde::Deserialize;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use switchboard_domain::ids::{NodeId, UserId};
use switchboard_domain::Timestamp;

#[derive(Deserialize)]
struct Message {
    by: Option<UserId>,
    node: Option<NodeId>,
    summary: Option<String>,
}

/// Every change of the document, oldest first, with the user, node and summary its message
/// records. A change without a JSON message shows its raw message as the summary.
///
/// The order is causal and the same on every node holding the same changes: a change comes after
/// every change it depends on, and among changes whose dependencies are all listed, the earliest
/// timestamp goes first, then the smaller change hash. (The order automerge stores changes in is
/// the order a node received them, which differs between nodes after a partition.)
pub fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    causal_order(doc.get_changes_meta(&[]))
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

/// Kahn's topological sort with a deterministic tie-break (timestamp, then hash).
fn causal_order(changes: Vec<ChangeMetadata<'_>>) -> Vec<ChangeMetadata<'_>> {
    let index: HashMap<ChangeHash, usize> = changes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.hash, i))
        .collect();
    let mut waiting: Vec<usize> = vec![0; changes.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); changes.len()];
    for (i, c) in changes.iter().enumerate() {
        for d in &c.deps {
            // A dependency this document does not hold cannot be waited for.
            if let Some(&j) = index.get(d) {
                waiting[i] += 1;
                dependents[j].push(i);
            }
        }
    }
    let key = |i: usize| Reverse((changes[i].timestamp, changes[i].hash));
    let mut ready: BinaryHeap<(Reverse<(i64, ChangeHash)>, usize)> = (0..changes.len())
        .filter(|i| waiting[*i] == 0)
        .map(|i| (key(i), i))
        .collect();
    let mut order = Vec::with_capacity(changes.len());
    while let Some((_, i)) = ready.pop() {
        order.push(i);
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.push((key(k), k));
            }
        }
    }
    let mut slots: Vec<Option<ChangeMetadata<'_>>> = changes.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}
