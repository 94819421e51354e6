//! Batched scoring of the texts `profile_agg` folds into profiles. Each group's state holds a
//! `TextSummary` and the texts not yet scored; texts are scored in batches (one encoder pass for
//! many texts) when enough are pending, when the state is serialised for the leader of a
//! parallel plan, and at the end. A batch takes the pending texts of every group of the process,
//! not only the group at hand: under hash aggregation each group holds a text or two at a time,
//! and scoring groups one by one meant one encoder call per row.

use std::cell::{Cell, RefCell};

use crate::errors::Result;
use crate::heads::intent::{self, Intent};
use crate::heads::sentiment::{self, Sentiment, LABELS};
use crate::profiles::score_log;
use crate::profiles::text_summary::{Scored, TextSummary};
use crate::profiles::topics::Topics;
use crate::settings;
use crate::text::language::{self, Languages};

/// Bytes of pending text above which, across all the groups of a query, a group scores its
/// pending texts at its next row rather than waiting for a full batch. PostgreSQL does not see
/// this memory (it is not palloc'd), so it must stay bounded on its own.
const PENDING_BYTES_LIMIT: usize = 16 << 20;

thread_local! {
    static PENDING_BYTES: Cell<usize> = const { Cell::new(0) };
    static PENDING_TEXTS: Cell<usize> = const { Cell::new(0) };
    /// The states of this process that hold pending texts. A state is registered when its first
    /// text becomes pending and leaves when its texts are scored or when it is dropped (its
    /// memory context reset or deleted), so every pointer here is live.
    static WITH_PENDING: RefCell<Vec<*mut ProfileState>> = const { RefCell::new(Vec::new()) };
}

struct Pending {
    body: String,
    rating: Option<f32>,
    written_at: Option<i64>,
}

/// One group's state: what is folded so far and what waits for the next batch.
#[derive(Default)]
pub struct ProfileState {
    pub summary: TextSummary,
    pending: Vec<Pending>,
    pending_bytes: usize,
}

impl ProfileState {
    pub fn from_summary(summary: TextSummary) -> Self {
        ProfileState {
            summary,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Adds a row (rating and time already checked by the caller; `written_at` in microseconds
    /// since 2000-01-01); true when the process now holds a batch to score (`flush_all`).
    pub fn push(
        &mut self,
        body: Option<&str>,
        rating: Option<f32>,
        written_at: Option<i64>,
    ) -> bool {
        let body = match body {
            None => {
                self.summary.null_texts += 1;
                return false;
            }
            Some(b) if b.trim().is_empty() => {
                self.summary.blank_texts += 1;
                return false;
            }
            Some(b) => b,
        };
        if self.pending.is_empty() {
            let me: *mut ProfileState = self;
            WITH_PENDING.with(|w| w.borrow_mut().push(me));
        }
        self.pending_bytes += body.len();
        PENDING_BYTES.with(|b| b.set(b.get() + body.len()));
        PENDING_TEXTS.with(|n| n.set(n.get() + 1));
        self.pending.push(Pending {
            body: body.to_owned(),
            rating,
            written_at,
        });
        // Score when the groups of this process hold a batch between them: the work then
        // happens while rows are read, so that each parallel worker scores the rows it reads (a
        // leader that reads fast would otherwise end up scoring most of them at the end), and
        // pending text stays bounded.
        let batch = 4 * settings::batch_size();
        let process_full = PENDING_TEXTS.with(|n| n.get()) >= batch;
        let over_limit = PENDING_BYTES.with(|b| b.get()) > PENDING_BYTES_LIMIT;
        process_full || over_limit
    }

    /// Folds the scores and intents of the pending texts (in order) into the summary, sorting each text
    /// into the `topics` it is about and telling its language among `languages`.
    fn fold(
        &mut self,
        scored: Vec<(Sentiment, Option<Vec<f32>>, Option<Intent>)>,
        topics: &Topics,
        languages: &Languages,
    ) {
        let logging = score_log::recording();
        for (p, (s, embedding, intent)) in self.pending.iter().zip(scored) {
            if logging {
                score_log::record(score_log::Record {
                    body: p.body.clone(),
                    sentiment_label: s.label(),
                    sentiment: s.score(),
                    intent: intent.as_ref().map(|i| i.label()),
                });
            }
            let embedding = embedding.expect("non-blank texts have an embedding");
            let label = LABELS
                .iter()
                .position(|l| *l == s.label())
                .expect("a known label");
            let about = topics.of(&p.body, &embedding);
            self.summary.add(&Scored {
                score: s.score(),
                label,
                intent: intent.map(|i| i.index()),
                embedding: &embedding,
                rating: p.rating,
                written_at: p.written_at,
                topics: &about,
                language: language::detect(&p.body, languages),
            });
        }
        self.release_pending();
    }

    fn release_pending(&mut self) {
        if !self.pending.is_empty() {
            let me: *mut ProfileState = self;
            WITH_PENDING.with(|w| w.borrow_mut().retain(|&p| p != me));
        }
        PENDING_BYTES.with(|b| b.set(b.get().saturating_sub(self.pending_bytes)));
        PENDING_TEXTS.with(|n| n.set(n.get().saturating_sub(self.pending.len())));
        self.pending.clear();
        self.pending_bytes = 0;
    }
}

impl Drop for ProfileState {
    // an aborted query drops states with texts still pending
    fn drop(&mut self) {
        self.release_pending();
    }
}

/// Scores the pending texts of every state of this process in one batched encoder pass, sorting
/// them into the topics `topics` gives (asked once per batch, not once per group). The caller
/// must hold no reference to any state while this runs.
pub fn flush_all(topics: impl FnOnce() -> Result<Topics>) -> Result<()> {
    let pointers: Vec<*mut ProfileState> = WITH_PENDING.with(|w| w.borrow().clone());
    if pointers.is_empty() {
        return Ok(());
    }
    // SAFETY: registered states are live (see WITH_PENDING) and distinct, and nothing else
    // holds a reference to them while an aggregate support function runs
    let mut states: Vec<&mut ProfileState> =
        pointers.into_iter().map(|p| unsafe { &mut *p }).collect();
    let texts: Vec<&str> = states
        .iter()
        .flat_map(|s| s.pending.iter().map(|p| p.body.as_str()))
        .collect();
    let scored = sentiment::analyse_and_embed(&texts)?;
    drop(texts);
    // the intent head reads the embeddings just made: no second encoder pass
    let intents = intent::of_scored(&scored)?;
    let mut scored = scored
        .into_iter()
        .enumerate()
        .map(|(k, (s, e))| (s, e, intents.as_ref().map(|i| i[k].clone())));
    let topics = topics()?;
    let languages = language::current(settings::languages())?;
    for state in states.iter_mut() {
        let n = state.pending.len();
        state.fold(scored.by_ref().take(n).collect(), &topics, &languages);
    }
    Ok(())
}
