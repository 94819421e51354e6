//! What customers talk about: zero-shot classification against the user's own labels, aspect
//! sentiment and keywords. Labels and aspects may carry a description after a colon
//! (`'delivery: shipping, courier, late'`).

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

use crate::api::threshold;
use crate::errors::{Error, OrRaise};
use crate::heads::sentiment::{self, LABELS};
use crate::heads::zero_shot::{self, Label};
use crate::numeric::{argmax, cosine, round4};
use crate::runtime;
use crate::text::{aspects, keywords as kw, sentences};

fn labels_of(labels: &Array<&str>, what: &str) -> Vec<Label> {
    let raw: Vec<Option<&str>> = labels.iter().collect();
    zero_shot::parse_labels(&raw, what).or_raise()
}

/// The most likely of the labels (its name, without the description).
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn classify(input: &str, labels: Array<&str>) -> String {
    let labels = labels_of(&labels, "labels");
    let p = zero_shot::classify(input, &labels).or_raise();
    let best = argmax(&p);
    labels[best].name.clone()
}

/// A probability per label (names without descriptions), summing to 1.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn classify_scores(input: &str, labels: Array<&str>) -> JsonB {
    let labels = labels_of(&labels, "labels");
    let p = zero_shot::classify(input, &labels).or_raise();
    let map: Map<String, Value> = labels
        .iter()
        .zip(p)
        .map(|(l, p)| (l.name.clone(), json!(round4(p as f64))))
        .collect();
    JsonB(Value::Object(map))
}

/// Every label that applies to the text, with the probability that it does
/// (`{"price": 0.65, "delivery": 0.32}`). Each label's probability comes from how far it stands
/// out from the other labels asked, calibrated on label sets of four and ten labels (the
/// encoder's multi-label calibration, src/runtime/manifest.rs). The default threshold 0.3 gives
/// the best F1 on the calibration's training pairs (scripts/calibrate-multilabel.sh).
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn classify_multi(input: &str, labels: Array<&str>, threshold: default!(f32, 0.3)) -> JsonB {
    let threshold = threshold::checked(threshold);
    let labels = labels_of(&labels, "labels");
    let p = zero_shot::classify_multi(input, &labels).or_raise();
    JsonB(Value::Object(threshold::reaching(labels.iter().map(|l| l.name.as_str()), &p, threshold)))
}

/// For each aspect the text talks about, the sentiment of the sentences (clauses, cut at "but",
/// "however", ";", "但是", "，" ...) that concern it:
/// `{"delivery": {"label": "negative", "score": -0.93, "sentences": 1}}`. Aspects the text does
/// not mention are absent.
#[pg_extern(stable, strict, parallel_safe, cost = 20000)]
fn aspect_sentiment(input: &str, aspects: Array<&str>) -> JsonB {
    let aspects = labels_of(&aspects, "aspects");
    let terms: Vec<Vec<String>> = aspects
        .iter()
        .map(|a| aspects::terms(&a.name, a.description.as_deref()))
        .collect();
    // clauses name the aspects; each is read together with its turn (the part of the sentence
    // before the opinion turns), which gives the short clauses of Chinese reviews their context
    let turns: Vec<&str> = sentences::split(input)
        .into_iter()
        .flat_map(sentences::turns)
        .collect();
    let clauses: Vec<(&str, usize)> = turns
        .iter()
        .enumerate()
        .flat_map(|(t, turn)| sentences::clauses(turn).into_iter().map(move |c| (c, t)))
        .take(aspects::MAX_CLAUSES)
        .collect();
    if clauses.is_empty() {
        return JsonB(json!({}));
    }
    let texts: Vec<&str> = clauses.iter().map(|&(c, _)| c).collect();
    let scored = sentiment::analyse_and_embed(&texts).or_raise();
    let multi: Vec<usize> = (0..turns.len())
        .filter(|&t| clauses.iter().filter(|c| c.1 == t).count() > 1)
        .collect();
    let multi_texts: Vec<&str> = multi.iter().map(|&t| turns[t]).collect();
    let turn_sentiment = sentiment::analyse(&multi_texts).or_raise();
    let vectors = zero_shot::label_vectors(&aspects).or_raise();
    let relatedness = runtime::current().or_raise().relatedness;
    let concerned: Vec<aspects::Clause> = clauses
        .iter()
        .zip(&scored)
        .map(|(&(clause, t), (s, e))| {
            let read = match multi.iter().position(|&m| m == t) {
                Some(k) => s.together_with(&turn_sentiment[k]),
                None => s.clone(),
            };
            aspects::Clause {
                text: clause,
                score: read.score(),
                probabilities: read.probabilities,
                similarity: match e {
                    Some(e) => vectors
                        .vectors
                        .iter()
                        .map(|(v, _)| relatedness.of(cosine(e, v)))
                        .collect(),
                    None => vec![0.0; aspects.len()],
                },
            }
        })
        .collect();
    let out: Map<String, Value> = aspects::tally(&concerned, &terms)
        .into_iter()
        .map(|(i, t)| {
            (aspects[i].name.clone(), json!({ "label": LABELS[t.label], "score": round4(t.score as f64), "sentences": t.clauses }))
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
    kw::of_text(input, k as usize, &runtime::embed).or_raise()
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
        Error::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            "k must not be NULL",
        )
        .hint("Pass a k between 1 and 50.")
        .raise()
    });
    if !(1..=50).contains(&k) {
        Error::invalid_parameter(format!("k must be between 1 and 50, not {k}")).raise();
    }
    let present: Vec<&str> = texts
        .iter()
        .flatten()
        .filter(|t| !t.trim().is_empty())
        .collect();
    let centre: Option<Vec<f32>> = centre
        .and_then(|c| c.into_iter().collect())
        .filter(|c: &Vec<f32>| !c.is_empty());
    Some(kw::of_group(&present, k as usize, centre, &runtime::embed).or_raise())
}
