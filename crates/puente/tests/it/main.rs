//! The integration tests of this crate, in one binary (one link on a
//! small CI machine instead of one per file). Each module is what was a
//! test file; `cargo nextest run -p puente --test it <module>::` runs one.

mod browser;
mod cli;
mod fuzz_api;
