//! Configuration checks (what serde cannot express), admin-chosen codes, and the serde shapes
//! that documents and the API carry.

use super::fixture::*;
use crate::config::*;
use crate::customer::Customer;
use crate::order::Order;
use crate::*;

fn fields(errs: Vec<FieldError>) -> Vec<String> {
    errs.into_iter().map(|e| e.field).collect()
}

#[test]
fn call_center_validation() {
    let tiers = |cc: &mut CallCenter, t: &[(&str, Option<&str>, &str)]| {
        cc.delivery_modes[0].charges = t
            .iter()
            .map(|(from, to, amount)| ChargeTier {
                from: d(from),
                to: to.map(d),
                amount: d(amount),
            })
            .collect();
    };
    let cases: Vec<(&str, Box<dyn Fn(&mut CallCenter)>, Vec<&str>)> = vec![
        ("the fixture is valid", Box::new(|_| {}), vec![]),
        (
            "blank name",
            Box::new(|cc| cc.name = " ".into()),
            vec!["name"],
        ),
        (
            "negative tolerance",
            Box::new(|cc| cc.payment_tolerance = d("-0.01")),
            vec!["payment_tolerance"],
        ),
        (
            "zero tolerance",
            Box::new(|cc| cc.payment_tolerance = d("0")),
            vec![],
        ),
        (
            "duplicate payment method",
            Box::new(|cc| {
                let m = cc.payment_methods[0].clone();
                cc.payment_methods.push(m)
            }),
            vec!["payment_methods"],
        ),
        (
            "duplicate delivery mode",
            Box::new(|cc| {
                let m = cc.delivery_modes[2].clone();
                cc.delivery_modes.push(m)
            }),
            vec!["delivery_modes"],
        ),
        (
            "duplicate hold code",
            Box::new(|cc| {
                let h = cc.hold_codes[0].clone();
                cc.hold_codes.push(h)
            }),
            vec!["hold_codes"],
        ),
        (
            "duplicate reason code",
            Box::new(|cc| {
                let r = cc.reason_codes[0].clone();
                cc.reason_codes.push(r)
            }),
            vec!["reason_codes"],
        ),
        (
            "adjacent tiers",
            Box::new(move |cc| tiers(cc, &[("0", Some("50"), "5"), ("50", None, "0")])),
            vec![],
        ),
        (
            "tiers in any order",
            Box::new(move |cc| tiers(cc, &[("50", None, "0"), ("0", Some("50"), "5")])),
            vec![],
        ),
        (
            "overlapping tiers",
            Box::new(move |cc| tiers(cc, &[("0", Some("60"), "5"), ("50", None, "0")])),
            vec!["delivery_modes[0].charges"],
        ),
        (
            "an open-ended tier before another",
            Box::new(move |cc| tiers(cc, &[("0", None, "5"), ("50", None, "0")])),
            vec!["delivery_modes[0].charges"],
        ),
        (
            "empty tier",
            Box::new(move |cc| tiers(cc, &[("50", Some("50"), "5")])),
            vec!["delivery_modes[0].charges[0]"],
        ),
        (
            "negative charge",
            Box::new(move |cc| tiers(cc, &[("0", None, "-1")])),
            vec!["delivery_modes[0].charges[0].amount"],
        ),
        (
            "charge too precise",
            Box::new(move |cc| tiers(cc, &[("0", None, "1.001")])),
            vec!["delivery_modes[0].charges[0].amount"],
        ),
        (
            "limit of 100%",
            Box::new(|cc| {
                cc.price_override_limits.insert(Role::Admin, d("100"));
            }),
            vec![],
        ),
        (
            "limit over 100%",
            Box::new(|cc| {
                cc.price_override_limits.insert(Role::Admin, d("100.01"));
            }),
            vec!["price_override_limits.admin"],
        ),
        (
            "negative limit",
            Box::new(|cc| {
                cc.price_override_limits.insert(Role::Agent, d("-1"));
            }),
            vec!["price_override_limits.agent"],
        ),
    ];
    for (case, edit, want) in cases {
        let mut cc = call_center();
        edit(&mut cc);
        assert_eq!(fields(cc.validate()), want, "case: {case}");
    }
}

