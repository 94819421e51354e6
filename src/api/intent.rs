//! SQL functions of the built-in intent head (src/heads/intent.rs).

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

use crate::errors::OrRaise;
use crate::heads::intent::{self, Intent, LABELS};
use crate::heads::sentiment;
use crate::numeric::round4;

fn one(input: &str) -> Intent {
    intent::analyse(&[input]).or_raise().pop().expect("one text in, one out")
}

fn probabilities(i: &Intent) -> Value {
    let p: Map<String, Value> = LABELS
        .iter()
        .zip(i.probabilities)
        .map(|(l, p)| (l.to_string(), json!(round4(p as f64))))
        .collect();
    Value::Object(p)
}

/// `question`, `complaint`, `praise` or `other` (a request, a statement); a blank text is other.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn intent(input: &str) -> &'static str {
    one(input).label()
}

/// Label, the four probabilities and the model that produced them.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn intent_detail(input: &str) -> JsonB {
    let i = one(input);
    JsonB(json!({
        "label": i.label(),
        "probabilities": probabilities(&i),
        "model": intent::model_name().or_raise(),
    }))
}

/// What the text_insights view shows of one text, from one encoder pass: sentiment label and
/// score, and the intent (NULL where the encoder has no intent head).
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn text_signals(input: &str) -> JsonB {
    let scored = sentiment::analyse_and_embed(&[input]).or_raise();
    let intent = intent::of_scored(&scored).or_raise();
    let s = &scored[0].0;
    JsonB(json!({
        "sentiment": s.label(),
        "score": round4(s.score() as f64),
        "intent": intent.map(|i| i[0].label()),
    }))
}
