//! Create order, lines (with price overrides and list prices), coupons, payments, manual charges,
//! holds and notes.

use super::fixture::*;
use crate::commands::*;
use crate::config::{Actor, Role};
use crate::order::*;
use crate::*;
use uuid::Uuid;

#[test]
fn create_order_rules() {
    let mut w = World::new();
    let mut other_cc_customer = w.customer();
    other_cc_customer.call_center_id = ccid("south");
    let orphan_agent = Actor {
        user: UserId(Uuid::from_u128(77)),
        role: Role::Agent,
        call_center: None,
    };
    let spring_from = ts("2026-03-01T00:00:00Z");
    let spring_to = ts("2026-06-30T23:59:59.999Z");
    let cases: Vec<(
        &str,
        Actor,
        Option<&str>,
        Option<&str>,
        Timestamp,
        Result<(), OrderError>,
    )> = vec![
        (
            "plain order",
            w.agent.clone(),
            None,
            Some("std"),
            w.now,
            Ok(()),
        ),
        (
            "no delivery mode yet",
            w.agent.clone(),
            None,
            None,
            w.now,
            Ok(()),
        ),
        (
            "supervisor",
            w.supervisor.clone(),
            None,
            None,
            w.now,
            Ok(()),
        ),
        (
            "node admin without call center",
            w.admin.clone(),
            None,
            None,
            w.now,
            Ok(()),
        ),
        (
            "agent of another call center",
            w.outsider.clone(),
            None,
            None,
            w.now,
            Err(OrderError::NotInCallCenter(ccid("north"))),
        ),
        (
            "agent of no call center",
            orphan_agent,
            None,
            None,
            w.now,
            Err(OrderError::NotInCallCenter(ccid("north"))),
        ),
        (
            "valid source code",
            w.agent.clone(),
            Some("SPRING"),
            None,
            w.now,
            Ok(()),
        ),
        (
            "source code without window",
            w.agent.clone(),
            Some("PLAIN"),
            None,
            w.now,
            Ok(()),
        ),
        (
            "unknown source code",
            w.agent.clone(),
            Some("NOPE"),
            None,
            w.now,
            Err(OrderError::SourceCodeUnknown(scode("NOPE"))),
        ),
        (
            "source code: first valid instant",
            w.agent.clone(),
            Some("SPRING"),
            None,
            spring_from,
            Ok(()),
        ),
        (
            "source code: 1 ms before its window",
            w.agent.clone(),
            Some("SPRING"),
            None,
            ms(spring_from, -1),
            Err(OrderError::SourceCodeNotYetValid(scode("SPRING"))),
        ),
        (
            "source code: last valid instant",
            w.agent.clone(),
            Some("SPRING"),
            None,
            spring_to,
            Ok(()),
        ),
        (
            "source code: 1 ms after its window",
            w.agent.clone(),
            Some("SPRING"),
            None,
            ms(spring_to, 1),
            Err(OrderError::SourceCodeExpired(scode("SPRING"))),
        ),
        (
            "expired source code",
            w.agent.clone(),
            Some("OLD"),
            None,
            w.now,
            Err(OrderError::SourceCodeExpired(scode("OLD"))),
        ),
        (
            "source code not valid yet",
            w.agent.clone(),
            Some("FUTURE"),
            None,
            w.now,
            Err(OrderError::SourceCodeNotYetValid(scode("FUTURE"))),
        ),
        (
            "unknown delivery mode",
            w.agent.clone(),
            None,
            Some("drone"),
            w.now,
            Err(OrderError::DeliveryModeUnknown(dmode("drone"))),
        ),
    ];
    for (case, actor, source, delivery, now, want) in cases {
        w.now = now;
        let got = create_order(w.ctx_of(&actor), w.new_order(source, delivery));
        check(case, got, want);
    }

    w.now = ts(NOW);
    let mut new = w.new_order(None, None);
    new.customer = other_cc_customer.clone();
    check(
        "customer of another call center",
        create_order(w.ctx(Role::Agent), new),
        Err(OrderError::CustomerElsewhere(other_cc_customer.id)),
    );

    let mut new = w.new_order(None, None);
    new.ship_to.insert(" ".into(), "x".into());
    assert!(matches!(
        create_order(w.ctx(Role::Agent), new),
        Err(OrderError::InvalidText {
            field: "ship_to",
            ..
        })
    ));

    w.cc.guided_sales = false;
    check(
        "source code with guided sales off",
        create_order(w.ctx(Role::Agent), w.new_order(Some("SPRING"), None)),
        Err(OrderError::GuidedSalesOff),
    );
    check(
        "no source code with guided sales off",
        create_order(w.ctx(Role::Agent), w.new_order(None, None)),
        Ok(()),
    );
}

#[test]
fn created_order_carries_the_header() {
    let w = World::new();
    let new = w.new_order(Some("SPRING"), Some("std"));
    let id = new.id;
    let o = create_order(w.ctx(Role::Agent), new).unwrap();
    assert_eq!(o.id, id);
    assert_eq!(o.call_center_id, ccid("north"));
    assert_eq!(o.customer_id, w.customer().id);
    assert_eq!(o.source_code, Some(scode("SPRING")));
    assert_eq!(o.delivery_mode, Some(dmode("std")));
    assert_eq!(o.financial_dimensions, w.cc.financial_dimensions);
    assert_eq!(o.created, w.stamp());
    assert_eq!(o.status(), Status::Open);
    assert!(
        o.lines.is_empty() && o.payments.is_empty() && o.holds.is_empty() && o.continuity.is_none()
    );
}

