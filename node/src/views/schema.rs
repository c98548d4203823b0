//! The shapes of values that the OpenAPI document states with a pattern, in one place. Body
//! types name a shape with a custom schema format (`#[schema(format = "money")]`);
//! [`expand_formats`] replaces each such format in the generated document with its pattern and
//! length, and the request validator (`api::validate`) holds bodies, queries and path parameters
//! to exactly those, answering a failed pattern with the rule in words from [`PATTERN_RULES`].
//!
//! The shapes follow the domain's rules: codes as `switchboard_domain::ids` checks them, amounts
//! within the money bounds, free text without control, bidirectional-formatting or invisible
//! characters. What a pattern cannot say (a currency's minor unit, the joiners' context, limits
//! of a role) is still the domain's to refuse, with a 422 naming the field.

use serde_json::{json, Value};
use std::sync::LazyLock;
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;

/// An admin-chosen identifier: the domain's one code pattern.
pub use switchboard_domain::ids::CODE_PATTERN;
/// Most characters of a code (the domain's bound).
pub const CODE_MAX_LEN: u64 = switchboard_domain::ids::CODE_MAX_LEN as u64;
/// An amount of money: a decimal string, not negative, at most 1,000,000,000 with at most 3
/// decimals (the money bounds of the domain; a currency may allow fewer decimals).
pub const MONEY_PATTERN: &str = r"^(1000000000(\.0{1,3})?|(0|[1-9][0-9]{0,8})(\.[0-9]{1,3})?)$";
/// A percentage: a decimal string from 0 to 100 with at most 2 decimals.
pub const PERCENT_PATTERN: &str = r"^(100(\.0{1,2})?|(0|[1-9][0-9]?)(\.[0-9]{1,2})?)$";
/// An ISO 4217 currency code.
pub const CURRENCY_PATTERN: &str = r"^[A-Z]{3}$";
/// An email address: a local part, `@`, and a domain with a dot inside it.
pub const EMAIL_PATTERN: &str = r"^[^\s@]+@[^\s@.][^\s@]*\.[^\s@]*[^\s@.]$";
/// A peer's local name.
pub const PEER_NAME_PATTERN: &str = r"^[A-Za-z0-9._-]{1,64}$";
/// A peer's base URL.
pub const URL_PATTERN: &str = r"^https?://[^\s]+$";

/// Characters no stored text holds besides the C0 controls: C1 controls, line and paragraph
/// separators, bidirectional formatting and invisible characters.
const NEVER: &str = r"\u007F-\u009F\u00AD\u061C\u180E\u200B\u200E\u200F\u2028-\u202E\u2060-\u2064\u2066-\u2069\uFEFF";
/// C0 controls refused in one-line text: all of them.
const C0_LINE: &str = r"\u0000-\u001F";
/// C0 controls refused in multi-line text: all but line feed and carriage return.
const C0_LINES: &str = r"\u0000-\u0009\u000B\u000C\u000E-\u001F";

fn any_of(c0: &str) -> String {
    format!(r"^[^{c0}{NEVER}]*$")
}

fn not_blank(c0: &str) -> String {
    format!(r"^[^{c0}{NEVER}]*[^\s{c0}{NEVER}][^{c0}{NEVER}]*$")
}

/// One line of text (possibly blank).
pub static LINE_PATTERN: LazyLock<String> = LazyLock::new(|| any_of(C0_LINE));
/// One line of text with something in it besides white space (names).
pub static NAME_PATTERN: LazyLock<String> = LazyLock::new(|| not_blank(C0_LINE));
/// Text of one or more lines (possibly blank): line feeds allowed.
pub static LINES_PATTERN: LazyLock<String> = LazyLock::new(|| any_of(C0_LINES));
/// Text of one or more lines with something in it besides white space (notes).
pub static TEXT_PATTERN: LazyLock<String> = LazyLock::new(|| not_blank(C0_LINES));

const TEXT_RULE: &str =
    "must not contain control, bidirectional-formatting or invisible characters";

/// Each pattern with the rule a refusal states.
pub static PATTERN_RULES: LazyLock<Vec<(String, &'static str)>> = LazyLock::new(|| {
    vec![
            (CODE_PATTERN.into(), "must be ASCII letters, digits, '-', '_' and '.', starting with a letter or digit, with a letter or digit after each '.'"),
            (MONEY_PATTERN.into(), "must be an amount as a decimal string, from 0 to 1000000000 with at most 3 decimals, like \"19.99\""),
            (PERCENT_PATTERN.into(), "must be a percentage as a decimal string, from 0 to 100 with at most 2 decimals, like \"12.5\""),
            (CURRENCY_PATTERN.into(), "must be an ISO 4217 currency code like EUR"),
            (EMAIL_PATTERN.into(), "must be an email address"),
            (PEER_NAME_PATTERN.into(), "must be 1 to 64 ASCII letters, digits, '-', '_' or '.'"),
            (URL_PATTERN.into(), "must be an http:// or https:// URL"),
            (LINE_PATTERN.clone(), "must be one line and must not contain control, bidirectional-formatting or invisible characters"),
            (NAME_PATTERN.clone(), "must not be blank, must be one line and must not contain control, bidirectional-formatting or invisible characters"),
            (LINES_PATTERN.clone(), TEXT_RULE),
            (TEXT_PATTERN.clone(), "must not be blank and must not contain control, bidirectional-formatting or invisible characters"),
        ]
});

