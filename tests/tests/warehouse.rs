//! The node feeding its PostgreSQL warehouse, end to end: real nodes (in this process, or
//! `switchboard serve` processes for the SIGKILL), a real PostgreSQL server that each test starts
//! for itself on a temporary directory and a free port (`PgServer`), and the warehouse's rows
//! compared with the node's own answers (its export: every order view and customer) row by row.
//!
//! Scenarios: backfill of an existing store; live writes, merges from a site, and a concurrent
//! edit merged at HQ; PostgreSQL down at start and mid-way (writes never wait, the follower lags
//! and catches up); SIGKILL of the node mid-feed; two HQ nodes that sync with each other feeding
//! one database; the personal-data option; status and rebuild.

use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::str::FromStr as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use switchboard_sync::protocol::Role;
use switchboard_tests::api_harness::call_center_body;
use switchboard_tests::{cluster, nodes};
use switchboard_warehouse::testing::PgServer;
use tokio_postgres::{Client, NoTls};

/// How long the warehouse may take to catch up: a backoff (at most 15 s) plus the feeding.
const CATCH_UP_SECS: u64 = 90;

// ---------------------------------------------------------------------------------------------
// Talking to nodes of either kind.

/// A node the tests talk to over HTTP: in this process or a separate process.
trait Api {
    /// One request with a bearer token: status and JSON body.
    async fn req(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value);
}

impl Api for nodes::Node {
    async fn req(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.call(method, path, token, body).await;
        (r.status.as_u16(), r.body)
    }
}

impl Api for cluster::Node {
    async fn req(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let r = self.call(method, path, Some(token), body).await;
        (r.status, r.body)
    }
}

/// A request that must succeed (any 2xx); its body.
async fn ok(n: &impl Api, method: Method, path: &str, token: &str, body: Value) -> Value {
    let body = (method != Method::GET && method != Method::DELETE).then_some(body);
    let (status, answer) = n.req(method.clone(), path, token, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

async fn get(n: &impl Api, path: &str, token: &str) -> Value {
    ok(n, Method::GET, path, token, Value::Null).await
}

async fn post(n: &impl Api, path: &str, token: &str, body: Value) -> Value {
    ok(n, Method::POST, path, token, body).await
}

// ---------------------------------------------------------------------------------------------
// A shop: configuration and realistic orders.

/// The tokens of the users the tests work as.
struct Shop {
    agent: String,
    supervisor: String,
    other_agent: String,
}

/// Configuration at HQ: call centers `cc1` and `cc2`, three products, a source code and a
/// coupon; an agent and a supervisor of cc1, an agent of cc2.
async fn configure(hq: &impl Api, admin: &str) -> Shop {
    for cc in ["cc1", "cc2"] {
        ok(
            hq,
            Method::PUT,
            &format!("/api/v1/call-centers/{cc}"),
            admin,
            call_center_body(cc),
        )
        .await;
    }
    for (id, price, over) in [
        ("widget", "19.99", true),
        ("gadget", "30.00", true),
        ("case", "5.00", false),
    ] {
        ok(
            hq,
            Method::PUT,
            &format!("/api/v1/products/{id}"),
            admin,
            json!({"name": id, "price": price, "allow_price_override": over}),
        )
        .await;
    }
    ok(
        hq,
        Method::PUT,
        "/api/v1/source-codes/FALL",
        admin,
        json!({"catalog": "fall-catalog", "valid_from": null, "valid_to": null,
               "discount_percent": "10", "free_shipping": false, "script": null}),
    )
    .await;
    ok(
        hq,
        Method::PUT,
        "/api/v1/coupons/SAVE5",
        admin,
        json!({"kind": "amount", "value": "5.00", "min_order": "10.00", "max_uses": null}),
    )
    .await;
    let user = |cc: &'static str, name: &'static str, role: &'static str| async move {
        post(
            hq,
            &format!("/api/v1/call-centers/{cc}/users"),
            admin,
            json!({"name": name, "role": role}),
        )
        .await["token"]
            .as_str()
            .expect("token")
            .to_string()
    };
    Shop {
        agent: user("cc1", "Ann", "agent").await,
        supervisor: user("cc1", "Sue", "supervisor").await,
        other_agent: user("cc2", "Olga", "agent").await,
    }
}

/// A customer with an address; every third one also gets a note and a catalog request.
async fn customer(n: &impl Api, token: &str, i: usize) -> String {
    let c = post(
        n,
        "/api/v1/customers",
        token,
        json!({"name": format!("Customer {i}"), "phone": format!("+1 555 {:04}", i % 10_000),
               "email": format!("c{i}@example.com"),
               "address": {"street": format!("{i} Main St"), "city": "Springfield"}}),
    )
    .await["id"]
        .as_str()
        .expect("customer id")
        .to_string();
    if i.is_multiple_of(3) {
        post(
            n,
            &format!("/api/v1/customers/{c}/notes"),
            token,
            json!({"text": format!("prefers email ({i})")}),
        )
        .await;
        post(
            n,
            &format!("/api/v1/customers/{c}/catalog-requests"),
            token,
            json!({"source_code": "FALL", "quantity": 2}),
        )
        .await;
    }
    c
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().expect("a decimal string")).expect("a decimal")
}

