//! Submit, release, cancel; which edits a submitted order still takes; the derived status.

use super::fixture::*;
use crate::commands::*;
use crate::config::Role;
use crate::order::*;
use crate::*;
use uuid::Uuid;

#[test]
fn submit_rules() {
    let mut w = World::new();
    let mut lines_only = w.order();
    w.add(&mut lines_only, "widget", 1);
    let mut paid = lines_only.clone();
    w.pay(&mut paid, "10.00");
    // Paid in full, then a line removed: the total fell below what was paid.
    let mut overpaid = lines_only.clone();
    let cable = w.add(&mut overpaid, "cable", 1);
    w.pay(&mut overpaid, "13.50");
    w.run(&mut overpaid, |x| remove_line(x, w.ctx(Role::Agent), cable));
    let mut split = lines_only.clone();
    w.pay(&mut split, "4.00");
    w.pay(&mut split, "6.00");
    let mut cent_short = lines_only.clone();
    w.pay(&mut cent_short, "9.99");
    let mut voided = paid.clone();
    let p = *voided.payments.keys().next().unwrap();
    w.run(&mut voided, |x| void_payment(x, w.ctx(Role::Agent), p));
    let mut removed_line = w.order();
    let l = w.add(&mut removed_line, "widget", 1);
    w.pay(&mut removed_line, "1.00");
    w.run(&mut removed_line, |x| remove_line(x, w.ctx(Role::Agent), l));
    let mut held = paid.clone();
    w.hold(&mut held, "credit");
    let mut hold_cleared = held.clone();
    let h = *hold_cleared.holds.keys().next().unwrap();
    w.run(&mut hold_cleared, |x| {
        clear_hold(x, w.ctx(Role::Agent), h, "ok".into())
    });
    let mut free = w.order();
    let id = LineId(w.fresh());
    w.run(&mut free, |x| {
        add_line(
            x,
            w.ctx(Role::Agent),
            AddLine {
                id,
                product_id: pid("freebie"),
                quantity: Quantity::new(1).unwrap(),
                unit_price: None,
                override_reason: None,
            },
        )
    });
    let submitted = w.submitted();
    let canceled = w.canceled();
    let empty = w.order();

    let required = |balance: &str| {
        Err(OrderError::PaymentRequired {
            balance: d(balance),
        })
    };
    let cases: Vec<(&str, &Order, Result<(), OrderError>)> = vec![
        ("paid in full", &paid, Ok(())),
        (
            "overpaid",
            &overpaid,
            Err(OrderError::Overpaid { excess: d("3.50") }),
        ),
        ("two payments", &split, Ok(())),
        ("no lines", &empty, Err(OrderError::NoLines)),
        (
            "only removed lines",
            &removed_line,
            Err(OrderError::NoLines),
        ),
        ("no payment", &lines_only, required("10.00")),
        ("no payment on a free order", &free, required("0.00")),
        ("one cent short, tolerance 0", &cent_short, required("0.01")),
        ("payment voided", &voided, required("10.00")),
        ("on hold", &held, Err(OrderError::OnHold)),
        ("hold cleared", &hold_cleared, Ok(())),
        (
            "twice",
            &submitted,
            Err(OrderError::InvalidTransition {
                from: Status::Submitted,
                action: "submit",
            }),
        ),
        (
            "canceled",
            &canceled,
            Err(OrderError::InvalidTransition {
                from: Status::Canceled,
                action: "submit",
            }),
        ),
    ];
    for (case, order, want) in cases {
        check(case, submit(order, w.ctx(Role::Agent)), want);
    }

    // The tolerance boundary: a balance equal to the tolerance passes, one cent more fails.
    w.cc.payment_tolerance = d("0.05");
    let short = |amount: &str| {
        let mut o = lines_only.clone();
        w.pay(&mut o, amount);
        submit(&o, w.ctx(Role::Agent))
    };
    check("balance == tolerance", short("9.95"), Ok(()));
    check(
        "balance one cent over tolerance",
        short("9.94"),
        required("0.06"),
    );
    check(
        "tolerance does not waive the payment",
        submit(&lines_only, w.ctx(Role::Agent)),
        required("10.00"),
    );
    // Overpaid by the tolerance passes, one cent more fails (the order lost a 0.05 line).
    w.catalog
        .products
        .insert(pid("sticker"), product("sticker", "0.05", false));
    let over = |cents: i64| {
        let mut o = lines_only.clone();
        let extra = w.add(&mut o, "sticker", cents);
        w.pay(
            &mut o,
            &(d("10.00") + Decimal::new(5 * cents, 2)).to_string(),
        );
        w.run(&mut o, |x| remove_line(x, w.ctx(Role::Agent), extra));
        submit(&o, w.ctx(Role::Agent))
    };
    check("overpaid by the tolerance", over(1), Ok(()));
    check(
        "overpaid beyond the tolerance",
        over(2),
        Err(OrderError::Overpaid { excess: d("0.10") }),
    );

    // Without order completion, neither payments nor the balance matter.
    w.cc.order_completion = false;
    check(
        "order completion off, unpaid",
        submit(&lines_only, w.ctx(Role::Agent)),
        Ok(()),
    );
    check(
        "order completion off, still needs lines",
        submit(&w.order(), w.ctx(Role::Agent)),
        Err(OrderError::NoLines),
    );
    check(
        "order completion off, still not on hold",
        submit(&held, w.ctx(Role::Agent)),
        Err(OrderError::OnHold),
    );

    assert_eq!(
        submit(&paid, w.ctx(Role::Agent)),
        Ok(OrderEvent::Submitted(w.stamp()))
    );
}

