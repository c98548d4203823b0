//! Load generator for Switchboard's benchmarks. It runs in its own process, so the node and the
//! client share the machine's cores the way a real site does, and it reports medians and tails
//! rather than asserting anything: figures go to BENCHMARKS.md through `scripts/bench_node.sh` and
//! `scripts/bench_warehouse.sh`.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(about = "Switchboard load generator and disk probe")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Small write + fdatasync in a loop: the disk's own durable-write rate.
    Fsync {
        /// Directory for the probe file.
        #[arg(long)]
        dir: std::path::PathBuf,
        /// How long to run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Configures a bench call center and prints an agent token and a customer id as JSON.
    Setup {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Admin token.
        #[arg(long)]
        admin_token: String,
        /// The call center to configure (and whose agent and customer to create).
        #[arg(long, default_value = "bench")]
        call_center: String,
    },
    /// Durable order writes (create order, add line, add payment) from N concurrent clients.
    Writes {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Agent token (from `setup`).
        #[arg(long)]
        token: String,
        /// Customer id (from `setup`).
        #[arg(long)]
        customer: String,
        /// Concurrent clients.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// How long to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Stop after this many orders (0 = no limit); with `--ids-out`, fills a store.
        #[arg(long, default_value_t = 0)]
        orders: u64,
        /// Only create orders with one line (no payment): for filling a store quickly.
        #[arg(long)]
        fill: bool,
        /// Realistic orders: five lines, two payments and a hold each (nine writes).
        #[arg(long, conflicts_with = "fill")]
        realistic: bool,
        /// Orders started per second over all clients (0 = as fast as the node takes them).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Append created order ids here.
        #[arg(long)]
        ids_out: Option<std::path::PathBuf>,
    },
    /// Samples a node's warehouse status (`GET /api/v1/warehouse`) and reports how far the
    /// warehouse trails the node's feed: in feed sequence numbers (changes), and in time (how long ago the node's
    /// feed passed the position the warehouse has reached; one sampling interval of resolution).
    Lag {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Admin token.
        #[arg(long)]
        token: String,
        /// How long to sample (at most, with `--until-seq`).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Milliseconds between samples.
        #[arg(long, default_value_t = 50)]
        interval_ms: u64,
        /// Stop once the node's feed and the warehouse have both reached this feed sequence
        /// number (e.g. a merge of known size, sampled from its start to its last row); the
        /// report then says when the feed reached it.
        #[arg(long)]
        until_seq: Option<u64>,
    },
    /// Random `GET /api/v1/orders/{id}` over ids from a file.
    Reads {
        /// Node URL.
        #[arg(long)]
        url: String,
        /// Agent token.
        #[arg(long)]
        token: String,
        /// File of order ids, one a line.
        #[arg(long)]
        ids: std::path::PathBuf,
        /// Requests in all.
        #[arg(long, default_value_t = 20000)]
        requests: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(mut lat_ms: Vec<f64>, secs: f64, extra: Value) -> Value {
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    let mut v = json!({
        "count": lat_ms.len(),
        "seconds": (secs * 100.0).round() / 100.0,
        "per_second": (lat_ms.len() as f64 / secs).round(),
        "p50_ms": (percentile(&lat_ms, 0.50) * 1000.0).round() / 1000.0,
        "p99_ms": (percentile(&lat_ms, 0.99) * 1000.0).round() / 1000.0,
    });
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        o.extend(e);
    }
    v
}

fn fsync_probe(dir: &std::path::Path, seconds: u64) -> Result<Value> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("fsync-probe.bin");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    let buf = [7u8; 128];
    let mut lat = Vec::new();
    let start = Instant::now();
    let mut off = 0u64;
    while start.elapsed() < Duration::from_secs(seconds) {
        let t = Instant::now();
        f.write_all_at(&buf, off)?;
        f.sync_data()?;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        off = (off + 128) % (1 << 20);
    }
    let secs = start.elapsed().as_secs_f64();
    drop(f);
    std::fs::remove_file(&path).ok();
    Ok(summary(
        lat,
        secs,
        json!({"probe": "write 128 B + fdatasync"}),
    ))
}

