//! `/api/v1/source-codes`: catalog source codes.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path};
use crate::service::AppState;
use crate::views::SourceCodeDoc;
use axum::extract::State;
use switchboard_domain::SourceCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_source_code, put_source_code))
}

/// Creates or replaces a source code.
#[utoipa::path(put, path = "/source-codes/{code}", tag = "configuration",
    params(("code" = String, Path, description = "source code")),
    request_body = SourceCodeDoc,
    responses((status = 200, body = SourceCodeDoc), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_source_code(
    state: State<AppState>,
    user: CurrentUser,
    Path(code): Path<String>,
    Json(body): Json<SourceCodeDoc>,
) -> ApiResult<axum::Json<SourceCodeDoc>> {
    state.require_config_writer(&user)?;
    let code = crate::views::parse_code("code", &code, SourceCode::parse)?;
    let def = body.into_domain(&code)?;
    let stored = state.put_source_code(&user, def).await?;
    Ok(axum::Json(SourceCodeDoc::from_domain(&stored)))
}

/// A source code.
#[utoipa::path(get, path = "/source-codes/{code}", tag = "configuration",
    params(("code" = String, Path, description = "source code")),
    responses((status = 200, body = SourceCodeDoc), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_source_code(
    state: State<AppState>,
    _user: CurrentUser,
    Path(code): Path<String>,
) -> ApiResult<axum::Json<SourceCodeDoc>> {
    let code = SourceCode::parse(code).map_err(|_| ApiError::not_found("no such source code"))?;
    let catalog = state.catalog();
    let d = catalog
        .source_codes
        .get(&code)
        .ok_or_else(|| ApiError::not_found(format!("source code {code} does not exist")))?;
    Ok(axum::Json(SourceCodeDoc::from_domain(d)))
}
