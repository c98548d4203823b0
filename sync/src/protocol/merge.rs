//! Merging one received payload into a stored document: the part of [`crate::protocol::Replica::apply`]
//! that every replica (sled in the node, memory in the tests) shares.
//!
//! The payload's cost was measured first ([`crate::protocol::bounds`], by
//! [`crate::protocol::apply::plan_apply`] for the whole frame), so `load_incremental` inflates and
//! walks a bounded amount.
//!
//! Steps: load the stored document (or start an empty one), `load_incremental` the changes,
//! detect missing dependencies (the payload's heads are not all present afterwards: nothing is to
//! be stored, the sender must resend), check that the content's kind and call center match what
//! the payload declared (scope checks ran on the declaration) and what was stored before (both are
//! immutable), check the merged document's nesting depth before anything reads it
//! ([`doc::check_depth`]), then run the merge-time invariants on orders, which may place system
//! holds. When the payload comes from a site, the role rules (`domain::roles`) judge what the
//! merge added to an order against the call center's rules and users as this node knows them;
//! each violation is a system hold too, placed in the same change.

use crate::doc::{self, Author, DocError, DocKind, DocMeta, UserRecord};
use crate::protocol::bounds::BoundsError;
use crate::protocol::{DocPayload, Heads};
use automerge::{Automerge, ReadDoc};
use std::collections::BTreeMap;
use switchboard_domain::config::{CallCenter, Catalog};
use switchboard_domain::invariants::Violation;
use switchboard_domain::order::{Hold, Order};
use switchboard_domain::roles::{check_role_rules, MergedOrder, RoleRules};
use switchboard_domain::{CouponCode, OrderId, Timestamp, UserId};

/// Why a payload was refused.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The changes are not valid automerge changes.
    #[error("malformed changes: {0}")]
    Malformed(Box<automerge::AutomergeError>),
    /// The payload does not contain the heads it declares.
    #[error("the payload does not contain the heads it declares")]
    HeadsMismatch,
    /// The content is not what the payload declared (kind or call center).
    #[error("the payload declares {declared:?} but the content is {actual:?}")]
    MetaMismatch {
        /// Declared.
        declared: DocMeta,
        /// Found in the content.
        actual: DocMeta,
    },
    /// The merge would change the kind or call center of a stored document.
    #[error("the merge would change the document from {stored:?} to {merged:?}")]
    MetaChanged {
        /// Stored before.
        stored: DocMeta,
        /// After the merge.
        merged: DocMeta,
    },
    /// The changes would cost more to load than a frame may (inflated size, operations), or are
    /// not automerge's storage format.
    #[error("refused before loading: {0}")]
    Bounds(#[from] BoundsError),
    /// A site sent a configuration document (call center or catalog): configuration is written
    /// only at HQ.
    #[error("a {kind} document from a site: configuration is written only at HQ")]
    ConfigFromSite {
        /// The document's kind.
        kind: DocKind,
    },
    /// The document could not be read (or nests too deep to be read).
    #[error("unreadable document: {0}")]
    Doc(#[from] DocError),
}

impl From<automerge::AutomergeError> for MergeError {
    fn from(e: automerge::AutomergeError) -> Self {
        MergeError::Malformed(Box::new(e))
    }
}

/// What the merge needs besides the document.
pub struct MergeCtx<'a> {
    /// Who places system holds (this node's actor, the system user, now).
    pub author: &'a Author,
    /// The stored document's meta, when it is held.
    pub stored_meta: Option<&'a DocMeta>,
    /// The configuration of the order's call center, when held here.
    pub call_center: Option<&'a CallCenter>,
    /// The catalog, when held here.
    pub catalog: Option<&'a Catalog>,
    /// The other orders known here that redeemed a coupon: (applied at, order id), this order
    /// excluded, this batch included.
    pub redemptions: &'a dyn Fn(&CouponCode) -> Vec<(Timestamp, OrderId)>,
    /// Set when the payload comes from a site: the role rules judge what the merge adds.
    pub roles: Option<RoleCheck<'a>>,
}

/// What the role rules need besides the call center's configuration and the catalog.
#[derive(Clone, Copy)]
pub struct RoleCheck<'a> {
    /// The users of the order's call center, as this node knows them.
    pub users: &'a BTreeMap<UserId, UserRecord>,
    /// Whether this node knows every legitimate author (HQ; see
    /// `domain::roles::RoleRules::knows_every_author`).
    pub knows_every_author: bool,
}

/// What a merge added to an order, for the role rules.
pub struct Added {
    /// The order before the merge, `None` when the document was not held (or not readable).
    pub before: Option<Order>,
    /// The author named by each change the merge added.
    pub change_authors: Vec<Option<UserId>>,
}

/// The result of a merge.
#[derive(Debug)]
pub struct Merged {
    /// The merged document (to be stored when `changed`).
    pub doc: Automerge,
    /// Its meta, read from the content.
    pub meta: Option<DocMeta>,
    /// Its heads.
    pub heads: Heads,
    /// Whether it differs from the stored document.
    pub changed: bool,
    /// The payload depends on changes not held here: store nothing, ask for a resend.
    pub missing_deps: bool,
    /// System holds the invariants placed.
    pub holds_placed: Vec<Hold>,
    /// The order after the merge, for orders that changed (read models, coupon index).
    pub order: Option<Order>,
}

