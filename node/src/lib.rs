//! # switchboard-node
//!
//! The Switchboard node: the sled store with durable group-committed writes ([`store`]),
//! configuration ([`config`]), node identity and `init` ([`identity`]), the agent HTTP API,
//! authentication, the sync driver that talks to peers over HTTP, and the follower that streams
//! the store into a PostgreSQL warehouse when one is configured ([`warehouse`]).
//!
//! Holds no business rules of its own: those live in `switchboard-domain` and, for merge-time
//! invariants, in `switchboard-sync`.

pub mod api;
pub mod auth;
pub mod config;
pub mod customer_search;
pub mod error;
pub mod http_server;
pub mod identity;
pub mod passwords;
pub mod peer_client;
pub mod read_model;
pub mod scheduler;
pub mod server;
pub mod service;
pub mod store;
pub mod sync_driver;
pub mod tls;
pub mod views;
pub mod warehouse;

pub use error::NodeError;
pub use server::{serve, serve_with, ExtraRoutes};
