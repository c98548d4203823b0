//! Multi-node convergence under real faults, with real node processes and real disks
//! (`switchboard serve` children, each on its own data dir, peers talking through
//! fault-injecting proxies): WAN outage, SIGKILL mid-stream, sessions cut mid-frame, restart
//! during an outage, clock skew, hostile peers, and agent API abuse.
//!
//! Sizes are parameters (`SOAK_ORDERS`, `SOAK_ROUNDS`, `SOAK_CATCHUP`, `SOAK_CUTS`,
//! `SOAK_SKEW_SECS`, `SOAK_SEED`) with small defaults so the suite stays quick on 2 cores;
//! `scripts/soak.sh` runs them bigger.

use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_tests::api_harness::call_center_body;
use switchboard_tests::cluster::{param, Cluster, Node, NodeSpec, Reply};
use switchboard_tests::converge::{compare, converge, snapshot, Snapshot};
use switchboard_tests::rng::Rng;

/// How long a cluster may take to converge after a heal.
const CONVERGE: Duration = Duration::from_secs(180);

/// Tokens of the users created at HQ.
struct Users {
    /// Agent of `north` (served by the sites).
    north: String,
    /// Supervisor of `north`.
    north_sup: String,
    /// Agent of `south` (HQ only).
    south: String,
}

/// Step 0 of every scenario: configuration written at HQ over the API.
async fn configure(hq: &Node) -> Users {
    let admin = hq.admin.as_str();
    hq.put(
        "/api/v1/call-centers/north",
        admin,
        call_center_body("North"),
    )
    .await
    .expect(200);
    hq.put(
        "/api/v1/call-centers/south",
        admin,
        call_center_body("South"),
    )
    .await
    .expect(200);
    for (id, name, price, over) in [
        ("widget", "Widget", "19.99", true),
        ("gadget", "Gadget", "30.00", true),
        ("case", "Case", "5.00", false),
    ] {
        hq.put(
            &format!("/api/v1/products/{id}"),
            admin,
            json!({"name": name, "price": price, "allow_price_override": over}),
        )
        .await
        .expect(200);
    }
    let user = |cc: &'static str, name: &'static str, role: &'static str| async move {
        hq.post(
            &format!("/api/v1/call-centers/{cc}/users"),
            admin,
            json!({"name": name, "role": role}),
        )
        .await
        .expect(201)["token"]
            .as_str()
            .expect("token")
            .to_string()
    };
    Users {
        north: user("north", "Ann", "agent").await,
        north_sup: user("north", "Sue", "supervisor").await,
        south: user("south", "Olga", "agent").await,
    }
}

