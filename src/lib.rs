//! custprofile: customer profiles from what customers write, computed inside PostgreSQL.
//!
//! Layout: `settings` (GUCs), `runtime` (ONNX Runtime, model files, batched inference),
//! `text` (pooling, sentences), `heads` (classifier heads and their training), `profiles` (the
//! text part of a profile, k-means), `functions` (the SQL surface by theme), `sql/` (hand-written
//! tables, views and procedures: sources, profiles and their refresh, churn, catalogues,
//! segments, recommendations).

use pgrx::prelude::*;

mod errors;
mod functions;
mod heads;
mod profiles;
mod runtime;
mod settings;
mod text;

::pgrx::pg_module_magic!(name, version);

extension_sql_file!("../sql/classifiers.sql", name = "classifiers_table");
extension_sql_file!(
    "../sql/aggregates.sql",
    name = "aggregates",
    requires = [
        functions::aggregates::embedding_avg_accum,
        functions::aggregates::embedding_avg_combine,
        functions::aggregates::embedding_avg_final,
        functions::profile_agg::profile_agg_accum_1,
        functions::profile_agg::profile_agg_accum_2,
        functions::profile_agg::profile_agg_accum_3,
        functions::profile_agg::profile_agg_combine,
        functions::profile_agg::profile_agg_serialize,
        functions::profile_agg::profile_agg_deserialize,
        functions::profile_agg::profile_agg_final
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
        functions::models::model_version,
        functions::sentiment::sentiment_detail
    ]
);
extension_sql_file!("../sql/catalogues.sql", name = "catalogues", requires = ["sources", functions::models::model_version]);
extension_sql_file!("../sql/segments.sql", name = "segments", requires = ["profiles", "aggregates"]);
extension_sql_file!(
    "../sql/recommendations.sql",
    name = "recommendations",
    requires = ["profiles", "catalogues", functions::segments::customer_similarity]
);
extension_sql_file!(
    "../sql/models.sql",
    name = "models_view",
    requires = ["classifiers_table", functions::models::builtin_models]
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
