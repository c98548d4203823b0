//! Order commands: pure functions of (order, context, command) → event, or a typed refusal.
//! Fresh ids and `now` come in from the caller; the domain mints nothing and reads no clock.
//! An accepted command yields one [`OrderEvent`], which [`apply`] folds into the order and the
//! `sync` crate writes into the order's document as one change.

use crate::config::{Actor, CallCenter, Catalog, Product, Role, WindowCheck};
use crate::customer::Customer;
use crate::error::OrderError;
use crate::ids::*;
use crate::money::{self, Quantity, Sign, MAX_AMOUNT, MAX_CHARGES, MAX_LINES, MAX_PAYMENTS};
use crate::order::*;
use crate::text::{self, Rule};
use crate::time::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Everything a command reads besides the order: configuration, the actor and the time.
#[derive(Clone, Copy, Debug)]
pub struct Ctx<'a> {
    /// The order's call center.
    pub cc: &'a CallCenter,
    /// Products, price groups, source codes, coupons.
    pub catalog: &'a Catalog,
    /// Who acts.
    pub actor: &'a Actor,
    /// Now.
    pub now: Timestamp,
}

impl Ctx<'_> {
    fn stamp(&self) -> Stamp {
        Stamp {
            by: self.actor.user,
            at: self.now,
        }
    }

    /// [`Actor::acts_in`] the context's call center, or `NotInCallCenter`: the one check of
    /// where a user may act, for orders and customers alike.
    pub(crate) fn authorize(&self) -> Result<(), OrderError> {
        if self.actor.acts_in(&self.cc.id) {
            Ok(())
        } else {
            Err(OrderError::NotInCallCenter(self.cc.id.clone()))
        }
    }
}

/// Every order command, as one enum (mini-redis `Command`): the one way in for callers, so
/// that a new command is handled everywhere the compiler can see (`decide` here, the HTTP edge
/// that builds it). Each variant carries the input of its function below.
#[derive(Clone, Debug)]
pub enum OrderCommand {
    /// [`add_line`].
    AddLine(AddLine),
    /// [`change_line`].
    ChangeLine(ChangeLine),
    /// [`remove_line`].
    RemoveLine(LineId),
    /// [`apply_coupon`].
    ApplyCoupon(CouponCode),
    /// [`remove_coupon`].
    RemoveCoupon(CouponCode),
    /// [`add_payment`].
    AddPayment(AddPayment),
    /// [`void_payment`].
    VoidPayment(PaymentId),
    /// [`add_charge`].
    AddCharge(AddCharge),
    /// [`place_hold`].
    PlaceHold {
        /// Fresh id.
        id: HoldId,
        /// A configured hold code.
        code: HoldCode,
        /// Why.
        reason: String,
    },
    /// [`clear_hold`].
    ClearHold {
        /// The hold.
        id: HoldId,
        /// Why.
        reason: String,
    },
    /// [`add_note`].
    AddNote {
        /// Fresh id.
        id: NoteId,
        /// The text.
        text: String,
    },
    /// [`submit`].
    Submit,
    /// [`release`].
    Release,
    /// [`cancel`].
    Cancel {
        /// Why.
        reason: String,
    },
}

/// What a command may need to know about other orders, read from the caller's indexes (the
/// node's read model, or a test's memory). Reads only: the caller owns every write.
pub trait OrderReads {
    /// How many orders other than `order` redeemed the coupon `code`, as this node knows them.
    fn coupon_uses_elsewhere(&self, code: &CouponCode, order: OrderId) -> u32;
}

/// No other order known: every count is zero (a caller that holds one order only).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoReads;

impl OrderReads for NoReads {
    fn coupon_uses_elsewhere(&self, _code: &CouponCode, _order: OrderId) -> u32 {
        0
    }
}

