//! The built-in sentiment heads: trained by `custprofile.train_classifier`
//! (scripts/train-sentiment.sh) and compiled into the extension from
//! models/ENCODER/sentiment-head.json, so a result depends only on the text and the model. The
//! encoder's manifest names its head ("heads": {"sentiment": ...}); an encoder without one has no
//! sentiment. Every function that reports a sentiment (sentiment, aspect_sentiment, profile_agg)
//! scores through `analyse`/`analyse_and_embed`.

use pgrx::PgSqlErrorCode;
use serde_json::{json, Value};

use crate::cache::{self, Kind};
use crate::errors::{Error, Result};
use crate::heads::Head;
use crate::numeric::argmax;
use crate::runtime::{self, files::sha256_hex, Manifest};

/// The built-in heads by name, as the manifests name them.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        "sentiment-minilm-v1",
        include_str!("../../models/all-MiniLM-L6-v2/sentiment-head.json"),
    ),
    (
        "sentiment-e5-v1",
        include_str!("../../models/multilingual-e5-small/sentiment-head.json"),
    ),
];
pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];
/// Indexes into `LABELS` and `Sentiment::probabilities`.
pub const NEGATIVE: usize = 0;
pub const NEUTRAL: usize = 1;
pub const POSITIVE: usize = 2;

/// The built-in sentiment head of an encoder, by name and JSON, if its manifest names one that
/// this library carries.
pub fn built_in_for(encoder: &Manifest) -> Option<(&'static str, &'static str)> {
    let wanted = encoder.heads.get("sentiment")?;
    BUILT_IN.iter().find(|(name, _)| name == wanted).copied()
}

pub fn head_loaded(name: &str) -> bool {
    cache::holds(Kind::SentimentHead, name)
}

pub fn head_sha256(json: &str) -> String {
    sha256_hex(json.as_bytes())
}

fn with_head<R>(f: impl FnOnce(&Head) -> Result<R>) -> Result<R> {
    let encoder = runtime::current()?;
    let Some((name, json)) = built_in_for(&encoder) else {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("encoder {} has no built-in sentiment head", encoder.name),
        )
        .hint("The custprofile.models view lists which encoder has one; SET custprofile.encoder to it."));
    };
    // compiled in: one version per library
    let head = cache::get_or_try_insert(
        Kind::SentimentHead,
        name,
        env!("CARGO_PKG_VERSION"),
        Head::approx_bytes,
        || {
            let head = Head::from_json(json)?;
            debug_assert!(LABELS.iter().all(|l| head.classes.iter().any(|c| c == l)));
            Ok::<Head, Error>(head)
        },
    )?;
    head.check_encoder(&encoder)?;
    f(&head)
}

/// What a text signal was made with: the encoder (name and identity by content) and the
/// sentiment head (NULL where the encoder has none). Profiles and catalogue vectors made under
/// another provenance are stale.
pub fn provenance() -> Result<Value> {
    let encoder = runtime::current()?;
    Ok(json!({
        "encoder": encoder.name,
        "encoder_identity": encoder.identity(),
        "sentiment": built_in_for(&encoder).map(|(name, _)| name),
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
        analyse(&["warm up"])?;
    } else {
        runtime::embed(&["warm up"])?;
    }
    Ok(())
}

pub fn model_name() -> Result<String> {
    with_head(|h| Ok(h.name.clone()))
}
