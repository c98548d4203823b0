//! Bearer-token authentication. A token is looked up by its sha256 (hex) in the store's `users`
//! index, so the token itself is never stored; the user found rides along in the request
//! extensions as [`CurrentUser`] (defined in [`crate::auth`], which the services share; the
//! extractor is here). Missing, malformed, unknown, expired or revoked tokens answer 401
//! `unauthorized` ([`crate::auth::check_token`]).

use super::error::ApiError;
use crate::service::AppState;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;

pub use crate::auth::CurrentUser;

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CurrentUser>()
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))
    }
}

pub use crate::identity::token_hash;

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(parts_value: Option<&axum::http::HeaderValue>) -> Option<&str> {
    let v = parts_value?.to_str().ok()?.trim();
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Middleware: authenticates the request or answers 401.
pub async fn require_user(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer(req.headers().get(header::AUTHORIZATION))
        .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    let hash = token_hash(token);
    let user = state
        .authenticate(hash)
        .await?
        .map_err(|why| ApiError::unauthorized(why.to_string()))?;
    tracing::Span::current().record("user", tracing::field::display(user.id));
    req.extensions_mut().insert(CurrentUser(user));
    Ok(next.run(req).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn parses_bearer_headers() {
        let v = |s: &'static str| HeaderValue::from_static(s);
        assert_eq!(bearer(Some(&v("Bearer abc"))), Some("abc"));
        assert_eq!(bearer(Some(&v("bearer  abc "))), Some("abc"));
        assert_eq!(bearer(Some(&v("Basic abc"))), None);
        assert_eq!(bearer(Some(&v("Bearer "))), None);
        assert_eq!(bearer(None), None);
        assert_eq!(token_hash("x").len(), 64);
    }
}