/// One add-line case: who, which product, the price and reason asked for, and what comes out:
/// `Ok((unit price, overridden?))` or the refusal.
type LineCase = (
    &'static str,
    Role,
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Result<(&'static str, bool), OrderError>,
);

fn beyond(percent: &str, limit: &str, role: &'static str) -> OrderError {
    OrderError::OverrideBeyondLimit {
        percent: d(percent),
        limit: d(limit),
        role,
    }
}

#[test]
fn add_line_price_overrides() {
    use Role::*;
    let w = World::new();
    let o = w.order();
    // widget lists at 10.00 and allows overrides; gadget lists at 20.00 and does not.
    let cases: Vec<LineCase> = vec![
        (
            "list price",
            Agent,
            "widget",
            None,
            None,
            Ok(("10.00", false)),
        ),
        (
            "asking the list price is no override",
            Agent,
            "gadget",
            Some("20.00"),
            None,
            Ok(("20.00", false)),
        ),
        (
            "list price with other scale",
            Agent,
            "widget",
            Some("10"),
            None,
            Ok(("10.00", false)),
        ),
        (
            "product disallows overrides",
            Supervisor,
            "gadget",
            Some("19.00"),
            Some("match"),
            Err(OrderError::OverrideNotAllowedForProduct(pid("gadget"))),
        ),
        (
            "reason missing",
            Agent,
            "widget",
            Some("9.90"),
            None,
            Err(OrderError::OverrideReasonRequired),
        ),
        (
            "reason unknown",
            Agent,
            "widget",
            Some("9.90"),
            Some("whim"),
            Err(OrderError::ReasonCodeUnknown(rcode("whim"))),
        ),
        (
            "agent exactly at 5%",
            Agent,
            "widget",
            Some("9.50"),
            Some("match"),
            Ok(("9.50", true)),
        ),
        (
            "agent one cent over 5%",
            Agent,
            "widget",
            Some("9.49"),
            Some("match"),
            Err(beyond("5.1", "5", "agent")),
        ),
        (
            "supervisor beyond agent limit",
            Supervisor,
            "widget",
            Some("9.49"),
            Some("match"),
            Ok(("9.49", true)),
        ),
        (
            "supervisor exactly at 25%",
            Supervisor,
            "widget",
            Some("7.50"),
            Some("match"),
            Ok(("7.50", true)),
        ),
        (
            "supervisor one cent over 25%",
            Supervisor,
            "widget",
            Some("7.49"),
            Some("match"),
            Err(beyond("25.1", "25", "supervisor")),
        ),
        (
            "admin is unlimited",
            Admin,
            "widget",
            Some("0.01"),
            Some("damaged"),
            Ok(("0.01", true)),
        ),
        (
            "admin may give it away",
            Admin,
            "widget",
            Some("0"),
            Some("damaged"),
            Ok(("0", true)),
        ),
        (
            "mark-up is allowed",
            Agent,
            "widget",
            Some("12.00"),
            Some("match"),
            Ok(("12.00", true)),
        ),
        (
            "mark-up on a free product",
            Agent,
            "freebie",
            Some("1.00"),
            Some("match"),
            Ok(("1.00", true)),
        ),
        (
            "negative price",
            Admin,
            "widget",
            Some("-1.00"),
            Some("match"),
            Err(OrderError::InvalidAmount {
                field: "unit_price",
                message: "must not be negative".into(),
            }),
        ),
        (
            "price with more decimals than EUR",
            Agent,
            "widget",
            Some("9.995"),
            Some("match"),
            Err(OrderError::InvalidAmount {
                field: "unit_price",
                message: "has more decimals than EUR allows".into(),
            }),
        ),
        (
            "unknown product",
            Agent,
            "nothing",
            None,
            None,
            Err(OrderError::ProductUnknown(pid("nothing"))),
        ),
    ];
    for (case, role, product, price, reason, want) in cases {
        let cmd = AddLine {
            id: LineId(w.fresh()),
            product_id: pid(product),
            quantity: Quantity::new(2).unwrap(),
            unit_price: price.map(d),
            override_reason: reason.map(rcode),
        };
        let got = add_line(&o, w.ctx(role), cmd).map(|ev| match ev {
            OrderEvent::LineAdded(l) => {
                if let Some(ov) = &l.price_override {
                    assert_eq!(ov.by, user(role), "case: {case}");
                    assert_eq!(Some(ov.reason_code.as_str()), reason, "case: {case}");
                }
                assert_eq!(l.quantity.get(), 2, "case: {case}");
                (l.unit_price.to_string(), l.price_override.is_some())
            }
            other => panic!("case {case}: unexpected event {other:?}"),
        });
        let want = want.map(|(p, o)| (p.to_string(), o));
        assert_eq!(got, want, "case: {case}");
    }
}

#[test]
fn a_role_missing_from_the_limits_may_not_override_down() {
    let mut w = World::new();
    w.cc.price_override_limits.remove(&Role::Supervisor);
    w.cc.price_override_limits.insert(Role::Admin, d("50"));
    let o = w.order();
    let line = |role, price: &str| {
        let cmd = AddLine {
            id: LineId(w.fresh()),
            product_id: pid("widget"),
            quantity: Quantity::new(1).unwrap(),
            unit_price: Some(d(price)),
            override_reason: Some(rcode("match")),
        };
        add_line(&o, w.ctx(role), cmd)
    };
    check(
        "supervisor missing: 1% down",
        line(Role::Supervisor, "9.90"),
        Err(beyond("1", "0", "supervisor")),
    );
    check(
        "supervisor missing: mark-up",
        line(Role::Supervisor, "10.10"),
        Ok(()),
    );
    check(
        "admin with a limit: at it",
        line(Role::Admin, "5.00"),
        Ok(()),
    );
    check(
        "admin with a limit: beyond it",
        line(Role::Admin, "4.99"),
        Err(beyond("50.1", "50", "admin")),
    );
}

#[test]
fn list_price_comes_from_source_code_group_then_call_center_group_then_product() {
    let mut w = World::new();
    // (call center price group, source code, product, list price)
    let cases = [
        (None, None, "widget", "10.00"),
        (None, Some("SPRING"), "widget", "8.00"),
        (None, Some("SPRING"), "gadget", "20.00"),
        (Some("north-pg"), None, "widget", "9.00"),
        (Some("north-pg"), None, "gadget", "19.00"),
        (Some("north-pg"), Some("SPRING"), "widget", "8.00"),
        (Some("north-pg"), Some("SPRING"), "gadget", "19.00"),
        (Some("north-pg"), Some("SPRING"), "cable", "3.50"),
        (Some("north-pg"), Some("PLAIN"), "widget", "9.00"),
        (Some("no-such-group"), None, "widget", "10.00"),
    ];
    for (cc_group, source, product, want) in cases {
        w.cc.price_group = cc_group.map(pgroup);
        let mut o = w.order_with(source, None);
        let id = w.add(&mut o, product, 1);
        let line = &o.lines[&id];
        let case = format!("{cc_group:?} {source:?} {product}");
        assert_eq!(line.list_price.to_string(), want, "{case}");
        assert_eq!(line.unit_price, line.list_price, "{case}");
        assert_eq!(line.price_override, None, "{case}");
    }
    // The list price takes the currency's scale; a catalog price with more decimals than the
    // currency allows, or beyond the bound, is refused, never rounded (0.005 would be 0.00).
    w.cc.price_group = None;
    let cases = [
        ("7", "EUR", Ok("7.00")),
        ("7.5", "KWD", Ok("7.500")),
        ("7", "JPY", Ok("7")),
        (
            "10.005",
            "EUR",
            Err("the list price 10.005 of product cable has more decimals than EUR allows"),
        ),
        (
            "0.005",
            "EUR",
            Err("the list price 0.005 of product cable has more decimals than EUR allows"),
        ),
        (
            "0.5",
            "JPY",
            Err("the list price 0.5 of product cable has more decimals than JPY allows"),
        ),
        (
            "1000000000.01",
            "EUR",
            Err("the list price 1000000000.01 of product cable must be at most 1000000000"),
        ),
        (
            "79228162514264337593543950335",
            "EUR",
            Err("the list price 79228162514264337593543950335 of product cable must be at most 1000000000"),
        ),
    ];
    for (price, currency, want) in cases {
        w.catalog.products.get_mut(&pid("cable")).unwrap().price = d(price);
        w.cc.currency = Currency::parse(currency).unwrap();
        let o = w.order();
        let got = add_line(
            &o,
            w.ctx(Role::Agent),
            AddLine {
                id: LineId(w.fresh()),
                product_id: pid("cable"),
                quantity: Quantity::new(1).unwrap(),
                unit_price: None,
                override_reason: None,
            },
        );
        let got = match got {
            Ok(OrderEvent::LineAdded(l)) => Ok(l.list_price.to_string()),
            Ok(other) => panic!("{other:?}"),
            Err(OrderError::InvalidAmount {
                field: "product_id",
                message,
            }) => Err(message),
            Err(e) => panic!("{price} {currency}: {e:?}"),
        };
        assert_eq!(
            got,
            want.map(String::from).map_err(String::from),
            "{price} {currency}"
        );
    }
}

#[test]
fn change_and_remove_line_rules() {
    let w = World::new();
    let mut o = w.order();
    let widget = w.add(&mut o, "widget", 1);
    let gadget = w.add(&mut o, "gadget", 1);
    let gone = w.add(&mut o, "cable", 1);
    w.run(&mut o, |x| remove_line(x, w.ctx(Role::Agent), gone));
    let missing = LineId(Uuid::from_u128(0xdead));
    let q = |n| Some(Quantity::new(n).unwrap());
    let set = |p: &str, r: Option<&str>| {
        Some(PriceChange::Set {
            unit_price: d(p),
            reason: r.map(rcode),
        })
    };
    let cases: Vec<(
        &str,
        Role,
        LineId,
        Option<Quantity>,
        Option<PriceChange>,
        Result<(), OrderError>,
    )> = vec![
        ("quantity", Role::Agent, widget, q(3), None, Ok(())),
        (
            "nothing to change",
            Role::Agent,
            widget,
            None,
            None,
            Err(OrderError::EmptyChange),
        ),
        (
            "unknown line",
            Role::Agent,
            missing,
            q(3),
            None,
            Err(OrderError::LineNotFound(missing)),
        ),
        (
            "removed line",
            Role::Agent,
            gone,
            q(3),
            None,
            Err(OrderError::LineRemoved(gone)),
        ),
        (
            "override at limit",
            Role::Agent,
            widget,
            None,
            set("9.50", Some("match")),
            Ok(()),
        ),
        (
            "override over limit",
            Role::Agent,
            widget,
            None,
            set("9.49", Some("match")),
            Err(beyond("5.1", "5", "agent")),
        ),
        (
            "override without reason",
            Role::Agent,
            widget,
            None,
            set("9.50", None),
            Err(OrderError::OverrideReasonRequired),
        ),
        (
            "override with unknown reason",
            Role::Agent,
            widget,
            None,
            set("9.50", Some("whim")),
            Err(OrderError::ReasonCodeUnknown(rcode("whim"))),
        ),
        (
            "override of a product that disallows it",
            Role::Admin,
            gadget,
            None,
            set("1.00", Some("match")),
            Err(OrderError::OverrideNotAllowedForProduct(pid("gadget"))),
        ),
        (
            "revert on a product that disallows overrides",
            Role::Agent,
            gadget,
            None,
            Some(PriceChange::Revert),
            Ok(()),
        ),
        (
            "new reason on a line without override",
            Role::Agent,
            widget,
            None,
            Some(PriceChange::Reason(rcode("damaged"))),
            Err(OrderError::InvalidText {
                field: "override_reason",
                message: "the line has no price override; send unit_price with it".into(),
            }),
        ),
    ];
    for (case, role, line, quantity, price, want) in cases {
        let got = change_line(
            &o,
            w.ctx(role),
            ChangeLine {
                line_id: line,
                quantity,
                price,
            },
        );
        check(case, got, want);
    }
    check(
        "agent of another call center",
        change_line(
            &o,
            w.ctx_of(&w.outsider),
            ChangeLine {
                line_id: widget,
                quantity: q(2),
                price: None,
            },
        ),
        Err(OrderError::NotInCallCenter(ccid("north"))),
    );
    check(
        "remove unknown",
        remove_line(&o, w.ctx(Role::Agent), missing),
        Err(OrderError::LineNotFound(missing)),
    );
    check(
        "remove twice",
        remove_line(&o, w.ctx(Role::Agent), gone),
        Err(OrderError::LineRemoved(gone)),
    );
}

#[test]
fn change_line_events_fold_into_the_line() {
    let w = World::new();
    let mut o = w.order();
    let id = w.add(&mut o, "widget", 1);

    // Quantity only: price and override untouched.
    let ev = change_line(
        &o,
        w.ctx(Role::Agent),
        ChangeLine {
            line_id: id,
            quantity: Some(Quantity::new(4).unwrap()),
            price: None,
        },
    )
    .unwrap();
    assert_eq!(
        ev,
        OrderEvent::LineChanged {
            line_id: id,
            quantity: Some(Quantity::new(4).unwrap()),
            unit_price: None,
            price_override: None
        }
    );
    apply(&mut o, &ev);
    assert_eq!(
        (
            o.lines[&id].quantity.get(),
            o.lines[&id].unit_price.to_string()
        ),
        (4, "10.00".into())
    );

    // Override by the supervisor.
    let set = PriceChange::Set {
        unit_price: d("8.00"),
        reason: Some(rcode("match")),
    };
    w.run(&mut o, |x| {
        change_line(
            x,
            w.ctx(Role::Supervisor),
            ChangeLine {
                line_id: id,
                quantity: None,
                price: Some(set),
            },
        )
    });
    let l = &o.lines[&id];
    assert_eq!(l.unit_price, d("8.00"));
    assert_eq!(
        l.price_override,
        Some(PriceOverride {
            reason_code: rcode("match"),
            by: user(Role::Supervisor)
        })
    );

    // A new reason keeps the price; the agent may not re-sign a 20% override, the supervisor may.
    check(
        "agent changes the reason of a supervisor's override",
        change_line(
            &o,
            w.ctx(Role::Agent),
            ChangeLine {
                line_id: id,
                quantity: None,
                price: Some(PriceChange::Reason(rcode("damaged"))),
            },
        ),
        Err(beyond("20", "5", "agent")),
    );
    w.run(&mut o, |x| {
        change_line(
            x,
            w.ctx(Role::Supervisor),
            ChangeLine {
                line_id: id,
                quantity: None,
                price: Some(PriceChange::Reason(rcode("damaged"))),
            },
        )
    });
    assert_eq!(o.lines[&id].unit_price, d("8.00"));
    assert_eq!(
        o.lines[&id]
            .price_override
            .as_ref()
            .map(|p| p.reason_code.clone()),
        Some(rcode("damaged"))
    );

    // Revert to the list price removes the override.
    let ev = change_line(
        &o,
        w.ctx(Role::Agent),
        ChangeLine {
            line_id: id,
            quantity: None,
            price: Some(PriceChange::Revert),
        },
    )
    .unwrap();
    assert_eq!(
        ev,
        OrderEvent::LineChanged {
            line_id: id,
            quantity: None,
            unit_price: Some(d("10.00")),
            price_override: Some(None)
        }
    );
    apply(&mut o, &ev);
    assert_eq!(
        (o.lines[&id].unit_price, o.lines[&id].price_override.clone()),
        (d("10.00"), None)
    );

    // Setting the list price is a revert too.
    let set = PriceChange::Set {
        unit_price: d("10"),
        reason: None,
    };
    let ev = change_line(
        &o,
        w.ctx(Role::Agent),
        ChangeLine {
            line_id: id,
            quantity: None,
            price: Some(set),
        },
    )
    .unwrap();
    assert!(matches!(
        ev,
        OrderEvent::LineChanged {
            price_override: Some(None),
            ..
        }
    ));

    // Removal is a tombstone: the line stays, inactive, and leaves the totals.
    w.run(&mut o, |x| remove_line(x, w.ctx(Role::Agent), id));
    assert_eq!(o.lines[&id].removed, Some(w.stamp()));
    assert_eq!(o.active_lines().count(), 0);
    assert_eq!(o.totals(&w.cc, &w.catalog).subtotal.to_string(), "0.00");
}

#[test]
fn coupon_rules() {
    let mut w = World::new();
    let mut o = w.order();
    w.add(&mut o, "widget", 5); // subtotal 50.00
    let mut applied = o.clone();
    w.apply_coupon(&mut applied, "TEN");
    let mut removed = applied.clone();
    w.run(&mut removed, |x| {
        remove_coupon(x, w.ctx(Role::Agent), coupon("TEN"))
    });
    let mut small = w.order();
    w.add(&mut small, "widget", 4);
    w.add(&mut small, "cable", 1);
    w.add(&mut small, "batteries", 1);
    w.add(&mut small, "freebie", 1); // 40.00 + 3.50 + 4.99 = 48.49
    w.pay(&mut small, "1.50"); // payments do not count toward the minimum
    let mut exactly_min = w.order();
    w.add(&mut exactly_min, "widget", 5); // 50.00

    let summer_from = ts("2026-06-01T00:00:00Z");
    let summer_to = ts("2026-06-30T23:59:59.999Z");
    let cases: Vec<(&str, &Order, &str, u32, Timestamp, Result<(), OrderError>)> = vec![
        ("percent coupon", &o, "TEN", 0, w.now, Ok(())),
        (
            "unknown coupon",
            &o,
            "NOPE",
            0,
            w.now,
            Err(OrderError::CouponUnknown(coupon("NOPE"))),
        ),
        (
            "already applied",
            &applied,
            "TEN",
            0,
            w.now,
            Err(OrderError::CouponAlreadyApplied(coupon("TEN"))),
        ),
        (
            "applied, removed, applied again",
            &removed,
            "TEN",
            0,
            w.now,
            Ok(()),
        ),
        ("second coupon", &applied, "FIVE-OFF", 0, w.now, Ok(())),
        (
            "window: first instant",
            &o,
            "SUMMER",
            0,
            summer_from,
            Ok(()),
        ),
        (
            "window: 1 ms early",
            &o,
            "SUMMER",
            0,
            ms(summer_from, -1),
            Err(OrderError::CouponOutsideWindow(coupon("SUMMER"))),
        ),
        ("window: last instant", &o, "SUMMER", 0, summer_to, Ok(())),
        (
            "window: 1 ms late",
            &o,
            "SUMMER",
            0,
            ms(summer_to, 1),
            Err(OrderError::CouponOutsideWindow(coupon("SUMMER"))),
        ),
        (
            "minimum: exactly met",
            &exactly_min,
            "MIN50",
            0,
            w.now,
            Ok(()),
        ),
        (
            "minimum: 1.51 short",
            &small,
            "MIN50",
            0,
            w.now,
            Err(OrderError::CouponMinimum {
                code: coupon("MIN50"),
                min: d("50.00"),
            }),
        ),
        ("usage: below the limit", &o, "LIMITED", 2, w.now, Ok(())),
        (
            "usage: at the limit",
            &o,
            "LIMITED",
            3,
            w.now,
            Err(OrderError::CouponUsedUp(coupon("LIMITED"))),
        ),
        (
            "usage: beyond the limit",
            &o,
            "LIMITED",
            9,
            w.now,
            Err(OrderError::CouponUsedUp(coupon("LIMITED"))),
        ),
        (
            "usage: unlimited coupon",
            &o,
            "TEN",
            1_000_000,
            w.now,
            Ok(()),
        ),
    ];
    for (case, order, code, used, now, want) in cases {
        w.now = now;
        check(
            case,
            apply_coupon(order, w.ctx(Role::Agent), coupon(code), used),
            want,
        );
    }
    w.now = ts(NOW);

    // Through the one dispatch, the usage count comes from the caller's reads, asked about this
    // coupon and this order.
    struct Uses(u32, OrderId);
    impl OrderReads for Uses {
        fn coupon_uses_elsewhere(&self, code: &CouponCode, order: OrderId) -> u32 {
            assert_eq!((code.as_str(), order), ("LIMITED", self.1));
            self.0
        }
    }
    for (used, want) in [
        (2, Ok(())),
        (3, Err(OrderError::CouponUsedUp(coupon("LIMITED")))),
    ] {
        let cmd = OrderCommand::ApplyCoupon(coupon("LIMITED"));
        let got = decide(&o, w.ctx(Role::Agent), cmd, &Uses(used, o.id));
        check("decide: coupon uses from reads", got, want);
    }
    assert_eq!(
        decide(&o, w.ctx(Role::Agent), OrderCommand::Submit, &NoReads),
        submit(&o, w.ctx(Role::Agent)),
    );

    let ev = apply_coupon(&o, w.ctx(Role::Agent), coupon("TEN"), 0).unwrap();
    assert_eq!(
        ev,
        OrderEvent::CouponApplied(CouponUse {
            code: coupon("TEN"),
            applied: w.stamp(),
            removed: None
        })
    );

    check(
        "remove applied",
        remove_coupon(&applied, w.ctx(Role::Agent), coupon("TEN")),
        Ok(()),
    );
    check(
        "remove not applied",
        remove_coupon(&o, w.ctx(Role::Agent), coupon("TEN")),
        Err(OrderError::CouponNotApplied(coupon("TEN"))),
    );
    check(
        "remove already removed",
        remove_coupon(&removed, w.ctx(Role::Agent), coupon("TEN")),
        Err(OrderError::CouponNotApplied(coupon("TEN"))),
    );
    check(
        "outsider",
        apply_coupon(&o, w.ctx_of(&w.outsider), coupon("TEN"), 0),
        Err(OrderError::NotInCallCenter(ccid("north"))),
    );

    w.cc.order_completion = false;
    check(
        "order completion off",
        apply_coupon(&o, w.ctx(Role::Agent), coupon("TEN"), 0),
        Err(OrderError::OrderCompletionOff),
    );
}

#[test]
fn payment_rules() {
    let mut w = World::new();
    let mut o = w.order();
    w.add(&mut o, "widget", 200); // 2,000.00
    let invalid = |message: &str| {
        Err(OrderError::InvalidAmount {
            field: "amount",
            message: message.into(),
        })
    };
    let cases: Vec<(&str, &str, &str, Result<&str, OrderError>)> = vec![
        ("card", "card", "10.00", Ok("10.00")),
        ("cash, fewer decimals", "cash", "10.5", Ok("10.50")),
        ("trailing zeros fit", "card", "1.2300", Ok("1.23")),
        ("smallest unit", "card", "0.01", Ok("0.01")),
        (
            "unknown method",
            "bitcoin",
            "10.00",
            Err(OrderError::PaymentMethodUnknown(pmethod("bitcoin"))),
        ),
        ("zero", "card", "0", invalid("must be positive")),
        ("negative", "card", "-5.00", invalid("must be positive")),
        (
            "too many decimals",
            "card",
            "1.001",
            invalid("has more decimals than EUR allows"),
        ),
        (
            "too large",
            "card",
            "1000000000.01",
            invalid("must be at most 1000000000"),
        ),
        ("the balance", "card", "2000.00", Ok("2000.00")),
        (
            "more than the balance",
            "card",
            "2000.01",
            invalid("must be at most 2000.00, the balance plus the payment tolerance"),
        ),
    ];
    for (case, method, amount, want) in cases {
        let cmd = AddPayment {
            id: PaymentId(w.fresh()),
            method: pmethod(method),
            amount: d(amount),
            reference: Some("auth-1".into()),
        };
        let got = add_payment(&o, w.ctx(Role::Agent), cmd).map(|ev| match ev {
            OrderEvent::PaymentAdded(p) => {
                assert_eq!(
                    (p.status(), p.added.clone(), p.reference.clone()),
                    (PaymentStatus::Authorized, w.stamp(), Some("auth-1".into()))
                );
                p.amount.to_string()
            }
            other => panic!("{case}: {other:?}"),
        });
        assert_eq!(got, want.map(String::from), "case: {case}");
    }
    let long_ref = AddPayment {
        id: PaymentId(w.fresh()),
        method: pmethod("card"),
        amount: d("1"),
        reference: Some("x".repeat(201)),
    };
    assert!(matches!(
        add_payment(&o, w.ctx(Role::Agent), long_ref),
        Err(OrderError::InvalidText {
            field: "reference",
            ..
        })
    ));

    // Voiding.
    let paid = w.pay(&mut o, "10.00");
    let mut voided = o.clone();
    w.run(&mut voided, |x| void_payment(x, w.ctx(Role::Agent), paid));
    assert_eq!(voided.payments[&paid].status(), PaymentStatus::Voided);
    assert_eq!(voided.totals(&w.cc, &w.catalog).paid.to_string(), "0.00");
    let missing = PaymentId(Uuid::from_u128(0xdead));
    check("void", void_payment(&o, w.ctx(Role::Agent), paid), Ok(()));
    check(
        "void unknown",
        void_payment(&o, w.ctx(Role::Agent), missing),
        Err(OrderError::PaymentNotFound(missing)),
    );
    check(
        "void twice",
        void_payment(&voided, w.ctx(Role::Agent), paid),
        Err(OrderError::PaymentAlreadyVoided(paid)),
    );

    // Payments stay open after submit, until release / cancel (within the total).
    let mut submitted = w.submitted();
    let first = *submitted.payments.keys().next().unwrap();
    let cash = |amount: &str| AddPayment {
        id: PaymentId(w.fresh()),
        method: pmethod("cash"),
        amount: d(amount),
        reference: None,
    };
    check(
        "pay after submit, beyond the total",
        add_payment(&submitted, w.ctx(Role::Agent), cash("1")),
        invalid("the order is already paid in full").map(|_| ()),
    );
    check(
        "void after submit",
        void_payment(&submitted, w.ctx(Role::Agent), first),
        Ok(()),
    );
    let mut repaid = submitted.clone();
    w.run(&mut repaid, |x| void_payment(x, w.ctx(Role::Agent), first));
    check(
        "pay after submit",
        add_payment(&repaid, w.ctx(Role::Agent), cash("10.00")),
        Ok(()),
    );
    w.run(&mut submitted, |x| release(x, w.ctx(Role::Agent)));
    check(
        "void after release",
        void_payment(&submitted, w.ctx(Role::Supervisor), first),
        Err(OrderError::InvalidTransition {
            from: Status::Released,
            action: "void a payment of",
        }),
    );
    let canceled = w.canceled();
    check(
        "pay a canceled order",
        add_payment(
            &canceled,
            w.ctx(Role::Agent),
            AddPayment {
                id: PaymentId(w.fresh()),
                method: pmethod("card"),
                amount: d("1"),
                reference: None,
            },
        ),
        Err(OrderError::InvalidTransition {
            from: Status::Canceled,
            action: "record a payment on",
        }),
    );

    w.cc.order_completion = false;
    check(
        "order completion off",
        add_payment(
            &o,
            w.ctx(Role::Agent),
            AddPayment {
                id: PaymentId(w.fresh()),
                method: pmethod("card"),
                amount: d("1"),
                reference: None,
            },
        ),
        Err(OrderError::OrderCompletionOff),
    );

    // JPY has no minor unit.
    w.cc.order_completion = true;
    w.cc.currency = Currency::parse("JPY").unwrap();
    let jpy = |amount: &str| {
        add_payment(
            &o,
            w.ctx(Role::Agent),
            AddPayment {
                id: PaymentId(w.fresh()),
                method: pmethod("card"),
                amount: d(amount),
                reference: None,
            },
        )
    };
    check("JPY whole", jpy("1000"), Ok(()));
    check(
        "JPY fraction",
        jpy("1000.5"),
        Err(OrderError::InvalidAmount {
            field: "amount",
            message: "has more decimals than JPY allows".into(),
        }),
    );
}

#[test]
fn manual_charge_rules() {
    let w = World::new();
    let mut o = w.order();
    let charge = |order: &Order, amount: &str, reason: &str| {
        add_charge(
            order,
            w.ctx(Role::Agent),
            AddCharge {
                id: ChargeId(w.fresh()),
                code: ChargeCode::parse("gift-wrap").unwrap(),
                amount: d(amount),
                reason_code: rcode(reason),
            },
        )
    };
    check("with a reason code", charge(&o, "3.00", "damaged"), Ok(()));
    check("zero is allowed", charge(&o, "0", "damaged"), Ok(()));
    check(
        "unknown reason code",
        charge(&o, "3.00", "whim"),
        Err(OrderError::ChargeReasonUnknown(rcode("whim"))),
    );
    check(
        "negative",
        charge(&o, "-3.00", "damaged"),
        Err(OrderError::InvalidAmount {
            field: "amount",
            message: "must not be negative".into(),
        }),
    );
    check(
        "too precise",
        charge(&o, "3.001", "damaged"),
        Err(OrderError::InvalidAmount {
            field: "amount",
            message: "has more decimals than EUR allows".into(),
        }),
    );
    let submitted = w.submitted();
    check(
        "after submit",
        charge(&submitted, "3.00", "damaged"),
        Err(OrderError::InvalidTransition {
            from: Status::Submitted,
            action: "add a charge to",
        }),
    );
    w.run(&mut o, |x| charge(x, "3.5", "damaged"));
    let c = o.charges.values().next().unwrap();
    assert_eq!(
        (c.amount.to_string(), c.reason_code.clone(), c.added.clone()),
        ("3.50".into(), rcode("damaged"), w.stamp())
    );
    assert_eq!(w.totals(&o)[2], "3.50");
}

#[test]
fn hold_rules() {
    use Role::*;
    let w = World::new();
    let mut o = w.order();
    w.add(&mut o, "widget", 1);
    let fraud = w.hold(&mut o, "fraud");
    let credit = w.hold(&mut o, "credit");
    let legal = w.hold(&mut o, "legal");
    let mut cleared = o.clone();
    w.run(&mut cleared, |x| {
        clear_hold(x, w.ctx(Supervisor), fraud, "ok".into())
    });
    // A system hold, as the merge-time checks place it.
    let system = HoldId(Uuid::from_u128(0x5157));
    o.holds.insert(
        system,
        Hold {
            id: system,
            code: hcode("system.coupon_over_limit"),
            reason: "over limit".into(),
            placed: Stamp {
                by: SYSTEM_USER,
                at: w.now,
            },
            system: true,
            cleared: None,
        },
    );
    let missing = HoldId(Uuid::from_u128(0xdead));
    let not_allowed = |code: &str, role: &'static str| {
        Err(OrderError::ClearNotAllowed {
            code: hcode(code),
            role,
        })
    };
    let cases: Vec<(&str, &Order, Role, HoldId, Result<(), OrderError>)> = vec![
        (
            "agent may not clear fraud",
            &o,
            Agent,
            fraud,
            not_allowed("fraud", "agent"),
        ),
        ("supervisor clears fraud", &o, Supervisor, fraud, Ok(())),
        ("agent clears credit", &o, Agent, credit, Ok(())),
        (
            "nobody listed for legal: agent",
            &o,
            Agent,
            legal,
            not_allowed("legal", "agent"),
        ),
        (
            "nobody listed for legal: supervisor",
            &o,
            Supervisor,
            legal,
            not_allowed("legal", "supervisor"),
        ),
        ("admin may always clear", &o, Admin, legal, Ok(())),
        (
            "system hold: agent may not",
            &o,
            Agent,
            system,
            not_allowed("system.coupon_over_limit", "agent"),
        ),
        (
            "system hold: supervisor may",
            &o,
            Supervisor,
            system,
            Ok(()),
        ),
        ("system hold: admin may", &o, Admin, system, Ok(())),
        (
            "clear twice",
            &cleared,
            Supervisor,
            fraud,
            Err(OrderError::HoldAlreadyCleared(fraud)),
        ),
        (
            "unknown hold",
            &o,
            Admin,
            missing,
            Err(OrderError::HoldNotFound(missing)),
        ),
    ];
    for (case, order, role, id, want) in cases {
        check(
            case,
            clear_hold(order, w.ctx(role), id, "resolved".into()),
            want,
        );
    }
    let c = cleared.holds[&fraud].cleared.clone().unwrap();
    assert_eq!(
        (c.by, c.at, c.reason.as_str()),
        (user(Supervisor), w.now, "ok")
    );
    assert!(!cleared.holds[&fraud].is_active() && cleared.holds[&credit].is_active());

    // Placing.
    let place = |order: &Order, code: &str| {
        place_hold(
            order,
            w.ctx(Agent),
            HoldId(w.fresh()),
            hcode(code),
            "why".into(),
        )
    };
    check("agent places a fraud hold", place(&o, "fraud"), Ok(()));
    check(
        "unknown hold code",
        place(&o, "whim"),
        Err(OrderError::HoldCodeUnknown(hcode("whim"))),
    );
    check(
        "hold on a submitted order",
        place(&w.submitted(), "fraud"),
        Ok(()),
    );
    check(
        "hold on a released order",
        place(&w.released(), "fraud"),
        Err(OrderError::InvalidTransition {
            from: Status::Released,
            action: "hold",
        }),
    );
    check(
        "hold on a canceled order",
        place(&w.canceled(), "fraud"),
        Err(OrderError::InvalidTransition {
            from: Status::Canceled,
            action: "hold",
        }),
    );
    assert!(matches!(
        place_hold(
            &o,
            w.ctx(Agent),
            HoldId(w.fresh()),
            hcode("fraud"),
            "x".repeat(1001)
        ),
        Err(OrderError::InvalidText {
            field: "reason",
            ..
        })
    ));
    let h = match place(&o, "credit").unwrap() {
        OrderEvent::HoldPlaced(h) => h,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (
            h.system,
            h.placed.clone(),
            h.cleared.clone(),
            h.reason.as_str()
        ),
        (false, w.stamp(), None, "why")
    );
}