/// Merges a payload into the stored document (`None` when not held). The caller has measured
/// the payload against its frame's budget ([`crate::protocol::bounds::measure`]).
pub fn merge_payload(
    existing: Option<Automerge>,
    payload: &DocPayload,
    ctx: &MergeCtx<'_>,
) -> Result<Merged, MergeError> {
    let held = existing.is_some();
    let mut doc = existing.unwrap_or_default();
    let before = doc.get_heads();
    let judged = ctx.roles.is_some() && payload.meta.kind == DocKind::Order;
    let before_order = match (judged, held) {
        (true, true) => doc::read_order(&doc).ok().map(|(o, _)| o),
        _ => None,
    };
    doc.load_incremental(&payload.changes)?;
    let missing = doc.get_missing_deps(&payload.heads);
    if !missing.is_empty() {
        if payload.heads.iter().any(|h| missing.contains(h)) {
            return Err(MergeError::HeadsMismatch);
        }
        return Ok(Merged {
            doc,
            meta: ctx.stored_meta.cloned(),
            heads: before,
            changed: false,
            missing_deps: true,
            holds_placed: Vec::new(),
            order: None,
        });
    }
    let heads = doc.get_heads();
    let changed = heads != before;
    if !changed && held {
        return Ok(Merged {
            doc,
            meta: ctx.stored_meta.cloned(),
            heads,
            changed,
            missing_deps: false,
            holds_placed: Vec::new(),
            order: None,
        });
    }
    doc::check_depth(&doc, doc::MAX_DEPTH)?;
    let actual = doc::read_meta(&doc)?;
    if actual != payload.meta {
        return Err(MergeError::MetaMismatch {
            declared: payload.meta.clone(),
            actual,
        });
    }
    if let Some(stored) = ctx.stored_meta {
        if *stored != actual {
            return Err(MergeError::MetaChanged {
                stored: stored.clone(),
                merged: actual,
            });
        }
    }
    let (holds_placed, order) = if actual.kind == DocKind::Order {
        let added = judged.then(|| Added {
            before: before_order,
            change_authors: doc::change_authors(&doc, &before),
        });
        enforce(&mut doc, ctx, added.as_ref())?
    } else {
        (Vec::new(), None)
    };
    let heads = doc.get_heads();
    Ok(Merged {
        doc,
        meta: Some(actual),
        heads,
        changed: true,
        missing_deps: false,
        holds_placed,
        order,
    })
}

/// The 1-based rank of an order among the orders redeeming a coupon, ordered by (applied at,
/// order id); `None` when the order does not redeem it.
pub fn coupon_rank(
    order: &Order,
    code: &CouponCode,
    others: &[(Timestamp, OrderId)],
) -> Option<u32> {
    let mine = doc::coupon_redemptions(order)
        .into_iter()
        .find(|(c, _)| c == code)?
        .1;
    let before = others
        .iter()
        .filter(|(at, id)| (*at, *id) < (mine, order.id) && *id != order.id)
        .count();
    Some(u32::try_from(before).unwrap_or(u32::MAX).saturating_add(1))
}

/// Runs the merge-time invariants on an order document (after a merge, or when another order's
/// merge changed the rank of a coupon it redeems) and, given what a merge from a site `added`, the
/// role rules: places the missing system holds, in one change. Returns the holds placed and the
/// order as it stands afterwards. Without the call center's configuration or the catalog the rules
/// cannot be evaluated, and nothing is placed.
pub fn enforce(
    doc: &mut Automerge,
    ctx: &MergeCtx<'_>,
    added: Option<&Added>,
) -> Result<(Vec<Hold>, Option<Order>), MergeError> {
    let (order, _) = doc::read_order(doc)?;
    let (Some(cc), Some(catalog)) = (ctx.call_center, ctx.catalog) else {
        return Ok((Vec::new(), Some(order)));
    };
    let rank = |code: &CouponCode| coupon_rank(&order, code, &(ctx.redemptions)(code));
    let mut violations: Vec<Violation> =
        switchboard_domain::invariants::check_invariants(&order, cc, catalog, &rank);
    if let (Some(added), Some(roles)) = (added, ctx.roles) {
        let author = |u: UserId| doc::author_status(roles.users, &cc.id, u);
        let rules = RoleRules {
            cc,
            catalog,
            author: &author,
            knows_every_author: roles.knows_every_author,
        };
        let merged = MergedOrder {
            before: added.before.as_ref(),
            after: &order,
            change_authors: &added.change_authors,
            canceled_after_submit: doc::canceled_after_submit(doc),
        };
        violations.extend(check_role_rules(&merged, &rules));
    }
    let placed = doc::place_system_holds(doc, &order, &violations, ctx.author)?;
    if placed.is_empty() {
        return Ok((placed, Some(order)));
    }
    let (order, _) = doc::read_order(doc)?;
    Ok((placed, Some(order)))
}