/// Decides an order command: the event it makes, or the typed refusal. The one dispatch of
/// order commands; callers never match on [`OrderCommand`] themselves.
pub fn decide(
    order: &Order,
    ctx: Ctx<'_>,
    cmd: OrderCommand,
    reads: &dyn OrderReads,
) -> Result<OrderEvent, OrderError> {
    match cmd {
        OrderCommand::AddLine(c) => add_line(order, ctx, c),
        OrderCommand::ChangeLine(c) => change_line(order, ctx, c),
        OrderCommand::RemoveLine(l) => remove_line(order, ctx, l),
        OrderCommand::ApplyCoupon(code) => {
            let used = reads.coupon_uses_elsewhere(&code, order.id);
            apply_coupon(order, ctx, code, used)
        }
        OrderCommand::RemoveCoupon(code) => remove_coupon(order, ctx, code),
        OrderCommand::AddPayment(c) => add_payment(order, ctx, c),
        OrderCommand::VoidPayment(p) => void_payment(order, ctx, p),
        OrderCommand::AddCharge(c) => add_charge(order, ctx, c),
        OrderCommand::PlaceHold { id, code, reason } => place_hold(order, ctx, id, code, reason),
        OrderCommand::ClearHold { id, reason } => clear_hold(order, ctx, id, reason),
        OrderCommand::AddNote { id, text } => add_note(order, ctx, id, text),
        OrderCommand::Submit => submit(order, ctx),
        OrderCommand::Release => release(order, ctx),
        OrderCommand::Cancel { reason } => cancel(order, ctx, reason),
    }
}

/// A change to an order, as one automerge change will carry it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// A line was added.
    LineAdded(Line),
    /// A line's quantity or price changed. `price_override: Some(None)` removes an override.
    LineChanged {
        /// The line.
        line_id: LineId,
        /// New quantity.
        quantity: Option<Quantity>,
        /// New unit price.
        unit_price: Option<Decimal>,
        /// New override (outer `None`: unchanged).
        price_override: Option<Option<PriceOverride>>,
    },
    /// A line was removed (tombstone).
    LineRemoved {
        /// The line.
        line_id: LineId,
        /// Who, when.
        stamp: Stamp,
    },
    /// A coupon was applied.
    CouponApplied(CouponUse),
    /// A coupon was removed.
    CouponRemoved {
        /// The coupon.
        code: CouponCode,
        /// Who, when.
        stamp: Stamp,
    },
    /// A payment was recorded.
    PaymentAdded(Payment),
    /// A payment was voided.
    PaymentVoided {
        /// The payment.
        id: PaymentId,
        /// Who, when.
        stamp: Stamp,
    },
    /// A manual charge was added.
    ChargeAdded(Charge),
    /// A hold was placed.
    HoldPlaced(Hold),
    /// A hold was cleared.
    HoldCleared {
        /// The hold.
        id: HoldId,
        /// Who, when, why.
        clear: HoldClear,
    },
    /// A note was added.
    NoteAdded(Note),
    /// The order was submitted.
    Submitted(Stamp),
    /// The order was released to fulfilment.
    Released(Stamp),
    /// The order was canceled.
    Canceled {
        /// Who, when.
        stamp: Stamp,
        /// Why.
        reason: String,
    },
}

impl OrderEvent {
    /// A one-line summary for the order history.
    pub fn summary(&self) -> String {
        match self {
            OrderEvent::LineAdded(l) => {
                format!("added line {} × {}", l.quantity.get(), l.product_id)
            }
            OrderEvent::LineChanged { line_id, .. } => format!("changed line {line_id}"),
            OrderEvent::LineRemoved { line_id, .. } => format!("removed line {line_id}"),
            OrderEvent::CouponApplied(c) => format!("applied coupon {}", c.code),
            OrderEvent::CouponRemoved { code, .. } => format!("removed coupon {code}"),
            OrderEvent::PaymentAdded(p) => format!("recorded payment {} {}", p.method, p.amount),
            OrderEvent::PaymentVoided { id, .. } => format!("voided payment {id}"),
            OrderEvent::ChargeAdded(c) => format!("added charge {} {}", c.code, c.amount),
            OrderEvent::HoldPlaced(h) => format!("placed hold {}", h.code),
            OrderEvent::HoldCleared { id, .. } => format!("cleared hold {id}"),
            OrderEvent::NoteAdded(_) => "added a note".to_string(),
            OrderEvent::Submitted(_) => "submitted".to_string(),
            OrderEvent::Released(_) => "released".to_string(),
            OrderEvent::Canceled { .. } => "canceled".to_string(),
        }
    }
}

