//! Requests checked against the OpenAPI document the node serves, before any handler runs: the
//! document is generated from the handlers and their body types ([`super::openapi`]), and this
//! module holds every request to it, so what the document says is what the node accepts.
//!
//! [`check_request`] (a middleware on every documented route) finds the operation of the matched
//! route and checks, in this order:
//! - path parameters against their schemas: a value that cannot name anything is 404 `not_found`;
//! - query parameters: required ones present, each value of its type and within its bounds, none
//!   given twice (422 `validation`); parameters the operation does not document are ignored;
//! - the body, when the operation documents one: `Content-Type: application/json` (415), at most
//!   the node's body limit (413), JSON (400), and of the documented schema — types, `null` only
//!   where nullable, required and unknown fields, lengths, bounds, patterns, formats and enums
//!   (422 naming every field at fault). A body sent to an operation that documents none is ignored.
//!
//! The parsed body rides on to the handler as a [`CheckedBody`], which [`super::extract::Json`]
//! deserializes into the handler's type.
//!
//! One reason to change: what the OpenAPI schema language can say about a request (a validator
//! for the subset of JSON Schema the document uses); it grows only when the document uses more.

use super::error::{ApiError, FieldProblem};
use axum::body::{Body, Bytes};
use axum::extract::rejection::RawPathParamsRejection;
use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use regex::Regex;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

/// The body of a request, parsed and checked against the operation's schema.
#[derive(Clone, Debug)]
pub struct CheckedBody {
    /// The JSON value.
    pub value: Value,
    /// The name of the schema it was checked against (`components.schemas`).
    pub schema: Option<String>,
}

/// What [`check_request`] checks against: the served document and the node's body limit.
#[derive(Clone)]
pub struct Rules {
    /// The OpenAPI document, as served.
    pub doc: Arc<Value>,
    /// Largest body, in bytes.
    pub body_limit: usize,
}

/// Middleware: checks the request against its operation in the document.
pub async fn check_request(
    State(rules): State<Rules>,
    matched: Option<MatchedPath>,
    params: Result<RawPathParams, RawPathParamsRejection>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let doc = rules.doc.as_ref();
    let Some(op) = matched
        .as_ref()
        .and_then(|m| operation(doc, m.as_str(), req.method().as_str()))
    else {
        return Ok(next.run(req).await);
    };
    if let Ok(params) = &params {
        check_path(doc, op, params)?;
    }
    check_query(doc, op, req.uri().query().unwrap_or_default())?;
    let Some(request_body) = op.get("requestBody") else {
        return Ok(next.run(req).await);
    };
    // A body of bytes (a product's picture) is not JSON: its handler checks it, within the
    // router's body limit.
    if request_body["content"].get("application/json").is_none() {
        return Ok(next.run(req).await);
    }
    // A declared length past the limit is refused before a byte of the body is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > rules.body_limit as u64) {
        return Err(ApiError::payload_too_large(Some(rules.body_limit)));
    }
    let (mut parts, body) = req.into_parts();
    let bytes = read_body(body, rules.body_limit).await?;
    let required = request_body["required"].as_bool().unwrap_or(false);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if required {
            return Err(ApiError::malformed_body("the request needs a JSON body"));
        }
    } else {
        check_content_type(&parts.headers)?;
        let value = parse(&bytes)?;
        let schema = &request_body["content"]["application/json"]["schema"];
        let mut problems = Vec::new();
        Checker { doc }.value(schema, &value, &mut String::new(), &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::validation(problems));
        }
        let schema = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .map(String::from);
        parts.extensions.insert(CheckedBody { value, schema });
    }
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The operation of `path` (as routed, `/api/v1/orders/{id}`) and `method`.
fn operation<'d>(doc: &'d Value, path: &str, method: &str) -> Option<&'d Value> {
    doc["paths"]
        .get(path)?
        .get(method.to_ascii_lowercase())
        .filter(|op| op.is_object())
}

async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.into_inner().is::<http_body_util::LengthLimitError>();
        if too_large {
            ApiError::payload_too_large(Some(limit))
        } else {
            ApiError::malformed_body("the body could not be read")
        }
    })
}

