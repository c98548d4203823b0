//! `/api/v1/coupons`: coupon definitions.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path};
use crate::service::AppState;
use crate::views::CouponDoc;
use axum::extract::State;
use switchboard_domain::CouponCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_coupon, put_coupon))
}

/// Creates or replaces a coupon.
#[utoipa::path(put, path = "/coupons/{code}", tag = "configuration",
    params(("code" = String, Path, description = "coupon code")),
    request_body = CouponDoc,
    responses((status = 200, body = CouponDoc), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_coupon(
    state: State<AppState>,
    user: CurrentUser,
    Path(code): Path<String>,
    Json(body): Json<CouponDoc>,
) -> ApiResult<axum::Json<CouponDoc>> {
    state.require_config_writer(&user)?;
    let code = crate::views::parse_code("code", &code, CouponCode::parse)?;
    let c = body.into_domain(&code)?;
    let stored = state.put_coupon(&user, c).await?;
    Ok(axum::Json(CouponDoc::from_domain(&stored)))
}

/// A coupon.
#[utoipa::path(get, path = "/coupons/{code}", tag = "configuration",
    params(("code" = String, Path, description = "coupon code")),
    responses((status = 200, body = CouponDoc), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_coupon(
    state: State<AppState>,
    _user: CurrentUser,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<CouponDoc>> {
    let code = CouponCode::parse(code).map_err(|_| ApiError::not_found("no such coupon"))?;
    let catalog = state.catalog();
    let c = catalog
        .coupons
        .get(&code)
        .ok_or_else(|| ApiError::not_found(format!("coupon {code} does not exist")))?;
    Ok(axum::Json(CouponDoc::from_domain(c)))
}
