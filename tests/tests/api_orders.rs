//! API tests: orders, from creation to release, with every rule's error code.

use serde_json::{json, Value};
use switchboard_tests::api_harness::World;
use uuid::Uuid;

fn line_id(view: &Value, product: &str) -> String {
    view["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == product)
        .and_then(|l| l["id"].as_str())
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn order_view_has_lines_charges_totals() {
    let w = World::new().await;
    let n = &w.node;
    // Step 1: create; the id is a UUID v7 and the view is complete.
    let created = n
        .post(
            "/api/v1/orders",
            &w.agent,
            json!({"customer_id": w.customer, "delivery_mode": "std", "ship_to": {"city": "Oslo"}}),
        )
        .await;
    let v = created.ok(201).clone();
    let id = v["id"].as_str().unwrap().to_string();
    assert_eq!(Uuid::parse_str(&id).unwrap().get_version_num(), 7);
    assert_eq!(v["status"], "open");
    assert_eq!(v["call_center_id"], "cc1");
    assert_eq!(v["customer_id"], w.customer.as_str());
    assert_eq!(v["source_code"], json!(null));
    assert_eq!(v["ship_to"]["city"], "Oslo");
    for k in [
        "lines",
        "charges",
        "coupons",
        "payments",
        "holds",
        "notes",
        "conflicts",
    ] {
        assert!(v[k].is_array(), "{k}");
    }
    for k in ["created_at", "created_by", "updated_at"] {
        assert!(v[k].is_string(), "{k}");
    }
    // Step 2: a line; automatic charge by tier; totals as strings.
    let v = w.line(&id, "widget", 2).await;
    let line = &v["lines"][0];
    assert_eq!(line["quantity"], 2);
    assert_eq!(line["unit_price"], "19.99");
    assert_eq!(line["list_price"], "19.99");
    assert_eq!(line["override"], json!(null));
    assert_eq!(line["line_total"], "39.98");
    let charge = &v["charges"][0];
    assert_eq!(charge["auto"], true);
    assert_eq!(charge["code"], "std");
    assert_eq!(charge["amount"], "5.95");
    assert_eq!(
        Uuid::parse_str(charge["id"].as_str().unwrap())
            .unwrap()
            .get_version_num(),
        5
    );
    assert_eq!(
        v["totals"],
        json!({"subtotal": "39.98", "discount": "0.00", "charges": "5.95", "total": "45.93", "paid": "0.00", "balance": "45.93"})
    );
    // Step 3: GET computes the same view; the auto charge id is stable.
    let got = n.get(&format!("/api/v1/orders/{id}"), &w.agent).await;
    assert_eq!(got.ok(200)["totals"], v["totals"]);
    assert_eq!(got.body["charges"][0]["id"], charge["id"]);
    let auto_id = Uuid::new_v5(&Uuid::parse_str(&id).unwrap(), b"std");
    assert_eq!(charge["id"], auto_id.to_string());
    // Step 4: more lines cross the free-delivery tier.
    let v = w.line(&id, "gadget", 1).await;
    assert_eq!(v["totals"]["subtotal"], "69.98");
    assert_eq!(v["charges"], json!([]));
    // Step 5: change and remove lines.
    let wid = line_id(&v, "widget");
    let v = n
        .patch(
            &format!("/api/v1/orders/{id}/lines/{wid}"),
            &w.agent,
            json!({"quantity": 1}),
        )
        .await;
    assert_eq!(v.ok(200)["totals"]["subtotal"], "49.99");
    let gid = line_id(&v.body, "gadget");
    let v = n
        .delete(&format!("/api/v1/orders/{id}/lines/{gid}"), &w.agent)
        .await;
    assert_eq!(v.ok(200)["lines"].as_array().unwrap().len(), 1);
    n.delete(&format!("/api/v1/orders/{id}/lines/{gid}"), &w.agent)
        .await
        .problem(409, "conflict");
    n.delete(
        &format!("/api/v1/orders/{id}/lines/{}", Uuid::new_v4()),
        &w.agent,
    )
    .await
    .problem(404, "not_found");
    n.patch(
        &format!("/api/v1/orders/{id}/lines/{wid}"),
        &w.agent,
        json!({}),
    )
    .await
    .problem(422, "validation");
    let q = n
        .patch(
            &format!("/api/v1/orders/{id}/lines/{wid}"),
            &w.agent,
            json!({"quantity": 0}),
        )
        .await;
    q.problem(422, "validation");
    assert_eq!(
        q.body["detail"],
        "quantity: must be a whole number from 1 to 1000000"
    );
    // Step 6: a manual charge and a note.
    let v = n
        .post(
            &format!("/api/v1/orders/{id}/charges"),
            &w.agent,
            json!({"code": "gift-wrap", "amount": "3.00", "reason_code": "gift"}),
        )
        .await;
    let manual: Vec<_> = v.ok(201)["charges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["auto"] == false)
        .cloned()
        .collect();
    assert_eq!(manual.len(), 1);
    assert_eq!(manual[0]["code"], "gift-wrap");
    n.post(
        &format!("/api/v1/orders/{id}/charges"),
        &w.agent,
        json!({"code": "x", "amount": "3.00", "reason_code": "none"}),
    )
    .await
    .problem(422, "validation");
    let v = n
        .post(
            &format!("/api/v1/orders/{id}/notes"),
            &w.agent,
            json!({"text": "call after 5pm"}),
        )
        .await;
    assert_eq!(v.ok(201)["notes"][0]["text"], "call after 5pm");
    // The answer of a write is the view a read computes from the document.
    let mut got = n
        .get(&format!("/api/v1/orders/{id}"), &w.agent)
        .await
        .ok(200)
        .clone();
    let mut answered = v.body.clone();
    got["updated_at"] = json!(null);
    answered["updated_at"] = json!(null);
    assert_eq!(got, answered);
    n.post(
        &format!("/api/v1/orders/{id}/notes"),
        &w.agent,
        json!({"text": "  "}),
    )
    .await
    .problem(422, "validation");
    // Step 7: history lists the changes with author and node.
    let h = n
        .get(&format!("/api/v1/orders/{id}/history"), &w.agent)
        .await;
    let changes = h.ok(200)["changes"].as_array().unwrap().clone();
    assert!(changes.len() >= 7, "{changes:?}");
    assert!(changes
        .iter()
        .all(|c| c["at"].is_string() && c["summary"].is_string()));
    assert!(changes.last().unwrap()["by"].is_string());
}

#[tokio::test]
async fn unknown_ids_and_other_call_centers_are_not_found() {
    let w = World::new().await;
    let n = &w.node;
    let id = w.order().await;
    w.line(&id, "widget", 1).await;
    // Another call center's agent sees nothing of cc1.
    n.get(&format!("/api/v1/orders/{id}"), &w.other_agent)
        .await
        .problem(404, "not_found");
    n.post(
        &format!("/api/v1/orders/{id}/lines"),
        &w.other_agent,
        json!({"product_id": "widget", "quantity": 1}),
    )
    .await
    .problem(404, "not_found");
    n.post_empty(&format!("/api/v1/orders/{id}/submit"), &w.other_agent)
        .await
        .problem(404, "not_found");
    n.get(&format!("/api/v1/orders/{id}/history"), &w.other_agent)
        .await
        .problem(404, "not_found");
    n.get(&format!("/api/v1/customers/{}", w.customer), &w.other_agent)
        .await
        .problem(404, "not_found");
    n.post(
        "/api/v1/orders",
        &w.other_agent,
        json!({"customer_id": w.customer}),
    )
    .await
    .problem(404, "not_found");
    let list = n.get("/api/v1/orders", &w.other_agent).await;
    assert_eq!(list.ok(200)["items"], json!([]));
    // The admin sees everything.
    n.get(&format!("/api/v1/orders/{id}"), &n.admin)
        .await
        .ok(200);
    // Unknown and malformed ids.
    n.get(&format!("/api/v1/orders/{}", Uuid::now_v7()), &w.agent)
        .await
        .problem(404, "not_found");
    n.get("/api/v1/orders/not-a-uuid", &w.agent)
        .await
        .problem(404, "not_found");
    n.post(
        &format!("/api/v1/orders/{}/notes", Uuid::now_v7()),
        &w.agent,
        json!({"text": "x"}),
    )
    .await
    .problem(404, "not_found");
    n.post(
        "/api/v1/orders",
        &w.agent,
        json!({"customer_id": Uuid::now_v7()}),
    )
    .await
    .problem(404, "not_found");
    // A customer id is not an order id.
    n.get(&format!("/api/v1/orders/{}", w.customer), &w.agent)
        .await
        .problem(404, "not_found");
    n.post(
        &format!("/api/v1/orders/{id}/lines"),
        &w.agent,
        json!({"product_id": "nothing", "quantity": 1}),
    )
    .await
    .problem(422, "validation");
}

#[tokio::test]
async fn price_overrides_follow_role_limits() {
    let w = World::new().await;
    let n = &w.node;
    let id = w.order().await;
    let lines = format!("/api/v1/orders/{id}/lines");
    // Within the agent's 5%: 19.99 → 19.00 is 4.95% off.
    let v = n
        .post(&lines, &w.agent, json!({"product_id": "widget", "quantity": 1, "unit_price": "19.00", "override_reason": "match"}))
        .await;
    let l = v.ok(201)["lines"][0].clone();
    assert_eq!(l["unit_price"], "19.00");
    assert_eq!(l["override"]["reason_code"], "match");
    assert!(l["override"]["by"].is_string());
    // Beyond the agent's limit: 403 price_override_not_allowed; a supervisor may.
    let body = json!({"product_id": "widget", "quantity": 1, "unit_price": "17.00", "override_reason": "match"});
    n.post(&lines, &w.agent, body.clone())
        .await
        .problem(403, "price_override_not_allowed");
    n.post(&lines, &w.supervisor, body).await.ok(201);
    // Products that do not allow overrides.
    n.post(&lines, &w.agent, json!({"product_id": "case", "quantity": 1, "unit_price": "4.99", "override_reason": "match"}))
        .await
        .problem(403, "price_override_not_allowed");
    // A reason is required and must be configured.
    let a = n
        .post(
            &lines,
            &w.agent,
            json!({"product_id": "widget", "quantity": 1, "unit_price": "19.50"}),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["override_reason"]);
    n.post(&lines, &w.agent, json!({"product_id": "widget", "quantity": 1, "unit_price": "19.50", "override_reason": "nope"}))
        .await
        .problem(422, "validation");
    // PATCH with unit_price null reverts to the list price.
    let lid = l["id"].as_str().unwrap();
    let v = n
        .patch(
            &format!("{lines}/{lid}"),
            &w.agent,
            json!({"unit_price": null}),
        )
        .await;
    let l = v.ok(200)["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == lid)
        .unwrap()
        .clone();
    assert_eq!(l["unit_price"], "19.99");
    assert_eq!(l["override"], json!(null));
}

#[tokio::test]
async fn coupons_and_source_codes() {
    let w = World::new().await;
    let n = &w.node;
    // Source codes: unknown and expired are source_code_invalid; a valid one discounts and ships free.
    n.post(
        "/api/v1/orders",
        &w.agent,
        json!({"customer_id": w.customer, "source_code": "NOPE"}),
    )
    .await
    .problem(422, "source_code_invalid");
    n.post(
        "/api/v1/orders",
        &w.agent,
        json!({"customer_id": w.customer, "source_code": "bad code!"}),
    )
    .await
    .problem(422, "source_code_invalid");
    n.set_now("2027-03-01T00:00:00Z");
    n.post(
        "/api/v1/orders",
        &w.agent,
        json!({"customer_id": w.customer, "source_code": "SPRING"}),
    )
    .await
    .problem(422, "source_code_invalid");
    n.set_now("2026-11-28T12:00:00Z");
    let v = n
        .post(
            "/api/v1/orders",
            &w.agent,
            json!({"customer_id": w.customer, "source_code": "SPRING", "delivery_mode": "std"}),
        )
        .await;
    let id = v.ok(201)["id"].as_str().unwrap().to_string();
    let v = w.line(&id, "widget", 1).await;
    assert_eq!(v["source_code"], "SPRING");
    assert_eq!(v["totals"]["discount"], "2.00");
    assert_eq!(v["charges"], json!([]));
    // Coupons: unknown, below minimum, applied, already applied, used up elsewhere.
    let coupons = format!("/api/v1/orders/{id}/coupons");
    n.post(&coupons, &w.agent, json!({"code": "NOPE"}))
        .await
        .problem(422, "coupon_invalid");
    let v = n.post(&coupons, &w.agent, json!({"code": "SAVE5"})).await;
    assert_eq!(
        v.ok(201)["coupons"],
        json!([{"code": "SAVE5", "discount": "5.00"}])
    );
    assert_eq!(v.body["totals"]["total"], "12.99");
    w.assert_fresh(&id, &v.body).await;
    n.post(&coupons, &w.agent, json!({"code": "SAVE5"}))
        .await
        .problem(422, "coupon_invalid");
    let other = w.order().await;
    w.line(&other, "gadget", 1).await;
    n.post(
        &format!("/api/v1/orders/{other}/coupons"),
        &w.agent,
        json!({"code": "SAVE5"}),
    )
    .await
    .problem(422, "coupon_invalid");
    let small = w.order().await;
    w.line(&small, "case", 1).await;
    n.post(
        &format!("/api/v1/orders/{small}/coupons"),
        &w.agent,
        json!({"code": "SAVE5"}),
    )
    .await
    .problem(422, "coupon_invalid");
    // Removing it frees the use for the other order.
    let v = n.delete(&format!("{coupons}/SAVE5"), &w.agent).await;
    assert_eq!(v.ok(200)["coupons"], json!([]));
    n.delete(&format!("{coupons}/SAVE5"), &w.agent)
        .await
        .problem(404, "not_found");
    n.post(
        &format!("/api/v1/orders/{other}/coupons"),
        &w.agent,
        json!({"code": "SAVE5"}),
    )
    .await
    .ok(201);
}

#[tokio::test]
async fn payments_submit_release_cancel() {
    let w = World::new().await;
    let n = &w.node;
    let id = w.order().await;
    let o = |s: &str| format!("/api/v1/orders/{id}{s}");
    // Submit needs lines, then payments covering the total.
    n.post_empty(&o("/submit"), &w.agent)
        .await
        .problem(422, "validation");
    w.line(&id, "widget", 1).await;
    let a = n.post_empty(&o("/submit"), &w.agent).await;
    a.problem(422, "payment_required");
    let v = n
        .post(
            &o("/payments"),
            &w.agent,
            json!({"method": "card", "amount": "10.00", "reference": "auth-1"}),
        )
        .await;
    let pay = v.ok(201)["payments"][0].clone();
    assert_eq!(pay["status"], "authorized");
    assert_eq!(pay["reference"], "auth-1");
    assert_eq!(v.body["totals"]["paid"], "10.00");
    n.post_empty(&o("/submit"), &w.agent)
        .await
        .problem(422, "payment_required");
    // Void, and void again: conflict; unknown payment: not found; bad method: validation.
    let pid = pay["id"].as_str().unwrap();
    let v = n.delete(&o(&format!("/payments/{pid}")), &w.agent).await;
    assert_eq!(v.ok(200)["payments"][0]["status"], "voided");
    w.assert_fresh(&id, &v.body).await;
    n.delete(&o(&format!("/payments/{pid}")), &w.agent)
        .await
        .problem(409, "conflict");
    n.delete(&o(&format!("/payments/{}", Uuid::new_v4())), &w.agent)
        .await
        .problem(404, "not_found");
    n.post(
        &o("/payments"),
        &w.agent,
        json!({"method": "bitcoin", "amount": "1.00"}),
    )
    .await
    .problem(422, "validation");
    n.post(
        &o("/payments"),
        &w.agent,
        json!({"method": "card", "amount": "-1.00"}),
    )
    .await
    .problem(422, "validation");
    n.post(
        &o("/payments"),
        &w.agent,
        json!({"method": "card", "amount": "1.001"}),
    )
    .await
    .problem(422, "validation");
    // Release before submit is an invalid transition.
    n.post_empty(&o("/release"), &w.agent)
        .await
        .problem(409, "invalid_transition");
    // Pay in full and submit.
    w.pay_all(&id).await;
    let v = n.post_empty(&o("/submit"), &w.agent).await;
    assert_eq!(v.ok(200)["status"], "submitted");
    assert_eq!(v.body["totals"]["balance"], "0.00");
    // After submit, edits are invalid transitions; notes and payments still work.
    n.post(
        &o("/lines"),
        &w.agent,
        json!({"product_id": "widget", "quantity": 1}),
    )
    .await
    .problem(409, "invalid_transition");
    n.post(&o("/coupons"), &w.agent, json!({"code": "SAVE5"}))
        .await
        .problem(409, "invalid_transition");
    n.post(&o("/notes"), &w.agent, json!({"text": "after submit"}))
        .await
        .ok(201);
    n.post_empty(&o("/submit"), &w.agent)
        .await
        .problem(409, "invalid_transition");
    // An agent may not cancel a submitted order.
    n.post(&o("/cancel"), &w.agent, json!({"reason": "changed mind"}))
        .await
        .problem(403, "forbidden");
    // Release.
    let v = n.post_empty(&o("/release"), &w.agent).await;
    assert_eq!(v.ok(200)["status"], "released");
    n.post(&o("/cancel"), &w.supervisor, json!({"reason": "late"}))
        .await
        .problem(409, "invalid_transition");
    // Cancel: any user on an open order (body optional); a supervisor after submit.
    let open = w.order().await;
    let v = n
        .post_empty(&format!("/api/v1/orders/{open}/cancel"), &w.agent)
        .await;
    assert_eq!(v.ok(200)["status"], "canceled");
    let sub = w.order().await;
    w.line(&sub, "case", 2).await;
    w.pay_all(&sub).await;
    n.post_empty(&format!("/api/v1/orders/{sub}/submit"), &w.agent)
        .await
        .ok(200);
    let v = n
        .post(
            &format!("/api/v1/orders/{sub}/cancel"),
            &w.supervisor,
            json!({"reason": "customer called"}),
        )
        .await;
    assert_eq!(v.ok(200)["status"], "canceled");
}

#[tokio::test]
async fn holds_block_submit_and_release() {
    let w = World::new().await;
    let n = &w.node;
    let id = w.order().await;
    let o = |s: &str| format!("/api/v1/orders/{id}{s}");
    w.line(&id, "widget", 1).await;
    w.pay_all(&id).await;
    // Place a fraud hold: on_hold, submit refused.
    let v = n
        .post(
            &o("/holds"),
            &w.agent,
            json!({"code": "fraud", "reason": "address mismatch"}),
        )
        .await;
    let hold = v.ok(201)["holds"][0].clone();
    assert_eq!(v.body["status"], "on_hold");
    assert_eq!(hold["code"], "fraud");
    assert_eq!(hold["system"], false);
    assert_eq!(hold["cleared"], json!(null));
    assert!(hold["placed_by"].is_string() && hold["placed_at"].is_string());
    n.post_empty(&o("/submit"), &w.agent)
        .await
        .problem(409, "order_on_hold");
    n.post(
        &o("/holds"),
        &w.agent,
        json!({"code": "nope", "reason": "x"}),
    )
    .await
    .problem(422, "validation");
    // The agent may not clear a fraud hold; the supervisor may; clearing twice conflicts.
    let hid = hold["id"].as_str().unwrap();
    n.post(
        &o(&format!("/holds/{hid}/clear")),
        &w.agent,
        json!({"reason": "ok"}),
    )
    .await
    .problem(403, "forbidden");
    let v = n
        .post(
            &o(&format!("/holds/{hid}/clear")),
            &w.supervisor,
            json!({"reason": "verified"}),
        )
        .await;
    assert_eq!(v.ok(200)["holds"][0]["cleared"]["reason"], "verified");
    w.assert_fresh(&id, &v.body).await;
    assert_eq!(v.body["status"], "open");
    n.post(
        &o(&format!("/holds/{hid}/clear")),
        &w.supervisor,
        json!({"reason": "again"}),
    )
    .await
    .problem(409, "conflict");
    n.post(
        &o(&format!("/holds/{}/clear", Uuid::new_v4())),
        &w.supervisor,
        json!({"reason": "x"}),
    )
    .await
    .problem(404, "not_found");
    // Submit, then a hold blocks release.
    n.post_empty(&o("/submit"), &w.agent).await.ok(200);
    n.post(
        &o("/holds"),
        &w.agent,
        json!({"code": "customer", "reason": "wait for call"}),
    )
    .await
    .ok(201);
    n.post_empty(&o("/release"), &w.agent)
        .await
        .problem(409, "order_on_hold");
    // Held orders are listed by status.
    let list = n.get("/api/v1/orders?status=on_hold", &w.agent).await;
    let ids: Vec<_> = list.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(id)]);
}

#[tokio::test]
async fn order_lists_filter_and_page() {
    let w = World::new().await;
    let n = &w.node;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(w.order().await);
    }
    w.line(&ids[0], "widget", 1).await;
    n.post_empty(&format!("/api/v1/orders/{}/cancel", ids[1]), &w.agent)
        .await
        .ok(200);
    // Newest first.
    let all = n.get("/api/v1/orders", &w.agent).await;
    let got: Vec<String> = all.ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    let mut want = ids.clone();
    want.reverse();
    assert_eq!(got, want);
    assert_eq!(all.body["next_cursor"], json!(null));
    let first = &all.body["items"][4];
    assert_eq!(first["total"], "25.94");
    assert_eq!(first["status"], "open");
    // Pages of 2 by cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..4 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/orders?limit=2&cursor={c}"),
            None => "/api/v1/orders?limit=2".to_string(),
        };
        let page = n.get(&path, &w.agent).await;
        let items = page.ok(200)["items"].as_array().unwrap().clone();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|s| s["id"].as_str().unwrap().to_string()));
        cursor = page.body["next_cursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, want);
    // Filters.
    let canceled = n.get("/api/v1/orders?status=canceled", &w.agent).await;
    assert_eq!(canceled.ok(200)["items"].as_array().unwrap().len(), 1);
    let by_customer = n
        .get(
            &format!(
                "/api/v1/orders?customer_id={}&status=open&limit=500",
                w.customer
            ),
            &w.agent,
        )
        .await;
    assert_eq!(by_customer.ok(200)["items"].as_array().unwrap().len(), 4);
    let none = n
        .get(
            &format!("/api/v1/orders?customer_id={}", Uuid::new_v4()),
            &w.agent,
        )
        .await;
    assert_eq!(none.ok(200)["items"], json!([]));
    // Bad query values.
    n.get("/api/v1/orders?status=lost", &w.agent)
        .await
        .problem(422, "validation");
    n.get("/api/v1/orders?limit=0", &w.agent)
        .await
        .problem(422, "validation");
    n.get("/api/v1/orders?limit=lots", &w.agent)
        .await
        .problem(422, "validation");
    n.get("/api/v1/orders?cursor=zz", &w.agent)
        .await
        .problem(422, "validation");
    n.get("/api/v1/orders?customer_id=nope", &w.agent)
        .await
        .problem(422, "validation");
}

