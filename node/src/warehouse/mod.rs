//! The warehouse follower: a background task that streams every document this node stores,
//! local writes and merges from peers alike, into the PostgreSQL warehouse of
//! `switchboard-warehouse` (issue 13), exactly once and resumably.
//!
//! The loop reads the store's change feed after the position the warehouse holds for this node
//! (`feed_since`; a feed epoch other than the node's starts over from seq 0), loads each
//! document, prices orders with the node's configuration ([`ConfigCache`]) and hands the batch to
//! [`Warehouse::apply_batch`], which writes the rows and the new position in one transaction. A
//! refused batch ([`WarehouseError::PositionMoved`]: a rebuild, or a retry whose commit
//! acknowledgement was lost) re-reads the position; any other failure (PostgreSQL down at start
//! or mid-way, a timeout) backs off exponentially up to [`MAX_BACKOFF`] and tries again from the
//! stored position, reconnecting inside the loop. A warning is logged when the follower starts
//! failing or fails differently, not on every retry, and an info line when it recovers.
//!
//! Never in the agents' way: the follower only reads the store (engine reads, never the writer),
//! shares no lock with it and holds at most two batches in memory (the one PostgreSQL is writing
//! and the next, read from the store meanwhile; each at most `warehouse.batch_size` documents and
//! about [`MAX_BATCH_BYTES`] of stored document bytes); PostgreSQL being down or slow only makes
//! it lag. It reads no further than the writer's last flush
//! ([`crate::store::Writer::durable_seq`]), so the warehouse never holds a write that a crash of
//! the node could still take back; a flush also wakes it up, and once caught up it lets the
//! writes of the next [`COALESCE`] gather into one batch.
//!
//! What it reports: [`WarehouseStatus`] (`GET /api/v1/warehouse`) and the metrics
//! `switchboard_warehouse_lag_seq` (gauge: how many feed sequence numbers, i.e. changes to the
//! store, the warehouse is behind),
//! `switchboard_warehouse_batches_total`, `switchboard_warehouse_docs_total{outcome}` (replaced,
//! unchanged, stale) and `switchboard_warehouse_errors_total{kind}` (counters).
//!
//! One reason to change: how this node feeds its warehouse (the loop, its batches, its status);
//! the rows themselves are the `switchboard-warehouse` crate's.

use crate::config::WarehouseConfig;
use crate::error::NodeError;
use crate::read_model::ConfigCache;
use crate::service::AppState;
use crate::store::{DocRecord, FeedItem, Store, StoreExt};
use automerge::Automerge;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::{NodeId, Timestamp};
use switchboard_warehouse::{
    DocOutcome, DocUpdate, DocValue, Error as WarehouseError, Position, Warehouse,
};
use tokio::sync::Notify;
use utoipa::ToSchema;
use uuid::Uuid;

/// The first retry delay after a failure.
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);
/// The longest retry delay.
pub const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// While caught up, how often the follower re-reads its stored position (to notice a rebuild
/// started from another node feeding the same warehouse).
pub const IDLE_RECHECK: Duration = Duration::from_secs(10);
/// After catching up, how long the follower lets new writes gather before it writes them.
pub const COALESCE: Duration = Duration::from_millis(100);
/// Longest a batch may take in PostgreSQL before the follower gives up on it and retries.
pub const APPLY_TIMEOUT: Duration = Duration::from_secs(120);
/// A batch ends early once its documents' stored bytes pass this.
pub const MAX_BATCH_BYTES: usize = 32 * 1024 * 1024;

/// What the follower is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowerState {
    /// No warehouse is configured.
    Off,
    /// Connecting to PostgreSQL (and migrating its schema).
    Connecting,
    /// Connected: feeding, or caught up and waiting for changes.
    Following,
    /// The last attempt failed; retrying after a delay.
    BackingOff,
}

impl FollowerState {
    /// The name used in the status and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            FollowerState::Off => "off",
            FollowerState::Connecting => "connecting",
            FollowerState::Following => "following",
            FollowerState::BackingOff => "backing_off",
        }
    }
}

