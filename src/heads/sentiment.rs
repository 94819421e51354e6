//! The built-in sentiment heads (src/heads/built_in.rs). Every function that reports a
//! sentiment (sentiment, aspect_sentiment, profile_agg) scores through
//! `analyse`/`analyse_and_embed`.

use pgrx::PgSqlErrorCode;
use serde_json::{json, Value};

use crate::errors::{Error, Result};
use crate::heads::built_in::{self, BuiltIn};
use crate::heads::{intent, Head};
use crate::numeric::argmax;
use crate::runtime::{self, Manifest};

pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
/// Indexes into `LABELS` and `Sentiment::probabilities`.
pub const NEGATIVE: usize = 0;
pub const NEUTRAL: usize = 1;
pub const POSITIVE: usize = 2;

/// The built-in sentiment head of an encoder, if its manifest names one that this library
/// carries.
pub fn built_in_for(encoder: &Manifest) -> Option<&'static BuiltIn> {
    built_in::for_encoder(encoder, "sentiment")
}

fn with_head<R>(f: impl FnOnce(&Head) -> Result<R>) -> Result<R> {
    let encoder = runtime::current()?;
    let Some(built_in) = built_in_for(&encoder) else {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("encoder {} has no built-in sentiment head", encoder.name),
        )
        .hint("The custprofile.models view lists which encoder has one; SET custprofile.encoder to it."));
    };
    let head = built_in.load(|head| {
        debug_assert!(LABELS.iter().all(|l| head.classes.iter().any(|c| c == l)));
        Ok(())
    })?;
    head.check_encoder(&encoder)?;
    f(&head)
}

/// What a text signal was made with: the encoder (name and identity by content) and its
/// sentiment and intent heads (NULL where the encoder has none). Profiles and catalogue vectors made under
/// another provenance are stale.
pub fn provenance() -> Result<Value> {
    let encoder = runtime::current()?;
    let (sentiment, intent) = (built_in_for(&encoder), intent::built_in_for(&encoder));
    Ok(json!({
        "encoder": encoder.name,
        "encoder_identity": encoder.identity(),
        "sentiment": sentiment.map(|h| h.name),
        "intent": intent.map(|h| h.name),
        // by content: a file changed under the same name is another model
        "sentiment_identity": sentiment.map(|h| h.identity()),
        "intent_identity": intent.map(|h| h.identity()),
        "manifest_identity": encoder.settings_identity(),
    }))
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sentiment {
    /// negative, neutral, positive
    pub probabilities: [f32; 3],
}

impl Sentiment {
    /// The reading of a clause in its context: the mean of both readings' probabilities.
    pub fn together_with(&self, context: &Sentiment) -> Sentiment {
        Sentiment {
            probabilities: std::array::from_fn(|k| {
                (self.probabilities[k] + context.probabilities[k]) / 2.0
            }),
        }
    }

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
    Ok(analyse_and_embed(texts)?
        .into_iter()
        .map(|(s, _)| s)
        .collect())
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
            .map(|l| {
                head.classes
                    .iter()
                    .position(|c| c == l)
                    .expect("sentiment head has the three labels")
            })
            .collect();
        let mut it = predicted.into_iter();
        Ok(texts
            .iter()
            .map(|t| {
                if blank(t) {
                    return (
                        Sentiment {
                            probabilities: [0.0, 1.0, 0.0],
                        },
                        None,
                    );
                }
                let (p, embedding) = it.next().expect("one per text");
                (
                    Sentiment {
                        probabilities: [p[index[0]], p[index[1]], p[index[2]]],
                    },
                    Some(embedding),
                )
            })
            .collect())
    })
}

/// Loads the chosen encoder and its built-in sentiment head (where it has one) and runs one
/// text through them, so that the first real call does not pay for loading or for ONNX
/// Runtime's first-run allocations.
pub fn warm_up() -> Result<()> {
    if built_in_for(&*runtime::current()?).is_some() {
        intent::of_scored(&analyse_and_embed(&["warm up"])?)?;
    } else {
        runtime::embed(&["warm up"])?;
    }
    Ok(())
}

pub fn model_name() -> Result<String> {
    with_head(|h| Ok(h.name.clone()))
}
