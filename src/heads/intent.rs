//! The built-in intent heads (src/heads/built_in.rs): what a text does — asks a question, makes
//! a complaint, gives praise, or something else (a request, a statement). Sentiment says how a
//! customer feels; intent tells "How long does a refund take?" (a question, however it scores)
//! from "My refund never came" (a complaint). An intent head reads the sentence embedding only
//! (mean pooling of the last layer), so it scores the embeddings the sentiment pass made, with
//! no encoder pass of its own.
//!
//! A complaint voices dissatisfaction, so a text is read as one only when the sentiment head
//! reads it as negative too: an intent head alone can take a text that names a defect that did not
//! happen for one ("It never breaks.", sentiment positive). When the two disagree, the complaint's
//! probability goes to the other classes in proportion and the text gets the next intent.

use pgrx::PgSqlErrorCode;

use crate::errors::{Error, Result};
use crate::heads::built_in::{self, BuiltIn};
use crate::heads::sentiment::{self, Sentiment};
use crate::heads::{Head, Pooling, Scoring};
use crate::numeric::argmax;
use crate::runtime::{self, Manifest};

pub const LABELS: [&str; 4] = ["question", "complaint", "praise", "other"];
/// Indexes into `LABELS` and `Intent::probabilities`.
pub const QUESTION: usize = 0;
pub const COMPLAINT: usize = 1;
#[allow(dead_code)] // named for the tests and readers; the code indexes by LABELS
pub const PRAISE: usize = 2;
#[allow(dead_code)]
pub const OTHER: usize = 3;

#[derive(Clone, Debug, PartialEq)]
pub struct Intent {
    /// question, complaint, praise, other
    pub probabilities: [f32; 4],
}

impl Intent {
    /// What a blank text does: nothing.
    pub const BLANK: Intent = Intent { probabilities: [0.0, 0.0, 0.0, 1.0] };

    pub fn index(&self) -> usize {
        argmax(&self.probabilities)
    }
    pub fn label(&self) -> &'static str {
        LABELS[self.index()]
    }

    /// The intent head's reading of a text, reconciled with the sentiment head's reading of it:
    /// no complaint unless the text reads negative.
    pub fn reconciled(probabilities: [f32; 4], sentiment: &Sentiment) -> Intent {
        let negative = argmax(&sentiment.probabilities) == sentiment::NEGATIVE;
        let rest = 1.0 - probabilities[COMPLAINT];
        if negative || argmax(&probabilities) != COMPLAINT || rest <= f32::EPSILON {
            return Intent { probabilities };
        }
        Intent {
            probabilities: std::array::from_fn(|k| if k == COMPLAINT { 0.0 } else { probabilities[k] / rest }),
        }
    }
}

pub fn built_in_for(encoder: &Manifest) -> Option<&'static BuiltIn> {
    built_in::for_encoder(encoder, "intent")
}

/// A head fits this code when its input is the sentence embedding alone and it has the four
/// classes (in any order: `order` maps them).
fn check(head: &Head) -> Result<()> {
    let reads_embedding = head.pooling == Pooling::Mean
        && head.encoder_layers == 1
        && head.attention.is_none()
        && head.scoring == Scoring::Text
        && !head.multi_label;
    if !reads_embedding || LABELS.iter().any(|l| !head.classes.iter().any(|c| c == l)) {
        return Err(Error::internal(format!(
            "built-in intent head {} does not read the sentence embedding alone or lacks a class",
            head.name
        )));
    }
    Ok(())
}

/// Intents of texts that `sentiment::analyse_and_embed` scored, from their sentence embeddings
/// (a blank text has none and is `Intent::BLANK`). None when the encoder has no intent head.
pub fn of_scored(scored: &[(Sentiment, Option<Vec<f32>>)]) -> Result<Option<Vec<Intent>>> {
    let encoder = runtime::current()?;
    let Some(built_in) = built_in_for(&encoder) else {
        return Ok(None);
    };
    let head = built_in.load(check)?;
    head.check_encoder(&encoder)?;
    let order: Vec<usize> = LABELS
        .iter()
        .map(|l| head.classes.iter().position(|c| c == l).expect("checked at load"))
        .collect();
    Ok(Some(
        scored
            .iter()
            .map(|(sentiment, e)| match e {
                None => Intent::BLANK,
                Some(e) => {
                    let p = head.probabilities(&[e.as_slice()]);
                    Intent::reconciled(std::array::from_fn(|k| p[order[k]]), sentiment)
                }
            })
            .collect(),
    ))
}

/// Intent of each text (one encoder pass for all); an ERROR when the encoder has no intent head.
pub fn analyse(texts: &[&str]) -> Result<Vec<Intent>> {
    of_scored(&sentiment::analyse_and_embed(texts)?)?.ok_or_else(|| {
        let encoder = crate::settings::encoder();
        Error::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("encoder {encoder} has no built-in intent head"),
        )
        .hint("The custprofile.models view lists which encoder has one; SET custprofile.encoder to it.")
    })
}

pub fn model_name() -> Result<Option<&'static str>> {
    Ok(built_in_for(&*runtime::current()?).map(|h| h.name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentiment(negative: f32, neutral: f32, positive: f32) -> Sentiment {
        Sentiment { probabilities: [negative, neutral, positive] }
    }

    #[test]
    fn a_complaint_needs_a_negative_reading() {
        let complaint = [0.1, 0.6, 0.1, 0.2];
        assert_eq!(Intent::reconciled(complaint, &sentiment(0.7, 0.2, 0.1)).label(), "complaint");
        let other = Intent::reconciled(complaint, &sentiment(0.1, 0.3, 0.6));
        assert_eq!(other.label(), "other");
        assert!((other.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!((other.probabilities[QUESTION] - 0.25).abs() < 1e-6);
        // other intents are left as the head read them
        let praise = [0.1, 0.2, 0.6, 0.1];
        assert_eq!(Intent::reconciled(praise, &sentiment(0.8, 0.1, 0.1)).probabilities, praise);
    }
}
