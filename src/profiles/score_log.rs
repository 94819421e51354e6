//! The per-text scores `profile_agg` makes while a refresh builds profiles, kept so that the
//! refresh can store them in `custprofile.text_scores` (sql/text_scores.sql) and the
//! `text_insights` view reads them instead of running the encoder again. Off unless a refresh
//! turned it on in this backend (`start`); `take` hands the scores over and turns it off. The log
//! is bounded: past `MAX_BYTES` of text it stops recording, and the texts it missed are scored
//! when read, as before.

use std::cell::RefCell;

/// Bytes of logged text at most (the bodies are kept to be hashed by the SQL that stores them).
const MAX_BYTES: usize = 64 << 20;

/// One scored text: the body and what the encoder and its heads said of it.
pub struct Record {
    pub body: String,
    pub sentiment_label: &'static str,
    pub sentiment: f32,
    pub intent: Option<&'static str>,
}

struct Log {
    records: Vec<Record>,
    bytes: usize,
}

thread_local! {
    static LOG: RefCell<Option<Log>> = const { RefCell::new(None) };
}

/// Starts (or restarts, dropping what an interrupted refresh left) recording in this backend.
pub fn start() {
    LOG.with(|l| {
        *l.borrow_mut() = Some(Log {
            records: Vec::new(),
            bytes: 0,
        })
    });
}

/// Whether a refresh is recording: the scorer then calls `record`, and copies no body otherwise.
pub fn recording() -> bool {
    LOG.with(|l| l.borrow().as_ref().is_some_and(|log| log.bytes < MAX_BYTES))
}

/// Keeps one scored text (a no-op when not recording or full).
pub fn record(record: Record) {
    LOG.with(|l| {
        if let Some(log) = l.borrow_mut().as_mut() {
            if log.bytes < MAX_BYTES {
                log.bytes += record.body.len();
                log.records.push(record);
            }
        }
    });
}

/// What was recorded since `start`; recording stops.
pub fn take() -> Vec<Record> {
    LOG.with(|l| l.borrow_mut().take().map(|log| log.records).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(body: &str) -> Record {
        Record {
            body: body.to_owned(),
            sentiment_label: "positive",
            sentiment: 0.5,
            intent: None,
        }
    }

    #[test]
    fn records_only_between_start_and_take() {
        record(text("before"));
        assert!(!recording());
        start();
        record(text("during"));
        let taken = take();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].body, "during");
        record(text("after"));
        assert!(take().is_empty());
    }

    #[test]
    fn stops_at_the_byte_limit() {
        start();
        record(text(&"x".repeat(MAX_BYTES)));
        assert!(!recording());
        record(text("one more"));
        assert_eq!(take().len(), 1);
    }
}
