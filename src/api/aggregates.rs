//! Support functions of the aggregates defined in sql/aggregates.sql.
//!
//! `embedding_avg(real[])`: the normalised mean of embeddings. Its state is a plain float8[]
//! (`[count, sum_1 .. sum_d]`), so PostgreSQL can ship partial states between parallel workers
//! and partitions without serialise/deserialise functions; sums in float8 keep the result the same
//! (to 1e-5) whichever way the rows are split.

use pgrx::prelude::*;

use crate::errors::Error;
use crate::api::embedding::dense;
use crate::numeric::normalize;

fn dimension_error(state: usize, input: usize) -> ! {
    Error::new(
        PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR,
        format!("embeddings have different lengths: {state} and {input}"),
    )
    .hint("Average embeddings made by the same model.")
    .raise()
}

/// Transition function: adds one embedding; NULL embeddings are skipped.
#[pg_extern(schema = "custprofile_internal", immutable, parallel_safe)]
fn embedding_avg_accum(state: Option<Vec<f64>>, input: Option<Array<f32>>) -> Option<Vec<f64>> {
    let Some(input) = input else { return state };
    let v = dense(input, "input");
    let mut state = state.unwrap_or_else(|| vec![0.0; v.len() + 1]);
    if state.len() != v.len() + 1 {
        dimension_error(state.len() - 1, v.len());
    }
    state[0] += 1.0;
    for (s, x) in state[1..].iter_mut().zip(&v) {
        *s += *x as f64;
    }
    Some(state)
}

/// Combine function: adds two partial states.
#[pg_extern(schema = "custprofile_internal", immutable, parallel_safe)]
fn embedding_avg_combine(a: Option<Vec<f64>>, b: Option<Vec<f64>>) -> Option<Vec<f64>> {
    match (a, b) {
        (None, b) => b,
        (a, None) => a,
        (Some(mut a), Some(b)) => {
            if a.len() != b.len() {
                dimension_error(a.len() - 1, b.len() - 1);
            }
            a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
            Some(a)
        }
    }
}

/// Final function: the mean, L2-normalised; NULL for no rows or a zero mean.
#[pg_extern(schema = "custprofile_internal", immutable, parallel_safe)]
fn embedding_avg_final(state: Option<Vec<f64>>) -> Option<Vec<f32>> {
    let state = state?;
    let count = *state.first()?;
    if count == 0.0 {
        return None;
    }
    if state.iter().any(|s| !s.is_finite()) {
        Error::new(PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "the sum of the embeddings overflows")
            .hint("Embeddings are unit vectors; check the inputs for values near the limits of real.")
            .raise();
    }
    let mut mean: Vec<f32> = state[1..].iter().map(|s| (s / count) as f32).collect();
    if mean.iter().map(|x| x * x).sum::<f32>().is_finite() {
        normalize(&mut mean);
    } else {
        // the squares overflow real: normalise in float8 instead (the same direction)
        let mean64: Vec<f64> = state[1..].iter().map(|s| s / count).collect();
        let norm = mean64.iter().map(|x| x * x).sum::<f64>().sqrt();
        mean = mean64.iter().map(|x| (x / norm) as f32).collect();
    }
    if mean.iter().all(|&x| x == 0.0) {
        return None;
    }
    Some(mean)
}
