//! Multi-node merge scenarios over the simulated network (DESIGN.md §4–§5), each as numbered steps.

use switchboard_domain::commands::{AddLine, AddPayment, ChangeLine, OrderCommand};
use switchboard_domain::config::{Actor, Role};
use switchboard_domain::continuity::due_children;
use switchboard_domain::ids::*;
use switchboard_domain::invariants::ViolationKind;
use switchboard_domain::money::Quantity;
use switchboard_domain::order::{Order, Status};
use switchboard_sync::doc::{self, DocKind};
use switchboard_tests::sim::*;

/// HQ and two sites of call center `east`, all linked; configuration synced.
struct World {
    sim: Sim,
    hq: usize,
    a: usize,
    b: usize,
    agent_a: Actor,
    agent_b: Actor,
    sup_a: Actor,
}

fn world(seed: u64) -> World {
    let mut sim = Sim::new(seed);
    let hq = sim.add_hq("hq");
    let a = sim.add_site("site-a", &["east"]);
    let b = sim.add_site("site-b", &["east"]);
    sim.link(hq, a);
    sim.link(hq, b);
    sim.link(a, b);
    let users = vec![
        user(1, Role::Agent, "east"),
        user(2, Role::Agent, "east"),
        user(3, Role::Supervisor, "east"),
        user(4, Role::Supervisor, "east"),
    ];
    sim.configure(hq, &[call_center("east")], &users, &catalog());
    sim.converge(5);
    World {
        sim,
        hq,
        a,
        b,
        agent_a: actor(&users[0]),
        agent_b: actor(&users[1]),
        sup_a: actor(&users[2]),
    }
}

fn qty(n: i64) -> Quantity {
    Quantity::new(n).expect("quantity")
}

fn add_line(
    w: &mut World,
    node: usize,
    who: &Actor,
    order: OrderId,
    line: u128,
    product: &str,
    n: i64,
) {
    w.sim
        .order_cmd(
            node,
            who,
            order,
            OrderCommand::AddLine(AddLine {
                id: LineId(uid(line)),
                product_id: ProductId::parse(product).expect("product"),
                quantity: qty(n),
                unit_price: None,
                override_reason: None,
            }),
        )
        .expect("line accepted");
}

fn pay(w: &mut World, node: usize, who: &Actor, order: OrderId, id: u128, amount: &str) {
    w.sim
        .order_cmd(
            node,
            who,
            order,
            OrderCommand::AddPayment(AddPayment {
                id: PaymentId(uid(id)),
                method: PaymentMethodId::parse("card").expect("method"),
                amount: dec(amount),
                reference: None,
            }),
        )
        .expect("payment accepted");
}

/// An open order with one line of tea × 1 (10.00), created at site A and synced everywhere.
fn open_order(w: &mut World, n: u128) -> OrderId {
    let customer = CustomerId(uid(1000 + n));
    let who = w.agent_a.clone();
    w.sim.create_customer(w.a, &who, customer, "Ada");
    let order = OrderId(uid(2000 + n));
    w.sim
        .create_order(w.a, &who, order, customer)
        .expect("order accepted");
    add_line(w, w.a, &who, order, 3000 + n, "tea", 1);
    w.sim.converge(5);
    order
}

fn assert_same_views(w: &World, order: OrderId) -> Order {
    let (oa, ca) = w.sim.read_order(w.a, order).expect("a holds the order");
    let (ob, cb) = w.sim.read_order(w.b, order).expect("b holds the order");
    let (oh, ch) = w.sim.read_order(w.hq, order).expect("hq holds the order");
    assert_eq!(oa, ob);
    assert_eq!(oa, oh);
    assert_eq!(ca, cb);
    assert_eq!(ca, ch);
    oa
}

fn system_holds(o: &Order, kind: ViolationKind) -> usize {
    o.holds
        .values()
        .filter(|h| h.system && h.code.as_str() == kind.hold_code())
        .count()
}

