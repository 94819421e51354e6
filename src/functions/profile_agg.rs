//! Support functions of `profile_agg(body text [, rating real [, written_at timestamptz]])`,
//! defined in sql/aggregates.sql. The state (internal) holds a `TextSummary` and the texts not
//! yet scored: texts are scored in batches (one encoder pass for many texts) when enough are
//! pending, when the state is serialised for the leader of a parallel plan, and at the end.
//! A batch takes the pending texts of every group of the process, not only the group at hand:
//! under hash aggregation each group holds a text or two at a time, and scoring groups one by one
//! meant one encoder call per row.

use std::cell::{Cell, RefCell};

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::{Internal, JsonB, PgMemoryContexts};
use serde_json::json;

use crate::errors::{Error, OrRaise};
use crate::functions::sentiment::{self, Sentiment, LABELS};
use crate::heads::argmax;
use crate::heads::zero_shot::{self, Label};
use crate::profiles::text_summary::{Scored, TextSummary};
use crate::text::aspects;
use crate::runtime::DEFAULT_ENCODER;
use crate::settings;

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

#[derive(Default)]
struct ProfileState {
    summary: TextSummary,
    pending: Vec<Pending>,
    pending_bytes: usize,
}

/// A text that names none of the topics' terms counts towards its most similar topic only when
/// the zero-shot probability is at least this (similarity alone is a weak signal on reviews).
const TOPIC_MIN_PROBABILITY: f32 = 0.85;

/// The topics profiles are sorted into (custprofile.topics, editable by the user), read once
/// per batch: their labels, the terms that name each, and the labels' zero-shot vectors.
struct Topics {
    labels: Vec<Label>,
    terms: Vec<Vec<String>>,
    vectors: Vec<(Vec<f32>, f32)>,
}

impl Topics {
    fn load() -> Topics {
        let labels = Spi::connect(|client| {
            client
                .select("SELECT topic, description FROM custprofile.topics ORDER BY topic", None, &[])?
                .map(|row| {
                    Ok(Label {
                        name: row.get::<String>(1)?.unwrap_or_default(),
                        description: row.get::<String>(2)?.filter(|d| !d.trim().is_empty()),
                    })
                })
                .collect::<Result<Vec<Label>, pgrx::spi::SpiError>>()
        })
        .unwrap_or_else(|e| Error::internal(format!("could not read custprofile.topics: {e}")).raise());
        let terms = labels.iter().map(|l| aspects::terms(&l.name, l.description.as_deref())).collect();
        let vectors = if labels.is_empty() { Vec::new() } else { zero_shot::label_vectors(&labels).or_raise() };
        Topics { labels, terms, vectors }
    }

    /// The topic a text is mainly about: the one whose terms it names most (the first of
    /// equals), else the most similar one when the similarity is clear, else none.
    fn of(&self, text: &str, embedding: &[f32]) -> Option<&str> {
        if self.labels.is_empty() {
            return None;
        }
        let words = aspects::Words::of(text);
        let counts: Vec<usize> = self.terms.iter().map(|terms| words.mentions(terms)).collect();
        let best = argmax(&counts);
        if counts.get(best).is_some_and(|&c| c > 0) {
            return Some(self.labels[best].name.as_str());
        }
        let p = zero_shot::probabilities(&zero_shot::scores(embedding, &self.vectors));
        let best = argmax(&p);
        (p.get(best).is_some_and(|&x| x >= TOPIC_MIN_PROBABILITY)).then(|| self.labels[best].name.as_str())
    }
}

/// The largest rating (in absolute value) profile_agg takes.
const MAX_RATING: f32 = 1e6;

impl ProfileState {
    fn from_summary(summary: TextSummary) -> Self {
        ProfileState { summary, pending: Vec::new(), pending_bytes: 0 }
    }

