//! Real nodes as separate processes of the built `switchboard` binary, wired through
//! fault-injecting proxies.
//!
//! - The binary is [`crate::bin::switchboard`]: the one next to the test executable
//!   (`target/<profile>/switchboard`), or `SWITCHBOARD_BIN`. It is never built from here:
//!   `cargo build -p switchboard-cli` comes first.
//! - [`Cluster`] owns one temp dir with a data dir and a log file per node. [`Cluster::add`]
//!   runs `switchboard init` (which prints the node id, its certificate fingerprint) then
//!   `switchboard serve --listen 127.0.0.1:0 --sync-listen 127.0.0.1:0` and reads the
//!   `listening on http://ADDR` and `peers listening on https://ADDR` lines from stdout (with a
//!   deadline); the admin token comes from `DATA_DIR/admin-token`. Node logs (stderr) go to `NAME.log`; when a test panics, the tail of
//!   every node's log is printed.
//! - [`Cluster::link`] connects two nodes through two [`Proxy`]s (one in front of each node's
//!   peers' listener) and registers each as the other's peer (`POST /api/v1/peers` with its node
//!   id, role and call centers, the URL being the proxy's), so every sync session, TLS with
//!   pinned node ids, crosses a TCP proxy the test controls.
//! - [`Node::stop`] sends SIGTERM (`kill -TERM PID`) and waits for a clean exit; [`Node::kill`]
//!   sends SIGKILL; [`Cluster::restart`] starts the node again on the same data dir (on a new
//!   port: the proxies in front of it follow). Children are killed when dropped.

use crate::proxy::Proxy;
use reqwest::Method;
use serde_json::{json, Value};
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a node may take to start (print its address) or to stop.
pub const NODE_DEADLINE: Duration = Duration::from_secs(60);
/// How long one HTTP request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// A size parameter from the environment (`SOAK_*`), with a small default for CI.
pub fn param(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// HQ or a call-center site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Headquarters: owns configuration, replicates everything.
    Hq,
    /// A site: replicates configuration and its call centers' orders and customers.
    Site,
}

/// What to start.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Node name (also its peer name on the other nodes).
    pub name: String,
    /// Role.
    pub role: Role,
    /// Call centers served (sites).
    pub call_centers: Vec<String>,
    /// Extra environment for `serve` (e.g. `SWITCHBOARD_CLOCK_OFFSET_SECS`).
    pub env: Vec<(String, String)>,
}

impl NodeSpec {
    /// An HQ node.
    pub fn hq(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            role: Role::Hq,
            call_centers: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A site serving `call_centers`.
    pub fn site(name: &str, call_centers: &[&str]) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            role: Role::Site,
            call_centers: call_centers.iter().map(|c| c.to_string()).collect(),
            env: Vec::new(),
        }
    }

    /// Adds an environment variable for `serve`.
    pub fn env(mut self, k: &str, v: &str) -> NodeSpec {
        self.env.push((k.into(), v.into()));
        self
    }
}

/// Status and body of an HTTP answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: String,
    /// Body as JSON (`Null` when empty or not JSON).
    pub body: Value,
    /// Body as text (at most 2,000 characters).
    pub text: String,
}

impl Reply {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "answer: {}", self.text);
        &self.body
    }

    /// Asserts a problem+json answer with this status and `code`.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) -> &Reply {
        assert_eq!(self.status, status, "answer: {}", self.text);
        assert_eq!(
            self.content_type, "application/problem+json",
            "content type of {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "code of {}", self.text);
        assert!(
            self.body["detail"].is_string(),
            "problem without detail: {}",
            self.text
        );
        self
    }

    /// The `id` field of the body.
    #[track_caller]
    pub fn id(&self) -> String {
        self.body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("no id in {}", self.text))
            .to_string()
    }
}

/// One node process and its files.
pub struct Node {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Call centers served (empty for HQ: all).
    pub call_centers: Vec<String>,
    /// The first admin's token.
    pub admin: String,
    /// Its data dir.
    pub data_dir: PathBuf,
    /// Its log file (stderr of every run, appended).
    pub log: PathBuf,
    /// Its node id: the fingerprint of its certificate's public key (what peers pin).
    pub fingerprint: String,
    env: Vec<(String, String)>,
    addr: Option<SocketAddr>,
    sync_addr: Option<SocketAddr>,
    child: Option<Child>,
    http: reqwest::Client,
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .build()
        .expect("http client")
}

