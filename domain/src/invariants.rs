//! The rules a merge of concurrent edits can break, checked after every merge by `sync`. Each
//! violation names a stable key, so every node derives the same system hold id (UUID v5) for it and
//! the holds they place merge as one. The role rules that changes merged from a site must obey
//! are in [`crate::roles`]; they report the same [`Violation`]s.

use crate::config::{CallCenter, Catalog};
use crate::ids::{CouponCode, HoldCode, HoldId, OrderId};
use crate::order::{Hold, Order, Stamp, SYSTEM_USER};
use crate::time::Timestamp;
use uuid::Uuid;

/// Which rule broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ViolationKind {
    /// Released while a (concurrently placed) hold is active.
    ReleasedWhileHeld,
    /// Submitted while payments fall short of the total (a concurrent line change).
    SubmittedUnderpaid,
    /// A coupon redeemed by more orders than its usage limit (across sites).
    CouponOverLimit,
    /// A change merged from a site names an author who is not a user of the order's call center
    /// (see [`crate::roles`]).
    AuthorUnknown,
    /// A change merged from a site names a disabled user as its author.
    AuthorDisabled,
    /// A price override merged from a site that its author's role may not give (beyond the role's
    /// limit, without a configured reason code, or on a product that allows none).
    OverrideNotPermitted,
    /// A hold cleared, in a change merged from a site, by a role its hold code does not allow.
    ClearNotPermitted,
    /// A submitted order canceled, in a change merged from a site, by a role that may not.
    CancelNotPermitted,
}

impl ViolationKind {
    /// The hold code of the system hold that records it.
    pub fn hold_code(self) -> &'static str {
        match self {
            ViolationKind::ReleasedWhileHeld => "system.released_while_held",
            ViolationKind::SubmittedUnderpaid => "system.submitted_underpaid",
            ViolationKind::CouponOverLimit => "system.coupon_over_limit",
            ViolationKind::AuthorUnknown => "system.author_unknown",
            ViolationKind::AuthorDisabled => "system.author_disabled",
            ViolationKind::OverrideNotPermitted => "system.override_not_permitted",
            ViolationKind::ClearNotPermitted => "system.clear_not_permitted",
            ViolationKind::CancelNotPermitted => "system.cancel_not_permitted",
        }
    }
}

/// A broken rule on one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Which rule.
    pub kind: ViolationKind,
    /// Stable key: the same violation on every node has the same key.
    pub key: String,
    /// A sentence for the agent.
    pub reason: String,
}

/// Namespace of system hold ids.
pub const SYSTEM_HOLD_NAMESPACE: Uuid = Uuid::from_u128(0x5b1d_7c4e_2f0a_4c1e_9d3b_8a6f_0e2c_4d11);

/// The id of the system hold for a violation on an order: UUID v5 of the order id and the key.
pub fn system_hold_id(order: OrderId, key: &str) -> HoldId {
    let mut name = order.0.as_bytes().to_vec();
    name.extend_from_slice(key.as_bytes());
    HoldId(Uuid::new_v5(&SYSTEM_HOLD_NAMESPACE, &name))
}

/// Checks the merge-time rules. `coupon_rank` gives, for a coupon on this order, the 1-based rank
/// of this order among the non-canceled orders this node knows that redeemed it, ordered by
/// (applied at, order id); a node that knows fewer orders ranks lower, so it never holds an order
/// that a node knowing all of them would not.
pub fn check_invariants(
    order: &Order,
    cc: &CallCenter,
    catalog: &Catalog,
    coupon_rank: &dyn Fn(&CouponCode) -> Option<u32>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if order.lifecycle.canceled.is_some() {
        return out;
    }
    if order.lifecycle.released.is_some() {
        for h in order.active_holds().filter(|h| !h.system) {
            out.push(Violation {
                kind: ViolationKind::ReleasedWhileHeld,
                key: format!("released_while_held:{}", h.id),
                reason: format!("released while hold {} ({}) was active", h.code, h.id),
            });
        }
    }
    if order.lifecycle.submitted.is_some() && cc.order_completion {
        let t = order.totals(cc, catalog);
        if order.active_payments().next().is_none() || t.balance > cc.payment_tolerance {
            out.push(Violation {
                kind: ViolationKind::SubmittedUnderpaid,
                key: format!("submitted_underpaid:{}", t.total),
                reason: format!(
                    "submitted with payments of {} short of the total {}",
                    t.paid, t.total
                ),
            });
        }
    }
    for c in order.active_coupons() {
        let Some(max) = catalog.coupons.get(&c.code).and_then(|k| k.max_uses) else {
            continue;
        };
        if let Some(rank) = coupon_rank(&c.code) {
            if rank > max {
                out.push(Violation {
                    kind: ViolationKind::CouponOverLimit,
                    key: format!("coupon_over_limit:{}", c.code),
                    reason: format!(
                        "coupon {} redeemed by {rank} orders, more than its limit of {max}",
                        c.code
                    ),
                });
            }
        }
    }
    out
}

/// The system hold for a violation, to be placed unless a hold with its id already exists
/// (active or cleared: a supervisor's clear stands).
pub fn system_hold(order: &Order, v: &Violation, now: Timestamp) -> Option<Hold> {
    let id = system_hold_id(order.id, &v.key);
    if order.holds.contains_key(&id) {
        return None;
    }
    Some(Hold {
        id,
        code: HoldCode::parse(v.kind.hold_code()).expect("system hold codes are valid codes"),
        reason: v.reason.clone(),
        placed: Stamp {
            by: SYSTEM_USER,
            at: now,
        },
        system: true,
        cleared: None,
    })
}
