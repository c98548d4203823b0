//! Configuration written at HQ: call centers, users, products, price groups, source codes, coupons.

use crate::ids::*;
use crate::money::{self, Currency, Sign};
use crate::text::{self, Rule};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A user's role. Supervisors may do all agents may, and more; admins configure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes orders.
    Agent,
    /// Overrides beyond an agent's limit, clears holds, cancels submitted orders.
    Supervisor,
    /// Configures call centers; runs sync.
    Admin,
}

impl Role {
    /// The role's name as in docs/api.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Parses `agent`, `supervisor` or `admin`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "supervisor" => Some(Role::Supervisor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A user of a call center. Only users added to a call center may create orders in it; a user
/// belongs to at most one call center (admins of a node may belong to none: they are node-wide;
/// an admin of a call center is scoped to it, see [`Actor::acts_in`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The call center the user works in; `None` for node admins.
    pub call_center: Option<CallCenterId>,
}

/// Who is acting: the user, their role and call center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// The user.
    pub user: UserId,
    /// Their role.
    pub role: Role,
    /// Their call center, if any.
    pub call_center: Option<CallCenterId>,
}

impl Actor {
    /// The one rule of where a user may act: node-wide admins (admins of no call center, made
    /// by `init`) in every call center; everyone else, scoped admins included, only in their
    /// own.
    pub fn acts_in(&self, cc: &CallCenterId) -> bool {
        self.is_node_admin() || self.call_center.as_ref() == Some(cc)
    }

    /// Whether the actor is a node-wide admin: an admin of no call center. Only they write
    /// global configuration (the catalog, other call centers), peers and sync.
    pub fn is_node_admin(&self) -> bool {
        self.role == Role::Admin && self.call_center.is_none()
    }
}

/// How a payment method takes money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentKind {
    /// Card payment.
    Card,
    /// Cash.
    Cash,
    /// Check.
    Check,
    /// Billed to the customer's account.
    OnAccount,
    /// Gift card or voucher.
    Voucher,
}

/// A payment method a call center accepts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentMethod {
    /// Its id, as agents enter it.
    pub id: PaymentMethodId,
    /// Its kind.
    pub kind: PaymentKind,
}

/// One tier of a delivery mode's automatic charge: orders whose amount (subtotal less discounts)
/// is in `[from, to)` pay `amount`. `to: None` is open-ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeTier {
    /// Inclusive lower bound.
    pub from: Decimal,
    /// Exclusive upper bound, or none.
    #[serde(default)]
    pub to: Option<Decimal>,
    /// The charge.
    pub amount: Decimal,
}

/// A delivery mode with its tiered automatic charges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryMode {
    /// Its id.
    pub id: DeliveryModeId,
    /// Display name.
    pub name: String,
    /// Tiers by order amount; no tier matching means no charge.
    #[serde(default)]
    pub charges: Vec<ChargeTier>,
}

impl DeliveryMode {
    /// The automatic charge for an order amount.
    pub fn charge_for(&self, order_amount: Decimal) -> Option<Decimal> {
        self.charges
            .iter()
            .find(|t| order_amount >= t.from && t.to.is_none_or(|to| order_amount < to))
            .map(|t| t.amount)
    }
}

/// A hold code and the roles that may clear holds placed with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldCodeDef {
    /// Its id.
    pub id: HoldCode,
    /// Display name.
    pub name: String,
    /// Roles allowed to clear it. Admins may always clear.
    #[serde(default)]
    pub clear_roles: Vec<Role>,
}

/// A reason code for price overrides and manual charges.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasonCodeDef {
    /// Its id.
    pub id: ReasonCode,
    /// Display name.
    pub name: String,
}

