//! `switchboard serve`: run a node until SIGINT/SIGTERM.
//!
//! On an empty (or missing) data dir the node is first initialised as `init` would, from the
//! configuration's name/role/call centers (by default a standalone HQ), and the admin token is
//! written to `DATA_DIR/admin-token` (printed once only when stdout is a terminal). The bound
//! address is printed as `listening on http://ADDR` (`https://` off loopback), and the peers'
//! listener, when there is one, as `peers listening on https://ADDR`, so a caller that asked for
//! port 0 learns the real ports from stdout.

use anyhow::{Context as _, Result};
use clap::Args;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use switchboard_node::config::NodeConfig;
use switchboard_node::NodeError;
use switchboard_sync::protocol::Role;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Arguments of `switchboard serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// A TOML configuration file (`SWITCHBOARD_*` environment variables override it).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Where the node's store lives (default ./switchboard-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:7070; port 0 picks a free port). Off loopback
    /// the agent API speaks HTTPS (clients on loopback may still use plain HTTP).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// On an empty data dir, load sample data for the console at `/`: a call center, products,
    /// a source code with its script, a coupon, and an agent and a supervisor account whose
    /// passwords are printed (ignored when the data dir already holds a node).
    #[arg(long)]
    demo_data: bool,
    /// Address peers reach this node on: TLS 1.3 with client certificates, peers pinned by node
    /// id (default: none, the node only dials its peers).
    #[arg(long, value_name = "ADDR")]
    sync_listen: Option<SocketAddr>,
    /// Serve the agent API as plain HTTP even off loopback (warned at every start).
    #[arg(long)]
    insecure_http: bool,
}

/// Runs `switchboard serve`.
pub async fn run(args: ServeArgs) -> Result<()> {
    let mut cfg = NodeConfig::load(args.config.as_deref())?;
    if let Some(d) = args.data_dir {
        cfg.data_dir = d;
    }
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(l) = args.sync_listen {
        cfg.sync_listen = Some(l);
    }
    if args.insecure_http {
        cfg.insecure_http = true;
    }
    let created = ensure_initialised(&cfg)?;
    let tls = !cfg.listen.ip().is_loopback() && !cfg.insecure_http;
    if cfg.insecure_http && !cfg.listen.ip().is_loopback() {
        eprintln!(
            "warning: --insecure-http: the agent API on {} speaks plain HTTP; tokens and customer data cross the network in clear",
            cfg.listen
        );
    }
    let node = start(cfg).await?;
    if let (true, Some(admin)) = (args.demo_data, created) {
        // Clients on loopback may always speak plain HTTP to the node.
        let local = SocketAddr::from(([127, 0, 0, 1], node.addr.port()));
        let url = if node.addr.ip().is_loopback() {
            node.addr
        } else {
            local
        };
        crate::demo::seed_console(&format!("http://{url}"), &admin).await?;
    }
    let scheme = if tls { "https" } else { "http" };
    outln!("listening on {scheme}://{}", node.addr);
    if let Some(a) = node.sync_addr {
        outln!("peers listening on https://{a}");
    }
    outln!("console: open {scheme}://{}/ in a browser", node.addr);
    // Tests and scripts read that line from a pipe: make sure it leaves now.
    std::io::stdout().flush().ok();
    let RunningNode { stop, task, .. } = node;
    let signal = tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(());
    });
    let res = task.await.context("the node task failed")?;
    signal.abort();
    res?;
    Ok(())
}

/// A node serving in this process.
pub struct RunningNode {
    /// The address it is bound to.
    pub addr: SocketAddr,
    /// The peers' listener, when configured (`sync_listen`).
    pub sync_addr: Option<SocketAddr>,
    /// Send (or drop) to shut it down gracefully.
    pub stop: oneshot::Sender<()>,
    /// Ends when the node has drained and flushed.
    pub task: JoinHandle<Result<(), switchboard_node::NodeError>>,
}

impl RunningNode {
    /// Asks the node to stop and waits until it has.
    pub async fn shutdown(self) -> Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("the node task failed")??;
        Ok(())
    }
}

/// Binds `cfg.listen` (and `cfg.sync_listen`), opens the store and serves in a task until
/// `stop` fires.
pub async fn start(cfg: NodeConfig) -> Result<RunningNode> {
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let sync = match cfg.sync_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen for peers on {a}"))?,
        ),
        None => None,
    };
    let sync_addr = sync.as_ref().map(|l| l.local_addr()).transpose()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        // A dropped sender stops the node too.
        let _ = stopped.await;
    };
    // The agents' console at `/`, beside the API on the same listener. Its cookies are `Secure`
    // when the listener speaks HTTPS (off loopback), or behind a TLS proxy that says so
    // (`X-Forwarded-Proto: https`).
    let options = switchboard_console::Options {
        idle: std::time::Duration::from_secs(cfg.console_idle_secs.max(1)),
        secure_cookies: !cfg.listen.ip().is_loopback() && !cfg.insecure_http,
    };
    let console: switchboard_node::ExtraRoutes =
        Box::new(move |state, hub| switchboard_console::router(state, hub, options));
    let task = tokio::spawn(switchboard_node::serve_with(
        cfg,
        listener,
        sync,
        shutdown,
        Some(console),
    ));
    Ok(RunningNode {
        addr,
        sync_addr,
        stop,
        task,
    })
}

/// Initialises a data dir that holds no node yet, as `init` would, and tells where the token is
/// (printing it once only to a terminal).
/// A dir that already holds a node is left alone; one in use fails here ("data dir in use").
/// Answers the admin token of a node it created.
fn ensure_initialised(cfg: &NodeConfig) -> Result<Option<String>> {
    // A site without call centers cannot be initialised; an existing site node does not need
    // them, so only a fresh dir is an error (reported by the node's init).
    if cfg.role == Role::Site && cfg.call_centers.is_empty() && !is_empty_dir(&cfg.data_dir)? {
        return Ok(None);
    }
    match crate::init::try_create(
        &cfg.data_dir,
        &cfg.name,
        cfg.role,
        &cfg.call_centers,
        cfg.admin_token_lifetime_secs,
    ) {
        Ok(out) => {
            outln!(
                "initialised {} node {:?} in {}; node id {}",
                cfg.role,
                cfg.name,
                cfg.data_dir.display(),
                out.fingerprint
            );
            crate::init::print_token(&out.admin_token, &cfg.data_dir);
            Ok(Some(out.admin_token))
        }
        Err(NodeError::AlreadyInitialized(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// True when `dir` holds nothing yet (missing, or an empty directory).
fn is_empty_dir(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
