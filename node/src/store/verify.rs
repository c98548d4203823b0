//! `verify`: checks a store for damage: every document record decodes and loads with automerge
//! and matches its stored heads and meta, the feed holds exactly one entry per document at the
//! document's seq, and every peer, peer-state, peer-heads and user record decodes.

use super::records::{self, DocRecord, FeedValue};
use super::{sled::SledStore, PeerConfig, PeerState, Store, StoreExt, TreeId, UserEntry};
use crate::error::NodeError;
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use uuid::Uuid;

/// Problems found are listed in `problems`; an empty list means the store is sound.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Documents checked.
    pub docs: u64,
    /// Feed entries checked.
    pub feed_entries: u64,
    /// Peer records checked.
    pub peers: u64,
    /// User records checked.
    pub users: u64,
    /// What is wrong (one line each).
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// No problem found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Opens a data dir (taking its lock: the node must not be running) and verifies it.
pub fn verify(data_dir: &Path) -> Result<VerifyReport, NodeError> {
    let store = SledStore::open(data_dir, 16 * 1024 * 1024)?;
    if store.identity()?.is_none() {
        return Err(NodeError::NotInitialized(data_dir.to_path_buf()));
    }
    Ok(verify_store(&store))
}

/// Verifies an open store (which must not be written meanwhile).
pub fn verify_store(store: &dyn Store) -> VerifyReport {
    let mut problems = Vec::new();
    let mut p = |s: String| problems.push(s);
    if let Err(e) = check(store, &mut p) {
        p(format!("verify stopped: {e}"));
    }
    let (docs, feed_entries, peers, users) = counts(store);
    VerifyReport {
        docs,
        feed_entries,
        peers,
        users,
        problems,
    }
}

fn counts(store: &dyn Store) -> (u64, u64, u64, u64) {
    let c = |t| store.count(t).unwrap_or(0);
    (
        c(TreeId::Docs),
        c(TreeId::Feed),
        c(TreeId::Peers),
        c(TreeId::Users),
    )
}

