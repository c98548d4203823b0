//! What a node logs at its default level (`info`), across real processes (HQ and a site linked
//! over TLS): no token, password, key or personal data, through a day's work (users, customers,
//! orders, payments, notes, refused requests) and sync in both directions.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard_tests::api_harness::call_center_body;
use switchboard_tests::cluster::{Cluster, NodeSpec};

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_logs_hold_no_secret_token_or_personal_data() {
    let mut c = Cluster::new();
    c.add(NodeSpec::hq("hq")).await;
    c.add(NodeSpec::site("north-1", &["north"])).await;
    c.link("hq", "north-1").await;
    let (hq, site) = (c.node("hq"), c.node("north-1"));

    // Step 1: configuration and a user with a console password, made at HQ.
    let password = "Quokka-Paperclip-Lantern-77";
    hq.put(
        "/api/v1/call-centers/north",
        &hq.admin,
        call_center_body("North"),
    )
    .await
    .expect(200);
    hq.put(
        "/api/v1/products/widget",
        &hq.admin,
        json!({"name": "Widget", "price": "19.99"}),
    )
    .await
    .expect(200);
    let agent = hq
        .post(
            "/api/v1/call-centers/north/users",
            &hq.admin,
            json!({"name": "Ann", "role": "agent", "password": password}),
        )
        .await
        .expect(201)
        .clone();
    let agent_tok = s(&agent, "token");
    let rotated = hq
        .post(
            &format!("/api/v1/users/{}/rotate", s(&agent, "user_id")),
            &hq.admin,
            json!({}),
        )
        .await
        .expect(200)
        .clone();
    let new_tok = s(&rotated, "token");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !site.has_call_center("north", &new_tok).await {
        assert!(
            Instant::now() < deadline,
            "the configuration did not reach the site"
        );
        c.sync_round().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Step 2: a day's work at the site, with personal data in every field that takes it.
    let name = "Zelda Quistorp-Ravensworth";
    let phone = "+49 170 5550199";
    let email = "zelda.quistorp@example.invalid";
    let street = "Lindenallee 4711";
    let customer = site
        .post(
            "/api/v1/customers",
            &new_tok,
            json!({"name": name, "phone": phone, "email": email,
                   "address": {"street": street, "city": "Bremen", "postal_code": "28195",
                               "country": "DE"}}),
        )
        .await
        .expect(201)
        .clone();
    let order = site
        .post(
            "/api/v1/orders",
            &new_tok,
            json!({"customer_id": s(&customer, "id"), "delivery_mode": "std"}),
        )
        .await
        .expect(201)
        .clone();
    let o = s(&order, "id");
    site.post(
        &format!("/api/v1/orders/{o}/lines"),
        &new_tok,
        json!({"product_id": "widget", "quantity": 2}),
    )
    .await
    .expect(201);
    let reference = "AUTH-8842-QX-REF";
    site.post(
        &format!("/api/v1/orders/{o}/payments"),
        &new_tok,
        json!({"method": "card", "amount": "10.00", "reference": reference}),
    )
    .await
    .expect(201);
    let note = "Customer prefers delivery after six, code word marmalade";
    site.post(
        &format!("/api/v1/orders/{o}/notes"),
        &new_tok,
        json!({"text": note}),
    )
    .await
    .expect(201);
    // Refused requests: the old (rotated) token, a made-up one, a bad body.
    let made_up = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";
    assert_eq!(site.get("/api/v1/orders", &agent_tok).await.status, 401);
    assert_eq!(site.get("/api/v1/orders", made_up).await.status, 401);
    assert_eq!(
        site.post(
            "/api/v1/customers",
            &new_tok,
            json!({"name": name, "phone": 12})
        )
        .await
        .status,
        422
    );
    // Sync both ways, so the merge paths log too.
    for _ in 0..3 {
        c.sync_round().await;
    }
    let at_hq = hq
        .get(&format!("/api/v1/orders/{o}"), &hq.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(at_hq["notes"][0]["text"], note, "the order reached HQ");

    // Step 3: neither node's log holds any of it (the logs are not empty: they say what
    // happened, without the data).
    let secrets: Vec<(&str, String)> = vec![
        ("the agent's first token", agent_tok.clone()),
        ("the agent's rotated token", new_tok.clone()),
        ("a refused made-up token", made_up.to_string()),
        ("HQ's admin token", hq.admin.clone()),
        ("the site's admin token", site.admin.clone()),
        ("a console password", password.to_string()),
        ("a customer's name", name.to_string()),
        ("a customer's phone", phone.to_string()),
        ("a customer's e-mail", email.to_string()),
        ("a customer's street", street.to_string()),
        ("a payment reference", reference.to_string()),
        ("an order note", note.to_string()),
        ("a private key", "PRIVATE KEY".to_string()),
    ];
    let mut found = Vec::new();
    for node in [hq, site] {
        let log = std::fs::read_to_string(&node.log).expect("read the node's log");
        assert!(
            log.lines().count() >= 3,
            "{} logged almost nothing:\n{log}",
            node.name
        );
        for (what, secret) in &secrets {
            if log.contains(secret.as_str()) {
                found.push(format!("{} logged {what}", node.name));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