/// Folds an accepted event into the order.
pub fn apply(order: &mut Order, event: &OrderEvent) {
    match event {
        OrderEvent::LineAdded(l) => {
            order.lines.insert(l.id, l.clone());
        }
        OrderEvent::LineChanged {
            line_id,
            quantity,
            unit_price,
            price_override,
        } => {
            if let Some(l) = order.lines.get_mut(line_id) {
                if let Some(q) = quantity {
                    l.quantity = *q;
                }
                if let Some(p) = unit_price {
                    l.unit_price = *p;
                }
                if let Some(o) = price_override {
                    l.price_override = o.clone();
                }
            }
        }
        OrderEvent::LineRemoved { line_id, stamp } => {
            if let Some(l) = order.lines.get_mut(line_id) {
                l.removed = Some(stamp.clone());
            }
        }
        OrderEvent::CouponApplied(c) => {
            order.coupons.insert(c.code.clone(), c.clone());
        }
        OrderEvent::CouponRemoved { code, stamp } => {
            if let Some(c) = order.coupons.get_mut(code) {
                c.removed = Some(stamp.clone());
            }
        }
        OrderEvent::PaymentAdded(p) => {
            order.payments.insert(p.id, p.clone());
        }
        OrderEvent::PaymentVoided { id, stamp } => {
            if let Some(p) = order.payments.get_mut(id) {
                p.voided = Some(stamp.clone());
            }
        }
        OrderEvent::ChargeAdded(c) => {
            order.charges.insert(c.id, c.clone());
        }
        OrderEvent::HoldPlaced(h) => {
            order.holds.insert(h.id, h.clone());
        }
        OrderEvent::HoldCleared { id, clear } => {
            if let Some(h) = order.holds.get_mut(id) {
                h.cleared = Some(clear.clone());
            }
        }
        OrderEvent::NoteAdded(n) => {
            order.notes.insert(n.id, n.clone());
        }
        OrderEvent::Submitted(s) => {
            order.lifecycle.submitted.get_or_insert_with(|| s.clone());
        }
        OrderEvent::Released(s) => {
            order.lifecycle.released.get_or_insert_with(|| s.clone());
        }
        OrderEvent::Canceled { stamp, reason } => {
            order
                .lifecycle
                .canceled
                .get_or_insert_with(|| (stamp.clone(), reason.clone()));
        }
    }
}

/// Normalises and checks a text field by its rule (see [`crate::text`]); a refusal names it.
fn check_text(field: &'static str, text: String, rule: Rule) -> Result<String, OrderError> {
    rule.apply(text).map_err(|e| OrderError::InvalidText {
        field,
        message: e.0,
    })
}

/// Checks an amount entered in the call center's currency (see [`money::check_amount`]).
fn check_amount(
    field: &'static str,
    amount: Decimal,
    cc: &CallCenter,
    sign: Sign,
) -> Result<(), OrderError> {
    money::check_amount(amount, sign, [&cc.currency]).map_err(|e| OrderError::InvalidAmount {
        field,
        message: e.0,
    })
}

/// The refusal of an order whose amounts overflow (only an out-of-bounds document makes one).
fn overflow(field: &'static str) -> OrderError {
    OrderError::InvalidAmount {
        field,
        message: "would make the order's amounts overflow".into(),
    }
}

/// A line's total, refused beyond [`MAX_AMOUNT`] (naming `field`, what made it so large).
fn check_line_total(line: &Line, cc: &CallCenter, field: &'static str) -> Result<(), OrderError> {
    match Order::try_line_total(line, cc) {
        None => Err(overflow(field)),
        Some(t) if t > MAX_AMOUNT => Err(OrderError::InvalidAmount {
            field,
            message: format!("makes the line total {t}, more than the maximum {MAX_AMOUNT}"),
        }),
        Some(_) => Ok(()),
    }
}

/// Refuses an event that would take the order's subtotal, charges, total or paid beyond
/// [`MAX_AMOUNT`] (or overflow), naming the request field that did it. An amount already beyond
/// the bound (concurrent edits merged) only refuses what would raise it further.
fn check_bounds(
    order: &Order,
    ctx: Ctx<'_>,
    event: &OrderEvent,
    field: &'static str,
) -> Result<(), OrderError> {
    let mut after = order.clone();
    apply(&mut after, event);
    let new = after
        .try_totals(ctx.cc, ctx.catalog)
        .map_err(|_| overflow(field))?;
    let parts = |t: &Totals| {
        [
            ("subtotal", t.subtotal),
            ("charges", t.charges),
            ("total", t.total),
            ("paid", t.paid),
        ]
    };
    if parts(&new).iter().all(|(_, v)| *v <= MAX_AMOUNT) {
        return Ok(());
    }
    let old = order.try_totals(ctx.cc, ctx.catalog).ok();
    for (i, (name, value)) in parts(&new).into_iter().enumerate() {
        let before = old.as_ref().map(|t| parts(t)[i].1);
        if value > MAX_AMOUNT && before.is_none_or(|b| value > b) {
            return Err(OrderError::InvalidAmount {
                field,
                message: format!(
                    "would bring the order {name} to {value}, more than the maximum {MAX_AMOUNT}"
                ),
            });
        }
    }
    Ok(())
}

