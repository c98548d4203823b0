//! Role rules on merge: what a change merged from a site may do to an order, judged by the call
//! center's role rules as the receiving node knows them. The API checks the same rules before a
//! local write (`commands`); a compromised site skips its API and writes whatever it likes under
//! any user's name, so the receiver checks what each merge adds.
//!
//! One function per rule family, each pure and comparing the order before the merge with the
//! order after it, so that only what the merge added is judged (a rule changed at HQ later does
//! not turn old, accepted facts into violations):
//! - [`check_authors`]: every author (named by a new change or a new fact) is a user of the
//!   order's call center and not disabled;
//! - [`check_price_overrides`]: a line priced away from its list price has a configured reason
//!   code, a product that allows overrides, and an overrider whose role's limit covers it;
//! - [`check_hold_clears`]: a hold is cleared only by a role its hold code allows;
//! - [`check_cancel`]: a submitted order is canceled only by a supervisor or an admin.
//!
//! Each violation is a [`Violation`] whose key names the fact (line and price, hold and clearer,
//! canceler, author), so every node that finds it derives the same system hold
//! ([`crate::invariants::system_hold`]) and the holds merge as one. A violation becomes a hold,
//! never a refusal: the facts stay visible and the order is blocked until a supervisor looks;
//! a refusal would leave the sender's document diverged for good, and a legitimate offline edit
//! judged by a rule HQ changed meanwhile would block that order's sync forever.

use crate::config::{CallCenter, Catalog, Role};
use crate::ids::UserId;
use crate::invariants::{Violation, ViolationKind};
use crate::order::{Line, Order, SYSTEM_USER};
use rust_decimal::Decimal;
use std::collections::BTreeSet;

/// What the receiving node knows of a user named as an author.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorStatus {
    /// [`SYSTEM_USER`]: what nodes do by themselves (system holds, continuity children). No role.
    System,
    /// An enabled user of the order's call center.
    Active(Role),
    /// A disabled user of the order's call center.
    Disabled(Role),
    /// Not a user of the order's call center, or no author recorded at all.
    Unknown,
}

impl AuthorStatus {
    /// The role the author acts with; none for the system user and unknown authors, who may do
    /// nothing that needs a role.
    pub fn role(self) -> Option<Role> {
        match self {
            AuthorStatus::Active(r) | AuthorStatus::Disabled(r) => Some(r),
            AuthorStatus::System | AuthorStatus::Unknown => None,
        }
    }
}

/// The role rules as the receiving node knows them.
pub struct RoleRules<'a> {
    /// The order's call center (override limits, reason codes, hold codes).
    pub cc: &'a CallCenter,
    /// The catalog (which products allow overrides).
    pub catalog: &'a Catalog,
    /// What is known of a user, from the users of the order's call center ([`SYSTEM_USER`] is
    /// [`AuthorStatus::System`] whatever this says).
    pub author: &'a dyn Fn(UserId) -> AuthorStatus,
    /// Whether this node knows every legitimate author (HQ). There an unknown author breaks the
    /// author rule and has no role. A site cannot tell an HQ node-wide admin from an invented
    /// user, so it leaves what an unknown author did to HQ, whose hold reaches it by sync (an
    /// invented name gains a compromised site nothing: it can name a real supervisor of its call
    /// center as well).
    pub knows_every_author: bool,
}

/// What a merge did to an order: the order before (`None` when the document is new here) and
/// after, and what the document's history tells about the new changes.
#[derive(Clone, Copy, Debug)]
pub struct MergedOrder<'a> {
    /// Before the merge.
    pub before: Option<&'a Order>,
    /// After the merge.
    pub after: &'a Order,
    /// The author recorded by each change the merge added (`None` when a change names none).
    pub change_authors: &'a [Option<UserId>],
    /// Whether the order was already submitted in the causal past of the change that canceled it
    /// (or in that change itself). Only the document's history can tell a cancel after a submit
    /// from a cancel concurrent with it.
    pub canceled_after_submit: bool,
}

/// Every role rule, on what a merge added: [`check_authors`], [`check_price_overrides`],
/// [`check_hold_clears`] and [`check_cancel`].
pub fn check_role_rules(m: &MergedOrder<'_>, rules: &RoleRules<'_>) -> Vec<Violation> {
    let mut out = check_authors(m, rules);
    out.extend(check_price_overrides(m.before, m.after, rules));
    out.extend(check_hold_clears(m.before, m.after, rules));
    out.extend(check_cancel(
        m.before,
        m.after,
        m.canceled_after_submit,
        rules,
    ));
    out
}

/// One fact an order records, with the user it names and whether the system writes such a fact.
struct Fact {
    what: String,
    by: UserId,
    system_writes: bool,
}

