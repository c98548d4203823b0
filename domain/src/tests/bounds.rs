//! Money bounds (issue 14): configuration refuses amounts beyond `MAX_AMOUNT` or finer than the
//! currency; commands refuse results beyond the bound; counts per order are bounded; an order
//! that arrives out of bounds (an older node's document) prices without panicking and is refused
//! by commands; overpayment beyond the tolerance is refused. Extreme values never panic.

use super::fixture::*;
use crate::commands::*;
use crate::config::*;
use crate::money::{MAX_AMOUNT, MAX_CHARGES, MAX_LINES, MAX_PAYMENTS};
use crate::order::*;
use crate::*;
use proptest::prelude::*;
use uuid::Uuid;

/// The largest `Decimal`, as the probe sent it.
const HUGE: &str = "79228162514264337593543950335";

fn messages(errs: Vec<FieldError>) -> Vec<(String, String)> {
    errs.into_iter().map(|e| (e.field, e.message)).collect()
}

fn err(field: &str, message: &str) -> (String, String) {
    (field.to_string(), message.to_string())
}

fn amount_err<T: std::fmt::Debug>(field: &'static str, message: &str) -> Result<T, OrderError> {
    Err(OrderError::InvalidAmount {
        field,
        message: message.into(),
    })
}

fn line_cmd(w: &World, product: &str, qty: i64, unit_price: Option<&str>) -> AddLine {
    AddLine {
        id: LineId(w.fresh()),
        product_id: pid(product),
        quantity: Quantity::new(qty).unwrap(),
        unit_price: unit_price.map(d),
        override_reason: unit_price.map(|_| rcode("match")),
    }
}

fn charge_cmd(w: &World, amount: &str) -> AddCharge {
    AddCharge {
        id: ChargeId(w.fresh()),
        code: ChargeCode::parse("gift-wrap").unwrap(),
        amount: d(amount),
        reason_code: rcode("damaged"),
    }
}

#[test]
fn configuration_refuses_amounts_beyond_the_bound_or_the_precision() {
    let eur = [Currency::parse("EUR").unwrap()];
    let jpy = [Currency::parse("JPY").unwrap()];
    // Products: (price, currencies, errors)
    let cases: Vec<(&str, &[Currency], Vec<(String, String)>)> = vec![
        ("1000000000", &[], vec![]),
        ("999999999.99", &eur, vec![]),
        (
            "1000000000.01",
            &[],
            vec![err("price", "must be at most 1000000000")],
        ),
        (HUGE, &eur, vec![err("price", "must be at most 1000000000")]),
        (
            "1000000000000000000000000000",
            &[],
            vec![err("price", "must be at most 1000000000")],
        ),
        ("0.005", &[], vec![]),
        (
            "0.005",
            &eur,
            vec![err("price", "has more decimals than EUR allows")],
        ),
        (
            "19.99",
            &jpy,
            vec![err("price", "has more decimals than JPY allows")],
        ),
        (
            "0.0005",
            &[],
            vec![err("price", "must have at most 3 decimals")],
        ),
        ("1.5000", &eur, vec![]),
        ("-0.01", &eur, vec![err("price", "must not be negative")]),
    ];
    for (price, currencies, want) in cases {
        let p = product("x", price, true);
        assert_eq!(messages(p.validate_for(currencies)), want, "{price}");
        if currencies.is_empty() {
            assert_eq!(messages(p.validate()), want, "{price}");
        }
    }

    let mut g = PriceGroup {
        id: pgroup("g"),
        name: "G".into(),
        prices: [("a", "1.00"), ("b", HUGE), ("c", "0.005")]
            .into_iter()
            .map(|(k, v)| (pid(k), d(v)))
            .collect(),
    };
    assert_eq!(
        messages(g.validate_for(&eur)),
        [
            err("prices.b", "must be at most 1000000000"),
            err("prices.c", "has more decimals than EUR allows"),
        ]
    );
    g.prices.remove(&pid("b"));
    assert!(g.validate().is_empty(), "0.005 fits some currency");

    let mut c = coupon_def("C", CouponKind::Amount, HUGE);
    c.min_order = d("1e27");
    assert_eq!(
        messages(c.validate()),
        [
            err("value", "must be at most 1000000000"),
            err("min_order", "must be at most 1000000000"),
        ]
    );
    let mut c = coupon_def("C", CouponKind::Amount, "0.005");
    c.min_order = d("0.001");
    assert_eq!(
        messages(c.validate_for(&eur)),
        [
            err("value", "has more decimals than EUR allows"),
            err("min_order", "has more decimals than EUR allows"),
        ]
    );
    // A percent coupon's value is a percent, not money: any precision up to 100.
    assert!(coupon_def("C", CouponKind::Percent, "12.345")
        .validate_for(&eur)
        .is_empty());

    let mut cc = call_center();
    cc.payment_tolerance = d(HUGE);
    cc.delivery_modes[0].charges = vec![ChargeTier {
        from: d("0"),
        to: Some(d(HUGE)),
        amount: d(HUGE),
    }];
    cc.delivery_modes[1].charges[0].from = d("0.001");
    assert_eq!(
        messages(cc.validate()),
        [
            err("payment_tolerance", "must be at most 1000000000"),
            err(
                "delivery_modes[0].charges[0].to",
                "must be at most 1000000000"
            ),
            err(
                "delivery_modes[0].charges[0].amount",
                "must be at most 1000000000"
            ),
            err(
                "delivery_modes[1].charges[0].from",
                "has more decimals than EUR allows"
            ),
        ]
    );
    let mut cc = call_center();
    cc.payment_tolerance = d("0.001");
    assert_eq!(
        messages(cc.validate()),
        [err(
            "payment_tolerance",
            "has more decimals than EUR allows"
        )]
    );
}

