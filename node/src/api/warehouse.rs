//! `/api/v1/warehouse` (admin role): the PostgreSQL warehouse follower's status, and a rebuild
//! that empties the warehouse and feeds it again from the start. The work is the follower's
//! ([`crate::warehouse::WarehouseFollower`]); this module maps its answers to HTTP.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use crate::service::AppState;
use crate::warehouse::{FollowerError, WarehouseFollower, WarehouseStatus};
use axum::http::StatusCode;
use axum::{Extension, Json};
use utoipa_axum::{router::OpenApiRouter, routes};

/// Routes under `/api/v1` (bearer auth): `GET /warehouse`, `POST /warehouse/rebuild`. The
/// follower comes as an [`Extension`] layered by [`super::app_with`].
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(warehouse_status))
        .routes(routes!(rebuild))
}

impl From<FollowerError> for ApiError {
    fn from(e: FollowerError) -> Self {
        match e {
            FollowerError::NotConfigured => ApiError::conflict(e.to_string()),
            // The admin asked about the warehouse: the reason is theirs to see (no password is
            // ever part of it).
            FollowerError::Unavailable(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                e.to_string(),
            ),
        }
    }
}

/// Whether this node feeds a warehouse, where it is in the node's change feed, how far behind,
/// and the last success and failure.
#[utoipa::path(get, path = "/warehouse", tag = "warehouse",
    responses((status = 200, body = WarehouseStatus), (status = 403, body = Problem)),
    security(("bearer" = [])))]
pub async fn warehouse_status(
    Extension(follower): Extension<WarehouseFollower>,
    user: CurrentUser,
) -> ApiResult<Json<WarehouseStatus>> {
    user.require_admin()?;
    Ok(Json(follower.status()))
}

/// Empties the warehouse (every row, and every node's position) and feeds it again from the
/// start of this node's feed; other nodes feeding it start over too.
#[utoipa::path(post, path = "/warehouse/rebuild", tag = "warehouse",
    responses((status = 200, body = WarehouseStatus), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "this node has no warehouse"),
        (status = 503, body = Problem, description = "the warehouse is not reachable")),
    security(("bearer" = [])))]
pub async fn rebuild(
    Extension(follower): Extension<WarehouseFollower>,
    user: CurrentUser,
) -> ApiResult<Json<WarehouseStatus>> {
    user.require_admin()?;
    Ok(Json(follower.rebuild().await?))
}