/// `application/json`, with at most a `charset=utf-8` parameter.
fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let unsupported = || {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "a request body must be sent as Content-Type: application/json",
        )
    };
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unsupported)?;
    let mut parts = value.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(unsupported());
    }
    for param in parts.filter(|p| !p.is_empty()) {
        let (name, val) = param.split_once('=').ok_or_else(unsupported)?;
        let val = val.trim().trim_matches('"');
        if !(name.trim().eq_ignore_ascii_case("charset") && val.eq_ignore_ascii_case("utf-8")) {
            return Err(unsupported());
        }
    }
    Ok(())
}

fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed_body(super::extract::strip_position(&e.to_string())))
}

fn parameters<'d>(op: &'d Value, place: &'d str) -> impl Iterator<Item = &'d Value> + 'd {
    op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |p| p["in"] == place)
}

/// A path parameter that does not match its schema names nothing: 404.
fn check_path(doc: &Value, op: &Value, params: &RawPathParams) -> Result<(), ApiError> {
    for p in parameters(op, "path") {
        let name = p["name"].as_str().unwrap_or_default();
        let Some((_, value)) = params.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        let mut problems = Vec::new();
        Checker { doc }.text(&p["schema"], value, name, &mut problems);
        if !problems.is_empty() {
            return Err(ApiError::not_found(format!("no such {}", noun(name))));
        }
    }
    Ok(())
}

/// `line_id` → `line`, `id` → `resource`.
fn noun(param: &str) -> String {
    match param.strip_suffix("_id") {
        Some(n) => n.replace('_', " "),
        None if param == "id" => "resource".to_string(),
        None => param.replace('_', " "),
    }
}

fn check_query(doc: &Value, op: &Value, query: &str) -> Result<(), ApiError> {
    let mut given: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in form_pairs(query)? {
        given.entry(k).or_default().push(v);
    }
    let mut problems = Vec::new();
    for p in parameters(op, "query") {
        let name = p["name"].as_str().unwrap_or_default();
        match given.get(name).map(Vec::as_slice) {
            None | Some([]) => {
                if p["required"].as_bool().unwrap_or(false) {
                    problems.push(problem(name, "is required"));
                }
            }
            Some([one]) => Checker { doc }.text(&p["schema"], one, name, &mut problems),
            Some(_) => problems.push(problem(name, "must be given at most once")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(problems))
    }
}

fn form_pairs(query: &str) -> Result<Vec<(String, String)>, ApiError> {
    let uri: axum::http::Uri = format!("/?{query}")
        .parse()
        .map_err(|_| ApiError::invalid_field("query", "is not a valid query string"))?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| ApiError::invalid_field("query", "is not a valid query string"))
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: if field.is_empty() {
            "body".to_string()
        } else {
            field.to_string()
        },
        message: message.into(),
    }
}

/// What a failed `pattern` says: the rule in words for the patterns the document uses, the
/// pattern itself for any other.
fn pattern_rule(pattern: &str) -> String {
    crate::views::schema::PATTERN_RULES
        .iter()
        .find(|(p, _)| *p == pattern)
        .map(|(_, rule)| rule.to_string())
        .unwrap_or_else(|| format!("must match {pattern}"))
}

fn regex(pattern: &str) -> Option<Regex> {
    static CACHE: LazyLock<Mutex<BTreeMap<String, Option<Regex>>>> =
        LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).ok())
        .clone()
}

/// Checks values against schemas of one document (JSON Schema as OpenAPI 3.1 uses it: the
/// keywords the document contains).
struct Checker<'d> {
    doc: &'d Value,
}

