//! Money and quantities. Money is `rust_decimal::Decimal`, one currency per call center, rounded
//! half-even to the currency's minor unit at each line and at the totals. Never `f64`.
//!
//! **Bounds.** Every amount is at most [`MAX_AMOUNT`] (one billion): what is entered (unit
//! prices, list prices in products and price groups, delivery-charge tiers, manual charges, coupon
//! amounts and minimums, payments, the payment tolerance) and what an order derives from them
//! (line totals, subtotal, discount, charges, total, paid). An order holds at most [`MAX_LINES`]
//! active lines, [`MAX_CHARGES`] manual charges and [`MAX_PAYMENTS`] payments, and a line at most
//! [`Quantity::MAX`] units. So even summed without any check, `MAX_LINES × Quantity::MAX ×
//! MAX_AMOUNT` = 10^18 with at most 3 decimals (a mantissa of 10^21) stays far below what a
//! `Decimal` holds (a 96-bit mantissa, about 7.9 × 10^28); the domain computes with checked
//! arithmetic all the same, so an order that arrives out of bounds (from an older node's
//! document) is refused by commands, never a panic.
//!
//! **Precision.** An amount has no more decimals than its currency's minor unit
//! ([`Currency::fits`]); where no currency is known (catalog prices, which every call center
//! reads), no more than [`MAX_MINOR_UNITS`].

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest amount of money anywhere: 1,000,000,000 in the currency's major unit. See the
/// module documentation for what it bounds and why sums of bounded amounts cannot overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// Most active (not removed) lines an order may have.
pub const MAX_LINES: usize = 1_000;

/// Most manual charges an order may have.
pub const MAX_CHARGES: usize = 100;

/// Most payments an order may record, voided ones included.
pub const MAX_PAYMENTS: usize = 100;

/// The most decimals any currency has ([`Currency::minor_units`]): the precision of amounts
/// whose currency is not known where they are entered (catalog prices).
pub const MAX_MINOR_UNITS: u32 = 3;

/// Whether zero is an acceptable amount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sign {
    /// Zero or more (prices, charges, minimums, tolerances).
    NonNegative,
    /// More than zero (payments, amount coupons).
    Positive,
}

/// Why an amount was refused. It says the rule; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct AmountError(pub String);

/// Checks an amount: its sign, at most [`MAX_AMOUNT`], and no more decimals than each currency
/// in `currencies` allows (no more than [`MAX_MINOR_UNITS`] when `currencies` is empty).
pub fn check_amount<'a>(
    amount: Decimal,
    sign: Sign,
    currencies: impl IntoIterator<Item = &'a Currency>,
) -> Result<(), AmountError> {
    match sign {
        Sign::Positive if amount <= Decimal::ZERO => {
            return Err(AmountError("must be positive".into()))
        }
        Sign::NonNegative if amount < Decimal::ZERO => {
            return Err(AmountError("must not be negative".into()))
        }
        _ => {}
    }
    if amount > MAX_AMOUNT {
        return Err(AmountError(format!("must be at most {MAX_AMOUNT}")));
    }
    let mut any = false;
    for c in currencies {
        any = true;
        if !c.fits(amount) {
            return Err(AmountError(format!("has more decimals than {c} allows")));
        }
    }
    if !any && amount.normalize().scale() > MAX_MINOR_UNITS {
        return Err(AmountError(format!(
            "must have at most {MAX_MINOR_UNITS} decimals"
        )));
    }
    Ok(())
}

/// An ISO 4217 currency code with its minor unit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Currency(String);

/// Why a currency code was refused. It says the rule; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a three-letter ISO 4217 code such as EUR")]
pub struct CurrencyError;

impl Currency {
    /// Parses a three-letter upper-case code.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code.to_string()))
        } else {
            Err(CurrencyError)
        }
    }

    /// The code, e.g. `EUR`.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point in this currency (ISO 4217).
    pub fn minor_units(&self) -> u32 {
        match self.0.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// Rounds half-even (banker's rounding) to the minor unit.
    pub fn round(&self, amount: Decimal) -> Decimal {
        let mut r = amount
            .round_dp_with_strategy(self.minor_units(), RoundingStrategy::MidpointNearestEven);
        r.rescale(self.minor_units());
        r
    }

    /// Whether `amount` has no more decimals than the currency allows.
    pub fn fits(&self, amount: Decimal) -> bool {
        amount.normalize().scale() <= self.minor_units()
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A count of units on a line: at least 1, at most 1,000,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

/// Why a quantity was refused. It says the rule; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number from 1 to 1000000")]
pub struct QuantityError;

impl Quantity {
    /// The largest quantity one line may carry.
    pub const MAX: u32 = 1_000_000;

    /// Parses a positive quantity.
    pub fn new(n: i64) -> Result<Self, QuantityError> {
        if (1..=Self::MAX as i64).contains(&n) {
            Ok(Quantity(n as u32))
        } else {
            Err(QuantityError)
        }
    }

    /// The count.
    pub fn get(self) -> u32 {
        self.0
    }

    /// As a decimal, for pricing.
    pub fn as_decimal(self) -> Decimal {
        Decimal::from(self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        Quantity::new(n).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn rounds_half_even_to_the_minor_unit() {
        let eur = Currency::parse("EUR").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let kwd = Currency::parse("KWD").unwrap();
        let cases = [
            (&eur, "0.125", "0.12"),
            (&eur, "0.135", "0.14"),
            (&eur, "0.145", "0.14"),
            (&eur, "-0.125", "-0.12"),
            (&eur, "2", "2.00"),
            (&jpy, "2.5", "2"),
            (&jpy, "3.5", "4"),
            (&kwd, "1.0005", "1.000"),
            (&kwd, "1.0015", "1.002"),
        ];
        for (cur, input, want) in cases {
            assert_eq!(cur.round(d(input)).to_string(), want, "{cur} {input}");
        }
        assert!(eur.fits(d("1.10")) && eur.fits(d("1.100")) && !eur.fits(d("1.101")));
        assert!(Currency::parse("eur").is_err() && Currency::parse("EURO").is_err());
    }

    #[test]
    fn quantities_are_positive_and_bounded() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert_eq!(Quantity::new(1).unwrap().get(), 1);
        assert!(Quantity::new(1_000_000).is_ok());
        assert!(Quantity::new(1_000_001).is_err());
    }
}