    /// Adds a row; true when the process now holds a batch to score (`flush_all`).
    fn push(&mut self, body: Option<&str>, rating: Option<f32>, written_at: Option<TimestampWithTimeZone>) -> bool {
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
        if let Some(r) = rating {
            // beyond this a rating is a data error, and sums of such values overflow real
            if !(r.is_finite() && r.abs() <= MAX_RATING) {
                Error::new(PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "rating is not a finite number between -1000000 and 1000000")
                    .hint("Pass ratings on their own scale (1 to 5, 0 to 10 ...), or NULL.")
                    .raise();
            }
        }
        if written_at.is_some_and(|t| !t.is_finite()) {
            Error::new(PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW, "written_at is infinity or -infinity")
                .hint("Pass NULL for texts whose time is unknown (NULLIF(written_at, 'infinity')).")
                .raise();
        }
        let written_at = written_at.map(|t| t.into_inner());
        if self.pending.is_empty() {
            let me: *mut ProfileState = self;
            WITH_PENDING.with(|w| w.borrow_mut().push(me));
        }
        self.pending_bytes += body.len();
        PENDING_BYTES.with(|b| b.set(b.get() + body.len()));
        PENDING_TEXTS.with(|n| n.set(n.get() + 1));
        self.pending.push(Pending { body: body.to_owned(), rating, written_at });
        // Score when the groups of this process hold a batch between them: the work then
        // happens while rows are read, so that each parallel worker scores the rows it reads (a
        // leader that reads fast would otherwise end up scoring most of them at the end), and
        // pending text stays bounded.
        let batch = 4 * settings::batch_size();
        let process_full = PENDING_TEXTS.with(|n| n.get()) >= batch;
        let over_limit = PENDING_BYTES.with(|b| b.get()) > PENDING_BYTES_LIMIT;
        process_full || over_limit
    }

