//! Orders: created for a customer, read fresh from their documents (view, suggestions, history),
//! listed from the read model, and changed by order commands. A command is decided by the domain
//! and written by `sync::doc::run_order_command`, the one path from a command to a document; the
//! node adds only what it knows beyond the order (coupon uses on other orders, from the read
//! model) and the read-model update.

use super::customers::source_code;
use super::{cc_state, check_visible, conflicts_view, AppState, ServiceError, ServiceResult};
use crate::auth::CurrentUser;
use crate::error::NodeError;
use crate::read_model::{complete_summary, last_change, order_entries, read_summary};
use crate::store::records::rm_keys;
use crate::store::{DocKind, DocMeta, StoreExt, TreeId, WriteCtx};
use crate::views::{
    parse_code, ChangeView, ContinuityChildView, ContinuityLineView, ContinuityParentView,
    ContinuityView, NewOrderBody, OrderHistory, OrderList, OrderListQuery, OrderSummary, OrderView,
    Page, ProductDoc, SuggestionsView,
};
use automerge::Automerge;
use std::cell::RefCell;
use switchboard_domain::commands::{self, Ctx, NewOrder, OrderCommand, OrderReads};
use switchboard_domain::order::{Order, Status};
use switchboard_domain::*;
use switchboard_sync::doc::{self as sdoc, Decided};
use uuid::Uuid;

fn order_not_found(id: OrderId) -> ServiceError {
    ServiceError::not_found(format!("order {id} does not exist"))
}

/// What an order command reads about other orders, from the read model as the writer job sees
/// it (its own staged writes included). A failed read is kept and answered instead of the
/// command's outcome: the trait's reads cannot fail, this store can.
struct StoreReads<'c, 'a> {
    ctx: &'c WriteCtx<'a>,
    failed: RefCell<Option<NodeError>>,
}

impl<'c, 'a> StoreReads<'c, 'a> {
    fn new(ctx: &'c WriteCtx<'a>) -> Self {
        StoreReads {
            ctx,
            failed: RefCell::new(None),
        }
    }

    /// The first read that failed, if any.
    fn failure(self) -> Result<(), NodeError> {
        self.failed.into_inner().map_or(Ok(()), Err)
    }
}

impl OrderReads for StoreReads<'_, '_> {
    /// Orders other than `order` that redeemed a coupon (the index holds no canceled order).
    fn coupon_uses_elsewhere(&self, code: &CouponCode, order: OrderId) -> u32 {
        // The same prefix as the index keys (code ++ 0), seeing the job's own staged writes.
        let prefix = rm_keys::status_prefix(code.as_str());
        match self.ctx.scan_prefix(TreeId::IdxCoupon, &prefix) {
            Ok(uses) => {
                let n = uses
                    .iter()
                    .filter(|(k, _)| rm_keys::trailing_uuid(k) != Some(order.0))
                    .count();
                u32::try_from(n).unwrap_or(u32::MAX)
            }
            Err(e) => {
                self.failed.borrow_mut().get_or_insert(e);
                u32::MAX
            }
        }
    }
}

