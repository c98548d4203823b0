//! One call center ("north", EUR) and one catalog that every case starts from, plus shortcuts
//! that run a command as a given role and fold its event into the order.

use crate::commands::{self, Ctx, NewOrder, OrderEvent};
use crate::config::*;
use crate::customer::Customer;
use crate::order::*;
use crate::*;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::str::FromStr;
use uuid::Uuid;

/// The time every case runs at unless it says otherwise.
pub const NOW: &str = "2026-06-15T12:00:00Z";

pub fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn ms(t: Timestamp, delta: i64) -> Timestamp {
    Timestamp::from_millis(t.as_millis() + delta)
}

pub fn ccid(s: &str) -> CallCenterId {
    CallCenterId::parse(s).unwrap()
}
pub fn pid(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}
pub fn scode(s: &str) -> SourceCode {
    SourceCode::parse(s).unwrap()
}
pub fn coupon(s: &str) -> CouponCode {
    CouponCode::parse(s).unwrap()
}
pub fn hcode(s: &str) -> HoldCode {
    HoldCode::parse(s).unwrap()
}
pub fn rcode(s: &str) -> ReasonCode {
    ReasonCode::parse(s).unwrap()
}
pub fn pmethod(s: &str) -> PaymentMethodId {
    PaymentMethodId::parse(s).unwrap()
}
pub fn dmode(s: &str) -> DeliveryModeId {
    DeliveryModeId::parse(s).unwrap()
}
pub fn pgroup(s: &str) -> PriceGroupId {
    PriceGroupId::parse(s).unwrap()
}

/// Compares a command's outcome (its value dropped) with the expected one, naming the case.
#[track_caller]
pub fn check<T: Debug>(case: &str, got: Result<T, OrderError>, want: Result<(), OrderError>) {
    assert_eq!(got.map(|_| ()), want, "case: {case}");
}

/// A fixed user id per role, so failures print recognisable ids.
pub fn user(role: Role) -> UserId {
    UserId(Uuid::from_u128(match role {
        Role::Agent => 0xa9e7,
        Role::Supervisor => 0x5e7,
        Role::Admin => 0xad,
    }))
}

pub fn actor(role: Role) -> Actor {
    Actor {
        user: user(role),
        role,
        call_center: Some(ccid("north")),
    }
}

fn tier(from: &str, to: Option<&str>, amount: &str) -> ChargeTier {
    ChargeTier {
        from: d(from),
        to: to.map(d),
        amount: d(amount),
    }
}

pub fn call_center() -> CallCenter {
    CallCenter {
        id: ccid("north"),
        name: "North".into(),
        currency: Currency::parse("EUR").unwrap(),
        order_completion: true,
        guided_sales: true,
        payment_tolerance: d("0.00"),
        payment_methods: vec![
            PaymentMethod {
                id: pmethod("card"),
                kind: PaymentKind::Card,
            },
            PaymentMethod {
                id: pmethod("cash"),
                kind: PaymentKind::Cash,
            },
        ],
        delivery_modes: vec![
            DeliveryMode {
                id: dmode("std"),
                name: "Standard".into(),
                charges: vec![
                    tier("0.00", Some("50.00"), "5.95"),
                    tier("50.00", Some("100.00"), "2.95"),
                    tier("100.00", None, "0.00"),
                ],
            },
            DeliveryMode {
                id: dmode("express"),
                name: "Express".into(),
                charges: vec![tier("0", None, "15.00")],
            },
            DeliveryMode {
                id: dmode("pickup"),
                name: "Pick-up".into(),
                charges: vec![],
            },
        ],
        hold_codes: vec![
            HoldCodeDef {
                id: hcode("fraud"),
                name: "Fraud check".into(),
                clear_roles: vec![Role::Supervisor],
            },
            HoldCodeDef {
                id: hcode("credit"),
                name: "Credit check".into(),
                clear_roles: vec![Role::Agent, Role::Supervisor],
            },
            HoldCodeDef {
                id: hcode("legal"),
                name: "Legal".into(),
                clear_roles: vec![],
            },
        ],
        reason_codes: vec![
            ReasonCodeDef {
                id: rcode("match"),
                name: "Price match".into(),
            },
            ReasonCodeDef {
                id: rcode("damaged"),
                name: "Damaged".into(),
            },
        ],
        price_override_limits: BTreeMap::from([(Role::Agent, d("5")), (Role::Supervisor, d("25"))]),
        financial_dimensions: BTreeMap::from([("region".to_string(), "north".to_string())]),
        price_group: None,
    }
}

