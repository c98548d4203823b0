//! Domain entities as automerge documents: one document per order, customer, call-center
//! configuration, and one for the product catalog.
//!
//! The rules that keep concurrent edits safe (DESIGN.md §4):
//! - a document's whole skeleton (every nested map) is created in its first change, on one node,
//!   with the batch API; no shared map is ever created later, so two nodes can never each create
//!   "the" map and lose one;
//! - collections that agents edit concurrently (lines, payments, holds, charges, notes, coupons,
//!   customer notes, catalog requests) are maps keyed by a fresh id, each entry a map created once
//!   by the node that adds it; removal is a tombstone field, never a delete;
//! - lifecycle facts are set-once fields in the `facts` map; the status is derived by `domain`;
//! - a scalar edited on two nodes keeps every value readable: [`read_order`] reports a
//!   [`Conflict`] for each field with more than one distinct value (the winner is the value
//!   automerge's `get` returns, the same on every node);
//! - every local write is one change whose actor is the node's, whose time is the write time (in
//!   seconds) and whose message is `{"by": user, "node": node, "summary": ...}`, which
//!   [`history`] reads back.
//!
//! Layout of an order document (keys of the root map):
//! `kind`="order", `schema`=1, `id`, `call_center`, `customer_id`, `source_code`?,
//! `delivery_mode`?, `ship_to` (JSON text), `financial_dimensions` (JSON text), `created_at`
//! (int millis), `created_by`, `continuity`? (map: parent, line, index), `facts` (map:
//! submitted_at/by, released_at/by, canceled_at/by/reason), and the collection maps `lines`,
//! `charges`, `coupons` (keyed by code), `payments`, `holds`, `notes`. Money is a decimal string,
//! times are int milliseconds since the epoch, quantities ints, ids strings.

mod catalog;
mod config;
mod continuity;
mod customer;
mod depth;
mod history;
mod invariants;
mod order;
mod rw;

use automerge::Automerge;
use domain::ids::{CallCenterId, NodeId, UserId};
use domain::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain as domain;
use uuid::Uuid;

pub use catalog::{
    new_catalog_doc, put_coupon, put_price_group, put_product, put_product_image, put_source_code,
    read_catalog, read_product_image,
};
pub use config::{new_call_center_doc, put_call_center, put_user, read_call_center};
pub use continuity::create_continuity_child;
pub use customer::{
    apply_customer_event, create_customer_doc, customer_event_summary, read_customer,
};
pub use depth::{check_depth, MAX_DEPTH};
pub use history::history;
pub use invariants::{
    author_status, canceled_after_submit, change_authors, coupon_redemptions, enforce_invariants,
    place_system_holds,
};
pub use order::{
    apply_order_event, create_order_doc, read_order, run_order_command, CommandError, Decided,
};

/// Version of the document layout, stored under `schema` in every document.
pub const SCHEMA_VERSION: i64 = 1;

/// What a document holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocKind {
    /// One order.
    Order,
    /// One customer.
    Customer,
    /// One call center's configuration and users.
    CallCenter,
    /// The product catalog (products, price groups, source codes, coupons).
    Catalog,
}

impl DocKind {
    /// The name stored under `kind` in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            DocKind::Order => "order",
            DocKind::Customer => "customer",
            DocKind::CallCenter => "call_center",
            DocKind::Catalog => "catalog",
        }
    }

    /// Parses a stored `kind`.
    pub fn parse(s: &str) -> Option<DocKind> {
        [
            DocKind::Order,
            DocKind::Customer,
            DocKind::CallCenter,
            DocKind::Catalog,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for DocKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the sync layer needs to know about a document: its kind and the call center it belongs
/// to (none for the catalog), read from the content.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DocMeta {
    /// The kind.
    pub kind: DocKind,
    /// The call center of an order, customer or call-center configuration; none for the catalog.
    pub call_center: Option<CallCenterId>,
}

/// Namespace of the fixed (UUID v5) ids of configuration documents.
const CONFIG_DOC_NAMESPACE: Uuid = Uuid::from_u128(0x3e8a_51c2_96d4_4f0b_8c7e_12a9_d4b6_f05e);

/// The id of the one catalog document.
pub fn catalog_doc_id() -> Uuid {
    Uuid::new_v5(&CONFIG_DOC_NAMESPACE, b"catalog")
}

/// The id of a call center's configuration document.
pub fn call_center_doc_id(cc: &CallCenterId) -> Uuid {
    let mut name = b"call_center:".to_vec();
    name.extend_from_slice(cc.as_str().as_bytes());
    Uuid::new_v5(&CONFIG_DOC_NAMESPACE, &name)
}

/// Who writes a change: the node's actor id (one per node, see DESIGN.md §4), the user and node
/// recorded in the change message, and the time of the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    /// The node's automerge actor.
    pub actor: automerge::ActorId,
    /// The user on whose behalf the node writes.
    pub user: UserId,
    /// The node.
    pub node: NodeId,
    /// Now; the change time is stored in whole seconds.
    pub now: Timestamp,
}

