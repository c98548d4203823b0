//! The writer: ONE dedicated OS thread owns every mutation of the store.
//!
//! Callers submit jobs (`FnOnce(&mut WriteCtx) -> Result<R, E>`); the thread takes every queued
//! job (up to `max_batch`) and runs them one after the other. A job stages its writes; when it
//! returns `Ok` they join the batch's pending writes (a job returning `Err` or panicking writes
//! nothing), and later jobs of the batch see them (through [`WriteCtx::get`],
//! [`WriteCtx::store`], [`WriteCtx::load_doc`] ...). At the end of the batch all pending writes
//! go to the engine in ONE atomic write, the engine is flushed ONCE, and only then is every job
//! of the batch answered: group commit, no acknowledgement before durability, and a crash never
//! leaves part of a job (or of a batch) on disk.
//!
//! The thread keeps a bounded LRU cache of loaded automerge documents. A job takes the document
//! it loads out of the cache and a successful `put_doc` puts the new version back, so a failing
//! job can never leave a changed copy in the cache (it only costs a reload).
//!
//! Metrics: histograms `switchboard_flush_batch_size` (jobs per flush) and
//! `switchboard_write_latency_seconds` (submit to answer), counter `switchboard_flushes_total`,
//! gauge `switchboard_doc_cache_entries`.

use super::cache::DocCache;
use super::pending::{Pending, PendingView};
use super::records::{self, keys, DocRecord, FeedValue, NodeMeta};
use super::{
    DocKind, DocMeta, Op, PeerConfig, PeerState, Projector, RmEntry, Store, StoreExt, StoreOptions,
    TreeId, UserEntry,
};
use crate::error::NodeError;
use automerge::{Automerge, ChangeHash, ReadDoc};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use switchboard_domain::NodeId;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

/// A boxed write job.
pub type Job<R, E> = Box<dyn FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send>;

