//! [`ServiceError`]: why a service call failed, in the terms of the domain and of the node, never
//! of HTTP. The HTTP edge (`api::error`) maps each variant to its status and problem+json code, in
//! one place; the service only says what went wrong.

use crate::auth::NotAdmin;
use crate::error::NodeError;
use switchboard_domain::config::FieldError;
use switchboard_domain::{ErrorKind, OrderError};
use switchboard_sync::doc::{CommandError, DocError};

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// What was named does not exist, or not for this user (the two are not told apart).
    #[error("{0}")]
    NotFound(String),
    /// The user may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The request contradicts the state it acts on.
    #[error("{0}")]
    Conflict(String),
    /// Input fields at fault, each with the rule it breaks (never empty).
    #[error("{}", invalid_detail(.0))]
    Invalid(Vec<FieldError>),
    /// A domain rule refused the command, with its typed reason.
    #[error(transparent)]
    Refused(#[from] OrderError),
    /// A domain rule broken by input that cannot even become a domain value: a source code with
    /// characters no code can hold does not exist, like any code not configured.
    #[error("{detail}")]
    Rule {
        /// The error family, as [`OrderError::kind`] names it.
        kind: ErrorKind,
        /// What is wrong.
        detail: String,
    },
    /// Too many writes in flight on this node: shed rather than queued without bound.
    #[error("too many writes in flight on this node, retry shortly")]
    Busy,
    /// The node cannot serve now (its store does not answer).
    #[error("{0}")]
    Unavailable(String),
    /// The store or its writer failed.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A stored document could not be read or written.
    #[error("document: {0}")]
    Doc(#[from] DocError),
    /// Anything else that is the node's fault; the details are for the log.
    #[error("{0}")]
    Internal(String),
}

/// Result of a service call.
pub type ServiceResult<T> = Result<T, ServiceError>;

fn invalid_detail(fields: &[FieldError]) -> String {
    match fields {
        [one] => format!("{}: {}", one.field, one.message),
        _ => format!("{} fields are invalid", fields.len()),
    }
}

impl ServiceError {
    /// [`ServiceError::NotFound`].
    pub fn not_found(detail: impl Into<String>) -> Self {
        ServiceError::NotFound(detail.into())
    }

    /// [`ServiceError::Forbidden`].
    pub fn forbidden(detail: impl Into<String>) -> Self {
        ServiceError::Forbidden(detail.into())
    }

    /// [`ServiceError::Invalid`] for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ServiceError::Invalid(vec![FieldError::new(field, message)])
    }

    /// [`ServiceError::Internal`].
    pub fn internal(err: impl std::fmt::Display) -> Self {
        ServiceError::Internal(err.to_string())
    }
}

impl From<CommandError> for ServiceError {
    fn from(e: CommandError) -> Self {
        match e {
            CommandError::Refused(e) => ServiceError::Refused(e),
            CommandError::Doc(e) => ServiceError::Doc(e),
        }
    }
}

impl From<NotAdmin> for ServiceError {
    fn from(e: NotAdmin) -> Self {
        ServiceError::Forbidden(e.to_string())
    }
}
