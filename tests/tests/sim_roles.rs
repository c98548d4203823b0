//! Role rules on merge (DESIGN.md §4–§5): a compromised site writes, under any user's name, what
//! its API would refuse. Every honest node that merges such a change from a site holds the order
//! with the same system hold, so after convergence every node holds the same order; configuration
//! sent by a site is refused whole. Legitimate concurrent edits still merge without a hold.

use switchboard_domain::commands::{AddLine, AddPayment, ChangeLine, OrderCommand, OrderEvent};
use switchboard_domain::config::{Actor, Role, User};
use switchboard_domain::ids::*;
use switchboard_domain::invariants::{system_hold_id, ViolationKind};
use switchboard_domain::money::Quantity;
use switchboard_domain::order::{Hold, HoldClear, Note, Order, PriceOverride, Stamp, Status};
use switchboard_sync::doc;
use switchboard_sync::protocol::merge::MergeError;
use switchboard_sync::protocol::{ApplyBatch, Replica, ReplicaError, Role as NodeRole};
use switchboard_tests::sim::*;

/// HQ and two sites of call center `east`, all linked, configuration synced. Site A is the one
/// that will misbehave.
struct World {
    sim: Sim,
    hq: usize,
    a: usize,
    b: usize,
    agent: User,
    agent2: User,
    sup: User,
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
    ];
    sim.configure(hq, &[call_center("east")], &users, &catalog());
    sim.converge(5);
    World {
        sim,
        hq,
        a,
        b,
        agent: users[0].clone(),
        agent2: users[1].clone(),
        sup: users[2].clone(),
    }
}

/// Someone no call center knows.
const STRANGER: UserId = UserId(uuid::Uuid::from_u128(0x5747));

fn stamp(w: &World, by: UserId) -> Stamp {
    Stamp { by, at: w.sim.now }
}

/// An open order with one line of tea × 1 (10.00, line id `3000 + n`), created at site A by the
/// agent and synced everywhere.
fn open_order(w: &mut World, n: u128) -> (OrderId, LineId) {
    let customer = CustomerId(uid(1000 + n));
    let who = actor(&w.agent);
    w.sim.create_customer(w.a, &who, customer, "Ada");
    let order = OrderId(uid(2000 + n));
    w.sim
        .create_order(w.a, &who, order, customer)
        .expect("order accepted");
    let line = LineId(uid(3000 + n));
    cmd(
        &mut w.sim,
        w.a,
        &who,
        order,
        OrderCommand::AddLine(AddLine {
            id: line,
            product_id: ProductId::parse("tea").expect("product"),
            quantity: Quantity::new(1).expect("quantity"),
            unit_price: None,
            override_reason: None,
        }),
    );
    w.sim.converge(5);
    (order, line)
}

fn cmd(sim: &mut Sim, node: usize, who: &Actor, order: OrderId, c: OrderCommand) -> OrderEvent {
    sim.order_cmd(node, who, order, c)
        .expect("command accepted")
}

fn pay_and_submit(sim: &mut Sim, node: usize, who: &Actor, order: OrderId, id: u128) {
    cmd(
        sim,
        node,
        who,
        order,
        OrderCommand::AddPayment(AddPayment {
            id: PaymentId(uid(id)),
            method: PaymentMethodId::parse("card").expect("method"),
            amount: dec("10.00"),
            reference: None,
        }),
    );
    cmd(sim, node, who, order, OrderCommand::Submit);
}

fn order_at(w: &World, node: usize, order: OrderId) -> Order {
    w.sim.read_order(node, order).expect("order held").0
}

/// The system holds of one kind on an order.
fn role_holds(o: &Order, kind: ViolationKind) -> Vec<&Hold> {
    o.holds
        .values()
        .filter(|h| h.system && h.code.as_str() == kind.hold_code())
        .collect()
}