type Responder = Box<dyn FnOnce(Option<NodeError>) + Send>;
type Erased = Box<dyn FnOnce(&mut WriteCtx<'_>) -> (bool, Responder) + Send>;

enum Msg {
    Job {
        run: Erased,
        queued_at: Instant,
        exclusive: bool,
    },
    Stop(oneshot::Sender<()>),
}

/// Counters of the writer (also exported as metrics).
#[derive(Debug, Default)]
pub struct WriterStats {
    /// Engine flushes done.
    pub flushes: AtomicU64,
    /// Jobs whose writes were committed.
    pub jobs_committed: AtomicU64,
    /// Jobs that returned an error (or panicked) and wrote nothing.
    pub jobs_failed: AtomicU64,
    /// Batches processed.
    pub batches: AtomicU64,
    /// Largest batch so far.
    pub max_batch: AtomicU64,
    /// Documents currently in the cache.
    pub cached_docs: AtomicU64,
}

impl WriterStats {
    /// Flushes so far.
    pub fn flushes(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
    /// Committed jobs so far.
    pub fn jobs_committed(&self) -> u64 {
        self.jobs_committed.load(Ordering::Relaxed)
    }
    /// Failed jobs so far.
    pub fn jobs_failed(&self) -> u64 {
        self.jobs_failed.load(Ordering::Relaxed)
    }
    /// Documents in the writer's cache.
    pub fn cached_docs(&self) -> u64 {
        self.cached_docs.load(Ordering::Relaxed)
    }
}

/// Handle to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Msg>,
    stats: Arc<WriterStats>,
}

impl Writer {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>, opts: &StoreOptions) -> Result<Writer, NodeError> {
        let seq = store.feed_seq()?;
        let (tx, rx) = mpsc::channel(opts.queue_depth.max(1));
        let stats = Arc::new(WriterStats::default());
        let thread = WriterThread {
            store,
            pending: Pending::default(),
            batch_docs: Vec::new(),
            cache: DocCache::new(opts.doc_cache),
            projector: opts.projector.clone(),
            stats: stats.clone(),
            max_batch: opts.max_batch.max(1),
            seq,
        };
        std::thread::Builder::new()
            .name("switchboard-writer".into())
            .spawn(move || thread.run(rx))
            .map_err(|e| NodeError::io("spawning the writer thread", e))?;
        Ok(Writer { tx, stats })
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// Jobs waiting in the queue (not yet taken by the writer thread).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    fn erase<R, E, F>(job: F) -> (Erased, oneshot::Receiver<Result<R, E>>)
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        let (otx, orx) = oneshot::channel::<Result<R, E>>();
        let run: Erased = Box::new(move |ctx: &mut WriteCtx<'_>| {
            let res = job(ctx);
            let ok = res.is_ok();
            let respond: Responder = Box::new(move |flush_err: Option<NodeError>| {
                let out = match flush_err {
                    Some(e) if ok => Err(E::from(e)),
                    _ => res,
                };
                let _ = otx.send(out);
            });
            (ok, respond)
        });
        (run, orx)
    }

    /// Submits a job; the future resolves once the job's writes are durable (or with the job's
    /// error, having written nothing). Store failures arrive as `E::from(NodeError)`.
    pub fn submit<R, E, F>(&self, job: F) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        self.submit_inner(job, false)
    }

    /// [`Writer::submit`] for a job that needs the engine itself (`ctx.store()` writes, long
    /// scans): the writer commits the batch before it, runs it alone and answers it at once, so
    /// it sees a committed engine and may write to it directly (making its writes durable
    /// itself). Used for backup, verify and read-model rebuilds.
    pub fn submit_exclusive<R, E, F>(
        &self,
        job: F,
    ) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        self.submit_inner(job, true)
    }

    fn submit_inner<R, E, F>(
        &self,
        job: F,
        exclusive: bool,
    ) -> impl Future<Output = Result<R, E>> + Send + 'static
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        let tx = self.tx.clone();
        let (run, orx) = Self::erase(job);
        async move {
            let queued_at = Instant::now();
            tx.send(Msg::Job {
                run,
                queued_at,
                exclusive,
            })
            .await
            .map_err(|_| E::from(NodeError::WriterClosed))?;
            orx.await.map_err(|_| E::from(NodeError::WriterClosed))?
        }
    }

    /// [`Writer::submit`] for threads outside an async runtime (CLI tools, tests). Must not be
    /// called from inside an async task.
    pub fn submit_blocking<R, E, F>(&self, job: F) -> Result<R, E>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> Result<R, E> + Send + 'static,
        R: Send + 'static,
        E: From<NodeError> + Send + 'static,
    {
        let (run, orx) = Self::erase(job);
        self.tx
            .blocking_send(Msg::Job {
                run,
                queued_at: Instant::now(),
                exclusive: false,
            })
            .map_err(|_| E::from(NodeError::WriterClosed))?;
        orx.blocking_recv()
            .map_err(|_| E::from(NodeError::WriterClosed))?
    }

    /// Stops the writer after the jobs queued before this call (each applied, flushed and
    /// answered). Later submissions fail with [`NodeError::WriterClosed`].
    pub async fn shutdown(&self) -> Result<(), NodeError> {
        let (stx, srx) = oneshot::channel();
        if self.tx.send(Msg::Stop(stx)).await.is_err() {
            return Ok(()); // already stopped
        }
        let _ = srx.await;
        Ok(())
    }
}

struct WriterThread {
    store: Arc<dyn Store>,
    pending: Pending,
    batch_docs: Vec<Uuid>,
    cache: DocCache,
    projector: Option<Projector>,
    stats: Arc<WriterStats>,
    max_batch: usize,
    seq: u64,
}

enum Reply {
    Committed(Responder, Instant),
    Failed(Responder, Instant),
}

