//! The shared part of [`super::Replica::apply`]: merging a batch of payloads against what a
//! replica holds, without writing anything. Every replica (sled in the node, memory in the tests)
//! plans with [`plan_apply`] and then commits the plan in its own durable way, so the merge rules
//! (configuration first and only from HQ, missing dependencies, meta checks, merge-time invariants,
//! role rules on what a site sends, coupon ranks across the batch and the stored orders) exist once.

use super::{ApplyBatch, ApplyOutcome, DocOutcome, Heads, ReplicaError, Role};
use crate::doc::{self, Author, CallCenterState, DocKind, DocMeta};
use crate::protocol::bounds;
use crate::protocol::merge::{self, MergeCtx, MergeError, RoleCheck};
use automerge::{Automerge, ReadDoc};
use std::collections::{BTreeMap, BTreeSet};
use switchboard_domain::config::Catalog;
use switchboard_domain::order::Order;
use switchboard_domain::{CallCenterId, CouponCode, OrderId, Timestamp};
use uuid::Uuid;

/// What a replica shows the planner. Loaded documents must carry the replica's actor, so that
/// system holds are written with it.
pub trait ApplySource {
    /// A stored document, `None` when not held.
    fn load_doc(&self, doc: Uuid) -> Result<Option<Automerge>, ReplicaError>;
    /// A stored document's meta.
    fn stored_meta(&self, doc: Uuid) -> Result<Option<DocMeta>, ReplicaError>;
    /// The catalog, when held.
    fn catalog(&self) -> Result<Option<Catalog>, ReplicaError>;
    /// A call center's configuration and users, when held.
    fn call_center(&self, cc: &CallCenterId) -> Result<Option<CallCenterState>, ReplicaError>;
    /// Stored, non-canceled orders redeeming a coupon: (order, applied at).
    fn redeemers(&self, code: &CouponCode) -> Result<Vec<(Uuid, Timestamp)>, ReplicaError>;
}

/// A document the plan changed.
pub struct StagedDoc {
    /// The merged document.
    pub doc: Automerge,
    /// Its meta.
    pub meta: DocMeta,
    /// For orders, the order as it now stands.
    pub order: Option<Order>,
}

/// What to commit.
pub struct ApplyPlan {
    /// One outcome per payload, in batch order.
    pub outcome: ApplyOutcome,
    /// Changed documents to store (each gets a new feed seq).
    pub staged: BTreeMap<Uuid, StagedDoc>,
}

fn refused(doc: Uuid) -> impl Fn(merge::MergeError) -> ReplicaError {
    move |source| ReplicaError::Refused { doc, source }
}

struct Planner<'a, S: ApplySource> {
    src: &'a S,
    staged: BTreeMap<Uuid, StagedDoc>,
    catalog: Option<Option<Catalog>>,
    configs: BTreeMap<CallCenterId, Option<CallCenterState>>,
}

impl<S: ApplySource> Planner<'_, S> {
    fn catalog(&mut self) -> Result<Option<Catalog>, ReplicaError> {
        if self.catalog.is_none() {
            let c = match self.staged.get(&doc::catalog_doc_id()) {
                Some(s) => doc::read_catalog(&s.doc).ok(),
                None => self.src.catalog()?,
            };
            self.catalog = Some(c);
        }
        Ok(self.catalog.clone().flatten())
    }

    fn call_center(&mut self, cc: &CallCenterId) -> Result<Option<CallCenterState>, ReplicaError> {
        if !self.configs.contains_key(cc) {
            let c = match self.staged.get(&doc::call_center_doc_id(cc)) {
                Some(s) => doc::read_call_center(&s.doc).ok(),
                None => self.src.call_center(cc)?,
            };
            self.configs.insert(cc.clone(), c);
        }
        Ok(self.configs.get(cc).cloned().flatten())
    }

    /// Other orders redeeming `code`: stored ones as the batch left them, plus staged ones.
    fn others_redeeming(
        &self,
        code: &CouponCode,
        this: Uuid,
    ) -> Result<Vec<(Timestamp, OrderId)>, ReplicaError> {
        let mut out: Vec<(Timestamp, OrderId)> = self
            .src
            .redeemers(code)?
            .into_iter()
            .filter(|(id, _)| *id != this && self.staged.get(id).is_none_or(|s| s.order.is_none()))
            .map(|(id, at)| (at, OrderId(id)))
            .collect();
        for (id, s) in &self.staged {
            if *id == this {
                continue;
            }
            if let Some(o) = &s.order {
                if let Some((_, at)) = doc::coupon_redemptions(o)
                    .into_iter()
                    .find(|(c, _)| c == code)
                {
                    out.push((at, OrderId(*id)));
                }
            }
        }
        Ok(out)
    }

    fn existing(&self, id: Uuid) -> Result<Option<Automerge>, ReplicaError> {
        match self.staged.get(&id) {
            Some(s) => Ok(Some(s.doc.clone())),
            None => self.src.load_doc(id),
        }
    }
}

