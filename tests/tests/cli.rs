//! The `switchboard` binary, run as a user would: init, serve, admin commands against a real
//! node, offline verify/backup, the error paths, and the demo.
//!
//! The binary is [`switchboard_tests::bin::switchboard`]: the one `cargo build` put next to this
//! test executable (`target/debug/switchboard`), or `SWITCHBOARD_BIN`. It is never built from
//! here: build it first (`cargo build -p switchboard-cli`).

use serde_json::{json, Value};
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long one short command may take.
const CMD_DEADLINE: Duration = Duration::from_secs(60);
/// How long a node may take to start or stop.
const NODE_DEADLINE: Duration = Duration::from_secs(60);

/// A finished command.
struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn code(&self) -> Option<i32> {
        self.status.code()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }

    #[track_caller]
    fn ok(self) -> Out {
        assert_eq!(
            self.code(),
            Some(0),
            "command failed\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Exit 1 with exactly one line on stderr (no backtrace, no log noise).
    #[track_caller]
    fn user_error(self) -> String {
        assert_eq!(
            self.code(),
            Some(1),
            "expected exit 1\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one stderr line, got: {:?}",
            self.stderr
        );
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        lines[0].to_string()
    }
}

/// Kills the child if the test ends early (panic) so no node outlives its test.
struct KillOnDrop(Option<Child>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the binary to completion (killed at the deadline).
fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    run_with_deadline(args, env, CMD_DEADLINE)
}

fn run_with_deadline(args: &[&str], env: &[(&str, &str)], deadline: Duration) -> Out {
    let mut cmd = Command::new(switchboard_tests::bin::switchboard());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("SWITCHBOARD_URL")
        .env_remove("SWITCHBOARD_TOKEN")
        .env_remove("SWITCHBOARD_DATA_DIR")
        .env_remove("SWITCHBOARD_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = KillOnDrop(Some(cmd.spawn().expect("spawn switchboard")));
    let c = child.0.as_mut().expect("child");
    let mut so = c.stdout.take().expect("stdout");
    let mut se = c.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let status = wait_deadline(child.0.as_mut().expect("child"), deadline)
        .unwrap_or_else(|| panic!("switchboard {args:?} did not finish within {deadline:?}"));
    child.0 = None;
    Out {
        status,
        stdout: t_out.join().expect("stdout reader"),
        stderr: t_err.join().expect("stderr reader"),
    }
}

/// Polls the child until it exits or the deadline passes.
fn wait_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `switchboard serve` child process.
struct Node {
    child: KillOnDrop,
    url: String,
    /// `https://ADDR` of its peers' listener.
    sync_url: String,
    /// The admin token written on first start (empty when the dir was initialised before): read
    /// from the file `serve` names, since stdout is a pipe, not a terminal.
    token: String,
    /// What `serve` printed up to its `listening on` line.
    printed: Vec<String>,
    stdout: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Node {
    /// Starts `serve --data-dir DIR --listen 127.0.0.1:0` and waits for its `listening on` line.
    fn start(dir: &Path) -> Node {
        let mut child = Command::new(switchboard_tests::bin::switchboard())
            .args(["serve", "--data-dir"])
            .arg(dir)
            .args(["--listen", "127.0.0.1:0", "--sync-listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("SWITCHBOARD_LOG", "warn")
            .spawn()
            .expect("spawn switchboard serve");
        let so = child.stdout.take().expect("stdout");
        let mut se = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(so).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = se.read_to_string(&mut s);
            s
        });
        let mut node = Node {
            child: KillOnDrop(Some(child)),
            url: String::new(),
            sync_url: String::new(),
            token: String::new(),
            printed: Vec::new(),
            stdout: rx,
            stderr,
        };
        let end = Instant::now() + NODE_DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match node.stdout.recv_timeout(left) {
                Ok(line) => {
                    node.printed.push(line.clone());
                    if let Some(t) = line.strip_prefix("admin token: ") {
                        node.token = t.trim().to_string();
                    }
                    if let Some(rest) = line.strip_prefix("admin token written to ") {
                        let path = rest.split(" (").next().unwrap_or(rest);
                        node.token = std::fs::read_to_string(path)
                            .expect("the admin token file serve names")
                            .trim()
                            .to_string();
                    }
                    if let Some(u) = line.strip_prefix("listening on ") {
                        node.url = u.trim().to_string();
                    }
                    if let Some(u) = line.strip_prefix("peers listening on ") {
                        node.sync_url = u.trim().to_string();
                        break;
                    }
                }
                Err(_) => {
                    let status = node
                        .child
                        .0
                        .as_mut()
                        .and_then(|c| c.try_wait().ok().flatten());
                    panic!("serve printed no `listening on` line (exit: {status:?})");
                }
            }
        }
        assert!(node.url.starts_with("http://127.0.0.1:"), "{}", node.url);
        assert!(
            node.sync_url.starts_with("https://127.0.0.1:"),
            "{}",
            node.sync_url
        );
        node
    }

    /// Env for admin commands against this node.
    fn env<'a>(&'a self, token: &'a str) -> [(&'a str, &'a str); 2] {
        [("SWITCHBOARD_URL", &self.url), ("SWITCHBOARD_TOKEN", token)]
    }

    /// SIGTERM, then waits for the exit: its status and the node's stderr.
    fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.0.take().expect("child");
        let st = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(st.success());
        let status = wait_deadline(&mut child, NODE_DEADLINE);
        if status.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let err = self.stderr.join().unwrap_or_default();
        let status = status.unwrap_or_else(|| {
            panic!("serve ignored SIGTERM for {NODE_DEADLINE:?}; stderr: {err}")
        });
        (status, err)
    }

    /// SIGTERM and a graceful exit 0.
    fn stop_ok(self) {
        let (status, err) = self.stop();
        assert_eq!(
            status.code(),
            Some(0),
            "serve exit {status:?}; stderr: {err}"
        );
    }
}

