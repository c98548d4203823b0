//! The console in a real browser: Debian's `chromium`, driven over the WebDriver protocol
//! (`chromedriver`, started here on a free port, headless) against real `switchboard serve
//! --demo-data` processes. Each flow is a list of steps; a failing step saves a screenshot (its
//! path is printed) and fails the test with the page's text.
//!
//! Every screen is audited with axe-core in the page ([`Browser::audit`]): a serious or critical
//! violation fails the step with its rule ids and elements.
//!
//! Needs `chromium` and `chromium-driver`, and axe-core under tests/console-axe/node_modules
//! (`npm ci` there; scripts/test.sh does both).

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use switchboard_tests::bin::switchboard;
use switchboard_tests::cluster::{Cluster, NodeSpec};

/// How long one step may wait for the page to show what it expects.
const STEP_DEADLINE: Duration = Duration::from_secs(20);
/// Alt held, a key, then every modifier released (WebDriver key codes).
const ALT: &str = "\u{E00A}";
const RELEASE: &str = "\u{E000}";
const ENTER: &str = "\u{E007}";

/// A `switchboard serve --demo-data` process on a fresh data dir.
struct Served {
    child: Child,
    url: String,
    agent: String,
    supervisor: String,
    dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve_demo(env: &[(&str, &str)]) -> Served {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut cmd = Command::new(switchboard());
    cmd.args([
        "serve",
        "--demo-data",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(dir.path().join("data"))
    .env("SWITCHBOARD_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn switchboard serve");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut agent, mut supervisor) = (String::new(), String::new());
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("switchboard serve printed no `listening on` line in time");
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["console", "account:", "agent", "password", p] => agent = p.to_string(),
            ["console", "account:", "supervisor", "password", p] => supervisor = p.to_string(),
            ["listening", "on", url] => {
                assert!(
                    !agent.is_empty() && !supervisor.is_empty(),
                    "no demo accounts printed"
                );
                return Served {
                    child,
                    url: url.to_string(),
                    agent,
                    supervisor,
                    dir,
                };
            }
            _ => {}
        }
    }
}

impl Served {
    fn admin_token(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data/admin-token"))
            .expect("admin token")
            .trim()
            .to_string()
    }
}

/// `chromedriver` on a free loopback port.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_driver() -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver; scripts/test.sh installs it)");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    }
}

/// A headless browser session on a served node, with the test's name for its screenshots.
struct Browser {
    client: Client,
    base: String,
    test: &'static str,
    step: usize,
    _driver: Driver,
}

type StepResult<T> = Result<T, String>;

impl Browser {
    async fn open(test: &'static str, served: &Served) -> Browser {
        Self::open_at(
            test,
            &served.url,
            &served.dir.path().join("chromium-profile"),
        )
        .await
    }

    async fn open_at(test: &'static str, base: &str, profile: &std::path::Path) -> Browser {
        let driver = start_driver();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1800", format!("--user-data-dir={}", profile.display())]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!("an object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a chromium session");
        Browser {
            client,
            base: base.to_string(),
            test,
            step: 0,
            _driver: driver,
        }
    }

    /// Runs one step; on failure saves a screenshot and fails the test.
    async fn step<T>(&mut self, what: &str, r: StepResult<T>) -> T {
        self.step += 1;
        match r {
            Ok(v) => v,
            Err(e) => {
                let dir = std::env::temp_dir().join("switchboard-console-shots");
                let _ = std::fs::create_dir_all(&dir);
                let path: PathBuf = dir.join(format!("{}-{:02}.png", self.test, self.step));
                let shot = match self.client.screenshot().await {
                    Ok(png) => match std::fs::write(&path, png) {
                        Ok(()) => format!("screenshot: {}", path.display()),
                        Err(e) => format!("no screenshot ({e})"),
                    },
                    Err(e) => format!("no screenshot ({e})"),
                };
                let text = self.body_text().await;
                eprintln!("step {} ({what}) failed: {e}\n{shot}", self.step);
                panic!(
                    "{}: step {} ({what}) failed: {e}\n{shot}\npage text:\n{text}",
                    self.test, self.step
                );
            }
        }
    }

    async fn body_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    async fn goto(&self, path: &str) -> StepResult<()> {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .map_err(|e| e.to_string())
    }

    async fn fill(&self, css: &str, text: &str) -> StepResult<()> {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        el.clear().await.map_err(|e| format!("{css}: {e}"))?;
        el.send_keys(text).await.map_err(|e| format!("{css}: {e}"))
    }

    async fn keys(&self, css: &str, keys: &str) -> StepResult<()> {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        el.send_keys(keys).await.map_err(|e| format!("{css}: {e}"))
    }

