//! The API does what its OpenAPI document says (issue 14): an object where an object is
//! expected, `Content-Type: application/json` on bodies, `null` only where the document says
//! nullable, one paging rule on every list, problem+json for every error the HTTP layer makes,
//! `WWW-Authenticate: Bearer` on 401, and error responses documented as they are answered.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use serde_json::{json, Value};
use switchboard_sync::protocol::Role;
use switchboard_tests::api_harness::{ApiNode, World};
use tower::ServiceExt;

/// An answer with its headers.
struct Raw {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Raw {
    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        assert_eq!(
            self.headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json"),
            "{:?}",
            self.body
        );
        assert_eq!(self.body["code"], code, "{:?}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        self
    }

    fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str().map(String::from))
            .collect()
    }
}

/// Sends a request with exactly these headers (no Content-Type unless given).
async fn send(
    node: &ApiNode,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Raw {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = node
        .app
        .clone()
        .oneshot(req.body(Body::from(body.to_vec())).expect("request"))
        .await
        .expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    Raw {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn a_json_array_is_not_an_object() {
    let w = World::new().await;
    let n = &w.node;
    let auth = bearer(&w.agent);
    let h = [("authorization", auth.as_str()), JSON];
    // Once `["Array Customer"]` made a customer (fields filled by position).
    let a = send(
        n,
        Method::POST,
        "/api/v1/customers",
        &h,
        br#"["Array Customer"]"#,
    )
    .await;
    a.problem(422, "validation");
    assert_eq!(a.fields(), vec!["body"]);
    for body in [&b"\"a name\""[..], b"42", b"null", b"true"] {
        send(n, Method::POST, "/api/v1/customers", &h, body)
            .await
            .problem(422, "validation");
    }
    // ... and `[null, null]` cleared a customer's phone.
    let path = format!("/api/v1/customers/{}", w.customer);
    send(n, Method::PATCH, &path, &h, b"[null,null]")
        .await
        .problem(422, "validation");
    let c = n.get(&path, &w.agent).await;
    assert_eq!(c.ok(200)["phone"], "+1 555 0100");
    // Nested objects too: a payment method given as an array, a line as an array.
    let admin = bearer(&n.admin);
    let mut cc = switchboard_tests::api_harness::call_center_body("North");
    cc["payment_methods"] = json!([["card", "card"]]);
    let a = send(
        n,
        Method::PUT,
        "/api/v1/call-centers/cc1",
        &[("authorization", admin.as_str()), JSON],
        cc.to_string().as_bytes(),
    )
    .await;
    a.problem(422, "validation");
    assert_eq!(a.fields(), vec!["payment_methods[0]"]);
    let order = w.order().await;
    send(
        n,
        Method::POST,
        &format!("/api/v1/orders/{order}/lines"),
        &h,
        br#"["widget", 1]"#,
    )
    .await
    .problem(422, "validation");
}

#[tokio::test]
async fn null_is_refused_where_the_document_says_not_nullable() {
    let w = World::new().await;
    let n = &w.node;
    let order = w.order().await;
    let a = n
        .post("/api/v1/customers", &w.agent, json!({"name": null}))
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["name"]);
    let a = n
        .post(
            &format!("/api/v1/orders/{order}/lines"),
            &w.agent,
            json!({"product_id": "widget", "quantity": null}),
        )
        .await;
    a.problem(422, "validation");
    assert_eq!(a.error_fields(), vec!["quantity"]);
    // Where the document says nullable, null is accepted (and means the default).
    n.post(
        "/api/v1/customers",
        &w.agent,
        json!({"name": "Nora Null", "phone": null, "email": null, "address": null}),
    )
    .await
    .ok(201);
    let doc = n
        .raw(
            Method::GET,
            "/api/v1/openapi.json",
            Some(&n.admin),
            Vec::new(),
        )
        .await;
    let address = &doc.ok(200)["components"]["schemas"]["NewCustomerBody"]["properties"]["address"];
    assert!(
        address.to_string().contains("\"null\""),
        "address is documented nullable: {address}"
    );
}

#[tokio::test]
async fn bodies_must_be_sent_as_json() {
    let w = World::new().await;
    let n = &w.node;
    let auth = bearer(&w.agent);
    let body = br#"{"name": "Text Plain"}"#;
    for ct in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=latin1"),
    ] {
        let mut h = vec![("authorization", auth.as_str())];
        if let Some(ct) = ct {
            h.push(("content-type", ct));
        }
        send(n, Method::POST, "/api/v1/customers", &h, body)
            .await
            .problem(415, "unsupported_media_type");
    }
    let list = n.get("/api/v1/customers?q=text%20plain", &w.agent).await;
    assert_eq!(list.ok(200)["items"], json!([]), "nothing was created");
    let h = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json; charset=UTF-8"),
    ];
    let a = send(n, Method::POST, "/api/v1/customers", &h, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{:?}", a.body);
    // A body that is optional may be left out without a content type.
    let order = w.order().await;
    let a = send(
        n,
        Method::POST,
        &format!("/api/v1/orders/{order}/cancel"),
        &[("authorization", auth.as_str())],
        b"",
    )
    .await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
}

/// Every list of the API, with the bearer that may read it.
fn lists(w: &World) -> Vec<(&'static str, String)> {
    vec![
        ("/api/v1/products", w.agent.clone()),
        ("/api/v1/customers", w.agent.clone()),
        ("/api/v1/orders", w.agent.clone()),
        ("/api/v1/peers", w.node.admin.clone()),
    ]
}

#[tokio::test]
async fn every_list_refuses_every_bad_limit_the_same_way() {
    let w = World::new().await;
    for (path, token) in lists(&w) {
        for bad in [
            "0",
            "-1",
            "501",
            "4294967295",
            "4294967296",
            "1e3",
            "abc",
            "",
            "1.5",
        ] {
            let a = w.node.get(&format!("{path}?limit={bad}"), &token).await;
            a.problem(422, "validation");
            assert_eq!(a.error_fields(), vec!["limit"], "{path}?limit={bad}");
            assert_eq!(
                a.body["errors"][0]["message"], "must be a whole number from 1 to 500",
                "{path}?limit={bad}"
            );
        }
        for good in ["1", "500"] {
            w.node
                .get(&format!("{path}?limit={good}"), &token)
                .await
                .ok(200);
        }
        let a = w.node.get(&format!("{path}?cursor=zz"), &token).await;
        a.problem(422, "validation");
        assert_eq!(a.error_fields(), vec!["cursor"], "{path}");
        let a = w.node.get(&format!("{path}?limit=1&limit=2"), &token).await;
        a.problem(422, "validation");
    }
    // The document states the same bounds.
    let doc = w
        .node
        .raw(
            Method::GET,
            "/api/v1/openapi.json",
            Some(&w.node.admin),
            Vec::new(),
        )
        .await;
    for (path, _) in lists(&w) {
        let params = doc.ok(200)["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has parameters"))
            .clone();
        let limit = params
            .iter()
            .find(|p| p["name"] == "limit")
            .unwrap_or_else(|| panic!("{path} documents limit"));
        assert_eq!(limit["schema"]["minimum"], 1, "{path}");
        assert_eq!(limit["schema"]["maximum"], 500, "{path}");
        assert!(params.iter().any(|p| p["name"] == "cursor"), "{path}");
    }
}

