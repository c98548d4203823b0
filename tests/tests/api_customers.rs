//! API tests: customers, their history and catalog requests.

use serde_json::json;
use switchboard_tests::api_harness::World;
use uuid::Uuid;

#[tokio::test]
async fn customers_create_search_patch() {
    let w = World::new().await;
    let n = &w.node;
    let c = n
        .get(&format!("/api/v1/customers/{}", w.customer), &w.agent)
        .await;
    let c = c.ok(200).clone();
    assert_eq!(c["name"], "Carla Jones");
    assert_eq!(c["call_center_id"], "cc1");
    assert_eq!(c["email"], "carla@example.com");
    // Create with an address; search by name, phone, email.
    let a = n
        .post("/api/v1/customers", &w.agent, json!({"name": "Bob Stone", "phone": "+44 20 7946 0000", "address": {"city": "London"}}))
        .await;
    let bob = a.ok(201)["id"].as_str().unwrap().to_string();
    assert_eq!(a.body["address"]["city"], "London");
    for (q, want) in [
        ("stone", 1),
        ("7946", 1),
        ("EXAMPLE.com", 1),
        ("o", 2),
        ("zzz", 0),
    ] {
        let r = n.get(&format!("/api/v1/customers?q={q}"), &w.agent).await;
        assert_eq!(r.ok(200)["items"].as_array().unwrap().len(), want, "q={q}");
    }
    // Other call centers see none of them.
    assert_eq!(
        n.get("/api/v1/customers?q=o", &w.other_agent).await.ok(200)["items"],
        json!([])
    );
    // Patch: change, clear, validation, unknown.
    let p = n
        .patch(
            &format!("/api/v1/customers/{bob}"),
            &w.agent,
            json!({"email": "bob@example.org", "phone": null}),
        )
        .await;
    assert_eq!(p.ok(200)["email"], "bob@example.org");
    assert_eq!(p.body["phone"], json!(null));
    let got = n.get(&format!("/api/v1/customers/{bob}"), &w.agent).await;
    assert_eq!(got.ok(200)["email"], "bob@example.org");
    n.patch(&format!("/api/v1/customers/{bob}"), &w.agent, json!({}))
        .await
        .problem(422, "validation");
    let bad = n
        .patch(
            &format!("/api/v1/customers/{bob}"),
            &w.agent,
            json!({"email": "not-an-email"}),
        )
        .await;
    bad.problem(422, "validation");
    assert_eq!(bad.error_fields(), vec!["email"]);
    n.patch(
        &format!("/api/v1/customers/{bob}"),
        &w.other_agent,
        json!({"name": "X"}),
    )
    .await
    .problem(404, "not_found");
    n.patch(
        &format!("/api/v1/customers/{}", Uuid::new_v4()),
        &w.agent,
        json!({"name": "X"}),
    )
    .await
    .problem(404, "not_found");
    n.get("/api/v1/customers/12", &w.agent)
        .await
        .problem(404, "not_found");
    // null is the same as absent for optional collections.
    let a = n
        .post(
            "/api/v1/customers",
            &w.agent,
            json!({"name": "Nully", "address": null, "phone": null}),
        )
        .await;
    assert_eq!(a.ok(201)["address"], json!({}));
    let o = n
        .post(
            "/api/v1/orders",
            &w.agent,
            json!({"customer_id": a.body["id"], "ship_to": null, "source_code": null}),
        )
        .await;
    assert_eq!(o.ok(201)["ship_to"], json!({}));
    // Create validation.
    let a = n
        .post("/api/v1/customers", &w.agent, json!({"name": ""}))
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["name"]);
    n.post("/api/v1/customers", &w.agent, json!({"phone": "123"}))
        .await
        .problem(422, "validation");
    // An admin names the call center; an agent may not name another.
    n.post("/api/v1/customers", &n.admin, json!({"name": "Admin made"}))
        .await
        .problem(422, "validation");
    let a = n
        .post(
            "/api/v1/customers",
            &n.admin,
            json!({"name": "Admin made", "call_center_id": "cc2"}),
        )
        .await;
    assert_eq!(a.ok(201)["call_center_id"], "cc2");
    n.post(
        "/api/v1/customers",
        &w.agent,
        json!({"name": "X", "call_center_id": "cc2"}),
    )
    .await
    .problem(403, "forbidden");
}

