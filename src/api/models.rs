//! What is installed and loaded: backs the `custprofile.models` view and `warmup()`.

use pgrx::prelude::*;

use crate::errors::OrRaise;
use crate::heads::sentiment;
use crate::runtime::{self, DEFAULT_ENCODER};
use crate::settings;

/// The built-in models: the encoder (files on disk) and the sentiment head (compiled in).
/// Trained classifiers are added by the view from `custprofile.classifiers`.
#[pg_extern(stable, parallel_safe)]
fn builtin_models() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(task, String),
        name!(dimensions, i32),
        name!(files, Vec<String>),
        name!(sha256, Vec<String>),
        name!(installed, bool),
        name!(loaded, bool),
    ),
> {
    let dir = DEFAULT_ENCODER.dir(&settings::model_dir());
    let files = [&DEFAULT_ENCODER.model, &DEFAULT_ENCODER.tokenizer];
    let paths: Vec<String> = files.iter().map(|f| dir.join(f.name).display().to_string()).collect();
    let installed = files.iter().all(|f| dir.join(f.name).is_file());
    TableIterator::new(vec![
        (
            DEFAULT_ENCODER.name.to_string(),
            "embedding".to_string(),
            DEFAULT_ENCODER.dimensions as i32,
            paths,
            files.iter().map(|f| f.sha256.to_string()).collect(),
            installed,
            runtime::encoder_loaded(),
        ),
        (
            sentiment::model_name().or_raise(),
            "sentiment".to_string(),
            3,
            vec!["built-in: models/sentiment-head.json".to_string()],
            vec![sentiment::head_sha256()],
            installed,
            sentiment::head_loaded() && runtime::encoder_loaded(),
        ),
    ])
}

/// Loads the encoder and the sentiment head now, so that the first real call does not pay for
/// it; returns the milliseconds it took (0 when already loaded).
#[pg_extern(volatile, parallel_safe)]
fn warmup() -> f64 {
    let started = std::time::Instant::now();
    sentiment::analyse(&["warm up"]).or_raise();
    started.elapsed().as_secs_f64() * 1000.0
}

/// What produced a profile: the extension's version, the encoder and the sentiment head.
/// Stored profiles built by another model are rebuilt by the next refresh.
#[pg_extern(immutable, parallel_safe)]
fn model_version() -> pgrx::JsonB {
    pgrx::JsonB(serde_json::json!({
        "extension": env!("CARGO_PKG_VERSION"),
        "encoder": DEFAULT_ENCODER.name,
        "sentiment": sentiment::model_name().or_raise(),
    }))
}
