//! Tests of the document mapping: round trips, events against `domain::commands::apply`, and the
//! merge rules of DESIGN.md §4 with two nodes forking and merging a document.

use super::*;
use automerge::{ActorId, ReadDoc, ROOT};
use std::str::FromStr;
use switchboard_domain::commands::{apply, OrderEvent};
use switchboard_domain::config::*;
use switchboard_domain::continuity::{child_order, due_children};
use switchboard_domain::customer::{apply_customer, CatalogRequest, Customer, CustomerEvent};
use switchboard_domain::ids::*;
use switchboard_domain::money::{Currency, Quantity};
use switchboard_domain::order::*;
use switchboard_domain::Decimal;

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn user(n: u128) -> UserId {
    UserId(id(n))
}

fn stamp(n: u128, at: &str) -> Stamp {
    Stamp {
        by: user(n),
        at: ts(at),
    }
}

fn author(node: u8, at: &str) -> Author {
    Author {
        actor: ActorId::from(vec![node; 16]),
        user: user(u128::from(node)),
        node: NodeId(id(1000 + u128::from(node))),
        now: ts(at),
    }
}

fn cc() -> CallCenter {
    CallCenter {
        id: CallCenterId::parse("north").unwrap(),
        name: "North".into(),
        currency: Currency::parse("EUR").unwrap(),
        order_completion: true,
        guided_sales: true,
        payment_tolerance: Decimal::ZERO,
        payment_methods: vec![PaymentMethod {
            id: PaymentMethodId::parse("card").unwrap(),
            kind: PaymentKind::Card,
        }],
        delivery_modes: vec![DeliveryMode {
            id: DeliveryModeId::parse("std").unwrap(),
            name: "Standard".into(),
            charges: vec![ChargeTier {
                from: Decimal::ZERO,
                to: None,
                amount: dec("5.00"),
            }],
        }],
        hold_codes: vec![HoldCodeDef {
            id: HoldCode::parse("fraud").unwrap(),
            name: "Fraud".into(),
            clear_roles: vec![Role::Supervisor],
        }],
        reason_codes: vec![ReasonCodeDef {
            id: ReasonCode::parse("match").unwrap(),
            name: "Match".into(),
        }],
        price_override_limits: BTreeMap::from([
            (Role::Agent, dec("5")),
            (Role::Supervisor, dec("25")),
        ]),
        financial_dimensions: BTreeMap::from([("region".to_string(), "north".to_string())]),
        price_group: None,
    }
}

fn product(pid: &str, price: &str, continuity: Option<Continuity>) -> Product {
    Product {
        id: ProductId::parse(pid).unwrap(),
        name: pid.to_uppercase(),
        price: dec(price),
        allow_price_override: true,
        image_url: None,
        upsell: vec![],
        cross_sell: vec![],
        script: Some("say hello".into()),
        continuity,
    }
}

fn coupon(code: &str, max_uses: Option<u32>) -> Coupon {
    Coupon {
        code: CouponCode::parse(code).unwrap(),
        kind: CouponKind::Percent,
        value: dec("10"),
        min_order: Decimal::ZERO,
        window: Window {
            valid_from: Some(ts("2026-01-01")),
            valid_to: None,
        },
        max_uses,
    }
}

fn catalog() -> Catalog {
    let tea = product("tea", "10.00", None);
    let box_ = product(
        "box",
        "20.00",
        Some(Continuity {
            every_days: 30,
            times: 3,
        }),
    );
    let mut c = Catalog::default();
    c.products.insert(tea.id.clone(), tea);
    c.products.insert(box_.id.clone(), box_);
    let cp = coupon("SAVE10", Some(1));
    c.coupons.insert(cp.code.clone(), cp);
    c.price_groups.insert(
        PriceGroupId::parse("retail").unwrap(),
        PriceGroup {
            id: PriceGroupId::parse("retail").unwrap(),
            name: "Retail".into(),
            prices: BTreeMap::from([(ProductId::parse("tea").unwrap(), dec("9.50"))]),
        },
    );
    c.source_codes.insert(
        SourceCode::parse("SPRING").unwrap(),
        SourceCodeDef {
            code: SourceCode::parse("SPRING").unwrap(),
            catalog: CatalogId::parse("spring-26").unwrap(),
            window: Window {
                valid_from: Some(ts("2026-03-01")),
                valid_to: Some(ts("2026-12-31")),
            },
            discount_percent: dec("5"),
            free_shipping: false,
            script: None,
            price_group: Some(PriceGroupId::parse("retail").unwrap()),
        },
    );
    c
}

fn empty_order() -> Order {
    Order {
        delivery_mode: Some(DeliveryModeId::parse("std").unwrap()),
        ship_to: BTreeMap::from([("city".to_string(), "Oslo".to_string())]),
        financial_dimensions: BTreeMap::from([("region".to_string(), "north".to_string())]),
        ..Order::new(
            OrderId(id(1)),
            CallCenterId::parse("north").unwrap(),
            CustomerId(id(2)),
            stamp(1, "2026-11-28T10:00:00Z"),
        )
    }
}

fn line(n: u128, pid: &str, qty: i64, price: &str) -> Line {
    Line {
        id: LineId(id(n)),
        product_id: ProductId::parse(pid).unwrap(),
        quantity: Quantity::new(qty).unwrap(),
        list_price: dec(price),
        unit_price: dec(price),
        price_override: None,
        added: stamp(1, "2026-11-28T10:01:00Z"),
        removed: None,
    }
}

fn payment(n: u128, amount: &str) -> Payment {
    Payment {
        id: PaymentId(id(n)),
        method: PaymentMethodId::parse("card").unwrap(),
        amount: dec(amount),
        reference: Some("auth-1".into()),
        added: stamp(1, "2026-11-28T10:05:00Z"),
        voided: None,
    }
}

fn hold(n: u128) -> Hold {
    Hold {
        id: HoldId(id(n)),
        code: HoldCode::parse("fraud").unwrap(),
        reason: "check the card".into(),
        placed: stamp(1, "2026-11-28T10:06:00Z"),
        system: false,
        cleared: None,
    }
}

/// An order with something in every collection, tombstones and facts included.
fn full_order() -> Order {
    let mut o = empty_order();
    o.source_code = Some(SourceCode::parse("SPRING").unwrap());
    let mut l1 = line(10, "tea", 2, "9.50");
    l1.unit_price = dec("9.25");
    l1.price_override = Some(PriceOverride {
        reason_code: ReasonCode::parse("match").unwrap(),
        by: user(1),
    });
    let mut l2 = line(11, "box", 1, "20.00");
    l2.removed = Some(stamp(2, "2026-11-28T10:02:00Z"));
    o.lines = BTreeMap::from([(l1.id, l1), (l2.id, l2)]);
    let ch = Charge {
        id: ChargeId(id(20)),
        code: ChargeCode::parse("gift-wrap").unwrap(),
        amount: dec("2.50"),
        reason_code: ReasonCode::parse("match").unwrap(),
        added: stamp(1, "2026-11-28T10:03:00Z"),
    };
    o.charges.insert(ch.id, ch);
    let cu = CouponUse {
        code: CouponCode::parse("SAVE10").unwrap(),
        applied: stamp(1, "2026-11-28T10:04:00Z"),
        removed: None,
    };
    o.coupons.insert(cu.code.clone(), cu);
    let mut p1 = payment(30, "10.00");
    p1.voided = Some(stamp(2, "2026-11-28T10:05:30Z"));
    let mut p2 = payment(31, "19.00");
    p2.reference = None;
    o.payments = BTreeMap::from([(p1.id, p1), (p2.id, p2)]);
    let mut h = hold(40);
    h.cleared = Some(HoldClear {
        by: user(3),
        at: ts("2026-11-28T10:07:00Z"),
        reason: "ok".into(),
    });
    o.holds.insert(h.id, h);
    let n = Note {
        id: NoteId(id(50)),
        added: stamp(1, "2026-11-28T10:08:00Z"),
        text: "call back ✓".into(),
    };
    o.notes.insert(n.id, n);
    o.lifecycle.submitted = Some(stamp(1, "2026-11-28T10:09:00Z"));
    o.continuity = Some(ContinuityRef {
        parent: OrderId(id(99)),
        line: LineId(id(98)),
        index: 2,
    });
    o
}