#[test]
fn add_line_refuses_results_beyond_the_bound_and_never_panics() {
    let mut w = World::new();
    for (id, price) in [
        ("huge", HUGE),
        ("e27", "1000000000000000000000000000"),
        ("max", "1000000000"),
        ("big", "600000000.00"),
        ("cheap", "0.005"),
    ] {
        w.catalog.products.insert(pid(id), product(id, price, true));
    }
    let o = w.order();
    let add = |o: &Order, product: &str, qty: i64, price: Option<&str>| {
        add_line(
            o,
            w.ctx(Role::Supervisor),
            line_cmd(&w, product, qty, price),
        )
    };
    check(
        "a product priced at Decimal::MAX",
        add(&o, "huge", 1, None),
        amount_err(
            "product_id",
            "the list price 79228162514264337593543950335 of product huge must be at most 1000000000",
        ),
    );
    check(
        "1e27 × 1,000,000",
        add(&o, "e27", 1_000_000, None),
        amount_err(
            "product_id",
            "the list price 1000000000000000000000000000 of product e27 must be at most 1000000000",
        ),
    );
    check(
        "a sub-unit price",
        add(&o, "cheap", 1, None),
        amount_err(
            "product_id",
            "the list price 0.005 of product cheap has more decimals than EUR allows",
        ),
    );
    check("the bound itself", add(&o, "max", 1, None), Ok(()));
    check(
        "the bound × 1,000,000",
        add(&o, "max", 1_000_000, None),
        amount_err(
            "quantity",
            "makes the line total 1000000000000000.00, more than the maximum 1000000000",
        ),
    );
    check(
        "an override beyond the bound",
        add(&o, "widget", 1, Some(HUGE)),
        amount_err("unit_price", "must be at most 1000000000"),
    );
    check(
        "an override within the bound, times the quantity beyond it",
        add(&o, "widget", 2, Some("999999999.99")),
        amount_err(
            "unit_price",
            "makes the line total 1999999999.98, more than the maximum 1000000000",
        ),
    );
    let mut one = o.clone();
    let first = LineId(w.fresh());
    w.run(&mut one, |x| {
        add_line(
            x,
            w.ctx(Role::Agent),
            AddLine {
                id: first,
                ..line_cmd(&w, "big", 1, None)
            },
        )
    });
    check(
        "two lines whose sum is beyond the bound",
        add(&one, "big", 1, None),
        amount_err(
            "quantity",
            "would bring the order subtotal to 1200000000.00, more than the maximum 1000000000",
        ),
    );
    check(
        "a quantity change beyond the bound",
        change_line(
            &one,
            w.ctx(Role::Agent),
            ChangeLine {
                line_id: first,
                quantity: Some(Quantity::new(2).unwrap()),
                price: None,
            },
        ),
        amount_err(
            "quantity",
            "makes the line total 1200000000.00, more than the maximum 1000000000",
        ),
    );
    check(
        "a price change beyond the bound",
        change_line(
            &one,
            w.ctx(Role::Supervisor),
            ChangeLine {
                line_id: first,
                quantity: None,
                price: Some(PriceChange::Set {
                    unit_price: d(HUGE),
                    reason: Some(rcode("match")),
                }),
            },
        ),
        amount_err("unit_price", "must be at most 1000000000"),
    );
    check(
        "a charge beyond the bound",
        add_charge(&one, w.ctx(Role::Agent), charge_cmd(&w, HUGE)),
        amount_err("amount", "must be at most 1000000000"),
    );
    check(
        "a charge that takes the total beyond the bound",
        add_charge(&one, w.ctx(Role::Agent), charge_cmd(&w, "400000000.01")),
        amount_err(
            "amount",
            "would bring the order total to 1000000000.01, more than the maximum 1000000000",
        ),
    );
    check(
        "a charge that takes the total to the bound",
        add_charge(&one, w.ctx(Role::Agent), charge_cmd(&w, "400000000.00")),
        Ok(()),
    );
}

