//! `PUT /api/v1/users/{user_id}/password`: sets a user's console password (at HQ).

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path};
use crate::service::AppState;
use crate::views::PasswordBody;
use axum::extract::State;
use axum::http::StatusCode;
use switchboard_domain::UserId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_password))
}

/// Sets a user's console password: an admin, a supervisor of the user's call center, or the
/// user itself giving `current`.
#[utoipa::path(put, path = "/users/{user_id}/password", tag = "configuration",
    params(("user_id" = String, Path, description = "user id")),
    request_body = PasswordBody,
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn set_password(
    state: State<AppState>,
    user: CurrentUser,
    Path(user_id): Path<String>,
    Json(body): Json<PasswordBody>,
) -> ApiResult<StatusCode> {
    let id = uuid::Uuid::parse_str(&user_id)
        .map(UserId)
        .map_err(|_| ApiError::not_found("no such user"))?;
    state.set_password(&user, id, body).await?;
    Ok(StatusCode::NO_CONTENT)
}
