//! The topic rule: which of the user's topics (custprofile.topics) a text is about. The
//! caller reads the topics and hands them in; this module reads no table.

use crate::errors::Result;
use crate::heads::zero_shot::{self, Label, LabelVectors};
use crate::numeric::argmax;
use crate::text::aspects;

/// A text that names none of the topics' terms counts towards its most similar topic only when
/// the zero-shot probability is at least this (similarity alone is a weak signal on reviews).
const TOPIC_MIN_PROBABILITY: f32 = 0.85;

/// The topics profiles are sorted into: their labels, the terms that name each, and the labels'
/// zero-shot vectors.
pub struct Topics {
    labels: Vec<Label>,
    terms: Vec<Vec<String>>,
    vectors: Option<LabelVectors>,
}

impl Topics {
    pub fn new(labels: Vec<Label>) -> Result<Topics> {
        let terms = labels
            .iter()
            .map(|l| aspects::terms(&l.name, l.description.as_deref()))
            .collect();
        let vectors = if labels.is_empty() {
            None
        } else {
            Some(zero_shot::label_vectors(&labels)?)
        };
        Ok(Topics {
            labels,
            terms,
            vectors,
        })
    }

    /// The topics a text is about: every one whose terms it names, most named first (a review
    /// often raises two things: "fast delivery, but the price went up"); for a text that names
    /// none, the most similar one when the similarity is clear; else none.
    pub fn of(&self, text: &str, embedding: &[f32]) -> Vec<&str> {
        let Some(vectors) = self.vectors.as_ref() else {
            return Vec::new();
        };
        let words = aspects::Words::of(text);
        let mut named: Vec<(usize, usize)> = self
            .terms
            .iter()
            .map(|terms| words.mentions(terms))
            .enumerate()
            .filter(|&(_, c)| c > 0)
            .collect();
        if !named.is_empty() {
            named.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            return named
                .into_iter()
                .map(|(i, _)| self.labels[i].name.as_str())
                .collect();
        }
        let p = vectors.probabilities(embedding);
        let best = argmax(&p);
        match p.get(best) {
            Some(&x) if x >= TOPIC_MIN_PROBABILITY => vec![self.labels[best].name.as_str()],
            _ => Vec::new(),
        }
    }
}
