//! Real nodes syncing over real TLS: sled stores in temp dirs, servers on 127.0.0.1 port 0, peers
//! pinned by node id on each node's peers' listener, sessions started with `POST /api/v1/sync`.

use reqwest::Method;
use serde_json::json;
use switchboard_node::tls::{Fingerprint, NodeKey};
use switchboard_sync::protocol::Role;
use switchboard_tests::nodes::{configure, new_order, wait_until, Node};

async fn hq_and_site() -> (Node, Node) {
    let hq = Node::start("hq", Role::Hq, &[]).await;
    let site = Node::start("north", Role::Site, &["cc1"]).await;
    hq.add_peer(&site).await;
    site.add_peer(&hq).await;
    configure(&hq, &["cc1", "cc2"]).await;
    (hq, site)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_gets_configuration_from_hq_and_hq_gets_the_sites_orders() {
    // Step 1: HQ holds the configuration; the site holds none and refuses to write any.
    let (hq, site) = hq_and_site().await;
    site.get("/api/v1/call-centers/cc1", &site.admin)
        .await
        .expect(404);
    let r = site
        .put(
            "/api/v1/call-centers/cc1",
            &site.admin,
            switchboard_tests::api_harness::call_center_body("x"),
        )
        .await;
    assert_eq!(r.expect(403)["code"], "forbidden");
    // Step 2: an agent of cc1 is created at HQ; one session brings config and user to the site.
    let agent = hq.user("cc1", "Agnes", "agent").await;
    let report = site.sync(Some("hq")).await;
    // The catalog and cc1's configuration (with its users); cc2's is outside the site's scope.
    assert_eq!(report["peers"][0]["received_docs"], 2, "{report}");
    assert_eq!(
        site.get("/api/v1/call-centers/cc1", &agent)
            .await
            .expect(200)["name"],
        "cc1"
    );
    // cc2's configuration is outside the site's scope.
    site.get("/api/v1/call-centers/cc2", &site.admin)
        .await
        .expect(404);
    // Step 3: the agent takes a paid order at the site and submits it.
    let order = new_order(&site, &agent, "widget", 2).await;
    let view = site
        .get(&format!("/api/v1/orders/{order}"), &agent)
        .await
        .expect(200)
        .clone();
    let total = view["totals"]["total"].as_str().unwrap().to_string();
    site.post(
        &format!("/api/v1/orders/{order}/payments"),
        &agent,
        json!({"method": "card", "amount": total, "reference": "A1"}),
    )
    .await
    .expect(201);
    site.post(&format!("/api/v1/orders/{order}/submit"), &agent, json!({}))
        .await
        .expect(200);
    // Step 4: sync; HQ shows the same order view.
    site.sync(None).await;
    let at_site = site.order_views(&agent).await;
    let at_hq = hq.order_views(&hq.admin).await;
    assert_eq!(at_site.len(), 1);
    assert_eq!(at_site, at_hq);
    assert_eq!(at_hq[&order]["status"], "submitted");
    // Step 5: a second session moves nothing (no-op).
    let again = site.sync(None).await;
    assert_eq!(again["peers"][0]["sent_docs"], 0, "{again}");
    assert_eq!(again["peers"][0]["received_docs"], 0, "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sites_and_hq_converge_and_sites_keep_to_their_scope() {
    // Step 1: HQ, two sites of cc1 and one of cc2, all peered with HQ.
    let hq = Node::start("hq", Role::Hq, &[]).await;
    let a = Node::start("a", Role::Site, &["cc1"]).await;
    let b = Node::start("b", Role::Site, &["cc1"]).await;
    let c = Node::start("c", Role::Site, &["cc2"]).await;
    configure(&hq, &["cc1", "cc2"]).await;
    let t1 = hq.user("cc1", "Agent One", "agent").await;
    let t2 = hq.user("cc2", "Agent Two", "agent").await;
    for s in [&a, &b, &c] {
        hq.add_peer(s).await;
        s.add_peer(&hq).await;
        s.sync(None).await;
    }
    // Step 2: each site takes orders while the others do too.
    let oa = new_order(&a, &t1, "widget", 1).await;
    let ob = new_order(&b, &t1, "gadget", 2).await;
    let oc = new_order(&c, &t2, "widget", 3).await;
    // Step 3: sites push to HQ, then pull what the others pushed.
    for s in [&a, &b, &c] {
        s.sync(None).await;
    }
    for s in [&a, &b, &c] {
        s.sync(None).await;
    }
    let at_hq = hq.order_views(&hq.admin).await;
    assert_eq!(at_hq.len(), 3);
    for id in [&oa, &ob, &oc] {
        assert!(at_hq.contains_key(id), "HQ lacks {id}");
    }
    // Step 4: the cc1 sites hold the same cc1 orders as HQ, and none of cc2.
    let cc1_at_hq: std::collections::BTreeMap<_, _> = at_hq
        .iter()
        .filter(|(_, v)| v["call_center_id"] == "cc1")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(a.order_views(&a.admin).await, cc1_at_hq);
    assert_eq!(b.order_views(&b.admin).await, cc1_at_hq);
    let at_c = c.order_views(&c.admin).await;
    assert_eq!(at_c.keys().collect::<Vec<_>>(), vec![&oc]);
    assert_eq!(at_c[&oc], at_hq[&oc]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_placed_at_hq_while_the_site_released_ends_as_a_held_order_everywhere() {
    // Step 1: a paid, submitted order known to both nodes.
    let (hq, site) = hq_and_site().await;
    let agent = hq.user("cc1", "Agnes", "agent").await;
    site.sync(None).await;
    let order = new_order(&site, &agent, "widget", 1).await;
    let total = site
        .get(&format!("/api/v1/orders/{order}"), &agent)
        .await
        .expect(200)["totals"]["total"]
        .clone();
    site.post(
        &format!("/api/v1/orders/{order}/payments"),
        &agent,
        json!({"method": "card", "amount": total}),
    )
    .await
    .expect(201);
    site.post(&format!("/api/v1/orders/{order}/submit"), &agent, json!({}))
        .await
        .expect(200);
    site.sync(None).await;
    // Step 2: the WAN is down: HQ places a fraud hold, the site releases the order.
    hq.post(
        &format!("/api/v1/orders/{order}/holds"),
        &hq.admin,
        json!({"code": "fraud", "reason": "card flagged"}),
    )
    .await
    .expect(201);
    site.post(
        &format!("/api/v1/orders/{order}/release"),
        &agent,
        json!({}),
    )
    .await
    .expect(200);
    // Step 3: the link heals; both ends merge and the merge-time check places a system hold.
    site.sync(None).await;
    site.sync(None).await;
    let at_site = site.order_views(&agent).await;
    let at_hq = hq.order_views(&hq.admin).await;
    assert_eq!(at_site, at_hq);
    let v = &at_hq[&order];
    assert_eq!(v["status"], "on_hold");
    let holds = v["holds"].as_array().unwrap();
    assert!(holds.iter().any(|h| h["code"] == "fraud"), "{v}");
    let system: Vec<_> = holds.iter().filter(|h| h["system"] == true).collect();
    assert_eq!(system.len(), 1, "exactly one system hold: {v}");
    assert_eq!(system[0]["code"], "system.released_while_held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_restart_and_then_sync() {
    // Step 1: orders taken on a site, acknowledged, then the site restarts before any sync.
    let (hq, mut site) = hq_and_site().await;
    let agent = hq.user("cc1", "Agnes", "agent").await;
    site.sync(None).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(new_order(&site, &agent, "widget", 1).await);
    }
    site.restart().await;
    // Step 2: every acknowledged order is there, whole.
    let views = site.order_views(&agent).await;
    for id in &ids {
        assert_eq!(views[id]["lines"].as_array().unwrap().len(), 1, "{id}");
    }
    // Step 3: it syncs on, and HQ gets them all.
    site.sync(None).await;
    assert_eq!(hq.order_views(&hq.admin).await, views);
}

/// What a session from `node` with `peer` answered: `(ok, error)`.
async fn session(node: &Node, peer: &str) -> (bool, String) {
    let r = node
        .post(&format!("/api/v1/sync?peer={peer}"), &node.admin, json!({}))
        .await;
    let p = r.expect(200)["peers"][0].clone();
    (
        p["ok"] == true,
        p["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_are_pinned_by_node_id_and_unknown_peers_are_refused() {
    let (hq, site) = hq_and_site().await;
    let agent = hq.user("cc1", "Agnes", "agent").await;
    site.sync(None).await;
    let orders_at_hq = || async { hq.order_views(&hq.admin).await.len() };
    // Step 1: the agent API does not serve the peer endpoints at all.
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/sync/v1/frame", hq.url))
        .body(vec![1, 2, 3])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    // Step 2: plain HTTP to the peers' TLS listener gets no HTTP answer, no data.
    let addr = hq.sync_url.trim_start_matches("https://").to_string();
    let got = plain_http_exchange(&addr).await;
    assert!(
        !String::from_utf8_lossy(&got).contains("HTTP/"),
        "plain HTTP got an answer: {got:?}"
    );
    assert!(got.len() <= 16, "plain HTTP got {} bytes back", got.len());
    // Step 3: a rogue node claiming to be HQ, with the site's (stolen) URL and its own
    // configuration: the site never added its node id, so its sessions are refused at the
    // handshake and nothing of it is stored; HQ refuses it just the same.
    let rogue = Node::start("rogue", Role::Hq, &[]).await;
    configure(&rogue, &["cc1"]).await;
    rogue
        .put(
            "/api/v1/products/widget",
            &rogue.admin,
            json!({"name": "Rogue widget", "price": "0.01"}),
        )
        .await
        .expect(200);
    rogue.add_peer(&site).await;
    rogue.add_peer(&hq).await;
    let before = orders_at_hq().await;
    for target in ["north", "hq"] {
        let (ok, error) = session(&rogue, target).await;
        assert!(!ok, "the rogue synced with {target}");
        assert!(error.contains("unreachable"), "{error}");
    }
    let widget = site
        .get("/api/v1/products/widget", &agent)
        .await
        .expect(200)
        .clone();
    assert_ne!(widget["name"], "Rogue widget", "{widget}");
    assert_eq!(orders_at_hq().await, before);
    // Step 4: a man in the middle: the site's link to HQ leads to another node claiming to be
    // HQ (which would accept the site). The site pinned HQ's node id, refuses the other
    // certificate and sends it nothing.
    let fake_hq = Node::start("fake-hq", Role::Hq, &[]).await;
    fake_hq.add_peer(&site).await;
    let mut diverted = hq.peer_body();
    diverted["name"] = json!("hq");
    diverted["url"] = json!(fake_hq.sync_url);
    site.post("/api/v1/peers", &site.admin, diverted)
        .await
        .expect(201);
    let order = new_order(&site, &agent, "widget", 1).await;
    let (ok, error) = session(&site, "hq").await;
    assert!(!ok, "the site synced with a man in the middle");
    assert!(error.contains("certificate"), "{error}");
    assert_eq!(
        fake_hq
            .get(&format!("/api/v1/orders/{order}"), &fake_hq.admin)
            .await
            .status
            .as_u16(),
        404,
        "the man in the middle learnt the order"
    );
    // Back at the real HQ's address, the same link syncs.
    site.add_peer(&hq).await;
    let (ok, error) = session(&site, "hq").await;
    assert!(ok, "{error}");
    hq.get(&format!("/api/v1/orders/{order}"), &hq.admin)
        .await
        .expect(200);
    // Step 5: the sync admin endpoints need an admin.
    hq.call(Method::POST, "/api/v1/sync", &agent, None)
        .await
        .expect(403);
    let status = site
        .get("/api/v1/sync/status", &site.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(status["peers"][0]["name"], "hq");
}

/// Sends a plain HTTP request to a TLS port and reads what comes back until it closes (bounded).
async fn plain_http_exchange(addr: &str) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"POST /sync/v1/frame HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Duration::from_secs(20);
    loop {
        match tokio::time::timeout(deadline, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the TLS port neither answered nor closed"),
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hello_that_disagrees_with_the_declared_scope_is_refused() {
    let hq = Node::start("hq", Role::Hq, &[]).await;
    let site = Node::start("north", Role::Site, &["cc1"]).await;
    configure(&hq, &["cc1", "cc2"]).await;
    // HQ's admin declares the site as serving cc2; the site serves cc1.
    let mut declared = site.peer_body();
    declared["call_centers"] = json!(["cc2"]);
    hq.post("/api/v1/peers", &hq.admin, declared)
        .await
        .expect(201);
    site.add_peer(&hq).await;
    let (ok, error) = session(&site, "hq").await;
    assert!(!ok);
    assert!(
        error.contains("403") && error.contains("other call centers than declared"),
        "{error}"
    );
    let (ok, error) = session(&hq, "north").await;
    assert!(!ok);
    assert!(
        error.contains("other call centers than declared"),
        "{error}"
    );
    // HQ's admin corrects the site's scope; the site's admin declares HQ as a site: refused by
    // the site on HQ's hello this time.
    hq.add_peer(&site).await;
    let mut as_site = hq.peer_body();
    as_site["role"] = json!("site");
    as_site["call_centers"] = json!(["cc1"]);
    site.post("/api/v1/peers", &site.admin, as_site)
        .await
        .expect(201);
    let (ok, error) = session(&site, "hq").await;
    assert!(!ok);
    assert!(
        error.contains("says its role is hq, declared site"),
        "{error}"
    );
    // Nothing crossed: the site still has no configuration.
    let agent = hq.user("cc1", "Agnes", "agent").await;
    assert_eq!(
        site.get("/api/v1/call-centers/cc1", &agent)
            .await
            .status
            .as_u16(),
        401
    );
    // Declared right, the same nodes sync.
    site.add_peer(&hq).await;
    site.sync(None).await;
    site.get("/api/v1/call-centers/cc1", &agent)
        .await
        .expect(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_links_sync_by_themselves_and_report_an_unreachable_peer() {
    // Step 1: HQ and a site whose links run every second; nobody calls POST /api/v1/sync.
    let hq = Node::start_with_interval("hq", Role::Hq, &[], 1).await;
    let site = Node::start_with_interval("north", Role::Site, &["cc1"], 1).await;
    hq.add_peer(&site).await;
    site.add_peer(&hq).await;
    configure(&hq, &["cc1"]).await;
    let agent = hq.user("cc1", "Agnes", "agent").await;
    // Step 2: the configuration and the agent reach the site on their own.
    wait_until(30, "configuration reaches the site", || async {
        site.get("/api/v1/call-centers/cc1", &agent).await.status == 200
    })
    .await;
    // Step 3: an order taken at the site reaches HQ on its own.
    let order = new_order(&site, &agent, "widget", 1).await;
    let at_hq = |id: String| {
        let hq = &hq;
        async move {
            hq.get(&format!("/api/v1/orders/{id}"), &hq.admin)
                .await
                .status
                == 200
        }
    };
    wait_until(30, "the order reaches HQ", || at_hq(order.clone())).await;
    let status = site
        .get("/api/v1/sync/status", &site.admin)
        .await
        .expect(200)
        .clone();
    assert_eq!(status["peers"][0]["reachable"], true, "{status}");
    // Step 4: a peer that cannot be reached shows as such, with its error, and the others go on.
    site.post(
        "/api/v1/peers",
        &site.admin,
        json!({"name": "gone", "url": "https://127.0.0.1:9", "node_id": "ab".repeat(32),
               "role": "hq", "call_centers": []}),
    )
    .await
    .expect(201);
    wait_until(30, "the dead peer is reported", || async {
        let s = site
            .get("/api/v1/sync/status", &site.admin)
            .await
            .expect(200)
            .clone();
        let gone = s["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "gone")
            .cloned();
        match gone.filter(|g| g["reachable"] == false) {
            Some(g) => {
                assert!(
                    g["last_error"].as_str().unwrap().contains("unreachable"),
                    "{g}"
                );
                true
            }
            None => false,
        }
    })
    .await;
    let second = new_order(&site, &agent, "gadget", 1).await;
    wait_until(30, "a dead peer holds up no live one", || {
        at_hq(second.clone())
    })
    .await;
}

/// `GET /healthz` over TLS to `addr`, pinning the server's certificate by `expected`; the
/// answer's status line, or the TLS error.
async fn https_healthz(
    addr: std::net::SocketAddr,
    expected: Fingerprint,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let client_dir = tempfile::tempdir().expect("temp dir");
    let (client_key, _) = NodeKey::load_or_create(client_dir.path()).expect("key");
    let cfg = switchboard_node::tls::peer_client_config(&client_key, expected)
        .map_err(|e| e.to_string())?;
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = "localhost".try_into().map_err(|e| format!("{e:?}"))?;
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tls.read_to_end(&mut got),
    )
    .await
    .map_err(|_| "no answer".to_string())?
    .map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&got)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// The agent API's HTTPS (what a node listening off loopback serves): an operator's
/// certificate is served, replaced by a reload (what SIGHUP does) without a restart, a reload of
/// broken files keeps the old one, and a plain-HTTP client on loopback is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_api_speaks_https_with_an_operator_certificate_that_reloads() {
    use switchboard_node::http_server::{serve, HttpLimits, Transport};
    use switchboard_node::tls::{ApiCert, CertSource};
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let write_pair = || {
        let (c, k) = NodeKey::generate_pem().expect("pair");
        std::fs::write(&cert, c).expect("write cert");
        std::fs::write(&key, k).expect("write key");
    };
    write_pair();
    let (node_key, _) = NodeKey::load_or_create(dir.path()).expect("node key");
    let api = ApiCert::new(
        CertSource::Operator {
            cert: cert.clone(),
            key: key.clone(),
        },
        &node_key,
    )
    .expect("operator certificate");
    let served = |api: &ApiCert| Fingerprint::of_cert(&api.chain()[0]).expect("fingerprint");
    let first = served(&api);
    assert_ne!(
        first, node_key.fingerprint,
        "the operator's, not the node's"
    );
    let acceptor = tokio_rustls::TlsAcceptor::from(api.server_config().expect("config"));
    let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let limits = HttpLimits {
        header_read_timeout: std::time::Duration::from_secs(5),
        max_connections: 16,
    };
    let transport = Transport::Tls {
        acceptor,
        plain_on_loopback: true,
    };
    let server = tokio::spawn(serve(
        listener,
        app,
        limits,
        transport,
        std::future::pending(),
    ));
    // Step 1: HTTPS with the operator's certificate; a client expecting another one refuses it.
    let line = https_healthz(addr, first).await.expect("https");
    assert!(line.contains(" 200 "), "{line}");
    assert!(https_healthz(addr, node_key.fingerprint).await.is_err());
    // Step 2: plain HTTP from loopback is still served.
    let plain = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("plain on loopback");
    assert_eq!(plain.status().as_u16(), 200);
    // Step 3: new files and a reload: the new certificate is served, no restart.
    write_pair();
    api.reload().expect("reload");
    let second = served(&api);
    assert_ne!(second, first);
    let line = https_healthz(addr, second)
        .await
        .expect("https after reload");
    assert!(line.contains(" 200 "), "{line}");
    assert!(https_healthz(addr, first).await.is_err());
    // Step 4: broken files: the reload fails and the certificate in use stays.
    std::fs::write(&key, "not a key").expect("write");
    assert!(api.reload().is_err());
    let line = https_healthz(addr, second)
        .await
        .expect("https after a failed reload");
    assert!(line.contains(" 200 "), "{line}");
    server.abort();
}

/// The upgrade path: a data dir as contract v1 left it (no node key, a peer added with a shared
/// secret) opens, gets its key at its first start (its internal id unchanged), lists the old
/// peer with no node id, does not sync with it, and takes it again by node id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_data_dir_gets_a_key_and_its_secret_peers_wait_to_be_added_again() {
    use switchboard_domain::{CallCenterId, NodeId};
    use switchboard_node::store::{records, Op, Store as _, TreeId};
    #[derive(serde::Serialize)]
    struct PeerV1 {
        name: String,
        url: String,
        secret: String,
        node_id: Option<NodeId>,
        role: Option<Role>,
        call_centers: Option<Vec<CallCenterId>>,
    }
    // Step 1: a site's data dir, then made to look like contract v1's.
    let dir = tempfile::tempdir().expect("temp dir");
    let cc = CallCenterId::parse("cc1").expect("cc");
    let out = switchboard_node::identity::init_data_dir(
        dir.path(),
        "north",
        Role::Site,
        std::slice::from_ref(&cc),
        false,
    )
    .expect("init");
    for f in [
        switchboard_node::tls::KEY_FILE,
        switchboard_node::tls::CERT_FILE,
    ] {
        std::fs::remove_file(dir.path().join(f)).expect("remove key file");
    }
    {
        let store =
            switchboard_node::store::sled::SledStore::open(dir.path(), 1 << 20).expect("open");
        let v1 = PeerV1 {
            name: "hq".into(),
            url: "http://127.0.0.1:9".into(),
            secret: "a-shared-secret-from-contract-v1".into(),
            node_id: Some(NodeId(uuid::Uuid::new_v4())),
            role: Some(Role::Hq),
            call_centers: Some(Vec::new()),
        };
        store
            .apply(&[Op {
                tree: TreeId::Peers,
                key: b"hq".to_vec(),
                value: Some(records::encode(&v1).expect("encode")),
            }])
            .expect("write the v1 peer");
        store.flush().expect("flush");
    }
    // Step 2: its first start makes the key; the internal id stays.
    let cfg = switchboard_node::config::NodeConfig {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        sync_interval_secs: 3600,
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(switchboard_node::server::serve_with(
        cfg,
        listener,
        None,
        async move {
            let _ = stopped.await;
        },
        None,
    ));
    let http = reqwest::Client::new();
    let token = out.admin_token.clone();
    let get = |path: &str| {
        let req = http.get(format!("{url}{path}")).bearer_auth(&token).send();
        async move {
            let r = req.await.expect("request");
            let status = r.status().as_u16();
            (
                status,
                r.json::<serde_json::Value>().await.unwrap_or_default(),
            )
        }
    };
    wait_until(30, "the upgraded node serves", || async {
        get("/api/v1/node").await.0 == 200
    })
    .await;
    let key = NodeKey::load(dir.path())
        .expect("read key")
        .expect("a key was made");
    let (_, node) = get("/api/v1/node").await;
    assert_eq!(node["fingerprint"], key.fingerprint.to_string());
    assert_eq!(node["node_id"], out.node_id.to_string());
    // Step 3: the old peer is listed without a node id and is not synced with.
    let (_, peers) = get("/api/v1/peers").await;
    assert_eq!(peers["items"][0]["name"], "hq", "{peers}");
    assert!(peers["items"][0]["node_id"].is_null(), "{peers}");
    let r = http
        .post(format!("{url}/api/v1/sync"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sync");
    let run: serde_json::Value = r.json().await.expect("json");
    assert_eq!(run["peers"][0]["ok"], false, "{run}");
    assert!(
        run["peers"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("added with a shared secret"),
        "{run}"
    );
    // Step 4: added again by node id under the same name, it replaces the old record.
    let fp = "cd".repeat(32);
    let r = http
        .post(format!("{url}/api/v1/peers"))
        .bearer_auth(&token)
        .json(
            &json!({"name": "hq", "url": "https://127.0.0.1:9", "node_id": fp,
                      "role": "hq", "call_centers": []}),
        )
        .send()
        .await
        .expect("add");
    assert_eq!(r.status().as_u16(), 201);
    let (_, peers) = get("/api/v1/peers").await;
    assert_eq!(peers["items"].as_array().map(Vec::len), Some(1), "{peers}");
    assert_eq!(peers["items"][0]["node_id"], fp.as_str());
    let _ = stop.send(());
    server.await.expect("task").expect("stopped cleanly");
}
