//! The warehouse against a real PostgreSQL server that each test starts for itself
//! ([`PgServer`]): migrations, the mapping of every document kind to rows, exactly-once and
//! causal replacement, positions, the reporting views and the personal-data option.

mod fixtures;

use fixtures::*;
use std::collections::BTreeSet;
use switchboard_domain::commands::OrderEvent;
use switchboard_domain::ids::*;
use switchboard_domain::order::*;
use switchboard_domain::{Decimal, NodeId};
use switchboard_warehouse::testing::PgServer;
use switchboard_warehouse::{
    ContactField, DocOutcome, DocUpdate, DocValue, Error, Options, Position, Warehouse,
};
use uuid::Uuid;

/// order_lines: id, product, quantity, unit price, amount, override reason, removed.
type LineRow = (Uuid, String, i32, Decimal, Decimal, Option<String>, bool);
/// order_holds: id, code, system, placed by, cleared by, clear reason.
type HoldRow = (Uuid, String, bool, Uuid, Option<Uuid>, Option<String>);
/// orders_per_source_code: call center, source code, catalog, orders, submitted, canceled, revenue.
type SourceRow = (
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
    Decimal,
);

fn node(n: u128) -> NodeId {
    NodeId(id(9000 + n))
}

fn pos(epoch: u128, seq: u64) -> Position {
    Position {
        epoch: id(epoch),
        seq,
    }
}

/// A server, a database on it and a warehouse connected to it.
async fn setup(options: Options) -> (PgServer, String, Warehouse) {
    let pg = PgServer::start().expect("a PostgreSQL server for the test");
    let url = pg.create_database("wh").expect("a database");
    let wh = Warehouse::connect(&url, options).await.expect("connect");
    (pg, url, wh)
}

/// The configuration documents: two call centers and the catalog.
fn config_updates() -> Vec<DocUpdate> {
    vec![
        cc_update(&call_center("east")),
        cc_update(&call_center("west")),
        catalog_update(),
    ]
}