/// Edits of lines, coupons and charges need an open order.
fn require_open(order: &Order, action: &'static str) -> Result<(), OrderError> {
    if order.lifecycle.canceled.is_some() || order.lifecycle.submitted.is_some() {
        return Err(OrderError::InvalidTransition {
            from: order.status(),
            action,
        });
    }
    Ok(())
}

/// Holds and payments are allowed until the order is canceled.
fn require_not_canceled(order: &Order, action: &'static str) -> Result<(), OrderError> {
    if order.lifecycle.canceled.is_some() {
        return Err(OrderError::InvalidTransition {
            from: Status::Canceled,
            action,
        });
    }
    Ok(())
}

/// Input of [`create_order`].
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// Fresh id (UUID v7).
    pub id: OrderId,
    /// The customer.
    pub customer: Customer,
    /// Catalog source code.
    pub source_code: Option<SourceCode>,
    /// Delivery mode.
    pub delivery_mode: Option<DeliveryModeId>,
    /// Ship-to address.
    pub ship_to: Address,
}

/// Creates an order: the user must belong to the call center, the customer too, and a source
/// code must be configured and valid now.
pub fn create_order(ctx: Ctx<'_>, new: NewOrder) -> Result<Order, OrderError> {
    ctx.authorize()?;
    if new.customer.call_center_id != ctx.cc.id {
        return Err(OrderError::CustomerElsewhere(new.customer.id));
    }
    if let Some(code) = &new.source_code {
        if !ctx.cc.guided_sales {
            return Err(OrderError::GuidedSalesOff);
        }
        let sc = ctx
            .catalog
            .source_codes
            .get(code)
            .ok_or_else(|| OrderError::SourceCodeUnknown(code.clone()))?;
        match sc.window.check(ctx.now) {
            WindowCheck::Valid => {}
            WindowCheck::NotYet => return Err(OrderError::SourceCodeNotYetValid(code.clone())),
            WindowCheck::Expired => return Err(OrderError::SourceCodeExpired(code.clone())),
        }
    }
    if let Some(dm) = &new.delivery_mode {
        if ctx.cc.delivery_mode(dm).is_none() {
            return Err(OrderError::DeliveryModeUnknown(dm.clone()));
        }
    }
    let ship_to = text::apply_map(new.ship_to).map_err(|e| OrderError::InvalidText {
        field: "ship_to",
        message: e.0,
    })?;
    Ok(Order {
        source_code: new.source_code,
        delivery_mode: new.delivery_mode,
        ship_to,
        financial_dimensions: ctx.cc.financial_dimensions.clone(),
        ..Order::new(new.id, ctx.cc.id.clone(), new.customer.id, ctx.stamp())
    })
}

/// Decides a line's unit price and override. No price, or the list price, is no override.
/// Otherwise: the product allows overrides, the reason code is configured, and the percent
/// below list price is within the role's limit (inclusive).
fn price_line(
    ctx: Ctx<'_>,
    product: &Product,
    list_price: Decimal,
    unit_price: Option<Decimal>,
    reason: Option<ReasonCode>,
) -> Result<(Decimal, Option<PriceOverride>), OrderError> {
    let Some(price) = unit_price.filter(|p| *p != list_price) else {
        return Ok((list_price, None));
    };
    check_amount("unit_price", price, ctx.cc, Sign::NonNegative)?;
    if !product.allow_price_override {
        return Err(OrderError::OverrideNotAllowedForProduct(product.id.clone()));
    }
    let reason = reason.ok_or(OrderError::OverrideReasonRequired)?;
    if !ctx.cc.has_reason_code(&reason) {
        return Err(OrderError::ReasonCodeUnknown(reason));
    }
    if let Some(limit) = ctx.cc.override_limit(ctx.actor.role) {
        let percent = if list_price.is_zero() {
            // Any price above a zero list price is a mark-up, never a discount.
            Decimal::ZERO
        } else {
            // `price` is within the bounds; a list price beyond them (an out-of-bounds
            // document) takes the other, overflow-free form of the same percent.
            (list_price - price)
                .checked_mul(Decimal::ONE_HUNDRED)
                .map(|x| x / list_price)
                .unwrap_or_else(|| Decimal::ONE_HUNDRED - price * Decimal::ONE_HUNDRED / list_price)
        };
        if percent > limit {
            return Err(OrderError::OverrideBeyondLimit {
                percent: percent.round_dp(2).normalize(),
                limit,
                role: ctx.actor.role.as_str(),
            });
        }
    }
    Ok((
        price,
        Some(PriceOverride {
            reason_code: reason,
            by: ctx.actor.user,
        }),
    ))
}

