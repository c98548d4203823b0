//! API tests: configuration (call centers, users, products, price groups, source codes, coupons).

use serde_json::json;
use switchboard_tests::api_harness::{call_center_body, ApiNode, World};

#[tokio::test]
async fn call_center_put_get_and_users() {
    let node = ApiNode::hq();
    let admin = node.admin.clone();
    // Step 1: PUT answers the stored object, GET reads it back.
    let put = node
        .put(
            "/api/v1/call-centers/cc1",
            &admin,
            call_center_body("North"),
        )
        .await;
    let stored = put.ok(200).clone();
    assert_eq!(stored["id"], "cc1");
    assert_eq!(stored["currency"], "EUR");
    assert_eq!(stored["payment_tolerance"], "0.00");
    assert_eq!(stored["price_override_limits"]["agent"], "5");
    assert_eq!(stored["delivery_modes"][0]["charges"][0]["amount"], "5.95");
    let got = node.get("/api/v1/call-centers/cc1", &admin).await;
    assert_eq!(got.ok(200), &stored);
    // Step 2: a PUT replaces it.
    let mut body = call_center_body("North 2");
    body["guided_sales"] = json!(false);
    node.put("/api/v1/call-centers/cc1", &admin, body)
        .await
        .ok(200);
    let got = node.get("/api/v1/call-centers/cc1", &admin).await;
    assert_eq!(got.ok(200)["name"], "North 2");
    assert_eq!(got.body["guided_sales"], false);
    // Step 3: a user gets a token once; the token authenticates.
    let a = node
        .post(
            "/api/v1/call-centers/cc1/users",
            &admin,
            json!({"name": "Ann", "role": "agent"}),
        )
        .await;
    let created = a.ok(201).clone();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(created["user_id"].is_string() && token.len() >= 32);
    node.get("/api/v1/call-centers/cc1", &token).await.ok(200);
    // Step 4: an agent may not see another call center, nor write configuration.
    node.put(
        "/api/v1/call-centers/cc2",
        &admin,
        call_center_body("South"),
    )
    .await
    .ok(200);
    node.get("/api/v1/call-centers/cc2", &token)
        .await
        .problem(404, "not_found");
    node.put("/api/v1/call-centers/cc1", &token, call_center_body("X"))
        .await
        .problem(403, "forbidden");
    node.post(
        "/api/v1/call-centers/cc1/users",
        &token,
        json!({"name": "B", "role": "agent"}),
    )
    .await
    .problem(403, "forbidden");
    // Step 5: unknown call centers.
    node.get("/api/v1/call-centers/nope", &admin)
        .await
        .problem(404, "not_found");
    node.post(
        "/api/v1/call-centers/nope/users",
        &admin,
        json!({"name": "B", "role": "agent"}),
    )
    .await
    .problem(404, "not_found");
}

#[tokio::test]
async fn call_center_validation_names_fields() {
    let node = ApiNode::hq();
    let admin = node.admin.clone();
    let mut body = call_center_body("North");
    body["currency"] = json!("euro");
    body["payment_tolerance"] = json!("-1");
    let a = node.put("/api/v1/call-centers/cc1", &admin, body).await;
    a.problem(422, "validation");
    let fields = a.error_fields();
    assert!(fields.contains(&"currency".to_string()), "{fields:?}");
    // Wrong type: a number where a decimal string is expected... is accepted or named; a bool is named.
    let mut body = call_center_body("North");
    body["order_completion"] = json!("yes");
    let a = node.put("/api/v1/call-centers/cc1", &admin, body).await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["order_completion"]);
    // Nested path.
    let mut body = call_center_body("North");
    body["delivery_modes"][0]["charges"][1]["amount"] = json!(true);
    let a = node.put("/api/v1/call-centers/cc1", &admin, body).await;
    a.problem(422, "validation");
    assert_eq!(
        a.error_fields(),
        vec!["delivery_modes[0].charges[1].amount"]
    );
    // Unknown field.
    let mut body = call_center_body("North");
    body["colour"] = json!("red");
    let a = node.put("/api/v1/call-centers/cc1", &admin, body).await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["colour"]);
    // Missing field.
    let a = node
        .put(
            "/api/v1/call-centers/cc1",
            &admin,
            json!({"currency": "EUR"}),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["name"]);
    // Body id must match the path; bad role in a user.
    let mut body = call_center_body("North");
    body["id"] = json!("cc9");
    node.put("/api/v1/call-centers/cc1", &admin, body)
        .await
        .problem(422, "validation");
    node.put(
        "/api/v1/call-centers/cc1",
        &admin,
        call_center_body("North"),
    )
    .await
    .ok(200);
    let a = node
        .post(
            "/api/v1/call-centers/cc1/users",
            &admin,
            json!({"name": "B", "role": "boss"}),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["role"]);
}