/// Syncs until the `north` configuration (and the agent's token) works on every site.
async fn wait_config(c: &Cluster, token: &str) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        c.sync_round().await;
        let mut all = true;
        for n in c.nodes.iter().filter(|n| n.is_running()) {
            all &= n.has_call_center("north", token).await;
        }
        if all {
            return;
        }
        assert!(
            Instant::now() < until,
            "configuration did not reach the sites"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn customer(n: &Node, tok: &str, name: &str) -> String {
    n.post("/api/v1/customers", tok, json!({"name": name}))
        .await
        .expect(201)["id"]
        .as_str()
        .expect("customer id")
        .to_string()
}

async fn order(n: &Node, tok: &str, customer: &str) -> String {
    n.post(
        "/api/v1/orders",
        tok,
        json!({"customer_id": customer, "delivery_mode": "std"}),
    )
    .await
    .expect(201)["id"]
        .as_str()
        .expect("order id")
        .to_string()
}

async fn line(n: &Node, tok: &str, order: &str, product: &str, qty: i64) -> Reply {
    n.post(
        &format!("/api/v1/orders/{order}/lines"),
        tok,
        json!({"product_id": product, "quantity": qty}),
    )
    .await
}

async fn view(n: &Node, tok: &str, order: &str) -> Value {
    n.get(&format!("/api/v1/orders/{order}"), tok)
        .await
        .expect(200)
        .clone()
}

async fn pay_all(n: &Node, tok: &str, order: &str) -> Reply {
    let v = view(n, tok, order).await;
    let balance = v["totals"]["balance"]
        .as_str()
        .expect("balance")
        .to_string();
    n.post(
        &format!("/api/v1/orders/{order}/payments"),
        tok,
        json!({"method": "card", "amount": balance}),
    )
    .await
}

async fn hold(n: &Node, tok: &str, order: &str, code: &str) -> Reply {
    n.post(
        &format!("/api/v1/orders/{order}/holds"),
        tok,
        json!({"code": code, "reason": "checking"}),
    )
    .await
}

async fn note(n: &Node, tok: &str, order: &str, text: &str) -> Reply {
    n.post(
        &format!("/api/v1/orders/{order}/notes"),
        tok,
        json!({"text": text}),
    )
    .await
}

async fn submit(n: &Node, tok: &str, order: &str) -> Reply {
    n.post(&format!("/api/v1/orders/{order}/submit"), tok, json!({}))
        .await
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(v.as_str().unwrap_or("x")).unwrap_or_else(|_| panic!("not money: {v}"))
}

/// Business rules that must hold on the converged state: an order that is submitted or
/// released is paid in full (otherwise the merge must have put it on hold), and no active hold
/// coexists with a status other than `on_hold` (or `canceled`).
fn check_rules(snap: &Snapshot) {
    for (id, o) in &snap.orders {
        let status = o["status"].as_str().unwrap_or_default();
        if status == "submitted" || status == "released" {
            assert!(
                dec(&o["totals"]["balance"]) <= Decimal::ZERO,
                "order {id} is {status} with balance {} on {}: {o}",
                o["totals"]["balance"],
                snap.node
            );
        }
        let active_holds = o["holds"]
            .as_array()
            .map(|h| h.iter().filter(|h| h["cleared"].is_null()).count())
            .unwrap_or(0);
        if active_holds > 0 {
            assert!(
                status == "on_hold" || status == "canceled",
                "order {id} has an active hold but is {status}: {o}"
            );
        }
    }
}

fn active_lines(o: &Value) -> usize {
    o["lines"].as_array().map(Vec::len).unwrap_or(0)
}

/// HQ and sites `site-a`, `site-b` (both serving `north`), linked to HQ through proxies, with
/// the configuration at every node.
async fn star(sites: &[&str], site_env: &[(&str, &str)]) -> (Cluster, Users) {
    star_with(sites, &[], site_env).await
}

/// [`star`] with environment for HQ as well.
async fn star_with(
    sites: &[&str],
    hq_env: &[(&str, &str)],
    site_env: &[(&str, &str)],
) -> (Cluster, Users) {
    let mut c = Cluster::new();
    let mut hq = NodeSpec::hq("hq");
    for (k, v) in hq_env {
        hq = hq.env(k, v);
    }
    c.add(hq).await;
    for s in sites {
        let mut spec = NodeSpec::site(s, &["north"]);
        for (k, v) in site_env {
            spec = spec.env(k, v);
        }
        c.add(spec).await;
        c.link("hq", s).await;
    }
    let users = configure(c.node("hq")).await;
    wait_config(&c, &users.north).await;
    (c, users)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s1_wan_outage_both_sides_edit_then_converge() {
    let n = param("SOAK_ORDERS", 6).max(3);
    // Step 1: HQ and two sites of `north`, configured at HQ, configuration synced out.
    let (c, u) = star(&["site-a", "site-b"], &[]).await;
    let (hq, a, b) = (c.node("hq"), c.node("site-a"), c.node("site-b"));
    let mut all_orders = BTreeSet::new();
    // Step 2: site A takes orders (a line each), and everyone converges.
    let cust = customer(a, &u.north, "Carla Jones").await;
    let mut shared = Vec::new();
    for _ in 0..n {
        let o = order(a, &u.north, &cust).await;
        line(a, &u.north, &o, "widget", 1).await.expect(201);
        shared.push(o.clone());
        all_orders.insert(o);
    }
    converge(&c, CONVERGE).await;
    // Step 3: cut site A off; sessions across the cut fail, the others go on.
    c.link_of("hq", "site-a").cut();
    assert_eq!(a.sync_with("hq").await["ok"], false);
    assert_eq!(hq.sync_with("site-a").await["ok"], false);
    // Step 4: both sides of the cut work on the same orders, and on new ones.
    for (i, o) in shared.iter().enumerate() {
        match i % 3 {
            0 => {
                // A adds a line, pays and submits; B adds another line meanwhile.
                line(a, &u.north, o, "gadget", 1).await.expect(201);
                pay_all(a, &u.north, o).await.expect(201);
                submit(a, &u.north, o).await.expect(200);
                line(b, &u.north, o, "widget", 2).await.expect(201);
            }
            1 => {
                // A places a hold; B (unaware) pays and submits.
                hold(a, &u.north, o, "customer").await.expect(201);
                pay_all(b, &u.north, o).await.expect(201);
                submit(b, &u.north, o).await.expect(200);
            }
            _ => {
                // Both sides change the same line's quantity and add notes.
                let v = view(a, &u.north, o).await;
                let line_id = v["lines"][0]["id"].as_str().expect("line id").to_string();
                a.patch(
                    &format!("/api/v1/orders/{o}/lines/{line_id}"),
                    &u.north,
                    json!({"quantity": 3}),
                )
                .await
                .expect(200);
                b.patch(
                    &format!("/api/v1/orders/{o}/lines/{line_id}"),
                    &u.north,
                    json!({"quantity": 4}),
                )
                .await
                .expect(200);
                note(a, &u.north, o, "from site A").await.expect(201);
                note(b, &u.north, o, "from site B").await.expect(201);
            }
        }
    }
    let cust_b = customer(b, &u.north, "Bob Brown").await;
    let south_cust = customer(hq, &u.south, "Sam South").await;
    for i in 0..n {
        let oa = order(a, &u.north, &cust).await;
        line(a, &u.north, &oa, "case", 1 + i as i64)
            .await
            .expect(201);
        let ob = order(b, &u.north, &cust_b).await;
        line(b, &u.north, &ob, "gadget", 1).await.expect(201);
        let os = order(hq, &u.south, &south_cust).await;
        line(hq, &u.south, &os, "widget", 1).await.expect(201);
        all_orders.extend([oa, ob, os]);
    }
    // B and HQ keep syncing through the outage.
    assert_eq!(b.sync_with("hq").await["ok"], true);
    assert_eq!(hq.sync_with("site-b").await["ok"], true);
    // Step 5: heal; everyone converges.
    c.link_of("hq", "site-a").heal();
    let snap = converge(&c, CONVERGE).await;
    // Step 6: HQ has every order, the merged state keeps every edit, and the rules hold.
    let missing: Vec<&String> = all_orders
        .iter()
        .filter(|o| !snap.orders.contains_key(*o))
        .collect();
    assert!(missing.is_empty(), "HQ lacks orders {missing:?}");
    for (i, o) in shared.iter().enumerate() {
        let v = &snap.orders[o];
        match i % 3 {
            0 => assert_eq!(active_lines(v), 3, "both sides' lines kept: {v}"),
            1 => assert_eq!(v["status"], "on_hold", "the hold survives the submit: {v}"),
            _ => {
                assert_eq!(v["notes"].as_array().map(Vec::len), Some(2), "{v}");
                let q = v["lines"][0]["quantity"].as_i64().unwrap_or(0);
                assert!(q == 3 || q == 4, "one of the quantities wins: {v}");
                assert!(
                    !v["conflicts"].as_array().is_none_or(Vec::is_empty),
                    "the losing quantity stays visible: {v}"
                );
            }
        }
    }
    check_rules(&snap);
}

/// A writer that records what the node acknowledged.
#[derive(Clone)]
struct Writer {
    http: reqwest::Client,
    base: String,
    token: String,
    customer: String,
    /// Acknowledged orders → acknowledged line ids.
    acked: Arc<Mutex<BTreeMap<String, Vec<String>>>>,
}

impl Writer {
    /// Creates orders with a line each as fast as it can, until a request fails or `limit`.
    async fn run(self, limit: usize) {
        for _ in 0..limit {
            let r = self
                .http
                .post(format!("{}/api/v1/orders", self.base))
                .bearer_auth(&self.token)
                .json(&json!({"customer_id": self.customer, "delivery_mode": "std"}))
                .send()
                .await;
            let Ok(r) = r else { return };
            if r.status().as_u16() != 201 {
                return;
            }
            let Ok(v) = r.json::<Value>().await else {
                return;
            };
            let Some(id) = v["id"].as_str().map(str::to_string) else {
                return;
            };
            self.acked
                .lock()
                .expect("acked")
                .insert(id.clone(), Vec::new());
            let r = self
                .http
                .post(format!("{}/api/v1/orders/{id}/lines", self.base))
                .bearer_auth(&self.token)
                .json(&json!({"product_id": "widget", "quantity": 2}))
                .send()
                .await;
            let Ok(r) = r else { return };
            if r.status().as_u16() != 201 {
                return;
            }
            let Ok(v) = r.json::<Value>().await else {
                return;
            };
            let line_ids: Vec<String> = v["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["id"].as_str().map(str::to_string))
                .collect();
            if let Some(lines) = self.acked.lock().expect("acked").get_mut(&id) {
                *lines = line_ids;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s2_sigkill_mid_stream_loses_nothing_acknowledged() {
    let rounds = param("SOAK_ROUNDS", 3);
    let mut rng = Rng::from_env("s2");
    // Step 1: HQ and a site, configured (small sync frames, so the catch-up of step 6 takes
    // many of them).
    let small_frames = [("SWITCHBOARD_SYNC_FRAME_BYTES", "32768")];
    let (mut c, u) = star_with(&["site-a"], &small_frames, &small_frames).await;
    let cust = customer(c.node("site-a"), &u.north, "Crash Test").await;
    let mut all_acked: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for round in 0..rounds {
        // Step 2: four clients write as fast as they can and record what was acknowledged.
        let acked = Arc::new(Mutex::new(BTreeMap::new()));
        let site = c.node("site-a");
        let w = Writer {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: site.url(),
            token: u.north.clone(),
            customer: cust.clone(),
            acked: acked.clone(),
        };
        let writers: Vec<_> = (0..4).map(|_| tokio::spawn(w.clone().run(5_000))).collect();
        // Step 3: SIGKILL once a random number of orders was acknowledged.
        let target = rng.range(20, 80) as usize;
        let until = Instant::now() + Duration::from_secs(60);
        while acked.lock().expect("acked").len() < target {
            assert!(Instant::now() < until, "writers made no progress");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.node_mut("site-a").kill().await;
        for wr in writers {
            tokio::time::timeout(Duration::from_secs(60), wr)
                .await
                .expect("writer stops after the kill")
                .expect("writer task");
        }
        let acked = acked.lock().expect("acked").clone();
        eprintln!(
            "s2 round {round}: killed after {} acknowledged orders",
            acked.len()
        );
        all_acked.extend(acked);
        // Step 4: the crashed store verifies as it is, then restarts; every acknowledged order
        // (and line) is there, whole.
        let out = c.node("site-a").verify();
        assert!(
            out.status.success(),
            "verify right after SIGKILL: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        c.restart("site-a").await;
        let site = c.node("site-a");
        for (id, lines) in &all_acked {
            let r = site.get(&format!("/api/v1/orders/{id}"), &u.north).await;
            let v = r.expect(200);
            let have: BTreeSet<&str> = v["lines"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|l| l["id"].as_str())
                .collect();
            for l in lines {
                assert!(
                    have.contains(l.as_str()),
                    "acknowledged line {l} of {id} lost: {v}"
                );
            }
            if !lines.is_empty() {
                assert_eq!(v["totals"]["subtotal"], "39.98", "order {id} whole: {v}");
            }
        }
        // Step 5: syncing goes on: HQ receives everything.
        let snap = converge(&c, CONVERGE).await;
        for id in all_acked.keys() {
            assert!(snap.orders.contains_key(id), "HQ lacks acknowledged {id}");
        }
    }
    // Step 6: SIGKILL in the middle of a catch-up the site is applying: after a restart the
    // catch-up resumes and ends complete, without duplicates.
    c.link_of("hq", "site-a").cut();
    let hq_cust = customer(c.node("hq"), &u.north, "Catch Up").await;
    let bulk = bulk_orders(c.node("hq"), &u.north, &hq_cust, 150 * rounds.max(1)).await;
    c.link_of("hq", "site-a").heal();
    let (url, admin) = (c.node("site-a").url(), c.node("site-a").admin.clone());
    let session = tokio::spawn(async move {
        // Ends with an error once the node is killed under it.
        let _ = reqwest::Client::new()
            .post(format!("{url}/api/v1/sync?peer=hq"))
            .bearer_auth(admin)
            .send()
            .await;
    });
    let before = c.node("site-a").order_count().await;
    let until = Instant::now() + Duration::from_secs(60);
    // Kill once the catch-up has visibly started and a random share of it is in.
    let share = rng.range(1, bulk.len() as u64 / 2);
    loop {
        let now = c.node("site-a").order_count().await;
        if now >= before + share {
            eprintln!(
                "s2: SIGKILL during the catch-up with {} of {} orders in",
                now - before,
                bulk.len()
            );
            break;
        }
        assert!(Instant::now() < until, "the catch-up never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    c.node_mut("site-a").kill().await;
    let _ = tokio::time::timeout(Duration::from_secs(60), session).await;
    c.restart("site-a").await;
    let snap = converge(&c, CONVERGE).await;
    for id in bulk.iter().chain(all_acked.keys()) {
        assert!(snap.orders.contains_key(id), "HQ lacks {id}");
    }
    let site_snap = snapshot(c.node("site-a"), false).await.expect("snapshot");
    assert!(site_snap.problems.is_empty(), "{:?}", site_snap.problems);
    assert_eq!(
        c.node("site-a").order_count().await,
        site_snap.orders.len() as u64,
        "no duplicate documents"
    );
    // Step 7: a clean stop leaves a store that verifies.
    let site = c.node_mut("site-a");
    assert!(site.stop().await.success());
    let out = site.verify();
    assert!(
        out.status.success(),
        "verify after crashes: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates `count` orders (with a line each) on `n`, 8 at a time.
async fn bulk_orders(n: &Node, tok: &str, customer: &str, count: usize) -> Vec<String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let mut ids = Vec::new();
    let mut left = count;
    while left > 0 {
        let batch = left.min(8);
        left -= batch;
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..batch {
            let (http, base, tok, customer) =
                (http.clone(), n.url(), tok.to_string(), customer.to_string());
            set.spawn(async move {
                let v: Value = http
                    .post(format!("{base}/api/v1/orders"))
                    .bearer_auth(&tok)
                    .json(&json!({"customer_id": customer, "delivery_mode": "std",
                                  "ship_to": {"street": "1 Long Street", "city": "Springfield"}}))
                    .send()
                    .await
                    .expect("create order")
                    .json()
                    .await
                    .expect("order json");
                let id = v["id"].as_str().expect("order id").to_string();
                let r = http
                    .post(format!("{base}/api/v1/orders/{id}/lines"))
                    .bearer_auth(&tok)
                    .json(&json!({"product_id": "gadget", "quantity": 1}))
                    .send()
                    .await
                    .expect("add line");
                assert_eq!(r.status().as_u16(), 201);
                id
            });
        }
        while let Some(id) = set.join_next().await {
            ids.push(id.expect("task"));
        }
    }
    ids
}

/// `(push, pull seq)` of `node`'s checkpoint with `peer` (`GET /api/v1/sync/status`).
async fn checkpoint(node: &Node, peer: &str) -> (u64, u64) {
    let st = node.get("/api/v1/sync/status", &node.admin).await;
    let p = st.expect(200)["peers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == peer))
        .cloned()
        .unwrap_or_else(|| panic!("no status of {peer}: {}", st.text));
    (
        p["checkpoint"]["push"].as_u64().unwrap_or(0),
        p["checkpoint"]["pull"]["seq"].as_u64().unwrap_or(0),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_catch_up_cut_mid_frame_many_times() {
    let total = param("SOAK_CATCHUP", 1200);
    let cuts = param("SOAK_CUTS", 12);
    let frame: u64 = 64 * 1024;
    let mut rng = Rng::from_env("s3");
    // Step 1: HQ and a site, small frames so a catch-up takes many of them.
    let frame_s = frame.to_string();
    let small_frames = [("SWITCHBOARD_SYNC_FRAME_BYTES", frame_s.as_str())];
    let (c, u) = star_with(&["site-a"], &small_frames, &small_frames).await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    let link = c.link_of("hq", "site-a");
    // Step 2: while the site is cut off, HQ takes many orders and the site some.
    link.cut();
    let hq_cust = customer(hq, &u.north, "Bulk Buyer").await;
    let site_cust = customer(site, &u.north, "Local Buyer").await;
    let mut expected: BTreeSet<String> = bulk_orders(hq, &u.north, &hq_cust, total)
        .await
        .into_iter()
        .collect();
    expected.extend(bulk_orders(site, &u.north, &site_cust, total / 10).await);
    link.heal();
    // Step 3: sessions are cut after a random number of bytes (two to six frames' worth, so each
    // can finish some), alternately from each side. Each cut session makes progress.
    let mut finished = false;
    for k in 0..cuts {
        let from = if k % 2 == 0 { "site-a" } else { "hq" };
        let to = if from == "hq" { "site-a" } else { "hq" };
        let proxy = link.dialed_by(from);
        let cut_at = rng.range(2 * frame + 8 * 1024, 6 * frame);
        proxy.drop_after(Some(cut_at));
        let before = (hq.order_count().await, site.order_count().await);
        let cp_before = checkpoint(c.node(from), to).await;
        let dropped = proxy.stats().dropped;
        let r = c.node(from).sync_with(to).await;
        let after = (hq.order_count().await, site.order_count().await);
        let cp_after = checkpoint(c.node(from), to).await;
        eprintln!(
            "s3 cut {k}: {from} -> {to} cut at {cut_at} B: ok={} error={}; orders hq/site \
             {before:?} -> {after:?}; checkpoint {cp_before:?} -> {cp_after:?}",
            r["ok"], r["error"]
        );
        if r["ok"] == true {
            finished = true;
            break;
        }
        assert!(proxy.stats().dropped > dropped, "the proxy cut the session");
        // Progress: documents arrived, or the initiator's checkpoint moved on (a frame of
        // documents the other side already held still advances it).
        assert!(
            after.0 + after.1 > before.0 + before.1 || cp_after > cp_before,
            "a session cut after {cut_at} bytes made no progress"
        );
        assert!(
            cp_after.0 >= cp_before.0,
            "the push checkpoint never goes back"
        );
        assert!(
            after.0 >= before.0 && after.1 >= before.1,
            "nothing goes backwards"
        );
    }
    for p in link.proxies() {
        p.clear();
    }
    eprintln!("s3: catch-up finished inside the cut sessions: {finished}");
    // Step 4: the end state is complete, with no duplicates.
    let snap = converge(&c, CONVERGE).await;
    let north: BTreeSet<String> = snap
        .orders
        .iter()
        .filter(|(_, v)| v["call_center_id"] == "north")
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(north, expected, "HQ holds exactly the orders taken");
    let site_snap = snapshot(site, false).await.expect("site snapshot");
    assert!(site_snap.problems.is_empty(), "{:?}", site_snap.problems);
    assert_eq!(site_snap.orders.len(), expected.len());
    assert_eq!(
        site.order_count().await,
        expected.len() as u64,
        "no duplicate documents"
    );
    for v in site_snap.orders.values() {
        assert_eq!(active_lines(v), 1, "every order whole: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s4_site_restarts_during_outage_and_catches_up() {
    let n = param("SOAK_ORDERS", 6);
    // Step 1: HQ and a site with a few orders, converged.
    let (mut c, u) = star(&["site-a"], &[]).await;
    let site = c.node("site-a");
    let cust = customer(site, &u.north, "Rita Restart").await;
    let mut early = Vec::new();
    for _ in 0..3 {
        let o = order(site, &u.north, &cust).await;
        line(site, &u.north, &o, "widget", 1).await.expect(201);
        early.push(o);
    }
    converge(&c, CONVERGE).await;
    // Step 2: cut; the site keeps working.
    c.link_of("hq", "site-a").cut();
    let mut pending = Vec::new();
    for _ in 0..n {
        let o = order(site, &u.north, &cust).await;
        line(site, &u.north, &o, "gadget", 2).await.expect(201);
        pending.push(o);
    }
    hold(site, &u.north, &early[0], "customer")
        .await
        .expect(201);
    pay_all(site, &u.north, &early[1]).await.expect(201);
    note(site, &u.north, &early[2], "before the restart")
        .await
        .expect(201);
    let status = site.get("/api/v1/sync/status", &site.admin).await;
    let pending_out = status.expect(200)["peers"][0]["pending_out"].as_u64();
    assert!(
        pending_out.unwrap_or(0) > 0,
        "changes wait for HQ: {}",
        status.text
    );
    // Step 3: graceful restart while still cut off, then more work, then a SIGKILL restart.
    assert!(
        c.node_mut("site-a").stop().await.success(),
        "clean SIGTERM exit"
    );
    c.restart("site-a").await;
    let site = c.node("site-a");
    for o in &pending {
        view(site, &u.north, o).await;
    }
    submit(site, &u.north, &early[1]).await.expect(200);
    let o = order(site, &u.north, &cust).await;
    line(site, &u.north, &o, "case", 4).await.expect(201);
    pending.push(o);
    assert_eq!(site.sync_with("hq").await["ok"], false, "still cut off");
    c.node_mut("site-a").kill().await;
    c.restart("site-a").await;
    note(c.node("site-a"), &u.north, &early[2], "after the crash")
        .await
        .expect(201);
    // Step 4: heal; every pending change reaches HQ.
    c.link_of("hq", "site-a").heal();
    let snap = converge(&c, CONVERGE).await;
    for o in &pending {
        assert!(snap.orders.contains_key(o), "HQ lacks {o}");
    }
    assert_eq!(snap.orders[&early[0]]["status"], "on_hold");
    assert_eq!(snap.orders[&early[1]]["status"], "submitted");
    assert_eq!(
        snap.orders[&early[2]]["notes"].as_array().map(Vec::len),
        Some(2)
    );
    check_rules(&snap);
}

fn history_of(n: &Snapshot, id: &str) -> usize {
    n.orders[id]["_changes"].as_u64().unwrap_or(0) as usize
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s5_clock_skew_does_not_decide_merges() {
    let skew = param("SOAK_SKEW_SECS", 6 * 3600);
    let skew_s = skew.to_string();
    // Step 1: HQ on the real clock, a site hours ahead.
    let (c, u) = star(
        &["site-a"],
        &[("SWITCHBOARD_CLOCK_OFFSET_SECS", skew_s.as_str())],
    )
    .await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    // Step 2: submitted orders, known to both.
    let cust = customer(hq, &u.north, "Tim Zone").await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        let o = order(hq, &u.north, &cust).await;
        line(hq, &u.north, &o, "widget", 1).await.expect(201);
        pay_all(hq, &u.north, &o).await.expect(201);
        submit(hq, &u.north, &o).await.expect(200);
        orders.push(o);
    }
    converge(&c, CONVERGE).await;
    // Step 3: cut; on half the orders the site (ahead) releases while HQ places a hold, on the
    // other half the reverse. A wall-clock last-writer-wins would let the site win every time.
    c.link_of("hq", "site-a").cut();
    for (i, o) in orders.iter().enumerate() {
        let (releaser, holder) = if i % 2 == 0 { (site, hq) } else { (hq, site) };
        releaser
            .post(&format!("/api/v1/orders/{o}/release"), &u.north, json!({}))
            .await
            .expect(200);
        hold(holder, &u.north, o, "fraud").await.expect(201);
        note(site, &u.north, o, "site note").await.expect(201);
        note(hq, &u.north, o, "hq note").await.expect(201);
    }
    // Step 4: heal, converge: every order is on hold, whichever clock was ahead.
    c.link_of("hq", "site-a").heal();
    let snap = converge(&c, CONVERGE).await;
    for o in &orders {
        let v = &snap.orders[o];
        assert_eq!(
            v["status"], "on_hold",
            "a concurrent hold beats a release: {v}"
        );
        assert_eq!(v["notes"].as_array().map(Vec::len), Some(2), "{v}");
    }
    check_rules(&snap);
    // Step 5: history holds on both nodes: every change, with each node's own clock.
    let site_snap = snapshot(site, true).await.expect("site snapshot");
    for o in &orders {
        assert_eq!(history_of(&snap, o), history_of(&site_snap, o));
        let h = hq
            .get(&format!("/api/v1/orders/{o}/history"), &u.north)
            .await
            .expect(200)
            .clone();
        let hs = site
            .get(&format!("/api/v1/orders/{o}/history"), &u.north)
            .await
            .expect(200)
            .clone();
        // The same changes in the same (causal, deterministic) order on both nodes.
        assert_eq!(h, hs, "same history on both nodes");
        let changes = h["changes"].as_array().expect("changes");
        let summaries: Vec<&str> = changes
            .iter()
            .filter_map(|c| c["summary"].as_str())
            .collect();
        assert!(changes.len() >= 6, "{summaries:?}");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let ahead = changes.iter().any(|c| {
            c["at"]
                .as_str()
                .and_then(time_secs)
                .is_some_and(|t| t > now + (skew as i64) / 2)
        });
        assert!(
            ahead,
            "the site's changes keep the site's (skewed) time: {h}"
        );
    }
}

/// Seconds since the epoch of an RFC 3339 UTC time (`YYYY-MM-DDTHH:MM:SS...Z`).
fn time_secs(t: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| t.get(r).and_then(|s| s.parse::<i64>().ok());
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}

mod hostile {
    //! Peer requests forged by hand, as a hostile or broken peer would send them (over TLS with
    //! a real peer's key: authentication is not what these test).

    use switchboard_domain::order::{Order, Stamp};
    use switchboard_domain::{CallCenterId, CustomerId, NodeId, OrderId, Timestamp, UserId};
    use switchboard_sync::doc::{create_order_doc, Author};
    use switchboard_sync::protocol::frames::{
        encode_frame, Frame, SyncRequest, WireDoc, WireKind, MAX_FRAME_BYTES,
    };
    use uuid::Uuid;

    pub fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    pub fn request(push: Vec<WireDoc>) -> Vec<u8> {
        encode_frame(&Frame::Request(SyncRequest {
            session: 7,
            n: 0,
            epoch: Uuid::new_v4(),
            push,
            acks: Vec::new(),
            pull: None,
            max_bytes: 65_536,
        }))
    }

    /// An order document of call center `cc`, as bytes.
    pub fn order_doc(cc: &str) -> (Uuid, Vec<[u8; 32]>, Vec<u8>) {
        let id = Uuid::now_v7();
        let order = Order::new(
            OrderId(id),
            CallCenterId::parse(cc).expect("cc"),
            CustomerId(Uuid::new_v4()),
            Stamp {
                by: UserId(Uuid::new_v4()),
                at: Timestamp::from_millis(now_ms()),
            },
        );
        let author = Author {
            actor: automerge::ActorId::random(),
            user: UserId(Uuid::new_v4()),
            node: NodeId(Uuid::new_v4()),
            now: Timestamp::from_millis(now_ms()),
        };
        let doc = create_order_doc(&order, &author).expect("order doc");
        let heads = doc.get_heads().iter().map(|h| h.0).collect();
        (id, heads, doc.save())
    }

    pub fn wire(kind: WireKind, cc: Option<&str>, doc: (Uuid, Vec<[u8; 32]>, Vec<u8>)) -> WireDoc {
        WireDoc {
            doc: doc.0,
            kind,
            call_center: cc.map(|c| CallCenterId::parse(c).expect("cc")),
            heads: doc.1,
            changes: doc.2,
        }
    }

    pub const MAX: u64 = MAX_FRAME_BYTES;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s6_hostile_peer_input_is_refused_and_harmless() {
    use hostile::*;
    use switchboard_sync::protocol::frames::WireKind;
    // Step 1: HQ and a site, synced once (HQ pins the site's identity); some orders.
    let (mut c, u) = star(&["site-a"], &[]).await;
    let cust = customer(c.node("site-a"), &u.north, "Hal Hostile").await;
    let o = order(c.node("site-a"), &u.north, &cust).await;
    line(c.node("site-a"), &u.north, &o, "widget", 1)
        .await
        .expect(201);
    let before = converge(&c, CONVERGE).await;
    let site_dir = c.node("site-a").data_dir.clone();
    let site_id = c.node("site-a").node_id().await;
    let hq = c.node("hq");
    let frame_path = "/sync/v1/frame";
    let hello_path = "/sync/v1/hello";
    let empty = request(Vec::new());
    let post = |path: &'static str, body: Vec<u8>| {
        let hq = c.node("hq");
        let from = site_dir.clone();
        async move {
            hq.peer_post(&from, path, body)
                .await
                .unwrap_or_else(|e| panic!("the site's own key was refused: {e}"))
        }
    };
    // Step 2: a node HQ never added (a stranger's key) is refused at the TLS handshake, for
    // every path; so is the agent API's port for the peer paths (404: not served there).
    let stranger = tempfile::tempdir().expect("temp dir");
    switchboard_node::tls::NodeKey::load_or_create(stranger.path()).expect("stranger key");
    for path in [frame_path, hello_path] {
        let r = hq.peer_post(stranger.path(), path, empty.clone()).await;
        assert!(r.is_err(), "a stranger reached {path}: {r:?}");
    }
    let r = hq.raw(Method::POST, frame_path, &[], empty.clone()).await;
    assert_eq!(r.status, 404, "{}", r.text);
    // Step 3: each hostile request from the real site is refused with a clear 4xx, and the node
    // keeps serving.
    let mut cases: Vec<(&str, Reply, Vec<u16>)> = Vec::new();
    let first = post(frame_path, empty.clone()).await;
    assert_eq!(
        first.status, 200,
        "a genuine frame is served: {}",
        first.text
    );
    let claims_hq = serde_json::to_vec(&serde_json::json!({
        "node_id": site_id, "name": "site-a", "role": "hq", "call_centers": []
    }))
    .expect("json");
    cases.push((
        "a hello that claims HQ",
        post(hello_path, claims_hq).await,
        vec![403],
    ));
    let other_ccs = serde_json::to_vec(&serde_json::json!({
        "node_id": site_id, "name": "site-a", "role": "site", "call_centers": ["north", "south"]
    }))
    .expect("json");
    cases.push((
        "a hello that claims another call center",
        post(hello_path, other_ccs).await,
        vec![403],
    ));
    cases.push((
        "a hello that is not JSON",
        post(hello_path, b"{".to_vec()).await,
        vec![400],
    ));
    let truncated = empty[..empty.len() / 2].to_vec();
    cases.push((
        "truncated frame",
        post(frame_path, truncated).await,
        vec![400],
    ));
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    cases.push(("garbage frame", post(frame_path, garbage).await, vec![400]));
    let mut bad_version = empty.clone();
    bad_version[0] = 0xEE;
    cases.push((
        "unknown frame version",
        post(frame_path, bad_version).await,
        vec![400],
    ));
    // An oversized frame is refused on its declared length, before a byte of it is read.
    let line = hq
        .peer_head_only(&site_dir, frame_path, MAX + 1024)
        .await
        .expect("the site's own key");
    assert!(line.contains(" 413 "), "oversized frame: {line}");
    for (what, push) in [
        (
            "another call center's order",
            vec![wire(WireKind::Order, Some("south"), order_doc("south"))],
        ),
        (
            "a configuration document from a site",
            vec![wire(
                WireKind::CallCenter,
                Some("north"),
                order_doc("north"),
            )],
        ),
        (
            "the catalog from a site",
            vec![wire(WireKind::Catalog, None, order_doc("north"))],
        ),
    ] {
        cases.push((what, post(frame_path, request(push)).await, vec![403]));
    }
    // In scope on its label, but the content says otherwise: refused, not stored.
    let body = request(vec![wire(
        WireKind::Order,
        Some("north"),
        order_doc("south"),
    )]);
    cases.push((
        "an order whose label lies about its call center",
        post(frame_path, body).await,
        vec![400, 403, 422],
    ));
    let (id, heads, _) = order_doc("north");
    let body = request(vec![wire(
        WireKind::Order,
        Some("north"),
        (id, heads, b"not automerge".to_vec()),
    )]);
    cases.push((
        "an order whose changes are garbage",
        post(frame_path, body).await,
        vec![400, 422],
    ));
    let mut failures = Vec::new();
    for (what, r, statuses) in &cases {
        eprintln!("s6 {what}: {} {}", r.status, r.body["detail"]);
        let ok = statuses.contains(&r.status)
            && r.content_type == "application/problem+json"
            && r.body["detail"].as_str().is_some_and(|d| !d.is_empty());
        if !ok {
            failures.push(format!(
                "{what}: expected {statuses:?}, got {} {}",
                r.status, r.text
            ));
        }
        let health = hq.call(Method::GET, "/healthz", None, None).await;
        assert_eq!(health.status, 200, "still serving after {what}");
    }
    assert!(
        failures.is_empty(),
        "hostile input not refused as expected:\n{}",
        failures.join("\n")
    );
    // Step 3: nothing changed, and genuine sessions still work both ways.
    assert_eq!(c.node("site-a").sync_with("hq").await["ok"], true);
    assert_eq!(hq.sync_with("site-a").await["ok"], true);
    let after = compare(&c).await.unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(after.orders, before.orders, "hostile input changed nothing");
    assert_eq!(hq.order_count().await, before.orders.len() as u64);
    // Step 4: the stopped node's store verifies.
    let hq = c.node_mut("hq");
    assert!(hq.stop().await.success());
    let out = hq.verify();
    assert!(
        out.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s7_agent_api_abuse_is_refused_without_change() {
    // Step 1: HQ and a site; orders in both call centers.
    let (c, u) = star(&["site-a"], &[]).await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    let cust = customer(site, &u.north, "Abe Abuse").await;
    let o = order(site, &u.north, &cust).await;
    line(site, &u.north, &o, "widget", 1).await.expect(201);
    let scust = customer(hq, &u.south, "Sal South").await;
    let so = order(hq, &u.south, &scust).await;
    line(hq, &u.south, &so, "widget", 1).await.expect(201);
    let before = converge(&c, CONVERGE).await;
    let line_id = before.orders[&o]["lines"][0]["id"]
        .as_str()
        .expect("line id")
        .to_string();
    let nobody = uuid::Uuid::new_v4();
    let big = format!("{{\"text\": \"{}\"}}", "x".repeat(3 * 1024 * 1024));
    let json_ct = ("content-type", "application/json".to_string());
    let bearer = |t: &str| ("authorization", format!("Bearer {t}"));
    // (what, node, method, path, headers, body, allowed statuses, code if fixed)
    type Case<'a> = (
        &'a str,
        &'a Node,
        Method,
        String,
        Vec<(&'a str, String)>,
        Vec<u8>,
        Vec<u16>,
        Option<&'a str>,
    );
    let n_ = &u.north;
    let mut cases: Vec<Case<'_>> = Vec::new();
    for node in [hq, site] {
        let auth = vec![json_ct.clone(), bearer(n_)];
        cases.extend([
            (
                "malformed json",
                node,
                Method::POST,
                "/api/v1/orders".to_string(),
                auth.clone(),
                b"{\"customer_id\": ".to_vec(),
                vec![400, 422],
                None,
            ),
            (
                "not json at all",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/notes"),
                auth.clone(),
                b"\xff\xfe garbage".to_vec(),
                vec![400, 422],
                None,
            ),
            (
                "wrong type",
                node,
                Method::POST,
                "/api/v1/orders".to_string(),
                auth.clone(),
                br#"{"customer_id": 5}"#.to_vec(),
                vec![400, 422],
                None,
            ),
            (
                "array body",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/lines"),
                auth.clone(),
                br#"[1,2,3]"#.to_vec(),
                vec![400, 422],
                None,
            ),
            (
                "quantity as string",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/lines"),
                auth.clone(),
                br#"{"product_id":"widget","quantity":"two"}"#.to_vec(),
                vec![422],
                Some("validation"),
            ),
            (
                "negative quantity",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/lines"),
                auth.clone(),
                br#"{"product_id":"widget","quantity":-3}"#.to_vec(),
                vec![422],
                Some("validation"),
            ),
            (
                "huge quantity",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/lines"),
                auth.clone(),
                br#"{"product_id":"widget","quantity":99999999999999999999}"#.to_vec(),
                vec![422],
                Some("validation"),
            ),
            (
                "money as a number",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/payments"),
                auth.clone(),
                br#"{"method":"card","amount":10}"#.to_vec(),
                vec![422],
                Some("validation"),
            ),
            (
                "money not a decimal",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/payments"),
                auth.clone(),
                br#"{"method":"card","amount":"lots"}"#.to_vec(),
                vec![422],
                Some("validation"),
            ),
            (
                "unknown payment method",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/payments"),
                auth.clone(),
                br#"{"method":"bitcoin","amount":"1.00"}"#.to_vec(),
                vec![422],
                None,
            ),
            (
                "unknown hold code",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/holds"),
                auth.clone(),
                br#"{"code":"nope","reason":"x"}"#.to_vec(),
                vec![422],
                None,
            ),
            (
                "unknown field",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/notes"),
                auth.clone(),
                br#"{"text":"hi","admin":true}"#.to_vec(),
                vec![422],
                Some("validation"),
            ),
            (
                "huge body",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/notes"),
                auth.clone(),
                big.clone().into_bytes(),
                vec![413],
                Some("payload_too_large"),
            ),
            (
                "unknown order",
                node,
                Method::GET,
                format!("/api/v1/orders/{nobody}"),
                auth.clone(),
                Vec::new(),
                vec![404],
                Some("not_found"),
            ),
            (
                "not an id",
                node,
                Method::GET,
                "/api/v1/orders/..%2f..%2fetc".to_string(),
                auth.clone(),
                Vec::new(),
                vec![404],
                Some("not_found"),
            ),
            (
                "line on unknown order",
                node,
                Method::POST,
                format!("/api/v1/orders/{nobody}/lines"),
                auth.clone(),
                br#"{"product_id":"widget","quantity":1}"#.to_vec(),
                vec![404],
                Some("not_found"),
            ),
            (
                "unknown line",
                node,
                Method::PATCH,
                format!("/api/v1/orders/{o}/lines/{nobody}"),
                auth.clone(),
                br#"{"quantity":2}"#.to_vec(),
                vec![404],
                Some("not_found"),
            ),
            (
                "unknown hold",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/holds/{nobody}/clear"),
                auth.clone(),
                br#"{"reason":"x"}"#.to_vec(),
                vec![404],
                Some("not_found"),
            ),
            (
                "unknown payment",
                node,
                Method::DELETE,
                format!("/api/v1/orders/{o}/payments/{nobody}"),
                vec![bearer(n_)],
                Vec::new(),
                vec![404],
                Some("not_found"),
            ),
            (
                "unknown product",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/lines"),
                auth.clone(),
                br#"{"product_id":"nope","quantity":1}"#.to_vec(),
                vec![404, 422],
                None,
            ),
            (
                "unknown customer",
                node,
                Method::POST,
                "/api/v1/orders".to_string(),
                auth.clone(),
                format!(r#"{{"customer_id":"{nobody}","delivery_mode":"std"}}"#).into_bytes(),
                vec![404, 422],
                None,
            ),
            (
                "another call center's order",
                node,
                Method::GET,
                format!("/api/v1/orders/{so}"),
                auth.clone(),
                Vec::new(),
                vec![404],
                Some("not_found"),
            ),
            (
                "pay another call center's order",
                node,
                Method::POST,
                format!("/api/v1/orders/{so}/payments"),
                auth.clone(),
                br#"{"method":"card","amount":"1.00"}"#.to_vec(),
                vec![404],
                Some("not_found"),
            ),
            (
                "cancel another call center's order",
                node,
                Method::POST,
                format!("/api/v1/orders/{so}/cancel"),
                auth.clone(),
                br#"{"reason":"mine now"}"#.to_vec(),
                vec![404],
                Some("not_found"),
            ),
            (
                "missing token",
                node,
                Method::GET,
                format!("/api/v1/orders/{o}"),
                Vec::new(),
                Vec::new(),
                vec![401],
                Some("unauthorized"),
            ),
            (
                "unknown token",
                node,
                Method::GET,
                "/api/v1/orders".to_string(),
                vec![bearer("sb_0123456789abcdef")],
                Vec::new(),
                vec![401],
                Some("unauthorized"),
            ),
            (
                "empty bearer",
                node,
                Method::GET,
                "/api/v1/orders".to_string(),
                vec![("authorization", "Bearer ".to_string())],
                Vec::new(),
                vec![401],
                Some("unauthorized"),
            ),
            (
                "basic auth",
                node,
                Method::GET,
                "/api/v1/orders".to_string(),
                vec![("authorization", "Basic YWRtaW46YWRtaW4=".to_string())],
                Vec::new(),
                vec![401],
                Some("unauthorized"),
            ),
            (
                "write without token",
                node,
                Method::POST,
                format!("/api/v1/orders/{o}/notes"),
                vec![json_ct.clone()],
                br#"{"text":"anonymous"}"#.to_vec(),
                vec![401],
                Some("unauthorized"),
            ),
            (
                "agent writes configuration",
                node,
                Method::PUT,
                "/api/v1/products/widget".to_string(),
                auth.clone(),
                br#"{"name":"Free","price":"0.00"}"#.to_vec(),
                vec![403],
                Some("forbidden"),
            ),
            (
                "agent adds a peer",
                node,
                Method::POST,
                "/api/v1/peers".to_string(),
                auth.clone(),
                format!(
                    r#"{{"name":"evil","url":"https://127.0.0.1:9","node_id":"{}","role":"hq","call_centers":[]}}"#,
                    "ab".repeat(32)
                )
                .into_bytes(),
                vec![403],
                Some("forbidden"),
            ),
            (
                "agent runs a sync",
                node,
                Method::POST,
                "/api/v1/sync".to_string(),
                vec![bearer(n_)],
                Vec::new(),
                vec![403],
                Some("forbidden"),
            ),
            (
                "agent of another call center",
                node,
                Method::GET,
                format!("/api/v1/orders/{o}"),
                vec![bearer(&u.south)],
                Vec::new(),
                if node.name == "hq" {
                    vec![404]
                } else {
                    vec![401]
                },
                None,
            ),
        ]);
    }
    cases.push((
        "configuration written at a site",
        site,
        Method::PUT,
        "/api/v1/products/widget".to_string(),
        vec![json_ct.clone(), bearer(&site.admin)],
        br#"{"name":"Cheap","price":"0.01"}"#.to_vec(),
        vec![403],
        Some("forbidden"),
    ));
    cases.push((
        "price override beyond an agent's limit",
        site,
        Method::PATCH,
        format!("/api/v1/orders/{o}/lines/{line_id}"),
        vec![json_ct.clone(), bearer(n_)],
        br#"{"unit_price":"1.00","override_reason":"match"}"#.to_vec(),
        vec![403],
        Some("price_override_not_allowed"),
    ));
    // Step 2: every case answers its documented 4xx, never a 500.
    let mut failures = Vec::new();
    for (what, node, method, path, headers, body, statuses, code) in cases {
        // A body past the limit is refused on its declared length; sending it whole would race
        // the node closing the connection, so only its head is sent.
        let r = if body.len() > 1 << 20 {
            assert_eq!(method, Method::POST, "{what}: oversized cases are POSTs");
            node.post_head_only(&path, &headers, body.len() as u64)
                .await
        } else {
            node.raw(method.clone(), &path, &headers, body).await
        };
        eprintln!("s7 {} {what}: {} {}", node.name, r.status, r.body["code"]);
        let good = statuses.contains(&r.status)
            && r.content_type == "application/problem+json"
            && code.is_none_or(|c| r.body["code"] == c)
            && r.body["detail"].as_str().is_some_and(|d| !d.is_empty());
        if !good {
            failures.push(format!(
                "{} {what} ({method} {path}): expected {statuses:?} {code:?}, got {} {}",
                node.name, r.status, r.text
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "abuse not refused as documented:\n{}",
        failures.join("\n")
    );
    // Step 3: nothing changed anywhere (the supervisor can still work normally).
    let after = compare(&c).await.unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(
        after.orders, before.orders,
        "refused requests changed nothing"
    );
    note(site, &u.north_sup, &o, "all good").await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s8_one_way_cuts_and_latency_still_converge() {
    let n = param("SOAK_ORDERS", 6);
    // Step 1: HQ and a site; 40 ms added to every chunk both ways.
    let (c, u) = star(&["site-a"], &[]).await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    let link = c.link_of("hq", "site-a");
    for p in link.proxies() {
        p.set_latency(Duration::from_millis(40));
        // Open (pooled) connections were made without latency: start afresh.
        p.reset();
    }
    let cust = customer(site, &u.north, "Wendy Oneway").await;
    let scust = customer(hq, &u.north, "Harry HQ").await;
    // Step 2: HQ cannot dial the site (the site can dial HQ); both take orders.
    link.dialed_by("hq").cut();
    let mut ids = BTreeSet::new();
    for _ in 0..n {
        let o = order(site, &u.north, &cust).await;
        line(site, &u.north, &o, "widget", 1).await.expect(201);
        let h = order(hq, &u.north, &scust).await;
        line(hq, &u.north, &h, "gadget", 1).await.expect(201);
        ids.extend([o, h]);
    }
    assert_eq!(hq.sync_with("site-a").await["ok"], false);
    // Step 3: sessions the site starts carry both directions.
    let t = Instant::now();
    let r = site.sync_with("hq").await;
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        t.elapsed() >= Duration::from_millis(80),
        "the latency applies"
    );
    for id in &ids {
        hq.get(&format!("/api/v1/orders/{id}"), &u.north)
            .await
            .expect(200);
        site.get(&format!("/api/v1/orders/{id}"), &u.north)
            .await
            .expect(200);
    }
    // Step 4: the other way round: the site cannot dial HQ; edits on both sides reach both
    // through HQ's sessions.
    link.dialed_by("hq").heal();
    link.dialed_by("site-a").cut();
    let some: Vec<String> = ids.iter().take(2).cloned().collect();
    note(site, &u.north, &some[0], "from the site")
        .await
        .expect(201);
    note(hq, &u.north, &some[1], "from HQ").await.expect(201);
    assert_eq!(site.sync_with("hq").await["ok"], false);
    assert_eq!(hq.sync_with("site-a").await["ok"], true);
    let a = snapshot(hq, true).await.expect("hq snapshot");
    let b = snapshot(site, true).await.expect("site snapshot");
    assert_eq!(a.orders, b.orders, "one direction of dialing suffices");
    // Step 5: healed, everything agrees.
    link.heal();
    converge(&c, CONVERGE).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_forwards_cuts_and_drops_after_n_bytes() {
    use switchboard_tests::proxy::Proxy;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    // An echo server on loopback.
    let echo = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = echo.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let p = Proxy::start(addr);
    let roundtrip = |len: usize| {
        let to = p.addr();
        async move {
            let mut s = tokio::net::TcpStream::connect(to).await.ok()?;
            let out = vec![7u8; len];
            s.write_all(&out).await.ok()?;
            let mut back = vec![0u8; len];
            let read = tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut back))
                .await
                .ok()?;
            read.ok()?;
            Some(back == out)
        }
    };
    // Step 1: bytes pass both ways.
    assert_eq!(roundtrip(10_000).await, Some(true));
    // Step 2: cut: nothing passes; healed: it does again.
    p.cut();
    assert_eq!(roundtrip(100).await, None);
    p.heal();
    assert_eq!(roundtrip(100).await, Some(true));
    // Step 3: a connection dies after N bytes (both directions counted).
    p.drop_after(Some(1_000));
    assert_eq!(roundtrip(400).await, Some(true), "800 bytes fit");
    assert_eq!(roundtrip(600).await, None, "1,200 bytes do not");
    p.drop_after(None);
    assert_eq!(roundtrip(5_000).await, Some(true));
    // Step 4: latency delays, without losing bytes.
    p.set_latency(Duration::from_millis(100));
    let t = Instant::now();
    assert_eq!(roundtrip(1_000).await, Some(true));
    assert!(
        t.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t.elapsed()
    );
    let st = p.stats();
    assert!(
        st.refused >= 1 && st.dropped >= 1 && st.accepted >= 5,
        "{st:?}"
    );
}

/// libfaketime's preload library, as Debian's `faketime` package installs it (scripts/test.sh
/// installs the package).
fn libfaketime() -> String {
    let found = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/usr/lib",
    ]
    .iter()
    .map(|d| format!("{d}/faketime/libfaketime.so.1"))
    .find(|p| std::path::Path::new(p).exists());
    found.unwrap_or_else(|| {
        panic!("libfaketime not found: install Debian's faketime package (scripts/test.sh does)")
    })
}

/// Peer authentication reads no clock: a site whose system clock (the whole process's, through
/// libfaketime) runs five days ahead and one five days behind both sync with HQ, both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s9_sites_whose_clocks_run_days_ahead_or_behind_still_sync() {
    let lib = libfaketime();
    let mut c = Cluster::new();
    c.add(NodeSpec::hq("hq")).await;
    for (name, offset) in [("site-ahead", "+5d"), ("site-behind", "-5d")] {
        let spec = NodeSpec::site(name, &["north"])
            .env("LD_PRELOAD", &lib)
            .env("FAKETIME", offset)
            // Timers (tokio, hyper) keep the real monotonic clock.
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1");
        c.add(spec).await;
        c.link("hq", name).await;
    }
    // Step 1: the configuration and the users reach both sites over TLS.
    let u = configure(c.node("hq")).await;
    wait_config(&c, &u.north).await;
    // Step 2: each site takes an order, stamped with its own (skewed) clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut orders = Vec::new();
    for (name, sign) in [("site-ahead", 1i64), ("site-behind", -1)] {
        let n = c.node(name);
        let cust = customer(n, &u.north, "Tess Skew").await;
        let o = order(n, &u.north, &cust).await;
        line(n, &u.north, &o, "widget", 1).await.expect(201);
        let v = view(n, &u.north, &o).await;
        let created = v["created_at"]
            .as_str()
            .and_then(time_secs)
            .unwrap_or_else(|| panic!("no created_at in {v}"));
        assert!(
            sign * (created - now) > 4 * 86_400,
            "{name}'s clock is not skewed: created_at {created}, now {now}"
        );
        orders.push(o);
    }
    // Step 3: everything converges, and every session went through.
    let snap = converge(&c, CONVERGE).await;
    for o in &orders {
        assert!(
            snap.orders.contains_key(o),
            "order {o} did not reach everyone"
        );
    }
    for (from, r) in c.sync_round().await {
        assert_eq!(r["ok"], true, "{from}: {r}");
    }
}

/// The session timeout the session tests give both nodes (`SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS`).
const SESSION_SECS: u64 = 15;
/// What a `POST /api/v1/sync` may take past the session timeout (the answer's own round trip,
/// recording the outcome): a session still running past `SESSION_SECS + SESSION_MARGIN` never
/// ends, which is the bug these tests look for (a bound on correctness, not a speed).
const SESSION_MARGIN: Duration = Duration::from_secs(30);

/// `POST /api/v1/sync?peer=…` on `from`, which must end (ok or with an error) before the session
/// timeout plus the margin; the peer's line.
async fn bounded_sync(from: &Node, peer: &str) -> Value {
    let bound = Duration::from_secs(SESSION_SECS) + SESSION_MARGIN;
    let r = tokio::time::timeout(
        bound,
        from.try_call(
            Method::POST,
            &format!("/api/v1/sync?peer={peer}"),
            Some(&from.admin),
            None,
        ),
    )
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{} -> {peer}: the session did not end within {bound:?}\n{}",
            from.name,
            from.log_tail(30)
        )
    })
    .unwrap_or_else(|e| panic!("{} -> {peer}: {e}", from.name));
    let body = r.expect(200);
    body["peers"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["name"] == peer))
        .cloned()
        .unwrap_or_else(|| panic!("no line for {peer} in {body}"))
}

/// Both HQ and a site start sessions with each other at the same moment, round after round, while
/// both take writes: every session ends, and ends well (neither side's session waits on the
/// other's), and the two converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s10_both_sides_initiating_at_once_never_stall() {
    let rounds = param("SOAK_BOTH_WAYS", 20);
    let env = [
        ("SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS", "15"),
        ("SWITCHBOARD_SYNC_FRAME_BYTES", "32768"),
    ];
    let (c, u) = star_with(&["site-a"], &env, &env).await;
    let (hq, site) = (c.node("hq"), c.node("site-a"));
    let at_site = customer(site, &u.north, "Both Ways").await;
    let at_hq = customer(hq, &u.north_sup, "Other Way").await;
    for round in 0..rounds {
        // Something new on each side, so both sessions carry documents both ways.
        let o = order(site, &u.north, &at_site).await;
        line(site, &u.north, &o, "widget", 1).await.expect(201);
        let o = order(hq, &u.north_sup, &at_hq).await;
        line(hq, &u.north_sup, &o, "gadget", 1).await.expect(201);
        let (from_hq, from_site) =
            tokio::join!(bounded_sync(hq, "site-a"), bounded_sync(site, "hq"));
        for (who, r) in [("hq -> site-a", &from_hq), ("site-a -> hq", &from_site)] {
            assert_eq!(r["ok"], true, "round {round}: {who}: {r}");
        }
    }
    converge(&c, CONVERGE).await;
}

/// A site is SIGKILLed while HQ's session with it is in flight and while it takes writes, three
/// times, and restarted each time: HQ's session in flight ends (with an error) within the
/// session timeout, HQ's next sessions with the restarted site end too, ok (as do the site's
/// own, started at the same moment), and the two converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s11_peer_killed_mid_session_then_restarted_never_stalls() {
    let kills = param("SOAK_KILLS", 3);
    let env = [
        ("SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS", "15"),
        // Small frames: a catch-up takes many round trips, so a kill lands inside a session.
        ("SWITCHBOARD_SYNC_FRAME_BYTES", "16384"),
    ];
    let (mut c, u) = star_with(&["site-a"], &env, &env).await;
    let cust = customer(c.node("site-a"), &u.north, "Killed Mid Session").await;
    for k in 0..kills {
        // Step 1: the site takes orders while cut off, so HQ's next session is a long pull.
        c.link_of("hq", "site-a").cut();
        let acked = Arc::new(Mutex::new(BTreeMap::new()));
        let w = Writer {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            base: c.node("site-a").url(),
            token: u.north.clone(),
            customer: cust.clone(),
            acked: acked.clone(),
        };
        w.clone().run(40).await;
        // Step 2: writers keep going, the link heals and HQ starts pulling; the site is
        // killed while that session is in flight.
        let writers: Vec<_> = (0..2).map(|_| tokio::spawn(w.clone().run(5_000))).collect();
        c.link_of("hq", "site-a").heal();
        let in_flight = {
            let hq = c.node("hq");
            let hq_url = hq.url();
            let admin = hq.admin.clone();
            // The session runs in its own task, through its own client, so the kill below
            // happens while it is under way.
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .no_proxy()
                    .build()
                    .expect("client");
                let started = Instant::now();
                let r = tokio::time::timeout(
                    Duration::from_secs(SESSION_SECS) + SESSION_MARGIN,
                    http.post(format!("{hq_url}/api/v1/sync?peer=site-a"))
                        .bearer_auth(admin)
                        .send(),
                )
                .await;
                (r.map(|r| r.map(|r| r.status().as_u16())), started.elapsed())
            })
        };
        // Once HQ has started receiving, or shortly after.
        let until = Instant::now() + Duration::from_secs(5);
        let proxy = c.link_of("hq", "site-a").dialed_by("hq");
        let before = proxy.stats().bytes;
        while proxy.stats().bytes < before + 20_000 && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        c.node_mut("site-a").kill().await;
        for wr in writers {
            tokio::time::timeout(Duration::from_secs(60), wr)
                .await
                .expect("writer stops after the kill")
                .expect("writer task");
        }
        let (ended, took) = in_flight.await.expect("session task");
        let status = ended
            .unwrap_or_else(|_| {
                panic!("kill {k}: HQ's session in flight did not end within the session timeout")
            })
            .expect("HQ answers POST /api/v1/sync");
        assert_eq!(status, 200, "kill {k}: POST /api/v1/sync at HQ");
        eprintln!("s11 kill {k}: HQ's session in flight ended after {took:?}");
        // Step 3: restart; sessions started at once from both sides end, ok.
        c.restart("site-a").await;
        let (hq, site) = (c.node("hq"), c.node("site-a"));
        for round in 0..3 {
            let (from_hq, from_site) =
                tokio::join!(bounded_sync(hq, "site-a"), bounded_sync(site, "hq"));
            for (who, r) in [("hq -> site-a", &from_hq), ("site-a -> hq", &from_site)] {
                assert_eq!(r["ok"], true, "kill {k}, round {round}: {who}: {r}");
            }
        }
    }
    converge(&c, CONVERGE).await;
}

/// A peer that stops answering (its link holds every byte for an hour): a session with it, and
/// a second one started meanwhile that waits for the first, both end with the session timeout's
/// error within the bound; once the link carries bytes again the next session ends ok.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s12_a_silent_peer_ends_sessions_at_the_session_timeout() {
    let env = [("SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS", "15")];
    // The site waits for a handshake longer than that: what ends the session is HQ's own bound,
    // not the peer giving up first.
    let site_env = [
        ("SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS", "15"),
        ("SWITCHBOARD_HEADER_READ_TIMEOUT_SECS", "300"),
    ];
    let (c, _u) = star_with(&["site-a"], &env, &site_env).await;
    let hq = c.node("hq");
    let proxy = c.link_of("hq", "site-a").dialed_by("hq");
    proxy.set_latency(Duration::from_secs(3600));
    // Open connections too: HQ must dial a new one, which carries nothing.
    proxy.reset();
    let (first, second) = tokio::join!(bounded_sync(hq, "site-a"), bounded_sync(hq, "site-a"));
    // A session may still pick a pooled connection the reset just killed and fail at once
    // (peer unreachable); it drops the peer's client, so the next one dials anew and meets the
    // silence: at least one of the two ends at the session timeout, both end with an error.
    let mut timed_out = 0;
    for r in [&first, &second] {
        assert_eq!(r["ok"], false, "{r}");
        let e = r["error"].as_str().unwrap_or_default();
        if e.contains("did not end within 15 seconds") {
            timed_out += 1;
        } else {
            assert!(e.contains("peer unreachable"), "a clear error: {r}");
        }
    }
    assert!(
        timed_out >= 1,
        "one session met the silent peer: {first} {second}"
    );
    proxy.clear();
    let r = bounded_sync(hq, "site-a").await;
    assert_eq!(r["ok"], true, "after the link carries bytes again: {r}");
}
