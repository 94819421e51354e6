//! Customer profiles: the texts section of a profile, folded from a customer's texts by the
//! `profile_agg` aggregate (glue in src/api/profile_agg.rs): `batch` scores pending texts across
//! groups, `topics` sorts each text into a topic, `text_summary` is the mergeable summary that
//! writes the section, `trend` its sentiment trend, `partial` the portable form of a state, `score_log` the
//! per-text scores a refresh stores for text_insights. The rest of a profile (sources, purchases, the document, stored profiles
//! and their refresh) is SQL over the user's own tables: sql/sources.sql,
//! sql/profile_document.sql and sql/profiles.sql.

pub mod batch;
pub mod partial;
pub mod score_log;
pub mod text_summary;
pub mod topics;
pub mod trend;
