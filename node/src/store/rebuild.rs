//! The read-model rebuild: clears the read-model trees and projects every stored document
//! again, at open when the read model is missing, behind the feed or from another projector
//! version, and on demand (on the writer thread, as an exclusive job).

use super::records::{self, keys, DocRecord};
use super::{Op, Projector, Store, StoreExt, TreeId};
use crate::error::NodeError;

fn read_u32(b: &[u8]) -> Option<u32> {
    b.try_into().ok().map(u32::from_be_bytes)
}

/// Rebuilds the read model when it is missing, behind the feed, or was built by another
/// projector version. Returns the number of documents projected when it rebuilt.
pub fn rebuild_read_model_if_needed(
    store: &dyn Store,
    projector: &Projector,
    version: u32,
) -> Result<Option<u64>, NodeError> {
    let stored_version = store
        .get(TreeId::Meta, keys::READ_MODEL_VERSION)?
        .and_then(|b| read_u32(&b));
    let rm_seq = store
        .get(TreeId::Meta, keys::READ_MODEL_SEQ)?
        .map(|b| records::read_u64(&b))
        .transpose()?;
    let feed_seq = store.feed_seq()?;
    if stored_version == Some(version) && rm_seq == Some(feed_seq) {
        return Ok(None);
    }
    tracing::info!(
        ?stored_version,
        version,
        ?rm_seq,
        feed_seq,
        "rebuilding the read model"
    );
    rebuild_read_model(store, projector, version).map(Some)
}

/// Clears the read model and projects every document again. Must run while nothing else
/// writes (at open, or on the writer thread).
pub fn rebuild_read_model(
    store: &dyn Store,
    projector: &Projector,
    version: u32,
) -> Result<u64, NodeError> {
    // Mark it incomplete first, so a crash midway rebuilds again on the next open.
    store.apply(&[Op {
        tree: TreeId::Meta,
        key: keys::READ_MODEL_VERSION.to_vec(),
        value: None,
    }])?;
    // Entries a projector put outside the pure read-model trees (users) are removed by key.
    let mut ops = Vec::new();
    for kv in store.iter_prefix(TreeId::RmOwner, b"", false) {
        let (_, v) = kv?;
        let owned: Vec<(u8, Vec<u8>)> = records::decode(&v)?;
        for (t, k) in owned {
            let tree = TreeId::from_index(t)?;
            if !TreeId::READ_MODEL.contains(&tree) {
                ops.push(Op {
                    tree,
                    key: k,
                    value: None,
                });
            }
        }
        if ops.len() >= 1024 {
            store.apply(&ops)?;
            ops.clear();
        }
    }
    store.apply(&ops)?;
    ops.clear();
    store.clear(TreeId::RmOwner)?;
    for t in TreeId::READ_MODEL {
        store.clear(t)?;
    }
    let feed_seq = store.feed_seq()?;
    let mut n = 0u64;
    for kv in store.iter_prefix(TreeId::Docs, b"", false) {
        let (k, v) = kv?;
        let id = records::read_uuid(&k)?;
        let rec: DocRecord = match records::decode(&v) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(doc = %id, error = %e, "skipping undecodable document in rebuild");
                continue;
            }
        };
        let doc = match rec.load(id) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(doc = %id, error = %e, "skipping unloadable document in rebuild");
                continue;
            }
        };
        let entries = projector(id, &rec.meta, &doc);
        let mut keys_owned: Vec<(u8, Vec<u8>)> = Vec::with_capacity(entries.len());
        for e in entries {
            e.tree.ensure_projectable()?;
            keys_owned.push((e.tree.index() as u8, e.key.clone()));
            ops.push(Op {
                tree: e.tree,
                key: e.key,
                value: Some(e.value),
            });
        }
        if !keys_owned.is_empty() {
            ops.push(Op {
                tree: TreeId::RmOwner,
                key: k,
                value: Some(records::encode(&keys_owned)?),
            });
        }
        n += 1;
        if ops.len() >= 2048 {
            store.apply(&ops)?;
            ops.clear();
        }
    }
    ops.push(Op {
        tree: TreeId::Meta,
        key: keys::READ_MODEL_SEQ.to_vec(),
        value: Some(feed_seq.to_be_bytes().to_vec()),
    });
    ops.push(Op {
        tree: TreeId::Meta,
        key: keys::READ_MODEL_VERSION.to_vec(),
        value: Some(version.to_be_bytes().to_vec()),
    });
    store.apply(&ops)?;
    store.flush()?;
    Ok(n)
}
