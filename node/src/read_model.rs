//! The read model of the node: what [`projector`] writes for each stored document (order
//! summaries and the indexes by customer, status, hold code and coupon; customer views and their
//! search index, [`crate::customer_search`]; the users of each call center), and
//! [`ConfigCache`], the configuration (call centers and the catalog) kept parsed, which the
//! projector refreshes whenever a configuration document is stored, locally or by a merge from a
//! peer. Also the reads of that model the services share.

use crate::config::NodeConfig;
use crate::customer_search;
use crate::error::NodeError;
use crate::store::records::rm_keys;
use crate::store::{
    DocKind, DocMeta, Projector, RmEntry, Store, StoreExt, StoreOptions, TreeId, UserEntry,
    UserOrigin,
};
use crate::views::{CustomerView, OrderSummary, OrderView};
use automerge::Automerge;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use switchboard_domain::config::Catalog;
use switchboard_domain::order::Order;
use switchboard_domain::{CallCenterId, Timestamp};
use switchboard_sync::doc::{self as sdoc, CallCenterState};
use uuid::Uuid;

/// Version of the read-model projection; bump it when [`projector`] changes what it writes.
///
/// 2: user entries carry their token's expiry and the user's revocation (JSON layout).
/// 3: customers are indexed for search (`idx_customer_search`, [`crate::customer_search`]).
pub const READ_MODEL_VERSION: u32 = 3;

/// The configuration as parsed from the configuration documents.
#[derive(Default)]
pub struct ConfigCache {
    catalog: RwLock<Arc<Catalog>>,
    call_centers: RwLock<BTreeMap<CallCenterId, Arc<CallCenterState>>>,
    /// Set when an order was projected before its call center's configuration was known, so
    /// that its summary lacks totals (see `AppState::with_storage`).
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

    /// Whether an order was projected without its configuration since the last call (and
    /// clears the mark).
    pub(crate) fn take_missed(&self) -> bool {
        self.missed.swap(false, Ordering::Relaxed)
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
    pub(crate) fn absorb(&self, meta: &DocMeta, doc: &Automerge) -> Result<(), sdoc::DocError> {
        match meta.kind {
            DocKind::Catalog => self.set_catalog(sdoc::read_catalog(doc)?),
            DocKind::CallCenter => self.set_call_center(sdoc::read_call_center(doc)?),
            DocKind::Order | DocKind::Customer => {}
        }
        Ok(())
    }
}

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

/// The last change time recorded in a document's history.
pub fn last_change(doc: &Automerge) -> Option<Timestamp> {
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
                    let mut out = vec![RmEntry {
                        tree: TreeId::Customers,
                        key: id.as_bytes().to_vec(),
                        value: json(&CustomerView::from_domain(&c)),
                    }];
                    out.extend(customer_search::entries(
                        &id,
                        &c.name,
                        c.phone.as_deref(),
                        c.email.as_deref(),
                    ));
                    out
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
            expires_at: rec.expires_at,
            disabled: rec.disabled,
            created_at: rec.created_at,
        };
        match entry.encode() {
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
                    .map_or(order.last_stamp(), |u| u.max(order.last_stamp())),
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
pub(crate) fn order_entries(
    id: Uuid,
    order: &Order,
    doc: &Automerge,
    cache: &ConfigCache,
) -> Vec<RmEntry> {
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

/// The stored summary of an order, if any.
pub(crate) fn read_summary(s: &dyn Store, order: Uuid) -> Result<Option<OrderSummary>, NodeError> {
    Ok(s.get(TreeId::OrderSummaries, order.as_bytes())?
        .and_then(|v| serde_json::from_slice(&v).ok()))
}

/// A summary projected before its call center's configuration reached this node has no
/// totals; compute them now from the document (rare: a first sync delivering orders before
/// their configuration), so lists never show a stale gap once the configuration is here.
pub(crate) fn complete_summary(
    s: &dyn Store,
    configs: &ConfigCache,
    sum: OrderSummary,
) -> OrderSummary {
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
