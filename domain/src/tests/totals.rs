//! Derived totals: discounts (source code, then coupons in code order), delivery tiers, manual
//! charges, payments, and half-even rounding at each line and at the totals.

use super::fixture::*;
use crate::config::{Catalog, CouponKind};
use crate::order::*;
use crate::*;

/// An order to price, by its parts. Lines are `(unit price, quantity)`, entered as they might
/// arrive from a document (unit prices with more decimals than the currency included).
struct Case {
    name: &'static str,
    currency: &'static str,
    source: Option<&'static str>,
    delivery: Option<&'static str>,
    lines: &'static [(&'static str, i64)],
    coupons: &'static [&'static str],
    charges: &'static [&'static str],
    payments: &'static [&'static str],
    /// subtotal, discount, charges, total, paid, balance
    want: [&'static str; 6],
}

const BASE: Case = Case {
    name: "",
    currency: "EUR",
    source: None,
    delivery: None,
    lines: &[],
    coupons: &[],
    charges: &[],
    payments: &[],
    want: ["0.00"; 6],
};

/// The fixture catalog plus coupons whose codes sort in a known order.
fn catalog() -> Catalog {
    let mut c = super::fixture::catalog();
    for (code, kind, value) in [
        ("A5", CouponKind::Amount, "5"),
        ("P10", CouponKind::Percent, "10"),
        ("Q5", CouponKind::Amount, "5"),
    ] {
        c.coupons
            .insert(coupon(code), coupon_def(code, kind, value));
    }
    c
}

fn build(w: &World, case: &Case) -> Order {
    let mut o = w.order();
    o.source_code = case.source.map(scode);
    o.delivery_mode = case.delivery.map(dmode);
    for (price, qty) in case.lines {
        let id = LineId(w.fresh());
        o.lines.insert(
            id,
            Line {
                id,
                product_id: pid("widget"),
                quantity: Quantity::new(*qty).unwrap(),
                list_price: d(price),
                unit_price: d(price),
                price_override: None,
                added: w.stamp(),
                removed: None,
            },
        );
    }
    for code in case.coupons {
        o.coupons.insert(
            coupon(code),
            CouponUse {
                code: coupon(code),
                applied: w.stamp(),
                removed: None,
            },
        );
    }
    for amount in case.charges {
        let id = ChargeId(w.fresh());
        o.charges.insert(
            id,
            Charge {
                id,
                code: ChargeCode::parse("manual").unwrap(),
                amount: d(amount),
                reason_code: rcode("damaged"),
                added: w.stamp(),
            },
        );
    }
    for amount in case.payments {
        let id = PaymentId(w.fresh());
        o.payments.insert(
            id,
            Payment {
                id,
                method: pmethod("card"),
                amount: d(amount),
                reference: None,
                added: w.stamp(),
                voided: None,
            },
        );
    }
    o
}