/// Why a document could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum DocError {
    /// A field is missing or holds a value of the wrong shape.
    #[error("malformed document at {path}: {reason}")]
    Malformed {
        /// Path of the field, e.g. `lines/<id>/quantity`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The document holds another kind of entity than the caller expects.
    #[error("document is a {found}, expected a {expected}")]
    WrongKind {
        /// What the caller expected.
        expected: DocKind,
        /// What the document holds.
        found: DocKind,
    },
    /// The value given does not belong in this document (another id or call center).
    #[error("mismatch: {0}")]
    Mismatch(String),
    /// The document nests objects deeper than readers allow (see [`check_depth`]).
    #[error("the document nests objects more than {max} levels deep")]
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Automerge refused an operation or could not load the bytes (boxed: automerge's error is
    /// large, and this one travels inside other errors).
    #[error("automerge: {0}")]
    Automerge(Box<automerge::AutomergeError>),
}

impl From<automerge::AutomergeError> for DocError {
    fn from(e: automerge::AutomergeError) -> Self {
        DocError::Automerge(Box::new(e))
    }
}

/// A field that concurrent edits left with more than one value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// Path of the field, e.g. `lines/<line_id>/quantity`.
    pub path: String,
    /// Every distinct value, the winning one (the one in the read entity) first.
    pub values: Vec<serde_json::Value>,
}

/// A user record of a call center: the user and the hash of their API token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The user.
    pub user: domain::config::User,
    /// Hash of the user's bearer token (never the token itself).
    pub token_hash: String,
    /// A disabled user may no longer act: changes in their name merged from a site are held
    /// (`domain::roles`). Absent (false) in records written before it existed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disabled: bool,
    /// When the user was added. Absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// When the token of [`UserRecord::token_hash`] stops working. Absent in records written
    /// before tokens expired (the node gives those a deadline of its own: `node::auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
    /// The argon2id hash (PHC string) of the user's console password, if one is set: kept in the
    /// call center's configuration so a site checks a sign-in offline. Absent in records
    /// written before passwords existed, or for users who have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
}

/// A call center's configuration document, read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCenterState {
    /// The configuration.
    pub config: domain::config::CallCenter,
    /// Its users by id.
    pub users: BTreeMap<UserId, UserRecord>,
}

/// One change of a document, as the history shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When (whole seconds: automerge stores change times in seconds).
    pub at: Timestamp,
    /// The user, if the change message names one.
    pub by: Option<UserId>,
    /// The node, if the change message names one.
    pub node: Option<NodeId>,
    /// What the change did.
    pub summary: String,
}

/// Loads a document from bytes (a full save, or a save followed by incremental saves).
pub fn load(bytes: &[u8]) -> Result<Automerge, DocError> {
    Ok(Automerge::load(bytes)?)
}

/// Reads the kind and call center of any document from its content.
pub fn read_meta(doc: &Automerge) -> Result<DocMeta, DocError> {
    let kind = rw::kind_of(doc)?;
    let call_center = match kind {
        DocKind::Catalog => None,
        _ => Some(rw::root_code::<CallCenterId>(doc, "call_center")?),
    };
    Ok(DocMeta { kind, call_center })
}

#[cfg(test)]
mod tests;
