//! Support functions of `profile_agg(body text [, rating real [, written_at timestamptz]])`,
//! defined in sql/aggregates.sql: argument checks, the state's memory context, and the topics
//! read for each batch. The scoring itself is src/profiles/batch.rs.

use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::{Internal, JsonB, PgMemoryContexts};

use crate::errors::{Error, OrRaise, Result};
use crate::heads::sentiment;
use crate::heads::zero_shot::Label;
use crate::runtime;
use crate::profiles::batch::{self, ProfileState};
use crate::numeric::round4;
use crate::profiles::partial;
use crate::profiles::score_log;
use crate::profiles::text_summary::TextSummary;
use crate::profiles::topics::Topics;

/// The largest rating (in absolute value) profile_agg takes.
const MAX_RATING: f32 = 1e6;

/// The topics of custprofile.topics (editable by the user), read when a batch is scored.
fn topics() -> Result<Topics> {
    let labels = Spi::connect(|client| {
        client
            .select("SELECT topic, description FROM custprofile.topics ORDER BY topic", None, &[])?
            .map(|row| {
                Ok(Label {
                    name: row.get::<String>(1)?.unwrap_or_default(),
                    description: row.get::<String>(2)?.filter(|d| !d.trim().is_empty()),
                })
            })
            .collect::<std::result::Result<Vec<Label>, pgrx::spi::SpiError>>()
    })
    .map_err(|e| Error::internal(format!("could not read custprofile.topics: {e}")))?;
    Topics::new(labels)
}

fn flush_all() {
    batch::flush_all(topics).or_raise();
}

/// Scores the pending texts of `state`, and with them those of every other group of this
/// process, in one batched encoder pass. Takes the Internal, not the state, so that no
/// reference to a state is held while `flush_all` reaches every state.
fn flush(state: &mut Internal) {
    if state_mut(state).is_some_and(|s| s.has_pending()) {
        flush_all();
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
    // a NULL or blank text is only counted: its rating and time are not read
    let counted_only = body.is_none_or(|b| b.trim().is_empty());
    if let Some(r) = rating.filter(|_| !counted_only) {
        // beyond this a rating is a data error, and sums of such values overflow real
        if !(r.is_finite() && r.abs() <= MAX_RATING) {
            Error::new(PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "rating is not a finite number between -1000000 and 1000000")
                .hint("Pass ratings on their own scale (1 to 5, 0 to 10 ...), or NULL.")
                .raise();
        }
    }
    if !counted_only && written_at.is_some_and(|t| !t.is_finite()) {
        Error::new(PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW, "written_at is infinity or -infinity")
            .hint("Pass NULL for texts whose time is unknown (NULLIF(written_at, 'infinity')).")
            .raise();
    }
    if !state.initialized() {
        state = new_state(fcinfo, ProfileState::default());
    }
    let written_at = written_at.map(|t| t.into_inner());
    if state_mut(&mut state).expect("initialised").push(body, rating, written_at) {
        flush_all();
    }
    state
}

/// Transition function of profile_agg: adds one text (and its rating and time, in the longer forms).
#[pg_extern(schema = "custprofile_internal", name = "profile_agg_accum", parallel_safe, cost = 5000)]
fn profile_agg_accum_1(state: Internal, body: Option<&str>, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    accumulate(state, body, None, None, fcinfo)
}

#[pg_extern(schema = "custprofile_internal", name = "profile_agg_accum", parallel_safe, cost = 5000)]
fn profile_agg_accum_2(
    state: Internal,
    body: Option<&str>,
    rating: Option<f32>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Internal {
    accumulate(state, body, rating, None, fcinfo)
}

#[pg_extern(schema = "custprofile_internal", name = "profile_agg_accum", parallel_safe, cost = 5000)]
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
#[pg_extern(schema = "custprofile_internal", parallel_safe)]
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
#[pg_extern(schema = "custprofile_internal", strict, parallel_safe)]
fn profile_agg_serialize(mut state: Internal) -> Vec<u8> {
    flush(&mut state);
    let s = state_mut(&mut state).expect("strict: never NULL");
    serde_json::to_vec(&s.summary).expect("a summary serialises")
}

/// Reads a summary written by profile_agg_serialize, in the leader of a parallel plan.
#[pg_extern(schema = "custprofile_internal", strict, parallel_safe)]
fn profile_agg_deserialize(bytes: &[u8], _unused: Internal) -> Internal {
    let summary: TextSummary = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Error::internal("profile_agg received a malformed partial state").raise());
    Internal::new(ProfileState::from_summary(summary))
}

/// The text part of a profile; NULL when the aggregate saw no rows.
#[pg_extern(schema = "custprofile_internal", parallel_safe)]
fn profile_agg_final(mut state: Internal) -> Option<JsonB> {
    flush(&mut state);
    let s = state_mut(&mut state)?;
    let model = sentiment::provenance().or_raise();
    let format_time = |t: i64| match TimestampWithTimeZone::try_from(t) {
        Ok(ts) => pgrx::datum::datetime_support::ToIsoString::to_iso_string(ts),
        Err(_) => String::new(),
    };
    Some(JsonB(s.summary.to_json(model, format_time)))
}

/// Final function of profile_agg_partial: the state scored and written in the portable form
/// (src/profiles/partial.rs); NULL when the aggregate saw no rows.
#[pg_extern(schema = "custprofile_internal", parallel_safe)]
fn profile_agg_partial_final(mut state: Internal) -> Option<Vec<u8>> {
    flush(&mut state);
    let s = state_mut(&mut state)?;
    let encoder = runtime::current().or_raise();
    Some(partial::encode(&encoder.identity().to_string(), &s.summary))
}

/// Transition function of profile_agg_merge: adds a partial state of profile_agg_partial.
#[pg_extern(schema = "custprofile_internal", parallel_safe)]
fn profile_agg_merge_accum(mut state: Internal, partial_state: Option<&[u8]>, fcinfo: pg_sys::FunctionCallInfo) -> Internal {
    let Some(bytes) = partial_state else { return state };
    let encoder = runtime::current().or_raise();
    let summary = partial::decode(bytes, &encoder.identity().to_string()).or_raise();
    if !state.initialized() {
        return new_state(fcinfo, ProfileState::from_summary(summary));
    }
    state_mut(&mut state).expect("initialised").summary.merge(&summary);
    state
}

/// Starts recording, in this backend, the per-text scores profile_agg makes: refresh_profiles
/// stores them in custprofile.text_scores for text_insights (src/profiles/score_log.rs).
#[pg_extern(schema = "custprofile_internal", volatile, parallel_unsafe)]
fn start_text_score_log() {
    score_log::start();
}

/// The per-text scores recorded since start_text_score_log (score rounded as text_signals
/// rounds it); recording stops.
#[pg_extern(schema = "custprofile_internal", volatile, parallel_unsafe)]
fn take_text_score_log() -> TableIterator<
    'static,
    (
        name!(body, String),
        name!(sentiment_label, &'static str),
        name!(sentiment, f32),
        name!(intent, Option<&'static str>),
    ),
> {
    TableIterator::new(
        score_log::take()
            .into_iter()
            .map(|r| (r.body, r.sentiment_label, round4(r.sentiment as f64) as f32, r.intent)),
    )
}
