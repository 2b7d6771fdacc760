//! The integration tests of this crate, in one binary (one link on a
//! small CI machine instead of one per file). Each module is what was a
//! test file; `cargo nextest run -p mp-sandbox --test it <module>::` runs one.

mod common;
mod helpers_faults;
mod oauth;
mod orders;
mod payments;
mod point_legacy;
mod retention;
mod sdk_scenarios;
mod stores_pos_qr;
