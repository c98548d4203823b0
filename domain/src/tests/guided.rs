//! Guided sales: upsell, cross-sell and scripts while an order is open.

use super::fixture::*;
use crate::commands::*;
use crate::config::Role;
use crate::guided::{suggestions, Suggestions};
use crate::order::Order;

/// `(upsell ids, cross-sell ids, scripts)` of a suggestion.
fn ids(s: &Suggestions) -> (Vec<String>, Vec<String>, Vec<String>) {
    let names = |v: &[crate::config::Product]| v.iter().map(|p| p.id.to_string()).collect();
    (names(&s.upsell), names(&s.cross_sell), s.scripts.clone())
}

const WIDGET: &str = "Mention the two-year warranty.";
const GADGET: &str = "Ask about gift wrap.";
const SPRING: &str = "Welcome to the spring catalog.";

#[test]
fn suggestions_for_the_products_on_the_order() {
    let w = World::new();
    let order = |source: Option<&str>, products: &[&str], removed: &[&str]| -> Order {
        let mut o = w.order_with(source, None);
        for p in products {
            let id = w.add(&mut o, p, 1);
            if removed.contains(p) {
                w.run(&mut o, |x| remove_line(x, w.ctx(Role::Agent), id));
            }
        }
        o
    };
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let cases = [
        (
            "empty order",
            order(None, &[], &[]),
            (v(&[]), v(&[]), v(&[])),
        ),
        (
            "empty order with a scripted source code",
            order(Some("SPRING"), &[], &[]),
            (v(&[]), v(&[]), v(&[SPRING])),
        ),
        (
            "one product",
            order(None, &["widget"], &[]),
            (v(&["widget-pro"]), v(&["cable", "batteries"]), v(&[WIDGET])),
        ),
        (
            "source code script comes first",
            order(Some("SPRING"), &["widget"], &[]),
            (
                v(&["widget-pro"]),
                v(&["cable", "batteries"]),
                v(&[SPRING, WIDGET]),
            ),
        ),
        (
            "shared suggestions once; unknown products skipped",
            order(None, &["widget", "gadget"], &[]),
            (
                v(&["widget-pro"]),
                v(&["cable", "batteries"]),
                v(&[WIDGET, GADGET]),
            ),
        ),
        (
            "lines in the order they were added",
            order(None, &["gadget", "widget"], &[]),
            (
                v(&["widget-pro"]),
                v(&["batteries", "cable"]),
                v(&[GADGET, WIDGET]),
            ),
        ),
        (
            "a suggested product already on the order",
            order(None, &["widget", "widget-pro"], &[]),
            (v(&[]), v(&["cable", "batteries"]), v(&[WIDGET])),
        ),
        (
            "a cross-sell already on the order",
            order(None, &["widget", "cable"], &[]),
            (v(&["widget-pro"]), v(&["batteries"]), v(&[WIDGET])),
        ),
        (
            "one script per product",
            order(None, &["widget", "widget"], &[]),
            (v(&["widget-pro"]), v(&["cable", "batteries"]), v(&[WIDGET])),
        ),
        (
            "removed lines do not count",
            order(None, &["widget", "gadget"], &["widget"]),
            (v(&["widget-pro"]), v(&["batteries"]), v(&[GADGET])),
        ),
        (
            "a removed product may be suggested again",
            order(None, &["widget-pro", "widget"], &["widget-pro"]),
            (v(&["widget-pro"]), v(&["cable", "batteries"]), v(&[WIDGET])),
        ),
    ];
    for (case, o, want) in cases {
        assert_eq!(
            ids(&suggestions(&o, &w.cc, &w.catalog)),
            want,
            "case: {case}"
        );
    }
}

#[test]
fn no_suggestions_with_guided_sales_off_or_once_the_order_is_closed() {
    let mut w = World::new();
    let mut open = w.order_with(Some("SPRING"), None);
    w.add(&mut open, "widget", 1);
    let mut held = open.clone();
    w.hold(&mut held, "credit");
    assert_ne!(
        suggestions(&held, &w.cc, &w.catalog),
        Suggestions::default(),
        "an open order on hold still gets them"
    );
    for (case, o) in [("submitted", w.submitted()), ("canceled", w.canceled())] {
        assert_eq!(
            suggestions(&o, &w.cc, &w.catalog),
            Suggestions::default(),
            "{case}"
        );
    }
    w.cc.guided_sales = false;
    assert_eq!(
        suggestions(&open, &w.cc, &w.catalog),
        Suggestions::default()
    );
}
