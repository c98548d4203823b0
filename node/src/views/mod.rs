//! HTTP bodies and views: what the API reads and answers, as their own types, converted into and
//! out of the domain at the edge. Money is a decimal string, times RFC 3339 strings, ids strings.
//! One module per resource, as in `api/`: [`config`] (call centers and users), [`catalog`]
//! (products, price groups, source codes, coupons), [`customers`], [`orders`] (bodies, lists and
//! history), [`order_view`] (the order view an agent works from), [`peers`], [`node`] and
//! [`users`] (users of a call center and their tokens). Every
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
pub mod users;

pub use catalog::*;
pub use config::*;
pub use customers::*;
pub use node::*;
pub use order_view::*;
pub use orders::*;
pub use peers::*;
pub use users::*;

use crate::service::ServiceError;
use serde::Deserialize;
use switchboard_domain::config::{FieldError, Role};
use switchboard_domain::CodeError;
use utoipa::IntoParams;

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

/// Most items a page holds (`limit` at most this).
pub const MAX_PAGE: usize = 500;
/// Items a page holds when `limit` is not given.
pub const DEFAULT_PAGE: usize = 50;

/// One page of a list: how many items, after which key (from `cursor`). Every list of the API
/// pages the same way: `limit` from 1 to [`MAX_PAGE`] (default [`DEFAULT_PAGE`]) and the opaque
/// `next_cursor` of the previous page as `cursor`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Items on the page.
    pub limit: usize,
    /// The key of the last item of the previous page.
    pub after: Option<Vec<u8>>,
    tag: char,
}

impl Page {
    /// Reads `limit` and `cursor`; `tag` tells the lists' cursors apart, so a cursor of one list
    /// is refused by another.
    pub fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
        tag: char,
    ) -> Result<Page, ServiceError> {
        let limit = match limit {
            None => DEFAULT_PAGE,
            Some(l) => match l.parse::<usize>() {
                Ok(n) if (1..=MAX_PAGE).contains(&n) && !l.starts_with('+') => n,
                _ => {
                    return Err(ServiceError::invalid_field(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_PAGE}"),
                    ))
                }
            },
        };
        let bad = || ServiceError::invalid_field("cursor", "is not a cursor of this list");
        let after = match cursor {
            None => None,
            Some(c) => Some(
                c.strip_prefix(tag)
                    .and_then(|hex_key| hex::decode(hex_key).ok())
                    .ok_or_else(bad)?,
            ),
        };
        Ok(Page { limit, after, tag })
    }

    /// Whether an item with this key comes after the cursor.
    pub fn includes(&self, key: &[u8]) -> bool {
        self.after.as_deref().is_none_or(|a| key > a)
    }

    /// The page of `items` (in key order, keys from `key`), and the cursor of the next page
    /// when more follow.
    pub fn take<T>(
        &self,
        items: impl IntoIterator<Item = T>,
        key: impl Fn(&T) -> Vec<u8>,
    ) -> (Vec<T>, Option<String>) {
        let mut out = Vec::new();
        for item in items {
            if !self.includes(&key(&item)) {
                continue;
            }
            if out.len() == self.limit {
                let next = out.last().map(|last| self.cursor(&key(last)));
                return (out, next);
            }
            out.push(item);
        }
        (out, None)
    }

    /// The cursor that resumes after `key`.
    pub fn cursor(&self, key: &[u8]) -> String {
        format!("{}{}", self.tag, hex::encode(key))
    }
}

/// Query of a searchable list: a free-text `q` and paging.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Text to look for (case-insensitive).
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 256)]
    pub cursor: Option<String>,
}

/// Query of a list with paging only.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 256)]
    pub cursor: Option<String>,
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