impl Checker<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        let mut s = schema;
        for _ in 0..32 {
            match s["$ref"]
                .as_str()
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                Some(name) => s = &self.doc["components"]["schemas"][name],
                None => break,
            }
        }
        s
    }

    fn types(schema: &Value) -> Vec<&str> {
        match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// A query or path parameter's text, read as the type its schema says.
    fn text(&self, schema: &Value, text: &str, field: &str, problems: &mut Vec<FieldProblem>) {
        let schema = self.resolve(schema);
        let types = Self::types(schema);
        let value = if types.contains(&"integer") {
            let whole = !text.is_empty()
                && text
                    .strip_prefix('-')
                    .unwrap_or(text)
                    .bytes()
                    .all(|b| b.is_ascii_digit());
            match text.parse::<i64>() {
                Ok(n) if whole => Value::from(n),
                _ => {
                    problems.push(problem(field, integer_rule(schema)));
                    return;
                }
            }
        } else if types.contains(&"boolean") {
            match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => {
                    problems.push(problem(field, "must be true or false"));
                    return;
                }
            }
        } else {
            Value::String(text.to_string())
        };
        self.value(schema, &value, &mut field.to_string(), problems);
    }

    fn value(&self, schema: &Value, v: &Value, path: &mut String, out: &mut Vec<FieldProblem>) {
        let schema = self.resolve(schema);
        if let Some(branches) = schema["oneOf"].as_array().or(schema["anyOf"].as_array()) {
            self.one_of(branches, v, path, out);
        }
        if let Some(all) = schema["allOf"].as_array() {
            for s in all {
                self.value(s, v, path, out);
            }
        }
        let types = Self::types(schema);
        if !types.is_empty() && !types.iter().any(|t| is_type(t, v)) {
            out.push(problem(path, type_rule(&types, v)));
            return;
        }
        if let Some(choices) = schema["enum"].as_array() {
            if !choices.contains(v) {
                let names: Vec<String> = choices.iter().map(Value::to_string).collect();
                out.push(problem(
                    path,
                    format!("must be one of {}", names.join(", ")),
                ));
                return;
            }
        }
        match v {
            Value::Object(m) => self.object(schema, m, path, out),
            Value::Array(items) => self.array(schema, items, path, out),
            Value::String(s) => self.string(schema, s, path, out),
            Value::Number(_) => self.number(schema, v, path, out),
            Value::Bool(_) | Value::Null => {}
        }
    }

    fn one_of(
        &self,
        branches: &[Value],
        v: &Value,
        path: &mut String,
        out: &mut Vec<FieldProblem>,
    ) {
        let mut first = None;
        for b in branches {
            let mut p = Vec::new();
            self.value(b, v, path, &mut p);
            if p.is_empty() {
                return;
            }
            // The problems of the branch meant for this kind of value say the most.
            let null_branch = Self::types(self.resolve(b)) == ["null"];
            if first.is_none() && (!null_branch || v.is_null()) {
                first = Some(p);
            }
        }
        out.extend(first.unwrap_or_else(|| vec![problem(path, "is not of an accepted form")]));
    }

    fn object(
        &self,
        schema: &Value,
        m: &Map<String, Value>,
        path: &mut String,
        out: &mut Vec<FieldProblem>,
    ) {
        let props = schema["properties"].as_object();
        for name in schema["required"].as_array().into_iter().flatten() {
            if let Some(name) = name.as_str() {
                if !m.contains_key(name) {
                    out.push(problem(&join(path, name), "is required"));
                }
            }
        }
        for (k, v) in m {
            let len = path.len();
            path.push_str(&join_suffix(len == 0, k));
            match props.and_then(|p| p.get(k)) {
                Some(s) => self.value(s, v, path, out),
                None => match &schema["additionalProperties"] {
                    Value::Bool(false) => out.push(problem(path, "is not a known field")),
                    s @ Value::Object(_) => {
                        if let Some(names) = schema.get("propertyNames") {
                            let mut key = Vec::new();
                            self.value(names, &Value::String(k.clone()), path, &mut key);
                            out.extend(key.into_iter().map(|p| FieldProblem {
                                message: format!("key {}", p.message),
                                ..p
                            }));
                        }
                        self.value(s, v, path, out);
                    }
                    _ => {}
                },
            }
            path.truncate(len);
        }
        bound(
            out,
            path,
            m.len(),
            &schema["minProperties"],
            &schema["maxProperties"],
            "entries",
        );
    }

    fn array(
        &self,
        schema: &Value,
        items: &[Value],
        path: &mut String,
        out: &mut Vec<FieldProblem>,
    ) {
        if let Some(s) = schema.get("items") {
            for (i, v) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                self.value(s, v, path, out);
                path.truncate(len);
            }
        }
        bound(
            out,
            path,
            items.len(),
            &schema["minItems"],
            &schema["maxItems"],
            "items",
        );
    }

    fn string(&self, schema: &Value, s: &str, path: &str, out: &mut Vec<FieldProblem>) {
        let chars = s.chars().count();
        let before = out.len();
        bound(
            out,
            path,
            chars,
            &schema["minLength"],
            &schema["maxLength"],
            "characters",
        );
        if out.len() > before {
            return;
        }
        if let Some(p) = schema["pattern"].as_str() {
            if !regex(p).is_some_and(|r| r.is_match(s)) {
                out.push(problem(path, pattern_rule(p)));
                return;
            }
        }
        match schema["format"].as_str() {
            Some("uuid") if uuid::Uuid::parse_str(s).is_err() => {
                out.push(problem(path, "must be a UUID"))
            }
            Some("date-time") if switchboard_domain::Timestamp::parse(s).is_err() => out.push(
                problem(path, "must be an RFC 3339 time like 2026-12-06T20:45:08Z"),
            ),
            _ => {}
        }
    }

    fn number(&self, schema: &Value, v: &Value, path: &str, out: &mut Vec<FieldProblem>) {
        let Some(n) = v.as_f64() else { return };
        let integer = Self::types(schema).contains(&"integer");
        let rule = || {
            if integer {
                integer_rule(schema)
            } else {
                number_rule(schema)
            }
        };
        let (format_min, format_max) = match schema["format"].as_str() {
            Some("int32") => (f64::from(i32::MIN), f64::from(i32::MAX)),
            Some("int64") => (i64::MIN as f64, i64::MAX as f64),
            _ => (f64::NEG_INFINITY, f64::INFINITY),
        };
        let low = n < format_min
            || schema["minimum"].as_f64().is_some_and(|m| n < m)
            || schema["exclusiveMinimum"].as_f64().is_some_and(|m| n <= m);
        let high = n > format_max
            || schema["maximum"].as_f64().is_some_and(|m| n > m)
            || schema["exclusiveMaximum"].as_f64().is_some_and(|m| n >= m);
        if low || high {
            out.push(problem(path, rule()));
        }
    }
}