/// One HTTP call (blocking, via a throwaway runtime): status and JSON body.
fn http(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(CMD_DEADLINE)
            .build()
            .expect("client");
        let mut req = client.request(method.parse().expect("method"), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.expect("body");
        let v = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, v)
    })
}

#[track_caller]
fn api(node: &Node, method: &str, path: &str, token: &str, body: Value) -> Value {
    let (status, v) = http(
        method,
        &format!("{}{path}", node.url),
        Some(token),
        Some(body),
    );
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {v}"
    );
    v
}

/// A call center, an agent (added with `switchboard users add`), a customer and `n` orders.
fn seed(node: &Node, n: usize) -> Vec<String> {
    let admin = node.token.as_str();
    api(
        node,
        "PUT",
        "/api/v1/call-centers/cli",
        admin,
        json!({"name": "CLI test", "currency": "EUR", "order_completion": true, "guided_sales": true,
               "payment_tolerance": "0.00", "payment_methods": [{"id": "card", "kind": "card"}],
               "delivery_modes": [{"id": "std", "name": "Standard",
                   "charges": [{"from": "0.00", "to": null, "amount": "4.95"}]}],
               "hold_codes": [{"id": "fraud", "name": "Fraud", "clear_roles": ["supervisor"]}],
               "reason_codes": [], "price_override_limits": {}, "financial_dimensions": {},
               "price_group": null}),
    );
    api(
        node,
        "PUT",
        "/api/v1/products/widget",
        admin,
        json!({"name": "Widget, large", "price": "12.50", "allow_price_override": false,
               "image_url": null, "upsell": [], "cross_sell": [], "script": null, "continuity": null}),
    );
    let user = run(
        &[
            "users",
            "add",
            "--call-center",
            "cli",
            "--name",
            "Ann",
            "--role",
            "agent",
            "--json",
        ],
        &node.env(admin),
    )
    .ok()
    .json();
    let agent = user["token"].as_str().expect("token").to_string();
    let cust = api(
        node,
        "POST",
        "/api/v1/customers",
        &agent,
        json!({"name": "Grace \"Amazing\" Hopper", "phone": "555", "email": null, "address": {"city": "Arlington"}}),
    );
    let cid = cust["id"].as_str().expect("customer id").to_string();
    (0..n)
        .map(|_| {
            let o = api(
                node,
                "POST",
                "/api/v1/orders",
                &agent,
                json!({"customer_id": cid, "source_code": null, "delivery_mode": "std",
                       "ship_to": {"city": "Arlington"}}),
            );
            let id = o["id"].as_str().expect("order id").to_string();
            api(
                node,
                "POST",
                &format!("/api/v1/orders/{id}/lines"),
                &agent,
                json!({"product_id": "widget", "quantity": 2, "unit_price": null, "override_reason": null}),
            );
            id
        })
        .collect()
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("switchboard-cli-")
        .tempdir()
        .expect("tempdir")
}

fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

#[test]
fn usage_errors_exit_2_and_help_works() {
    assert_eq!(run(&[], &[]).code(), Some(2));
    assert_eq!(run(&["init", "--role", "boss"], &[]).code(), Some(2));
    assert_eq!(run(&["frobnicate"], &[]).code(), Some(2));
    for cmd in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["init", "--help"],
        vec!["demo", "--help"],
        vec!["peers", "add", "--help"],
        vec!["users", "rotate", "--help"],
        vec!["sync", "now", "--help"],
        vec!["sync", "status", "--help"],
        vec!["export", "--help"],
        vec!["verify", "--help"],
        vec!["backup", "--help"],
    ] {
        let out = run(&cmd, &[]).ok();
        assert!(out.stdout.contains("Usage:"), "{cmd:?}: {}", out.stdout);
    }
}

#[test]
fn init_creates_a_node_once() {
    let dir = tmp();
    let data = dir.path().join("hq");
    // Step 1: a site needs a call center.
    let err = run(
        &[
            "init",
            "--name",
            "s",
            "--role",
            "site",
            "--data-dir",
            p(&data),
        ],
        &[],
    )
    .user_error();
    assert!(err.contains("call center"), "{err}");
    // Step 2: init keeps the token in DATA_DIR/admin-token, mode 0600, in a 0700 data dir, and
    // prints it only to a terminal: to this pipe it gives the file's path instead.
    let out = run(
        &[
            "init",
            "--name",
            "hq-1",
            "--role",
            "hq",
            "--call-center",
            "east",
            "--data-dir",
            p(&data),
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    assert!(
        out.get("admin_token").is_none(),
        "no token printed to a pipe: {out}"
    );
    let file = data.join("admin-token");
    assert_eq!(out["admin_token_file"], file.display().to_string());
    let token = read_token(&data);
    let token = token.as_str();
    assert_eq!(token.len(), 64);
    assert!(
        out["node_id"].as_str().is_some_and(|s| s.len() == 36),
        "{out}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join("LOCK")), 0o600);
        assert_eq!(mode(&data.join("db")), 0o700);
    }
    // Without --json, to a pipe: the path, never the token.
    let data2 = dir.path().join("n2");
    let text = run(
        &[
            "init",
            "--name",
            "hq-2",
            "--role",
            "hq",
            "--data-dir",
            p(&data2),
        ],
        &[],
    )
    .ok();
    assert!(
        text.stdout.contains("admin token written to"),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains(&read_token(&data2)),
        "{}",
        text.stdout
    );
    // Step 3: a second init refuses to overwrite the node.
    let err = run(
        &[
            "init",
            "--name",
            "again",
            "--role",
            "hq",
            "--data-dir",
            p(&data),
        ],
        &[],
    )
    .user_error();
    assert!(err.contains("already"), "{err}");
    // Step 4: serve opens it with that token.
    let node = Node::start(&data);
    assert!(
        node.token.is_empty(),
        "an initialised node prints no new token"
    );
    let info = run(&["node", "--json"], &node.env(token)).ok().json();
    assert_eq!(info["name"], "hq-1");
    assert_eq!(info["role"], "hq");
    node.stop_ok();
}

/// On a terminal (a pseudo-terminal from util-linux `script`), `init` shows the token once; to a
/// pipe it shows only where the token is (checked in `init_creates_a_node_once`).
#[test]
fn init_prints_the_token_only_to_a_terminal() {
    let dir = tmp();
    let data = dir.path().join("tty");
    let cmd = format!(
        "{} init --name tty --role hq --data-dir {}",
        switchboard_tests::bin::switchboard().display(),
        data.display()
    );
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run util-linux script (a pseudo-terminal)");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let token = read_token(&data);
    assert!(
        text.contains(&format!("admin token: {token}")),
        "on a terminal the token is shown: {text}"
    );
}

#[test]
fn serve_initialises_an_empty_dir_and_stops_on_sigterm() {
    let dir = tmp();
    let data = dir.path().join("node");
    // Step 1: first start initialises a standalone HQ and prints the token and the real port.
    let node = Node::start(&data);
    assert!(!node.token.is_empty(), "first start writes the admin token");
    assert_eq!(node.token, read_token(&data));
    assert!(
        node.printed.iter().all(|l| !l.contains(&node.token)),
        "the token is not printed to a pipe: {:?}",
        node.printed
    );
    let (status, body) = http("GET", &format!("{}/healthz", node.url), None, None);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    // Step 2: the token works for admin commands, via env and via flags.
    let info = run(&["node", "--json"], &node.env(&node.token)).ok().json();
    assert_eq!(info["role"], "hq");
    let text = run(&["node", "--url", &node.url, "--token", &node.token], &[]).ok();
    assert!(text.stdout.contains("role:"), "{}", text.stdout);
    // Step 3: SIGTERM ends it gracefully with exit 0.
    node.stop_ok();
    // Step 4: a restart keeps the identity and prints no new token.
    let again = Node::start(&data);
    assert!(again.token.is_empty());
    let info2 = run(&["node", "--json"], &again.env(&read_token(&data)))
        .ok()
        .json();
    assert_eq!(info2["node_id"], info["node_id"]);
    again.stop_ok();
}

fn read_token(data: &Path) -> String {
    std::fs::read_to_string(data.join("admin-token"))
        .expect("admin-token")
        .trim()
        .to_string()
}

#[test]
fn peers_add_list_remove_and_sync_status() {
    let dir = tmp();
    let node = Node::start(&dir.path().join("n"));
    let env = node.env(&node.token);
    // Step 1: no peers.
    let out = run(&["sync", "status"], &env).ok();
    assert!(
        out.stdout.contains("no peers") || out.stdout.contains("PEER"),
        "{}",
        out.stdout
    );
    // Step 2: add a peer that is down (nothing listens on port 1).
    run(
        &[
            "peers",
            "add",
            "--name",
            "far",
            "--peer-url",
            "https://127.0.0.1:1",
            "--node-id",
            &"ab".repeat(32),
            "--role",
            "hq",
        ],
        &env,
    )
    .ok();
    let list = run(&["peers", "list", "--json"], &env).ok().json();
    let names: Vec<String> = items(&list, "peers")
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["far".to_string()], "{list}");
    let table = run(&["peers", "list"], &env).ok();
    assert!(table.stdout.contains("far") && table.stdout.contains("https://127.0.0.1:1"));
    // Step 3: sync now with a peer that is down fails with one line, exit 1.
    let err = run(&["sync", "now", "--peer", "far"], &env);
    assert_eq!(err.code(), Some(1), "{} {}", err.stdout, err.stderr);
    assert!(err.stderr.contains("far"), "{}", err.stderr);
    // Step 4: sync status shows the peer, as a table and as JSON.
    let st = run(&["sync", "status", "--json"], &env).ok().json();
    let peers = items(&st, "peers");
    assert_eq!(peers.len(), 1, "{st}");
    assert_eq!(peers[0]["name"], "far");
    assert_eq!(peers[0]["reachable"], false, "{st}");
    let table = run(&["sync", "status"], &env).ok();
    let header = table.stdout.lines().next().unwrap_or_default().to_string();
    for col in ["PEER", "REACHABLE", "LAST SUCCESS", "LAST ERROR", "PENDING"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.stdout.contains("far"));
    // Step 5: remove it.
    run(&["peers", "remove", "far"], &env).ok();
    let list = run(&["peers", "list", "--json"], &env).ok().json();
    assert!(items(&list, "peers").is_empty(), "{list}");
    node.stop_ok();
}

#[test]
fn users_add_list_rotate_revoke() {
    let dir = tmp();
    let data = dir.path().join("n");
    let node = Node::start(&data);
    let admin = node.token.clone();
    seed(&node, 0);
    let env = node.env(&admin);
    // Step 1: a second agent; its token comes with its expiry, in text and JSON.
    let text = run(
        &["users", "add", "--call-center", "cli", "--name", "Bob"],
        &env,
    )
    .ok();
    assert!(text.stdout.contains("expires: "), "{}", text.stdout);
    // Step 2: the list shows both, as a table and as JSON (never a token).
    let list = run(&["users", "list", "--call-center", "cli", "--json"], &env)
        .ok()
        .json();
    let users = items(&list, "items");
    assert_eq!(users.len(), 2, "{list}");
    assert!(users.iter().all(|u| u.get("token").is_none()));
    let bob = users
        .iter()
        .find(|u| u["name"] == "Bob")
        .expect("Bob listed");
    let bob_id = bob["user_id"].as_str().expect("id").to_string();
    let table = run(&["users", "list", "--call-center", "cli"], &env).ok();
    let header = table.stdout.lines().next().unwrap_or_default().to_string();
    for col in ["USER ID", "NAME", "ROLE", "STATUS", "CREATED"] {
        assert!(header.contains(col), "{header}");
    }
    assert!(table.stdout.contains("Bob") && table.stdout.contains("active"));
    // Step 3: rotate gives a working token; revoke ends it.
    let rotated = run(&["users", "rotate", &bob_id, "--json"], &env)
        .ok()
        .json();
    let token = rotated["token"].as_str().expect("token").to_string();
    assert!(rotated["expires_at"].is_string(), "{rotated}");
    let (status, _) = http(
        "GET",
        &format!("{}/api/v1/call-centers/cli", node.url),
        Some(&token),
        None,
    );
    assert_eq!(status, 200);
    let out = run(&["users", "revoke", &bob_id], &env).ok();
    assert!(out.stdout.contains("revoked"), "{}", out.stdout);
    let (status, v) = http(
        "GET",
        &format!("{}/api/v1/call-centers/cli", node.url),
        Some(&token),
        None,
    );
    assert_eq!((status, v["code"].clone()), (401, json!("unauthorized")));
    let table = run(&["users", "list", "--call-center", "cli"], &env).ok();
    assert!(table.stdout.contains("revoked"), "{}", table.stdout);
    // Step 4: a revoked user cannot be rotated: one line, exit 1.
    let err = run(&["users", "rotate", &bob_id], &env).user_error();
    assert!(err.contains("409"), "{err}");
    // Step 5: the first admin's token renewed on the stopped node: the old one stops working.
    run(&["renew-admin-token", "--data-dir", p(&data)], &[]).user_error();
    node.stop_ok();
    let out = run(&["renew-admin-token", "--data-dir", p(&data)], &[]).ok();
    assert!(
        out.stdout.contains("admin token written to"),
        "{}",
        out.stdout
    );
    let renewed = read_token(&data);
    assert_ne!(renewed, admin);
    let node = Node::start(&data);
    let url = format!("{}/api/v1/node", node.url);
    assert_eq!(http("GET", &url, Some(&renewed), None).0, 200);
    assert_eq!(http("GET", &url, Some(&admin), None).0, 401);
    node.stop_ok();
}

fn items(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .or_else(|| v.get("items").and_then(Value::as_array))
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default()
}

#[test]
fn sync_now_between_two_real_nodes() {
    let dir = tmp();
    let hq = Node::start(&dir.path().join("hq"));
    let hq_orders = seed(&hq, 1);
    // Step 1: a site for call center `cli`, peered both ways by node id (what `init` and
    // `switchboard node` print), each side declaring the other's role and call centers.
    let site_dir = dir.path().join("site");
    let init = run(
        &[
            "init",
            "--name",
            "site",
            "--role",
            "site",
            "--call-center",
            "cli",
            "--data-dir",
            p(&site_dir),
            "--json",
        ],
        &[],
    )
    .ok()
    .json();
    let site_token = read_token(&site_dir);
    let site = Node::start(&site_dir);
    let hq_node = run(&["node"], &hq.env(&hq.token)).ok();
    let hq_id = hq_node
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("node id:"))
        .expect("switchboard node prints the node id")
        .trim()
        .to_string();
    run(
        &[
            "peers",
            "add",
            "--name",
            "site",
            "--peer-url",
            &site.sync_url,
            "--node-id",
            init["fingerprint"].as_str().expect("fingerprint"),
            "--role",
            "site",
            "--call-center",
            "cli",
        ],
        &hq.env(&hq.token),
    )
    .ok();
    run(
        &[
            "peers",
            "add",
            "--name",
            "hq",
            "--peer-url",
            &hq.sync_url,
            "--node-id",
            &hq_id,
            "--role",
            "hq",
        ],
        &site.env(&site_token),
    )
    .ok();
    // Step 2: sync now from the site pulls the order.
    let res = run(&["sync", "now", "--json"], &site.env(&site_token))
        .ok()
        .json();
    assert_eq!(items(&res, "peers")[0]["ok"], true, "{res}");
    let list = run(&["orders", "list", "--json"], &site.env(&site_token))
        .ok()
        .json();
    let ids: Vec<String> = items(&list, "items")
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    assert_eq!(ids, hq_orders);
    // Step 3: the table form, and status shows a success.
    let table = run(&["sync", "now", "--peer", "hq"], &site.env(&site_token)).ok();
    assert!(
        table.stdout.contains("hq") && table.stdout.contains("ok"),
        "{}",
        table.stdout
    );
    let st = run(&["sync", "status", "--json"], &site.env(&site_token))
        .ok()
        .json();
    assert!(!items(&st, "peers")[0]["last_success"].is_null(), "{st}");
    site.stop_ok();
    hq.stop_ok();
}