/// A position in this node's change feed, as stored in the warehouse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FeedPosition {
    /// The feed epoch.
    pub epoch: Uuid,
    /// The last feed sequence number whose documents are in the warehouse.
    pub seq: u64,
}

impl From<Position> for FeedPosition {
    fn from(p: Position) -> Self {
        FeedPosition {
            epoch: p.epoch,
            seq: p.seq,
        }
    }
}

/// Answer of `GET /api/v1/warehouse` (and of the rebuild).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct WarehouseStatus {
    /// Whether this node has a warehouse (`warehouse.postgres_url`).
    pub configured: bool,
    /// Host, port and database of the warehouse (never the password).
    pub target: Option<String>,
    /// `off`, `connecting`, `following` or `backing_off`.
    pub state: FollowerState,
    /// The customer contact fields written (the others stay NULL).
    pub contact_fields: Vec<String>,
    /// Most documents per PostgreSQL transaction.
    pub batch_size: usize,
    /// This node.
    #[schema(value_type = String, format = Uuid)]
    pub node_id: NodeId,
    /// The epoch of this node's change feed.
    pub feed_epoch: Uuid,
    /// The last sequence number of this node's change feed.
    pub node_feed_seq: u64,
    /// Where the warehouse is in this node's feed (`null`: nothing stored yet, or not known
    /// while the warehouse cannot be reached).
    pub position: Option<FeedPosition>,
    /// How far the warehouse is behind: `node_feed_seq` minus the position's seq, the number of
    /// changes to the store not yet covered (the whole feed when the position is of another epoch
    /// or none). The documents still to write are at most this many.
    pub lag: u64,
    /// Batches written since the node started.
    pub batches_applied: u64,
    /// Documents in those batches.
    pub docs_applied: u64,
    /// When a batch last committed, or the follower last found itself caught up.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_success: Option<Timestamp>,
    /// When the last failure happened.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_error_at: Option<Timestamp>,
    /// The last failure (kept after a recovery, with its time, until the next one).
    pub last_error: Option<String>,
    /// While backing off: milliseconds until the next attempt.
    pub retry_in_ms: Option<u64>,
}

/// Why a warehouse request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum FollowerError {
    /// No `warehouse.postgres_url` on this node.
    #[error(
        "this node has no warehouse (set warehouse.postgres_url or SWITCHBOARD_WAREHOUSE_URL)"
    )]
    NotConfigured,
    /// The warehouse cannot be reached now.
    #[error("the warehouse is not reachable: {0}")]
    Unavailable(String),
}

/// Capped exponential backoff with jitter. Pure: the caller passes the random draw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// No failure yet.
    pub fn new() -> Backoff {
        Backoff { failures: 0 }
    }

    /// Records a failure and returns the delay before the next attempt: [`MIN_BACKOFF`] doubled
    /// per consecutive failure, capped at [`MAX_BACKOFF`], times 0.8 to 1.2 (`draw` in [0, 1)).
    pub fn next_delay(&mut self, draw: f64) -> Duration {
        let exp = self.failures.min(16);
        self.failures = self.failures.saturating_add(1);
        let base = MIN_BACKOFF
            .saturating_mul(1u32 << exp)
            .min(MAX_BACKOFF)
            .as_secs_f64();
        let jitter = 0.8 + 0.4 * draw.clamp(0.0, 1.0);
        Duration::from_secs_f64((base * jitter).min(MAX_BACKOFF.as_secs_f64()))
    }

    /// A success: the next failure starts from [`MIN_BACKOFF`] again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// Consecutive failures.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// A failure of one attempt, with the class used for metrics and to log once per change.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    message: String,
}

