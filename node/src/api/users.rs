//! `/api/v1/users/{user_id}`: revoking a user and rotating their token (configuration writes:
//! at HQ, by admins of the user's call center; a user may rotate their own token). The users of a
//! call center are listed and added under `/api/v1/call-centers/{id}/users`.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::Path;
use crate::service::AppState;
use crate::views::{TokenView, UserView};
use axum::extract::State;
use switchboard_domain::UserId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(revoke_user))
        .routes(routes!(rotate_user))
}

fn user_id(id: &str) -> ApiResult<UserId> {
    uuid::Uuid::parse_str(id)
        .map(UserId)
        .map_err(|_| ApiError::not_found(format!("user {id} does not exist")))
}

/// Revokes a user: every token of theirs stops working (at sites once synced).
#[utoipa::path(post, path = "/users/{user_id}/revoke", tag = "configuration",
    params(("user_id" = String, Path, format = Uuid, description = "user id")),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn revoke_user(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserView>> {
    let id = user_id(&id)?;
    Ok(axum::Json(state.revoke_user(&user, id).await?))
}

/// Gives a user a new token (shown once); the old one stops working (at sites once synced).
#[utoipa::path(post, path = "/users/{user_id}/rotate", tag = "configuration",
    params(("user_id" = String, Path, format = Uuid, description = "user id")),
    responses((status = 200, body = TokenView), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)),
    security(("bearer" = [])))]
pub async fn rotate_user(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<TokenView>> {
    let id = user_id(&id)?;
    Ok(axum::Json(state.rotate_user(&user, id).await?))
}