#[test]
fn orders_and_export_jsonl_and_csv() {
    let dir = tmp();
    let node = Node::start(&dir.path().join("n"));
    let ids = seed(&node, 3);
    let env = node.env(&node.token);
    // Step 1: orders list and show.
    let list = run(&["orders", "list", "--json"], &env).ok().json();
    assert_eq!(items(&list, "items").len(), 3, "{list}");
    let table = run(&["orders", "list"], &env).ok();
    for id in &ids {
        assert!(table.stdout.contains(id.as_str()), "{}", table.stdout);
    }
    let show = run(&["orders", "show", &ids[0], "--json"], &env)
        .ok()
        .json();
    assert_eq!(show["id"], ids[0].as_str());
    let text = run(&["orders", "show", &ids[0]], &env).ok();
    assert!(text.stdout.contains("widget"), "{}", text.stdout);
    let missing = run(
        &["orders", "show", "00000000-0000-0000-0000-000000000000"],
        &env,
    )
    .user_error();
    assert!(missing.contains("404"), "{missing}");
    // Step 2: jsonl, one full order view per line.
    let jsonl = dir.path().join("orders.jsonl");
    let out = run(&["export", "--format", "jsonl", "--out", p(&jsonl)], &env).ok();
    assert!(out.stdout.contains("exported 3 orders"), "{}", out.stdout);
    let text = std::fs::read_to_string(&jsonl).expect("jsonl");
    let mut got: Vec<String> = text
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json line");
            assert_eq!(v["lines"].as_array().map(Vec::len), Some(1));
            v["id"].as_str().expect("id").to_string()
        })
        .collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    // Step 3: csv, a header and one row per order.
    let csv = dir.path().join("orders.csv");
    run(&["export", "--format", "csv", "--out", p(&csv)], &env).ok();
    let text = std::fs::read_to_string(&csv).expect("csv");
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 4, "{text}");
    assert!(
        rows[0].starts_with("id,call_center_id,customer_id,status"),
        "{}",
        rows[0]
    );
    for id in &ids {
        assert!(rows.iter().any(|r| r.starts_with(id.as_str())), "{text}");
    }
    // Step 4: an unwritable destination is one line, exit 1.
    let err = run(&["export", "--out", "/nonexistent-dir/x.jsonl"], &env).user_error();
    assert!(err.contains("/nonexistent-dir"), "{err}");
    node.stop_ok();
}

