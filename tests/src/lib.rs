//! Shared test harness.
pub mod api_harness;
pub mod bin;
pub mod cluster;
pub mod converge;
pub mod nodes;
pub mod proxy;
pub mod rng;
pub mod sim;
