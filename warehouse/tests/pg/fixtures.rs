//! Fixtures: a call center, a catalog, a customer and orders, as domain values and as the
//! automerge documents a node holds, and small helpers to read the warehouse back.

use automerge::{ActorId, Automerge};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};
use switchboard_domain::commands::OrderEvent;
use switchboard_domain::config::*;
use switchboard_domain::customer::{CatalogRequest, Customer};
use switchboard_domain::ids::*;
use switchboard_domain::money::{Currency, Quantity};
use switchboard_domain::order::*;
use switchboard_domain::{Decimal, Timestamp};
use switchboard_sync::doc::{self as sdoc, Author, CallCenterState, UserRecord};
use switchboard_warehouse::{DocUpdate, DocValue, OrderDoc};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

pub fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn user(n: u128) -> UserId {
    UserId(id(n))
}

pub fn stamp(n: u128, at: Timestamp) -> Stamp {
    Stamp { by: user(n), at }
}

/// Now, as the domain's timestamp.
pub fn now() -> Timestamp {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    Timestamp::from_millis(ms as i64)
}

/// A time `hours` before now.
pub fn hours_ago(hours: i64) -> Timestamp {
    Timestamp::from_millis(now().as_millis() - hours * 3_600_000)
}

pub fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_millis() as i64,
        Err(e) => -(e.duration().as_millis() as i64),
    }
}

pub fn author(node: u8, at: Timestamp) -> Author {
    Author {
        actor: ActorId::from(vec![node; 16]),
        user: user(u128::from(node)),
        node: NodeId(id(1000 + u128::from(node))),
        now: at,
    }
}

pub fn call_center(cc: &str) -> CallCenter {
    CallCenter {
        id: CallCenterId::parse(cc).unwrap(),
        name: cc.to_uppercase(),
        currency: Currency::parse("EUR").unwrap(),
        order_completion: true,
        guided_sales: true,
        payment_tolerance: dec("0.50"),
        payment_methods: vec![
            PaymentMethod {
                id: PaymentMethodId::parse("card").unwrap(),
                kind: PaymentKind::Card,
            },
            PaymentMethod {
                id: PaymentMethodId::parse("cash").unwrap(),
                kind: PaymentKind::Cash,
            },
        ],
        delivery_modes: vec![DeliveryMode {
            id: DeliveryModeId::parse("std").unwrap(),
            name: "Standard".into(),
            charges: vec![
                ChargeTier {
                    from: Decimal::ZERO,
                    to: Some(dec("50")),
                    amount: dec("4.95"),
                },
                ChargeTier {
                    from: dec("50"),
                    to: None,
                    amount: dec("2.00"),
                },
            ],
        }],
        hold_codes: vec![
            HoldCodeDef {
                id: HoldCode::parse("fraud").unwrap(),
                name: "Fraud check".into(),
                clear_roles: vec![Role::Supervisor],
            },
            HoldCodeDef {
                id: HoldCode::parse("credit").unwrap(),
                name: "Credit check".into(),
                clear_roles: vec![Role::Agent, Role::Supervisor],
            },
        ],
        reason_codes: vec![ReasonCodeDef {
            id: ReasonCode::parse("match").unwrap(),
            name: "Price match".into(),
        }],
        price_override_limits: BTreeMap::from([
            (Role::Agent, dec("5")),
            (Role::Supervisor, dec("25")),
        ]),
        financial_dimensions: BTreeMap::from([("region".to_string(), cc.to_string())]),
        price_group: None,
    }
}

pub fn cc_state(cc: &CallCenter) -> CallCenterState {
    let agent = User {
        id: user(1),
        name: "Ann Agent".into(),
        role: Role::Agent,
        call_center: Some(cc.id.clone()),
    };
    CallCenterState {
        config: cc.clone(),
        users: BTreeMap::from([(
            agent.id,
            UserRecord {
                user: agent,
                token_hash: "token-hash-never-in-the-warehouse".into(),
                disabled: false,
                created_at: None,
                expires_at: None,
                password_hash: None,
            },
        )]),
    }
}

