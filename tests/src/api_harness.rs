//! In-process API harness: a real node store (sled) in a temp dir behind `app(state)`, driven
//! with `tower::ServiceExt::oneshot`, with a clock the test moves by hand.

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use switchboard_domain::{CallCenterId, Timestamp};
use switchboard_node::config::NodeConfig;
use switchboard_node::service::AppState;
use switchboard_sync::protocol::Role;
use tower::ServiceExt;

/// 2026-11-28T12:00:00Z, the harness's default "now".
pub const T0: i64 = 1_795_867_200_000;
/// Lifetime of the harness's tokens, days (the first admin's: twice that).
pub const TOKEN_DAYS: u64 = 10 * 365;

fn clock_of(now: &Arc<AtomicI64>) -> switchboard_node::service::Clock {
    let now = now.clone();
    Arc::new(move || Timestamp::from_millis(now.load(Ordering::SeqCst)))
}

/// An answer: status, content type and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Content-Type header.
    pub content_type: String,
    /// Body as JSON.
    pub body: Value,
    /// Body as text.
    pub text: String,
}

impl Answer {
    /// Asserts a problem+json answer with this status and code, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "status of {self:?}");
        assert_eq!(
            self.content_type, "application/problem+json",
            "content type of {self:?}"
        );
        assert_eq!(self.body["code"], code, "code of {self:?}");
        assert_eq!(self.body["status"], status, "status field of {self:?}");
        assert!(
            self.body["title"].is_string()
                && self.body["type"].is_string()
                && self.body["detail"].is_string()
        );
        self
    }

    /// Asserts a success status and returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "answer {self:?}");
        &self.body
    }

    /// The field names of a validation problem's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// One node in a temp dir with its app.
pub struct ApiNode {
    /// The router under test.
    pub app: Router,
    /// The state behind it.
    pub state: AppState,
    /// The first admin's token.
    pub admin: String,
    /// The harness clock, milliseconds since the epoch.
    pub now: Arc<AtomicI64>,
    /// The configuration the node was opened with.
    pub config: NodeConfig,
    dir: Arc<tempfile::TempDir>,
}

impl ApiNode {
    /// An HQ node.
    pub fn hq() -> ApiNode {
        Self::start(Role::Hq, &[], 64 * 1024)
    }

    /// A site node serving `cc1`.
    pub fn site() -> ApiNode {
        Self::start(Role::Site, &["cc1"], 64 * 1024)
    }

    /// A node with a role, call centers and body limit.
    pub fn start(role: Role, call_centers: &[&str], body_limit: usize) -> ApiNode {
        let dir = tempfile::tempdir().expect("temp dir");
        let ccs: Vec<CallCenterId> = call_centers
            .iter()
            .map(|c| CallCenterId::parse(*c).expect("cc id"))
            .collect();
        // Scenarios move the harness clock years ahead: tokens here live long enough for that
        // (tests of expiry shorten them with `restart_configured`).
        let init = switchboard_node::identity::init_data_dir_until(
            dir.path(),
            "test-node",
            role,
            &ccs,
            false,
            Timestamp::from_millis(T0).plus_days(2 * TOKEN_DAYS as i64),
        )
        .expect("init data dir");
        let config = NodeConfig {
            data_dir: dir.path().to_path_buf(),
            role,
            call_centers: ccs,
            body_limit,
            cache_mb: 8,
            token_lifetime_secs: TOKEN_DAYS * 24 * 3600,
            ..NodeConfig::default()
        };
        let now = Arc::new(AtomicI64::new(T0));
        let state = AppState::open(config.clone(), None, clock_of(&now)).expect("open node");
        ApiNode {
            app: switchboard_node::api::app(state.clone()),
            state,
            admin: init.admin_token,
            now,
            config,
            dir: Arc::new(dir),
        }
    }

