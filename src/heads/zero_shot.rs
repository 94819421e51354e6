//! Zero-shot classification by similarity: each label becomes hypothesis sentences from the
//! encoder's templates ("This review is about delivery: shipping, late, courier."), the label's
//! vector is their normalised mean embedding, and a text's score for a label is the cosine between
//! the text's embedding and the label's, minus a share of the cosine between a label-free sentence
//! and the label (contextual calibration: it removes the pull some labels have on any text).
//! Softmax over the scores gives probabilities. Templates, calibration and temperature are the
//! encoder's (its manifest's "zero_shot"), tuned on training data only.
//!
//! Measured on the Amazon multi-domain dev reviews with the bare labels books, dvd, electronics,
//! kitchen (docs/understanding-text.md): all-MiniLM-L6-v2, cosine to the bare words 75.1%, its
//! template 84.0%, calibrated 86.3%.

use std::rc::Rc;

use crate::cache::{self, Kind};
use crate::errors::{Error, Result};
use crate::numeric::{centroid, cosine, softmax};
use crate::runtime::{
    self,
    manifest::{MultiLabel, ZeroShot},
};

pub const MAX_LABELS: usize = 100;

/// A label as given: `name` or `name: description`.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    pub name: String,
    pub description: Option<String>,
}

impl Label {
    pub fn parse(s: &str) -> Label {
        match s.split_once(':') {
            Some((name, desc)) if !desc.trim().is_empty() => Label {
                name: name.trim().to_string(),
                description: Some(desc.trim().to_string()),
            },
            _ => Label {
                name: s.trim().trim_end_matches(':').trim().to_string(),
                description: None,
            },
        }
    }

    /// The label as the templates put it: "name" or "name: description".
    fn phrase(&self) -> String {
        match &self.description {
            Some(d) => format!("{}: {d}", self.name),
            None => self.name.clone(),
        }
    }

    fn hypotheses(&self, zero_shot: &ZeroShot) -> Vec<String> {
        let phrase = self.phrase();
        zero_shot
            .templates
            .iter()
            .map(|t| t.replace("{label}", &phrase))
            .collect()
    }
}

/// Labels from a SQL array: at least one, at most MAX_LABELS, no NULL, blank or duplicate name.
pub fn parse_labels(labels: &[Option<&str>], what: &str) -> Result<Vec<Label>> {
    if labels.is_empty() {
        return Err(Error::invalid_parameter(format!("{what} must not be empty"))
            .hint("Pass at least one label, for example ARRAY['price', 'delivery: shipping, courier, late'].".to_string()));
    }
    if labels.len() > MAX_LABELS {
        return Err(Error::invalid_parameter(format!(
            "{what} has {} elements; at most {MAX_LABELS} are allowed",
            labels.len()
        )));
    }
    let mut out: Vec<Label> = Vec::with_capacity(labels.len());
    for (i, l) in labels.iter().enumerate() {
        let label = l
            .map(Label::parse)
            .filter(|l| !l.name.is_empty())
            .ok_or_else(|| {
                Error::invalid_parameter(format!("element {} of {what} is NULL or blank", i + 1))
            })?;
        if out.iter().any(|o| o.name == label.name) {
            return Err(Error::invalid_parameter(format!(
                "{what} names \"{}\" twice",
                label.name
            )));
        }
        out.push(label);
    }
    Ok(out)
}

/// The labels' vectors and calibration offsets, with the temperature of the encoder they were
/// made with.
pub struct LabelVectors {
    pub vectors: Vec<(Vec<f32>, f32)>,
    temperature: f32,
}

impl LabelVectors {
    /// Calibrated similarity of a text embedding to each label.
    pub fn scores(&self, text: &[f32]) -> Vec<f32> {
        self.vectors
            .iter()
            .map(|(v, offset)| cosine(text, v) - offset)
            .collect()
    }

    /// The probability of each label for a text embedding.
    pub fn probabilities(&self, text: &[f32]) -> Vec<f32> {
        let z: Vec<f32> = self
            .scores(text)
            .iter()
            .map(|s| s / self.temperature)
            .collect();
        softmax(&z)
    }
}

