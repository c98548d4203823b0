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

/// Serves a node on an already bound listener until `shutdown` resolves, then drains and flushes.
pub async fn serve(
    cfg: NodeConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    serve_with(cfg, listener, shutdown, None).await
}

/// [`serve`], with `extra` routes merged beside the API (paths the API does not use).
pub async fn serve_with(
    cfg: NodeConfig,
    listener: tokio::net::TcpListener,
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
    tracing::info!(addr = %addr, node = %state.identity.node_id, role = %state.identity.role.as_str(), "serving");
    let app = crate::http_server::with_request_timeout(
        app,
        Duration::from_secs(state.config.request_timeout_secs),
    );
    let limits = crate::http_server::HttpLimits {
        header_read_timeout: Duration::from_secs(state.config.header_read_timeout_secs),
        max_connections: state.config.max_connections,
    };
    let server = crate::http_server::serve(listener, app, limits, wait_stop(stop_rx.clone()));
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
