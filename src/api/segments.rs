//! SQL functions of segmentation (src/segments) and customer similarity (src/similarity.rs).
//! kmeans_segments reads the stored profiles itself, through SPI: passed as one array argument,
//! 384 values per profile hit PostgreSQL's array size limit (about 134 M elements) near 175,000
//! profiles, and SPI has no such limit. The points are then the domain's input.

use pgrx::prelude::*;

use crate::errors::{Error, OrRaise};
use crate::api::json_arg::JsonArg;
use crate::segments::{self, naming, Member, SegmentOptions};
use crate::runtime;
use crate::similarity;

/// k-means (k-means++ start, fixed seed) over every stored profile. Segments are numbered from
/// 1 by size, largest first. `distance` is the Euclidean distance to the segment's centre.
#[pg_extern(schema = "custprofile_internal", volatile, parallel_unsafe)]
fn kmeans_segments(
    k: i32,
    options: default!(JsonArg, "'{}'"),
) -> TableIterator<'static, (name!(customer_key, String), name!(segment, i32), name!(distance, f32))> {
    let opts = SegmentOptions::from_json(&options.value().or_raise()).or_raise();
    let rows: Vec<(String, Member)> = Spi::connect(|client| {
        client
            .select(
                // the RFM scores by their paths in the document (version 1, as
                // profile_document_fields lists them), not through profile_row: the library also
                // serves databases still at 0.1.0 or 0.2.0 until ALTER EXTENSION UPDATE, which have
                // no profile_row; operators qualified, whatever the caller's search_path
                "SELECT customer_key, interest_vector, (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,recency}')::int, \
                        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,frequency}')::int, \
                        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,monetary}')::int \
                   FROM custprofile.profiles ORDER BY customer_key",
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

/// How alike two customers are, in [-1, 1]: 0.7 × the relatedness of their interest vectors
/// (their cosine on the current encoder's common scale) + 0.3 × the cosine of their orders by
/// category; when one part is missing on either side, the other part alone; NULL when both are.
#[pg_extern(stable, parallel_safe)]
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
    let relatedness = runtime::current().or_raise().relatedness;
    similarity::customer_similarity(&relatedness, a.as_deref(), a_categories.as_ref(), b.as_deref(), b_categories.as_ref())
}

/// Names for the segments of one segmentation, each for what sets it apart from the others
/// (src/segments/naming.rs), with the evidence behind it: {"1": {"name": ..., "evidence":
/// [...]}, ...}. `stats` is an array of per-segment statistics as the segments view builds them
/// (topics already in the label language); `language` is "en" or "zh".
#[pg_extern(immutable, parallel_safe)]
fn segment_names(stats: JsonArg, language: default!(&str, "'en'")) -> pgrx::JsonB {
    let stats: Vec<naming::SegmentStats> = serde_json::from_value(stats.value().or_raise()).unwrap_or_else(|e| {
        Error::invalid_parameter(format!("segment statistics must be an array of segment objects: {e}"))
            .hint("The custprofile.segments view builds them; call segment_names through it.")
            .raise()
    });
    let chinese = match language {
        "zh" => true,
        "en" => false,
        other => Error::invalid_parameter(format!("language must be \"en\" or \"zh\", not \"{other}\"")).raise(),
    };
    pgrx::JsonB(naming::name_segments(&stats, chinese, &|topic| topic.to_string()))
}
