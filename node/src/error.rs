//! The node's error type: one `thiserror` enum for the store, the writer, configuration and
//! node initialisation. The API layer maps these to problem+json responses.

use std::path::PathBuf;

/// Everything that can go wrong below the HTTP layer of a node.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Another process holds `DATA_DIR/LOCK`.
    #[error("data dir in use by a running node: {0}")]
    DataDirInUse(PathBuf),
    /// `init` on a data dir that already holds a node.
    #[error("data dir {0} already holds a node")]
    AlreadyInitialized(PathBuf),
    /// Opening a data dir that was never initialised.
    #[error("data dir {0} holds no node (run `switchboard init` first)")]
    NotInitialized(PathBuf),
    /// Filesystem error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What the node was doing.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The embedded engine failed.
    #[error("store engine: {0}")]
    Engine(String),
    /// A stored record could not be encoded or decoded.
    #[error("record codec: {0}")]
    Codec(String),
    /// A stored automerge document could not be loaded.
    #[error("document {doc}: {reason}")]
    Document {
        /// The document id.
        doc: uuid::Uuid,
        /// Why it failed.
        reason: String,
    },
    /// Stored data is inconsistent (found by verify or on open).
    #[error("store corrupt: {0}")]
    Corrupt(String),
    /// The writer thread is gone (node shutting down).
    #[error("the store writer has stopped")]
    WriterClosed,
    /// Bad configuration (file, environment or arguments).
    #[error("configuration: {0}")]
    Config(String),
}

impl NodeError {
    /// An IO error with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        NodeError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<sled::Error> for NodeError {
    fn from(e: sled::Error) -> Self {
        NodeError::Engine(e.to_string())
    }
}
