//! Fitting churn weights: the numeric part of `train_churn_model` (sql/churn.sql), a binary
//! logistic regression over a few named factors through the same trainer as `train_classifier`.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

use crate::errors::{Error, OrRaise};
use crate::functions::json_arg::JsonArg;
use crate::heads::round4;
use crate::heads::train::{self, Dataset, TrainOptions};

/// Logistic regression of `labels` on `features` (row-major, `names.len()` values per row):
/// `{"weights": {"bias": b, name: w, ...}, "metrics": {...}}` such that
/// P(true) = 1 / (1 + exp(-(b + sum w * x))). Options as train_classifier's (model must stay
/// "logistic"); more epochs by default, as there are few rows and few features.
#[pg_extern(immutable, parallel_safe)]
fn fit_logistic(features: Vec<Option<f64>>, labels: Vec<Option<bool>>, names: Vec<String>, options: default!(JsonArg, "'{}'")) -> JsonB {
    let dim = names.len();
    if dim == 0 || features.len() != labels.len() * dim {
        Error::invalid_parameter(format!(
            "{} feature values do not make {} rows of {} named features",
            features.len(),
            labels.len(),
            dim
        ))
        .raise();
    }
    let x: Vec<f32> = features
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => *v as f32,
            _ => Error::invalid_parameter("features contain NULL, NaN or infinity").raise(),
        })
        .collect();
    let y: Vec<usize> = labels
        .iter()
        .map(|l| match l {
            Some(l) => *l as usize,
            None => Error::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, "a label is NULL").raise(),
        })
        .collect();
    if y.iter().all(|&c| c == y[0]) {
        Error::invalid_parameter("the labels are all the same; fitting needs both churned and retained customers").raise();
    }
    let mut opts = options.value().or_raise();
    if let Some(o) = opts.as_object_mut() {
        o.entry("epochs").or_insert(json!(300));
        o.entry("batch_size").or_insert(json!(64));
        o.entry("validation_share").or_insert(json!(0.2));
    }
    let opts = TrainOptions::from_json(&opts).or_raise();
    if opts.model != "logistic" {
        Error::invalid_parameter("churn weights are fitted by logistic regression; leave out \"model\"").raise();
    }
    let weight = vec![1.0f32; y.len()];
    let data = Dataset { x: &x, dim, tokens: None, y: &y, weight: &weight, classes: 2 };
    let classes = vec!["retained".to_string(), "churned".to_string()];
    let trained = train::train(&data, &classes, &opts, || { pgrx::check_for_interrupts!(); }).or_raise();
    // softmax over two classes is a logistic of the difference of their scores
    let layer = &trained.layers[0];
    let mut weights = Map::new();
    weights.insert("bias".into(), json!(round4((layer.bias[1] - layer.bias[0]) as f64)));
    for (j, name) in names.iter().enumerate() {
        weights.insert(name.clone(), json!(round4((layer.weights[dim + j] - layer.weights[j]) as f64)));
    }
    JsonB(json!({ "weights": Value::Object(weights), "metrics": trained.metrics }))
}
