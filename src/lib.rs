//! custprofile: customer profiles from what customers write, computed inside PostgreSQL.
//!
//! Layout: a thin SQL layer over domain modules.
//! - `api`: every `#[pg_extern]`, one file per theme: argument checks, conversions, aggregate glue.
//! - `heads` (classifier heads, the sentiment head, zero-shot labels, training, the classifiers
//!   table), `profiles` (the texts section of a profile and its batched scoring, the topic rule),
//!   `segments` (points, k-means), `similarity`, `text` (rules over text: cleaning, PII, sentences,
//!   keywords, aspects, pooling): the domain, below `api`.
//! - `runtime` (ONNX Runtime and the encoder), `cache` (the backend's one bounded LRU),
//!   `numeric` (shared maths), `settings` (GUCs), `errors`: what the domain stands on.
//! - `sql/`: hand-written tables, views and procedures, installed in the order below; the profile
//!   document is owned by sql/profile_document.sql. docs/data-flow.md draws how a profile is built.

use pgrx::prelude::*;

mod api;
mod cache;
mod errors;
mod heads;
mod numeric;
mod preload;
mod profiles;
mod runtime;
mod segments;
mod settings;
mod similarity;
mod spi;
mod text;

::pgrx::pg_module_magic!(name, version);

// What the extension's functions call and users do not: query builders, checks, the aggregates'
// support functions, writers. A schema of their own keeps `\df custprofile.*` to what users call
// (docs/reference.md); the Rust ones name it in `#[pg_extern(schema = ...)]`, the SQL ones in
// their CREATE FUNCTION (sql/privileges.sql grants its USAGE). Created first, as every sql/ file
// uses it; the module declares it to pgrx for the Rust functions (its own CREATE SCHEMA IF NOT
// EXISTS then finds it there).
extension_sql!(
    "CREATE SCHEMA custprofile_internal;\n\
     COMMENT ON SCHEMA custprofile_internal IS 'What custprofile''s own functions call: not for direct use (docs/reference.md).';",
    name = "internal_schema",
    bootstrap
);
#[pg_schema]
mod custprofile_internal {}

// the history of long operations, written by the SQL and Rust below
extension_sql_file!("../sql/runs.sql", name = "runs");
extension_sql_file!("../sql/classifiers.sql", name = "classifiers_table");
extension_sql_file!(
    "../sql/aggregates.sql",
    name = "aggregates",
    requires = [
        api::aggregates::embedding_avg_accum,
        api::aggregates::embedding_avg_combine,
        api::aggregates::embedding_avg_final,
        api::profile_agg::profile_agg_accum_1,
        api::profile_agg::profile_agg_accum_2,
        api::profile_agg::profile_agg_accum_3,
        api::profile_agg::profile_agg_combine,
        api::profile_agg::profile_agg_serialize,
        api::profile_agg::profile_agg_deserialize,
        api::profile_agg::profile_agg_final,
        api::profile_agg::profile_agg_partial_final,
        api::profile_agg::profile_agg_merge_accum
    ]
);
extension_sql_file!("../sql/placement.sql", name = "placement");
extension_sql_file!("../sql/sources.sql", name = "sources", requires = ["placement"]);
extension_sql_file!("../sql/topics.sql", name = "topics");
extension_sql_file!("../sql/clock.sql", name = "clock", requires = ["sources", api::session::as_of_setting]);
extension_sql_file!("../sql/profile_document.sql", name = "profile_document", requires = [api::models::model_version]);
extension_sql_file!("../sql/churn.sql", name = "churn", requires = ["topics", "profile_document", "clock"]);
extension_sql_file!(
    "../sql/profiles.sql",
    name = "profiles",
    requires = [
        "sources",
        "topics",
        "profile_document",
        "churn",
        "clock",
        "aggregates",
        api::session::in_transaction_block,
        api::models::model_version,
        api::models::vector_space,
        api::sentiment::sentiment_detail,
        api::text::detect_language
    ]
);
extension_sql_file!(
    "../sql/text_insights.sql",
    name = "text_insights",
    requires = [
        "sources",
        "profiles",
        api::models::model_version,
        api::profile_agg::take_text_score_log,
        api::intent::text_signals,
        api::text::detect_language,
        api::text::mask_pii
    ]
);
extension_sql_file!("../sql/catalogues.sql", name = "catalogues", requires = ["sources", api::models::model_version]);
extension_sql_file!("../sql/vectors.sql", name = "vectors", requires = ["profiles", "catalogues", api::models::vector_space]);
extension_sql_file!("../sql/labels.sql", name = "labels", requires = [api::session::label_language]);
extension_sql_file!(
    "../sql/segments.sql",
    name = "segments",
    requires = ["profiles", "aggregates", "labels", api::segments::segment_names]
);
extension_sql_file!(
    "../sql/recommendations.sql",
    name = "recommendations",
    requires = ["profiles", "catalogues", "vectors", "labels", api::segments::customer_similarity]
);
extension_sql_file!("../sql/replies.sql", name = "replies", requires = ["catalogues", "vectors", api::embedding::embed_text]);
extension_sql_file!(
    "../sql/models.sql",
    name = "models_view",
    requires = ["classifiers_table", api::models::builtin_models]
);

// the levels of use granted with grant_usage
extension_sql_file!("../sql/roles.sql", name = "roles");
extension_sql_file!(
    "../sql/privileges.sql",
    name = "privileges",
    requires = [
        "classifiers_table", "aggregates", "sources", "topics", "clock", "profile_document", "churn", "profiles",
        "text_insights", "catalogues", "labels", "segments", "recommendations", "replies", "models_view", "runs",
        "roles"
    ]
);
// last: a comment on every function, from the code's own descriptions (scripts/function_comments.py)
extension_sql_file!("../sql/function_comments.sql", name = "function_comments", finalize);

/// Registers the settings; in the postmaster (shared_preload_libraries) also loads the encoder
/// once for every backend to share (src/preload.rs). Otherwise models load lazily in each backend.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
    preload::in_postmaster();
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    include!("tests.rs");
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
