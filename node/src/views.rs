//! HTTP bodies and views: what the API reads and answers, as their own types, converted into and
//! out of the domain at the edge. Money is a decimal string, times RFC 3339 strings, ids strings.
//! The order view carries everything an agent needs in one answer: lines, charges (automatic and
//! manual), coupons with their discounts, payments, holds, notes, derived totals, and the
//! concurrent values a merge left behind (`conflicts`).

use crate::api::error::{ApiError, FieldProblem};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::config::{
    CallCenter, Catalog, ChargeTier, Continuity, Coupon, CouponKind, DeliveryMode, HoldCodeDef,
    PaymentKind, PaymentMethod, PriceGroup, Product, ReasonCodeDef, Role, SourceCodeDef, Window,
};
use switchboard_domain::customer::{CatalogRequest, Customer};
use switchboard_domain::order::{Order, Status};
use switchboard_domain::*;
use utoipa::ToSchema;
use uuid::Uuid;

/// The id of an order's automatic delivery charge: UUID v5 with the order id as namespace and
/// the delivery mode as name, so every node (and any client) derives the same id.
pub fn auto_charge_id(order: OrderId, mode: &DeliveryModeId) -> Uuid {
    Uuid::new_v5(&order.0, mode.as_str().as_bytes())
}

fn code<T>(
    field: &str,
    s: &str,
    parse: impl Fn(String) -> Result<T, CodeError>,
) -> Result<T, FieldProblem> {
    parse(s.to_string()).map_err(|e| FieldProblem {
        field: field.to_string(),
        message: e.0,
    })
}

/// Collects field problems while converting a body into a domain value.
#[derive(Default)]
struct Problems(Vec<FieldProblem>);

impl Problems {
    fn take<T>(&mut self, r: Result<T, FieldProblem>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(p) => {
                self.0.push(p);
                None
            }
        }
    }

    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldProblem {
            field: field.into(),
            message: message.into(),
        });
    }

    fn finish<T>(self, v: Option<T>) -> Result<T, ApiError> {
        match v {
            Some(v) if self.0.is_empty() => Ok(v),
            _ if self.0.is_empty() => Err(ApiError::invalid_field("body", "invalid body")),
            _ => Err(ApiError::validation(self.0)),
        }
    }
}

/// The id given in a PUT body, if any, must match the path.
fn check_same_id(p: &mut Problems, field: &str, body: Option<&str>, path: &str) {
    if let Some(b) = body {
        if b != path {
            p.push(field, format!("must match the path ({path}) when given"));
        }
    }
}

/// `null` counts as absent: the field takes its default.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

fn is_true() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// Call centers

/// A payment method of a call center.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodDoc {
    /// Its id, as agents enter it.
    pub id: String,
    /// `card`, `cash`, `check`, `on_account` or `voucher`.
    #[schema(value_type = String, example = "card")]
    pub kind: PaymentKind,
}

/// One tier of a delivery mode's automatic charge: `[from, to)` pays `amount`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeTierDoc {
    /// Inclusive lower bound of the order amount.
    #[schema(value_type = String, example = "0.00")]
    pub from: Decimal,
    /// Exclusive upper bound, or null for open-ended.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "50.00")]
    pub to: Option<Decimal>,
    /// The charge.
    #[schema(value_type = String, example = "5.95")]
    pub amount: Decimal,
}

/// A delivery mode with its tiered charges.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryModeDoc {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Charge tiers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub charges: Vec<ChargeTierDoc>,
}

/// A hold code and the roles that may clear it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldCodeDoc {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles that may clear holds of this code (`agent`, `supervisor`, `admin`).
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = Vec<String>)]
    pub clear_roles: Vec<Role>,
}

/// A reason code.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonCodeDoc {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// A call center's configuration: the body of `PUT /api/v1/call-centers/{id}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCenterDoc {
    /// The id (from the path; optional in the body, and then it must match).
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// ISO 4217 currency.
    #[schema(example = "EUR")]
    pub currency: String,
    /// Order completion feature group (payments, coupons, the payment rule at submit).
    #[serde(default = "is_true")]
    pub order_completion: bool,
    /// Guided sales feature group (source codes, scripts, catalog requests, upsell).
    #[serde(default = "is_true")]
    pub guided_sales: bool,
    /// How far payments may fall short of the total at submit.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = String, example = "0.00")]
    pub payment_tolerance: Decimal,
    /// Payment methods.
    #[serde(default, deserialize_with = "null_as_default")]
    pub payment_methods: Vec<PaymentMethodDoc>,
    /// Delivery modes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub delivery_modes: Vec<DeliveryModeDoc>,
    /// Hold codes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub hold_codes: Vec<HoldCodeDoc>,
    /// Reason codes.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reason_codes: Vec<ReasonCodeDoc>,
    /// Per role, the largest override in percent below list price.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub price_override_limits: BTreeMap<Role, Decimal>,
    /// Free tags copied onto orders.
    #[serde(default, deserialize_with = "null_as_default")]
    pub financial_dimensions: BTreeMap<String, String>,
    /// The call center's price group.
    #[serde(default)]
    pub price_group: Option<String>,
}

