//! The glue between HTTP and the store: [`AppState`] holds the open store (engine + writer), the
//! node identity and configuration, the metrics handle and an injectable clock.
//!
//! Every write is ONE writer job (see [`crate::store::writer`]): load the documents it needs →
//! run the domain command (which decides, or refuses with a typed error) → write the one
//! resulting change with `sync::doc` → `put_doc`, which also re-projects the document into the
//! read model. A refused command writes nothing; an accepted one is answered only once durable.
//!
//! Reads that name one entity load its document and compute the view fresh; lists and histories
//! use the read model (order summaries, indexes by customer and status, customer views) written
//! by [`projector`]. The configuration (call centers and the catalog) is kept parsed in a
//! [`ConfigCache`], which the projector refreshes whenever a configuration document is stored,
//! locally or by a merge from a peer.

use crate::api::auth::CurrentUser;
use crate::api::error::{ApiError, ApiResult};
use crate::config::{NodeConfig, NodeRole};
use crate::error::NodeError;
use crate::store::records::{self, rm_keys};
use crate::store::{
    DocKind, DocMeta, NodeMeta, PeerConfig, Projector, RmEntry, Storage, Store, StoreExt,
    StoreOptions, TreeId, UserEntry, UserOrigin, WriteCtx,
};
use crate::views::*;
use automerge::Automerge;
use metrics_exporter_prometheus::PrometheusHandle;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use switchboard_domain::commands::{
    self, AddCharge, AddLine, AddPayment, ChangeLine, Ctx, NewOrder,
};
use switchboard_domain::config::{
    Actor, CallCenter, Catalog, Coupon, PriceGroup, Product, SourceCodeDef, User,
};
use switchboard_domain::customer::{self, Customer, CustomerFields};
use switchboard_domain::order::{Order, Status};
use switchboard_domain::*;
use switchboard_sync::doc::{self as sdoc, Author, CallCenterState, UserRecord};
use uuid::Uuid;

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

/// Version of the read-model projection; bump it when [`projector`] changes what it writes.
pub const READ_MODEL_VERSION: u32 = 1;

/// Most items a search or history answers in one go.
const MAX_ITEMS: usize = 1000;

/// The configuration as parsed from the configuration documents.
#[derive(Default)]
pub struct ConfigCache {
    catalog: RwLock<Arc<Catalog>>,
    call_centers: RwLock<BTreeMap<CallCenterId, Arc<CallCenterState>>>,
    /// Set when an order was projected before its call center's configuration was known, so
    /// that its summary lacks totals (see [`AppState::with_storage`]).
    missed: AtomicBool,
}

impl ConfigCache {
    /// The catalog (empty until one is stored).
    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// A call center's configuration and users.
    pub fn call_center(&self, id: &CallCenterId) -> Option<Arc<CallCenterState>> {
        self.call_centers
            .read()
            .ok()
            .and_then(|m| m.get(id).cloned())
    }

