//! What customers talk about: zero-shot classification against the user's own labels, aspect
//! sentiment and keywords. Labels and aspects may carry a description after a colon
//! (`'delivery: shipping, courier, late'`).

use std::collections::BTreeMap;

use once_cell::sync::Lazy;
use pgrx::prelude::*;
use regex::Regex;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

use crate::errors::{Error, OrRaise};
use crate::functions::sentiment::{self, LABELS};
use crate::heads::{argmax, round4};
use crate::heads::zero_shot::{self, Label};
use crate::runtime;
use crate::text::{aspects, keywords as kw, pooling::cosine, sentences};

fn labels_of(labels: &Array<&str>, what: &str) -> Vec<Label> {
    let raw: Vec<Option<&str>> = labels.iter().collect();
    zero_shot::parse_labels(&raw, what).or_raise()
}

fn embedding(input: &str) -> Vec<f32> {
    runtime::with_encoder(|e| e.encode(&[input])).or_raise().pop().expect("one text in, one out").mean
}

fn label_probabilities(input: &str, labels: &[Label]) -> Vec<f32> {
    let vectors = zero_shot::label_vectors(labels).or_raise();
    zero_shot::probabilities(&zero_shot::scores(&embedding(input), &vectors))
}

/// The most likely of the labels (its name, without the description).
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn classify(input: &str, labels: Array<&str>) -> String {
    let labels = labels_of(&labels, "labels");
    let p = label_probabilities(input, &labels);
    let best = argmax(&p);
    labels[best].name.clone()
}

/// A probability per label (names without descriptions), summing to 1.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn classify_scores(input: &str, labels: Array<&str>) -> JsonB {
    let labels = labels_of(&labels, "labels");
    let p = label_probabilities(input, &labels);
    let map: Map<String, Value> =
        labels.iter().zip(p).map(|(l, p)| (l.name.clone(), json!(round4(p as f64)))).collect();
    JsonB(Value::Object(map))
}

static CONTRAST_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?i)\s*(?:;|,\s*(?:but|however|although|though|whereas|while|yet)\b,?|\s+but\b)\s*").expect("valid")
});

/// A sentence cut where its opinion may turn ("fair price, but the strap broke"), so that each
/// aspect gets the sentiment of its own clause.
fn clauses(sentence: &str) -> Vec<&str> {
    CONTRAST_RE.split(sentence).map(str::trim).filter(|c| c.chars().any(char::is_alphanumeric)).collect()
}

/// Cosine above which a sentence concerns an aspect it names no keyword of (when that aspect is
/// also the sentence's closest).
const ASPECT_SIMILARITY: f32 = 0.4;

/// Clauses of one text that aspect_sentiment scores: every clause is an encoder run (about 2 ms),
/// so a text of megabytes would take minutes; the first 128 clauses cover any review.
pub const MAX_ASPECT_CLAUSES: usize = 128;

/// For each aspect the text talks about, the sentiment of the sentences (clauses, cut at "but",
/// "however", ";" ...) that concern it:
/// `{"delivery": {"label": "negative", "score": -0.93, "sentences": 1}}`. Aspects the text does
/// not mention are absent.
#[pg_extern(stable, strict, parallel_safe, cost = 20000)]
fn aspect_sentiment(input: &str, aspects: Array<&str>) -> JsonB {
    let aspects = labels_of(&aspects, "aspects");
    let terms: Vec<Vec<String>> = aspects.iter().map(|a| aspects::terms(&a.name, a.description.as_deref())).collect();
    let sents: Vec<&str> = sentences::split(input).into_iter().flat_map(clauses).take(MAX_ASPECT_CLAUSES).collect();
    if sents.is_empty() {
        return JsonB(json!({}));
    }
    let scored = sentiment::analyse_and_embed(&sents).or_raise();
    let vectors = zero_shot::label_vectors(&aspects).or_raise();
    // aspect -> (score sum, probability sums, sentences)
    let mut acc: BTreeMap<usize, (f32, [f32; 3], u32)> = BTreeMap::new();
    for (sentence, (s, e)) in sents.iter().zip(&scored) {
        let words = aspects::Words::of(sentence);
        let similarity: Vec<f32> = match e {
            Some(e) => vectors.iter().map(|(v, _)| cosine(e, v)).collect(),
            None => vec![0.0; aspects.len()],
        };
        let closest = argmax(&similarity);
        for i in 0..aspects.len() {
            let concerned = words.mentions(&terms[i]) > 0 || (i == closest && similarity[i] >= ASPECT_SIMILARITY);
            if concerned {
                let a = acc.entry(i).or_insert((0.0, [0.0; 3], 0));
                a.0 += s.score();
                (0..3).for_each(|k| a.1[k] += s.probabilities[k]);
                a.2 += 1;
            }
        }
    }
    let out: Map<String, Value> = acc
        .into_iter()
        .map(|(i, (sum, p, n))| {
            let best = argmax(&p);
            let score = round4((sum / n as f32) as f64);
            (aspects[i].name.clone(), json!({ "label": LABELS[best], "score": score, "sentences": n }))
        })
        .collect();
    JsonB(Value::Object(out))
}