#[test]
fn notes_are_allowed_in_every_status() {
    let w = World::new();
    for (case, order) in [
        ("open", w.order()),
        ("submitted", w.submitted()),
        ("released", w.released()),
        ("canceled", w.canceled()),
    ] {
        check(
            case,
            add_note(
                &order,
                w.ctx(Role::Agent),
                NoteId(w.fresh()),
                "called back".into(),
            ),
            Ok(()),
        );
    }
    let o = w.order();
    let note = |text: String| add_note(&o, w.ctx(Role::Agent), NoteId(w.fresh()), text);
    assert!(matches!(
        note("  ".into()),
        Err(OrderError::InvalidText { field: "text", .. })
    ));
    assert!(matches!(
        note("x".repeat(4001)),
        Err(OrderError::InvalidText { field: "text", .. })
    ));
    check("4000 characters", note("é".repeat(4000)), Ok(()));
    check(
        "outsider",
        add_note(&o, w.ctx_of(&w.outsider), NoteId(w.fresh()), "hi".into()),
        Err(OrderError::NotInCallCenter(ccid("north"))),
    );
}

#[test]
fn coupons_apply_in_code_order_whatever_order_they_were_applied_in() {
    // Coupons live in a map keyed by code, so two coupons always apply in code order, whatever
    // order they were applied in.
    let w = World::new();
    let mut a = w.order();
    w.add(&mut a, "widget", 10);
    let mut b = a.clone();
    w.apply_coupon(&mut a, "TEN");
    w.apply_coupon(&mut a, "FIVE-OFF");
    w.apply_coupon(&mut b, "FIVE-OFF");
    w.apply_coupon(&mut b, "TEN");
    // 100.00 less FIVE-OFF (5.00) is 95.00, less TEN (9.50) is 85.50.
    assert_eq!(w.totals(&a), w.totals(&b));
    assert_eq!(w.totals(&a)[1], "14.50");
}
