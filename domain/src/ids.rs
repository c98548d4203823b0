//! Identifiers. Entities that nodes create concurrently (orders, customers, lines, payments,
//! holds, charges, notes, users) carry UUIDs minted by the caller; configuration entities that an
//! admin names (call centers, products, codes) carry short validated strings.

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                $name(u)
            }
        }
    };
}

uuid_id!(
    /// An order (UUID v7 for orders taken by agents, v5 for continuity children).
    OrderId
);
uuid_id!(
    /// A customer.
    CustomerId
);
uuid_id!(
    /// An order line; a fresh id per added line, so concurrent additions never collide.
    LineId
);
uuid_id!(
    /// A payment recorded on an order.
    PaymentId
);
uuid_id!(
    /// A hold on an order. System holds use a UUID v5 of the order and the violation.
    HoldId
);
uuid_id!(
    /// A manual charge on an order.
    ChargeId
);
uuid_id!(
    /// A note on an order or a customer.
    NoteId
);
uuid_id!(
    /// A user (agent, supervisor or admin).
    UserId
);
uuid_id!(
    /// A catalog request recorded for a customer.
    CatalogRequestId
);
uuid_id!(
    /// A Switchboard node.
    NodeId
);

/// Why a code-like identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(pub String);

/// Most characters a code has.
pub const CODE_MAX_LEN: usize = 64;

/// The one shape of every admin-chosen identifier, as a regular expression (with
/// [`CODE_MAX_LEN`] as its maximum length): segments of ASCII letters, digits, `-` and `_`, each
/// starting with a letter or digit, separated by single dots. So `north`, `spring-26`,
/// `system.released_while_held` and `2.0` are codes; `..`, `.a.`, `a.`, `a..b` and `-a` are not.
pub const CODE_PATTERN: &str = r"^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*$";

/// The rule of [`CODE_PATTERN`] in words: what a refusal says.
pub const CODE_RULE: &str = "must be 1 to 64 ASCII letters, digits, '-', '_' and '.', starting \
     with a letter or digit, with a letter or digit after each '.'";

/// Checks the shape shared by every admin-chosen identifier ([`CODE_PATTERN`], 1 to
/// [`CODE_MAX_LEN`] characters), so it is safe in URLs, keys, file names and logs.
pub fn check_code(s: &str) -> Result<(), CodeError> {
    let b = s.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= CODE_MAX_LEN
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'.')
        && b.iter().enumerate().all(|(i, &c)| {
            // The first character and each one after a dot is a letter or digit.
            let starts_segment = i == 0 || b[i - 1] == b'.';
            !starts_segment || c.is_ascii_alphanumeric()
        })
        && b.last() != Some(&b'.');
    if ok {
        Ok(())
    } else {
        Err(CodeError(CODE_RULE.into()))
    }
}

macro_rules! code_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses an admin-chosen code (see [`check_code`]).
            pub fn parse(s: impl Into<String>) -> Result<Self, CodeError> {
                let s = s.into();
                check_code(&s)?;
                Ok($name(s))
            }

            /// The code as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::parse(s).map_err(serde::de::Error::custom)
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
    };
}

code_id!(
    /// A call center (sales channel).
    CallCenterId
);
code_id!(
    /// A product.
    ProductId
);
code_id!(
    /// A price group (named price list).
    PriceGroupId
);
code_id!(
    /// A catalog source code.
    SourceCode
);
code_id!(
    /// A coupon code.
    CouponCode
);
code_id!(
    /// A payment method configured for a call center.
    PaymentMethodId
);
code_id!(
    /// A delivery mode.
    DeliveryModeId
);
code_id!(
    /// A hold code.
    HoldCode
);
code_id!(
    /// A reason code (price overrides, manual charges).
    ReasonCode
);
code_id!(
    /// A charge code on a manual charge.
    ChargeCode
);
code_id!(
    /// A catalog.
    CatalogId
);
