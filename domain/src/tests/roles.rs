//! Role rules on merge: each rule family, with what breaks it and what does not.

use super::fixture::*;
use crate::commands::{apply, OrderEvent};
use crate::config::Role;
use crate::invariants::{system_hold_id, ViolationKind};
use crate::order::*;
use crate::roles::*;
use crate::*;
use uuid::Uuid;

/// A user the world does not know.
const STRANGER: UserId = UserId(Uuid::from_u128(0x5747));
/// A disabled agent of the world's call center.
const GONE: UserId = UserId(Uuid::from_u128(0x60e));

fn known(u: UserId) -> AuthorStatus {
    match u {
        x if x == user(Role::Agent) => AuthorStatus::Active(Role::Agent),
        x if x == user(Role::Supervisor) => AuthorStatus::Active(Role::Supervisor),
        x if x == user(Role::Admin) => AuthorStatus::Active(Role::Admin),
        x if x == GONE => AuthorStatus::Disabled(Role::Agent),
        _ => AuthorStatus::Unknown,
    }
}

fn rules(w: &World, knows_every_author: bool) -> RoleRules<'_> {
    RoleRules {
        cc: &w.cc,
        catalog: &w.catalog,
        author: &known,
        knows_every_author,
    }
}

fn kinds(vs: &[crate::invariants::Violation]) -> Vec<(ViolationKind, String)> {
    vs.iter().map(|v| (v.kind, v.key.clone())).collect()
}

fn merged<'a>(
    before: Option<&'a Order>,
    after: &'a Order,
    authors: &'a [Option<UserId>],
) -> MergedOrder<'a> {
    MergedOrder {
        before,
        after,
        change_authors: authors,
        canceled_after_submit: false,
    }
}

/// `order` with its first line priced at `price`, overridden by `by` with `reason`.
fn priced(order: &Order, price: &str, by: UserId, reason: Option<&str>) -> Order {
    let mut o = order.clone();
    let line = o.lines.values_mut().next().unwrap();
    line.unit_price = d(price);
    line.price_override = reason.map(|r| PriceOverride {
        reason_code: rcode(r),
        by,
    });
    o
}

