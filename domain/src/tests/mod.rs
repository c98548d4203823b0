//! Table-driven tests of every domain rule. `fixture` builds one call center and catalog that
//! every case starts from; each module checks one area with a `check`-style helper and many
//! small cases, boundaries included (window edges, override limits, tolerance, halves).

// Case tables are tuples (name, inputs..., expected) read row by row; naming each tuple type
// would only move the columns away from the rows.
#![allow(clippy::type_complexity)]

mod bounds;
mod commands;
mod config;
mod continuity;
mod customers;
mod errors;
mod fixture;
mod guided;
mod invariants;
mod lifecycle;
mod props;
mod roles;
mod text;
mod time;
mod totals;