#[test]
fn two_sites_edit_different_lines_during_an_outage() {
    // Step 1: an order with one line exists everywhere.
    let mut w = world(1);
    let order = open_order(&mut w, 1);
    // Step 2: the WAN between site A and the others goes down.
    w.sim.isolate(w.a);
    // Step 3: site A changes the tea quantity; site B adds a mug line.
    let (a, b, agent_a, agent_b) = (w.a, w.b, w.agent_a.clone(), w.agent_b.clone());
    w.sim
        .order_cmd(
            a,
            &agent_a,
            order,
            OrderCommand::ChangeLine(ChangeLine {
                line_id: LineId(uid(3001)),
                quantity: Some(qty(3)),
                price: None,
            }),
        )
        .expect("change accepted");
    add_line(&mut w, b, &agent_b, order, 3101, "mug", 2);
    // Step 4: a round during the outage reaches HQ from B only.
    w.sim.round();
    assert_ne!(
        w.sim.read_order(a, order).expect("held").0,
        w.sim.read_order(b, order).expect("held").0
    );
    // Step 5: the link returns and every node converges.
    w.sim.converge(5);
    let o = assert_same_views(&w, order);
    // Step 6: both edits are there, with no conflict.
    assert_eq!(o.lines[&LineId(uid(3001))].quantity, qty(3));
    assert_eq!(o.lines[&LineId(uid(3101))].quantity, qty(2));
    assert!(w.sim.read_order(a, order).expect("held").1.is_empty());
}

#[test]
fn both_sites_edit_the_same_quantity_and_the_conflict_stays_visible() {
    // Step 1: an order with one line everywhere.
    let mut w = world(2);
    let order = open_order(&mut w, 2);
    // Step 2: partition A | B.
    w.sim.partition(&[w.a], &[w.b, w.hq]);
    // Step 3: A sets quantity 4, B sets quantity 7.
    let (a, b, agent_a, agent_b) = (w.a, w.b, w.agent_a.clone(), w.agent_b.clone());
    for (node, who, n) in [(a, agent_a, 4), (b, agent_b, 7)] {
        w.sim
            .order_cmd(
                node,
                &who,
                order,
                OrderCommand::ChangeLine(ChangeLine {
                    line_id: LineId(uid(3002)),
                    quantity: Some(qty(n)),
                    price: None,
                }),
            )
            .expect("change accepted");
    }
    // Step 4: heal and converge.
    w.sim.converge(5);
    let o = assert_same_views(&w, order);
    // Step 5: one value wins everywhere, the other is listed as a conflict.
    let q = o.lines[&LineId(uid(3002))].quantity;
    assert!(q == qty(4) || q == qty(7));
    let (_, conflicts) = w.sim.read_order(a, order).expect("held");
    let c = conflicts
        .iter()
        .find(|c| c.path.contains("quantity"))
        .expect("a quantity conflict");
    assert_eq!(c.values.len(), 2, "{c:?}");
}

#[test]
fn a_hold_placed_while_another_site_releases_ends_held_with_a_system_hold() {
    // Step 1: an order paid in full and submitted, synced.
    let mut w = world(3);
    let order = open_order(&mut w, 3);
    let (a, b, agent_a, agent_b) = (w.a, w.b, w.agent_a.clone(), w.agent_b.clone());
    pay(&mut w, a, &agent_a, order, 4003, "10.00");
    w.sim
        .order_cmd(a, &agent_a, order, OrderCommand::Submit)
        .expect("submit accepted");
    w.sim.converge(5);
    // Step 2: partition; A places a fraud hold, B releases the order.
    w.sim.partition(&[a], &[b, w.hq]);
    w.sim
        .order_cmd(
            a,
            &agent_a,
            order,
            OrderCommand::PlaceHold {
                id: HoldId(uid(5003)),
                code: HoldCode::parse("fraud").expect("code"),
                reason: "check".into(),
            },
        )
        .expect("hold accepted");
    w.sim
        .order_cmd(b, &agent_b, order, OrderCommand::Release)
        .expect("release accepted");
    // Step 3: heal and converge.
    w.sim.converge(5);
    let o = assert_same_views(&w, order);
    // Step 4: released, the manual hold active, and exactly one system hold recording it.
    assert!(o.lifecycle.released.is_some());
    assert!(o.holds[&HoldId(uid(5003))].is_active());
    assert_eq!(system_holds(&o, ViolationKind::ReleasedWhileHeld), 1);
    assert_eq!(o.status(), Status::OnHold);
}