/// A call center: a sales channel with its users, payment methods, price group, delivery modes and
/// the two feature groups.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCenter {
    /// Its id.
    pub id: CallCenterId,
    /// Display name.
    pub name: String,
    /// The one currency of its orders.
    pub currency: Currency,
    /// Order completion: payments, coupons, order summary and the payment rule at submit.
    pub order_completion: bool,
    /// Guided sales: source codes, scripts, catalog requests, upsell and cross-sell.
    pub guided_sales: bool,
    /// How far payments may fall short of the total at submit.
    pub payment_tolerance: Decimal,
    /// Accepted payment methods.
    pub payment_methods: Vec<PaymentMethod>,
    /// Delivery modes.
    pub delivery_modes: Vec<DeliveryMode>,
    /// Hold codes.
    pub hold_codes: Vec<HoldCodeDef>,
    /// Reason codes.
    pub reason_codes: Vec<ReasonCodeDef>,
    /// Per role, the largest price override allowed, in percent below list price.
    pub price_override_limits: BTreeMap<Role, Decimal>,
    /// Free tags copied onto every order of the call center.
    pub financial_dimensions: BTreeMap<String, String>,
    /// The call center's price group, if any.
    pub price_group: Option<PriceGroupId>,
}

/// A problem with one field of an input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Dotted path of the field.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Checks a text field; a refusal names it.
fn check_text(errs: &mut Vec<FieldError>, field: impl Into<String>, rule: Rule, text: &str) {
    if let Err(e) = rule.check(text) {
        errs.push(FieldError::new(field, e.0));
    }
}

/// Checks an amount (see [`money::check_amount`]); a refusal names the field.
fn check_money<'a>(
    errs: &mut Vec<FieldError>,
    field: impl Into<String>,
    amount: Decimal,
    sign: Sign,
    currencies: impl IntoIterator<Item = &'a Currency>,
) {
    if let Err(e) = money::check_amount(amount, sign, currencies) {
        errs.push(FieldError::new(field, e.0));
    }
}

impl CallCenter {
    /// Cross-field checks that serde cannot express: unique ids, money within bounds and in the
    /// currency's precision, tiers in order, text by the rules of [`crate::text`].
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_text(&mut errs, "name", text::NAME, &self.name);
        let cur = [&self.currency];
        check_money(
            &mut errs,
            "payment_tolerance",
            self.payment_tolerance,
            Sign::NonNegative,
            cur,
        );
        for (i, m) in self.delivery_modes.iter().enumerate() {
            check_text(
                &mut errs,
                format!("delivery_modes[{i}].name"),
                Rule::line(200),
                &m.name,
            );
        }
        for (i, h) in self.hold_codes.iter().enumerate() {
            check_text(
                &mut errs,
                format!("hold_codes[{i}].name"),
                Rule::line(200),
                &h.name,
            );
        }
        for (i, r) in self.reason_codes.iter().enumerate() {
            check_text(
                &mut errs,
                format!("reason_codes[{i}].name"),
                Rule::line(200),
                &r.name,
            );
        }
        if let Err(e) = text::check_map(&self.financial_dimensions) {
            errs.push(FieldError::new("financial_dimensions", e.0));
        }
        fn dupes<'a>(ids: impl Iterator<Item = &'a str>, field: &str, errs: &mut Vec<FieldError>) {
            let mut seen = std::collections::BTreeSet::new();
            for id in ids {
                if !seen.insert(id) {
                    errs.push(FieldError::new(field, format!("duplicate id {id}")));
                }
            }
        }
        dupes(
            self.payment_methods.iter().map(|p| p.id.as_str()),
            "payment_methods",
            &mut errs,
        );
        dupes(
            self.delivery_modes.iter().map(|p| p.id.as_str()),
            "delivery_modes",
            &mut errs,
        );
        dupes(
            self.hold_codes.iter().map(|p| p.id.as_str()),
            "hold_codes",
            &mut errs,
        );
        dupes(
            self.reason_codes.iter().map(|p| p.id.as_str()),
            "reason_codes",
            &mut errs,
        );
        for (i, m) in self.delivery_modes.iter().enumerate() {
            for (j, t) in m.charges.iter().enumerate() {
                let f = format!("delivery_modes[{i}].charges[{j}]");
                check_money(
                    &mut errs,
                    format!("{f}.from"),
                    t.from,
                    Sign::NonNegative,
                    cur,
                );
                if let Some(to) = t.to {
                    check_money(&mut errs, format!("{f}.to"), to, Sign::NonNegative, cur);
                    if to <= t.from {
                        errs.push(FieldError::new(&f, "'to' must be above 'from'"));
                    }
                }
                check_money(
                    &mut errs,
                    format!("{f}.amount"),
                    t.amount,
                    Sign::NonNegative,
                    cur,
                );
            }
            let mut tiers: Vec<&ChargeTier> = m.charges.iter().collect();
            tiers.sort_by_key(|t| t.from);
            for w in tiers.windows(2) {
                if w[0].to.is_none_or(|to| to > w[1].from) {
                    errs.push(FieldError::new(
                        format!("delivery_modes[{i}].charges"),
                        "tiers overlap",
                    ));
                }
            }
        }
        for (role, limit) in &self.price_override_limits {
            if *limit < Decimal::ZERO || *limit > Decimal::ONE_HUNDRED {
                errs.push(FieldError::new(
                    format!("price_override_limits.{}", role.as_str()),
                    "must be a percent from 0 to 100",
                ));
            }
        }
        errs
    }

    /// The same call center with its text in the stored form (NFC, see [`crate::text`]): what
    /// a writer stores, validated after normalising.
    pub fn normalized(mut self) -> Self {
        self.name = text::normalize(self.name, false);
        for m in &mut self.delivery_modes {
            m.name = text::normalize(std::mem::take(&mut m.name), false);
        }
        for h in &mut self.hold_codes {
            h.name = text::normalize(std::mem::take(&mut h.name), false);
        }
        for r in &mut self.reason_codes {
            r.name = text::normalize(std::mem::take(&mut r.name), false);
        }
        self.financial_dimensions = normalized_map(self.financial_dimensions);
        self
    }

    /// The payment method with this id.
    pub fn payment_method(&self, id: &PaymentMethodId) -> Option<&PaymentMethod> {
        self.payment_methods.iter().find(|m| &m.id == id)
    }

    /// The delivery mode with this id.
    pub fn delivery_mode(&self, id: &DeliveryModeId) -> Option<&DeliveryMode> {
        self.delivery_modes.iter().find(|m| &m.id == id)
    }

    /// The hold code with this id.
    pub fn hold_code(&self, id: &HoldCode) -> Option<&HoldCodeDef> {
        self.hold_codes.iter().find(|m| &m.id == id)
    }

    /// Whether a reason code is configured.
    pub fn has_reason_code(&self, id: &ReasonCode) -> bool {
        self.reason_codes.iter().any(|m| &m.id == id)
    }

    /// The largest override a role may give, in percent below list price; `None` means unlimited.
    /// A role missing from the limits may not override at all, except admins, who are unlimited.
    pub fn override_limit(&self, role: Role) -> Option<Decimal> {
        match self.price_override_limits.get(&role) {
            Some(l) => Some(*l),
            None if role == Role::Admin => None,
            None => Some(Decimal::ZERO),
        }
    }
}

