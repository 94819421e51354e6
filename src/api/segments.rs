//! SQL functions of segmentation (src/segments) and customer similarity (src/similarity.rs). Both
//! take what they compare as arguments; segment_customers (sql/segments.sql) gathers the points.

use pgrx::prelude::*;

use crate::errors::{Error, OrRaise};
use crate::api::json_arg::JsonArg;
use crate::segments::{self, Member, SegmentOptions};
use crate::similarity;

/// k-means (k-means++ start, fixed seed) over the points segment_customers gathers from the
/// stored profiles (sql/segments.sql): `interests` holds each member's interest vector, `dims`
/// values each (zeros for a member without one), `rfm` its recency, frequency and monetary
/// scores, three each. Members are numbered from 1 in input order; segments from 1 by size,
/// largest first. `distance` is the Euclidean distance to the segment's centre.
#[pg_extern(immutable, parallel_safe)]
fn kmeans_assign(
    interests: Vec<Option<f32>>,
    dims: i32,
    rfm: Vec<Option<i32>>,
    k: i32,
    options: default!(JsonArg, "'{}'"),
) -> TableIterator<'static, (name!(member, i32), name!(segment, i32), name!(distance, f32))> {
    let opts = SegmentOptions::from_json(&options.value().or_raise()).or_raise();
    let members = rfm.len() / 3;
    let dims = usize::try_from(dims).unwrap_or(usize::MAX);
    if rfm.len() % 3 != 0 || interests.len() != members.saturating_mul(dims) {
        Error::invalid_parameter(format!(
            "{} interest values and {} RFM scores do not make members of {dims} values and 3 scores",
            interests.len(),
            rfm.len()
        ))
        .raise();
    }
    if k < 1 || k as usize > members {
        Error::invalid_parameter(format!("k must be between 1 and the number of stored profiles ({members}), not {k}")).raise();
    }
    let members: Vec<Member> = (0..members)
        .map(|i| Member {
            interest: (dims > 0).then(|| interests[i * dims..(i + 1) * dims].to_vec()),
            rfm: [rfm[3 * i], rfm[3 * i + 1], rfm[3 * i + 2]],
        })
        .collect();
    let s = segments::segment(&members, k as usize, &opts, || {
        pgrx::check_for_interrupts!();
    });
    pgrx::debug1!("custprofile: k-means stopped after {} iterations, inertia {:.3}", s.iterations, s.inertia);
    TableIterator::new(s.members.into_iter().enumerate().map(|(i, (segment, distance))| (i as i32 + 1, segment, distance)).collect::<Vec<_>>())
}

/// How alike two customers are, in [-1, 1]: 0.7 × the cosine of their interest vectors + 0.3 ×
/// the cosine of their orders by category; when one part is missing on either side, the other
/// part alone; NULL when both are.
#[pg_extern(immutable, parallel_safe)]
fn customer_similarity(
    a_interest: Option<Vec<Option<f32>>>,
    a_categories: Option<JsonArg>,
    b_interest: Option<Vec<Option<f32>>>,
    b_categories: Option<JsonArg>,
) -> Option<f32> {
    let dense = |v: Option<Vec<Option<f32>>>| v.and_then(|v| v.into_iter().collect::<Option<Vec<f32>>>()).filter(|v| !v.is_empty());
    let (a, b) = (dense(a_interest), dense(b_interest));
    // the objects are read only when both are there, so one NULL side never raises
    let (a_categories, b_categories) = match (a_categories, b_categories) {
        (Some(a), Some(b)) => (Some(a.value().or_raise()), Some(b.value().or_raise())),
        _ => (None, None),
    };
    similarity::customer_similarity(a.as_deref(), a_categories.as_ref(), b.as_deref(), b_categories.as_ref())
}
