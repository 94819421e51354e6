//! Binary logistic regression over a few named factors (the churn weights of
//! `train_churn_model`), through the same trainer as classifier heads.

use serde_json::{json, Map, Value};

use crate::errors::{Error, Result};
use crate::heads::train::{self, Dataset, Model, TrainOptions};
use crate::numeric::round4;

/// Logistic regression of `y` (0 or 1) on `x` (row-major, `names.len()` values per row):
/// `{"weights": {"bias": b, name: w, ...}, "metrics": {...}}` such that
/// P(1) = 1 / (1 + exp(-(b + sum w * x))). Options as train_classifier's (model must stay
/// "logistic"); more epochs by default, as there are few rows and few features. Both classes
/// must occur in `y` (the caller checks).
pub fn fit(x: &[f32], y: &[usize], names: &[String], options: Value, interrupt: impl FnMut()) -> Result<Value> {
    let mut opts = options;
    if let Some(o) = opts.as_object_mut() {
        o.entry("epochs").or_insert(json!(300));
        o.entry("batch_size").or_insert(json!(64));
        o.entry("validation_share").or_insert(json!(0.2));
    }
    let opts = TrainOptions::from_json(&opts)?;
    if opts.model != Model::Logistic {
        return Err(Error::invalid_parameter("churn weights are fitted by logistic regression; leave out \"model\""));
    }
    let weight = vec![1.0f32; y.len()];
    let dim = names.len();
    let data = Dataset { x, dim, tokens: None, y, weight: &weight, classes: 2 };
    let classes = vec!["retained".to_string(), "churned".to_string()];
    let mut interrupt = interrupt;
    let trained = train::train(&data, &classes, &opts, |_| interrupt())?;
    let (w, bias) = trained.layers[0].logistic_of_two();
    let mut weights = Map::new();
    weights.insert("bias".into(), json!(round4(bias as f64)));
    for (name, w) in names.iter().zip(w) {
        weights.insert(name.clone(), json!(round4(w as f64)));
    }
    Ok(json!({ "weights": Value::Object(weights), "metrics": trained.metrics }))
}