impl From<WarehouseError> for Failure {
    fn from(e: WarehouseError) -> Self {
        let kind = match &e {
            WarehouseError::Url(_) => "config",
            WarehouseError::Connect { .. } => "connect",
            WarehouseError::SchemaTooNew { .. } | WarehouseError::MigrationChanged { .. } => {
                "schema"
            }
            WarehouseError::PositionBackwards { .. } | WarehouseError::SeqOutOfRange { .. } => {
                "position"
            }
            WarehouseError::Mismatch { .. } => "document",
            _ => "postgres",
        };
        Failure {
            kind,
            message: with_sources(&e),
        }
    }
}

/// An error's message followed by those of its sources that add something (tokio-postgres says
/// only "db error" and keeps the server's message in its source).
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}

impl From<NodeError> for Failure {
    fn from(e: NodeError) -> Self {
        Failure {
            kind: "store",
            message: format!("reading the store: {e}"),
        }
    }
}

/// What the status shows, kept current by the loop.
#[derive(Debug)]
struct Live {
    state: FollowerState,
    target: Option<String>,
    position: Option<Position>,
    batches: u64,
    docs: u64,
    last_success: Option<Timestamp>,
    last_error: Option<(Timestamp, String)>,
    retry_at: Option<Instant>,
}

struct Shared {
    app: AppState,
    cfg: WarehouseConfig,
    live: Mutex<Live>,
    /// The connected warehouse, once the loop has connected (rebuilds use it).
    warehouse: Mutex<Option<Warehouse>>,
    /// Wakes the loop from a backoff or an idle wait (a rebuild).
    wake: Notify,
    /// Set by a rebuild: re-read the stored position before the next batch.
    reread: AtomicBool,
}

/// The warehouse follower of a node. Cheap to clone; [`WarehouseFollower::run`] is its loop,
/// the other methods serve the API.
#[derive(Clone)]
pub struct WarehouseFollower {
    shared: Arc<Shared>,
}

/// What one step of the loop did.
enum Step {
    /// A batch committed; more may be waiting.
    Applied,
    /// The stored position was not the one expected; it has been taken over.
    Moved,
    /// Nothing to write until the writer flushes again.
    Idle,
}

/// One batch read from the store.
struct Batch {
    /// The feed seq it starts after.
    from: u64,
    /// The last feed seq it covers (`from` when it covers nothing).
    to: u64,
    docs: Vec<DocUpdate>,
    /// How long reading it from the store took.
    took: Duration,
}

/// The loop's own state between steps.
struct Cursor {
    /// The connected warehouse (`None`: connect first).
    wh: Option<Warehouse>,
    /// The position stored for this node, once read (`None`: read it before the next batch).
    pos: Option<Option<Position>>,
    /// The writer's last flushed feed seq.
    durable: tokio::sync::watch::Receiver<u64>,
    /// The next batch, read while the previous one was being written.
    prefetched: Option<Batch>,
}

impl Cursor {
    /// Forgets what may be stale: the position is read again and the next batch re-read.
    fn forget(&mut self) {
        self.pos = None;
        self.prefetched = None;
    }
}

fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// Host(s), port(s) and database of a PostgreSQL URL, never the password (`None` if it does not
/// parse): the warehouse crate's own description, so status and its messages agree.
pub use switchboard_warehouse::describe_target;

impl WarehouseFollower {
    /// The follower of `app`'s store, with the node's `[warehouse]` configuration.
    pub fn new(app: AppState) -> WarehouseFollower {
        let cfg = app.config.warehouse.clone();
        let state = if cfg.enabled() {
            FollowerState::Connecting
        } else {
            FollowerState::Off
        };
        let target = cfg.postgres_url.as_deref().and_then(describe_target);
        WarehouseFollower {
            shared: Arc::new(Shared {
                app,
                cfg,
                live: Mutex::new(Live {
                    state,
                    target,
                    position: None,
                    batches: 0,
                    docs: 0,
                    last_success: None,
                    last_error: None,
                    retry_at: None,
                }),
                warehouse: Mutex::new(None),
                wake: Notify::new(),
                reread: AtomicBool::new(false),
            }),
        }
    }

    /// Whether a warehouse is configured.
    pub fn enabled(&self) -> bool {
        self.shared.cfg.enabled()
    }

