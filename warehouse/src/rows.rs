//! The mapping from customers, call centers and the catalog to warehouse rows (an order's rows
//! are typed and copied, see `crate::copy`). Each row is a JSON object whose keys are the
//! columns of its table; [`crate::Warehouse`] inserts each table's rows with one
//! `jsonb_populate_recordset` statement naming exactly those columns (so a key that is not a
//! column fails loudly). Money goes as decimal strings and times as RFC 3339 strings, which
//! PostgreSQL reads exactly into `numeric` and `timestamptz`.

use crate::model::{ContactField, DocValue, Options};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use switchboard_domain::config::Catalog;
use switchboard_domain::customer::Customer;
use switchboard_sync::doc::{CallCenterState, DocKind};
use uuid::Uuid;

/// Every document-derived table, parents before children (the order rows are inserted in).
pub(crate) const TABLES: [&str; 26] = [
    "call_centers",
    "users",
    "payment_methods",
    "delivery_modes",
    "delivery_charge_tiers",
    "hold_codes",
    "reason_codes",
    "price_override_limits",
    "catalogs",
    "products",
    "product_suggestions",
    "price_groups",
    "prices",
    "source_codes",
    "coupons",
    "customers",
    "customer_notes",
    "catalog_requests",
    "orders",
    "order_lines",
    "order_charges",
    "order_payments",
    "order_holds",
    "order_coupons",
    "order_notes",
    "order_history",
];

/// The statements deleting every row of the given documents of a kind, one per table (each
/// `$1` is the documents' ids): an order's and a customer's tables keep no foreign key to the
/// root row (migration 3), the configuration documents' children follow their root row by
/// `ON DELETE CASCADE`.
pub(crate) fn delete_sql(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Order => &[
            "DELETE FROM orders WHERE order_id = ANY($1)",
            "DELETE FROM order_lines WHERE order_id = ANY($1)",
            "DELETE FROM order_charges WHERE order_id = ANY($1)",
            "DELETE FROM order_payments WHERE order_id = ANY($1)",
            "DELETE FROM order_holds WHERE order_id = ANY($1)",
            "DELETE FROM order_coupons WHERE order_id = ANY($1)",
            "DELETE FROM order_notes WHERE order_id = ANY($1)",
            "DELETE FROM order_history WHERE order_id = ANY($1)",
        ],
        DocKind::Customer => &[
            "DELETE FROM customers WHERE customer_id = ANY($1)",
            "DELETE FROM customer_notes WHERE customer_id = ANY($1)",
            "DELETE FROM catalog_requests WHERE customer_id = ANY($1)",
        ],
        DocKind::CallCenter => &["DELETE FROM call_centers WHERE doc_id = ANY($1)"],
        DocKind::Catalog => &["DELETE FROM catalogs WHERE doc_id = ANY($1)"],
    }
}

/// PostgreSQL text cannot hold U+0000, and one such character would refuse the whole batch (and
/// every retry of it): in a value or a key (addresses are free-form maps) it becomes U+FFFD.
pub(crate) fn scrub_nul(v: &mut Value) {
    match v {
        Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
        Value::Array(a) => a.iter_mut().for_each(scrub_nul),
        Value::Object(o) => {
            if o.keys().any(|k| k.contains('\0')) {
                *o = std::mem::take(o)
                    .into_iter()
                    .map(|(k, v)| (k.replace('\0', "\u{FFFD}"), v))
                    .collect();
            }
            o.values_mut().for_each(scrub_nul)
        }
        _ => {}
    }
}

/// Rows to insert, by table.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    tables: BTreeMap<&'static str, Vec<Value>>,
}

impl Rows {
    fn push(&mut self, table: &'static str, mut row: Value) {
        debug_assert!(TABLES.contains(&table), "unknown table {table}");
        scrub_nul(&mut row);
        self.tables.entry(table).or_default().push(row);
    }

    /// Each table with rows, parents first, with its column list and rows.
    pub(crate) fn in_order(&self) -> impl Iterator<Item = (&'static str, Vec<&str>, &[Value])> {
        TABLES.iter().filter_map(|t| {
            let rows = self.tables.get(t)?;
            let cols = rows
                .first()?
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            Some((*t, cols, rows.as_slice()))
        })
    }

    /// Adds the rows of one document's value.
    pub(crate) fn add(&mut self, doc_id: Uuid, value: &DocValue, opts: &Options) {
        match value {
            // An order's rows go by binary COPY (`crate::copy`).
            DocValue::Order(_) => {}
            DocValue::Customer(c) => self.customer(c, opts),
            DocValue::CallCenter(s) => self.call_center(doc_id, s),
            DocValue::Catalog(c) => self.catalog(doc_id, c),
        }
    }