#[test]
fn release_and_cancel_rules() {
    use Role::*;
    let w = World::new();
    let open = {
        let mut o = w.order();
        w.add(&mut o, "widget", 1);
        o
    };
    let submitted = w.submitted();
    let mut submitted_held = submitted.clone();
    w.hold(&mut submitted_held, "fraud");
    let mut open_held = open.clone();
    w.hold(&mut open_held, "credit");
    let released = w.released();
    let canceled = w.canceled();
    let bad = |from, action| Err(OrderError::InvalidTransition { from, action });

    let cases: Vec<(&str, &Order, Role, Result<(), OrderError>)> = vec![
        ("release submitted", &submitted, Agent, Ok(())),
        ("release open", &open, Agent, bad(Status::Open, "release")),
        (
            "release open on hold",
            &open_held,
            Supervisor,
            bad(Status::OnHold, "release"),
        ),
        (
            "release submitted on hold",
            &submitted_held,
            Supervisor,
            Err(OrderError::OnHold),
        ),
        (
            "release twice",
            &released,
            Agent,
            bad(Status::Released, "release"),
        ),
        (
            "release canceled",
            &canceled,
            Admin,
            bad(Status::Canceled, "release"),
        ),
    ];
    for (case, order, role, want) in cases {
        check(case, release(order, w.ctx(role)), want);
    }

    let cases: Vec<(&str, &Order, Role, Result<(), OrderError>)> = vec![
        ("cancel open by agent", &open, Agent, Ok(())),
        ("cancel open on hold by agent", &open_held, Agent, Ok(())),
        (
            "cancel submitted by agent",
            &submitted,
            Agent,
            Err(OrderError::CancelNeedsSupervisor),
        ),
        (
            "cancel submitted by supervisor",
            &submitted,
            Supervisor,
            Ok(()),
        ),
        ("cancel submitted by admin", &submitted, Admin, Ok(())),
        (
            "cancel submitted on hold by supervisor",
            &submitted_held,
            Supervisor,
            Ok(()),
        ),
        (
            "cancel released",
            &released,
            Supervisor,
            bad(Status::Released, "cancel"),
        ),
        (
            "cancel twice",
            &canceled,
            Supervisor,
            bad(Status::Canceled, "cancel"),
        ),
    ];
    for (case, order, role, want) in cases {
        check(
            case,
            cancel(order, w.ctx(role), "customer called".into()),
            want,
        );
    }
    check(
        "outsider",
        release(&submitted, w.ctx_of(&w.outsider)),
        Err(OrderError::NotInCallCenter(ccid("north"))),
    );

    let ev = cancel(&open, w.ctx(Agent), "duplicate".into()).unwrap();
    assert_eq!(
        ev,
        OrderEvent::Canceled {
            stamp: w.stamp(),
            reason: "duplicate".into()
        }
    );
    assert_eq!(w.canceled().status(), Status::Canceled);
    assert_eq!(w.released().status(), Status::Released);
}

