//! The HTTP API of API.md on axum: one module per resource, each with its own `router()`;
//! [`app`] assembles them behind bearer-token authentication ([`auth`]), a body limit, request
//! spans and metrics. Every error is an [`error::ApiError`] rendered as problem+json, including
//! the rejections of the extractors in [`extract`].

pub mod auth;
pub mod call_centers;
pub mod coupons;
pub mod customers;
pub mod error;
pub mod extract;
pub mod health;
pub mod node;
pub mod openapi;
pub mod orders;
pub mod peers;
pub mod price_groups;
pub mod products;
pub mod source_codes;
pub mod sync;
pub mod warehouse;

use crate::service::AppState;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use error::ApiError;
use std::time::Instant;
use tracing::Instrument;

/// The node's HTTP application: health, metrics, OpenAPI and the `/api/v1` API.
pub fn app(state: AppState) -> Router {
    app_with(state, Router::new(), Router::new())
}

/// [`app`] plus routes that need more than the state: `authed` is nested under `/api/v1` behind
/// bearer auth (e.g. [`sync::router`]), `public` is merged at the root with no bearer auth (e.g.
/// the peer-authenticated [`sync::peer_router`]).
pub fn app_with(state: AppState, authed: Router<AppState>, public: Router<AppState>) -> Router {
    let api = Router::new()
        .merge(node::router())
        .merge(call_centers::router())
        .merge(products::router())
        .merge(price_groups::router())
        .merge(source_codes::router())
        .merge(coupons::router())
        .merge(customers::router())
        .merge(orders::router())
        .merge(peers::router())
        .merge(authed)
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_user,
        ))
        .route("/openapi.json", get(openapi::openapi_json));
    Router::new()
        .nest("/api/v1", api)
        .merge(health::router())
        .merge(public)
        .route_layer(middleware::from_fn(observe))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// A span per request, and Prometheus counters of requests by route and status.
async fn observe(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let span = tracing::info_span!("request", method = %method, route = %route, user = tracing::field::Empty);
    let start = Instant::now();
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let elapsed = start.elapsed();
    span.in_scope(|| {
        if status >= 500 {
            tracing::warn!(
                status,
                elapsed_ms = elapsed.as_secs_f64() * 1e3,
                "request failed"
            );
        } else {
            tracing::debug!(status, elapsed_ms = elapsed.as_secs_f64() * 1e3, "request");
        }
    });
    metrics::counter!("switchboard_http_requests_total", "method" => method, "route" => route.clone(),
        "status" => status.to_string())
    .increment(1);
    metrics::histogram!("switchboard_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    resp
}