pub fn catalog() -> Catalog {
    let product = |pid: &str, price: &str| Product {
        id: ProductId::parse(pid).unwrap(),
        name: pid.to_uppercase(),
        price: dec(price),
        allow_price_override: true,
        image_url: None,
        upsell: vec![],
        cross_sell: vec![],
        script: None,
        continuity: None,
    };
    let mut tea = product("tea", "10.00");
    tea.upsell = vec![ProductId::parse("pot").unwrap()];
    tea.cross_sell = vec![
        ProductId::parse("cup").unwrap(),
        ProductId::parse("pot").unwrap(),
    ];
    let mut c = Catalog::default();
    for p in [tea, product("pot", "40.00"), product("cup", "4.50")] {
        c.products.insert(p.id.clone(), p);
    }
    c.price_groups.insert(
        PriceGroupId::parse("retail").unwrap(),
        PriceGroup {
            id: PriceGroupId::parse("retail").unwrap(),
            name: "Retail".into(),
            prices: BTreeMap::from([(ProductId::parse("tea").unwrap(), dec("9.50"))]),
        },
    );
    c.source_codes.insert(
        SourceCode::parse("SPRING").unwrap(),
        SourceCodeDef {
            code: SourceCode::parse("SPRING").unwrap(),
            catalog: CatalogId::parse("spring-2026").unwrap(),
            window: Window::default(),
            discount_percent: dec("10"),
            free_shipping: false,
            script: Some("Welcome to spring".into()),
            price_group: None,
        },
    );
    for (code, kind, value, max) in [
        ("SAVE5", CouponKind::Amount, "5", Some(100)),
        ("PCT10", CouponKind::Percent, "10", None),
    ] {
        c.coupons.insert(
            CouponCode::parse(code).unwrap(),
            Coupon {
                code: CouponCode::parse(code).unwrap(),
                kind,
                value: dec(value),
                min_order: Decimal::ZERO,
                window: Window::default(),
                max_uses: max,
            },
        );
    }
    c
}

pub fn customer(n: u128, cc: &str) -> Customer {
    Customer {
        id: CustomerId(id(n)),
        call_center_id: CallCenterId::parse(cc).unwrap(),
        name: "Carla Customer".into(),
        phone: Some("+49 30 1234567".into()),
        email: Some("carla@example.com".into()),
        address: BTreeMap::from([("city".to_string(), "Berlin".to_string())]),
        notes: BTreeMap::from([(
            NoteId(id(n + 1)),
            Note {
                id: NoteId(id(n + 1)),
                added: stamp(1, ts("2026-03-01T10:00:00Z")),
                text: "prefers mornings".into(),
            },
        )]),
        catalog_requests: BTreeMap::from([(
            CatalogRequestId(id(n + 2)),
            CatalogRequest {
                id: CatalogRequestId(id(n + 2)),
                source_code: SourceCode::parse("SPRING").unwrap(),
                catalog: CatalogId::parse("spring-2026").unwrap(),
                quantity: 2,
                requested: stamp(1, ts("2026-03-01T10:05:00Z")),
            },
        )]),
        created: stamp(1, ts("2026-03-01T09:00:00Z")),
    }
}

pub fn line(n: u128, product: &str, qty: i64, price: &str, at: Timestamp) -> Line {
    Line {
        id: LineId(id(n)),
        product_id: ProductId::parse(product).unwrap(),
        quantity: Quantity::new(qty).unwrap(),
        list_price: dec(price),
        unit_price: dec(price),
        price_override: None,
        added: stamp(1, at),
        removed: None,
    }
}

pub fn payment(n: u128, method: &str, amount: &str, at: Timestamp) -> Payment {
    Payment {
        id: PaymentId(id(n)),
        method: PaymentMethodId::parse(method).unwrap(),
        amount: dec(amount),
        reference: Some(format!("auth-{n}")),
        added: stamp(1, at),
        voided: None,
    }
}

pub fn hold(n: u128, code: &str, at: Timestamp) -> Hold {
    Hold {
        id: HoldId(id(n)),
        code: HoldCode::parse(code).unwrap(),
        reason: format!("{code} check"),
        placed: stamp(1, at),
        system: false,
        cleared: None,
    }
}

/// A new order of a call center, taken at `at`.
pub fn order(n: u128, cc: &str, customer: u128, at: Timestamp) -> Order {
    Order::new(
        OrderId(id(n)),
        CallCenterId::parse(cc).unwrap(),
        CustomerId(id(customer)),
        stamp(1, at),
    )
}