#[tokio::test]
async fn migrations_are_idempotent_and_safe_to_run_at_once() {
    let pg = PgServer::start().expect("a PostgreSQL server for the test");
    let url = pg.create_database("wh").unwrap();
    // Two nodes migrating the same empty database at once.
    let (a, b) = tokio::join!(
        Warehouse::connect(&url, Options::default()),
        Warehouse::connect(&url, Options::default()),
    );
    a.expect("first migrator");
    b.expect("second migrator");
    // And again later.
    let c = Warehouse::connect(&url, Options::default()).await.unwrap();
    let db = client(&url).await;
    let versions: Vec<(i32, String)> = db
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        versions,
        vec![
            (1, "schema".to_string()),
            (2, "views".to_string()),
            (3, "document children without foreign keys".to_string())
        ]
    );
    let status = c.status().await.unwrap();
    assert_eq!(
        status.schema_version,
        switchboard_warehouse::schema_version()
    );
    assert_eq!(status.schema_version, 3);
    assert!(status.positions.is_empty());
    assert_eq!(status.rows.len(), switchboard_warehouse::tables().len());
    assert!(status.rows.iter().all(|(_, n)| *n == 0));
    for view in [
        "revenue_per_call_center_day",
        "open_holds",
        "open_holds_by_code_and_age",
        "payment_coverage",
        "payment_coverage_per_call_center",
        "coupon_use",
        "orders_per_source_code",
    ] {
        assert_eq!(count(&db, view).await, 0, "{view}");
    }
    // A migration edited after it was applied is refused, not silently skipped.
    db.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 2",
        &[],
    )
    .await
    .unwrap();
    let err = Warehouse::connect(&url, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::MigrationChanged { version: 2, .. }),
        "{err}"
    );
    // A database migrated by a newer build is refused.
    let newer = pg.create_database("newer").unwrap();
    Warehouse::connect(&newer, Options::default())
        .await
        .unwrap();
    client(&newer)
        .await
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (99, 'future', 'x')",
            &[],
        )
        .await
        .unwrap();
    let err = Warehouse::connect(&newer, Options::default())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 99,
                known: 3
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_full_order_and_its_configuration_map_to_the_right_rows() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let o = full_order(100);
    let doc = order_doc(&o);
    let pricing = pricing_of(&doc);
    let history = order_of(&doc).history;
    let mut docs = config_updates();
    docs.push(customer_update(&customer(500, "east")));
    docs.push(order_update(&doc));
    let applied = wh
        .apply_batch(node(1), None, pos(1, 6), docs)
        .await
        .unwrap();
    assert_eq!(applied.count(DocOutcome::Replaced), 5);
    assert_eq!(applied.position, pos(1, 6));
    let db = client(&url).await;

    // The order header, status and totals.
    let r = db
        .query_one("SELECT * FROM orders WHERE order_id = $1", &[&id(100)])
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>("call_center_id"), "east");
    assert_eq!(r.get::<_, Uuid>("customer_id"), id(500));
    assert_eq!(
        r.get::<_, Option<String>>("source_code").as_deref(),
        Some("SPRING")
    );
    assert_eq!(
        r.get::<_, Option<String>>("delivery_mode_id").as_deref(),
        Some("std")
    );
    assert_eq!(r.get::<_, String>("status"), "on_hold");
    assert_eq!(
        r.get::<_, serde_json::Value>("ship_to"),
        serde_json::json!({"street": "Main St 1", "city": "Berlin"})
    );
    assert_eq!(
        millis(r.get("submitted_at")),
        o.lifecycle.submitted.as_ref().unwrap().at.as_millis()
    );
    assert_eq!(millis(r.get("created_at")), o.created.at.as_millis());
    assert_eq!(millis(r.get("last_change_at")), o.last_stamp().as_millis());
    assert!(r
        .get::<_, Option<std::time::SystemTime>>("canceled_at")
        .is_none());
    assert!(r.get::<_, bool>("priced"));
    let t = &pricing.totals;
    for (col, want) in [
        ("subtotal", t.subtotal),
        ("discount", t.discount),
        ("charges", t.charges),
        ("total", t.total),
        ("paid", t.paid),
        ("balance", t.balance),
        ("source_discount", pricing.source_discount),
    ] {
        assert_eq!(r.get::<_, Decimal>(col), want, "{col}");
    }
    assert_eq!(t.subtotal, dec("67.00"), "the fixture prices as intended");
    assert_eq!(t.paid, dec("50.00"));

    // Lines: all three, the removed one marked, the override recorded, amounts exact.
    let lines = db
        .query(
            "SELECT line_id, product_id, quantity, unit_price, amount, override_reason_code,
                    removed_at IS NOT NULL AS removed
             FROM order_lines WHERE order_id = $1 ORDER BY line_id",
            &[&id(100)],
        )
        .await
        .unwrap();
    let lines: Vec<LineRow> = lines
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                id(101),
                "tea".into(),
                3,
                dec("9.00"),
                dec("27.00"),
                Some("match".into()),
                false
            ),
            (
                id(102),
                "pot".into(),
                1,
                dec("40.00"),
                dec("40.00"),
                None,
                false
            ),
            (
                id(103),
                "cup".into(),
                2,
                dec("4.50"),
                dec("9.00"),
                None,
                true
            ),
        ]
    );

    // Charges: the manual one, and the automatic delivery charge as priced.
    let charges: Vec<(Uuid, bool, String, Decimal, Option<String>)> = db
        .query(
            "SELECT charge_id, automatic, code, amount, reason_code FROM order_charges
             WHERE order_id = $1 ORDER BY automatic",
            &[&id(100)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let auto = pricing.auto_charge.as_ref().expect("a delivery charge");
    assert_eq!(
        charges,
        vec![
            (
                id(110),
                false,
                "gift-wrap".into(),
                dec("3.00"),
                Some("match".into())
            ),
            (
                o.auto_charge_id(&auto.delivery_mode),
                true,
                "std".into(),
                auto.amount,
                None
            ),
        ]
    );

    // Payments, one voided.
    let payments: Vec<(Uuid, String, Decimal, String, Option<Uuid>)> = db
        .query(
            "SELECT payment_id, payment_method_id, amount, status, voided_by FROM order_payments
             WHERE order_id = $1 ORDER BY payment_id",
            &[&id(100)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert_eq!(
        payments,
        vec![
            (
                id(120),
                "card".into(),
                dec("50.00"),
                "authorized".into(),
                None
            ),
            (
                id(121),
                "cash".into(),
                dec("10.00"),
                "voided".into(),
                Some(id(2))
            ),
        ]
    );

    // Holds: who placed and cleared them, and the system hold.
    let holds: Vec<HoldRow> = db
        .query(
            "SELECT hold_id, hold_code, system, placed_by, cleared_by, clear_reason
             FROM order_holds WHERE order_id = $1 ORDER BY hold_id",
            &[&id(100)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
        .collect();
    assert_eq!(
        holds,
        vec![
            (id(130), "fraud".into(), false, id(1), None, None),
            (
                id(131),
                "credit".into(),
                false,
                id(1),
                Some(id(2)),
                Some("checked".into())
            ),
            (
                id(132),
                "coupon_over_redeemed".into(),
                true,
                Uuid::nil(),
                None,
                None
            ),
        ]
    );

    // Coupons: the applied one with its discount, the removed one without.
    let coupons: Vec<(String, bool, Option<Decimal>)> = db
        .query(
            "SELECT coupon_code, removed_at IS NOT NULL, discount FROM order_coupons
             WHERE order_id = $1 ORDER BY coupon_code",
            &[&id(100)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        coupons,
        vec![
            ("PCT10".into(), true, None),
            ("SAVE5".into(), false, Some(dec("5.00"))),
        ]
    );
    assert_eq!(pricing.coupon_discounts.len(), 1);

    // Notes and history.
    let notes: Vec<String> = db
        .query(
            "SELECT text FROM order_notes WHERE order_id = $1 ORDER BY note_id",
            &[&id(100)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(notes, vec!["call back", "gift"]);
    let hist: Vec<(i32, String, Option<Uuid>)> = db
        .query(
            "SELECT seq, summary, node_id FROM order_history WHERE order_id = $1 ORDER BY seq",
            &[&id(100)],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(hist.len(), history.len());
    assert_eq!(hist[0], (1, "created order".into(), Some(id(1001))));

    // The customer with contact fields, notes and catalog requests.
    let c = db
        .query_one(
            "SELECT * FROM customers WHERE customer_id = $1",
            &[&id(500)],
        )
        .await
        .unwrap();
    assert_eq!(
        c.get::<_, Option<String>>("name").as_deref(),
        Some("Carla Customer")
    );
    assert_eq!(
        c.get::<_, Option<String>>("email").as_deref(),
        Some("carla@example.com")
    );
    assert_eq!(
        c.get::<_, Option<String>>("phone").as_deref(),
        Some("+49 30 1234567")
    );
    assert_eq!(count(&db, "customer_notes").await, 1);
    let req = db
        .query_one(
            "SELECT source_code, catalog_id, quantity FROM catalog_requests",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (
            req.get::<_, String>(0),
            req.get::<_, String>(1),
            req.get::<_, i32>(2)
        ),
        ("SPRING".into(), "spring-2026".into(), 2)
    );

    // Call centers and their configuration; users carry no secret.
    assert_eq!(count(&db, "call_centers").await, 2);
    let cc = db
        .query_one(
            "SELECT currency, payment_tolerance, financial_dimensions FROM call_centers
             WHERE call_center_id = 'east'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cc.get::<_, String>(0), "EUR");
    assert_eq!(cc.get::<_, Decimal>(1), dec("0.50"));
    assert_eq!(
        cc.get::<_, serde_json::Value>(2),
        serde_json::json!({"region": "east"})
    );
    let user_cols: Vec<String> = db
        .query(
            "SELECT column_name::text FROM information_schema.columns
             WHERE table_name = 'users' ORDER BY ordinal_position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(user_cols, vec!["call_center_id", "user_id", "name", "role"]);
    let everything = dump_all(&db).await;
    assert!(
        !format!("{everything:?}").contains("token-hash"),
        "no token hash anywhere in the warehouse"
    );
    for (table, rows) in [
        ("users", 2),
        ("payment_methods", 4),
        ("delivery_modes", 2),
        ("delivery_charge_tiers", 4),
        ("hold_codes", 4),
        ("reason_codes", 2),
        ("price_override_limits", 4),
        ("products", 3),
        ("product_suggestions", 3),
        ("price_groups", 1),
        ("prices", 1),
        ("source_codes", 1),
        ("coupons", 2),
    ] {
        assert_eq!(count(&db, table).await, rows, "{table}");
    }
    let tiers: Vec<(i32, Decimal, Option<Decimal>, Decimal)> = db
        .query(
            "SELECT tier, amount_from, amount_to, charge FROM delivery_charge_tiers
             WHERE call_center_id = 'east' ORDER BY tier",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        tiers,
        vec![
            (1, dec("0"), Some(dec("50")), dec("4.95")),
            (2, dec("50"), None, dec("2.00")),
        ]
    );
    let roles: Vec<String> = db
        .query_one(
            "SELECT clear_roles FROM hold_codes WHERE call_center_id = 'east' AND hold_code = 'credit'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(roles, vec!["agent", "supervisor"]);
    let suggestions: Vec<(String, i32, String)> = db
        .query(
            "SELECT kind, position, suggested_product_id FROM product_suggestions
             WHERE product_id = 'tea' ORDER BY kind, position",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        suggestions,
        vec![
            ("cross_sell".into(), 1, "cup".into()),
            ("cross_sell".into(), 2, "pot".into()),
            ("upsell".into(), 1, "pot".into()),
        ]
    );

    // Documents and their versions.
    let kinds: Vec<(String, i64)> = wh.status().await.unwrap().documents;
    assert_eq!(
        kinds,
        vec![
            ("call_center".into(), 2),
            ("catalog".into(), 1),
            ("customer".into(), 1),
            ("order".into(), 1),
        ]
    );
    let heads: Vec<String> = db
        .query_one("SELECT heads FROM documents WHERE doc_id = $1", &[&id(100)])
        .await
        .unwrap()
        .get(0);
    assert_eq!(heads, switchboard_warehouse::heads_hex(&doc.get_heads()));
}

#[tokio::test]
async fn replaying_a_batch_changes_nothing() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let db = client(&url).await;
    let doc = order_doc(&full_order(100));
    let cust = customer(500, "east");
    let batch = || {
        let mut d = config_updates();
        d.push(customer_update(&cust));
        d.push(order_update(&doc));
        d
    };
    wh.apply_batch(node(1), None, pos(1, 5), batch())
        .await
        .unwrap();
    let before = dump_all(&db).await;

    // The same batch again, as a follower whose commit acknowledgement was lost would send it:
    // refused whole, nothing written.
    let err = wh
        .apply_batch(node(1), None, pos(1, 5), batch())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PositionMoved { stored: Some(p), .. } if p == pos(1, 5)),
        "{err}"
    );
    assert_eq!(dump_all(&db).await, before);

    // The same documents in a later batch (the feed listed them again): every one unchanged.
    let applied = wh
        .apply_batch(node(1), Some(pos(1, 5)), pos(1, 9), batch())
        .await
        .unwrap();
    assert_eq!(applied.count(DocOutcome::Unchanged), 5);
    let mut after = dump_all(&db).await;
    assert_eq!(
        after.remove("feed_positions").unwrap()[0],
        format!(
            r#"{{"seq": 9, "node_id": "{}", "feed_epoch": "{}"}}"#,
            node(1),
            id(1)
        )
    );
    let mut before = before;
    before.remove("feed_positions");
    assert_eq!(after, before);

    // A document listed twice in one batch is applied once.
    let applied = wh
        .apply_batch(
            node(1),
            Some(pos(1, 9)),
            pos(1, 10),
            vec![order_update(&doc), order_update(&doc)],
        )
        .await
        .unwrap();
    assert_eq!(applied.outcomes, vec![(id(100), DocOutcome::Unchanged)]);
}

#[tokio::test]
async fn older_and_concurrent_versions_are_skipped_and_newer_ones_replace_the_rows() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let db = client(&url).await;
    let o = full_order(100);
    let v1 = order_doc(&o);

    // v2: on node 1, the pot line removed, a payment added, the fraud hold cleared.
    let mut v2 = v1.fork();
    let t = ts("2026-03-03T09:00:00Z");
    write(
        &mut v2,
        1,
        OrderEvent::LineRemoved {
            line_id: LineId(id(102)),
            stamp: stamp(1, t),
        },
    );
    write(
        &mut v2,
        1,
        OrderEvent::PaymentAdded(payment(150, "card", "9.99", t)),
    );
    write(
        &mut v2,
        1,
        OrderEvent::HoldCleared {
            id: HoldId(id(130)),
            clear: HoldClear {
                by: user(2),
                at: t,
                reason: "ok".into(),
            },
        },
    );
    let a = wh
        .apply_batch(node(1), None, pos(1, 1), vec![order_update(&v2)])
        .await
        .unwrap();
    assert_eq!(a.outcomes, vec![(id(100), DocOutcome::Replaced)]);
    let at_v2 = dump_all(&db).await;
    assert_eq!(count(&db, "order_payments").await, 3);

    // v1 (older: it lacks v2's changes) from another node: skipped.
    let a = wh
        .apply_batch(node(2), None, pos(2, 1), vec![order_update(&v1)])
        .await
        .unwrap();
    assert_eq!(a.outcomes, vec![(id(100), DocOutcome::Stale)]);
    // A version concurrent with v2 (node 2 added a note to v1): skipped too.
    let mut concurrent = v1.fork();
    concurrent.set_actor(automerge::ActorId::from(vec![2u8; 16]));
    let note = Note {
        id: NoteId(id(160)),
        added: stamp(2, t),
        text: "from node 2".into(),
    };
    write(&mut concurrent, 2, OrderEvent::NoteAdded(note));
    let a = wh
        .apply_batch(
            node(2),
            Some(pos(2, 1)),
            pos(2, 2),
            vec![order_update(&concurrent)],
        )
        .await
        .unwrap();
    assert_eq!(a.outcomes, vec![(id(100), DocOutcome::Stale)]);
    let mut now = dump_all(&db).await;
    let mut expected = at_v2.clone();
    // Only the positions moved.
    now.remove("feed_positions");
    expected.remove("feed_positions");
    assert_eq!(now, expected);

    // Node 2 merges v2: its version contains both, and replaces the rows.
    let mut merged = concurrent.fork();
    merged.merge(&mut v2.clone()).unwrap();
    let a = wh
        .apply_batch(
            node(2),
            Some(pos(2, 2)),
            pos(2, 3),
            vec![order_update(&merged)],
        )
        .await
        .unwrap();
    assert_eq!(a.outcomes, vec![(id(100), DocOutcome::Replaced)]);
    let notes = count(&db, "order_notes").await;
    assert_eq!(notes, 3, "node 2's note arrived");
    let removed: bool = db
        .query_one(
            "SELECT removed_at IS NOT NULL FROM order_lines WHERE line_id = $1",
            &[&id(102)],
        )
        .await
        .unwrap()
        .get(0);
    assert!(removed, "node 1's removal kept");
    let open: i64 = count(&db, "order_holds WHERE cleared_at IS NULL AND NOT system").await;
    assert_eq!(open, 0, "node 1's clear kept");
    let heads: Vec<String> = db
        .query_one("SELECT heads FROM documents WHERE doc_id = $1", &[&id(100)])
        .await
        .unwrap()
        .get(0);
    assert_eq!(heads, switchboard_warehouse::heads_hex(&merged.get_heads()));
    // The history has every change of both nodes.
    assert_eq!(
        count(&db, "order_history").await,
        order_of(&merged).history.len() as i64
    );
    // Node 1 later sends v2 again (it had not merged yet): skipped, the merge stays.
    let a = wh
        .apply_batch(node(1), Some(pos(1, 1)), pos(1, 2), vec![order_update(&v2)])
        .await
        .unwrap();
    assert_eq!(a.outcomes, vec![(id(100), DocOutcome::Stale)]);
    assert_eq!(count(&db, "order_notes").await, 3);
}

#[tokio::test]
async fn a_newer_version_replaces_the_rows_as_a_whole() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let db = client(&url).await;
    let o = full_order(100);
    let doc = order_doc(&o);
    wh.apply_batch(node(1), None, pos(1, 1), vec![order_update(&doc)])
        .await
        .unwrap();
    assert_eq!(count(&db, "order_lines").await, 3);

    // A version with one line, no payments, holds, coupons or notes, a changed header and no
    // pricing, which the caller says contains the stored one: every old row goes.
    let mut slim = o.clone();
    slim.lines.retain(|id, _| id.0 == fixtures::id(101));
    slim.lines.get_mut(&LineId(id(101))).unwrap().quantity =
        switchboard_domain::Quantity::new(7).unwrap();
    slim.payments.clear();
    slim.holds.clear();
    slim.coupons.clear();
    slim.notes.clear();
    slim.charges.clear();
    slim.delivery_mode = None;
    let value = DocValue::Order(Box::new(switchboard_warehouse::OrderDoc {
        order: slim,
        pricing: None,
        history: vec![],
    }));
    let stored = switchboard_warehouse::heads_hex(&doc.get_heads());
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let update = DocUpdate::new(id(100), vec!["ab".repeat(32)], value, move |held| {
        seen.lock().unwrap().extend_from_slice(held);
        true
    });
    let a = wh
        .apply_batch(node(1), Some(pos(1, 1)), pos(1, 2), vec![update])
        .await
        .unwrap();
    assert_eq!(a.outcomes, vec![(id(100), DocOutcome::Replaced)]);
    assert_eq!(
        *asked.lock().unwrap(),
        stored,
        "asked about the stored heads"
    );
    let lines: Vec<(Uuid, i32)> = db
        .query("SELECT line_id, quantity FROM order_lines", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(lines, vec![(id(101), 7)]);
    for table in [
        "order_payments",
        "order_holds",
        "order_coupons",
        "order_notes",
        "order_charges",
        "order_history",
    ] {
        assert_eq!(count(&db, table).await, 0, "{table}");
    }
    let r = db
        .query_one(
            "SELECT priced, total, delivery_mode_id, status FROM orders",
            &[],
        )
        .await
        .unwrap();
    assert!(!r.get::<_, bool>(0));
    assert_eq!(r.get::<_, Option<Decimal>>(1), None);
    assert_eq!(r.get::<_, Option<String>>(2), None);
    assert_eq!(r.get::<_, String>(3), "submitted", "no hold left");
    let heads: Vec<String> = db
        .query_one("SELECT heads FROM documents", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(heads, vec!["ab".repeat(32)]);
}

#[tokio::test]
async fn the_position_is_stored_with_the_rows_and_resumed() {
    let (pg, url, wh) = setup(Options::default()).await;
    let db = client(&url).await;
    let n = node(1);
    assert_eq!(wh.position(n).await.unwrap(), None);
    wh.apply_batch(n, None, pos(1, 3), config_updates())
        .await
        .unwrap();
    assert_eq!(wh.position(n).await.unwrap(), Some(pos(1, 3)));

    // A restart (a new warehouse on the same database) resumes from the stored position.
    drop(wh);
    let wh = Warehouse::connect(&url, Options::default()).await.unwrap();
    assert_eq!(wh.position(n).await.unwrap(), Some(pos(1, 3)));
    assert_eq!(wh.status().await.unwrap().position(n), Some(pos(1, 3)));

    // A batch that fails part-way leaves neither rows nor position: the second document claims
    // the id of a stored call center document as an order.
    let o = order(200, "east", 500, ts("2026-03-04T10:00:00Z"));
    let doc = order_doc(&o);
    let first = DocUpdate::from_doc(id(200), doc.clone(), order_value(&doc));
    let cc_doc = switchboard_sync::doc::call_center_doc_id(&CallCenterId::parse("east").unwrap());
    let mut clash = order(0, "east", 500, ts("2026-03-04T10:00:00Z"));
    clash.id = OrderId(cc_doc);
    let clash_doc = order_doc(&clash);
    let clash_update = DocUpdate::from_doc(cc_doc, clash_doc.clone(), order_value(&clash_doc));
    let err = wh
        .apply_batch(n, Some(pos(1, 3)), pos(1, 5), vec![first, clash_update])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }), "{err}");
    assert_eq!(wh.position(n).await.unwrap(), Some(pos(1, 3)));
    assert_eq!(count(&db, "orders").await, 0);
    assert_eq!(count(&db, "documents WHERE kind = 'order'").await, 0);

    // A value that is not the document's is refused before anything is written.
    let wrong = DocUpdate::from_doc(id(999), doc.clone(), order_value(&doc));
    let err = wh
        .apply_batch(n, Some(pos(1, 3)), pos(1, 5), vec![wrong])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Mismatch { .. }), "{err}");

    // Backwards within an epoch is refused; a new epoch (node restored from a backup) starts
    // wherever it starts.
    let err = wh
        .apply_batch(n, Some(pos(1, 3)), pos(1, 2), vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PositionBackwards { .. }), "{err}");
    let err = wh
        .apply_batch(n, Some(pos(1, 3)), pos(1, u64::MAX), vec![])
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SeqOutOfRange { .. }), "{err}");
    wh.apply_batch(n, Some(pos(1, 3)), pos(2, 1), vec![order_update(&doc)])
        .await
        .unwrap();
    assert_eq!(wh.position(n).await.unwrap(), Some(pos(2, 1)));
    assert_eq!(count(&db, "orders").await, 1);

    // PostgreSQL crashes: the batch fails, nothing changes; back up (after crash recovery): the
    // same batch applies.
    pg.kill().unwrap();
    let o3 = order(300, "east", 500, ts("2026-03-04T11:00:00Z"));
    let d3 = order_doc(&o3);
    let err = wh
        .apply_batch(n, Some(pos(2, 1)), pos(2, 2), vec![order_update(&d3)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Connect { .. } | Error::Postgres(_)),
        "{err}"
    );
    pg.start_again().unwrap();
    wh.apply_batch(n, Some(pos(2, 1)), pos(2, 2), vec![order_update(&d3)])
        .await
        .unwrap();
    let db = client(&url).await;
    assert_eq!(count(&db, "orders").await, 2);
    assert_eq!(wh.position(n).await.unwrap(), Some(pos(2, 2)));

    // Positions are per node.
    assert_eq!(wh.position(node(2)).await.unwrap(), None);

    // A reset empties everything; the follower learns it from its next batch.
    wh.reset().await.unwrap();
    let err = wh
        .apply_batch(n, Some(pos(2, 2)), pos(2, 3), vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::PositionMoved { stored: None, .. }),
        "{err}"
    );
    let status = wh.status().await.unwrap();
    assert!(status.positions.is_empty());
    assert!(status.documents.is_empty());
    assert!(status.rows.iter().all(|(_, n)| *n == 0));
    assert_eq!(status.schema_version, 3);
}

