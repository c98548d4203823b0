//! The HTTP API of docs/api.md on axum: one module per resource, each with its own `router()`;
//! [`app`] assembles them behind bearer-token authentication ([`auth`]) and a per-user write
//! limit ([`rate_limit`]), a body limit, request spans and metrics. `/metrics` and
//! `/api/v1/openapi.json` need a token too unless the configuration makes them public. Every
//! error is an [`error::ApiError`] rendered as problem+json, including the rejections of the
//! extractors in [`extract`].

pub mod auth;
pub mod call_centers;
pub mod coupons;
pub mod customers;
pub mod error;
pub mod extract;
pub mod health;
pub mod images;
pub mod node;
pub mod openapi;
pub mod orders;
pub mod passwords;
pub mod peers;
pub mod price_groups;
pub mod products;
pub mod rate_limit;
pub mod source_codes;
pub mod sync;
pub mod users;
pub mod validate;
pub mod warehouse;
pub mod wire;

use crate::service::AppState;
use crate::sync_driver::SyncHub;
use crate::warehouse::WarehouseFollower;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use error::ApiError;
use std::sync::Arc;
use std::time::Instant;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;

/// The node's HTTP application: health, metrics, OpenAPI and the `/api/v1` API (the peer
/// endpoints are on the peers' own listener, [`peer_app`]), with a sync hub of its own that runs no background links (the server's
/// [`app_with`] shares the hub that does).
pub fn app(state: AppState) -> Router {
    let hub = SyncHub::new(state.clone());
    let follower = WarehouseFollower::new(state.clone());
    app_with(state, hub, follower)
}

/// The `/api/v1` resources (paths relative to `/api/v1`), each route with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(node::router())
        .merge(call_centers::router())
        .merge(users::router())
        .merge(products::router())
        .merge(images::router())
        .merge(price_groups::router())
        .merge(source_codes::router())
        .merge(coupons::router())
        .merge(customers::router())
        .merge(orders::router())
        .merge(passwords::router())
        .merge(peers::router())
        .merge(sync::router())
        .merge(warehouse::router())
}

/// Every documented route: `api` under `/api/v1` and the health endpoints at the root. A handler
/// is served if and only if it is an operation of the OpenAPI document, because the app and
/// [`openapi::document`] are both built by this function.
fn documented(api: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(<openapi::ApiDoc as utoipa::OpenApi>::openapi())
        .nest("/api/v1", api)
        .merge(health::router())
}

/// [`app`] with the given sync hub (the one whose links the server runs).
pub fn app_with(state: AppState, hub: Arc<SyncHub>, follower: WarehouseFollower) -> Router {
    let doc = Arc::new(openapi::document());
    let rules = validate::Rules {
        doc: doc.clone(),
        body_limit: state.config.body_limit,
    };
    // Authentication first (401 before any other answer), then the per-user write limit, then
    // the request against its operation in the document (so that a value out of its bounds is a
    // 422, however long), then the router's own size limits, then the handler.
    let api = api_routes()
        .route_layer(middleware::from_fn(wire::check_limits))
        .route_layer(middleware::from_fn_with_state(
            rules,
            validate::check_request,
        ))
        // Inside authentication: the per-user write limit needs the user.
        .route_layer(middleware::from_fn_with_state(
            Arc::new(rate_limit::UserRateLimiter::new(
                state.config.user_writes_per_sec,
                state.config.user_write_burst,
            )),
            rate_limit::limit_user_writes,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_user,
        ));
    let (routes, _) = documented(api).split_for_parts();
    Router::new()
        .route("/api/v1/openapi.json", get(openapi::serve(&doc)))
        .merge(routes)
        .layer(Extension(hub))
        .layer(Extension(follower))
        .route_layer(middleware::from_fn(observe))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), guard_docs))
        .layer(DefaultBodyLimit::max(state.config.body_limit))
        .layer(middleware::from_fn(problem_fallback))
        .with_state(state)
}

/// The peers' listener's application: only `/sync/v1/hello` and `/sync/v1/frame` (served over
/// TLS to peers an admin added; see `crate::server`), every error as problem+json.
pub fn peer_app(state: AppState, hub: Arc<SyncHub>) -> Router {
    sync::peer_router()
        .layer(Extension(hub))
        .route_layer(middleware::from_fn(observe))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(problem_fallback))
        .with_state(state)
}

/// Paths that describe the node rather than serve agents: they need a valid token (any role)
/// unless the configuration makes them public (`public_metrics`).
const GUARDED_DOCS: [&str; 2] = ["/metrics", "/api/v1/openapi.json"];

/// Middleware: bearer authentication for [`GUARDED_DOCS`] unless `public_metrics`.
async fn guard_docs(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !state.config.public_metrics && GUARDED_DOCS.contains(&req.uri().path()) {
        return auth::require_user(axum::extract::State(state), req, next).await;
    }
    Ok(next.run(req).await)
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}

/// Every error answer is problem+json: an error answer without one (a rejection made by axum or a
/// layer rather than by a handler) gets the problem of its status, keeping what its body said as
/// the detail and its headers (`Allow`, `Retry-After`, ...).
async fn problem_fallback(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_problem = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(openapi::PROBLEM_JSON.as_bytes()));
    if is_problem {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let detail = axum::body::to_bytes(body, 4096)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok());
    let mut fixed = ApiError::for_status(status, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fixed.headers_mut().entry(name).or_insert(value.clone());
        }
    }
    fixed
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
