//! The one integration test of the `cli` package. It exists for a reason beyond itself: cargo
//! builds a package's binaries only for that package's integration tests, so this file is what
//! makes `cargo test --workspace` build `target/debug/switchboard`, the binary that the
//! real-process tests in the `tests` crate run (same build, same profile). Every other test
//! lives in the `tests` crate.

use std::process::Command;

fn switchboard(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(args)
        .output()
        .expect("the switchboard binary runs")
}

#[test]
fn help_names_every_command_and_unknown_commands_are_usage_errors() {
    let out = switchboard(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "serve",
        "init",
        "demo",
        "peers",
        "sync",
        "verify",
        "backup",
        "export",
        "warehouse",
    ] {
        assert!(help.contains(cmd), "--help lacks {cmd}: {help}");
    }
    let bad = switchboard(&["no-such-command"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&bad.stderr).is_empty());
}
