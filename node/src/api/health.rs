//! Liveness, readiness and Prometheus metrics; no authentication.

use super::error::ApiResult;
use crate::service::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
        .routes(routes!(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "node", responses((status = 200, description = "{\"status\":\"ok\"}")))]
pub async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"status": "ok"}))
}

/// The store is open and answers.
#[utoipa::path(get, path = "/readyz", tag = "node",
    responses((status = 200, description = "ready"), (status = 503, body = super::error::Problem)))]
pub async fn readyz(state: State<AppState>) -> ApiResult<axum::Json<serde_json::Value>> {
    state.check_ready().await?;
    Ok(axum::Json(json!({"status": "ready"})))
}

/// Prometheus text exposition. Document counts by kind are sampled at scrape time.
#[utoipa::path(get, path = "/metrics", tag = "node", responses((status = 200, description = "Prometheus text")))]
pub async fn metrics(state: State<AppState>) -> ApiResult<impl IntoResponse> {
    let text = match state.metrics.as_ref() {
        Some(handle) => {
            state.record_document_gauges().await?;
            handle.render()
        }
        None => "# no metrics recorder is installed in this process\n".to_string(),
    };
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
