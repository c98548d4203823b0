//! The errors a caller branches on. One enum for all order commands, because the HTTP edge maps
//! each variant to exactly one docs/api.md error code through [`OrderError::kind`], and commands share
//! most of their failure modes (authorization, lifecycle, pricing).

use crate::config::FieldError;
use crate::ids::*;
use crate::order::Status;
use rust_decimal::Decimal;

/// The docs/api.md error family a rule violation belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 403 `forbidden`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
    /// 409 `conflict`.
    Conflict,
    /// 409 `order_on_hold`.
    OrderOnHold,
    /// 409 `invalid_transition`.
    InvalidTransition,
    /// 422 `validation`.
    Validation,
    /// 422 `payment_required`.
    PaymentRequired,
    /// 403 `price_override_not_allowed`.
    PriceOverrideNotAllowed,
    /// 422 `coupon_invalid`.
    CouponInvalid,
    /// 422 `source_code_invalid`.
    SourceCodeInvalid,
}

/// Why an order command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// The acting user is not a user of the order's call center.
    #[error("user is not a member of call center {0}")]
    NotInCallCenter(CallCenterId),
    /// The customer belongs to another call center.
    #[error("customer {0} belongs to another call center")]
    CustomerElsewhere(CustomerId),
    /// The source code is not configured.
    #[error("source code {0} does not exist")]
    SourceCodeUnknown(SourceCode),
    /// The source code's window has not opened yet.
    #[error("source code {0} is not valid yet")]
    SourceCodeNotYetValid(SourceCode),
    /// The source code's window has closed.
    #[error("source code {0} has expired")]
    SourceCodeExpired(SourceCode),
    /// Source codes belong to guided sales, which is off.
    #[error("guided sales is off for this call center, so source codes cannot be used")]
    GuidedSalesOff,
    /// The delivery mode is not configured for the call center.
    #[error("delivery mode {0} is not configured for this call center")]
    DeliveryModeUnknown(DeliveryModeId),
    /// The product does not exist.
    #[error("product {0} does not exist")]
    ProductUnknown(ProductId),
    /// The product does not allow price overrides.
    #[error("product {0} does not allow price overrides")]
    OverrideNotAllowedForProduct(ProductId),
    /// An override needs a reason code.
    #[error("a price override needs an override_reason")]
    OverrideReasonRequired,
    /// The reason code is not configured.
    #[error("reason code {0} is not configured for this call center")]
    ReasonCodeUnknown(ReasonCode),
    /// A manual charge names a reason code that is not configured.
    #[error("reason code {0} is not configured for this call center")]
    ChargeReasonUnknown(ReasonCode),
    /// The override goes further below list price than the role may.
    #[error("an override of {percent}% below list price exceeds the {role} limit of {limit}%; a supervisor must enter it")]
    OverrideBeyondLimit {
        /// Percent below list price asked for.
        percent: Decimal,
        /// The role's limit.
        limit: Decimal,
        /// The role.
        role: &'static str,
    },
    /// A money amount is negative, zero where it must be positive, more precise than the
    /// currency, beyond [`crate::money::MAX_AMOUNT`] (entered, or in the totals it would make),
    /// or more than the balance plus the payment tolerance (a payment).
    #[error("{field}: {message}")]
    InvalidAmount {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Free text is empty, too long, or breaks a rule of [`crate::text`].
    #[error("{field}: {message}")]
    InvalidText {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No line with this id.
    #[error("line {0} not found")]
    LineNotFound(LineId),
    /// The line was removed.
    #[error("line {0} was removed")]
    LineRemoved(LineId),
    /// Nothing to change.
    #[error("the change names no field to change")]
    EmptyChange,
    /// Coupons and payments belong to order completion, which is off.
    #[error("order completion is off for this call center")]
    OrderCompletionOff,
    /// The coupon does not exist.
    #[error("coupon {0} does not exist")]
    CouponUnknown(CouponCode),
    /// The coupon is outside its validity window.
    #[error("coupon {0} is not valid at this time")]
    CouponOutsideWindow(CouponCode),
    /// The order subtotal is below the coupon's minimum.
    #[error("coupon {code} needs an order of at least {min}")]
    CouponMinimum {
        /// The coupon.
        code: CouponCode,
        /// The minimum.
        min: Decimal,
    },
    /// The coupon's usage limit is reached.
    #[error("coupon {0} has reached its usage limit")]
    CouponUsedUp(CouponCode),
    /// The coupon is already on the order.
    #[error("coupon {0} is already applied")]
    CouponAlreadyApplied(CouponCode),
    /// The coupon is not on the order.
    #[error("coupon {0} is not applied to this order")]
    CouponNotApplied(CouponCode),
    /// The payment method is not configured.
    #[error("payment method {0} is not configured for this call center")]
    PaymentMethodUnknown(PaymentMethodId),
    /// No payment with this id.
    #[error("payment {0} not found")]
    PaymentNotFound(PaymentId),
    /// The payment is already void.
    #[error("payment {0} is already voided")]
    PaymentAlreadyVoided(PaymentId),
    /// The hold code is not configured.
    #[error("hold code {0} is not configured for this call center")]
    HoldCodeUnknown(HoldCode),
    /// No hold with this id.
    #[error("hold {0} not found")]
    HoldNotFound(HoldId),
    /// The hold was already cleared.
    #[error("hold {0} is already cleared")]
    HoldAlreadyCleared(HoldId),
    /// The role may not clear holds of this code.
    #[error("role {role} may not clear holds of code {code}")]
    ClearNotAllowed {
        /// The hold code.
        code: HoldCode,
        /// The role.
        role: &'static str,
    },
    /// The order already has as many lines, charges or payments as it may.
    #[error("an order may have at most {max} {field}")]
    TooMany {
        /// What there are too many of: `lines`, `charges` or `payments`.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// Payments exceed the total by more than the tolerance (the total fell after they were
    /// recorded).
    #[error("payments exceed the total by {excess}, more than the payment tolerance; void a payment first")]
    Overpaid {
        /// By how much payments exceed the total.
        excess: Decimal,
    },
    /// Submit with no lines.
    #[error("an order needs at least one line to be submitted")]
    NoLines,
    /// Payments do not cover the total (order completion on).
    #[error("payments must cover the total before submit: balance {balance}")]
    PaymentRequired {
        /// What is still owed.
        balance: Decimal,
    },
    /// An active hold blocks this.
    #[error("the order has an active hold")]
    OnHold,
    /// The order's status does not allow this.
    #[error("cannot {action} an order that is {}", from.as_str())]
    InvalidTransition {
        /// The current status.
        from: Status,
        /// What was tried.
        action: &'static str,
    },
    /// Canceling a submitted order needs a supervisor.
    #[error("only a supervisor may cancel a submitted order")]
    CancelNeedsSupervisor,
}

impl OrderError {
    /// The docs/api.md error family.
    pub fn kind(&self) -> ErrorKind {
        use OrderError::*;
        match self {
            NotInCallCenter(_) | ClearNotAllowed { .. } | CancelNeedsSupervisor => {
                ErrorKind::Forbidden
            }
            LineNotFound(_) | PaymentNotFound(_) | HoldNotFound(_) | CouponNotApplied(_) => {
                ErrorKind::NotFound
            }
            PaymentAlreadyVoided(_) | HoldAlreadyCleared(_) | LineRemoved(_) => ErrorKind::Conflict,
            OnHold => ErrorKind::OrderOnHold,
            InvalidTransition { .. } => ErrorKind::InvalidTransition,
            PaymentRequired { .. } => ErrorKind::PaymentRequired,
            OverrideNotAllowedForProduct(_) | OverrideBeyondLimit { .. } => {
                ErrorKind::PriceOverrideNotAllowed
            }
            CouponUnknown(_)
            | CouponOutsideWindow(_)
            | CouponMinimum { .. }
            | CouponUsedUp(_)
            | CouponAlreadyApplied(_) => ErrorKind::CouponInvalid,
            SourceCodeUnknown(_) | SourceCodeNotYetValid(_) | SourceCodeExpired(_) => {
                ErrorKind::SourceCodeInvalid
            }
            CustomerElsewhere(_)
            | GuidedSalesOff
            | DeliveryModeUnknown(_)
            | ProductUnknown(_)
            | OverrideReasonRequired
            | ReasonCodeUnknown(_)
            | ChargeReasonUnknown(_)
            | InvalidAmount { .. }
            | InvalidText { .. }
            | EmptyChange
            | OrderCompletionOff
            | PaymentMethodUnknown(_)
            | HoldCodeUnknown(_)
            | TooMany { .. }
            | Overpaid { .. }
            | NoLines => ErrorKind::Validation,
        }
    }

    /// For validation errors, the request field at fault and what is wrong with it. The message
    /// names the field no second time (`phone` / `must have at least 3 digits`): whoever shows
    /// both writes `field: message` once.
    pub fn field_error(&self) -> Option<FieldError> {
        use OrderError::*;
        if let InvalidAmount { field, message } | InvalidText { field, message } = self {
            return Some(FieldError::new(*field, message.clone()));
        }
        let field = match self {
            CustomerElsewhere(_) => "customer_id",
            GuidedSalesOff => "source_code",
            DeliveryModeUnknown(_) => "delivery_mode",
            ProductUnknown(_) => "product_id",
            OverrideReasonRequired | ReasonCodeUnknown(_) => "override_reason",
            ChargeReasonUnknown(_) => "reason_code",
            EmptyChange => "body",
            OrderCompletionOff => "call_center.order_completion",
            PaymentMethodUnknown(_) => "method",
            HoldCodeUnknown(_) => "code",
            NoLines => "lines",
            TooMany { field, .. } => field,
            Overpaid { .. } => "payments",
            _ => return None,
        };
        Some(FieldError::new(field, self.to_string()))
    }
}
