//! The order: header, lines, charges, coupons, payments, holds, notes and set-once lifecycle facts.
//! Totals and status are derived here and never stored.

use crate::config::{CallCenter, Catalog, CouponKind, Role};
use crate::ids::*;
use crate::money::Quantity;
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who did something and when: the shape of every set-once fact and tombstone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The user.
    pub by: UserId,
    /// When.
    pub at: Timestamp,
}

/// A free-form address (street, city, postal code, country, ...).
pub type Address = BTreeMap<String, String>;

/// A price override on a line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceOverride {
    /// The configured reason code.
    pub reason_code: ReasonCode,
    /// Who overrode.
    pub by: UserId,
}

/// An order line. Removal is a tombstone, so a concurrent edit of a removed line stays visible
/// and the line stays removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Its id.
    pub id: LineId,
    /// The product.
    pub product_id: ProductId,
    /// Units.
    pub quantity: Quantity,
    /// List price when added.
    pub list_price: Decimal,
    /// The price charged per unit (the list price unless overridden).
    pub unit_price: Decimal,
    /// The override, if the unit price differs from the list price.
    pub price_override: Option<PriceOverride>,
    /// Who added the line.
    pub added: Stamp,
    /// Set when removed.
    pub removed: Option<Stamp>,
}

impl Line {
    /// Whether the line counts.
    pub fn is_active(&self) -> bool {
        self.removed.is_none()
    }
}

/// A manual charge with its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Charge {
    /// Its id.
    pub id: ChargeId,
    /// Charge code (e.g. `gift-wrap`).
    pub code: ChargeCode,
    /// Amount.
    pub amount: Decimal,
    /// Configured reason code.
    pub reason_code: ReasonCode,
    /// Who added it.
    pub added: Stamp,
}

/// A coupon applied to an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponUse {
    /// The code.
    pub code: CouponCode,
    /// Who applied it, when.
    pub applied: Stamp,
    /// Set when removed.
    pub removed: Option<Stamp>,
}

/// Payment status, derived from the void tombstone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Counts toward `paid`.
    Authorized,
    /// Voided; does not count.
    Voided,
}

/// A payment recorded on an order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Its id.
    pub id: PaymentId,
    /// The payment method.
    pub method: PaymentMethodId,
    /// Amount.
    pub amount: Decimal,
    /// Reference (authorization code, check number, ...).
    pub reference: Option<String>,
    /// Who recorded it.
    pub added: Stamp,
    /// Set when voided.
    pub voided: Option<Stamp>,
}

impl Payment {
    /// Derived status.
    pub fn status(&self) -> PaymentStatus {
        if self.voided.is_some() {
            PaymentStatus::Voided
        } else {
            PaymentStatus::Authorized
        }
    }
}

/// How a hold was cleared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldClear {
    /// Who cleared it.
    pub by: UserId,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: String,
}

/// A hold on an order. System holds are placed by merge-time invariant checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    /// Its id (UUID v5 of order and violation for system holds).
    pub id: HoldId,
    /// The hold code (for system holds, the violation kind).
    pub code: HoldCode,
    /// Why it was placed.
    pub reason: String,
    /// Who placed it ([`SYSTEM_USER`] for system holds).
    pub placed: Stamp,
    /// Whether the system placed it.
    pub system: bool,
    /// Set when cleared.
    pub cleared: Option<HoldClear>,
}

impl Hold {
    /// Whether the hold still blocks the order.
    pub fn is_active(&self) -> bool {
        self.cleared.is_none()
    }
}

/// The user id recorded for what the system does by itself (system holds, continuity children).
pub const SYSTEM_USER: UserId = UserId(uuid::Uuid::nil());

/// A note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// Its id.
    pub id: NoteId,
    /// Who wrote it, when.
    pub added: Stamp,
    /// The text.
    pub text: String,
}

/// What ties a continuity child order to its parent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContinuityRef {
    /// The parent order.
    pub parent: OrderId,
    /// The parent's continuity line.
    pub line: LineId,
    /// Which shipment (1-based).
    pub index: u32,
}

/// Lifecycle facts, each set once. The status is derived from them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// Submitted by an agent.
    pub submitted: Option<Stamp>,
    /// Released to fulfilment.
    pub released: Option<Stamp>,
    /// Canceled, with the reason.
    pub canceled: Option<(Stamp, String)>,
}

