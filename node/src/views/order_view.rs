//! The order view: everything an agent needs in one answer (lines, charges automatic and
//! manual, coupons with their discounts, payments, holds, notes, derived totals) and the
//! concurrent values a merge left behind (`conflicts`), built from the order and its
//! configuration; and the summary shown in lists.

use super::OrderSummary;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::config::{CallCenter, Catalog};
use switchboard_domain::order::{Order, Status};
use switchboard_domain::*;
use utoipa::ToSchema;
use uuid::Uuid;

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

/// One child order of a continuity line.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContinuityChildView {
    /// Which shipment (1-based).
    pub index: u32,
    /// The child's id (the same on every node).
    pub order_id: OrderId,
    /// When it falls due; none before the parent is submitted, or once it was canceled.
    pub due: Option<Timestamp>,
    /// Its status when this node holds it (it was created), else none.
    pub status: Option<Status>,
}

/// The continuity program sold by one line, and where its schedule stands.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContinuityLineView {
    /// The line.
    pub line_id: LineId,
    /// The program's product.
    pub product_id: ProductId,
    /// Days between deliveries.
    pub every_days: u32,
    /// Number of child orders.
    pub times: u32,
    /// The children, in order.
    pub children: Vec<ContinuityChildView>,
    /// How many children this node holds.
    pub created: u32,
    /// How many are still to be created.
    pub remaining: u32,
    /// The due date of the next child to be created, once the parent is submitted.
    pub next_due: Option<Timestamp>,
}

/// The parent of a continuity child order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContinuityParentView {
    /// The parent order.
    pub order_id: OrderId,
    /// Which shipment this child is (1-based).
    pub index: u32,
    /// How many the program has, when its product is still a program in the catalog.
    pub times: Option<u32>,
}

/// An order's continuity: the programs its lines sell, or the parent it was made from. Read by
/// the console (not part of the API's order view).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ContinuityView {
    /// For a child order: its parent.
    pub parent: Option<ContinuityParentView>,
    /// For a parent: one per continuity line.
    pub programs: Vec<ContinuityLineView>,
}

/// The order view of docs/api.md.
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
                id: order.auto_charge_id(&a.delivery_mode),
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
        let stamp = order.last_stamp();
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
