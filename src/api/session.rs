//! The session as SQL sees it: settings that SQL functions read (callable before the library is
//! loaded in a session, which current_setting is not), and whether a transaction block is open.

use pgrx::prelude::*;

/// custprofile.as_of as set: latest_activity, now or an ISO timestamp (sql/clock.sql resolves it).
#[pg_extern(schema = "custprofile_internal", stable, parallel_safe)]
fn as_of_setting() -> String {
    crate::settings::as_of()
}

/// The language of the labels the extension writes (custprofile.label_language): 'en' or 'zh'.
/// The segments view, recommend and churn_reasons read it.
#[pg_extern(stable, parallel_safe)]
fn label_language() -> &'static str {
    crate::settings::label_language().code()
}

/// Whether the caller is inside BEGIN ... COMMIT, where a procedure that commits cannot run:
/// refresh_profiles says so with a HINT instead of PostgreSQL's bare "invalid transaction
/// termination" after its first batch.
#[pg_extern(schema = "custprofile_internal", volatile, parallel_unsafe)]
fn in_transaction_block() -> bool {
    // SAFETY: reads the backend's transaction state, in its own thread
    unsafe { pg_sys::IsTransactionBlock() }
}
