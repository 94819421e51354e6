//! custprofile: customer profiles from what customers write, computed inside PostgreSQL.
//!
//! Layout: `settings` (GUCs), `runtime` (ONNX Runtime, model files, batched inference),
//! `text` (pooling, sentences), `heads` (classifier heads and their training), `profiles` (the
//! text part of a profile, k-means), `functions` (the SQL surface by theme), `sql/` (hand-written
//! tables, views and procedures: sources, profiles and their refresh, churn, catalogues,
//! segments, recommendations).

use pgrx::prelude::*;

mod api;
mod cache;
mod errors;
mod heads;
mod numeric;
mod profiles;
mod runtime;
mod segments;
mod settings;
mod similarity;
mod text;

::pgrx::pg_module_magic!(name, version);

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
        api::profile_agg::profile_agg_final
    ]
);
extension_sql_file!("../sql/sources.sql", name = "sources");
extension_sql_file!("../sql/topics.sql", name = "topics");
extension_sql_file!("../sql/churn.sql", name = "churn", requires = ["topics"]);
extension_sql_file!(
    "../sql/profiles.sql",
    name = "profiles",
    requires = [
        "sources",
        "topics",
        "churn",
        "aggregates",
        api::models::model_version,
        api::sentiment::sentiment_detail
    ]
);
extension_sql_file!("../sql/catalogues.sql", name = "catalogues", requires = ["sources", api::models::model_version]);
extension_sql_file!("../sql/segments.sql", name = "segments", requires = ["profiles", "aggregates"]);
extension_sql_file!(
    "../sql/recommendations.sql",
    name = "recommendations",
    requires = ["profiles", "catalogues", api::segments::customer_similarity]
);
extension_sql_file!(
    "../sql/models.sql",
    name = "models_view",
    requires = ["classifiers_table", api::models::builtin_models]
);

extension_sql_file!("../sql/privileges.sql", name = "privileges", finalize);

/// Registers the settings only: models load lazily in each backend, never in the postmaster.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    settings::register();
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
