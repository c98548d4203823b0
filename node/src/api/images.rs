//! `PUT /api/v1/products/{id}/image` and `GET /api/v1/products/{id}/image`: product pictures,
//! stored in the catalog and served by every node that holds it.

use super::auth::CurrentUser;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::Path;
use crate::service::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use switchboard_domain::ProductId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Routes of this resource, each with its OpenAPI operation.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_product_image, put_product_image))
}

fn product_id(id: String) -> ApiResult<ProductId> {
    ProductId::parse(id).map_err(|_| ApiError::not_found("no such product"))
}

/// Stores a product's picture: PNG, JPEG, WebP or SVG bytes, at most 256 KiB.
#[utoipa::path(put, path = "/products/{id}/image", tag = "configuration",
    params(("id" = String, Path, description = "product id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream",
        description = "the picture's bytes: PNG, JPEG, WebP or SVG (without scripts), at most 256 KiB"),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn put_product_image(
    state: State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<StatusCode> {
    let id = product_id(id)?;
    state.put_product_image(&user, id, body.to_vec()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A product's picture, as stored.
#[utoipa::path(get, path = "/products/{id}/image", tag = "configuration",
    params(("id" = String, Path, description = "product id")),
    responses((status = 200, description = "the picture",
            content((Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/webp"), (String = "image/svg+xml"))),
        (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_product_image(
    state: State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = product_id(id)?;
    let (media_type, bytes) = state.product_image(id).await?;
    Ok(picture(&media_type, bytes))
}

/// A picture as an answer: its type, and a policy under which an SVG can run nothing even when
/// opened on its own.
pub fn picture(media_type: &str, bytes: Vec<u8>) -> Response {
    let mut resp = bytes.into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    h.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}
