//! `switchboard demo`: HQ and two call-center sites in this process, on loopback port 0 with
//! temporary data dirs, driven only through the public HTTP API (docs/api.md).
//!
//! Step by step: load a demo call center at HQ, peer the sites with HQ and sync the configuration
//! out, cut the south site off, take orders and place holds on both sides of the cut (including
//! concurrent edits of one order), heal the link, sync, and check that all three nodes hold the
//! same order views. Exits 0 when they converged, 1 when they did not.

use crate::admin::orders::{all_order_ids, order as order_view};
use crate::admin::sync::sync_now;
use crate::client::Client;
use crate::output::opt;
use crate::serve::{start, RunningNode};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::Args;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use switchboard_domain::config::{CouponKind, PaymentKind, Role};
use switchboard_domain::{CallCenterId, CustomerId, OrderId};
use switchboard_node::config::NodeConfig;
use switchboard_node::views::{
    CallCenterDoc, ChargeTierDoc, ContinuityDoc, CouponDoc, CustomerView, DeliveryModeDoc,
    HoldCodeDoc, NewUserView, NodeView, OrderView, PaymentMethodDoc, PeerView, ProductDoc,
    ReasonCodeDoc, SourceCodeDoc,
};
use switchboard_sync::protocol::Role as NodeRole;

/// Arguments of `switchboard demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the temporary data dirs (their paths are printed) instead of deleting them.
    #[arg(long)]
    keep: bool,
    /// Print only the step headings and the verdict.
    #[arg(long, short)]
    quiet: bool,
}

/// The demo call center's id.
const CC: &str = "demo";

/// One node of the demo.
struct DemoNode {
    name: &'static str,
    /// Its node id (certificate fingerprint), which the other side pins.
    node_id: String,
    role: NodeRole,
    call_centers: Vec<CallCenterId>,
    running: RunningNode,
    admin: Client,
    // Held so the data dir lives as long as the node (`None` with `--keep`).
    _dir: Option<tempfile::TempDir>,
}

impl DemoNode {
    fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    /// Where its peers reach it.
    fn sync_url(&self) -> String {
        self.running
            .sync_addr
            .map(|a| format!("https://{a}"))
            .unwrap_or_default()
    }
}

/// Runs `switchboard demo`.
pub async fn run(args: DemoArgs) -> Result<()> {
    let out = Printer { quiet: args.quiet };

    out.step(
        1,
        "start HQ and two sites (north, south) on loopback with temporary data",
    );
    let cc = CallCenterId::parse(CC).map_err(|e| anyhow!("{e}"))?;
    let hq = launch("hq", NodeRole::Hq, &[], args.keep).await?;
    let north = launch(
        "north",
        NodeRole::Site,
        std::slice::from_ref(&cc),
        args.keep,
    )
    .await?;
    let south = launch(
        "south",
        NodeRole::Site,
        std::slice::from_ref(&cc),
        args.keep,
    )
    .await?;
    for n in [&hq, &north, &south] {
        out.line(format!("{:<6} {} node {}", n.name, n.url(), n.node_id));
    }

    let result = scenario(&out, &hq, &north, &south).await;

    for n in [hq, north, south] {
        n.running
            .shutdown()
            .await
            .with_context(|| format!("stopping {}", n.name))?;
    }
    let converged = result?;
    if converged {
        outln!("converged: HQ, north and south hold the same orders");
        Ok(())
    } else {
        Err(anyhow!("the nodes did not converge"))
    }
}

async fn launch(
    name: &'static str,
    role: NodeRole,
    ccs: &[CallCenterId],
    keep: bool,
) -> Result<DemoNode> {
    let dir = tempfile::Builder::new()
        .prefix(&format!("switchboard-demo-{name}-"))
        .tempdir()
        .context("cannot create a temporary data dir")?;
    let (data_dir, guard) = if keep {
        let path = dir.keep();
        outln!("  ({name} data dir kept at {})", path.display());
        (path, None)
    } else {
        (dir.path().to_path_buf(), Some(dir))
    };
    let created = crate::init::create(&data_dir, name, role, ccs)?;
    let cfg = NodeConfig {
        data_dir,
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        sync_listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        name: name.to_string(),
        role,
        call_centers: ccs.to_vec(),
        // The demo decides when to sync, so the story is the same on every run.
        sync_interval_secs: 3600,
        log: "warn".to_string(),
        ..NodeConfig::default()
    };
    let running = start(cfg).await?;
    let admin = Client::new(
        &format!("http://{}", running.addr),
        &created.admin_token,
        Duration::from_secs(60),
    )?;
    Ok(DemoNode {
        name,
        node_id: created.fingerprint.to_string(),
        role,
        call_centers: ccs.to_vec(),
        running,
        admin,
        _dir: guard,
    })
}