/// Input of [`add_line`].
#[derive(Clone, Debug)]
pub struct AddLine {
    /// Fresh id.
    pub id: LineId,
    /// The product.
    pub product_id: ProductId,
    /// Units.
    pub quantity: Quantity,
    /// Overridden unit price, if any.
    pub unit_price: Option<Decimal>,
    /// Reason code for the override.
    pub override_reason: Option<ReasonCode>,
}

/// Adds a line at the list price, or at an overridden price. The list price must be within
/// the bounds and the currency's precision (a catalog price of `0.005` is refused in EUR, not
/// rounded to `0.00`); the line total and the order's totals stay within [`MAX_AMOUNT`]; an
/// order has at most [`MAX_LINES`] active lines.
pub fn add_line(order: &Order, ctx: Ctx<'_>, cmd: AddLine) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_open(order, "add a line to")?;
    let product = ctx
        .catalog
        .products
        .get(&cmd.product_id)
        .ok_or_else(|| OrderError::ProductUnknown(cmd.product_id.clone()))?;
    let price = ctx
        .catalog
        .catalog_price(product, order.source_code.as_ref(), ctx.cc);
    money::check_amount(price, Sign::NonNegative, [&ctx.cc.currency]).map_err(|e| {
        OrderError::InvalidAmount {
            field: "product_id",
            message: format!("the list price {price} of product {} {e}", product.id),
        }
    })?;
    let list_price = ctx.cc.currency.round(price);
    let (unit_price, price_override) = price_line(
        ctx,
        product,
        list_price,
        cmd.unit_price,
        cmd.override_reason,
    )?;
    if order.active_lines().count() >= MAX_LINES {
        return Err(OrderError::TooMany {
            field: "lines",
            max: MAX_LINES,
        });
    }
    let line = Line {
        id: cmd.id,
        product_id: cmd.product_id,
        quantity: cmd.quantity,
        list_price,
        unit_price,
        price_override,
        added: ctx.stamp(),
        removed: None,
    };
    let field = if cmd.unit_price.is_some() {
        "unit_price"
    } else {
        "quantity"
    };
    check_line_total(&line, ctx.cc, field)?;
    let event = OrderEvent::LineAdded(line);
    check_bounds(order, ctx, &event, field)?;
    Ok(event)
}

/// A price change on an existing line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceChange {
    /// Set this unit price (an override unless it equals the list price).
    Set {
        /// The price.
        unit_price: Decimal,
        /// Reason code.
        reason: Option<ReasonCode>,
    },
    /// Back to the list price.
    Revert,
    /// Keep the price, change the override's reason code.
    Reason(ReasonCode),
}

/// Input of [`change_line`].
#[derive(Clone, Debug)]
pub struct ChangeLine {
    /// The line.
    pub line_id: LineId,
    /// New quantity.
    pub quantity: Option<Quantity>,
    /// New price.
    pub price: Option<PriceChange>,
}

fn active_line(order: &Order, id: LineId) -> Result<&Line, OrderError> {
    let line = order.lines.get(&id).ok_or(OrderError::LineNotFound(id))?;
    if line.removed.is_some() {
        return Err(OrderError::LineRemoved(id));
    }
    Ok(line)
}

