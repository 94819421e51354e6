//! The built-in sentiment head: trained by `custprofile.train_classifier`
//! (scripts/train-sentiment.sh) and compiled into the extension from models/sentiment-head.json,
//! so a result depends only on the text and the model. Every function that reports a sentiment
//! (sentiment, aspect_sentiment, profile_agg) scores through `analyse`/`analyse_and_embed`.

use crate::cache::{self, Kind};
use crate::errors::{Error, Result};
use crate::heads::Head;
use crate::numeric::argmax;
use crate::runtime::files::sha256_hex;

pub const SENTIMENT_HEAD_JSON: &str = include_str!("../../models/all-MiniLM-L6-v2/sentiment-head.json");
pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
/// Indexes into `LABELS` and `Sentiment::probabilities`.
pub const NEGATIVE: usize = 0;
pub const NEUTRAL: usize = 1;
pub const POSITIVE: usize = 2;

/// The head's cache slot; compiled in, so one version per library.
const SLOT: &str = "built-in";

pub fn head_loaded() -> bool {
    cache::holds(Kind::SentimentHead, SLOT)
}

pub fn head_sha256() -> String {
    sha256_hex(SENTIMENT_HEAD_JSON.as_bytes())
}

fn with_head<R>(f: impl FnOnce(&Head) -> Result<R>) -> Result<R> {
    let head = cache::get_or_try_insert(Kind::SentimentHead, SLOT, env!("CARGO_PKG_VERSION"), Head::approx_bytes, || {
        let head = Head::from_json(SENTIMENT_HEAD_JSON)?;
        debug_assert!(LABELS.iter().all(|l| head.classes.iter().any(|c| c == l)));
        Ok::<Head, Error>(head)
    })?;
    f(&head)
}

pub struct Sentiment {
    /// negative, neutral, positive
    pub probabilities: [f32; 3],
}

impl Sentiment {
    /// p(positive) - p(negative), in [-1, 1].
    pub fn score(&self) -> f32 {
        self.probabilities[POSITIVE] - self.probabilities[NEGATIVE]
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

pub fn model_name() -> Result<String> {
    with_head(|h| Ok(h.name.clone()))
}