/// A continuity program: the product ships every `every_days` days, `times` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuity {
    /// Days between shipments (1 to 3650).
    pub every_days: u32,
    /// Number of child orders (1 to 120).
    pub times: u32,
}

impl Continuity {
    /// The due dates of the child orders of a parent placed at `start`: `start + i × every_days`
    /// for `i` in `1..=times`.
    pub fn due_dates(&self, start: Timestamp) -> Vec<Timestamp> {
        (1..=self.times as i64)
            .map(|i| start.plus_days(i * self.every_days as i64))
            .collect()
    }

    /// Checks the bounds.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if !(1..=3650).contains(&self.every_days) {
            errs.push(FieldError::new(
                "continuity.every_days",
                "must be from 1 to 3650",
            ));
        }
        if !(1..=120).contains(&self.times) {
            errs.push(FieldError::new("continuity.times", "must be from 1 to 120"));
        }
        errs
    }
}

/// A product of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    /// Its id.
    pub id: ProductId,
    /// Display name.
    pub name: String,
    /// Its own list price, used when no price group prices it.
    pub price: Decimal,
    /// Whether agents may override its price.
    pub allow_price_override: bool,
    /// Picture for guided sales.
    #[serde(default)]
    pub image_url: Option<String>,
    /// Products to suggest instead (better, dearer).
    #[serde(default)]
    pub upsell: Vec<ProductId>,
    /// Products to suggest alongside.
    #[serde(default)]
    pub cross_sell: Vec<ProductId>,
    /// Script shown to the agent while the product is on the order.
    #[serde(default)]
    pub script: Option<String>,
    /// A continuity program, if the product is one.
    #[serde(default)]
    pub continuity: Option<Continuity>,
}

