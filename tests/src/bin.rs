//! Where the tests find the built `switchboard` binary, for every test that runs it as a
//! separate process (the CLI tests, the multi-process clusters).

use std::path::{Path, PathBuf};

/// The `switchboard` binary: `SWITCHBOARD_BIN`, else the one beside the test executable
/// (`target/debug/deps/all-HASH` → `target/debug/switchboard`). It is never built from here:
/// `cargo build -p switchboard-cli` comes first.
pub fn switchboard() -> PathBuf {
    if let Some(p) = std::env::var_os("SWITCHBOARD_BIN") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in target/<profile>/deps");
    let p = dir.join(format!("switchboard{}", std::env::consts::EXE_SUFFIX));
    assert!(
        p.exists(),
        "{} not found: build it first with `cargo build -p switchboard-cli` (or set SWITCHBOARD_BIN)",
        p.display()
    );
    p
}