#[test]
fn a_submitted_order_refuses_edits_except_holds_notes_and_payments() {
    use Role::*;
    let w = World::new();
    let mut o = w.submitted();
    let line = *o.lines.keys().next().unwrap();
    let pay = *o.payments.keys().next().unwrap();
    // As if applied on another site just before the submit.
    apply(
        &mut o,
        &OrderEvent::CouponApplied(CouponUse {
            code: coupon("TEN"),
            applied: w.stamp(),
            removed: None,
        }),
    );
    let refused = |action| {
        Err(OrderError::InvalidTransition {
            from: Status::Submitted,
            action,
        })
    };
    let new_line = AddLine {
        id: LineId(w.fresh()),
        product_id: pid("cable"),
        quantity: Quantity::new(1).unwrap(),
        unit_price: None,
        override_reason: None,
    };
    let charge = AddCharge {
        id: ChargeId(w.fresh()),
        code: ChargeCode::parse("rush").unwrap(),
        amount: d("1"),
        reason_code: rcode("damaged"),
    };
    let change = ChangeLine {
        line_id: line,
        quantity: Some(Quantity::new(2).unwrap()),
        price: None,
    };
    let payment = AddPayment {
        id: PaymentId(w.fresh()),
        method: pmethod("cash"),
        amount: d("1"),
        reference: None,
    };
    let ctx = w.ctx(Supervisor);
    check(
        "add line",
        add_line(&o, ctx, new_line),
        refused("add a line to"),
    );
    check(
        "change line",
        change_line(&o, ctx, change),
        refused("change a line of"),
    );
    check(
        "remove line",
        remove_line(&o, ctx, line),
        refused("remove a line of"),
    );
    check(
        "apply coupon",
        apply_coupon(&o, ctx, coupon("FIVE-OFF"), 0),
        refused("apply a coupon to"),
    );
    check(
        "remove coupon",
        remove_coupon(&o, ctx, coupon("TEN")),
        refused("remove a coupon from"),
    );
    check(
        "add charge",
        add_charge(&o, ctx, charge),
        refused("add a charge to"),
    );
    check(
        "place hold",
        place_hold(&o, ctx, HoldId(w.fresh()), hcode("fraud"), "check".into()),
        Ok(()),
    );
    check(
        "add note",
        add_note(&o, ctx, NoteId(w.fresh()), "called".into()),
        Ok(()),
    );
    // The coupon made the order overpaid: a payment is refused until one is voided.
    let mut voided = o.clone();
    apply(
        &mut voided,
        &OrderEvent::PaymentVoided {
            id: pay,
            stamp: w.stamp(),
        },
    );
    check("add payment", add_payment(&voided, ctx, payment), Ok(()));
    check("void payment", void_payment(&o, ctx, pay), Ok(()));

    // Holds may be cleared after submit, and on a canceled order an edit names that status.
    let mut held = o.clone();
    let h = w.hold(&mut held, "fraud");
    check(
        "clear hold after submit",
        clear_hold(&held, ctx, h, "ok".into()),
        Ok(()),
    );
    let canceled = w.canceled();
    let c_line = *canceled.lines.keys().next().unwrap();
    check(
        "remove line of a canceled order",
        remove_line(&canceled, ctx, c_line),
        Err(OrderError::InvalidTransition {
            from: Status::Canceled,
            action: "remove a line of",
        }),
    );
}

#[test]
fn status_derivation_precedence() {
    let w = World::new();
    let s = w.stamp();
    let hold = |active: bool| Hold {
        id: HoldId(Uuid::from_u128(1)),
        code: hcode("fraud"),
        reason: "r".into(),
        placed: s.clone(),
        system: false,
        cleared: (!active).then(|| HoldClear {
            by: s.by,
            at: s.at,
            reason: "ok".into(),
        }),
    };
    // (submitted, released, canceled, hold: None / Some(active?), status)
    let cases = [
        (false, false, false, None, Status::Open),
        (false, false, false, Some(false), Status::Open),
        (false, false, false, Some(true), Status::OnHold),
        (true, false, false, None, Status::Submitted),
        (true, false, false, Some(true), Status::OnHold),
        (true, false, false, Some(false), Status::Submitted),
        (true, true, false, None, Status::Released),
        (true, true, false, Some(true), Status::OnHold),
        (true, true, false, Some(false), Status::Released),
        (false, false, true, None, Status::Canceled),
        (true, false, true, Some(true), Status::Canceled),
        (true, true, true, Some(true), Status::Canceled),
    ];
    for (submitted, released, canceled, h, want) in cases {
        let mut o = w.order();
        o.lifecycle = Lifecycle {
            submitted: submitted.then(|| s.clone()),
            released: released.then(|| s.clone()),
            canceled: canceled.then(|| (s.clone(), "r".into())),
        };
        if let Some(active) = h {
            let h = hold(active);
            o.holds.insert(h.id, h);
        }
        assert_eq!(o.status(), want, "{submitted} {released} {canceled} {h:?}");
    }
    for st in [
        Status::Open,
        Status::Submitted,
        Status::OnHold,
        Status::Released,
        Status::Canceled,
    ] {
        assert_eq!(Status::parse(st.as_str()), Some(st));
    }
    assert_eq!(Status::parse("on-hold"), None);
    assert_eq!(Status::OnHold.as_str(), "on_hold");
}

#[test]
fn lifecycle_facts_are_set_once() {
    let w = World::new();
    let mut o = w.submitted();
    let first = o.lifecycle.submitted.clone();
    let later = Stamp {
        by: user(Role::Supervisor),
        at: ms(w.now, 5),
    };
    apply(&mut o, &OrderEvent::Submitted(later.clone()));
    apply(&mut o, &OrderEvent::Released(w.stamp()));
    apply(&mut o, &OrderEvent::Released(later.clone()));
    apply(
        &mut o,
        &OrderEvent::Canceled {
            stamp: w.stamp(),
            reason: "a".into(),
        },
    );
    apply(
        &mut o,
        &OrderEvent::Canceled {
            stamp: later,
            reason: "b".into(),
        },
    );
    assert_eq!(o.lifecycle.submitted, first);
    assert_eq!(o.lifecycle.released, Some(w.stamp()));
    assert_eq!(o.lifecycle.canceled, Some((w.stamp(), "a".to_string())));
}
