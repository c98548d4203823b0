//! The node's store: an embedded key-value engine behind the [`Store`] trait (sled today, see
//! [`sled::SledStore`]), typed helpers on top ([`StoreExt`]), and the single [`writer::Writer`]
//! thread that owns every mutation, keeps a bounded cache of loaded automerge documents and
//! acknowledges writes only after a group-committed flush (one atomic engine write and one
//! flush per batch of jobs). A job reads and stages its writes through [`WriteCtx`] ([`ctx`]);
//! [`rebuild`] rebuilds the read model; [`records`] holds the record types and key layouts;
//! [`mod@verify`] checks a store for damage.
//!
//! Documents are stored as a snapshot plus `save_after` increments, compacted every
//! [`records::MAX_INCREMENTS`] changes; per-kind document counters ([`StoreExt::doc_counts`])
//! are kept in the same atomic write. A data dir that is a restored backup or a copy (its sled
//! directory is not the one it was last opened in) takes a fresh actor id and feed epoch before
//! its first write.
//!
//! # Trees
//!
//! | tree | key | value |
//! |---|---|---|
//! | `meta` | see [`records::keys`] | identity ([`NodeMeta`]), feed seq, read-model seq/version, restored flag |
//! | `docs` | doc uuid (16) | [`DocRecord`] {meta, seq, heads, snapshot bytes, increments} |
//! | `feed` | seq (u64 BE) | [`records::FeedValue`] {doc, meta}; exactly one entry per doc |
//! | `peers` | peer name | [`PeerConfig`] |
//! | `peer_state` | [`records::peer_checkpoint_key`] (node id text) or [`records::peer_status_key`] (`status:` ++ name) | [`PeerState`] {checkpoint, last success/error} |
//! | `peer_heads` | peer node id (16) ++ doc uuid (16) | codec `Vec<[u8;32]>` heads |
//! | `users` | sha256 hex of the bearer token | [`UserEntry`] |
//! | `rm_owner` | doc uuid (16) | read-model keys the projector wrote for that doc |
//! | `order_summaries` | order id (16) | summary JSON |
//! | `idx_customer_orders` | customer id ++ created_at ++ order id | empty |
//! | `idx_status` | status name ++ 0 ++ order id | empty |
//! | `idx_held` | hold code ++ 0 ++ order id | empty |
//! | `idx_coupon` | coupon code ++ 0 ++ order id | applied_at |
//! | `customers` | customer id (16) | customer view JSON |
//! | `idx_customer_search` | gram length (1) ++ gram ++ customer id (16), see [`crate::customer_search`] | empty |
//!
//! # Read model
//!
//! The store holds no business rules: the service layer gives a [`Projector`] at open, a function
//! from one document to the read-model entries it implies. On every `put_doc` the writer runs it
//! and replaces that document's previous entries (tracked in `rm_owner`) in the same atomic write,
//! and records the covered feed seq in `meta`. On open, a read model that is missing, behind, or
//! built by another projector version is rebuilt from the documents ([`rebuild`]).
//!
//! # Reads
//!
//! Reads that do not need the writer (document bytes, feed scans, read-model lookups) go
//! straight to the engine from any thread; async handlers call them inside `spawn_blocking`.

mod cache;
pub mod ctx;
mod pending;
pub mod perms;
pub mod rebuild;
pub mod records;
pub mod sled;
#[cfg(test)]
mod tests;
pub mod verify;
pub mod writer;

use crate::error::NodeError;
use automerge::{Automerge, ChangeHash};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use switchboard_domain::NodeId;
use uuid::Uuid;

pub use ctx::WriteCtx;
pub use rebuild::{rebuild_read_model, rebuild_read_model_if_needed};
pub use records::{
    DocKind, DocMeta, DocRecord, FeedItem, NodeMeta, PeerConfig, PeerErrorRecord, PeerState,
    UserEntry, UserOrigin,
};
pub use verify::{verify, verify_store, VerifyReport};
pub use writer::{Writer, WriterStats};

/// A key-value pair.
pub type Kv = (Vec<u8>, Vec<u8>);

/// An iterator over key-value pairs of one tree.
pub type KvIter<'a> = Box<dyn Iterator<Item = Result<Kv, NodeError>> + Send + 'a>;