struct Api {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.url, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {text}");
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }
}

async fn setup(url: String, admin_token: String, cc: String) -> Result<Value> {
    let admin = Api {
        http: reqwest::Client::new(),
        url: url.clone(),
        token: admin_token,
    };
    admin
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/call-centers/{cc}"),
            Some(json!({
                "name": "Bench", "currency": "EUR", "order_completion": true, "guided_sales": true,
                "payment_tolerance": "0.00",
                "payment_methods": [{"id": "card", "kind": "card"}],
                "delivery_modes": [{"id": "std", "name": "Standard", "charges": [{"from": "0.00", "to": null, "amount": "4.95"}]}],
                "hold_codes": [{"id": "fraud", "name": "Fraud check", "clear_roles": ["supervisor"]}],
                "reason_codes": [{"id": "match", "name": "Price match"}],
                "price_override_limits": {"agent": "5", "supervisor": "25"},
                "financial_dimensions": {"region": cc}, "price_group": null
            })),
        )
        .await?;
    admin
        .send(
            reqwest::Method::PUT,
            "/api/v1/products/widget",
            Some(json!({"name": "Widget", "price": "10.00", "allow_price_override": true, "image_url": null,
                        "upsell": [], "cross_sell": [], "script": null, "continuity": null})),
        )
        .await?;
    let user = admin
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/call-centers/{cc}/users"),
            Some(json!({"name": "Bench agent", "role": "agent"})),
        )
        .await?;
    let token = user["token"]
        .as_str()
        .context("no token in user answer")?
        .to_string();
    let agent = Api {
        http: reqwest::Client::new(),
        url,
        token: token.clone(),
    };
    let customer = agent
        .send(
            reqwest::Method::POST,
            "/api/v1/customers",
            Some(json!({"name": "Bench Customer", "phone": "+1 555 0100", "email": "bench@example.com", "address": {}})),
        )
        .await?;
    Ok(json!({"token": token, "customer_id": customer["id"]}))
}

/// What each order of `writes` consists of.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Create, one line.
    Fill,
    /// Create, one line, one payment.
    Standard,
    /// Create, five lines, two payments, one hold.
    Realistic,
}

impl Shape {
    /// The writes after the order's creation: (path under the order, body).
    fn steps(self) -> Vec<(&'static str, Value)> {
        let line = |q: u32| ("lines", json!({"product_id": "widget", "quantity": q}));
        match self {
            Shape::Fill => vec![line(2)],
            Shape::Standard => vec![
                line(2),
                (
                    "payments",
                    json!({"method": "card", "amount": "24.95", "reference": "bench"}),
                ),
            ],
            // 5 lines of 10.00 × 1..5 = 150.00, plus the 4.95 delivery charge.
            Shape::Realistic => vec![
                line(1),
                line(2),
                line(3),
                line(4),
                line(5),
                (
                    "payments",
                    json!({"method": "card", "amount": "100.00", "reference": "bench-1"}),
                ),
                (
                    "payments",
                    json!({"method": "card", "amount": "54.95", "reference": "bench-2"}),
                ),
                ("holds", json!({"code": "fraud", "reason": "address check"})),
            ],
        }
    }

