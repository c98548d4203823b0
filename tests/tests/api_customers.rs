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

/// Percent-encodes a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Every page of `GET /api/v1/customers?q=` (ids, in order), following the cursors.
async fn search_ids(w: &World, token: &str, q: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    for _ in 0..1000 {
        let r = w
            .node
            .get(
                &format!("/api/v1/customers?q={}&limit={limit}{cursor}", enc(q)),
                token,
            )
            .await;
        let body = r.ok(200);
        for c in body["items"].as_array().expect("items") {
            out.push(c["id"].as_str().expect("id").to_string());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={}", enc(next)),
            None => return out,
        }
    }
    panic!("paging does not end for {q:?}");
}

/// A search of 3 characters or more reads the search index; it answers exactly what walking
/// every customer answers (here: filtering the full list, which an empty query walks), with
/// the same paging, for a few hundred customers of two call centers and many queries.
#[tokio::test]
async fn customer_search_answers_exactly_what_a_scan_answers() {
    let w = World::new().await;
    let mut seed: u64 = 10;
    let mut next = move |n: usize| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((seed >> 33) % n as u64) as usize
    };
    let first = [
        "Ada",
        "Ben",
        "Carla",
        "Dana",
        "Éli",
        "Fay",
        "ANNA",
        "Anne-Marie",
    ];
    let last = [
        "Jones", "Smith", "Garcia", "Müller", "Rossi", "O'Hara", "Berg",
    ];
    let domains = ["example.com", "Mail.TEST", "corp.example.org"];
    let mut fields = Vec::new();
    for i in 0..300 {
        let mut body = json!({
            "name": format!("{} {} {}", first[next(first.len())], last[next(last.len())], next(1000)),
        });
        if next(4) != 0 {
            body["phone"] = json!(format!(
                "+{} {:03} {:04}",
                next(50),
                next(1000),
                next(10000)
            ));
        }
        if next(3) != 0 {
            body["email"] = json!(format!(
                "{}.{}@{}",
                first[next(first.len())].to_lowercase(),
                next(100),
                domains[next(domains.len())]
            ));
        }
        let token = if i % 4 == 0 { &w.other_agent } else { &w.agent };
        let c = w.node.post("/api/v1/customers", token, body).await;
        let c = c.ok(201);
        let text: Vec<String> = ["name", "phone", "email"]
            .iter()
            .filter_map(|f| c[*f].as_str().map(String::from))
            .collect();
        fields.push(text);
    }
    // One call center's agent, the other's, and an admin who sees both.
    let admin = w.node.admin.clone();
    let users = [w.agent.clone(), w.other_agent.clone(), admin];
    // Everyone each user sees, in the API's order, by the scan of an empty query.
    let mut seen = Vec::new();
    for token in &users {
        let mut all = Vec::new();
        let ids = search_ids(&w, token, "", 100).await;
        for id in ids {
            let c = w.node.get(&format!("/api/v1/customers/{id}"), token).await;
            let c = c.ok(200);
            let text: Vec<String> = ["name", "phone", "email"]
                .iter()
                .filter_map(|f| c[*f].as_str().map(|s| s.to_lowercase()))
                .collect();
            all.push((id, text));
        }
        seen.push(all);
    }
    assert!(seen[2].len() > 300, "the admin sees everyone");
    let mut queries: Vec<String> = [
        "smith",
        "MÜLLER",
        "o'ha",
        "  jones ",
        "example",
        "nobody at all",
        "+1 ",
        "éli",
    ]
    .iter()
    .map(|q| q.to_string())
    .collect();
    for _ in 0..120 {
        let f = &fields[next(fields.len())];
        let chars: Vec<char> = f[next(f.len())].chars().collect();
        let len = (3 + next(6)).min(chars.len());
        let start = next(chars.len() - len + 1);
        let piece: String = chars[start..start + len].iter().collect();
        queries.push(if next(2) == 0 {
            piece.to_uppercase()
        } else {
            piece
        });
    }
    let mut found_some = 0;
    for (i, q) in queries.iter().enumerate() {
        let u = i % users.len();
        let want_q = q.trim().to_lowercase();
        let want: Vec<String> = seen[u]
            .iter()
            .filter(|(_, text)| text.iter().any(|t| t.contains(&want_q)))
            .map(|(id, _)| id.clone())
            .collect();
        let limit = [2, 7, 50][i % 3];
        let got = search_ids(&w, &users[u], q, limit).await;
        assert_eq!(got, want, "query {q:?} as user {u}, limit {limit}");
        if !want.is_empty() {
            found_some += 1;
        }
    }
    assert!(found_some > 100, "only {found_some} queries found someone");
}
