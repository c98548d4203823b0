//! Merge-time invariants and the system holds that record them.

use super::fixture::*;
use crate::commands::apply;
use crate::commands::OrderEvent;
use crate::config::Role;
use crate::invariants::*;
use crate::order::*;
use crate::*;
use uuid::Uuid;

fn kinds(vs: &[Violation]) -> Vec<(ViolationKind, String)> {
    vs.iter().map(|v| (v.kind, v.key.clone())).collect()
}

fn hold(id: u128, system: bool, active: bool, w: &World) -> Hold {
    Hold {
        id: HoldId(Uuid::from_u128(id)),
        code: hcode("fraud"),
        reason: "r".into(),
        placed: w.stamp(),
        system,
        cleared: (!active).then(|| HoldClear {
            by: user(Role::Supervisor),
            at: w.now,
            reason: "ok".into(),
        }),
    }
}

#[test]
fn check_invariants_cases() {
    let mut w = World::new();
    w.catalog
        .coupons
        .get_mut(&coupon("LIMITED"))
        .unwrap()
        .max_uses = Some(2);
    let none = |_: &CouponCode| None;
    let rank = |n: u32| move |_: &CouponCode| Some(n);
    let released = w.released();
    let with_holds = |o: &Order, hs: Vec<Hold>| {
        let mut o = o.clone();
        for h in hs {
            o.holds.insert(h.id, h);
        }
        o
    };
    let h1 = HoldId(Uuid::from_u128(1));
    let held_key = format!("released_while_held:{h1}");
    let mut released_canceled = with_holds(&released, vec![hold(1, false, true, &w)]);
    released_canceled.lifecycle.canceled = Some((w.stamp(), "x".into()));

    // Submitted, then a concurrent line change on another site made payments short.
    let mut underpaid = w.submitted();
    let extra = LineId(w.fresh());
    let mut line = underpaid.lines.values().next().unwrap().clone();
    line.id = extra;
    underpaid.lines.insert(extra, line);
    let mut no_payment = w.submitted();
    for p in no_payment.payments.values_mut() {
        p.voided = Some(w.stamp());
    }
    let mut couponed = w.order();
    w.add(&mut couponed, "widget", 1);
    w.apply_coupon(&mut couponed, "LIMITED");
    w.apply_coupon(&mut couponed, "TEN");
    let mut coupon_removed = couponed.clone();
    apply(
        &mut coupon_removed,
        &OrderEvent::CouponRemoved {
            code: coupon("LIMITED"),
            stamp: w.stamp(),
        },
    );

    type Rank = Box<dyn Fn(&CouponCode) -> Option<u32>>;
    let cases: Vec<(&str, Order, Rank, Vec<(ViolationKind, String)>)> = vec![
        ("open order", w.order(), Box::new(none), vec![]),
        ("submitted and paid", w.submitted(), Box::new(none), vec![]),
        (
            "released, no holds",
            released.clone(),
            Box::new(none),
            vec![],
        ),
        (
            "released while a hold is active",
            with_holds(&released, vec![hold(1, false, true, &w)]),
            Box::new(none),
            vec![(ViolationKind::ReleasedWhileHeld, held_key.clone())],
        ),
        (
            "released with two active holds",
            with_holds(
                &released,
                vec![hold(1, false, true, &w), hold(2, false, true, &w)],
            ),
            Box::new(none),
            vec![
                (ViolationKind::ReleasedWhileHeld, held_key.clone()),
                (
                    ViolationKind::ReleasedWhileHeld,
                    format!("released_while_held:{}", HoldId(Uuid::from_u128(2))),
                ),
            ],
        ),
        (
            "released, hold since cleared",
            with_holds(&released, vec![hold(1, false, false, &w)]),
            Box::new(none),
            vec![],
        ),
        (
            "released with only a system hold",
            with_holds(&released, vec![hold(1, true, true, &w)]),
            Box::new(none),
            vec![],
        ),
        (
            "canceled: nothing to hold",
            released_canceled,
            Box::new(rank(99)),
            vec![],
        ),
        (
            "submitted, underpaid",
            underpaid.clone(),
            Box::new(none),
            vec![(
                ViolationKind::SubmittedUnderpaid,
                "submitted_underpaid:20.00".into(),
            )],
        ),
        (
            "submitted, all payments voided",
            no_payment,
            Box::new(none),
            vec![(
                ViolationKind::SubmittedUnderpaid,
                "submitted_underpaid:10.00".into(),
            )],
        ),
        (
            "coupon within its limit",
            couponed.clone(),
            Box::new(rank(2)),
            vec![],
        ),
        (
            "coupon beyond its limit by rank",
            couponed.clone(),
            Box::new(rank(3)),
            vec![(
                ViolationKind::CouponOverLimit,
                "coupon_over_limit:LIMITED".into(),
            )],
        ),
        (
            "coupon rank unknown",
            couponed.clone(),
            Box::new(none),
            vec![],
        ),
        ("coupon removed", coupon_removed, Box::new(rank(3)), vec![]),
    ];
    for (case, o, rank, want) in cases {
        assert_eq!(
            kinds(&check_invariants(&o, &w.cc, &w.catalog, &*rank)),
            want,
            "case: {case}"
        );
    }

    // The tolerance applies: a balance equal to it is fine, one cent more is not.
    w.cc.payment_tolerance = d("10.00");
    assert!(check_invariants(&underpaid, &w.cc, &w.catalog, &none).is_empty());
    w.cc.payment_tolerance = d("9.99");
    assert_eq!(
        check_invariants(&underpaid, &w.cc, &w.catalog, &none).len(),
        1
    );
    w.cc.order_completion = false;
    assert!(
        check_invariants(&underpaid, &w.cc, &w.catalog, &none).is_empty(),
        "no payment rule without order completion"
    );
}