#[test]
fn authors_must_be_known_enabled_users_of_the_call_center() {
    let w = World::new();
    let before = w.order();
    let mut after = before.clone();
    w.add(&mut after, "widget", 1);
    let agent = Some(user(Role::Agent));
    // The agent's own change: fine, at HQ and at a site.
    for strict in [true, false] {
        let vs = check_authors(&merged(Some(&before), &after, &[agent]), &rules(&w, strict));
        assert!(vs.is_empty(), "{vs:?}");
    }
    // A change by a stranger: broken at HQ only; a change naming no author likewise.
    let m = merged(Some(&before), &after, &[Some(STRANGER), None]);
    assert_eq!(
        kinds(&check_authors(&m, &rules(&w, true))),
        vec![
            (ViolationKind::AuthorUnknown, "author_unknown:none".into()),
            (
                ViolationKind::AuthorUnknown,
                format!("author_unknown:{STRANGER}")
            ),
        ]
    );
    assert!(check_authors(&m, &rules(&w, false)).is_empty());
    // A disabled user: broken everywhere.
    for strict in [true, false] {
        let m = merged(Some(&before), &after, &[Some(GONE)]);
        assert_eq!(
            kinds(&check_authors(&m, &rules(&w, strict))),
            vec![(
                ViolationKind::AuthorDisabled,
                format!("author_disabled:{GONE}")
            )]
        );
    }
    // A new fact naming a stranger, even in a change signed by the agent.
    let mut forged = before.clone();
    let mut note = Note {
        id: NoteId(w.fresh()),
        added: Stamp {
            by: STRANGER,
            at: w.now,
        },
        text: "hi".into(),
    };
    forged.notes.insert(note.id, note.clone());
    let vs = check_authors(&merged(Some(&before), &forged, &[agent]), &rules(&w, true));
    assert_eq!(
        kinds(&vs),
        vec![(
            ViolationKind::AuthorUnknown,
            format!("author_unknown:{STRANGER}")
        )]
    );
    // Facts already there before the merge are not judged again (a user disabled later).
    note.added.by = GONE;
    let mut old = before.clone();
    old.notes.insert(note.id, note);
    let vs = check_authors(&merged(Some(&old), &old, &[agent]), &rules(&w, true));
    assert!(vs.is_empty(), "{vs:?}");
    // The system user places system holds; a payment in its name is a forgery, everywhere.
    let mut sys = before.clone();
    let hold = Hold {
        id: HoldId(w.fresh()),
        code: hcode("system.coupon_over_limit"),
        reason: "r".into(),
        placed: Stamp {
            by: SYSTEM_USER,
            at: w.now,
        },
        system: true,
        cleared: None,
    };
    sys.holds.insert(hold.id, hold);
    let vs = check_authors(
        &merged(Some(&before), &sys, &[Some(SYSTEM_USER)]),
        &rules(&w, true),
    );
    assert!(vs.is_empty(), "{vs:?}");
    // (On the order with a line: an empty order is paid in full, and takes no payment.)
    let mut paid = after.clone();
    w.pay(&mut paid, "1.00");
    let p = paid.payments.values_mut().next().unwrap();
    p.added.by = SYSTEM_USER;
    let id = p.id;
    let vs = check_authors(
        &merged(Some(&after), &paid, &[Some(SYSTEM_USER)]),
        &rules(&w, false),
    );
    assert_eq!(
        kinds(&vs),
        vec![(
            ViolationKind::AuthorUnknown,
            format!("author_system:payment {id} added")
        )]
    );
}

#[test]
fn price_overrides_stay_within_the_overriders_role() {
    let w = World::new();
    let mut base = w.order();
    w.add(&mut base, "widget", 1); // 10.00, allows overrides
    let line = *base.lines.keys().next().unwrap();
    let agent = user(Role::Agent);
    let sup = user(Role::Supervisor);
    let r = rules(&w, true);
    let check = |o: &Order| kinds(&check_price_overrides(Some(&base), o, &r));
    let key = |price: &str, by: UserId| format!("override:{line}:{price}:{by}");
    let over = |by| (ViolationKind::OverrideNotPermitted, key("8", by));
    // Within the agent's 5 %, and the supervisor's 25 %: fine.
    assert_eq!(check(&priced(&base, "9.50", agent, Some("match"))), vec![]);
    assert_eq!(check(&priced(&base, "8.00", sup, Some("match"))), vec![]);
    // A mark-up is within every limit.
    assert_eq!(check(&priced(&base, "12.00", agent, Some("match"))), vec![]);
    // 20 % by an agent: beyond the limit.
    assert_eq!(
        check(&priced(&base, "8.00", agent, Some("match"))),
        vec![over(agent)]
    );
    // No reason code, or one not configured.
    assert_eq!(
        check(&priced(&base, "8.00", sup, None)),
        vec![(ViolationKind::OverrideNotPermitted, key("8", agent))]
    );
    assert_eq!(
        check(&priced(&base, "8.00", sup, Some("bribe"))),
        vec![over(sup)]
    );
    // By a stranger at HQ, or the system user anywhere: no role, no override. A site leaves a
    // stranger's override to HQ (it may be an HQ node-wide admin's).
    let site = rules(&w, false);
    for (by, r) in [(STRANGER, &r), (SYSTEM_USER, &r), (SYSTEM_USER, &site)] {
        let o = priced(&base, "9.90", by, Some("match"));
        assert_eq!(
            kinds(&check_price_overrides(Some(&base), &o, r)),
            vec![(ViolationKind::OverrideNotPermitted, key("9.9", by))]
        );
    }
    let o = priced(&base, "5.00", STRANGER, Some("match"));
    assert_eq!(
        kinds(&check_price_overrides(Some(&base), &o, &site)),
        vec![]
    );
    // What does not depend on the author is judged at a site too.
    let o = priced(&base, "9.90", STRANGER, Some("bribe"));
    assert_eq!(
        kinds(&check_price_overrides(Some(&base), &o, &site)),
        vec![(ViolationKind::OverrideNotPermitted, key("9.9", STRANGER))]
    );
    // A product that allows no override.
    let mut gadget = w.order();
    w.add(&mut gadget, "gadget", 1);
    let g = *gadget.lines.keys().next().unwrap();
    let o = priced(&gadget, "19.00", sup, Some("match"));
    assert_eq!(
        kinds(&check_price_overrides(Some(&gadget), &o, &r)),
        vec![(
            ViolationKind::OverrideNotPermitted,
            format!("override:{g}:19:{sup}")
        )]
    );
    // A new document: every line is judged; a removed line too.
    let mut removed = priced(&base, "8.00", agent, Some("match"));
    removed.lines.get_mut(&line).unwrap().removed = Some(w.stamp());
    assert_eq!(
        kinds(&check_price_overrides(None, &removed, &r)),
        vec![over(agent)]
    );
    // Unchanged since before the merge: not judged again (HQ lowered the limit meanwhile).
    let old = priced(&base, "8.00", agent, Some("match"));
    let mut after = old.clone();
    after.lines.get_mut(&line).unwrap().quantity = Quantity::new(3).unwrap();
    assert_eq!(
        kinds(&check_price_overrides(Some(&old), &after, &r)),
        vec![]
    );
}

