//! `/api/v1/price-groups`: named price lists.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path};
use crate::service::AppState;
use crate::views::PriceGroupDoc;
use axum::extract::State;
use switchboard_domain::PriceGroupId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_price_group, put_price_group))
}

/// Creates or replaces a price group.
#[utoipa::path(put, path = "/price-groups/{id}", tag = "configuration",
    params(("id" = String, Path, description = "price group id")),
    request_body = PriceGroupDoc,
    responses((status = 200, body = PriceGroupDoc), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_price_group(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<PriceGroupDoc>,
) -> ApiResult<axum::Json<PriceGroupDoc>> {
    state.require_config_writer(&user)?;
    let id = crate::views::parse_code("id", &id, PriceGroupId::parse)?;
    let g = body.into_domain(&id)?;
    let stored = state.put_price_group(&user, g).await?;
    Ok(axum::Json(PriceGroupDoc::from_domain(&stored)))
}

/// A price group.
#[utoipa::path(get, path = "/price-groups/{id}", tag = "configuration",
    params(("id" = String, Path, description = "price group id")),
    responses((status = 200, body = PriceGroupDoc), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_price_group(
    state: State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PriceGroupDoc>> {
    let id = PriceGroupId::parse(id).map_err(|_| ApiError::not_found("no such price group"))?;
    let catalog = state.catalog();
    let g = catalog
        .price_groups
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("price group {id} does not exist")))?;
    Ok(axum::Json(PriceGroupDoc::from_domain(g)))
}
