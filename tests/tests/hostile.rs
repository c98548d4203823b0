//! Hostile input against real nodes in this process (issue 11, "hostile input bounded before it
//! costs anything"): crafted peer frames (a DEFLATE bomb, a document nested far too deep) sent
//! over TLS with a real peer's key, a peer whose answers never end, peer requests refused on
//! their headers before their bodies.

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT};
use serde_json::Value;
use std::time::{Duration, Instant};
use switchboard_domain::CallCenterId;
use switchboard_node::sync_driver::transport::{head_only_as, post_as};
use switchboard_node::sync_driver::FRAME_PATH;
use switchboard_node::tls::{Fingerprint, NodeKey};
use switchboard_sync::protocol::frames::{encode_frame, Frame, SyncRequest, WireDoc, WireKind};
use switchboard_sync::protocol::Role;
use switchboard_tests::nodes::{configure, new_order, Node};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// HQ and a site serving `cc1`, linked and synced once (so each has pinned the other).
async fn linked() -> (Node, Node) {
    let hq = Node::start("hq", Role::Hq, &[]).await;
    let site = Node::start("north", Role::Site, &["cc1"]).await;
    hq.add_peer(&site).await;
    site.add_peer(&hq).await;
    configure(&hq, &["cc1"]).await;
    site.sync(None).await;
    (hq, site)
}

/// The key of a node (from its data dir).
fn key_of(node: &Node) -> NodeKey {
    NodeKey::load(node.data_dir())
        .expect("read key")
        .expect("a key")
}

fn fingerprint(node: &Node) -> Fingerprint {
    node.fingerprint.parse().expect("fingerprint")
}

/// Pushes one order document of `cc1` with these changes and heads to `to`, over TLS as the
/// node `from` (a real peer of `to`).
async fn push_as(to: &Node, from: &Node, changes: Vec<u8>, heads: Vec<[u8; 32]>) -> (u16, Value) {
    let frame = encode_frame(&Frame::Request(SyncRequest {
        session: 7,
        n: 0,
        epoch: Uuid::new_v4(),
        push: vec![WireDoc {
            doc: Uuid::new_v4(),
            kind: WireKind::Order,
            call_center: Some(CallCenterId::parse("cc1").expect("cc")),
            heads,
            changes,
        }],
        acks: Vec::new(),
        pull: None,
        max_bytes: 1 << 20,
    }));
    let r = post_as(
        &key_of(from),
        fingerprint(to),
        &format!("{}{FRAME_PATH}", to.sync_url),
        frame,
    )
    .await
    .expect("the peer's own key is accepted");
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

/// The peak resident memory of this process so far, KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn uleb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

/// A raw DEFLATE stream that inflates to `mib` MiB of zeros: one fully flushed segment of 1 MiB
/// repeated (each copy stands alone), then a final empty block. About 1 KiB per MiB.
fn deflate_bomb(mib: usize) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let zeros = vec![0u8; 1 << 20];
    let mut c = Compress::new(Compression::best(), false);
    let mut segment = Vec::with_capacity(1 << 16);
    c.compress_vec(&zeros, &mut segment, FlushCompress::Full)
        .expect("deflate");
    assert_eq!(c.total_in(), 1 << 20, "the segment holds the whole MiB");
    let mut out = Vec::with_capacity(segment.len() * mib + 16);
    for _ in 0..mib {
        out.extend_from_slice(&segment);
    }
    let mut tail = Vec::with_capacity(64);
    c.compress_vec(&[], &mut tail, FlushCompress::Finish)
        .expect("deflate");
    out.extend(tail);
    out
}

/// An automerge document chunk with one DEFLATE-compressed value column holding `column`.
fn document_chunk_with_column(column: &[u8]) -> Vec<u8> {
    let mut body = uleb(1); // actors
    body.extend(uleb(16));
    body.extend([7u8; 16]);
    body.extend(uleb(0)); // heads
    body.extend(uleb(0)); // change columns
    body.extend(uleb(1)); // op columns: one value column (type 7), deflated (bit 3)
    body.extend(uleb(u64::from((1u32 << 4) | 0b1000 | 7)));
    body.extend(uleb(column.len() as u64));
    body.extend(column);
    let mut out = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0];
    out.extend(uleb(body.len() as u64));
    out.extend(body);
    out
}