    /// Folds the scores of the pending texts (in order) into the summary, sorting each text
    /// into one of `topics`.
    fn fold(&mut self, scored: Vec<(Sentiment, Option<Vec<f32>>)>, topics: &Topics) {
        for (p, (s, embedding)) in self.pending.iter().zip(scored) {
            let embedding = embedding.expect("non-blank texts have an embedding");
            let label = LABELS.iter().position(|l| *l == s.label()).expect("a known label");
            let topic = topics.of(&p.body, &embedding);
            self.summary.add(&Scored {
                score: s.score(),
                label,
                embedding: &embedding,
                rating: p.rating,
                written_at: p.written_at,
                topic,
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

/// Scores the pending texts of `state`, and with them those of every other group of this
/// process, in one batched encoder pass. Takes the Internal, not the state, so that no
/// reference to a state is held while `flush_all` reaches every state.
fn flush(state: &mut Internal) {
    if state_mut(state).is_some_and(|s| !s.pending.is_empty()) {
        flush_all();
    }
}

/// Scores the pending texts of every state of this process in one batched encoder pass.
fn flush_all() {
    let pointers: Vec<*mut ProfileState> = WITH_PENDING.with(|w| w.borrow().clone());
    // SAFETY: registered states are live (see WITH_PENDING) and distinct, and nothing else
    // holds a reference to them while an aggregate support function runs
    let mut states: Vec<&mut ProfileState> = pointers.into_iter().map(|p| unsafe { &mut *p }).collect();
    let texts: Vec<&str> = states.iter().flat_map(|s| s.pending.iter().map(|p| p.body.as_str())).collect();
    let mut scored = sentiment::analyse_and_embed(&texts).or_raise().into_iter();
    drop(texts);
    // the topics once per batch, not once per group
    let topics = Topics::load();
    for state in states.iter_mut() {
        let n = state.pending.len();
        state.fold(scored.by_ref().take(n).collect(), &topics);
    }
}

impl Drop for ProfileState {
    // an aborted query drops states with texts still pending
    fn drop(&mut self) {
        self.release_pending();
    }
}

/// The aggregate's memory context: the state must outlive the per-row context.
fn aggregate_context(fcinfo: pg_sys::FunctionCallInfo) -> PgMemoryContexts {
    let mut cxt = std::ptr::null_mut();
    // SAFETY: fcinfo is the call's own, handed over by PostgreSQL
    if unsafe { pg_sys::AggCheckCallContext(fcinfo, &mut cxt) } == 0 {
        Error::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "profile_agg support functions can only be called by the profile_agg aggregate",
        )
        .raise();
    }
    PgMemoryContexts::For(cxt)
}

fn new_state(fcinfo: pg_sys::FunctionCallInfo, state: ProfileState) -> Internal {
    let ptr = aggregate_context(fcinfo).leak_and_drop_on_delete(state);
    Internal::from(Some(pg_sys::Datum::from(ptr)))
}

fn state_mut(state: &mut Internal) -> Option<&mut ProfileState> {
    // SAFETY: profile_agg's internal state is only ever made by new_state
    unsafe { state.get_mut::<ProfileState>() }
}

fn accumulate(
    mut state: Internal,
    body: Option<&str>,
    rating: Option<f32>,
    written_at: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    if !state.initialized() {
        state = new_state(fcinfo, ProfileState::default());
    }
    if state_mut(&mut state).expect("initialised").push(body, rating, written_at) {
        flush_all();
    }
    state
}

#[pg_extern(name = "profile_agg_accum", parallel_safe, cost = 5000)]
fn profile_agg_accum_1(state: Internal, body: Option<&str>, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    accumulate(state, body, None, None, fcinfo)
}

#[pg_extern(name = "profile_agg_accum", parallel_safe, cost = 5000)]
fn profile_agg_accum_2(
    state: Internal,
    body: Option<&str>,
    rating: Option<f32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    accumulate(state, body, rating, None, fcinfo)
}

#[pg_extern(name = "profile_agg_accum", parallel_safe, cost = 5000)]
fn profile_agg_accum_3(
    state: Internal,
    body: Option<&str>,
    rating: Option<f32>,
    written_at: Option<TimestampWithTimeZone>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    accumulate(state, body, rating, written_at, fcinfo)
}

/// Merges two partial states (parallel workers, partitions).
#[pg_extern(parallel_safe)]
fn profile_agg_combine(mut a: Internal, mut b: Internal, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    flush(&mut b);
    flush(&mut a);
    let Some(b_state) = state_mut(&mut b) else { return a };
    if !a.initialized() {
        // b may live in a shorter-lived context (deserialised): copy it into ours
        let copy = ProfileState::from_summary(b_state.summary.clone());
        return new_state(fcinfo, copy);
    }
    state_mut(&mut a).expect("initialised").summary.merge(&b_state.summary);
    a
}

/// Scores what is pending, then writes the summary for the leader of a parallel plan.
#[pg_extern(strict, parallel_safe)]
fn profile_agg_serialize(mut state: Internal) -> Vec<u8> {
    flush(&mut state);
    let s = state_mut(&mut state).expect("strict: never NULL");
    serde_json::to_vec(&s.summary).expect("a summary serialises")
}

#[pg_extern(strict, parallel_safe)]
fn profile_agg_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    let summary: TextSummary = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Error::internal("profile_agg received a malformed partial state").raise());
    Internal::new(ProfileState::from_summary(summary))
}

/// The text part of a profile; NULL when the aggregate saw no rows.
#[pg_extern(parallel_safe)]
fn profile_agg_final(mut state: Internal) -> Option<JsonB> {
    flush(&mut state);
    let s = state_mut(&mut state)?;
    let model = json!({ "encoder": DEFAULT_ENCODER.name, "sentiment": sentiment::model_name() });
    let format_time = |t: i64| match TimestampWithTimeZone::try_from(t) {
        Ok(ts) => pgrx::datum::datetime_support::ToIsoString::to_iso_string(ts),
        Err(_) => String::new(),
    };
    Some(JsonB(s.summary.to_json(model, format_time)))
}
