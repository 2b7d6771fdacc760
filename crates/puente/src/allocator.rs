//! The process's allocator: mimalloc instead of glibc's.
//!
//! Per-message work (a request, a statement's rows, a Redis reply) allocates
//! and frees many small buffers across threads; with mimalloc a worker on
//! PostgreSQL + Redis spent about a tenth less CPU per intent, and `puente
//! all` held less memory at peak (docs/benchmarks.md, 2026-12-07, night).
//! Two of its defaults kept more memory resident than glibc did under the
//! bench, and are changed:
//! - its first arena is committed eagerly; this default is read before
//!   `main`, so it is changed where mimalloc is compiled
//!   (`MI_DEFAULT_ARENA_EAGER_COMMIT=0` in `.cargo/config.toml`);
//! - freed pages are given back after a delay; [`tune`] makes it immediate.

use libmimalloc_sys as ffi;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_e` (the Rust bindings
/// name no constant for it).
const PURGE_DELAY: ffi::mi_option_t = 15;

/// Sets the options that can be changed at run time. Call first in `main`.
pub fn tune() {
    // SAFETY: mimalloc's option functions may be called at any time from
    // any thread; the option index is checked against the major version
    // whose header it was read from.
    unsafe {
        if ffi::mi_version() / 10_000 == 3 {
            ffi::mi_option_set(PURGE_DELAY, 0);
        }
    }
}