/// A 4 GiB DEFLATE bomb (4 MiB on the wire) pushed by a real peer: refused with a clear error,
/// nothing stored, the node up and its memory nowhere near the bomb's size. Without the bound,
/// automerge would try to inflate all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deflate_bomb_frame_is_refused_and_the_node_stays_up() {
    let (hq, site) = linked().await;
    let bomb = document_chunk_with_column(&deflate_bomb(4096));
    assert!(bomb.len() < 8 << 20, "{} bytes on the wire", bomb.len());
    let before = hq.order_views(&hq.admin).await.len();
    let peak_before = peak_rss_kib();
    let started = Instant::now();
    let (status, body) = push_as(&hq, &site, bomb, vec![[1u8; 32]]).await;
    assert_eq!(status, 422, "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(detail.contains("inflate to more than"), "{detail}");
    let grew_mib = peak_rss_kib().saturating_sub(peak_before) / 1024;
    assert!(
        grew_mib < 1024,
        "peak memory grew by {grew_mib} MiB for a 4 GiB bomb"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // Nothing stored; the node serves and syncs as before.
    assert_eq!(hq.order_views(&hq.admin).await.len(), before);
    let agent = hq.user("cc1", "Agnes", "agent").await;
    site.sync(None).await;
    new_order(&site, &agent, "widget", 1).await;
    site.sync(None).await;
    assert_eq!(hq.order_views(&hq.admin).await.len(), before + 1);
}

/// An order nested 50,000 maps deep, pushed by a real peer: reading it would overflow the writer
/// thread's stack and abort the process; it is refused whole with a clear error instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deeply_nested_document_is_refused_and_the_node_stays_up() {
    let (hq, site) = linked().await;
    let mut deep = Automerge::new();
    deep.set_actor(ActorId::from(vec![5u8; 16]));
    let mut tx = deep.transaction();
    tx.put(ROOT, "kind", "order").expect("kind");
    tx.put(ROOT, "schema", 1).expect("schema");
    tx.put(ROOT, "call_center", "cc1").expect("cc");
    let mut obj = ROOT;
    for _ in 0..50_000 {
        obj = tx.put_object(&obj, "x", ObjType::Map).expect("nest");
    }
    tx.commit();
    let before = hq.order_views(&hq.admin).await.len();
    let heads = deep.get_heads().iter().map(|h| h.0).collect();
    let (status, body) = push_as(&hq, &site, deep.save(), heads).await;
    assert_eq!(status, 422, "{body}");
    let detail = body["detail"].as_str().expect("detail");
    assert!(
        detail.contains("nests objects more than 32 levels deep"),
        "{detail}"
    );
    assert_eq!(hq.order_views(&hq.admin).await.len(), before);
    hq.get("/readyz", &hq.admin).await.expect(200);
    site.sync(None).await;
}