    /// Ids of the call centers known.
    pub fn call_center_ids(&self) -> Vec<CallCenterId> {
        self.call_centers
            .read()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn set_catalog(&self, c: Catalog) {
        if let Ok(mut g) = self.catalog.write() {
            *g = Arc::new(c);
        }
    }

    fn set_call_center(&self, s: CallCenterState) {
        if let Ok(mut g) = self.call_centers.write() {
            g.insert(s.config.id.clone(), Arc::new(s));
        }
    }

    /// Reads a configuration document into the cache; other kinds are ignored.
    fn absorb(&self, meta: &DocMeta, doc: &Automerge) -> Result<(), sdoc::DocError> {
        match meta.kind {
            DocKind::Catalog => self.set_catalog(sdoc::read_catalog(doc)?),
            DocKind::CallCenter => self.set_call_center(sdoc::read_call_center(doc)?),
            DocKind::Order | DocKind::Customer => {}
        }
        Ok(())
    }
}

/// The last change time recorded in a document's history.
fn last_change(doc: &Automerge) -> Option<Timestamp> {
    // The latest changes are the heads: reading their metadata alone is O(heads), where the
    // whole history would be O(changes). Change times are whole seconds.
    doc.get_heads()
        .iter()
        .filter_map(|h| doc.get_change_meta_by_hash(h))
        .map(|c| Timestamp::from_millis(c.timestamp.saturating_mul(1000)))
        .max()
}

fn json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

/// The read-model projection of one document: order summaries and indexes, customer views,
/// the users index of a call center; configuration documents also refresh `cache`.
pub fn projector(cache: Arc<ConfigCache>) -> Projector {
    Arc::new(
        move |id: Uuid, meta: &DocMeta, doc: &Automerge| -> Vec<RmEntry> {
            let result = match meta.kind {
                DocKind::Order => project_order(id, doc, &cache),
                DocKind::Customer => sdoc::read_customer(doc).map(|(c, _)| {
                    vec![RmEntry {
                        tree: TreeId::Customers,
                        key: id.as_bytes().to_vec(),
                        value: json(&CustomerView::from_domain(&c)),
                    }]
                }),
                DocKind::CallCenter => project_call_center(id, doc, &cache),
                DocKind::Catalog => sdoc::read_catalog(doc).map(|c| {
                    cache.set_catalog(c);
                    Vec::new()
                }),
            };
            result.unwrap_or_else(|e| {
                tracing::warn!(doc = %id, kind = %meta.kind, error = %e, "document not projected");
                Vec::new()
            })
        },
    )
}

fn project_call_center(
    id: Uuid,
    doc: &Automerge,
    cache: &ConfigCache,
) -> Result<Vec<RmEntry>, sdoc::DocError> {
    let state = sdoc::read_call_center(doc)?;
    let mut out = Vec::new();
    for rec in state.users.values() {
        let entry = UserEntry {
            user: rec.user.clone(),
            origin: UserOrigin::CallCenterDoc(id),
        };
        match records::encode(&entry) {
            Ok(value) => out.push(RmEntry {
                tree: TreeId::Users,
                key: rec.token_hash.as_bytes().to_vec(),
                value,
            }),
            Err(e) => tracing::warn!(error = %e, "user not indexed"),
        }
    }
    cache.set_call_center(state);
    Ok(out)
}

/// The summary of an order; totals need the call center's configuration.
fn summary_of(order: &Order, doc: &Automerge, cache: &ConfigCache) -> OrderSummary {
    match cache.call_center(&order.call_center_id) {
        Some(cc) => OrderView::build(
            order,
            Vec::new(),
            &cc.config,
            &cache.catalog(),
            last_change(doc),
        )
        .summary(),
        None => {
            cache.missed.store(true, Ordering::Relaxed);
            OrderSummary {
                id: order.id,
                call_center_id: order.call_center_id.clone(),
                customer_id: order.customer_id,
                status: order.status(),
                source_code: order.source_code.clone(),
                lines: order.active_lines().count() as u32,
                total: None,
                balance: None,
                held: order.active_holds().next().is_some(),
                created_at: order.created.at,
                created_by: order.created.by,
                updated_at: last_change(doc)
                    .map_or(last_stamp(order), |u| u.max(last_stamp(order))),
            }
        }
    }
}

fn project_order(
    id: Uuid,
    doc: &Automerge,
    cache: &ConfigCache,
) -> Result<Vec<RmEntry>, sdoc::DocError> {
    let (order, _) = sdoc::read_order(doc)?;
    Ok(order_entries(id, &order, doc, cache))
}

/// The read-model entries of an order document, given the order it holds (`read_order(doc)`).
fn order_entries(id: Uuid, order: &Order, doc: &Automerge, cache: &ConfigCache) -> Vec<RmEntry> {
    let summary = summary_of(order, doc, cache);
    let entry = |tree, key: Vec<u8>, value: Vec<u8>| RmEntry { tree, key, value };
    let mut out = vec![
        entry(
            TreeId::OrderSummaries,
            id.as_bytes().to_vec(),
            json(&summary),
        ),
        entry(
            TreeId::IdxCustomerOrders,
            rm_keys::customer_order(&order.customer_id.0, order.created.at, &id),
            Vec::new(),
        ),
        entry(
            TreeId::IdxStatus,
            rm_keys::status(order.status().as_str(), &id),
            Vec::new(),
        ),
    ];
    let held: BTreeSet<&str> = order.active_holds().map(|h| h.code.as_str()).collect();
    out.extend(
        held.into_iter()
            .map(|code| entry(TreeId::IdxHeld, rm_keys::status(code, &id), Vec::new())),
    );
    for (code, at) in sdoc::coupon_redemptions(order) {
        out.push(entry(
            TreeId::IdxCoupon,
            rm_keys::coupon(code.as_str(), &id),
            at.as_millis().to_be_bytes().to_vec(),
        ));
    }
    out
}

/// An order command, parsed from its HTTP body.
#[derive(Clone, Debug)]
pub enum OrderCmd {
    /// Add a line.
    AddLine(AddLine),
    /// Change a line.
    ChangeLine(ChangeLine),
    /// Remove a line.
    RemoveLine(LineId),
    /// Apply a coupon.
    ApplyCoupon(CouponCode),
    /// Remove a coupon.
    RemoveCoupon(CouponCode),
    /// Record a payment.
    AddPayment(AddPayment),
    /// Void a payment.
    VoidPayment(PaymentId),
    /// Add a manual charge.
    AddCharge(AddCharge),
    /// Place a hold.
    PlaceHold {
        /// Fresh id.
        id: HoldId,
        /// Hold code.
        code: HoldCode,
        /// Why.
        reason: String,
    },
    /// Clear a hold.
    ClearHold {
        /// The hold.
        id: HoldId,
        /// Why.
        reason: String,
    },
    /// Add a note.
    AddNote {
        /// Fresh id.
        id: NoteId,
        /// Text.
        text: String,
    },
    /// Submit.
    Submit,
    /// Release to fulfilment.
    Release,
    /// Cancel, with a reason.
    Cancel(String),
}

/// Everything a request handler needs. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The open store: engine for reads, writer for mutations.
    pub storage: Storage,
    /// Who this node is.
    pub identity: Arc<NodeMeta>,
    /// The node's configuration.
    pub config: Arc<NodeConfig>,
    /// Renders `/metrics`; none when no recorder is installed.
    pub metrics: Option<PrometheusHandle>,
    /// Now.
    pub clock: Clock,
    /// Parsed configuration documents.
    pub configs: Arc<ConfigCache>,
    /// Writes admitted and not yet answered: a write finding none free is shed with 429
    /// `rate_limited` instead of queueing without bound behind the writer.
    pub write_slots: Arc<tokio::sync::Semaphore>,
}