/// Converges, then checks that every node holds the same order; returns it.
fn converge_same(w: &mut World, order: OrderId) -> Order {
    w.sim.converge(6);
    let o = order_at(w, w.hq, order);
    for n in [w.a, w.b] {
        assert_eq!(order_at(w, n, order), o, "node {n} differs");
    }
    o
}

#[test]
fn an_override_beyond_the_role_limit_is_held_on_every_node() {
    let mut w = world(51);
    let (order, line) = open_order(&mut w, 1);
    // Step 1: site A writes a 50 % override in the agent's name (the agent's limit is 5 %).
    let agent = w.agent.id;
    let forged = OrderEvent::LineChanged {
        line_id: line,
        quantity: None,
        unit_price: Some(dec("5.00")),
        price_override: Some(Some(PriceOverride {
            reason_code: ReasonCode::parse("match").expect("code"),
            by: agent,
        })),
    };
    w.sim.forge(w.a, order, agent, &forged);
    // Step 2: site B merges it straight from A, HQ too: each places the same hold.
    let key = format!("override:{line}:5:{agent}");
    let id = system_hold_id(order, &key);
    for n in [w.b, w.hq] {
        w.sim.sync(w.a, n).expect("session completes");
        let o = order_at(&w, n, order);
        let held = role_holds(&o, ViolationKind::OverrideNotPermitted);
        assert_eq!(held.len(), 1, "node {n}: {:?}", o.holds);
        assert_eq!(held[0].id, id);
        assert_eq!(o.status(), Status::OnHold);
    }
    // Step 3: after convergence every node holds the same order, the override visible and held.
    let o = converge_same(&mut w, order);
    assert_eq!(o.lines[&line].unit_price, dec("5.00"));
    assert_eq!(role_holds(&o, ViolationKind::OverrideNotPermitted).len(), 1);
    assert_eq!(o.status(), Status::OnHold);
}

#[test]
fn clearing_a_hold_the_role_may_not_clear_is_held_on_every_node() {
    let mut w = world(52);
    let (order, _) = open_order(&mut w, 2);
    // Step 1: the agent places a fraud hold (only supervisors may clear it); synced.
    let fraud = HoldId(uid(4002));
    let agent = actor(&w.agent);
    cmd(
        &mut w.sim,
        w.a,
        &agent,
        order,
        OrderCommand::PlaceHold {
            id: fraud,
            code: HoldCode::parse("fraud").expect("code"),
            reason: "check".into(),
        },
    );
    w.sim.converge(5);
    // Step 2: site A clears it in the agent's name.
    let clear = OrderEvent::HoldCleared {
        id: fraud,
        clear: HoldClear {
            by: agent.user,
            at: w.sim.now,
            reason: "fine".into(),
        },
    };
    w.sim.forge(w.a, order, agent.user, &clear);
    // Step 3: HQ merges it and holds the order.
    w.sim.sync(w.a, w.hq).expect("session completes");
    let o = order_at(&w, w.hq, order);
    assert!(o.holds[&fraud].cleared.is_some());
    let held = role_holds(&o, ViolationKind::ClearNotPermitted);
    assert_eq!(held.len(), 1, "{:?}", o.holds);
    assert_eq!(
        held[0].id,
        system_hold_id(order, &format!("clear:{fraud}:{}", agent.user))
    );
    // Step 4: everywhere the same, still on hold.
    let o = converge_same(&mut w, order);
    assert_eq!(role_holds(&o, ViolationKind::ClearNotPermitted).len(), 1);
    assert_eq!(o.status(), Status::OnHold);
}