/// Changes a line's quantity and/or price, with the same override rules as [`add_line`].
pub fn change_line(order: &Order, ctx: Ctx<'_>, cmd: ChangeLine) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_open(order, "change a line of")?;
    let line = active_line(order, cmd.line_id)?;
    let field = if matches!(cmd.price, Some(PriceChange::Set { .. })) {
        "unit_price"
    } else {
        "quantity"
    };
    let (unit_price, price_override) = match cmd.price {
        None if cmd.quantity.is_none() => return Err(OrderError::EmptyChange),
        None => (None, None),
        Some(change) => {
            let product = ctx
                .catalog
                .products
                .get(&line.product_id)
                .ok_or_else(|| OrderError::ProductUnknown(line.product_id.clone()))?;
            let (price, reason) = match change {
                PriceChange::Revert => (None, None),
                PriceChange::Set { unit_price, reason } => (Some(unit_price), reason),
                PriceChange::Reason(r) if line.price_override.is_some() => {
                    (Some(line.unit_price), Some(r))
                }
                PriceChange::Reason(_) => {
                    return Err(OrderError::InvalidText {
                        field: "override_reason",
                        message: "the line has no price override; send unit_price with it".into(),
                    })
                }
            };
            let (p, o) = price_line(ctx, product, line.list_price, price, reason)?;
            (Some(p), Some(o))
        }
    };
    let event = OrderEvent::LineChanged {
        line_id: cmd.line_id,
        quantity: cmd.quantity,
        unit_price,
        price_override,
    };
    let changed = Line {
        quantity: cmd.quantity.unwrap_or(line.quantity),
        unit_price: unit_price.unwrap_or(line.unit_price),
        ..line.clone()
    };
    // A line already beyond the bound (merged) may still shrink.
    let grows = match (
        Order::try_line_total(&changed, ctx.cc),
        Order::try_line_total(line, ctx.cc),
    ) {
        (Some(new), Some(old)) => new > old,
        _ => true,
    };
    if grows {
        check_line_total(&changed, ctx.cc, field)?;
    }
    check_bounds(order, ctx, &event, field)?;
    Ok(event)
}

/// Removes a line (tombstone).
pub fn remove_line(order: &Order, ctx: Ctx<'_>, line_id: LineId) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_open(order, "remove a line of")?;
    active_line(order, line_id)?;
    Ok(OrderEvent::LineRemoved {
        line_id,
        stamp: ctx.stamp(),
    })
}

/// Applies a coupon: order completion on, coupon configured, valid now, order subtotal at least
/// its minimum, and `used_elsewhere` (other orders that redeemed it, as this node knows them)
/// below its usage limit.
pub fn apply_coupon(
    order: &Order,
    ctx: Ctx<'_>,
    code: CouponCode,
    used_elsewhere: u32,
) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_open(order, "apply a coupon to")?;
    if !ctx.cc.order_completion {
        return Err(OrderError::OrderCompletionOff);
    }
    let coupon = ctx
        .catalog
        .coupons
        .get(&code)
        .ok_or_else(|| OrderError::CouponUnknown(code.clone()))?;
    if order
        .coupons
        .get(&code)
        .is_some_and(|c| c.removed.is_none())
    {
        return Err(OrderError::CouponAlreadyApplied(code));
    }
    if coupon.window.check(ctx.now) != WindowCheck::Valid {
        return Err(OrderError::CouponOutsideWindow(code));
    }
    let subtotal = order.totals(ctx.cc, ctx.catalog).subtotal;
    if subtotal < coupon.min_order {
        return Err(OrderError::CouponMinimum {
            code,
            min: coupon.min_order,
        });
    }
    if coupon.max_uses.is_some_and(|max| used_elsewhere >= max) {
        return Err(OrderError::CouponUsedUp(code));
    }
    Ok(OrderEvent::CouponApplied(CouponUse {
        code,
        applied: ctx.stamp(),
        removed: None,
    }))
}

/// Removes an applied coupon.
pub fn remove_coupon(
    order: &Order,
    ctx: Ctx<'_>,
    code: CouponCode,
) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_open(order, "remove a coupon from")?;
    if order.coupons.get(&code).is_none_or(|c| c.removed.is_some()) {
        return Err(OrderError::CouponNotApplied(code));
    }
    Ok(OrderEvent::CouponRemoved {
        code,
        stamp: ctx.stamp(),
    })
}

/// Input of [`add_payment`].
#[derive(Clone, Debug)]
pub struct AddPayment {
    /// Fresh id.
    pub id: PaymentId,
    /// Payment method.
    pub method: PaymentMethodId,
    /// Amount, positive.
    pub amount: Decimal,
    /// Reference.
    pub reference: Option<String>,
}