pub fn product(id: &str, price: &str, allow_override: bool) -> Product {
    Product {
        id: pid(id),
        name: id.to_string(),
        price: d(price),
        allow_price_override: allow_override,
        image_url: None,
        upsell: vec![],
        cross_sell: vec![],
        script: None,
        continuity: None,
    }
}

fn window(from: Option<&str>, to: Option<&str>) -> Window {
    Window {
        valid_from: from.map(ts),
        valid_to: to.map(ts),
    }
}

pub fn source(code: &str, from: Option<&str>, to: Option<&str>) -> SourceCodeDef {
    SourceCodeDef {
        code: scode(code),
        catalog: CatalogId::parse(format!("cat-{code}")).unwrap(),
        window: window(from, to),
        discount_percent: Decimal::ZERO,
        free_shipping: false,
        script: None,
        price_group: None,
    }
}

pub fn coupon_def(code: &str, kind: CouponKind, value: &str) -> Coupon {
    Coupon {
        code: coupon(code),
        kind,
        value: d(value),
        min_order: Decimal::ZERO,
        window: Window::default(),
        max_uses: None,
    }
}

pub fn catalog() -> Catalog {
    let mut widget = product("widget", "10.00", true);
    widget.upsell = vec![pid("widget-pro")];
    widget.cross_sell = vec![pid("cable"), pid("batteries")];
    widget.script = Some("Mention the two-year warranty.".into());
    let mut pro = product("widget-pro", "25.00", true);
    pro.cross_sell = vec![pid("cable")];
    let mut gadget = product("gadget", "20.00", false);
    gadget.upsell = vec![pid("widget-pro")];
    gadget.cross_sell = vec![pid("batteries"), pid("ghost")];
    gadget.script = Some("Ask about gift wrap.".into());
    let mut vitamins = product("vitamins", "19.99", true);
    vitamins.continuity = Some(Continuity {
        every_days: 30,
        times: 3,
    });
    let products = [
        widget,
        pro,
        gadget,
        product("cable", "3.50", true),
        product("batteries", "4.99", false),
        vitamins,
        product("freebie", "0.00", true),
    ];

    let mut spring = source(
        "SPRING",
        Some("2026-03-01T00:00:00Z"),
        Some("2026-06-30T23:59:59.999Z"),
    );
    spring.discount_percent = d("10");
    spring.script = Some("Welcome to the spring catalog.".into());
    spring.price_group = Some(pgroup("spring-pg"));
    let mut freeship = source("FREESHIP", None, None);
    freeship.free_shipping = true;
    let sources = [
        spring,
        freeship,
        source("OLD", None, Some("2025-12-31T23:59:59.999Z")),
        source("FUTURE", Some("2026-09-01T00:00:00Z"), None),
        source("PLAIN", None, None),
    ];

    let mut min50 = coupon_def("MIN50", CouponKind::Amount, "5");
    min50.min_order = d("50.00");
    let mut summer = coupon_def("SUMMER", CouponKind::Percent, "5");
    summer.window = window(
        Some("2026-06-01T00:00:00Z"),
        Some("2026-06-30T23:59:59.999Z"),
    );
    let mut limited = coupon_def("LIMITED", CouponKind::Amount, "1");
    limited.max_uses = Some(3);
    let coupons = [
        coupon_def("TEN", CouponKind::Percent, "10"),
        coupon_def("FIVE-OFF", CouponKind::Amount, "5.00"),
        coupon_def("BIG", CouponKind::Amount, "500"),
        min50,
        summer,
        limited,
    ];

    let groups = [
        PriceGroup {
            id: pgroup("spring-pg"),
            name: "Spring".into(),
            prices: BTreeMap::from([(pid("widget"), d("8.00")), (pid("vitamins"), d("17.99"))]),
        },
        PriceGroup {
            id: pgroup("north-pg"),
            name: "North retail".into(),
            prices: BTreeMap::from([(pid("widget"), d("9.00")), (pid("gadget"), d("19.00"))]),
        },
    ];

    Catalog {
        products: products.into_iter().map(|p| (p.id.clone(), p)).collect(),
        price_groups: groups.into_iter().map(|g| (g.id.clone(), g)).collect(),
        source_codes: sources.into_iter().map(|s| (s.code.clone(), s)).collect(),
        coupons: coupons.into_iter().map(|c| (c.code.clone(), c)).collect(),
    }
}