/// The schema keywords a custom format stands for, or `None` for a standard format.
fn keywords(format: &str) -> Option<Value> {
    Some(match format {
        "code" => json!({"pattern": CODE_PATTERN, "maxLength": CODE_MAX_LEN}),
        "money" => json!({"pattern": MONEY_PATTERN, "maxLength": 14}),
        "percent" => json!({"pattern": PERCENT_PATTERN, "maxLength": 6}),
        "currency" => json!({"pattern": CURRENCY_PATTERN}),
        "email" => json!({"pattern": EMAIL_PATTERN, "maxLength": 254}),
        "peer-name" => json!({"pattern": PEER_NAME_PATTERN}),
        "url" => json!({"pattern": URL_PATTERN}),
        "line" => json!({"pattern": *LINE_PATTERN}),
        "name" => json!({"pattern": *NAME_PATTERN}),
        "lines" => json!({"pattern": *LINES_PATTERN}),
        "text" => json!({"pattern": *TEXT_PATTERN}),
        _ => return None,
    })
}

/// Replaces every custom format in `doc` with the keywords it stands for (a length the field
/// states itself wins over the format's).
pub fn expand_formats(doc: &mut Value) {
    match doc {
        Value::Object(m) => {
            if let Some(k) = m.get("format").and_then(Value::as_str).and_then(keywords) {
                m.remove("format");
                for (key, value) in k.as_object().into_iter().flatten() {
                    m.entry(key.clone()).or_insert_with(|| value.clone());
                }
            }
            m.values_mut().for_each(expand_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(expand_formats),
        _ => {}
    }
}

/// Schema-only types: what a field holds when its Rust type says less (a `String` that is a code,
/// a `Decimal` that is money). Fields name them with `#[schema(value_type = ...)]`; they are
/// never built.
macro_rules! string_shape {
    ($(#[$doc:meta])* $name:ident, $format:literal) => {
        $(#[$doc])*
        pub enum $name {}

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::Custom($format.into())))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

string_shape!(
    /// An admin-chosen identifier ([`CODE_PATTERN`]).
    Code,
    "code"
);
string_shape!(
    /// An amount of money as a decimal string ([`MONEY_PATTERN`]).
    Money,
    "money"
);
string_shape!(
    /// A percentage as a decimal string ([`PERCENT_PATTERN`]).
    Percent,
    "percent"
);

/// Schema-only enums of names: what a field holds when its Rust type is a domain enum (the domain
/// knows nothing of OpenAPI). Each is checked against the domain's own parsing in the tests.
macro_rules! name_enum {
    ($(#[$doc:meta])* $name:ident, [$($value:literal),+ $(,)?]) => {
        $(#[$doc])*
        pub enum $name {}

        impl $name {
            /// The names, as the API spells them.
            pub const NAMES: &'static [&'static str] = &[$($value),+];
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(Self::NAMES.iter().copied()))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

name_enum!(
    /// A kind of payment method.
    PaymentKindName,
    ["card", "cash", "check", "on_account", "voucher"]
);
name_enum!(
    /// A user's role.
    RoleName,
    ["agent", "supervisor", "admin"]
);
name_enum!(
    /// A kind of coupon.
    CouponKindName,
    ["percent", "amount"]
);

/// Free key/value text (an address, a ship-to, financial dimensions): at most 20 entries, keys of
/// 1 to 64 characters, values of at most 500, each one line.
pub enum TextMap {}

impl utoipa::PartialSchema for TextMap {
    fn schema() -> RefOr<Schema> {
        let line = |min: usize, max: usize| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::Custom("line".into())))
                .min_length(Some(min))
                .max_length(Some(max))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property_names(Some(line(1, 64)))
            .additional_properties(Some(line(0, 500)))
            .max_properties(Some(20))
            .into()
    }
}

impl utoipa::ToSchema for TextMap {}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, s: &str) -> bool {
        regex::Regex::new(pattern)
            .expect("pattern compiles")
            .is_match(s)
    }

    #[test]
    fn patterns_say_the_domain_rules() {
        for (p, _) in PATTERN_RULES.iter() {
            regex::Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        for ok in [
            "north",
            "spring-26",
            "system.released_while_held",
            "2.0",
            "a_b",
        ] {
            assert!(matches(CODE_PATTERN, ok), "{ok}");
        }
        for bad in ["", "..", ".a.", "a.", "a..b", "-a", "a b", "é"] {
            assert!(!matches(CODE_PATTERN, bad), "{bad}");
        }
        for ok in [
            "0",
            "19.99",
            "0.005",
            "999999999.999",
            "1000000000",
            "1000000000.000",
        ] {
            assert!(matches(MONEY_PATTERN, ok), "{ok}");
        }
        for bad in [
            "",
            "-1",
            "1.",
            ".5",
            "1e3",
            "01",
            "1000000000.01",
            "1000000001",
            "1.2345",
            " 1",
        ] {
            assert!(!matches(MONEY_PATTERN, bad), "{bad}");
        }
        // The pattern says the domain's bounds: the largest amount and its finest step.
        use switchboard_domain::money::{MAX_AMOUNT, MAX_MINOR_UNITS};
        let step = switchboard_domain::Decimal::new(1, MAX_MINOR_UNITS);
        let finest = (MAX_AMOUNT - step).to_string();
        assert!(matches(MONEY_PATTERN, &MAX_AMOUNT.to_string()));
        assert!(matches(MONEY_PATTERN, &finest), "{finest}");
        assert!(!matches(MONEY_PATTERN, &(MAX_AMOUNT + step).to_string()));
        let finer = switchboard_domain::Decimal::new(1, MAX_MINOR_UNITS + 1).to_string();
        assert!(!matches(MONEY_PATTERN, &finer), "{finer}");
        for ok in ["0", "5", "12.5", "100", "100.00"] {
            assert!(matches(PERCENT_PATTERN, ok), "{ok}");
        }
        for bad in ["100.01", "101", "-1", "1.234"] {
            assert!(!matches(PERCENT_PATTERN, bad), "{bad}");
        }
        assert!(matches(EMAIL_PATTERN, "carla@example.com"));
        for bad in ["carla", "a@b", "a@.b", "a@b.", "a b@c.d", "a@b@c.d"] {
            assert!(!matches(EMAIL_PATTERN, bad), "{bad}");
        }
        assert!(matches(&NAME_PATTERN, "Carla Jones"));
        assert!(matches(&NAME_PATTERN, "Zoë 👩‍👩‍👧"));
        for bad in [
            "",
            "   ",
            "a\u{1b}[31m",
            "a\nb",
            "a\u{202E}b",
            "a\u{200B}b",
            "a\tb",
        ] {
            assert!(!matches(&NAME_PATTERN, bad), "{bad:?}");
        }
        assert!(matches(&LINE_PATTERN, ""));
        assert!(matches(&TEXT_PATTERN, "two\nlines\r\n"));
        assert!(!matches(&TEXT_PATTERN, "\n"));
        assert!(!matches(&LINES_PATTERN, "bell\u{7}"));
    }

    #[test]
    fn name_enums_are_the_domain_enums() {
        use switchboard_domain::config::{CouponKind, PaymentKind, Role};
        fn parses<T: serde::de::DeserializeOwned>(names: &[&str]) {
            for n in names {
                serde_json::from_value::<T>(json!(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
            }
        }
        parses::<PaymentKind>(PaymentKindName::NAMES);
        parses::<Role>(RoleName::NAMES);
        parses::<CouponKind>(CouponKindName::NAMES);
        // Names outside the lists are refused by the domain too.
        for other in ["bogus", "Card", ""] {
            assert!(serde_json::from_value::<PaymentKind>(json!(other)).is_err());
            assert!(serde_json::from_value::<Role>(json!(other)).is_err());
            assert!(serde_json::from_value::<CouponKind>(json!(other)).is_err());
        }
    }

    #[test]
    fn custom_formats_become_patterns() {
        let mut doc = json!({"a": {"type": "string", "format": "code"},
            "b": {"type": "string", "format": "name", "maxLength": 200},
            "c": {"type": "string", "format": "uuid"}});
        expand_formats(&mut doc);
        assert_eq!(doc["a"]["pattern"], CODE_PATTERN);
        assert_eq!(doc["a"]["maxLength"], 64);
        assert!(doc["a"].get("format").is_none());
        assert_eq!(doc["b"]["maxLength"], 200);
        assert_eq!(doc["c"]["format"], "uuid");
    }

    /// The document's text patterns never refuse what the domain's text rules accept (a request
    /// the domain would take must pass the validator), over the whole Basic Multilingual Plane:
    /// the domain may refuse more (supplementary-plane tags, misplaced joiners), never less.
    #[test]
    fn text_patterns_refuse_only_what_the_domain_refuses() {
        use switchboard_domain::text::{NAME, NOTE};
        let one_line = regex::Regex::new(&NAME_PATTERN).expect("pattern");
        let lines = regex::Regex::new(&TEXT_PATTERN).expect("pattern");
        let mut refused = 0;
        for c in (0u32..=0xFFFF).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            if !one_line.is_match(&text) {
                refused += 1;
                assert!(
                    NAME.check(&text).is_err(),
                    "U+{:04X}: the schema refuses, the domain takes",
                    c as u32
                );
            }
            if !lines.is_match(&text) {
                assert!(
                    NOTE.check(&text).is_err(),
                    "U+{:04X} in a note: the schema refuses, the domain takes",
                    c as u32
                );
            }
        }
        // The controls, bidi and invisible characters listed above, not nothing.
        assert!(refused > 60, "{refused}");
    }
}
