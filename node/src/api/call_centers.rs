//! `/api/v1/call-centers`: configuration of call centers and their users (written at HQ by admins).

use super::auth::CurrentUser;
use super::error::{ApiResult, Problem};
use super::extract::{Json, Path, Query};
use crate::service::AppState;
use crate::views::{
    parse_code, CallCenterDoc, NewUserBody, NewUserView, Page, PageQuery, UserList,
};
use axum::http::StatusCode;
use switchboard_domain::CallCenterId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_call_center, put_call_center))
        .routes(routes!(create_user, list_users))
}

fn cc_id(id: &str) -> ApiResult<CallCenterId> {
    Ok(parse_code("id", id, CallCenterId::parse)?)
}

/// Creates or replaces a call center's configuration (node-wide admins; an admin scoped to the
/// call center may replace its configuration).
#[utoipa::path(put, path = "/call-centers/{id}", tag = "configuration",
    params(("id" = String, Path, description = "call center id")),
    request_body = CallCenterDoc,
    responses((status = 200, body = CallCenterDoc), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_call_center(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<CallCenterDoc>,
) -> ApiResult<axum::Json<CallCenterDoc>> {
    let id = cc_id(&id)?;
    state.require_config_writer_of(&user, &id)?;
    let cc = body.into_domain(&id)?;
    let stored = state.put_call_center(&user, cc).await?;
    Ok(axum::Json(CallCenterDoc::from_domain(&stored)))
}

/// A call center's configuration.
#[utoipa::path(get, path = "/call-centers/{id}", tag = "configuration",
    params(("id" = String, Path, description = "call center id")),
    responses((status = 200, body = CallCenterDoc), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_call_center(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CallCenterDoc>> {
    let id = CallCenterId::parse(id)
        .map_err(|_| super::error::ApiError::not_found("no such call center"))?;
    let cc = state.call_center(&user, &id).await?;
    Ok(axum::Json(CallCenterDoc::from_domain(&cc)))
}

/// Adds a user to a call center; the answer shows the user's token once.
#[utoipa::path(post, path = "/call-centers/{id}/users", tag = "configuration",
    params(("id" = String, Path, description = "call center id")),
    request_body = NewUserBody,
    responses((status = 201, body = NewUserView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_user(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<NewUserBody>,
) -> ApiResult<(StatusCode, axum::Json<NewUserView>)> {
    let id = CallCenterId::parse(id)
        .map_err(|_| super::error::ApiError::not_found("no such call center"))?;
    state.require_config_writer_of(&user, &id)?;
    let created = state.create_user(&user, &id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// The users of a call center, a page at a time, by id (admins of that call center).
#[utoipa::path(get, path = "/call-centers/{id}/users", tag = "configuration",
    params(("id" = String, Path, description = "call center id"), PageQuery),
    responses((status = 200, body = UserList), (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_users(
    state: axum::extract::State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> ApiResult<axum::Json<UserList>> {
    let id = CallCenterId::parse(id)
        .map_err(|_| super::error::ApiError::not_found("no such call center"))?;
    let page = Page::parse(q.limit.as_deref(), q.cursor.as_deref(), 'k')?;
    Ok(axum::Json(state.users(&user, &id, page).await?))
}
