//! Running a node: open the store, serve the API and the peer endpoints, run the sync links and
//! the warehouse follower, and on shutdown stop accepting, finish in-flight requests, drain the
//! writer and flush.

use crate::config::NodeConfig;
use crate::error::NodeError;
use crate::service::{system_clock, AppState, Clock};
use crate::sync_driver::SyncHub;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use switchboard_domain::Timestamp;

/// How long in-flight requests may take to finish after a shutdown signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// The process-wide Prometheus recorder (one per process, shared by nodes a test or the demo
/// runs side by side).
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "no metrics recorder");
                None
            }
        })
        .clone()
}

/// The clock of a node: the system clock, shifted by the configured offset (business time only;
/// peer authentication always uses the real system clock).
pub fn node_clock(offset_secs: i64) -> Clock {
    let offset_ms = offset_secs.saturating_mul(1000);
    if offset_ms == 0 {
        return system_clock();
    }
    let sys = system_clock();
    Arc::new(move || Timestamp::from_millis(sys().as_millis().saturating_add(offset_ms)))
}

/// Routes served beside the API on the same listener (the agents' console, which depends on this
/// crate and so cannot be named here), built once the state and the sync hub exist.
pub type ExtraRoutes = Box<dyn FnOnce(AppState, Arc<SyncHub>) -> axum::Router + Send>;

/// Serves a node on an already bound listener until `shutdown` resolves, then drains and flushes;
/// the peers' listener, when the configuration has one (`sync_listen`), is bound here.
pub async fn serve(
    cfg: NodeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let sync = match cfg.sync_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| NodeError::io(format!("listening for peers on {addr}"), e))?,
        ),
        None => None,
    };
    serve_with(cfg, listener, sync, shutdown, None).await
}

/// How the agent API listener on `addr` speaks: plain HTTP on loopback (or with
/// `insecure_http`, warned), otherwise HTTPS with the node's or the operator's certificate, which
/// SIGHUP re-reads (plain HTTP stays open to clients on loopback).
fn api_transport(
    state: &AppState,
    addr: std::net::SocketAddr,
) -> Result<crate::http_server::Transport, NodeError> {
    use crate::http_server::Transport;
    if addr.ip().is_loopback() {
        return Ok(Transport::Plain);
    }
    if state.config.insecure_http {
        tracing::warn!(addr = %addr,
            "insecure_http: the agent API speaks plain HTTP off loopback; tokens and customer data cross the network in clear");
        return Ok(Transport::Plain);
    }
    let cert = crate::tls::ApiCert::new(state.config.api_cert_source(), &state.node_key)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(cert.server_config()?);
    #[cfg(unix)]
    {
        let cert = cert.clone();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        match cert.reload() {
                            Ok(()) => tracing::info!("SIGHUP: reloaded the API certificate"),
                            Err(e) => tracing::warn!(error = %e,
                                "SIGHUP: could not reload the API certificate; the old one stays"),
                        }
                    }
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP handler: certificates reload only on restart")
            }
        }
    }
    Ok(Transport::Tls {
        acceptor,
        plain_on_loopback: true,
    })
}

/// The peers' listener: TLS 1.3, a client certificate required and accepted only when its
/// fingerprint is a peer an admin added (read from the store at each handshake).
fn sync_transport(state: &AppState) -> Result<crate::http_server::Transport, NodeError> {
    use crate::store::StoreExt;
    let store = state.storage.store_arc();
    let admits: crate::tls::Admits = Arc::new(move |fp| {
        store
            .peers()
            .is_ok_and(|peers| peers.iter().any(|p| p.accepts(fp)))
    });
    let cfg = crate::tls::peer_server_config(&state.node_key, admits)?;
    Ok(crate::http_server::Transport::Tls {
        acceptor: tokio_rustls::TlsAcceptor::from(cfg),
        plain_on_loopback: false,
    })
}

/// [`serve`] with the peers' listener given (bound by the caller, who may want its port), and
/// `extra` routes merged beside the API (paths the API does not use).
pub async fn serve_with(
    cfg: NodeConfig,
    listener: tokio::net::TcpListener,
    sync_listener: Option<tokio::net::TcpListener>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    extra: Option<ExtraRoutes>,
) -> Result<(), NodeError> {
    let metrics = metrics_handle();
    let clock = node_clock(cfg.clock_offset_secs);
    let state = tokio::task::spawn_blocking(move || AppState::open(cfg, metrics, clock))
        .await
        .map_err(|e| NodeError::io("background task", std::io::Error::other(e.to_string())))??;
    let hub = SyncHub::new(state.clone());
    let follower = crate::warehouse::WarehouseFollower::new(state.clone());
    let mut app = crate::api::app_with(state.clone(), hub.clone(), follower.clone());
    if let Some(extra) = extra {
        app = extra(state.clone(), hub.clone()).merge(app);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let wait_stop = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let links = tokio::spawn(hub.clone().run(wait_stop(stop_rx.clone())));
    let scheduler = tokio::spawn(crate::scheduler::run(
        state.clone(),
        wait_stop(stop_rx.clone()),
    ));
    let feeder = tokio::spawn(follower.run(wait_stop(stop_rx.clone())));
    let addr = listener
        .local_addr()
        .map_err(|e| NodeError::io("listener address", e))?;
    let transport = api_transport(&state, addr)?;
    let tls = matches!(transport, crate::http_server::Transport::Tls { .. });
    tracing::info!(addr = %addr, tls, node = %state.identity.node_id, node_id = %state.node_key.fingerprint,
        role = %state.identity.role.as_str(), "serving");
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    let app = crate::http_server::with_request_timeout(app, timeout);
    let limits = crate::http_server::HttpLimits {
        header_read_timeout: Duration::from_secs(state.config.header_read_timeout_secs),
        max_connections: state.config.max_connections,
    };
    let api_server =
        crate::http_server::serve(listener, app, limits, transport, wait_stop(stop_rx.clone()));
    let sync_server = match sync_listener {
        Some(l) => {
            let sync_addr = l
                .local_addr()
                .map_err(|e| NodeError::io("peer listener address", e))?;
            tracing::info!(addr = %sync_addr, "serving peers (TLS, node ids pinned)");
            let peer_app = crate::http_server::with_request_timeout(
                crate::api::peer_app(state.clone(), hub.clone()),
                timeout,
            );
            let t = sync_transport(&state)?;
            Some(crate::http_server::serve(
                l,
                peer_app,
                limits,
                t,
                wait_stop(stop_rx.clone()),
            ))
        }
        None => None,
    };
    let server = async move {
        match sync_server {
            Some(sync) => {
                let (a, b) = tokio::join!(api_server, sync);
                a.and(b)
            }
            None => api_server.await,
        }
    };
    let mut drained = Box::pin(server);
    let mut rx = stop_rx.clone();
    tokio::select! {
        r = &mut drained => r.map_err(|e| NodeError::io("serving http", e))?,
        _ = async {
            let _ = rx.wait_for(|s| *s).await;
            tokio::time::sleep(DRAIN_TIMEOUT).await;
        } => tracing::warn!("in-flight requests did not finish in time; closing"),
    }
    links.abort();
    scheduler.abort();
    feeder.abort();
    let _ = links.await;
    let _ = scheduler.await;
    let _ = feeder.await;
    state.storage.shutdown().await?;
    tracing::info!("stopped; store flushed");
    Ok(())
}