/// Follows `next_cursor` from the first page of `path` (with `limit`) to the last.
async fn all_pages(n: &ApiNode, path: &str, token: &str, limit: usize) -> Vec<Vec<Value>> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{sep}limit={limit}");
    let mut pages = Vec::new();
    loop {
        let a = n.get(&url, token).await;
        let body = a.ok(200).clone();
        let items = body["items"].as_array().expect("items").clone();
        assert!(items.len() <= limit, "{url}: {} items", items.len());
        pages.push(items);
        match body["next_cursor"].as_str() {
            Some(c) => url = format!("{path}{sep}limit={limit}&cursor={c}"),
            None => break,
        }
        assert!(pages.len() < 20, "{path} pages without end");
    }
    pages
}

#[tokio::test]
async fn every_list_pages_by_limit_and_cursor() {
    let w = World::new().await;
    let n = &w.node;
    for i in 0..4 {
        n.post(
            "/api/v1/customers",
            &w.agent,
            json!({"name": format!("Paged Person {i}")}),
        )
        .await
        .ok(201);
        w.order().await;
        n.post(
            "/api/v1/peers",
            &n.admin,
            json!({"name": format!("peer-{i}"), "url": "https://127.0.0.1:9",
                   "node_id": format!("{i:02x}").repeat(32), "role": "hq", "call_centers": []}),
        )
        .await
        .ok(201);
    }
    // 5 customers (the world's and 4), 4 orders, 3 products, 4 peers: pages of 2.
    for (path, token, total) in [
        ("/api/v1/customers", w.agent.clone(), 5),
        ("/api/v1/customers?q=paged", w.agent.clone(), 4),
        ("/api/v1/orders", w.agent.clone(), 4),
        ("/api/v1/products", w.agent.clone(), 3),
        ("/api/v1/peers", n.admin.clone(), 4),
    ] {
        let pages = all_pages(n, path, &token, 2).await;
        let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
        let mut expected = vec![2; total / 2];
        if total % 2 == 1 {
            expected.push(1);
        }
        assert_eq!(sizes, expected, "{path}");
        let mut ids: Vec<String> = pages
            .iter()
            .flatten()
            .map(|v| v.get("id").or(v.get("name")).expect("id").to_string())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "{path}: every item once");
    }
    // A cursor of one list is not a cursor of another.
    let first = n.get("/api/v1/customers?limit=1", &w.agent).await;
    let cursor = first.ok(200)["next_cursor"]
        .as_str()
        .expect("more")
        .to_string();
    n.get(&format!("/api/v1/orders?cursor={cursor}"), &w.agent)
        .await
        .problem(422, "validation");
}

