//! `/api/v1/peers`: the peers this node syncs with (admin role). Running a sync and its status
//! (`/api/v1/sync`, `/api/v1/sync/status`) are in [`super::sync`].

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path, Query};
use crate::service::AppState;
use crate::views::{NewPeerBody, Page, PageQuery, PeerList, PeerView};
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_peers, add_peer))
        .routes(routes!(delete_peer))
}

/// The configured peers (never their secrets), a page at a time, by name.
#[utoipa::path(get, path = "/peers", tag = "sync",
    params(PageQuery),
    responses((status = 200, body = PeerList), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_peers(
    state: State<AppState>,
    user: CurrentUser,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<PeerList>> {
    user.require_admin()?;
    let page = Page::parse(q.limit.as_deref(), q.cursor.as_deref(), 'n')?;
    let mut all = state.peers().await?;
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let (items, next_cursor) = page.take(all, |p| p.name.as_bytes().to_vec());
    Ok(axum::Json(PeerList {
        peers: items.clone(),
        items,
        next_cursor,
    }))
}

/// Adds or replaces a peer.
#[utoipa::path(post, path = "/peers", tag = "sync",
    request_body = NewPeerBody,
    responses((status = 201, body = PeerView), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_peer(
    state: State<AppState>,
    user: CurrentUser,
    Json(body): Json<NewPeerBody>,
) -> ApiResult<(StatusCode, axum::Json<PeerView>)> {
    user.require_admin()?;
    let mut problems = Vec::new();
    let name_ok = !body.name.is_empty()
        && body.name.len() <= 64
        && body
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !name_ok {
        problems.push((
            "name",
            "must be 1 to 64 ASCII letters, digits, '-', '_' or '.'",
        ));
    }
    if !(body.url.starts_with("http://") || body.url.starts_with("https://"))
        || body.url.len() > 2048
    {
        problems.push(("url", "must be an http:// or https:// URL"));
    }
    if body.secret.len() < 16 || body.secret.len() > 1024 {
        problems.push(("secret", "must be 16 to 1024 characters"));
    }
    if !problems.is_empty() {
        return Err(ApiError::validation(
            problems
                .into_iter()
                .map(|(f, m)| super::error::FieldProblem {
                    field: f.into(),
                    message: m.into(),
                })
                .collect(),
        ));
    }
    let view = state.add_peer(body).await?;
    Ok((StatusCode::CREATED, axum::Json(view)))
}

/// Removes a peer.
#[utoipa::path(delete, path = "/peers/{name}", tag = "sync",
    params(("name" = String, Path, description = "peer name")),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_peer(
    state: State<AppState>,
    user: CurrentUser,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    user.require_admin()?;
    state.delete_peer(name).await?;
    Ok(StatusCode::NO_CONTENT)
}