/// Every user-attributed fact of an order.
fn facts(o: &Order) -> Vec<Fact> {
    let child = o.continuity.is_some();
    let mut out = Vec::new();
    let mut push = |what: String, by: UserId, system_writes: bool| {
        out.push(Fact {
            what,
            by,
            system_writes,
        })
    };
    push("created".into(), o.created.by, child);
    for l in o.lines.values() {
        push(format!("line {} added", l.id), l.added.by, child);
        if let Some(p) = &l.price_override {
            push(format!("line {} price override", l.id), p.by, false);
        }
        if let Some(r) = &l.removed {
            push(format!("line {} removed", l.id), r.by, false);
        }
    }
    for c in o.charges.values() {
        push(format!("charge {} added", c.id), c.added.by, false);
    }
    for c in o.coupons.values() {
        push(format!("coupon {} applied", c.code), c.applied.by, false);
        if let Some(r) = &c.removed {
            push(format!("coupon {} removed", c.code), r.by, false);
        }
    }
    for p in o.payments.values() {
        push(format!("payment {} added", p.id), p.added.by, false);
        if let Some(v) = &p.voided {
            push(format!("payment {} voided", p.id), v.by, false);
        }
    }
    for h in o.holds.values() {
        push(format!("hold {} placed", h.id), h.placed.by, h.system);
        if let Some(c) = &h.cleared {
            push(format!("hold {} cleared", h.id), c.by, false);
        }
    }
    for n in o.notes.values() {
        push(format!("note {} added", n.id), n.added.by, false);
    }
    let l = &o.lifecycle;
    for (what, s) in [("submitted", &l.submitted), ("released", &l.released)] {
        if let Some(s) = s {
            push(what.into(), s.by, false);
        }
    }
    if let Some((s, _)) = &l.canceled {
        push("canceled".into(), s.by, false);
    }
    out
}

/// The facts of `after` that `before` does not record (with the same user).
fn new_facts(before: Option<&Order>, after: &Order) -> Vec<Fact> {
    let old: BTreeSet<(String, UserId)> = before
        .map(|b| facts(b).into_iter().map(|f| (f.what, f.by)).collect())
        .unwrap_or_default();
    facts(after)
        .into_iter()
        .filter(|f| !old.contains(&(f.what.clone(), f.by)))
        .collect()
}

/// What is known of a user: the system user is known everywhere, the rest from `rules`.
fn status(rules: &RoleRules<'_>, user: UserId) -> AuthorStatus {
    if user == SYSTEM_USER {
        AuthorStatus::System
    } else {
        (rules.author)(user)
    }
}

/// The role a user acts with, if this node judges what they did: `None` for an unknown user where
/// not every author is known (left to HQ); `Some(None)` for a user with no role (the system user,
/// or an unknown user at HQ).
fn judged_role(rules: &RoleRules<'_>, user: UserId) -> Option<Option<Role>> {
    match status(rules, user) {
        AuthorStatus::Unknown if !rules.knows_every_author => None,
        s => Some(s.role()),
    }
}

fn violation(kind: ViolationKind, key: String, reason: String) -> Violation {
    Violation { kind, key, reason }
}

/// The author rule: the author of each new change and the user named by each new fact is a user
/// of the order's call center, and not disabled. The system user is an author only of what nodes
/// write by themselves (system holds, a continuity child's creation and line); a fact of any other
/// kind in its name is a forgery. An unknown author breaks the rule only where
/// [`RoleRules::knows_every_author`]. One violation per user and order: a supervisor who
/// reviewed a user's changes to an order and cleared the hold is not asked again for that user.
pub fn check_authors(m: &MergedOrder<'_>, rules: &RoleRules<'_>) -> Vec<Violation> {
    let mut named: BTreeSet<Option<UserId>> = m.change_authors.iter().copied().collect();
    let mut out = Vec::new();
    let mut forged: BTreeSet<String> = BTreeSet::new();
    for f in new_facts(m.before, m.after) {
        if f.by == SYSTEM_USER && !f.system_writes {
            forged.insert(f.what);
        } else {
            named.insert(Some(f.by));
        }
    }
    if !forged.is_empty() {
        let list: Vec<String> = forged.into_iter().collect();
        out.push(violation(
            ViolationKind::AuthorUnknown,
            format!("author_system:{}", list.join(",")),
            format!(
                "the system user is named as the author of what only users do: {}",
                list.join(", ")
            ),
        ));
    }
    for by in named {
        let status = by.map_or(AuthorStatus::Unknown, |u| status(rules, u));
        let who = by.map_or_else(|| "none".to_string(), |u| u.to_string());
        match status {
            AuthorStatus::Unknown if rules.knows_every_author => out.push(violation(
                ViolationKind::AuthorUnknown,
                format!("author_unknown:{who}"),
                format!(
                    "changes by {who}, who is not a user of call center {}",
                    rules.cc.id
                ),
            )),
            AuthorStatus::Disabled(role) => out.push(violation(
                ViolationKind::AuthorDisabled,
                format!("author_disabled:{who}"),
                format!("changes by {who} ({}), a disabled user", role.as_str()),
            )),
            _ => {}
        }
    }
    out
}

