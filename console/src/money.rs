//! Money as agents read it: in the call center's currency, to its minor unit, with the
//! currency's sign where one is well known (`€12.50`, `$3.00`), else its code (`CHF 12.50`).

use rust_decimal::Decimal;
use switchboard_domain::money::Currency;

fn symbol(code: &str) -> Option<&'static str> {
    Some(match code {
        "EUR" => "€",
        "USD" => "$",
        "GBP" => "£",
        "JPY" => "¥",
        "INR" => "₹",
        _ => return None,
    })
}

/// Formats an amount in a currency (by its ISO code; an unknown code keeps two decimals).
pub fn format(amount: Decimal, currency_code: &str) -> String {
    let places = Currency::parse(currency_code)
        .map(|c| c.minor_units())
        .unwrap_or(2);
    let rounded = amount.round_dp(places);
    let digits = format!("{:.*}", places as usize, rounded.abs());
    let (int, frac) = digits.split_once('.').unwrap_or((&digits, ""));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let number = if frac.is_empty() {
        grouped
    } else {
        format!("{grouped}.{frac}")
    };
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() {
        "−"
    } else {
        ""
    };
    match symbol(currency_code) {
        Some(s) => format!("{sign}{s}{number}"),
        None => format!("{sign}{currency_code} {number}"),
    }
}

/// An amount as a form field holds it (no sign, no grouping): `12.50`.
pub fn plain(amount: Decimal, currency_code: &str) -> String {
    let places = Currency::parse(currency_code)
        .map(|c| c.minor_units())
        .unwrap_or(2);
    format!("{:.*}", places as usize, amount.round_dp(places))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn formats_in_the_currency() {
        assert_eq!(format(d("12.5"), "EUR"), "€12.50");
        assert_eq!(format(d("1234567.891"), "USD"), "$1,234,567.89");
        assert_eq!(format(d("-3"), "GBP"), "−£3.00");
        assert_eq!(format(d("1500"), "JPY"), "¥1,500");
        assert_eq!(format(d("0.1"), "CHF"), "CHF 0.10");
        assert_eq!(format(d("0"), "EUR"), "€0.00");
        assert_eq!(plain(d("45.9"), "EUR"), "45.90");
    }
}
