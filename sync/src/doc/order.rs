//! Orders as documents: the skeleton and the entries, the events as changes, and the reader.

use super::rw::{
    change, entry, expect_kind, hydrate_root, parse_key, read_note, read_stamp, root_map, to_json,
    HMap, Node, Rd,
};
use super::{Author, Conflict, DocError, DocKind};
use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ReadDoc, ScalarValue};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use switchboard_domain::commands::{self, Ctx, OrderCommand, OrderEvent, OrderReads};
use switchboard_domain::ids::{ChargeId, CouponCode, HoldId, LineId, PaymentId};
use switchboard_domain::money::Quantity;
use switchboard_domain::order::*;
use switchboard_domain::OrderError;

/// The collection maps of an order, all created in the first change.
pub(crate) const COLLECTIONS: [&str; 6] =
    ["lines", "charges", "coupons", "payments", "holds", "notes"];

fn put_stamp(m: HMap, prefix: &str, s: &Stamp) -> HMap {
    m.put(&format!("{prefix}_at"), s.at.as_millis())
        .put(&format!("{prefix}_by"), s.by.to_string())
}

fn put_opt_stamp(m: HMap, prefix: &str, s: &Option<Stamp>) -> HMap {
    match s {
        Some(s) => put_stamp(m, prefix, s),
        None => m,
    }
}

pub(crate) fn line_entry(l: &Line) -> HMap {
    let m = HMap::new()
        .put("product_id", l.product_id.as_str())
        .put("quantity", i64::from(l.quantity.get()))
        .put("list_price", l.list_price.to_string())
        .put("unit_price", l.unit_price.to_string())
        .put_opt(
            "override_reason",
            l.price_override.as_ref().map(|o| o.reason_code.as_str()),
        )
        .put_opt(
            "override_by",
            l.price_override.as_ref().map(|o| o.by.to_string()),
        );
    put_opt_stamp(put_stamp(m, "added", &l.added), "removed", &l.removed)
}

fn charge_entry(c: &Charge) -> HMap {
    let m = HMap::new()
        .put("code", c.code.as_str())
        .put("amount", c.amount.to_string())
        .put("reason_code", c.reason_code.as_str());
    put_stamp(m, "added", &c.added)
}

fn coupon_entry(c: &CouponUse) -> HMap {
    put_opt_stamp(
        put_stamp(HMap::new(), "applied", &c.applied),
        "removed",
        &c.removed,
    )
}

fn payment_entry(p: &Payment) -> HMap {
    let m = HMap::new()
        .put("method", p.method.as_str())
        .put("amount", p.amount.to_string())
        .put_opt("reference", p.reference.as_deref());
    put_opt_stamp(put_stamp(m, "added", &p.added), "voided", &p.voided)
}

pub(crate) fn hold_entry(h: &Hold) -> HMap {
    let m = HMap::new()
        .put("code", h.code.as_str())
        .put("reason", h.reason.as_str())
        .put("system", h.system);
    let m = put_stamp(m, "placed", &h.placed);
    match &h.cleared {
        Some(c) => m
            .put("cleared_at", c.at.as_millis())
            .put("cleared_by", c.by.to_string())
            .put("cleared_reason", c.reason.as_str()),
        None => m,
    }
}

fn note_entry(n: &Note) -> HMap {
    put_stamp(HMap::new().put("text", n.text.as_str()), "added", &n.added)
}

fn facts(l: &Lifecycle) -> HMap {
    let m = put_opt_stamp(
        put_opt_stamp(HMap::new(), "submitted", &l.submitted),
        "released",
        &l.released,
    );
    match &l.canceled {
        Some((s, reason)) => put_stamp(m, "canceled", s).put("canceled_reason", reason.as_str()),
        None => m,
    }
}

fn collection<K: ToString, T>(entries: &BTreeMap<K, T>, f: impl Fn(&T) -> HMap) -> HMap {
    entries
        .iter()
        .fold(HMap::new(), |m, (k, v)| m.map(&k.to_string(), f(v)))
}