/// Up to k phrases (one to three words, lowercase) that best represent the text: candidates
/// without stop words, ranked by similarity to the whole text with diversity (maximal marginal
/// relevance). An empty array when the text has no candidate.
#[pg_extern(stable, strict, parallel_safe, cost = 20000)]
fn keywords(input: &str, k: default!(i32, 5)) -> Vec<String> {
    if !(1..=50).contains(&k) {
        Error::invalid_parameter(format!("k must be between 1 and 50, not {k}")).raise();
    }
    let candidates = kw::candidates(input);
    if candidates.is_empty() {
        return Vec::new();
    }
    let mut texts: Vec<&str> = vec![input];
    texts.extend(candidates.iter().map(String::as_str));
    let features = runtime::with_encoder(|e| e.encode(&texts)).or_raise();
    let vectors: Vec<Vec<f32>> = features[1..].iter().map(|f| f.mean.clone()).collect();
    kw::select(&features[0].mean, &vectors, k as usize).into_iter().map(|i| candidates[i].clone()).collect()
}

/// Up to k phrases that best represent a group of texts (a segment's reviews, say): candidates
/// from all of them, ranked by similarity to `centre` (the group's mean interest vector, for
/// example) or, when it is NULL, to the mean of the texts' embeddings, with diversity.
#[pg_extern(stable, parallel_safe, cost = 100000)]
fn group_keywords(
    texts: Option<Array<&str>>,
    k: default!(Option<i32>, 5),
    centre: default!(Option<Vec<Option<f32>>>, "NULL"),
) -> Option<Vec<String>> {
    // not STRICT, for the NULL centre: NULL texts give NULL, a NULL k is an error
    let texts = texts?;
    let k = k.unwrap_or_else(|| {
        Error::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, "k must not be NULL").hint("Pass a k between 1 and 50.").raise()
    });
    if !(1..=50).contains(&k) {
        Error::invalid_parameter(format!("k must be between 1 and 50, not {k}")).raise();
    }
    let present: Vec<&str> = texts.iter().flatten().filter(|t| !t.trim().is_empty()).collect();
    let candidates = kw::candidates(&present.join(".\n"));
    if candidates.is_empty() {
        return Some(Vec::new());
    }
    let centre: Option<Vec<f32>> = centre.and_then(|c| c.into_iter().collect()).filter(|c: &Vec<f32>| !c.is_empty());
    let mut inputs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let group_texts = if centre.is_none() { present.len() } else { 0 };
    inputs.extend(&present[..group_texts]);
    let features = runtime::with_encoder(|e| e.encode(&inputs)).or_raise();
    let document = centre.unwrap_or_else(|| {
        let mut mean = vec![0f32; features[0].mean.len()];
        for f in &features[candidates.len()..] {
            mean.iter_mut().zip(&f.mean).for_each(|(m, x)| *m += x);
        }
        mean
    });
    if document.len() != features[0].mean.len() {
        Error::invalid_parameter(format!("centre has {} values; the model's vectors have {}", document.len(), features[0].mean.len()))
            .raise();
    }
    let vectors: Vec<Vec<f32>> = features[..candidates.len()].iter().map(|f| f.mean.clone()).collect();
    Some(kw::select(&document, &vectors, k as usize).into_iter().map(|i| candidates[i].clone()).collect())
}