/// A fake peer (a TLS listener with a key of its own, accepting any peer) that answers every
/// request 200 with a body that never ends. Returns its URL, its node id and the number of body
/// bytes it managed to write.
async fn endless_peer() -> (
    String,
    String,
    std::sync::Arc<std::sync::atomic::AtomicU64>,
    tempfile::TempDir,
) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let dir = tempfile::tempdir().expect("temp dir");
    let (key, _) = NodeKey::load_or_create(dir.path()).expect("key");
    let tls = switchboard_node::tls::peer_server_config(
        &key,
        std::sync::Arc::new(|_: &Fingerprint| true),
    )
    .expect("tls");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("https://{}", listener.local_addr().expect("addr"));
    let written = std::sync::Arc::new(AtomicU64::new(0));
    let w = written.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let w = w.clone();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut sock) = acceptor.accept(sock).await else {
                    return;
                };
                // Read the request head and its body (by content-length), then answer forever.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = sock.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(p) = buf.windows(4).position(|x| x == b"\r\n\r\n") {
                        break p + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                let mut have = buf.len() - head_end;
                while have < len {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => have += n,
                    }
                }
                let answer =
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
                if sock.write_all(answer.as_bytes()).await.is_err() {
                    return;
                }
                let block = vec![b' '; 1 << 20];
                // Up to 4 GiB, as long as the reader keeps reading.
                for _ in 0..4096 {
                    if sock.write_all(&block).await.is_err() {
                        return;
                    }
                    w.fetch_add(block.len() as u64, Ordering::Relaxed);
                }
            });
        }
    });
    (url, key.fingerprint.to_string(), written, dir)
}

/// A peer whose answer never ends: the session fails once the answer passes the largest hello,
/// having read a bounded amount of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_answer_is_cut_off_at_the_limit() {
    let hq = Node::start("hq", Role::Hq, &[]).await;
    let (url, node_id, written, _dir) = endless_peer().await;
    hq.post(
        "/api/v1/peers",
        &hq.admin,
        serde_json::json!({"name": "endless", "url": url, "node_id": node_id,
                           "role": "site", "call_centers": ["cc1"]}),
    )
    .await
    .expect(201);
    let started = Instant::now();
    let r = hq
        .post("/api/v1/sync", &hq.admin, serde_json::json!({}))
        .await;
    let peers = r.expect(200)["peers"].clone();
    assert_eq!(peers[0]["ok"], false, "{peers}");
    let error = peers[0]["error"].as_str().expect("error");
    assert!(
        error.contains("the answer is larger than 65536 bytes"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(30));
    // What the peer could push into socket buffers before the node hung up, not gigabytes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(sent < 64 << 20, "the peer wrote {sent} bytes");
}

/// The responder refuses peer requests before reading their bodies: a node no admin added is
/// refused at the TLS handshake, and a real peer's body declared larger than any frame is
/// answered 413 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_requests_are_refused_before_their_bodies() {
    let (hq, site) = linked().await;
    let addr = hq.sync_url.trim_start_matches("https://").to_string();
    let head = |len: u64| {
        format!(
            "POST {FRAME_PATH} HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: {len}\r\n\r\n"
        )
    };
    // A stranger's key: refused at the handshake, whatever it sends.
    let stranger = tempfile::tempdir().expect("temp dir");
    let (stranger, _) = NodeKey::load_or_create(stranger.path()).expect("key");
    let got = head_only_as(&stranger, fingerprint(&hq), &addr, &head(10)).await;
    assert!(
        got.as_ref().map_or(true, |s| !s.contains("HTTP/")),
        "a stranger got an answer: {got:?}"
    );
    // Larger than any frame, from the real site: 413 before the body.
    let line = head_only_as(&key_of(&site), fingerprint(&hq), &addr, &head(40 << 20))
        .await
        .expect("the site's own key");
    assert!(line.starts_with("HTTP/1.1 413 "), "{line}");
}

/// A client that sends half a request line and waits is cut off by the header-read timeout,
/// while another client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_header_client_is_cut_off_while_others_are_served() {
    let node =
        Node::start_configured("hq", Role::Hq, &[], |c| c.header_read_timeout_secs = 1).await;
    let addr = node.url.trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    slow.write_all(b"GET /healthz HTT")
        .await
        .expect("half a line");
    let started = Instant::now();
    // Others are served while the slow one hangs.
    let r = reqwest::Client::new()
        .get(format!("{}/healthz", node.url))
        .send()
        .await
        .expect("served");
    assert_eq!(r.status().as_u16(), 200);
    // The slow one is closed after about a second, without an answer.
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut buf))
        .await
        .expect("cut off within the timeout")
        .unwrap_or(0);
    let waited = started.elapsed();
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    assert!(waited >= Duration::from_millis(800), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}