impl AppState {
    /// Creates an order for a customer the user may see, in the customer's call center.
    pub async fn create_order(
        &self,
        user: &CurrentUser,
        b: NewOrderBody,
    ) -> ServiceResult<OrderView> {
        let source_code = b.source_code.as_deref().map(source_code).transpose()?;
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
                // A fresh document has no conflicts.
                ctx.put_order_projected(order.id.0, meta, doc, entries, order.clone(), Vec::new())?;
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
    ) -> ServiceResult<(Automerge, Order, Vec<sdoc::Conflict>)> {
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
    pub async fn order(&self, user: &CurrentUser, id: OrderId) -> ServiceResult<OrderView> {
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

    /// The continuity programs an order's lines sell, with their children (which of them this
    /// node holds, with their status, and when the next falls due), or, for a child order, its
    /// parent. The schedule is the domain's (`continuity::programs`).
    pub async fn order_continuity(
        &self,
        user: &CurrentUser,
        id: OrderId,
    ) -> ServiceResult<ContinuityView> {
        let (_, order, _) = self.load_order(user, id).await?;
        let catalog = self.catalog();
        let parent = order.continuity.as_ref().map(|c| ContinuityParentView {
            order_id: c.parent,
            index: c.index,
            times: order
                .lines
                .values()
                .find_map(|l| catalog.products.get(&l.product_id)?.continuity)
                .map(|p| p.times),
        });
        let programs = switchboard_domain::continuity::programs(&order, &catalog);
        let ids: Vec<Uuid> = programs
            .iter()
            .flat_map(|p| p.children.iter().map(|(id, _)| id.0))
            .collect();
        let statuses: std::collections::HashMap<Uuid, Status> = if ids.is_empty() {
            Default::default()
        } else {
            self.read(move |s| {
                let mut found = std::collections::HashMap::new();
                for id in ids {
                    if let Some(sum) = read_summary(s, id)? {
                        found.insert(id, sum.status);
                    }
                }
                Ok(found)
            })
            .await?
        };
        let programs = programs
            .into_iter()
            .map(|p| {
                let children: Vec<ContinuityChildView> = p
                    .children
                    .iter()
                    .enumerate()
                    .map(|(i, (id, due))| ContinuityChildView {
                        index: i as u32 + 1,
                        order_id: *id,
                        due: *due,
                        status: statuses.get(&id.0).copied(),
                    })
                    .collect();
                let created = children.iter().filter(|c| c.status.is_some()).count() as u32;
                ContinuityLineView {
                    line_id: p.line,
                    product_id: p.product_id,
                    every_days: p.program.every_days,
                    times: p.program.times,
                    next_due: children
                        .iter()
                        .find(|c| c.status.is_none())
                        .and_then(|c| c.due),
                    remaining: p.program.times.saturating_sub(created),
                    created,
                    children,
                }
            })
            .collect();
        Ok(ContinuityView { parent, programs })
    }

    /// Upsell, cross-sell and scripts.
    pub async fn suggestions(
        &self,
        user: &CurrentUser,
        id: OrderId,
    ) -> ServiceResult<SuggestionsView> {
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
    pub async fn order_history(
        &self,
        user: &CurrentUser,
        id: OrderId,
    ) -> ServiceResult<OrderHistory> {
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
        cmd: OrderCommand,
    ) -> ServiceResult<OrderView> {
        let user = user.clone();
        let author = self.author(user.0.id);
        let configs = self.configs.clone();
        let now = author.now;
        let done = self
            .write(move |ctx| {
                let (meta, mut doc, cached) = ctx
                    .load_order_doc(id.0)?
                    .ok_or_else(|| order_not_found(id))?;
                check_visible(&user, &meta, DocKind::Order, || order_not_found(id))?;
                let read = match cached {
                    Some(read) => read,
                    None => sdoc::read_order(&doc)?,
                };
                if !user.sees(&read.0.call_center_id) {
                    return Err(order_not_found(id));
                }
                let cc = cc_state(&configs, &read.0.call_center_id)?;
                let catalog = configs.catalog();
                let actor = user.actor();
                let dctx = Ctx {
                    cc: &cc.config,
                    catalog: &catalog,
                    actor: &actor,
                    now: author.now,
                };
                let reads = StoreReads::new(ctx);
                let decided = sdoc::run_order_command(&mut doc, read, dctx, cmd, &reads, &author);
                // A read that failed makes any outcome unreliable; nothing is written either way.
                reads.failure()?;
                let Decided {
                    order, conflicts, ..
                } = decided?;
                let entries = order_entries(id.0, &order, &doc, &configs);
                ctx.put_order_projected(
                    id.0,
                    meta,
                    doc,
                    entries,
                    order.clone(),
                    conflicts.clone(),
                )?;
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
    pub async fn orders(&self, user: &CurrentUser, q: OrderListQuery) -> ServiceResult<OrderList> {
        let status = match q.status.as_deref() {
            None | Some("") => None,
            Some(s) => Some(Status::parse(s).ok_or_else(|| {
                ServiceError::invalid_field(
                    "status",
                    "must be open, submitted, on_hold, released or canceled",
                )
            })?),
        };
        let customer = match q.customer_id.as_deref() {
            None | Some("") => None,
            Some(c) => Some(
                Uuid::parse_str(c)
                    .map_err(|_| ServiceError::invalid_field("customer_id", "must be a UUID"))?,
            ),
        };
        let (tag, tree, prefix) = match (customer, status) {
            (Some(c), _) => ('c', TreeId::IdxCustomerOrders, c.as_bytes().to_vec()),
            (None, Some(s)) => ('s', TreeId::IdxStatus, rm_keys::status_prefix(s.as_str())),
            (None, None) => ('a', TreeId::OrderSummaries, Vec::new()),
        };
        let page = Page::parse(q.limit.as_deref(), q.cursor.as_deref(), tag)?;
        let (limit, after) = (page.limit, page.after.clone());
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
                last_key.map(|k| page.cursor(&k))
            } else {
                None
            };
            Ok(OrderList { items, next_cursor })
        })
        .await
    }
}