/// The trees of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TreeId {
    /// Node identity and counters.
    Meta,
    /// Documents.
    Docs,
    /// Change feed.
    Feed,
    /// Configured peers.
    Peers,
    /// Per-peer checkpoints and status.
    PeerState,
    /// Heads each peer is known to hold per document.
    PeerHeads,
    /// Token hash → user.
    Users,
    /// Doc → read-model keys written for it by the projector.
    RmOwner,
    /// Order id → summary JSON.
    OrderSummaries,
    /// Customer id ++ created_at ++ order id.
    IdxCustomerOrders,
    /// Status ++ 0 ++ order id.
    IdxStatus,
    /// Hold code ++ 0 ++ order id (orders with active holds).
    IdxHeld,
    /// Coupon code ++ 0 ++ order id → applied_at.
    IdxCoupon,
    /// Customer id → customer view JSON.
    Customers,
    /// Lower-cased 3-character grams of a customer's name, phone and email ++ customer id.
    IdxCustomerSearch,
}

impl TreeId {
    /// Every tree.
    pub const ALL: [TreeId; 15] = [
        TreeId::Meta,
        TreeId::Docs,
        TreeId::Feed,
        TreeId::Peers,
        TreeId::PeerState,
        TreeId::PeerHeads,
        TreeId::Users,
        TreeId::RmOwner,
        TreeId::OrderSummaries,
        TreeId::IdxCustomerOrders,
        TreeId::IdxStatus,
        TreeId::IdxHeld,
        TreeId::IdxCoupon,
        TreeId::Customers,
        TreeId::IdxCustomerSearch,
    ];

    /// Trees that hold only derived data, cleared wholesale on a read-model rebuild.
    pub const READ_MODEL: [TreeId; 7] = [
        TreeId::OrderSummaries,
        TreeId::IdxCustomerOrders,
        TreeId::IdxStatus,
        TreeId::IdxHeld,
        TreeId::IdxCoupon,
        TreeId::Customers,
        TreeId::IdxCustomerSearch,
    ];

    /// The engine's name for the tree.
    pub fn name(self) -> &'static str {
        match self {
            TreeId::Meta => "meta",
            TreeId::Docs => "docs",
            TreeId::Feed => "feed",
            TreeId::Peers => "peers",
            TreeId::PeerState => "peer_state",
            TreeId::PeerHeads => "peer_heads",
            TreeId::Users => "users",
            TreeId::RmOwner => "rm_owner",
            TreeId::OrderSummaries => "order_summaries",
            TreeId::IdxCustomerOrders => "idx_customer_orders",
            TreeId::IdxStatus => "idx_status",
            TreeId::IdxHeld => "idx_held",
            TreeId::IdxCoupon => "idx_coupon",
            TreeId::Customers => "customers",
            TreeId::IdxCustomerSearch => "idx_customer_search",
        }
    }

    /// Index into [`TreeId::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether a projector or a job may write this tree as read model (the read-model trees
    /// and `users`).
    pub fn is_projectable(self) -> bool {
        TreeId::READ_MODEL.contains(&self) || self == TreeId::Users
    }

    /// [`TreeId::is_projectable`] as an error for read-model entries aimed elsewhere.
    pub(crate) fn ensure_projectable(self) -> Result<(), NodeError> {
        if self.is_projectable() {
            Ok(())
        } else {
            Err(NodeError::Corrupt(format!(
                "{} is not a read-model tree",
                self.name()
            )))
        }
    }

    /// The tree at an index into [`TreeId::ALL`] (as stored in `rm_owner`).
    pub(crate) fn from_index(i: u8) -> Result<TreeId, NodeError> {
        TreeId::ALL
            .get(usize::from(i))
            .copied()
            .ok_or_else(|| NodeError::Corrupt(format!("bad tree index {i} in rm_owner")))
    }
}

/// One staged mutation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    /// Tree.
    pub tree: TreeId,
    /// Key.
    pub key: Vec<u8>,
    /// New value; `None` deletes.
    pub value: Option<Vec<u8>>,
}

