//! Properties of the derived totals and of rounding, over generated orders.

use super::fixture::*;
use crate::config::CouponKind;
use crate::order::*;
use crate::*;
use proptest::prelude::*;
use uuid::Uuid;

/// A generated order: lines `(unit price, quantity)`, coupons, manual charges, payments and the
/// header choices that change pricing.
#[derive(Clone, Debug)]
struct Gen {
    currency: &'static str,
    source: Option<&'static str>,
    delivery: Option<&'static str>,
    lines: Vec<(Decimal, i64)>,
    coupons: Vec<&'static str>,
    charges: Vec<Decimal>,
    payments: Vec<Decimal>,
}

fn money(max_mantissa: i64, max_scale: u32) -> impl Strategy<Value = Decimal> {
    (0..max_mantissa, 0..=max_scale).prop_map(|(m, s)| Decimal::new(m, s))
}

fn gen() -> impl Strategy<Value = Gen> {
    (
        prop::sample::select(vec!["EUR", "JPY", "KWD"]),
        prop::option::of(prop::sample::select(vec!["SPRING", "FREESHIP", "PLAIN"])),
        prop::option::of(prop::sample::select(vec!["std", "express", "pickup"])),
        prop::collection::vec((money(2_000_000, 3), 1..50i64), 0..8),
        prop::sample::subsequence(vec!["A5", "BIG", "FIVE-OFF", "P10", "TEN"], 0..=5),
        prop::collection::vec(money(10_000, 2), 0..3),
        prop::collection::vec(money(1_000_000, 2), 0..3),
    )
        .prop_map(
            |(currency, source, delivery, lines, coupons, charges, payments)| Gen {
                currency,
                source,
                delivery,
                lines,
                coupons,
                charges,
                payments,
            },
        )
}

fn world(g: &Gen) -> World {
    let mut w = World::new();
    w.cc.currency = Currency::parse(g.currency).unwrap();
    for (code, kind, value) in [
        ("A5", CouponKind::Amount, "5"),
        ("P10", CouponKind::Percent, "10"),
    ] {
        w.catalog
            .coupons
            .insert(coupon(code), coupon_def(code, kind, value));
    }
    w
}

/// Builds the order with line (and payment) ids given in insertion order by `id_of(i)`.
fn build(w: &World, g: &Gen, id_of: impl Fn(usize) -> u128, insertion: &[usize]) -> Order {
    let mut o = w.order();
    o.source_code = g.source.map(scode);
    o.delivery_mode = g.delivery.map(dmode);
    for &i in insertion {
        if let Some((price, qty)) = g.lines.get(i) {
            let id = LineId(Uuid::from_u128(id_of(i)));
            let line = Line {
                id,
                product_id: pid("widget"),
                quantity: Quantity::new(*qty).unwrap(),
                list_price: *price,
                unit_price: *price,
                price_override: None,
                added: w.stamp(),
                removed: None,
            };
            o.lines.insert(id, line);
        }
        if let Some(amount) = g.payments.get(i) {
            let id = PaymentId(Uuid::from_u128(id_of(i)));
            let p = Payment {
                id,
                method: pmethod("card"),
                amount: w.cc.currency.round(*amount),
                reference: None,
                added: w.stamp(),
                voided: None,
            };
            o.payments.insert(id, p);
        }
        if let Some(amount) = g.charges.get(i) {
            let id = ChargeId(Uuid::from_u128(id_of(i)));
            let c = Charge {
                id,
                code: ChargeCode::parse("manual").unwrap(),
                amount: w.cc.currency.round(*amount),
                reason_code: rcode("damaged"),
                added: w.stamp(),
            };
            o.charges.insert(id, c);
        }
    }
    for code in &g.coupons {
        o.coupons.insert(
            coupon(code),
            CouponUse {
                code: coupon(code),
                applied: w.stamp(),
                removed: None,
            },
        );
    }
    o
}

proptest! {
    #[test]
    fn totals_add_up(g in gen()) {
        let w = world(&g);
        let n = g.lines.len().max(g.payments.len()).max(g.charges.len());
        let order: Vec<usize> = (0..n).collect();
        let o = build(&w, &g, |i| 1 + i as u128, &order);
        let t = o.totals(&w.cc, &w.catalog);
        prop_assert_eq!(t.total, t.subtotal - t.discount + t.charges);
        prop_assert_eq!(t.balance, t.total - t.paid);
        prop_assert!(t.discount >= Decimal::ZERO && t.discount <= t.subtotal, "{:?}", t);
        prop_assert!(t.charges >= Decimal::ZERO && t.total >= Decimal::ZERO, "{:?}", t);
        let scale = w.cc.currency.minor_units();
        for v in [t.subtotal, t.discount, t.charges, t.total, t.paid, t.balance] {
            prop_assert_eq!(v.scale(), scale, "{} in {}", v, g.currency);
        }
        let p = o.pricing(&w.cc, &w.catalog);
        let coupons: Decimal = p.coupon_discounts.iter().map(|c| c.discount).sum();
        prop_assert_eq!(p.source_discount + coupons, t.discount);
    }

    #[test]
    fn totals_do_not_depend_on_the_order_of_lines(g in gen(), seed in any::<u64>()) {
        let w = world(&g);
        let n = g.lines.len().max(g.payments.len()).max(g.charges.len());
        let forward: Vec<usize> = (0..n).collect();
        // Another insertion order (a rotation by the seed, reversed) with ids that sort the
        // other way round, so map order differs too.
        let mut other: Vec<usize> = forward.clone();
        if n > 0 {
            other.rotate_left(seed as usize % n);
        }
        other.reverse();
        let a = build(&w, &g, |i| 1 + i as u128, &forward);
        let b = build(&w, &g, |i| 1_000 - i as u128, &other);
        prop_assert_eq!(a.totals(&w.cc, &w.catalog), b.totals(&w.cc, &w.catalog));
    }

    #[test]
    fn rounding_yields_the_currency_scale(mantissa in -1_000_000_000_000i64..1_000_000_000_000, scale in 0u32..12, cur in prop::sample::select(vec!["EUR", "JPY", "KWD", "USD"])) {
        let cur = Currency::parse(cur).unwrap();
        let x = Decimal::new(mantissa, scale);
        let r = cur.round(x);
        let unit = Decimal::new(1, cur.minor_units());
        prop_assert_eq!(r.scale(), cur.minor_units());
        prop_assert!(cur.fits(r));
        let diff = (r - x).abs();
        prop_assert!(diff * Decimal::TWO <= unit, "{} -> {}", x, r);
        if diff * Decimal::TWO == unit {
            // A half goes to the even neighbour.
            let last = (r / unit).trunc() % Decimal::TWO;
            prop_assert!(last.is_zero(), "{} -> {} is not even", x, r);
        }
        if cur.fits(x) {
            prop_assert_eq!(r, x);
        }
        prop_assert_eq!(cur.round(r), r);
    }
}
