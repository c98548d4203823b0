//! placeholder
pub mod doc;