#[test]
fn totals() {
    let cases = [
        Case {
            name: "empty order",
            ..BASE
        },
        Case {
            name: "one line",
            lines: &[("10.00", 3)],
            want: ["30.00", "0.00", "0.00", "30.00", "0.00", "30.00"],
            ..BASE
        },
        Case {
            name: "several lines, part paid",
            lines: &[("10.00", 3), ("3.50", 2)],
            payments: &["20.00", "5.00"],
            want: ["37.00", "0.00", "0.00", "37.00", "25.00", "12.00"],
            ..BASE
        },
        Case {
            name: "overpaid",
            lines: &[("10.00", 1)],
            payments: &["12.00"],
            want: ["10.00", "0.00", "0.00", "10.00", "12.00", "-2.00"],
            ..BASE
        },
        Case {
            name: "source code 10%",
            source: Some("SPRING"),
            lines: &[("100.00", 1)],
            want: ["100.00", "10.00", "0.00", "90.00", "0.00", "90.00"],
            ..BASE
        },
        Case {
            name: "percent coupon then amount coupon",
            lines: &[("100.00", 1)],
            coupons: &["P10", "Q5"],
            want: ["100.00", "15.00", "0.00", "85.00", "0.00", "85.00"],
            ..BASE
        },
        Case {
            name: "amount coupon then percent coupon (code order)",
            lines: &[("100.00", 1)],
            coupons: &["A5", "P10"],
            want: ["100.00", "14.50", "0.00", "85.50", "0.00", "85.50"],
            ..BASE
        },
        Case {
            name: "source discount before coupons",
            source: Some("SPRING"),
            lines: &[("100.00", 1)],
            coupons: &["P10", "Q5"],
            want: ["100.00", "24.00", "0.00", "76.00", "0.00", "76.00"],
            ..BASE
        },
        Case {
            name: "amount coupon capped at the order",
            lines: &[("30.00", 1)],
            coupons: &["BIG"],
            want: ["30.00", "30.00", "0.00", "0.00", "0.00", "0.00"],
            ..BASE
        },
        Case {
            name: "amount coupon capped at what the source code left",
            source: Some("SPRING"),
            lines: &[("30.00", 1)],
            coupons: &["BIG"],
            want: ["30.00", "30.00", "0.00", "0.00", "0.00", "0.00"],
            ..BASE
        },
        Case {
            name: "second amount coupon capped at what the first left",
            lines: &[("7.00", 1)],
            coupons: &["A5", "Q5"],
            want: ["7.00", "7.00", "0.00", "0.00", "0.00", "0.00"],
            ..BASE
        },
        Case {
            name: "coupon no longer in the catalog gives nothing",
            lines: &[("7.00", 1)],
            coupons: &["GONE"],
            want: ["7.00", "0.00", "0.00", "7.00", "0.00", "7.00"],
            ..BASE
        },
        Case {
            name: "tier [0, 50): 49.99",
            delivery: Some("std"),
            lines: &[("49.99", 1)],
            want: ["49.99", "0.00", "5.95", "55.94", "0.00", "55.94"],
            ..BASE
        },
        Case {
            name: "tier [50, 100): 50.00",
            delivery: Some("std"),
            lines: &[("50.00", 1)],
            want: ["50.00", "0.00", "2.95", "52.95", "0.00", "52.95"],
            ..BASE
        },
        Case {
            name: "tier [50, 100): 99.99",
            delivery: Some("std"),
            lines: &[("99.99", 1)],
            want: ["99.99", "0.00", "2.95", "102.94", "0.00", "102.94"],
            ..BASE
        },
        Case {
            name: "tier [100, ..) is free: 100.00",
            delivery: Some("std"),
            lines: &[("100.00", 1)],
            want: ["100.00", "0.00", "0.00", "100.00", "0.00", "100.00"],
            ..BASE
        },
        Case {
            name: "tier picked after discounts",
            source: Some("SPRING"),
            delivery: Some("std"),
            lines: &[("55.00", 1)],
            want: ["55.00", "5.50", "5.95", "55.45", "0.00", "55.45"],
            ..BASE
        },
        Case {
            name: "flat delivery charge",
            delivery: Some("express"),
            lines: &[("500.00", 1)],
            want: ["500.00", "0.00", "15.00", "515.00", "0.00", "515.00"],
            ..BASE
        },
        Case {
            name: "delivery mode without tiers",
            delivery: Some("pickup"),
            lines: &[("5.00", 1)],
            want: ["5.00", "0.00", "0.00", "5.00", "0.00", "5.00"],
            ..BASE
        },
        Case {
            name: "free shipping",
            source: Some("FREESHIP"),
            delivery: Some("std"),
            lines: &[("10.00", 1)],
            want: ["10.00", "0.00", "0.00", "10.00", "0.00", "10.00"],
            ..BASE
        },
        Case {
            name: "free shipping keeps manual charges",
            source: Some("FREESHIP"),
            delivery: Some("std"),
            lines: &[("10.00", 1)],
            charges: &["3.00"],
            want: ["10.00", "0.00", "3.00", "13.00", "0.00", "13.00"],
            ..BASE
        },
        Case {
            name: "manual and automatic charges",
            delivery: Some("std"),
            lines: &[("10.00", 1)],
            charges: &["2.50", "1.25"],
            want: ["10.00", "0.00", "9.70", "19.70", "0.00", "19.70"],
            ..BASE
        },
        Case {
            name: "line half rounds to even: down",
            lines: &[("0.125", 1)],
            want: ["0.12", "0.00", "0.00", "0.12", "0.00", "0.12"],
            ..BASE
        },
        Case {
            name: "line half rounds to even: up",
            lines: &[("0.135", 1)],
            want: ["0.14", "0.00", "0.00", "0.14", "0.00", "0.14"],
            ..BASE
        },
        Case {
            name: "line rounded after the quantity",
            lines: &[("0.125", 3)],
            want: ["0.38", "0.00", "0.00", "0.38", "0.00", "0.38"],
            ..BASE
        },
        Case {
            name: "each line rounded before the sum",
            lines: &[("0.125", 1), ("0.125", 1)],
            want: ["0.24", "0.00", "0.00", "0.24", "0.00", "0.24"],
            ..BASE
        },
        Case {
            name: "discount half rounds to even: down",
            source: Some("SPRING"),
            lines: &[("0.25", 1)],
            want: ["0.25", "0.02", "0.00", "0.23", "0.00", "0.23"],
            ..BASE
        },
        Case {
            name: "discount half rounds to even: up",
            source: Some("SPRING"),
            lines: &[("0.35", 1)],
            want: ["0.35", "0.04", "0.00", "0.31", "0.00", "0.31"],
            ..BASE
        },
        Case {
            name: "coupon half rounds to even",
            lines: &[("1.25", 1)],
            coupons: &["TEN"],
            want: ["1.25", "0.12", "0.00", "1.13", "0.00", "1.13"],
            ..BASE
        },
        Case {
            name: "JPY: no minor unit, discount half down",
            currency: "JPY",
            source: Some("SPRING"),
            lines: &[("1005", 1)],
            payments: &["900"],
            want: ["1005", "100", "0", "905", "900", "5"],
            ..BASE
        },
        Case {
            name: "JPY: discount half up",
            currency: "JPY",
            source: Some("SPRING"),
            lines: &[("1015", 1)],
            want: ["1015", "102", "0", "913", "0", "913"],
            ..BASE
        },
        Case {
            name: "JPY: line halves",
            currency: "JPY",
            lines: &[("2.5", 1), ("3.5", 1)],
            want: ["6", "0", "0", "6", "0", "6"],
            ..BASE
        },
        Case {
            name: "JPY: empty",
            currency: "JPY",
            want: ["0"; 6],
            ..BASE
        },
        Case {
            name: "KWD: three decimals",
            currency: "KWD",
            lines: &[("1.2345", 1)],
            want: ["1.234", "0.000", "0.000", "1.234", "0.000", "1.234"],
            ..BASE
        },
    ];
    let mut w = World::new();
    w.catalog = catalog();
    for case in &cases {
        w.cc.currency = Currency::parse(case.currency).unwrap();
        let o = build(&w, case);
        assert_eq!(
            w.totals(&o),
            case.want.map(String::from),
            "case: {}",
            case.name
        );
    }
}