#[tokio::test]
async fn two_nodes_feeding_at_once_end_with_the_merged_versions() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let db = client(&url).await;
    // Twenty orders; node 1 holds its own versions, node 2 additionally merged a note from
    // node 2 into each (its versions contain node 1's).
    let mut mine = Vec::new();
    let mut merged = Vec::new();
    for k in 0..20u128 {
        let o = order(1000 + k * 10, "east", 500, ts("2026-03-05T10:00:00Z"));
        let mut d1 = order_doc(&o);
        write(
            &mut d1,
            1,
            OrderEvent::LineAdded(line(
                1000 + k * 10 + 1,
                "tea",
                1,
                "9.50",
                ts("2026-03-05T10:01:00Z"),
            )),
        );
        let mut d2 = d1.fork();
        d2.set_actor(automerge::ActorId::from(vec![2u8; 16]));
        let note = Note {
            id: NoteId(id(1000 + k * 10 + 2)),
            added: stamp(2, ts("2026-03-05T10:02:00Z")),
            text: "merged".into(),
        };
        write(&mut d2, 2, OrderEvent::NoteAdded(note));
        mine.push(d1);
        merged.push(d2);
    }
    let feed = |docs: &Vec<automerge::Automerge>, n: NodeId, rev: bool| {
        let wh = wh.clone();
        let mut docs = docs.clone();
        if rev {
            docs.reverse();
        }
        tokio::spawn(async move {
            let mut at = None;
            for (i, chunk) in docs.chunks(3).enumerate() {
                let to = pos(n.0.as_u128(), i as u64 + 1);
                let batch = chunk.iter().map(order_update).collect();
                wh.apply_batch(n, at, to, batch).await.unwrap();
                at = Some(to);
            }
        })
    };
    let (a, b) = tokio::join!(feed(&mine, node(1), false), feed(&merged, node(2), true));
    a.unwrap();
    b.unwrap();
    assert_eq!(count(&db, "orders").await, 20);
    assert_eq!(count(&db, "order_lines").await, 20);
    assert_eq!(
        count(&db, "order_notes").await,
        20,
        "every merged version won"
    );
    for d in &merged {
        let id: Uuid = order_of(d).order.id.0;
        let heads: Vec<String> = db
            .query_one("SELECT heads FROM documents WHERE doc_id = $1", &[&id])
            .await
            .unwrap()
            .get(0);
        assert_eq!(heads, switchboard_warehouse::heads_hex(&d.get_heads()));
    }
}

