//! Tidy checks, in the spirit of rust-analyzer's `tidy.rs`: the architecture invariants of
//! ARCHITECTURE.md that a compiler cannot see. `domain` and `sync` stay pure — no IO crates in
//! their `[dependencies]`, no file, socket, thread or clock calls in their sources — so that the
//! rules and the protocol can be run deterministically in one process by the tests. Inside `node`,
//! HTTP stays at the edge: the service, views, store, sync driver and read model name nothing of
//! axum, `http` or `crate::api`; and no file under `node/src` grows past ~600 lines unless its
//! `//!` says why it has one reason to change.

use std::path::{Path, PathBuf};

/// Crates that bring IO (runtimes, servers, clients, sockets, storage).
const IO_CRATES: &[&str] = &[
    "tokio", "axum", "sled", "hyper", "reqwest", "mio", "socket2", "tower",
];

/// Everything `domain` may depend on (DESIGN.md §3, plus unicode-normalization for the NFC of
/// free text, issue 14: a pure function, no IO).
const DOMAIN_DEPS: &[&str] = &[
    "serde",
    "rust_decimal",
    "uuid",
    "thiserror",
    "unicode-normalization",
];

/// Calls that do IO, spawn threads or read the clock.
const IO_CALLS: &[&str] = &[
    "std::fs",
    "std::net",
    "std::thread::spawn",
    "tokio::",
    "SystemTime::now",
    "Instant::now",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the repository root")
        .to_path_buf()
}

/// The crates a manifest lists under `[dependencies]` (and target-specific dependencies), by
/// their real package name; dev- and build-dependencies do not ship, so they are not listed.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_deps = false;
    for raw in manifest.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            let header = line.trim_start_matches('[').trim_end_matches(']').trim();
            in_deps = header == "dependencies"
                || (header.starts_with("target.") && header.ends_with(".dependencies"));
            // `[dependencies.foo]` and `[target.'cfg(..)'.dependencies.foo]` tables.
            if let Some((_, name)) = header.split_once("dependencies.") {
                if !header.contains("dev-dependencies") && !header.contains("build-dependencies") {
                    out.push(name.trim().trim_matches('"').to_string());
                }
            }
            continue;
        }
        if !in_deps || line.is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        // `foo.workspace = true` is a dotted key; `foo = { package = "bar" }` renames.
        let key = key
            .trim()
            .split('.')
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        let renamed = value.split_once("package").and_then(|(_, rest)| {
            let rest = rest
                .trim_start()
                .strip_prefix('=')?
                .trim_start()
                .strip_prefix('"')?;
            rest.split_once('"').map(|(name, _)| name.to_string())
        });
        out.push(renamed.unwrap_or_else(|| key.to_string()));
    }
    out
}

/// Whether a package is one of the IO crates or a member of its family (`tokio-util`, `hyper-util`).
fn is_io_crate(name: &str) -> bool {
    IO_CRATES.iter().any(|io| {
        name == *io
            || name
                .strip_prefix(io)
                .is_some_and(|rest| rest.starts_with(['-', '_']))
    })
}

fn manifest_deps(krate: &str) -> Vec<String> {
    let path = repo_root().join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    dependencies(&text)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `file:line: call` in `src` that names an IO call outside a comment.
fn io_calls(src: &Path) -> Vec<String> {
    mentions(src, IO_CALLS)
}

/// Every `file:line: pattern` in `src` (a directory or one file) that names one of `patterns`
/// outside a comment.
fn mentions(src: &Path, patterns: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    if src.is_dir() {
        rust_files(src, &mut files);
    } else {
        files.push(src.to_path_buf());
    }
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            let code = code.split("//").next().unwrap_or("");
            for call in patterns.iter().filter(|c| code.contains(*c)) {
                found.push(format!("{}:{}: {call}", file.display(), i + 1));
            }
        }
    }
    found
}

#[test]
fn domain_and_sync_have_no_io_dependencies() {
    for krate in ["domain", "sync"] {
        let deps = manifest_deps(krate);
        assert!(
            !deps.is_empty(),
            "{krate}/Cargo.toml lists no dependencies: parser out of date?"
        );
        let io: Vec<&String> = deps.iter().filter(|d| is_io_crate(d)).collect();
        assert!(
            io.is_empty(),
            "{krate} must not depend on IO crates, but lists {io:?}"
        );
    }
    let extra: Vec<String> = manifest_deps("domain")
        .into_iter()
        .filter(|d| !DOMAIN_DEPS.contains(&d.as_str()))
        .collect();
    assert!(
        extra.is_empty(),
        "domain may depend only on {DOMAIN_DEPS:?}, but also lists {extra:?}"
    );
}

