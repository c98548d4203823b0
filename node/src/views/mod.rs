//! HTTP bodies and views: what the API reads and answers, as their own types, converted into and
//! out of the domain at the edge. Money is a decimal string, times RFC 3339 strings, ids strings.
//! One module per resource, as in `api/`: [`config`] (call centers and users), [`catalog`]
//! (products, price groups, source codes, coupons), [`customers`], [`orders`] (bodies, lists and
//! history), [`order_view`] (the order view an agent works from), [`peers`] and [`node`]. Every
//! type is re-exported here, so `views::X` names each of them.
//!
//! A body that does not convert into the domain is a [`ServiceError::Invalid`] naming every field
//! at fault; the HTTP edge renders it as a 422 `validation` problem.

pub mod catalog;
pub mod config;
pub mod customers;
pub mod node;
pub mod order_view;
pub mod orders;
pub mod peers;
pub mod schema;

pub use catalog::*;
pub use config::*;
pub use customers::*;
pub use node::*;
pub use order_view::*;
pub use orders::*;
pub use peers::*;

use crate::service::ServiceError;
use serde::Deserialize;
use switchboard_domain::config::{FieldError, Role};
use switchboard_domain::CodeError;

fn code<T>(
    field: &str,
    s: &str,
    parse: impl Fn(String) -> Result<T, CodeError>,
) -> Result<T, FieldError> {
    parse(s.to_string()).map_err(|e| FieldError {
        field: field.to_string(),
        message: e.0,
    })
}

/// Collects field problems while converting a body into a domain value.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(p) => {
                self.0.push(p);
                None
            }
        }
    }

    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    fn finish<T>(self, v: Option<T>) -> Result<T, ServiceError> {
        match v {
            Some(v) if self.0.is_empty() => Ok(v),
            _ if self.0.is_empty() => Err(ServiceError::invalid_field("body", "invalid body")),
            _ => Err(ServiceError::Invalid(self.0)),
        }
    }
}

/// The id given in a PUT body, if any, must match the path.
fn check_same_id(p: &mut Problems, field: &str, body: Option<&str>, path: &str) {
    if let Some(b) = body {
        if b != path {
            p.push(field, format!("must match the path ({path}) when given"));
        }
    }
}

/// `null` counts as absent: the field takes its default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

fn is_true() -> bool {
    true
}

/// `null` in a PATCH clears a field, absence leaves it: `Some(None)` vs `None`.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Query with a free-text `q`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// Text to look for.
    pub q: Option<String>,
}

/// Parses a code-like value of a body field; a failure names the field.
pub fn parse_code<T>(
    field: &str,
    s: &str,
    parse: impl Fn(String) -> Result<T, CodeError>,
) -> Result<T, ServiceError> {
    code(field, s, parse).map_err(|p| ServiceError::Invalid(vec![p]))
}

/// A role as text, for views.
pub fn role_str(r: Role) -> &'static str {
    r.as_str()
}
