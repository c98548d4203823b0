//! Free text (issue 14): control, bidirectional and invisible characters refused everywhere the
//! domain takes text, line feeds only in notes and scripts, NFC stored; codes match one pattern.

use super::fixture::*;
use crate::commands::*;
use crate::config::*;
use crate::customer::*;
use crate::text::{self, Rule, TextError};
use crate::*;
use std::collections::BTreeMap;

/// "é" as `e` + combining acute accent (NFD) and as one code point (NFC).
const E_NFD: &str = "e\u{301}";
const E_NFC: &str = "\u{e9}";

fn refused(message: &str) -> Result<String, TextError> {
    Err(TextError(message.into()))
}

#[test]
fn the_text_rules() {
    let line = Rule::line(10);
    let lines = Rule::lines(10);
    let ten_nfd = E_NFD.repeat(10);
    // (rule, input, stored or the refusal)
    let cases: Vec<(&str, Rule, &str, Result<String, TextError>)> = vec![
        ("plain", line, "Ada", Ok("Ada".into())),
        ("blank allowed", line, "", Ok("".into())),
        (
            "blank refused",
            line.required(),
            "  ",
            refused("must not be empty"),
        ),
        ("NFD becomes NFC", line, E_NFD, Ok(E_NFC.into())),
        (
            "length of the NFC form",
            line,
            &ten_nfd,
            Ok(E_NFC.repeat(10)),
        ),
        (
            "too long",
            line,
            "abcdefghijk",
            refused("must be at most 10 characters"),
        ),
        (
            "NUL",
            line,
            "a\u{0}b",
            refused("must not contain control characters (found U+0000)"),
        ),
        (
            "BEL",
            line,
            "a\u{7}",
            refused("must not contain control characters (found U+0007)"),
        ),
        (
            "a terminal escape",
            line,
            "\u{1b}[31mred",
            refused("must not contain control characters (found U+001B)"),
        ),
        (
            "DEL",
            lines,
            "a\u{7f}",
            refused("must not contain control characters (found U+007F)"),
        ),
        (
            "C1 control",
            lines,
            "a\u{9b}31m",
            refused("must not contain control characters (found U+009B)"),
        ),
        (
            "tab",
            lines,
            "a\tb",
            refused("must not contain control characters (found U+0009)"),
        ),
        (
            "newline in one line",
            line,
            "a\nb",
            refused("must be a single line"),
        ),
        (
            "CR in one line",
            line,
            "a\rb",
            refused("must be a single line"),
        ),
        (
            "line separator in one line",
            line,
            "a\u{2028}b",
            refused("must be a single line"),
        ),
        ("newline in lines", lines, "a\nb", Ok("a\nb".into())),
        ("CRLF in lines", lines, "a\r\nb\rc", Ok("a\nb\nc".into())),
        (
            "line separator in lines",
            lines,
            "a\u{2028}b",
            refused("must not contain control characters (found U+2028)"),
        ),
        (
            "right-to-left override",
            line,
            "abc\u{202e}fed",
            refused("must not contain bidirectional formatting characters (found U+202E)"),
        ),
        (
            "left-to-right embedding",
            line,
            "\u{202a}a",
            refused("must not contain bidirectional formatting characters (found U+202A)"),
        ),
        (
            "first strong isolate",
            lines,
            "a\u{2068}b",
            refused("must not contain bidirectional formatting characters (found U+2068)"),
        ),
        (
            "pop directional isolate",
            line,
            "a\u{2069}",
            refused("must not contain bidirectional formatting characters (found U+2069)"),
        ),
        (
            "right-to-left mark",
            line,
            "a\u{200f}",
            refused("must not contain bidirectional formatting characters (found U+200F)"),
        ),
        (
            "zero-width space",
            line,
            "A\u{200b}da",
            refused("must not contain invisible characters (found U+200B)"),
        ),
        (
            "byte order mark",
            line,
            "\u{feff}Ada",
            refused("must not contain invisible characters (found U+FEFF)"),
        ),
        (
            "word joiner",
            line,
            "a\u{2060}b",
            refused("must not contain invisible characters (found U+2060)"),
        ),
        (
            "soft hyphen",
            line,
            "A\u{ad}da",
            refused("must not contain invisible characters (found U+00AD)"),
        ),
        (
            "tag character",
            line,
            "a\u{e0041}",
            refused("must not contain invisible characters (found U+E0041)"),
        ),
        (
            "zero-width joiner between Latin letters",
            line,
            "A\u{200d}da",
            refused("must not contain invisible characters (found U+200D)"),
        ),
        (
            "zero-width non-joiner at the end",
            line,
            "\u{645}\u{200c}",
            refused("must not contain invisible characters (found U+200C)"),
        ),
        // Persian needs the non-joiner inside words; emoji sequences need the joiner.
        (
            "Persian",
            line,
            "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}",
            Ok("\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}".into()),
        ),
        (
            "emoji sequence",
            line,
            "\u{1f469}\u{200d}\u{1f4bb}",
            Ok("\u{1f469}\u{200d}\u{1f4bb}".into()),
        ),
        (
            "Hebrew without marks",
            line,
            "\u{5e9}\u{5dc}\u{5d5}\u{5dd}",
            Ok("\u{5e9}\u{5dc}\u{5d5}\u{5dd}".into()),
        ),
    ];
    for (case, rule, input, want) in cases {
        assert_eq!(rule.apply(input.to_string()), want, "case: {case}");
        // `check` (validators of built values) agrees with `apply` on what it refuses.
        let stored = text::normalize(input.to_string(), rule.multiline);
        assert_eq!(
            rule.check(&stored).is_ok(),
            rule.apply(input.to_string()).is_ok(),
            "case: {case}"
        );
    }
}

