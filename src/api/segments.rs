//! SQL functions of segmentation (src/segments) and customer similarity (src/similarity.rs).

use pgrx::prelude::*;

use crate::errors::{Error, OrRaise};
use crate::api::json_arg::JsonArg;
use crate::segments::{self, Member, SegmentOptions};
use crate::similarity;

/// k-means (k-means++ start, fixed seed) over every stored profile. Segments are numbered from
/// 1 by size, largest first. `distance` is the Euclidean distance to the segment's centre.
#[pg_extern(volatile, parallel_unsafe)]
fn kmeans_segments(
    k: i32,
    options: default!(JsonArg, "'{}'"),
) -> TableIterator<'static, (name!(customer_key, String), name!(segment, i32), name!(distance, f32))> {
    let opts = SegmentOptions::from_json(&options.value().or_raise()).or_raise();
    let rows: Vec<(String, Member)> = Spi::connect(|client| {
        client
            .select(
                // the RFM scores through the profile document's reader (sql/profile_document.sql)
                "SELECT p.customer_key, p.interest_vector, (custprofile.profile_row(p.profile)).recency_score, \
                        (custprofile.profile_row(p.profile)).frequency_score, (custprofile.profile_row(p.profile)).monetary_score \
                   FROM custprofile.profiles p ORDER BY p.customer_key",
                None,
                &[],
            )?
            .map(|r| {
                let member = Member { interest: r.get(2)?, rfm: [r.get(3)?, r.get(4)?, r.get(5)?] };
                Ok((r.get::<String>(1)?.unwrap_or_default(), member))
            })
            .collect::<std::result::Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| Error::internal(format!("could not read custprofile.profiles: {e}")).raise());
    if k < 1 || k as usize > rows.len() {
        Error::invalid_parameter(format!("k must be between 1 and the number of stored profiles ({}), not {k}", rows.len()))
            .raise();
    }
    let (keys, members): (Vec<String>, Vec<Member>) = rows.into_iter().unzip();
    let s = segments::segment(&members, k as usize, &opts, || {
        pgrx::check_for_interrupts!();
    });
    pgrx::debug1!("custprofile: k-means stopped after {} iterations, inertia {:.3}", s.iterations, s.inertia);
    TableIterator::new(keys.into_iter().zip(s.members).map(|(key, (segment, distance))| (key, segment, distance)).collect::<Vec<_>>())
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