/// A command of the binary with a clean `SWITCHBOARD_*` environment.
fn command() -> Command {
    let mut c = Command::new(crate::bin::switchboard());
    for (k, _) in std::env::vars() {
        if k.starts_with("SWITCHBOARD_") && k != "SWITCHBOARD_BIN" {
            c.env_remove(k);
        }
    }
    c
}

async fn wait_exit(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return Some(st),
            Ok(None) if Instant::now() < until => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            _ => return None,
        }
    }
}

impl Node {
    /// Initialises a data dir under `home` and starts serving it.
    pub async fn start(spec: NodeSpec, home: &Path) -> Node {
        let data_dir = home.join(&spec.name);
        let log = home.join(format!("{}.log", spec.name));
        let mut init = command();
        init.arg("init")
            .arg("--name")
            .arg(&spec.name)
            .arg("--role")
            .arg(match spec.role {
                Role::Hq => "hq",
                Role::Site => "site",
            })
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--json");
        for cc in &spec.call_centers {
            init.arg("--call-center").arg(cc);
        }
        let out = init.output().expect("run switchboard init");
        assert!(
            out.status.success(),
            "switchboard init {} failed: {}",
            spec.name,
            String::from_utf8_lossy(&out.stderr)
        );
        let init_json: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let fingerprint = init_json["fingerprint"]
            .as_str()
            .expect("init --json prints the fingerprint")
            .to_string();
        let admin = match init_json["admin_token"].as_str() {
            Some(t) => t.to_string(),
            None => std::fs::read_to_string(data_dir.join("admin-token"))
                .expect("admin-token file")
                .trim()
                .to_string(),
        };
        let mut node = Node {
            name: spec.name,
            role: spec.role,
            call_centers: spec.call_centers,
            admin,
            data_dir,
            log,
            fingerprint,
            env: spec.env,
            addr: None,
            sync_addr: None,
            child: None,
            http: http_client(),
        };
        node.spawn().await;
        node
    }