fn join(path: &str, name: &str) -> String {
    format!("{path}{}", join_suffix(path.is_empty(), name))
}

fn join_suffix(first: bool, name: &str) -> String {
    if first {
        name.to_string()
    } else {
        format!(".{name}")
    }
}

fn is_type(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        _ => true,
    }
}

fn type_rule(types: &[&str], v: &Value) -> String {
    let name = |t: &str| match t {
        "boolean" => "true or false",
        "object" => "an object",
        "array" => "an array",
        "string" => "a string",
        "number" => "a number",
        "integer" => "a whole number",
        _ => "null",
    };
    let wanted: Vec<&str> = types
        .iter()
        .filter(|t| **t != "null")
        .map(|t| name(t))
        .collect();
    if v.is_null() {
        format!("must not be null (it must be {})", wanted.join(" or "))
    } else {
        format!("must be {}", wanted.join(" or "))
    }
}

/// One sentence for every way an integer can be wrong, so that `0`, `-1`, `501`, `1e3` and
/// `abc` all get the same answer.
fn integer_rule(schema: &Value) -> String {
    match (schema["minimum"].as_i64(), schema["maximum"].as_i64()) {
        (Some(lo), Some(hi)) => format!("must be a whole number from {lo} to {hi}"),
        (Some(lo), None) => format!("must be a whole number of at least {lo}"),
        (None, Some(hi)) => format!("must be a whole number of at most {hi}"),
        (None, None) => "must be a whole number".to_string(),
    }
}

fn number_rule(schema: &Value) -> String {
    match (schema["minimum"].as_f64(), schema["maximum"].as_f64()) {
        (Some(lo), Some(hi)) => format!("must be a number from {lo} to {hi}"),
        (Some(lo), None) => format!("must be a number of at least {lo}"),
        (None, Some(hi)) => format!("must be a number of at most {hi}"),
        (None, None) => "must be a number".to_string(),
    }
}