#[tokio::test]
async fn the_reporting_views_answer_from_the_orders() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let db = client(&url).await;
    let day1 = "2026-03-02";
    let day2 = "2026-03-03";
    let at = |day: &str, h: u32| ts(&format!("{day}T{h:02}:00:00Z"));
    let mut docs = Vec::new();
    let mut orders = Vec::new();
    // east: two submitted orders on day 1 (one paid in full, one partly), one on day 2 with a
    // coupon, one canceled on day 2, one still open; west: one submitted on day 1 without a
    // source code.
    let mk = |n: u128, cc: &str, day: &str, qty: i64, source: bool| {
        let mut o = order(n, cc, 500, at(day, 9));
        o.delivery_mode = Some(DeliveryModeId::parse("std").unwrap());
        if source {
            o.source_code = Some(SourceCode::parse("SPRING").unwrap());
        }
        let l = line(n + 1, "tea", qty, "10.00", at(day, 9));
        o.lines.insert(l.id, l);
        o
    };
    let mut a = mk(100, "east", day1, 5, true);
    a.lifecycle.submitted = Some(stamp(1, at(day1, 10)));
    let mut b = mk(200, "east", day1, 2, true);
    b.lifecycle.submitted = Some(stamp(1, at(day1, 11)));
    let mut c = mk(300, "east", day2, 4, false);
    c.coupons.insert(
        CouponCode::parse("SAVE5").unwrap(),
        CouponUse {
            code: CouponCode::parse("SAVE5").unwrap(),
            applied: stamp(1, at(day2, 9)),
            removed: None,
        },
    );
    c.lifecycle.submitted = Some(stamp(1, at(day2, 10)));
    let mut d = mk(400, "east", day2, 9, true);
    d.lifecycle.submitted = Some(stamp(1, at(day2, 10)));
    d.coupons.insert(
        CouponCode::parse("SAVE5").unwrap(),
        CouponUse {
            code: CouponCode::parse("SAVE5").unwrap(),
            applied: stamp(1, at(day2, 9)),
            removed: None,
        },
    );
    d.lifecycle.canceled = Some((stamp(2, at(day2, 12)), "customer changed mind".into()));
    let e = mk(500, "east", day2, 1, true);
    let mut w = mk(600, "west", day1, 3, false);
    w.lifecycle.submitted = Some(stamp(1, at(day1, 15)));

    // Payments: a in full, b half, c nothing; holds of different ages on b and c and w.
    let prices: Vec<Pricing> = [&a, &b]
        .iter()
        .map(|o| o.pricing(&call_center("east"), &catalog()))
        .collect();
    let pa = payment(
        150,
        "card",
        &prices[0].totals.total.to_string(),
        at(day1, 10),
    );
    a.payments.insert(pa.id, pa);
    let pb = payment(250, "card", "10.00", at(day1, 11));
    b.payments.insert(pb.id, pb);
    let h_new = hold(260, "fraud", hours_ago(0));
    let h_day = hold(360, "fraud", hours_ago(30));
    let h_old = hold(361, "credit", hours_ago(24 * 10));
    let mut h_cleared = hold(660, "credit", hours_ago(2));
    h_cleared.cleared = Some(HoldClear {
        by: user(2),
        at: hours_ago(1),
        reason: "fine".into(),
    });
    b.holds.insert(h_new.id, h_new);
    c.holds.insert(h_day.id, h_day);
    c.holds.insert(h_old.id, h_old);
    w.holds.insert(h_cleared.id, h_cleared);
    let h_canceled = hold(460, "fraud", hours_ago(3));
    d.holds.insert(h_canceled.id, h_canceled);
    for o in [&a, &b, &c, &d, &e, &w] {
        let doc = order_doc(o);
        orders.push(order_of(&doc));
        docs.push(order_update(&doc));
    }
    docs.extend(config_updates());
    wh.apply_batch(node(1), None, pos(1, 9), docs)
        .await
        .unwrap();

    // Revenue per call center per day: what the submitted, non-canceled orders total.
    let revenue: Vec<(String, String, i64, Decimal, Decimal)> = db
        .query(
            "SELECT call_center_id, day::text, orders, revenue, paid
             FROM revenue_per_call_center_day ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let mut expected =
        std::collections::BTreeMap::<(String, String), (i64, Decimal, Decimal)>::new();
    for od in &orders {
        let o = &od.order;
        let (Some(s), None) = (&o.lifecycle.submitted, &o.lifecycle.canceled) else {
            continue;
        };
        let t = &od.pricing.as_ref().unwrap().totals;
        let day = s.at.to_rfc3339()[..10].to_string();
        let e = expected
            .entry((o.call_center_id.to_string(), day))
            .or_insert((0, Decimal::ZERO, Decimal::ZERO));
        e.0 += 1;
        e.1 += t.total;
        e.2 += t.paid;
    }
    let expected: Vec<_> = expected
        .into_iter()
        .map(|((cc, day), (n, total, paid))| (cc, day, n, total, paid))
        .collect();
    assert_eq!(revenue, expected);
    assert_eq!(revenue.len(), 3, "east day 1, east day 2, west day 1");
    assert_eq!(revenue[0].2, 2);

    // Open holds by age and code: the canceled order's and the cleared hold are not open.
    let holds: Vec<(String, String, String, i64)> = db
        .query(
            "SELECT call_center_id, hold_code, age_bucket, holds
             FROM open_holds_by_code_and_age ORDER BY call_center_id, hold_code, age_rank",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        holds,
        vec![
            ("east".into(), "credit".into(), "over 7 days".into(), 1),
            ("east".into(), "fraud".into(), "under 1 hour".into(), 1),
            ("east".into(), "fraud".into(), "1 to 7 days".into(), 1),
        ]
    );

    // Payment coverage per order.
    let coverage: Vec<(Uuid, Decimal, Decimal, bool)> = db
        .query(
            "SELECT order_id, paid, balance, covered FROM payment_coverage ORDER BY order_id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let tol = call_center("east").payment_tolerance;
    let expected: Vec<(Uuid, Decimal, Decimal, bool)> = orders
        .iter()
        .filter(|od| od.order.lifecycle.canceled.is_none())
        .map(|od| {
            let t = &od.pricing.as_ref().unwrap().totals;
            (od.order.id.0, t.paid, t.balance, t.balance <= tol)
        })
        .collect();
    assert_eq!(coverage, expected);
    assert!(coverage[0].3, "order a is paid in full");
    assert!(!coverage[1].3, "order b is not");

    // Coupon use: SAVE5 on c only (d is canceled); PCT10 unused.
    let coupons: Vec<(String, i64, Decimal, Option<i64>)> = db
        .query(
            "SELECT coupon_code, orders, discount, uses_left FROM coupon_use ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let c_discount = orders[2].pricing.as_ref().unwrap().coupon_discounts[0].discount;
    assert_eq!(
        coupons,
        vec![
            ("PCT10".into(), 0, Decimal::ZERO, None),
            ("SAVE5".into(), 1, c_discount, Some(99)),
        ]
    );

    // Orders per source code.
    let per_source: Vec<SourceRow> = db
        .query(
            "SELECT call_center_id, source_code, catalog_id, orders, submitted_orders,
                    canceled_orders, revenue
             FROM orders_per_source_code ORDER BY 1, 2",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get(2),
                r.get(3),
                r.get(4),
                r.get(5),
                r.get(6),
            )
        })
        .collect();
    let total = |i: usize| orders[i].pricing.as_ref().unwrap().totals.total;
    assert_eq!(
        per_source,
        vec![
            (
                "east".into(),
                Some("SPRING".into()),
                Some("spring-2026".into()),
                4,
                2,
                1,
                total(0) + total(1)
            ),
            ("east".into(), None, None, 1, 1, 0, total(2)),
            ("west".into(), None, None, 1, 1, 0, total(5)),
        ]
    );
}

