//! `Timestamp`: RFC 3339 parsing and formatting at the edges.

use crate::time::Timestamp;

#[test]
fn parse_and_format() {
    // (input, the same instant formatted, or None when refused)
    let cases: &[(&str, Option<&str>)] = &[
        ("2026-11-28T13:46:42Z", Some("2026-11-28T13:46:42.000Z")),
        ("2026-11-28T13:46:42.1Z", Some("2026-11-28T13:46:42.100Z")),
        ("2026-11-28T13:46:42.12Z", Some("2026-11-28T13:46:42.120Z")),
        (
            "2026-11-28T13:46:42.123456789Z",
            Some("2026-11-28T13:46:42.123Z"),
        ),
        ("2026-11-28t13:46:42z", Some("2026-11-28T13:46:42.000Z")),
        ("2026-11-28 13:46:42Z", Some("2026-11-28T13:46:42.000Z")),
        (
            "2026-11-28T00:30:00+01:00",
            Some("2026-11-27T23:30:00.000Z"),
        ),
        (
            "2026-11-28T23:30:00-01:00",
            Some("2026-11-29T00:30:00.000Z"),
        ),
        (
            "2026-11-28T12:00:00+05:45",
            Some("2026-11-28T06:15:00.000Z"),
        ),
        (
            "2026-11-28T12:00:00-00:00",
            Some("2026-11-28T12:00:00.000Z"),
        ),
        ("2026-06-30T23:59:60Z", Some("2026-06-30T23:59:59.000Z")),
        ("2026-11-28", Some("2026-11-28T00:00:00.000Z")),
        ("2024-02-29", Some("2024-02-29T00:00:00.000Z")),
        ("2000-02-29", Some("2000-02-29T00:00:00.000Z")),
        ("1970-01-01T00:00:00Z", Some("1970-01-01T00:00:00.000Z")),
        ("1969-12-31T23:59:59.999Z", Some("1969-12-31T23:59:59.999Z")),
        ("0001-01-01T00:00:00Z", Some("0001-01-01T00:00:00.000Z")),
        ("9999-12-31T23:59:59.999Z", Some("9999-12-31T23:59:59.999Z")),
        ("2023-02-29", None),
        ("1900-02-29", None),
        ("2026-04-31", None),
        ("2026-00-10", None),
        ("2026-01-00", None),
        ("2026-11-28T13:46:42", None),
        ("2026-11-28T13:46:42+0100", None),
        ("2026-11-28T13:46:42+01", None),
        ("2026-11-28T13:46:42Zjunk", None),
        ("2026-11-28T13:46Z", None),
        ("2026-11-28T1:46:42Z", None),
        ("2026-11-28T24:00:00Z", None),
        ("2026-11-28T13:60:00Z", None),
        ("2026-11-28T13:46:61Z", None),
        ("2026-11-28T13:46:42+24:00", None),
        ("2026-11-28T13:46:42+01:60", None),
        ("2026-11-28T13:46:42.Z", None),
        ("2026-11-28T13:46:42.5", None),
        ("2026-11-28X13:46:42Z", None),
        (" 2026-11-28", None),
        ("2026-11-28 ", None),
        ("26-11-28", None),
        ("2026/11/28", None),
        ("-026-11-28", None),
        ("2026-11-28T13:46:42é", None),
        ("２０２６-11-28", None),
        ("", None),
    ];
    for (input, want) in cases {
        let got = Timestamp::parse(input).map(|t| t.to_rfc3339()).ok();
        assert_eq!(got.as_deref(), *want, "input: {input:?}");
    }
}

#[test]
fn arithmetic_order_and_serde() {
    let t = Timestamp::parse("2026-12-31T23:59:59.999Z").unwrap();
    assert_eq!(
        Timestamp::from_millis(t.as_millis() + 1).to_rfc3339(),
        "2027-01-01T00:00:00.000Z"
    );
    assert_eq!(t.plus_days(60).to_rfc3339(), "2027-03-01T23:59:59.999Z");
    assert_eq!(t.plus_days(-365).to_rfc3339(), "2025-12-31T23:59:59.999Z");
    assert_eq!(
        Timestamp::from_millis(i64::MAX - 5)
            .plus_days(1)
            .as_millis(),
        i64::MAX
    );
    assert_eq!(
        Timestamp::from_millis(0).plus_days(i64::MAX).as_millis(),
        i64::MAX
    );
    assert!(
        Timestamp::parse("2026-11-28T12:00:00+01:00").unwrap()
            < Timestamp::parse("2026-11-28T11:30:00Z").unwrap()
    );
    assert_eq!(t.to_string(), t.to_rfc3339());

    let json = serde_json::to_string(&t).unwrap();
    assert_eq!(json, "\"2026-12-31T23:59:59.999Z\"");
    assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
    assert!(serde_json::from_str::<Timestamp>("\"2026-13-01\"").is_err());
    assert!(serde_json::from_str::<Timestamp>("1700000000000").is_err());
}
