//! Continuity child orders, generated independently on every node that finds them due. The
//! child's first change is byte-identical everywhere: its actor is derived from the child id, its
//! time is the due time, its message is fixed, and its content comes only from what cannot change
//! on a submitted parent (ids, call center, customer, the link, the created stamp, the skeleton and
//! the line entry with its product). Two nodes that generate the same child therefore produce the
//! same change, and the documents merge as one. Quantity, prices and header copies follow in a
//! second change by the generating node; equal values written by two nodes are no conflict.

use super::order::COLLECTIONS;
use super::rw::{change, message, secs, to_json, HMap};
use super::{Author, DocError, DocKind};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ROOT};
use switchboard_domain::continuity::{child_line_id, child_order, DueChild};
use switchboard_domain::order::{Order, SYSTEM_USER};

/// Builds the child order document for a due child; `None` if the parent lacks the line.
pub fn create_continuity_child(
    parent: &Order,
    due: &DueChild,
    author: &Author,
) -> Result<Option<Automerge>, DocError> {
    let Some(child) = child_order(parent, due) else {
        return Ok(None);
    };
    let line_id = child_line_id(child.id);
    let Some(line) = child.lines.get(&line_id) else {
        return Ok(None);
    };
    let at = due.due.as_millis();
    let system = SYSTEM_USER.to_string();
    let line_entry = HMap::new()
        .put("product_id", line.product_id.as_str())
        .put("added_at", at)
        .put("added_by", system.as_str());
    let mut root = HMap::root(DocKind::Order)
        .put("id", child.id.to_string())
        .put("call_center", child.call_center_id.as_str())
        .put("customer_id", child.customer_id.to_string())
        .put("created_at", at)
        .put("created_by", system.as_str())
        .map(
            "continuity",
            HMap::new()
                .put("parent", due.link.parent.to_string())
                .put("line", due.link.line.to_string())
                .put("index", i64::from(due.link.index)),
        )
        .map("facts", HMap::new());
    for c in COLLECTIONS.into_iter().filter(|c| *c != "lines") {
        root = root.map(c, HMap::new());
    }
    let root = root
        .map("lines", HMap::new().map(&line_id.to_string(), line_entry))
        .into_map();

    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(child.id.0.as_bytes().as_slice()));
    let summary = format!(
        "generated continuity order {} of {}",
        due.link.index, due.link.parent
    );
    let opts = CommitOptions::default()
        .with_message(message(&SYSTEM_USER, &None::<()>, &summary))
        .with_time(secs(due.due));
    doc.transact_with(|_| opts, |tx| tx.init_root_from_hydrate(&root))
        .map_err(|f| DocError::from(f.error))?;

    let ship_to = to_json(&child.ship_to)?;
    let dims = to_json(&child.financial_dimensions)?;
    change(&mut doc, author, "copied continuity order details", |tx| {
        tx.put(ROOT, "ship_to", ship_to)?;
        tx.put(ROOT, "financial_dimensions", dims)?;
        if let Some(s) = &child.source_code {
            tx.put(ROOT, "source_code", s.as_str())?;
        }
        if let Some(d) = &child.delivery_mode {
            tx.put(ROOT, "delivery_mode", d.as_str())?;
        }
        let lines = super::rw::root_map(tx, "lines")?;
        let obj =
            super::rw::entry(tx, &lines, "lines", &line_id.to_string())?.ok_or_else(|| {
                DocError::Malformed {
                    path: format!("lines/{line_id}"),
                    reason: "missing".into(),
                }
            })?;
        tx.put(&obj, "quantity", i64::from(line.quantity.get()))?;
        tx.put(&obj, "list_price", line.list_price.to_string())?;
        tx.put(&obj, "unit_price", line.unit_price.to_string())?;
        if let Some(o) = &line.price_override {
            tx.put(&obj, "override_reason", o.reason_code.as_str())?;
            tx.put(&obj, "override_by", o.by.to_string())?;
        }
        Ok(())
    })?;
    Ok(Some(doc))
}
