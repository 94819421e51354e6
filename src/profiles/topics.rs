//! The topic rule: which of the user's topics (custprofile.topics) a text is mainly about. The
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

    /// The topic a text is mainly about: the one whose terms it names most (the first of
    /// equals), else the most similar one when the similarity is clear, else none.
    pub fn of(&self, text: &str, embedding: &[f32]) -> Option<&str> {
        let vectors = self.vectors.as_ref()?;
        let words = aspects::Words::of(text);
        let counts: Vec<usize> = self
            .terms
            .iter()
            .map(|terms| words.mentions(terms))
            .collect();
        let best = argmax(&counts);
        if counts.get(best).is_some_and(|&c| c > 0) {
            return Some(self.labels[best].name.as_str());
        }
        let p = vectors.probabilities(embedding);
        let best = argmax(&p);
        (p.get(best).is_some_and(|&x| x >= TOPIC_MIN_PROBABILITY))
            .then(|| self.labels[best].name.as_str())
    }
}