fn bound(out: &mut Vec<FieldProblem>, path: &str, n: usize, min: &Value, max: &Value, what: &str) {
    let (lo, hi) = (min.as_u64(), max.as_u64());
    let n = n as u64;
    if lo.is_some_and(|l| n < l) || hi.is_some_and(|h| n > h) {
        // "must be at most 200 characters", "must have at most 20 entries"
        let verb = if what == "characters" { "be" } else { "have" };
        let message = match (lo, hi) {
            (Some(0) | None, Some(h)) => format!("must {verb} at most {h} {what}"),
            (Some(l), Some(h)) => format!("must {verb} {l} to {h} {what}"),
            (Some(l), None) => format!("must {verb} at least {l} {what}"),
            (None, None) => unreachable!("a bound was exceeded"),
        };
        out.push(problem(path, message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(schema: Value, v: Value) -> Vec<(String, String)> {
        let doc = json!({"components": {"schemas": {
            "Inner": {"type": "object", "additionalProperties": false,
                      "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 5}},
                      "required": ["n"]}
        }}});
        let mut out = Vec::new();
        Checker { doc: &doc }.value(&schema, &v, &mut String::new(), &mut out);
        out.into_iter().map(|p| (p.field, p.message)).collect()
    }

    fn fields(schema: Value, v: Value) -> Vec<String> {
        check(schema, v).into_iter().map(|(f, _)| f).collect()
    }

    #[test]
    fn objects_are_objects_and_fields_are_named() {
        let s = json!({"type": "object", "additionalProperties": false,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 3},
                "items": {"type": "array", "items": {"$ref": "#/components/schemas/Inner"}},
                "opt": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/Inner"}]},
                "map": {"type": "object", "additionalProperties": {"type": "string"}}
            },
            "required": ["name"]});
        assert_eq!(fields(s.clone(), json!(["x"])), vec!["body"]);
        assert_eq!(
            check(s.clone(), json!(["x"]))[0].1,
            "must be an object".to_string()
        );
        assert!(fields(s.clone(), json!({"name": "ab"})).is_empty());
        assert_eq!(fields(s.clone(), json!({})), vec!["name"]);
        assert_eq!(fields(s.clone(), json!({"name": null})), vec!["name"]);
        assert_eq!(fields(s.clone(), json!({"name": ""})), vec!["name"]);
        assert_eq!(fields(s.clone(), json!({"name": "abcd"})), vec!["name"]);
        assert_eq!(fields(s.clone(), json!({"name": "a", "x": 1})), vec!["x"]);
        assert_eq!(
            fields(
                s.clone(),
                json!({"name": "a", "items": [{"n": 1}, {"n": 9}, [1]]})
            ),
            vec!["items[1].n", "items[2]"]
        );
        assert!(fields(s.clone(), json!({"name": "a", "opt": null})).is_empty());
        assert_eq!(
            fields(s.clone(), json!({"name": "a", "opt": {"n": 0}})),
            vec!["opt.n"]
        );
        assert_eq!(
            fields(s.clone(), json!({"name": "a", "opt": [3]})),
            vec!["opt"]
        );
        assert_eq!(
            fields(s, json!({"name": "a", "map": {"k": 1}})),
            vec!["map.k"]
        );
    }

    #[test]
    fn every_bad_integer_gets_the_same_sentence() {
        let doc = json!({});
        let schema = json!({"type": "integer", "minimum": 1, "maximum": 500});
        for bad in [
            "0",
            "-1",
            "501",
            "4294967296",
            "1e3",
            "abc",
            "",
            "1.0",
            "+1",
        ] {
            let mut out = Vec::new();
            Checker { doc: &doc }.text(&schema, bad, "limit", &mut out);
            assert_eq!(out.len(), 1, "{bad}");
            assert_eq!(
                (out[0].field.as_str(), out[0].message.as_str()),
                ("limit", "must be a whole number from 1 to 500"),
                "{bad}"
            );
        }
        for good in ["1", "500", "50"] {
            let mut out = Vec::new();
            Checker { doc: &doc }.text(&schema, good, "limit", &mut out);
            assert!(out.is_empty(), "{good}");
        }
    }

    #[test]
    fn content_types() {
        let ok = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, v.parse().unwrap());
            check_content_type(&h).is_ok()
        };
        assert!(ok("application/json"));
        assert!(ok("Application/JSON; charset=UTF-8"));
        assert!(!ok("text/plain"));
        assert!(!ok("application/x-www-form-urlencoded"));
        assert!(!ok("multipart/form-data; boundary=x"));
        assert!(!ok("application/json; charset=latin1"));
        assert!(check_content_type(&HeaderMap::new()).is_err());
    }
}