#[test]
fn domain_and_sync_do_no_io_and_read_no_clock() {
    let root = repo_root();
    let mut found = io_calls(&root.join("domain/src"));
    found.extend(io_calls(&root.join("sync/src")));
    assert!(
        found.is_empty(),
        "domain and sync do no IO and take `now` as an argument; found:\n{}",
        found.join("\n")
    );
}

/// What the node's inner layers may not name: HTTP belongs to `api` (and `server`).
const HTTP_NAMES: &[&str] = &["axum", "http::", "crate::api", "hyper"];

/// The node modules that speak domain and store, not HTTP (ARCHITECTURE.md, `node`).
const NODE_INNER: &[&str] = &[
    "service",
    "views",
    "store",
    "sync_driver",
    "read_model.rs",
    "auth.rs",
    "scheduler.rs",
    "warehouse",
];

#[test]
fn node_keeps_http_at_the_edge() {
    let src = repo_root().join("node/src");
    let mut found = Vec::new();
    for module in NODE_INNER {
        let path = src.join(module);
        if path.exists() {
            found.extend(mentions(&path, HTTP_NAMES));
        }
    }
    assert!(
        src.join("service").is_dir() && src.join("views").is_dir(),
        "node/src/service and node/src/views are expected to be directories"
    );
    assert!(
        found.is_empty(),
        "only node/src/api and node/src/server.rs speak HTTP; found:\n{}",
        found.join("\n")
    );
}

/// Past this many lines a node source file must say in its `//!` why it has one reason to change.
const LONG_FILE: usize = 600;

#[test]
fn node_files_stay_small_or_say_why() {
    let mut files = Vec::new();
    rust_files(&repo_root().join("node/src"), &mut files);
    files.sort();
    let long: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f).expect("read a node source file");
            let lines = text.lines().count();
            let says_why = text
                .lines()
                .take_while(|l| l.starts_with("//!"))
                .any(|l| l.contains("One reason to change:"));
            (lines > LONG_FILE && !says_why).then(|| format!("{}: {lines} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these files, or say in their `//!` \"One reason to change: …\":\n{}",
        long.join("\n")
    );
}

#[test]
fn the_warehouse_does_not_depend_on_the_node() {
    let deps = manifest_deps("warehouse");
    assert!(
        deps.iter().any(|d| d == "switchboard-domain"),
        "parser out of date?"
    );
    assert!(
        !deps
            .iter()
            .any(|d| d == "switchboard-node" || d == "switchboard-cli"),
        "the warehouse maps documents to rows; the node feeds it, not the other way: {deps:?}"
    );
}

#[test]
fn the_tidy_checks_see_what_they_look_for() {
    let manifest = r#"
[package]
name = "x"
tokio = "not a dependency: a package key"

[dependencies]
serde.workspace = true
uuid = { workspace = true }
"quoted" = "1"
net = { package = "socket2", version = "0.5" } # renamed
tokio-util = "0.7"

[dependencies.hyper]
version = "1"

[target.'cfg(unix)'.dependencies]
mio = "1"

[dev-dependencies]
proptest.workspace = true
tokio = "1"

[build-dependencies]
sled = "0.34"
"#;
    let deps = dependencies(manifest);
    assert_eq!(
        deps,
        [
            "serde",
            "uuid",
            "quoted",
            "socket2",
            "tokio-util",
            "hyper",
            "mio"
        ]
    );
    let io: Vec<&str> = deps
        .iter()
        .map(String::as_str)
        .filter(|d| is_io_crate(d))
        .collect();
    assert_eq!(io, ["socket2", "tokio-util", "hyper", "mio"]);
    assert!(!is_io_crate("towers") && !is_io_crate("serde") && is_io_crate("tower-http"));

    let dir = std::env::temp_dir().join(format!("switchboard-tidy-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    std::fs::write(
        dir.join("a.rs"),
        "// std::fs in a comment is fine\nfn f() { let _ = std::time::SystemTime::now(); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("nested/b.rs"),
        "use std::net::TcpStream; // and std::fs here\n",
    )
    .unwrap();
    std::fs::write(dir.join("nested/c.txt"), "std::fs").unwrap();
    let found = io_calls(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let found: Vec<&str> = found
        .iter()
        .map(|f| f.rsplit_once(": ").unwrap().1)
        .collect();
    assert_eq!(found, ["SystemTime::now", "std::net"]);

    let file = std::env::temp_dir().join(format!("switchboard-tidy-{}.rs", std::process::id()));
    std::fs::write(
        &file,
        "//! crate::api in a doc comment is fine\nuse crate::api::error::ApiError;\nuse axum::Json;\n",
    )
    .unwrap();
    let found = mentions(&file, HTTP_NAMES);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(found.len(), 2, "{found:?}");
}