/// A read-model entry produced by a [`Projector`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RmEntry {
    /// A read-model tree or `users` ([`TreeId::is_projectable`]).
    pub tree: TreeId,
    /// Key.
    pub key: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
}

/// The service layer's projection of one document into read-model entries (the full set for
/// that document; the store removes entries a previous projection wrote that are gone).
pub type Projector = Arc<dyn Fn(Uuid, &DocMeta, &Automerge) -> Vec<RmEntry> + Send + Sync>;

/// The embedded engine. Implementations must make [`Store::apply`] atomic (all or nothing, also
/// across a crash) and [`Store::flush`] durable.
pub trait Store: Send + Sync {
    /// One value.
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError>;
    /// Entries with keys `>= start`, ascending.
    fn iter_from(&self, tree: TreeId, start: &[u8]) -> KvIter<'_>;
    /// Entries whose key starts with `prefix`, ascending or (`reverse`) descending.
    fn iter_prefix(&self, tree: TreeId, prefix: &[u8], reverse: bool) -> KvIter<'_>;
    /// The entry with the greatest key.
    fn last(&self, tree: TreeId) -> Result<Option<Kv>, NodeError>;
    /// Number of entries (walks the tree: not for hot paths).
    fn count(&self, tree: TreeId) -> Result<u64, NodeError>;
    /// Applies the ops atomically across trees (later ops on the same key win).
    fn apply(&self, ops: &[Op]) -> Result<(), NodeError>;
    /// Removes every entry of a tree (not atomic with anything else).
    fn clear(&self, tree: TreeId) -> Result<(), NodeError>;
    /// Makes everything applied so far durable.
    fn flush(&self) -> Result<(), NodeError>;
}

/// Typed reads over any [`Store`].
pub trait StoreExt: Store {
    /// The node identity, if initialised.
    fn identity(&self) -> Result<Option<NodeMeta>, NodeError> {
        self.get(TreeId::Meta, records::keys::IDENTITY)?
            .map(|b| records::decode(&b))
            .transpose()
    }

    /// The last assigned feed sequence number (0 when none).
    fn feed_seq(&self) -> Result<u64, NodeError> {
        match self.get(TreeId::Meta, records::keys::FEED_SEQ)? {
            Some(b) => records::read_u64(&b),
            None => Ok(0),
        }
    }

    /// Stored documents by kind (kept with every write; no scan).
    fn doc_counts(&self) -> Result<Vec<(DocKind, u64)>, NodeError> {
        let mut out = Vec::new();
        for kv in self.iter_prefix(TreeId::Meta, records::keys::DOC_COUNT_PREFIX, false) {
            let (k, v) = kv?;
            let name = String::from_utf8_lossy(&k[records::keys::DOC_COUNT_PREFIX.len()..]);
            if let Some(kind) = DocKind::parse(&name) {
                out.push((kind, records::read_u64(&v)?));
            }
        }
        Ok(out)
    }

    /// A stored document record.
    fn doc_record(&self, id: Uuid) -> Result<Option<DocRecord>, NodeError> {
        self.get(TreeId::Docs, id.as_bytes())?
            .map(|b| records::decode(&b))
            .transpose()
    }

    /// A document's meta and heads without loading it.
    fn doc_heads(&self, id: Uuid) -> Result<Option<Vec<ChangeHash>>, NodeError> {
        Ok(self.doc_record(id)?.map(|r| r.change_hashes()))
    }

    /// Loads a document from its stored bytes (no cache; the writer has its own).
    fn load_doc(&self, id: Uuid) -> Result<Option<(DocMeta, Automerge)>, NodeError> {
        match self.doc_record(id)? {
            None => Ok(None),
            Some(rec) => {
                let doc = rec.load(id)?;
                Ok(Some((rec.meta, doc)))
            }
        }
    }

    /// Feed entries with `seq > since`, ascending, at most `limit`.
    fn feed_since(&self, since: u64, limit: usize) -> Result<Vec<FeedItem>, NodeError> {
        let start = records::seq_key(since.saturating_add(1));
        let mut out = Vec::new();
        if since == u64::MAX {
            return Ok(out);
        }
        for kv in self.iter_from(TreeId::Feed, &start).take(limit) {
            let (k, v) = kv?;
            let fv: records::FeedValue = records::decode(&v)?;
            out.push(FeedItem {
                seq: records::read_u64(&k)?,
                doc: fv.doc,
                meta: fv.meta,
            });
        }
        Ok(out)
    }