#[test]
fn cancel_against_submit_converges_to_canceled() {
    // Step 1: a paid order, synced.
    let mut w = world(4);
    let order = open_order(&mut w, 4);
    let (a, b, agent_b, sup_a) = (w.a, w.b, w.agent_b.clone(), w.sup_a.clone());
    pay(&mut w, b, &agent_b, order, 4004, "10.00");
    w.sim.converge(5);
    // Step 2: partition; a supervisor at A cancels while an agent at B submits.
    w.sim.partition(&[a], &[b, w.hq]);
    w.sim
        .order_cmd(
            a,
            &sup_a,
            order,
            OrderCommand::Cancel {
                reason: "customer called".into(),
            },
        )
        .expect("cancel");
    w.sim
        .order_cmd(b, &agent_b, order, OrderCommand::Submit)
        .expect("submit");
    // Step 3: heal and converge.
    w.sim.converge(5);
    let o = assert_same_views(&w, order);
    // Step 4: both facts are kept; canceled wins the status; no system hold on a canceled order.
    assert!(o.lifecycle.canceled.is_some() && o.lifecycle.submitted.is_some());
    assert_eq!(o.status(), Status::Canceled);
    assert!(o.holds.values().all(|h| !h.system));
}

#[test]
fn a_line_added_while_another_site_submits_with_exact_payment_gets_held() {
    // Step 1: an open order with tea × 1, paid exactly 10.00, synced.
    let mut w = world(5);
    let order = open_order(&mut w, 5);
    let (a, b, agent_a, agent_b) = (w.a, w.b, w.agent_a.clone(), w.agent_b.clone());
    pay(&mut w, a, &agent_a, order, 4005, "10.00");
    w.sim.converge(5);
    // Step 2: partition; B submits (payments cover the total there); A adds a mug line.
    w.sim.partition(&[a], &[b, w.hq]);
    w.sim
        .order_cmd(b, &agent_b, order, OrderCommand::Submit)
        .expect("submit accepted");
    add_line(&mut w, a, &agent_a, order, 3105, "mug", 1);
    // Step 3: heal and converge.
    w.sim.converge(5);
    let o = assert_same_views(&w, order);
    // Step 4: submitted, short by the mug, held by one system hold.
    assert!(o.lifecycle.submitted.is_some());
    let t = o.totals(&call_center("east"), &catalog());
    assert_eq!(t.balance, dec("4.00"));
    assert_eq!(system_holds(&o, ViolationKind::SubmittedUnderpaid), 1);
    assert_eq!(o.status(), Status::OnHold);
}

#[test]
fn a_coupon_limited_to_one_use_redeemed_at_two_sites_holds_the_later_order() {
    // Step 1: two open orders, one per site, synced.
    let mut w = world(6);
    let o1 = open_order(&mut w, 61);
    let o2 = open_order(&mut w, 62);
    // Step 2: partition; A applies ONCE to o1, then (later) B applies it to o2.
    let (a, b, agent_a, agent_b) = (w.a, w.b, w.agent_a.clone(), w.agent_b.clone());
    w.sim.partition(&[a], &[b, w.hq]);
    let code = CouponCode::parse("ONCE").expect("code");
    w.sim
        .order_cmd(a, &agent_a, o1, OrderCommand::ApplyCoupon(code.clone()))
        .expect("coupon accepted at A");
    w.sim.advance(60);
    w.sim
        .order_cmd(b, &agent_b, o2, OrderCommand::ApplyCoupon(code.clone()))
        .expect("coupon accepted at B (it does not know A's use)");
    // Step 3: heal and converge.
    w.sim.converge(6);
    let v1 = assert_same_views(&w, o1);
    let v2 = assert_same_views(&w, o2);
    // Step 4: the first redemption stands; the later one is held.
    assert_eq!(system_holds(&v1, ViolationKind::CouponOverLimit), 0);
    assert_eq!(system_holds(&v2, ViolationKind::CouponOverLimit), 1);
    // Step 5: a third order cannot take the coupon any more.
    let o3 = OrderId(uid(2063));
    w.sim
        .create_order(a, &agent_a, o3, CustomerId(uid(1061)))
        .expect("order");
    add_line(&mut w, a, &agent_a, o3, 3163, "tea", 1);
    let refused = w
        .sim
        .order_cmd(a, &agent_a, o3, OrderCommand::ApplyCoupon(code));
    assert!(refused.is_err());
}