#[test]
fn verify_a_healthy_and_a_damaged_data_dir() {
    let dir = tmp();
    let data = dir.path().join("n");
    let node = Node::start(&data);
    seed(&node, 2);
    node.stop_ok();
    // Step 1: a cleanly stopped node verifies.
    let out = run(&["verify", "--data-dir", p(&data)], &[]).ok();
    assert!(!out.stdout.trim().is_empty());
    let report = run(&["verify", "--data-dir", p(&data), "--json"], &[])
        .ok()
        .json();
    assert!(report.is_object(), "{report}");
    // Step 2: damage the stored data; verify fails with one line and exit 1.
    damage(&data);
    let err = run(&["verify", "--data-dir", p(&data)], &[]).user_error();
    assert!(err.contains("corrupt"), "{err}");
    // Step 3: serve refuses the corrupt data dir the same way.
    let err = run(
        &["serve", "--data-dir", p(&data), "--listen", "127.0.0.1:0"],
        &[],
    )
    .user_error();
    assert!(err.contains("corrupt"), "{err}");
    // Step 4: a missing dir is a user error.
    let err = run(&["verify", "--data-dir", p(&dir.path().join("nope"))], &[]).user_error();
    assert!(err.contains("nope"), "{err}");
}

/// Overwrites the middle of the written part of every store file with garbage (the admin token,
/// the lock and sled's small `conf` stay intact, so the damage is in the data itself).
fn damage(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    let mut damaged = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if ["admin-token", "LOCK", "conf"].contains(&name) {
                continue;
            }
            let mut bytes = std::fs::read(&path).expect("read");
            // Segment files are preallocated: aim at the bytes actually written.
            let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            if end < 16 {
                continue;
            }
            for (i, b) in bytes[end / 4..end * 3 / 4].iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(31) ^ 0xA5;
            }
            std::fs::write(&path, bytes).expect("write");
            damaged += 1;
        }
    }
    assert!(damaged > 0, "nothing to damage in {}", dir.display());
}

