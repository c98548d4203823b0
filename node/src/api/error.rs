//! [`ApiError`]: the one error type of the HTTP API. It renders as an RFC 9457
//! `application/problem+json` body with the stable `code` of docs/api.md. Server-side failures are
//! logged with their details and answered with a generic sentence.
//!
//! The services fail with a [`ServiceError`] (domain and node terms); `From<ServiceError>` below
//! is the one place that gives each of its variants an HTTP status and a problem code. Errors of
//! the edge itself (authentication, extractors, unknown paths) are built here directly.

use crate::auth::NotAdmin;
use crate::error::NodeError;
use crate::service::ServiceError;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use switchboard_domain::config::FieldError;
use switchboard_domain::{ErrorKind, OrderError};
use switchboard_sync::doc::DocError;
use utoipa::ToSchema;

/// One field at fault in a `validation` problem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldProblem {
    /// Dotted path of the field (`lines[0].quantity`), or `body` for the body as a whole.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl From<FieldError> for FieldProblem {
    fn from(e: FieldError) -> Self {
        FieldProblem {
            field: e.field,
            message: e.message,
        }
    }
}

/// The problem+json body (RFC 9457) with the docs/api.md `code` and, for validation, `errors`.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// A human sentence about this occurrence.
    pub detail: String,
    /// The stable snake_case code of docs/api.md.
    pub code: String,
    /// Fields at fault (validation problems only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
}

/// Every `code` the API answers with: the error-code table of `docs/api.md` lists exactly these
/// (checked by the `api_docs` test), and [`ApiError::new`] takes no other (checked in debug builds).
pub const CODES: &[&str] = &[
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "order_on_hold",
    "invalid_transition",
    "validation",
    "payment_required",
    "price_override_not_allowed",
    "coupon_invalid",
    "source_code_invalid",
    "bad_request",
    "payload_too_large",
    "uri_too_long",
    "unsupported_media_type",
    "headers_too_large",
    "rate_limited",
    "unavailable",
    "internal",
];