#[test]
fn maps_of_text() {
    let map = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    assert_eq!(
        text::apply_map(map(&[("city", &format!("Z{E_NFD}rich"))])),
        Ok(BTreeMap::from([(
            "city".to_string(),
            format!("Z{E_NFC}rich")
        )]))
    );
    assert_eq!(
        text::apply_map(map(&[("", "x")])),
        Err(TextError("a key must not be empty".into()))
    );
    assert_eq!(
        text::apply_map(map(&[("street", "1\u{1b}[2J")])),
        Err(TextError(
            "a value must not contain control characters (found U+001B)".into()
        ))
    );
    let many: Vec<(String, String)> = (0..21).map(|i| (format!("k{i}"), "v".into())).collect();
    assert_eq!(
        text::apply_map(many.clone()),
        Err(TextError("must have at most 20 entries".into()))
    );
    let many: BTreeMap<String, String> = many.into_iter().collect();
    assert_eq!(
        text::check_map(&many),
        Err(TextError("must have at most 20 entries".into()))
    );
}

fn text_error<T: std::fmt::Debug>(r: Result<T, OrderError>) -> (&'static str, String) {
    match r {
        Err(OrderError::InvalidText { field, message }) => (field, message),
        other => panic!("expected a text refusal, got {other:?}"),
    }
}

const ESC: &str = "\u{1b}[31mred";
const ESC_MSG: &str = "must not contain control characters (found U+001B)";