#[test]
fn changes_by_an_unknown_user_are_held_by_hq_and_reach_every_node() {
    let mut w = world(53);
    let (order, _) = open_order(&mut w, 3);
    // Step 1: site A adds a note and a line at list price in the name of a stranger.
    let note = OrderEvent::NoteAdded(Note {
        id: NoteId(uid(5003)),
        added: stamp(&w, STRANGER),
        text: "all fine".into(),
    });
    w.sim.forge(w.a, order, STRANGER, &note);
    // Step 2: site B, which cannot tell a stranger from an HQ node-wide admin, merges it without
    // a hold, leaving it to HQ; HQ, which knows every legitimate author, holds the order.
    w.sim.sync(w.a, w.b).expect("session completes");
    let at_b = order_at(&w, w.b, order);
    assert!(role_holds(&at_b, ViolationKind::AuthorUnknown).is_empty());
    assert!(at_b.notes.contains_key(&NoteId(uid(5003))));
    w.sim.sync(w.a, w.hq).expect("session completes");
    let o = order_at(&w, w.hq, order);
    let held = role_holds(&o, ViolationKind::AuthorUnknown);
    assert_eq!(held.len(), 1, "{:?}", o.holds);
    assert_eq!(
        held[0].id,
        system_hold_id(order, &format!("author_unknown:{STRANGER}"))
    );
    // Step 3: the stranger clears a hold. B leaves it to HQ too; HQ holds the clear.
    let agent = actor(&w.agent);
    let hold = HoldId(uid(4003));
    cmd(
        &mut w.sim,
        w.a,
        &agent,
        order,
        OrderCommand::PlaceHold {
            id: hold,
            code: HoldCode::parse("fraud").expect("code"),
            reason: "check".into(),
        },
    );
    let clear = OrderEvent::HoldCleared {
        id: hold,
        clear: HoldClear {
            by: STRANGER,
            at: w.sim.now,
            reason: "fine".into(),
        },
    };
    w.sim.forge(w.a, order, STRANGER, &clear);
    w.sim.sync(w.a, w.b).expect("session completes");
    let at_b = order_at(&w, w.b, order);
    assert!(role_holds(&at_b, ViolationKind::ClearNotPermitted).is_empty());
    w.sim.sync(w.a, w.hq).expect("session completes");
    let o = order_at(&w, w.hq, order);
    assert_eq!(role_holds(&o, ViolationKind::ClearNotPermitted).len(), 1);
    // Step 4: everywhere the same, with both holds.
    let o = converge_same(&mut w, order);
    assert_eq!(role_holds(&o, ViolationKind::AuthorUnknown).len(), 1);
    assert_eq!(role_holds(&o, ViolationKind::ClearNotPermitted).len(), 1);
}

#[test]
fn changes_by_a_disabled_user_are_held_on_every_node() {
    let mut w = world(54);
    let (order, _) = open_order(&mut w, 4);
    // Step 1: HQ disables the second agent; every node learns it.
    let gone = w.agent2.clone();
    w.sim.set_disabled(w.hq, &gone, true);
    w.sim.converge(5);
    // Step 2: site A still writes a payment in that agent's name.
    let pay = OrderEvent::PaymentAdded(switchboard_domain::order::Payment {
        id: PaymentId(uid(6004)),
        method: PaymentMethodId::parse("card").expect("method"),
        amount: dec("10.00"),
        reference: None,
        added: stamp(&w, gone.id),
        voided: None,
    });
    w.sim.forge(w.a, order, gone.id, &pay);
    // Step 3: site B merges it from A and holds the order (sites know who is disabled).
    w.sim.sync(w.a, w.b).expect("session completes");
    let at_b = order_at(&w, w.b, order);
    let held = role_holds(&at_b, ViolationKind::AuthorDisabled);
    assert_eq!(held.len(), 1, "{:?}", at_b.holds);
    assert_eq!(
        held[0].id,
        system_hold_id(order, &format!("author_disabled:{}", gone.id))
    );
    // Step 4: everywhere the same: the payment is visible, the order held once.
    let o = converge_same(&mut w, order);
    assert!(o.payments.contains_key(&PaymentId(uid(6004))));
    assert_eq!(role_holds(&o, ViolationKind::AuthorDisabled).len(), 1);
}

