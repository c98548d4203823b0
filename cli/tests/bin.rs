//! Its own integration test makes `cargo test --workspace` build the real `switchboard`
//! executable (target/<profile>/switchboard), which the CLI tests in `switchboard-tests` run.
//! The behaviour itself is tested there (tests/tests/cli.rs), not here.

use std::process::Command;

#[test]
fn the_binary_answers_help() {
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .arg("--help")
        .output()
        .expect("run switchboard --help");
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage:"));
}
