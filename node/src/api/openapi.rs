//! The OpenAPI document of the agent and admin API, generated from the handlers' annotations and
//! the view types, served without authentication at `/api/v1/openapi.json`.

use super::*;
use axum::response::IntoResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard node API", version = "1",
        description = "Agent and admin API of a Switchboard node (contract: API.md). Errors are RFC 9457 problem+json with a stable `code`."),
    paths(
        health::healthz, health::readyz, health::metrics,
        node::node,
        call_centers::put_call_center, call_centers::get_call_center, call_centers::create_user,
        products::put_product, products::get_product, products::list_products,
        price_groups::put_price_group, price_groups::get_price_group,
        source_codes::put_source_code, source_codes::get_source_code,
        coupons::put_coupon, coupons::get_coupon,
        customers::create_customer, customers::list_customers, customers::get_customer,
        customers::patch_customer, customers::customer_history, customers::request_catalog,
        orders::create_order, orders::list_orders, orders::get_order, orders::add_line, orders::change_line,
        orders::remove_line, orders::apply_coupon, orders::remove_coupon, orders::add_payment,
        orders::void_payment, orders::add_charge, orders::place_hold, orders::clear_hold, orders::add_note,
        orders::submit, orders::release, orders::cancel, orders::suggestions, orders::history,
        peers::list_peers, peers::add_peer, peers::delete_peer,
    ),
    components(schemas(error::Problem, error::FieldProblem)),
    modifiers(&BearerAuth),
    tags(
        (name = "node", description = "node identity and health"),
        (name = "configuration", description = "call centers, users and the catalog (written at HQ)"),
        (name = "customers", description = "customers and their history"),
        (name = "orders", description = "taking orders"),
        (name = "sync", description = "peers"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> impl IntoResponse {
    axum::Json(ApiDoc::openapi())
}
