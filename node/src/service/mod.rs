//! The node's services, between the HTTP edge and the store: [`AppState`] holds the open store
//! (engine + writer), the node identity and configuration, the metrics handle and an injectable
//! clock; one module per resource, as in `api/`, adds its calls to it: [`config`] (call centers
//! and users), [`users`] (tokens: authentication, revocation, rotation), [`catalog`], [`customers`], [`orders`], [`peers`] and [`node`] (identity, health,
//! gauges). Services speak the domain, not HTTP: they fail with a [`ServiceError`], which the
//! edge maps to a status and a problem code.
//!
//! Every write is ONE writer job (see [`crate::store::writer`]): load the documents it needs →
//! run the domain command (which decides, or refuses with a typed error) → write the one
//! resulting change with `sync::doc` → `put_doc`, which also re-projects the document into the
//! read model. A refused command writes nothing; an accepted one is answered only once durable.
//!
//! Reads that name one entity load its document and compute the view fresh; lists and histories
//! use the read model (see [`crate::read_model`]).

pub mod catalog;
pub mod config;
pub mod customers;
pub mod error;
pub mod images;
pub mod node;
pub mod orders;
pub mod passwords;
pub mod peers;
pub mod users;

pub use crate::read_model::{projector, store_options, ConfigCache, READ_MODEL_VERSION};
pub use error::{ServiceError, ServiceResult};

use crate::auth::CurrentUser;
use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::store::records;
use crate::store::{DocKind, DocMeta, NodeMeta, Storage, Store, StoreExt, TreeId, WriteCtx};
use crate::views::ConflictView;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use switchboard_domain::config::Catalog;
use switchboard_domain::{CallCenterId, Timestamp, UserId};
use switchboard_sync::doc::{self as sdoc, Author, CallCenterState};

/// The clock: injectable so that tests can move time and simulate skew.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp::from_millis(ms)
    })
}

/// Most items a search or history answers in one go.
const MAX_ITEMS: usize = 1000;

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The open store: engine for reads, writer for mutations.
    pub storage: Storage,
    /// Who this node is.
    pub identity: Arc<NodeMeta>,
    /// The node's key and certificate (its node id is their fingerprint).
    pub node_key: Arc<crate::tls::NodeKey>,
    /// The node's configuration.
    pub config: Arc<NodeConfig>,
    /// Renders `/metrics`; none when no recorder is installed.
    pub metrics: Option<PrometheusHandle>,
    /// Now.
    pub clock: Clock,
    /// Parsed configuration documents.
    pub configs: Arc<ConfigCache>,
    /// Writes admitted and not yet answered: a write finding none free is shed
    /// ([`ServiceError::Busy`]) instead of queueing without bound behind the writer.
    pub write_slots: Arc<tokio::sync::Semaphore>,
    /// When tokens stored without an expiry stop working ([`crate::auth`]).
    pub legacy_token_deadline: Timestamp,
}

/// Most API writes in flight at once (well above what the writer's group commit needs).
pub const MAX_WRITES_IN_FLIGHT: usize = 8192;

impl AppState {
    /// Opens the store of an initialised data dir and builds the state.
    pub fn open(
        config: NodeConfig,
        metrics: Option<PrometheusHandle>,
        clock: Clock,
    ) -> Result<AppState, NodeError> {
        let cache = Arc::new(ConfigCache::default());
        let storage = Storage::open(&config.data_dir, store_options(&config, cache.clone()))?;
        Self::with_storage(storage, cache, config, metrics, clock)
    }