#[tokio::test]
async fn site_node_refuses_configuration_writes() {
    let node = ApiNode::site();
    let admin = node.admin.clone();
    node.put(
        "/api/v1/call-centers/cc1",
        &admin,
        call_center_body("North"),
    )
    .await
    .problem(403, "forbidden");
    node.put(
        "/api/v1/products/widget",
        &admin,
        json!({"name": "W", "price": "1.00"}),
    )
    .await
    .problem(403, "forbidden");
    node.put(
        "/api/v1/price-groups/pg",
        &admin,
        json!({"name": "PG", "prices": {}}),
    )
    .await
    .problem(403, "forbidden");
    node.put("/api/v1/source-codes/SC", &admin, json!({"catalog": "c"}))
        .await
        .problem(403, "forbidden");
    node.put(
        "/api/v1/coupons/C",
        &admin,
        json!({"kind": "percent", "value": "10"}),
    )
    .await
    .problem(403, "forbidden");
    node.post(
        "/api/v1/call-centers/cc1/users",
        &admin,
        json!({"name": "B", "role": "agent"}),
    )
    .await
    .problem(403, "forbidden");
    // Reads still work (and find nothing yet).
    node.get("/api/v1/products/widget", &admin)
        .await
        .problem(404, "not_found");
    assert_eq!(
        node.get("/api/v1/products", &admin).await.ok(200)["items"],
        json!([])
    );
}

#[tokio::test]
async fn catalog_entries_round_trip() {
    let w = World::new().await;
    let (n, admin, agent) = (&w.node, w.node.admin.clone(), w.agent.clone());
    // Products: get, search, validation.
    let p = n.get("/api/v1/products/gadget", &agent).await;
    assert_eq!(p.ok(200)["price"], "30.00");
    assert_eq!(p.body["upsell"], json!(["widget"]));
    assert_eq!(p.body["continuity"], json!(null));
    let found = n.get("/api/v1/products?q=widg", &agent).await;
    let ids: Vec<_> = found.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!("widget")]);
    assert_eq!(
        n.get("/api/v1/products", &agent).await.ok(200)["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    n.get("/api/v1/products/none", &agent)
        .await
        .problem(404, "not_found");
    let a = n
        .put(
            "/api/v1/products/bad",
            &admin,
            json!({"name": "", "price": "-1"}),
        )
        .await;
    a.problem(422, "validation");
    assert!(a.error_fields().contains(&"price".to_string()));
    n.put(
        "/api/v1/products/bad",
        &admin,
        json!({"name": "x", "price": 12}),
    )
    .await
    .problem(422, "validation");
    // A price finer than a configured call center's currency cannot be sold there (issue 14).
    let fine = n
        .put(
            "/api/v1/products/fine",
            &admin,
            json!({"name": "Fine", "price": "0.005"}),
        )
        .await;
    fine.problem(422, "validation");
    assert_eq!(fine.error_fields(), ["price"]);
    assert!(fine.text.contains("decimals"), "{}", fine.text);
    n.get("/api/v1/products/fine", &agent)
        .await
        .problem(404, "not_found");
    let cont = n
        .put(
            "/api/v1/products/club",
            &admin,
            json!({"name": "Club", "price": "9.00", "continuity": {"every_days": 30, "times": 6}}),
        )
        .await;
    assert_eq!(
        cont.ok(200)["continuity"],
        json!({"every_days": 30, "times": 6})
    );
    // Price groups.
    let g = n
        .put(
            "/api/v1/price-groups/north",
            &admin,
            json!({"name": "North retail", "prices": {"widget": "18.99"}}),
        )
        .await;
    assert_eq!(g.ok(200)["prices"]["widget"], "18.99");
    assert_eq!(
        n.get("/api/v1/price-groups/north", &agent).await.ok(200)["name"],
        "North retail"
    );
    n.get("/api/v1/price-groups/south", &agent)
        .await
        .problem(404, "not_found");
    n.put(
        "/api/v1/price-groups/north",
        &agent,
        json!({"name": "x", "prices": {}}),
    )
    .await
    .problem(403, "forbidden");
    // Source codes and coupons.
    let s = n.get("/api/v1/source-codes/SPRING", &agent).await;
    assert_eq!(s.ok(200)["discount_percent"], "10");
    assert_eq!(s.body["valid_from"], "2026-01-01T00:00:00.000Z");
    let a = n
        .put(
            "/api/v1/source-codes/BAD",
            &admin,
            json!({"catalog": "c", "valid_from": "2026-02-01", "valid_to": "2026-01-01"}),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["valid_to"]);
    n.put(
        "/api/v1/source-codes/BAD",
        &admin,
        json!({"catalog": "c", "valid_from": "yesterday"}),
    )
    .await
    .problem(422, "validation");
    let c = n.get("/api/v1/coupons/SAVE5", &agent).await;
    assert_eq!(c.ok(200)["kind"], "amount");
    assert_eq!(c.body["max_uses"], 1);
    n.put(
        "/api/v1/coupons/X",
        &admin,
        json!({"kind": "percent", "value": "150"}),
    )
    .await
    .problem(422, "validation");
    n.put(
        "/api/v1/coupons/X",
        &admin,
        json!({"kind": "bogus", "value": "1"}),
    )
    .await
    .problem(422, "validation");
    n.get("/api/v1/coupons/NONE", &agent)
        .await
        .problem(404, "not_found");
    n.put(
        "/api/v1/coupons/X",
        &agent,
        json!({"kind": "percent", "value": "10"}),
    )
    .await
    .problem(403, "forbidden");
}
