//! Property: random commands on random nodes under random network faults (drops, duplicates,
//! reordering, partitions, restarts), then heal ⇒ every node holds the same heads and the same
//! order views, no acknowledged command is lost, and no broken rule is left without its system hold.

use proptest::prelude::*;
use switchboard_domain::commands::{AddLine, AddPayment, ChangeLine, OrderCommand, OrderEvent};
use switchboard_domain::config::{Actor, Role};
use switchboard_domain::ids::*;
use switchboard_domain::invariants::{check_invariants, system_hold_id};
use switchboard_domain::money::Quantity;
use switchboard_domain::order::Order;
use switchboard_sync::doc;
use switchboard_tests::sim::*;

#[derive(Clone, Debug)]
enum Op {
    AddLine {
        node: usize,
        order: usize,
        product: usize,
    },
    ChangeQty {
        node: usize,
        order: usize,
        qty: i64,
    },
    Pay {
        node: usize,
        order: usize,
        cents: u32,
    },
    Submit {
        node: usize,
        order: usize,
    },
    Release {
        node: usize,
        order: usize,
    },
    Hold {
        node: usize,
        order: usize,
    },
    Cancel {
        node: usize,
        order: usize,
    },
    Coupon {
        node: usize,
        order: usize,
    },
    Partition {
        node: usize,
    },
    Heal,
    Round,
    Restart {
        node: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let n = 0..3usize;
    let o = 0..3usize;
    prop_oneof![
        3 => (n.clone(), o.clone(), 0..2usize).prop_map(|(node, order, product)| Op::AddLine { node, order, product }),
        2 => (n.clone(), o.clone(), 1..5i64).prop_map(|(node, order, qty)| Op::ChangeQty { node, order, qty }),
        3 => (n.clone(), o.clone(), prop_oneof![Just(1000u32), Just(400), Just(2000)]).prop_map(|(node, order, cents)| Op::Pay { node, order, cents }),
        2 => (n.clone(), o.clone()).prop_map(|(node, order)| Op::Submit { node, order }),
        2 => (n.clone(), o.clone()).prop_map(|(node, order)| Op::Release { node, order }),
        2 => (n.clone(), o.clone()).prop_map(|(node, order)| Op::Hold { node, order }),
        1 => (n.clone(), o.clone()).prop_map(|(node, order)| Op::Cancel { node, order }),
        1 => (n.clone(), o.clone()).prop_map(|(node, order)| Op::Coupon { node, order }),
        2 => n.clone().prop_map(|node| Op::Partition { node }),
        1 => Just(Op::Heal),
        3 => Just(Op::Round),
        1 => n.prop_map(|node| Op::Restart { node }),
    ]
}

/// What an accepted command left that must survive every merge.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Acked {
    Line(LineId),
    Payment(PaymentId),
    Hold(HoldId),
    Submitted,
    Released,
    Canceled,
    Coupon(CouponCode),
}