#[tokio::test]
async fn http_layer_errors_are_problems() {
    let node = ApiNode::start(Role::Hq, &[], 1024);
    let admin = bearer(&node.admin);
    let auth = [("authorization", admin.as_str())];
    // Unknown paths, inside the API and out.
    for path in ["/nothing", "/api/v1/nothing", "/api/v2/orders"] {
        send(&node, Method::GET, path, &auth, b"")
            .await
            .problem(404, "not_found");
    }
    // A method the path does not have: 405 with Allow.
    let a = send(&node, Method::DELETE, "/api/v1/customers", &auth, b"").await;
    a.problem(405, "method_not_allowed");
    let allow = a.headers.get(header::ALLOW).and_then(|v| v.to_str().ok());
    assert!(
        allow.is_some_and(|v| v.contains("GET") && v.contains("POST")),
        "Allow: {allow:?}"
    );
    // A body over the limit, JSON that does not parse, a path id that names nothing.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(4096));
    let json_auth = [("authorization", admin.as_str()), JSON];
    send(
        &node,
        Method::PUT,
        "/api/v1/products/p",
        &json_auth,
        big.as_bytes(),
    )
    .await
    .problem(413, "payload_too_large");
    let a = send(
        &node,
        Method::PUT,
        "/api/v1/products/p",
        &json_auth,
        b"{\"name\":",
    )
    .await;
    a.problem(400, "validation");
    send(&node, Method::GET, "/api/v1/orders/not-a-uuid", &auth, b"")
        .await
        .problem(404, "not_found");
    send(&node, Method::GET, "/api/v1/products/..", &auth, b"")
        .await
        .problem(404, "not_found");
    // A query string that does not decode.
    send(&node, Method::GET, "/api/v1/orders?limit=%ZZ", &auth, b"")
        .await
        .problem(422, "validation");
    // A URI or headers beyond the router's limits.
    let long = format!("/api/v1/orders?x={}", "a".repeat(9000));
    send(&node, Method::GET, &long, &auth, b"")
        .await
        .problem(414, "uri_too_long");
    let big = "b".repeat(40_000);
    send(
        &node,
        Method::GET,
        "/api/v1/orders",
        &[("authorization", admin.as_str()), ("x-big", big.as_str())],
        b"",
    )
    .await
    .problem(431, "headers_too_large");
}

