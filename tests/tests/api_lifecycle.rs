//! API tests across node lifecycles: restart, read-model rebuild, and a site node that receives
//! its configuration (and users) as documents, the way a sync delivers them.

use serde_json::json;
use switchboard_node::api::error::ApiError;
use switchboard_node::store::StoreExt;
use switchboard_sync::doc::{call_center_doc_id, catalog_doc_id};
use switchboard_tests::api_harness::{ApiNode, World};

#[tokio::test]
async fn restart_and_read_model_rebuild_keep_everything() {
    let w = World::new().await;
    let id = w.order().await;
    w.line(&id, "widget", 2).await;
    let before = w.node.get("/api/v1/orders", &w.agent).await.ok(200).clone();
    assert_eq!(before["items"][0]["total"], "45.93");
    let World {
        node,
        agent,
        customer,
        ..
    } = w;
    // Step 1: a plain restart: configuration, tokens, documents and read model are all there.
    let node = node.restart().await;
    assert_eq!(node.get("/api/v1/orders", &agent).await.ok(200), &before);
    assert_eq!(
        node.get(&format!("/api/v1/orders/{id}"), &agent)
            .await
            .ok(200)["totals"]["total"],
        "45.93"
    );
    assert_eq!(
        node.get("/api/v1/products/widget", &agent).await.ok(200)["price"],
        "19.99"
    );
    // Step 2: a new projection version forces a rebuild from the documents; order summaries
    // still carry their totals, whatever order the documents were projected in.
    let node = node.restart_with(|o| o.read_model_version += 1).await;
    assert!(node
        .state
        .storage
        .open_report()
        .rebuilt_read_model
        .is_some());
    assert_eq!(node.get("/api/v1/orders", &agent).await.ok(200), &before);
    let h = node
        .get(&format!("/api/v1/customers/{customer}/history"), &agent)
        .await;
    assert_eq!(h.ok(200)["orders"][0]["id"], id.as_str());
    // Step 3: writes go on after the restarts.
    let v = node
        .post(
            &format!("/api/v1/orders/{id}/notes"),
            &agent,
            json!({"text": "after restart"}),
        )
        .await;
    assert_eq!(v.ok(201)["notes"][0]["text"], "after restart");
}

#[tokio::test]
async fn a_site_serves_configuration_received_as_documents() {
    let w = World::new().await;
    let site = ApiNode::site();
    // Step 1: copy the configuration documents from HQ into the site's store.
    let hq_store = w.node.state.storage.store_arc();
    let docs: Vec<_> = [
        call_center_doc_id(&switchboard_domain::CallCenterId::parse("cc1").unwrap()),
        catalog_doc_id(),
    ]
    .into_iter()
    .map(|id| {
        (
            id,
            hq_store.load_doc(id).unwrap().expect("config doc at HQ"),
        )
    })
    .collect();
    site.state
        .storage
        .submit(move |ctx| {
            for (id, (meta, doc)) in docs {
                ctx.put_doc(id, meta, &doc)?;
            }
            Ok::<_, ApiError>(())
        })
        .await
        .unwrap();
    // Step 2: the HQ-issued agent token works at the site, which serves the configuration.
    let cc = site.get("/api/v1/call-centers/cc1", &w.agent).await;
    assert_eq!(cc.ok(200)["name"], "North");
    assert_eq!(
        site.get("/api/v1/products/gadget", &w.agent).await.ok(200)["price"],
        "30.00"
    );
    let node = site.get("/api/v1/node", &w.agent).await;
    assert_eq!(node.ok(200)["role"], "site");
    // Step 3: agents take orders offline at the site; configuration stays read-only there.
    let c = site
        .post("/api/v1/customers", &w.agent, json!({"name": "Walk In"}))
        .await;
    let customer = c.ok(201)["id"].as_str().unwrap().to_string();
    let o = site
        .post(
            "/api/v1/orders",
            &w.agent,
            json!({"customer_id": customer, "delivery_mode": "std"}),
        )
        .await;
    let order = o.ok(201)["id"].as_str().unwrap().to_string();
    let v = site
        .post(
            &format!("/api/v1/orders/{order}/lines"),
            &w.agent,
            json!({"product_id": "case", "quantity": 3}),
        )
        .await;
    assert_eq!(v.ok(201)["totals"]["total"], "20.95");
    site.put(
        "/api/v1/products/case",
        &site.admin,
        json!({"name": "Case", "price": "1.00"}),
    )
    .await
    .problem(403, "forbidden");
    // A token of another call center's agent is known (cc2 is not replicated here): nothing.
    site.get("/api/v1/call-centers/cc1", &w.other_agent)
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn orders_that_arrive_before_their_configuration_get_totals() {
    let w = World::new().await;
    let id = w.order().await;
    w.line(&id, "widget", 1).await;
    let site = ApiNode::site();
    let hq_store = w.node.state.storage.store_arc();
    let copy = |ids: Vec<uuid::Uuid>| {
        let docs: Vec<_> = ids
            .into_iter()
            .map(|id| (id, hq_store.load_doc(id).unwrap().expect("doc at HQ")))
            .collect();
        site.state.storage.submit(move |ctx| {
            for (id, (meta, doc)) in docs {
                ctx.put_doc(id, meta, &doc)?;
            }
            Ok::<_, ApiError>(())
        })
    };
    // Step 1: the order first (projected without its configuration), then the configuration.
    copy(vec![uuid::Uuid::parse_str(&id).unwrap()])
        .await
        .unwrap();
    let cc1 = switchboard_domain::CallCenterId::parse("cc1").unwrap();
    copy(vec![call_center_doc_id(&cc1), catalog_doc_id()])
        .await
        .unwrap();
    // The stored summary could not carry totals...
    let oid = uuid::Uuid::parse_str(&id).unwrap();
    let stored = site
        .state
        .storage
        .store()
        .get(
            switchboard_node::store::TreeId::OrderSummaries,
            oid.as_bytes(),
        )
        .unwrap()
        .expect("summary");
    let stored: serde_json::Value = serde_json::from_slice(&stored).unwrap();
    assert_eq!(stored["total"], serde_json::Value::Null);
    // Step 2: ...but lists show the totals all the same.
    let list = site.get("/api/v1/orders", &w.agent).await;
    assert_eq!(list.ok(200)["items"][0]["id"], id.as_str());
    assert_eq!(list.body["items"][0]["total"], "25.94");
    assert_eq!(
        site.get(&format!("/api/v1/orders/{id}"), &w.agent)
            .await
            .ok(200)["totals"]["total"],
        "25.94"
    );
}