#[tokio::test]
async fn contact_fields_left_out_stay_null() {
    let (_pg, url, wh) = setup(Options::without_contact_fields()).await;
    let db = client(&url).await;
    let doc = order_doc(&full_order(100));
    wh.apply_batch(
        node(1),
        None,
        pos(1, 2),
        vec![customer_update(&customer(500, "east")), order_update(&doc)],
    )
    .await
    .unwrap();
    let r = db
        .query_one(
            "SELECT name, phone, email, address::text, call_center_id FROM customers",
            &[],
        )
        .await
        .unwrap();
    for i in 0..4 {
        assert_eq!(r.get::<_, Option<String>>(i), None, "column {i}");
    }
    assert_eq!(r.get::<_, String>(4), "east");
    assert_eq!(count(&db, "customer_notes").await, 1);
    assert_eq!(count(&db, "catalog_requests").await, 1);
    let ship_to: Option<serde_json::Value> = db
        .query_one("SELECT ship_to FROM orders", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(ship_to, None);
    assert_eq!(
        count(&db, "order_lines").await,
        3,
        "the rest of the order is there"
    );

    // A column list: only the email left out.
    let url2 = _pg.create_database("partial").unwrap();
    let options = Options {
        contact_fields: ContactField::ALL
            .into_iter()
            .filter(|f| *f != ContactField::Email)
            .collect::<BTreeSet<_>>(),
        ..Options::default()
    };
    let wh2 = Warehouse::connect(&url2, options).await.unwrap();
    wh2.apply_batch(
        node(1),
        None,
        pos(1, 1),
        vec![customer_update(&customer(500, "east"))],
    )
    .await
    .unwrap();
    let r = client(&url2)
        .await
        .query_one("SELECT name, phone, email FROM customers", &[])
        .await
        .unwrap();
    assert_eq!(
        r.get::<_, Option<String>>(0).as_deref(),
        Some("Carla Customer")
    );
    assert_eq!(
        r.get::<_, Option<String>>(1).as_deref(),
        Some("+49 30 1234567")
    );
    assert_eq!(r.get::<_, Option<String>>(2), None);
    assert_eq!(ContactField::parse("ship_to"), Some(ContactField::ShipTo));
    assert_eq!(ContactField::parse("fax"), None);
}

#[tokio::test]
async fn a_bad_url_or_an_unreachable_server_is_a_clear_error() {
    let err = Warehouse::connect(
        "postgres://u:secret@127.0.0.1:notaport/db",
        Options::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Url(_)), "{err}");
    assert!(!err.to_string().contains("secret"));
    // A port nothing listens on (a stopped server's).
    let pg = PgServer::start().unwrap();
    let url = pg.url("postgres").replace("postgres@", "postgres:secret@");
    pg.stop().unwrap();
    let options = Options {
        connect_timeout: std::time::Duration::from_secs(2),
        ..Options::default()
    };
    let err = Warehouse::connect(&url, options).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{}/postgres", pg.port())),
        "{msg}"
    );
    assert!(!msg.contains("secret"), "{msg}");
    // It names the real reason, not only "error connecting to server".
    assert!(msg.to_lowercase().contains("refused"), "{msg}");
}

#[tokio::test]
async fn text_postgresql_cannot_hold_does_not_block_the_feed() {
    let (_pg, url, wh) = setup(Options::default()).await;
    let mut c = customer(500, "east");
    c.name = "Nul\0Name".into();
    c.address.insert("odd\0key".into(), "v\0".into());
    let mut o = order(100, "east", 500, ts("2026-03-02T10:00:00Z"));
    let note = Note {
        id: NoteId(id(101)),
        added: stamp(1, ts("2026-03-02T10:01:00Z")),
        text: "a\0b".into(),
    };
    o.notes.insert(note.id, note);
    let doc = order_doc(&o);
    wh.apply_batch(
        node(1),
        None,
        pos(1, 1),
        vec![customer_update(&c), order_update(&doc)],
    )
    .await
    .unwrap();
    let db = client(&url).await;
    let r = db
        .query_one("SELECT name, address FROM customers", &[])
        .await
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "Nul\u{FFFD}Name");
    assert_eq!(
        r.get::<_, serde_json::Value>(1),
        serde_json::json!({"city": "Berlin", "odd\u{FFFD}key": "v\u{FFFD}"})
    );
    let text: String = db
        .query_one("SELECT text FROM order_notes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(text, "a\u{FFFD}b");
}
