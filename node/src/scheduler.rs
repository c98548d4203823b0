//! The scheduler: generates continuity child orders when they fall due.
//!
//! Every node may run it, on both sides of a partition: a child's id is a UUID v5 of (parent,
//! line, index) and its first change is byte-identical on every node
//! (`switchboard_sync::doc::create_continuity_child`), so two nodes that generate the same child
//! create the same change and the merge holds one order.

use crate::error::NodeError;
use crate::service::AppState;
use crate::store::records::rm_keys;
use crate::store::WriteCtx;
use crate::store::{StoreExt, TreeId};
use std::future::Future;
use std::time::Duration;
use switchboard_domain::continuity::due_children;
use switchboard_domain::order::SYSTEM_USER;
use switchboard_sync::doc::{self as sdoc, Author, DocKind, DocMeta};
use uuid::Uuid;

/// Time between runs.
const PERIOD: Duration = Duration::from_secs(60);

/// Runs until `shutdown` resolves: once shortly after start, then every [`PERIOD`].
pub async fn run(state: AppState, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut wait = Duration::from_secs(2);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = PERIOD;
        match generate_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(children = n, "generated continuity child orders"),
            Err(e) => tracing::warn!(error = %e, "continuity run failed"),
        }
    }
}

/// Orders that may have continuity children due: the submitted ones (on hold included), in this
/// node's read model.
fn candidates(state: &AppState) -> Result<Vec<Uuid>, NodeError> {
    let store = state.storage.store();
    let mut out = Vec::new();
    for status in ["submitted", "released", "on_hold"] {
        for kv in store.iter_prefix(TreeId::IdxStatus, &rm_keys::status_prefix(status), false) {
            let (k, _) = kv?;
            if let Some(id) = rm_keys::trailing_uuid(&k) {
                out.push(id);
            }
        }
    }
    Ok(out)
}

/// Generates every child that is due and not held yet; returns how many were created.
pub async fn generate_due(state: &AppState) -> Result<usize, NodeError> {
    let st = state.clone();
    let todo = tokio::task::spawn_blocking(
        move || -> Result<Vec<(Uuid, DocMeta, automerge::Automerge)>, NodeError> {
            let store = st.storage.store();
            let catalog = st.catalog();
            let now = st.now();
            let author = Author {
                actor: st.identity.actor_id(),
                user: SYSTEM_USER,
                node: st.identity.node_id,
                now,
            };
            let mut todo = Vec::new();
            // Without a continuity program in the catalog no order has a child due: nothing to
            // load (a pass over every submitted order costs ~0.4 ms of CPU per order).
            if !catalog.products.values().any(|p| p.continuity.is_some()) {
                return Ok(todo);
            }
            for id in candidates(&st)? {
                let Some((meta, doc)) = store.load_doc(id)? else {
                    continue;
                };
                if meta.kind != DocKind::Order {
                    continue;
                }
                let Ok((parent, _)) = sdoc::read_order(&doc) else {
                    continue;
                };
                for due in due_children(&parent, &catalog, now) {
                    if store.doc_record(due.id.0)?.is_some() {
                        continue;
                    }
                    if let Some(child) = sdoc::create_continuity_child(&parent, &due, &author)
                        .map_err(|e| NodeError::Document {
                            doc: id,
                            reason: e.to_string(),
                        })?
                    {
                        todo.push((due.id.0, meta.clone(), child));
                    }
                }
            }
            Ok(todo)
        },
    )
    .await
    .map_err(|e| NodeError::io("background task", std::io::Error::other(e.to_string())))??;
    let mut created = 0;
    for (id, meta, doc) in todo {
        let made = state
            .storage
            .submit(move |ctx: &mut WriteCtx<'_>| -> Result<bool, NodeError> {
                if ctx.doc_record(id)?.is_some() {
                    return Ok(false);
                }
                ctx.put_doc(id, meta, &doc)?;
                Ok(true)
            })
            .await?;
        created += usize::from(made);
    }
    Ok(created)
}
