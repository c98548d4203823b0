//! The warehouse's error type.

use crate::model::Position;
use switchboard_domain::NodeId;
use uuid::Uuid;

/// Why a warehouse operation failed. Every failure leaves the database as it was before the
/// operation (each operation is one transaction).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection URL could not be parsed.
    #[error("invalid PostgreSQL URL: {0}")]
    Url(String),
    /// No connection could be had (server down, refused, timed out, or authentication failed).
    #[error("cannot connect to PostgreSQL at {target}: {reason}")]
    Connect {
        /// Host, port and database (never the password).
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// A statement failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database was migrated by a newer build than this one.
    #[error("the warehouse schema is at version {found}; this build knows versions up to {known}")]
    SchemaTooNew {
        /// The version found in `schema_migrations`.
        found: i32,
        /// The last version this build has.
        known: i32,
    },
    /// A migration already applied differs from the one this build carries.
    #[error("migration {version} ({name}) applied to this database differs from this build's")]
    MigrationChanged {
        /// Its version.
        version: i32,
        /// Its name.
        name: String,
    },
    /// The node's stored position is not the one the batch starts after: another process of the
    /// node applied batches, or the warehouse was reset. Read [`crate::Warehouse::position`] again
    /// and resume from there; nothing of the batch was written.
    #[error(
        "feed position of node {node} is {stored:?}, not {expected:?}: read it again and resume"
    )]
    PositionMoved {
        /// The node.
        node: NodeId,
        /// What the batch starts after.
        expected: Option<Position>,
        /// What is stored.
        stored: Option<Position>,
    },
    /// The batch would move the node's position backwards within one feed epoch.
    #[error("feed position of node {node} would move backwards, from {from} to {to}")]
    PositionBackwards {
        /// The node.
        node: NodeId,
        /// Where the batch starts.
        from: Position,
        /// Where it would end.
        to: Position,
    },
    /// The position's sequence number does not fit PostgreSQL's `bigint`.
    #[error("feed position {to} of node {node} is beyond what the warehouse can store")]
    SeqOutOfRange {
        /// The node.
        node: NodeId,
        /// The position.
        to: Position,
    },
    /// A document of the batch does not fit the warehouse: a value whose id is not the document
    /// id, or a document stored under another kind.
    #[error("document {doc}: {reason}")]
    Mismatch {
        /// The document.
        doc: Uuid,
        /// What does not fit.
        reason: String,
    },
}

/// The warehouse's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
