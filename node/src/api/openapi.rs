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
        customers::patch_customer, customers::customer_history, customers::request_catalog, customers::add_note,
        orders::create_order, orders::list_orders, orders::get_order, orders::add_line, orders::change_line,
        orders::remove_line, orders::apply_coupon, orders::remove_coupon, orders::add_payment,
        orders::void_payment, orders::add_charge, orders::place_hold, orders::clear_hold, orders::add_note,
        orders::submit, orders::release, orders::cancel, orders::suggestions, orders::history,
        peers::list_peers, peers::add_peer, peers::delete_peer,
        sync::sync_now, sync::sync_status,
        warehouse::warehouse_status, warehouse::rebuild,
    ),
    components(schemas(error::Problem, error::FieldProblem)),
    modifiers(&BearerAuth),
    tags(
        (name = "node", description = "node identity and health"),
        (name = "configuration", description = "call centers, users and the catalog (written at HQ)"),
        (name = "customers", description = "customers and their history"),
        (name = "orders", description = "taking orders"),
        (name = "sync", description = "peers"),
        (name = "warehouse", description = "the PostgreSQL warehouse this node feeds"),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every endpoint of API.md that this module serves, as (method, path).
    const API_MD: &[(&str, &str)] = &[
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/api/v1/node"),
        ("put", "/api/v1/call-centers/{id}"),
        ("get", "/api/v1/call-centers/{id}"),
        ("post", "/api/v1/call-centers/{id}/users"),
        ("put", "/api/v1/products/{id}"),
        ("get", "/api/v1/products/{id}"),
        ("get", "/api/v1/products"),
        ("put", "/api/v1/price-groups/{id}"),
        ("get", "/api/v1/price-groups/{id}"),
        ("put", "/api/v1/source-codes/{code}"),
        ("put", "/api/v1/coupons/{code}"),
        ("post", "/api/v1/customers"),
        ("get", "/api/v1/customers"),
        ("get", "/api/v1/customers/{id}"),
        ("patch", "/api/v1/customers/{id}"),
        ("get", "/api/v1/customers/{id}/history"),
        ("post", "/api/v1/customers/{id}/catalog-requests"),
        ("post", "/api/v1/orders"),
        ("get", "/api/v1/orders"),
        ("get", "/api/v1/orders/{id}"),
        ("post", "/api/v1/orders/{id}/lines"),
        ("patch", "/api/v1/orders/{id}/lines/{line_id}"),
        ("delete", "/api/v1/orders/{id}/lines/{line_id}"),
        ("post", "/api/v1/orders/{id}/coupons"),
        ("delete", "/api/v1/orders/{id}/coupons/{code}"),
        ("post", "/api/v1/orders/{id}/payments"),
        ("delete", "/api/v1/orders/{id}/payments/{payment_id}"),
        ("post", "/api/v1/orders/{id}/charges"),
        ("post", "/api/v1/orders/{id}/holds"),
        ("post", "/api/v1/orders/{id}/holds/{hold_id}/clear"),
        ("post", "/api/v1/orders/{id}/notes"),
        ("post", "/api/v1/orders/{id}/submit"),
        ("post", "/api/v1/orders/{id}/release"),
        ("post", "/api/v1/orders/{id}/cancel"),
        ("get", "/api/v1/orders/{id}/suggestions"),
        ("get", "/api/v1/orders/{id}/history"),
        ("get", "/api/v1/peers"),
        ("post", "/api/v1/peers"),
        ("delete", "/api/v1/peers/{name}"),
        ("post", "/api/v1/sync"),
        ("get", "/api/v1/sync/status"),
        ("get", "/api/v1/warehouse"),
        ("post", "/api/v1/warehouse/rebuild"),
    ];

    #[test]
    fn documents_every_endpoint_of_api_md() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("openapi serializes");
        for (method, path) in API_MD {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
        let schemas = &doc["components"]["schemas"];
        for s in [
            "OrderView",
            "OrderSummary",
            "Problem",
            "CallCenterDoc",
            "CustomerView",
            "NodeView",
        ] {
            assert!(schemas[s].is_object(), "schema {s}");
        }
        let order = &schemas["OrderView"]["properties"];
        for f in [
            "id",
            "call_center_id",
            "customer_id",
            "status",
            "source_code",
            "delivery_mode",
            "lines",
            "charges",
            "coupons",
            "payments",
            "holds",
            "notes",
            "totals",
            "conflicts",
            "created_at",
            "created_by",
            "updated_at",
        ] {
            assert!(order[f].is_object(), "OrderView.{f}");
        }
    }
}
