//! The portable form of a `profile_agg` state: what `profile_agg_partial` returns and
//! `profile_agg_merge` reads (src/api/profile_agg.rs), so that partial aggregates made elsewhere
//! (on Citus workers, per partition, in an earlier run) combine into one texts section. Citus
//! combines partial states itself only for aggregates whose state is not `internal`; a query
//! grouped by something other than the distribution column does it in two steps with these.
//! The form names its version and the encoder's vector space: sums of embeddings from two
//! encoders would add up to a meaningless interest vector.

use pgrx::PgSqlErrorCode;
use serde::{Deserialize, Serialize};

use crate::errors::{Error, Result};
use crate::profiles::text_summary::TextSummary;

/// The version of the form; a later library that changes it reads this one or says why not.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct PartialProfile {
    format: u32,
    vector_space: String,
    summary: TextSummary,
}

/// The bytes of a partial state scored under `vector_space`.
pub fn encode(vector_space: &str, summary: &TextSummary) -> Vec<u8> {
    let partial = PartialProfile { format: FORMAT, vector_space: vector_space.to_string(), summary: summary.clone() };
    serde_json::to_vec(&partial).expect("a partial profile serialises")
}

/// The summary in `bytes`, checked to be a partial state of this form scored under `vector_space`.
pub fn decode(bytes: &[u8], vector_space: &str) -> Result<TextSummary> {
    let partial: PartialProfile = serde_json::from_slice(bytes).map_err(|_| {
        Error::new(PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION, "not a partial state made by custprofile.profile_agg_partial")
            .hint("Pass profile_agg_merge the bytea values that profile_agg_partial returned, unchanged.")
    })?;
    if partial.format != FORMAT {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION,
            format!("a partial state of format {} cannot be merged by this version (format {FORMAT})", partial.format),
        )
        .hint("Compute the partial states again with this version's profile_agg_partial."));
    }
    if partial.vector_space != vector_space {
        return Err(Error::invalid_parameter(format!(
            "a partial state scored by encoder {} cannot be merged under encoder {vector_space}",
            partial.vector_space
        ))
        .hint("Compute every partial state under the same custprofile.encoder as the merge (custprofile.vector_space())."));
    }
    Ok(partial.summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_the_summary() {
        let summary = TextSummary::default();
        let bytes = encode("e5@1", &summary);
        assert_eq!(decode(&bytes, "e5@1").unwrap(), summary);
    }

    #[test]
    fn another_vector_space_is_refused() {
        let bytes = encode("e5@1", &TextSummary::default());
        let e = decode(&bytes, "minilm@2").unwrap_err();
        assert_eq!(e.code, PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE);
        assert!(e.message.contains("minilm@2"));
    }

    #[test]
    fn other_bytes_are_refused() {
        for bytes in [&b""[..], b"{}", b"\xff\x00", br#"{"format": 9, "vector_space": "x", "summary": {}}"#] {
            assert_eq!(decode(bytes, "x").unwrap_err().code, PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION);
        }
    }
}