#[test]
fn backup_then_serve_the_backup() {
    let dir = tmp();
    let data = dir.path().join("n");
    let node = Node::start(&data);
    let ids = seed(&node, 2);
    let token = node.token.clone();
    // The node's private key (its PEM body), which must stay at home.
    let key_pem = std::fs::read_to_string(data.join("node-key.pem")).expect("node key");
    let secret: String = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let secret = &secret[..secret.len().min(48)];
    let node_id_before =
        run(&["node", "--json"], &node.env(&token)).ok().json()["fingerprint"].clone();
    // Step 1: backup refuses a running node's dir.
    let copy = dir.path().join("copy");
    let err = run(&["backup", "--data-dir", p(&data), "--out", p(&copy)], &[]).user_error();
    assert!(err.contains("in use"), "{err}");
    node.stop_ok();
    // Step 2: back up the stopped node. Keys and secrets stay out, and it says so: no admin
    // token file, no node key, and neither the token nor the key in any byte of the copy.
    let out = run(&["backup", "--data-dir", p(&data), "--out", p(&copy)], &[]).ok();
    assert!(
        out.stdout.contains(
            "keys left out (the admin-token file and the node-key.pem file and the node-cert.pem file)"
        ),
        "{}",
        out.stdout
    );
    assert!(!copy.join("admin-token").exists());
    assert!(!copy.join("node-key.pem").exists());
    assert!(!any_file_contains(&copy, secret.as_bytes()));
    assert!(!any_file_contains(&copy, token.as_bytes()));
    run(&["verify", "--data-dir", p(&copy)], &[]).ok();
    // With --include-keys they are kept (and found by the same search), owner-only.
    let with_keys = dir.path().join("with-keys");
    let out = run(
        &[
            "backup",
            "--data-dir",
            p(&data),
            "--out",
            p(&with_keys),
            "--include-keys",
        ],
        &[],
    )
    .ok();
    assert!(out.stdout.contains("keys included"), "{}", out.stdout);
    assert_eq!(read_token(&with_keys), token);
    assert!(any_file_contains(&with_keys, secret.as_bytes()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&with_keys), 0o700);
        assert_eq!(mode(&with_keys.join("admin-token")), 0o600);
        assert_eq!(mode(&with_keys.join("node-key.pem")), 0o600);
        assert_eq!(mode(&copy), 0o700);
    }
    // Step 3: serve the copy: same orders, same token; without the key it made a new one, so
    // it has a new node id for its peers to add.
    let restored = Node::start(&copy);
    let node_id_after =
        run(&["node", "--json"], &restored.env(&token)).ok().json()["fingerprint"].clone();
    assert!(node_id_after.is_string());
    assert_ne!(node_id_after, node_id_before);
    let list = run(&["orders", "list", "--json"], &restored.env(&token))
        .ok()
        .json();
    let mut got: Vec<String> = items(&list, "items")
        .iter()
        .filter_map(|o| o["id"].as_str().map(str::to_string))
        .collect();
    got.sort();
    let mut want = ids;
    want.sort();
    assert_eq!(got, want);
    restored.stop_ok();
}