/// An order with every kind of entry: three lines (one removed, one overridden), a manual charge,
/// two coupons (one removed), two payments (one voided), three holds (one cleared, one placed by
/// the system), two notes, submitted; on hold.
pub fn full_order(n: u128) -> Order {
    let t = |m: u32| ts(&format!("2026-03-02T10:{m:02}:00Z"));
    let mut o = order(n, "east", 500, t(0));
    o.source_code = Some(SourceCode::parse("SPRING").unwrap());
    o.delivery_mode = Some(DeliveryModeId::parse("std").unwrap());
    o.ship_to = BTreeMap::from([
        ("street".to_string(), "Main St 1".to_string()),
        ("city".to_string(), "Berlin".to_string()),
    ]);
    o.financial_dimensions = BTreeMap::from([("region".to_string(), "east".to_string())]);
    let mut l1 = line(n + 1, "tea", 3, "9.50", t(1));
    l1.unit_price = dec("9.00");
    l1.price_override = Some(PriceOverride {
        reason_code: ReasonCode::parse("match").unwrap(),
        by: user(2),
    });
    let l2 = line(n + 2, "pot", 1, "40.00", t(2));
    let mut l3 = line(n + 3, "cup", 2, "4.50", t(3));
    l3.removed = Some(stamp(1, t(4)));
    for l in [l1, l2, l3] {
        o.lines.insert(l.id, l);
    }
    let charge = Charge {
        id: ChargeId(id(n + 10)),
        code: ChargeCode::parse("gift-wrap").unwrap(),
        amount: dec("3.00"),
        reason_code: ReasonCode::parse("match").unwrap(),
        added: stamp(1, t(5)),
    };
    o.charges.insert(charge.id, charge);
    o.coupons.insert(
        CouponCode::parse("SAVE5").unwrap(),
        CouponUse {
            code: CouponCode::parse("SAVE5").unwrap(),
            applied: stamp(1, t(6)),
            removed: None,
        },
    );
    o.coupons.insert(
        CouponCode::parse("PCT10").unwrap(),
        CouponUse {
            code: CouponCode::parse("PCT10").unwrap(),
            applied: stamp(1, t(6)),
            removed: Some(stamp(1, t(7))),
        },
    );
    let p1 = payment(n + 20, "card", "50.00", t(8));
    let mut p2 = payment(n + 21, "cash", "10.00", t(8));
    p2.voided = Some(stamp(2, t(9)));
    for p in [p1, p2] {
        o.payments.insert(p.id, p);
    }
    let open = hold(n + 30, "fraud", t(10));
    let mut cleared = hold(n + 31, "credit", t(10));
    cleared.cleared = Some(HoldClear {
        by: user(2),
        at: t(11),
        reason: "checked".into(),
    });
    let system = Hold {
        system: true,
        placed: Stamp {
            by: SYSTEM_USER,
            at: t(12),
        },
        ..hold(n + 32, "coupon_over_redeemed", t(12))
    };
    for h in [open, cleared, system] {
        o.holds.insert(h.id, h);
    }
    for (i, text) in ["call back", "gift"].iter().enumerate() {
        let note = Note {
            id: NoteId(id(n + 40 + i as u128)),
            added: stamp(1, t(13)),
            text: text.to_string(),
        };
        o.notes.insert(note.id, note);
    }
    o.lifecycle.submitted = Some(stamp(1, t(14)));
    o
}

/// The order's document, created by node 1.
pub fn order_doc(o: &Order) -> Automerge {
    sdoc::create_order_doc(o, &author(1, o.created.at)).unwrap()
}

/// The warehouse value of an order document, priced with the fixtures' call center and catalog.
pub fn order_value(doc: &Automerge) -> DocValue {
    let mut v = DocValue::from_doc(doc).unwrap();
    if let DocValue::Order(o) = &mut v {
        let cc = call_center(o.order.call_center_id.as_str());
        o.pricing = Some(o.order.pricing(&cc, &catalog()));
    }
    v
}

