//! Progress of long operations: a NOTICE at most every `custprofile.progress_interval` seconds
//! (the time so far in its DETAIL), and a check for a cancel at every step. The run itself is
//! recorded in custprofile.runs by the SQL that owns it (sql/runs.sql).

use std::fmt::Display;
use std::time::Instant;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;

use crate::settings;

pub struct Progress {
    operation: &'static str,
    started: Instant,
    last: Instant,
}

impl Progress {
    pub fn new(operation: &'static str) -> Self {
        let now = Instant::now();
        Progress { operation, started: now, last: now }
    }

    /// One step done: reports `what` when the interval has passed since the last report (or
    /// the start), and lets a cancel through.
    pub fn step(&mut self, what: impl Display) {
        pgrx::check_for_interrupts!();
        let now = Instant::now();
        if now.duration_since(self.last) < settings::progress_interval() {
            return;
        }
        self.last = now;
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
            format!("{}: {what}", self.operation),
            "custprofile",
        )
        .set_detail(format!("{:.1} s so far", now.duration_since(self.started).as_secs_f64()))
        .report(PgLogLevel::NOTICE);
    }
}