    fn live(&self) -> std::sync::MutexGuard<'_, Live> {
        // The lock guards plain values and is never held across an await or a panic site.
        self.shared.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn connected(&self) -> Option<Warehouse> {
        self.shared
            .warehouse
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The follower's status now.
    pub fn status(&self) -> WarehouseStatus {
        let id = &self.shared.app.identity;
        let feed_seq = self.shared.app.storage.store().feed_seq().unwrap_or(0);
        let live = self.live();
        let lag = lag(feed_seq, id.feed_epoch, live.position);
        WarehouseStatus {
            configured: self.enabled(),
            target: live.target.clone(),
            state: live.state,
            contact_fields: self
                .shared
                .cfg
                .contact_fields
                .names()
                .into_iter()
                .map(String::from)
                .collect(),
            batch_size: self.shared.cfg.batch_size,
            node_id: id.node_id,
            feed_epoch: id.feed_epoch,
            node_feed_seq: feed_seq,
            position: live.position.map(FeedPosition::from),
            lag: if self.enabled() { lag } else { 0 },
            batches_applied: live.batches,
            docs_applied: live.docs,
            last_success: live.last_success,
            last_error_at: live.last_error.as_ref().map(|(at, _)| *at),
            last_error: live.last_error.as_ref().map(|(_, m)| m.clone()),
            retry_in_ms: live
                .retry_at
                .map(|at| at.saturating_duration_since(Instant::now()).as_millis() as u64),
        }
    }

    /// Empties the warehouse ([`Warehouse::reset`]: every row and every node's position) and
    /// makes this follower feed it again from the start of the feed. Other nodes feeding the
    /// same warehouse start over on their next batch, or within [`IDLE_RECHECK`] when idle.
    pub async fn rebuild(&self) -> Result<WarehouseStatus, FollowerError> {
        if !self.enabled() {
            return Err(FollowerError::NotConfigured);
        }
        let wh = self.connected().ok_or_else(|| {
            let why = self
                .live()
                .last_error
                .as_ref()
                .map(|(_, m)| m.clone())
                .unwrap_or_else(|| "not connected yet".to_string());
            FollowerError::Unavailable(why)
        })?;
        wh.reset()
            .await
            .map_err(|e| FollowerError::Unavailable(with_sources(&e)))?;
        tracing::info!(target = %wh.target(), "warehouse emptied for a rebuild; feeding it from the start");
        self.shared.reread.store(true, Ordering::SeqCst);
        self.live().position = None;
        self.shared.wake.notify_one();
        Ok(self.status())
    }

    /// Runs the loop until `shutdown` resolves (returns at once without a warehouse). Safe to
    /// abort at any await: a batch cut off in flight is rolled back by PostgreSQL and written
    /// again from the stored position.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        if !self.enabled() {
            return;
        }
        tokio::select! {
            _ = shutdown => {}
            _ = self.follow() => {}
        }
    }

    async fn follow(&self) {
        let mut c = Cursor {
            wh: None,
            pos: None,
            durable: self.shared.app.storage.writer().durable_seq(),
            prefetched: None,
        };
        let mut backoff = Backoff::new();
        // The class of the failure last logged (`None`: healthy).
        let mut failing: Option<&'static str> = None;
        let mut idle_since: Option<Instant> = None;
        loop {
            match self.step(&mut c).await {
                Ok(step) => {
                    if let Some(kind) = failing.take() {
                        tracing::info!(previous = kind, "warehouse reachable again; following");
                    }
                    backoff.reset();
                    {
                        let mut live = self.live();
                        live.state = FollowerState::Following;
                        live.retry_at = None;
                    }
                    self.publish_lag();
                    match step {
                        Step::Applied | Step::Moved => idle_since = None,
                        Step::Idle => {
                            self.live().last_success = Some(now());
                            let since = *idle_since.get_or_insert_with(Instant::now);
                            let recheck = IDLE_RECHECK.saturating_sub(since.elapsed());
                            tokio::select! {
                                changed = c.durable.changed() => {
                                    if changed.is_err() {
                                        // The writer has stopped: the node is shutting down.
                                        return;
                                    }
                                    // Let the next moment's writes gather into one batch: the
                                    // edits of one call reach the warehouse as one version,
                                    // and PostgreSQL sees a few transactions a second instead
                                    // of one per flush.
                                    tokio::time::sleep(COALESCE).await;
                                }
                                _ = self.shared.wake.notified() => {}
                                _ = tokio::time::sleep(recheck) => {
                                    c.forget();
                                    idle_since = None;
                                }
                            }
                        }
                    }
                }
                Err(f) => {
                    metrics::counter!("switchboard_warehouse_errors_total", "kind" => f.kind)
                        .increment(1);
                    let delay = backoff.next_delay(rand::random::<f64>());
                    if failing != Some(f.kind) {
                        tracing::warn!(
                            kind = f.kind,
                            error = %f.message,
                            retry_in_ms = delay.as_millis() as u64,
                            "warehouse: cannot feed PostgreSQL; the node keeps serving and retries with backoff"
                        );
                        failing = Some(f.kind);
                    } else {
                        tracing::debug!(kind = f.kind, error = %f.message, failures = backoff.failures(), "warehouse retry failed");
                    }
                    {
                        let mut live = self.live();
                        live.state = FollowerState::BackingOff;
                        live.last_error = Some((now(), f.message));
                        live.retry_at = Some(Instant::now() + delay);
                    }
                    self.publish_lag();
                    // The position is read again after a failure: the batch may have committed
                    // with its acknowledgement lost.
                    c.forget();
                    idle_since = None;
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.shared.wake.notified() => {}
                    }
                }
            }
        }
    }

    fn publish_lag(&self) {
        let id = &self.shared.app.identity;
        let feed_seq = self.shared.app.storage.store().feed_seq().unwrap_or(0);
        let position = self.live().position;
        metrics::gauge!("switchboard_warehouse_lag_seq")
            .set(lag(feed_seq, id.feed_epoch, position) as f64);
    }

    /// One step: connect if needed, read the position if unknown, then write the next batch
    /// (reading the one after it meanwhile).
    async fn step(&self, c: &mut Cursor) -> Result<Step, Failure> {
        let shared = &self.shared;
        let node = shared.app.identity.node_id;
        let epoch = shared.app.identity.feed_epoch;
        let wh = match &c.wh {
            Some(w) => w.clone(),
            None => {
                self.live().state = FollowerState::Connecting;
                let url = shared.cfg.postgres_url.as_deref().unwrap_or_default();
                let w = Warehouse::connect(url, shared.cfg.options()).await?;
                tracing::info!(target = %w.target(), "warehouse connected; schema up to date");
                self.live().target = Some(w.target().to_string());
                *shared.warehouse.lock().unwrap_or_else(|p| p.into_inner()) = Some(w.clone());
                c.wh = Some(w.clone());
                w
            }
        };
        if shared.reread.swap(false, Ordering::SeqCst) {
            c.forget();
        }
        let pos = match c.pos {
            Some(p) => p,
            None => {
                let p = wh.position(node).await?;
                self.live().position = p;
                c.pos = Some(p);
                p
            }
        };
        let from = match pos {
            Some(p) if p.epoch == epoch => p.seq,
            _ => 0,
        };
        let flushed = *c.durable.borrow_and_update();
        if from >= flushed {
            return Ok(Step::Idle);
        }
        let read_started = Instant::now();
        let batch = match c.prefetched.take() {
            Some(b) if b.from == from => b,
            _ => self.read(from, flushed).await??,
        };
        if batch.to == from {
            return Ok(Step::Idle);
        }
        let Batch {
            to: batch_to,
            docs,
            took: read_took,
            ..
        } = batch;
        let to = Position {
            epoch,
            seq: batch_to,
        };
        let n = docs.len();
        // The next batch is read from the store while PostgreSQL writes this one.
        let next = (batch_to < flushed).then(|| self.read(batch_to, flushed));
        let started = Instant::now();
        let result = tokio::time::timeout(APPLY_TIMEOUT, wh.apply_batch(node, pos, to, docs)).await;
        let applied_in = started.elapsed();
        let next = match next {
            Some(read) => read.await.ok().and_then(Result::ok),
            None => None,
        };
        let applied = match result {
            Err(_) => {
                return Err(Failure {
                    kind: "timeout",
                    message: format!(
                        "a batch of {n} documents took longer than {}s",
                        APPLY_TIMEOUT.as_secs()
                    ),
                })
            }
            Ok(Err(WarehouseError::PositionMoved { stored, .. })) => {
                tracing::info!(
                    expected = ?pos.map(|p| p.to_string()),
                    stored = ?stored.map(|p| p.to_string()),
                    "warehouse position moved (a rebuild, or a batch committed unacknowledged); continuing from the stored one"
                );
                self.live().position = stored;
                c.pos = Some(stored);
                return Ok(Step::Moved);
            }
            Ok(r) => r?,
        };
        c.prefetched = next;
        metrics::histogram!("switchboard_warehouse_batch_seconds")
            .record(started.elapsed().as_secs_f64());
        // read_ms: reading this batch from the store (loading, pricing); waited_ms: how long
        // the loop waited for it (0 when it was read while PostgreSQL wrote the previous one);
        // apply_ms: PostgreSQL's transaction; step_ms: the whole step, the wait for the next
        // batch's read included.
        tracing::debug!(
            docs = n,
            to = batch_to,
            read_ms = read_took.as_secs_f64() * 1e3,
            waited_ms = (started - read_started).as_secs_f64() * 1e3,
            apply_ms = applied_in.as_secs_f64() * 1e3,
            step_ms = started.elapsed().as_secs_f64() * 1e3,
            "warehouse batch applied"
        );
        metrics::counter!("switchboard_warehouse_batches_total").increment(1);
        for (outcome, name) in [
            (DocOutcome::Replaced, "replaced"),
            (DocOutcome::Unchanged, "unchanged"),
            (DocOutcome::Stale, "stale"),
        ] {
            let k = applied.count(outcome) as u64;
            if k > 0 {
                metrics::counter!("switchboard_warehouse_docs_total", "outcome" => name)
                    .increment(k);
            }
        }
        c.pos = Some(Some(applied.position));
        let mut live = self.live();
        live.position = Some(applied.position);
        live.batches += 1;
        live.docs += n as u64;
        live.last_success = Some(now());
        Ok(Step::Applied)
    }

    /// Starts reading the batch after `from` on a blocking thread.
    fn read(
        &self,
        from: u64,
        flushed: u64,
    ) -> impl Future<Output = Result<Result<Batch, Failure>, Failure>> {
        let store = self.shared.app.storage.store_arc();
        let configs = self.shared.app.configs.clone();
        let limit = self.shared.cfg.batch_size;
        let task = tokio::task::spawn_blocking(move || {
            read_batch(&*store, &configs, from, flushed, limit).map_err(Failure::from)
        });
        async move {
            task.await.map_err(|e| Failure {
                kind: "store",
                message: format!("reading the store: {e}"),
            })
        }
    }
}