impl WriterThread {
    fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        let mut stop: Option<oneshot::Sender<()>> = None;
        while stop.is_none() {
            let Some(first) = rx.blocking_recv() else {
                break;
            };
            let mut msgs = vec![first];
            while msgs.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(m) => msgs.push(m),
                    Err(_) => break,
                }
            }
            let mut replies = Vec::with_capacity(msgs.len());
            let mut wrote = false;
            for m in msgs {
                match m {
                    Msg::Stop(s) => stop = Some(s),
                    Msg::Job {
                        run,
                        queued_at,
                        exclusive,
                    } => {
                        if exclusive {
                            // Commit and answer what came before, then run it alone.
                            self.finish_batch(std::mem::take(&mut replies), wrote);
                            wrote = false;
                        }
                        if let Some(r) = self.run_job(run, queued_at, &mut wrote) {
                            replies.push(r);
                        }
                        if exclusive {
                            self.finish_batch(std::mem::take(&mut replies), wrote);
                            wrote = false;
                        }
                    }
                }
            }
            self.finish_batch(replies, wrote);
        }
        rx.close();
        // Jobs queued after Stop are dropped unanswered: their callers see WriterClosed.
        while rx.try_recv().is_ok() {}
        // Release the engine (and with the last handle, the data-dir lock) before answering.
        let WriterThread { store, cache, .. } = self;
        drop(cache);
        drop(store);
        if let Some(s) = stop {
            let _ = s.send(());
        }
    }

    fn run_job(&mut self, run: Erased, queued_at: Instant, wrote: &mut bool) -> Option<Reply> {
        let view = PendingView {
            engine: &*self.store,
            pending: &self.pending,
        };
        let mut ctx = WriteCtx::new(view, &mut self.cache, self.projector.as_ref(), self.seq);
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| run(&mut ctx)));
        let parts = ctx.into_parts();
        match outcome {
            Err(_) => {
                tracing::error!("a write job panicked; it wrote nothing");
                self.stats.jobs_failed.fetch_add(1, Ordering::Relaxed);
                None
            }
            Ok((false, respond)) => {
                self.stats.jobs_failed.fetch_add(1, Ordering::Relaxed);
                Some(Reply::Failed(respond, queued_at))
            }
            Ok((true, respond)) => {
                *wrote |= !parts.ops.is_empty();
                self.pending.absorb(parts.ops);
                self.seq = parts.seq;
                for (id, (meta, doc)) in parts.docs {
                    self.cache.insert(id, meta, doc);
                    self.batch_docs.push(id);
                }
                self.stats.jobs_committed.fetch_add(1, Ordering::Relaxed);
                Some(Reply::Committed(respond, queued_at))
            }
        }
    }

    fn finish_batch(&mut self, replies: Vec<Reply>, wrote: bool) {
        if replies.is_empty() && self.pending.is_empty() && !wrote {
            return;
        }
        // The whole batch goes to the engine in one atomic write.
        let mut commit_err = None;
        if !self.pending.is_empty() {
            let ops = self.pending.take_ops();
            if let Err(e) = self.store.apply(&ops) {
                tracing::error!(error = %e, "applying a batch failed; none of its jobs wrote");
                for id in &self.batch_docs {
                    self.cache.remove(id);
                }
                self.seq = self.store.feed_seq().unwrap_or(self.seq);
                commit_err = Some(e.to_string());
            }
        }
        self.batch_docs.clear();
        let flush_err = if let Some(e) = commit_err {
            Some(e)
        } else if wrote {
            let r = self.store.flush();
            self.stats.flushes.fetch_add(1, Ordering::Relaxed);
            metrics::counter!("switchboard_flushes_total").increment(1);
            r.err().map(|e| {
                tracing::error!(error = %e, "flush failed; acknowledging the batch as failed");
                e.to_string()
            })
        } else {
            None
        };
        let n = replies.len() as u64;
        self.stats.batches.fetch_add(1, Ordering::Relaxed);
        self.stats.max_batch.fetch_max(n, Ordering::Relaxed);
        self.stats
            .cached_docs
            .store(self.cache.len() as u64, Ordering::Relaxed);
        metrics::histogram!("switchboard_flush_batch_size").record(n as f64);
        metrics::gauge!("switchboard_doc_cache_entries").set(self.cache.len() as f64);
        let latency = metrics::histogram!("switchboard_write_latency_seconds");
        for r in replies {
            match r {
                Reply::Committed(respond, at) => {
                    latency.record(at.elapsed().as_secs_f64());
                    respond(
                        flush_err
                            .as_ref()
                            .map(|e| NodeError::Engine(format!("write failed: {e}"))),
                    );
                }
                Reply::Failed(respond, at) => {
                    latency.record(at.elapsed().as_secs_f64());
                    respond(None);
                }
            }
        }
    }
}