    /// Stops the node (writer drained and flushed) and opens its data dir again, with
    /// `options` applied to the store options (e.g. another read-model version).
    pub async fn restart_with(
        self,
        options: impl Fn(&mut switchboard_node::store::StoreOptions),
    ) -> ApiNode {
        use switchboard_node::service::{store_options, ConfigCache};
        self.state.storage.shutdown().await.expect("shutdown");
        let ApiNode {
            app,
            state,
            admin,
            now,
            config,
            dir,
        } = self;
        drop((app, state));
        // The writer thread lets go of the store just after it answers the shutdown: retry the
        // data-dir lock until then.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let state = loop {
            let cache = Arc::new(ConfigCache::default());
            let mut opts = store_options(&config, cache.clone());
            options(&mut opts);
            match switchboard_node::store::Storage::open(&config.data_dir, opts) {
                Ok(storage) => {
                    break AppState::with_storage(
                        storage,
                        cache,
                        config.clone(),
                        None,
                        clock_of(&now),
                    )
                    .expect("state")
                }
                Err(e) if std::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("reopen: {e}"),
            }
        };
        ApiNode {
            app: switchboard_node::api::app(state.clone()),
            state,
            admin,
            now,
            config,
            dir,
        }
    }

    /// Stops the node and opens its data dir again.
    pub async fn restart(self) -> ApiNode {
        self.restart_with(|_| {}).await
    }

    /// Moves the clock.
    pub fn set_now(&self, rfc3339: &str) {
        let t = Timestamp::parse(rfc3339).expect("time");
        self.now.store(t.as_millis(), Ordering::SeqCst);
    }

    /// Sends a request with a raw body.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if !body.is_empty() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let text = String::from_utf8_lossy(&bytes).to_string();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            content_type,
            body,
            text,
        }
    }

    /// Sends a request with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Answer {
        let bytes = body
            .map(|b| serde_json::to_vec(&b).expect("json"))
            .unwrap_or_default();
        self.raw(method, path, Some(token), bytes).await
    }

    /// GET.
    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, token, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }

    /// POST without a body.
    pub async fn post_empty(&self, path: &str, token: &str) -> Answer {
        self.call(Method::POST, path, token, None).await
    }

    /// PUT with a JSON body.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, token, Some(body)).await
    }

    /// PATCH with a JSON body.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Creates a user in a call center and returns their token.
    pub async fn user(&self, cc: &str, name: &str, role: &str) -> String {
        let a = self
            .post(
                &format!("/api/v1/call-centers/{cc}/users"),
                &self.admin,
                json!({"name": name, "role": role}),
            )
            .await;
        a.ok(201)["token"].as_str().expect("token").to_string()
    }
}

/// The standard call-center configuration used by the API tests.
pub fn call_center_body(name: &str) -> Value {
    json!({
        "name": name,
        "currency": "EUR",
        "order_completion": true,
        "guided_sales": true,
        "payment_tolerance": "0.00",
        "payment_methods": [{"id": "card", "kind": "card"}, {"id": "cash", "kind": "cash"}],
        "delivery_modes": [{"id": "std", "name": "Standard", "charges": [
            {"from": "0.00", "to": "50.00", "amount": "5.95"},
            {"from": "50.00", "to": null, "amount": "0.00"}]}],
        "hold_codes": [
            {"id": "fraud", "name": "Fraud check", "clear_roles": ["supervisor"]},
            {"id": "customer", "name": "Customer asked", "clear_roles": ["agent", "supervisor"]}],
        "reason_codes": [{"id": "match", "name": "Price match"}, {"id": "gift", "name": "Gift wrap"}],
        "price_override_limits": {"agent": "5", "supervisor": "25"},
        "financial_dimensions": {"region": "north"},
        "price_group": null
    })
}

/// A configured HQ node: call centers `cc1` and `cc2`, products `widget` (19.99, overridable),
/// `gadget` (30.00, upsell/cross-sell/script), `case` (5.00, not overridable), source code
/// `SPRING` (10% off, free shipping), coupon `SAVE5` (5.00 off, max 1 use), and users.
pub struct World {
    /// The node.
    pub node: ApiNode,
    /// An agent of cc1.
    pub agent: String,
    /// A supervisor of cc1.
    pub supervisor: String,
    /// An agent of cc2.
    pub other_agent: String,
    /// A customer of cc1.
    pub customer: String,
}