#[test]
fn holds_are_cleared_only_by_roles_their_code_allows() {
    let w = World::new();
    let mut before = w.order();
    let fraud = w.hold(&mut before, "fraud"); // supervisors
    let credit = w.hold(&mut before, "credit"); // agents and supervisors
    let legal = w.hold(&mut before, "legal"); // admins only
    let clear = |o: &Order, id: HoldId, by: UserId| {
        let mut o = o.clone();
        apply(
            &mut o,
            &OrderEvent::HoldCleared {
                id,
                clear: HoldClear {
                    by,
                    at: w.now,
                    reason: "ok".into(),
                },
            },
        );
        o
    };
    let r = rules(&w, true);
    let check = |o: &Order| kinds(&check_hold_clears(Some(&before), o, &r));
    let agent = user(Role::Agent);
    let sup = user(Role::Supervisor);
    let admin = user(Role::Admin);
    assert_eq!(check(&clear(&before, credit, agent)), vec![]);
    assert_eq!(check(&clear(&before, fraud, sup)), vec![]);
    assert_eq!(check(&clear(&before, legal, admin)), vec![]);
    let no = |id: HoldId, by: UserId| {
        vec![(ViolationKind::ClearNotPermitted, format!("clear:{id}:{by}"))]
    };
    assert_eq!(check(&clear(&before, fraud, agent)), no(fraud, agent));
    assert_eq!(check(&clear(&before, legal, sup)), no(legal, sup));
    assert_eq!(
        check(&clear(&before, credit, STRANGER)),
        no(credit, STRANGER)
    );
    assert_eq!(
        check(&clear(&before, credit, SYSTEM_USER)),
        no(credit, SYSTEM_USER)
    );
    // A system hold: supervisors, not agents.
    let mut sys = before.clone();
    let v = crate::invariants::Violation {
        kind: ViolationKind::OverrideNotPermitted,
        key: "k".into(),
        reason: "r".into(),
    };
    let h = crate::invariants::system_hold(&sys, &v, w.now).unwrap();
    assert_eq!(h.id, system_hold_id(sys.id, "k"));
    sys.holds.insert(h.id, h.clone());
    let r2 = rules(&w, true);
    assert_eq!(
        kinds(&check_hold_clears(Some(&sys), &clear(&sys, h.id, sup), &r2)),
        vec![]
    );
    assert_eq!(
        kinds(&check_hold_clears(
            Some(&sys),
            &clear(&sys, h.id, agent),
            &r2
        )),
        no(h.id, agent)
    );
    // A clear already there before the merge is not judged again.
    let cleared = clear(&before, fraud, agent);
    assert_eq!(
        kinds(&check_hold_clears(Some(&cleared), &cleared, &r)),
        vec![]
    );
}

