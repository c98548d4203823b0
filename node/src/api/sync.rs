//! The sync endpoints over HTTP: `POST /api/v1/sync` and `GET /api/v1/sync/status` (admin role,
//! bearer auth), and the peer-facing `POST /sync/v1/hello` and `POST /sync/v1/frame` (signed by
//! the peer, no bearer token). The work is the sync driver's ([`crate::sync_driver::SyncHub`]);
//! this module turns requests into calls on it and maps [`SyncError`] to problems, once.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::Query;
use crate::http_server::PeerCert;
use crate::service::AppState;
use crate::sync_driver::{Admitted, Answer, SyncError, SyncHub, SyncRun, SyncStatus};
use crate::sync_driver::{FRAME_PATH, HELLO_PATH};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use std::sync::Arc;
use switchboard_sync::protocol::{self, ReplicaError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes under `/api/v1` (bearer auth): `POST /sync`, `GET /sync/status`.
/// The hub comes as an [`Extension`] layered by [`super::app_with`].
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sync_now))
        .routes(routes!(sync_status))
}

/// Peer routes (TLS client certificate, no bearer token): `POST /sync/v1/hello`, `POST /sync/v1/frame`.
/// Not in the OpenAPI document: peers speak the sync protocol, not the agent API.
pub fn peer_router() -> Router<AppState> {
    Router::new()
        .route(HELLO_PATH, post(hello))
        .route(FRAME_PATH, post(frame))
        .layer(axum::extract::DefaultBodyLimit::disable())
}

impl From<SyncError> for ApiError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::UnknownPeer => ApiError::unauthorized(e.to_string()),
            SyncError::MalformedHello(e) => ApiError::malformed_body(e.to_string()),
            SyncError::NodeChanged { .. }
            | SyncError::RoleMismatch { .. }
            | SyncError::CallCentersMismatch { .. } => ApiError::forbidden(e.to_string()),
            SyncError::Unidentified => ApiError::conflict(e.to_string()),
            SyncError::BodyTooLarge { limit } => ApiError::payload_too_large(Some(limit)),
            SyncError::Busy => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", e.to_string())
            }
            SyncError::AnswerTimeout { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
            SyncError::NoSuchPeer(_) => ApiError::not_found(e.to_string()),
            SyncError::Protocol(e) => engine_error(e),
            SyncError::Store(e) => e.into(),
            SyncError::Task(_) | SyncError::Encode(_) => ApiError::internal(e),
            // Failures reaching a peer end a session this node started: they are reported in
            // the session's result, never as the answer to a request.
            SyncError::Unreachable { .. }
            | SyncError::Timeout { .. }
            | SyncError::SessionTimeout { .. }
            | SyncError::AuthRefused { .. }
            | SyncError::Remote { .. }
            | SyncError::NotAddedByNodeId { .. }
            | SyncError::BadUrl { .. }
            | SyncError::AnswerTooLarge { .. }
            | SyncError::HelloAnswer(_)
            | SyncError::TooManyRounds(_) => ApiError::internal(e),
        }
    }
}

/// A frame the engine refused: the peer's fault (400, 403, 422) unless the store failed.
fn engine_error(e: protocol::SyncError) -> ApiError {
    match e {
        protocol::SyncError::Frame(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation",
            format!("bad frame: {e}"),
        ),
        protocol::SyncError::UnexpectedFrame(m) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation",
            format!("unexpected frame: {m}"),
        ),
        protocol::SyncError::Remote { code, message } => ApiError::new(
            StatusCode::BAD_REQUEST,
            "validation",
            format!("peer sent an error frame: {code:?}: {message}"),
        ),
        e @ protocol::SyncError::OutOfScope { .. } => ApiError::forbidden(e.to_string()),
        e @ (protocol::SyncError::Replica(ReplicaError::Refused { .. })
        | protocol::SyncError::Stuck(_)) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            e.to_string(),
        ),
        protocol::SyncError::Replica(e) => ApiError::internal(e),
    }
}

/// Query of `POST /api/v1/sync`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Only this peer.
    #[param(value_type = Option<String>, format = "peer-name")]
    pub peer: Option<String>,
}

