//! `switchboard init`: create a node's data dir with a node id and its first admin token, kept in
//! `DATA_DIR/admin-token` (0600). The token itself is printed only when stdout is a terminal, so
//! that it never lands in a pipe, a file or the journal; otherwise the file's path is.

use anyhow::{anyhow, Result};
use clap::{Args, ValueEnum};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use switchboard_domain::CallCenterId;
use switchboard_node::NodeError;
use switchboard_sync::protocol::Role;

/// Arguments of `switchboard init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The node's name (shown by `switchboard node` and to peers).
    #[arg(long)]
    name: String,
    /// HQ (owns configuration, replicates everything) or a call-center site.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// A call center this node serves (repeat for several; a site needs at least one).
    #[arg(long = "call-center", value_name = "ID")]
    call_centers: Vec<String>,
    /// Where to create the node.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    data_dir: PathBuf,
    /// Print `{"node_id","fingerprint","admin_user_id","admin_expires_at","admin_token_file",
    /// "data_dir"}` as JSON (plus `admin_token` when stdout is a terminal).
    #[arg(long)]
    json: bool,
    /// Seconds the first admin's token stays valid (rotate it with `switchboard users rotate`).
    #[arg(
        long,
        env = "SWITCHBOARD_ADMIN_TOKEN_LIFETIME_SECS",
        default_value_t = switchboard_node::config::DEFAULT_ADMIN_TOKEN_LIFETIME_SECS,
        value_parser = clap::value_parser!(u64).range(1..=switchboard_node::config::MAX_TOKEN_LIFETIME_SECS)
    )]
    admin_token_lifetime_secs: u64,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum RoleArg {
    Site,
    Hq,
}

/// Runs `switchboard init`.
pub fn run(args: InitArgs) -> Result<()> {
    let role = match args.role {
        RoleArg::Site => Role::Site,
        RoleArg::Hq => Role::Hq,
    };
    let ccs = args
        .call_centers
        .iter()
        .map(|c| CallCenterId::parse(c.as_str()).map_err(|e| anyhow!("call center {c:?}: {e}")))
        .collect::<Result<Vec<_>>>()?;
    if role == Role::Site && ccs.is_empty() {
        return Err(anyhow!(
            "a site serves at least one call center: pass --call-center ID"
        ));
    }
    let out = try_create(
        &args.data_dir,
        &args.name,
        role,
        &ccs,
        args.admin_token_lifetime_secs,
    )?;
    if args.json {
        let mut v = serde_json::json!({
            "node_id": out.node_id.to_string(),
            "admin_user_id": out.admin_user_id.to_string(),
            "admin_expires_at": out.admin_expires_at.to_string(),
            "fingerprint": out.fingerprint.to_string(),
            "admin_token_file": token_path(&args.data_dir).display().to_string(),
            "data_dir": args.data_dir.display().to_string(),
        });
        if std::io::stdout().is_terminal() {
            v["admin_token"] = serde_json::Value::String(out.admin_token.clone());
        }
        outln!("{v}");
    } else {
        outln!(
            "initialised {} node {:?} in {}",
            role,
            args.name,
            args.data_dir.display()
        );
        outln!(
            "node id (peers add this node with `switchboard peers add --node-id`): {}",
            out.fingerprint
        );
        print_token(&out.admin_token, &args.data_dir);
        outln!(
            "admin user {} (token valid until {})",
            out.admin_user_id,
            out.admin_expires_at
        );
    }
    Ok(())
}

/// What a fresh node hands back.
pub struct Created {
    /// The new node's internal id.
    pub node_id: switchboard_domain::NodeId,
    /// Its node id for peers: the fingerprint of its certificate's public key.
    pub fingerprint: switchboard_node::tls::Fingerprint,
    /// The first admin's token (only its hash is stored in the node).
    pub admin_token: String,
    /// The first admin's user id.
    pub admin_user_id: switchboard_domain::UserId,
    /// When that token stops working.
    pub admin_expires_at: switchboard_domain::Timestamp,
}

/// Initialises `dir`; the node writes the admin token to `dir/admin-token` (mode 0600).
pub fn create(dir: &Path, name: &str, role: Role, ccs: &[CallCenterId]) -> Result<Created> {
    let lifetime = switchboard_node::config::DEFAULT_ADMIN_TOKEN_LIFETIME_SECS;
    let out = try_create(dir, name, role, ccs, lifetime)?;
    Ok(out)
}

/// Like [`create`], keeping the node's error so a caller can tell "already initialised" apart.
pub fn try_create(
    dir: &Path,
    name: &str,
    role: Role,
    ccs: &[CallCenterId],
    admin_token_lifetime_secs: u64,
) -> Result<Created, NodeError> {
    let expires = switchboard_node::identity::admin_token_expiry(admin_token_lifetime_secs);
    let out = switchboard_node::identity::init_data_dir_until(dir, name, role, ccs, true, expires)?;
    Ok(Created {
        node_id: out.node_id,
        fingerprint: out.fingerprint,
        admin_token: out.admin_token,
        admin_user_id: out.admin_user,
        admin_expires_at: out.admin_expires_at,
    })
}

/// Prints the token once, with where it is kept, when stdout is a terminal; otherwise only where
/// it is kept (a token in a pipe ends up in logs and journals).
pub fn print_token(token: &str, dir: &Path) {
    if std::io::stdout().is_terminal() {
        outln!("admin token: {token}");
        outln!(
            "(shown once; also written to {} with mode 0600)",
            token_path(dir).display()
        );
    } else {
        outln!(
            "admin token written to {} (mode 0600; printed only to a terminal)",
            token_path(dir).display()
        );
    }
}

/// `DATA_DIR/admin-token`.
pub fn token_path(dir: &Path) -> PathBuf {
    dir.join(switchboard_node::identity::ADMIN_TOKEN_FILE)
}
