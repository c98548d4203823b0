//! The OpenAPI document of the agent and admin API, generated from the handlers' annotations and
//! the view types, served without authentication at `/api/v1/openapi.json`.

use super::*;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document's frame: info, the shared schemas, the bearer scheme and the tags. Its paths
/// come from the routers ([`super::app_with`] and [`document`] build them the same way), and
/// [`finish`] adds what every operation shares.
#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard node API", version = "1",
        description = "Agent and admin API of a Switchboard node (reference: docs/api.md). Errors are RFC 9457 problem+json with a stable `code`."),
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

/// The OpenAPI document of the routes the node serves, as served at `/api/v1/openapi.json`.
pub fn document() -> serde_json::Value {
    finish(super::documented(super::api_routes()).into_openapi())
}

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

const METHODS: &[&str] = &["get", "put", "post", "patch", "delete", "head", "options"];

/// What every operation shares, added to the operations the handlers annotate: error answers are
/// `application/problem+json`, and the errors that come from the HTTP layer rather than from the
/// handler are documented on every operation that can meet them (400, 414 and 431 for a request
/// the HTTP layer cannot read, 401 where a token is needed, 413/415/422 where a body is read, 422
/// for a query string, 404 for path parameters, 429 for writes, 503 when the store is
/// unavailable).
pub fn finish(doc: utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(doc).expect("the OpenAPI document serializes");
    crate::views::schema::expand_formats(&mut doc);
    let Some(paths) = doc["paths"].as_object_mut() else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if METHODS.contains(&method.as_str()) {
                finish_operation(path, method, op);
            }
        }
    }
    doc
}

fn problem_response(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

fn finish_operation(path: &str, method: &str, op: &mut serde_json::Value) {
    let params = op["parameters"].as_array().cloned().unwrap_or_default();
    let has = |place: &str| params.iter().any(|p| p["in"] == place);
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let body = op.get("requestBody").is_some();
    let api = path.starts_with("/api/v1/");
    let mut added: Vec<(u16, &str)> = vec![
        (414, "The request URI is too long."),
        (431, "The request headers are too many or too large."),
    ];
    if body {
        added.push((
            400,
            "The body is not JSON, or the request could not be read.",
        ));
        added.push((413, "The body is larger than the node's limit."));
        added.push((415, "The body is not `application/json`."));
        added.push((422, "The body or a value in it is invalid."));
    }
    if has("query") {
        added.push((422, "A query parameter is invalid."));
    }
    added.push((400, "The request line or a header could not be read."));
    if has("path") {
        added.push((404, "No such resource."));
    }
    if secured {
        added.push((401, "No bearer token, or an unknown one."));
    }
    if api && method != "get" {
        added.push((429, "The node is shedding writes; retry shortly."));
    }
    if api {
        added.push((
            503,
            "The node is shutting down or its store is unavailable.",
        ));
    }
    let responses = op["responses"]
        .as_object_mut()
        .expect("every operation has responses");
    for (status, description) in added {
        responses
            .entry(status.to_string())
            .or_insert_with(|| problem_response(description));
    }
    for (status, response) in responses.iter_mut() {
        let Some(content) = response
            .get_mut("content")
            .and_then(serde_json::Value::as_object_mut)
        else {
            fill_description(status, response);
            continue;
        };
        let is_problem =
            |c: &serde_json::Value| c["schema"]["$ref"] == "#/components/schemas/Problem";
        if let Some(json) = content.get("application/json").filter(|c| is_problem(c)) {
            let json = json.clone();
            content.remove("application/json");
            content.insert(PROBLEM_JSON.to_string(), json);
        }
        fill_description(status, response);
    }
    if let Some(unauthorized) = responses.get_mut("401") {
        unauthorized["headers"] = serde_json::json!({
            "WWW-Authenticate": {
                "description": "`Bearer`, the scheme the API expects.",
                "schema": { "type": "string" }
            }
        });
    }
}

/// A response the handler documented without a description gets its status's reason phrase.
fn fill_description(status: &str, response: &mut serde_json::Value) {
    if response["description"].as_str().is_none_or(str::is_empty) {
        let reason = status
            .parse::<u16>()
            .ok()
            .and_then(|s| axum::http::StatusCode::from_u16(s).ok())
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Answer");
        response["description"] = serde_json::Value::String(reason.to_string());
    }
}

/// `GET /api/v1/openapi.json`: the finished document, serialized once.
pub fn serve(doc: &serde_json::Value) -> impl Fn() -> std::future::Ready<Response> + Clone {
    let bytes = axum::body::Bytes::from(serde_json::to_vec(doc).expect("JSON serializes"));
    move || {
        std::future::ready(
            (
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                bytes.clone(),
            )
                .into_response(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every endpoint of docs/api.md that this module serves, as (method, path).
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
        let doc = document();
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