/// A call center, a catalog, a clock reading and the users acting in it.
pub struct World {
    pub cc: CallCenter,
    pub catalog: Catalog,
    pub now: Timestamp,
    pub agent: Actor,
    pub supervisor: Actor,
    pub admin: Actor,
    /// An agent of another call center.
    pub outsider: Actor,
    next: Cell<u128>,
}

impl World {
    pub fn new() -> Self {
        World {
            cc: call_center(),
            catalog: catalog(),
            now: ts(NOW),
            agent: actor(Role::Agent),
            supervisor: actor(Role::Supervisor),
            admin: Actor {
                user: user(Role::Admin),
                role: Role::Admin,
                call_center: None,
            },
            outsider: Actor {
                user: UserId(Uuid::from_u128(0x07)),
                role: Role::Agent,
                call_center: Some(ccid("south")),
            },
            next: Cell::new(1),
        }
    }

    /// A command context for one of the world's users, by role (admin: the node admin).
    pub fn ctx(&self, role: Role) -> Ctx<'_> {
        let actor = match role {
            Role::Agent => &self.agent,
            Role::Supervisor => &self.supervisor,
            Role::Admin => &self.admin,
        };
        self.ctx_of(actor)
    }

    pub fn ctx_of<'a>(&'a self, actor: &'a Actor) -> Ctx<'a> {
        Ctx {
            cc: &self.cc,
            catalog: &self.catalog,
            actor,
            now: self.now,
        }
    }

    /// A fresh id, counting up, so ids (and map order) are predictable.
    pub fn fresh(&self) -> Uuid {
        let n = self.next.get();
        self.next.set(n + 1);
        Uuid::from_u128(0x1000 + n)
    }

    pub fn customer(&self) -> Customer {
        Customer {
            id: CustomerId(Uuid::from_u128(0xc0ffee)),
            call_center_id: self.cc.id.clone(),
            name: "Ada".into(),
            phone: None,
            email: None,
            address: BTreeMap::new(),
            notes: BTreeMap::new(),
            catalog_requests: BTreeMap::new(),
            created: Stamp {
                by: user(Role::Agent),
                at: ts("2026-01-01"),
            },
        }
    }

    pub fn new_order(&self, source_code: Option<&str>, delivery_mode: Option<&str>) -> NewOrder {
        NewOrder {
            id: OrderId(self.fresh()),
            customer: self.customer(),
            source_code: source_code.map(scode),
            delivery_mode: delivery_mode.map(dmode),
            ship_to: BTreeMap::from([("city".to_string(), "Oslo".to_string())]),
        }
    }

    /// An open order taken by the agent, with the given source code and delivery mode.
    pub fn order_with(&self, source_code: Option<&str>, delivery_mode: Option<&str>) -> Order {
        commands::create_order(
            self.ctx(Role::Agent),
            self.new_order(source_code, delivery_mode),
        )
        .unwrap()
    }

    /// An open order with no source code and no delivery mode (so no automatic charge).
    pub fn order(&self) -> Order {
        self.order_with(None, None)
    }

    /// Runs a command on the order and folds its event in; a refusal fails the test.
    #[track_caller]
    pub fn run(
        &self,
        order: &mut Order,
        command: impl FnOnce(&Order) -> Result<OrderEvent, OrderError>,
    ) {
        match command(order) {
            Ok(e) => commands::apply(order, &e),
            Err(e) => panic!("setup command refused: {e:?}"),
        }
    }

    /// Adds a line at list price as the agent.
    #[track_caller]
    pub fn add(&self, order: &mut Order, product: &str, quantity: i64) -> LineId {
        let id = LineId(self.fresh());
        let cmd = commands::AddLine {
            id,
            product_id: pid(product),
            quantity: Quantity::new(quantity).unwrap(),
            unit_price: None,
            override_reason: None,
        };
        self.run(order, |x| commands::add_line(x, self.ctx(Role::Agent), cmd));
        id
    }

    /// Records a card payment as the agent.
    #[track_caller]
    pub fn pay(&self, order: &mut Order, amount: &str) -> PaymentId {
        let id = PaymentId(self.fresh());
        let cmd = commands::AddPayment {
            id,
            method: pmethod("card"),
            amount: d(amount),
            reference: None,
        };
        self.run(order, |x| {
            commands::add_payment(x, self.ctx(Role::Agent), cmd)
        });
        id
    }

    /// Pays what the order still owes, by card.
    #[track_caller]
    pub fn pay_balance(&self, order: &mut Order) -> PaymentId {
        let balance = order.totals(&self.cc, &self.catalog).balance;
        self.pay(order, &balance.to_string())
    }

    /// Places a hold as the agent.
    #[track_caller]
    pub fn hold(&self, order: &mut Order, code: &str) -> HoldId {
        let id = HoldId(self.fresh());
        self.run(order, |x| {
            commands::place_hold(x, self.ctx(Role::Agent), id, hcode(code), "check".into())
        });
        id
    }

    /// Applies a coupon as the agent, no other redemptions known.
    #[track_caller]
    pub fn apply_coupon(&self, order: &mut Order, code: &str) {
        self.run(order, |x| {
            commands::apply_coupon(x, self.ctx(Role::Agent), coupon(code), 0)
        });
    }

    /// A widget order (10.00), fully paid and submitted by the agent.
    pub fn submitted(&self) -> Order {
        let mut o = self.order();
        self.add(&mut o, "widget", 1);
        self.pay(&mut o, "10.00");
        self.run(&mut o, |x| commands::submit(x, self.ctx(Role::Agent)));
        o
    }

    /// A submitted order released by the agent.
    pub fn released(&self) -> Order {
        let mut o = self.submitted();
        self.run(&mut o, |x| commands::release(x, self.ctx(Role::Agent)));
        o
    }

    /// An open order canceled by the agent.
    pub fn canceled(&self) -> Order {
        let mut o = self.order();
        self.add(&mut o, "widget", 1);
        self.run(&mut o, |x| {
            commands::cancel(x, self.ctx(Role::Agent), "changed mind".into())
        });
        o
    }

    pub fn stamp(&self) -> Stamp {
        Stamp {
            by: user(Role::Agent),
            at: self.now,
        }
    }

    /// The totals as strings, so the currency's scale is part of what is compared:
    /// `[subtotal, discount, charges, total, paid, balance]`.
    pub fn totals(&self, order: &Order) -> [String; 6] {
        let t = order.totals(&self.cc, &self.catalog);
        [
            t.subtotal, t.discount, t.charges, t.total, t.paid, t.balance,
        ]
        .map(|v| v.to_string())
    }
}