    /// Builds the state over a store opened with [`store_options`] and the same `cache`: loads
    /// the configuration documents into the cache, and if a read-model rebuild at open projected
    /// orders before their configuration, projects everything once more.
    pub fn with_storage(
        storage: Storage,
        cache: Arc<ConfigCache>,
        config: NodeConfig,
        metrics: Option<PrometheusHandle>,
        clock: Clock,
    ) -> Result<AppState, NodeError> {
        let identity = storage.identity()?;
        // A data dir made before nodes had keys (or restored without them) gets its key now.
        let (node_key, made) = crate::tls::NodeKey::load_or_create(&config.data_dir)?;
        if made {
            tracing::warn!(node_id = %node_key.fingerprint,
                "this node had no key: made one; its peers must add it by this node id");
        }
        let store = storage.store();
        for kv in store.iter_prefix(TreeId::Feed, b"", false) {
            let (_, v) = kv?;
            // A damaged record must not keep the node from serving the rest (`verify` names it).
            let fv: records::FeedValue = match records::decode(&v) {
                Ok(fv) => fv,
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable feed entry skipped");
                    continue;
                }
            };
            if matches!(fv.meta.kind, DocKind::Catalog | DocKind::CallCenter) {
                let absorbed = store
                    .load_doc(fv.doc)
                    .map_err(|e| e.to_string())
                    .and_then(|d| match d {
                        Some((meta, doc)) => cache.absorb(&meta, &doc).map_err(|e| e.to_string()),
                        None => Ok(()),
                    });
                if let Err(e) = absorbed {
                    tracing::warn!(doc = %fv.doc, error = %e, "configuration document not readable");
                }
            }
        }
        if cache.take_missed() && storage.open_report().rebuilt_read_model.is_some() {
            // Nothing writes yet: the writer has no jobs before the state exists.
            let p = projector(cache.clone());
            crate::store::rebuild_read_model(store, &p, READ_MODEL_VERSION)?;
        }
        let legacy_token_deadline =
            users::legacy_token_deadline(store, clock(), config.token_lifetime_secs)?;
        Ok(AppState {
            legacy_token_deadline,
            storage,
            identity: Arc::new(identity),
            node_key: Arc::new(node_key),
            config: Arc::new(config),
            metrics,
            clock,
            configs: cache,
            write_slots: Arc::new(tokio::sync::Semaphore::new(MAX_WRITES_IN_FLIGHT)),
        })
    }

    /// Now, from the injected clock.
    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }

    /// Change notifications: the value moves after every flushed write to this node's store,
    /// an agent's command or a merge from a peer alike. Live readers (the console's order page)
    /// wait on it and read again.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.storage.writer().durable_seq()
    }

    /// The catalog.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.configs.catalog()
    }

    fn author(&self, user: UserId) -> Author {
        Author {
            actor: self.identity.actor_id(),
            user,
            node: self.identity.node_id,
            now: self.now(),
        }
    }

    /// A call center's configuration, which every order or customer of it needs.
    fn cc_state(&self, id: &CallCenterId) -> ServiceResult<Arc<CallCenterState>> {
        cc_state(&self.configs, id)
    }

    /// Runs blocking reads off the async workers.
    async fn read<R, F>(&self, f: F) -> ServiceResult<R>
    where
        F: FnOnce(&dyn Store) -> ServiceResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.storage.store_arc();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(ServiceError::internal)?
    }

    /// Runs one writer job; answered once durable.
    async fn write<R, F>(&self, f: F) -> ServiceResult<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> ServiceResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let _slot = self
            .write_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| ServiceError::Busy)?;
        self.storage.submit(f).await
    }
}

/// A call center's configuration from the cache; missing only if the node lost it.
fn cc_state(configs: &ConfigCache, id: &CallCenterId) -> ServiceResult<Arc<CallCenterState>> {
    configs.call_center(id).ok_or_else(|| {
        ServiceError::internal(format!("configuration of call center {id} is missing"))
    })
}

/// A document of another kind, or of a call center the user may not see, does not exist for them.
fn check_visible(
    user: &CurrentUser,
    meta: &DocMeta,
    kind: DocKind,
    not_found: impl Fn() -> ServiceError,
) -> ServiceResult<()> {
    let visible = meta.kind == kind && meta.call_center.as_ref().is_some_and(|cc| user.sees(cc));
    if visible {
        Ok(())
    } else {
        Err(not_found())
    }
}

fn conflicts_view(c: Vec<sdoc::Conflict>) -> Vec<ConflictView> {
    c.into_iter()
        .map(|c| ConflictView {
            path: c.path,
            values: c.values,
        })
        .collect()
}
