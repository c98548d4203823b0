//! Shared test harness.
pub mod api_harness;
pub mod nodes;
pub mod sim;
