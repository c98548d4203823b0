//! Customers: contact data validation, updates, notes and catalog requests.

use super::fixture::*;
use crate::config::Role;
use crate::customer::*;
use crate::*;
use std::collections::BTreeMap;

fn fields(name: Option<&str>, phone: Option<&str>, email: Option<&str>) -> CustomerFields {
    CustomerFields {
        name: name.map(String::from),
        phone: phone.map(|p| Some(p.to_string())),
        email: email.map(|e| Some(e.to_string())),
        address: None,
    }
}

fn text_err(field: &'static str) -> Result<(), &'static str> {
    Err(field)
}

/// Compares the field a refusal names (or success).
#[track_caller]
fn check_field<T: std::fmt::Debug>(
    case: &str,
    got: Result<T, OrderError>,
    want: Result<(), &'static str>,
) {
    let got = got.map(|_| ()).map_err(|e| match e {
        OrderError::InvalidText { field, .. } | OrderError::InvalidAmount { field, .. } => field,
        other => panic!("case {case}: unexpected {other:?}"),
    });
    assert_eq!(got, want, "case: {case}");
}

#[test]
fn create_customer_validates_contact_data() {
    let w = World::new();
    let long = "n".repeat(201);
    let max = "é".repeat(200);
    let cases: Vec<(&str, CustomerFields, Result<(), &'static str>)> = vec![
        ("name only", fields(Some("Ada"), None, None), Ok(())),
        (
            "name is required",
            fields(None, Some("555 1234"), None),
            text_err("name"),
        ),
        (
            "blank name",
            fields(Some("   "), None, None),
            text_err("name"),
        ),
        ("200 characters", fields(Some(&max), None, None), Ok(())),
        (
            "201 characters",
            fields(Some(&long), None, None),
            text_err("name"),
        ),
        (
            "international phone",
            fields(Some("Ada"), Some("+47 (22) 12-34.56"), None),
            Ok(()),
        ),
        (
            "three digits",
            fields(Some("Ada"), Some("112"), None),
            Ok(()),
        ),
        (
            "two digits",
            fields(Some("Ada"), Some("12"), None),
            text_err("phone"),
        ),
        (
            "letters in phone",
            fields(Some("Ada"), Some("555-CALL-NOW"), None),
            text_err("phone"),
        ),
        (
            "41-character phone",
            fields(Some("Ada"), Some(&"1".repeat(41)), None),
            text_err("phone"),
        ),
        (
            "email",
            fields(Some("Ada"), None, Some("ada@example.org")),
            Ok(()),
        ),
        (
            "email with subdomain and plus",
            fields(Some("Ada"), None, Some("ada+calls@mail.example.co.uk")),
            Ok(()),
        ),
        (
            "email without @",
            fields(Some("Ada"), None, Some("ada.example.org")),
            text_err("email"),
        ),
        (
            "email without local part",
            fields(Some("Ada"), None, Some("@example.org")),
            text_err("email"),
        ),
        (
            "email without dot in domain",
            fields(Some("Ada"), None, Some("ada@localhost")),
            text_err("email"),
        ),
        (
            "email domain starts with dot",
            fields(Some("Ada"), None, Some("ada@.org")),
            text_err("email"),
        ),
        (
            "email domain ends with dot",
            fields(Some("Ada"), None, Some("ada@example.")),
            text_err("email"),
        ),
        (
            "email with space",
            fields(Some("Ada"), None, Some("ada lovelace@example.org")),
            text_err("email"),
        ),
        (
            "email with two @",
            fields(Some("Ada"), None, Some("ada@home@example.org")),
            text_err("email"),
        ),
        (
            "address",
            CustomerFields {
                address: Some(BTreeMap::from([("city".into(), "Oslo".into())])),
                ..fields(Some("Ada"), None, None)
            },
            Ok(()),
        ),
        (
            "address with an empty key",
            CustomerFields {
                address: Some(BTreeMap::from([("".into(), "Oslo".into())])),
                ..fields(Some("Ada"), None, None)
            },
            text_err("address"),
        ),
        (
            "address with 21 fields",
            CustomerFields {
                address: Some(
                    (0..21)
                        .map(|i| (format!("k{i}"), "v".to_string()))
                        .collect(),
                ),
                ..fields(Some("Ada"), None, None)
            },
            text_err("address"),
        ),
    ];
    for (case, f, want) in cases {
        check_field(
            case,
            create_customer(w.ctx(Role::Agent), CustomerId(w.fresh()), f),
            want,
        );
    }

    let id = CustomerId(w.fresh());
    let c = create_customer(
        w.ctx(Role::Agent),
        id,
        fields(Some("Ada"), Some("555 1234"), Some("ada@example.org")),
    )
    .unwrap();
    assert_eq!(
        (c.id, c.call_center_id.clone(), c.name.as_str()),
        (id, ccid("north"), "Ada")
    );
    assert_eq!(
        (c.phone.as_deref(), c.email.as_deref()),
        (Some("555 1234"), Some("ada@example.org"))
    );
    assert_eq!(c.created, w.stamp());
    assert_eq!(
        create_customer(
            w.ctx_of(&w.outsider),
            CustomerId(w.fresh()),
            fields(Some("Ada"), None, None)
        ),
        Err(OrderError::NotInCallCenter(ccid("north")))
    );
}

#[test]
fn update_customer_and_notes() {
    let w = World::new();
    let mut c = w.customer();
    assert_eq!(
        update_customer(&c, w.ctx(Role::Agent), CustomerFields::default()),
        Err(OrderError::EmptyChange)
    );
    check_field(
        "bad email in an update",
        update_customer(&c, w.ctx(Role::Agent), fields(None, None, Some("nope"))),
        text_err("email"),
    );
    check_field(
        "blank name in an update",
        update_customer(&c, w.ctx(Role::Agent), fields(Some(""), None, None)),
        text_err("name"),
    );

    let ev = update_customer(
        &c,
        w.ctx(Role::Agent),
        fields(None, Some("555 1234"), Some("ada@example.org")),
    )
    .unwrap();
    apply_customer(&mut c, &ev);
    assert_eq!(
        (c.name.as_str(), c.phone.as_deref(), c.email.as_deref()),
        ("Ada", Some("555 1234"), Some("ada@example.org"))
    );
    // `Some(None)` clears a field; untouched fields stay.
    let clear = CustomerFields {
        phone: Some(None),
        ..Default::default()
    };
    let ev = update_customer(&c, w.ctx(Role::Agent), clear).unwrap();
    apply_customer(&mut c, &ev);
    assert_eq!(
        (c.phone.as_deref(), c.email.as_deref()),
        (None, Some("ada@example.org"))
    );

    let note = NoteId(w.fresh());
    let ev = add_customer_note(&c, w.ctx(Role::Agent), note, "prefers email".into()).unwrap();
    apply_customer(&mut c, &ev);
    assert_eq!(c.notes[&note].text, "prefers email");
    check_field(
        "blank note",
        add_customer_note(&c, w.ctx(Role::Agent), NoteId(w.fresh()), " ".into()),
        text_err("text"),
    );
}

#[test]
fn catalog_requests() {
    let mut w = World::new();
    let mut c = w.customer();
    let request = |w: &World, c: &Customer, code: &str, quantity| {
        request_catalog(
            c,
            w.ctx(Role::Agent),
            CatalogRequestId(w.fresh()),
            scode(code),
            quantity,
        )
    };
    let cases: Vec<(&str, &str, u32, Result<(), OrderError>)> = vec![
        ("valid source code", "SPRING", 1, Ok(())),
        ("100 copies", "PLAIN", 100, Ok(())),
        (
            "unknown source code",
            "NOPE",
            1,
            Err(OrderError::SourceCodeUnknown(scode("NOPE"))),
        ),
        (
            "expired",
            "OLD",
            1,
            Err(OrderError::SourceCodeExpired(scode("OLD"))),
        ),
        (
            "not yet valid",
            "FUTURE",
            1,
            Err(OrderError::SourceCodeNotYetValid(scode("FUTURE"))),
        ),
        (
            "no copies",
            "SPRING",
            0,
            Err(OrderError::InvalidAmount {
                field: "quantity",
                message: "must be from 1 to 100".into(),
            }),
        ),
        (
            "101 copies",
            "SPRING",
            101,
            Err(OrderError::InvalidAmount {
                field: "quantity",
                message: "must be from 1 to 100".into(),
            }),
        ),
    ];
    for (case, code, quantity, want) in cases {
        check(case, request(&w, &c, code, quantity), want);
    }
    let ev = request(&w, &c, "SPRING", 2).unwrap();
    apply_customer(&mut c, &ev);
    let r = c.catalog_requests.values().next().unwrap();
    assert_eq!(
        (
            r.source_code.as_str(),
            r.catalog.as_str(),
            r.quantity,
            r.requested.clone()
        ),
        ("SPRING", "cat-SPRING", 2, w.stamp())
    );

    w.cc.guided_sales = false;
    check(
        "guided sales off",
        request(&w, &c, "SPRING", 1),
        Err(OrderError::GuidedSalesOff),
    );
}

#[test]
fn phone_refusals_say_the_rule_and_name_the_field_once() {
    let w = World::new();
    let cases = [
        ("12", "must have at least 3 digits"),
        ("555-CALL-NOW", "may hold only digits, spaces and + - ( ) ."),
        (&"1".repeat(41) as &str, "must be at most 40 characters"),
    ];
    for (phone, rule) in cases {
        let err = create_customer(
            w.ctx(Role::Agent),
            CustomerId(w.fresh()),
            fields(Some("Ada"), Some(phone), None),
        )
        .unwrap_err();
        let fe = err
            .field_error()
            .expect("a validation error names its field");
        assert_eq!((fe.field.as_str(), fe.message.as_str()), ("phone", rule));
        assert_eq!(err.to_string(), format!("phone: {rule}"), "{phone}");
    }
}