impl Product {
    /// Field checks: text by [`crate::text`], the price within [`money::MAX_AMOUNT`] with at
    /// most [`money::MAX_MINOR_UNITS`] decimals. See [`Product::validate_for`] for the
    /// precision of the currencies that sell it.
    pub fn validate(&self) -> Vec<FieldError> {
        self.validate_for(&[])
    }

    /// [`Product::validate`], with the price in the precision of each of `currencies` (the
    /// currencies of the call centers that may sell it): `0.005` is refused where EUR is one.
    pub fn validate_for(&self, currencies: &[Currency]) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_text(&mut errs, "name", text::NAME, &self.name);
        check_money(
            &mut errs,
            "price",
            self.price,
            Sign::NonNegative,
            currencies,
        );
        if let Some(url) = &self.image_url {
            check_text(&mut errs, "image_url", text::URL, url);
        }
        if let Some(script) = &self.script {
            check_text(&mut errs, "script", text::SCRIPT, script);
        }
        if let Some(c) = &self.continuity {
            errs.extend(c.validate());
        }
        errs
    }

    /// The same product with its text in the stored form (NFC, see [`crate::text`]).
    pub fn normalized(mut self) -> Self {
        self.name = text::normalize(self.name, false);
        self.image_url = self.image_url.map(|u| text::normalize(u, false));
        self.script = self.script.map(|s| text::normalize(s, true));
        self
    }
}

/// A string map with keys and values in NFC. Keys that become equal keep the last value.
fn normalized_map(m: BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.into_iter()
        .map(|(k, v)| (text::normalize(k, false), text::normalize(v, false)))
        .collect()
}

/// A named price list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceGroup {
    /// Its id.
    pub id: PriceGroupId,
    /// Display name.
    pub name: String,
    /// Prices by product.
    pub prices: BTreeMap<ProductId, Decimal>,
}

impl PriceGroup {
    /// Field checks: the name by [`crate::text`], every price as a product's
    /// ([`Product::validate`]).
    pub fn validate(&self) -> Vec<FieldError> {
        self.validate_for(&[])
    }

    /// [`PriceGroup::validate`], with prices in the precision of each of `currencies`.
    pub fn validate_for(&self, currencies: &[Currency]) -> Vec<FieldError> {
        let mut errs = Vec::new();
        check_text(&mut errs, "name", Rule::line(200), &self.name);
        for (id, price) in &self.prices {
            check_money(
                &mut errs,
                format!("prices.{id}"),
                *price,
                Sign::NonNegative,
                currencies,
            );
        }
        errs
    }

    /// The same price group with its name in NFC.
    pub fn normalized(mut self) -> Self {
        self.name = text::normalize(self.name, false);
        self
    }
}

/// A validity window; both ends inclusive, either may be open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Window {
    /// First valid instant.
    #[serde(default)]
    pub valid_from: Option<Timestamp>,
    /// Last valid instant.
    #[serde(default)]
    pub valid_to: Option<Timestamp>,
}

/// Where `now` stands against a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowCheck {
    /// Not valid yet.
    NotYet,
    /// Valid.
    Valid,
    /// Expired.
    Expired,
}

impl Window {
    /// Where `now` stands.
    pub fn check(&self, now: Timestamp) -> WindowCheck {
        if self.valid_from.is_some_and(|f| now < f) {
            WindowCheck::NotYet
        } else if self.valid_to.is_some_and(|t| now > t) {
            WindowCheck::Expired
        } else {
            WindowCheck::Valid
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        match (self.valid_from, self.valid_to) {
            (Some(f), Some(t)) if t < f => {
                vec![FieldError::new("valid_to", "must not be before valid_from")]
            }
            _ => vec![],
        }
    }
}

/// A catalog source code: ties an order to a catalog, may give a discount and free shipping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceCodeDef {
    /// The code.
    pub code: SourceCode,
    /// The catalog it comes from.
    pub catalog: CatalogId,
    /// Validity.
    #[serde(flatten)]
    pub window: Window,
    /// Percent off the subtotal.
    #[serde(default)]
    pub discount_percent: Decimal,
    /// No automatic delivery charge.
    #[serde(default)]
    pub free_shipping: bool,
    /// Script for the agent.
    #[serde(default)]
    pub script: Option<String>,
    /// Price group of the catalog.
    #[serde(default)]
    pub price_group: Option<PriceGroupId>,
}