/// The scenario proper; answers whether the nodes converged.
async fn scenario(
    out: &Printer,
    hq: &DemoNode,
    north: &DemoNode,
    south: &DemoNode,
) -> Result<bool> {
    out.step(2, "load the demo call center at HQ over the API");
    load_config(&hq.admin).await?;
    let agent = new_user(&hq.admin, "Ada (agent)", Role::Agent).await?;
    let supervisor = new_user(&hq.admin, "Sam (supervisor)", Role::Supervisor).await?;
    out.line("call center 'demo': EUR, card/cash, delivery std (5.95 under 50.00, free above) and express 14.95");
    out.line("products: headset (upsell: headset-pro, script), headset-pro, cable (cross-sell), coffee subscription");
    out.line("hold codes fraud/address, coupon WELCOME10, source code SPRING (10% off), users Ada (agent), Sam (supervisor)");

    out.step(
        3,
        "peer both sites with HQ and sync: configuration and users flow out to the sites",
    );
    link(hq, north).await?;
    link(hq, south).await?;
    sync(out, north, "hq").await?;
    sync(out, south, "hq").await?;
    for site in [north, south] {
        let cc: CallCenterDoc = site
            .admin
            .get(&format!("/api/v1/call-centers/{CC}"))
            .await?;
        out.line(format!(
            "{} now holds call center {:?} with {} delivery modes",
            site.name,
            cc.name,
            cc.delivery_modes.len()
        ));
    }

    // Agents and supervisors use the same token on every node: their users synced with the config.
    let ada_n = north.admin.with_token(&agent);
    let ada_s = south.admin.with_token(&agent);
    let sam_hq = hq.admin.with_token(&supervisor);

    out.step(
        4,
        "north takes an order and syncs it to HQ, which passes it on to south",
    );
    let cust_a = customer(&ada_n, "Grace Hopper", "+1 555 0100").await?;
    let order_a = order(&ada_n, &cust_a, Some("SPRING")).await?;
    add_line(&ada_n, &order_a, "headset", 1).await?;
    sync(out, north, "hq").await?;
    sync(out, south, "hq").await?;
    show(out, &[hq, north, south]).await?;

    out.step(5, "cut south off: remove the link on both sides");
    south.admin.delete("/api/v1/peers/hq").await?;
    hq.admin.delete("/api/v1/peers/south").await?;
    out.line("south has no peers; HQ only knows north");

    out.step(
        6,
        "both sides keep working: orders, holds and concurrent edits of the same order",
    );
    // North: completes order A (line, coupon, payment) and submits it.
    add_line(&ada_n, &order_a, "cable", 2).await?;
    ada_n
        .post::<OrderView>(
            &format!("/api/v1/orders/{order_a}/coupons"),
            &json!({"code": "WELCOME10"}),
        )
        .await?;
    let balance = order_view(&ada_n, order_a).await?.totals.balance;
    ada_n
        .post::<OrderView>(
            &format!("/api/v1/orders/{order_a}/payments"),
            &json!({"method": "card", "amount": balance, "reference": "auth-4711"}),
        )
        .await?;
    ada_n
        .post::<OrderView>(&format!("/api/v1/orders/{order_a}/submit"), &json!({}))
        .await?;
    out.line(format!(
        "north: order {order_a} paid ({balance}) and submitted"
    ));
    // North: a second order, synced to HQ, where the supervisor puts it on hold.
    let cust_b = customer(&ada_n, "Alan Turing", "+44 20 7946 0000").await?;
    let order_b = order(&ada_n, &cust_b, None).await?;
    add_line(&ada_n, &order_b, "headset-pro", 1).await?;
    sync(out, north, "hq").await?;
    sam_hq
        .post::<OrderView>(
            &format!("/api/v1/orders/{order_b}/holds"),
            &json!({"code": "fraud", "reason": "card country differs from shipping"}),
        )
        .await?;
    out.line(format!(
        "HQ: supervisor placed a fraud hold on north's order {order_b}"
    ));
    // South, cut off: edits order A concurrently (note + address hold) and takes its own order.
    ada_s
        .post::<OrderView>(
            &format!("/api/v1/orders/{order_a}/notes"),
            &json!({"text": "customer called south: deliver after 5pm"}),
        )
        .await?;
    ada_s
        .post::<OrderView>(
            &format!("/api/v1/orders/{order_a}/holds"),
            &json!({"code": "address", "reason": "confirm the delivery address"}),
        )
        .await?;
    out.line(format!(
        "south (offline): note and address hold on order {order_a}"
    ));
    let cust_c = customer(&ada_s, "Ada Lovelace", "+44 20 7000 0001").await?;
    let order_c = order(&ada_s, &cust_c, None).await?;
    add_line(&ada_s, &order_c, "coffee", 3).await?;
    out.line(format!("south (offline): new order {order_c}"));
    sync(out, north, "hq").await?;
    show(out, &[hq, north, south]).await?;

    out.step(7, "heal: restore the link and sync south, then north");
    link_one(south, hq, "hq").await?;
    link_one(hq, south, "south").await?;
    sync(out, south, "hq").await?;
    sync(out, north, "hq").await?;
    // South once more, for what north sent after south's session.
    sync(out, south, "hq").await?;
    show(out, &[hq, north, south]).await?;

    out.step(
        8,
        "check convergence: the same orders, with identical views, on all three nodes",
    );
    let converged = compare(out, &[hq, north, south]).await?;
    let a = order_view(&hq.admin, order_a).await?;
    out.line(format!(
        "order {order_a} at HQ: status {}, {} lines, {} holds, {} notes (edits from both sides merged)",
        a.status.as_str(),
        a.lines.len(),
        a.holds.len(),
        a.notes.len()
    ));
    Ok(converged)
}

