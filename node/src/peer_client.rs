//! The HTTP client of node links, this node's edge towards its peers: a pooled hyper client over
//! a hyper-rustls connector whose TLS configuration pins one peer ([`crate::tls`]), one request
//! and its answer read as a capped stream within a timeout ([`exchange`]), and the same by hand
//! as any node ([`post_as`], [`head_only_as`]) for diagnostics and tests that play a peer. The
//! sync driver decides what to send ([`crate::sync_driver`]); this module only carries it.

use crate::sync_driver::{Stage, SyncError};
use crate::tls::Fingerprint;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// Longest a peer may take to answer one request, its whole body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a connection to a peer may take to open (TCP).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an idle pooled connection to a peer is kept: well below the time a peer's server
/// keeps an idle connection open (its header-read timeout, 15 s by default), so that a request
/// is never sent down a connection the peer is closing, or that died with a peer since killed.
const POOL_IDLE: Duration = Duration::from_secs(5);
/// Largest error answer read from a peer (only its `detail` is kept).
const MAX_ERROR_BODY: usize = 64 * 1024;
/// Largest answer [`post_as`] reads.
const MAX_RAW_ANSWER: usize = crate::sync_driver::transport::MAX_FRAME_BODY;

/// A pooled HTTPS client pinned to one peer's fingerprint.
pub type PeerClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for the peer with fingerprint `fp`: TLS 1.3, this node's certificate, `fp` pinned.
pub fn peer_client(
    key: &crate::tls::NodeKey,
    fp: Fingerprint,
) -> Result<PeerClient, crate::error::NodeError> {
    peer_client_any(key, vec![fp])
}

/// [`peer_client`] accepting any of `pins` (a peer's node id and the next one it announced).
pub fn peer_client_any(
    key: &crate::tls::NodeKey,
    pins: Vec<Fingerprint>,
) -> Result<PeerClient, crate::error::NodeError> {
    let tls = crate::tls::peer_client_config_any(key, pins)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_max_idle_per_host(2)
        .build(https))
}

/// The full chain of an error's causes, `a: b: c` (hyper's own texts say little without them).
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
    }
    out
}

/// Reads an answer's body chunk by chunk, failing as soon as it grows past `limit` (or declares
/// a larger length up front).
async fn read_capped(
    resp: hyper::Response<hyper::body::Incoming>,
    limit: usize,
) -> Result<Vec<u8>, SyncError> {
    let too_large = || SyncError::AnswerTooLarge { limit };
    let declared = resp
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| SyncError::Unreachable {
            stage: Stage::Answer,
            error: chain(&e),
        })?;
        if let Ok(chunk) = frame.into_data() {
            if out.len() + chunk.len() > limit {
                return Err(too_large());
            }
            out.extend_from_slice(&chunk);
        }
    }
    Ok(out)
}

/// Sends one `POST` with `body` to `url` and reads a successful answer up to `limit` bytes, all
/// within the request timeout; an error status becomes [`SyncError::AuthRefused`] (401, 403) or
/// [`SyncError::Remote`] with the peer's `detail`.
pub async fn exchange(
    client: &PeerClient,
    peer: &str,
    url: &str,
    body: Vec<u8>,
    limit: usize,
) -> Result<Vec<u8>, SyncError> {
    let req = hyper::Request::post(url)
        .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| SyncError::BadUrl {
            peer: peer.to_string(),
            error: e.to_string(),
        })?;
    let exchange = async {
        let resp = client
            .request(req)
            .await
            .map_err(|e| SyncError::Unreachable {
                stage: Stage::Send,
                error: chain(&e),
            })?;
        let status = resp.status();
        if !status.is_success() {
            let bytes = read_capped(resp, MAX_ERROR_BODY).await?;
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_string))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).chars().take(300).collect());
            return Err(match status {
                hyper::StatusCode::UNAUTHORIZED | hyper::StatusCode::FORBIDDEN => {
                    SyncError::AuthRefused { status, detail }
                }
                _ => SyncError::Remote { status, detail },
            });
        }
        read_capped(resp, limit).await
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Ok(r) => r,
        Err(_) => Err(SyncError::Timeout {
            limit_secs: REQUEST_TIMEOUT.as_secs(),
        }),
    }
}

/// An answer read by [`post_as`].
#[derive(Clone, Debug)]
pub struct RawAnswer {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: String,
    /// The body (at most the largest frame).
    pub body: Vec<u8>,
}

/// Sends one `POST` to `url` (a peer's listener and path) as the node holding `key`, pinning
/// the node `expected`. Fails (with the TLS error) when either side refuses the other.
pub async fn post_as(
    key: &crate::tls::NodeKey,
    expected: Fingerprint,
    url: &str,
    body: Vec<u8>,
) -> Result<RawAnswer, String> {
    let client = peer_client(key, expected).map_err(|e| e.to_string())?;
    let req = hyper::Request::post(url)
        .header(hyper::header::CONTENT_TYPE, "application/octet-stream")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(REQUEST_TIMEOUT, client.request(req))
        .await
        .map_err(|_| "timed out".to_string())?
        .map_err(|e| chain(&e))?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = read_capped(resp, MAX_RAW_ANSWER)
        .await
        .map_err(|e| e.to_string())?;
    Ok(RawAnswer {
        status,
        content_type,
        body,
    })
}

/// Sends a request head (no body) over TLS to `addr` as the node holding `key`, pinning
/// `expected`, and returns the first bytes of the answer (for refusals that must come before
/// the body is sent).
pub async fn head_only_as(
    key: &crate::tls::NodeKey,
    expected: Fingerprint,
    addr: &str,
    head: &str,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let cfg = crate::tls::peer_client_config(key, expected).map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = rustls::pki_types::ServerName::try_from("peer")
        .map_err(|e| e.to_string())?
        .to_owned();
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(head.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut buf))
        .await
        .map_err(|_| "no answer before the body".to_string())?
        .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&buf[..n]).to_string())
}