/// Records a payment with a configured method (order completion on; allowed after submit).
///
/// Overpayment is refused: a payment may take what is paid to at most the order total plus the
/// call center's `payment_tolerance` (the same tolerance that lets payments fall short at
/// submit), so an order never carries change due. An order records at most [`MAX_PAYMENTS`]
/// payments, voided ones included.
pub fn add_payment(order: &Order, ctx: Ctx<'_>, cmd: AddPayment) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_not_canceled(order, "record a payment on")?;
    if !ctx.cc.order_completion {
        return Err(OrderError::OrderCompletionOff);
    }
    if ctx.cc.payment_method(&cmd.method).is_none() {
        return Err(OrderError::PaymentMethodUnknown(cmd.method));
    }
    check_amount("amount", cmd.amount, ctx.cc, Sign::Positive)?;
    let reference = cmd
        .reference
        .map(|r| check_text("reference", r, text::REFERENCE))
        .transpose()?;
    if order.payments.len() >= MAX_PAYMENTS {
        return Err(OrderError::TooMany {
            field: "payments",
            max: MAX_PAYMENTS,
        });
    }
    let totals = order
        .try_totals(ctx.cc, ctx.catalog)
        .map_err(|_| overflow("amount"))?;
    let room = totals.balance.saturating_add(ctx.cc.payment_tolerance);
    if cmd.amount > room {
        let message = if room > Decimal::ZERO {
            format!("must be at most {room}, the balance plus the payment tolerance")
        } else {
            "the order is already paid in full".to_string()
        };
        return Err(OrderError::InvalidAmount {
            field: "amount",
            message,
        });
    }
    let event = OrderEvent::PaymentAdded(Payment {
        id: cmd.id,
        method: cmd.method,
        amount: ctx.cc.currency.round(cmd.amount),
        reference,
        added: ctx.stamp(),
        voided: None,
    });
    check_bounds(order, ctx, &event, "amount")?;
    Ok(event)
}

/// Voids a payment.
pub fn void_payment(order: &Order, ctx: Ctx<'_>, id: PaymentId) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_not_canceled(order, "void a payment of")?;
    let p = order
        .payments
        .get(&id)
        .ok_or(OrderError::PaymentNotFound(id))?;
    if p.voided.is_some() {
        return Err(OrderError::PaymentAlreadyVoided(id));
    }
    if order.lifecycle.released.is_some() {
        return Err(OrderError::InvalidTransition {
            from: order.status(),
            action: "void a payment of",
        });
    }
    Ok(OrderEvent::PaymentVoided {
        id,
        stamp: ctx.stamp(),
    })
}

/// Input of [`add_charge`].
#[derive(Clone, Debug)]
pub struct AddCharge {
    /// Fresh id.
    pub id: ChargeId,
    /// Charge code.
    pub code: ChargeCode,
    /// Amount, not negative.
    pub amount: Decimal,
    /// Configured reason code.
    pub reason_code: ReasonCode,
}

/// Adds a manual charge with a configured reason code; the order's charges and total stay
/// within [`MAX_AMOUNT`]; an order has at most [`MAX_CHARGES`] manual charges.
pub fn add_charge(order: &Order, ctx: Ctx<'_>, cmd: AddCharge) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    require_open(order, "add a charge to")?;
    check_amount("amount", cmd.amount, ctx.cc, Sign::NonNegative)?;
    if !ctx.cc.has_reason_code(&cmd.reason_code) {
        return Err(OrderError::ChargeReasonUnknown(cmd.reason_code));
    }
    if order.charges.len() >= MAX_CHARGES {
        return Err(OrderError::TooMany {
            field: "charges",
            max: MAX_CHARGES,
        });
    }
    let event = OrderEvent::ChargeAdded(Charge {
        id: cmd.id,
        code: cmd.code,
        amount: ctx.cc.currency.round(cmd.amount),
        reason_code: cmd.reason_code,
        added: ctx.stamp(),
    });
    check_bounds(order, ctx, &event, "amount")?;
    Ok(event)
}