/// Pays an order's balance in two payments (card, then cash); returns the view.
async fn pay_in_two(n: &impl Api, token: &str, order: &str) -> Value {
    let view = get(n, &format!("/api/v1/orders/{order}"), token).await;
    let balance = dec(&view["totals"]["balance"]);
    let first = (balance / Decimal::TWO).round_dp(2);
    post(
        n,
        &format!("/api/v1/orders/{order}/payments"),
        token,
        json!({"method": "card", "amount": first.to_string(), "reference": format!("auth-{order}")}),
    )
    .await;
    post(
        n,
        &format!("/api/v1/orders/{order}/payments"),
        token,
        json!({"method": "cash", "amount": (balance - first).to_string(), "reference": null}),
    )
    .await
}

/// An order as agents take them, one of four kinds by `i`: submitted with a coupon and then held;
/// held for fraud, cleared by a supervisor, submitted and released; edited (a line removed, a
/// manual charge, a voided payment) and canceled; open with a price override and a note. Five
/// lines for the first two kinds.
async fn rich_order(n: &impl Api, shop: &Shop, customer: &str, i: usize) -> String {
    let agent = shop.agent.as_str();
    let source = if i.is_multiple_of(2) {
        json!("FALL")
    } else {
        json!(null)
    };
    let id = post(
        n,
        "/api/v1/orders",
        agent,
        json!({"customer_id": customer, "source_code": source, "delivery_mode": "std",
               "ship_to": {"street": format!("{i} Elm St"), "city": "Shelbyville"}}),
    )
    .await["id"]
        .as_str()
        .expect("order id")
        .to_string();
    let o = |s: &str| format!("/api/v1/orders/{id}{s}");
    let line = |product: &'static str, qty: u32| {
        let path = o("/lines");
        async move {
            post(
                n,
                &path,
                agent,
                json!({"product_id": product, "quantity": qty}),
            )
            .await
        }
    };
    match i % 4 {
        0 => {
            for (p, q) in [
                ("widget", 2),
                ("gadget", 1),
                ("case", 3),
                ("widget", 1),
                ("gadget", 2),
            ] {
                line(p, q).await;
            }
            post(n, &o("/coupons"), agent, json!({"code": "SAVE5"})).await;
            pay_in_two(n, agent, &id).await;
            post(n, &o("/submit"), agent, json!({})).await;
            post(
                n,
                &o("/holds"),
                agent,
                json!({"code": "customer", "reason": "customer will call back"}),
            )
            .await;
        }
        1 => {
            for (p, q) in [
                ("case", 1),
                ("widget", 3),
                ("gadget", 1),
                ("case", 2),
                ("widget", 1),
            ] {
                line(p, q).await;
            }
            let v = post(
                n,
                &o("/holds"),
                agent,
                json!({"code": "fraud", "reason": "address mismatch"}),
            )
            .await;
            let hold = v["holds"][0]["id"].as_str().expect("hold id").to_string();
            post(
                n,
                &o(&format!("/holds/{hold}/clear")),
                &shop.supervisor,
                json!({"reason": "verified by phone"}),
            )
            .await;
            pay_in_two(n, agent, &id).await;
            post(n, &o("/submit"), agent, json!({})).await;
            post(n, &o("/release"), agent, json!({})).await;
        }
        2 => {
            line("widget", 1).await;
            line("gadget", 1).await;
            let v = line("case", 4).await;
            let gone = v["lines"]
                .as_array()
                .and_then(|l| l.iter().find(|l| l["product_id"] == "case"))
                .and_then(|l| l["id"].as_str())
                .expect("the case line")
                .to_string();
            ok(
                n,
                Method::DELETE,
                &o(&format!("/lines/{gone}")),
                agent,
                Value::Null,
            )
            .await;
            post(
                n,
                &o("/charges"),
                agent,
                json!({"code": "gift-wrap", "amount": "3.00", "reason_code": "gift"}),
            )
            .await;
            let v = post(
                n,
                &o("/payments"),
                agent,
                json!({"method": "card", "amount": "10.00", "reference": "declined later"}),
            )
            .await;
            let pid = v["payments"][0]["id"]
                .as_str()
                .expect("payment id")
                .to_string();
            ok(
                n,
                Method::DELETE,
                &o(&format!("/payments/{pid}")),
                agent,
                Value::Null,
            )
            .await;
            post(
                n,
                &o("/notes"),
                agent,
                json!({"text": "customer changed their mind"}),
            )
            .await;
            post(n, &o("/cancel"), agent, json!({"reason": "changed mind"})).await;
        }
        _ => {
            post(
                n,
                &o("/lines"),
                agent,
                json!({"product_id": "widget", "quantity": 2, "unit_price": "19.00", "override_reason": "match"}),
            )
            .await;
            line("gadget", 1).await;
            post(n, &o("/notes"), agent, json!({"text": "call after 5pm"})).await;
        }
    }
    id
}