#[test]
fn system_holds_are_deterministic_and_placed_once() {
    let w = World::new();
    let mut o = w.released();
    let placed = hold(1, false, true, &w);
    o.holds.insert(placed.id, placed);
    let vs = check_invariants(&o, &w.cc, &w.catalog, &|_| None);
    assert_eq!(vs.len(), 1);
    let v = &vs[0];

    let h = system_hold(&o, v, w.now).unwrap();
    assert_eq!(h.id, system_hold_id(o.id, &v.key));
    assert_eq!(h.code.as_str(), "system.released_while_held");
    assert_eq!(
        (h.system, h.placed.clone(), h.cleared.clone()),
        (
            true,
            Stamp {
                by: SYSTEM_USER,
                at: w.now
            },
            None
        )
    );
    assert_eq!(h.reason, v.reason);

    // Another node, later, derives the same hold id.
    assert_eq!(
        system_hold(&o.clone(), v, ms(w.now, 1000)).unwrap().id,
        h.id
    );
    assert_ne!(system_hold_id(OrderId(w.fresh()), &v.key), h.id);
    assert_ne!(system_hold_id(o.id, "other"), h.id);

    // Once placed (or placed and cleared), it is not placed again.
    let mut placed = o.clone();
    apply(&mut placed, &OrderEvent::HoldPlaced(h.clone()));
    assert_eq!(placed.status(), Status::OnHold);
    assert_eq!(system_hold(&placed, v, w.now), None);
    placed.holds.get_mut(&h.id).unwrap().cleared = Some(HoldClear {
        by: user(Role::Supervisor),
        at: w.now,
        reason: "ok".into(),
    });
    assert_eq!(system_hold(&placed, v, w.now), None);

    for k in [
        ViolationKind::ReleasedWhileHeld,
        ViolationKind::SubmittedUnderpaid,
        ViolationKind::CouponOverLimit,
    ] {
        assert!(HoldCode::parse(k.hold_code()).is_ok(), "{k:?}");
    }
}
