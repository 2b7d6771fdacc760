//! The integration tests of this crate, in one binary (one link on a
//! small CI machine instead of one per file). Each module is what was a
//! test file; `cargo nextest run -p platform-worker --test it <module>::` runs one.

mod automation;
mod common;
mod dispatch;
mod faults;
mod mp_compat;
mod races;
mod security;
mod webhooks;