/// Feed sequence numbers after `position` up to `feed_seq` (all of them for another epoch or
/// none).
fn lag(feed_seq: u64, epoch: Uuid, position: Option<Position>) -> u64 {
    match position {
        Some(p) if p.epoch == epoch => feed_seq.saturating_sub(p.seq),
        _ => feed_seq,
    }
}

/// Reads the next batch: the feed entries after `from`, no further than `flushed`, at most
/// `limit` documents (fewer if their stored bytes pass [`MAX_BATCH_BYTES`]), each document
/// loaded and turned into an update (orders priced with the node's configuration).
///
/// The batch stops before an entry whose document has meanwhile moved past `flushed` (a later,
/// not yet flushed version): that version could still be lost in a crash, and the document
/// comes again at its new seq once flushed. A document that cannot be read is logged and
/// skipped rather than stopping the warehouse for good (`switchboard verify` names it).
fn read_batch(
    store: &dyn Store,
    configs: &ConfigCache,
    from: u64,
    flushed: u64,
    limit: usize,
) -> Result<Batch, NodeError> {
    let started = Instant::now();
    let mut batch = Batch {
        from,
        to: from,
        docs: Vec::new(),
        took: Duration::ZERO,
    };
    let mut bytes = 0usize;
    let items: Vec<FeedItem> = store.feed_since(from, limit)?;
    // First the stored records, in feed order, up to where the batch ends ...
    let mut records: Vec<(Uuid, DocRecord)> = Vec::with_capacity(items.len());
    for item in items {
        if item.seq > flushed {
            break;
        }
        let Some(rec) = store.doc_record(item.doc)? else {
            batch.to = item.seq;
            continue;
        };
        if rec.seq > flushed {
            break;
        }
        batch.to = item.seq;
        bytes = bytes
            .saturating_add(rec.bytes.len())
            .saturating_add(rec.increment_bytes());
        records.push((item.doc, rec));
        if bytes >= MAX_BATCH_BYTES {
            break;
        }
    }
    // ... then the documents, loaded, read and priced on up to READ_THREADS threads (the
    // batch's order kept): most of a backfill's time on the node's side.
    batch.docs = updates(&records, configs);
    batch.took = started.elapsed();
    Ok(batch)
}