/// Runs a sync session with every peer now, or with `?peer=NAME` (admin role).
#[utoipa::path(post, path = "/sync", tag = "sync",
    params(SyncQuery),
    responses((status = 200, body = SyncRun), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn sync_now(
    Extension(hub): Extension<Arc<SyncHub>>,
    user: CurrentUser,
    Query(q): Query<SyncQuery>,
) -> ApiResult<Json<SyncRun>> {
    user.require_admin()?;
    let peers = hub.sync_now(q.peer.as_deref()).await?;
    Ok(Json(SyncRun { peers }))
}

/// Per-peer sync status (admin role).
#[utoipa::path(get, path = "/sync/status", tag = "sync",
    responses((status = 200, body = SyncStatus), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn sync_status(
    Extension(hub): Extension<Arc<SyncHub>>,
    user: CurrentUser,
) -> ApiResult<Json<SyncStatus>> {
    user.require_admin()?;
    Ok(Json(SyncStatus {
        peers: hub.status().await?,
    }))
}

/// A request's `Content-Length`: `None` without one, `Some(None)` when it does not parse.
fn content_length(headers: &axum::http::HeaderMap) -> Option<Option<u64>> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .map(|v| v.to_str().ok().and_then(|v| v.trim().parse::<u64>().ok()))
}

/// A peer request's body, read only once admitted on its headers and never past its limit.
async fn read_body(body: Body, admitted: &Admitted) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, admitted.limit)
        .await
        .map_err(|_| ApiError::payload_too_large(Some(admitted.limit)))
}

/// `200` with the answer's body and content type.
fn answer_response(a: Answer) -> Response {
    let mut resp = (StatusCode::OK, a.body).into_response();
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static(a.content_type));
    resp
}

/// `POST /sync/v1/hello`: the peer's hello must confirm its declared scope.
async fn hello(
    Extension(hub): Extension<Arc<SyncHub>>,
    cert: Option<Extension<PeerCert>>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let admitted = hub
        .admit(
            cert.map(|c| c.0),
            content_length(&parts.headers),
            HELLO_PATH,
        )
        .await?;
    let body = read_body(body, &admitted).await?;
    let answer = hub.answer_hello(&admitted, &body).await?;
    Ok(answer_response(answer))
}

/// `POST /sync/v1/frame`: one engine frame each way.
async fn frame(
    Extension(hub): Extension<Arc<SyncHub>>,
    cert: Option<Extension<PeerCert>>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let admitted = hub
        .admit(
            cert.map(|c| c.0),
            content_length(&parts.headers),
            FRAME_PATH,
        )
        .await?;
    let body = read_body(body, &admitted).await?;
    let answer = hub.answer_frame(&admitted, body).await;
    // The body stays counted in the inbound budget until the merge is done.
    drop(admitted);
    Ok(answer_response(answer?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_sync::protocol::Role;

    fn problem(e: SyncError) -> (u16, &'static str, String) {
        let a = ApiError::from(e);
        (a.status.as_u16(), a.code, a.detail)
    }

    /// What a peer (or an admin) gets back for each way a sync request is refused.
    #[test]
    fn sync_errors_map_to_problems() {
        assert_eq!(
            problem(SyncError::UnknownPeer),
            (
                401,
                "unauthorized",
                "not a peer of this node: add it by node id first".into()
            )
        );
        assert_eq!(
            problem(SyncError::RoleMismatch {
                peer: "north".into(),
                claimed: Role::Hq,
                declared: Role::Site,
            }),
            (
                403,
                "forbidden",
                "peer north says its role is hq, declared site".into()
            )
        );
        assert_eq!(
            problem(SyncError::CallCentersMismatch {
                peer: "north".into()
            })
            .0,
            403
        );
        assert_eq!(
            problem(SyncError::Unidentified),
            (
                409,
                "conflict",
                "unknown peer identity: POST /sync/v1/hello first".into()
            )
        );
        assert_eq!(
            problem(SyncError::NoSuchPeer("west".into())),
            (404, "not_found", "no peer named west".into())
        );
        let bad_json = serde_json::from_slice::<crate::sync_driver::Hello>(b"{").unwrap_err();
        let (status, code, detail) = problem(SyncError::MalformedHello(bad_json));
        assert_eq!((status, code), (400, "validation"));
        assert!(detail.starts_with("malformed JSON body: "), "{detail}");
        assert_eq!(
            problem(SyncError::Protocol(protocol::SyncError::UnexpectedFrame(
                "ack".into()
            ))),
            (400, "validation", "unexpected frame: ack".into())
        );
        assert_eq!(
            problem(SyncError::Store(crate::error::NodeError::WriterClosed)).0,
            503
        );
    }
}
