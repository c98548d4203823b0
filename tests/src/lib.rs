//! Shared test harness.
pub mod sim;
