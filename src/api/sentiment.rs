//! SQL functions of the built-in sentiment head (src/heads/sentiment.rs).

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use crate::errors::OrRaise;
use crate::heads::sentiment::{self, Sentiment, NEGATIVE, NEUTRAL, POSITIVE};
use crate::numeric::round4;

fn one(input: &str) -> Sentiment {
    sentiment::analyse(&[input]).or_raise().pop().expect("one text in, one out")
}

/// Sentiment score in [-1, 1], negative to positive.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn sentiment(input: &str) -> f32 {
    one(input).score()
}

/// `negative`, `neutral` or `positive`.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn sentiment_label(input: &str) -> &'static str {
    one(input).label()
}

/// Label, score, the three probabilities and the model that produced them.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn sentiment_detail(input: &str) -> JsonB {
    let s = one(input);
    let p = s.probabilities;
    let round = |v: f32| round4(v as f64);
    JsonB(json!({
        "label": s.label(),
        "score": round(s.score()),
        "probabilities": { "negative": round(p[NEGATIVE]), "neutral": round(p[NEUTRAL]), "positive": round(p[POSITIVE]) },
        "model": sentiment::model_name().or_raise(),
    }))
}