/// `count` realistic orders, each for a customer of its own.
async fn rich_orders(n: &impl Api, shop: &Shop, from: usize, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for i in from..from + count {
        let c = customer(n, &shop.agent, i).await;
        out.push(rich_order(n, shop, &c, i).await);
    }
    out
}

/// A small order (a customer, an order, two lines), as fast as the API takes it.
async fn small_order(n: &impl Api, token: &str, i: usize) -> String {
    let c = customer(n, token, i * 3 + 1).await;
    let id = post(
        n,
        "/api/v1/orders",
        token,
        json!({"customer_id": c, "delivery_mode": "std"}),
    )
    .await["id"]
        .as_str()
        .expect("order id")
        .to_string();
    for (p, q) in [("widget", 1 + (i % 3) as u32), ("case", 1)] {
        post(
            n,
            &format!("/api/v1/orders/{id}/lines"),
            token,
            json!({"product_id": p, "quantity": q}),
        )
        .await;
    }
    id
}

// ---------------------------------------------------------------------------------------------
// The warehouse side.

async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The node's warehouse status (`GET /api/v1/warehouse`).
async fn status(n: &impl Api, admin: &str) -> Value {
    get(n, "/api/v1/warehouse", admin).await
}

/// Whether the status shows the whole feed in the warehouse.
fn caught_up(st: &Value) -> bool {
    st["state"] == "following"
        && st["lag"] == 0
        && st["position"]["epoch"] == st["feed_epoch"]
        && st["position"]["seq"] == st["node_feed_seq"]
}

/// Polls the status until the warehouse holds the whole feed; returns that status.
async fn wait_caught_up(n: &impl Api, admin: &str) -> Value {
    wait_status(n, admin, "the warehouse to catch up", caught_up).await
}

/// Polls the status every 50 ms until `pred` holds, at most [`CATCH_UP_SECS`].
async fn wait_status(
    n: &impl Api,
    admin: &str,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(CATCH_UP_SECS);
    loop {
        let st = status(n, admin).await;
        if pred(&st) {
            return st;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {st}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A table's rows, each as text cells: NULL as `-`, a cell prefixed `json:` parsed and written
/// back in one canonical form.
type Rows = BTreeSet<Vec<String>>;

async fn pg_rows(db: &Client, sql: &str) -> Rows {
    let mut out = Rows::new();
    for m in db
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            let row = (0..r.len())
                .map(|i| match r.get(i) {
                    None => "-".to_string(),
                    Some(t) => match t.strip_prefix("json:") {
                        Some(j) => serde_json::from_str::<Value>(j)
                            .expect("json cell")
                            .to_string(),
                        None => t.to_string(),
                    },
                })
                .collect();
            out.insert(row);
        }
    }
    out
}

/// A time column as milliseconds since the epoch.
fn ms(col: &str) -> String {
    format!("(extract(epoch from {col}) * 1000)::bigint::text")
}

/// A money column without trailing zeros.
fn money(col: &str) -> String {
    format!("trim_scale({col})::text")
}

/// A view's value as a cell: null as `-`, strings as they are, anything else as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn money_cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        _ => dec(v).normalize().to_string(),
    }
}

fn ms_cell(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => switchboard_domain::Timestamp::parse(s)
            .unwrap_or_else(|e| panic!("time {s}: {e:?}"))
            .as_millis()
            .to_string(),
        other => panic!("not a time: {other}"),
    }
}

/// Asserts two sets of rows are equal, naming the rows only one side has.
#[track_caller]
fn assert_rows(table: &str, node: &Rows, warehouse: &Rows) {
    if node == warehouse {
        return;
    }
    let only_node: Vec<_> = node.difference(warehouse).take(5).collect();
    let only_wh: Vec<_> = warehouse.difference(node).take(5).collect();
    panic!(
        "{table}: the node has {} rows, the warehouse {}\nonly at the node: {only_node:#?}\nonly in the warehouse: {only_wh:#?}",
        node.len(),
        warehouse.len()
    );
}

/// Every order view and customer the node holds, as its admin sees them (its export).
async fn export(n: &impl Api, admin: &str) -> (Vec<Value>, Vec<Value>) {
    let mut orders = Vec::new();
    for s in all_pages(n, "/api/v1/orders", admin).await {
        let id = s["id"].as_str().expect("id");
        orders.push(get(n, &format!("/api/v1/orders/{id}"), admin).await);
    }
    let customers = all_pages(n, "/api/v1/customers", admin).await;
    (orders, customers)
}