impl World {
    /// Builds the world.
    pub async fn new() -> World {
        let node = ApiNode::hq();
        let admin = node.admin.clone();
        node.put(
            "/api/v1/call-centers/cc1",
            &admin,
            call_center_body("North"),
        )
        .await
        .ok(200);
        node.put(
            "/api/v1/call-centers/cc2",
            &admin,
            call_center_body("South"),
        )
        .await
        .ok(200);
        node.put(
            "/api/v1/products/widget",
            &admin,
            json!({"name": "Widget", "price": "19.99", "allow_price_override": true}),
        )
        .await
        .ok(200);
        node.put(
            "/api/v1/products/gadget",
            &admin,
            json!({"name": "Gadget", "price": "30.00", "allow_price_override": true,
                   "upsell": ["widget"], "cross_sell": ["case"], "script": "Mention the warranty"}),
        )
        .await
        .ok(200);
        node.put(
            "/api/v1/products/case",
            &admin,
            json!({"name": "Case", "price": "5.00", "allow_price_override": false}),
        )
        .await
        .ok(200);
        node.put(
            "/api/v1/source-codes/SPRING",
            &admin,
            json!({"catalog": "spring-2026", "valid_from": "2026-01-01T00:00:00Z", "valid_to": "2026-12-31T23:59:59Z",
                   "discount_percent": "10", "free_shipping": true, "script": "Spring offer"}),
        )
        .await
        .ok(200);
        node.put(
            "/api/v1/coupons/SAVE5",
            &admin,
            json!({"kind": "amount", "value": "5.00", "min_order": "10.00", "max_uses": 1}),
        )
        .await
        .ok(200);
        let agent = node.user("cc1", "Ann", "agent").await;
        let supervisor = node.user("cc1", "Sue", "supervisor").await;
        let other_agent = node.user("cc2", "Olga", "agent").await;
        let c = node
            .post("/api/v1/customers", &agent, json!({"name": "Carla Jones", "phone": "+1 555 0100", "email": "carla@example.com"}))
            .await;
        let customer = c.ok(201)["id"].as_str().expect("customer id").to_string();
        World {
            node,
            agent,
            supervisor,
            other_agent,
            customer,
        }
    }

    /// Creates an open order for the world's customer and returns its id.
    pub async fn order(&self) -> String {
        let a = self
            .node
            .post(
                "/api/v1/orders",
                &self.agent,
                json!({"customer_id": self.customer, "delivery_mode": "std"}),
            )
            .await;
        a.ok(201)["id"].as_str().expect("order id").to_string()
    }

    /// Adds a line and returns the view.
    pub async fn line(&self, order: &str, product: &str, qty: i64) -> Value {
        let a = self
            .node
            .post(
                &format!("/api/v1/orders/{order}/lines"),
                &self.agent,
                json!({"product_id": product, "quantity": qty}),
            )
            .await;
        a.ok(201).clone()
    }

    /// Asserts that a write's answer is the view a fresh read computes (but for `updated_at`).
    pub async fn assert_fresh(&self, order: &str, answered: &Value) {
        let mut got = self
            .node
            .get(&format!("/api/v1/orders/{order}"), &self.agent)
            .await
            .ok(200)
            .clone();
        let mut answered = answered.clone();
        got["updated_at"] = Value::Null;
        answered["updated_at"] = Value::Null;
        assert_eq!(got, answered);
    }

    /// Pays the balance in full by card and returns the view.
    pub async fn pay_all(&self, order: &str) -> Value {
        let v = self
            .node
            .get(&format!("/api/v1/orders/{order}"), &self.agent)
            .await;
        let balance = v.ok(200)["totals"]["balance"]
            .as_str()
            .expect("balance")
            .to_string();
        let a = self
            .node
            .post(
                &format!("/api/v1/orders/{order}/payments"),
                &self.agent,
                json!({"method": "card", "amount": balance}),
            )
            .await;
        a.ok(201).clone()
    }
}