/// Plans the merge of a batch: first measures every payload against one frame budget
/// ([`bounds::measure`]: inflated size and operations, before automerge touches any of them),
/// then merges configuration documents first (so orders in the same batch are checked against
/// it), then the rest in order; then every order holding a coupon that a merged order redeems is
/// re-checked, because a newly known redemption can push it past the limit.
///
/// From a site (`batch.peer_role`), a configuration document refuses the whole batch
/// (configuration is written only at HQ; the engine's scope check refuses it before, this is the
/// merge's own guard), and what the merge adds to each order is judged by the role rules. From HQ
/// nothing is judged: HQ writes the rules and the users, and judged what it relays when it merged it.
pub fn plan_apply(
    src: &impl ApplySource,
    batch: &ApplyBatch,
    author: &Author,
) -> Result<ApplyPlan, ReplicaError> {
    let mut budget = bounds::FrameBudget::default();
    for payload in &batch.docs {
        bounds::measure(&payload.changes, &mut budget)
            .map_err(|e| refused(payload.doc)(e.into()))?;
    }
    let mut p = Planner {
        src,
        staged: BTreeMap::new(),
        catalog: None,
        configs: BTreeMap::new(),
    };
    let mut results: Vec<Option<DocOutcome>> = vec![None; batch.docs.len()];
    let mut order: Vec<usize> = (0..batch.docs.len()).collect();
    order.sort_by_key(|i| {
        !matches!(
            batch.docs[*i].meta.kind,
            DocKind::Catalog | DocKind::CallCenter
        )
    });
    let from_site = batch.peer_role == Role::Site;
    for i in order {
        let payload = &batch.docs[i];
        if from_site && matches!(payload.meta.kind, DocKind::Catalog | DocKind::CallCenter) {
            return Err(ReplicaError::Refused {
                doc: payload.doc,
                source: MergeError::ConfigFromSite {
                    kind: payload.meta.kind,
                },
            });
        }
        let is_order = payload.meta.kind == DocKind::Order;
        let catalog = if is_order { p.catalog()? } else { None };
        let cc = match (&payload.meta.call_center, is_order) {
            (Some(c), true) => p.call_center(c)?,
            _ => None,
        };
        let existing = p.existing(payload.doc)?;
        let stored_meta = match p.staged.get(&payload.doc) {
            Some(s) => Some(s.meta.clone()),
            None => src.stored_meta(payload.doc)?,
        };
        // Only coupons with a usage limit have a rank that matters.
        let codes: Vec<CouponCode> = catalog
            .as_ref()
            .map(|c| {
                c.coupons
                    .values()
                    .filter(|k| k.max_uses.is_some())
                    .map(|k| k.code.clone())
                    .collect()
            })
            .unwrap_or_default();
        let mut ranks: BTreeMap<CouponCode, Vec<(Timestamp, OrderId)>> = BTreeMap::new();
        if is_order {
            for code in codes {
                let others = p.others_redeeming(&code, payload.doc)?;
                ranks.insert(code, others);
            }
        }
        let redemptions = |code: &CouponCode| ranks.get(code).cloned().unwrap_or_default();
        let roles = match (&cc, from_site) {
            (Some(state), true) => Some(RoleCheck {
                users: &state.users,
                knows_every_author: batch.local_role == Role::Hq,
            }),
            _ => None,
        };
        let ctx = MergeCtx {
            author,
            stored_meta: stored_meta.as_ref(),
            call_center: cc.as_ref().map(|s| &s.config),
            catalog: catalog.as_ref(),
            redemptions: &redemptions,
            roles,
        };
        let merged = merge::merge_payload(existing, payload, &ctx).map_err(refused(payload.doc))?;
        if merged.missing_deps {
            let heads: Heads = match p.staged.get(&payload.doc) {
                Some(s) => s.doc.get_heads(),
                None => src
                    .load_doc(payload.doc)?
                    .map(|d| d.get_heads())
                    .unwrap_or_default(),
            };
            results[i] = Some(DocOutcome::MissingDeps { heads });
            continue;
        }
        results[i] = Some(DocOutcome::Applied {
            heads: merged.heads.clone(),
        });
        if merged.changed {
            let meta = merged.meta.clone().unwrap_or_else(|| payload.meta.clone());
            if matches!(meta.kind, DocKind::Catalog) {
                p.catalog = None;
            }
            if let (DocKind::CallCenter, Some(c)) = (meta.kind, &meta.call_center) {
                p.configs.remove(c);
            }
            p.staged.insert(
                payload.doc,
                StagedDoc {
                    doc: merged.doc,
                    meta,
                    order: merged.order,
                },
            );
        }
    }
    recheck_coupon_holders(&mut p, author)?;
    let mut outcome = ApplyOutcome::default();
    for (payload, r) in batch.docs.iter().zip(results) {
        let r = r.ok_or_else(|| ReplicaError::Store("a payload was not merged".into()))?;
        let r = match (r, p.staged.get(&payload.doc)) {
            (DocOutcome::Applied { .. }, Some(s)) => DocOutcome::Applied {
                heads: s.doc.get_heads(),
            },
            (r, _) => r,
        };
        outcome.docs.push((payload.doc, r));
    }
    Ok(ApplyPlan {
        outcome,
        staged: p.staged,
    })
}