    async fn select(&self, css: &str, value: &str) -> StepResult<()> {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        el.select_by_value(value)
            .await
            .map_err(|e| format!("{css} = {value}: {e}"))
    }

    async fn click(&self, css: &str) -> StepResult<()> {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|e| format!("{css}: {e}"))?;
        el.click().await.map_err(|e| format!("{css}: {e}"))
    }

    /// Waits until the element's text contains `want` (polling with a deadline).
    async fn wait_text(&self, css: &str, want: &str) -> StepResult<String> {
        let deadline = Instant::now() + STEP_DEADLINE;
        let mut last = String::new();
        loop {
            if let Ok(el) = self.client.find(Locator::Css(css)).await {
                if let Ok(t) = el.text().await {
                    if t.contains(want) {
                        return Ok(t);
                    }
                    last = t;
                }
            }
            if Instant::now() > deadline {
                return Err(format!("{css} never said {want:?} (last: {last:?})"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the page's URL contains `want`.
    async fn wait_url(&self, want: &str) -> StepResult<String> {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            let url = self.client.current_url().await.map_err(|e| e.to_string())?;
            if url.as_str().contains(want) {
                return Ok(url.to_string());
            }
            if Instant::now() > deadline {
                return Err(format!("the URL never contained {want:?} (last: {url})"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn sign_in(&mut self, name: &str, password: &str) -> StepResult<()> {
        self.goto("/sign-in").await?;
        self.fill("#name", name).await?;
        self.fill("#password", password).await?;
        self.click("#sign-in").await
    }

    async fn js(&self, script: &str) -> StepResult<Value> {
        self.client
            .execute(script, vec![])
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs axe-core in the page: no serious or critical violation, or the step fails with
    /// each rule's id and (up to three of) its elements.
    async fn audit(&self) -> StepResult<()> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("console-axe/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "{}: {e} (run `npm ci` in tests/console-axe; scripts/test.sh does)",
                path.display()
            )
        })?;
        self.js(&format!("{source}\n;return true;")).await?;
        let found = self
            .client
            .execute_async(
                "var done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
                   done(r.violations.filter(function (v) {
                     return v.impact === 'serious' || v.impact === 'critical';
                   }).map(function (v) {
                     return v.id + ' (' + v.impact + '): ' + v.nodes.slice(0, 3).map(function (n) {
                       return n.target.join(' ');
                     }).join(', ');
                   }));
                 }).catch(function (e) { done(['axe failed: ' + e]); });",
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        match found.as_array() {
            Some(v) if v.is_empty() => Ok(()),
            _ => Err(format!("axe-core: {found}")),
        }
    }

    /// Audits the screen shown now (a step of its own).
    async fn audit_step(&mut self, screen: &str) {
        let r = self.audit().await;
        self.step(&format!("axe-core on {screen}"), r).await;
    }

    async fn close(self) {
        let _ = self.client.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sign_in_good_bad_and_throttled() {
    let served = serve_demo(&[]);
    let mut b = Browser::open("sign-in", &served).await;
    let r = b.goto("/").await;
    b.step("open the console", r).await;
    let r = b.wait_url("/sign-in").await;
    b.step("sent to sign in", r).await;
    let r = b.sign_in("agent", "not the password").await;
    b.step("a wrong password", r).await;
    let r = b
        .wait_text("#signin-error", "Wrong user name or password")
        .await;
    b.step("refused", r).await;
    b.audit_step("the sign-in page with its refusal").await;
    for i in 0..5 {
        let r = b.sign_in("supervisor", "guessing").await;
        b.step(&format!("guess {i}"), r).await;
        let r = b.wait_text("#signin-error", "").await;
        b.step("refused", r).await;
    }
    let pw = served.supervisor.clone();
    let r = b.sign_in("supervisor", &pw).await;
    b.step("the right password while throttled", r).await;
    let r = b
        .wait_text("#signin-error", "Too many wrong passwords")
        .await;
    b.step("throttled", r).await;
    let pw = served.agent.clone();
    let r = b.sign_in("agent", &pw).await;
    b.step("the agent signs in", r).await;
    let r = b.wait_text("h1", "Customers").await;
    b.step("on the customer search", r).await;
    let r = b.wait_text(".who", "agent").await;
    b.step("signed in as the agent", r).await;
    let r = b.wait_text("#sync-banner", "Standalone node").await;
    b.step("the sync banner", r).await;
    b.audit_step("the customer search").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_takes_a_full_order() {
    let served = serve_demo(&[]);
    let mut b = Browser::open("full-order", &served).await;
    let pw = served.agent.clone();
    let r = b.sign_in("agent", &pw).await;
    b.step("sign in", r).await;
    let r = b.wait_text("h1", "Customers").await;
    b.step("signed in", r).await;

    // The customer: created, then found by phone.
    let r = async {
        b.fill("#new-name", "Carla Jones").await?;
        b.fill("#new-phone", "+44 20 7946 0000").await?;
        b.fill("#new-email", "carla@example.com").await?;
        b.click("#create-customer").await?;
        b.wait_text("h1", "Carla Jones").await
    }
    .await;
    b.step("create the customer", r).await;
    b.audit_step("the customer page").await;
    let r = async {
        b.goto("/customers").await?;
        b.fill("#q", "7946").await?;
        b.keys("#q", ENTER).await?;
        b.wait_text("#customer-results", "Carla Jones").await?;
        b.click("#customer-results a").await?;
        b.wait_text("h1", "Carla Jones").await
    }
    .await;
    b.step("search the customer by phone", r).await;
    b.audit_step("the customer search with results").await;

    // The order, with the source code's script.
    let r = async {
        b.select("#source-code", "SPRING").await?;
        b.select("#delivery-mode", "std").await?;
        b.click("#start-order").await?;
        b.wait_text("#script", "Welcome the caller to the spring catalog")
            .await
    }
    .await;
    b.step("start the order: the source code's script shows", r)
        .await;

    // A line, with its picture and the product's script; the upsell prompt, accepted by key.
    let r = async {
        b.fill("#product", "headset").await?;
        b.click("#add-line-button").await?;
        b.wait_text("#suggestions", "Headset Pro").await?;
        b.wait_text("#script", "noise cancelling").await?;
        b.wait_text("#lines", "Headset").await
    }
    .await;
    b.step("add a line: the upsell prompt", r).await;
    b.audit_step("the sales order page with a line and its suggestions")
        .await;
    let r = b
        .js("var i = document.querySelector('#lines img.product'); return i && i.complete && i.naturalWidth > 0;")
        .await;
    let shown = b.step("the line's picture", r).await;
    let r = if shown == Value::Bool(true) {
        Ok(())
    } else {
        Err(format!("no picture shown: {shown}"))
    };
    b.step("the line's picture loaded", r).await;
    let r = async {
        b.keys("#product", &format!("{ALT}u{RELEASE}")).await?;
        b.wait_text("#lines", "Headset Pro").await
    }
    .await;
    b.step("accept the upsell with Alt+U", r).await;

    // A coupon, then the first payment (short of the total).
    let r = async {
        b.fill("#coupon", "WELCOME10").await?;
        b.click("#apply-coupon").await?;
        b.wait_text("#recap", "WELCOME10").await
    }
    .await;
    b.step("apply a coupon", r).await;
    let r = async {
        b.fill("#charge-code", "giftwrap").await?;
        b.fill("#charge-amount", "3.50").await?;
        b.select("#charge-reason", "match").await?;
        b.click("#add-charge").await?;
        b.wait_text("#recap", "giftwrap").await
    }
    .await;
    b.step("a manual charge", r).await;
    let r = async {
        b.select("#pay-method", "card").await?;
        b.fill("#pay-amount", "20.00").await?;
        b.click("#add-payment").await?;
        b.wait_text("#payments", "€20.00").await
    }
    .await;
    b.step("a first payment", r).await;

    // Submit while underpaid: refused, with the domain's reason.
    let r = async {
        b.click("#submit").await?;
        b.wait_text("#flash", "payments must cover the total")
            .await?;
        b.wait_text("#order-status", "open").await
    }
    .await;
    b.step("submit refused while underpaid", r).await;
    b.audit_step("the sales order page with a refusal").await;

    // The second payment (the amount offered is the balance), the recap, then submit by key.
    let r = async {
        b.select("#pay-method", "cash").await?;
        b.click("#add-payment").await?;
        b.wait_text("#recap-balance", "€0.00").await
    }
    .await;
    b.step("a second payment covers the balance", r).await;
    let r = async {
        let recap = b.wait_text("#recap", "Total").await?;
        for want in [
            "Lines (2)",
            "Charges: giftwrap",
            "WELCOME10",
            "Payments: card",
            "Payments: cash",
            "Balance",
        ] {
            if !recap.contains(want) {
                return Err(format!("the recap lacks {want:?}: {recap}"));
            }
        }
        Ok(())
    }
    .await;
    b.step(
        "the recap lists lines, charges, coupons, payments and balance",
        r,
    )
    .await;
    let r = async {
        b.keys("#pay-reference", &format!("{ALT}s{RELEASE}"))
            .await?;
        b.wait_text("#order-status", "submitted").await
    }
    .await;
    b.step("submit with Alt+S", r).await;
    b.audit_step("a submitted order").await;
    let r = async {
        b.goto("/orders").await?;
        b.wait_text("h1", "Orders").await
    }
    .await;
    b.step("the orders list", r).await;
    b.audit_step("the orders list").await;
    b.close().await;
}

/// Signs in, creates a customer and an order with one line; answers the order page's URL.
async fn order_with_a_line(b: &mut Browser, password: &str) -> String {
    let r = async {
        b.sign_in("agent", password).await?;
        b.wait_text("h1", "Customers").await?;
        b.fill("#new-name", "Dana Held").await?;
        b.click("#create-customer").await?;
        b.wait_text("h1", "Dana Held").await?;
        b.click("#start-order").await?;
        b.wait_text("#lines-h", "Lines").await?;
        b.fill("#product", "cable").await?;
        b.click("#add-line-button").await?;
        b.wait_text("#lines", "Spare cable").await?;
        b.wait_url("/orders/").await
    }
    .await;
    let url = b.step("an order with a line", r).await;
    url.split('?').next().unwrap_or(&url).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_hold_placed_by_an_agent_is_cleared_only_by_a_supervisor() {
    let served = serve_demo(&[]);
    let mut b = Browser::open("holds", &served).await;
    let pw = served.agent.clone();
    let order = order_with_a_line(&mut b, &pw).await;
    let r = async {
        b.select("#hold-code", "fraud").await?;
        b.fill("#hold-reason", "Card holder name differs").await?;
        b.click("#place-hold").await?;
        b.wait_text("#holds", "Card holder name differs").await?;
        b.wait_text("#order-status", "on_hold").await
    }
    .await;
    b.step("the agent places a fraud hold", r).await;
    b.audit_step("an order on hold").await;
    let r = async {
        b.click(".clear-hold").await?;
        b.wait_text("#flash", "Refused").await?;
        b.wait_text("#order-status", "on_hold").await
    }
    .await;
    b.step("the agent may not clear it", r).await;

    // A change made elsewhere (here through the API) is announced on the open page.
    let order_id = order.rsplit('/').next().unwrap_or_default().to_string();
    let http = reqwest::Client::new();
    let r = http
        .post(format!("{}/api/v1/orders/{order_id}/notes", served.url))
        .bearer_auth(served.admin_token())
        .json(&json!({"text": "Customer called back"}))
        .send()
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| {
            if r.status().as_u16() == 201 {
                Ok(())
            } else {
                Err(format!("note: {}", r.status()))
            }
        });
    b.step("a note added elsewhere", r).await;
    let r = async {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            let shown = b
                .js("return !document.getElementById('live-changed').hidden;")
                .await?;
            if shown == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("the page never said the order changed".to_string());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    .await;
    b.step("the open page says the order changed", r).await;
    let r = b.wait_text("#notes", "Customer called back").await;
    b.step("the note shows on the open page without a reload", r)
        .await;

    let r = async {
        b.click("nav form button").await?;
        b.wait_url("/sign-in").await?;
        let pw = served.supervisor.clone();
        b.sign_in("supervisor", &pw).await?;
        b.wait_text("h1", "Customers").await?;
        b.goto("/holds").await?;
        let queue = b
            .wait_text("#hold-queue", "Card holder name differs")
            .await?;
        if !queue.contains("agent") {
            return Err(format!("the queue does not say who held it: {queue}"));
        }
        b.click("#hold-queue a").await?;
        b.wait_text("#holds", "Card holder name differs").await
    }
    .await;
    b.step("the supervisor finds it in the hold queue", r).await;
    let r = b.goto("/holds").await;
    b.step("back to the hold queue", r).await;
    b.audit_step("the hold queue").await;
    let r = async {
        b.click("#hold-queue a").await?;
        b.wait_text("#holds", "Card holder name differs").await
    }
    .await;
    b.step("the held order from the queue", r).await;
    let r = async {
        b.click(".clear-hold").await?;
        b.wait_text("#order-status", "open").await?;
        b.wait_text("#holds", "cleared by supervisor").await
    }
    .await;
    b.step("the supervisor clears it", r).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_refuses_forged_forms_and_expired_sessions() {
    let served = serve_demo(&[("SWITCHBOARD_CONSOLE_IDLE_SECS", "3")]);
    let mut b = Browser::open("csrf-expiry", &served).await;
    let pw = served.agent.clone();
    let r = b.sign_in("agent", &pw).await;
    b.step("sign in", r).await;
    let r = async {
        b.wait_text("h1", "Customers").await?;
        b.js("document.querySelectorAll('input[name=csrf]').forEach(function (e) { e.value = 'forged'; }); return true;")
            .await?;
        b.fill("#new-name", "Forged Customer").await?;
        b.click("#create-customer").await?;
        b.wait_text("body", "no longer valid").await?;
        b.goto("/customers?q=Forged").await?;
        b.wait_text("main", "No customer matches").await
    }
    .await;
    b.step(
        "a form with a forged CSRF token is refused and changes nothing",
        r,
    )
    .await;

    // Left idle (the page's own background requests do not count), the session expires; the
    // open form then leads to the sign-in page, and nothing is written.
    let r = async {
        b.fill("#new-name", "Late Customer").await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = b
                .js("return fetch('/console/banner').then(function (r) { return r.url; });")
                .await?;
            if url.as_str().is_some_and(|u| u.contains("expired")) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the session never expired (last: {url})"));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        b.click("#create-customer").await?;
        b.wait_url("/sign-in?expired=1").await?;
        b.wait_text("main", "session expired").await
    }
    .await;
    b.step("an idle session expires", r).await;
    b.audit_step("the sign-in page after expiry").await;
    let r = async {
        let pw = served.agent.clone();
        b.sign_in("agent", &pw).await?;
        b.wait_text("h1", "Customers").await?;
        b.goto("/customers?q=Late").await?;
        b.wait_text("main", "No customer matches").await
    }
    .await;
    b.step("the expired session's form wrote nothing", r).await;
    b.close().await;
}

/// HQ and a site `north` (call center `cc1`, product `widget` with its picture, agent `sam`
/// with a password), the site synced once.
async fn hq_and_a_site() -> Cluster {
    let mut cluster = Cluster::new();
    cluster.add(NodeSpec::hq("hq")).await;
    cluster.add(NodeSpec::site("north", &["cc1"])).await;
    cluster.link("hq", "north").await;
    // At HQ: the call center, a product with its picture, and an agent with a password.
    let (hq, north) = (cluster.node("hq"), cluster.node("north"));
    hq.put(
        "/api/v1/call-centers/cc1",
        &hq.admin,
        switchboard_tests::api_harness::call_center_body("North"),
    )
    .await
    .expect(200);
    hq.put(
        "/api/v1/products/widget",
        &hq.admin,
        json!({"name": "Widget", "price": "19.99"}),
    )
    .await
    .expect(200);
    let svg = switchboard_console::assets::product_svg("widget", "Widget");
    let r = reqwest::Client::new()
        .put(format!("{}/api/v1/products/widget/image", hq.url()))
        .bearer_auth(&hq.admin)
        .body(svg)
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 204);
    hq.post(
        "/api/v1/call-centers/cc1/users",
        &hq.admin,
        json!({"name": "sam", "role": "agent", "password": "sam's password"}),
    )
    .await
    .expect(201);
    assert_eq!(north.sync_with("hq").await["ok"], true);
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_at_a_site_signs_in_and_takes_orders_while_hq_is_cut_off() {
    let cluster = hq_and_a_site().await;
    // The WAN goes down; the site keeps serving its agents.
    cluster.links[0].cut();
    let north = cluster.node("north");
    let failed = north.sync_with("hq").await;
    assert_eq!(failed["ok"], false, "{failed}");

    let profile = cluster.home().join("chromium-profile");
    let mut b = Browser::open_at("site-offline", &north.url(), &profile).await;
    let r = async {
        b.sign_in("sam", "sam's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.wait_text("#sync-banner", "unreachable").await
    }
    .await;
    b.step("sign in at the site with HQ cut off; the banner says so", r)
        .await;
    b.audit_step("a page with the warning banner").await;
    let r = async {
        b.fill("#new-name", "Offline Olivia").await?;
        b.click("#create-customer").await?;
        b.wait_text("h1", "Offline Olivia").await?;
        b.select("#delivery-mode", "std").await?;
        b.click("#start-order").await?;
        b.wait_text("#lines-h", "Lines").await?;
        b.fill("#product", "widget").await?;
        b.click("#add-line-button").await?;
        b.wait_text("#lines", "Widget").await
    }
    .await;
    b.step("take an order offline", r).await;
    let r = b
        .js("var i = document.querySelector('#lines img.product'); return i && i.complete && i.naturalWidth > 0;")
        .await;
    let shown = b.step("the picture synced from HQ", r).await;
    let r = if shown == Value::Bool(true) {
        Ok(())
    } else {
        Err(format!("no picture: {shown}"))
    };
    b.step("the picture shows offline", r).await;

    // The link heals: after a session the banner shows nothing waiting.
    cluster.links[0].heal();
    let north = cluster.node("north");
    assert_eq!(north.sync_with("hq").await["ok"], true);
    let r = async {
        let deadline = Instant::now() + STEP_DEADLINE;
        loop {
            b.goto("/customers").await?;
            let t = b.wait_text("#sync-banner", "HQ").await?;
            if t.contains("0 changes waiting") && !t.contains("unreachable") {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("the banner still says {t:?}"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    .await;
    b.step("the banner clears after the heal", r).await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_order_edited_at_hq_and_at_the_site_shows_live_with_the_conflict() {
    let cluster = hq_and_a_site().await;
    let (hq, north) = (cluster.node("hq"), cluster.node("north"));
    let profile = cluster.home().join("chromium-profile");
    let mut b = Browser::open_at("live-conflict", &north.url(), &profile).await;
    let r = async {
        b.sign_in("sam", "sam's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.fill("#new-name", "Live Lena").await?;
        b.click("#create-customer").await?;
        b.wait_text("h1", "Live Lena").await?;
        b.select("#delivery-mode", "std").await?;
        b.click("#start-order").await?;
        b.wait_text("#lines-h", "Lines").await?;
        b.fill("#product", "widget").await?;
        b.click("#add-line-button").await?;
        b.wait_text("#lines", "Widget").await?;
        b.wait_url("/orders/").await
    }
    .await;
    let url = b.step("take an order at the site", r).await;
    let order = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit('/').next())
        .unwrap_or_default()
        .to_string();
    let v = north
        .get(&format!("/api/v1/orders/{order}"), &north.admin)
        .await;
    let line = v.expect(200)["lines"][0]["id"]
        .as_str()
        .expect("a line id")
        .to_string();
    // The order reaches HQ; then, with the WAN link cut (so that no background session of
    // either node carries one edit to the other before the second is made), HQ and the site
    // change the same quantity, each unaware of the other, and HQ adds a note.
    assert_eq!(north.sync_with("hq").await["ok"], true);
    let link = cluster.link_of("hq", "north");
    link.cut();
    let path = format!("/api/v1/orders/{order}/lines/{line}");
    hq.patch(&path, &hq.admin, json!({"quantity": 3}))
        .await
        .expect(200);
    hq.post(
        &format!("/api/v1/orders/{order}/notes"),
        &hq.admin,
        json!({"text": "Customer called HQ"}),
    )
    .await
    .expect(201);
    north
        .patch(&path, &north.admin, json!({"quantity": 4}))
        .await
        .expect(200);
    let r = async {
        b.wait_text("#live-what", "on this node").await?;
        b.wait_text("#lines td.num", "4").await
    }
    .await;
    b.step("the site's own edit shows live", r).await;
    // The link heals and a sync merges them: the open page shows the conflict and HQ's note
    // without a reload.
    link.heal();
    assert_eq!(north.sync_with("hq").await["ok"], true);
    let r = async {
        b.wait_text("#live-what", "Conflict").await?;
        b.wait_text("#live-what", "on another node").await?;
        b.wait_text("#conflicts", "quantity").await?;
        b.wait_text("#conflicts", "3").await?;
        b.wait_text("#notes", "Customer called HQ").await?;
        b.wait_url(&order).await
    }
    .await;
    b.step("the merge from HQ shows live, with the conflict", r)
        .await;
    b.audit_step("the sales order page with a merged conflict shown live")
        .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_sells_a_continuity_program() {
    let served = serve_demo(&[]);
    let mut b = Browser::open("continuity", &served).await;
    let pw = served.agent.clone();
    let r = async {
        b.sign_in("agent", &pw).await?;
        b.wait_text("h1", "Customers").await?;
        b.fill("#new-name", "Cora Subscriber").await?;
        b.click("#create-customer").await?;
        b.wait_text("h1", "Cora Subscriber").await?;
        b.click("#start-order").await?;
        b.wait_text("#lines-h", "Lines").await
    }
    .await;
    b.step("start an order", r).await;
    let r = async {
        let v = b
            .js("var o = document.querySelector('#products option[value=coffee]'); return o ? o.textContent : '';")
            .await?;
        let text = v.as_str().unwrap_or_default().to_string();
        if text.contains("every 30 days × 6") {
            Ok(())
        } else {
            Err(format!("the picker does not mark the program: {text:?}"))
        }
    }
    .await;
    b.step("the product picker marks the continuity program", r)
        .await;
    let r = async {
        b.fill("#product", "coffee").await?;
        b.click("#add-line-button").await?;
        b.wait_text("#lines", "Continuity program: every 30 days × 6")
            .await?;
        b.wait_text("#continuity", "0 created, 6 to come").await?;
        b.wait_text("#continuity", "scheduled when the order is submitted")
            .await?;
        b.wait_text(
            "#recap",
            "Continuity: Coffee subscription, every 30 days × 6",
        )
        .await
    }
    .await;
    b.step(
        "a continuity line shows its program, and the recap says it",
        r,
    )
    .await;
    b.audit_step("the sales order page with a continuity program")
        .await;
    let r = async {
        b.select("#pay-method", "card").await?;
        b.click("#add-payment").await?;
        b.wait_text("#recap-balance", "€0.00").await?;
        b.click("#submit").await?;
        b.wait_text("#order-status", "submitted").await?;
        b.wait_text("#continuity", "next delivery").await?;
        b.wait_text("#continuity table", "not created yet").await
    }
    .await;
    b.step("submitted: the schedule has its dates", r).await;
    b.audit_step("a submitted order with its continuity schedule")
        .await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_admin_adds_and_disables_a_user_and_refuses_agents() {
    let served = serve_demo(&[]);
    // A console admin of the demo call center (the demo prints an agent and a supervisor).
    let r = reqwest::Client::new()
        .post(format!("{}/api/v1/call-centers/demo/users", served.url))
        .bearer_auth(served.admin_token())
        .json(&json!({"name": "ada", "role": "admin", "password": "ada's password"}))
        .send()
        .await
        .expect("add the admin");
    assert_eq!(r.status().as_u16(), 201);
    let mut b = Browser::open("admin", &served).await;

    // An agent: no admin links, and the pages refuse with the reason.
    let pw = served.agent.clone();
    let r = async {
        b.sign_in("agent", &pw).await?;
        b.wait_text("h1", "Customers").await?;
        let nav = b.wait_text("nav", "Orders").await?;
        if nav.contains("Users") || nav.contains("Peers") {
            return Err(format!("an agent sees admin links: {nav}"));
        }
        b.goto("/admin/users").await?;
        b.wait_text("#refusal", "needs an admin").await?;
        b.goto("/admin/peers").await?;
        b.wait_text("#refusal", "needs an admin").await
    }
    .await;
    b.step("an agent is refused on the admin pages", r).await;
    b.audit_step("an admin page refusing an agent").await;

    // The admin adds a user with a password, who signs in.
    let r = async {
        b.click("nav form button").await?;
        b.wait_url("/sign-in").await?;
        b.sign_in("ada", "ada's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.click("nav a[href='/admin/users']").await?;
        b.wait_text("h1", "Users").await?;
        b.wait_text("#user-table-demo", "supervisor").await
    }
    .await;
    b.step("the admin opens the users page from the nav", r)
        .await;
    b.audit_step("the users page").await;
    let r = async {
        b.fill("#add-user-demo .new-user-name", "temp").await?;
        b.select("#add-user-demo .new-user-role", "agent").await?;
        b.fill("#add-user-demo .new-user-password", "temp's password")
            .await?;
        b.click("#add-user-demo .add-user").await?;
        b.wait_text("#flash", "User temp added").await?;
        b.wait_text("#user-table-demo", "temp").await
    }
    .await;
    b.step("add a user with a password", r).await;
    let r = async {
        b.click("nav form button").await?;
        b.wait_url("/sign-in").await?;
        b.sign_in("temp", "temp's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.wait_text("nav", "temp (agent)").await
    }
    .await;
    b.step("the new user signs in", r).await;

    // Disabled, they no longer sign in.
    let r = async {
        b.click("nav form button").await?;
        b.wait_url("/sign-in").await?;
        b.sign_in("ada", "ada's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.goto("/admin/users").await?;
        b.click("button[aria-label='Disable temp']").await?;
        b.wait_text("#flash", "User temp disabled").await?;
        b.wait_text("#user-table-demo", "disabled").await
    }
    .await;
    b.step("the admin disables the user", r).await;
    b.audit_step("the users page after a change").await;
    let r = async {
        b.click("nav form button").await?;
        b.wait_url("/sign-in").await?;
        b.sign_in("temp", "temp's password").await?;
        b.wait_text("#signin-error", "Wrong user name or password")
            .await
    }
    .await;
    b.step("the disabled user's sign-in is refused", r).await;

    // Peers and sync status.
    let r = async {
        b.sign_in("ada", "ada's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.click("nav a[href='/admin/peers']").await?;
        b.wait_text("h1", "Peers and sync status").await?;
        b.wait_text("main", "No peers").await?;
        b.wait_text("#this-node", "hq").await
    }
    .await;
    b.step("the peers page", r).await;
    b.audit_step("the peers page").await;
    let r = async {
        b.click("#sync-now").await?;
        b.wait_text("#flash", "Standalone node").await
    }
    .await;
    b.step("sync now on a standalone node", r).await;
    let r = async {
        b.click("nav a[href='/account/password']").await?;
        b.wait_text("h1", "My password").await?;
        b.fill("#current-password", "ada's password").await?;
        b.fill("#new-password", "ada's new password").await?;
        b.click("#change-password").await?;
        b.wait_text("#flash", "Password set").await
    }
    .await;
    b.step("the admin changes their own password", r).await;
    b.audit_step("the own-password page").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_admin_pages_at_a_site_are_read_only() {
    let cluster = hq_and_a_site().await;
    let (hq, north) = (cluster.node("hq"), cluster.node("north"));
    hq.post(
        "/api/v1/call-centers/cc1/users",
        &hq.admin,
        json!({"name": "nora", "role": "admin", "password": "nora's password"}),
    )
    .await
    .expect(201);
    assert_eq!(north.sync_with("hq").await["ok"], true);
    let profile = cluster.home().join("chromium-profile");
    let mut b = Browser::open_at("admin-site", &north.url(), &profile).await;
    let r = async {
        b.sign_in("nora", "nora's password").await?;
        b.wait_text("h1", "Customers").await?;
        b.goto("/admin/users").await?;
        b.wait_text("#read-only", "added and changed at HQ").await?;
        b.wait_text("#user-table-cc1", "sam").await?;
        let forms = b
            .js("return document.querySelectorAll('main form').length;")
            .await?;
        if forms != json!(0) {
            return Err(format!("a site's users page has {forms} forms"));
        }
        Ok(())
    }
    .await;
    b.step("the users page at a site is read-only and says why", r)
        .await;
    b.audit_step("the users page at a site").await;
    let r = async {
        b.goto("/admin/peers").await?;
        b.wait_text("#peer-table", "hq").await?;
        b.wait_text("#sync-table", "hq").await?;
        b.click("#sync-now").await?;
        b.wait_text("#flash", "hq: synced").await
    }
    .await;
    b.step("the site's peers page shows HQ and syncs now", r)
        .await;
    b.audit_step("the peers page at a site").await;
    b.close().await;
}

// The customer edit form (issue 10, customer screen: edit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_edits_a_customer() {
    let served = serve_demo(&[]);
    let mut b = Browser::open("customer-edit", &served).await;
    let pw = served.agent.clone();
    let r = b.sign_in("agent", &pw).await;
    b.step("sign in", r).await;
    let r = async {
        b.wait_text("h1", "Customers").await?;
        b.fill("#new-name", "Dora Kim").await?;
        b.fill("#new-phone", "+44 20 7946 0202").await?;
        b.click("#create-customer").await?;
        b.wait_text("h1", "Dora Kim").await
    }
    .await;
    b.step("create the customer", r).await;
    b.audit_step("the customer page with its edit form").await;

    // Edited from the keyboard: new name, phone and email, saved with Enter.
    let r = async {
        b.fill("#edit-name", "Dora Kim-Lee").await?;
        b.fill("#edit-phone", "+44 20 7946 0303").await?;
        b.fill("#edit-email", "dora@example.org").await?;
        b.keys("#edit-email", ENTER).await?;
        b.wait_text("#flash", "Customer saved.").await?;
        b.wait_text("h1", "Dora Kim-Lee").await?;
        b.wait_text("main", "dora@example.org").await
    }
    .await;
    b.step("edit the customer: the page shows the change", r)
        .await;
    b.audit_step("the customer page after saving").await;
    let r = async {
        b.goto("/customers?q=7946+0303").await?;
        b.wait_text("#customer-results", "Dora Kim-Lee").await?;
        b.goto("/customers?q=7946+0202").await?;
        b.wait_text("main", "No customer matches").await
    }
    .await;
    b.step("the search finds the new phone, not the old one", r)
        .await;

    // A refusal shows the domain's reason; nothing changes.
    let r = async {
        b.goto("/customers?q=Kim-Lee").await?;
        b.click("#customer-results a").await?;
        b.wait_text("h1", "Dora Kim-Lee").await?;
        b.fill("#edit-phone", "12").await?;
        b.click("#save-customer").await?;
        b.wait_text("#flash", "phone: must have at least 3 digits")
            .await?;
        b.wait_text("main", "+44 20 7946 0303").await
    }
    .await;
    b.step("a bad phone is refused with the domain's reason", r)
        .await;
    b.audit_step("the customer page with a refusal").await;
    b.close().await;
}