/// Sends raw bytes to a real server and reads the answer until the server closes.
async fn raw_http(addr: std::net::SocketAddr, request: Vec<u8>) -> (u16, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(&request).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .expect("read");
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let status = head[9..12].parse().expect("status");
    (
        status,
        head.to_ascii_lowercase(),
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn requests_hyper_refuses_get_problems_too() {
    // A real server: these requests never reach the router.
    let dir = tempfile::tempdir().expect("temp dir");
    switchboard_node::identity::init_data_dir(dir.path(), "wire", Role::Hq, &[], false)
        .expect("init");
    let cfg = switchboard_node::config::NodeConfig {
        data_dir: dir.path().to_path_buf(),
        cache_mb: 8,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard_node::server::serve(cfg, listener, async {
        let _ = stopped.await;
    }));
    // Wait until it answers.
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let headers: String = (0..150).map(|i| format!("x-h{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            b"GET /api/v1/node HTTP/1.1\r\nhost: x\r\nbad header line\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            format!("GET /api/v1/node HTTP/1.1\r\nhost: x\r\n{headers}\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            format!(
                "GET /api/v1/node?{} HTTP/1.1\r\nhost: x\r\n\r\n",
                "a".repeat(70_000)
            )
            .into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            b"GET /api/v1/node HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".to_vec(),
            401,
            "unauthorized",
        ),
    ];
    for (request, status, code) in cases {
        let (got, head, body) = raw_http(addr, request).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{head}");
        assert!(
            head.contains("content-type: application/problem+json"),
            "{head}"
        );
        assert_eq!(body["status"], status);
    }
    let _ = stop.send(());
    server.await.expect("joined").expect("clean stop");
}

#[tokio::test]
async fn unauthorized_answers_say_bearer() {
    let node = ApiNode::hq();
    for auth in [None, Some("Bearer nope"), Some("Basic YWRtaW46YWRtaW4=")] {
        let h: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", *a)).collect();
        let a = send(&node, Method::GET, "/api/v1/node", &h, b"").await;
        a.problem(401, "unauthorized");
        assert_eq!(
            a.headers
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok()),
            Some("Bearer"),
            "{auth:?}"
        );
    }
    // Authentication comes first: a bad body without a token is still a 401.
    send(&node, Method::POST, "/api/v1/customers", &[], b"[")
        .await
        .problem(401, "unauthorized");
}

#[tokio::test]
async fn the_document_states_the_errors_each_operation_answers() {
    let node = ApiNode::hq();
    let doc = node
        .raw(
            Method::GET,
            "/api/v1/openapi.json",
            Some(&node.admin),
            Vec::new(),
        )
        .await;
    let doc = doc.ok(200);
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            operations += 1;
            let what = format!("{method} {path}");
            let responses = op["responses"].as_object().expect("responses");
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let content = r["content"].as_object().expect("error content");
                    assert_eq!(
                        content.keys().collect::<Vec<_>>(),
                        vec!["application/problem+json"],
                        "{what} {status}"
                    );
                }
            }
            let has = |s: &str| responses.contains_key(s);
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert!(has("401"), "{what} documents 401");
                assert!(
                    responses["401"]["headers"]["WWW-Authenticate"].is_object(),
                    "{what} documents WWW-Authenticate"
                );
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(has(s), "{what} documents {s}");
                }
            }
            if path.contains('{') {
                assert!(has("404"), "{what} documents 404");
            }
        }
    }
    assert!(operations > 40, "{operations} operations");
}