    fn customer(&mut self, c: &Customer, opts: &Options) {
        let id = c.id;
        self.push(
            "customers",
            json!({
                "customer_id": id,
                "call_center_id": c.call_center_id,
                "name": opts.keeps(ContactField::Name).then_some(&c.name),
                "phone": c.phone.as_ref().filter(|_| opts.keeps(ContactField::Phone)),
                "email": c.email.as_ref().filter(|_| opts.keeps(ContactField::Email)),
                "address": opts.keeps(ContactField::Address).then_some(&c.address),
                "created_at": c.created.at,
                "created_by": c.created.by,
            }),
        );
        for n in c.notes.values() {
            self.push(
                "customer_notes",
                json!({
                    "customer_id": id,
                    "note_id": n.id,
                    "added_at": n.added.at,
                    "added_by": n.added.by,
                    "text": n.text,
                }),
            );
        }
        for r in c.catalog_requests.values() {
            self.push(
                "catalog_requests",
                json!({
                    "customer_id": id,
                    "request_id": r.id,
                    "source_code": r.source_code,
                    "catalog_id": r.catalog,
                    "quantity": r.quantity,
                    "requested_at": r.requested.at,
                    "requested_by": r.requested.by,
                }),
            );
        }
    }

    fn call_center(&mut self, doc_id: Uuid, s: &CallCenterState) {
        let cc = &s.config;
        let id = &cc.id;
        self.push(
            "call_centers",
            json!({
                "call_center_id": id,
                "doc_id": doc_id,
                "name": cc.name,
                "currency": cc.currency,
                "order_completion": cc.order_completion,
                "guided_sales": cc.guided_sales,
                "payment_tolerance": cc.payment_tolerance,
                "price_group_id": cc.price_group,
                "financial_dimensions": cc.financial_dimensions,
            }),
        );
        // The user record's token hash is deliberately not read.
        for rec in s.users.values() {
            let u = &rec.user;
            self.push(
                "users",
                json!({
                    "call_center_id": id,
                    "user_id": u.id,
                    "name": u.name,
                    "role": u.role.as_str(),
                }),
            );
        }
        for m in &cc.payment_methods {
            self.push(
                "payment_methods",
                json!({ "call_center_id": id, "payment_method_id": m.id, "kind": m.kind }),
            );
        }
        for m in &cc.delivery_modes {
            self.push(
                "delivery_modes",
                json!({ "call_center_id": id, "delivery_mode_id": m.id, "name": m.name }),
            );
            for (i, t) in m.charges.iter().enumerate() {
                self.push(
                    "delivery_charge_tiers",
                    json!({
                        "call_center_id": id,
                        "delivery_mode_id": m.id,
                        "tier": i + 1,
                        "amount_from": t.from,
                        "amount_to": t.to,
                        "charge": t.amount,
                    }),
                );
            }
        }
        for h in &cc.hold_codes {
            let roles: Vec<&str> = h.clear_roles.iter().map(|r| r.as_str()).collect();
            self.push(
                "hold_codes",
                json!({
                    "call_center_id": id,
                    "hold_code": h.id,
                    "name": h.name,
                    "clear_roles": roles,
                }),
            );
        }
        for r in &cc.reason_codes {
            self.push(
                "reason_codes",
                json!({ "call_center_id": id, "reason_code": r.id, "name": r.name }),
            );
        }
        for (role, limit) in &cc.price_override_limits {
            self.push(
                "price_override_limits",
                json!({ "call_center_id": id, "role": role.as_str(), "max_percent": limit }),
            );
        }
    }

    fn catalog(&mut self, doc_id: Uuid, c: &Catalog) {
        self.push("catalogs", json!({ "doc_id": doc_id }));
        for p in c.products.values() {
            self.push(
                "products",
                json!({
                    "doc_id": doc_id,
                    "product_id": p.id,
                    "name": p.name,
                    "price": p.price,
                    "allow_price_override": p.allow_price_override,
                    "image_url": p.image_url,
                    "script": p.script,
                    "continuity_every_days": p.continuity.map(|c| c.every_days),
                    "continuity_times": p.continuity.map(|c| c.times),
                }),
            );
            let suggestions = [("upsell", &p.upsell), ("cross_sell", &p.cross_sell)];
            for (kind, list) in suggestions {
                for (i, s) in list.iter().enumerate() {
                    self.push(
                        "product_suggestions",
                        json!({
                            "doc_id": doc_id,
                            "product_id": p.id,
                            "kind": kind,
                            "position": i + 1,
                            "suggested_product_id": s,
                        }),
                    );
                }
            }
        }
        for g in c.price_groups.values() {
            self.push(
                "price_groups",
                json!({ "doc_id": doc_id, "price_group_id": g.id, "name": g.name }),
            );
            for (product, price) in &g.prices {
                self.push(
                    "prices",
                    json!({
                        "doc_id": doc_id,
                        "price_group_id": g.id,
                        "product_id": product,
                        "price": price,
                    }),
                );
            }
        }
        for s in c.source_codes.values() {
            self.push(
                "source_codes",
                json!({
                    "doc_id": doc_id,
                    "source_code": s.code,
                    "catalog_id": s.catalog,
                    "valid_from": s.window.valid_from,
                    "valid_to": s.window.valid_to,
                    "discount_percent": s.discount_percent,
                    "free_shipping": s.free_shipping,
                    "script": s.script,
                    "price_group_id": s.price_group,
                }),
            );
        }
        for k in c.coupons.values() {
            self.push(
                "coupons",
                json!({
                    "doc_id": doc_id,
                    "coupon_code": k.code,
                    "kind": k.kind,
                    "value": k.value,
                    "min_order": k.min_order,
                    "valid_from": k.window.valid_from,
                    "valid_to": k.window.valid_to,
                    "max_uses": k.max_uses,
                }),
            );
        }
    }
}