/// The whole order as the content of a document's first change: the header, every nested map
/// and every entry already on the order.
pub(crate) fn order_root(o: &Order) -> Result<HMap, DocError> {
    let m = HMap::root(DocKind::Order)
        .put("id", o.id.to_string())
        .put("call_center", o.call_center_id.as_str())
        .put("customer_id", o.customer_id.to_string())
        .put_opt("source_code", o.source_code.as_ref().map(|s| s.as_str()))
        .put_opt(
            "delivery_mode",
            o.delivery_mode.as_ref().map(|s| s.as_str()),
        )
        .put("ship_to", to_json(&o.ship_to)?)
        .put("financial_dimensions", to_json(&o.financial_dimensions)?)
        .put("created_at", o.created.at.as_millis())
        .put("created_by", o.created.by.to_string())
        .map("facts", facts(&o.lifecycle))
        .map("lines", collection(&o.lines, line_entry))
        .map("charges", collection(&o.charges, charge_entry))
        .map("coupons", collection(&o.coupons, coupon_entry))
        .map("payments", collection(&o.payments, payment_entry))
        .map("holds", collection(&o.holds, hold_entry))
        .map("notes", collection(&o.notes, note_entry));
    Ok(match &o.continuity {
        Some(c) => m.map(
            "continuity",
            HMap::new()
                .put("parent", c.parent.to_string())
                .put("line", c.line.to_string())
                .put("index", i64::from(c.index)),
        ),
        None => m,
    })
}

/// Creates an order's document: the skeleton and everything on the order, in one change built
/// with the batch API.
pub fn create_order_doc(order: &Order, author: &Author) -> Result<Automerge, DocError> {
    let root = order_root(order)?.into_map();
    let mut doc = Automerge::new();
    change(&mut doc, author, "created order", |tx| {
        Ok(tx.init_root_from_hydrate(&root)?)
    })?;
    Ok(doc)
}

fn add_entry(tx: &mut Transaction<'_>, coll: &str, key: &str, m: HMap) -> Result<(), DocError> {
    let obj = root_map(tx, coll)?;
    tx.batch_create_object(&obj, key, &m.into_value(), false)?;
    Ok(())
}

/// The winning object of an existing entry; `None` if there is none (the domain's `apply` then
/// ignores the event too).
fn existing(tx: &Transaction<'_>, coll: &str, key: &str) -> Result<Option<ObjId>, DocError> {
    let obj = root_map(tx, coll)?;
    entry(tx, &obj, coll, key)
}

fn write_stamp(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    prefix: &str,
    s: &Stamp,
) -> Result<(), DocError> {
    tx.put(obj, format!("{prefix}_at"), s.at.as_millis())?;
    tx.put(obj, format!("{prefix}_by"), s.by.to_string())?;
    Ok(())
}

/// Writes a set-once fact unless it is already set (the domain keeps the first one too).
fn write_fact(
    tx: &mut Transaction<'_>,
    prefix: &str,
    s: &Stamp,
    reason: Option<&str>,
) -> Result<(), DocError> {
    let facts = root_map(tx, "facts")?;
    if tx.get(&facts, format!("{prefix}_at"))?.is_some() {
        return Ok(());
    }
    write_stamp(tx, &facts, prefix, s)?;
    if let Some(r) = reason {
        tx.put(&facts, format!("{prefix}_reason"), r)?;
    }
    Ok(())
}