    /// Starts `serve` on the data dir and waits for its address line.
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "{} is already running", self.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open node log");
        let mut c = command();
        c.arg("serve")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--sync-listen")
            .arg("127.0.0.1:0")
            .env("SWITCHBOARD_LOG", "info,sled=warn")
            // Tests drive sessions with POST /api/v1/sync; the background loop still runs (it
            // also syncs soon after local changes) but does not dominate.
            .env("SWITCHBOARD_SYNC_INTERVAL_SECS", "3600")
            // The scenarios load a node through one agent token; the per-user write limit has a
            // test of its own (hostile::a_user_writing_too_fast_gets_429_with_retry_after).
            .env("SWITCHBOARD_USER_WRITES_PER_SEC", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        for (k, v) in &self.env {
            c.env(k, v);
        }
        let mut child = c.spawn().expect("spawn switchboard serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Reads stdout to its end, so the node never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let until = Instant::now() + NODE_DEADLINE;
        let mut api = None;
        let (addr, sync_addr) = loop {
            match rx.try_recv() {
                Ok(line) => {
                    if let Some(a) = line.trim().strip_prefix("listening on http://") {
                        api = Some(
                            a.parse::<SocketAddr>()
                                .expect("address in the listening line"),
                        );
                    } else if let Some(a) = line.trim().strip_prefix("peers listening on https://")
                    {
                        let sync = a
                            .parse::<SocketAddr>()
                            .expect("address in the peers' listening line");
                        break (api.expect("the API's line comes first"), sync);
                    }
                }
                Err(mpsc::TryRecvError::Empty) => {
                    if let Ok(Some(st)) = child.try_wait() {
                        panic!(
                            "{} exited with {st} before listening\n{}",
                            self.name,
                            self.log_tail(30)
                        );
                    }
                    if Instant::now() > until {
                        let _ = child.kill();
                        let _ = child.wait();
                        panic!(
                            "{} did not print its address in {NODE_DEADLINE:?}\n{}",
                            self.name,
                            self.log_tail(30)
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(mpsc::TryRecvError::Disconnected) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "{} closed stdout before listening\n{}",
                        self.name,
                        self.log_tail(30)
                    );
                }
            }
        };
        self.addr = Some(addr);
        self.sync_addr = Some(sync_addr);
        self.child = Some(child);
        // A fresh client: pooled connections to the previous process are useless.
        self.http = http_client();
    }

    /// The address it listens on (this run).
    #[track_caller]
    pub fn addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address of its peers' listener (this run).
    #[track_caller]
    pub fn sync_addr(&self) -> SocketAddr {
        self.sync_addr
            .unwrap_or_else(|| panic!("{} is not running", self.name))
    }

    /// `https://ADDR` of its peers' listener.
    pub fn sync_url(&self) -> String {
        format!("https://{}", self.sync_addr())
    }

    /// `POST path` on this node's peers' listener as the node whose data dir is `from` (its
    /// key), as a hostile or broken peer would send it by hand. `Err` (the TLS error) when
    /// either side refuses the other's certificate.
    pub async fn peer_post(&self, from: &Path, path: &str, body: Vec<u8>) -> Result<Reply, String> {
        let key = switchboard_node::tls::NodeKey::load(from)
            .map_err(|e| e.to_string())?
            .ok_or("no node key")?;
        let fp = self.fingerprint.parse().map_err(|e| format!("{e}"))?;
        let url = format!("{}{path}", self.sync_url());
        let a = switchboard_node::sync_driver::transport::post_as(&key, fp, &url, body).await?;
        let text: String = String::from_utf8_lossy(&a.body)
            .chars()
            .take(2000)
            .collect();
        Ok(Reply {
            status: a.status,
            content_type: a.content_type,
            body: serde_json::from_slice(&a.body).unwrap_or(Value::Null),
            text,
        })
    }

    /// Sends only the head of a `POST path` declaring `len` body bytes to this node's peers'
    /// listener as the node whose data dir is `from`, and returns the answer's status line.
    pub async fn peer_head_only(
        &self,
        from: &Path,
        path: &str,
        len: u64,
    ) -> Result<String, String> {
        let key = switchboard_node::tls::NodeKey::load(from)
            .map_err(|e| e.to_string())?
            .ok_or("no node key")?;
        let fp = self.fingerprint.parse().map_err(|e| format!("{e}"))?;
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: peer\r\ncontent-type: application/octet-stream\r\ncontent-length: {len}\r\n\r\n"
        );
        let addr = self.sync_addr().to_string();
        let got =
            switchboard_node::sync_driver::transport::head_only_as(&key, fp, &addr, &head).await?;
        Ok(got.lines().next().unwrap_or_default().to_string())
    }

    /// The body that adds this node as a peer named `name` at `url` (its node id, role and call
    /// centers, as an admin declares them).
    pub fn peer_body(&self, name: &str, url: &str) -> Value {
        json!({
            "name": name,
            "url": url,
            "node_id": self.fingerprint,
            "role": match self.role { Role::Hq => "hq", Role::Site => "site" },
            "call_centers": self.call_centers,
        })
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The process id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGTERM, then waits for the exit (graceful shutdown flushes the store). Returns the
    /// exit status; SIGKILLs if the node does not stop within the deadline, and panics then.
    pub async fn stop(&mut self) -> ExitStatus {
        let Some(mut child) = self.child.take() else {
            panic!("{} is not running", self.name);
        };
        let st = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(st.success(), "kill -TERM {} failed", child.id());
        match wait_exit(&mut child, NODE_DEADLINE).await {
            Some(st) => {
                self.addr = None;
                st
            }
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} did not stop within {NODE_DEADLINE:?} of SIGTERM\n{}",
                    self.name,
                    self.log_tail(30)
                );
            }
        }
    }

    /// SIGKILL: the process dies at once, whatever it was doing.
    pub async fn kill(&mut self) {
        let Some(mut child) = self.child.take() else {
            panic!("{} is not running", self.name);
        };
        child.kill().expect("SIGKILL the node");
        let _ = wait_exit(&mut child, NODE_DEADLINE).await;
        self.addr = None;
    }

    /// `switchboard verify --data-dir` (the node must be stopped).
    pub fn verify(&self) -> Output {
        command()
            .arg("verify")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .output()
            .expect("run switchboard verify")
    }

    /// The last `n` lines of its log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(n);
        format!(
            "--- {} log ({}), last {} lines ---\n{}",
            self.name,
            self.log.display(),
            lines.len() - from,
            lines[from..].join("\n")
        )
    }

    /// One request: JSON body if given, bearer token if given. Transport errors panic.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        match self.try_call(method.clone(), path, token, body).await {
            Ok(r) => r,
            Err(e) => panic!("{} {method} {path}: {e}\n{}", self.name, self.log_tail(20)),
        }
    }

    /// One request; `Err` on transport errors (a killed node, say).
    pub async fn try_call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Reply, String> {
        let mut rb = self.http.request(method, format!("{}{path}", self.url()));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        Self::reply(rb.send().await.map_err(|e| format!("{e:?}"))?).await
    }

    /// A request with a raw body and headers (for malformed input).
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Reply {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.url()));
        for (k, v) in headers {
            rb = rb.header(*k, v);
        }
        let resp = rb.body(body).send().await;
        match resp {
            Ok(r) => match Self::reply(r).await {
                Ok(r) => r,
                Err(e) => panic!("{} {method} {path}: {e}", self.name),
            },
            Err(e) => panic!(
                "{} {method} {path}: {e:?}\n{}",
                self.name,
                self.log_tail(20)
            ),
        }
    }

    /// A `POST` that declares a body of `declared` bytes but sends only its head, then reads the
    /// answer: a node that admits requests on their headers answers without waiting for the body.
    /// (A client that writes an oversized body races the node closing the connection, so the
    /// refusal is observed here on the head alone.)
    pub async fn post_head_only(
        &self,
        path: &str,
        headers: &[(&str, String)],
        declared: u64,
    ) -> Reply {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let exchange = async {
            let mut s = tokio::net::TcpStream::connect(self.addr()).await?;
            let mut head = format!(
                "POST {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {declared}\r\n",
                self.addr()
            );
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            s.write_all(head.as_bytes()).await?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let length = head
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        return Ok::<_, std::io::Error>((
                            head,
                            buf[end + 4..end + 4 + length].to_vec(),
                        ));
                    }
                }
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("closed after {} bytes", buf.len()),
                    ));
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        };
        let (head, body) = match tokio::time::timeout(Duration::from_secs(10), exchange).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => panic!(
                "{} POST {path} (head only): {e}\n{}",
                self.name,
                self.log_tail(20)
            ),
            Err(_) => panic!(
                "{} POST {path} (head only): no answer within 10 s (waiting for the body?)\n{}",
                self.name,
                self.log_tail(20)
            ),
        };
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let content_type = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.trim().to_string())
            .unwrap_or_default();
        Reply {
            status,
            content_type,
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&body).chars().take(2000).collect(),
        }
    }

    async fn reply(resp: reqwest::Response) -> Result<Reply, String> {
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.bytes().await.map_err(|e| format!("{e:?}"))?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text: String = String::from_utf8_lossy(&bytes).chars().take(2000).collect();
        Ok(Reply {
            status,
            content_type,
            body,
            text,
        })
    }

    /// GET with a token.
    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// POST JSON with a token.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// PUT JSON with a token.
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    /// PATCH JSON with a token.
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// `GET /api/v1/node` as admin.
    pub async fn info(&self) -> Value {
        self.get("/api/v1/node", &self.admin)
            .await
            .expect(200)
            .clone()
    }

    /// The node id.
    pub async fn node_id(&self) -> String {
        self.info().await["node_id"]
            .as_str()
            .expect("node_id")
            .to_string()
    }

    /// Number of order documents (`GET /api/v1/node`).
    pub async fn order_count(&self) -> u64 {
        self.info().await["documents"]["orders"]
            .as_u64()
            .expect("documents.orders")
    }

    /// Runs a session with peer `peer` now; the peer's line of the answer
    /// (`{"name","ok","sent_docs","received_docs","bytes_out","bytes_in","error"}`).
    pub async fn sync_with(&self, peer: &str) -> Value {
        let r = self
            .call(
                Method::POST,
                &format!("/api/v1/sync?peer={peer}"),
                Some(&self.admin),
                None,
            )
            .await;
        let body = r.expect(200);
        body["peers"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["name"] == peer))
            .cloned()
            .unwrap_or_else(|| panic!("no line for {peer} in {body}"))
    }

    /// Whether a call center's configuration has reached this node (with `token` valid here).
    pub async fn has_call_center(&self, cc: &str, token: &str) -> bool {
        match self
            .try_call(
                Method::GET,
                &format!("/api/v1/call-centers/{cc}"),
                Some(token),
                None,
            )
            .await
        {
            Ok(r) => r.status == 200,
            Err(_) => false,
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A link between two nodes: two proxies, one in front of each.
pub struct Link {
    /// One end.
    pub a: String,
    /// The other end.
    pub b: String,
    /// In front of `b`: what `a` dials.
    pub to_b: Proxy,
    /// In front of `a`: what `b` dials.
    pub to_a: Proxy,
}

impl Link {
    /// Cuts both directions.
    pub fn cut(&self) {
        self.to_a.cut();
        self.to_b.cut();
    }

    /// Heals both directions.
    pub fn heal(&self) {
        self.to_a.heal();
        self.to_b.heal();
    }

    /// The proxy `from` dials to reach the other end.
    #[track_caller]
    pub fn dialed_by(&self, from: &str) -> &Proxy {
        if from == self.a {
            &self.to_b
        } else if from == self.b {
            &self.to_a
        } else {
            panic!("{from} is not an end of {}-{}", self.a, self.b)
        }
    }

    /// Both proxies.
    pub fn proxies(&self) -> [&Proxy; 2] {
        [&self.to_a, &self.to_b]
    }

    fn other(&self, name: &str) -> Option<&str> {
        if name == self.a {
            Some(&self.b)
        } else if name == self.b {
            Some(&self.a)
        } else {
            None
        }
    }
}

/// Nodes and links of one test, in one temp dir.
pub struct Cluster {
    /// The nodes, in the order added.
    pub nodes: Vec<Node>,
    /// The links.
    pub links: Vec<Link>,
    home: tempfile::TempDir,
}

impl Default for Cluster {
    fn default() -> Self {
        Self::new()
    }
}

impl Cluster {
    /// An empty cluster. `SWITCHBOARD_KEEP_TEST_DIRS=1` keeps its dir (data and logs).
    pub fn new() -> Cluster {
        let home = tempfile::Builder::new()
            .prefix("switchboard-cluster-")
            .tempdir()
            .expect("temp dir");
        Cluster {
            nodes: Vec::new(),
            links: Vec::new(),
            home,
        }
    }

    /// Where the data dirs and logs live.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Starts a node.
    pub async fn add(&mut self, spec: NodeSpec) -> &Node {
        assert!(
            self.nodes.iter().all(|n| n.name != spec.name),
            "two nodes named {}",
            spec.name
        );
        let node = Node::start(spec, self.home.path()).await;
        self.nodes.push(node);
        self.nodes.last().expect("just pushed")
    }

    /// A node by name.
    #[track_caller]
    pub fn node(&self, name: &str) -> &Node {
        self.nodes
            .iter()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// A node by name, mutably.
    #[track_caller]
    pub fn node_mut(&mut self, name: &str) -> &mut Node {
        self.nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    /// Links two nodes through proxies and makes them peers of each other (peer name = node
    /// name).
    pub async fn link(&mut self, a: &str, b: &str) -> &Link {
        let to_b = Proxy::start(self.node(b).sync_addr());
        let to_a = Proxy::start(self.node(a).sync_addr());
        for (me, other, url) in [(a, b, to_b.url()), (b, a, to_a.url())] {
            let n = self.node(me);
            let body = self.node(other).peer_body(other, &url);
            n.post("/api/v1/peers", &n.admin, body).await.expect(201);
        }
        self.links.push(Link {
            a: a.into(),
            b: b.into(),
            to_b,
            to_a,
        });
        self.links.last().expect("just pushed")
    }

    /// The link between two nodes.
    #[track_caller]
    pub fn link_of(&self, a: &str, b: &str) -> &Link {
        self.links
            .iter()
            .find(|l| (l.a == a && l.b == b) || (l.a == b && l.b == a))
            .unwrap_or_else(|| panic!("no link {a}-{b}"))
    }

    /// The names of `name`'s peers.
    pub fn peers_of(&self, name: &str) -> Vec<String> {
        self.links
            .iter()
            .filter_map(|l| l.other(name).map(str::to_string))
            .collect()
    }

    /// Starts a stopped node again on its data dir; the proxies in front of it follow.
    pub async fn restart(&mut self, name: &str) {
        self.node_mut(name).spawn().await;
        let addr = self.node(name).sync_addr();
        for l in &self.links {
            if l.a == name {
                l.to_a.set_target(addr);
            } else if l.b == name {
                l.to_b.set_target(addr);
            }
        }
    }

    /// One session from every running node to each of its running peers; the answers as
    /// `(from, peer line)`.
    pub async fn sync_round(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for l in &self.links {
            for (from, to) in [(&l.a, &l.b), (&l.b, &l.a)] {
                let n = self.node(from);
                if n.is_running() && self.node(to).is_running() {
                    out.push((from.clone(), n.sync_with(to).await));
                }
            }
        }
        out
    }

    /// Prints the tail of every node's log.
    pub fn dump_logs(&self, lines: usize) {
        for n in &self.nodes {
            eprintln!("{}", n.log_tail(lines));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs(40);
            eprintln!("cluster dir: {}", self.home.path().display());
        }
        for n in &mut self.nodes {
            if let Some(mut c) = n.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if std::env::var_os("SWITCHBOARD_KEEP_TEST_DIRS").is_some() {
            let dir = std::mem::replace(&mut self.home, tempfile::tempdir().expect("temp dir"));
            eprintln!("kept {}", dir.keep().display());
        }
    }
}
