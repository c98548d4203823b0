//! The node's HTTP/1.1 accept loop, bounded against hostile clients (`axum::serve` sets no timer,
//! so hyper's header-read timeout would be silently off, and it accepts without limit):
//!
//! - a **connection cap**: at most `max_connections` connections are served at once; the loop
//!   accepts the next one only when a slot is free, so further clients wait in the listen
//!   backlog instead of costing memory and tasks;
//! - a **header-read timeout** with a real timer (hyper's `TokioTimer`): a client that does not
//!   send a request's headers in time, or leaves a keep-alive connection idle that long, is cut
//!   off and its slot freed;
//! - a **request timeout** ([`with_request_timeout`]): a request that takes longer than the limit
//!   from its headers to its answer, body upload included, is answered 503 and dropped;
//! - **graceful shutdown**: when `shutdown` resolves the loop stops accepting, every connection
//!   finishes its request in flight and closes, and [`serve`] returns once all have;
//! - **TLS** ([`Transport`]): the peers' listener speaks only TLS (its handshake bounded by the
//!   header-read timeout), and hands each request the fingerprint of the client's certificate
//!   ([`PeerCert`]); the agent API off loopback speaks TLS to every client, except that a client
//!   on loopback may still speak plain HTTP (told apart by the first byte it sends: a TLS
//!   handshake starts with 0x16).

use crate::api::error::ApiError;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// How a listener speaks to its clients.
#[derive(Clone)]
pub enum Transport {
    /// Plain HTTP (loopback, or `insecure_http`).
    Plain,
    /// TLS. With `plain_on_loopback`, a client on loopback that does not open with a TLS
    /// handshake is served plain HTTP; every other client must speak TLS or is cut off.
    Tls {
        /// The TLS server configuration.
        acceptor: TlsAcceptor,
        /// Serve plain HTTP to loopback clients that do not start a TLS handshake.
        plain_on_loopback: bool,
    },
}

/// The fingerprint of the certificate a TLS client presented (the peers' listener requires one,
/// pinned to the peers an admin added): a request extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCert(pub crate::tls::Fingerprint);

/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// The limits of [`serve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpLimits {
    /// How long a client has to send a request's headers (and the longest idle keep-alive).
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves `app` on `listener` within `limits` until `shutdown` resolves, then drains: returns
/// once every connection has finished its request in flight and closed.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    transport: Transport,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little, as axum does, rather
                    // than spin.
                    tracing::debug!(error = %e, "accept failed");
                    if !is_connection_error(&e) {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let closing = closing_rx.clone();
        let transport = transport.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let Transport::Tls {
                acceptor,
                plain_on_loopback,
            } = transport
            else {
                return serve_connection(stream, app, limits, closing, remote).await;
            };
            if plain_on_loopback && remote.ip().is_loopback() {
                // Peeking does not consume: a plain request is still there to be read.
                let mut first = [0u8; 1];
                match tokio::time::timeout(limits.header_read_timeout, stream.peek(&mut first))
                    .await
                {
                    Ok(Ok(1..)) if first[0] != TLS_HANDSHAKE => {
                        return serve_connection(stream, app, limits, closing, remote).await;
                    }
                    Ok(Ok(1..)) => {}
                    _ => return,
                }
            }
            // The handshake gets the time a client has to send its headers.
            let handshake = acceptor.accept(stream);
            let tls = match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(remote = %remote, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(remote = %remote, "TLS handshake timed out");
                    return;
                }
            };
            let peer = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| crate::tls::Fingerprint::of_cert(c).ok());
            let app = match peer {
                Some(fp) => app.layer(axum::Extension(PeerCert(fp))),
                None => app,
            };
            serve_connection(tls, app, limits, closing, remote).await
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it has closed: all slots back means all closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Serves HTTP/1.1 on one connection until it closes, or gracefully once `closing` turns true.
async fn serve_connection<I>(
    io: I,
    app: Router,
    limits: HttpLimits,
    mut closing: watch::Receiver<bool>,
    remote: std::net::SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // The peer's address rides along (`ConnectInfo`), for limits kept per address.
    let service = TowerToHyperService::new(tower::ServiceExt::map_request(
        app,
        move |mut req: axum::http::Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(remote));
            req
        },
    ));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // Hyper's own bare error answers (400, 414, 431) become problems on the way out.
    let io = TokioIo::new(crate::api::wire::ProblemIo::new(io));
    let conn = builder.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(remote = %remote, error = %e, "connection ended");
            }
        }
        _ = async { let _ = closing.wait_for(|c| *c).await; } => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(remote = %remote, error = %e, "connection ended");
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Bounds every request of `app` by `limit` from its headers to its answer (body upload
/// included): past it the request is dropped and answered 503 `unavailable`. `POST /api/v1/sync`
/// is left alone: it runs whole sync sessions, each bounded by its own per-request timeouts.
pub fn with_request_timeout(app: Router, limit: Duration) -> Router {
    app.layer(middleware::from_fn(move |req: Request, next: Next| {
        request_timeout(limit, req, next)
    }))
}

async fn request_timeout(limit: Duration, req: Request, next: Next) -> Response {
    if req.method() == Method::POST && req.uri().path() == "/api/v1/sync" {
        return next.run(req).await;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => {
            tracing::warn!(%method, %path, limit_secs = limit.as_secs_f64(), "request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!(
                    "the request did not finish within {} seconds",
                    limit.as_secs()
                ),
            )
            .into_response()
        }
    }
}