/// Writes the demo configuration at HQ.
async fn load_config(hq: &Client) -> Result<()> {
    let tier = |from: &str, to: Option<&str>, amount: &str| -> Result<ChargeTierDoc> {
        Ok(ChargeTierDoc {
            from: dec(from)?,
            to: to.map(dec).transpose()?,
            amount: dec(amount)?,
        })
    };
    let cc = CallCenterDoc {
        id: None,
        name: "Demo Call Center".into(),
        currency: "EUR".into(),
        order_completion: true,
        guided_sales: true,
        payment_tolerance: dec("0.00")?,
        payment_methods: vec![
            PaymentMethodDoc {
                id: "card".into(),
                kind: PaymentKind::Card,
            },
            PaymentMethodDoc {
                id: "cash".into(),
                kind: PaymentKind::Cash,
            },
        ],
        delivery_modes: vec![
            DeliveryModeDoc {
                id: "std".into(),
                name: "Standard".into(),
                charges: vec![
                    tier("0.00", Some("50.00"), "5.95")?,
                    tier("50.00", None, "0.00")?,
                ],
            },
            DeliveryModeDoc {
                id: "express".into(),
                name: "Express".into(),
                charges: vec![tier("0.00", None, "14.95")?],
            },
        ],
        hold_codes: vec![
            HoldCodeDoc {
                id: "fraud".into(),
                name: "Fraud check".into(),
                clear_roles: vec![Role::Supervisor],
            },
            HoldCodeDoc {
                id: "address".into(),
                name: "Address check".into(),
                clear_roles: vec![Role::Agent, Role::Supervisor],
            },
        ],
        reason_codes: vec![ReasonCodeDoc {
            id: "match".into(),
            name: "Price match".into(),
        }],
        price_override_limits: BTreeMap::from([
            (Role::Agent, dec("5")?),
            (Role::Supervisor, dec("25")?),
        ]),
        financial_dimensions: BTreeMap::from([("region".into(), "demo".into())]),
        price_group: None,
    };
    hq.put::<CallCenterDoc>(&format!("/api/v1/call-centers/{CC}"), &cc)
        .await?;
    let products = [
        (
            "headset",
            ProductDoc {
                upsell: vec!["headset-pro".into()],
                cross_sell: vec!["cable".into()],
                script: Some(
                    "Ask whether the customer takes calls all day: the Pro has noise cancelling."
                        .into(),
                ),
                ..product("Headset", "39.00", true)?
            },
        ),
        (
            "headset-pro",
            ProductDoc {
                cross_sell: vec!["cable".into()],
                ..product("Headset Pro", "89.00", true)?
            },
        ),
        ("cable", product("Spare cable", "6.50", false)?),
        (
            "coffee",
            ProductDoc {
                script: Some("Mention that the subscription can be paused at any time.".into()),
                continuity: Some(ContinuityDoc {
                    every_days: 30,
                    times: 6,
                }),
                ..product("Coffee subscription", "12.00", false)?
            },
        ),
    ];
    for (id, p) in products {
        hq.put::<ProductDoc>(&format!("/api/v1/products/{id}"), &p)
            .await?;
    }
    let spring = SourceCodeDoc {
        code: None,
        catalog: "spring".into(),
        valid_from: None,
        valid_to: None,
        discount_percent: dec("10")?,
        free_shipping: false,
        script: Some("Welcome the caller to the spring catalog.".into()),
        price_group: None,
    };
    hq.put::<SourceCodeDoc>("/api/v1/source-codes/SPRING", &spring)
        .await?;
    let welcome = CouponDoc {
        code: None,
        kind: CouponKind::Amount,
        value: dec("10.00")?,
        min_order: dec("20.00")?,
        valid_from: None,
        valid_to: None,
        max_uses: None,
    };
    hq.put::<CouponDoc>("/api/v1/coupons/WELCOME10", &welcome)
        .await?;
    Ok(())
}