#[test]
fn a_delivery_charge_beyond_the_bound_is_refused_not_a_panic() {
    // As the probe stored it before configuration refused it: an automatic charge of
    // Decimal::MAX (the express tier starts at 0, so it applies at once). Pricing saturates
    // instead of panicking; commands refuse, naming the field.
    let mut w = World::new();
    w.cc.delivery_modes[1].charges[0].amount = d(HUGE);
    let o = w.order_with(None, Some("express"));
    assert_eq!(o.try_totals(&w.cc, &w.catalog).unwrap().total, d(HUGE));
    for _ in 0..2 {
        // The issue saw every later add-line fail the same way: each is refused alike.
        check(
            "add a line",
            add_line(&o, w.ctx(Role::Agent), line_cmd(&w, "widget", 1, None)),
            amount_err("quantity", "would make the order's amounts overflow"),
        );
    }
    // Such a line written anyway (by an older node) prices without panicking.
    let mut stored = o.clone();
    apply(
        &mut stored,
        &OrderEvent::LineAdded(Line {
            id: LineId(w.fresh()),
            product_id: pid("widget"),
            quantity: Quantity::new(1).unwrap(),
            list_price: d("10.00"),
            unit_price: d("10.00"),
            price_override: None,
            added: w.stamp(),
            removed: None,
        }),
    );
    let t = stored.totals(&w.cc, &w.catalog);
    assert_eq!(t.total, Decimal::MAX, "saturated, not a panic");
    assert_eq!(
        stored.try_totals(&w.cc, &w.catalog),
        Err(AmountOverflow),
        "and known to be so"
    );
    check(
        "a note on an overflowing order",
        add_note(&stored, w.ctx(Role::Agent), NoteId(w.fresh()), "hi".into()),
        Ok(()),
    );
    check(
        "submit an overflowing order",
        submit(&stored, w.ctx(Role::Agent)),
        amount_err("lines", "would make the order's amounts overflow"),
    );
    check(
        "pay an overflowing order",
        add_payment(
            &stored,
            w.ctx(Role::Agent),
            AddPayment {
                id: PaymentId(w.fresh()),
                method: pmethod("card"),
                amount: d("1.00"),
                reference: None,
            },
        ),
        amount_err("amount", "would make the order's amounts overflow"),
    );
    // A line total beyond what a Decimal holds saturates too.
    let mut line = stored.lines.values().next().unwrap().clone();
    line.unit_price = d(HUGE);
    line.quantity = Quantity::new(1_000_000).unwrap();
    assert_eq!(Order::line_total(&line, &w.cc), Decimal::MAX);
    assert_eq!(Order::try_line_total(&line, &w.cc), None);
}

