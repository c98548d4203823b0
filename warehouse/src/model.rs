//! What goes into the warehouse and what comes back: the documents a node hands over
//! ([`DocUpdate`], [`DocValue`]), positions in a node's change feed ([`Position`]), the options
//! ([`Options`], [`ContactField`]) and the reports ([`Applied`], [`Status`]).

use automerge::{Automerge, ChangeHash, ReadDoc};
use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, SystemTime};
use switchboard_domain::config::Catalog;
use switchboard_domain::customer::Customer;
use switchboard_domain::order::{Order, Pricing};
use switchboard_domain::NodeId;
use switchboard_sync::doc::{self as sdoc, CallCenterState, DocError, DocKind, HistoryEntry};
use uuid::Uuid;

/// A position in a node's change feed: the feed's epoch and the last sequence number covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    /// The feed's epoch (a node restored from a backup starts a new one).
    pub epoch: Uuid,
    /// The last sequence number whose documents are in the warehouse.
    pub seq: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.seq, self.epoch)
    }
}

/// An order as the warehouse stores it: the order, its pricing and its history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderDoc {
    /// The order, as `switchboard_sync::doc::read_order` reads it.
    pub order: Order,
    /// The totals and their parts, as the node prices the order with the call center and catalog
    /// it holds (`order.pricing(cc, catalog)`); `None` when it holds either not (the order's
    /// totals columns stay NULL and `priced` is false).
    pub pricing: Option<Pricing>,
    /// The document's history, oldest first (`switchboard_sync::doc::history`).
    pub history: Vec<HistoryEntry>,
}

/// The content of one document, as the domain represents it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DocValue {
    /// An order.
    Order(Box<OrderDoc>),
    /// A customer.
    Customer(Box<Customer>),
    /// A call center's configuration and users (token hashes are never written).
    CallCenter(Box<CallCenterState>),
    /// The catalog.
    Catalog(Box<Catalog>),
}

impl DocValue {
    /// The kind of document this value comes from.
    pub fn kind(&self) -> DocKind {
        match self {
            DocValue::Order(_) => DocKind::Order,
            DocValue::Customer(_) => DocKind::Customer,
            DocValue::CallCenter(_) => DocKind::CallCenter,
            DocValue::Catalog(_) => DocKind::Catalog,
        }
    }

    /// Reads any document into its value. An order comes without pricing (the document alone
    /// cannot price it): set [`OrderDoc::pricing`] from the call center and catalog.
    pub fn from_doc(doc: &Automerge) -> Result<DocValue, DocError> {
        Ok(match sdoc::read_meta(doc)?.kind {
            DocKind::Order => DocValue::Order(Box::new(OrderDoc {
                order: sdoc::read_order(doc)?.0,
                pricing: None,
                history: sdoc::history(doc),
            })),
            DocKind::Customer => DocValue::Customer(Box::new(sdoc::read_customer(doc)?.0)),
            DocKind::CallCenter => DocValue::CallCenter(Box::new(sdoc::read_call_center(doc)?)),
            DocKind::Catalog => DocValue::Catalog(Box::new(sdoc::read_catalog(doc)?)),
        })
    }
}

/// Whether the node's version of a document contains every given head (hex change hash): then
/// the node's version descends from the version those heads name.
pub type Contains = Box<dyn FnOnce(&[String]) -> bool + Send>;

/// One document of a batch: its id, its heads, its content, and a way to tell whether this
/// version causally includes the version the warehouse holds.
pub struct DocUpdate {
    /// The document id (an order's or customer's id, `call_center_doc_id`, `catalog_doc_id`).
    pub doc_id: Uuid,
    /// The heads of this version, hex change hashes.
    pub heads: Vec<String>,
    /// The content of this version.
    pub value: DocValue,
    /// Called at most once, with the heads the warehouse holds for the document (never empty):
    /// whether this version contains all of them.
    pub contains: Contains,
}

impl fmt::Debug for DocUpdate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocUpdate")
            .field("doc_id", &self.doc_id)
            .field("kind", &self.value.kind())
            .field("heads", &self.heads)
            .finish_non_exhaustive()
    }
}

impl DocUpdate {
    /// An update with a caller-supplied containment test.
    pub fn new(
        doc_id: Uuid,
        heads: Vec<String>,
        value: DocValue,
        contains: impl FnOnce(&[String]) -> bool + Send + 'static,
    ) -> DocUpdate {
        DocUpdate {
            doc_id,
            heads,
            value,
            contains: Box::new(contains),
        }
    }

