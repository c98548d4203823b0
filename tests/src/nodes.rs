//! Real nodes in this process: each a `switchboard_node::serve` on its own sled store in a temp
//! dir, bound to 127.0.0.1 port 0, talked to over real HTTP (agents and admins) and real TLS with
//! pinned node ids (peers, on each node's own peers' listener).

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard_domain::CallCenterId;
use switchboard_node::config::NodeConfig;
use switchboard_sync::protocol::Role;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running node.
pub struct Node {
    /// Base URL.
    pub url: String,
    /// Base URL of its peers' listener (`https://`).
    pub sync_url: String,
    /// Its node id (certificate fingerprint).
    pub fingerprint: String,
    /// Its role.
    pub role: Role,
    /// Its call centers.
    pub call_centers: Vec<String>,
    /// The admin token from `init`.
    pub admin: String,
    /// Node name.
    pub name: String,
    dir: tempfile::TempDir,
    cfg: NodeConfig,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), switchboard_node::NodeError>>>,
    http: reqwest::Client,
}

/// Status and JSON body of an answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status.
    pub status: StatusCode,
    /// Body (`Null` when empty or not JSON).
    pub body: Value,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "answer: {:?}", self.body);
        &self.body
    }
}

impl Node {
    /// Initialises and starts a node (`call_centers` only for sites). Its background sync
    /// loop is kept out of the way: tests drive sessions with `POST /api/v1/sync`.
    pub async fn start(name: &str, role: Role, call_centers: &[&str]) -> Node {
        Self::start_configured(name, role, call_centers, |_| {}).await
    }

    /// Like [`Node::start`], with the background sync loop running every `secs` seconds.
    pub async fn start_with_interval(
        name: &str,
        role: Role,
        call_centers: &[&str],
        secs: u64,
    ) -> Node {
        Self::start_configured(name, role, call_centers, |c| c.sync_interval_secs = secs).await
    }

    /// Like [`Node::start`], with the configuration adjusted by `edit` (limits, timeouts).
    pub async fn start_configured(
        name: &str,
        role: Role,
        call_centers: &[&str],
        edit: impl FnOnce(&mut NodeConfig),
    ) -> Node {
        let dir = tempfile::tempdir().expect("temp dir");
        let ccs: Vec<CallCenterId> = call_centers
            .iter()
            .map(|c| CallCenterId::parse(*c).expect("cc id"))
            .collect();
        let out = switchboard_node::identity::init_data_dir(dir.path(), name, role, &ccs, false)
            .expect("init");
        let mut cfg = NodeConfig {
            data_dir: dir.path().to_path_buf(),
            listen: "127.0.0.1:0".parse().expect("addr"),
            name: name.to_string(),
            role,
            call_centers: ccs,
            sync_interval_secs: 3600,
            ..NodeConfig::default()
        };
        edit(&mut cfg);
        let mut node = Node {
            url: String::new(),
            sync_url: String::new(),
            fingerprint: out.fingerprint.to_string(),
            role,
            call_centers: call_centers.iter().map(|c| c.to_string()).collect(),
            admin: out.admin_token,
            name: name.to_string(),
            dir,
            cfg,
            stop: None,
            task: None,
            http: reqwest::Client::new(),
        };
        node.serve().await;
        node
    }