#[test]
fn an_agent_canceling_a_submitted_order_is_held_but_a_concurrent_cancel_is_not() {
    let mut w = world(55);
    let agent = actor(&w.agent);
    // Step 1: an order submitted by the agent, synced; site A cancels it in the agent's name.
    let (order, _) = open_order(&mut w, 5);
    pay_and_submit(&mut w.sim, w.a, &agent, order, 6005);
    w.sim.converge(5);
    let cancel = OrderEvent::Canceled {
        stamp: stamp(&w, agent.user),
        reason: "asked".into(),
    };
    w.sim.forge(w.a, order, agent.user, &cancel);
    // Step 2: HQ holds it; every node ends the same.
    w.sim.sync(w.a, w.hq).expect("session completes");
    let o = order_at(&w, w.hq, order);
    let held = role_holds(&o, ViolationKind::CancelNotPermitted);
    assert_eq!(held.len(), 1, "{:?}", o.holds);
    assert_eq!(
        held[0].id,
        system_hold_id(order, &format!("cancel:{}", agent.user))
    );
    let o = converge_same(&mut w, order);
    assert_eq!(role_holds(&o, ViolationKind::CancelNotPermitted).len(), 1);
    // Step 3: during an outage the agent at A cancels an open order while the agent at B
    // submits it: both legitimate, so no hold.
    let (order2, _) = open_order(&mut w, 6);
    w.sim.partition(&[w.a], &[w.b, w.hq]);
    cmd(
        &mut w.sim,
        w.a,
        &agent,
        order2,
        OrderCommand::Cancel {
            reason: "asked".into(),
        },
    );
    let agent2 = actor(&w.agent2);
    pay_and_submit(&mut w.sim, w.b, &agent2, order2, 6006);
    let o = converge_same(&mut w, order2);
    assert!(o.lifecycle.canceled.is_some() && o.lifecycle.submitted.is_some());
    assert!(o.holds.values().all(|h| !h.system), "{:?}", o.holds);
}