    /// The update for a document the caller holds: heads from the document, and containment
    /// answered by the document itself (a head it has a change for is in its history). The
    /// document moves into the update and is dropped with it.
    pub fn from_doc(doc_id: Uuid, doc: Automerge, value: DocValue) -> DocUpdate {
        DocUpdate::new(doc_id, heads_hex(&doc.get_heads()), value, move |stored| {
            doc_contains(&doc, stored)
        })
    }
}

/// Heads as the warehouse stores them: lower-case hex.
pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}

/// Whether `doc` holds a change for every hex head in `heads` (an unparsable head is not held).
pub fn doc_contains(doc: &Automerge, heads: &[String]) -> bool {
    heads.iter().all(|h| {
        h.parse::<ChangeHash>()
            .is_ok_and(|h| doc.get_change_by_hash(&h).is_some())
    })
}

/// A personal-data column the warehouse may leave out (NULL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContactField {
    /// `customers.name`.
    Name,
    /// `customers.phone`.
    Phone,
    /// `customers.email`.
    Email,
    /// `customers.address`.
    Address,
    /// `orders.ship_to`.
    ShipTo,
}

impl ContactField {
    /// Every contact field.
    pub const ALL: [ContactField; 5] = [
        ContactField::Name,
        ContactField::Phone,
        ContactField::Email,
        ContactField::Address,
        ContactField::ShipTo,
    ];

    /// The name used in configuration: `name`, `phone`, `email`, `address`, `ship_to`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactField::Name => "name",
            ContactField::Phone => "phone",
            ContactField::Email => "email",
            ContactField::Address => "address",
            ContactField::ShipTo => "ship_to",
        }
    }

    /// Parses a configuration name.
    pub fn parse(s: &str) -> Option<ContactField> {
        ContactField::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// How the warehouse connects and what it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Most connections the pool opens.
    pub pool_size: usize,
    /// How long to wait for a connection (connecting, or a free one from the pool).
    pub connect_timeout: Duration,
    /// The contact fields written; the others are left NULL. All by default.
    pub contact_fields: BTreeSet<ContactField>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
            contact_fields: ContactField::ALL.into_iter().collect(),
        }
    }
}

impl Options {
    /// The default options without any contact field: customers' name, phone, email and address
    /// and orders' ship-to address stay NULL.
    pub fn without_contact_fields() -> Options {
        Options {
            contact_fields: BTreeSet::new(),
            ..Options::default()
        }
    }

    pub(crate) fn keeps(&self, f: ContactField) -> bool {
        self.contact_fields.contains(&f)
    }
}

/// What the warehouse did with one document of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocOutcome {
    /// Its rows were replaced by this version's (or written for the first time).
    Replaced,
    /// The warehouse already holds this version (same heads): nothing written.
    Unchanged,
    /// This version does not contain the one the warehouse holds (older, or concurrent with it):
    /// nothing written. The writer of the newer version, or a later merge, brings it.
    Stale,
}

/// The result of [`crate::Warehouse::apply_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The node's position now stored.
    pub position: Position,
    /// Per document of the batch (in document id order, one entry per id), what was done.
    pub outcomes: Vec<(Uuid, DocOutcome)>,
}

impl Applied {
    /// How many documents had this outcome.
    pub fn count(&self, outcome: DocOutcome) -> usize {
        self.outcomes.iter().filter(|(_, o)| *o == outcome).count()
    }
}

/// A node's stored position, as [`Status`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePosition {
    /// The node.
    pub node: NodeId,
    /// Its position.
    pub position: Position,
    /// When it was last stored.
    pub updated_at: SystemTime,
}

/// What the warehouse holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The last migration applied.
    pub schema_version: i32,
    /// Every node's position, by node id.
    pub positions: Vec<NodePosition>,
    /// Documents by kind (`order`, `customer`, `call_center`, `catalog`).
    pub documents: Vec<(String, i64)>,
    /// Rows per warehouse table, in schema order.
    pub rows: Vec<(&'static str, i64)>,
}

impl Status {
    /// The stored position of one node.
    pub fn position(&self, node: NodeId) -> Option<Position> {
        self.positions
            .iter()
            .find(|p| p.node == node)
            .map(|p| p.position)
    }

    /// The row count of one table (0 for a table the warehouse does not have).
    pub fn rows(&self, table: &str) -> i64 {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}
