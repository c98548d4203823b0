//! Customers as documents: contact fields are registers (the address a JSON-text scalar), notes
//! and catalog requests are maps keyed by fresh ids.

use super::order::{read_collection, report};
use super::rw::{
    change, entry, expect_kind, hydrate_root, read_note, read_stamp, root_map, to_json, HMap, Node,
    Rd,
};
use super::{Author, Conflict, DocError, DocKind};
use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ReadDoc, ScalarValue, ROOT};
use switchboard_domain::customer::{CatalogRequest, Customer, CustomerEvent};
use switchboard_domain::ids::CatalogRequestId;
use switchboard_domain::order::Note;

fn note_entry(n: &Note) -> HMap {
    HMap::new()
        .put("text", n.text.as_str())
        .put("added_at", n.added.at.as_millis())
        .put("added_by", n.added.by.to_string())
}

fn request_entry(r: &CatalogRequest) -> HMap {
    HMap::new()
        .put("source_code", r.source_code.as_str())
        .put("catalog", r.catalog.as_str())
        .put("quantity", i64::from(r.quantity))
        .put("requested_at", r.requested.at.as_millis())
        .put("requested_by", r.requested.by.to_string())
}

/// Creates a customer's document, skeleton and content in one change.
pub fn create_customer_doc(c: &Customer, author: &Author) -> Result<Automerge, DocError> {
    let notes = c
        .notes
        .values()
        .fold(HMap::new(), |m, n| m.map(&n.id.to_string(), note_entry(n)));
    let requests = c.catalog_requests.values().fold(HMap::new(), |m, r| {
        m.map(&r.id.to_string(), request_entry(r))
    });
    let root = HMap::root(DocKind::Customer)
        .put("id", c.id.to_string())
        .put("call_center", c.call_center_id.as_str())
        .put("name", c.name.as_str())
        .put_opt("phone", c.phone.as_deref())
        .put_opt("email", c.email.as_deref())
        .put("address", to_json(&c.address)?)
        .put("created_at", c.created.at.as_millis())
        .put("created_by", c.created.by.to_string())
        .map("notes", notes)
        .map("catalog_requests", requests)
        .into_map();
    let mut doc = Automerge::new();
    change(&mut doc, author, "created customer", |tx| {
        Ok(tx.init_root_from_hydrate(&root)?)
    })?;
    Ok(doc)
}

/// A one-line summary of a customer event for the history.
pub fn customer_event_summary(ev: &CustomerEvent) -> String {
    match ev {
        CustomerEvent::Updated {
            name,
            phone,
            email,
            address,
        } => {
            let fields: Vec<&str> = [
                name.is_some().then_some("name"),
                phone.is_some().then_some("phone"),
                email.is_some().then_some("email"),
                address.is_some().then_some("address"),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!("updated {}", fields.join(", "))
        }
        CustomerEvent::NoteAdded(_) => "added a note".to_string(),
        CustomerEvent::CatalogRequested(r) => {
            format!("requested catalog {} × {}", r.quantity, r.source_code)
        }
    }
}

fn put_opt_text(tx: &mut Transaction<'_>, key: &str, v: &Option<String>) -> Result<(), DocError> {
    match v {
        Some(s) => tx.put(ROOT, key, s.as_str())?,
        None => tx.put(ROOT, key, ScalarValue::Null)?,
    }
    Ok(())
}

fn write_event(tx: &mut Transaction<'_>, ev: &CustomerEvent) -> Result<(), DocError> {
    match ev {
        CustomerEvent::Updated {
            name,
            phone,
            email,
            address,
        } => {
            if let Some(n) = name {
                tx.put(ROOT, "name", n.as_str())?;
            }
            if let Some(p) = phone {
                put_opt_text(tx, "phone", p)?;
            }
            if let Some(e) = email {
                put_opt_text(tx, "email", e)?;
            }
            if let Some(a) = address {
                tx.put(ROOT, "address", to_json(a)?)?;
            }
        }
        CustomerEvent::NoteAdded(n) => {
            let notes = root_map(tx, "notes")?;
            tx.batch_create_object(&notes, n.id.to_string(), &note_entry(n).into_value(), false)?;
        }
        CustomerEvent::CatalogRequested(r) => {
            let reqs = root_map(tx, "catalog_requests")?;
            if entry(tx, &reqs, "catalog_requests", &r.id.to_string())?.is_none() {
                tx.batch_create_object(
                    &reqs,
                    r.id.to_string(),
                    &request_entry(r).into_value(),
                    false,
                )?;
            }
        }
    }
    Ok(())
}

/// Writes one customer event as one change.
pub fn apply_customer_event(
    doc: &mut Automerge,
    ev: &CustomerEvent,
    author: &Author,
) -> Result<(), DocError> {
    expect_kind(doc, DocKind::Customer)?;
    change(doc, author, &customer_event_summary(ev), |tx| {
        write_event(tx, ev)
    })
}

fn read_request<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    id: CatalogRequestId,
) -> Result<CatalogRequest, DocError> {
    let q = rd.int(n, "quantity")?;
    Ok(CatalogRequest {
        id,
        source_code: rd.id(n, "source_code")?,
        catalog: rd.id(n, "catalog")?,
        quantity: u32::try_from(q).map_err(|_| DocError::Malformed {
            path: n.path_of("quantity"),
            reason: "out of range".into(),
        })?,
        requested: read_stamp(rd, n, "requested")?,
    })
}

/// Reads a customer and the conflicts its concurrent edits left.
pub fn read_customer(doc: &Automerge) -> Result<(Customer, Vec<Conflict>), DocError> {
    expect_kind(doc, DocKind::Customer)?;
    let h = hydrate_root(doc)?;
    let root = Node::root(&h);
    let mut rd = Rd::new(doc);
    let r = &mut rd;
    let c = Customer {
        id: r.id(&root, "id")?,
        call_center_id: r.id(&root, "call_center")?,
        name: r.str(&root, "name")?,
        phone: r.opt_str(&root, "phone")?,
        email: r.opt_str(&root, "email")?,
        address: r.opt_json(&root, "address")?.unwrap_or_default(),
        notes: read_collection(r, &root, "notes", read_note, report)?,
        catalog_requests: read_collection(r, &root, "catalog_requests", read_request, report)?,
        created: read_stamp(r, &root, "created")?,
    };
    Ok((c, rd.conflicts))
}