impl CallCenterDoc {
    /// Converts into the domain, with every problem named.
    pub fn into_domain(self, id: &CallCenterId) -> Result<CallCenter, ApiError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "id", self.id.as_deref(), id.as_str());
        let currency = p.take(Currency::parse(&self.currency).map_err(|e| FieldProblem {
            field: "currency".into(),
            message: e.to_string(),
        }));
        let mut methods = Vec::new();
        for (i, m) in self.payment_methods.into_iter().enumerate() {
            if let Some(mid) = p.take(code(
                &format!("payment_methods[{i}].id"),
                &m.id,
                PaymentMethodId::parse,
            )) {
                methods.push(PaymentMethod {
                    id: mid,
                    kind: m.kind,
                });
            }
        }
        let mut modes = Vec::new();
        for (i, m) in self.delivery_modes.into_iter().enumerate() {
            if let Some(mid) = p.take(code(
                &format!("delivery_modes[{i}].id"),
                &m.id,
                DeliveryModeId::parse,
            )) {
                let charges = m
                    .charges
                    .into_iter()
                    .map(|t| ChargeTier {
                        from: t.from,
                        to: t.to,
                        amount: t.amount,
                    })
                    .collect();
                modes.push(DeliveryMode {
                    id: mid,
                    name: m.name,
                    charges,
                });
            }
        }
        let mut holds = Vec::new();
        for (i, h) in self.hold_codes.into_iter().enumerate() {
            if let Some(hid) = p.take(code(&format!("hold_codes[{i}].id"), &h.id, HoldCode::parse))
            {
                if hid.as_str().starts_with("system.") {
                    p.push(
                        format!("hold_codes[{i}].id"),
                        "the system. prefix is reserved for system holds",
                    );
                }
                holds.push(HoldCodeDef {
                    id: hid,
                    name: h.name,
                    clear_roles: h.clear_roles,
                });
            }
        }
        let mut reasons = Vec::new();
        for (i, r) in self.reason_codes.into_iter().enumerate() {
            if let Some(rid) = p.take(code(
                &format!("reason_codes[{i}].id"),
                &r.id,
                ReasonCode::parse,
            )) {
                reasons.push(ReasonCodeDef {
                    id: rid,
                    name: r.name,
                });
            }
        }
        let price_group = match self.price_group {
            Some(g) => p
                .take(code("price_group", &g, PriceGroupId::parse))
                .map(Some),
            None => Some(None),
        };
        let cc = match (currency, price_group) {
            (Some(currency), Some(price_group)) => Some(CallCenter {
                id: id.clone(),
                name: self.name,
                currency,
                order_completion: self.order_completion,
                guided_sales: self.guided_sales,
                payment_tolerance: self.payment_tolerance,
                payment_methods: methods,
                delivery_modes: modes,
                hold_codes: holds,
                reason_codes: reasons,
                price_override_limits: self.price_override_limits,
                financial_dimensions: self.financial_dimensions,
                price_group,
            }),
            _ => None,
        };
        if let Some(cc) = &cc {
            p.0.extend(cc.validate().into_iter().map(FieldProblem::from));
        }
        p.finish(cc)
    }

    /// The stored object as answered.
    pub fn from_domain(cc: &CallCenter) -> Self {
        CallCenterDoc {
            id: Some(cc.id.to_string()),
            name: cc.name.clone(),
            currency: cc.currency.code().to_string(),
            order_completion: cc.order_completion,
            guided_sales: cc.guided_sales,
            payment_tolerance: cc.payment_tolerance,
            payment_methods: cc
                .payment_methods
                .iter()
                .map(|m| PaymentMethodDoc {
                    id: m.id.to_string(),
                    kind: m.kind,
                })
                .collect(),
            delivery_modes: cc
                .delivery_modes
                .iter()
                .map(|m| DeliveryModeDoc {
                    id: m.id.to_string(),
                    name: m.name.clone(),
                    charges: m
                        .charges
                        .iter()
                        .map(|t| ChargeTierDoc {
                            from: t.from,
                            to: t.to,
                            amount: t.amount,
                        })
                        .collect(),
                })
                .collect(),
            hold_codes: cc
                .hold_codes
                .iter()
                .map(|h| HoldCodeDoc {
                    id: h.id.to_string(),
                    name: h.name.clone(),
                    clear_roles: h.clear_roles.clone(),
                })
                .collect(),
            reason_codes: cc
                .reason_codes
                .iter()
                .map(|r| ReasonCodeDoc {
                    id: r.id.to_string(),
                    name: r.name.clone(),
                })
                .collect(),
            price_override_limits: cc.price_override_limits.clone(),
            financial_dimensions: cc.financial_dimensions.clone(),
            price_group: cc.price_group.as_ref().map(|g| g.to_string()),
        }
    }
}