/// A refusal says the rule and names the field once: `phone: must have …`, never
/// `phone: phone: …`, in the problem's `detail` and in its `errors`.
#[tokio::test]
async fn a_bad_phone_names_the_field_once() {
    let w = World::new().await;
    let n = &w.node;
    for (phone, rule) in [
        ("12", "must have at least 3 digits"),
        ("555-CALL-NOW", "may hold only digits, spaces and + - ( ) ."),
    ] {
        let a = n
            .post(
                "/api/v1/customers",
                &w.agent,
                json!({"name": "Dee", "phone": phone}),
            )
            .await;
        a.problem(422, "validation");
        assert_eq!(
            a.body["errors"],
            json!([{"field": "phone", "message": rule}]),
            "{phone}"
        );
        let detail = a.body["detail"].as_str().expect("detail");
        assert_eq!(detail, format!("phone: {rule}"));
        assert_eq!(detail.matches("phone").count(), 1, "{detail}");
    }
    // The same rule on a change.
    let p = n
        .patch(
            &format!("/api/v1/customers/{}", w.customer),
            &w.agent,
            json!({"phone": "12"}),
        )
        .await;
    p.problem(422, "validation");
    assert_eq!(p.body["detail"], "phone: must have at least 3 digits");
}

#[tokio::test]
async fn customer_history_and_catalog_requests() {
    let w = World::new().await;
    let n = &w.node;
    let first = w.order().await;
    let second = w.order().await;
    // Catalog requests: valid, unknown source code, bad quantity.
    let r = n
        .post(
            &format!("/api/v1/customers/{}/catalog-requests", w.customer),
            &w.agent,
            json!({"source_code": "SPRING", "quantity": 2}),
        )
        .await;
    assert_eq!(r.ok(201)["catalog"], "spring-2026");
    assert_eq!(r.body["quantity"], 2);
    n.post(
        &format!("/api/v1/customers/{}/catalog-requests", w.customer),
        &w.agent,
        json!({"source_code": "NOPE"}),
    )
    .await
    .problem(422, "source_code_invalid");
    n.post(
        &format!("/api/v1/customers/{}/catalog-requests", w.customer),
        &w.agent,
        json!({"source_code": "SPRING", "quantity": 0}),
    )
    .await
    .problem(422, "validation");
    n.post(
        &format!("/api/v1/customers/{}/catalog-requests", Uuid::new_v4()),
        &w.agent,
        json!({"source_code": "SPRING"}),
    )
    .await
    .problem(404, "not_found");
    // Notes on the customer.
    let note = n
        .post(
            &format!("/api/v1/customers/{}/notes", w.customer),
            &w.agent,
            json!({"text": "prefers email"}),
        )
        .await;
    assert_eq!(note.ok(201)["text"], "prefers email");
    n.post(
        &format!("/api/v1/customers/{}/notes", w.customer),
        &w.agent,
        json!({"text": ""}),
    )
    .await
    .problem(422, "validation");
    n.post(
        &format!("/api/v1/customers/{}/notes", w.customer),
        &w.other_agent,
        json!({"text": "x"}),
    )
    .await
    .problem(404, "not_found");
    // History: orders newest first, notes, catalog requests.
    let h = n
        .get(
            &format!("/api/v1/customers/{}/history", w.customer),
            &w.agent,
        )
        .await;
    let orders: Vec<_> = h.ok(200)["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].clone())
        .collect();
    assert_eq!(orders, vec![json!(second), json!(first)]);
    assert_eq!(h.body["catalog_requests"].as_array().unwrap().len(), 1);
    assert_eq!(h.body["notes"][0]["text"], "prefers email");
    n.get(
        &format!("/api/v1/customers/{}/history", w.customer),
        &w.other_agent,
    )
    .await
    .problem(404, "not_found");
}
