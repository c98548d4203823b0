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
//! What a job sees and stages is [`WriteCtx`] (in [`super::ctx`]); the read-model rebuild is in
//! [`super::rebuild`].
//!
//! Metrics: histograms `switchboard_flush_batch_size` (jobs per flush) and
//! `switchboard_write_latency_seconds` (submit to answer), counter `switchboard_flushes_total`,
//! gauge `switchboard_doc_cache_entries`.

use super::cache::DocCache;
use super::pending::{Pending, PendingView};
use super::{Projector, Store, StoreExt, StoreOptions};
use crate::error::NodeError;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use super::ctx::WriteCtx;

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
    durable: watch::Receiver<u64>,
}

impl Writer {
    /// Starts the writer thread over `store`.
    pub fn start(store: Arc<dyn Store>, opts: &StoreOptions) -> Result<Writer, NodeError> {
        let seq = store.feed_seq()?;
        let (tx, rx) = mpsc::channel(opts.queue_depth.max(1));
        let stats = Arc::new(WriterStats::default());
        // What the engine holds at open is on disk: it is where durability starts.
        let (durable_tx, durable) = watch::channel(seq);
        let thread = WriterThread {
            store,
            pending: Pending::default(),
            batch_docs: Vec::new(),
            cache: DocCache::new(opts.doc_cache),
            projector: opts.projector.clone(),
            stats: stats.clone(),
            max_batch: opts.max_batch.max(1),
            seq,
            durable: durable_tx,
        };
        std::thread::Builder::new()
            .name("switchboard-writer".into())
            .spawn(move || thread.run(rx))
            .map_err(|e| NodeError::io("spawning the writer thread", e))?;
        Ok(Writer { tx, stats, durable })
    }

    /// The writer's counters.
    pub fn stats(&self) -> &WriterStats {
        &self.stats
    }

    /// The last feed sequence number whose writes are flushed: feed entries and documents up to
    /// it survive a crash, later ones may not (they are applied to the engine, and visible to
    /// its readers, a moment before the flush). Changes after every flush that moved it, so
    /// readers of the feed that must never see a write the store could still lose (the
    /// warehouse follower) can wait on it.
    pub fn durable_seq(&self) -> watch::Receiver<u64> {
        self.durable.clone()
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
    /// The last feed seq flushed ([`Writer::durable_seq`]).
    durable: watch::Sender<u64>,
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
                for (id, cached) in parts.docs {
                    self.cache.insert(id, cached);
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
            if r.is_ok() {
                let seq = self.seq;
                self.durable.send_if_modified(|d| {
                    let moved = *d != seq;
                    *d = seq;
                    moved
                });
            }
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