/// How many threads turn one batch's records into updates.
const READ_THREADS: usize = 2;

/// The updates of stored records, in their order; a document that cannot be read is logged and
/// left out. Split over [`READ_THREADS`] scoped threads when the batch is worth it.
fn updates(records: &[(Uuid, DocRecord)], configs: &ConfigCache) -> Vec<DocUpdate> {
    let threads = READ_THREADS.min(records.len() / 32).max(1);
    if threads == 1 {
        return records
            .iter()
            .filter_map(|(id, rec)| update(*id, rec, configs))
            .collect();
    }
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|s| {
        let parts: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .filter_map(|(id, rec)| update(*id, rec, configs))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// One stored document as an update: loaded, read, an order priced with the node's
/// configuration (`None`, logged, if it cannot be read).
fn update(id: Uuid, rec: &DocRecord, configs: &ConfigCache) -> Option<DocUpdate> {
    let doc = match load(rec, id) {
        Ok(d) => d,
        Err(e) => {
            skipped(id, &e.to_string());
            return None;
        }
    };
    let mut value = match DocValue::from_doc(&doc) {
        Ok(v) => v,
        Err(e) => {
            skipped(id, &e.to_string());
            return None;
        }
    };
    if let DocValue::Order(o) = &mut value {
        o.pricing = configs
            .call_center(&o.order.call_center_id)
            .map(|cc| o.order.pricing(&cc.config, &configs.catalog()));
    }
    Some(DocUpdate::from_doc(id, doc, value))
}

/// Loads a stored document in one pass: the snapshot and its increments as one byte string,
/// which automerge applies as one batch of changes (about three times faster, for a typical
/// order of a few increments, than loading each increment in turn as `DocRecord::load` does).
/// Falls back to that for the error message if the one pass fails.
fn load(rec: &DocRecord, id: Uuid) -> Result<Automerge, NodeError> {
    if rec.increments.is_empty() {
        return rec.load(id);
    }
    let mut all = Vec::with_capacity(rec.bytes.len() + rec.increment_bytes());
    all.extend_from_slice(&rec.bytes);
    for chunk in &rec.increments {
        all.extend_from_slice(chunk);
    }
    Automerge::load(&all).or_else(|_| rec.load(id))
}

fn skipped(doc: Uuid, reason: &str) {
    metrics::counter!("switchboard_warehouse_errors_total", "kind" => "document").increment(1);
    tracing::warn!(%doc, error = %reason, "warehouse: document not readable; left out");
}

#[cfg(test)]
mod tests;