#[test]
fn an_order_already_beyond_the_bound_may_shrink_but_not_grow() {
    // Two sites each added a line of 600,000,000 while apart; the merge is beyond the bound.
    let mut w = World::new();
    w.catalog
        .products
        .insert(pid("big"), product("big", "600000000.00", true));
    let mut merged = w.order();
    let a = w.add(&mut merged, "big", 1);
    let mut line = merged.lines[&a].clone();
    line.id = LineId(w.fresh());
    let b = line.id;
    merged.lines.insert(b, line);
    assert_eq!(
        merged.totals(&w.cc, &w.catalog).subtotal.to_string(),
        "1200000000.00"
    );
    check(
        "remove a line",
        remove_line(&merged, w.ctx(Role::Agent), b),
        Ok(()),
    );
    check(
        "add another line",
        add_line(&merged, w.ctx(Role::Agent), line_cmd(&w, "widget", 1, None)),
        amount_err(
            "quantity",
            "would bring the order subtotal to 1200000010.00, more than the maximum 1000000000",
        ),
    );
    check(
        "lower a price",
        change_line(
            &merged,
            w.ctx(Role::Admin),
            ChangeLine {
                line_id: b,
                quantity: None,
                price: Some(PriceChange::Set {
                    unit_price: d("500000000.00"),
                    reason: Some(rcode("match")),
                }),
            },
        ),
        Ok(()),
    );
}

#[test]
fn orders_hold_a_bounded_number_of_lines_charges_and_payments() {
    let w = World::new();
    let mut o = w.order();
    let first = w.add(&mut o, "freebie", 1);
    let template = o.lines[&first].clone();
    for i in 1..MAX_LINES {
        let id = LineId(Uuid::from_u128(0x5000 + i as u128));
        o.lines.insert(
            id,
            Line {
                id,
                ..template.clone()
            },
        );
    }
    check(
        "one line too many",
        add_line(&o, w.ctx(Role::Agent), line_cmd(&w, "widget", 1, None)),
        Err(OrderError::TooMany {
            field: "lines",
            max: MAX_LINES,
        }),
    );
    let mut fewer = o.clone();
    w.run(&mut fewer, |x| remove_line(x, w.ctx(Role::Agent), first));
    check(
        "removed lines do not count",
        add_line(&fewer, w.ctx(Role::Agent), line_cmd(&w, "widget", 1, None)),
        Ok(()),
    );

    let mut o = w.order();
    w.add(&mut o, "widget", 100);
    for _ in 0..MAX_CHARGES {
        w.run(&mut o, |x| {
            add_charge(x, w.ctx(Role::Agent), charge_cmd(&w, "0.01"))
        });
    }
    check(
        "one charge too many",
        add_charge(&o, w.ctx(Role::Agent), charge_cmd(&w, "0.01")),
        Err(OrderError::TooMany {
            field: "charges",
            max: MAX_CHARGES,
        }),
    );
    for _ in 0..MAX_PAYMENTS {
        let p = w.pay(&mut o, "0.01");
        w.run(&mut o, |x| void_payment(x, w.ctx(Role::Agent), p));
    }
    check(
        "one payment too many, voided ones included",
        add_payment(
            &o,
            w.ctx(Role::Agent),
            AddPayment {
                id: PaymentId(w.fresh()),
                method: pmethod("card"),
                amount: d("0.01"),
                reference: None,
            },
        ),
        Err(OrderError::TooMany {
            field: "payments",
            max: MAX_PAYMENTS,
        }),
    );
    assert_eq!(
        OrderError::TooMany {
            field: "payments",
            max: MAX_PAYMENTS
        }
        .to_string(),
        "an order may have at most 100 payments"
    );
}