fn read(doc: &Automerge) -> Order {
    read_order(doc).unwrap().0
}

/// Two documents exchange all their changes.
fn sync_both(a: &mut Automerge, b: &mut Automerge) {
    a.merge(&mut b.clone()).unwrap();
    b.merge(&mut a.clone()).unwrap();
}

/// A fork of `doc` as another node would hold it after sync (by save and load).
fn replica(doc: &Automerge) -> Automerge {
    load(&doc.save()).unwrap()
}

fn apply_doc(doc: &mut Automerge, ev: &OrderEvent, a: &Author) {
    apply_order_event(doc, ev, a).unwrap();
}

#[test]
fn create_then_read_is_the_same_order() {
    for order in [empty_order(), full_order()] {
        let doc = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
        let (back, conflicts) = read_order(&doc).unwrap();
        assert_eq!(back, order);
        assert!(conflicts.is_empty());
        // The skeleton and content are one change.
        assert_eq!(doc.get_changes(&[]).len(), 1);
        let back = read(&load(&doc.save()).unwrap());
        assert_eq!(back, order);
        assert_eq!(
            read_meta(&doc).unwrap(),
            DocMeta {
                kind: DocKind::Order,
                call_center: Some(CallCenterId::parse("north").unwrap())
            }
        );
    }
}

#[test]
fn money_is_stored_as_decimal_text_and_times_as_millis() {
    let order = full_order();
    let doc = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let lines = doc.get(ROOT, "lines").unwrap().unwrap().1;
    let l = doc
        .get(&lines, LineId(id(10)).to_string())
        .unwrap()
        .unwrap()
        .1;
    let (price, _) = doc.get(&l, "unit_price").unwrap().unwrap();
    assert_eq!(price.as_str(), Some("9.25"));
    let (at, _) = doc.get(&l, "added_at").unwrap().unwrap();
    assert_eq!(at.as_i64(), Some(ts("2026-11-28T10:01:00Z").as_millis()));
}

fn all_events() -> Vec<OrderEvent> {
    let l1 = line(10, "tea", 2, "10.00");
    let l2 = line(11, "tea", 1, "10.00");
    let code = CouponCode::parse("SAVE10").unwrap();
    vec![
        OrderEvent::LineAdded(l1.clone()),
        OrderEvent::LineAdded(l2.clone()),
        OrderEvent::LineChanged {
            line_id: l1.id,
            quantity: Some(Quantity::new(3).unwrap()),
            unit_price: None,
            price_override: None,
        },
        OrderEvent::LineChanged {
            line_id: l1.id,
            quantity: None,
            unit_price: Some(dec("9.60")),
            price_override: Some(Some(PriceOverride {
                reason_code: ReasonCode::parse("match").unwrap(),
                by: user(2),
            })),
        },
        OrderEvent::LineChanged {
            line_id: l1.id,
            quantity: None,
            unit_price: Some(dec("10.00")),
            price_override: Some(None),
        },
        OrderEvent::LineRemoved {
            line_id: l2.id,
            stamp: stamp(2, "2026-11-28T10:10:00Z"),
        },
        OrderEvent::CouponApplied(CouponUse {
            code: code.clone(),
            applied: stamp(1, "2026-11-28T10:11:00Z"),
            removed: None,
        }),
        OrderEvent::CouponRemoved {
            code: code.clone(),
            stamp: stamp(1, "2026-11-28T10:12:00Z"),
        },
        OrderEvent::CouponApplied(CouponUse {
            code,
            applied: stamp(1, "2026-11-28T10:13:00Z"),
            removed: None,
        }),
        OrderEvent::ChargeAdded(Charge {
            id: ChargeId(id(20)),
            code: ChargeCode::parse("gift-wrap").unwrap(),
            amount: dec("2.50"),
            reason_code: ReasonCode::parse("match").unwrap(),
            added: stamp(1, "2026-11-28T10:14:00Z"),
        }),
        OrderEvent::PaymentAdded(payment(30, "5.00")),
        OrderEvent::PaymentVoided {
            id: PaymentId(id(30)),
            stamp: stamp(1, "2026-11-28T10:15:00Z"),
        },
        OrderEvent::PaymentAdded(payment(31, "34.25")),
        OrderEvent::HoldPlaced(hold(40)),
        OrderEvent::HoldCleared {
            id: HoldId(id(40)),
            clear: HoldClear {
                by: user(3),
                at: ts("2026-11-28T10:16:00Z"),
                reason: "verified".into(),
            },
        },
        OrderEvent::NoteAdded(Note {
            id: NoteId(id(50)),
            added: stamp(1, "2026-11-28T10:17:00Z"),
            text: "gift".into(),
        }),
        OrderEvent::Submitted(stamp(1, "2026-11-28T10:18:00Z")),
        // A second submit keeps the first fact, as the domain does.
        OrderEvent::Submitted(stamp(2, "2026-11-28T10:19:00Z")),
        OrderEvent::Released(stamp(3, "2026-11-28T10:20:00Z")),
        OrderEvent::Canceled {
            stamp: stamp(3, "2026-11-28T10:21:00Z"),
            reason: "customer called".into(),
        },
    ]
}