/// Whether any file under `dir` holds `needle`.
fn any_file_contains(dir: &Path, needle: &[u8]) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(p) = stack.pop() {
        if p.is_dir() {
            for e in std::fs::read_dir(&p).expect("read_dir") {
                stack.push(e.expect("entry").path());
            }
        } else if let Ok(bytes) = std::fs::read(&p) {
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
        }
    }
    false
}

#[test]
fn error_paths_are_one_line_and_exit_1() {
    // Step 1: nothing listens on port 1.
    let err = run(
        &["node", "--url", "http://127.0.0.1:1", "--token", "x"],
        &[],
    )
    .user_error();
    assert!(err.contains("cannot reach"), "{err}");
    // Step 2: no token at all.
    let err = run(&["node", "--url", "http://127.0.0.1:1"], &[]).user_error();
    assert!(err.contains("token"), "{err}");
    // Step 3: a wrong token against a real node.
    let dir = tmp();
    let data = dir.path().join("n");
    let node = Node::start(&data);
    let err = run(&["peers", "list"], &node.env("not-the-token")).user_error();
    assert!(err.contains("token"), "{err}");
    // Step 4: the data dir is in use by that node: serve, verify and init all refuse.
    let second = run(
        &["serve", "--data-dir", p(&data), "--listen", "127.0.0.1:0"],
        &[],
    )
    .user_error();
    assert!(second.contains("in use"), "{second}");
    let verify = run(&["verify", "--data-dir", p(&data)], &[]).user_error();
    assert!(verify.contains("in use"), "{verify}");
    run(
        &[
            "init",
            "--name",
            "x",
            "--role",
            "hq",
            "--data-dir",
            p(&data),
        ],
        &[],
    )
    .user_error();
    node.stop_ok();
}

#[test]
fn demo_runs_to_convergence() {
    let out = run_with_deadline(&["demo"], &[], Duration::from_secs(180));
    assert_eq!(
        out.code(),
        Some(0),
        "demo failed\nstdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    for step in 1..=8 {
        assert!(
            out.stdout.contains(&format!("Step {step}:")),
            "{}",
            out.stdout
        );
    }
    assert!(out.stdout.contains("converged"), "{}", out.stdout);
}
