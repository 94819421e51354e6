//! The SQL surface, one module per theme: `#[pg_extern]` functions and aggregate support
//! functions, their argument checks and conversions. Rules and computations live in the domain
//! modules they call (heads, profiles, segments, similarity, text).

pub mod aggregates;
pub mod churn;
pub mod classifiers;
pub mod embedding;
pub mod intent;
pub mod json_arg;
pub mod models;
pub mod progress;
pub mod profile_agg;
pub mod segments;
pub mod sentiment;
pub mod session;
pub mod text;
pub mod threshold;
pub mod understanding;