/// Body of `POST /api/v1/call-centers/{id}/users`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Display name.
    pub name: String,
    /// `agent`, `supervisor` or `admin`.
    #[schema(value_type = String, example = "agent")]
    pub role: Role,
}

/// Answer of `POST /api/v1/call-centers/{id}/users`: the token is shown once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NewUserView {
    /// The new user's id.
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// The bearer token; only its hash is stored.
    pub token: String,
}

// ---------------------------------------------------------------------------------------------
// Catalog

/// A continuity program.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinuityDoc {
    /// Days between shipments.
    pub every_days: u32,
    /// Number of shipments.
    pub times: u32,
}

/// A product: body of `PUT /api/v1/products/{id}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDoc {
    /// The id (from the path; optional in the body).
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Own list price.
    #[schema(value_type = String, example = "19.99")]
    pub price: Decimal,
    /// Whether agents may override its price.
    #[serde(default)]
    pub allow_price_override: bool,
    /// Picture for guided sales.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Upsell product ids.
    #[serde(default, deserialize_with = "null_as_default")]
    pub upsell: Vec<String>,
    /// Cross-sell product ids.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cross_sell: Vec<String>,
    /// Script for the agent.
    #[serde(default)]
    pub script: Option<String>,
    /// Continuity program.
    #[serde(default)]
    pub continuity: Option<ContinuityDoc>,
}

impl ProductDoc {
    /// Converts into the domain.
    pub fn into_domain(self, id: &ProductId) -> Result<Product, ApiError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "id", self.id.as_deref(), id.as_str());
        let ids = |p: &mut Problems, field: &str, v: Vec<String>| -> Vec<ProductId> {
            v.iter()
                .enumerate()
                .filter_map(|(i, s)| p.take(code(&format!("{field}[{i}]"), s, ProductId::parse)))
                .collect()
        };
        let upsell = ids(&mut p, "upsell", self.upsell);
        let cross_sell = ids(&mut p, "cross_sell", self.cross_sell);
        let product = Product {
            id: id.clone(),
            name: self.name,
            price: self.price,
            allow_price_override: self.allow_price_override,
            image_url: self.image_url,
            upsell,
            cross_sell,
            script: self.script,
            continuity: self.continuity.map(|c| Continuity {
                every_days: c.every_days,
                times: c.times,
            }),
        };
        p.0.extend(product.validate().into_iter().map(FieldProblem::from));
        p.finish(Some(product))
    }

    /// The stored object as answered.
    pub fn from_domain(p: &Product) -> Self {
        ProductDoc {
            id: Some(p.id.to_string()),
            name: p.name.clone(),
            price: p.price,
            allow_price_override: p.allow_price_override,
            image_url: p.image_url.clone(),
            upsell: p.upsell.iter().map(|x| x.to_string()).collect(),
            cross_sell: p.cross_sell.iter().map(|x| x.to_string()).collect(),
            script: p.script.clone(),
            continuity: p.continuity.map(|c| ContinuityDoc {
                every_days: c.every_days,
                times: c.times,
            }),
        }
    }
}

/// Answer of `GET /api/v1/products?q=`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductList {
    /// Matching products, by id.
    pub items: Vec<ProductDoc>,
}

/// A price group: body of `PUT /api/v1/price-groups/{id}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceGroupDoc {
    /// The id (from the path; optional in the body).
    #[serde(default)]
    pub id: Option<String>,
    /// Display name.
    pub name: String,
    /// Prices by product id.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = BTreeMap<String, String>)]
    pub prices: BTreeMap<String, Decimal>,
}

impl PriceGroupDoc {
    /// Converts into the domain.
    pub fn into_domain(self, id: &PriceGroupId) -> Result<PriceGroup, ApiError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "id", self.id.as_deref(), id.as_str());
        let mut prices = BTreeMap::new();
        for (k, v) in self.prices {
            if let Some(pid) = p.take(code(&format!("prices.{k}"), &k, ProductId::parse)) {
                prices.insert(pid, v);
            }
        }
        let g = PriceGroup {
            id: id.clone(),
            name: self.name,
            prices,
        };
        p.0.extend(g.validate().into_iter().map(FieldProblem::from));
        p.finish(Some(g))
    }

    /// The stored object as answered.
    pub fn from_domain(g: &PriceGroup) -> Self {
        PriceGroupDoc {
            id: Some(g.id.to_string()),
            name: g.name.clone(),
            prices: g.prices.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }
}