/// Every item of a paged list, page by page (500 at a time, following `next_cursor`).
async fn all_pages(n: &impl Api, list: &str, admin: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{list}?limit=500&cursor={c}"),
            None => format!("{list}?limit=500"),
        };
        let page = get(n, &path, admin).await;
        items.extend(page["items"].as_array().expect("items").iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return items,
        }
    }
}

/// Compares the warehouse with the node's export, table by table and row by row: orders (with
/// their totals), active lines, charges (automatic and manual), applied coupons with their
/// discounts, payments, holds, order notes and customers. `contact`: whether the contact fields
/// are written. Returns the number of orders compared.
async fn assert_matches_export(n: &impl Api, admin: &str, db: &Client, contact: bool) -> usize {
    let (orders, customers) = export(n, admin).await;
    let mut want: [Rows; 8] = Default::default();
    for o in &orders {
        let id = cell(&o["id"]);
        let t = &o["totals"];
        want[0].insert(vec![
            id.clone(),
            cell(&o["call_center_id"]),
            cell(&o["customer_id"]),
            cell(&o["status"]),
            cell(&o["source_code"]),
            cell(&o["delivery_mode"]),
            if contact {
                o["ship_to"].to_string()
            } else {
                "-".to_string()
            },
            o["financial_dimensions"].to_string(),
            ms_cell(&o["created_at"]),
            cell(&o["created_by"]),
            cell(&o["continuity_parent"]),
            money_cell(&t["subtotal"]),
            money_cell(&t["discount"]),
            money_cell(&t["charges"]),
            money_cell(&t["total"]),
            money_cell(&t["paid"]),
            money_cell(&t["balance"]),
        ]);
        for l in o["lines"].as_array().expect("lines") {
            want[1].insert(vec![
                id.clone(),
                cell(&l["id"]),
                cell(&l["product_id"]),
                cell(&l["quantity"]),
                money_cell(&l["unit_price"]),
                money_cell(&l["list_price"]),
                cell(&l["override"]["reason_code"]),
                cell(&l["override"]["by"]),
            ]);
        }
        for c in o["charges"].as_array().expect("charges") {
            want[2].insert(vec![
                id.clone(),
                cell(&c["id"]),
                cell(&c["code"]),
                money_cell(&c["amount"]),
                cell(&c["auto"]),
                cell(&c["reason_code"]),
            ]);
        }
        for c in o["coupons"].as_array().expect("coupons") {
            want[3].insert(vec![
                id.clone(),
                cell(&c["code"]),
                money_cell(&c["discount"]),
            ]);
        }
        for p in o["payments"].as_array().expect("payments") {
            want[4].insert(vec![
                id.clone(),
                cell(&p["id"]),
                cell(&p["method"]),
                money_cell(&p["amount"]),
                cell(&p["status"]),
                cell(&p["reference"]),
            ]);
        }
        for h in o["holds"].as_array().expect("holds") {
            want[5].insert(vec![
                id.clone(),
                cell(&h["id"]),
                cell(&h["code"]),
                cell(&h["reason"]),
                cell(&h["placed_by"]),
                ms_cell(&h["placed_at"]),
                cell(&h["system"]),
                cell(&h["cleared"]["by"]),
                ms_cell(&h["cleared"]["at"]),
                cell(&h["cleared"]["reason"]),
            ]);
        }
        for note in o["notes"].as_array().expect("notes") {
            want[6].insert(vec![
                id.clone(),
                cell(&note["id"]),
                cell(&note["by"]),
                ms_cell(&note["at"]),
                cell(&note["text"]),
            ]);
        }
    }
    for c in &customers {
        let hide = |v: &Value| if contact { cell(v) } else { "-".to_string() };
        want[7].insert(vec![
            cell(&c["id"]),
            cell(&c["call_center_id"]),
            hide(&c["name"]),
            hide(&c["phone"]),
            hide(&c["email"]),
            if contact {
                c["address"].to_string()
            } else {
                "-".to_string()
            },
            cell(&c["created_by"]),
            ms_cell(&c["created_at"]),
        ]);
    }
    let queries = [
        (
            "orders",
            format!(
                "SELECT order_id::text, call_center_id, customer_id::text, status, source_code,
                        delivery_mode_id, 'json:' || ship_to::text,
                        'json:' || financial_dimensions::text, {}, created_by::text,
                        continuity_parent::text, {}, {}, {}, {}, {}, {}
                 FROM orders",
                ms("created_at"),
                money("subtotal"),
                money("discount"),
                money("charges"),
                money("total"),
                money("paid"),
                money("balance")
            ),
        ),
        (
            "order_lines",
            format!(
                "SELECT order_id::text, line_id::text, product_id, quantity::text, {}, {},
                        override_reason_code, override_by::text
                 FROM order_lines WHERE removed_at IS NULL",
                money("unit_price"),
                money("list_price")
            ),
        ),
        (
            "order_charges",
            format!(
                "SELECT order_id::text, charge_id::text, code, {}, automatic::text, reason_code
                 FROM order_charges",
                money("amount")
            ),
        ),
        (
            "order_coupons",
            format!(
                "SELECT order_id::text, coupon_code, {} FROM order_coupons
                 WHERE removed_at IS NULL",
                money("discount")
            ),
        ),
        (
            "order_payments",
            format!(
                "SELECT order_id::text, payment_id::text, payment_method_id, {}, status, reference
                 FROM order_payments",
                money("amount")
            ),
        ),
        (
            "order_holds",
            format!(
                "SELECT order_id::text, hold_id::text, hold_code, reason, placed_by::text, {},
                        system::text, cleared_by::text, {}, clear_reason
                 FROM order_holds",
                ms("placed_at"),
                ms("cleared_at")
            ),
        ),
        (
            "order_notes",
            format!(
                "SELECT order_id::text, note_id::text, added_by::text, {}, text FROM order_notes",
                ms("added_at")
            ),
        ),
        (
            "customers",
            format!(
                "SELECT customer_id::text, call_center_id, name, phone, email,
                        'json:' || address::text, created_by::text, {}
                 FROM customers",
                ms("created_at")
            ),
        ),
    ];
    for ((table, sql), want) in queries.iter().zip(want.iter()) {
        let got = pg_rows(db, sql).await;
        assert_rows(table, want, &got);
    }
    // Every order is priced (the node holds its call center), and every document is versioned.
    let unpriced = pg_rows(db, "SELECT count(*)::text FROM orders WHERE NOT priced").await;
    assert_eq!(
        unpriced,
        Rows::from([vec!["0".to_string()]]),
        "unpriced orders"
    );
    let docs = pg_rows(
        db,
        "SELECT kind, count(*)::text FROM documents WHERE kind IN ('order', 'customer') GROUP BY kind",
    )
    .await;
    let expected: Rows = [("customer", customers.len()), ("order", orders.len())]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| vec![k.to_string(), n.to_string()])
        .collect();
    assert_eq!(docs, expected, "documents by kind");
    orders.len()
}