    async fn serve(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        self.url = format!("http://{}", listener.local_addr().expect("addr"));
        let sync = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        self.sync_url = format!("https://{}", sync.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let cfg = self.cfg.clone();
        self.task = Some(tokio::spawn(switchboard_node::server::serve_with(
            cfg,
            listener,
            Some(sync),
            async move {
                let _ = rx.await;
            },
            None,
        )));
        self.stop = Some(tx);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.url)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {} did not become ready",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops gracefully (drain, flush) and starts again on the same data dir.
    pub async fn restart(&mut self) {
        self.shutdown().await;
        self.serve().await;
    }

    /// Stops gracefully.
    pub async fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("node task").expect("node stopped cleanly");
        }
    }

    /// The configuration the next [`Node::restart`] starts with.
    pub fn config_mut(&mut self) -> &mut NodeConfig {
        &mut self.cfg
    }

    /// The data dir.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// One request with a bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.url, path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        Reply {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
        }
    }

    /// GET.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    /// The body that adds this node as a peer: its node id, peers' listener, role and call
    /// centers, as an admin declares them.
    pub fn peer_body(&self) -> Value {
        json!({
            "name": self.name,
            "url": self.sync_url,
            "node_id": self.fingerprint,
            "role": self.role.as_str(),
            "call_centers": self.call_centers,
        })
    }

    /// Registers `other` as a peer of this node, by node id.
    pub async fn add_peer(&self, other: &Node) {
        self.post("/api/v1/peers", &self.admin, other.peer_body())
            .await
            .expect(201);
    }

    /// Runs a sync session with every peer (or one) now; panics unless every session succeeded.
    pub async fn sync(&self, peer: Option<&str>) -> Value {
        let path = match peer {
            Some(p) => format!("/api/v1/sync?peer={p}"),
            None => "/api/v1/sync".to_string(),
        };
        let r = self.post(&path, &self.admin, json!({})).await;
        let body = r.expect(200).clone();
        for p in body["peers"].as_array().expect("peers") {
            assert_eq!(p["ok"], true, "sync from {} failed: {p}", self.name);
        }
        body
    }

    /// Creates a user at this (HQ) node and returns the token.
    pub async fn user(&self, cc: &str, name: &str, role: &str) -> String {
        let r = self
            .post(
                &format!("/api/v1/call-centers/{cc}/users"),
                &self.admin,
                json!({"name": name, "role": role}),
            )
            .await;
        r.expect(201)["token"].as_str().expect("token").to_string()
    }

    /// Every order view this node holds for a token, by id (lists, then fetches each).
    pub async fn order_views(&self, token: &str) -> std::collections::BTreeMap<String, Value> {
        let mut out = std::collections::BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/orders?limit=500&cursor={c}"),
                None => "/api/v1/orders?limit=500".to_string(),
            };
            let list = self.get(&path, token).await.expect(200).clone();
            for s in list["items"].as_array().expect("items") {
                let id = s["id"].as_str().expect("id").to_string();
                let mut v = self
                    .get(&format!("/api/v1/orders/{id}"), token)
                    .await
                    .expect(200)
                    .clone();
                // When the view was last touched differs by node clock only in tests that skew it.
                v.as_object_mut().map(|o| o.remove("updated_at"));
                out.insert(id, v);
            }
            match list["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        out
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `secs` seconds.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Configures call center `cc` with the standard test configuration at HQ, plus products
/// `widget` (19.99) and `gadget` (30.00), and coupon `ONCE` (5.00 off, one use).
pub async fn configure(hq: &Node, ccs: &[&str]) {
    for cc in ccs {
        hq.put(
            &format!("/api/v1/call-centers/{cc}"),
            &hq.admin,
            crate::api_harness::call_center_body(cc),
        )
        .await
        .expect(200);
    }
    for (id, price) in [("widget", "19.99"), ("gadget", "30.00")] {
        hq.put(
            &format!("/api/v1/products/{id}"),
            &hq.admin,
            json!({"name": id, "price": price, "allow_price_override": true, "image_url": null,
                   "upsell": [], "cross_sell": [], "script": null, "continuity": null}),
        )
        .await
        .expect(200);
    }
    hq.put(
        "/api/v1/coupons/ONCE",
        &hq.admin,
        json!({"kind": "amount", "value": "5.00", "min_order": "0.00", "valid_from": null, "valid_to": null, "max_uses": 1}),
    )
    .await
    .expect(200);
}

/// Creates a customer and an order with one line; returns the order id.
pub async fn new_order(node: &Node, token: &str, product: &str, qty: i64) -> String {
    let c = node
        .post("/api/v1/customers", token, json!({"name": "Ada Buyer", "phone": "+1 555 0100", "email": "ada@example.com", "address": {}}))
        .await;
    let customer = c.expect(201)["id"]
        .as_str()
        .expect("customer id")
        .to_string();
    let o = node
        .post("/api/v1/orders", token, json!({"customer_id": customer, "source_code": null, "delivery_mode": "std", "ship_to": {}}))
        .await;
    let id = o.expect(201)["id"].as_str().expect("order id").to_string();
    node.post(
        &format!("/api/v1/orders/{id}/lines"),
        token,
        json!({"product_id": product, "quantity": qty}),
    )
    .await
    .expect(201);
    id
}