/// The vector of each label and its calibration offset, encoded once per backend and encoder
/// (cached by the label's phrase, under the encoder's identity).
pub fn label_vectors(labels: &[Label]) -> Result<LabelVectors> {
    let manifest = runtime::current()?;
    let config = &manifest.zero_shot;
    let version = manifest.identity();
    let phrases: Vec<String> = labels.iter().map(Label::phrase).collect();
    let mut found: Vec<Option<Rc<(Vec<f32>, f32)>>> = phrases
        .iter()
        .map(|p| cache::get(Kind::LabelVector, p, version))
        .collect();
    let missing: Vec<usize> = (0..labels.len()).filter(|&i| found[i].is_none()).collect();
    if !missing.is_empty() {
        let per_label = config.templates.len();
        let mut texts: Vec<String> = vec![config.null_text.clone()];
        texts.extend(missing.iter().flat_map(|&i| labels[i].hypotheses(config)));
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embedded = runtime::embed(&refs)?;
        let null = &embedded[0];
        for (k, &i) in missing.iter().enumerate() {
            // a label's vector is the unit mean of its hypotheses' (one template: its own)
            let vector = centroid(&embedded[1 + k * per_label..1 + (k + 1) * per_label]).expect("a label has hypotheses");
            let offset = config.calibration * cosine(null, &vector);
            let v = Rc::new((vector, offset));
            cache::put(
                Kind::LabelVector,
                &phrases[i],
                version,
                4 * v.0.len() + phrases[i].len() + 64,
                v.clone(),
            );
            found[i] = Some(v);
        }
    }
    let vectors = found
        .into_iter()
        .map(|v| v.expect("every label encoded").as_ref().clone())
        .collect();
    Ok(LabelVectors {
        vectors,
        temperature: config.temperature,
    })
}

/// The probability of each label for one text.
pub fn classify(text: &str, labels: &[Label]) -> Result<Vec<f32>> {
    let vectors = label_vectors(labels)?;
    let embedding = runtime::embed(&[text])?
        .pop()
        .expect("one text in, one out");
    Ok(vectors.probabilities(&embedding))
}

/// The probability that each label applies to one text: how far the label's similarity stands
/// out from the other labels' (the encoder manifest's `zero_shot.multi_label`, fitted on
/// training reviews by scripts/calibrate-multilabel.sh), so it takes at least two labels. The
/// best label's probability is never below sigmoid(bias).
pub fn classify_multi(text: &str, labels: &[Label]) -> Result<Vec<f32>> {
    if labels.len() < 2 {
        return Err(Error::invalid_parameter("classify_multi needs at least two labels")
            .hint("Each label is judged against the others asked; for one label use classify_scores with a second, contrasting label."));
    }
    let manifest = runtime::current()?;
    let Some(fit) = manifest.zero_shot.multi_label else {
        return Err(Error::new(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("encoder {} has no multi-label calibration", manifest.name),
        )
        .hint("SET custprofile.encoder = 'multilingual-e5-small', or fit one for this encoder with scripts/calibrate-multilabel.sh."));
    };
    let vectors = label_vectors(labels)?;
    let embedding = runtime::embed(&[text])?
        .pop()
        .expect("one text in, one out");
    Ok(multi_label_probabilities(&vectors.scores(&embedding), &fit))
}

fn multi_label_probabilities(scores: &[f32], fit: &MultiLabel) -> Vec<f32> {
    let mean = scores.iter().sum::<f32>() / scores.len() as f32;
    let best = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    scores
        .iter()
        .map(|s| {
            1.0 / (1.0
                + (-(fit.bias + fit.over_mean * (s - mean) + fit.below_best * (s - best))).exp())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_that_stands_out_applies() {
        // multilingual-e5-small's fit
        let fit = MultiLabel { bias: -0.474, over_mean: 69.399, below_best: 69.65 };
        let p = multi_label_probabilities(&[0.86, 0.85, 0.80, 0.80], &fit);
        assert!(p[0] > 0.5 && p[1] > 0.5, "two labels close together above the rest: both {p:?}");
        assert!(p[2] < 0.1 && p[3] < 0.1);
        // the best label never falls below sigmoid(bias): at 0.3 it always applies, at 0.4 a
        // text no label stands out in gets none
        let flat = multi_label_probabilities(&[0.8, 0.8, 0.8], &fit);
        assert!(flat.iter().all(|&x| (x - 0.3837).abs() < 1e-3), "{flat:?}");
    }

    #[test]
    fn labels_carry_optional_descriptions() {
        assert_eq!(
            Label::parse("books"),
            Label {
                name: "books".into(),
                description: None
            }
        );
        let l = Label::parse("delivery: shipping, late, courier");
        assert_eq!(l.name, "delivery");
        assert_eq!(
            l.hypotheses(&ZeroShot::default()),
            vec!["This review is about delivery: shipping, late, courier."]
        );
        let two = ZeroShot {
            templates: vec!["{label}".into(), "关于{label}".into()],
            ..ZeroShot::default()
        };
        assert_eq!(
            Label::parse("书籍").hypotheses(&two),
            vec!["书籍", "关于书籍"]
        );
        assert!(parse_labels(&[Some("a"), Some("a: x")], "labels").is_err());
        assert!(parse_labels(&[Some("a"), None], "labels").is_err());
        assert!(parse_labels(&[], "labels").is_err());
    }

    #[test]
    fn a_label_vector_is_the_unit_mean_of_its_hypotheses() {
        let v = centroid(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        assert!((v[0] - 0.70710677).abs() < 1e-6 && (v[1] - v[0]).abs() < 1e-7);
        assert_eq!(centroid(&[vec![0.6, 0.8]]), Some(vec![0.6, 0.8]));
    }
}