/// Places a hold with a configured hold code; any user may.
pub fn place_hold(
    order: &Order,
    ctx: Ctx<'_>,
    id: HoldId,
    code: HoldCode,
    reason: String,
) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    // A released order is in fulfilment: a hold on it can only come from a concurrent edit,
    // which the merge-time check turns into a system hold (see `invariants`).
    if order.lifecycle.canceled.is_some() || order.lifecycle.released.is_some() {
        return Err(OrderError::InvalidTransition {
            from: order.status(),
            action: "hold",
        });
    }
    if ctx.cc.hold_code(&code).is_none() {
        return Err(OrderError::HoldCodeUnknown(code));
    }
    let reason = check_text("reason", reason, text::REASON)?;
    Ok(OrderEvent::HoldPlaced(Hold {
        id,
        code,
        reason,
        placed: ctx.stamp(),
        system: false,
        cleared: None,
    }))
}

/// Clears an active hold; the role must be one the hold code allows (see [`Order::may_clear`]).
pub fn clear_hold(
    order: &Order,
    ctx: Ctx<'_>,
    id: HoldId,
    reason: String,
) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    let hold = order.holds.get(&id).ok_or(OrderError::HoldNotFound(id))?;
    if hold.cleared.is_some() {
        return Err(OrderError::HoldAlreadyCleared(id));
    }
    if !Order::may_clear(hold, ctx.actor.role, ctx.cc) {
        return Err(OrderError::ClearNotAllowed {
            code: hold.code.clone(),
            role: ctx.actor.role.as_str(),
        });
    }
    let reason = check_text("reason", reason, text::REASON)?;
    Ok(OrderEvent::HoldCleared {
        id,
        clear: HoldClear {
            by: ctx.actor.user,
            at: ctx.now,
            reason,
        },
    })
}

/// Adds a note; allowed in every status.
pub fn add_note(
    _order: &Order,
    ctx: Ctx<'_>,
    id: NoteId,
    text: String,
) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    let text = check_text("text", text, text::NOTE)?;
    Ok(OrderEvent::NoteAdded(Note {
        id,
        added: ctx.stamp(),
        text,
    }))
}

/// Submits an open order: no active hold, at least one line, and with order completion on at
/// least one payment with payments covering the total within the tolerance, and exceeding it by
/// no more than the tolerance (the total may have fallen since they were recorded).
pub fn submit(order: &Order, ctx: Ctx<'_>) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    if order.lifecycle.canceled.is_some() || order.lifecycle.submitted.is_some() {
        return Err(OrderError::InvalidTransition {
            from: order.status(),
            action: "submit",
        });
    }
    if order.active_holds().next().is_some() {
        return Err(OrderError::OnHold);
    }
    if order.active_lines().next().is_none() {
        return Err(OrderError::NoLines);
    }
    if ctx.cc.order_completion {
        let totals = order
            .try_totals(ctx.cc, ctx.catalog)
            .map_err(|_| overflow("lines"))?;
        if order.active_payments().next().is_none() || totals.balance > ctx.cc.payment_tolerance {
            return Err(OrderError::PaymentRequired {
                balance: totals.balance,
            });
        }
        if -totals.balance > ctx.cc.payment_tolerance {
            return Err(OrderError::Overpaid {
                excess: -totals.balance,
            });
        }
    }
    Ok(OrderEvent::Submitted(ctx.stamp()))
}

/// Releases a submitted order to fulfilment; no active hold.
pub fn release(order: &Order, ctx: Ctx<'_>) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    let l = &order.lifecycle;
    if l.canceled.is_some() || l.released.is_some() || l.submitted.is_none() {
        return Err(OrderError::InvalidTransition {
            from: order.status(),
            action: "release",
        });
    }
    if order.active_holds().next().is_some() {
        return Err(OrderError::OnHold);
    }
    Ok(OrderEvent::Released(ctx.stamp()))
}

/// Cancels: an open order by any user, a submitted one by a supervisor or admin; never after release.
pub fn cancel(order: &Order, ctx: Ctx<'_>, reason: String) -> Result<OrderEvent, OrderError> {
    ctx.authorize()?;
    let l = &order.lifecycle;
    if l.canceled.is_some() || l.released.is_some() {
        return Err(OrderError::InvalidTransition {
            from: order.status(),
            action: "cancel",
        });
    }
    if l.submitted.is_some() && ctx.actor.role == Role::Agent {
        return Err(OrderError::CancelNeedsSupervisor);
    }
    let reason = check_text("reason", reason, text::REASON)?;
    Ok(OrderEvent::Canceled {
        stamp: ctx.stamp(),
        reason,
    })
}
