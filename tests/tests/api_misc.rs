//! API tests: auth, malformed bodies, body limit, health, metrics, OpenAPI, node, peers.

use axum::http::Method;
use serde_json::json;
use switchboard_sync::protocol::Role;
use switchboard_tests::api_harness::{ApiNode, World};

#[tokio::test]
async fn bearer_tokens_are_required() {
    let node = ApiNode::hq();
    let a = node
        .raw(Method::GET, "/api/v1/node", None, Vec::new())
        .await;
    a.problem(401, "unauthorized");
    node.get("/api/v1/node", "not-a-token")
        .await
        .problem(401, "unauthorized");
    node.get("/api/v1/orders", "")
        .await
        .problem(401, "unauthorized");
    node.post("/api/v1/customers", "wrong", json!({"name": "x"}))
        .await
        .problem(401, "unauthorized");
    // The OpenAPI document needs a token (any role) and describes the API.
    node.raw(Method::GET, "/api/v1/openapi.json", None, Vec::new())
        .await
        .problem(401, "unauthorized");
    let doc = node
        .raw(
            Method::GET,
            "/api/v1/openapi.json",
            Some(&node.admin),
            Vec::new(),
        )
        .await;
    let doc = doc.ok(200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/orders",
        "/api/v1/orders/{id}/submit",
        "/api/v1/call-centers/{id}/users",
        "/api/v1/peers",
    ] {
        assert!(doc["paths"][path].is_object(), "{path}");
    }
    assert!(doc["components"]["schemas"]["OrderView"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn malformed_bodies_are_problems() {
    let w = World::new().await;
    let n = &w.node;
    let raw = |body: &'static str| {
        n.raw(
            Method::POST,
            "/api/v1/customers",
            Some(&w.agent),
            body.as_bytes().to_vec(),
        )
    };
    raw("{not json").await.problem(400, "validation");
    raw("").await.problem(400, "validation");
    raw("{\"name\": \"x\"} trailing")
        .await
        .problem(400, "validation");
    let a = raw("{\"name\": 42}").await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["name"]);
    let a = raw("[1, 2]").await;
    a.problem(422, "validation");
    let id = w.order().await;
    let a = n
        .raw(
            Method::POST,
            &format!("/api/v1/orders/{id}/lines"),
            Some(&w.agent),
            br#"{"product_id":"widget","quantity":"two"}"#.to_vec(),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["quantity"]);
    let a = n
        .post(
            &format!("/api/v1/orders/{id}/payments"),
            &w.agent,
            json!({"method": "card", "amount": "ten"}),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["amount"]);
    // Nothing was half-applied.
    let v = n.get(&format!("/api/v1/orders/{id}"), &w.agent).await;
    assert_eq!(v.ok(200)["lines"], json!([]));
    assert_eq!(v.body["payments"], json!([]));
    // Unknown paths and methods are problems too.
    n.get("/api/v1/nothing-here", &w.agent)
        .await
        .problem(404, "not_found");
    let a = n
        .call(Method::DELETE, "/api/v1/customers", &w.agent, None)
        .await;
    assert_eq!(a.status.as_u16(), 405);
    assert_eq!(a.content_type, "application/problem+json");
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let node = ApiNode::start(Role::Hq, &[], 1024);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(4096));
    let a = node
        .raw(
            Method::PUT,
            "/api/v1/products/p",
            Some(&node.admin),
            big.into_bytes(),
        )
        .await;
    a.problem(413, "payload_too_large");
    node.get("/api/v1/products/p", &node.admin)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn health_node_and_metrics() {
    let w = World::new().await;
    let n = &w.node;
    let h = n.raw(Method::GET, "/healthz", None, Vec::new()).await;
    assert_eq!(h.ok(200), &json!({"status": "ok"}));
    n.raw(Method::GET, "/readyz", None, Vec::new())
        .await
        .ok(200);
    // /metrics needs a token (any role). No recorder is installed in-process: it still answers
    // Prometheus text.
    n.raw(Method::GET, "/metrics", None, Vec::new())
        .await
        .problem(401, "unauthorized");
    let m = n
        .raw(Method::GET, "/metrics", Some(&w.agent), Vec::new())
        .await;
    assert_eq!(m.status.as_u16(), 200);
    assert!(m.content_type.starts_with("text/plain"));
    w.order().await;
    let v = n.get("/api/v1/node", &w.agent).await;
    let v = v.ok(200);
    assert_eq!(v["name"], "test-node");
    assert_eq!(v["role"], "hq");
    assert!(v["node_id"].is_string() && v["version"].is_string());
    assert_eq!(v["call_centers"], json!(["cc1", "cc2"]));
    assert_eq!(v["documents"], json!({"orders": 1, "customers": 1}));
    let site = ApiNode::site();
    let v = site.get("/api/v1/node", &site.admin).await;
    assert_eq!(v.ok(200)["role"], "site");
    assert_eq!(v.body["call_centers"], json!(["cc1"]));
}

#[tokio::test]
async fn peers_admin_only() {
    let w = World::new().await;
    let n = &w.node;
    let admin = n.admin.clone();
    assert_eq!(
        n.get("/api/v1/peers", &admin).await.ok(200)["items"],
        json!([])
    );
    let fp = "ab".repeat(32);
    let body = json!({"name": "site-a", "url": "https://127.0.0.1:7071", "node_id": fp,
                      "role": "site", "call_centers": ["east"]});
    let p = n.post("/api/v1/peers", &admin, body.clone()).await;
    assert_eq!(
        p.ok(201),
        &json!({"name": "site-a", "url": "https://127.0.0.1:7071", "node_id": fp,
                "role": "site", "call_centers": ["east"]})
    );
    let list = n.get("/api/v1/peers", &admin).await;
    assert_eq!(list.ok(200)["items"][0]["url"], "https://127.0.0.1:7071");
    assert_eq!(list.body["peers"], list.body["items"]);
    // A node id given with colons and capitals, as other tools print it, is the same node id:
    // one peer per node id.
    let colons = "AB:".repeat(31) + "AB";
    let mut again = body.clone();
    again["name"] = json!("site-a-again");
    again["node_id"] = json!(colons);
    n.post("/api/v1/peers", &admin, again)
        .await
        .problem(409, "conflict");
    // The node's own node id is no peer.
    let own = n.get("/api/v1/node", &admin).await.ok(200)["fingerprint"].clone();
    let mut me = body.clone();
    me["name"] = json!("me");
    me["node_id"] = own;
    let r = n.post("/api/v1/peers", &admin, me).await;
    r.problem(422, "validation");
    assert_eq!(r.error_fields(), vec!["node_id"]);
    n.get("/api/v1/peers", &w.agent)
        .await
        .problem(403, "forbidden");
    n.post("/api/v1/peers", &w.supervisor, body)
        .await
        .problem(403, "forbidden");
    let bad = n
        .post(
            "/api/v1/peers",
            &admin,
            json!({"name": "a-b", "url": "http://x:7071", "node_id": "abc", "role": "site",
                   "call_centers": []}),
        )
        .await;
    bad.problem(422, "validation");
    let mut fields = bad.error_fields();
    fields.sort();
    assert_eq!(fields, vec!["call_centers", "node_id", "url"]);
    // A v1 body (a shared secret, no node id or scope) is refused, not half-applied.
    let v1 = n
        .post(
            "/api/v1/peers",
            &admin,
            json!({"name": "old", "url": "https://hq:7071", "secret": "0123456789abcdef"}),
        )
        .await;
    assert!(matches!(v1.status.as_u16(), 400 | 422), "{:?}", v1.body);
    let del = n.delete("/api/v1/peers/site-a", &admin).await;
    assert_eq!(del.status.as_u16(), 204);
    n.delete("/api/v1/peers/site-a", &admin)
        .await
        .problem(404, "not_found");
    // Peers may be configured on a site node too.
    let site = ApiNode::site();
    site.post(
        "/api/v1/peers",
        &site.admin,
        json!({"name": "hq", "url": "https://hq:7071", "node_id": "cd".repeat(32), "role": "hq"}),
    )
    .await
    .ok(201);
}

#[tokio::test]
async fn writes_beyond_the_in_flight_limit_are_shed() {
    let w = World::new().await;
    // Step 1: take every write slot, as a flood of slow writes would.
    let slots = w.node.state.write_slots.clone();
    let all = u32::try_from(slots.available_permits()).unwrap();
    let held = slots.clone().acquire_many_owned(all).await.unwrap();
    // Step 2: writes are refused with 429 and change nothing; reads still answer.
    let id_before = w.node.get("/api/v1/orders", &w.agent).await.ok(200).clone();
    w.node
        .post("/api/v1/customers", &w.agent, json!({"name": "Too Many"}))
        .await
        .problem(429, "rate_limited");
    assert_eq!(
        w.node.get("/api/v1/orders", &w.agent).await.ok(200),
        &id_before
    );
    // Step 3: once slots free up, writes go through again.
    drop(held);
    w.node
        .post("/api/v1/customers", &w.agent, json!({"name": "Fine Now"}))
        .await
        .ok(201);
}