pub fn order_update(doc: &Automerge) -> DocUpdate {
    let value = order_value(doc);
    let DocValue::Order(o) = &value else {
        unreachable!()
    };
    DocUpdate::from_doc(o.order.id.0, doc.clone(), value)
}

/// The pricing an order's update carries.
pub fn pricing_of(doc: &Automerge) -> Pricing {
    match order_value(doc) {
        DocValue::Order(o) => o.pricing.unwrap(),
        _ => unreachable!(),
    }
}

pub fn order_of(doc: &Automerge) -> OrderDoc {
    match order_value(doc) {
        DocValue::Order(o) => *o,
        _ => unreachable!(),
    }
}

/// Writes an event into an order document as node `node`.
pub fn write(doc: &mut Automerge, node: u8, ev: OrderEvent) {
    sdoc::apply_order_event(doc, &ev, &author(node, ev_time(&ev))).unwrap();
}

fn ev_time(ev: &OrderEvent) -> Timestamp {
    match ev {
        OrderEvent::LineAdded(l) => l.added.at,
        OrderEvent::LineRemoved { stamp, .. } => stamp.at,
        OrderEvent::PaymentAdded(p) => p.added.at,
        OrderEvent::HoldPlaced(h) => h.placed.at,
        OrderEvent::HoldCleared { clear, .. } => clear.at,
        OrderEvent::NoteAdded(n) => n.added.at,
        OrderEvent::Submitted(s) | OrderEvent::Released(s) => s.at,
        OrderEvent::Canceled { stamp, .. } => stamp.at,
        _ => ts("2026-03-05T00:00:00Z"),
    }
}

pub fn cc_update(cc: &CallCenter) -> DocUpdate {
    let a = author(1, ts("2026-01-01T00:00:00Z"));
    let mut doc = sdoc::new_call_center_doc(cc, &a).unwrap();
    for rec in cc_state(cc).users.values() {
        sdoc::put_user(&mut doc, rec, &a).unwrap();
    }
    let value = DocValue::from_doc(&doc).unwrap();
    DocUpdate::from_doc(sdoc::call_center_doc_id(&cc.id), doc, value)
}

pub fn catalog_update() -> DocUpdate {
    let a = author(1, ts("2026-01-01T00:00:00Z"));
    let mut doc = sdoc::new_catalog_doc(&a).unwrap();
    let c = catalog();
    for p in c.products.values() {
        sdoc::put_product(&mut doc, p, &a).unwrap();
    }
    for g in c.price_groups.values() {
        sdoc::put_price_group(&mut doc, g, &a).unwrap();
    }
    for s in c.source_codes.values() {
        sdoc::put_source_code(&mut doc, s, &a).unwrap();
    }
    for k in c.coupons.values() {
        sdoc::put_coupon(&mut doc, k, &a).unwrap();
    }
    let value = DocValue::from_doc(&doc).unwrap();
    DocUpdate::from_doc(sdoc::catalog_doc_id(), doc, value)
}

pub fn customer_update(c: &Customer) -> DocUpdate {
    let doc = sdoc::create_customer_doc(c, &author(1, c.created.at)).unwrap();
    let value = DocValue::from_doc(&doc).unwrap();
    DocUpdate::from_doc(c.id.0, doc, value)
}

/// A plain client on a database, for reading the warehouse back.
pub async fn client(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Every row of a table as JSON text, in a stable order (without `updated_at` columns, which
/// record when, not what).
pub async fn dump(c: &Client, table: &str) -> Vec<String> {
    c.query(
        &format!("SELECT (to_jsonb(t) - 'updated_at')::text AS j FROM {table} t ORDER BY 1"),
        &[],
    )
    .await
    .unwrap()
    .into_iter()
    .map(|r| r.get(0))
    .collect()
}

/// Every document-derived table plus `documents` and `feed_positions`, dumped.
pub async fn dump_all(c: &Client) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let tables = switchboard_warehouse::tables()
        .iter()
        .copied()
        .chain(["documents", "feed_positions"]);
    for t in tables {
        out.insert(t.to_string(), dump(c, t).await);
    }
    out
}

pub async fn count(c: &Client, sql: &str) -> i64 {
    c.query_one(&format!("SELECT count(*) FROM {sql}"), &[])
        .await
        .unwrap()
        .get(0)
}
