//! Customer profiles: the text part of a profile, folded from a customer's texts by the
//! `profile_agg` aggregate (src/functions/profile_agg.rs). The rest of a profile (sources,
//! demographics, purchases, stored profiles and their refresh) is SQL over the user's own
//! tables: sql/sources.sql and sql/profiles.sql. `kmeans` clusters stored profiles into segments.

pub mod batch;
pub mod text_summary;
pub mod topics;
