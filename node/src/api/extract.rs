//! Extractors whose rejections are problem+json like every other error of the API: a body that is
//! not JSON is a 400, a body of the wrong shape a 422 `validation` naming the field at fault
//! (`lines[0].quantity`), a body over the limit a 413 `payload_too_large`, a malformed path
//! parameter (an id that is not a UUID) a 404, and a bad query string a 422.
//!
//! Under the app, a body has already been read, parsed and checked against the operation's schema
//! by [`super::validate`]; [`Json`] then only deserializes that [`CheckedBody`] into the handler's
//! type. Without the validator (a bare router) the extractors read and parse the body themselves.

use super::error::{ApiError, FieldProblem};
use super::validate::CheckedBody;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

/// A JSON request body, deserialized with the path of the field at fault on error.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// Deserializes a body the request validator has parsed and checked against the operation's
/// schema ([`CheckedBody`]); what the schema cannot say (a number too large for its type, a
/// decimal that does not parse) is a 422 naming the field.
///
/// The schema the body was checked against is the one the operation documents; it must be the
/// schema of `T`, the type the handler reads (checked in debug builds: an annotation naming
/// another body type than the handler's extractor is a bug).
pub fn from_checked<T: DeserializeOwned + ToSchema>(body: &CheckedBody) -> Result<T, ApiError> {
    debug_assert!(
        body.schema.as_deref().is_none_or(|s| s == T::name()),
        "the operation documents body {:?} but the handler reads {}",
        body.schema,
        T::name()
    );
    serde_path_to_error::deserialize(&body.value).map_err(|err| {
        let path = err.path().to_string();
        let message = strip_position(&err.into_inner().to_string());
        let field = field_of(&path, &message);
        ApiError::validation(vec![FieldProblem { field, message }])
    })
}

/// The checked body of the request, else its bytes parsed by [`parse_json`] (a router without
/// the request validator, as in unit tests).
async fn body_of<T: DeserializeOwned + ToSchema, S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<Option<T>, ApiError> {
    if let Some(checked) = req.extensions().get::<CheckedBody>() {
        return from_checked(checked).map(Some);
    }
    let bytes = Bytes::from_request(req, state)
        .await
        .map_err(body_rejection)?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    parse_json(&bytes).map(Some)
}

/// Parses a JSON body; public so that tests and other extractors share the exact rules.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::malformed_body("the request needs a JSON body"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let message = strip_position(&inner.to_string());
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = field_of(&path, &message);
                ApiError::validation(vec![FieldProblem { field, message }])
            }
            _ => ApiError::malformed_body(message),
        }
    })?;
    // Trailing garbage after the value is a syntax error too.
    de.end()
        .map_err(|e| ApiError::malformed_body(strip_position(&e.to_string())))?;
    Ok(value)
}

/// serde_json appends "at line 1 column 7"; the field path says more to an API client.
pub(super) fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

/// The dotted field path; for a missing or unknown field serde reports the parent's path, so the
/// field's own name is taken from the message.
fn field_of(path: &str, message: &str) -> String {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    let parent = if path == "." { "" } else { path };
    match (named, parent) {
        // serde_path_to_error already counts an unknown key as the path's last segment.
        (Some(name), p) if p == name || p.ends_with(&format!(".{name}")) => p.to_string(),
        (Some(name), "") => name.to_string(),
        (Some(name), p) => format!("{p}.{name}"),
        (None, "") => "body".to_string(),
        (None, p) => p.to_string(),
    }
}

fn body_rejection(rej: BytesRejection) -> ApiError {
    if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(None)
    } else {
        ApiError::malformed_body(rej.body_text())
    }
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned + ToSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match body_of(req, state).await? {
            Some(v) => Ok(Json(v)),
            None => Err(ApiError::malformed_body("the request needs a JSON body")),
        }
    }
}

/// A JSON body that may be absent: an empty body is `None`, anything else must parse.
#[derive(Debug, Clone, Copy, Default)]
pub struct OptionalJson<T>(pub Option<T>);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + ToSchema,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        body_of(req, state).await.map(OptionalJson)
    }
}

/// Path parameters; a parameter that does not parse (an id that is not a UUID, a code with
/// characters a code cannot hold) names nothing that exists, so it is a 404.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(rej) => Err(ApiError::not_found(format!(
                "no such resource: {}",
                rej.body_text()
            ))),
        }
    }
}

/// A query string; a bad one is a 422 `validation`.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded_like(query);
        match de {
            Ok(v) => Ok(Query(v)),
            Err(message) => Err(ApiError::invalid_field("query", message)),
        }
    }
}

/// Parses a query string with axum's own rules (serde_urlencoded under the hood).
fn serde_urlencoded_like<T: DeserializeOwned>(query: &str) -> Result<T, String> {
    let uri: axum::http::Uri = format!("/?{query}").parse().map_err(|e| format!("{e}"))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| e.body_text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        items: Vec<Inner>,
    }

    fn fields(body: &str) -> (u16, Vec<String>) {
        let e = parse_json::<Outer>(body.as_bytes()).unwrap_err();
        (
            e.status.as_u16(),
            e.errors.into_iter().map(|p| p.field).collect(),
        )
    }

    #[test]
    fn names_the_field_at_fault() {
        let cases = [
            (r#"{"name": 1, "items": []}"#, 422, "name"),
            (r#"{"items": []}"#, 422, "name"),
            (r#"{"name": "x", "items": [], "extra": 1}"#, 422, "extra"),
            (
                r#"{"name": "x", "items": [{"n": 1}, {"n": "2"}]}"#,
                422,
                "items[1].n",
            ),
            (
                r#"{"name": "x", "items": [{"n": 1, "m": 2}]}"#,
                422,
                "items[0].m",
            ),
            (r#"{"name": "x", "items": [{}]}"#, 422, "items[0].n"),
            (r#"[]"#, 422, "body"),
            (r#"{"name": "x""#, 400, "body"),
            (r#"{"name": "x", "items": []} {}"#, 400, "body"),
            ("", 400, "body"),
        ];
        for (body, status, field) in cases {
            assert_eq!(fields(body), (status, vec![field.to_string()]), "{body}");
        }
    }
}

#[cfg(test)]
mod money_tests {
    use super::*;
    use rust_decimal::Decimal;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct M {
        amount: Decimal,
    }

    #[test]
    fn money_must_be_a_string() {
        assert!(parse_json::<M>(br#"{"amount": "10.50"}"#).is_ok());
        for body in [
            r#"{"amount": 10}"#,
            r#"{"amount": 10.5}"#,
            r#"{"amount": "ten"}"#,
        ] {
            let e = parse_json::<M>(body.as_bytes()).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.errors[0].field.as_str()),
                (422, "amount"),
                "{body}"
            );
        }
    }
}
