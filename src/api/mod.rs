//! The SQL surface, one module per theme.

pub mod aggregates;
pub mod churn;
pub mod classifiers;
pub mod embedding;
pub mod json_arg;
pub mod models;
pub mod profile_agg;
pub mod segments;
pub mod sentiment;
pub mod text;
pub mod understanding;
