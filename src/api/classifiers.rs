//! SQL functions of trained classifiers (src/heads/classifier.rs trains, src/heads/store.rs
//! keeps them): `train_classifier` reads (text, label) rows from any query, trains a head over
//! the encoder's features and stores it in `custprofile.classifiers`; `predict` and
//! `predict_scores` apply it. The built-in sentiment head is made the same way.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

use crate::api::json_arg::JsonArg;
use crate::api::progress::Progress;
use crate::api::threshold;
use crate::errors::{Error, OrRaise};
use crate::heads::{classifier, max_encoder_layers, store, Pooling};
use crate::numeric::{argmax, round4};
use crate::runtime;
use crate::spi::read_one;

/// Trains a classifier head and stores it under `name`, replacing one of the same name in the
/// same transaction. Returns the row count, classes and validation metrics.
#[pg_extern(volatile, parallel_unsafe)]
fn train_classifier(name: &str, training_query: &str, options: default!(JsonArg, "'{}'")) -> JsonB {
    let options = options.value().or_raise();
    // it writes custprofile.classifiers: never inside a task Citus sent to a worker (sql/placement.sql);
    // a database not yet updated to a version with the check has no Citus rule to follow
    let has_check = read_one::<bool>("SELECT pg_catalog.to_regprocedure('custprofile_internal.require_coordinator(text)') IS NOT NULL", &[]);
    if has_check.or_raise() == Some(true) {
        read_one::<bool>("SELECT custprofile_internal.require_coordinator('train_classifier')", &[]).or_raise();
    }
    let mut progress = Progress::new("train_classifier");
    // read-only queries (crate::spi): a hot standby must still get train_classifier's 25006
    let started = read_one::<TimestampWithTimeZone>("SELECT pg_catalog.clock_timestamp()", &[]).or_raise();
    let report = classifier::train_classifier(name, training_query, &options, |step| progress.step(step)).or_raise();
    record_run(started, &report);
    JsonB(report)
}

/// The run in custprofile.runs (sql/runs.sql): rows trained on, the classifier's name and
/// validation accuracy; in the caller's transaction, so a failed training leaves no row. A
/// database still at a version before the history (not yet updated) records nothing.
fn record_run(started: Option<TimestampWithTimeZone>, report: &Value) {
    let has_history = read_one::<bool>(
        "SELECT pg_catalog.to_regprocedure('custprofile_internal.record_run(text, timestamptz, bigint, jsonb, name)') IS NOT NULL",
        &[],
    )
    .or_raise()
    .unwrap_or(false);
    if !has_history {
        return;
    }
    let detail = json!({
        "name": report["name"],
        "classes": report["classes"],
        "validation_accuracy": report["validation_accuracy"],
    });
    Spi::run_with_args(
        "SELECT custprofile_internal.record_run('train_classifier', $1, $2, $3)",
        &[started.into(), report["rows"].as_i64().into(), JsonB(detail).into()],
    )
    .map_err(Error::spi)
    .or_raise();
}

/// The most probable class.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn predict(name: &str, input: &str) -> String {
    let head = store::load(name).or_raise();
    let p = head.predict(&[input]).or_raise().pop().expect("one text");
    let best = argmax(&p);
    head.classes[best].clone()
}

/// Probability of each class (summing to 1; for a multi-label classifier, each label's own).
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn predict_scores(name: &str, input: &str) -> JsonB {
    let head = store::load(name).or_raise();
    let p = head.predict(&[input]).or_raise().pop().expect("one text");
    let m: Map<String, Value> = head
        .classes
        .iter()
        .zip(p)
        .map(|(c, v)| (c.clone(), json!(round4(v as f64))))
        .collect();
    JsonB(Value::Object(m))
}

/// Every label of a multi-label classifier (trained on text[] labels) that applies to the
/// text, with its probability; `{}` when none reaches the threshold.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn predict_multi(name: &str, input: &str, threshold: default!(f32, 0.5)) -> JsonB {
    let threshold = threshold::checked(threshold);
    let head = store::load(name).or_raise();
    if !head.multi_label {
        Error::new(
            PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
            format!("classifier \"{name}\" gives one class per text, not several labels"),
        )
        .hint("Use custprofile.predict or predict_scores with it, or train it on a text[] label column.")
        .raise();
    }
    let p = head.predict(&[input]).or_raise().pop().expect("one text");
    JsonB(Value::Object(threshold::reaching(head.classes.iter().map(String::as_str), &p, threshold)))
}

/// The pooled features a head is trained on, for precomputing them in a table.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn text_features(
    input: &str,
    pooling: default!(&str, "'mean_max_cls'"),
    encoder_layers: default!(i32, 1),
) -> Vec<f32> {
    let pooling = Pooling::parse(pooling).or_raise();
    if pooling == Pooling::Attention {
        Error::invalid_parameter(
            "attention pooling depends on a trained classifier's queries; it has no fixed features",
        )
        .hint("Use pooling \"mean\" or \"mean_max_cls\", or train on the texts themselves.")
        .raise();
    }
    let encoder = runtime::current().or_raise();
    let most = max_encoder_layers(&encoder);
    let layers = usize::try_from(encoder_layers)
        .ok()
        .filter(|n| (1..=most).contains(n))
        .unwrap_or_else(|| {
            Error::invalid_parameter(format!("encoder_layers must be in 1..{most}")).raise()
        });
    let dims = encoder.dimensions;
    runtime::with_encoder(|e| e.encode_with(&[input], |h| pooling.fixed_features(&h, dims, layers)))
        .or_raise()
        .pop()
        .expect("one text")
}
