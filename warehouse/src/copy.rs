//! An order's rows as typed values, written with PostgreSQL's binary `COPY`.
//!
//! Orders are nearly all of a warehouse's rows (an order of five lines, two payments and a hold
//! is twenty rows over its eight tables), so their tables skip the JSON path of [`crate::rows`]:
//! each row is a list of typed cells borrowed from the order (uuids, text, `numeric` as
//! [`Decimal`], times as [`SystemTime`]) and [`copy_rows`] streams a table's rows with one
//! `COPY … FROM STDIN (FORMAT binary)`. Neither side builds or parses JSON for them, and the
//! columns are named and typed here, so a value that does not fit its column fails the batch.
//! The other documents (customers, call centers, the catalog: few rows) keep the JSON path.

use crate::model::{ContactField, Options, OrderDoc};
use rust_decimal::Decimal;
use serde_json::Value;
use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use switchboard_domain::order::Stamp;
use switchboard_domain::Timestamp;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, ToSql, Type};
use tokio_postgres::Transaction;
use uuid::Uuid;

/// One value of a row; `None` is SQL NULL.
#[derive(Debug)]
pub(crate) enum Cell<'a> {
    Uuid(Option<Uuid>),
    Text(Option<Cow<'a, str>>),
    Int(Option<i32>),
    Bool(bool),
    Num(Option<Decimal>),
    Time(Option<SystemTime>),
    Json(Option<Json<Value>>),
}

impl<'a> Cell<'a> {
    fn sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Cell::Uuid(v) => v,
            Cell::Text(v) => v,
            Cell::Int(v) => v,
            Cell::Bool(v) => v,
            Cell::Num(v) => v,
            Cell::Time(v) => v,
            Cell::Json(v) => v,
        }
    }

    fn uuid(u: impl Into<Uuid>) -> Cell<'a> {
        Cell::Uuid(Some(u.into()))
    }

    fn uuid_opt(u: Option<impl Into<Uuid>>) -> Cell<'a> {
        Cell::Uuid(u.map(Into::into))
    }

    /// PostgreSQL text cannot hold U+0000 (one would refuse the batch and every retry of it):
    /// it becomes U+FFFD, as on the JSON path.
    fn text(s: &'a str) -> Cell<'a> {
        Cell::Text(Some(scrub(s)))
    }

    fn text_opt(s: Option<&'a str>) -> Cell<'a> {
        Cell::Text(s.map(scrub))
    }

    fn time(t: Timestamp) -> Cell<'a> {
        Cell::Time(Some(system_time(t)))
    }

    fn time_opt(t: Option<Timestamp>) -> Cell<'a> {
        Cell::Time(t.map(system_time))
    }

    fn num(d: Decimal) -> Cell<'a> {
        Cell::Num(Some(d))
    }

    fn json(v: Value) -> Cell<'a> {
        let mut v = v;
        crate::rows::scrub_nul(&mut v);
        Cell::Json(Some(Json(v)))
    }
}