fn recheck_coupon_holders<S: ApplySource>(
    p: &mut Planner<'_, S>,
    author: &Author,
) -> Result<(), ReplicaError> {
    let touched: BTreeSet<CouponCode> = p
        .staged
        .values()
        .filter_map(|s| s.order.as_ref())
        .flat_map(doc::coupon_redemptions)
        .map(|(c, _)| c)
        .collect();
    if touched.is_empty() {
        return Ok(());
    }
    let mut holders = BTreeSet::new();
    for code in &touched {
        holders.extend(p.src.redeemers(code)?.into_iter().map(|(id, _)| id));
    }
    holders.extend(
        p.staged
            .iter()
            .filter(|(_, s)| s.order.is_some())
            .map(|(id, _)| *id),
    );
    let catalog = p.catalog()?;
    for id in holders {
        let Some(mut am) = p.existing(id)? else {
            continue;
        };
        let meta = match p.staged.get(&id) {
            Some(s) => s.meta.clone(),
            None => match p.src.stored_meta(id)? {
                Some(m) => m,
                None => continue,
            },
        };
        let cc = match &meta.call_center {
            Some(c) => p.call_center(c)?,
            None => None,
        };
        let mut ranks: BTreeMap<CouponCode, Vec<(Timestamp, OrderId)>> = BTreeMap::new();
        for code in &touched {
            ranks.insert(code.clone(), p.others_redeeming(code, id)?);
        }
        let redemptions = |code: &CouponCode| ranks.get(code).cloned().unwrap_or_default();
        am.set_actor(author.actor.clone());
        let ctx = MergeCtx {
            author,
            stored_meta: Some(&meta),
            call_center: cc.as_ref().map(|s| &s.config),
            catalog: catalog.as_ref(),
            redemptions: &redemptions,
            roles: None,
        };
        let (placed, order) = merge::enforce(&mut am, &ctx, None).map_err(refused(id))?;
        if !placed.is_empty() {
            p.staged.insert(
                id,
                StagedDoc {
                    doc: am,
                    meta,
                    order,
                },
            );
        }
    }
    Ok(())
}

/// A document's payload for a peer known to hold `base`: the changes after the part of `base`
/// this document has (`save_after`), nothing when the peer has it all, or the whole document when
/// no base is known. Every replica builds payloads with this.
pub fn payload_of(
    doc: Uuid,
    meta: DocMeta,
    am: &Automerge,
    base: Option<&Heads>,
) -> super::DocPayload {
    let heads = am.get_heads();
    let known: Vec<_> = match base {
        Some(b) => {
            let missing = am.get_missing_deps(b);
            b.iter().filter(|h| !missing.contains(h)).copied().collect()
        }
        None => Vec::new(),
    };
    let changes = if known.is_empty() {
        // Without automerge's own DEFLATE of large columns: frames (version 2) compress a batch
        // of documents together, which finds far more (field names, ids, values alike across
        // orders) than each document's columns alone, and costs less than DEFLATE.
        am.save_nocompress()
    } else if known == heads {
        Vec::new()
    } else {
        am.save_after(&known)
    };
    super::DocPayload {
        doc,
        meta,
        heads,
        changes,
    }
}