#[test]
fn pricing_names_each_part() {
    let mut w = World::new();
    w.catalog = catalog();
    let case = Case {
        source: Some("SPRING"),
        delivery: Some("std"),
        lines: &[("100.00", 1)],
        coupons: &["Q5", "P10"],
        charges: &["1.00"],
        ..BASE
    };
    let mut o = build(&w, &case);
    let p = o.pricing(&w.cc, &w.catalog);
    assert_eq!(p.source_discount.to_string(), "10.00");
    let coupons: Vec<(String, String)> = p
        .coupon_discounts
        .iter()
        .map(|c| (c.code.to_string(), c.discount.to_string()))
        .collect();
    assert_eq!(
        coupons,
        [
            ("P10".to_string(), "9.00".to_string()),
            ("Q5".into(), "5.00".into())
        ]
    );
    assert_eq!(
        p.auto_charge,
        Some(AutoCharge {
            delivery_mode: dmode("std"),
            amount: d("2.95")
        })
    );
    assert_eq!(
        p.auto_charge.as_ref().map(|a| a.amount.to_string()),
        Some("2.95".into())
    );
    assert_eq!(
        [
            p.totals.subtotal,
            p.totals.discount,
            p.totals.charges,
            p.totals.total
        ]
        .map(|v| v.to_string()),
        ["100.00", "24.00", "3.95", "79.95"]
    );

    // Removed lines, removed coupons and voided payments do not count.
    let line = *o.lines.keys().next().unwrap();
    let extra = LineId(w.fresh());
    let mut gone = o.lines[&line].clone();
    gone.id = extra;
    gone.removed = Some(w.stamp());
    o.lines.insert(extra, gone);
    o.coupons.get_mut(&coupon("Q5")).unwrap().removed = Some(w.stamp());
    let pay = PaymentId(w.fresh());
    o.payments.insert(
        pay,
        Payment {
            id: pay,
            method: pmethod("card"),
            amount: d("50"),
            reference: None,
            added: w.stamp(),
            voided: Some(w.stamp()),
        },
    );
    assert_eq!(
        w.totals(&o),
        ["100.00", "19.00", "3.95", "84.95", "0.00", "84.95"].map(String::from)
    );
    assert_eq!(
        Order::line_total(&o.lines[&line], &w.cc).to_string(),
        "100.00"
    );
}