struct Parts {
    ops: Vec<Op>,
    docs: HashMap<Uuid, (DocMeta, Automerge)>,
    seq: u64,
}

/// What a job sees: reads (including its own staged writes) and staged mutations that are
/// applied atomically when the job returns `Ok`.
pub struct WriteCtx<'a> {
    view: PendingView<'a>,
    cache: &'a mut DocCache,
    projector: Option<&'a Projector>,
    ops: Vec<Op>,
    overlay: HashMap<(TreeId, Vec<u8>), Option<Vec<u8>>>,
    docs: HashMap<Uuid, (DocMeta, Automerge)>,
    seq: u64,
}

impl<'a> WriteCtx<'a> {
    fn new(
        view: PendingView<'a>,
        cache: &'a mut DocCache,
        projector: Option<&'a Projector>,
        seq: u64,
    ) -> Self {
        WriteCtx {
            view,
            cache,
            projector,
            ops: Vec::new(),
            overlay: HashMap::new(),
            docs: HashMap::new(),
            seq,
        }
    }

    fn into_parts(self) -> Parts {
        Parts {
            ops: self.ops,
            docs: self.docs,
            seq: self.seq,
        }
    }

    /// The store as earlier jobs left it (also those of this batch, not yet in the engine),
    /// without this job's own staged writes (see [`WriteCtx::get`], [`WriteCtx::scan_prefix`]).
    /// Writing through it is refused except in [`Writer::submit_exclusive`] jobs.
    pub fn store(&self) -> &dyn Store {
        &self.view
    }

