//! Training a classifier from SQL, end to end: the checks that can refuse come first, then the
//! training query's rows are read and encoded, the head trained and stored.

use std::time::Instant;

use serde_json::{json, Value};

use crate::errors::{Error, Result};
use crate::heads::train::{self, Dataset, TrainOptions};
use crate::heads::{store, training_set, Head};
use crate::runtime;

/// Trains a head on the rows of `query` and stores it under `name`; returns the training
/// report (rows, classes, validation metrics, timings).
pub fn train_classifier(
    name: &str,
    query: &str,
    options: &Value,
    interrupt: impl FnMut(),
) -> Result<Value> {
    if name.trim().is_empty() {
        return Err(Error::invalid_parameter(
            "a classifier needs a non-empty name",
        ));
    }
    let opts = TrainOptions::from_json(options)?;
    if query.trim().trim_matches(';').trim().is_empty() {
        return Err(Error::invalid_parameter("the training query is empty")
            .hint("Pass a query returning rows, for example 'SELECT body, label FROM public.reviews'."));
    }
    // every check that can refuse comes before the minutes of encoding
    let owned = store::check_may_store(name)?;
    let rows = training_set::read(query)?;
    let mut classes: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    classes.dedup();
    if classes.len() < 2 {
        return Err(Error::invalid_parameter(format!(
            "the training query has {} class; a classifier needs at least two",
            classes.len()
        )));
    }

    let encoder = runtime::current()?;
    let layers = super::max_encoder_layers(&encoder);
    if !(1..=layers).contains(&opts.encoder_layers) {
        return Err(Error::invalid_parameter(format!(
            "option \"encoder_layers\" must be in 1..{layers}: the encoder exposes its last {layers} layers"
        )));
    }
    let started = Instant::now();
    let encoded = training_set::encode(&rows, &opts)?;
    let embedding_seconds = started.elapsed().as_secs_f64();
    let y: Vec<usize> = rows
        .iter()
        .map(|r| classes.binary_search(&r.label).expect("class listed"))
        .collect();
    let weight: Vec<f32> = rows.iter().map(|r| r.weight).collect();
    let data = Dataset {
        x: &encoded.fixed,
        dim: opts
            .pooling
            .fixed_dim(encoder.dimensions, opts.encoder_layers),
        tokens: encoded.tokens.as_ref().map(|store| (store, opts.heads)),
        y: &y,
        weight: &weight,
        classes: classes.len(),
    };
    let trained = train::train(&data, &classes, &opts, interrupt)?;
    drop(encoded);

    let head = Head {
        name: name.to_string(),
        encoder: encoder.name.clone(),
        dimensions: encoder.dimensions,
        pooling: opts.pooling,
        encoder_layers: opts.encoder_layers,
        attention: trained.attention,
        scoring: opts.scoring,
        classes: classes.clone(),
        layers: trained.layers,
    };
    let mut report = trained.metrics;
    report["name"] = json!(name);
    report["rows"] = json!(rows.len());
    report["classes"] = json!(classes);
    report["model"] = json!(opts.model.name());
    report["embedding_seconds"] = json!((embedding_seconds * 100.0).round() / 100.0);
    store::save(name, &head, &report, owned)?;
    Ok(report)
}
