//! Convergence check over real nodes: every node's order views (status, lines, payments, holds,
//! totals, conflicts, ... the whole `GET /api/v1/orders/{id}` view) plus the number of changes in
//! each order's history (a stand-in for its document heads, which no endpoint exposes) must agree
//! with HQ's, restricted to the call centers each site serves.
//!
//! [`converge`] runs sync rounds and compares until they agree or a deadline passes, then panics
//! with the differences (missing orders, extra orders, and per order the fields that differ).
//! The order list (the read model) is checked against the views on every node as well.

use crate::cluster::{Cluster, Node, Role};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Every order on one node: id → view (with `_changes`, the length of its history).
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Node name.
    pub node: String,
    /// Orders by id.
    pub orders: BTreeMap<String, Value>,
    /// Problems seen while reading (read model out of step with the views, duplicates).
    pub problems: Vec<String>,
}

impl Snapshot {
    /// The orders of one call center.
    pub fn of_call_center(&self, cc: &str) -> Vec<&Value> {
        self.orders
            .values()
            .filter(|o| o["call_center_id"] == cc)
            .collect()
    }
}

async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Result<Value, String> {
    let r = http
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = r.status();
    let text = r.text().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("GET {url}: {e}: {text}"))
}

/// Reads every order of a node (as its admin), `parallel` requests at a time.
pub async fn snapshot(node: &Node, with_history: bool) -> Result<Snapshot, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let base = node.url();
    let mut summaries: Vec<Value> = Vec::new();
    let mut cursor: Option<String> = None;
    // Bounded: a node never holds more than a million orders in these tests.
    for _ in 0..2000 {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/orders?limit=500&cursor={c}"),
            None => format!("{base}/api/v1/orders?limit=500"),
        };
        let page = get_json(&http, url, &node.admin).await?;
        if let Some(items) = page["items"].as_array() {
            summaries.extend(items.iter().cloned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut problems = Vec::new();
    let mut ids = BTreeSet::new();
    for s in &summaries {
        let id = s["id"].as_str().unwrap_or_default().to_string();
        if !ids.insert(id.clone()) {
            problems.push(format!("{}: order {id} listed twice", node.name));
        }
    }
    let mut orders = BTreeMap::new();
    let ids: Vec<String> = ids.into_iter().collect();
    for chunk in ids.chunks(16) {
        let mut set = JoinSet::new();
        for id in chunk {
            let (http, base, token, id) =
                (http.clone(), base.clone(), node.admin.clone(), id.clone());
            set.spawn(async move {
                let mut view =
                    get_json(&http, format!("{base}/api/v1/orders/{id}"), &token).await?;
                if with_history {
                    let h = get_json(&http, format!("{base}/api/v1/orders/{id}/history"), &token)
                        .await?;
                    let n = h["changes"].as_array().map(Vec::len).unwrap_or(0);
                    view["_changes"] = Value::from(n);
                }
                Ok::<_, String>((id, view))
            });
        }
        while let Some(r) = set.join_next().await {
            let (id, view) = r.map_err(|e| e.to_string())??;
            orders.insert(id, view);
        }
    }
    // The read model must say what the documents say.
    for s in &summaries {
        let id = s["id"].as_str().unwrap_or_default();
        let Some(v) = orders.get(id) else { continue };
        let checks = [
            ("status", &s["status"], &v["status"]),
            ("total", &s["total"], &v["totals"]["total"]),
            ("balance", &s["balance"], &v["totals"]["balance"]),
            ("call_center_id", &s["call_center_id"], &v["call_center_id"]),
        ];
        for (what, listed, viewed) in checks {
            if listed != viewed {
                problems.push(format!(
                    "{}: order {id}: list says {what} {listed}, view says {viewed}",
                    node.name
                ));
            }
        }
    }
    Ok(Snapshot {
        node: node.name.clone(),
        orders,
        problems,
    })
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 400 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(400).map(|(i, _)| i).unwrap_or(s.len())]
        )
    } else {
        s
    }
}

