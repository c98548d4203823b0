//! The continuity scheduler on a real node store: child orders appear when they fall due, once.

use serde_json::json;
use switchboard_domain::continuity::child_id;
use switchboard_domain::{LineId, OrderId};
use switchboard_node::scheduler::generate_due;
use switchboard_tests::api_harness::World;

#[tokio::test]
async fn continuity_children_are_generated_when_due_and_never_twice() {
    // Step 1: a continuity product (every 30 days, 3 times) on a paid, submitted order.
    let w = World::new().await;
    let admin = w.node.admin.clone();
    w.node
        .put(
            "/api/v1/products/coffee-club",
            &admin,
            json!({"name": "Coffee club", "price": "12.00", "allow_price_override": false,
                   "continuity": {"every_days": 30, "times": 3}}),
        )
        .await
        .ok(200);
    let order = w.order().await;
    let view = w.line(&order, "coffee-club", 2).await;
    let line: LineId = view["lines"][0]["id"].as_str().unwrap().parse().unwrap();
    w.pay_all(&order).await;
    w.node
        .post(
            &format!("/api/v1/orders/{order}/submit"),
            &w.agent,
            json!({}),
        )
        .await
        .ok(200);
    let parent: OrderId = order.parse().unwrap();
    // Step 2: nothing is due yet.
    assert_eq!(generate_due(&w.node.state).await.unwrap(), 0);
    // Step 3: 31 days later the first child is due; a second run creates nothing more.
    w.node.set_now("2026-12-29T12:00:00Z");
    assert_eq!(generate_due(&w.node.state).await.unwrap(), 1);
    assert_eq!(generate_due(&w.node.state).await.unwrap(), 0);
    let first = child_id(parent, line, 1);
    let child = w
        .node
        .get(&format!("/api/v1/orders/{first}"), &w.agent)
        .await
        .ok(200)
        .clone();
    assert_eq!(child["status"], "open");
    assert_eq!(child["customer_id"], view["customer_id"]);
    assert_eq!(child["lines"][0]["product_id"], "coffee-club");
    assert_eq!(child["lines"][0]["quantity"], 2);
    assert_eq!(child["lines"][0]["unit_price"], "12.00");
    // Step 4: past the end of the program, the remaining two appear and no more.
    w.node.set_now("2027-06-01T00:00:00Z");
    assert_eq!(generate_due(&w.node.state).await.unwrap(), 2);
    assert_eq!(generate_due(&w.node.state).await.unwrap(), 0);
    for i in 2..=3 {
        let id = child_id(parent, line, i);
        w.node
            .get(&format!("/api/v1/orders/{id}"), &w.agent)
            .await
            .ok(200);
    }
    // Step 5: a canceled parent's program stops (a fresh order, canceled before it is due).
    let other = w.order().await;
    w.line(&other, "coffee-club", 1).await;
    w.pay_all(&other).await;
    w.node
        .post(
            &format!("/api/v1/orders/{other}/submit"),
            &w.agent,
            json!({}),
        )
        .await
        .ok(200);
    w.node
        .post(
            &format!("/api/v1/orders/{other}/cancel"),
            &w.supervisor,
            json!({"reason": "customer moved"}),
        )
        .await
        .ok(200);
    w.node.set_now("2028-01-01T00:00:00Z");
    assert_eq!(generate_due(&w.node.state).await.unwrap(), 0);
}
