//! Admin commands against a running node, all over its HTTP API (docs/api.md): one module per
//! subcommand (`node`, `peers`, `sync`, `users`, `orders`, `export`, `warehouse`), each reading the node's
//! answers through `switchboard_node::views` and printing them through [`crate::output`].

pub mod export;
pub mod node;
pub mod orders;
pub mod peers;
pub mod sync;
pub mod users;
pub mod warehouse;

use anyhow::Result;
use clap::Subcommand;

/// The admin subcommands; `main` lists them among its own, in this order.
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Show a running node's identity and document counts.
    Node(node::NodeArgs),
    /// List, add or remove a running node's sync peers.
    Peers(peers::PeersArgs),
    /// Sync now, or show sync status.
    Sync(sync::SyncArgs),
    /// Users of a call center: add, list, revoke, rotate tokens.
    Users(users::UsersArgs),
    /// List or show orders.
    Orders(orders::OrdersArgs),
    /// Export every order to a file (jsonl or csv).
    Export(export::ExportArgs),
    /// Show the PostgreSQL warehouse's status, or rebuild it from the start.
    Warehouse(warehouse::WarehouseArgs),
}

/// Runs one admin command.
pub async fn run(cmd: AdminCommand) -> Result<()> {
    match cmd {
        AdminCommand::Node(a) => node::run(a).await,
        AdminCommand::Peers(a) => peers::run(a).await,
        AdminCommand::Sync(a) => sync::run(a).await,
        AdminCommand::Users(a) => users::run(a).await,
        AdminCommand::Orders(a) => orders::run(a).await,
        AdminCommand::Export(a) => export::run(a).await,
        AdminCommand::Warehouse(a) => warehouse::run(a).await,
    }
}
