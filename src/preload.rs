//! The encoder loaded once in the postmaster, when custprofile is in `shared_preload_libraries`.
//! Every backend, parallel worker and background worker is forked from the postmaster afterwards
//! and starts with the encoder, the tokenizer and the sentiment head already in its cache: their
//! pages are shared copy-on-write (the weights and the tokenizer's tables are only read), so a
//! backend adds only what inference writes, and its first call does not load anything. Without
//! the preload each backend loads the encoder on first use, as before.
//!
//! What is preloaded is what the postmaster's settings name at start (`custprofile.encoder`,
//! `custprofile.model_dir`, `custprofile.intra_threads` in postgresql.conf); a backend whose
//! settings name another encoder or thread count loads its own on first use.

use std::panic::{catch_unwind, AssertUnwindSafe};

use pgrx::prelude::*;

use crate::heads::sentiment;
use crate::runtime;
use crate::settings;

/// Called by `_PG_init`: preloads when the library is being loaded by the postmaster. A failure
/// (an error or a panic) is a WARNING in the server log, never a refused start: backends then load
/// (and report) it themselves.
pub fn in_postmaster() {
    // SAFETY: a plain flag the postmaster sets while it loads shared_preload_libraries
    if !unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        return;
    }
    // ONNX Runtime starts a thread pool for more than one intra-op thread; a postmaster must stay
    // single-threaded, since fork() keeps only the calling thread.
    if settings::intra_threads() > 1 {
        log!(
            "custprofile: custprofile.intra_threads is {}, so the encoder is not preloaded; backends load it on first use",
            settings::intra_threads()
        );
        return;
    }
    let threads_before = threads();
    let started = std::time::Instant::now();
    let loaded = catch_unwind(AssertUnwindSafe(|| sentiment::warm_up().and_then(|()| runtime::keep_loaded_encoder())));
    match loaded {
        Ok(Ok(())) => log!(
            "custprofile: encoder {} loaded in the postmaster in {} ms; backends share it",
            settings::encoder(),
            started.elapsed().as_millis()
        ),
        Ok(Err(e)) => warning!(
            "custprofile: encoder {} was not preloaded ({}); backends load it on first use",
            settings::encoder(),
            e.message
        ),
        Err(_) => warning!(
            "custprofile: encoder {} was not preloaded (the load panicked); backends load it on first use",
            settings::encoder()
        ),
    }
    let threads_after = threads();
    if threads_after > threads_before {
        warning!("custprofile: the postmaster has {threads_after} threads after preloading the encoder, {threads_before} before");
    }
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(1)
}
