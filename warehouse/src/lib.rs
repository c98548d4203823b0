//! # switchboard-warehouse
//!
//! Every document a Switchboard node stores (orders, customers, call-center configurations, the
//! catalog) as rows of a normalized PostgreSQL schema, for the people and tools at HQ that work
//! in SQL (issue 13). This crate is the library half: the schema (migrations owned by the
//! repository, `warehouse/migrations/`), the mapping from domain values to rows, and the
//! exactly-once, resumable apply of a node's change feed. The node's feed follower drives it; the
//! crate spawns nothing and reads no clock of its own.
//!
//! Guarantees:
//! - **Exactly-once effect.** [`Warehouse::apply_batch`] writes a batch's documents and the node's
//!   feed position in one transaction; a batch only applies on top of the position it starts
//!   after, so a retried or duplicated batch is refused ([`Error::PositionMoved`]) instead of
//!   applied twice, and a document's rows are keyed by (document, item) and replaced as a whole.
//! - **Last writer by causal order.** Per document the warehouse keeps the heads of the version
//!   its rows come from, and only replaces them with a version that causally contains them (the
//!   caller answers that from its automerge document, see [`DocUpdate::from_doc`]). Several nodes
//!   that sync with each other may therefore feed one warehouse: an older or concurrent version
//!   is skipped ([`DocOutcome::Stale`]); the merge that follows brings a version containing both.
//! - **Resumable.** [`Warehouse::position`] is where a follower resumes after any restart.
//!
//! A follower's loop:
//! ```text
//! let mut pos = wh.position(node).await?;                 // None: from the start of the feed
//! loop {
//!     let (to, docs) = next feed entries after pos (epoch changed: start over from seq 0),
//!                      each as DocUpdate::from_doc(id, doc, value with pricing);
//!     match wh.apply_batch(node, pos, to, docs).await {
//!         Ok(applied) => pos = Some(applied.position),
//!         Err(Error::PositionMoved { .. }) => pos = wh.position(node).await?,
//!         Err(e) => back off and retry the same batch,
//!     }
//! }
//! ```
//!
//! With the `testing` feature, `testing::PgServer` runs a throwaway PostgreSQL server for tests.

mod copy;
mod error;
mod migrate;
mod model;
mod rows;
mod warehouse;

#[cfg(feature = "testing")]
pub mod testing;

pub use error::{Error, Result};
pub use model::{
    doc_contains, heads_hex, Applied, ContactField, Contains, DocOutcome, DocUpdate, DocValue,
    NodePosition, Options, OrderDoc, Position, Status,
};
pub use warehouse::{describe_target, Warehouse};

/// The schema version this build migrates to.
pub fn schema_version() -> i32 {
    migrate::latest()
}

/// Every table the warehouse fills from documents, parents before children.
pub fn tables() -> &'static [&'static str] {
    &rows::TABLES
}