#[test]
fn overpayment_beyond_the_tolerance_is_refused() {
    let mut w = World::new();
    w.cc.payment_tolerance = d("0.05");
    let mut o = w.order();
    w.add(&mut o, "widget", 2); // 20.00
    let pay = |o: &Order, amount: &str| {
        add_payment(
            o,
            w.ctx(Role::Agent),
            AddPayment {
                id: PaymentId(w.fresh()),
                method: pmethod("card"),
                amount: d(amount),
                reference: None,
            },
        )
    };
    check("the balance", pay(&o, "20.00"), Ok(()));
    check("the balance plus the tolerance", pay(&o, "20.05"), Ok(()));
    check(
        "one cent beyond",
        pay(&o, "20.06"),
        amount_err(
            "amount",
            "must be at most 20.05, the balance plus the payment tolerance",
        ),
    );
    check(
        "the issue's probe: 99,999.00 on a 20.00 order",
        pay(&o, "99999.00"),
        amount_err(
            "amount",
            "must be at most 20.05, the balance plus the payment tolerance",
        ),
    );
    let mut part = o.clone();
    w.pay(&mut part, "15.00");
    check(
        "the rest",
        pay(&part, "5.06"),
        amount_err(
            "amount",
            "must be at most 5.05, the balance plus the payment tolerance",
        ),
    );
    let mut full = o.clone();
    w.pay(&mut full, "20.05");
    check(
        "nothing left",
        pay(&full, "0.01"),
        amount_err("amount", "the order is already paid in full"),
    );
    check(
        "overpaid by the tolerance submits",
        submit(&full, w.ctx(Role::Agent)),
        Ok(()),
    );
    let t = full.totals(&w.cc, &w.catalog);
    assert_eq!(
        (t.paid.to_string(), t.balance.to_string()),
        ("20.05".into(), "-0.05".into())
    );
}

/// A `Decimal` anywhere in its range: mantissas up to 96 bits, scales 0 to 28, extremes often.
fn any_decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        1 => Just(Decimal::MAX),
        1 => Just(Decimal::ONE),
        1 => Just(MAX_AMOUNT),
        1 => Just(Decimal::from_i128_with_scale(10i128.pow(27), 0)),
        2 => (any::<u32>(), any::<u32>(), any::<u32>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, scale)| Decimal::from_parts(lo, mid, hi, false, scale)),
        2 => (0i64..10_000_000_000_000, 0u32..=4).prop_map(|(m, s)| Decimal::new(m, s)),
        8 => moderate(),
    ]
}

/// An everyday amount: up to 1,000,000.00, at most 2 decimals (JPY refuses most of them).
fn moderate() -> impl Strategy<Value = Decimal> {
    (0i64..100_000_000, 0u32..=2).prop_map(|(m, s)| Decimal::new(m, s))
}