/// An order, as read from its document.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Its id.
    pub id: OrderId,
    /// The call center.
    pub call_center_id: CallCenterId,
    /// The customer.
    pub customer_id: CustomerId,
    /// Catalog source code.
    pub source_code: Option<SourceCode>,
    /// Delivery mode.
    pub delivery_mode: Option<DeliveryModeId>,
    /// Ship-to address.
    pub ship_to: Address,
    /// Financial dimensions copied from the call center.
    pub financial_dimensions: BTreeMap<String, String>,
    /// Lines by id, tombstoned ones included.
    pub lines: BTreeMap<LineId, Line>,
    /// Manual charges by id.
    pub charges: BTreeMap<ChargeId, Charge>,
    /// Coupons by code, removed ones included.
    pub coupons: BTreeMap<CouponCode, CouponUse>,
    /// Payments by id, voided ones included.
    pub payments: BTreeMap<PaymentId, Payment>,
    /// Holds by id, cleared ones included.
    pub holds: BTreeMap<HoldId, Hold>,
    /// Notes by id.
    pub notes: BTreeMap<NoteId, Note>,
    /// Set-once lifecycle facts.
    pub lifecycle: Lifecycle,
    /// Who created the order, when.
    pub created: Stamp,
    /// Continuity parent, for child orders.
    pub continuity: Option<ContinuityRef>,
}

/// The derived status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Being taken.
    Open,
    /// Submitted by the agent.
    Submitted,
    /// Any active hold.
    OnHold,
    /// Released to fulfilment.
    Released,
    /// Canceled.
    Canceled,
}

impl Status {
    /// The name as in docs/api.md.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Submitted => "submitted",
            Status::OnHold => "on_hold",
            Status::Released => "released",
            Status::Canceled => "canceled",
        }
    }

    /// Parses an docs/api.md status name.
    pub fn parse(s: &str) -> Option<Status> {
        [
            Status::Open,
            Status::Submitted,
            Status::OnHold,
            Status::Released,
            Status::Canceled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// A discount from one coupon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponDiscount {
    /// The coupon.
    pub code: CouponCode,
    /// What it takes off.
    pub discount: Decimal,
}

/// An automatic charge, derived from the delivery mode and the order amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoCharge {
    /// The delivery mode it comes from.
    pub delivery_mode: DeliveryModeId,
    /// Amount.
    pub amount: Decimal,
}

/// Derived totals. `total = subtotal - discount + charges`, `balance = total - paid`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of active line totals.
    pub subtotal: Decimal,
    /// Source-code and coupon discounts.
    pub discount: Decimal,
    /// Automatic and manual charges.
    pub charges: Decimal,
    /// What the customer owes.
    pub total: Decimal,
    /// Sum of authorized payments.
    pub paid: Decimal,
    /// `total - paid`.
    pub balance: Decimal,
}

/// Totals with their parts, for the order view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pricing {
    /// The totals.
    pub totals: Totals,
    /// Each applied coupon's discount.
    pub coupon_discounts: Vec<CouponDiscount>,
    /// The automatic delivery charge, if any.
    pub auto_charge: Option<AutoCharge>,
    /// The source code's discount.
    pub source_discount: Decimal,
}

/// An order's amounts overflow what a `Decimal` holds: only an order that came from outside the
/// bounds (an older node's document) can; commands refuse to build on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the order's amounts overflow")]
pub struct AmountOverflow;

/// Checked arithmetic for pricing: an operation that overflows saturates, so a view of such an
/// order still renders, and is remembered, so a command refuses it.
#[derive(Default)]
struct Calc {
    overflowed: bool,
}

impl Calc {
    fn or_saturate(&mut self, r: Option<Decimal>, saturated: Decimal) -> Decimal {
        r.unwrap_or_else(|| {
            self.overflowed = true;
            saturated
        })
    }

    fn add(&mut self, a: Decimal, b: Decimal) -> Decimal {
        self.or_saturate(a.checked_add(b), a.saturating_add(b))
    }

    fn sub(&mut self, a: Decimal, b: Decimal) -> Decimal {
        self.or_saturate(a.checked_sub(b), a.saturating_sub(b))
    }

    fn mul(&mut self, a: Decimal, b: Decimal) -> Decimal {
        self.or_saturate(a.checked_mul(b), a.saturating_mul(b))
    }

    /// `percent` % of `amount`.
    fn percent(&mut self, amount: Decimal, percent: Decimal) -> Decimal {
        let product = self.mul(amount, percent);
        self.or_saturate(product.checked_div(Decimal::ONE_HUNDRED), product)
    }
}