fn run(
    seed: u64,
    drop: f64,
    duplicate: f64,
    reorder: bool,
    ops: Vec<Op>,
) -> Result<(), TestCaseError> {
    // Step 1: HQ and two sites of `east`, configured, with three open orders everywhere.
    let mut sim = Sim::new(seed);
    // Half the cases in the smallest frames: sessions of many frames, each next pull sent ahead
    // of the merge.
    if seed.is_multiple_of(2) {
        sim.frame_bytes = 1024;
    }
    let hq = sim.add_hq("hq");
    let a = sim.add_site("site-a", &["east"]);
    let b = sim.add_site("site-b", &["east"]);
    sim.link(hq, a);
    sim.link(hq, b);
    sim.link(a, b);
    let users = [
        user(1, Role::Agent, "east"),
        user(2, Role::Supervisor, "east"),
    ];
    sim.configure(hq, &[call_center("east")], &users, &catalog());
    sim.converge(5);
    let agent = actor(&users[0]);
    let sup = actor(&users[1]);
    let cust = CustomerId(uid(77));
    sim.create_customer(a, &agent, cust, "Hedy");
    let orders: Vec<OrderId> = (0..3).map(|i| OrderId(uid(500 + i))).collect();
    for o in &orders {
        sim.create_order(a, &agent, *o, cust).expect("order");
    }
    sim.converge(5);
    // Step 2: random commands under faults.
    sim.faults = Faults {
        drop,
        duplicate,
        reorder,
    };
    let nodes = [hq, a, b];
    let who = |node: usize, power: bool| -> Actor {
        if node == hq {
            admin()
        } else if power {
            sup.clone()
        } else {
            agent.clone()
        }
    };
    let mut acked: Vec<(OrderId, Acked)> = Vec::new();
    for (id, op) in (10_001u128..).zip(ops) {
        let (_node, order, result): (usize, usize, Result<OrderEvent, _>) = match op {
            Op::AddLine {
                node,
                order,
                product,
            } => {
                let p = ["tea", "mug"][product];
                let r = sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], false),
                    orders[order],
                    OrderCommand::AddLine(AddLine {
                        id: LineId(uid(id)),
                        product_id: ProductId::parse(p).expect("id"),
                        quantity: Quantity::new(1).expect("qty"),
                        unit_price: None,
                        override_reason: None,
                    }),
                );
                (node, order, r)
            }
            Op::ChangeQty { node, order, qty } => {
                let line = sim
                    .read_order(nodes[node], orders[order])
                    .and_then(|(o, _)| o.active_lines().next().map(|l| l.id));
                let r = match line {
                    None => Err(switchboard_domain::OrderError::NoLines),
                    Some(line_id) => sim.order_cmd(
                        nodes[node],
                        &who(nodes[node], false),
                        orders[order],
                        OrderCommand::ChangeLine(ChangeLine {
                            line_id,
                            quantity: Some(Quantity::new(qty).expect("qty")),
                            price: None,
                        }),
                    ),
                };
                (node, order, r)
            }
            Op::Pay { node, order, cents } => {
                let amount = switchboard_domain::Decimal::new(i64::from(cents), 2);
                let r = sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], false),
                    orders[order],
                    OrderCommand::AddPayment(AddPayment {
                        id: PaymentId(uid(id)),
                        method: PaymentMethodId::parse("card").expect("id"),
                        amount,
                        reference: None,
                    }),
                );
                (node, order, r)
            }
            Op::Submit { node, order } => (
                node,
                order,
                sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], false),
                    orders[order],
                    OrderCommand::Submit,
                ),
            ),
            Op::Release { node, order } => (
                node,
                order,
                sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], false),
                    orders[order],
                    OrderCommand::Release,
                ),
            ),
            Op::Hold { node, order } => {
                let r = sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], false),
                    orders[order],
                    OrderCommand::PlaceHold {
                        id: HoldId(uid(id)),
                        code: HoldCode::parse("fraud").expect("code"),
                        reason: "check".into(),
                    },
                );
                (node, order, r)
            }
            Op::Cancel { node, order } => (
                node,
                order,
                sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], true),
                    orders[order],
                    OrderCommand::Cancel {
                        reason: "asked".into(),
                    },
                ),
            ),
            Op::Coupon { node, order } => {
                let code = CouponCode::parse("ONCE").expect("code");
                let r = sim.order_cmd(
                    nodes[node],
                    &who(nodes[node], false),
                    orders[order],
                    OrderCommand::ApplyCoupon(code),
                );
                (node, order, r)
            }
            Op::Partition { node } => {
                sim.isolate(nodes[node]);
                continue;
            }
            Op::Heal => {
                sim.heal();
                continue;
            }
            Op::Round => {
                sim.round();
                continue;
            }
            Op::Restart { node } => {
                sim.restart(nodes[node]);
                continue;
            }
        };
        sim.advance(7);
        if let Ok(ev) = result {
            let a = match ev {
                OrderEvent::LineAdded(l) => Acked::Line(l.id),
                OrderEvent::PaymentAdded(p) => Acked::Payment(p.id),
                OrderEvent::HoldPlaced(h) => Acked::Hold(h.id),
                OrderEvent::Submitted(_) => Acked::Submitted,
                OrderEvent::Released(_) => Acked::Released,
                OrderEvent::Canceled { .. } => Acked::Canceled,
                OrderEvent::CouponApplied(c) => Acked::Coupon(c.code),
                _ => continue,
            };
            acked.push((orders[order], a));
        }
    }
    // Step 3: heal; every node converges.
    sim.converge(8);
    let views = sim.order_views(hq);
    for n in [a, b] {
        prop_assert_eq!(&sim.order_views(n), &views);
    }
    // Step 4: nothing acknowledged is lost.
    for (o, a) in &acked {
        let (v, _) = &views[&o.0];
        let ok = match a {
            Acked::Line(id) => v.lines.contains_key(id),
            Acked::Payment(id) => v.payments.contains_key(id),
            Acked::Hold(id) => v.holds.contains_key(id),
            Acked::Submitted => v.lifecycle.submitted.is_some(),
            Acked::Released => v.lifecycle.released.is_some(),
            Acked::Canceled => v.lifecycle.canceled.is_some(),
            Acked::Coupon(c) => v.coupons.contains_key(c),
        };
        prop_assert!(ok, "{a:?} lost on {o}");
    }
    // Step 5: every broken rule carries its system hold.
    let cc = call_center("east");
    let cat = catalog();
    let all: Vec<&Order> = views.values().map(|(o, _)| o).collect();
    for o in &all {
        let rank = |code: &CouponCode| {
            let mine = doc::coupon_redemptions(o)
                .into_iter()
                .find(|(c, _)| c == code)?
                .1;
            let before = all
                .iter()
                .filter(|x| x.id != o.id)
                .filter_map(|x| {
                    doc::coupon_redemptions(x)
                        .into_iter()
                        .find(|(c, _)| c == code)
                        .map(|(_, at)| (at, x.id))
                })
                .filter(|k| *k < (mine, o.id))
                .count();
            Some(before as u32 + 1)
        };
        for v in check_invariants(o, &cc, &cat, &rank) {
            prop_assert!(
                o.holds.contains_key(&system_hold_id(o.id, &v.key)),
                "{:?} without its hold on {}",
                v,
                o.id
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_commands_under_faults_converge_without_loss(
        seed in any::<u64>(),
        drop in prop_oneof![Just(0.0), Just(0.1), Just(0.3)],
        duplicate in prop_oneof![Just(0.0), Just(0.2)],
        reorder in any::<bool>(),
        ops in prop::collection::vec(op(), 1..30),
    ) {
        run(seed, drop, duplicate, reorder, ops)?;
    }
}
