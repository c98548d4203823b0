//! Merge-time rules: after every merge the order is checked with
//! `domain::invariants::check_invariants` (and, for changes merged from a site, with the role rules
//! of `domain::roles`), and each violation gets its system hold. The hold id is derived from the
//! order and the violation, so nodes that find the same violation write the same entry key and the
//! holds merge as one.
//!
//! The role rules need two facts only the document's history holds: who each new change names as
//! its author ([`change_authors`]) and whether a cancel came after the submit ([`canceled_after_submit`]).

use super::order::hold_entry;
use super::rw::{change, kind_of, root_map};
use super::{read_order, Author, DocError, DocKind, UserRecord};
use automerge::transaction::Transactable;
use automerge::{Automerge, ChangeHash, ReadDoc};
use serde::Deserialize;
use std::collections::BTreeMap;
use switchboard_domain::config::{CallCenter, Catalog};
use switchboard_domain::ids::{CallCenterId, CouponCode, UserId};
use switchboard_domain::invariants::{check_invariants, system_hold, Violation};
use switchboard_domain::order::{Hold, Order, SYSTEM_USER};
use switchboard_domain::roles::AuthorStatus;
use switchboard_domain::Timestamp;

/// Places the missing system holds for the rules the order breaks, in one change; returns the
/// holds placed (none when every violation already has its hold, so calling it again is a no-op).
/// Documents other than orders have no merge-time rules: nothing is placed.
pub fn enforce_invariants(
    doc: &mut Automerge,
    cc: &CallCenter,
    catalog: &Catalog,
    coupon_rank: &dyn Fn(&CouponCode) -> Option<u32>,
    author: &Author,
) -> Result<Vec<Hold>, DocError> {
    if kind_of(doc)? != DocKind::Order {
        return Ok(Vec::new());
    }
    let (order, _) = read_order(doc)?;
    let violations = check_invariants(&order, cc, catalog, coupon_rank);
    place_system_holds(doc, &order, &violations, author)
}

/// Places the missing system holds for violations found on `order` (as read from `doc`), in one
/// change; returns the holds placed (none when each violation already has its hold).
pub fn place_system_holds(
    doc: &mut Automerge,
    order: &Order,
    violations: &[Violation],
    author: &Author,
) -> Result<Vec<Hold>, DocError> {
    let mut holds: Vec<Hold> = Vec::new();
    for v in violations {
        if let Some(h) = system_hold(order, v, author.now) {
            if !holds.iter().any(|x| x.id == h.id) {
                holds.push(h);
            }
        }
    }
    if holds.is_empty() {
        return Ok(holds);
    }
    let codes: Vec<&str> = holds.iter().map(|h| h.code.as_str()).collect();
    let summary = format!("system hold {}", codes.join(", "));
    change(doc, author, &summary, |tx| {
        let obj = root_map(tx, "holds")?;
        for h in &holds {
            tx.batch_create_object(&obj, h.id.to_string(), &hold_entry(h).into_value(), false)?;
        }
        Ok(())
    })?;
    Ok(holds)
}

/// The coupons an order redeems, with when each was applied; none if the order is canceled.
pub fn coupon_redemptions(order: &Order) -> Vec<(CouponCode, Timestamp)> {
    if order.lifecycle.canceled.is_some() {
        return Vec::new();
    }
    order
        .active_coupons()
        .map(|c| (c.code.clone(), c.applied.at))
        .collect()
}

/// The author each change after `since` names in its message (`None` when it names none, or its
/// message is not one this crate writes), in no particular order.
pub fn change_authors(doc: &Automerge, since: &[ChangeHash]) -> Vec<Option<UserId>> {
    #[derive(Deserialize)]
    struct Message {
        by: Option<UserId>,
    }
    doc.get_changes_meta(since)
        .iter()
        .map(|c| {
            c.message
                .as_deref()
                .and_then(|m| serde_json::from_str::<Message>(m).ok())
                .and_then(|m| m.by)
        })
        .collect()
}

/// Whether the order was already submitted when it was canceled: the submit is in the causal past
/// of the change that wrote the (winning) cancel, or in that change itself. False when the order is
/// not canceled, or its cancel was concurrent with the submit.
pub fn canceled_after_submit(doc: &Automerge) -> bool {
    let Ok(facts) = root_map(doc, "facts") else {
        return false;
    };
    let Ok(Some((_, canceled))) = doc.get(&facts, "canceled_at") else {
        return false;
    };
    let Some(hash) = doc.hash_for_opid(&canceled) else {
        return false;
    };
    let Some(meta) = doc.get_change_meta_by_hash(&hash) else {
        return false;
    };
    let submitted_in_change = matches!(
        doc.get(&facts, "submitted_at"),
        Ok(Some((_, s))) if doc.hash_for_opid(&s) == Some(hash)
    );
    submitted_in_change || matches!(doc.get_at(&facts, "submitted_at", &meta.deps), Ok(Some(_)))
}

/// What a node knows of a user of call center `cc`, from that call center's users.
pub fn author_status(
    users: &BTreeMap<UserId, UserRecord>,
    cc: &CallCenterId,
    user: UserId,
) -> AuthorStatus {
    if user == SYSTEM_USER {
        return AuthorStatus::System;
    }
    match users.get(&user) {
        Some(r) if r.user.call_center.as_ref() == Some(cc) => {
            if r.disabled {
                AuthorStatus::Disabled(r.user.role)
            } else {
                AuthorStatus::Active(r.user.role)
            }
        }
        _ => AuthorStatus::Unknown,
    }
}