    /// The last assigned feed seq, including this job's `put_doc`s.
    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// A value, seeing this job's staged writes.
    pub fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        match self.overlay.get(&(tree, key.to_vec())) {
            Some(v) => Ok(v.clone()),
            None => self.view.get(tree, key),
        }
    }

    /// Entries under a prefix, ascending, seeing this job's staged writes (unlike
    /// `ctx.store().iter_prefix`, which sees only what earlier jobs committed). Use it for
    /// counts that this job's own writes may change, such as coupon redemptions in `idx_coupon`.
    pub fn scan_prefix(&self, tree: TreeId, prefix: &[u8]) -> Result<Vec<super::Kv>, NodeError> {
        let mut merged = std::collections::BTreeMap::new();
        for kv in self.view.iter_prefix(tree, prefix, false) {
            let (k, v) = kv?;
            merged.insert(k, v);
        }
        for ((t, k), v) in &self.overlay {
            if *t == tree && k.starts_with(prefix) {
                match v {
                    Some(v) => merged.insert(k.clone(), v.clone()),
                    None => merged.remove(k),
                };
            }
        }
        Ok(merged.into_iter().collect())
    }

    /// Number of entries under a prefix, seeing this job's staged writes.
    pub fn count_prefix(&self, tree: TreeId, prefix: &[u8]) -> Result<u64, NodeError> {
        Ok(self.scan_prefix(tree, prefix)?.len() as u64)
    }

    fn stage(&mut self, tree: TreeId, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.overlay.insert((tree, key.clone()), value.clone());
        self.ops.push(Op { tree, key, value });
    }

    /// The node identity.
    pub fn identity(&self) -> Result<Option<NodeMeta>, NodeError> {
        self.get(TreeId::Meta, keys::IDENTITY)?
            .map(|b| records::decode(&b))
            .transpose()
    }

    /// Replaces the node identity.
    pub fn set_identity(&mut self, id: &NodeMeta) -> Result<(), NodeError> {
        let v = records::encode(id)?;
        self.stage(TreeId::Meta, keys::IDENTITY.to_vec(), Some(v));
        Ok(())
    }

    /// A document record, seeing this job's staged writes.
    pub fn doc_record(&self, id: Uuid) -> Result<Option<DocRecord>, NodeError> {
        self.get(TreeId::Docs, id.as_bytes())?
            .map(|b| records::decode(&b))
            .transpose()
    }

    /// Loads a document for changing. The job owns what it gets: changing it changes nothing
    /// until [`WriteCtx::put_doc`] / [`WriteCtx::put_doc_owned`]. The writer's cached copy is
    /// handed over rather than cloned (a clone of a loaded order costs about as much as the
    /// change itself), so a job that fails or does not put the document back leaves it out of
    /// the cache (never a changed copy in it); the next load reads it from the store.
    /// Read-only access that keeps the cache warm: [`WriteCtx::with_doc`].
    pub fn load_doc(&mut self, id: Uuid) -> Result<Option<(DocMeta, Automerge)>, NodeError> {
        if let Some((m, d)) = self.docs.get(&id) {
            return Ok(Some((m.clone(), d.clone())));
        }
        if let Some(hit) = self.cache.take(&id) {
            return Ok(Some(hit));
        }
        self.load_from_store(id)
    }

    fn load_from_store(&self, id: Uuid) -> Result<Option<(DocMeta, Automerge)>, NodeError> {
        let Some(rec) = self.doc_record(id)? else {
            return Ok(None);
        };
        let doc = rec.load(id)?;
        Ok(Some((rec.meta, doc)))
    }

    /// Reads a document without taking it (loads it into the cache when missing).
    pub fn with_doc<R>(
        &mut self,
        id: Uuid,
        f: impl FnOnce(&DocMeta, &Automerge) -> R,
    ) -> Result<Option<R>, NodeError> {
        if let Some((m, d)) = self.docs.get(&id) {
            return Ok(Some(f(m, d)));
        }
        if self.cache.contains(&id) {
            return Ok(self.cache.peek(&id, f));
        }
        let Some((meta, doc)) = self.load_from_store(id)? else {
            return Ok(None);
        };
        let r = f(&meta, &doc);
        self.cache.insert(id, meta, doc);
        Ok(Some(r))
    }

    /// Stores a document: saves its bytes, gives it the next feed seq (removing its previous
    /// feed entry) and, with a projector, replaces its read-model entries. Returns the seq.
    /// Keeps a copy for the cache; [`WriteCtx::put_doc_owned`] avoids the copy.
    pub fn put_doc(&mut self, id: Uuid, meta: DocMeta, doc: &Automerge) -> Result<u64, NodeError> {
        let seq = self.stage_doc(id, &meta, doc)?;
        self.docs.insert(id, (meta, doc.clone()));
        Ok(seq)
    }

    /// [`WriteCtx::put_doc`] taking the document by value (no copy for the cache).
    pub fn put_doc_owned(
        &mut self,
        id: Uuid,
        meta: DocMeta,
        doc: Automerge,
    ) -> Result<u64, NodeError> {
        let seq = self.stage_doc(id, &meta, &doc)?;
        self.docs.insert(id, (meta, doc));
        Ok(seq)
    }

    /// [`WriteCtx::put_doc_owned`] with the read-model entries the caller already computed for
    /// this exact document (what the projector would return for it), so the document is not read
    /// back a second time on the hot path.
    pub fn put_doc_projected(
        &mut self,
        id: Uuid,
        meta: DocMeta,
        doc: Automerge,
        entries: Vec<RmEntry>,
    ) -> Result<u64, NodeError> {
        let seq = self.stage_doc_with(id, &meta, &doc, Some(entries))?;
        self.docs.insert(id, (meta, doc));
        Ok(seq)
    }

    fn stage_doc(&mut self, id: Uuid, meta: &DocMeta, doc: &Automerge) -> Result<u64, NodeError> {
        self.stage_doc_with(id, meta, doc, None)
    }

    fn stage_doc_with(
        &mut self,
        id: Uuid,
        meta: &DocMeta,
        doc: &Automerge,
        projected: Option<Vec<RmEntry>>,
    ) -> Result<u64, NodeError> {
        let old = self.doc_record(id)?;
        if let Some(old) = &old {
            self.stage(TreeId::Feed, records::seq_key(old.seq).to_vec(), None);
        }
        match old.as_ref().map(|o| o.meta.kind) {
            None => self.bump_count(meta.kind, 1)?,
            Some(k) if k != meta.kind => {
                self.bump_count(k, -1)?;
                self.bump_count(meta.kind, 1)?;
            }
            Some(_) => {}
        }
        self.seq += 1;
        let seq = self.seq;
        // Store the changes since the stored version when the new version descends from it,
        // compacting into a fresh snapshot now and then.
        let (bytes, increments) = match old {
            Some(old)
                if old.increments.len() < records::MAX_INCREMENTS
                    && old.increment_bytes() < old.bytes.len().max(4096)
                    && old
                        .change_hashes()
                        .iter()
                        .all(|h| doc.get_change_by_hash(h).is_some()) =>
            {
                let chunk = doc.save_after(&old.change_hashes());
                let mut increments = old.increments;
                if !chunk.is_empty() {
                    increments.push(chunk);
                }
                (old.bytes, increments)
            }
            _ => (doc.save(), Vec::new()),
        };
        let rec = DocRecord {
            meta: meta.clone(),
            seq,
            heads: doc.get_heads().into_iter().map(|h| h.0).collect(),
            bytes,
            increments,
        };
        let feed = FeedValue {
            doc: id,
            meta: meta.clone(),
        };
        let rec_bytes = records::encode(&rec)?;
        let feed_bytes = records::encode(&feed)?;
        self.stage(TreeId::Docs, id.as_bytes().to_vec(), Some(rec_bytes));
        self.stage(
            TreeId::Feed,
            records::seq_key(seq).to_vec(),
            Some(feed_bytes),
        );
        self.stage(
            TreeId::Meta,
            keys::FEED_SEQ.to_vec(),
            Some(seq.to_be_bytes().to_vec()),
        );
        if let Some(p) = self.projector {
            let entries = match projected {
                Some(e) => e,
                None => p(id, meta, doc),
            };
            self.replace_projection(id, entries)?;
            self.stage(
                TreeId::Meta,
                keys::READ_MODEL_SEQ.to_vec(),
                Some(seq.to_be_bytes().to_vec()),
            );
        }
        Ok(seq)
    }

    fn bump_count(&mut self, kind: DocKind, delta: i64) -> Result<(), NodeError> {
        let key = records::doc_count_key(kind);
        let now = match self.get(TreeId::Meta, &key)? {
            Some(b) => records::read_u64(&b)?,
            None => 0,
        };
        let next = now.saturating_add_signed(delta);
        self.stage(TreeId::Meta, key, Some(next.to_be_bytes().to_vec()));
        Ok(())
    }

    fn replace_projection(&mut self, id: Uuid, entries: Vec<RmEntry>) -> Result<(), NodeError> {
        let old: Vec<(u8, Vec<u8>)> = match self.get(TreeId::RmOwner, id.as_bytes())? {
            Some(b) => records::decode(&b)?,
            None => Vec::new(),
        };
        let mut new_keys: Vec<(u8, Vec<u8>)> = Vec::with_capacity(entries.len());
        for e in &entries {
            if !e.tree.is_projectable() {
                return Err(NodeError::Corrupt(format!(
                    "projector wrote to non read-model tree {}",
                    e.tree.name()
                )));
            }
            new_keys.push((e.tree.index() as u8, e.key.clone()));
        }
        let keep: HashSet<&(u8, Vec<u8>)> = new_keys.iter().collect();
        for k in &old {
            if !keep.contains(k) {
                let tree = tree_from_index(k.0)?;
                self.stage(tree, k.1.clone(), None);
            }
        }
        for e in entries {
            self.stage(e.tree, e.key, Some(e.value));
        }
        if new_keys.is_empty() {
            self.stage(TreeId::RmOwner, id.as_bytes().to_vec(), None);
        } else {
            let v = records::encode(&new_keys)?;
            self.stage(TreeId::RmOwner, id.as_bytes().to_vec(), Some(v));
        }
        Ok(())
    }

    /// Puts a read-model entry (read-model trees and `users` only).
    pub fn rm_put(&mut self, tree: TreeId, key: &[u8], value: &[u8]) -> Result<(), NodeError> {
        check_projectable(tree)?;
        self.stage(tree, key.to_vec(), Some(value.to_vec()));
        Ok(())
    }

    /// Deletes a read-model entry (read-model trees and `users` only).
    pub fn rm_delete(&mut self, tree: TreeId, key: &[u8]) -> Result<(), NodeError> {
        check_projectable(tree)?;
        self.stage(tree, key.to_vec(), None);
        Ok(())
    }

    /// Indexes a user under the sha256 hex of their token.
    pub fn put_user(&mut self, token_hash: &str, user: &UserEntry) -> Result<(), NodeError> {
        let v = records::encode(user)?;
        self.stage(TreeId::Users, token_hash.as_bytes().to_vec(), Some(v));
        Ok(())
    }

    /// Removes a user index entry.
    pub fn delete_user(&mut self, token_hash: &str) {
        self.stage(TreeId::Users, token_hash.as_bytes().to_vec(), None);
    }

    /// Adds or replaces a peer.
    pub fn put_peer(&mut self, peer: &PeerConfig) -> Result<(), NodeError> {
        let v = records::encode(peer)?;
        self.stage(TreeId::Peers, peer.name.as_bytes().to_vec(), Some(v));
        Ok(())
    }

    /// Removes a peer (its sync state is kept until [`WriteCtx::delete_peer_state`]).
    pub fn delete_peer(&mut self, name: &str) {
        self.stage(TreeId::Peers, name.as_bytes().to_vec(), None);
    }

    /// Records a peer's sync state (checkpoint, last success/error).
    pub fn put_peer_state(&mut self, key: &str, state: &PeerState) -> Result<(), NodeError> {
        let v = records::encode(state)?;
        self.stage(TreeId::PeerState, key.as_bytes().to_vec(), Some(v));
        Ok(())
    }

    /// Removes a peer's sync state.
    pub fn delete_peer_state(&mut self, key: &str) {
        self.stage(TreeId::PeerState, key.as_bytes().to_vec(), None);
    }

    /// Forgets every head recorded for a peer (it was restored from a backup: what it held
    /// before may be gone).
    pub fn forget_peer_heads(&mut self, peer: &NodeId) -> Result<(), NodeError> {
        let keys: Vec<Vec<u8>> = self
            .scan_prefix(TreeId::PeerHeads, peer.0.as_bytes())?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        for k in keys {
            self.stage(TreeId::PeerHeads, k, None);
        }
        Ok(())
    }

    /// Records the heads a peer is known to hold for a document.
    pub fn put_peer_heads(
        &mut self,
        peer: &NodeId,
        doc: &Uuid,
        heads: &[ChangeHash],
    ) -> Result<(), NodeError> {
        let raw: Vec<[u8; 32]> = heads.iter().map(|h| h.0).collect();
        let v = records::encode(&raw)?;
        self.stage(
            TreeId::PeerHeads,
            records::peer_heads_key(peer, doc).to_vec(),
            Some(v),
        );
        Ok(())
    }
}

fn check_projectable(tree: TreeId) -> Result<(), NodeError> {
    if tree.is_projectable() {
        Ok(())
    } else {
        Err(NodeError::Corrupt(format!(
            "{} is not a read-model tree",
            tree.name()
        )))
    }
}

fn tree_from_index(i: u8) -> Result<TreeId, NodeError> {
    TreeId::ALL
        .get(usize::from(i))
        .copied()
        .ok_or_else(|| NodeError::Corrupt(format!("bad tree index {i} in rm_owner")))
}

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
            let tree = tree_from_index(t)?;
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
            check_projectable(e.tree)?;
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