/// Every row of every warehouse table, and every document version, as text.
async fn dump(db: &Client) -> Vec<(String, Rows)> {
    let mut out = Vec::new();
    for t in switchboard_warehouse::tables() {
        out.push((
            t.to_string(),
            pg_rows(db, &format!("SELECT x::text FROM {t} x")).await,
        ));
    }
    out.push((
        "documents".to_string(),
        pg_rows(db, "SELECT doc_id::text, kind, heads::text FROM documents").await,
    ));
    out
}

fn pg() -> PgServer {
    PgServer::start().expect("a PostgreSQL server for the test (Debian's postgresql package)")
}

/// An HQ node in this process feeding the warehouse at `url`.
async fn hq_feeding(name: &str, url: &str) -> nodes::Node {
    let url = url.to_string();
    nodes::Node::start_configured(name, Role::Hq, &[], move |cfg| {
        cfg.warehouse.postgres_url = Some(url);
    })
    .await
}

// ---------------------------------------------------------------------------------------------
// Scenarios.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_warehouse_the_status_says_off_and_rebuild_is_refused() {
    let hq = nodes::Node::start("hq", Role::Hq, &[]).await;
    let shop = configure(&hq, &hq.admin).await;
    let st = status(&hq, &hq.admin).await;
    assert_eq!(st["configured"], false, "{st}");
    assert_eq!(st["state"], "off", "{st}");
    assert_eq!(st["target"], Value::Null, "{st}");
    assert_eq!(st["lag"], 0, "{st}");
    let r = hq
        .post("/api/v1/warehouse/rebuild", &hq.admin, json!({}))
        .await;
    assert_eq!(r.expect(409)["code"], "conflict");
    // Admin only.
    let r = hq.get("/api/v1/warehouse", &shop.agent).await;
    assert_eq!(r.expect(403)["code"], "forbidden");
    let r = hq
        .post("/api/v1/warehouse/rebuild", &shop.agent, json!({}))
        .await;
    assert_eq!(r.expect(403)["code"], "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_of_an_existing_store_equals_the_export_and_a_rebuild_repeats_it() {
    // Step 1: a node without a warehouse takes orders of every kind.
    let pg = pg();
    let mut hq = nodes::Node::start("hq", Role::Hq, &[]).await;
    let shop = configure(&hq, &hq.admin).await;
    rich_orders(&hq, &shop, 0, 12).await;
    let c = customer(&hq, &shop.other_agent, 99).await;
    let o = post(
        &hq,
        "/api/v1/orders",
        &shop.other_agent,
        json!({"customer_id": c, "delivery_mode": "std"}),
    )
    .await;
    assert_eq!(o["call_center_id"], "cc2");

    // Step 2: restarted with a warehouse, it backfills the whole store from position zero.
    let url = pg.create_database("backfill").expect("database");
    hq.config_mut().warehouse.postgres_url = Some(url.clone());
    hq.config_mut().warehouse.batch_size = 7;
    hq.restart().await;
    let st = wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(st["configured"], true, "{st}");
    assert!(
        st["target"]
            .as_str()
            .is_some_and(|t| t.ends_with("/backfill")),
        "{st}"
    );
    assert_eq!(st["last_error"], Value::Null, "{st}");
    assert!(
        st["batches_applied"].as_u64() >= Some(2),
        "batches of 7: {st}"
    );
    let db = connect(&url).await;
    assert_eq!(assert_matches_export(&hq, &hq.admin, &db, true).await, 13);
    // The configuration documents are there too: two call centers and the catalog.
    let config = pg_rows(
        &db,
        "SELECT (SELECT count(*) FROM call_centers)::text, (SELECT count(*) FROM products)::text,
                (SELECT count(*) FROM users)::text",
    )
    .await;
    assert_eq!(
        config,
        Rows::from([vec!["2".into(), "3".into(), "3".into()]])
    );

    // Step 3: a rebuild empties the warehouse and feeds it again; the rows are the same.
    let before = dump(&db).await;
    let st = post(&hq, "/api/v1/warehouse/rebuild", &hq.admin, json!({})).await;
    assert_eq!(st["configured"], true, "{st}");
    wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(dump(&db).await, before);

    // Step 4: the personal-data option: a node configured without contact fields writes none.
    let url2 = pg.create_database("no_contact").expect("database");
    hq.config_mut().warehouse.postgres_url = Some(url2.clone());
    hq.config_mut().warehouse.contact_fields = switchboard_node::config::ContactFields::none();
    hq.restart().await;
    let st = wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(st["contact_fields"], json!([]), "{st}");
    let db2 = connect(&url2).await;
    assert_eq!(assert_matches_export(&hq, &hq.admin, &db2, false).await, 13);
    let leaked = pg_rows(
        &db2,
        "SELECT count(*)::text FROM customers
         WHERE name IS NOT NULL OR phone IS NOT NULL OR email IS NOT NULL OR address IS NOT NULL",
    )
    .await;
    assert_eq!(leaked, Rows::from([vec!["0".to_string()]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_writes_and_site_merges_arrive_and_a_concurrent_edit_updates_the_rows() {
    // Step 1: HQ feeds a warehouse; a site of cc1 gets the configuration.
    let pg = pg();
    let url = pg.create_database("live").expect("database");
    let hq = hq_feeding("hq", &url).await;
    let site = nodes::Node::start("north", Role::Site, &["cc1"]).await;
    hq.add_peer(&site).await;
    site.add_peer(&hq).await;
    let shop = configure(&hq, &hq.admin).await;
    site.sync(None).await;
    let db = connect(&url).await;

    // Step 2: live writes at HQ arrive.
    rich_orders(&hq, &shop, 0, 4).await;
    wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(assert_matches_export(&hq, &hq.admin, &db, true).await, 4);

    // Step 3: orders taken at the site arrive once HQ merges them.
    let at_site = rich_orders(&site, &shop, 12, 4).await;
    site.sync(None).await;
    wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(assert_matches_export(&hq, &hq.admin, &db, true).await, 8);

    // Step 4: a concurrent edit: with the link down (no peers, so neither background loop
    // syncs), the site adds a line while HQ adds a note to the same open order. HQ's version
    // reaches the warehouse first ...
    let order = &at_site[3];
    hq.call(Method::DELETE, "/api/v1/peers/north", &hq.admin, None)
        .await
        .expect(204);
    site.call(Method::DELETE, "/api/v1/peers/hq", &site.admin, None)
        .await
        .expect(204);
    let counts = |order: &str| {
        format!(
            "SELECT (SELECT count(*) FROM order_lines WHERE order_id = '{order}' AND removed_at IS NULL)::text,
                    (SELECT count(*) FROM order_notes WHERE order_id = '{order}')::text"
        )
    };
    assert_eq!(
        pg_rows(&db, &counts(order)).await,
        Rows::from([vec!["2".into(), "1".into()]])
    );
    post(
        &site,
        &format!("/api/v1/orders/{order}/lines"),
        &shop.agent,
        json!({"product_id": "case", "quantity": 2}),
    )
    .await;
    post(
        &hq,
        &format!("/api/v1/orders/{order}/notes"),
        &shop.agent,
        json!({"text": "HQ called the customer"}),
    )
    .await;
    wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(
        pg_rows(&db, &counts(order)).await,
        Rows::from([vec!["2".into(), "2".into()]]),
        "HQ's own edit is in the warehouse"
    );
    // ... and the merge, which holds both edits, replaces the order's rows.
    hq.add_peer(&site).await;
    site.add_peer(&hq).await;
    site.sync(None).await;
    wait_caught_up(&hq, &hq.admin).await;
    assert_eq!(
        pg_rows(&db, &counts(order)).await,
        Rows::from([vec!["3".into(), "2".into()]]),
        "the merged order has the site's line and HQ's note"
    );
    assert_eq!(assert_matches_export(&hq, &hq.admin, &db, true).await, 8);
    let at_hq = hq.order_views(&hq.admin).await;
    assert_eq!(site.order_views(&shop.agent).await[order], at_hq[order]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_never_fails_a_write_and_the_rows_catch_up_exactly() {
    // Step 1: a node feeding a warehouse, caught up.
    let pg = pg();
    let url = pg.create_database("outage").expect("database");
    let mut hq = hq_feeding("hq", &url).await;
    let shop = configure(&hq, &hq.admin).await;
    rich_orders(&hq, &shop, 0, 4).await;
    wait_caught_up(&hq, &hq.admin).await;

    // Step 2: PostgreSQL crashes (immediate stop). Every write still succeeds (each request
    // above and below asserts its 2xx); the status shows the lag, the error and the backoff.
    pg.kill().expect("crash PostgreSQL");
    rich_orders(&hq, &shop, 4, 4).await;
    let st = wait_status(&hq, &hq.admin, "the follower to report the outage", |st| {
        st["state"] == "backing_off" && st["last_error"].is_string() && st["lag"].as_u64() > Some(0)
    })
    .await;
    assert!(st["retry_in_ms"].is_u64(), "{st}");
    assert!(st["last_error_at"].is_string(), "{st}");

    // Step 3: the node restarts while PostgreSQL is still down: it serves and takes orders, the
    // warehouse only lags.
    hq.restart().await;
    rich_orders(&hq, &shop, 8, 2).await;
    let st = wait_status(
        &hq,
        &hq.admin,
        "the restarted node to report the outage",
        |st| st["state"] == "backing_off" && st["last_error"].is_string(),
    )
    .await;
    assert_eq!(
        st["position"],
        Value::Null,
        "not known while unreachable: {st}"
    );
    assert!(st["lag"].as_u64() > Some(0), "{st}");

    // Step 4: PostgreSQL comes back: the warehouse catches up, exactly.
    pg.start_again().expect("start PostgreSQL again");
    let st = wait_caught_up(&hq, &hq.admin).await;
    assert!(
        st["last_error"].is_string(),
        "the last failure stays visible: {st}"
    );
    let db = connect(&url).await;
    assert_eq!(assert_matches_export(&hq, &hq.admin, &db, true).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_node_mid_feed_then_restart_gives_exactly_the_right_rows() {
    // Step 1: a `switchboard serve` process feeding a warehouse in small batches.
    let pg = pg();
    let url = pg.create_database("killed").expect("database");
    let mut c = cluster::Cluster::new();
    c.add(
        cluster::NodeSpec::hq("hq")
            .env("SWITCHBOARD_WAREHOUSE_URL", &url)
            .env("SWITCHBOARD_WAREHOUSE_BATCH_SIZE", "3"),
    )
    .await;
    let hq = c.node("hq");
    let admin = hq.admin.clone();
    let shop = configure(hq, &admin).await;
    let before = wait_caught_up(hq, &admin).await["position"]["seq"]
        .as_u64()
        .expect("a position");

    // Step 2: while PostgreSQL is down the node takes orders, so a backlog piles up.
    pg.stop().expect("stop PostgreSQL");
    for i in 0..40 {
        small_order(hq, &shop.agent, i).await;
    }
    // Step 3: PostgreSQL is back; agents keep writing; once the follower is part-way through
    // the feed (a batch committed, entries still pending), the node is SIGKILLed.
    pg.start_again().expect("start PostgreSQL again");
    let base = hq.url();
    let token = shop.agent.clone();
    let acked = Arc::new(AtomicU64::new(0));
    let writes = tokio::spawn({
        let acked = acked.clone();
        async move {
            let http = reqwest::Client::new();
            loop {
                let n = acked.load(Ordering::SeqCst);
                let r = http
                    .post(format!("{base}/api/v1/customers"))
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("Walk-in {n}"), "phone": null, "email": null}))
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(resp) => panic!("a write failed: {}", resp.status()),
                    Err(_) => return, // the node is gone
                }
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(CATCH_UP_SECS);
    let at_kill = loop {
        let st = status(hq, &admin).await;
        let resumed = st["position"]["seq"].as_u64() > Some(before);
        if resumed && st["lag"].as_u64() > Some(0) && acked.load(Ordering::SeqCst) > 0 {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "the follower never resumed: {st}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    c.node_mut("hq").kill().await;
    writes.await.expect("writer task");
    assert!(
        at_kill["position"]["seq"].as_u64() < at_kill["node_feed_seq"].as_u64(),
        "{at_kill}"
    );

    // Step 4: restarted, the node resumes from the stored position: the warehouse ends with
    // exactly the node's rows (nothing lost, nothing the node does not hold).
    c.restart("hq").await;
    let hq = c.node("hq");
    wait_caught_up(hq, &admin).await;
    let db = connect(&url).await;
    assert_eq!(assert_matches_export(hq, &admin, &db, true).await, 40);

    // Step 5: `switchboard warehouse status|rebuild` against the running node.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(switchboard_tests::bin::switchboard())
            .args(args)
            .env("SWITCHBOARD_URL", hq.url())
            .env("SWITCHBOARD_TOKEN", &admin)
            .output()
            .expect("run switchboard");
        assert!(
            out.status.success(),
            "switchboard {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let text = cli(&["warehouse", "status"]);
    assert!(text.contains("state:         following"), "{text}");
    assert!(text.contains("lag:           0 changes"), "{text}");
    assert!(text.contains("/killed"), "{text}");
    let rebuilt: Value = serde_json::from_str(&cli(&["warehouse", "rebuild", "--json"]))
        .expect("rebuild answers JSON");
    assert_eq!(rebuilt["configured"], true, "{rebuilt}");
    wait_caught_up(hq, &admin).await;
    assert_eq!(assert_matches_export(hq, &admin, &db, true).await, 40);

    // Step 6: the outage was logged once per change of state, not once per retry, and the
    // recovery once.
    let log = std::fs::read_to_string(&hq.log).expect("node log");
    let warned = log.matches("cannot feed PostgreSQL").count();
    assert!((1..=3).contains(&warned), "{warned} warnings:\n{log}");
    assert!(log.contains("warehouse reachable again"), "{log}");

    // Step 7: the metrics of this run: batches written, no lag left.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", hq.url()))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    let value = |name: &str| -> Option<f64> {
        metrics
            .lines()
            .find(|l| l.starts_with(name) && !l.starts_with('#'))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    assert_eq!(
        value("switchboard_warehouse_lag_seq "),
        Some(0.0),
        "{metrics}"
    );
    assert!(
        value("switchboard_warehouse_batches_total ") > Some(0.0),
        "{metrics}"
    );
    assert!(
        value("switchboard_warehouse_docs_total{outcome=\"replaced\"} ") > Some(0.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hq_nodes_feeding_one_database_end_identical_to_one_node_feeding_it() {
    // Step 1: two HQ nodes that sync with each other both feed the same database.
    let pg = pg();
    let shared = pg.create_database("shared").expect("database");
    let mut a = hq_feeding("hq-a", &shared).await;
    let b = hq_feeding("hq-b", &shared).await;
    a.add_peer(&b).await;
    b.add_peer(&a).await;
    let shop = configure(&a, &a.admin).await;
    a.sync(None).await;

    // Step 2: both take orders, then both edit the same open orders before they sync again.
    let from_a = rich_orders(&a, &shop, 0, 4).await;
    let from_b = rich_orders(&b, &shop, 12, 4).await;
    a.sync(None).await;
    for order in [&from_a[3], &from_b[3]] {
        post(
            &a,
            &format!("/api/v1/orders/{order}/lines"),
            &shop.agent,
            json!({"product_id": "case", "quantity": 1}),
        )
        .await;
        post(
            &b,
            &format!("/api/v1/orders/{order}/notes"),
            &shop.agent,
            json!({"text": "noted at hq-b"}),
        )
        .await;
        post(
            &b,
            &format!("/api/v1/orders/{order}/coupons"),
            &shop.agent,
            json!({"code": "SAVE5"}),
        )
        .await;
    }
    a.sync(None).await;
    b.sync(None).await;
    let views = a.order_views(&a.admin).await;
    assert_eq!(views, b.order_views(&b.admin).await, "the nodes converged");
    assert_eq!(views.len(), 8);

    // Step 3: once both have fed it, the database holds the converged orders, once each.
    wait_caught_up(&a, &a.admin).await;
    wait_caught_up(&b, &b.admin).await;
    let db = connect(&shared).await;
    assert_eq!(assert_matches_export(&a, &a.admin, &db, true).await, 8);
    let positions = pg_rows(&db, "SELECT count(*)::text FROM feed_positions").await;
    assert_eq!(positions, Rows::from([vec!["2".to_string()]]));
    let fed_by_two = dump(&db).await;

    // Step 4: one node alone feeding a fresh database ends with the same rows.
    let single = pg.create_database("single").expect("database");
    a.config_mut().warehouse.postgres_url = Some(single.clone());
    a.restart().await;
    wait_caught_up(&a, &a.admin).await;
    let fed_by_one = dump(&connect(&single).await).await;
    for ((table, two), (_, one)) in fed_by_two.iter().zip(fed_by_one.iter()) {
        assert_rows(table, one, two);
    }
}