fn any_quantity() -> impl Strategy<Value = i64> {
    prop_oneof![4 => 1i64..=100, 1 => Just(1_000_000), 1 => 1i64..=1_000_000]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any prices, charges and payments, however extreme, in any currency: pricing never panics,
    /// commands answer (never panic), and whatever a command accepts stays within the bounds.
    #[test]
    fn extreme_amounts_never_panic_and_accepted_results_stay_bounded(
        currency in prop::sample::select(vec!["EUR", "JPY", "KWD"]),
        prices in prop::collection::vec((any_decimal(), any_quantity()), 1..4),
        tier in prop_oneof![4 => moderate(), 1 => any_decimal()],
        charge in any_decimal(),
        payment in any_decimal(),
        stored in prop::collection::vec((any_decimal(), any_quantity()), 0..3),
    ) {
        let mut w = World::new();
        w.cc.currency = Currency::parse(currency).unwrap();
        w.cc.delivery_modes[1].charges[0].amount = tier;
        for (i, (price, _)) in prices.iter().enumerate() {
            let id = format!("p{i}");
            w.catalog.products.insert(pid(&id), product(&id, "1", true));
            w.catalog.products.get_mut(&pid(&id)).unwrap().price = *price;
        }
        let mut o = w.order_with(None, Some("express"));
        // Lines as an older node might have stored them, beyond every bound.
        for (price, qty) in &stored {
            let id = LineId(w.fresh());
            o.lines.insert(id, Line {
                id,
                product_id: pid("widget"),
                quantity: Quantity::new(*qty).unwrap(),
                list_price: *price,
                unit_price: *price,
                price_override: None,
                added: w.stamp(),
                removed: None,
            });
        }
        // An order within every bound to begin with (its tier may be out of bounds, as an
        // unvalidated configuration from an older node could be) must stay so.
        let clean = stored.is_empty()
            && o.try_totals(&w.cc, &w.catalog).is_ok_and(|t| t.total <= MAX_AMOUNT);
        let commands: Vec<OrderCommand> = prices
            .iter()
            .enumerate()
            .map(|(i, (_, qty))| OrderCommand::AddLine(AddLine {
                id: LineId(w.fresh()),
                product_id: pid(&format!("p{i}")),
                quantity: Quantity::new(*qty).unwrap(),
                unit_price: None,
                override_reason: None,
            }))
            .chain([
                OrderCommand::AddCharge(AddCharge {
                    id: ChargeId(w.fresh()),
                    code: ChargeCode::parse("c").unwrap(),
                    amount: charge,
                    reason_code: rcode("damaged"),
                }),
                OrderCommand::AddPayment(AddPayment {
                    id: PaymentId(w.fresh()),
                    method: pmethod("card"),
                    amount: payment,
                    reference: None,
                }),
                OrderCommand::Submit,
            ])
            .collect();
        for cmd in commands {
            let _ = o.pricing(&w.cc, &w.catalog);
            if let Ok(ev) = decide(&o, w.ctx(Role::Supervisor), cmd, &NoReads) {
                apply(&mut o, &ev);
                if clean {
                    // Orders made by commands alone stay within every bound.
                    let t = o.try_totals(&w.cc, &w.catalog);
                    prop_assert!(t.is_ok(), "{:?}", ev);
                    let t = t.unwrap();
                    for v in [t.subtotal, t.discount, t.charges, t.total, t.paid] {
                        prop_assert!(v <= MAX_AMOUNT, "{:?} after {:?}", t, ev);
                    }
                    prop_assert!(t.balance >= -w.cc.payment_tolerance, "{:?}", t);
                }
            }
            let p = o.pricing(&w.cc, &w.catalog);
            for l in o.active_lines() {
                let _ = Order::line_total(l, &w.cc);
            }
            prop_assert!(p.totals.discount <= p.totals.subtotal);
        }
    }

    /// Configuration accepts exactly the amounts within the bound and the precision.
    #[test]
    fn configuration_accepts_exactly_bounded_amounts(price in any_decimal(), currency in prop::sample::select(vec!["EUR", "JPY", "KWD"])) {
        let cur = Currency::parse(currency).unwrap();
        let p = product("x", "0", true);
        let p = Product { price, ..p };
        let ok = p.validate_for(std::slice::from_ref(&cur)).is_empty();
        prop_assert_eq!(ok, price <= MAX_AMOUNT && cur.fits(price));
    }
}