#[test]
fn continuity_children_generated_on_both_sides_of_a_partition_merge_as_one() {
    // Step 1: a submitted order with a continuity line (box, every 30 days), synced.
    let mut w = world(7);
    let order = open_order(&mut w, 7);
    let (a, b, agent_a) = (w.a, w.b, w.agent_a.clone());
    add_line(&mut w, a, &agent_a, order, 3107, "box", 1);
    pay(&mut w, a, &agent_a, order, 4007, "30.00");
    w.sim
        .order_cmd(a, &agent_a, order, OrderCommand::Submit)
        .expect("submit");
    w.sim.converge(5);
    // Step 2: partition; 31 days pass; both sites generate the due child.
    w.sim.partition(&[a], &[b, w.hq]);
    w.sim.advance(31 * 86_400);
    for node in [a, b] {
        let (parent, _) = w.sim.read_order(node, order).expect("parent");
        let due = due_children(&parent, &catalog(), w.sim.now);
        assert_eq!(due.len(), 1);
        let author = w.sim.replica(node).system_author();
        let child = doc::create_continuity_child(&parent, &due[0], &author)
            .expect("child")
            .expect("line");
        w.sim.nodes[node]
            .replica
            .put(due[0].id.0, &child)
            .expect("stored");
    }
    // Step 3: heal and converge.
    w.sim.converge(5);
    // Step 4: one child everywhere (same id, same heads), with one line for the box.
    let orders: Vec<_> = w.sim.replica(w.hq).docs_of(DocKind::Order);
    assert_eq!(orders.len(), 2);
    let child_id = *orders.iter().find(|id| **id != order.0).expect("child");
    let child = assert_same_views(&w, OrderId(child_id));
    assert_eq!(child.lines.len(), 1);
    assert!(child.continuity.is_some());
    let (_, conflicts) = w.sim.read_order(a, OrderId(child_id)).expect("child");
    assert!(conflicts.is_empty(), "{conflicts:?}");
}

#[test]
fn three_sites_and_hq_hq_ends_with_every_order() {
    // Step 1: HQ with three sites of three call centers; sites sync only with HQ.
    let mut sim = Sim::new(8);
    let hq = sim.add_hq("hq");
    let sites: Vec<usize> = ["east", "west", "north"]
        .iter()
        .map(|c| sim.add_site(&format!("site-{c}"), &[c]))
        .collect();
    for s in &sites {
        sim.link(hq, *s);
    }
    let ccs: Vec<_> = ["east", "west", "north"]
        .iter()
        .map(|c| call_center(c))
        .collect();
    let users: Vec<_> = ["east", "west", "north"]
        .iter()
        .enumerate()
        .map(|(i, c)| user(10 + i as u128, Role::Agent, c))
        .collect();
    sim.configure(hq, &ccs, &users, &catalog());
    sim.converge(5);
    // Step 2: every site goes offline and takes three orders.
    for s in &sites {
        sim.isolate(*s);
    }
    for (i, s) in sites.iter().enumerate() {
        let who = actor(&users[i]);
        let cust = CustomerId(uid(7000 + i as u128));
        sim.create_customer(*s, &who, cust, "Grace");
        for k in 0..3u128 {
            sim.create_order(*s, &who, OrderId(uid(8000 + 10 * i as u128 + k)), cust)
                .expect("order");
        }
    }
    // Step 3: the WAN returns.
    sim.converge(5);
    // Step 4: HQ holds all nine orders; each site holds exactly its own three.
    assert_eq!(sim.replica(hq).docs_of(DocKind::Order).len(), 9);
    for (i, s) in sites.iter().enumerate() {
        let views = sim.order_views(*s);
        assert_eq!(views.len(), 3);
        assert!(views.values().all(|(o, _)| o.call_center_id == ccs[i].id));
        for (id, v) in views {
            assert_eq!(sim.read_order(hq, OrderId(id)).expect("hq holds it"), v);
        }
    }
}