fn check(store: &dyn Store, p: &mut impl FnMut(String)) -> Result<(), NodeError> {
    match store.identity() {
        Ok(Some(_)) => {}
        Ok(None) => p("meta: no node identity".into()),
        Err(e) => p(format!("meta: identity undecodable: {e}")),
    }
    let feed_seq = store.feed_seq().unwrap_or_else(|e| {
        p(format!("meta: feed_seq unreadable: {e}"));
        u64::MAX
    });

    // doc id -> seq according to the docs tree
    let mut doc_seqs: HashMap<Uuid, u64> = HashMap::new();
    let mut kinds: HashMap<super::DocKind, u64> = HashMap::new();
    for kv in store.iter_prefix(TreeId::Docs, b"", false) {
        let (k, v) = kv?;
        let id = match records::read_uuid(&k) {
            Ok(id) => id,
            Err(_) => {
                p(format!("docs: key {} is not a uuid", hex::encode(&k)));
                continue;
            }
        };
        let rec: DocRecord = match records::decode(&v) {
            Ok(r) => r,
            Err(e) => {
                p(format!("docs: {id}: record undecodable: {e}"));
                continue;
            }
        };
        match rec.load(id) {
            Ok(doc) => {
                let heads: Vec<[u8; 32]> = doc.get_heads().into_iter().map(|h| h.0).collect();
                if heads != rec.heads {
                    p(format!(
                        "docs: {id}: stored heads differ from the document's"
                    ));
                }
                // Documents whose content names its kind must agree with the stored meta.
                if let Ok(content) = switchboard_sync::doc::read_meta(&doc) {
                    if content != rec.meta {
                        p(format!(
                            "docs: {id}: stored meta {:?} differs from the content's {:?}",
                            rec.meta, content
                        ));
                    }
                }
            }
            Err(e) => p(format!("docs: {id}: automerge cannot load it: {e}")),
        }
        if rec.seq > feed_seq {
            p(format!(
                "docs: {id}: seq {} is beyond the feed counter {feed_seq}",
                rec.seq
            ));
        }
        *kinds.entry(rec.meta.kind).or_insert(0u64) += 1;
        doc_seqs.insert(id, rec.seq);
    }
    match store.doc_counts() {
        Ok(counts) => {
            let stored: HashMap<_, _> = counts.into_iter().collect();
            for (kind, n) in &kinds {
                let s = stored.get(kind).copied().unwrap_or(0);
                if s != *n {
                    p(format!(
                        "meta: {} documents of kind {} stored but the counter says {s}",
                        n,
                        kind.as_str()
                    ));
                }
            }
            for (kind, s) in &stored {
                if *s > 0 && !kinds.contains_key(kind) {
                    p(format!(
                        "meta: counter says {s} documents of kind {} but none are stored",
                        kind.as_str()
                    ));
                }
            }
        }
        Err(e) => p(format!("meta: document counters unreadable: {e}")),
    }

    let mut seen: HashMap<Uuid, u64> = HashMap::new();
    for kv in store.iter_prefix(TreeId::Feed, b"", false) {
        let (k, v) = kv?;
        let seq = match records::read_u64(&k) {
            Ok(s) => s,
            Err(_) => {
                p(format!("feed: key {} is not a seq", hex::encode(&k)));
                continue;
            }
        };
        let fv: FeedValue = match records::decode(&v) {
            Ok(f) => f,
            Err(e) => {
                p(format!("feed: seq {seq}: undecodable: {e}"));
                continue;
            }
        };
        if let Some(prev) = seen.insert(fv.doc, seq) {
            p(format!(
                "feed: document {} has two entries ({prev} and {seq})",
                fv.doc
            ));
        }
        match doc_seqs.get(&fv.doc) {
            None => p(format!(
                "feed: seq {seq} names document {} which is not stored",
                fv.doc
            )),
            Some(s) if *s != seq => p(format!(
                "feed: seq {seq} for document {} whose record says seq {s}",
                fv.doc
            )),
            Some(_) => {}
        }
    }
    for (id, seq) in &doc_seqs {
        if !seen.contains_key(id) {
            p(format!("feed: document {id} (seq {seq}) has no feed entry"));
        }
    }

    check_read_model(store, feed_seq, &doc_seqs, p)?;

    for kv in store.iter_prefix(TreeId::Peers, b"", false) {
        let (k, v) = kv?;
        if let Err(e) = PeerConfig::decode(&v) {
            p(format!(
                "peers: {}: undecodable: {e}",
                String::from_utf8_lossy(&k)
            ));
        }
    }
    for kv in store.iter_prefix(TreeId::PeerState, b"", false) {
        let (k, v) = kv?;
        match records::decode::<PeerState>(&v) {
            Err(e) => p(format!(
                "peer_state: {}: record undecodable: {e}",
                String::from_utf8_lossy(&k)
            )),
            Ok(st) => {
                if let Err(e) = st.checkpoint() {
                    p(format!(
                        "peer_state: {}: checkpoint undecodable: {e}",
                        String::from_utf8_lossy(&k)
                    ));
                }
            }
        }
    }
    for kv in store.iter_prefix(TreeId::PeerHeads, b"", false) {
        let (k, v) = kv?;
        if k.len() != 32 || records::decode::<Vec<[u8; 32]>>(&v).is_err() {
            p(format!("peer_heads: entry {} is damaged", hex::encode(&k)));
        }
    }
    for kv in store.iter_prefix(TreeId::Users, b"", false) {
        let (k, v) = kv?;
        if let Err(e) = UserEntry::decode(&v) {
            p(format!(
                "users: {}: undecodable: {e}",
                String::from_utf8_lossy(&k)
            ));
        }
    }
    Ok(())
}

/// Generic read-model checks: every key a projection recorded exists, belongs to a stored
/// document, and the read model is not behind the feed.
fn check_read_model(
    store: &dyn Store,
    feed_seq: u64,
    doc_seqs: &HashMap<Uuid, u64>,
    p: &mut impl FnMut(String),
) -> Result<(), NodeError> {
    let version = store.get(TreeId::Meta, records::keys::READ_MODEL_VERSION)?;
    let rm_seq = store
        .get(TreeId::Meta, records::keys::READ_MODEL_SEQ)?
        .map(|b| records::read_u64(&b))
        .transpose()?;
    if version.is_some() && rm_seq != Some(feed_seq) {
        p(format!(
            "read model: covers feed seq {rm_seq:?} but the feed is at {feed_seq} (rebuilt on next open)"
        ));
    }
    for kv in store.iter_prefix(TreeId::RmOwner, b"", false) {
        let (k, v) = kv?;
        let Ok(id) = records::read_uuid(&k) else {
            p(format!("rm_owner: key {} is not a uuid", hex::encode(&k)));
            continue;
        };
        if !doc_seqs.contains_key(&id) {
            p(format!(
                "rm_owner: entries for document {id} which is not stored"
            ));
        }
        let owned: Vec<(u8, Vec<u8>)> = match records::decode(&v) {
            Ok(o) => o,
            Err(e) => {
                p(format!("rm_owner: {id}: undecodable: {e}"));
                continue;
            }
        };
        for (t, key) in owned {
            match TreeId::ALL.get(usize::from(t)) {
                Some(tree) if tree.is_projectable() => {
                    if store.get(*tree, &key)?.is_none() {
                        p(format!(
                            "read model: {} entry {} of document {id} is missing",
                            tree.name(),
                            hex::encode(&key)
                        ));
                    }
                }
                _ => p(format!("rm_owner: {id}: bad tree index {t}")),
            }
        }
    }
    Ok(())
}