impl Order {
    /// A new order with no lines, charges, coupons, payments, holds or notes yet: the header
    /// fields that a caller knows are set with struct update syntax (`..Order::new(..)`).
    pub fn new(
        id: OrderId,
        call_center_id: CallCenterId,
        customer_id: CustomerId,
        created: Stamp,
    ) -> Order {
        Order {
            id,
            call_center_id,
            customer_id,
            source_code: None,
            delivery_mode: None,
            ship_to: Address::new(),
            financial_dimensions: BTreeMap::new(),
            lines: BTreeMap::new(),
            charges: BTreeMap::new(),
            coupons: BTreeMap::new(),
            payments: BTreeMap::new(),
            holds: BTreeMap::new(),
            notes: BTreeMap::new(),
            lifecycle: Lifecycle::default(),
            created,
            continuity: None,
        }
    }

    /// The id of the order's automatic delivery charge for a delivery mode: UUID v5 with the
    /// order id as namespace and the delivery mode as name, so every node (and any client)
    /// derives the same id for the same charge.
    pub fn auto_charge_id(&self, mode: &DeliveryModeId) -> uuid::Uuid {
        uuid::Uuid::new_v5(&self.id.0, mode.as_str().as_bytes())
    }

    /// The latest stamp the order carries: a lower bound of its last change (the document's
    /// history knows the exact time; this is what the order alone can tell).
    pub fn last_stamp(&self) -> Timestamp {
        let mut t = self.created.at;
        let mut see = |x: Timestamp| t = t.max(x);
        for l in self.lines.values() {
            see(l.added.at);
            if let Some(r) = &l.removed {
                see(r.at);
            }
        }
        self.charges.values().for_each(|c| see(c.added.at));
        for c in self.coupons.values() {
            see(c.applied.at);
            if let Some(r) = &c.removed {
                see(r.at);
            }
        }
        for p in self.payments.values() {
            see(p.added.at);
            if let Some(v) = &p.voided {
                see(v.at);
            }
        }
        for h in self.holds.values() {
            see(h.placed.at);
            if let Some(c) = &h.cleared {
                see(c.at);
            }
        }
        self.notes.values().for_each(|n| see(n.added.at));
        let l = &self.lifecycle;
        [&l.submitted, &l.released]
            .into_iter()
            .flatten()
            .for_each(|s| see(s.at));
        if let Some((s, _)) = &l.canceled {
            see(s.at);
        }
        t
    }

    /// Active lines, in id order.
    pub fn active_lines(&self) -> impl Iterator<Item = &Line> {
        self.lines.values().filter(|l| l.is_active())
    }

    /// Active holds.
    pub fn active_holds(&self) -> impl Iterator<Item = &Hold> {
        self.holds.values().filter(|h| h.is_active())
    }

    /// Coupons applied and not removed.
    pub fn active_coupons(&self) -> impl Iterator<Item = &CouponUse> {
        self.coupons.values().filter(|c| c.removed.is_none())
    }

    /// Authorized (not voided) payments.
    pub fn active_payments(&self) -> impl Iterator<Item = &Payment> {
        self.payments.values().filter(|p| p.voided.is_none())
    }

    /// The derived status: canceled, else on hold (any active hold), else released, submitted, open.
    pub fn status(&self) -> Status {
        if self.lifecycle.canceled.is_some() {
            Status::Canceled
        } else if self.active_holds().next().is_some() {
            Status::OnHold
        } else if self.lifecycle.released.is_some() {
            Status::Released
        } else if self.lifecycle.submitted.is_some() {
            Status::Submitted
        } else {
            Status::Open
        }
    }

    /// A line's total: unit price × quantity, rounded to the currency. Never panics: a product
    /// beyond what a `Decimal` holds (only an out-of-bounds document can carry one) saturates;
    /// [`Order::try_line_total`] says so instead.
    pub fn line_total(line: &Line, cc: &CallCenter) -> Decimal {
        Self::line_total_in(line, cc, &mut Calc::default())
    }

    /// A line's total, or `None` if it overflows.
    pub fn try_line_total(line: &Line, cc: &CallCenter) -> Option<Decimal> {
        let mut calc = Calc::default();
        let t = Self::line_total_in(line, cc, &mut calc);
        (!calc.overflowed).then_some(t)
    }

    fn line_total_in(line: &Line, cc: &CallCenter, calc: &mut Calc) -> Decimal {
        cc.currency
            .round(calc.mul(line.unit_price, line.quantity.as_decimal()))
    }