/// An error answered by the API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// docs/api.md code.
    pub code: &'static str,
    /// The sentence shown to the client.
    pub detail: String,
    /// Fields at fault.
    pub errors: Vec<FieldProblem>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// An error with any status and a code of [`CODES`].
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        debug_assert!(CODES.contains(&code), "error code {code} is not in CODES");
        ApiError {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 405 with code `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed on this path",
        )
    }

    /// 409 `conflict`.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", detail)
    }

    /// 422 `validation` with the fields at fault.
    pub fn validation(errors: Vec<FieldProblem>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ApiError {
            errors,
            ..Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", detail)
        }
    }

    /// 422 `validation` for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldProblem {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// 400 for a body that is not JSON at all (code `validation`, field `body`).
    pub fn malformed_body(message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError {
            errors: vec![FieldProblem {
                field: "body".into(),
                message: message.clone(),
            }],
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "validation",
                format!("malformed JSON body: {message}"),
            )
        }
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large(limit: Option<usize>) -> Self {
        let detail = match limit {
            Some(l) => format!("the request body is larger than the limit of {l} bytes"),
            None => "the request body is too large".to_string(),
        };
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", detail)
    }

    /// The problem for an error answer that the HTTP layer made without one (a rejection of axum
    /// or hyper, a status set by a layer): its status, the code that status stands for, and
    /// `detail` when the layer said something.
    pub fn for_status(status: StatusCode, detail: Option<String>) -> Self {
        let code = match status.as_u16() {
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            405 => "method_not_allowed",
            409 => "conflict",
            413 => "payload_too_large",
            414 => "uri_too_long",
            415 => "unsupported_media_type",
            422 => "validation",
            429 => "rate_limited",
            431 => "headers_too_large",
            503 => "unavailable",
            s if s >= 500 => "internal",
            _ => "bad_request",
        };
        let detail = detail.filter(|d| !d.trim().is_empty()).unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("the request was refused")
                .to_string()
        });
        Self::new(status, code, detail)
    }

    /// 500: the details go to the log, the client sees a generic sentence.
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }

    /// 503: the node is shutting down or its store is unavailable.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "service unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the node is not available, retry later",
        )
    }

    fn title(&self) -> &'static str {
        match self.code {
            "unauthorized" => "Unauthorized",
            "forbidden" => "Forbidden",
            "not_found" => "Not found",
            "conflict" => "Conflict",
            "order_on_hold" => "Order on hold",
            "invalid_transition" => "Invalid transition",
            "validation" => "Validation failed",
            "payment_required" => "Payment required",
            "price_override_not_allowed" => "Price override not allowed",
            "coupon_invalid" => "Coupon invalid",
            "source_code_invalid" => "Source code invalid",
            "payload_too_large" => "Payload too large",
            "unsupported_media_type" => "Unsupported media type",
            "bad_request" => "Bad request",
            "uri_too_long" => "URI too long",
            "headers_too_large" => "Request header fields too large",
            "rate_limited" => "Rate limited",
            "method_not_allowed" => "Method not allowed",
            "unavailable" => "Service unavailable",
            _ => "Internal error",
        }
    }

    /// The problem+json body.
    pub fn problem(&self) -> Problem {
        Problem {
            type_: format!("urn:switchboard:problem:{}", self.code),
            title: self.title().to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            code: self.code.to_string(),
            errors: self.errors.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the oversized body is never read: the connection cannot carry another
            // request, so the client must not reuse it.
            resp.headers_mut().insert(
                header::CONNECTION,
                header::HeaderValue::from_static("close"),
            );
        }
        resp
    }
}

impl ApiError {
    /// The status and code of a domain error family: the one table of them.
    fn of_kind(kind: ErrorKind, detail: String, field: Option<FieldError>) -> Self {
        match kind {
            ErrorKind::Forbidden => ApiError::forbidden(detail),
            ErrorKind::NotFound => ApiError::not_found(detail),
            ErrorKind::Conflict => ApiError::conflict(detail),
            ErrorKind::OrderOnHold => ApiError::new(StatusCode::CONFLICT, "order_on_hold", detail),
            ErrorKind::InvalidTransition => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", detail)
            }
            ErrorKind::Validation => {
                let field = field.unwrap_or_else(|| FieldError::new("body", detail.clone()));
                ApiError::validation(vec![field.into()])
            }
            ErrorKind::PaymentRequired => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "payment_required", detail)
            }
            ErrorKind::PriceOverrideNotAllowed => {
                ApiError::new(StatusCode::FORBIDDEN, "price_override_not_allowed", detail)
            }
            ErrorKind::CouponInvalid => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "coupon_invalid", detail)
            }
            ErrorKind::SourceCodeInvalid => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "source_code_invalid",
                detail,
            ),
        }
    }
}

/// Each service error's status and code, in one place: the service says what went wrong, this
/// says how HTTP tells it.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(detail) => ApiError::not_found(detail),
            ServiceError::Forbidden(detail) => ApiError::forbidden(detail),
            ServiceError::Conflict(detail) => ApiError::conflict(detail),
            ServiceError::Invalid(fields) => {
                ApiError::validation(fields.into_iter().map(FieldProblem::from).collect())
            }
            ServiceError::Refused(e) => ApiError::of_kind(e.kind(), e.to_string(), e.field_error()),
            ServiceError::Rule { kind, detail } => ApiError::of_kind(kind, detail, None),
            e @ ServiceError::Busy => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
            }
            ServiceError::Unavailable(detail) => ApiError::unavailable(detail),
            ServiceError::Node(e @ NodeError::WriterClosed) => ApiError::unavailable(e),
            ServiceError::Node(e) => ApiError::internal(e),
            e @ ServiceError::Doc(_) => ApiError::internal(e),
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<NotAdmin> for ApiError {
    fn from(e: NotAdmin) -> Self {
        ServiceError::from(e).into()
    }
}

/// Field errors from a domain `validate()`: none is fine, any is a 422.
pub fn check_fields(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errors).into())
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

impl From<NodeError> for ApiError {
    fn from(e: NodeError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        ServiceError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::order::Status;
    use switchboard_domain::{CouponCode, OrderId};

    #[test]
    fn each_service_error_has_one_status_and_code() {
        let coupon = CouponCode::parse("SPRING").unwrap();
        let on_hold = OrderError::OnHold;
        let cases: Vec<(ServiceError, u16, &str, String)> = vec![
            (
                ServiceError::not_found("order x does not exist"),
                404,
                "not_found",
                "order x does not exist".into(),
            ),
            (ServiceError::forbidden("no"), 403, "forbidden", "no".into()),
            (
                ServiceError::Conflict("busy".into()),
                409,
                "conflict",
                "busy".into(),
            ),
            (
                ServiceError::invalid_field("limit", "must be a whole number"),
                422,
                "validation",
                "limit: must be a whole number".into(),
            ),
            (
                ServiceError::Invalid(vec![FieldError::new("a", "x"), FieldError::new("b", "y")]),
                422,
                "validation",
                "2 fields are invalid".into(),
            ),
            (
                ServiceError::Refused(on_hold.clone()),
                409,
                "order_on_hold",
                on_hold.to_string(),
            ),
            (
                ServiceError::Refused(OrderError::InvalidTransition {
                    from: Status::Canceled,
                    action: "submit",
                }),
                409,
                "invalid_transition",
                "cannot submit an order that is canceled".into(),
            ),
            (
                ServiceError::Refused(OrderError::CouponUsedUp(coupon.clone())),
                422,
                "coupon_invalid",
                format!("coupon {coupon} has reached its usage limit"),
            ),
            (
                ServiceError::Refused(OrderError::NoLines),
                422,
                "validation",
                "lines: an order needs at least one line to be submitted".into(),
            ),
            (
                ServiceError::Rule {
                    kind: ErrorKind::SourceCodeInvalid,
                    detail: "source code ?! does not exist".into(),
                },
                422,
                "source_code_invalid",
                "source code ?! does not exist".into(),
            ),
            (
                ServiceError::Busy,
                429,
                "rate_limited",
                "too many writes in flight on this node, retry shortly".into(),
            ),
            (
                ServiceError::Unavailable("store".into()),
                503,
                "unavailable",
                "the node is not available, retry later".into(),
            ),
            (
                ServiceError::Node(NodeError::WriterClosed),
                503,
                "unavailable",
                "the node is not available, retry later".into(),
            ),
            (
                ServiceError::Node(NodeError::Corrupt("x".into())),
                500,
                "internal",
                "internal error".into(),
            ),
            (
                ServiceError::internal(format!("order {}", OrderId(uuid::Uuid::nil()))),
                500,
                "internal",
                "internal error".into(),
            ),
            (
                ServiceError::from(crate::auth::NotAdmin::NodeWide),
                403,
                "forbidden",
                "this needs a node-wide admin".into(),
            ),
        ];
        for (e, status, code, detail) in cases {
            let what = format!("{e:?}");
            let api = ApiError::from(e);
            assert_eq!(
                (api.status.as_u16(), api.code, api.detail.as_str()),
                (status, code, detail.as_str()),
                "{what}"
            );
        }
    }
}