#[test]
fn every_event_written_then_read_equals_the_domain_apply() {
    let mut expected = empty_order();
    let mut doc = create_order_doc(&expected, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let events = all_events();
    for (i, ev) in events.iter().enumerate() {
        apply_doc(&mut doc, ev, &author(1, "2026-11-28T10:30:00Z"));
        apply(&mut expected, ev);
        let (got, conflicts) = read_order(&doc).unwrap();
        assert_eq!(got, expected, "after event {i}: {ev:?}");
        assert!(conflicts.is_empty(), "{conflicts:?}");
    }
    // One change per event, except the no-op second submit; plus the creation.
    let h = history(&doc);
    assert_eq!(h.len(), events.len());
    assert_eq!(h[0].summary, "created order");
    assert_eq!(h[1].summary, events[0].summary());
    assert_eq!(h[1].by, Some(user(1)));
    assert_eq!(h[1].node, Some(NodeId(id(1001))));
    assert_eq!(h[1].at, ts("2026-11-28T10:30:00Z"));
    assert_eq!(h.last().map(|e| e.summary.as_str()), Some("canceled"));
}

#[test]
fn concurrent_edits_of_different_lines_both_survive() {
    let mut order = empty_order();
    order.lines = BTreeMap::from([
        (LineId(id(10)), line(10, "tea", 1, "10.00")),
        (LineId(id(11)), line(11, "tea", 1, "10.00")),
    ]);
    let mut a = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    let qty = |l: u128, q: i64| OrderEvent::LineChanged {
        line_id: LineId(id(l)),
        quantity: Some(Quantity::new(q).unwrap()),
        unit_price: None,
        price_override: None,
    };
    apply_doc(&mut a, &qty(10, 4), &author(1, "2026-11-28T10:01:00Z"));
    apply_doc(&mut b, &qty(11, 7), &author(2, "2026-11-28T10:01:00Z"));
    // Each node also adds a line and a payment of its own.
    apply_doc(
        &mut a,
        &OrderEvent::LineAdded(line(12, "box", 1, "20.00")),
        &author(1, "2026-11-28T10:02:00Z"),
    );
    apply_doc(
        &mut b,
        &OrderEvent::PaymentAdded(payment(30, "5.00")),
        &author(2, "2026-11-28T10:02:00Z"),
    );
    sync_both(&mut a, &mut b);
    let (oa, ca) = read_order(&a).unwrap();
    let (ob, _) = read_order(&b).unwrap();
    assert_eq!(oa, ob);
    assert!(ca.is_empty(), "{ca:?}");
    assert_eq!(oa.lines[&LineId(id(10))].quantity.get(), 4);
    assert_eq!(oa.lines[&LineId(id(11))].quantity.get(), 7);
    assert_eq!(oa.lines.len(), 3);
    assert_eq!(oa.payments.len(), 1);
}

#[test]
fn same_field_edited_twice_converges_and_lists_the_conflict() {
    let mut order = empty_order();
    order
        .lines
        .insert(LineId(id(10)), line(10, "tea", 1, "10.00"));
    let mut a = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    let qty = |q: i64| OrderEvent::LineChanged {
        line_id: LineId(id(10)),
        quantity: Some(Quantity::new(q).unwrap()),
        unit_price: None,
        price_override: None,
    };
    apply_doc(&mut a, &qty(3), &author(1, "2026-11-28T10:01:00Z"));
    apply_doc(&mut b, &qty(5), &author(2, "2026-11-28T10:01:00Z"));
    sync_both(&mut a, &mut b);
    let (oa, ca) = read_order(&a).unwrap();
    let (ob, cb) = read_order(&b).unwrap();
    assert_eq!(oa, ob);
    assert_eq!(ca, cb);
    let path = format!("lines/{}/quantity", id(10));
    assert_eq!(ca.len(), 1, "{ca:?}");
    assert_eq!(ca[0].path, path);
    let winner = oa.lines[&LineId(id(10))].quantity.get();
    assert!(winner == 3 || winner == 5);
    assert_eq!(ca[0].values[0], serde_json::json!(winner));
    let mut vals: Vec<i64> = ca[0].values.iter().filter_map(|v| v.as_i64()).collect();
    vals.sort();
    assert_eq!(vals, vec![3, 5]);
    // A later edit on either side resolves the conflict.
    apply_doc(&mut a, &qty(4), &author(1, "2026-11-28T10:02:00Z"));
    let (oa, ca) = read_order(&a).unwrap();
    assert!(ca.is_empty());
    assert_eq!(oa.lines[&LineId(id(10))].quantity.get(), 4);
}

#[test]
fn equal_concurrent_values_are_no_conflict() {
    let mut order = empty_order();
    order
        .lines
        .insert(LineId(id(10)), line(10, "tea", 1, "10.00"));
    let mut a = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    let ev = OrderEvent::LineChanged {
        line_id: LineId(id(10)),
        quantity: Some(Quantity::new(2).unwrap()),
        unit_price: None,
        price_override: None,
    };
    apply_doc(&mut a, &ev, &author(1, "2026-11-28T10:01:00Z"));
    apply_doc(&mut b, &ev, &author(2, "2026-11-28T10:01:00Z"));
    sync_both(&mut a, &mut b);
    let (o, c) = read_order(&a).unwrap();
    assert!(c.is_empty(), "{c:?}");
    assert_eq!(o.lines[&LineId(id(10))].quantity.get(), 2);
}

#[test]
fn a_removed_line_edited_concurrently_stays_removed_and_shows_the_edit() {
    let mut order = empty_order();
    order
        .lines
        .insert(LineId(id(10)), line(10, "tea", 1, "10.00"));
    let mut a = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    apply_doc(
        &mut a,
        &OrderEvent::LineRemoved {
            line_id: LineId(id(10)),
            stamp: stamp(1, "2026-11-28T10:01:00Z"),
        },
        &author(1, "2026-11-28T10:01:00Z"),
    );
    apply_doc(
        &mut b,
        &OrderEvent::LineChanged {
            line_id: LineId(id(10)),
            quantity: Some(Quantity::new(9).unwrap()),
            unit_price: None,
            price_override: None,
        },
        &author(2, "2026-11-28T10:01:00Z"),
    );
    sync_both(&mut a, &mut b);
    for doc in [&a, &b] {
        let o = read(doc);
        let l = &o.lines[&LineId(id(10))];
        assert_eq!(l.removed, Some(stamp(1, "2026-11-28T10:01:00Z")));
        assert_eq!(l.quantity.get(), 9);
        assert_eq!(o.active_lines().count(), 0);
    }
}

#[test]
fn concurrent_submit_and_cancel_keep_both_facts() {
    let mut order = empty_order();
    order
        .lines
        .insert(LineId(id(10)), line(10, "tea", 1, "10.00"));
    let mut a = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    apply_doc(
        &mut a,
        &OrderEvent::Submitted(stamp(1, "2026-11-28T10:01:00Z")),
        &author(1, "2026-11-28T10:01:00Z"),
    );
    apply_doc(
        &mut b,
        &OrderEvent::Canceled {
            stamp: stamp(2, "2026-11-28T10:01:00Z"),
            reason: "changed mind".into(),
        },
        &author(2, "2026-11-28T10:01:00Z"),
    );
    sync_both(&mut a, &mut b);
    let (o, c) = read_order(&a).unwrap();
    assert!(c.is_empty());
    assert_eq!(
        o.lifecycle.submitted,
        Some(stamp(1, "2026-11-28T10:01:00Z"))
    );
    assert_eq!(
        o.lifecycle.canceled,
        Some((stamp(2, "2026-11-28T10:01:00Z"), "changed mind".to_string()))
    );
    assert_eq!(o.status(), Status::Canceled);
    assert_eq!(read(&b), o);
}

#[test]
fn concurrent_submits_converge_with_one_winner_and_a_listed_conflict() {
    let mut a = create_order_doc(&empty_order(), &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    apply_doc(
        &mut a,
        &OrderEvent::Submitted(stamp(1, "2026-11-28T10:01:00Z")),
        &author(1, "2026-11-28T10:01:00Z"),
    );
    apply_doc(
        &mut b,
        &OrderEvent::Submitted(stamp(2, "2026-11-28T10:02:00Z")),
        &author(2, "2026-11-28T10:02:00Z"),
    );
    sync_both(&mut a, &mut b);
    let (oa, ca) = read_order(&a).unwrap();
    assert_eq!((oa.clone(), ca.clone()), read_order(&b).unwrap());
    // The winning time and user come from the same submit.
    let s = oa.lifecycle.submitted.unwrap();
    assert!(
        s == stamp(1, "2026-11-28T10:01:00Z") || s == stamp(2, "2026-11-28T10:02:00Z"),
        "{s:?}"
    );
    let paths: Vec<&str> = ca.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["facts/submitted_at", "facts/submitted_by"]);
    assert_eq!(ca[0].values[0], serde_json::json!(s.at.to_rfc3339()));
}

/// A submitted order whose payment falls short of its total: 2 × 10.00 + 5.00 shipping, paid 10.00.
fn underpaid_order() -> Order {
    let mut o = empty_order();
    o.lines.insert(LineId(id(10)), line(10, "tea", 2, "10.00"));
    o.payments.insert(PaymentId(id(30)), payment(30, "10.00"));
    o.lifecycle.submitted = Some(stamp(1, "2026-11-28T10:09:00Z"));
    o
}

fn no_rank(_: &CouponCode) -> Option<u32> {
    None
}

#[test]
fn enforce_invariants_places_one_system_hold_and_then_none() {
    let (cc, cat) = (cc(), catalog());
    let mut doc = create_order_doc(&underpaid_order(), &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let placed = enforce_invariants(
        &mut doc,
        &cc,
        &cat,
        &no_rank,
        &author(1, "2026-11-28T11:00:00Z"),
    )
    .unwrap();
    assert_eq!(placed.len(), 1);
    assert!(placed[0].system);
    assert_eq!(placed[0].code.as_str(), "system.submitted_underpaid");
    let o = read(&doc);
    assert_eq!(o.holds.get(&placed[0].id), Some(&placed[0]));
    assert_eq!(o.status(), Status::OnHold);
    let changes = doc.get_changes(&[]).len();
    let again = enforce_invariants(
        &mut doc,
        &cc,
        &cat,
        &no_rank,
        &author(1, "2026-11-28T11:01:00Z"),
    )
    .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        doc.get_changes(&[]).len(),
        changes,
        "no change when nothing is missing"
    );
    assert_eq!(
        history(&doc).last().map(|h| h.summary.as_str()),
        Some("system hold system.submitted_underpaid")
    );
    // A hold a supervisor cleared is not placed again.
    apply_doc(
        &mut doc,
        &OrderEvent::HoldCleared {
            id: placed[0].id,
            clear: HoldClear {
                by: user(3),
                at: ts("2026-11-28T11:02:00Z"),
                reason: "ok".into(),
            },
        },
        &author(1, "2026-11-28T11:02:00Z"),
    );
    assert!(enforce_invariants(
        &mut doc,
        &cc,
        &cat,
        &no_rank,
        &author(1, "2026-11-28T11:03:00Z")
    )
    .unwrap()
    .is_empty());
}

#[test]
fn a_healthy_order_gets_no_hold() {
    let mut o = underpaid_order();
    o.payments.insert(PaymentId(id(31)), payment(31, "15.00"));
    let mut doc = create_order_doc(&o, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let placed = enforce_invariants(
        &mut doc,
        &cc(),
        &catalog(),
        &no_rank,
        &author(1, "2026-11-28T11:00:00Z"),
    )
    .unwrap();
    assert!(placed.is_empty());
    assert_eq!(doc.get_changes(&[]).len(), 1);
}

#[test]
fn two_nodes_enforcing_the_same_violation_merge_to_one_hold() {
    let (cc, cat) = (cc(), catalog());
    let mut a = create_order_doc(&underpaid_order(), &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    let pa = enforce_invariants(
        &mut a,
        &cc,
        &cat,
        &no_rank,
        &author(1, "2026-11-28T11:00:00Z"),
    )
    .unwrap();
    let pb = enforce_invariants(
        &mut b,
        &cc,
        &cat,
        &no_rank,
        &author(2, "2026-11-28T11:00:05Z"),
    )
    .unwrap();
    assert_eq!((pa.len(), pb.len()), (1, 1));
    assert_eq!(pa[0].id, pb[0].id);
    // Node A clears its copy before the merge: the clear stands whichever copy wins.
    apply_doc(
        &mut a,
        &OrderEvent::HoldCleared {
            id: pa[0].id,
            clear: HoldClear {
                by: user(3),
                at: ts("2026-11-28T11:01:00Z"),
                reason: "paid by phone".into(),
            },
        },
        &author(1, "2026-11-28T11:01:00Z"),
    );
    sync_both(&mut a, &mut b);
    let (oa, ca) = read_order(&a).unwrap();
    let (ob, cb) = read_order(&b).unwrap();
    assert_eq!(oa, ob);
    assert!(ca.is_empty() && cb.is_empty(), "{ca:?}");
    assert_eq!(oa.holds.len(), 1);
    assert!(oa.holds[&pa[0].id].cleared.is_some());
    assert!(enforce_invariants(
        &mut a,
        &cc,
        &cat,
        &no_rank,
        &author(1, "2026-11-28T11:05:00Z")
    )
    .unwrap()
    .is_empty());
}

#[test]
fn release_concurrent_with_a_hold_gets_a_system_hold() {
    let (cc, cat) = (cc(), catalog());
    let mut o = underpaid_order();
    o.payments.insert(PaymentId(id(31)), payment(31, "15.00"));
    let mut a = create_order_doc(&o, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    apply_doc(
        &mut a,
        &OrderEvent::Released(stamp(1, "2026-11-28T10:10:00Z")),
        &author(1, "2026-11-28T10:10:00Z"),
    );
    apply_doc(
        &mut b,
        &OrderEvent::HoldPlaced(hold(40)),
        &author(2, "2026-11-28T10:10:00Z"),
    );
    sync_both(&mut a, &mut b);
    let placed = enforce_invariants(
        &mut a,
        &cc,
        &cat,
        &no_rank,
        &author(1, "2026-11-28T10:11:00Z"),
    )
    .unwrap();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].code.as_str(), "system.released_while_held");
}

#[test]
fn coupons_apply_remove_reapply_and_redeem() {
    let code = CouponCode::parse("SAVE10").unwrap();
    let mut doc = create_order_doc(&empty_order(), &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let applied = |at: &str| {
        OrderEvent::CouponApplied(CouponUse {
            code: code.clone(),
            applied: stamp(1, at),
            removed: None,
        })
    };
    apply_doc(
        &mut doc,
        &applied("2026-11-28T10:01:00Z"),
        &author(1, "2026-11-28T10:01:00Z"),
    );
    assert_eq!(
        coupon_redemptions(&read(&doc)),
        vec![(code.clone(), ts("2026-11-28T10:01:00Z"))]
    );
    apply_doc(
        &mut doc,
        &OrderEvent::CouponRemoved {
            code: code.clone(),
            stamp: stamp(1, "2026-11-28T10:02:00Z"),
        },
        &author(1, "2026-11-28T10:02:00Z"),
    );
    assert!(coupon_redemptions(&read(&doc)).is_empty());
    apply_doc(
        &mut doc,
        &applied("2026-11-28T10:03:00Z"),
        &author(1, "2026-11-28T10:03:00Z"),
    );
    let o = read(&doc);
    assert_eq!(o.coupons[&code].removed, None);
    assert_eq!(
        coupon_redemptions(&o),
        vec![(code.clone(), ts("2026-11-28T10:03:00Z"))]
    );
    apply_doc(
        &mut doc,
        &OrderEvent::Canceled {
            stamp: stamp(1, "2026-11-28T10:04:00Z"),
            reason: "x".into(),
        },
        &author(1, "2026-11-28T10:04:00Z"),
    );
    assert!(coupon_redemptions(&read(&doc)).is_empty());
}

#[test]
fn the_same_coupon_applied_on_two_nodes_is_one_entry() {
    let code = CouponCode::parse("SAVE10").unwrap();
    let mut a = create_order_doc(&empty_order(), &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let mut b = replica(&a);
    let ev = |n: u128| {
        OrderEvent::CouponApplied(CouponUse {
            code: code.clone(),
            applied: stamp(n, "2026-11-28T10:01:00Z"),
            removed: None,
        })
    };
    apply_doc(&mut a, &ev(1), &author(1, "2026-11-28T10:01:00Z"));
    apply_doc(&mut b, &ev(2), &author(2, "2026-11-28T10:01:00Z"));
    sync_both(&mut a, &mut b);
    let (oa, ca) = read_order(&a).unwrap();
    assert_eq!((oa.clone(), ca.clone()), read_order(&b).unwrap());
    assert_eq!(oa.coupons.len(), 1);
    assert_eq!(ca.len(), 1);
    assert_eq!(ca[0].path, "coupons/SAVE10");
    assert_eq!(ca[0].values.len(), 2);
}

#[test]
fn coupon_over_limit_across_sites_holds_the_later_order() {
    let code = CouponCode::parse("SAVE10").unwrap();
    let mut o = empty_order();
    o.coupons.insert(
        code.clone(),
        CouponUse {
            code: code.clone(),
            applied: stamp(1, "2026-11-28T10:01:00Z"),
            removed: None,
        },
    );
    let mut doc = create_order_doc(&o, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let rank = |c: &CouponCode| (c.as_str() == "SAVE10").then_some(2);
    let placed = enforce_invariants(
        &mut doc,
        &cc(),
        &catalog(),
        &rank,
        &author(1, "2026-11-28T11:00:00Z"),
    )
    .unwrap();
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].code.as_str(), "system.coupon_over_limit");
}

fn customer() -> Customer {
    let note = Note {
        id: NoteId(id(60)),
        added: stamp(1, "2026-11-28T09:01:00Z"),
        text: "prefers email".into(),
    };
    let req = CatalogRequest {
        id: CatalogRequestId(id(61)),
        source_code: SourceCode::parse("SPRING").unwrap(),
        catalog: CatalogId::parse("spring-26").unwrap(),
        quantity: 2,
        requested: stamp(1, "2026-11-28T09:02:00Z"),
    };
    Customer {
        id: CustomerId(id(2)),
        call_center_id: CallCenterId::parse("north").unwrap(),
        name: "Ada".into(),
        phone: Some("+47 123".into()),
        email: None,
        address: BTreeMap::from([
            ("city".to_string(), "Oslo".to_string()),
            ("street".to_string(), "Main 1".to_string()),
        ]),
        notes: BTreeMap::from([(note.id, note)]),
        catalog_requests: BTreeMap::from([(req.id, req)]),
        created: stamp(1, "2026-11-28T09:00:00Z"),
    }
}

#[test]
fn customer_round_trip_and_events() {
    let mut expected = customer();
    let mut doc = create_customer_doc(&expected, &author(1, "2026-11-28T09:00:00Z")).unwrap();
    let (back, conflicts) = read_customer(&doc).unwrap();
    assert_eq!(back, expected);
    assert!(conflicts.is_empty());
    assert_eq!(read_meta(&doc).unwrap().kind, DocKind::Customer);
    let events = vec![
        CustomerEvent::Updated {
            name: Some("Ada L.".into()),
            phone: Some(None),
            email: Some(Some("ada@example.com".into())),
            address: Some(BTreeMap::from([("city".to_string(), "Bergen".to_string())])),
        },
        CustomerEvent::NoteAdded(Note {
            id: NoteId(id(62)),
            added: stamp(1, "2026-11-28T09:05:00Z"),
            text: "vip".into(),
        }),
        CustomerEvent::CatalogRequested(CatalogRequest {
            id: CatalogRequestId(id(63)),
            source_code: SourceCode::parse("SPRING").unwrap(),
            catalog: CatalogId::parse("spring-26").unwrap(),
            quantity: 1,
            requested: stamp(1, "2026-11-28T09:06:00Z"),
        }),
    ];
    for ev in &events {
        apply_customer_event(&mut doc, ev, &author(1, "2026-11-28T09:10:00Z")).unwrap();
        apply_customer(&mut expected, ev);
        assert_eq!(read_customer(&doc).unwrap().0, expected);
    }
    let h = history(&doc);
    assert_eq!(h.len(), 4);
    assert_eq!(h[1].summary, "updated name, phone, email, address");
    assert!(read_order(&doc).is_err_and(|e| matches!(
        e,
        DocError::WrongKind {
            expected: DocKind::Order,
            found: DocKind::Customer
        }
    )));
}

#[test]
fn concurrent_customer_edits_merge() {
    let mut a = create_customer_doc(&customer(), &author(1, "2026-11-28T09:00:00Z")).unwrap();
    let mut b = replica(&a);
    let upd = |name: &str, addr: &str| CustomerEvent::Updated {
        name: Some(name.into()),
        phone: None,
        email: None,
        address: Some(BTreeMap::from([("city".to_string(), addr.to_string())])),
    };
    apply_customer_event(
        &mut a,
        &upd("Ada A", "Oslo"),
        &author(1, "2026-11-28T09:01:00Z"),
    )
    .unwrap();
    apply_customer_event(
        &mut b,
        &upd("Ada B", "Bergen"),
        &author(2, "2026-11-28T09:01:00Z"),
    )
    .unwrap();
    let note = CustomerEvent::NoteAdded(Note {
        id: NoteId(id(70)),
        added: stamp(2, "2026-11-28T09:02:00Z"),
        text: "b".into(),
    });
    apply_customer_event(&mut b, &note, &author(2, "2026-11-28T09:02:00Z")).unwrap();
    sync_both(&mut a, &mut b);
    let (ca, xa) = read_customer(&a).unwrap();
    assert_eq!((ca.clone(), xa.clone()), read_customer(&b).unwrap());
    assert_eq!(ca.notes.len(), 2);
    let paths: Vec<&str> = xa.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, vec!["name", "address"]);
    // The address shows as JSON objects, not text.
    assert!(
        xa[1].values.iter().all(|v| v.is_object()),
        "{:?}",
        xa[1].values
    );
}

#[test]
fn call_center_users_and_catalog_round_trip() {
    let hq = author(9, "2026-11-28T08:00:00Z");
    let mut config = cc();
    let mut doc = new_call_center_doc(&config, &hq).unwrap();
    let state = read_call_center(&doc).unwrap();
    assert_eq!(
        state,
        CallCenterState {
            config: config.clone(),
            users: BTreeMap::new()
        }
    );
    config.payment_tolerance = dec("0.05");
    config.name = "North (new)".into();
    put_call_center(&mut doc, &config, &hq).unwrap();
    let rec = UserRecord {
        user: User {
            id: user(5),
            name: "Bob".into(),
            role: Role::Agent,
            call_center: Some(config.id.clone()),
        },
        token_hash: "abc123".into(),
        disabled: false,
        created_at: None,
        expires_at: None,
        password_hash: None,
    };
    put_user(&mut doc, &rec, &hq).unwrap();
    let state = read_call_center(&load(&doc.save()).unwrap()).unwrap();
    assert_eq!(state.config, config);
    assert_eq!(state.users, BTreeMap::from([(user(5), rec.clone())]));
    assert_eq!(
        read_meta(&doc).unwrap(),
        DocMeta {
            kind: DocKind::CallCenter,
            call_center: Some(config.id.clone())
        }
    );
    // Records of another call center are refused.
    let mut other = cc();
    other.id = CallCenterId::parse("south").unwrap();
    assert!(matches!(
        put_call_center(&mut doc, &other, &hq),
        Err(DocError::Mismatch(_))
    ));
    let mut stray = rec.clone();
    stray.user.call_center = None;
    assert!(matches!(
        put_user(&mut doc, &stray, &hq),
        Err(DocError::Mismatch(_))
    ));

    let mut cat_doc = new_catalog_doc(&hq).unwrap();
    assert_eq!(read_catalog(&cat_doc).unwrap(), Catalog::default());
    let cat = catalog();
    for p in cat.products.values() {
        put_product(&mut cat_doc, p, &hq).unwrap();
    }
    for g in cat.price_groups.values() {
        put_price_group(&mut cat_doc, g, &hq).unwrap();
    }
    for s in cat.source_codes.values() {
        put_source_code(&mut cat_doc, s, &hq).unwrap();
    }
    for c in cat.coupons.values() {
        put_coupon(&mut cat_doc, c, &hq).unwrap();
    }
    assert_eq!(read_catalog(&load(&cat_doc.save()).unwrap()).unwrap(), cat);
    assert_eq!(
        read_meta(&cat_doc).unwrap(),
        DocMeta {
            kind: DocKind::Catalog,
            call_center: None
        }
    );
    assert!(matches!(
        read_call_center(&cat_doc),
        Err(DocError::WrongKind { .. })
    ));
    assert_eq!(history(&cat_doc)[1].summary, "put product box");
}

#[test]
fn config_doc_ids_are_fixed_and_distinct() {
    let north = CallCenterId::parse("north").unwrap();
    let south = CallCenterId::parse("south").unwrap();
    assert_eq!(catalog_doc_id(), catalog_doc_id());
    assert_eq!(call_center_doc_id(&north), call_center_doc_id(&north));
    assert_ne!(call_center_doc_id(&north), call_center_doc_id(&south));
    assert_ne!(call_center_doc_id(&north), catalog_doc_id());
    assert_eq!(catalog_doc_id().get_version_num(), 5);
}

fn continuity_parent() -> Order {
    let mut p = empty_order();
    let mut l = line(10, "box", 2, "20.00");
    l.unit_price = dec("19.00");
    l.price_override = Some(PriceOverride {
        reason_code: ReasonCode::parse("match").unwrap(),
        by: user(1),
    });
    p.lines.insert(l.id, l);
    p.lifecycle.submitted = Some(stamp(1, "2026-01-01T12:00:00Z"));
    p
}

#[test]
fn continuity_children_generated_on_two_nodes_are_one_document() {
    let parent = continuity_parent();
    let due = due_children(&parent, &catalog(), ts("2026-03-15T00:00:00Z"));
    assert_eq!(due.len(), 2);
    let child = &due[1];
    let mut a = create_continuity_child(&parent, child, &author(1, "2026-03-15T00:00:00Z"))
        .unwrap()
        .unwrap();
    let mut b = create_continuity_child(&parent, child, &author(2, "2026-03-15T00:05:00Z"))
        .unwrap()
        .unwrap();
    let first = |d: &Automerge| {
        d.get_changes(&[])
            .into_iter()
            .next()
            .map(|mut c| (c.hash(), c.bytes().into_owned()))
    };
    assert_eq!(first(&a), first(&b), "first changes must be byte-identical");
    assert_ne!(a.get_heads(), b.get_heads());
    sync_both(&mut a, &mut b);
    let (oa, ca) = read_order(&a).unwrap();
    assert!(ca.is_empty(), "{ca:?}");
    assert_eq!(oa, read(&b));
    assert_eq!(oa.lines.len(), 1);
    assert_eq!(Some(oa.clone()), child_order(&parent, child));
    assert_eq!(oa.id, child.id);
    assert_eq!(
        read_meta(&a).unwrap().call_center,
        Some(parent.call_center_id.clone())
    );
    // The first change is written by the system, at the due time.
    let h = history(&a);
    assert_eq!(h[0].by, Some(SYSTEM_USER));
    assert_eq!(h[0].at, child.due);
    assert_eq!(h.len(), 3);
    // A due child whose parent line is gone yields nothing.
    let mut orphan = child.clone();
    orphan.link.line = LineId(id(777));
    assert!(
        create_continuity_child(&parent, &orphan, &author(1, "2026-03-15T00:00:00Z"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    assert!(matches!(
        load(b"definitely not automerge"),
        Err(DocError::Automerge(_))
    ));
    // An empty document has no kind.
    let empty = Automerge::new();
    assert!(matches!(read_meta(&empty), Err(DocError::Malformed { .. })));
    assert!(read_order(&empty).is_err());
    let a = author(1, "2026-11-28T10:00:00Z");
    // Each field of a full order, broken in turn: removed, or given a value of the wrong type.
    let doc = create_order_doc(&full_order(), &a).unwrap();
    let mut paths: Vec<(Vec<String>, String)> = Vec::new();
    collect_paths(&doc, &ROOT, &mut Vec::new(), &mut paths);
    assert!(paths.len() > 40, "{}", paths.len());
    let optional = [
        "source_code",
        "delivery_mode",
        "ship_to",
        "financial_dimensions",
        "reference",
        "cleared_reason",
        "canceled_reason",
        "system",
    ];
    let tombstones = [
        "removed_at",
        "voided_at",
        "cleared_at",
        "submitted_at",
        "override_reason",
        "override_by",
    ];
    for (path, key) in &paths {
        for mode in 0..3 {
            let mut d = doc.clone();
            d.set_actor(ActorId::from(vec![7u8; 16]));
            let mut tx = d.transaction();
            use automerge::transaction::Transactable;
            let mut obj = ROOT;
            for p in path {
                obj = tx.get(&obj, p.as_str()).unwrap().unwrap().1;
            }
            match mode {
                0 => tx.delete(&obj, key.as_str()).unwrap(),
                1 => tx
                    .put(&obj, key.as_str(), automerge::ScalarValue::F64(1.5))
                    .unwrap(),
                _ => {
                    tx.put_object(&obj, key.as_str(), automerge::ObjType::List)
                        .unwrap();
                }
            }
            tx.commit();
            let res = read_order(&d);
            let full = format!("{}/{key}", path.join("/"));
            let tolerated = mode == 0
                && (optional.contains(&key.as_str()) || tombstones.contains(&key.as_str()));
            if !tolerated {
                assert!(res.is_err(), "mode {mode} at {full} read as {res:?}");
            }
        }
    }
    // Garbled values.
    let mut d = doc.clone();
    {
        use automerge::transaction::Transactable;
        let mut tx = d.transaction();
        let lines = tx.get(ROOT, "lines").unwrap().unwrap().1;
        let l = tx
            .get(&lines, LineId(id(10)).to_string())
            .unwrap()
            .unwrap()
            .1;
        tx.put(&l, "unit_price", "nine").unwrap();
        tx.commit();
    }
    assert!(
        matches!(read_order(&d), Err(DocError::Malformed { path, .. }) if path.ends_with("unit_price"))
    );
    let mut d = doc.clone();
    {
        use automerge::transaction::Transactable;
        let mut tx = d.transaction();
        let lines = tx.get(ROOT, "lines").unwrap().unwrap().1;
        tx.put_object(&lines, "not-a-uuid", automerge::ObjType::Map)
            .unwrap();
        tx.commit();
    }
    assert!(matches!(read_order(&d), Err(DocError::Malformed { .. })));
}

/// Every scalar field of a document: (path of maps, key).
fn collect_paths(
    doc: &Automerge,
    obj: &automerge::ObjId,
    at: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, String)>,
) {
    for key in doc.keys(obj) {
        match doc.get(obj, key.as_str()).unwrap().unwrap() {
            (automerge::Value::Object(_), child) => {
                at.push(key.clone());
                collect_paths(doc, &child, at, out);
                at.pop();
            }
            _ => out.push((at.clone(), key)),
        }
    }
}

#[test]
fn garbled_bytes_never_panic() {
    let doc = create_order_doc(&full_order(), &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let bytes = doc.save();
    for i in (0..bytes.len()).step_by(7) {
        let mut b = bytes.clone();
        b[i] ^= 0x5a;
        if let Ok(d) = load(&b) {
            let _ = read_order(&d);
        }
        let _ = load(&bytes[..i]);
    }
}

#[test]
fn errors_are_send_and_sync() {
    fn check<T: Send + Sync + std::error::Error + 'static>() {}
    check::<DocError>();
    // Small enough to travel inside other errors without clippy's `result_large_err`.
    assert!(std::mem::size_of::<DocError>() <= 64);
}

#[test]
fn enforcing_invariants_on_other_documents_does_nothing() {
    let mut doc = create_customer_doc(&customer(), &author(1, "2026-11-28T09:00:00Z")).unwrap();
    let placed = enforce_invariants(
        &mut doc,
        &cc(),
        &catalog(),
        &no_rank,
        &author(1, "2026-11-28T09:01:00Z"),
    )
    .unwrap();
    assert!(placed.is_empty());
    assert_eq!(doc.get_changes(&[]).len(), 1);
}

mod merge_properties {
    //! Any interleaving of edits and partial merges among three nodes converges: after a full
    //! exchange every node reads the same order and the same conflicts, no acknowledged edit is
    //! lost, and no read along the way fails.

    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Quantity { node: usize, line: u128, qty: i64 },
        Remove { node: usize, line: u128 },
        Pay { node: usize, cents: i64 },
        Note { node: usize },
        Hold { node: usize },
        Submit { node: usize },
        Merge { from: usize, to: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        let node = 0..3usize;
        prop_oneof![
            (node.clone(), 10..13u128, 1..9i64).prop_map(|(node, line, qty)| Op::Quantity {
                node,
                line,
                qty
            }),
            (node.clone(), 10..13u128).prop_map(|(node, line)| Op::Remove { node, line }),
            (node.clone(), 1..5000i64).prop_map(|(node, cents)| Op::Pay { node, cents }),
            node.clone().prop_map(|node| Op::Note { node }),
            node.clone().prop_map(|node| Op::Hold { node }),
            node.clone().prop_map(|node| Op::Submit { node }),
            (node.clone(), node).prop_map(|(from, to)| Op::Merge { from, to }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn any_interleaving_converges(ops in proptest::collection::vec(op(), 1..24)) {
            let mut order = empty_order();
            for l in 10..13u128 {
                order.lines.insert(LineId(id(l)), line(l, "tea", 1, "10.00"));
            }
            let origin = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
            let mut nodes: Vec<Automerge> = (0..3).map(|_| replica(&origin)).collect();
            let mut fresh = 1000u128;
            let (mut payments, mut removed) = (Vec::new(), Vec::new());
            for (i, op) in ops.iter().enumerate() {
                let at = Timestamp::from_millis(ts("2026-11-28T11:00:00Z").as_millis() + i as i64 * 1000);
                let who = |node: usize| Author { now: at, ..author(node as u8 + 1, "2026-11-28T11:00:00Z") };
                let st = |node: usize| Stamp { by: user(node as u128 + 1), at };
                fresh += 1;
                let (node, ev) = match op {
                    Op::Quantity { node, line, qty } => (*node, OrderEvent::LineChanged {
                        line_id: LineId(id(*line)),
                        quantity: Some(Quantity::new(*qty).unwrap()),
                        unit_price: None,
                        price_override: None,
                    }),
                    Op::Remove { node, line } => {
                        removed.push(LineId(id(*line)));
                        (*node, OrderEvent::LineRemoved { line_id: LineId(id(*line)), stamp: st(*node) })
                    }
                    Op::Pay { node, cents } => {
                        let mut p = payment(fresh, "0.01");
                        p.amount = Decimal::new(*cents, 2);
                        p.added = st(*node);
                        payments.push(p.id);
                        (*node, OrderEvent::PaymentAdded(p))
                    }
                    Op::Note { node } => (*node, OrderEvent::NoteAdded(Note { id: NoteId(id(fresh)), added: st(*node), text: "n".into() })),
                    Op::Hold { node } => {
                        let mut h = hold(fresh);
                        h.placed = st(*node);
                        (*node, OrderEvent::HoldPlaced(h))
                    }
                    Op::Submit { node } => (*node, OrderEvent::Submitted(st(*node))),
                    Op::Merge { from, to } => {
                        if from != to {
                            let mut src = nodes[*from].clone();
                            nodes[*to].merge(&mut src).unwrap();
                            prop_assert!(read_order(&nodes[*to]).is_ok());
                        }
                        continue;
                    }
                };
                apply_order_event(&mut nodes[node], &ev, &who(node)).unwrap();
                prop_assert!(read_order(&nodes[node]).is_ok());
            }
            // Full exchange, in a fixed but arbitrary order.
            for to in 0..3 {
                for from in 0..3 {
                    if from != to {
                        let mut src = nodes[from].clone();
                        nodes[to].merge(&mut src).unwrap();
                    }
                }
            }
            for to in 0..3 {
                let mut src = nodes[2].clone();
                nodes[to].merge(&mut src).unwrap();
            }
            let first = read_order(&nodes[0]).unwrap();
            for n in &nodes[1..] {
                prop_assert_eq!(&read_order(n).unwrap(), &first);
            }
            let (o, _) = first;
            for p in &payments {
                prop_assert!(o.payments.contains_key(p));
            }
            for l in o.lines.values() {
                prop_assert_eq!(l.removed.is_some(), removed.contains(&l.id));
            }
            // A saved and reloaded document reads the same.
            prop_assert_eq!(read_order(&load(&nodes[1].save()).unwrap()).unwrap().0, o);
        }
    }
}

/// Writes one raw field, as a buggy or hostile peer could.
fn poke(doc: &mut Automerge, path: &[&str], key: &str, v: automerge::ScalarValue) {
    use automerge::transaction::Transactable;
    doc.set_actor(ActorId::from(vec![8u8; 16]));
    let mut tx = doc.transaction();
    let mut obj = ROOT;
    for p in path {
        obj = tx.get(&obj, *p).unwrap().unwrap().1;
    }
    tx.put(&obj, key, v).unwrap();
    tx.commit();
}

#[test]
fn malformed_customer_config_and_catalog_documents_are_errors() {
    use automerge::ScalarValue as S;
    let hq = author(9, "2026-11-28T08:00:00Z");
    let malformed = |r: Result<(), DocError>| matches!(r, Err(DocError::Malformed { .. }));

    let cust = create_customer_doc(&customer(), &hq).unwrap();
    let mut d = cust.clone();
    poke(&mut d, &[], "name", S::Int(3));
    assert!(malformed(read_customer(&d).map(|_| ())));
    let mut d = cust.clone();
    poke(&mut d, &[], "address", S::Str("{not json".into()));
    assert!(malformed(read_customer(&d).map(|_| ())));
    let mut d = cust.clone();
    poke(&mut d, &[], "schema", S::Int(99));
    assert!(malformed(read_customer(&d).map(|_| ())));
    let mut d = cust.clone();
    poke(&mut d, &[], "kind", S::Str("spaceship".into()));
    assert!(malformed(read_meta(&d).map(|_| ())));
    let mut d = cust.clone();
    let req = CatalogRequestId(id(61)).to_string();
    poke(&mut d, &["catalog_requests", &req], "quantity", S::Int(-1));
    assert!(malformed(read_customer(&d).map(|_| ())));

    let mut cc_doc = new_call_center_doc(&cc(), &hq).unwrap();
    poke(&mut cc_doc, &[], "config", S::Str("{}".into()));
    assert!(malformed(read_call_center(&cc_doc).map(|_| ())));
    let mut cc_doc = new_call_center_doc(&cc(), &hq).unwrap();
    poke(
        &mut cc_doc,
        &["users"],
        "not-a-user-id",
        S::Str("{}".into()),
    );
    assert!(malformed(read_call_center(&cc_doc).map(|_| ())));
    assert!(matches!(
        read_order(&cc_doc),
        Err(DocError::WrongKind { .. })
    ));

    let mut cat_doc = new_catalog_doc(&hq).unwrap();
    poke(
        &mut cat_doc,
        &["products"],
        "tea",
        S::Str("{\"id\":\"tea\"}".into()),
    );
    assert!(malformed(read_catalog(&cat_doc).map(|_| ())));
    let mut cat_doc = new_catalog_doc(&hq).unwrap();
    poke(&mut cat_doc, &["coupons"], "bad code!", S::Str("{}".into()));
    assert!(malformed(read_catalog(&cat_doc).map(|_| ())));
}

#[test]
fn history_is_causal_and_the_same_on_every_node_whatever_the_merge_order() {
    // A site whose clock runs ahead edits while HQ edits; each then receives the other's change.
    let order = empty_order();
    let a0 = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let (mut a, mut b) = (replica(&a0), replica(&a0));
    let note = |n: u128, at: &str| {
        OrderEvent::NoteAdded(Note {
            id: NoteId(id(n)),
            added: stamp(1, at),
            text: format!("note {n}"),
        })
    };
    apply_doc(
        &mut a,
        &note(50, "2026-11-28T20:00:00Z"),
        &author(1, "2026-11-28T20:00:00Z"),
    );
    apply_doc(
        &mut b,
        &note(51, "2026-11-28T11:00:00Z"),
        &author(2, "2026-11-28T11:00:00Z"),
    );
    apply_doc(
        &mut b,
        &note(52, "2026-11-28T11:05:00Z"),
        &author(2, "2026-11-28T11:05:00Z"),
    );
    // Node a receives b's changes; node c receives a's after b's: different storage orders.
    let mut c = replica(&b);
    a.merge(&mut b.clone()).unwrap();
    c.merge(&mut a.clone()).unwrap();
    let ha = history(&a);
    assert_eq!(ha, history(&c));
    let times: Vec<String> = ha.iter().map(|h| h.at.to_rfc3339()).collect();
    assert_eq!(
        times,
        [
            "2026-11-28T10:00:00.000Z",
            "2026-11-28T11:00:00.000Z",
            "2026-11-28T11:05:00.000Z",
            "2026-11-28T20:00:00.000Z"
        ]
    );
}

#[test]
fn the_history_tells_who_wrote_each_new_change_and_whether_a_cancel_followed_the_submit() {
    let mut order = empty_order();
    order
        .lines
        .insert(LineId(id(10)), line(10, "tea", 1, "10.00"));
    let mut a = create_order_doc(&order, &author(1, "2026-11-28T10:00:00Z")).unwrap();
    let start = a.get_heads();
    assert_eq!(change_authors(&a, &[]), vec![Some(user(1))]);
    assert!(change_authors(&a, &start).is_empty());
    // Concurrent: node 1 submits, node 2 cancels; the cancel did not follow the submit.
    let mut b = replica(&a);
    apply_doc(
        &mut a,
        &OrderEvent::Submitted(stamp(1, "2026-11-28T10:01:00Z")),
        &author(1, "2026-11-28T10:01:00Z"),
    );
    apply_doc(
        &mut b,
        &OrderEvent::Canceled {
            stamp: stamp(2, "2026-11-28T10:01:00Z"),
            reason: "changed mind".into(),
        },
        &author(2, "2026-11-28T10:01:00Z"),
    );
    assert!(!canceled_after_submit(&a));
    let mut c = replica(&a);
    sync_both(&mut a, &mut b);
    assert!(!canceled_after_submit(&a));
    let mut authors = change_authors(&a, &start);
    authors.sort();
    assert_eq!(authors, vec![Some(user(1)), Some(user(2))]);
    // Sequential: node 3 cancels after it saw the submit.
    apply_doc(
        &mut c,
        &OrderEvent::Canceled {
            stamp: stamp(3, "2026-11-28T10:02:00Z"),
            reason: "asked".into(),
        },
        &author(3, "2026-11-28T10:02:00Z"),
    );
    assert!(canceled_after_submit(&c));
    // A change whose message names no user.
    use automerge::transaction::Transactable;
    let before = c.get_heads();
    c.transact_with(
        |_| automerge::transaction::CommitOptions::default().with_message("raw".to_string()),
        |tx| {
            let notes = rw::root_map(tx, "notes")?;
            tx.put(&notes, "x", 1)?;
            Ok::<_, DocError>(())
        },
    )
    .unwrap();
    assert_eq!(change_authors(&c, &before), vec![None]);
}

#[test]
fn author_status_reads_the_call_centers_users() {
    let cc = cc();
    let rec = |n: u128, role: Role, disabled: bool, of: &str| UserRecord {
        user: User {
            id: user(n),
            name: format!("u{n}"),
            role,
            call_center: Some(CallCenterId::parse(of).unwrap()),
        },
        token_hash: String::new(),
        disabled,
        created_at: None,
        expires_at: None,
        password_hash: None,
    };
    let users: BTreeMap<UserId, UserRecord> = [
        rec(1, Role::Agent, false, "north"),
        rec(2, Role::Supervisor, true, "north"),
        rec(3, Role::Admin, false, "south"),
    ]
    .into_iter()
    .map(|r| (r.user.id, r))
    .collect();
    use switchboard_domain::roles::AuthorStatus::*;
    assert_eq!(author_status(&users, &cc.id, user(1)), Active(Role::Agent));
    assert_eq!(
        author_status(&users, &cc.id, user(2)),
        Disabled(Role::Supervisor)
    );
    assert_eq!(author_status(&users, &cc.id, user(3)), Unknown);
    assert_eq!(author_status(&users, &cc.id, user(4)), Unknown);
    assert_eq!(author_status(&users, &cc.id, SYSTEM_USER), System);
    // `disabled` is left out of records that are not disabled (documents written before it).
    let json = serde_json::to_string(&users[&user(1)]).unwrap();
    assert!(!json.contains("disabled"), "{json}");
    let back: UserRecord = serde_json::from_str(&json).unwrap();
    assert_eq!(back, users[&user(1)]);
}
