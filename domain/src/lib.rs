//! # switchboard-domain
//!
//! The call-center model of Switchboard (after the Dynamics 365 Commerce call-center channel) and
//! its rules, as pure functions of (state, command, now) → decision. No IO, no clock, no
//! knowledge of automerge, sled or HTTP: `now`, fresh ids and counts that live elsewhere (coupon
//! redemptions) come in as arguments.
//!
//! Main types: [`config::CallCenter`] and [`config::Catalog`] (configuration written at HQ),
//! [`customer::Customer`], and [`order::Order`] with its derived [`order::Totals`] and
//! [`order::Status`].
//!
//! Control flow: a caller reads the current [`order::Order`], calls a command in [`commands`]
//! with a [`commands::Ctx`]; an accepted command returns one [`commands::OrderEvent`], which
//! [`commands::apply`] folds into the order (and `switchboard-sync` writes into the order's
//! document as one change). After a merge, [`invariants::check_invariants`] names what
//! concurrent edits broke, and [`invariants::system_hold`] the hold that records it;
//! [`roles::check_role_rules`] names what a change merged from a site did that its author's role
//! may not do, recorded by a system hold the same way.

pub mod commands;
pub mod config;
pub mod continuity;
pub mod customer;
pub mod error;
pub mod guided;
pub mod ids;
pub mod invariants;
pub mod money;
pub mod order;
pub mod roles;
pub mod text;
pub mod time;

pub use error::{ErrorKind, OrderError};
pub use ids::*;
pub use money::{Currency, Quantity};
pub use rust_decimal::Decimal;
pub use time::Timestamp;

#[cfg(test)]
mod tests;
