//! The threshold of the multi-label functions (classify_multi, predict_multi): its check, and
//! the labels whose probability reaches it.

use serde_json::{json, Map, Value};

use crate::errors::Error;
use crate::numeric::round4;

/// A probability threshold between 0 and 1, else ERROR 22023.
pub fn checked(threshold: f32) -> f32 {
    if !(0.0..=1.0).contains(&threshold) {
        Error::invalid_parameter(format!("threshold must be between 0 and 1, not {threshold}"))
            .hint("Pass a probability, for example 0.5.")
            .raise();
    }
    threshold
}

/// The names whose probability reaches the threshold, with it.
pub fn reaching<'a>(names: impl Iterator<Item = &'a str>, p: &[f32], threshold: f32) -> Map<String, Value> {
    names
        .zip(p)
        .filter(|(_, &p)| p >= threshold)
        .map(|(name, &p)| (name.to_string(), json!(round4(p as f64))))
        .collect()
}