/// Loads the demo call center into a fresh standalone node for the console (`serve
/// --demo-data`): the configuration and catalog of the demo, and an agent and a supervisor who
/// sign in with the passwords printed here (random, shown once).
pub async fn seed_console(url: &str, admin_token: &str) -> Result<()> {
    let hq = Client::new(url, admin_token, Duration::from_secs(30))?;
    load_config(&hq).await?;
    // Every product gets a picture, uploaded like an admin would (kept in the catalog, synced).
    let http = reqwest::Client::new();
    for (id, name) in [
        ("headset", "Headset"),
        ("headset-pro", "Headset Pro"),
        ("cable", "Spare cable"),
        ("coffee", "Coffee subscription"),
    ] {
        let resp = http
            .put(format!("{url}/api/v1/products/{id}/image"))
            .bearer_auth(admin_token)
            .header("content-type", "image/svg+xml")
            .body(switchboard_console::assets::product_svg(id, name))
            .send()
            .await
            .with_context(|| format!("uploading the picture of {id}"))?;
        if !resp.status().is_success() {
            bail!("uploading the picture of {id}: {}", resp.status());
        }
    }
    outln!("demo data loaded: call center {CC:?}, products with pictures, source code SPRING, coupon WELCOME10");
    for (name, role) in [("agent", Role::Agent), ("supervisor", Role::Supervisor)] {
        let password = console_password();
        let _: NewUserView = hq
            .post(
                &format!("/api/v1/call-centers/{CC}/users"),
                &json!({"name": name, "role": role, "password": password}),
            )
            .await?;
        outln!("console account: {name} password {password}");
    }
    Ok(())
}

/// A random password of 12 letters and digits (no look-alikes), easy to type from a terminal.
fn console_password() -> String {
    const CHARS: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes
        .iter()
        .take(12)
        .map(|b| CHARS[usize::from(*b) % CHARS.len()] as char)
        .collect()
}

/// A product without suggestions, script or continuity; its id is the PUT's path.
fn product(name: &str, price: &str, allow_price_override: bool) -> Result<ProductDoc> {
    Ok(ProductDoc {
        id: None,
        name: name.into(),
        price: dec(price)?,
        allow_price_override,
        image_url: None,
        upsell: Vec::new(),
        cross_sell: Vec::new(),
        script: None,
        continuity: None,
    })
}

/// A decimal written as the API writes it ("5.95").
fn dec(s: &str) -> Result<Decimal> {
    s.parse()
        .with_context(|| format!("{s:?} is not a decimal number"))
}

async fn new_user(hq: &Client, name: &str, role: Role) -> Result<String> {
    let user: NewUserView = hq
        .post(
            &format!("/api/v1/call-centers/{CC}/users"),
            &json!({"name": name, "role": role}),
        )
        .await?;
    if user.token.is_empty() {
        bail!("HQ created user {name:?} without a token");
    }
    Ok(user.token)
}

/// Peers a site with HQ in both directions: each side adds the other by node id, with its role
/// and call centers.
async fn link(hq: &DemoNode, site: &DemoNode) -> Result<()> {
    link_one(hq, site, site.name).await?;
    link_one(site, hq, "hq").await
}

async fn link_one(from: &DemoNode, to: &DemoNode, name: &str) -> Result<()> {
    let ccs: Vec<String> = to.call_centers.iter().map(|c| c.to_string()).collect();
    from.admin
        .post::<PeerView>(
            "/api/v1/peers",
            &json!({"node_id": to.node_id, "name": name, "url": to.sync_url(),
                    "role": to.role.as_str(), "call_centers": ccs}),
        )
        .await
        .with_context(|| format!("{}: adding peer {name}", from.name))?;
    Ok(())
}