    fn what(self) -> &'static str {
        match self {
            Shape::Fill => "acknowledged durable writes (create order, add line)",
            Shape::Standard => "acknowledged durable writes (create order, add line, add payment)",
            Shape::Realistic => {
                "acknowledged durable writes (create order, 5 lines, 2 payments, 1 hold)"
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn writes(
    url: String,
    token: String,
    customer: String,
    concurrency: usize,
    seconds: u64,
    orders: u64,
    shape: Shape,
    rate: f64,
    ids_out: Option<std::path::PathBuf>,
) -> Result<Value> {
    let api = Arc::new(Api {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()?,
        url,
        token,
    });
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let ids = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    // With a rate, every order waits for its tick of one shared schedule.
    let ticker = (rate > 0.0).then(|| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Arc::new(tokio::sync::Mutex::new(t))
    });
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (api, stop, created, errors, ids, customer, ticker) = (
            api.clone(),
            stop.clone(),
            created.clone(),
            errors.clone(),
            ids.clone(),
            customer.clone(),
            ticker.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                if orders > 0 && created.fetch_add(1, Ordering::Relaxed) >= orders {
                    break;
                }
                if let Some(t) = &ticker {
                    t.lock().await.tick().await;
                }
                let t = Instant::now();
                let order = match api
                    .send(
                        reqwest::Method::POST,
                        "/api/v1/orders",
                        Some(
                            json!({"customer_id": customer, "delivery_mode": "std", "ship_to": {}}),
                        ),
                    )
                    .await
                {
                    Ok(o) => o,
                    Err(e) => {
                        if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first error: {e:#}");
                        }
                        continue;
                    }
                };
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
                let id = order["id"].as_str().unwrap_or_default().to_string();
                for (what, body) in shape.steps() {
                    let t = Instant::now();
                    match api
                        .send(
                            reqwest::Method::POST,
                            &format!("/api/v1/orders/{id}/{what}"),
                            Some(body),
                        )
                        .await
                    {
                        Ok(_) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                        Err(e) => {
                            if errors.fetch_add(1, Ordering::Relaxed) == 0 {
                                eprintln!("first error: {e:#}");
                            }
                        }
                    }
                }
                ids.lock().unwrap_or_else(|p| p.into_inner()).push(id);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    stop.store(true, Ordering::Relaxed);
    let secs = start.elapsed().as_secs_f64();
    let ids = ids.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if let Some(path) = ids_out {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        for id in &ids {
            writeln!(f, "{id}")?;
        }
    }
    Ok(summary(
        lat,
        secs,
        json!({"concurrency": concurrency, "orders": ids.len(), "errors": errors.load(Ordering::Relaxed),
               "orders_per_second": (ids.len() as f64 / secs * 10.0).round() / 10.0,
               "what": shape.what()}),
    ))
}

async fn lag(
    url: String,
    token: String,
    seconds: u64,
    interval_ms: u64,
    until_seq: Option<u64>,
) -> Result<Value> {
    let api = Api {
        http: reqwest::Client::new(),
        url,
        token,
    };
    let start = Instant::now();
    let interval = Duration::from_millis(interval_ms.max(1));
    // (when, the node's feed seq then)
    let mut feed: Vec<(f64, u64)> = Vec::new();
    let (mut changes, mut lag_ms) = (Vec::new(), Vec::new());
    let mut errors = 0u64;
    // With `until_seq`: when the node's feed first reached it, and whether the warehouse has.
    let (mut feed_reached_ms, mut done) = (None::<f64>, false);
    while !done && start.elapsed() < Duration::from_secs(seconds) {
        let tick = Instant::now();
        match api
            .send(reqwest::Method::GET, "/api/v1/warehouse", None)
            .await
        {
            Ok(st) => {
                let now = start.elapsed().as_secs_f64() * 1000.0;
                let seq = st["node_feed_seq"].as_u64().unwrap_or(0);
                let same_epoch = st["position"]["epoch"] == st["feed_epoch"];
                let pos = if same_epoch {
                    st["position"]["seq"].as_u64().unwrap_or(0)
                } else {
                    0
                };
                feed.push((now, seq));
                changes.push(seq.saturating_sub(pos) as f64);
                if let Some(until) = until_seq {
                    if seq >= until && feed_reached_ms.is_none() {
                        feed_reached_ms = Some(now);
                    }
                    done = seq >= until && pos >= until;
                }
                // The oldest entry still missing was written after the last sample whose feed
                // had not passed `pos`: the lag is at most now minus that sample's time.
                // (A warehouse already behind at the first sample has no known lag yet.)
                if pos >= seq {
                    lag_ms.push(0.0);
                } else if let Some(i) = feed.iter().position(|(_, s)| *s > pos) {
                    if i > 0 {
                        lag_ms.push(now - feed[i - 1].0);
                    }
                }
            }
            Err(_) => errors += 1,
        }
        tokio::time::sleep(interval.saturating_sub(tick.elapsed())).await;
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        (percentile(v, p) * 10.0).round() / 10.0
    };
    let first_seq = feed.first().map(|f| f.1);
    let last_seq = feed.last().map(|f| f.1);
    Ok(json!({
        "samples": changes.len(),
        "errors": errors,
        "seconds": (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
        "feed_seq_first": first_seq,
        "feed_seq_last": last_seq,
        "feed_reached_ms": feed_reached_ms.map(|v| v.round()),
        "caught_up": until_seq.map(|_| done),
        "interval_ms": interval_ms,
        "changes_p50": pct(&mut changes, 0.5),
        "changes_p99": pct(&mut changes, 0.99),
        "changes_max": pct(&mut changes, 1.0),
        "lag_ms_p50": pct(&mut lag_ms, 0.5),
        "lag_ms_p99": pct(&mut lag_ms, 0.99),
        "lag_ms_max": pct(&mut lag_ms, 1.0),
    }))
}

async fn reads(
    url: String,
    token: String,
    ids: std::path::PathBuf,
    requests: u64,
    concurrency: usize,
) -> Result<Value> {
    let ids: Arc<Vec<String>> = Arc::new(
        std::fs::read_to_string(ids)?
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect(),
    );
    if ids.is_empty() {
        bail!("no ids");
    }
    let api = Arc::new(Api {
        http: reqwest::Client::new(),
        url,
        token,
    });
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let (api, ids, next, errors) = (api.clone(), ids.clone(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            // A cheap deterministic spread over the ids (no RNG dependency needed).
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (c as u64 + 1);
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let id = &ids[(x % ids.len() as u64) as usize];
                let t = Instant::now();
                match api
                    .send(reqwest::Method::GET, &format!("/api/v1/orders/{id}"), None)
                    .await
                {
                    Ok(_) => lat.push(t.elapsed().as_secs_f64() * 1000.0),
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    Ok(summary(
        lat,
        start.elapsed().as_secs_f64(),
        json!({"concurrency": concurrency, "errors": errors.load(Ordering::Relaxed), "what": "GET /api/v1/orders/{id}"}),
    ))
}

#[tokio::main]
async fn main() -> Result<()> {
    let out = match Cli::parse().cmd {
        Cmd::Fsync { dir, seconds } => fsync_probe(&dir, seconds)?,
        Cmd::Setup {
            url,
            admin_token,
            call_center,
        } => setup(url, admin_token, call_center).await?,
        Cmd::Writes {
            url,
            token,
            customer,
            concurrency,
            seconds,
            orders,
            fill,
            realistic,
            rate,
            ids_out,
        } => {
            let shape = if realistic {
                Shape::Realistic
            } else if fill {
                Shape::Fill
            } else {
                Shape::Standard
            };
            writes(
                url,
                token,
                customer,
                concurrency,
                seconds,
                orders,
                shape,
                rate,
                ids_out,
            )
            .await?
        }
        Cmd::Lag {
            url,
            token,
            seconds,
            interval_ms,
            until_seq,
        } => lag(url, token, seconds, interval_ms, until_seq).await?,
        Cmd::Reads {
            url,
            token,
            ids,
            requests,
            concurrency,
        } => reads(url, token, ids, requests, concurrency).await?,
    };
    println!("{out}");
    Ok(())
}
