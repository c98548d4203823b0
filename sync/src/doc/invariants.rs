//! Merge-time rules: after every merge the order is checked with
//! `domain::invariants::check_invariants`, and each violation gets its system hold. The hold id is
//! derived from the order and the violation, so nodes that find the same violation write the same
//! entry key and the holds merge as one.

use super::order::hold_entry;
use super::rw::{change, kind_of, root_map};
use super::{read_order, Author, DocError, DocKind};
use automerge::transaction::Transactable;
use automerge::Automerge;
use switchboard_domain::config::{CallCenter, Catalog};
use switchboard_domain::ids::CouponCode;
use switchboard_domain::invariants::{check_invariants, system_hold};
use switchboard_domain::order::{Hold, Order};
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
    let mut holds: Vec<Hold> = Vec::new();
    for v in check_invariants(&order, cc, catalog, coupon_rank) {
        if let Some(h) = system_hold(&order, &v, author.now) {
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