/// How far below its list price a unit price is, in percent (negative for a mark-up; zero for
/// any price over a zero list price), as `commands` computes it.
pub fn override_percent(list_price: Decimal, unit_price: Decimal) -> Decimal {
    if list_price.is_zero() {
        Decimal::ZERO
    } else {
        (list_price - unit_price) * Decimal::ONE_HUNDRED / list_price
    }
}

/// Why a line's price is not one its overrider may give, if it is not.
fn override_problem(line: &Line, rules: &RoleRules<'_>) -> Option<String> {
    if line.unit_price == line.list_price {
        return None;
    }
    let allowed = rules
        .catalog
        .products
        .get(&line.product_id)
        .is_some_and(|p| p.allow_price_override);
    if !allowed {
        return Some(format!(
            "product {} allows no price override",
            line.product_id
        ));
    }
    let Some(o) = &line.price_override else {
        return Some("a price override without a reason code".into());
    };
    if !rules.cc.has_reason_code(&o.reason_code) {
        return Some(format!("reason code {} is not configured", o.reason_code));
    }
    let role = match judged_role(rules, o.by) {
        None => return None,
        Some(None) => return Some(format!("overridden by {}, who has no role here", o.by)),
        Some(Some(r)) => r,
    };
    let percent = override_percent(line.list_price, line.unit_price);
    match rules.cc.override_limit(role) {
        Some(limit) if percent > limit => Some(format!(
            "{}% below list price, beyond the {} limit of {limit}%",
            percent.round_dp(2).normalize(),
            role.as_str()
        )),
        _ => None,
    }
}

/// The override rule: every line whose price or override the merge set (removed lines too: a
/// tombstone can be lifted by a forged change) is at its list price, or carries a configured
/// reason code on a product that allows overrides, and its overrider's role limit covers it.
pub fn check_price_overrides(
    before: Option<&Order>,
    after: &Order,
    rules: &RoleRules<'_>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for line in after.lines.values() {
        let unchanged = before
            .and_then(|b| b.lines.get(&line.id))
            .is_some_and(|old| {
                old.unit_price == line.unit_price
                    && old.list_price == line.list_price
                    && old.price_override == line.price_override
            });
        if unchanged {
            continue;
        }
        if let Some(problem) = override_problem(line, rules) {
            let by = line
                .price_override
                .as_ref()
                .map_or_else(|| line.added.by.to_string(), |o| o.by.to_string());
            out.push(violation(
                ViolationKind::OverrideNotPermitted,
                format!("override:{}:{}:{by}", line.id, line.unit_price.normalize()),
                format!(
                    "line {} priced {} (list {}): {problem}",
                    line.id, line.unit_price, line.list_price
                ),
            ));
        }
    }
    out
}

/// The clear rule: every hold the merge cleared was cleared by a role that may clear it
/// ([`Order::may_clear`]: admins always, system holds supervisors, otherwise the hold code's
/// roles). An author with no role may clear nothing.
pub fn check_hold_clears(
    before: Option<&Order>,
    after: &Order,
    rules: &RoleRules<'_>,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for h in after.holds.values() {
        let Some(c) = &h.cleared else {
            continue;
        };
        let old = before.and_then(|b| b.holds.get(&h.id));
        if old.is_some_and(|o| o.cleared.as_ref() == Some(c)) {
            continue;
        }
        let Some(role) = judged_role(rules, c.by) else {
            continue;
        };
        if role.is_some_and(|r| Order::may_clear(h, r, rules.cc)) {
            continue;
        }
        let role = role.map_or("no role", Role::as_str);
        out.push(violation(
            ViolationKind::ClearNotPermitted,
            format!("clear:{}:{}", h.id, c.by),
            format!(
                "hold {} ({}) cleared by {} ({role}), which that hold code does not allow",
                h.id, h.code, c.by
            ),
        ));
    }
    out
}

/// The cancel rule: a cancel the merge added on an order already submitted when it was canceled
/// is by a supervisor or an admin (`commands::cancel`). A cancel concurrent with the submit is an
/// open order's cancel, which any user may make.
pub fn check_cancel(
    before: Option<&Order>,
    after: &Order,
    canceled_after_submit: bool,
    rules: &RoleRules<'_>,
) -> Vec<Violation> {
    let Some((s, _)) = &after.lifecycle.canceled else {
        return Vec::new();
    };
    let old = before.and_then(|b| b.lifecycle.canceled.as_ref().map(|(s, _)| s));
    if old == Some(s) || !canceled_after_submit {
        return Vec::new();
    }
    let Some(role) = judged_role(rules, s.by) else {
        return Vec::new();
    };
    if matches!(role, Some(Role::Supervisor | Role::Admin)) {
        return Vec::new();
    }
    let role = role.map_or("no role", Role::as_str);
    vec![violation(
        ViolationKind::CancelNotPermitted,
        format!("cancel:{}", s.by),
        format!(
            "submitted order canceled by {} ({role}); only a supervisor or an admin may",
            s.by
        ),
    )]
}
