//! Every `OrderError` maps to one docs/api.md error family, validation errors name their field, and
//! messages follow the Rust API guidelines (lowercase, no trailing period).

use super::fixture::*;
use crate::order::Status;
use crate::*;
use uuid::Uuid;

/// The variant's position; a match without a wildcard, so a new variant fails to compile here
/// until it has a row in the table below.
fn variant(e: &OrderError) -> usize {
    use OrderError::*;
    match e {
        NotInCallCenter(_) => 0,
        CustomerElsewhere(_) => 1,
        SourceCodeUnknown(_) => 2,
        SourceCodeNotYetValid(_) => 3,
        SourceCodeExpired(_) => 4,
        GuidedSalesOff => 5,
        DeliveryModeUnknown(_) => 6,
        ProductUnknown(_) => 7,
        OverrideNotAllowedForProduct(_) => 8,
        OverrideReasonRequired => 9,
        ReasonCodeUnknown(_) => 10,
        OverrideBeyondLimit { .. } => 11,
        InvalidAmount { .. } => 12,
        InvalidText { .. } => 13,
        LineNotFound(_) => 14,
        LineRemoved(_) => 15,
        EmptyChange => 16,
        OrderCompletionOff => 17,
        CouponUnknown(_) => 18,
        CouponOutsideWindow(_) => 19,
        CouponMinimum { .. } => 20,
        CouponUsedUp(_) => 21,
        CouponAlreadyApplied(_) => 22,
        CouponNotApplied(_) => 23,
        PaymentMethodUnknown(_) => 24,
        PaymentNotFound(_) => 25,
        PaymentAlreadyVoided(_) => 26,
        HoldCodeUnknown(_) => 27,
        HoldNotFound(_) => 28,
        HoldAlreadyCleared(_) => 29,
        ClearNotAllowed { .. } => 30,
        NoLines => 31,
        PaymentRequired { .. } => 32,
        OnHold => 33,
        InvalidTransition { .. } => 34,
        CancelNeedsSupervisor => 35,
        ChargeReasonUnknown(_) => 36,
        TooMany { .. } => 37,
        Overpaid { .. } => 38,
    }
}
const VARIANTS: usize = 39;