    /// Every configured peer, by name.
    fn peers(&self) -> Result<Vec<PeerConfig>, NodeError> {
        self.iter_prefix(TreeId::Peers, b"", false)
            .map(|kv| kv.and_then(|(_, v)| PeerConfig::decode(&v)))
            .collect()
    }

    /// One peer.
    fn peer(&self, name: &str) -> Result<Option<PeerConfig>, NodeError> {
        self.get(TreeId::Peers, name.as_bytes())?
            .map(|b| PeerConfig::decode(&b))
            .transpose()
    }

    /// Sync state of a peer, by [`records::peer_checkpoint_key`] or [`records::peer_status_key`].
    fn peer_state(&self, key: &str) -> Result<Option<PeerState>, NodeError> {
        self.get(TreeId::PeerState, key.as_bytes())?
            .map(|b| records::decode(&b))
            .transpose()
    }

    /// Heads a peer is known to hold for a document.
    fn peer_heads(&self, peer: &NodeId, doc: &Uuid) -> Result<Option<Vec<ChangeHash>>, NodeError> {
        self.get(TreeId::PeerHeads, &records::peer_heads_key(peer, doc))?
            .map(|b| {
                records::decode::<Vec<[u8; 32]>>(&b)
                    .map(|v| v.into_iter().map(ChangeHash).collect())
            })
            .transpose()
    }

    /// The user holding a token, by the token's sha256 hex ([`crate::identity::token_hash`]).
    fn user_by_token_hash(&self, hash: &str) -> Result<Option<UserEntry>, NodeError> {
        self.get(TreeId::Users, hash.as_bytes())?
            .map(|b| UserEntry::decode(&b))
            .transpose()
    }

    /// A read-model value.
    fn rm_get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        self.get(tree, key)
    }

    /// Read-model entries under a prefix, at most `limit`, after skipping keys `<= after`
    /// (ascending) or `>= after` (descending) when given: keyset pagination.
    fn rm_scan(
        &self,
        tree: TreeId,
        prefix: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<Kv>, NodeError> {
        let mut out = Vec::new();
        for kv in self.iter_prefix(tree, prefix, reverse) {
            let (k, v) = kv?;
            if let Some(a) = after {
                let skip = if reverse {
                    k.as_slice() >= a
                } else {
                    k.as_slice() <= a
                };
                if skip {
                    continue;
                }
            }
            out.push((k, v));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Number of entries under a prefix (e.g. coupon redemptions).
    fn rm_count_prefix(&self, tree: TreeId, prefix: &[u8]) -> Result<u64, NodeError> {
        let mut n = 0;
        for kv in self.iter_prefix(tree, prefix, false) {
            kv?;
            n += 1;
        }
        Ok(n)
    }
}

impl<S: Store + ?Sized> StoreExt for S {}

/// Options for opening a store.
#[derive(Clone)]
pub struct StoreOptions {
    /// sled page cache, bytes (the node sets it from `NodeConfig::cache_mb`).
    pub cache_capacity_bytes: u64,
    /// Loaded documents kept by the writer (default 1024).
    pub doc_cache: usize,
    /// Most jobs applied per flush (default 1024).
    pub max_batch: usize,
    /// Queue depth between submitters and the writer (default 4096).
    pub queue_depth: usize,
    /// Read-model projection run on every `put_doc` and on rebuild; `None` = no read model.
    pub projector: Option<Projector>,
    /// Version of the projector; a change triggers a rebuild on open.
    pub read_model_version: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            cache_capacity_bytes: crate::config::DEFAULT_CACHE_MB * 1024 * 1024,
            doc_cache: crate::config::DEFAULT_DOC_CACHE,
            max_batch: 1024,
            queue_depth: 4096,
            projector: None,
            read_model_version: 1,
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("cache_capacity_bytes", &self.cache_capacity_bytes)
            .field("doc_cache", &self.doc_cache)
            .field("max_batch", &self.max_batch)
            .field("queue_depth", &self.queue_depth)
            .field("projector", &self.projector.is_some())
            .field("read_model_version", &self.read_model_version)
            .finish()
    }
}

/// What happened while opening a store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// The data dir was a restored backup or copy: a fresh actor and feed epoch were taken.
    pub took_fresh_actor: bool,
    /// The read model was rebuilt from this many documents.
    pub rebuilt_read_model: Option<u64>,
}