/// Beyond the connection cap, new connections wait (in the listen backlog) until a slot frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_for_a_slot() {
    let node = Node::start_configured("hq", Role::Hq, &[], |c| {
        c.max_connections = 2;
        c.header_read_timeout_secs = 30;
    })
    .await;
    let addr = node.url.trim_start_matches("http://").to_string();
    // Two idle connections (the harness may hold a pooled one too): the cap is reached.
    let a = tokio::net::TcpStream::connect(&addr).await.expect("a");
    let b = tokio::net::TcpStream::connect(&addr).await.expect("b");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = || {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client")
    };
    let blocked = fresh()
        .get(format!("{}/healthz", node.url))
        .timeout(Duration::from_secs(1))
        .send()
        .await;
    assert!(
        blocked.as_ref().err().is_some_and(|e| e.is_timeout()),
        "a connection beyond the cap is not served: {blocked:?}"
    );
    // A request waiting for a slot is served once the idle connections go.
    let url = format!("{}/healthz", node.url);
    let waiting = tokio::spawn(async move {
        fresh()
            .get(url)
            .timeout(Duration::from_secs(20))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "served while the cap was reached");
    drop(a);
    drop(b);
    assert_eq!(waiting.await.expect("task").expect("served"), 200);
}

/// A request whose body never arrives is answered 503 once the request timeout passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_that_never_finishes_its_body_times_out() {
    let node = Node::start_configured("hq", Role::Hq, &[], |c| c.request_timeout_secs = 1).await;
    let addr = node.url.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/customers HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"name\":",
        node.admin
    );
    sock.write_all(head.as_bytes()).await.expect("write");
    let started = Instant::now();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), sock.read(&mut buf))
        .await
        .expect("an answer")
        .expect("read");
    let answer = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("did not finish within 1 seconds"),
        "{answer}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Each user has a write budget of their own (a token bucket): past it, 429 `rate_limited` with
/// `Retry-After`, nothing written, other users unaffected, reads still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_writing_too_fast_gets_429_with_retry_after() {
    let hq = Node::start_configured("hq", Role::Hq, &[], |c| {
        c.user_writes_per_sec = 1;
        c.user_write_burst = 10;
    })
    .await;
    configure(&hq, &["cc1"]).await;
    let agnes = hq.user("cc1", "Agnes", "agent").await;
    let bert = hq.user("cc1", "Bert", "agent").await;
    let customer = serde_json::json!({"name": "Rate Limited", "phone": "+1 555 0100", "email": "r@example.com", "address": {}});
    let mut written = 0;
    let mut refused = None;
    for _ in 0..20 {
        let r = reqwest::Client::new()
            .post(format!("{}/api/v1/customers", hq.url))
            .bearer_auth(&agnes)
            .json(&customer)
            .send()
            .await
            .expect("send");
        if r.status().as_u16() == 201 {
            written += 1;
            continue;
        }
        refused = Some(r);
        break;
    }
    // The burst, give or take the token that refilled while writing.
    assert!(
        (10..=12).contains(&written),
        "{written} writes before a refusal"
    );
    let r = refused.expect("a write was refused");
    assert_eq!(r.status().as_u16(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.expect("problem");
    assert_eq!(body["code"], "rate_limited");
    assert!(
        body["detail"].as_str().unwrap_or("").contains("this user"),
        "{body}"
    );
    // Nothing written by the refused request; reads still answer; another user still writes.
    let listed = hq.get("/api/v1/customers?q=rate", &agnes).await;
    assert_eq!(
        listed.expect(200)["items"].as_array().expect("items").len(),
        written
    );
    hq.post("/api/v1/customers", &bert, customer.clone())
        .await
        .expect(201);
    // After the wait it asked for, the user writes again.
    tokio::time::sleep(Duration::from_secs(retry)).await;
    hq.post("/api/v1/customers", &agnes, customer)
        .await
        .expect(201);
}