/// Most API writes in flight at once (well above what the writer's group commit needs).
pub const MAX_WRITES_IN_FLIGHT: usize = 8192;

/// The store options for a node configuration, with the read-model projector.
pub fn store_options(config: &NodeConfig, cache: Arc<ConfigCache>) -> StoreOptions {
    StoreOptions {
        cache_capacity_bytes: config.cache_mb.saturating_mul(1024 * 1024),
        doc_cache: config.doc_cache.max(1),
        projector: Some(projector(cache)),
        read_model_version: READ_MODEL_VERSION,
        ..StoreOptions::default()
    }
}

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
        if cache.missed.swap(false, Ordering::Relaxed)
            && storage.open_report().rebuilt_read_model.is_some()
        {
            // Nothing writes yet: the writer has no jobs before the state exists.
            let p = projector(cache.clone());
            crate::store::writer::rebuild_read_model(store, &p, READ_MODEL_VERSION)?;
        }
        Ok(AppState {
            storage,
            identity: Arc::new(identity),
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

    /// Configuration is written by admins, at HQ only.
    pub fn require_config_writer(&self, user: &CurrentUser) -> ApiResult<()> {
        if self.identity.role == NodeRole::Site {
            return Err(ApiError::forbidden(
                "configuration is written at HQ and reaches this site node by sync",
            ));
        }
        user.require_admin()
    }

    /// Runs blocking reads off the async workers.
    async fn read<R, F>(&self, f: F) -> ApiResult<R>
    where
        F: FnOnce(&dyn Store) -> ApiResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let store = self.storage.store_arc();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(ApiError::internal)?
    }

    /// Runs one writer job; answered once durable.
    async fn write<R, F>(&self, f: F) -> ApiResult<R>
    where
        F: FnOnce(&mut WriteCtx<'_>) -> ApiResult<R> + Send + 'static,
        R: Send + 'static,
    {
        let _slot = self.write_slots.clone().try_acquire_owned().map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many writes in flight on this node, retry shortly",
            )
        })?;
        self.storage.submit(f).await
    }

    // -----------------------------------------------------------------------------------------
    // Auth, node, health

    /// The user holding a token hash.
    pub async fn user_by_token_hash(&self, hash: String) -> ApiResult<Option<User>> {
        self.read(move |s| Ok(s.user_by_token_hash(&hash)?.map(|e| e.user)))
            .await
    }

    /// The store answers.
    pub async fn check_ready(&self) -> ApiResult<()> {
        self.read(|s| {
            s.get(TreeId::Meta, records::keys::IDENTITY)
                .map_err(ApiError::unavailable)?
                .map(|_| ())
                .ok_or_else(|| ApiError::unavailable("store holds no identity"))
        })
        .await
    }

    /// `GET /api/v1/node`.
    pub async fn node_view(&self) -> ApiResult<NodeView> {
        let id = self.identity.clone();
        let ccs = match id.role {
            NodeRole::Site => id.call_centers.iter().map(|c| c.to_string()).collect(),
            NodeRole::Hq => self
                .configs
                .call_center_ids()
                .iter()
                .map(|c| c.to_string())
                .collect(),
        };
        let counts = self.doc_counts().await?;
        let count = |k: DocKind| counts.get(&k).copied().unwrap_or(0);
        let (orders, customers) = (count(DocKind::Order), count(DocKind::Customer));
        Ok(NodeView {
            node_id: id.node_id,
            name: id.name.clone(),
            role: id.role.as_str().to_string(),
            call_centers: ccs,
            version: env!("CARGO_PKG_VERSION").to_string(),
            documents: DocumentCounts { orders, customers },
        })
    }

    /// Sets the `switchboard_documents{kind}` gauges from the read model.
    pub async fn record_document_gauges(&self) -> ApiResult<()> {
        let counts = self.doc_counts().await?;
        for kind in [
            DocKind::Order,
            DocKind::Customer,
            DocKind::CallCenter,
            DocKind::Catalog,
        ] {
            let n = counts.get(&kind).copied().unwrap_or(0);
            metrics::gauge!("switchboard_documents", "kind" => kind.as_str()).set(n as f64);
        }
        Ok(())
    }

    /// Documents held, by kind (counters the store keeps with the documents).
    async fn doc_counts(&self) -> ApiResult<BTreeMap<DocKind, u64>> {
        self.read(|s| Ok(s.doc_counts()?.into_iter().collect()))
            .await
    }

    // -----------------------------------------------------------------------------------------
    // Configuration

    /// The configuration of a call center the user may see.
    pub async fn call_center(
        &self,
        user: &CurrentUser,
        id: &CallCenterId,
    ) -> ApiResult<CallCenter> {
        match self.configs.call_center(id) {
            Some(s) if user.sees(id) => Ok(s.config.clone()),
            _ => Err(ApiError::not_found(format!(
                "call center {id} does not exist"
            ))),
        }
    }

    /// Creates or replaces a call center's configuration.
    pub async fn put_call_center(
        &self,
        user: &CurrentUser,
        cc: CallCenter,
    ) -> ApiResult<CallCenter> {
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc_id = sdoc::call_center_doc_id(&cc.id);
            let doc = match ctx.load_doc(doc_id)? {
                Some((_, mut doc)) => {
                    sdoc::put_call_center(&mut doc, &cc, &author)?;
                    doc
                }
                None => sdoc::new_call_center_doc(&cc, &author)?,
            };
            ctx.put_doc(
                doc_id,
                DocMeta {
                    kind: DocKind::CallCenter,
                    call_center: Some(cc.id.clone()),
                },
                &doc,
            )?;
            Ok(sdoc::read_call_center(&doc)?.config)
        })
        .await
    }

    /// Adds a user to a call center and returns the one-time token.
    pub async fn create_user(
        &self,
        user: &CurrentUser,
        cc: &CallCenterId,
        body: NewUserBody,
    ) -> ApiResult<NewUserView> {
        let name = body.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(ApiError::invalid_field(
                "name",
                "must be 1 to 200 characters",
            ));
        }
        let author = self.author(user.0.id);
        let cc = cc.clone();
        self.write(move |ctx| {
            let doc_id = sdoc::call_center_doc_id(&cc);
            let (meta, mut doc) = ctx
                .load_doc(doc_id)?
                .ok_or_else(|| ApiError::not_found(format!("call center {cc} does not exist")))?;
            let token = crate::identity::new_token();
            let rec = UserRecord {
                user: User {
                    id: UserId(Uuid::new_v4()),
                    name,
                    role: body.role,
                    call_center: Some(cc.clone()),
                },
                token_hash: crate::identity::token_hash(&token),
            };
            sdoc::put_user(&mut doc, &rec, &author)?;
            ctx.put_doc(doc_id, meta, &doc)?;
            Ok(NewUserView {
                user_id: rec.user.id,
                token,
            })
        })
        .await
    }

    async fn put_catalog_entry<T, F>(&self, user: &CurrentUser, value: T, put: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Automerge, &T, &Author) -> Result<(), sdoc::DocError> + Send + 'static,
    {
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc_id = sdoc::catalog_doc_id();
            let mut doc = match ctx.load_doc(doc_id)? {
                Some((_, doc)) => doc,
                None => sdoc::new_catalog_doc(&author)?,
            };
            put(&mut doc, &value, &author)?;
            ctx.put_doc(
                doc_id,
                DocMeta {
                    kind: DocKind::Catalog,
                    call_center: None,
                },
                &doc,
            )?;
            Ok(value)
        })
        .await
    }

    /// Creates or replaces a product.
    pub async fn put_product(&self, user: &CurrentUser, p: Product) -> ApiResult<Product> {
        self.put_catalog_entry(user, p, sdoc::put_product).await
    }

    /// Creates or replaces a price group.
    pub async fn put_price_group(
        &self,
        user: &CurrentUser,
        g: PriceGroup,
    ) -> ApiResult<PriceGroup> {
        self.put_catalog_entry(user, g, sdoc::put_price_group).await
    }

    /// Creates or replaces a source code.
    pub async fn put_source_code(
        &self,
        user: &CurrentUser,
        s: SourceCodeDef,
    ) -> ApiResult<SourceCodeDef> {
        self.put_catalog_entry(user, s, sdoc::put_source_code).await
    }

    /// Creates or replaces a coupon.
    pub async fn put_coupon(&self, user: &CurrentUser, c: Coupon) -> ApiResult<Coupon> {
        self.put_catalog_entry(user, c, sdoc::put_coupon).await
    }

    // -----------------------------------------------------------------------------------------
    // Customers

    fn cc_state(&self, id: &CallCenterId) -> ApiResult<Arc<CallCenterState>> {
        self.configs.call_center(id).ok_or_else(|| {
            ApiError::internal(format!("configuration of call center {id} is missing"))
        })
    }

    /// Creates a customer in the user's call center (admins name one with `call_center_id`).
    pub async fn create_customer(
        &self,
        user: &CurrentUser,
        body: NewCustomerBody,
    ) -> ApiResult<CustomerView> {
        let cc_id = match (&body.call_center_id, &user.0.call_center) {
            (Some(given), own) => {
                let given = parse_code("call_center_id", given, CallCenterId::parse)?;
                if !user.is_admin() && own.as_ref() != Some(&given) {
                    return Err(ApiError::forbidden(
                        "agents and supervisors act only in their own call center",
                    ));
                }
                given
            }
            (None, Some(own)) => own.clone(),
            (None, None) => {
                return Err(ApiError::invalid_field(
                    "call_center_id",
                    "is required for users of no call center",
                ))
            }
        };
        let cc = self.configs.call_center(&cc_id).ok_or_else(|| {
            ApiError::invalid_field(
                "call_center_id",
                format!("call center {cc_id} does not exist"),
            )
        })?;
        let catalog = self.catalog();
        let actor = user.actor();
        let now = self.now();
        let fields = CustomerFields {
            name: Some(body.name),
            phone: Some(body.phone),
            email: Some(body.email),
            address: Some(body.address),
        };
        let ctx = Ctx {
            cc: &cc.config,
            catalog: &catalog,
            actor: &actor,
            now,
        };
        let c = customer::create_customer(ctx, CustomerId(Uuid::now_v7()), fields)?;
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc = sdoc::create_customer_doc(&c, &author)?;
            let meta = DocMeta {
                kind: DocKind::Customer,
                call_center: Some(c.call_center_id.clone()),
            };
            ctx.put_doc(c.id.0, meta, &doc)?;
            Ok(CustomerView::from_domain(&c))
        })
        .await
    }

    /// Customers the user may see whose name, phone or email contains `q`.
    pub async fn customers(&self, user: &CurrentUser, q: String) -> ApiResult<Vec<CustomerView>> {
        let user = user.clone();
        let q = q.trim().to_lowercase();
        self.read(move |s| {
            let mut out = Vec::new();
            for kv in s.iter_prefix(TreeId::Customers, b"", false) {
                let (_, v) = kv?;
                let Ok(c) = serde_json::from_slice::<CustomerView>(&v) else {
                    continue;
                };
                if user.sees(&c.call_center_id) && (q.is_empty() || c.matches(&q)) {
                    out.push(c);
                    if out.len() >= MAX_ITEMS {
                        break;
                    }
                }
            }
            Ok(out)
        })
        .await
    }

    /// A customer the user may see, read fresh from its document.
    pub async fn customer(
        &self,
        user: &CurrentUser,
        id: CustomerId,
    ) -> ApiResult<(Customer, Vec<sdoc::Conflict>)> {
        let user = user.clone();
        self.read(move |s| {
            let (meta, doc) = s.load_doc(id.0)?.ok_or_else(|| customer_not_found(id))?;
            check_visible(&user, &meta, DocKind::Customer, || customer_not_found(id))?;
            Ok(sdoc::read_customer(&doc)?)
        })
        .await
    }

    /// Runs a customer command as one writer job.
    async fn customer_job<R, F>(&self, user: &CurrentUser, id: CustomerId, f: F) -> ApiResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Customer, Ctx<'_>) -> Result<(customer::CustomerEvent, R), OrderError>
            + Send
            + 'static,
    {
        let user = user.clone();
        let author = self.author(user.0.id);
        let configs = self.configs.clone();
        self.write(move |ctx| {
            let (meta, mut doc) = ctx.load_doc(id.0)?.ok_or_else(|| customer_not_found(id))?;
            check_visible(&user, &meta, DocKind::Customer, || customer_not_found(id))?;
            let (c, _) = sdoc::read_customer(&doc)?;
            let cc = configs.call_center(&c.call_center_id).ok_or_else(|| {
                ApiError::internal(format!("configuration of {} is missing", c.call_center_id))
            })?;
            let catalog = configs.catalog();
            let actor = user.actor();
            let dctx = Ctx {
                cc: &cc.config,
                catalog: &catalog,
                actor: &actor,
                now: author.now,
            };
            let (event, out) = f(&c, dctx)?;
            sdoc::apply_customer_event(&mut doc, &event, &author)?;
            ctx.put_doc(id.0, meta, &doc)?;
            Ok(out)
        })
        .await
    }

    /// Changes contact fields.
    pub async fn patch_customer(
        &self,
        user: &CurrentUser,
        id: CustomerId,
        b: PatchCustomerBody,
    ) -> ApiResult<CustomerView> {
        let fields = CustomerFields {
            name: b.name,
            phone: b.phone,
            email: b.email,
            address: b.address,
        };
        self.customer_job(user, id, move |c, ctx| {
            let ev = customer::update_customer(c, ctx, fields)?;
            let mut c = c.clone();
            customer::apply_customer(&mut c, &ev);
            Ok((ev, CustomerView::from_domain(&c)))
        })
        .await
    }

    /// Adds a note to a customer.
    pub async fn add_customer_note(
        &self,
        user: &CurrentUser,
        id: CustomerId,
        text: String,
    ) -> ApiResult<NoteView> {
        self.customer_job(user, id, move |c, ctx| {
            let ev = customer::add_customer_note(c, ctx, NoteId(Uuid::now_v7()), text)?;
            let view = match &ev {
                customer::CustomerEvent::NoteAdded(n) => NoteView {
                    id: n.id,
                    by: n.added.by,
                    at: n.added.at,
                    text: n.text.clone(),
                },
                _ => return Err(OrderError::EmptyChange),
            };
            Ok((ev, view))
        })
        .await
    }

    /// Records a catalog request.
    pub async fn request_catalog(
        &self,
        user: &CurrentUser,
        id: CustomerId,
        b: CatalogRequestBody,
    ) -> ApiResult<CatalogRequestView> {
        let sc = SourceCode::parse(b.source_code.clone()).map_err(|_| {
            ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "source_code_invalid",
                format!("source code {} does not exist", b.source_code),
            )
        })?;
        self.customer_job(user, id, move |c, ctx| {
            let ev = customer::request_catalog(
                c,
                ctx,
                CatalogRequestId(Uuid::now_v7()),
                sc,
                b.quantity,
            )?;
            let view = match &ev {
                customer::CustomerEvent::CatalogRequested(r) => CatalogRequestView::from_domain(r),
                _ => return Err(OrderError::EmptyChange),
            };
            Ok((ev, view))
        })
        .await
    }

    /// Orders (newest first), notes and catalog requests of a customer.
    pub async fn customer_history(
        &self,
        user: &CurrentUser,
        id: CustomerId,
    ) -> ApiResult<CustomerHistory> {
        let (c, _) = self.customer(user, id).await?;
        let configs = self.configs.clone();
        let summaries = self
            .read(move |s| {
                let mut out = Vec::new();
                for kv in s.iter_prefix(TreeId::IdxCustomerOrders, id.0.as_bytes(), true) {
                    let (k, _) = kv?;
                    let Some(oid) = rm_keys::trailing_uuid(&k) else {
                        continue;
                    };
                    if let Some(sum) = read_summary(s, oid)? {
                        out.push(complete_summary(s, &configs, sum));
                    }
                    if out.len() >= MAX_ITEMS {
                        break;
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(CustomerHistory::build(&c, summaries))
    }

    // -----------------------------------------------------------------------------------------
    // Orders

    /// Creates an order for a customer the user may see, in the customer's call center.
    pub async fn create_order(&self, user: &CurrentUser, b: NewOrderBody) -> ApiResult<OrderView> {
        let source_code = match b.source_code {
            None => None,
            Some(s) => Some(SourceCode::parse(s.clone()).map_err(|_| {
                ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "source_code_invalid",
                    format!("source code {s} does not exist"),
                )
            })?),
        };
        let delivery_mode = b
            .delivery_mode
            .map(|d| parse_code("delivery_mode", &d, DeliveryModeId::parse))
            .transpose()?;
        let (customer, _) = self.customer(user, b.customer_id).await?;
        let cc = self.cc_state(&customer.call_center_id)?;
        let catalog = self.catalog();
        let actor = user.actor();
        let author = self.author(user.0.id);
        let ctx = Ctx {
            cc: &cc.config,
            catalog: &catalog,
            actor: &actor,
            now: author.now,
        };
        let new = NewOrder {
            id: OrderId(Uuid::now_v7()),
            customer,
            source_code,
            delivery_mode,
            ship_to: b.ship_to,
        };
        let order = commands::create_order(ctx, new)?;
        let now = author.now;
        let configs = self.configs.clone();
        let order = self
            .write(move |ctx| {
                let doc = sdoc::create_order_doc(&order, &author)?;
                let meta = DocMeta {
                    kind: DocKind::Order,
                    call_center: Some(order.call_center_id.clone()),
                };
                let entries = order_entries(order.id.0, &order, &doc, &configs);
                ctx.put_doc_projected(order.id.0, meta, doc, entries)?;
                Ok(order)
            })
            .await?;
        // A fresh document has no conflicts; the view is built off the writer thread.
        Ok(OrderView::build(
            &order,
            Vec::new(),
            &cc.config,
            &catalog,
            Some(now),
        ))
    }

    /// Loads an order the user may see, with its configuration, outside the writer.
    async fn load_order(
        &self,
        user: &CurrentUser,
        id: OrderId,
    ) -> ApiResult<(Automerge, Order, Vec<sdoc::Conflict>)> {
        let user = user.clone();
        self.read(move |s| {
            let (meta, doc) = s.load_doc(id.0)?.ok_or_else(|| order_not_found(id))?;
            check_visible(&user, &meta, DocKind::Order, || order_not_found(id))?;
            let (order, conflicts) = sdoc::read_order(&doc)?;
            Ok((doc, order, conflicts))
        })
        .await
    }

    /// The order view, fresh from the document.
    pub async fn order(&self, user: &CurrentUser, id: OrderId) -> ApiResult<OrderView> {
        let (doc, order, conflicts) = self.load_order(user, id).await?;
        let cc = self.cc_state(&order.call_center_id)?;
        Ok(OrderView::build(
            &order,
            conflicts_view(conflicts),
            &cc.config,
            &self.catalog(),
            last_change(&doc),
        ))
    }

    /// Upsell, cross-sell and scripts.
    pub async fn suggestions(&self, user: &CurrentUser, id: OrderId) -> ApiResult<SuggestionsView> {
        let (_, order, _) = self.load_order(user, id).await?;
        let cc = self.cc_state(&order.call_center_id)?;
        let s = switchboard_domain::guided::suggestions(&order, &cc.config, &self.catalog());
        Ok(SuggestionsView {
            upsell: s.upsell.iter().map(ProductDoc::from_domain).collect(),
            cross_sell: s.cross_sell.iter().map(ProductDoc::from_domain).collect(),
            scripts: s.scripts,
        })
    }

    /// The order's changes.
    pub async fn order_history(&self, user: &CurrentUser, id: OrderId) -> ApiResult<OrderHistory> {
        let (doc, _, _) = self.load_order(user, id).await?;
        let changes = sdoc::history(&doc)
            .into_iter()
            .map(|h| ChangeView {
                at: h.at,
                by: h.by,
                node: h.node,
                summary: h.summary,
            })
            .collect();
        Ok(OrderHistory { changes })
    }

    /// Runs an order command as one writer job and answers the new view.
    pub async fn order_command(
        &self,
        user: &CurrentUser,
        id: OrderId,
        cmd: OrderCmd,
    ) -> ApiResult<OrderView> {
        let user = user.clone();
        let author = self.author(user.0.id);
        let configs = self.configs.clone();
        let now = author.now;
        let done = self
            .write(move |ctx| {
                let (meta, mut doc) = ctx.load_doc(id.0)?.ok_or_else(|| order_not_found(id))?;
                check_visible(&user, &meta, DocKind::Order, || order_not_found(id))?;
                let (order, before) = sdoc::read_order(&doc)?;
                if !user.sees(&order.call_center_id) {
                    return Err(order_not_found(id));
                }
                let cc = configs.call_center(&order.call_center_id).ok_or_else(|| {
                    ApiError::internal(format!(
                        "configuration of {} is missing",
                        order.call_center_id
                    ))
                })?;
                let catalog = configs.catalog();
                let actor: Actor = user.actor();
                let dctx = Ctx {
                    cc: &cc.config,
                    catalog: &catalog,
                    actor: &actor,
                    now: author.now,
                };
                let event = match cmd {
                    OrderCmd::AddLine(c) => commands::add_line(&order, dctx, c),
                    OrderCmd::ChangeLine(c) => commands::change_line(&order, dctx, c),
                    OrderCmd::RemoveLine(l) => commands::remove_line(&order, dctx, l),
                    OrderCmd::ApplyCoupon(code) => {
                        let used = coupon_uses_elsewhere(ctx, &code, id)?;
                        commands::apply_coupon(&order, dctx, code, used)
                    }
                    OrderCmd::RemoveCoupon(code) => commands::remove_coupon(&order, dctx, code),
                    OrderCmd::AddPayment(c) => commands::add_payment(&order, dctx, c),
                    OrderCmd::VoidPayment(p) => commands::void_payment(&order, dctx, p),
                    OrderCmd::AddCharge(c) => commands::add_charge(&order, dctx, c),
                    OrderCmd::PlaceHold { id, code, reason } => {
                        commands::place_hold(&order, dctx, id, code, reason)
                    }
                    OrderCmd::ClearHold { id, reason } => {
                        commands::clear_hold(&order, dctx, id, reason)
                    }
                    OrderCmd::AddNote { id, text } => commands::add_note(&order, dctx, id, text),
                    OrderCmd::Submit => commands::submit(&order, dctx),
                    OrderCmd::Release => commands::release(&order, dctx),
                    OrderCmd::Cancel(reason) => commands::cancel(&order, dctx, reason),
                }?;
                sdoc::apply_order_event(&mut doc, &event, &author)?;
                // One local change cannot create concurrent values, so without conflicts before it
                // the new state is the old one with the event folded in; otherwise read it back.
                let (order, conflicts) = if before.is_empty() {
                    let mut order = order;
                    commands::apply(&mut order, &event);
                    (order, before)
                } else {
                    sdoc::read_order(&doc)?
                };
                let entries = order_entries(id.0, &order, &doc, &configs);
                ctx.put_doc_projected(id.0, meta, doc, entries)?;
                Ok((order, conflicts, cc, catalog))
            })
            .await?;
        let (order, conflicts, cc, catalog) = done;
        Ok(OrderView::build(
            &order,
            conflicts_view(conflicts),
            &cc.config,
            &catalog,
            Some(now),
        ))
    }

    /// A page of order summaries, newest first.
    pub async fn orders(&self, user: &CurrentUser, q: OrderListQuery) -> ApiResult<OrderList> {
        let limit = match q.limit.as_deref() {
            None | Some("") => 50,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if n >= 1 => n.min(500),
                _ => {
                    return Err(ApiError::invalid_field(
                        "limit",
                        "must be a whole number from 1 to 500",
                    ))
                }
            },
        };
        let status = match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ApiError::invalid_field(
                    "status",
                    "must be open, submitted, on_hold, released or canceled",
                )
            })?),
        };
        let customer = match q.customer_id.as_deref() {
            None | Some("") => None,
            Some(c) => Some(
                Uuid::parse_str(c)
                    .map_err(|_| ApiError::invalid_field("customer_id", "must be a UUID"))?,
            ),
        };
        let (tag, tree, prefix) = match (customer, status) {
            (Some(c), _) => ('c', TreeId::IdxCustomerOrders, c.as_bytes().to_vec()),
            (None, Some(s)) => ('s', TreeId::IdxStatus, rm_keys::status_prefix(s.as_str())),
            (None, None) => ('a', TreeId::OrderSummaries, Vec::new()),
        };
        let after = match q.cursor.as_deref() {
            None | Some("") => None,
            Some(c) => Some(decode_cursor(c, tag)?),
        };
        let user = user.clone();
        let configs = self.configs.clone();
        self.read(move |s| {
            let mut items = Vec::new();
            let mut last_key = None;
            let mut more = false;
            for kv in s.iter_prefix(tree, &prefix, true) {
                let (k, v) = kv?;
                if after.as_ref().is_some_and(|a| k.as_slice() >= a.as_slice()) {
                    continue;
                }
                let summary = if tree == TreeId::OrderSummaries {
                    serde_json::from_slice::<OrderSummary>(&v).ok()
                } else {
                    match rm_keys::trailing_uuid(&k) {
                        Some(oid) => read_summary(s, oid)?,
                        None => None,
                    }
                };
                let Some(summary) = summary else { continue };
                if !user.sees(&summary.call_center_id)
                    || status.is_some_and(|st| st != summary.status)
                {
                    continue;
                }
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(complete_summary(s, &configs, summary));
                last_key = Some(k);
            }
            let next_cursor = if more {
                last_key.map(|k| format!("{tag}{}", hex::encode(k)))
            } else {
                None
            };
            Ok(OrderList { items, next_cursor })
        })
        .await
    }

    // -----------------------------------------------------------------------------------------
    // Peers

    /// Configured peers.
    pub async fn peers(&self) -> ApiResult<Vec<PeerView>> {
        self.read(|s| {
            Ok(s.peers()?
                .into_iter()
                .map(|p| PeerView {
                    name: p.name,
                    url: p.url,
                    node_id: p.node_id,
                })
                .collect())
        })
        .await
    }

    /// Adds or replaces a peer.
    pub async fn add_peer(&self, b: NewPeerBody) -> ApiResult<PeerView> {
        self.write(move |ctx| {
            let old: Option<PeerConfig> = ctx
                .get(TreeId::Peers, b.name.as_bytes())?
                .map(|v| records::decode(&v))
                .transpose()?;
            let same_node = old
                .as_ref()
                .is_some_and(|o| b.node_id.is_none() || o.node_id == b.node_id);
            let peer = PeerConfig {
                name: b.name,
                url: b.url,
                secret: b.secret,
                node_id: b.node_id.or_else(|| old.as_ref().and_then(|o| o.node_id)),
                role: old.as_ref().filter(|_| same_node).and_then(|o| o.role),
                call_centers: old
                    .as_ref()
                    .filter(|_| same_node)
                    .and_then(|o| o.call_centers.clone()),
            };
            ctx.put_peer(&peer)?;
            Ok(PeerView {
                name: peer.name,
                url: peer.url,
                node_id: peer.node_id,
            })
        })
        .await
    }

    /// Removes a peer.
    pub async fn delete_peer(&self, name: String) -> ApiResult<()> {
        self.write(move |ctx| {
            if ctx.get(TreeId::Peers, name.as_bytes())?.is_none() {
                return Err(ApiError::not_found(format!("peer {name} does not exist")));
            }
            ctx.delete_peer(&name)?;
            Ok(())
        })
        .await
    }
}