fn write_event(tx: &mut Transaction<'_>, ev: &OrderEvent) -> Result<(), DocError> {
    match ev {
        OrderEvent::LineAdded(l) => add_entry(tx, "lines", &l.id.to_string(), line_entry(l))?,
        OrderEvent::LineChanged {
            line_id,
            quantity,
            unit_price,
            price_override,
        } => {
            if let Some(obj) = existing(tx, "lines", &line_id.to_string())? {
                if let Some(q) = quantity {
                    tx.put(&obj, "quantity", i64::from(q.get()))?;
                }
                if let Some(p) = unit_price {
                    tx.put(&obj, "unit_price", p.to_string())?;
                }
                match price_override {
                    Some(Some(o)) => {
                        tx.put(&obj, "override_reason", o.reason_code.as_str())?;
                        tx.put(&obj, "override_by", o.by.to_string())?;
                    }
                    Some(None) => {
                        tx.put(&obj, "override_reason", ScalarValue::Null)?;
                        tx.put(&obj, "override_by", ScalarValue::Null)?;
                    }
                    None => {}
                }
            }
        }
        OrderEvent::LineRemoved { line_id, stamp } => {
            if let Some(obj) = existing(tx, "lines", &line_id.to_string())? {
                write_stamp(tx, &obj, "removed", stamp)?;
            }
        }
        OrderEvent::CouponApplied(c) => add_entry(tx, "coupons", c.code.as_str(), coupon_entry(c))?,
        OrderEvent::CouponRemoved { code, stamp } => {
            if let Some(obj) = existing(tx, "coupons", code.as_str())? {
                write_stamp(tx, &obj, "removed", stamp)?;
            }
        }
        OrderEvent::PaymentAdded(p) => {
            add_entry(tx, "payments", &p.id.to_string(), payment_entry(p))?
        }
        OrderEvent::PaymentVoided { id, stamp } => {
            if let Some(obj) = existing(tx, "payments", &id.to_string())? {
                write_stamp(tx, &obj, "voided", stamp)?;
            }
        }
        OrderEvent::ChargeAdded(c) => add_entry(tx, "charges", &c.id.to_string(), charge_entry(c))?,
        OrderEvent::HoldPlaced(h) => add_entry(tx, "holds", &h.id.to_string(), hold_entry(h))?,
        OrderEvent::HoldCleared { id, clear } => {
            if let Some(obj) = existing(tx, "holds", &id.to_string())? {
                tx.put(&obj, "cleared_at", clear.at.as_millis())?;
                tx.put(&obj, "cleared_by", clear.by.to_string())?;
                tx.put(&obj, "cleared_reason", clear.reason.as_str())?;
            }
        }
        OrderEvent::NoteAdded(n) => add_entry(tx, "notes", &n.id.to_string(), note_entry(n))?,
        OrderEvent::Submitted(s) => write_fact(tx, "submitted", s, None)?,
        OrderEvent::Released(s) => write_fact(tx, "released", s, None)?,
        OrderEvent::Canceled { stamp, reason } => write_fact(tx, "canceled", stamp, Some(reason))?,
    }
    Ok(())
}

/// Writes one accepted event as one change (summary from [`OrderEvent::summary`]).
pub fn apply_order_event(
    doc: &mut Automerge,
    ev: &OrderEvent,
    author: &Author,
) -> Result<(), DocError> {
    expect_kind(doc, DocKind::Order)?;
    change(doc, author, &ev.summary(), |tx| write_event(tx, ev))
}

/// Why an order command did not change its document.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The domain refused the command (a business rule, with its typed reason).
    #[error(transparent)]
    Refused(#[from] OrderError),
    /// The document could not be written or read back.
    #[error(transparent)]
    Doc(#[from] DocError),
}

/// What an accepted order command left: its event and the order as it now stands.
#[derive(Clone, Debug)]
pub struct Decided {
    /// The event written as one change.
    pub event: OrderEvent,
    /// The order after the change.
    pub order: Order,
    /// Concurrent values the document still holds.
    pub conflicts: Vec<Conflict>,
}

/// Runs an order command on its document: the domain decides (`commands::decide`), and an
/// accepted command's event is written as one change. `order` and `conflicts` are what
/// [`read_order`] gave for `doc`. The one path from a command to a document, for the node and
/// for the simulation harness alike; a refused command leaves the document untouched.
pub fn run_order_command(
    doc: &mut Automerge,
    (order, conflicts): (Order, Vec<Conflict>),
    ctx: Ctx<'_>,
    cmd: OrderCommand,
    reads: &dyn OrderReads,
    author: &Author,
) -> Result<Decided, CommandError> {
    let event = commands::decide(&order, ctx, cmd, reads)?;
    apply_order_event(doc, &event, author)?;
    // One local change cannot create concurrent values, so without conflicts before it the new
    // state is the old one with the event folded in; otherwise read it back.
    let (order, conflicts) = if conflicts.is_empty() {
        let mut order = order;
        commands::apply(&mut order, &event);
        (order, conflicts)
    } else {
        read_order(doc)?
    };
    Ok(Decided {
        event,
        order,
        conflicts,
    })
}

/// A tombstone or fact: absent unless its time is set.
fn read_opt_stamp<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    prefix: &str,
) -> Result<Option<Stamp>, DocError> {
    match rd.opt_time(n, &format!("{prefix}_at"))? {
        None => Ok(None),
        Some(at) => Ok(Some(Stamp {
            at,
            by: rd.id(n, &format!("{prefix}_by"))?,
        })),
    }
}

