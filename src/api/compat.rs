//! Entry points that the install scripts of released versions name and the current version no
//! longer has. They stay in the library, with no SQL generated for them, so that a database
//! still at an older version (the new library installed, ALTER EXTENSION UPDATE not yet run)
//! keeps working, and so that tests/upgrade can create the old versions. Each reads what its
//! version's schema has. Remove one when no supported version names it.

use pgrx::prelude::*;

use crate::api::json_arg::JsonArg;
use crate::errors::{Error, OrRaise};
use crate::segments::{self, Member, SegmentOptions};

/// 0.1.0 and 0.2.0: k-means over every stored profile, read here (0.3.0's segment_customers
/// passes the points to kmeans_assign instead). The RFM scores by the 0.2.0 document's paths.
#[pg_extern(sql = false, volatile, parallel_unsafe)]
fn kmeans_segments(
    k: i32,
    options: default!(JsonArg, "'{}'"),
) -> TableIterator<'static, (name!(customer_key, String), name!(segment, i32), name!(distance, f32))> {
    let opts = SegmentOptions::from_json(&options.value().or_raise()).or_raise();
    let rows: Vec<(String, Member)> = Spi::connect(|client| {
        client
            .select(
                "SELECT customer_key, interest_vector, (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,recency}')::int, \
                        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,frequency}')::int, \
                        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,monetary}')::int \
                   FROM custprofile.profiles ORDER BY customer_key",
                None,
                &[],
            )?
            .map(|r| Ok((r.get::<String>(1)?.unwrap_or_default(), Member { interest: r.get(2)?, rfm: [r.get(3)?, r.get(4)?, r.get(5)?] })))
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
    TableIterator::new(keys.into_iter().zip(s.members).map(|(key, (segment, distance))| (key, segment, distance)).collect::<Vec<_>>())
}
