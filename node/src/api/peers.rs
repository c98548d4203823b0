//! `/api/v1/peers`: the peers this node syncs with (admin role). Running a sync and its status
//! (`/api/v1/sync`, `/api/v1/sync/status`) are in [`super::sync`].

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path, Query};
use crate::service::AppState;
use crate::tls::Fingerprint;
use crate::views::{NewPeer, NewPeerBody, Page, PageQuery, PeerList, PeerView};
use axum::extract::State;
use axum::http::StatusCode;
use switchboard_sync::protocol::Role;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_peers, add_peer))
        .routes(routes!(delete_peer))
}

/// The configured peers with their node ids and declared scopes, a page at a time, by name.
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

/// Adds or replaces a peer: its node id (certificate fingerprint), where its sync listener is,
/// and its whole scope (role and call centers), as the admin declares them.
#[utoipa::path(post, path = "/peers", tag = "sync",
    request_body = NewPeerBody,
    responses((status = 201, body = PeerView), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)),
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
    if !body.url.starts_with("https://") || body.url.len() > 2048 || body.url.len() <= 8 {
        problems.push((
            "url",
            "must be the https:// URL of the peer's sync listener (node links are TLS)",
        ));
    }
    let fingerprint = body.node_id.parse::<Fingerprint>().ok();
    if fingerprint.is_none() {
        problems.push((
            "node_id",
            "must be the peer's node id: 64 hex digits, as `switchboard node` prints it",
        ));
    }
    let role = Role::parse(&body.role);
    match role {
        None => problems.push(("role", "must be site or hq")),
        Some(Role::Site) if body.call_centers.is_empty() => {
            problems.push(("call_centers", "a site serves at least one call center"))
        }
        Some(Role::Hq) if !body.call_centers.is_empty() => problems.push((
            "call_centers",
            "an HQ peer reads every call center: leave call_centers empty",
        )),
        _ => {}
    }
    let mut ccs = body.call_centers.clone();
    ccs.sort();
    ccs.dedup();
    if ccs.len() != body.call_centers.len() {
        problems.push(("call_centers", "must not repeat a call center"));
    }
    let (Some(fingerprint), Some(role), true) = (fingerprint, role, problems.is_empty()) else {
        return Err(ApiError::validation(
            problems
                .into_iter()
                .map(|(f, m)| super::error::FieldProblem {
                    field: f.into(),
                    message: m.into(),
                })
                .collect(),
        ));
    };
    let view = state
        .add_peer(NewPeer {
            fingerprint,
            name: body.name,
            url: body.url,
            role,
            call_centers: body.call_centers,
        })
        .await?;
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