/// How `node` differs from `reference` (restricted to `scope`, `None` = everything).
pub fn differences(reference: &Snapshot, node: &Snapshot, scope: Option<&[String]>) -> Vec<String> {
    let in_scope =
        |v: &Value| scope.is_none_or(|ccs| ccs.iter().any(|c| v["call_center_id"] == c.as_str()));
    let mut out = Vec::new();
    for (id, want) in reference.orders.iter().filter(|(_, v)| in_scope(v)) {
        match node.orders.get(id) {
            None => out.push(format!(
                "{}: missing order {id} (on {})",
                node.node, reference.node
            )),
            Some(got) if got != want => {
                let mut fields = Vec::new();
                let keys: BTreeSet<&String> = want
                    .as_object()
                    .into_iter()
                    .flat_map(|m| m.keys())
                    .chain(got.as_object().into_iter().flat_map(|m| m.keys()))
                    .collect();
                for k in keys {
                    if want[k] != got[k] {
                        fields.push(format!(
                            "  {k}: {} has {}\n  {k}: {} has {}",
                            reference.node,
                            short(&want[k]),
                            node.node,
                            short(&got[k])
                        ));
                    }
                }
                out.push(format!(
                    "{}: order {id} differs from {}:\n{}",
                    node.node,
                    reference.node,
                    fields.join("\n")
                ));
            }
            Some(_) => {}
        }
    }
    for (id, v) in &node.orders {
        if !reference.orders.contains_key(id) {
            out.push(format!(
                "{}: order {id} (call center {}) is not on {}",
                node.node, v["call_center_id"], reference.node
            ));
        }
        if !in_scope(v) {
            out.push(format!(
                "{}: order {id} of call center {} is outside its scope",
                node.node, v["call_center_id"]
            ));
        }
    }
    out.extend(node.problems.iter().cloned());
    out
}

/// Snapshots every running node and compares them with the first HQ (or the first node);
/// `Ok(reference)` when all agree, `Err(differences)` otherwise.
pub async fn compare(cluster: &Cluster) -> Result<Snapshot, Vec<String>> {
    let running: Vec<&Node> = cluster.nodes.iter().filter(|n| n.is_running()).collect();
    let Some(reference) = running
        .iter()
        .find(|n| n.role == Role::Hq)
        .or(running.first())
    else {
        return Err(vec!["no node is running".into()]);
    };
    let ref_snap = snapshot(reference, true).await.map_err(|e| vec![e])?;
    let mut diffs = ref_snap.problems.clone();
    for n in running.iter().filter(|n| n.name != reference.name) {
        let snap = snapshot(n, true).await.map_err(|e| vec![e])?;
        let scope = (n.role == Role::Site).then_some(n.call_centers.as_slice());
        diffs.extend(differences(&ref_snap, &snap, scope));
    }
    if diffs.is_empty() {
        Ok(ref_snap)
    } else {
        Err(diffs)
    }
}

/// Runs sync rounds (every running node with each running peer) and compares, until every node
/// agrees with HQ or `deadline` passes (then panics with the differences). Returns HQ's snapshot.
pub async fn converge(cluster: &Cluster, deadline: Duration) -> Snapshot {
    let until = Instant::now() + deadline;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let results = cluster.sync_round().await;
        let failed: Vec<String> = results
            .iter()
            .filter(|(_, r)| r["ok"] != true)
            .map(|(from, r)| format!("{from} -> {}: {}", r["name"], r["error"]))
            .collect();
        // Compare only after a round in which every session succeeded.
        let diffs = if failed.is_empty() {
            match compare(cluster).await {
                Ok(snap) => return snap,
                Err(d) => d,
            }
        } else {
            failed.iter().map(|f| format!("sync failed: {f}")).collect()
        };
        if Instant::now() > until {
            let shown: Vec<&String> = diffs.iter().take(40).collect();
            panic!(
                "no convergence after {rounds} rounds ({deadline:?}); {} differences, first ones:\n{}",
                diffs.len(),
                shown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