#[test]
fn catalog_validation() {
    let mut p = product("x", "1.00", true);
    assert!(p.validate().is_empty());
    p.name = "".into();
    p.price = d("-1");
    p.continuity = Some(Continuity {
        every_days: 0,
        times: 0,
    });
    assert_eq!(
        fields(p.validate()),
        ["name", "price", "continuity.every_days", "continuity.times"]
    );

    let mut s = source("S", Some("2026-02-01"), Some("2026-01-31"));
    s.discount_percent = d("100.5");
    assert_eq!(fields(s.validate()), ["valid_to", "discount_percent"]);
    let same_instant = source("S", Some("2026-02-01"), Some("2026-02-01"));
    assert!(same_instant.validate().is_empty());

    let cases = [
        (CouponKind::Percent, "100", "0", vec![]),
        (CouponKind::Percent, "100.01", "0", vec!["value"]),
        (CouponKind::Amount, "250", "0", vec![]),
        (CouponKind::Amount, "0", "0", vec!["value"]),
        (CouponKind::Amount, "5", "-1", vec!["min_order"]),
    ];
    for (kind, value, min, want) in cases {
        let mut c = coupon_def("C", kind, value);
        c.min_order = d(min);
        assert_eq!(fields(c.validate()), want, "{kind:?} {value} {min}");
    }

    let mut g = catalog().price_groups[&pgroup("north-pg")].clone();
    assert!(g.validate().is_empty());
    g.prices.insert(pid("cable"), d("-0.01"));
    assert_eq!(fields(g.validate()), ["prices.cable"]);
}

#[test]
fn codes_roles_currencies_and_quantities() {
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    let cases = [
        ("a", true),
        ("north-retail_2.0", true),
        (long.as_str(), true),
        (too_long.as_str(), false),
        ("", false),
        ("with space", false),
        ("slash/", false),
        ("é", false),
    ];
    for (code, ok) in cases {
        assert_eq!(ProductId::parse(code).is_ok(), ok, "{code:?}");
        assert_eq!(
            serde_json::from_str::<CouponCode>(&format!("\"{code}\"")).is_ok(),
            ok,
            "{code:?}"
        );
    }
    for r in [Role::Agent, Role::Supervisor, Role::Admin] {
        assert_eq!(Role::parse(r.as_str()), Some(r));
    }
    assert_eq!(Role::parse("Agent"), None);
    for (code, minor) in [
        ("EUR", 2),
        ("USD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("KWD", 3),
        ("BHD", 3),
    ] {
        assert_eq!(
            Currency::parse(code).unwrap().minor_units(),
            minor,
            "{code}"
        );
    }
    assert!(serde_json::from_str::<Quantity>("0").is_err());
    assert_eq!(serde_json::from_str::<Quantity>("3").unwrap().get(), 3);
}

#[test]
fn serde_round_trips_and_api_shapes() {
    let w = World::new();
    let cc = call_center();
    let back: CallCenter = serde_json::from_str(&serde_json::to_string(&cc).unwrap()).unwrap();
    assert_eq!(back, cc);
    let cat = catalog();
    let back: Catalog = serde_json::from_str(&serde_json::to_string(&cat).unwrap()).unwrap();
    assert_eq!(back, cat);

    let mut o = w.order_with(Some("SPRING"), Some("std"));
    w.add(&mut o, "widget", 2);
    w.pay(&mut o, "5.00");
    w.hold(&mut o, "fraud");
    w.apply_coupon(&mut o, "TEN");
    let back: Order = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
    assert_eq!(back, o);
    let c = w.customer();
    let back: Customer = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);

    // Money is a string, roles are snake_case map keys, windows are flat.
    let json = serde_json::to_value(&cc).unwrap();
    assert_eq!(json["payment_tolerance"], "0.00");
    assert_eq!(json["price_override_limits"]["agent"], "5");
    let coupon: Coupon = serde_json::from_str(
        r#"{"code":"TEN","kind":"percent","value":"10","min_order":"0.00",
            "valid_from":"2026-01-01T00:00:00Z","valid_to":null,"max_uses":null}"#,
    )
    .unwrap();
    assert_eq!(coupon.window.valid_from, Some(ts("2026-01-01")));
    assert_eq!(
        (coupon.window.valid_to, coupon.max_uses, coupon.value),
        (None, None, d("10"))
    );
    let bad = r#"{"code":"TEN","kind":"percent","value":"10","valid_from":"yesterday"}"#;
    assert!(serde_json::from_str::<Coupon>(bad).is_err());
}

#[test]
fn actors_act_in_their_own_call_center_node_admins_in_every_one() {
    let (north, south) = (ccid("north"), ccid("south"));
    for role in [Role::Agent, Role::Supervisor] {
        let a = actor(role);
        assert!(a.acts_in(&north), "{role:?} in its own call center");
        assert!(!a.acts_in(&south), "{role:?} in another call center");
        let unscoped = Actor {
            call_center: None,
            ..a
        };
        assert!(!unscoped.acts_in(&north), "{role:?} without a call center");
    }
    let admin = Actor {
        call_center: None,
        ..actor(Role::Admin)
    };
    assert!(admin.acts_in(&north) && admin.acts_in(&south));
    assert!(admin.is_node_admin());
    // An admin of a call center is scoped to it.
    let scoped = actor(Role::Admin);
    assert!(scoped.acts_in(&north) && !scoped.acts_in(&south));
    assert!(!scoped.is_node_admin());
    assert!(!actor(Role::Supervisor).is_node_admin());
}
