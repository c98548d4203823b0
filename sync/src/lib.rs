//! placeholder
pub mod doc;
pub mod codec;
pub mod merge;
pub mod protocol;