#[test]
fn a_submitted_order_is_canceled_only_by_a_supervisor_or_admin() {
    let w = World::new();
    let before = w.submitted();
    let cancel = |by: UserId| {
        let mut o = before.clone();
        o.lifecycle.canceled = Some((Stamp { by, at: w.now }, "asked".into()));
        o
    };
    let r = rules(&w, true);
    let agent = user(Role::Agent);
    for (by, after_submit, broken) in [
        (agent, true, true),
        (STRANGER, true, true),
        (user(Role::Supervisor), true, false),
        (user(Role::Admin), true, false),
        // Concurrent with the submit: an open order's cancel, which any user may make.
        (agent, false, false),
    ] {
        let after = cancel(by);
        let vs = check_cancel(Some(&before), &after, after_submit, &r);
        // A site judges the same, except a stranger's cancel, which it leaves to HQ.
        let at_site = check_cancel(Some(&before), &after, after_submit, &rules(&w, false));
        assert_eq!(kinds(&at_site).is_empty(), !broken || by == STRANGER);
        let want = if broken {
            vec![(ViolationKind::CancelNotPermitted, format!("cancel:{by}"))]
        } else {
            vec![]
        };
        assert_eq!(kinds(&vs), want, "{by} after submit: {after_submit}");
    }
    // Already canceled before the merge: not judged again.
    let after = cancel(agent);
    assert!(check_cancel(Some(&after), &after, true, &r).is_empty());
}

#[test]
fn every_family_runs_and_legitimate_merges_break_nothing() {
    let w = World::new();
    let before = w.order();
    // A legitimate day: lines, an override within the limit, a payment, a hold placed and
    // cleared by a supervisor, a note, a submit.
    let mut after = before.clone();
    w.add(&mut after, "widget", 2);
    after = priced(&after, "9.60", user(Role::Agent), Some("match"));
    w.pay(&mut after, "19.20");
    let h = w.hold(&mut after, "fraud");
    apply(
        &mut after,
        &OrderEvent::HoldCleared {
            id: h,
            clear: HoldClear {
                by: user(Role::Supervisor),
                at: w.now,
                reason: "ok".into(),
            },
        },
    );
    let authors = [Some(user(Role::Agent)), Some(user(Role::Supervisor))];
    let m = MergedOrder {
        before: Some(&before),
        after: &after,
        change_authors: &authors,
        canceled_after_submit: false,
    };
    assert!(check_role_rules(&m, &rules(&w, true)).is_empty());
    // The same with an over-limit override by a disabled user: two families report.
    let bad = priced(&after, "5.00", GONE, Some("match"));
    let m = MergedOrder { after: &bad, ..m };
    let got: Vec<ViolationKind> = check_role_rules(&m, &rules(&w, true))
        .into_iter()
        .map(|v| v.kind)
        .collect();
    assert_eq!(
        got,
        vec![
            ViolationKind::AuthorDisabled,
            ViolationKind::OverrideNotPermitted
        ]
    );
    for k in [
        ViolationKind::AuthorUnknown,
        ViolationKind::AuthorDisabled,
        ViolationKind::OverrideNotPermitted,
        ViolationKind::ClearNotPermitted,
        ViolationKind::CancelNotPermitted,
    ] {
        assert!(HoldCode::parse(k.hold_code()).is_ok(), "{k:?}");
    }
}
