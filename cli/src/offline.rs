//! Offline commands on a stopped node's data dir: `verify`, `backup` and `renew-admin-token`.
//!
//! Both open the store themselves, so they take the data dir's lock: on a dir in use by a running
//! node they fail with one line and exit 1 instead of reading a store that is being written.

use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use std::path::PathBuf;
use switchboard_node::store::sled::SledStore;
use switchboard_node::store::StoreExt as _;
use switchboard_node::NodeError;

/// Arguments of `switchboard verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// The stopped node's data dir.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    data_dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `switchboard backup`.
#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The stopped node's data dir.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    data_dir: PathBuf,
    /// Where to write the copy (must not exist yet, or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Also copy the keys and secrets (the node key and certificate, the admin token file, peer
    /// secrets of contract v1); without it they are
    /// left out, so a stolen backup cannot act as this node.
    #[arg(long)]
    include_keys: bool,
}

/// Arguments of `switchboard renew-admin-token`.
#[derive(Args, Debug)]
pub struct RenewAdminTokenArgs {
    /// The stopped node's data dir.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    data_dir: PathBuf,
    /// Seconds the new token stays valid.
    #[arg(
        long,
        env = "SWITCHBOARD_ADMIN_TOKEN_LIFETIME_SECS",
        default_value_t = switchboard_node::config::DEFAULT_ADMIN_TOKEN_LIFETIME_SECS,
        value_parser = clap::value_parser!(u64).range(1..=switchboard_node::config::MAX_TOKEN_LIFETIME_SECS)
    )]
    admin_token_lifetime_secs: u64,
}

/// `switchboard rotate-key`.
#[derive(Args, Debug)]
pub struct RotateKeyArgs {
    /// The stopped node's data dir.
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data"
    )]
    data_dir: PathBuf,
    /// Finish the rotation: the next key becomes the node's key (once every peer has synced with
    /// the node since the rotation started, and so recorded the next node id).
    #[arg(long)]
    finish: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs `switchboard rotate-key`.
pub fn rotate_key(args: RotateKeyArgs) -> Result<()> {
    if !args.data_dir.exists() {
        return Err(anyhow!("no data dir at {}", args.data_dir.display()));
    }
    let out = switchboard_node::identity::rotate_key(&args.data_dir, args.finish)
        .with_context(|| format!("cannot rotate the key of {}", args.data_dir.display()))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&out)?);
    } else if args.finish {
        outln!(
            "node id:       {} (rotation finished; start the node)",
            out.node_id
        );
    } else {
        outln!("node id:       {}", out.node_id);
        if let Some(next) = out.next_node_id {
            outln!("next node id:  {next}");
        }
        outln!("start the node: it announces the next node id to its peers; once each has synced with it, stop it and run switchboard rotate-key --finish");
    }
    Ok(())
}

/// Runs `switchboard renew-admin-token`: a new token for the admin `init` made (the old one stops
/// working), written to `DATA_DIR/admin-token` and printed only to a terminal.
pub fn renew_admin_token(args: RenewAdminTokenArgs) -> Result<()> {
    if !args.data_dir.exists() {
        return Err(anyhow!("no data dir at {}", args.data_dir.display()));
    }
    let expires = switchboard_node::identity::admin_token_expiry(args.admin_token_lifetime_secs);
    let (user, token) = switchboard_node::identity::renew_admin_token(&args.data_dir, expires)
        .with_context(|| {
            format!(
                "cannot renew the admin token of {}",
                args.data_dir.display()
            )
        })?;
    crate::init::print_token(&token, &args.data_dir);
    outln!("admin user {user} (token valid until {expires}; the old token no longer works)");
    Ok(())
}

/// Runs `switchboard verify`: a report on stdout, exit 1 when it found problems.
pub fn verify(args: VerifyArgs) -> Result<()> {
    if !args.data_dir.exists() {
        return Err(anyhow!("no data dir at {}", args.data_dir.display()));
    }
    let report = switchboard_node::store::verify(&args.data_dir)
        .with_context(|| format!("cannot verify {}", args.data_dir.display()))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!(
            "{}: {} documents, {} feed entries, {} peers, {} users checked",
            args.data_dir.display(),
            report.docs,
            report.feed_entries,
            report.peers,
            report.users
        );
        for p in &report.problems {
            outln!("problem: {p}");
        }
        if report.problems.is_empty() {
            outln!("ok: no problems found");
        }
    }
    if report.problems.is_empty() {
        Ok(())
    } else {
        Err(anyhow!(
            "data dir {} is corrupt: {} problem(s) found",
            args.data_dir.display(),
            report.problems.len()
        ))
    }
}

/// Runs `switchboard backup`.
pub fn backup(args: BackupArgs) -> Result<()> {
    if !args.data_dir.exists() {
        return Err(anyhow!("no data dir at {}", args.data_dir.display()));
    }
    if let Ok(mut entries) = std::fs::read_dir(&args.out) {
        if entries.next().is_some() {
            return Err(anyhow!(
                "{} exists and is not empty; choose a new directory",
                args.out.display()
            ));
        }
    }
    let what = || {
        format!(
            "cannot back up {} to {}",
            args.data_dir.display(),
            args.out.display()
        )
    };
    // Opening takes the data dir's lock, so a running node's dir is refused ("in use").
    let store = SledStore::open(&args.data_dir, 16 * 1024 * 1024).with_context(what)?;
    if store.identity().with_context(what)?.is_none() {
        return Err(NodeError::NotInitialized(args.data_dir.clone())).with_context(what);
    }
    let report = store
        .backup(&args.out, args.include_keys)
        .with_context(what)?;
    drop(store);
    // Key files live next to the store, not in it.
    let mut files = Vec::new();
    for name in switchboard_node::identity::KEY_FILES {
        let src = args.data_dir.join(name);
        if !src.exists() {
            continue;
        }
        files.push(*name);
        if args.include_keys {
            let dst = args.out.join(name);
            let text = std::fs::read_to_string(&src)
                .with_context(|| format!("cannot read {}", src.display()))?;
            switchboard_node::store::perms::write_private_file(&dst, text.trim_end())
                .with_context(|| format!("cannot write {}", dst.display()))?;
        }
    }
    outln!(
        "backed up {} documents from {} to {} (serve it with: switchboard serve --data-dir {})",
        report.docs,
        args.data_dir.display(),
        args.out.display(),
        args.out.display()
    );
    let mut keys: Vec<String> = files.iter().map(|f| format!("the {f} file")).collect();
    let secrets = report.peer_secrets;
    if secrets > 0 {
        keys.push(format!(
            "{secrets} peer secret{}",
            if secrets == 1 { "" } else { "s" }
        ));
    }
    let keys = if keys.is_empty() {
        "none held".to_string()
    } else {
        keys.join(" and ")
    };
    if args.include_keys {
        outln!("keys included ({keys}): keep this copy as secret as the node itself");
    } else {
        outln!(
            "keys left out ({keys}); pass --include-keys to keep them. A restored node makes a new \
             key at its first start: add it again on each peer by its new node id (switchboard \
             peers add --node-id); the admin token still works"
        );
    }
    Ok(())
}