/// A source code: body of `PUT /api/v1/source-codes/{code}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceCodeDoc {
    /// The code (from the path; optional in the body).
    #[serde(default)]
    pub code: Option<String>,
    /// The catalog it comes from.
    pub catalog: String,
    /// First valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    /// Last valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_to: Option<Timestamp>,
    /// Percent off the subtotal.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = String, example = "10")]
    pub discount_percent: Decimal,
    /// No automatic delivery charge.
    #[serde(default)]
    pub free_shipping: bool,
    /// Script for the agent.
    #[serde(default)]
    pub script: Option<String>,
    /// Price group of the catalog.
    #[serde(default)]
    pub price_group: Option<String>,
}

impl SourceCodeDoc {
    /// Converts into the domain.
    pub fn into_domain(self, sc: &SourceCode) -> Result<SourceCodeDef, ApiError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "code", self.code.as_deref(), sc.as_str());
        let catalog = p.take(code("catalog", &self.catalog, CatalogId::parse));
        let price_group = match self.price_group {
            Some(g) => p
                .take(code("price_group", &g, PriceGroupId::parse))
                .map(Some),
            None => Some(None),
        };
        let def = match (catalog, price_group) {
            (Some(catalog), Some(price_group)) => Some(SourceCodeDef {
                code: sc.clone(),
                catalog,
                window: Window {
                    valid_from: self.valid_from,
                    valid_to: self.valid_to,
                },
                discount_percent: self.discount_percent,
                free_shipping: self.free_shipping,
                script: self.script,
                price_group,
            }),
            _ => None,
        };
        if let Some(d) = &def {
            p.0.extend(d.validate().into_iter().map(FieldProblem::from));
        }
        p.finish(def)
    }

    /// The stored object as answered.
    pub fn from_domain(d: &SourceCodeDef) -> Self {
        SourceCodeDoc {
            code: Some(d.code.to_string()),
            catalog: d.catalog.to_string(),
            valid_from: d.window.valid_from,
            valid_to: d.window.valid_to,
            discount_percent: d.discount_percent,
            free_shipping: d.free_shipping,
            script: d.script.clone(),
            price_group: d.price_group.as_ref().map(|g| g.to_string()),
        }
    }
}

/// A coupon: body of `PUT /api/v1/coupons/{code}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponDoc {
    /// The code (from the path; optional in the body).
    #[serde(default)]
    pub code: Option<String>,
    /// `percent` or `amount`.
    #[schema(value_type = String, example = "percent")]
    pub kind: CouponKind,
    /// Percent or amount.
    #[schema(value_type = String, example = "10")]
    pub value: Decimal,
    /// Smallest order subtotal.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(value_type = String, example = "0.00")]
    pub min_order: Decimal,
    /// First valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    /// Last valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_to: Option<Timestamp>,
    /// Usage limit, or null for unlimited.
    #[serde(default)]
    pub max_uses: Option<u32>,
}

impl CouponDoc {
    /// Converts into the domain.
    pub fn into_domain(self, c: &CouponCode) -> Result<Coupon, ApiError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "code", self.code.as_deref(), c.as_str());
        let coupon = Coupon {
            code: c.clone(),
            kind: self.kind,
            value: self.value,
            min_order: self.min_order,
            window: Window {
                valid_from: self.valid_from,
                valid_to: self.valid_to,
            },
            max_uses: self.max_uses,
        };
        p.0.extend(coupon.validate().into_iter().map(FieldProblem::from));
        p.finish(Some(coupon))
    }

    /// The stored object as answered.
    pub fn from_domain(c: &Coupon) -> Self {
        CouponDoc {
            code: Some(c.code.to_string()),
            kind: c.kind,
            value: c.value,
            min_order: c.min_order,
            valid_from: c.window.valid_from,
            valid_to: c.window.valid_to,
            max_uses: c.max_uses,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Customers

/// Body of `POST /api/v1/customers`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerBody {
    /// Name.
    pub name: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    pub email: Option<String>,
    /// Postal address, free key/value fields.
    #[serde(default, deserialize_with = "null_as_default")]
    pub address: BTreeMap<String, String>,
    /// For admins, who belong to no call center: the call center of the customer.
    #[serde(default)]
    pub call_center_id: Option<String>,
}

/// `null` in a PATCH clears a field, absence leaves it: `Some(None)` vs `None`.
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// Body of `PATCH /api/v1/customers/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCustomerBody {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Phone (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Email (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// Address (replaces the whole address).
    #[serde(default)]
    pub address: Option<BTreeMap<String, String>>,
}

/// A note as shown on orders and customers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: NoteId,
    /// Who wrote it.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The text.
    pub text: String,
}

/// A catalog request.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogRequestView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: CatalogRequestId,
    /// The source code.
    #[schema(value_type = String)]
    pub source_code: SourceCode,
    /// Its catalog.
    #[schema(value_type = String)]
    pub catalog: CatalogId,
    /// Copies.
    pub quantity: u32,
    /// Who recorded it.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl CatalogRequestView {
    /// The view of a catalog request.
    pub fn from_domain(r: &CatalogRequest) -> Self {
        CatalogRequestView {
            id: r.id,
            source_code: r.source_code.clone(),
            catalog: r.catalog.clone(),
            quantity: r.quantity,
            by: r.requested.by,
            at: r.requested.at,
        }
    }
}