#[test]
fn every_error_maps_to_one_kind_and_validation_errors_name_a_field() {
    use ErrorKind as K;
    use OrderError::*;
    let u = Uuid::from_u128(7);
    let cases: Vec<(OrderError, ErrorKind, Option<&str>)> = vec![
        (NotInCallCenter(ccid("north")), K::Forbidden, None),
        (
            CustomerElsewhere(CustomerId(u)),
            K::Validation,
            Some("customer_id"),
        ),
        (SourceCodeUnknown(scode("X")), K::SourceCodeInvalid, None),
        (
            SourceCodeNotYetValid(scode("X")),
            K::SourceCodeInvalid,
            None,
        ),
        (SourceCodeExpired(scode("X")), K::SourceCodeInvalid, None),
        (GuidedSalesOff, K::Validation, Some("source_code")),
        (
            DeliveryModeUnknown(dmode("x")),
            K::Validation,
            Some("delivery_mode"),
        ),
        (ProductUnknown(pid("x")), K::Validation, Some("product_id")),
        (
            OverrideNotAllowedForProduct(pid("x")),
            K::PriceOverrideNotAllowed,
            None,
        ),
        (
            OverrideReasonRequired,
            K::Validation,
            Some("override_reason"),
        ),
        (
            ReasonCodeUnknown(rcode("x")),
            K::Validation,
            Some("override_reason"),
        ),
        (
            ChargeReasonUnknown(rcode("x")),
            K::Validation,
            Some("reason_code"),
        ),
        (
            OverrideBeyondLimit {
                percent: d("6"),
                limit: d("5"),
                role: "agent",
            },
            K::PriceOverrideNotAllowed,
            None,
        ),
        (
            InvalidAmount {
                field: "amount",
                message: "must be positive".into(),
            },
            K::Validation,
            Some("amount"),
        ),
        (
            InvalidText {
                field: "text",
                message: "must not be empty".into(),
            },
            K::Validation,
            Some("text"),
        ),
        (LineNotFound(LineId(u)), K::NotFound, None),
        (LineRemoved(LineId(u)), K::Conflict, None),
        (EmptyChange, K::Validation, Some("body")),
        (
            OrderCompletionOff,
            K::Validation,
            Some("call_center.order_completion"),
        ),
        (CouponUnknown(coupon("X")), K::CouponInvalid, None),
        (CouponOutsideWindow(coupon("X")), K::CouponInvalid, None),
        (
            CouponMinimum {
                code: coupon("X"),
                min: d("50"),
            },
            K::CouponInvalid,
            None,
        ),
        (CouponUsedUp(coupon("X")), K::CouponInvalid, None),
        (CouponAlreadyApplied(coupon("X")), K::CouponInvalid, None),
        (CouponNotApplied(coupon("X")), K::NotFound, None),
        (
            PaymentMethodUnknown(pmethod("x")),
            K::Validation,
            Some("method"),
        ),
        (PaymentNotFound(PaymentId(u)), K::NotFound, None),
        (PaymentAlreadyVoided(PaymentId(u)), K::Conflict, None),
        (HoldCodeUnknown(hcode("x")), K::Validation, Some("code")),
        (HoldNotFound(HoldId(u)), K::NotFound, None),
        (HoldAlreadyCleared(HoldId(u)), K::Conflict, None),
        (
            ClearNotAllowed {
                code: hcode("x"),
                role: "agent",
            },
            K::Forbidden,
            None,
        ),
        (NoLines, K::Validation, Some("lines")),
        (
            TooMany {
                field: "charges",
                max: 100,
            },
            K::Validation,
            Some("charges"),
        ),
        (
            Overpaid { excess: d("0.01") },
            K::Validation,
            Some("payments"),
        ),
        (
            PaymentRequired { balance: d("1.00") },
            K::PaymentRequired,
            None,
        ),
        (OnHold, K::OrderOnHold, None),
        (
            InvalidTransition {
                from: Status::Submitted,
                action: "submit",
            },
            K::InvalidTransition,
            None,
        ),
        (CancelNeedsSupervisor, K::Forbidden, None),
    ];
    let mut seen = [false; VARIANTS];
    for (err, kind, field) in &cases {
        seen[variant(err)] = true;
        assert_eq!(err.kind(), *kind, "{err:?}");
        let fe = err.field_error();
        assert_eq!(fe.as_ref().map(|f| f.field.as_str()), *field, "{err:?}");
        assert_eq!(
            fe.is_some(),
            *kind == K::Validation,
            "validation errors, and only they, name a field: {err:?}"
        );
        if let Some(fe) = fe {
            // `field: message` is what a client shows: the message must not name the field again.
            assert!(
                !fe.message.starts_with(&format!("{}:", fe.field)),
                "field named twice: {fe:?}"
            );
            match err {
                InvalidAmount { message, .. } | InvalidText { message, .. } => {
                    assert_eq!(&fe.message, message, "{err:?}");
                    assert_eq!(err.to_string(), format!("{}: {message}", fe.field));
                }
                _ => assert_eq!(fe.message, err.to_string(), "{err:?}"),
            }
        }
        let msg = err.to_string();
        assert!(
            msg.starts_with(|c: char| c.is_lowercase()),
            "lowercase: {msg}"
        );
        assert!(!msg.ends_with('.'), "no trailing period: {msg}");
    }
    assert!(seen.iter().all(|s| *s), "a variant has no case: {seen:?}");
    assert_eq!(
        InvalidTransition {
            from: Status::OnHold,
            action: "release"
        }
        .to_string(),
        "cannot release an order that is on_hold"
    );
    assert_eq!(
        PaymentRequired { balance: d("0.01") }.to_string(),
        "payments must cover the total before submit: balance 0.01"
    );
}