fn read_line<D: ReadDoc>(rd: &mut Rd<'_, D>, n: &Node<'_>, id: LineId) -> Result<Line, DocError> {
    let q = rd.int(n, "quantity")?;
    let quantity = Quantity::new(q).map_err(|e| DocError::Malformed {
        path: n.path_of("quantity"),
        reason: e.to_string(),
    })?;
    let reason = rd.opt_id(n, "override_reason")?;
    let by = rd.opt_id(n, "override_by")?;
    Ok(Line {
        id,
        product_id: rd.id(n, "product_id")?,
        quantity,
        list_price: rd.decimal(n, "list_price")?,
        unit_price: rd.decimal(n, "unit_price")?,
        price_override: match (reason, by) {
            (Some(reason_code), Some(by)) => Some(PriceOverride { reason_code, by }),
            _ => None,
        },
        added: read_stamp(rd, n, "added")?,
        removed: read_opt_stamp(rd, n, "removed")?,
    })
}

fn read_charge<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    id: ChargeId,
) -> Result<Charge, DocError> {
    Ok(Charge {
        id,
        code: rd.id(n, "code")?,
        amount: rd.decimal(n, "amount")?,
        reason_code: rd.id(n, "reason_code")?,
        added: read_stamp(rd, n, "added")?,
    })
}

fn read_coupon<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    code: CouponCode,
) -> Result<CouponUse, DocError> {
    Ok(CouponUse {
        code,
        applied: read_stamp(rd, n, "applied")?,
        removed: read_opt_stamp(rd, n, "removed")?,
    })
}

fn read_payment<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    id: PaymentId,
) -> Result<Payment, DocError> {
    Ok(Payment {
        id,
        method: rd.id(n, "method")?,
        amount: rd.decimal(n, "amount")?,
        reference: rd.opt_str(n, "reference")?,
        added: read_stamp(rd, n, "added")?,
        voided: read_opt_stamp(rd, n, "voided")?,
    })
}

fn read_hold<D: ReadDoc>(rd: &mut Rd<'_, D>, n: &Node<'_>, id: HoldId) -> Result<Hold, DocError> {
    let cleared = match rd.opt_time(n, "cleared_at")? {
        None => None,
        Some(at) => Some(HoldClear {
            at,
            by: rd.id(n, "cleared_by")?,
            reason: rd.opt_str(n, "cleared_reason")?.unwrap_or_default(),
        }),
    };
    Ok(Hold {
        id,
        code: rd.id(n, "code")?,
        reason: rd.str(n, "reason")?,
        placed: read_stamp(rd, n, "placed")?,
        system: rd.opt_bool(n, "system")?.unwrap_or(false),
        cleared,
    })
}

