//! `/api/v1/customers`: customers of a call center, their history and catalog requests.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::{Json, Path, Query};
use crate::service::AppState;
use crate::views::{
    CatalogRequestBody, CatalogRequestView, CustomerHistory, CustomerList, CustomerView,
    NewCustomerBody, NoteBody, NoteView, PatchCustomerBody, SearchQuery,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use switchboard_domain::CustomerId;

/// Routes of this resource.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/customers", post(create_customer).get(list_customers))
        .route("/customers/{id}", get(get_customer).patch(patch_customer))
        .route("/customers/{id}/history", get(customer_history))
        .route("/customers/{id}/catalog-requests", post(request_catalog))
        .route("/customers/{id}/notes", post(add_note))
}

fn customer_id(id: String) -> ApiResult<CustomerId> {
    id.parse()
        .map_err(|_| ApiError::not_found("no such customer"))
}

/// Creates a customer in the user's call center.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers",
    request_body = NewCustomerBody,
    responses((status = 201, body = CustomerView), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_customer(
    state: State<AppState>,
    user: CurrentUser,
    Json(body): Json<NewCustomerBody>,
) -> ApiResult<(StatusCode, axum::Json<CustomerView>)> {
    let c = state.create_customer(&user, body).await?;
    Ok((StatusCode::CREATED, axum::Json(c)))
}

/// Customers whose name, phone or email contains `q`.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers",
    params(("q" = Option<String>, Query, description = "text in the name, phone or email")),
    responses((status = 200, body = CustomerList)),
    security(("bearer" = [])))]
pub async fn list_customers(
    state: State<AppState>,
    user: CurrentUser,
    Query(q): Query<SearchQuery>,
) -> ApiResult<axum::Json<CustomerList>> {
    let items = state.customers(&user, q.q.unwrap_or_default()).await?;
    Ok(axum::Json(CustomerList { items }))
}

/// A customer.
#[utoipa::path(get, path = "/api/v1/customers/{id}", tag = "customers",
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
#[utoipa::path(patch, path = "/api/v1/customers/{id}", tag = "customers",
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
#[utoipa::path(get, path = "/api/v1/customers/{id}/history", tag = "customers",
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
#[utoipa::path(post, path = "/api/v1/customers/{id}/catalog-requests", tag = "customers",
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

/// Adds a note to a customer (shown in the customer's history). An addition to API.md.
#[utoipa::path(post, path = "/api/v1/customers/{id}/notes", tag = "customers",
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