impl SourceCodeDef {
    /// Field checks.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errs = self.window.validate();
        if self.discount_percent < Decimal::ZERO || self.discount_percent > Decimal::ONE_HUNDRED {
            errs.push(FieldError::new(
                "discount_percent",
                "must be a percent from 0 to 100",
            ));
        }
        if let Some(script) = &self.script {
            check_text(&mut errs, "script", text::SCRIPT, script);
        }
        errs
    }

    /// The same source code with its script in NFC.
    pub fn normalized(mut self) -> Self {
        self.script = self.script.map(|s| text::normalize(s, true));
        self
    }
}

/// How a coupon discounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// Percent off.
    Percent,
    /// A fixed amount off.
    Amount,
}

/// A coupon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coupon {
    /// The code.
    pub code: CouponCode,
    /// Percent or amount.
    pub kind: CouponKind,
    /// Percent (0–100) or amount.
    pub value: Decimal,
    /// Smallest order subtotal it applies to.
    #[serde(default)]
    pub min_order: Decimal,
    /// Validity.
    #[serde(flatten)]
    pub window: Window,
    /// How many orders may redeem it; none is unlimited.
    #[serde(default)]
    pub max_uses: Option<u32>,
}

impl Coupon {
    /// Field checks: a percent above 0 and at most 100, or an amount and minimum within
    /// [`money::MAX_AMOUNT`] with at most [`money::MAX_MINOR_UNITS`] decimals.
    pub fn validate(&self) -> Vec<FieldError> {
        self.validate_for(&[])
    }

    /// [`Coupon::validate`], with the amount and minimum in the precision of each of
    /// `currencies`.
    pub fn validate_for(&self, currencies: &[Currency]) -> Vec<FieldError> {
        let mut errs = self.window.validate();
        match self.kind {
            CouponKind::Percent if self.value <= Decimal::ZERO => {
                errs.push(FieldError::new("value", "must be positive"));
            }
            CouponKind::Percent if self.value > Decimal::ONE_HUNDRED => {
                errs.push(FieldError::new("value", "a percent must not exceed 100"));
            }
            CouponKind::Percent => {}
            CouponKind::Amount => {
                check_money(&mut errs, "value", self.value, Sign::Positive, currencies);
            }
        }
        check_money(
            &mut errs,
            "min_order",
            self.min_order,
            Sign::NonNegative,
            currencies,
        );
        errs
    }
}

/// The product catalog and everything priced from it, as one read-only view for the rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// Products by id.
    pub products: BTreeMap<ProductId, Product>,
    /// Price groups by id.
    pub price_groups: BTreeMap<PriceGroupId, PriceGroup>,
    /// Source codes by code.
    pub source_codes: BTreeMap<SourceCode, SourceCodeDef>,
    /// Coupons by code.
    pub coupons: BTreeMap<CouponCode, Coupon>,
}

impl Catalog {
    /// A line's list price: the price in the source code's price group, else in the call
    /// center's price group, else the product's own price; in the currency's scale.
    pub fn list_price(
        &self,
        product: &Product,
        source_code: Option<&SourceCode>,
        call_center: &CallCenter,
    ) -> Decimal {
        call_center
            .currency
            .round(self.catalog_price(product, source_code, call_center))
    }

    /// The price [`Catalog::list_price`] starts from, as configured (not rounded): what
    /// `add_line` checks against the bounds and the currency's precision.
    pub fn catalog_price(
        &self,
        product: &Product,
        source_code: Option<&SourceCode>,
        call_center: &CallCenter,
    ) -> Decimal {
        let from_group = |g: Option<&PriceGroupId>| {
            g.and_then(|g| self.price_groups.get(g))
                .and_then(|g| g.prices.get(&product.id))
                .copied()
        };
        let sc_group = source_code
            .and_then(|c| self.source_codes.get(c))
            .and_then(|c| c.price_group.as_ref());
        from_group(sc_group)
            .or_else(|| from_group(call_center.price_group.as_ref()))
            .unwrap_or(product.price)
    }
}
