//! `switchboard`: the one binary a call-center admin needs.
//!
//! - `serve` runs a node (initialising an empty data dir as a standalone HQ first);
//! - `init` creates a node's data dir; `demo` runs HQ and two sites in one process;
//! - admin commands (`node`, `peers`, `sync`, `users`, `orders`, `export`, `warehouse`) talk to a
//!   running node over its HTTP API (`--url`/`--token`, or `SWITCHBOARD_URL`/`SWITCHBOARD_TOKEN`);
//! - offline commands (`verify`, `backup`, `renew-admin-token`) work on a stopped node's data dir.
//!
//! Exit codes: 0 success, 1 a user-facing failure (printed as one line on stderr: unreachable
//! node, refused token, data dir in use, corrupt data dir, ...), 2 a usage error (from clap).

/// `println!` for command output: a closed pipe (`switchboard orders list | head`) ends the
/// process quietly with success, as SIGPIPE would, instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::emit(format_args!($($arg)*))
    };
}

mod admin;
mod client;
mod demo;
mod init;
mod offline;
mod output;
mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchboard: an offline-first sync node for call centers.
#[derive(Parser, Debug)]
#[command(name = "switchboard", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node (initialises an empty data dir as a standalone HQ first).
    Serve(serve::ServeArgs),
    /// Create a node's data dir and its first admin token (DATA_DIR/admin-token, 0600; printed
    /// only to a terminal).
    Init(init::InitArgs),
    /// Run HQ and two sites in this process, cut one off, heal, and show they converge.
    Demo(demo::DemoArgs),
    #[command(flatten)]
    Admin(admin::AdminCommand),
    /// Check a stopped node's data dir: documents load, read model and checkpoints agree.
    Verify(offline::VerifyArgs),
    /// Copy a stopped node's data dir consistently, so `serve --data-dir` opens the copy.
    Backup(offline::BackupArgs),
    /// Give the first admin of a stopped node a new token (its token lost or expired), written to
    /// DATA_DIR/admin-token (0600); the old token stops working.
    RenewAdminToken(offline::RenewAdminTokenArgs),
    /// Rotate a stopped node's key: make the next key (announced to peers, which accept both
    /// node ids), then with --finish switch to it.
    RotateKey(offline::RotateKeyArgs),
}

/// Writes one line to stdout; see [`outln!`].
fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let line = args.to_string();
    let mut out = std::io::stdout().lock();
    let line = output::terminal_safe(&line);
    if let Err(e) = out
        .write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
    {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Serve(_)));
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let res = rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(a).await,
            Command::Init(a) => init::run(a),
            Command::Demo(a) => demo::run(a).await,
            Command::Admin(c) => admin::run(c).await,
            Command::Verify(a) => offline::verify(a),
            Command::Backup(a) => offline::backup(a),
            Command::RenewAdminToken(a) => offline::renew_admin_token(a),
            Command::RotateKey(a) => offline::rotate_key(a),
        }
    });
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain on one line; no backtrace for user errors.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {}", output::terminal_safe(&msg));
            ExitCode::from(1)
        }
    }
}

/// Logs go to stderr (stdout carries the parseable lines). `SWITCHBOARD_LOG` takes env-filter
/// syntax; the default is `info` for `serve` and `warn` for the short-lived commands. Both
/// silence sled's own logging by default: what it warns about (a damaged store) comes back as
/// the command's one-line error, and a second, lower-level account of it only confuses.
fn init_logging(serving: bool) {
    use std::io::IsTerminal as _;
    use tracing_subscriber::EnvFilter;
    let default = if serving {
        "info,sled=off"
    } else {
        "warn,sled=off"
    };
    let filter =
        EnvFilter::try_from_env("SWITCHBOARD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    // A second initialisation (never expected here) is harmless, so the result is ignored.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
