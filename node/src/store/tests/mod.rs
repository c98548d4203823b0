//! Store and writer tests (real sled stores in temp dirs), by topic; shared fixtures here.

use super::*;
use crate::identity::init_data_dir;
use automerge::transaction::Transactable;
use automerge::{ReadDoc, ROOT};
use std::time::{Duration, Instant};
use switchboard_sync::protocol::Role;

mod data_dir;
mod feed;
mod peers;
mod read_model;
mod verify;
mod writer;

fn meta() -> DocMeta {
    DocMeta {
        kind: DocKind::Order,
        call_center: None,
    }
}

fn doc_with(field: &str, value: &str) -> Automerge {
    let mut d = Automerge::new();
    d.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, field, value)?;
        Ok(())
    })
    .expect("transact");
    d
}

fn read_field(d: &Automerge, field: &str) -> Option<String> {
    d.get(ROOT, field)
        .ok()
        .flatten()
        .and_then(|(v, _)| v.into_string().ok())
}

fn init(dir: &Path) {
    init_data_dir(dir, "test-node", Role::Hq, &[], false).expect("init");
}

fn open(dir: &Path, opts: StoreOptions) -> Storage {
    Storage::open(dir, opts).expect("open")
}

fn put_job(
    id: Uuid,
    value: String,
) -> impl FnOnce(&mut WriteCtx<'_>) -> Result<u64, NodeError> + Send + 'static {
    move |ctx: &mut WriteCtx<'_>| {
        let mut doc = match ctx.load_doc(id)? {
            Some((_, d)) => d,
            None => Automerge::new(),
        };
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "v", value.as_str())?;
            Ok(())
        })
        .map_err(|e| NodeError::Document {
            doc: id,
            reason: e.error.to_string(),
        })?;
        ctx.put_doc(id, meta(), &doc)
    }
}

/// A configured peer, with its node id once learned.
fn peer_config(name: &str, node_id: Option<NodeId>) -> PeerConfig {
    PeerConfig {
        name: name.into(),
        url: format!("http://{name}.example:7070"),
        secret: "s3cret".into(),
        node_id,
        role: Some(Role::Hq),
        call_centers: None,
        fingerprint: None,
        next_fingerprint: None,
    }
}

/// Polls `cond` until it holds or the deadline passes.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

fn projector() -> Projector {
    Arc::new(|id: Uuid, _m: &DocMeta, d: &Automerge| {
        let v = read_field(d, "v").unwrap_or_default();
        vec![
            RmEntry {
                tree: TreeId::OrderSummaries,
                key: id.as_bytes().to_vec(),
                value: v.clone().into_bytes(),
            },
            RmEntry {
                tree: TreeId::IdxStatus,
                key: records::rm_keys::status(&v, &id),
                value: Vec::new(),
            },
        ]
    })
}
