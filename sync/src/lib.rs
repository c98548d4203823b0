//! # switchboard-sync
//!
//! How Switchboard's state lives in automerge documents, how concurrent edits merge without
//! breaking business rules, and how two nodes exchange exactly what changed.
//!
//! - [`doc`]: one automerge document per order, customer, call-center configuration and the
//!   catalog; typed reading and writing between `switchboard-domain` values and documents (every
//!   nested map created in the first change, collections as maps keyed by fresh ids, tombstones,
//!   set-once lifecycle facts), conflicts, history, merge-time invariants as system holds, and
//!   byte-identical continuity children.
//! - [`protocol`]: the multi-document sync protocol as a sans-IO state machine (change feed,
//!   per-peer checkpoints, batched `save_after` payloads, scopes), with the [`protocol::Replica`]
//!   trait as its IO boundary, [`protocol::apply::plan_apply`] as the one merge planner every
//!   replica uses and [`protocol::merge`] merging one received payload into a stored document.
//! - [`codec`]: the one place that knows bincode (version byte, size limit on decode).
//!
//! Control loop: a node's driver calls [`protocol::Initiator::new`], sends the frame, feeds each
//! answer to [`protocol::Initiator::on_frame`] until it reports `done` (or splits each answer
//! into [`protocol::Initiator::accept`] and [`protocol::Initiator::merged`], sending the next
//! pull while the merge runs); the peer answers each
//! frame with [`protocol::respond`]. This crate opens no sockets or files, spawns nothing and reads
//! no clock: time and randomness come in as arguments.

pub mod codec;
pub mod doc;
pub mod protocol;