/// An open node store: the engine for reads, the writer for mutations, the data-dir lock.
/// Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    store: Arc<sled::SledStore>,
    writer: Writer,
    data_dir: PathBuf,
    report: OpenReport,
    projector: Option<(Projector, u32)>,
}

impl Storage {
    /// Opens an initialised data dir: takes `DATA_DIR/LOCK`, opens the engine, takes a fresh
    /// actor and feed epoch if the dir is a restored backup, rebuilds the read model when it is
    /// missing or behind, and starts the writer thread.
    pub fn open(data_dir: &Path, opts: StoreOptions) -> Result<Storage, NodeError> {
        let store = Arc::new(sled::SledStore::open(data_dir, opts.cache_capacity_bytes)?);
        if store.identity()?.is_none() {
            return Err(NodeError::NotInitialized(data_dir.to_path_buf()));
        }
        let mut report = OpenReport {
            took_fresh_actor: store.take_fresh_actor_if_restored()?,
            ..OpenReport::default()
        };
        if let Some(p) = &opts.projector {
            report.rebuilt_read_model =
                rebuild_read_model_if_needed(&*store, p, opts.read_model_version)?;
        }
        let dyn_store: Arc<dyn Store> = store.clone();
        let writer = Writer::start(dyn_store, &opts)?;
        Ok(Storage {
            store,
            writer,
            data_dir: data_dir.to_path_buf(),
            report,
            projector: opts.projector.map(|p| (p, opts.read_model_version)),
        })
    }

    /// The engine, for reads.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The engine as a shareable handle (for `spawn_blocking` closures).
    pub fn store_arc(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What happened at open.
    pub fn open_report(&self) -> &OpenReport {
        &self.report
    }

    /// The node identity.
    pub fn identity(&self) -> Result<NodeMeta, NodeError> {
        self.store
            .identity()?
            .ok_or_else(|| NodeError::NotInitialized(self.data_dir.clone()))
    }

    /// Submits a write job (see [`Writer::submit`]).
    pub fn submit<R, E, F>(&self, job: F) -> impl std::future::Future<Output = Result<R, E>> + Send
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        self.writer.submit(job)
    }

    /// Writes a consistent copy of the store to `out_dir` (which must not exist or be empty),
    /// marked as restored so that whoever opens it takes a fresh actor id and feed epoch before
    /// its first write; peer secrets only with `include_keys`. Runs on the writer thread,
    /// between jobs.
    pub async fn backup(
        &self,
        out_dir: PathBuf,
        include_keys: bool,
    ) -> Result<sled::BackupReport, NodeError> {
        self.writer
            .submit_exclusive(move |ctx: &mut WriteCtx<'_>| {
                sled::backup_store(ctx.store(), &out_dir, include_keys)
            })
            .await
    }

    /// Checks the whole store (on the writer thread, so it sees a consistent state).
    pub async fn verify(&self) -> Result<VerifyReport, NodeError> {
        self.writer
            .submit_exclusive(|ctx: &mut WriteCtx<'_>| Ok(verify_store(ctx.store())))
            .await
    }

    /// Rebuilds the read model from the documents now (on the writer thread, between jobs).
    /// Returns the number of documents projected; 0 without a projector.
    pub async fn rebuild_read_model(&self) -> Result<u64, NodeError> {
        let Some((p, version)) = self.projector.clone() else {
            return Ok(0);
        };
        self.writer
            .submit_exclusive(move |ctx: &mut WriteCtx<'_>| {
                rebuild_read_model(ctx.store(), &p, version)
            })
            .await
    }

    /// Stops the writer after the queued jobs (each flushed and answered) and flushes.
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        self.writer.shutdown().await?;
        self.store.flush()
    }
}