#[test]
fn every_command_that_takes_text_follows_the_rules() {
    let w = World::new();
    let agent = w.ctx(Role::Agent);
    let c = w.customer();
    let fields = |name: &str| CustomerFields {
        name: Some(name.into()),
        ..CustomerFields::default()
    };
    let cid = CustomerId(w.fresh());
    // Customers.
    assert_eq!(
        text_error(create_customer(agent, cid, fields(ESC))),
        ("name", ESC_MSG.into())
    );
    assert_eq!(
        create_customer(agent, cid, fields(&format!("Ren{E_NFD}e")))
            .unwrap()
            .name,
        format!("Ren{E_NFC}e")
    );
    let bidi = CustomerFields {
        email: Some(Some("ada\u{202e}@example.com".into())),
        ..CustomerFields::default()
    };
    assert_eq!(text_error(update_customer(&c, agent, bidi)).0, "email");
    let nul = CustomerFields {
        email: Some(Some("a\u{0}b@example.com".into())),
        ..CustomerFields::default()
    };
    assert_eq!(text_error(update_customer(&c, agent, nul)).0, "email");
    let address = CustomerFields {
        address: Some(BTreeMap::from([("city".into(), format!("Z{E_NFD}rich"))])),
        ..CustomerFields::default()
    };
    match update_customer(&c, agent, address).unwrap() {
        CustomerEvent::Updated { address, .. } => {
            assert_eq!(address.unwrap()["city"], format!("Z{E_NFC}rich"))
        }
        other => panic!("{other:?}"),
    }
    let bad_address = CustomerFields {
        address: Some(BTreeMap::from([("city".into(), "Oslo\u{200b}".into())])),
        ..CustomerFields::default()
    };
    assert_eq!(
        text_error(update_customer(&c, agent, bad_address)),
        (
            "address",
            "a value must not contain invisible characters (found U+200B)".into()
        )
    );
    assert_eq!(
        text_error(add_customer_note(&c, agent, NoteId(w.fresh()), ESC.into())),
        ("text", ESC_MSG.into())
    );
    match add_customer_note(&c, agent, NoteId(w.fresh()), "called\r\nback".into()).unwrap() {
        CustomerEvent::NoteAdded(n) => assert_eq!(n.text, "called\nback"),
        other => panic!("{other:?}"),
    }

    // Orders.
    let mut new = w.new_order(None, None);
    new.ship_to = BTreeMap::from([("street".into(), ESC.into())]);
    assert_eq!(
        text_error(create_order(agent, new)),
        ("ship_to", format!("a value {ESC_MSG}"))
    );
    let mut new = w.new_order(None, None);
    new.ship_to = BTreeMap::from([("city".into(), format!("Z{E_NFD}rich"))]);
    assert_eq!(
        create_order(agent, new).unwrap().ship_to["city"],
        format!("Z{E_NFC}rich")
    );
    let mut o = w.order();
    w.add(&mut o, "widget", 1);
    let note = |t: &str| add_note(&o, agent, NoteId(w.fresh()), t.into());
    assert_eq!(text_error(note(ESC)), ("text", ESC_MSG.into()));
    assert_eq!(
        text_error(note("abc\u{202e}")).1,
        "must not contain bidirectional formatting characters (found U+202E)"
    );
    match note(&format!("line one\nline {E_NFD}")).unwrap() {
        OrderEvent::NoteAdded(n) => assert_eq!(n.text, format!("line one\nline {E_NFC}")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        text_error(place_hold(
            &o,
            agent,
            HoldId(w.fresh()),
            hcode("fraud"),
            "two\nlines".into()
        )),
        ("reason", "must be a single line".into())
    );
    let mut held = o.clone();
    let h = w.hold(&mut held, "credit");
    assert_eq!(
        text_error(clear_hold(&held, agent, h, "ok\u{7}".into())).0,
        "reason"
    );
    assert_eq!(text_error(cancel(&o, agent, "\u{feff}".into())).0, "reason");
    match cancel(&o, agent, format!("caf{E_NFD}")).unwrap() {
        OrderEvent::Canceled { reason, .. } => assert_eq!(reason, format!("caf{E_NFC}")),
        other => panic!("{other:?}"),
    }
    let payment = |r: &str| AddPayment {
        id: PaymentId(w.fresh()),
        method: pmethod("card"),
        amount: d("1.00"),
        reference: Some(r.into()),
    };
    assert_eq!(
        text_error(add_payment(&o, agent, payment("auth\u{0}1"))).0,
        "reference"
    );
    match add_payment(&o, agent, payment(&format!("{E_NFD}1"))).unwrap() {
        OrderEvent::PaymentAdded(p) => assert_eq!(p.reference, Some(format!("{E_NFC}1"))),
        other => panic!("{other:?}"),
    }
}

fn fields_of(errs: Vec<FieldError>) -> Vec<(String, String)> {
    errs.into_iter().map(|e| (e.field, e.message)).collect()
}

#[test]
fn configuration_text_follows_the_rules() {
    let mut cc = call_center();
    cc.name = ESC.into();
    cc.delivery_modes[0].name = "Std\u{202e}".into();
    cc.hold_codes[0].name = "Fraud\ncheck".into();
    cc.reason_codes[0].name = "\u{200b}".into();
    cc.financial_dimensions
        .insert("region".into(), "north\u{7}".into());
    assert_eq!(
        fields_of(cc.validate()),
        [
            ("name".to_string(), ESC_MSG.to_string()),
            (
                "delivery_modes[0].name".into(),
                "must not contain bidirectional formatting characters (found U+202E)".into()
            ),
            ("hold_codes[0].name".into(), "must be a single line".into()),
            (
                "reason_codes[0].name".into(),
                "must not contain invisible characters (found U+200B)".into()
            ),
            (
                "financial_dimensions".into(),
                "a value must not contain control characters (found U+0007)".into()
            ),
        ]
    );
    let mut cc = call_center();
    cc.name = format!("Z{E_NFD}rich");
    cc.delivery_modes[0].name = E_NFD.into();
    cc.financial_dimensions = BTreeMap::from([(E_NFD.into(), E_NFD.into())]);
    let cc = cc.normalized();
    assert_eq!(
        (
            cc.name.as_str(),
            cc.delivery_modes[0].name.as_str(),
            cc.financial_dimensions.get(E_NFC).map(String::as_str)
        ),
        (format!("Z{E_NFC}rich").as_str(), E_NFC, Some(E_NFC))
    );
    assert!(cc.validate().is_empty());

    let mut p = product("x", "1.00", true);
    p.name = "\u{1b}]0;title\u{7}".into();
    p.script = Some("Say\u{2066}hi".into());
    p.image_url = Some("https://example.com/a b\n".into());
    assert_eq!(
        fields_of(p.validate()),
        [
            ("name".to_string(), ESC_MSG.to_string()),
            ("image_url".into(), "must be a single line".into()),
            (
                "script".into(),
                "must not contain bidirectional formatting characters (found U+2066)".into()
            ),
        ]
    );
    let mut p = product("x", "1.00", true);
    p.name = E_NFD.into();
    p.script = Some(format!("one\r\n{E_NFD}"));
    let p = p.normalized();
    assert_eq!(
        (p.name.as_str(), p.script.as_deref()),
        (E_NFC, Some(format!("one\n{E_NFC}").as_str()))
    );
    assert!(p.validate().is_empty());
    // A script keeps its line feeds.
    let mut p = product("x", "1.00", true);
    p.script = Some("Greet.\nOffer the warranty.".into());
    assert!(p.validate().is_empty());

    let mut g = PriceGroup {
        id: pgroup("g"),
        name: "G\u{0}".into(),
        prices: BTreeMap::new(),
    };
    assert_eq!(
        fields_of(g.validate()),
        [(
            "name".to_string(),
            "must not contain control characters (found U+0000)".to_string()
        )]
    );
    g.name = E_NFD.into();
    assert_eq!(g.normalized().name, E_NFC);

    let mut s = source("S", None, None);
    s.script = Some("\u{202d}".into());
    assert_eq!(fields_of(s.validate())[0].0, "script");
    s.script = Some(E_NFD.into());
    assert_eq!(s.normalized().script.as_deref(), Some(E_NFC));
}

#[test]
fn codes_match_one_pattern() {
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    let cases = [
        ("a", true),
        ("north", true),
        ("spring-26", true),
        ("gift-wrap", true),
        ("north-retail_2.0", true),
        ("system.released_while_held", true),
        ("a.b.c", true),
        ("a-", true),
        ("A_b", true),
        ("2026", true),
        (long.as_str(), true),
        (too_long.as_str(), false),
        ("", false),
        ("..", false),
        (".a.", false),
        (".a", false),
        ("a.", false),
        ("a..b", false),
        ("a.-b", false),
        ("-a", false),
        ("_a", false),
        (".", false),
        ("with space", false),
        ("slash/", false),
        ("é", false),
        ("a\u{0}", false),
        ("a:b", false),
    ];
    for (code, ok) in cases {
        let got = ProductId::parse(code);
        assert_eq!(got.is_ok(), ok, "{code:?}");
        if let Err(e) = got {
            assert_eq!(e.0, CODE_RULE, "{code:?}");
        }
        assert_eq!(
            serde_json::from_str::<HoldCode>(&serde_json::to_string(code).unwrap()).is_ok(),
            ok,
            "{code:?}"
        );
        // The documented regular expression says the same (checked here by hand: segments
        // split on '.', each non-empty and starting with a letter or digit).
        let by_pattern = !code.is_empty()
            && code.len() <= CODE_MAX_LEN
            && code.split('.').all(|seg| {
                seg.starts_with(|c: char| c.is_ascii_alphanumeric())
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            });
        assert_eq!(by_pattern, ok, "{code:?} against {CODE_PATTERN}");
    }
    // The system hold codes are codes.
    for kind in [
        invariants::ViolationKind::ReleasedWhileHeld,
        invariants::ViolationKind::SubmittedUnderpaid,
        invariants::ViolationKind::CouponOverLimit,
    ] {
        assert!(HoldCode::parse(kind.hold_code()).is_ok());
    }
}
