//! A small HTTP client for a node's admin API (`/api/v1`, docs/api.md).
//!
//! Every failure becomes one sentence a person can act on: an unreachable node, a refused token,
//! or the `title`/`detail` of the node's problem+json answer. Callers print it on one line.

use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Where the node is and how to authenticate: shared by every admin command.
#[derive(Args, Debug, Clone)]
pub struct Conn {
    /// Base URL of the node's HTTP API.
    #[arg(
        long,
        env = "SWITCHBOARD_URL",
        default_value = "http://127.0.0.1:7070",
        global = true
    )]
    pub url: String,
    /// Admin bearer token (printed by `switchboard init` / first `serve`, kept in DATA_DIR/admin-token).
    #[arg(long, env = "SWITCHBOARD_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Seconds to wait for the node to answer one request.
    #[arg(long, default_value_t = 60, global = true)]
    pub timeout: u64,
}

/// An authenticated client for one node.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// Builds a client from the command line's connection options.
    pub fn from_conn(conn: &Conn) -> Result<Client> {
        let token = conn
            .token
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                anyhow!("no admin token: pass --token or set SWITCHBOARD_TOKEN (see DATA_DIR/admin-token)")
            })?;
        Client::new(&conn.url, token.trim(), Duration::from_secs(conn.timeout))
    }

    /// Builds a client for `base` (e.g. `http://127.0.0.1:7070`) with a bearer token.
    pub fn new(base: &str, token: &str, timeout: Duration) -> Result<Client> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(anyhow!(
                "invalid node URL {base:?}: expected http://HOST:PORT"
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(5))
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Client {
            http,
            base,
            token: token.to_string(),
        })
    }

    /// The same node with another bearer token (the demo acts as several users).
    pub fn with_token(&self, token: &str) -> Client {
        Client {
            http: self.http.clone(),
            base: self.base.clone(),
            token: token.to_string(),
        }
    }

    /// `GET path` → JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body → JSON.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        let body = encode(&Method::POST, path, body)?;
        self.call(Method::POST, path, Some(&body)).await
    }

    /// `PUT path` with a JSON body → JSON.
    pub async fn put<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &(impl Serialize + ?Sized),
    ) -> Result<T> {
        let body = encode(&Method::PUT, path, body)?;
        self.call(Method::PUT, path, Some(&body)).await
    }

    /// `DELETE path`; the answer body, if any, is ignored.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let _: Value = self.call(Method::DELETE, path, None).await?;
        Ok(())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await.map_err(|e| self.transport_error(&e))?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| self.transport_error(&e))?;
        if !status.is_success() {
            return Err(anyhow!(problem_message(
                method.as_str(),
                path,
                status,
                &bytes
            )));
        }
        // 204 and empty answers read as JSON null.
        let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(text).map_err(|e| {
            anyhow!(
                "unexpected answer from {method} {path}: {e} (is {} a switchboard node?)",
                self.base
            )
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> anyhow::Error {
        if e.is_timeout() {
            anyhow!("node at {} did not answer in time", self.base)
        } else if e.is_connect() {
            anyhow!(
                "cannot reach the node at {}: {} (is `switchboard serve` running?)",
                self.base,
                root_cause(e)
            )
        } else {
            anyhow!(
                "request to the node at {} failed: {}",
                self.base,
                root_cause(e)
            )
        }
    }
}

/// A request body as JSON (a view type, or a `json!` literal where the node has no serializable
/// body type).
fn encode(method: &Method, path: &str, body: &(impl Serialize + ?Sized)) -> Result<Value> {
    serde_json::to_value(body).with_context(|| format!("cannot encode the body of {method} {path}"))
}

/// The innermost cause of an error, which names the actual problem ("Connection refused").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Turns a non-2xx answer into one line: the problem+json `detail` where there is one.
fn problem_message(method: &str, path: &str, status: StatusCode, body: &[u8]) -> String {
    let problem: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        problem
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let detail = field("detail")
        .or_else(|| field("title"))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body).trim().to_string();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_string()
            } else {
                text.chars().take(200).collect()
            }
        });
    let code = field("code");
    // Field errors of a 422 `validation` answer, flattened onto the same line.
    let fields = problem
        .as_ref()
        .and_then(|p| p.get("errors"))
        .and_then(Value::as_array)
        .map(|errs| {
            errs.iter()
                .filter_map(|e| {
                    Some(format!(
                        "{}: {}",
                        e.get("field")?.as_str()?,
                        e.get("message")?.as_str()?
                    ))
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|s| !s.is_empty());
    let detail = match fields {
        Some(f) => format!("{detail} ({f})"),
        None => detail,
    };
    match status {
        StatusCode::UNAUTHORIZED => {
            "the node refused the token (401 unauthorized): check --token or SWITCHBOARD_TOKEN"
                .to_string()
        }
        StatusCode::FORBIDDEN => format!("forbidden (403): {detail}"),
        _ => format!(
            "{method} {path} failed with {} {}: {detail}",
            status.as_u16(),
            code.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_string())
        ),
    }
}

/// Percent-encodes one path segment or query value (names and codes are mostly plain ASCII).
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_detail_is_one_line() {
        let body = br#"{"type":"about:blank","title":"Conflict","status":409,"detail":"order is on hold","code":"order_on_hold"}"#;
        let m = problem_message(
            "POST",
            "/api/v1/orders/x/submit",
            StatusCode::CONFLICT,
            body,
        );
        assert_eq!(
            m,
            "POST /api/v1/orders/x/submit failed with 409 order_on_hold: order is on hold"
        );
        assert!(!m.contains('\n'));
    }

    #[test]
    fn validation_fields_are_listed() {
        let body = br#"{"title":"Invalid","status":422,"detail":"invalid body","code":"validation","errors":[{"field":"name","message":"required"}]}"#;
        let m = problem_message("PUT", "/p", StatusCode::UNPROCESSABLE_ENTITY, body);
        assert!(m.ends_with("invalid body (name: required)"), "{m}");
    }

    #[test]
    fn unauthorized_names_the_token() {
        let m = problem_message("GET", "/api/v1/node", StatusCode::UNAUTHORIZED, b"");
        assert!(m.contains("token"));
    }

    #[test]
    fn encodes_segments() {
        assert_eq!(enc("site a/b"), "site%20a%2Fb");
        assert_eq!(enc("north-1"), "north-1");
    }
}
