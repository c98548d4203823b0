//! `/api/v1/customers`: customers of a call center, their history and catalog requests.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path, Query};
use crate::service::AppState;
use crate::views::{
    CatalogRequestBody, CatalogRequestView, CustomerHistory, CustomerList, CustomerView,
    NewCustomerBody, NoteBody, NoteView, Page, PatchCustomerBody, SearchQuery,
};
use axum::extract::State;
use axum::http::StatusCode;
use switchboard_domain::CustomerId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_customer, list_customers))
        .routes(routes!(get_customer, patch_customer))
        .routes(routes!(customer_history))
        .routes(routes!(request_catalog))
        .routes(routes!(add_note))
}

fn customer_id(id: String) -> ApiResult<CustomerId> {
    id.parse()
        .map_err(|_| ApiError::not_found("no such customer"))
}

/// Creates a customer in the user's call center.
#[utoipa::path(post, path = "/customers", tag = "customers",
    request_body = NewCustomerBody,
    responses((status = 201, body = CustomerView), (status = 403, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_customer(
    state: State<AppState>,
    user: CurrentUser,
    Json(body): Json<NewCustomerBody>,
) -> ApiResult<(StatusCode, axum::Json<CustomerView>)> {
    let c = state.create_customer(&user, body).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// Customers whose name, phone or email contains `q`, a page at a time, oldest first.
#[utoipa::path(get, path = "/customers", tag = "customers",
    params(SearchQuery),
    responses((status = 200, body = CustomerList)),
    security(("bearer" = [])))]
pub async fn list_customers(
    state: State<AppState>,
    user: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<CustomerList>> {
    let page = Page::parse(q.limit.as_deref(), q.cursor.as_deref(), 'u')?;
    let (items, next_cursor) = state
        .customers(&user, q.q.unwrap_or_default(), page)
        .await?;
    Ok(axum::Json(CustomerList { items, next_cursor }))
}

/// A customer.
#[utoipa::path(get, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_customer(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CustomerView>> {
    let id = customer_id(id)?;
    let (c, conflicts) = state.customer(&user, id).await?;
    let mut view = CustomerView::from_domain(&c);
    view.conflicts = conflicts
        .into_iter()
        .map(|c| crate::views::ConflictView {
            path: c.path,
            values: c.values,
        })
        .collect();
    Ok(axum::Json(view))
}

/// Changes a customer's contact fields (`null` clears phone or email).
#[utoipa::path(patch, path = "/customers/{id}", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    request_body = PatchCustomerBody,
    responses((status = 200, body = CustomerView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn patch_customer(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<PatchCustomerBody>,
) -> ApiResult<axum::Json<CustomerView>> {
    let id = customer_id(id)?;
    let c = state.patch_customer(&user, id, body).await?;
    Ok(axum::Json(c))
}

/// A customer's orders (newest first), notes and catalog requests.
#[utoipa::path(get, path = "/customers/{id}/history", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, body = CustomerHistory), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn customer_history(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<CustomerHistory>> {
    let id = customer_id(id)?;
    Ok(axum::Json(state.customer_history(&user, id).await?))
}

/// Records a catalog request.
#[utoipa::path(post, path = "/customers/{id}/catalog-requests", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    request_body = CatalogRequestBody,
    responses((status = 201, body = CatalogRequestView), (status = 404, body = Problem),
        (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn request_catalog(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<CatalogRequestBody>,
) -> ApiResult<(StatusCode, axum::Json<CatalogRequestView>)> {
    let id = customer_id(id)?;
    let r = state.request_catalog(&user, id, body).await?;
    Ok((StatusCode::CREATED, axum::Json(r)))
}

/// Adds a note to a customer (shown in the customer's history). An addition to docs/api.md.
#[utoipa::path(post, path = "/customers/{id}/notes", tag = "customers",
    params(("id" = String, Path, description = "customer id")),
    request_body = NoteBody,
    responses((status = 201, body = NoteView), (status = 404, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn add_note(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(body): Json<NoteBody>,
) -> ApiResult<(StatusCode, axum::Json<NoteView>)> {
    let id = customer_id(id)?;
    let n = state.add_customer_note(&user, id, body.text).await?;
    Ok((StatusCode::CREATED, axum::Json(n)))
}