#[test]
fn no_automatic_charge_is_listed_when_nothing_is_charged() {
    let w = World::new();
    // (source code, delivery mode, lines, the automatic charge listed in the order view)
    let cases: [(_, _, &'static [(&str, i64)], _); 5] = [
        (None, Some("std"), &[("49.99", 1)], Some("5.95")),
        (None, Some("std"), &[("100.00", 1)], None),
        (Some("FREESHIP"), Some("std"), &[("10.00", 1)], None),
        (None, Some("pickup"), &[("10.00", 1)], None),
        (None, None, &[("10.00", 1)], None),
    ];
    for (source, delivery, lines, want) in cases {
        let o = build(
            &w,
            &Case {
                source,
                delivery,
                lines,
                ..BASE
            },
        );
        let got = o
            .pricing(&w.cc, &w.catalog)
            .auto_charge
            .map(|a| a.amount.to_string());
        assert_eq!(got.as_deref(), want, "{source:?} {delivery:?} {lines:?}");
    }
}

#[test]
fn auto_charge_ids_are_stable_per_order_and_mode() {
    let w = World::new();
    let (o, other) = (w.order(), w.order());
    let (std, express) = (dmode("std"), dmode("express"));
    assert_eq!(o.auto_charge_id(&std), o.auto_charge_id(&std));
    assert_ne!(o.auto_charge_id(&std), o.auto_charge_id(&express));
    assert_ne!(o.auto_charge_id(&std), other.auto_charge_id(&std));
    assert_eq!(o.auto_charge_id(&std).get_version_num(), 5);
}

#[test]
fn last_stamp_is_the_latest_stamp_anywhere_in_the_order() {
    let w = World::new();
    let mut base = w.order();
    w.add(&mut base, "widget", 1);
    w.pay(&mut base, "5.00");
    w.hold(&mut base, "fraud");
    assert_eq!(base.last_stamp(), w.now);
    let later = Stamp {
        by: base.created.by,
        at: Timestamp::from_millis(w.now.as_millis() + 60_000),
    };
    // (where the latest stamp is, how it gets there)
    let cases: [(&str, fn(&mut Order, Stamp)); 7] = [
        ("created", |o, s| o.created = s),
        ("line removed", |o, s| {
            o.lines
                .values_mut()
                .for_each(|l| l.removed = Some(s.clone()))
        }),
        ("payment voided", |o, s| {
            o.payments
                .values_mut()
                .for_each(|p| p.voided = Some(s.clone()))
        }),
        ("hold cleared", |o, s| {
            o.holds.values_mut().for_each(|h| {
                h.cleared = Some(HoldClear {
                    by: s.by,
                    at: s.at,
                    reason: String::new(),
                })
            })
        }),
        ("submitted", |o, s| o.lifecycle.submitted = Some(s)),
        ("released", |o, s| o.lifecycle.released = Some(s)),
        ("canceled", |o, s| {
            o.lifecycle.canceled = Some((s, "why".into()))
        }),
    ];
    for (name, set) in cases {
        let mut o = base.clone();
        set(&mut o, later.clone());
        assert_eq!(o.last_stamp(), later.at, "{name}");
    }
}
