//! The integration tests of this crate, in one binary (one link on a
//! small CI machine instead of one per file). Each module is what was a
//! test file; `cargo nextest run -p platform-core --test it <module>::` runs one.

mod error_codes;
mod exports;
mod layering;
mod lookups;
mod migrations;
mod mp_client;
mod one_clock;
mod order_details;
mod reports;
mod retention;
mod rotation;
mod sessions;
mod sources;
mod team;
mod tenancy;
mod transitions;
mod webhooks;
mod writer;
