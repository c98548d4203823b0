//! `GET /api/v1/node`: who this node is.

use super::auth::CurrentUser;
use super::error::ApiResult;
use crate::service::AppState;
use crate::views::NodeView;
use axum::extract::State;
use axum::routing::get;
use axum::Router;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new().route("/node", get(node))
}

/// The node's id, name, role, call centers, version and document counts.
#[utoipa::path(get, path = "/api/v1/node", tag = "node",
    responses((status = 200, body = NodeView), (status = 401, body = super::error::Problem)),
    security(("bearer" = [])))]
pub async fn node(state: State<AppState>, _user: CurrentUser) -> ApiResult<axum::Json<NodeView>> {
    Ok(axum::Json(state.node_view().await?))
}