#[test]
fn configuration_sent_by_a_site_is_refused_whole() {
    let mut w = world(56);
    // Step 1: site A is compromised: it raises the agents' override limit to 100 % and, believing
    // it is HQ, sends its configuration.
    w.sim.compromise(w.a);
    let mut cc = call_center("east");
    cc.price_override_limits.insert(Role::Agent, dec("100"));
    w.sim.forge_call_center(w.a, &cc, admin().user);
    let cc_doc = doc::call_center_doc_id(&cc.id);
    let hq_heads = w.sim.replica(w.hq).heads(cc_doc).expect("read");
    // Step 2: pushed to HQ, and pulled by HQ from A: refused both ways, nothing stored.
    let err = w.sim.sync(w.a, w.hq).expect_err("a push refused");
    assert!(err.contains("outside the scope"), "{err}");
    let err = w.sim.sync(w.hq, w.a).expect_err("a pull refused");
    assert!(err.contains("outside the scope"), "{err}");
    let err = w.sim.sync(w.a, w.b).expect_err("a push to a site refused");
    assert!(err.contains("outside the scope"), "{err}");
    assert_eq!(w.sim.replica(w.hq).heads(cc_doc).expect("read"), hq_heads);
    for n in [w.hq, w.b] {
        let limits = w.sim.replica(n).call_center(&cc.id).expect("held");
        assert_eq!(limits.price_override_limits[&Role::Agent], dec("5"));
    }
    // Step 3: the merge itself refuses configuration from a site, whatever the engine let in.
    let payload = w
        .sim
        .replica(w.a)
        .payload(cc_doc, None)
        .expect("read")
        .expect("held");
    let batch = ApplyBatch {
        peer: w.sim.info(w.a).node_id,
        peer_role: NodeRole::Site,
        local_role: NodeRole::Hq,
        docs: vec![payload],
        learned: vec![],
        checkpoint: None,
        peer_epoch: None,
    };
    let err = w.sim.nodes[w.hq]
        .replica
        .apply(batch)
        .expect_err("configuration from a site");
    assert!(
        matches!(
            err,
            ReplicaError::Refused {
                source: MergeError::ConfigFromSite { .. },
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(w.sim.replica(w.hq).heads(cc_doc).expect("read"), hq_heads);
}

#[test]
fn legitimate_concurrent_edits_merge_without_holds() {
    let mut w = world(57);
    let (order, line) = open_order(&mut w, 7);
    let agent = actor(&w.agent);
    let agent2 = actor(&w.agent2);
    let sup = actor(&w.sup);
    // Step 1: a fraud hold placed by the agent at A, synced.
    let fraud = HoldId(uid(4007));
    cmd(
        &mut w.sim,
        w.a,
        &agent,
        order,
        OrderCommand::PlaceHold {
            id: fraud,
            code: HoldCode::parse("fraud").expect("code"),
            reason: "check".into(),
        },
    );
    w.sim.converge(5);
    // Step 2: outage. At A the agent overrides within the 5 % limit and pays; at B the supervisor
    // clears the hold and adds a line at 20 % off; at HQ an admin adds a note.
    w.sim.partition(&[w.a], &[w.b, w.hq]);
    w.sim.partition(&[w.b], &[w.hq]);
    cmd(
        &mut w.sim,
        w.a,
        &agent,
        order,
        OrderCommand::ChangeLine(ChangeLine {
            line_id: line,
            quantity: None,
            price: Some(switchboard_domain::commands::PriceChange::Set {
                unit_price: dec("9.60"),
                reason: Some(ReasonCode::parse("match").expect("code")),
            }),
        }),
    );
    cmd(
        &mut w.sim,
        w.b,
        &sup,
        order,
        OrderCommand::ClearHold {
            id: fraud,
            reason: "checked".into(),
        },
    );
    cmd(
        &mut w.sim,
        w.b,
        &sup,
        order,
        OrderCommand::AddLine(AddLine {
            id: LineId(uid(3107)),
            product_id: ProductId::parse("mug").expect("product"),
            quantity: Quantity::new(2).expect("quantity"),
            unit_price: Some(dec("3.20")),
            override_reason: Some(ReasonCode::parse("match").expect("code")),
        }),
    );
    cmd(
        &mut w.sim,
        w.b,
        &agent2,
        order,
        OrderCommand::AddNote {
            id: NoteId(uid(5107)),
            text: "customer called back".into(),
        },
    );
    cmd(
        &mut w.sim,
        w.hq,
        &admin(),
        order,
        OrderCommand::AddNote {
            id: NoteId(uid(5207)),
            text: "checked at HQ".into(),
        },
    );
    cmd(
        &mut w.sim,
        w.hq,
        &admin(),
        order,
        OrderCommand::AddLine(AddLine {
            id: LineId(uid(3207)),
            product_id: ProductId::parse("tea").expect("product"),
            quantity: Quantity::new(1).expect("quantity"),
            unit_price: Some(dec("5.00")),
            override_reason: Some(ReasonCode::parse("match").expect("code")),
        }),
    );
    // Step 3: HQ's changes reach B first through A: a site relays an HQ node-wide admin's note and
    // 50 % override, which B cannot verify and leaves to HQ (which wrote them).
    w.sim.heal();
    w.sim.sync(w.hq, w.a).expect("session completes");
    w.sim.sync(w.a, w.b).expect("session completes");
    let at_b = order_at(&w, w.b, order);
    assert!(at_b.notes.contains_key(&NoteId(uid(5207))));
    assert_eq!(at_b.lines[&LineId(uid(3207))].unit_price, dec("5.00"));
    assert!(at_b.holds.values().all(|h| !h.system), "{:?}", at_b.holds);
    // Step 4: every node the same, every edit kept, no system hold anywhere.
    let o = converge_same(&mut w, order);
    assert_eq!(o.lines[&line].unit_price, dec("9.60"));
    assert_eq!(o.lines[&LineId(uid(3107))].unit_price, dec("3.20"));
    assert!(o.holds[&fraud].cleared.is_some());
    assert_eq!(o.notes.len(), 2);
    assert!(o.holds.values().all(|h| !h.system), "{:?}", o.holds);
    assert_eq!(o.status(), Status::Open);
}
