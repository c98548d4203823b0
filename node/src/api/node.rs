//! `GET /api/v1/node`: who this node is.

use super::auth::CurrentUser;
use super::error::ApiResult;
use crate::service::AppState;
use crate::views::NodeView;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(node))
}

/// The node's id, name, role, call centers, version and document counts.
#[utoipa::path(get, path = "/node", tag = "node",
    responses((status = 200, body = NodeView), (status = 401, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn node(state: State<AppState>, _user: CurrentUser) -> ApiResult<axum::Json<NodeView>> {
    Ok(axum::Json(state.node_view().await?))
}