/// Reads a collection map. An entry key held by more than one map object (two nodes created the
/// same key: the same system hold, the same coupon) reads the winner; `merge` may fold the losing
/// copies in and returns whether the copies differ in a way worth reporting as a conflict.
pub(crate) fn read_collection<D, K, T>(
    rd: &mut Rd<'_, D>,
    parent: &Node<'_>,
    name: &str,
    read: impl Fn(&mut Rd<'_, D>, &Node<'_>, K) -> Result<T, DocError>,
    merge: impl Fn(&mut T, &[T]) -> bool,
) -> Result<BTreeMap<K, T>, DocError>
where
    D: ReadDoc,
    K: DeserializeOwned + Ord + Clone,
    T: Serialize,
{
    let coll = rd.map(parent, name)?;
    let mut out = BTreeMap::new();
    for (key, node, loser_maps) in rd.entries(&coll)? {
        let k: K = parse_key(name, &key)?;
        let mut value = read(rd, &node, k.clone())?;
        let mut losers = Vec::new();
        for m in &loser_maps {
            let mut quiet = Rd::quiet(rd.doc);
            losers.push(read(&mut quiet, &Node::root(m), k.clone())?);
        }
        if !losers.is_empty() && merge(&mut value, &losers) {
            let mut values = vec![json_of(&value)];
            for l in &losers {
                let j = json_of(l);
                if !values.contains(&j) {
                    values.push(j);
                }
            }
            if values.len() > 1 {
                rd.conflicts.push(Conflict {
                    path: coll.path_of(&key),
                    values,
                });
            }
        }
        out.insert(k, value);
    }
    Ok(out)
}

fn json_of(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Copies of an entry that differ are reported as a conflict.
pub(crate) fn report<T>(_: &mut T, _: &[T]) -> bool {
    true
}

/// Two copies of one hold: a clear on any copy stands. Copies of one system hold are the same
/// violation found on two nodes, not a conflict.
fn merge_holds(winner: &mut Hold, losers: &[Hold]) -> bool {
    if winner.cleared.is_none() {
        if let Some(c) = losers.iter().find_map(|h| h.cleared.clone()) {
            winner.cleared = Some(c);
        }
    }
    !winner.system
}

/// Reads an order and the conflicts its concurrent edits left.
pub fn read_order(doc: &Automerge) -> Result<(Order, Vec<Conflict>), DocError> {
    expect_kind(doc, DocKind::Order)?;
    let h = hydrate_root(doc)?;
    let root = Node::root(&h);
    let mut rd = Rd::new(doc);
    let r = &mut rd;
    let facts = r.map(&root, "facts")?;
    let lifecycle = Lifecycle {
        submitted: read_opt_stamp(r, &facts, "submitted")?,
        released: read_opt_stamp(r, &facts, "released")?,
        canceled: match read_opt_stamp(r, &facts, "canceled")? {
            Some(s) => Some((s, r.opt_str(&facts, "canceled_reason")?.unwrap_or_default())),
            None => None,
        },
    };
    let continuity = match r.opt_map(&root, "continuity")? {
        None => None,
        Some(c) => {
            let index = r.int(&c, "index")?;
            Some(ContinuityRef {
                parent: r.id(&c, "parent")?,
                line: r.id(&c, "line")?,
                index: u32::try_from(index).map_err(|_| DocError::Malformed {
                    path: c.path_of("index"),
                    reason: "out of range".into(),
                })?,
            })
        }
    };
    let order = Order {
        id: r.id(&root, "id")?,
        call_center_id: r.id(&root, "call_center")?,
        customer_id: r.id(&root, "customer_id")?,
        source_code: r.opt_id(&root, "source_code")?,
        delivery_mode: r.opt_id(&root, "delivery_mode")?,
        ship_to: r.opt_json(&root, "ship_to")?.unwrap_or_default(),
        financial_dimensions: r
            .opt_json(&root, "financial_dimensions")?
            .unwrap_or_default(),
        lines: read_collection(r, &root, "lines", read_line, report)?,
        charges: read_collection(r, &root, "charges", read_charge, report)?,
        coupons: read_collection(r, &root, "coupons", read_coupon, report)?,
        payments: read_collection(r, &root, "payments", read_payment, report)?,
        holds: read_collection(r, &root, "holds", read_hold, merge_holds)?,
        notes: read_collection(r, &root, "notes", read_note, report)?,
        lifecycle,
        created: read_stamp(r, &root, "created")?,
        continuity,
    };
    Ok((order, rd.conflicts))
}
