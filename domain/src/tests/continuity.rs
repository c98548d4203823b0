//! Continuity programs: due dates, which children are due, and deterministic child orders.

use super::fixture::*;
use crate::commands::*;
use crate::config::{Continuity, Role};
use crate::continuity::*;
use crate::order::*;
use crate::*;

#[test]
fn due_dates_every_n_days_m_times() {
    let start = ts("2026-01-31T10:00:00Z");
    let cases = [
        (
            30,
            3,
            vec![
                "2026-03-02T10:00:00.000Z",
                "2026-04-01T10:00:00.000Z",
                "2026-05-01T10:00:00.000Z",
            ],
        ),
        (
            1,
            2,
            vec!["2026-02-01T10:00:00.000Z", "2026-02-02T10:00:00.000Z"],
        ),
        (365, 1, vec!["2027-01-31T10:00:00.000Z"]),
    ];
    for (every_days, times, want) in cases {
        let got: Vec<String> = Continuity { every_days, times }
            .due_dates(start)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(got, want, "every {every_days} days × {times}");
    }
    assert!(
        Continuity {
            every_days: 0,
            times: 1
        }
        .validate()
        .len()
            == 1
    );
    assert!(
        Continuity {
            every_days: 1,
            times: 121
        }
        .validate()
        .len()
            == 1
    );
    assert!(Continuity {
        every_days: 3650,
        times: 120
    }
    .validate()
    .is_empty());
}

/// A submitted order with one vitamins line (every 30 days, 3 times) and one widget line.
fn parent(w: &World) -> (Order, LineId) {
    let mut o = w.order_with(None, Some("std"));
    let line = w.add(&mut o, "vitamins", 2);
    w.add(&mut o, "widget", 1);
    w.pay_balance(&mut o);
    w.run(&mut o, |x| submit(x, w.ctx(Role::Agent)));
    (o, line)
}

#[test]
fn due_children_rules() {
    let w = World::new();
    let (p, line) = parent(&w);
    let day = 86_400_000;
    let first = ms(w.now, 30 * day);
    // (case, now, indexes due)
    let cases = [
        ("at submission", w.now, vec![]),
        ("1 ms before the first", ms(first, -1), vec![]),
        ("exactly the first", first, vec![1]),
        ("between second and third", ms(w.now, 75 * day), vec![1, 2]),
        ("exactly the third", ms(w.now, 90 * day), vec![1, 2, 3]),
        (
            "long after: never more than the program's times",
            ms(w.now, 9_000 * day),
            vec![1, 2, 3],
        ),
    ];
    for (case, now, want) in cases {
        let due = due_children(&p, &w.catalog, now);
        let got: Vec<u32> = due.iter().map(|c| c.link.index).collect();
        assert_eq!(got, want, "case: {case}");
        for c in &due {
            assert_eq!(c.id, child_id(p.id, line, c.link.index), "case: {case}");
            assert_eq!(
                c.link,
                ContinuityRef {
                    parent: p.id,
                    line,
                    index: c.link.index
                }
            );
            assert_eq!(c.due, ms(w.now, 30 * day * c.link.index as i64));
        }
    }

    let later = ms(w.now, 100 * day);
    // Not submitted, canceled, removed line, or itself a child: nothing is due.
    let mut open = w.order();
    w.add(&mut open, "vitamins", 1);
    let mut canceled = p.clone();
    w.run(&mut canceled, |x| {
        cancel(x, w.ctx(Role::Supervisor), "stop".into())
    });
    let mut removed = p.clone();
    removed.lines.get_mut(&line).unwrap().removed = Some(w.stamp());
    let child = child_order(&p, &due_children(&p, &w.catalog, later)[0]).unwrap();
    let mut child_submitted = child.clone();
    child_submitted.lifecycle.submitted = Some(w.stamp());
    let mut released = p.clone();
    w.run(&mut released, |x| release(x, w.ctx(Role::Agent)));
    let mut held = p.clone();
    w.hold(&mut held, "fraud");
    for (case, o, want) in [
        ("open parent", &open, 0),
        ("canceled parent", &canceled, 0),
        ("continuity line removed", &removed, 0),
        ("a child is not a parent", &child_submitted, 0),
        ("released parent", &released, 3),
        ("parent on hold", &held, 3),
    ] {
        assert_eq!(
            due_children(o, &w.catalog, later).len(),
            want,
            "case: {case}"
        );
    }
}