#[tokio::test]
async fn suggestions_for_open_orders() {
    let w = World::new().await;
    let n = &w.node;
    let id = w.order().await;
    w.line(&id, "gadget", 1).await;
    let s = n
        .get(&format!("/api/v1/orders/{id}/suggestions"), &w.agent)
        .await;
    let upsell: Vec<_> = s.ok(200)["upsell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    let cross: Vec<_> = s.body["cross_sell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(upsell, vec![json!("widget")]);
    assert_eq!(cross, vec![json!("case")]);
    assert_eq!(s.body["scripts"], json!(["Mention the warranty"]));
    n.get(&format!("/api/v1/orders/{id}/suggestions"), &w.other_agent)
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn concurrent_edits_show_as_conflicts() {
    use switchboard_domain::commands::OrderEvent;
    use switchboard_domain::{LineId, NodeId, Quantity, Timestamp, UserId};
    use switchboard_node::api::error::ApiError;
    use switchboard_sync::doc::{apply_order_event, Author};

    let w = World::new().await;
    let id = w.order().await;
    let v = w.line(&id, "widget", 1).await;
    let line = LineId(Uuid::parse_str(&line_id(&v, "widget")).unwrap());
    let doc_id = Uuid::parse_str(&id).unwrap();
    // Step 1: two replicas of the order change the same quantity concurrently; merge them into
    // the stored document, as a sync would.
    w.node
        .state
        .storage
        .submit(move |ctx| {
            let (meta, mut doc) = ctx
                .load_doc(doc_id)?
                .ok_or_else(|| ApiError::not_found("order"))?;
            let mut other = doc.fork();
            let author = |actor: u8, n: u32| Author {
                actor: automerge::ActorId::from([actor; 16]),
                user: UserId(Uuid::from_u128(n as u128)),
                node: NodeId(Uuid::from_u128(100 + n as u128)),
                now: Timestamp::from_millis(switchboard_tests::api_harness::T0 + 1000),
            };
            let change = |q: i64| OrderEvent::LineChanged {
                line_id: line,
                quantity: Some(Quantity::new(q).unwrap()),
                unit_price: None,
                price_override: None,
            };
            apply_order_event(&mut doc, &change(3), &author(1, 1))?;
            apply_order_event(&mut other, &change(4), &author(2, 2))?;
            doc.merge(&mut other).map_err(ApiError::internal)?;
            ctx.put_doc(doc_id, meta, &doc)?;
            Ok::<_, ApiError>(())
        })
        .await
        .unwrap();
    // Step 2: the view shows one quantity and lists both values under conflicts.
    let v = w.node.get(&format!("/api/v1/orders/{id}"), &w.agent).await;
    let v = v.ok(200);
    let q = v["lines"][0]["quantity"].as_i64().unwrap();
    assert!(q == 3 || q == 4);
    let c = v["conflicts"].as_array().unwrap();
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0]["path"].as_str().unwrap().contains("quantity"));
    assert_eq!(c[0]["values"].as_array().unwrap().len(), 2);
    assert_eq!(c[0]["values"][0].as_i64().unwrap(), q);
    // Step 3: the next edit through the API works on the merged document.
    let lid = line.0.to_string();
    let v = w
        .node
        .patch(
            &format!("/api/v1/orders/{id}/lines/{lid}"),
            &w.agent,
            json!({"quantity": 5}),
        )
        .await;
    assert_eq!(v.ok(200)["lines"][0]["quantity"], 5);
}