/// A customer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: CustomerId,
    /// Its call center.
    #[schema(value_type = String)]
    pub call_center_id: CallCenterId,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Address.
    pub address: BTreeMap<String, String>,
    /// Who created it.
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Concurrent values left by merges (only in `GET /api/v1/customers/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictView>,
}

impl CustomerView {
    /// The view of a customer.
    pub fn from_domain(c: &Customer) -> Self {
        CustomerView {
            id: c.id,
            call_center_id: c.call_center_id.clone(),
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            address: c.address.clone(),
            created_by: c.created.by,
            created_at: c.created.at,
            conflicts: Vec::new(),
        }
    }

    /// Whether `q` (lower case) is in the name, phone or email.
    pub fn matches(&self, q: &str) -> bool {
        let has = |s: &str| s.to_lowercase().contains(q);
        has(&self.name)
            || self.phone.as_deref().is_some_and(has)
            || self.email.as_deref().is_some_and(has)
    }
}

/// Answer of `GET /api/v1/customers?q=`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerList {
    /// Matching customers.
    pub items: Vec<CustomerView>,
}

/// Body of `POST /api/v1/customers/{id}/catalog-requests`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogRequestBody {
    /// The source code the catalog is requested under.
    pub source_code: String,
    /// Copies (default 1).
    #[serde(default = "one")]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

/// Answer of `GET /api/v1/customers/{id}/history`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerHistory {
    /// The customer's orders, newest first.
    pub orders: Vec<OrderSummary>,
    /// Notes, oldest first.
    pub notes: Vec<NoteView>,
    /// Catalog requests, oldest first.
    pub catalog_requests: Vec<CatalogRequestView>,
}

impl CustomerHistory {
    /// Notes and catalog requests of a customer, with its order summaries (newest first).
    pub fn build(c: &Customer, mut orders: Vec<OrderSummary>) -> Self {
        orders.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let mut notes: Vec<NoteView> = c
            .notes
            .values()
            .map(|n| NoteView {
                id: n.id,
                by: n.added.by,
                at: n.added.at,
                text: n.text.clone(),
            })
            .collect();
        notes.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        let mut catalog_requests: Vec<CatalogRequestView> = c
            .catalog_requests
            .values()
            .map(CatalogRequestView::from_domain)
            .collect();
        catalog_requests.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        CustomerHistory {
            orders,
            notes,
            catalog_requests,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Orders: bodies

/// Body of `POST /api/v1/orders`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    /// The customer.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: CustomerId,
    /// Catalog source code.
    #[serde(default)]
    pub source_code: Option<String>,
    /// Delivery mode.
    #[serde(default)]
    pub delivery_mode: Option<String>,
    /// Ship-to address (free key/value fields).
    #[serde(default, deserialize_with = "null_as_default")]
    pub ship_to: BTreeMap<String, String>,
}

/// Body of `POST /api/v1/orders/{id}/lines`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineBody {
    /// The product.
    pub product_id: String,
    /// Units (1 to 1,000,000).
    #[schema(value_type = u32, example = 2)]
    pub quantity: i64,
    /// Overridden unit price.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "17.50")]
    pub unit_price: Option<Decimal>,
    /// Reason code for the override.
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// Body of `PATCH /api/v1/orders/{id}/lines/{line_id}`. `unit_price: null` reverts to the list price.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchLineBody {
    /// New quantity.
    #[serde(default)]
    #[schema(value_type = Option<u32>)]
    pub quantity: Option<i64>,
    /// New unit price; null reverts to the list price.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub unit_price: Option<Option<Decimal>>,
    /// Reason code for the override.
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// Body of `POST /api/v1/orders/{id}/coupons`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponBody {
    /// The coupon code.
    pub code: String,
}

/// Body of `POST /api/v1/orders/{id}/payments`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// Payment method id.
    pub method: String,
    /// Amount.
    #[schema(value_type = String, example = "25.00")]
    pub amount: Decimal,
    /// Reference.
    #[serde(default)]
    pub reference: Option<String>,
}

/// Body of `POST /api/v1/orders/{id}/charges`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeBody {
    /// Charge code.
    pub code: String,
    /// Amount.
    #[schema(value_type = String, example = "3.00")]
    pub amount: Decimal,
    /// Configured reason code.
    pub reason_code: String,
}

/// Body of `POST /api/v1/orders/{id}/holds`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// Hold code.
    pub code: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Body of hold clear and cancel.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why.
    #[serde(default)]
    pub reason: String,
}

/// Body of `POST /api/v1/orders/{id}/notes`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The text.
    pub text: String,
}

/// Query of `GET /api/v1/orders`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct OrderListQuery {
    /// Only this customer's orders.
    pub customer_id: Option<String>,
    /// Only orders with this status.
    pub status: Option<String>,
    /// Page size (default 50, at most 500).
    pub limit: Option<String>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

/// Query with a free-text `q`.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// Text to look for.
    pub q: Option<String>,
}

/// Parses a code-like value of a body field into a 422 on failure.
pub fn parse_code<T>(
    field: &str,
    s: &str,
    parse: impl Fn(String) -> Result<T, CodeError>,
) -> Result<T, ApiError> {
    code(field, s, parse).map_err(|p| ApiError::validation(vec![p]))
}

// ---------------------------------------------------------------------------------------------
// Orders: views

/// A price override on a line.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OverrideView {
    /// The reason code.
    #[schema(value_type = String)]
    pub reason_code: ReasonCode,
    /// Who overrode.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
}

/// An order line.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct LineView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: LineId,
    /// The product.
    #[schema(value_type = String)]
    pub product_id: ProductId,
    /// Units.
    #[schema(value_type = u32)]
    pub quantity: Quantity,
    /// Price charged per unit.
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    /// List price.
    #[schema(value_type = String)]
    pub list_price: Decimal,
    /// The override, if any.
    #[serde(rename = "override")]
    pub override_: Option<OverrideView>,
    /// `unit_price × quantity`, rounded.
    #[schema(value_type = String)]
    pub line_total: Decimal,
}

/// A charge: automatic (from the delivery mode) or manual.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChargeView {
    /// Its id; for the automatic charge, UUID v5 of (order id, delivery mode).
    pub id: Uuid,
    /// Charge code; for the automatic charge, the delivery mode id.
    pub code: String,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// Whether it is the automatic delivery charge.
    pub auto: bool,
    /// Reason code of a manual charge.
    pub reason_code: Option<String>,
}

/// An applied coupon with what it takes off.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CouponView {
    /// The code.
    #[schema(value_type = String)]
    pub code: CouponCode,
    /// Its discount.
    #[schema(value_type = String)]
    pub discount: Decimal,
}

/// A payment.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: PaymentId,
    /// Payment method.
    #[schema(value_type = String)]
    pub method: PaymentMethodId,
    /// Amount.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// `authorized` or `voided`.
    pub status: String,
    /// Reference.
    pub reference: Option<String>,
}

/// How a hold was cleared.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HoldClearView {
    /// Who.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Why.
    pub reason: String,
}

/// A hold.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HoldView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: HoldId,
    /// Hold code (`system.*` for system holds).
    #[schema(value_type = String)]
    pub code: HoldCode,
    /// Why.
    pub reason: String,
    /// Who placed it (the nil UUID for system holds).
    #[schema(value_type = String, format = Uuid)]
    pub placed_by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: Timestamp,
    /// How it was cleared, or null while active.
    pub cleared: Option<HoldClearView>,
    /// Whether a merge-time rule placed it.
    pub system: bool,
}

/// An order note.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderNoteView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: NoteId,
    /// Who.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The text.
    pub text: String,
}

/// Derived totals.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TotalsView {
    /// Sum of line totals.
    #[schema(value_type = String)]
    pub subtotal: Decimal,
    /// Source-code and coupon discounts.
    #[schema(value_type = String)]
    pub discount: Decimal,
    /// Automatic and manual charges.
    #[schema(value_type = String)]
    pub charges: Decimal,
    /// `subtotal - discount + charges`.
    #[schema(value_type = String)]
    pub total: Decimal,
    /// Authorized payments.
    #[schema(value_type = String)]
    pub paid: Decimal,
    /// `total - paid`.
    #[schema(value_type = String)]
    pub balance: Decimal,
}

/// Concurrent values of one field left by a merge.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ConflictView {
    /// Path of the field in the order.
    pub path: String,
    /// The competing values; the first is the one in effect.
    #[schema(value_type = Vec<Object>)]
    pub values: Vec<serde_json::Value>,
}

/// The order view of API.md.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: OrderId,
    /// The call center.
    #[schema(value_type = String)]
    pub call_center_id: CallCenterId,
    /// The customer.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: CustomerId,
    /// `open`, `submitted`, `on_hold`, `released` or `canceled`.
    #[schema(value_type = String)]
    pub status: Status,
    /// Catalog source code.
    #[schema(value_type = Option<String>)]
    pub source_code: Option<SourceCode>,
    /// Delivery mode.
    #[schema(value_type = Option<String>)]
    pub delivery_mode: Option<DeliveryModeId>,
    /// Ship-to address.
    pub ship_to: BTreeMap<String, String>,
    /// Financial dimensions copied from the call center.
    pub financial_dimensions: BTreeMap<String, String>,
    /// The call center's currency.
    pub currency: String,
    /// Active lines.
    pub lines: Vec<LineView>,
    /// Automatic and manual charges.
    pub charges: Vec<ChargeView>,
    /// Applied coupons.
    pub coupons: Vec<CouponView>,
    /// Payments, voided ones included.
    pub payments: Vec<PaymentView>,
    /// Holds, cleared ones included.
    pub holds: Vec<HoldView>,
    /// Notes, oldest first.
    pub notes: Vec<OrderNoteView>,
    /// Derived totals.
    pub totals: TotalsView,
    /// Concurrent values left by merges.
    pub conflicts: Vec<ConflictView>,
    /// Continuity parent order, for a continuity child.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub continuity_parent: Option<OrderId>,
    /// When it was created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Who created it.
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// The latest stamp an order carries: a lower bound of its last change.
pub fn last_stamp(order: &Order) -> Timestamp {
    let mut t = order.created.at;
    let mut see = |x: Timestamp| t = t.max(x);
    for l in order.lines.values() {
        see(l.added.at);
        if let Some(r) = &l.removed {
            see(r.at);
        }
    }
    order.charges.values().for_each(|c| see(c.added.at));
    for c in order.coupons.values() {
        see(c.applied.at);
        if let Some(r) = &c.removed {
            see(r.at);
        }
    }
    for p in order.payments.values() {
        see(p.added.at);
        if let Some(v) = &p.voided {
            see(v.at);
        }
    }
    for h in order.holds.values() {
        see(h.placed.at);
        if let Some(c) = &h.cleared {
            see(c.at);
        }
    }
    order.notes.values().for_each(|n| see(n.added.at));
    let l = &order.lifecycle;
    [&l.submitted, &l.released]
        .into_iter()
        .flatten()
        .for_each(|s| see(s.at));
    if let Some((s, _)) = &l.canceled {
        see(s.at);
    }
    t
}

impl OrderView {
    /// Builds the view; `updated_at` is the last change known (from the document's history), at
    /// least the latest stamp in the order.
    pub fn build(
        order: &Order,
        conflicts: Vec<ConflictView>,
        cc: &CallCenter,
        catalog: &Catalog,
        updated_at: Option<Timestamp>,
    ) -> Self {
        let pricing = order.pricing(cc, catalog);
        let lines = order
            .active_lines()
            .map(|l| LineView {
                id: l.id,
                product_id: l.product_id.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                list_price: l.list_price,
                override_: l.price_override.as_ref().map(|o| OverrideView {
                    reason_code: o.reason_code.clone(),
                    by: o.by,
                }),
                line_total: Order::line_total(l, cc),
            })
            .collect();
        let mut charges: Vec<ChargeView> = pricing
            .auto_charge
            .iter()
            .map(|a| ChargeView {
                id: auto_charge_id(order.id, &a.delivery_mode),
                code: a.delivery_mode.to_string(),
                amount: a.amount,
                auto: true,
                reason_code: None,
            })
            .collect();
        let mut manual: Vec<_> = order.charges.values().collect();
        manual.sort_by(|a, b| a.added.at.cmp(&b.added.at).then(a.id.cmp(&b.id)));
        charges.extend(manual.into_iter().map(|c| ChargeView {
            id: c.id.0,
            code: c.code.to_string(),
            amount: c.amount,
            auto: false,
            reason_code: Some(c.reason_code.to_string()),
        }));
        let coupons = pricing
            .coupon_discounts
            .iter()
            .map(|c| CouponView {
                code: c.code.clone(),
                discount: c.discount,
            })
            .collect();
        let mut payments: Vec<_> = order.payments.values().collect();
        payments.sort_by(|a, b| a.added.at.cmp(&b.added.at).then(a.id.cmp(&b.id)));
        let payments = payments
            .into_iter()
            .map(|p| PaymentView {
                id: p.id,
                method: p.method.clone(),
                amount: p.amount,
                status: if p.voided.is_some() {
                    "voided"
                } else {
                    "authorized"
                }
                .to_string(),
                reference: p.reference.clone(),
            })
            .collect();
        let mut holds: Vec<_> = order.holds.values().collect();
        holds.sort_by(|a, b| a.placed.at.cmp(&b.placed.at).then(a.id.cmp(&b.id)));
        let holds = holds
            .into_iter()
            .map(|h| HoldView {
                id: h.id,
                code: h.code.clone(),
                reason: h.reason.clone(),
                placed_by: h.placed.by,
                placed_at: h.placed.at,
                cleared: h.cleared.as_ref().map(|c| HoldClearView {
                    by: c.by,
                    at: c.at,
                    reason: c.reason.clone(),
                }),
                system: h.system,
            })
            .collect();
        let mut notes: Vec<_> = order.notes.values().collect();
        notes.sort_by(|a, b| a.added.at.cmp(&b.added.at).then(a.id.cmp(&b.id)));
        let notes = notes
            .into_iter()
            .map(|n| OrderNoteView {
                id: n.id,
                by: n.added.by,
                at: n.added.at,
                text: n.text.clone(),
            })
            .collect();
        let t = pricing.totals;
        let stamp = last_stamp(order);
        OrderView {
            id: order.id,
            call_center_id: order.call_center_id.clone(),
            customer_id: order.customer_id,
            status: order.status(),
            source_code: order.source_code.clone(),
            delivery_mode: order.delivery_mode.clone(),
            ship_to: order.ship_to.clone(),
            financial_dimensions: order.financial_dimensions.clone(),
            currency: cc.currency.code().to_string(),
            lines,
            charges,
            coupons,
            payments,
            holds,
            notes,
            totals: TotalsView {
                subtotal: t.subtotal,
                discount: t.discount,
                charges: t.charges,
                total: t.total,
                paid: t.paid,
                balance: t.balance,
            },
            conflicts,
            continuity_parent: order.continuity.as_ref().map(|c| c.parent),
            created_at: order.created.at,
            created_by: order.created.by,
            updated_at: updated_at.map_or(stamp, |u| u.max(stamp)),
        }
    }

    /// The summary shown in lists.
    pub fn summary(&self) -> OrderSummary {
        OrderSummary {
            id: self.id,
            call_center_id: self.call_center_id.clone(),
            customer_id: self.customer_id,
            status: self.status,
            source_code: self.source_code.clone(),
            lines: self.lines.len() as u32,
            total: Some(self.totals.total),
            balance: Some(self.totals.balance),
            held: self.holds.iter().any(|h| h.cleared.is_none()),
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
        }
    }
}

/// An order in lists and customer history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: OrderId,
    /// The call center.
    #[schema(value_type = String)]
    pub call_center_id: CallCenterId,
    /// The customer.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: CustomerId,
    /// Derived status.
    #[schema(value_type = String)]
    pub status: Status,
    /// Catalog source code.
    #[schema(value_type = Option<String>)]
    pub source_code: Option<SourceCode>,
    /// Number of active lines.
    pub lines: u32,
    /// Total (null while the call center's configuration is not on this node yet).
    #[schema(value_type = Option<String>)]
    pub total: Option<Decimal>,
    /// Balance (null while the call center's configuration is not on this node yet).
    #[schema(value_type = Option<String>)]
    pub balance: Option<Decimal>,
    /// Whether any hold is active.
    pub held: bool,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// By.
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Answer of `GET /api/v1/orders`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderList {
    /// A page of summaries, newest first.
    pub items: Vec<OrderSummary>,
    /// Cursor of the next page, or null at the end.
    pub next_cursor: Option<String>,
}

/// Answer of `GET /api/v1/orders/{id}/suggestions`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestionsView {
    /// Better products to offer instead.
    pub upsell: Vec<ProductDoc>,
    /// Products to offer alongside.
    pub cross_sell: Vec<ProductDoc>,
    /// Scripts for the agent.
    pub scripts: Vec<String>,
}

/// One change in an order's history.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeView {
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub by: Option<UserId>,
    /// On which node.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub node: Option<NodeId>,
    /// What.
    pub summary: String,
}

/// Answer of `GET /api/v1/orders/{id}/history`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderHistory {
    /// Changes, oldest first.
    pub changes: Vec<ChangeView>,
}

// ---------------------------------------------------------------------------------------------
// Node and peers

/// Document counts of `GET /api/v1/node`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentCounts {
    /// Orders held.
    pub orders: u64,
    /// Customers held.
    pub customers: u64,
}

/// Answer of `GET /api/v1/node`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    /// This node's id.
    #[schema(value_type = String, format = Uuid)]
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// `site` or `hq`.
    pub role: String,
    /// Call centers it serves (a site) or all it knows (HQ).
    pub call_centers: Vec<String>,
    /// Software version.
    pub version: String,
    /// Document counts.
    pub documents: DocumentCounts,
}

/// Body of `POST /api/v1/peers`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeerBody {
    /// The peer's node id, if known.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub node_id: Option<NodeId>,
    /// A local name for the peer.
    pub name: String,
    /// Base URL of the peer.
    pub url: String,
    /// Shared secret for peer authentication.
    pub secret: String,
}

/// A peer as listed (never with its secret).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    /// Local name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Node id, if known.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub node_id: Option<NodeId>,
}

/// Answer of `GET /api/v1/peers`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerList {
    /// Peers by name.
    pub items: Vec<PeerView>,
    /// The same list under the key `GET /api/v1/sync/status` uses, for clients of either shape.
    pub peers: Vec<PeerView>,
}

/// A role as text, for views.
pub fn role_str(r: Role) -> &'static str {
    r.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_charge_ids_are_stable_per_order_and_mode() {
        let o = OrderId(Uuid::from_u128(7));
        let std = DeliveryModeId::parse("std").unwrap();
        let exp = DeliveryModeId::parse("express").unwrap();
        assert_eq!(auto_charge_id(o, &std), auto_charge_id(o, &std));
        assert_ne!(auto_charge_id(o, &std), auto_charge_id(o, &exp));
        assert_eq!(auto_charge_id(o, &std).get_version_num(), 5);
    }
}
