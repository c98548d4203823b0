//! `/api/v1/products`: the product catalog.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path, Query};
use crate::service::AppState;
use crate::views::{Page, ProductDoc, ProductList, SearchQuery};
use axum::extract::State;
use switchboard_domain::ProductId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product, put_product))
}

fn product_id(id: String) -> ApiResult<ProductId> {
    ProductId::parse(id).map_err(|_| ApiError::not_found("no such product"))
}

/// Creates or replaces a product.
#[utoipa::path(put, path = "/products/{id}", tag = "configuration",
    params(("id" = String, Path, description = "product id")),
    request_body = ProductDoc,
    responses((status = 200, body = ProductDoc), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_product(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<ProductDoc>,
) -> ApiResult<axum::Json<ProductDoc>> {
    state.require_config_writer(&user)?;
    let id = crate::views::parse_code("id", &id, ProductId::parse)?;
    let p = body.into_domain(&id)?;
    let stored = state.put_product(&user, p).await?;
    Ok(axum::Json(ProductDoc::from_domain(&stored)))
}

/// A product.
#[utoipa::path(get, path = "/products/{id}", tag = "configuration",
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, body = ProductDoc), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_product(
    state: State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<ProductDoc>> {
    let id = product_id(id)?;
    let catalog = state.catalog();
    let p = catalog
        .products
        .get(&id)
        .ok_or_else(|| ApiError::not_found(format!("product {id} does not exist")))?;
    Ok(axum::Json(ProductDoc::from_domain(p)))
}

/// Products whose id or name contains `q` (all without `q`), a page at a time, by id.
#[utoipa::path(get, path = "/products", tag = "configuration",
    params(SearchQuery),
    responses((status = 200, body = ProductList)),
    security(("bearer" = [])))]
pub async fn list_products(
    state: State<AppState>,
    _user: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<ProductList>> {
    let page = Page::parse(q.limit.as_deref(), q.cursor.as_deref(), 'p')?;
    let needle = q.q.unwrap_or_default().to_lowercase();
    let catalog = state.catalog();
    let matching = catalog.products.values().filter(|p| {
        needle.is_empty()
            || p.name.to_lowercase().contains(&needle)
            || p.id.as_str().to_lowercase().contains(&needle)
    });
    let (page, next_cursor) = page.take(matching, |p| p.id.as_str().as_bytes().to_vec());
    let items = page.into_iter().map(ProductDoc::from_domain).collect();
    Ok(axum::Json(ProductList { items, next_cursor }))
}