    /// Derives the totals. Each line is rounded, then the source-code discount (percent of the
    /// subtotal), then each coupon in code order (percent of what is left, or a fixed amount,
    /// never more than what is left), then the delivery mode's tier charge for the amount after
    /// discounts (none with free shipping), plus manual charges.
    ///
    /// Never panics: arithmetic is checked, and an order whose amounts overflow a `Decimal`
    /// (which commands never make, see [`crate::money`]) gets saturated amounts here; commands
    /// use [`Order::try_pricing`], which refuses it.
    pub fn pricing(&self, cc: &CallCenter, catalog: &Catalog) -> Pricing {
        self.pricing_in(cc, catalog, &mut Calc::default())
    }

    /// [`Order::pricing`], or [`AmountOverflow`] if any step overflows.
    pub fn try_pricing(
        &self,
        cc: &CallCenter,
        catalog: &Catalog,
    ) -> Result<Pricing, AmountOverflow> {
        let mut calc = Calc::default();
        let p = self.pricing_in(cc, catalog, &mut calc);
        if calc.overflowed {
            Err(AmountOverflow)
        } else {
            Ok(p)
        }
    }

    fn pricing_in(&self, cc: &CallCenter, catalog: &Catalog, calc: &mut Calc) -> Pricing {
        let cur = &cc.currency;
        let mut subtotal = Decimal::ZERO;
        for l in self.active_lines() {
            let t = Self::line_total_in(l, cc, calc);
            subtotal = calc.add(subtotal, t);
        }
        let subtotal = cur.round(subtotal);
        let source = self
            .source_code
            .as_ref()
            .and_then(|c| catalog.source_codes.get(c));
        let source_discount = source
            .map(|s| cur.round(calc.percent(subtotal, s.discount_percent)))
            .unwrap_or(Decimal::ZERO)
            .min(subtotal);
        let mut remaining = calc.sub(subtotal, source_discount);
        let mut coupon_discounts = Vec::new();
        for use_ in self.active_coupons() {
            let discount = match catalog.coupons.get(&use_.code) {
                Some(c) => match c.kind {
                    CouponKind::Percent => cur.round(calc.percent(remaining, c.value)),
                    CouponKind::Amount => cur.round(c.value),
                },
                // A coupon deleted from the catalog after it was applied gives nothing.
                None => Decimal::ZERO,
            }
            .min(remaining);
            remaining = calc.sub(remaining, discount);
            coupon_discounts.push(CouponDiscount {
                code: use_.code.clone(),
                discount: cur.round(discount),
            });
        }
        let discount = cur.round(calc.sub(subtotal, remaining));
        let free_shipping = source.is_some_and(|s| s.free_shipping);
        let auto_charge = match (&self.delivery_mode, free_shipping) {
            (Some(dm), false) => cc
                .delivery_mode(dm)
                .and_then(|m| m.charge_for(remaining))
                .filter(|a| !a.is_zero())
                .map(|amount| AutoCharge {
                    delivery_mode: dm.clone(),
                    amount: cur.round(amount),
                }),
            _ => None,
        };
        let mut charges = auto_charge.as_ref().map_or(Decimal::ZERO, |a| a.amount);
        for c in self.charges.values() {
            charges = calc.add(charges, c.amount);
        }
        let charges = cur.round(charges);
        let total = cur.round(calc.add(remaining, charges));
        let mut paid = Decimal::ZERO;
        for p in self.active_payments() {
            paid = calc.add(paid, p.amount);
        }
        let paid = cur.round(paid);
        let balance = cur.round(calc.sub(total, paid));
        Pricing {
            totals: Totals {
                subtotal,
                discount,
                charges,
                total,
                paid,
                balance,
            },
            coupon_discounts,
            auto_charge,
            source_discount,
        }
    }

    /// Just the totals.
    pub fn totals(&self, cc: &CallCenter, catalog: &Catalog) -> Totals {
        self.pricing(cc, catalog).totals
    }

    /// Just the totals, or [`AmountOverflow`].
    pub fn try_totals(&self, cc: &CallCenter, catalog: &Catalog) -> Result<Totals, AmountOverflow> {
        self.try_pricing(cc, catalog).map(|p| p.totals)
    }

    /// Whether a role may clear a hold: admins always; system holds also supervisors; otherwise
    /// the roles the hold code lists.
    pub fn may_clear(hold: &Hold, role: Role, cc: &CallCenter) -> bool {
        if role == Role::Admin {
            return true;
        }
        if hold.system {
            return role == Role::Supervisor;
        }
        cc.hold_code(&hold.code)
            .is_some_and(|h| h.clear_roles.contains(&role))
    }
}