fn order_not_found(id: OrderId) -> ApiError {
    ApiError::not_found(format!("order {id} does not exist"))
}

fn customer_not_found(id: CustomerId) -> ApiError {
    ApiError::not_found(format!("customer {id} does not exist"))
}

/// A document of another kind, or of a call center the user may not see, does not exist for them.
fn check_visible(
    user: &CurrentUser,
    meta: &DocMeta,
    kind: DocKind,
    not_found: impl Fn() -> ApiError,
) -> ApiResult<()> {
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

fn read_summary(s: &dyn Store, order: Uuid) -> ApiResult<Option<OrderSummary>> {
    Ok(s.get(TreeId::OrderSummaries, order.as_bytes())?
        .and_then(|v| serde_json::from_slice(&v).ok()))
}

/// A summary projected before its call center's configuration reached this node has no
/// totals; compute them now from the document (rare: a first sync delivering orders before
/// their configuration), so lists never show a stale gap once the configuration is here.
fn complete_summary(s: &dyn Store, configs: &ConfigCache, sum: OrderSummary) -> OrderSummary {
    if sum.total.is_some() {
        return sum;
    }
    let Some(cc) = configs.call_center(&sum.call_center_id) else {
        return sum;
    };
    let fresh = s.load_doc(sum.id.0).ok().flatten().and_then(|(_, doc)| {
        let (order, _) = sdoc::read_order(&doc).ok()?;
        Some(
            OrderView::build(
                &order,
                Vec::new(),
                &cc.config,
                &configs.catalog(),
                last_change(&doc),
            )
            .summary(),
        )
    });
    fresh.unwrap_or(sum)
}

/// Orders other than `this` that redeemed a coupon (the index holds no canceled order).
fn coupon_uses_elsewhere(ctx: &WriteCtx<'_>, code: &CouponCode, this: OrderId) -> ApiResult<u32> {
    // The same prefix as the index keys (code ++ 0), seeing the job's own staged writes.
    let uses = ctx.scan_prefix(TreeId::IdxCoupon, &rm_keys::status_prefix(code.as_str()))?;
    let n = uses
        .iter()
        .filter(|(k, _)| rm_keys::trailing_uuid(k) != Some(this.0))
        .count();
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

fn decode_cursor(c: &str, tag: char) -> ApiResult<Vec<u8>> {
    let bad = || ApiError::invalid_field("cursor", "not a cursor of this listing");
    let rest = c.strip_prefix(tag).ok_or_else(bad)?;
    hex::decode(rest).map_err(|_| bad())
}
