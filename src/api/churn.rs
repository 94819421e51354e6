//! `fit_logistic`, the numeric part of `train_churn_model` (sql/churn.sql): argument checks over
//! src/heads/logistic.rs.

use pgrx::prelude::*;
use pgrx::JsonB;

use crate::api::json_arg::JsonArg;
use crate::errors::{Error, OrRaise};
use crate::heads::logistic;

/// Logistic regression of `labels` on `features` (row-major, `names.len()` values per row):
/// `{"weights": {"bias": b, name: w, ...}, "metrics": {...}}` such that
/// P(true) = 1 / (1 + exp(-(b + sum w * x))). Options as train_classifier's (model must stay
/// "logistic"); more epochs by default, as there are few rows and few features.
#[pg_extern(schema = "custprofile_internal", immutable, parallel_safe)]
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
    let options = options.value().or_raise();
    let interrupt = || {
        pgrx::check_for_interrupts!();
    };
    JsonB(logistic::fit(&x, &y, &names, options, interrupt).or_raise())
}