fn scrub(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

fn system_time(t: Timestamp) -> SystemTime {
    let ms = t.as_millis();
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// An order table: its name and columns with their PostgreSQL types, in row order.
pub(crate) struct Table {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static [(&'static str, Type)],
}

const ORDERS: Table = Table {
    name: "orders",
    columns: &[
        ("order_id", Type::UUID),
        ("call_center_id", Type::TEXT),
        ("customer_id", Type::UUID),
        ("source_code", Type::TEXT),
        ("delivery_mode_id", Type::TEXT),
        ("ship_to", Type::JSONB),
        ("financial_dimensions", Type::JSONB),
        ("status", Type::TEXT),
        ("created_at", Type::TIMESTAMPTZ),
        ("created_by", Type::UUID),
        ("submitted_at", Type::TIMESTAMPTZ),
        ("submitted_by", Type::UUID),
        ("released_at", Type::TIMESTAMPTZ),
        ("released_by", Type::UUID),
        ("canceled_at", Type::TIMESTAMPTZ),
        ("canceled_by", Type::UUID),
        ("cancel_reason", Type::TEXT),
        ("continuity_parent", Type::UUID),
        ("continuity_line", Type::UUID),
        ("continuity_index", Type::INT4),
        ("last_change_at", Type::TIMESTAMPTZ),
        ("priced", Type::BOOL),
        ("subtotal", Type::NUMERIC),
        ("discount", Type::NUMERIC),
        ("source_discount", Type::NUMERIC),
        ("charges", Type::NUMERIC),
        ("total", Type::NUMERIC),
        ("paid", Type::NUMERIC),
        ("balance", Type::NUMERIC),
    ],
};

const LINES: Table = Table {
    name: "order_lines",
    columns: &[
        ("order_id", Type::UUID),
        ("line_id", Type::UUID),
        ("product_id", Type::TEXT),
        ("quantity", Type::INT4),
        ("list_price", Type::NUMERIC),
        ("unit_price", Type::NUMERIC),
        ("amount", Type::NUMERIC),
        ("override_reason_code", Type::TEXT),
        ("override_by", Type::UUID),
        ("added_at", Type::TIMESTAMPTZ),
        ("added_by", Type::UUID),
        ("removed_at", Type::TIMESTAMPTZ),
        ("removed_by", Type::UUID),
    ],
};

const CHARGES: Table = Table {
    name: "order_charges",
    columns: &[
        ("order_id", Type::UUID),
        ("charge_id", Type::UUID),
        ("automatic", Type::BOOL),
        ("code", Type::TEXT),
        ("amount", Type::NUMERIC),
        ("reason_code", Type::TEXT),
        ("added_at", Type::TIMESTAMPTZ),
        ("added_by", Type::UUID),
    ],
};

const PAYMENTS: Table = Table {
    name: "order_payments",
    columns: &[
        ("order_id", Type::UUID),
        ("payment_id", Type::UUID),
        ("payment_method_id", Type::TEXT),
        ("amount", Type::NUMERIC),
        ("reference", Type::TEXT),
        ("status", Type::TEXT),
        ("added_at", Type::TIMESTAMPTZ),
        ("added_by", Type::UUID),
        ("voided_at", Type::TIMESTAMPTZ),
        ("voided_by", Type::UUID),
    ],
};

const HOLDS: Table = Table {
    name: "order_holds",
    columns: &[
        ("order_id", Type::UUID),
        ("hold_id", Type::UUID),
        ("hold_code", Type::TEXT),
        ("reason", Type::TEXT),
        ("system", Type::BOOL),
        ("placed_at", Type::TIMESTAMPTZ),
        ("placed_by", Type::UUID),
        ("cleared_at", Type::TIMESTAMPTZ),
        ("cleared_by", Type::UUID),
        ("clear_reason", Type::TEXT),
    ],
};

const COUPONS: Table = Table {
    name: "order_coupons",
    columns: &[
        ("order_id", Type::UUID),
        ("coupon_code", Type::TEXT),
        ("applied_at", Type::TIMESTAMPTZ),
        ("applied_by", Type::UUID),
        ("removed_at", Type::TIMESTAMPTZ),
        ("removed_by", Type::UUID),
        ("discount", Type::NUMERIC),
    ],
};

const NOTES: Table = Table {
    name: "order_notes",
    columns: &[
        ("order_id", Type::UUID),
        ("note_id", Type::UUID),
        ("added_at", Type::TIMESTAMPTZ),
        ("added_by", Type::UUID),
        ("text", Type::TEXT),
    ],
};

const HISTORY: Table = Table {
    name: "order_history",
    columns: &[
        ("order_id", Type::UUID),
        ("seq", Type::INT4),
        ("at", Type::TIMESTAMPTZ),
        ("user_id", Type::UUID),
        ("node_id", Type::UUID),
        ("summary", Type::TEXT),
    ],
};

/// The order tables, the root first.
pub(crate) const ORDER_TABLES: [Table; 8] = [
    ORDERS, LINES, CHARGES, PAYMENTS, HOLDS, COUPONS, NOTES, HISTORY,
];

type Row<'a> = Vec<Cell<'a>>;

/// The rows of a batch's orders, per table of [`ORDER_TABLES`].
#[derive(Debug, Default)]
pub(crate) struct OrderRows<'a> {
    tables: [Vec<Row<'a>>; 8],
}

fn by<'a>(s: Option<&Stamp>) -> Cell<'a> {
    Cell::uuid_opt(s.map(|s| s.by.0))
}

fn at<'a>(s: Option<&Stamp>) -> Cell<'a> {
    Cell::time_opt(s.map(|s| s.at))
}

fn int<'a>(n: impl TryInto<i32>) -> Cell<'a> {
    // Quantities, sequence numbers and continuity indexes are small; a value past i32 (which
    // the domain never makes) is written as NULL into a NOT NULL column and refuses the batch
    // rather than wrapping.
    Cell::Int(n.try_into().ok())
}

impl<'a> OrderRows<'a> {
    /// Whether no order was added.
    pub(crate) fn is_empty(&self) -> bool {
        self.tables[0].is_empty()
    }

    /// Adds the rows of one order.
    pub(crate) fn add(&mut self, doc: &'a OrderDoc, opts: &Options) {
        let o = &doc.order;
        let id = o.id.0;
        let l = &o.lifecycle;
        let pricing = doc.pricing.as_ref();
        let totals = pricing.map(|p| &p.totals);
        let total = |f: fn(&switchboard_domain::order::Totals) -> Decimal| Cell::Num(totals.map(f));
        let ship_to = if opts.keeps(ContactField::ShipTo) {
            Cell::json(serde_json::to_value(&o.ship_to).unwrap_or(Value::Null))
        } else {
            Cell::Json(None)
        };
        self.tables[0].push(vec![
            Cell::uuid(id),
            Cell::text(o.call_center_id.as_str()),
            Cell::uuid(o.customer_id.0),
            Cell::text_opt(o.source_code.as_ref().map(|s| s.as_str())),
            Cell::text_opt(o.delivery_mode.as_ref().map(|s| s.as_str())),
            ship_to,
            Cell::json(serde_json::to_value(&o.financial_dimensions).unwrap_or(Value::Null)),
            Cell::text(o.status().as_str()),
            Cell::time(o.created.at),
            Cell::uuid(o.created.by.0),
            at(l.submitted.as_ref()),
            by(l.submitted.as_ref()),
            at(l.released.as_ref()),
            by(l.released.as_ref()),
            at(l.canceled.as_ref().map(|(s, _)| s)),
            by(l.canceled.as_ref().map(|(s, _)| s)),
            Cell::text_opt(l.canceled.as_ref().map(|(_, r)| r.as_str())),
            Cell::uuid_opt(o.continuity.as_ref().map(|c| c.parent.0)),
            Cell::uuid_opt(o.continuity.as_ref().map(|c| c.line.0)),
            match &o.continuity {
                Some(c) => int(c.index),
                None => Cell::Int(None),
            },
            Cell::time(o.last_stamp()),
            Cell::Bool(pricing.is_some()),
            total(|t| t.subtotal),
            total(|t| t.discount),
            Cell::Num(pricing.map(|p| p.source_discount)),
            total(|t| t.charges),
            total(|t| t.total),
            total(|t| t.paid),
            total(|t| t.balance),
        ]);
        for line in o.lines.values() {
            let ov = line.price_override.as_ref();
            self.tables[1].push(vec![
                Cell::uuid(id),
                Cell::uuid(line.id.0),
                Cell::text(line.product_id.as_str()),
                int(line.quantity.get()),
                Cell::num(line.list_price),
                Cell::num(line.unit_price),
                Cell::num(line.unit_price * line.quantity.as_decimal()),
                Cell::text_opt(ov.map(|p| p.reason_code.as_str())),
                Cell::uuid_opt(ov.map(|p| p.by.0)),
                Cell::time(line.added.at),
                Cell::uuid(line.added.by.0),
                at(line.removed.as_ref()),
                by(line.removed.as_ref()),
            ]);
        }
        for c in o.charges.values() {
            self.tables[2].push(vec![
                Cell::uuid(id),
                Cell::uuid(c.id.0),
                Cell::Bool(false),
                Cell::text(c.code.as_str()),
                Cell::num(c.amount),
                Cell::text(c.reason_code.as_str()),
                Cell::time(c.added.at),
                Cell::uuid(c.added.by.0),
            ]);
        }
        if let Some(auto) = pricing.and_then(|p| p.auto_charge.as_ref()) {
            self.tables[2].push(vec![
                Cell::uuid(id),
                Cell::uuid(o.auto_charge_id(&auto.delivery_mode)),
                Cell::Bool(true),
                Cell::text(auto.delivery_mode.as_str()),
                Cell::num(auto.amount),
                Cell::Text(None),
                Cell::Time(None),
                Cell::Uuid(None),
            ]);
        }
        for p in o.payments.values() {
            let status = match p.status() {
                switchboard_domain::order::PaymentStatus::Authorized => "authorized",
                switchboard_domain::order::PaymentStatus::Voided => "voided",
            };
            self.tables[3].push(vec![
                Cell::uuid(id),
                Cell::uuid(p.id.0),
                Cell::text(p.method.as_str()),
                Cell::num(p.amount),
                Cell::text_opt(p.reference.as_deref()),
                Cell::text(status),
                Cell::time(p.added.at),
                Cell::uuid(p.added.by.0),
                at(p.voided.as_ref()),
                by(p.voided.as_ref()),
            ]);
        }
        for h in o.holds.values() {
            let cl = h.cleared.as_ref();
            self.tables[4].push(vec![
                Cell::uuid(id),
                Cell::uuid(h.id.0),
                Cell::text(h.code.as_str()),
                Cell::text(&h.reason),
                Cell::Bool(h.system),
                Cell::time(h.placed.at),
                Cell::uuid(h.placed.by.0),
                Cell::time_opt(cl.map(|c| c.at)),
                Cell::uuid_opt(cl.map(|c| c.by.0)),
                Cell::text_opt(cl.map(|c| c.reason.as_str())),
            ]);
        }
        for c in o.coupons.values() {
            let discount = pricing.and_then(|p| {
                p.coupon_discounts
                    .iter()
                    .find(|d| d.code == c.code)
                    .map(|d| d.discount)
            });
            self.tables[5].push(vec![
                Cell::uuid(id),
                Cell::text(c.code.as_str()),
                Cell::time(c.applied.at),
                Cell::uuid(c.applied.by.0),
                at(c.removed.as_ref()),
                by(c.removed.as_ref()),
                Cell::Num(if c.removed.is_none() { discount } else { None }),
            ]);
        }
        for n in o.notes.values() {
            self.tables[6].push(vec![
                Cell::uuid(id),
                Cell::uuid(n.id.0),
                Cell::time(n.added.at),
                Cell::uuid(n.added.by.0),
                Cell::text(&n.text),
            ]);
        }
        for (i, h) in doc.history.iter().enumerate() {
            self.tables[7].push(vec![
                Cell::uuid(id),
                int(i + 1),
                Cell::time(h.at),
                Cell::uuid_opt(h.by.map(|u| u.0)),
                Cell::uuid_opt(h.node.map(|n| n.0)),
                Cell::text(&h.summary),
            ]);
        }
    }

    /// Each order table with rows, the root first.
    pub(crate) fn tables(&self) -> Vec<(&'static Table, &[Row<'a>])> {
        const TABLES: &[Table; 8] = &ORDER_TABLES;
        let mut out = Vec::with_capacity(TABLES.len());
        for (t, rows) in TABLES.iter().zip(self.tables.iter()) {
            if !rows.is_empty() {
                out.push((t, rows.as_slice()));
            }
        }
        out
    }
}

/// Writes `rows` into `table` with one binary `COPY`; returns how many rows PostgreSQL took.
pub(crate) async fn copy_rows(
    tx: &Transaction<'_>,
    table: &Table,
    rows: &[Row<'_>],
) -> Result<u64, tokio_postgres::Error> {
    let cols: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let types: Vec<Type> = table.columns.iter().map(|(_, t)| t.clone()).collect();
    let sql = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        table.name,
        cols.join(", ")
    );
    let sink = tx.copy_in(&sql).await?;
    let writer = BinaryCopyInWriter::new(sink, &types);
    let mut writer = std::pin::pin!(writer);
    for row in rows {
        debug_assert_eq!(
            row.len(),
            types.len(),
            "{}: row of the wrong width",
            table.name
        );
        let values: Vec<&(dyn ToSql + Sync)> = row.iter().map(Cell::sql).collect();
        writer.as_mut().write(&values).await?;
    }
    writer.as_mut().finish().await
}
