//! The integration tests of this crate, in one binary (one link on a
//! small CI machine instead of one per file). Each module is what was a
//! test file; `cargo nextest run -p platform-queue --test it <module>::` runs one.

mod behaviour;
mod common;
mod redis_only;
mod topologies;
