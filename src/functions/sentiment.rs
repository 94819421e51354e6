//! Sentiment from the built-in head over the encoder's features. The head is trained by
//! `custprofile.train_classifier` (scripts/train-sentiment.sh) and compiled into the extension
//! from models/sentiment-head.json, so a result depends only on the text and the model.

use once_cell::unsync::OnceCell;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

use crate::errors::{OrRaise, Result};
use crate::heads::{argmax, round4, Head};
use crate::runtime::files::sha256_hex;

pub const SENTIMENT_HEAD_JSON: &str = include_str!("../../models/sentiment-head.json");
pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

thread_local! {
    static HEAD: OnceCell<Head> = const { OnceCell::new() };
}

pub fn head_loaded() -> bool {
    HEAD.with(|h| h.get().is_some())
}

pub fn head_sha256() -> String {
    sha256_hex(SENTIMENT_HEAD_JSON.as_bytes())
}

fn with_head<R>(f: impl FnOnce(&Head) -> Result<R>) -> Result<R> {
    HEAD.with(|cell| {
        let head = cell.get_or_try_init(|| {
            let head = Head::from_json(SENTIMENT_HEAD_JSON)?;
            debug_assert!(LABELS.iter().all(|l| head.classes.iter().any(|c| c == l)));
            Ok::<Head, crate::errors::Error>(head)
        })?;
        f(head)
    })
}

pub struct Sentiment {
    /// negative, neutral, positive
    pub probabilities: [f32; 3],
}

impl Sentiment {
    /// p(positive) - p(negative), in [-1, 1].
    pub fn score(&self) -> f32 {
        self.probabilities[2] - self.probabilities[0]
    }
    pub fn label(&self) -> &'static str {
        let p = &self.probabilities;
        let i = argmax(p);
        LABELS[i]
    }
}

/// Sentiment of many texts in one batched encoder pass. A text that is empty or only
/// whitespace is neutral with certainty.
pub fn analyse(texts: &[&str]) -> Result<Vec<Sentiment>> {
    Ok(analyse_and_embed(texts)?.into_iter().map(|(s, _)| s).collect())
}

/// Sentiment and sentence embedding (384 values, unit length) of each non-blank text, from one
/// batched encoder pass: the embedding is the same as `embed_text` gives. Blank texts are
/// neutral with certainty and have no embedding.
pub fn analyse_and_embed(texts: &[&str]) -> Result<Vec<(Sentiment, Option<Vec<f32>>)>> {
    with_head(|head| {
        let blank = |t: &str| t.trim().is_empty();
        let non_blank: Vec<&str> = texts.iter().copied().filter(|t| !blank(t)).collect();
        let predicted = head.predict_with_embeddings(&non_blank)?;
        let index: Vec<usize> = LABELS
            .iter()
            .map(|l| head.classes.iter().position(|c| c == l).expect("sentiment head has the three labels"))
            .collect();
        let mut it = predicted.into_iter();
        Ok(texts
            .iter()
            .map(|t| {
                if blank(t) {
                    return (Sentiment { probabilities: [0.0, 1.0, 0.0] }, None);
                }
                let (p, embedding) = it.next().expect("one per text");
                (Sentiment { probabilities: [p[index[0]], p[index[1]], p[index[2]]] }, Some(embedding))
            })
            .collect())
    })
}

fn one(input: &str) -> Sentiment {
    analyse(&[input]).or_raise().pop().expect("one text in, one out")
}

pub fn model_name() -> String {
    with_head(|h| Ok(h.name.clone())).or_raise()
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
        "probabilities": { "negative": round(p[0]), "neutral": round(p[1]), "positive": round(p[2]) },
        "model": model_name(),
    }))
}