#[test]
fn child_orders_are_deterministic() {
    let w = World::new();
    let (p, line) = parent(&w);
    let later = ms(w.now, 100 * 86_400_000);
    let due = due_children(&p, &w.catalog, later);
    let ids: std::collections::BTreeSet<OrderId> = due.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), 3, "each shipment has its own id");
    assert_eq!(
        due,
        due_children(&p.clone(), &w.catalog, later),
        "same input, same children"
    );
    assert_ne!(
        child_id(p.id, line, 1),
        child_id(OrderId(w.fresh()), line, 1)
    );
    assert_ne!(
        child_id(p.id, line, 1),
        child_id(p.id, LineId(w.fresh()), 1)
    );

    let c = child_order(&p, &due[1]).unwrap();
    assert_eq!(child_order(&p, &due[1]), Some(c.clone()));
    let pline = &p.lines[&line];
    assert_eq!(c.id, due[1].id);
    assert_eq!(c.status(), Status::Open);
    assert_eq!(c.continuity, Some(due[1].link.clone()));
    assert_eq!(
        c.created,
        Stamp {
            by: SYSTEM_USER,
            at: due[1].due
        }
    );
    assert_eq!(
        (
            c.call_center_id.clone(),
            c.customer_id,
            c.delivery_mode.clone(),
            c.ship_to.clone()
        ),
        (
            p.call_center_id.clone(),
            p.customer_id,
            p.delivery_mode.clone(),
            p.ship_to.clone()
        )
    );
    assert_eq!(c.financial_dimensions, p.financial_dimensions);
    assert_eq!(c.lines.len(), 1);
    let l = &c.lines[&child_line_id(c.id)];
    assert_eq!(
        (l.product_id.clone(), l.quantity, l.unit_price, l.list_price),
        (
            pid("vitamins"),
            pline.quantity,
            pline.unit_price,
            pline.list_price
        )
    );
    assert!(
        c.payments.is_empty() && c.holds.is_empty() && c.coupons.is_empty() && c.charges.is_empty()
    );

    let mut missing = due[0].clone();
    missing.link.line = LineId(w.fresh());
    assert_eq!(child_order(&p, &missing), None);
}

#[test]
fn programs_list_each_continuity_line_with_its_children() {
    let w = World::new();
    let day = 86_400_000;
    // Open: the program and its children's ids, no dates yet.
    let mut open = w.order();
    let line = w.add(&mut open, "vitamins", 1);
    w.add(&mut open, "widget", 1);
    let got = programs(&open, &w.catalog);
    assert_eq!(got.len(), 1, "only the continuity line");
    assert_eq!(
        (got[0].line, got[0].product_id.clone()),
        (line, pid("vitamins"))
    );
    assert_eq!(got[0].program.times as usize, got[0].children.len());
    for (i, (id, due)) in got[0].children.iter().enumerate() {
        assert_eq!(*id, child_id(open.id, line, i as u32 + 1));
        assert_eq!(*due, None, "no date before submission");
    }

    // Submitted: the dates are the due dates of `due_children`.
    let (p, line) = parent(&w);
    let got = programs(&p, &w.catalog);
    assert_eq!(got.len(), 1);
    let due = due_children(&p, &w.catalog, ms(w.now, 9_000 * day));
    let want: Vec<(OrderId, Option<Timestamp>)> = due.iter().map(|c| (c.id, Some(c.due))).collect();
    assert_eq!(got[0].line, line);
    assert_eq!(got[0].children, want);

    // Canceled: no dates (no further child is made); a child sells no program.
    let mut canceled = p.clone();
    w.run(&mut canceled, |x| {
        cancel(x, w.ctx(Role::Supervisor), "stop".into())
    });
    assert!(programs(&canceled, &w.catalog)[0]
        .children
        .iter()
        .all(|(_, d)| d.is_none()));
    let child = child_order(&p, &due[0]).unwrap();
    assert!(programs(&child, &w.catalog).is_empty());
}