/// Runs a session from `node` with `peer`; a failed session is an error.
async fn sync(out: &Printer, node: &DemoNode, peer: &str) -> Result<()> {
    let run = sync_now(&node.admin, Some(peer), false)
        .await
        .with_context(|| format!("{}: sync with {peer}", node.name))?;
    for p in &run.peers {
        if !p.ok {
            bail!(
                "{}: sync with {} failed: {}",
                node.name,
                p.name,
                opt(&p.error)
            );
        }
        out.line(format!(
            "sync {} <-> {}: sent {} docs, received {} docs",
            node.name, p.name, p.sent_docs, p.received_docs
        ));
    }
    Ok(())
}

async fn customer(c: &Client, name: &str, phone: &str) -> Result<CustomerId> {
    let v: CustomerView = c
        .post(
            "/api/v1/customers",
            &json!({"name": name, "phone": phone, "email": null,
                    "address": {"street": "1 Main St", "city": "Springfield", "country": "US"}}),
        )
        .await?;
    Ok(v.id)
}

async fn order(c: &Client, customer: &CustomerId, source: Option<&str>) -> Result<OrderId> {
    let v: OrderView = c
        .post(
            "/api/v1/orders",
            &json!({"customer_id": customer, "source_code": source, "delivery_mode": "std",
                    "ship_to": {"street": "1 Main St", "city": "Springfield", "country": "US"}}),
        )
        .await?;
    Ok(v.id)
}

async fn add_line(c: &Client, order: &OrderId, product: &str, qty: u32) -> Result<()> {
    c.post::<OrderView>(
        &format!("/api/v1/orders/{order}/lines"),
        &json!({"product_id": product, "quantity": qty, "unit_price": null, "override_reason": null}),
    )
    .await?;
    Ok(())
}

/// Prints, per node, its document counts and its orders with status and active holds.
async fn show(out: &Printer, nodes: &[&DemoNode]) -> Result<()> {
    for n in nodes {
        let info: NodeView = n.admin.get("/api/v1/node").await?;
        out.line(format!(
            "{:<6} holds {} orders, {} customers",
            n.name, info.documents.orders, info.documents.customers
        ));
        for id in all_order_ids(&n.admin).await? {
            let v = order_view(&n.admin, id).await?;
            let active = v
                .holds
                .iter()
                .filter(|h| h.cleared.is_none())
                .map(|h| h.code.to_string())
                .collect::<Vec<_>>();
            out.line(format!(
                "         {id}  {:<9} total {:>7}  lines {}  notes {}  holds [{}]",
                v.status.as_str(),
                v.totals.total.to_string(),
                v.lines.len(),
                v.notes.len(),
                active.join(", ")
            ));
        }
    }
    Ok(())
}

/// Compares every node's orders with HQ's: same ids, identical views.
async fn compare(out: &Printer, nodes: &[&DemoNode]) -> Result<bool> {
    // Views are compared whole, as JSON: every field of the view counts.
    let mut views: Vec<BTreeMap<String, Value>> = Vec::new();
    for n in nodes {
        let mut m = BTreeMap::new();
        for id in all_order_ids(&n.admin).await? {
            let id = id.to_string();
            let v = order_view(&n.admin, &id).await?;
            m.insert(id, serde_json::to_value(&v)?);
        }
        views.push(m);
    }
    let Some((first, rest)) = views.split_first() else {
        return Ok(false);
    };
    let mut ok = true;
    for (n, v) in nodes.iter().skip(1).zip(rest) {
        if v.keys().ne(first.keys()) {
            ok = false;
            out.always(format!(
                "MISMATCH: {} holds orders {:?}, {} holds {:?}",
                nodes[0].name,
                first.keys().collect::<Vec<_>>(),
                n.name,
                v.keys().collect::<Vec<_>>()
            ));
            continue;
        }
        for (id, view) in first {
            if v.get(id) != Some(view) {
                ok = false;
                out.always(format!(
                    "MISMATCH: order {id} differs between {} and {}",
                    nodes[0].name, n.name
                ));
            }
        }
    }
    if ok {
        out.line(format!(
            "all {} nodes hold the same {} orders with identical views",
            nodes.len(),
            first.len()
        ));
    }
    Ok(ok)
}

/// Step-by-step output.
struct Printer {
    quiet: bool,
}

impl Printer {
    fn step(&self, n: u32, what: &str) {
        outln!("Step {n}: {what}");
    }

    fn line(&self, text: impl AsRef<str>) {
        if !self.quiet {
            outln!("  {}", text.as_ref());
        }
    }

    fn always(&self, text: impl AsRef<str>) {
        outln!("  {}", text.as_ref());
    }
}
