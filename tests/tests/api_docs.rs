//! `docs/api.md` against the node: the API reference and the OpenAPI document the node serves at
//! `/api/v1/openapi.json` name the same endpoints, and the reference's error-code table lists
//! exactly the codes the node answers with (`switchboard_node::api::error::CODES`).
//!
//! An endpoint is documented by a heading that holds it in backticks (`` ### `POST /api/v1/orders` ``);
//! an error code by a row of the table under `## Error codes` whose first cell is the code in
//! backticks. Prose may name endpoints freely (e.g. the node-to-node `/sync/v1` paths, which are
//! not part of the OpenAPI document): only headings count.

use axum::http::Method;
use std::collections::BTreeSet;
use std::path::Path;
use switchboard_tests::api_harness::ApiNode;

const METHODS: &[&str] = &["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// `METHOD /path`, as the reference writes it.
type Endpoint = String;

fn read_reference() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/api.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `METHOD /path` pairs in backticks on heading lines (outside fenced code blocks, whose
/// `# …` lines are shell comments).
fn documented_endpoints(markdown: &str) -> BTreeSet<Endpoint> {
    let mut out = BTreeSet::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced || !line.starts_with('#') {
            continue;
        }
        // Backticked spans are the odd pieces between backticks.
        for span in line.split('`').skip(1).step_by(2) {
            let mut words = span.split_whitespace();
            if let (Some(method), Some(path), None) = (words.next(), words.next(), words.next()) {
                if METHODS.contains(&method) && path.starts_with('/') {
                    out.insert(format!("{method} {path}"));
                }
            }
        }
    }
    out
}

/// The codes in the first column of the table under `## Error codes`.
fn documented_codes(markdown: &str) -> BTreeSet<String> {
    let section = markdown
        .split("\n## ")
        .find(|s| s.starts_with("Error codes"))
        .expect("docs/api.md has an `## Error codes` section");
    section
        .lines()
        .filter_map(|l| l.strip_prefix('|'))
        .filter_map(|row| row.split('|').next())
        .filter_map(|cell| {
            let cell = cell.trim();
            cell.strip_prefix('`')?.strip_suffix('`').map(String::from)
        })
        .collect()
}

/// Every (method, path) operation of an OpenAPI document.
fn openapi_endpoints(doc: &serde_json::Value) -> BTreeSet<Endpoint> {
    let paths = doc["paths"]
        .as_object()
        .expect("the OpenAPI document has paths");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("a path item is an object");
        for method in item.keys() {
            let upper = method.to_uppercase();
            if METHODS.contains(&upper.as_str()) {
                out.insert(format!("{upper} {path}"));
            }
        }
    }
    out
}

/// What one side has that the other lacks, one per line.
fn missing(have: &BTreeSet<String>, lack: &BTreeSet<String>) -> Vec<String> {
    have.difference(lack).map(|x| format!("  {x}")).collect()
}

#[tokio::test]
async fn the_api_reference_and_the_openapi_document_name_the_same_endpoints() {
    let node = ApiNode::hq();
    let answer = node
        .raw(
            Method::GET,
            "/api/v1/openapi.json",
            Some(&node.admin),
            Vec::new(),
        )
        .await;
    let served = openapi_endpoints(answer.ok(200));
    let documented = documented_endpoints(&read_reference());
    // A parser that finds nothing would make the comparison below vacuous.
    assert!(served.len() > 20, "OpenAPI operations: {served:?}");
    assert!(
        documented.contains("POST /api/v1/orders"),
        "endpoint headings were not recognised: {documented:?}"
    );
    let undocumented = missing(&served, &documented);
    let unserved = missing(&documented, &served);
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "docs/api.md and /api/v1/openapi.json disagree.\n\
         In the OpenAPI document but without a heading in docs/api.md:\n{}\n\
         Headed in docs/api.md but not in the OpenAPI document:\n{}",
        undocumented.join("\n"),
        unserved.join("\n"),
    );
}

#[test]
fn the_api_reference_lists_every_error_code_of_the_node() {
    let documented = documented_codes(&read_reference());
    let defined: BTreeSet<String> = switchboard_node::api::error::CODES
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert!(
        defined.len() == switchboard_node::api::error::CODES.len(),
        "CODES lists a code twice"
    );
    let undocumented = missing(&defined, &documented);
    let unknown = missing(&documented, &defined);
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "the error-code table of docs/api.md and switchboard_node::api::error::CODES disagree.\n\
         Codes the node answers with, missing from the table:\n{}\n\
         Codes in the table the node does not define:\n{}",
        undocumented.join("\n"),
        unknown.join("\n"),
    );
}

#[test]
fn the_reference_parsers_see_what_they_look_for() {
    let md = "\
# Title with `GET /not/a/heading/endpoint` is still a heading
Prose naming `POST /api/v1/prose` does not count.
### `PUT /api/v1/things/{id}`
```sh
# `DELETE /api/v1/in/a/code/block`
```
## Error codes
| code | status | when |
|---|---|---|
| `first` | 400 | x |
| `second` | 409 | y `not_a_code` |
## After
| `third` | 1 | z |
";
    let endpoints = documented_endpoints(md);
    assert_eq!(
        endpoints,
        BTreeSet::from([
            "GET /not/a/heading/endpoint".to_string(),
            "PUT /api/v1/things/{id}".to_string(),
        ])
    );
    assert_eq!(
        documented_codes(md),
        BTreeSet::from(["first".to_string(), "second".to_string()])
    );
    let doc = serde_json::json!({"paths": {
        "/a": {"get": {}, "post": {}, "parameters": []},
        "/b/{id}": {"delete": {}}
    }});
    assert_eq!(
        openapi_endpoints(&doc),
        BTreeSet::from([
            "GET /a".to_string(),
            "POST /a".to_string(),
            "DELETE /b/{id}".to_string(),
        ])
    );
}
