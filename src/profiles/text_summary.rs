//! What a customer's texts say, as a mergeable summary: counts, sentiment statistics, a linear
//! trend of sentiment over time, what the texts do (intent), ratings against text sentiment, the
//! topics with their questions and complaints, and the sum of embeddings.
//! Every field is a count, a sum, a minimum or a maximum, so partial summaries built by parallel
//! workers or per partition merge into the same result as one serial pass. `to_json` writes the
//! texts section of the profile document, whose fields sql/profile_document.sql lists.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::heads::intent::{self, COMPLAINT, QUESTION};
use crate::heads::sentiment::{NEGATIVE, NEUTRAL, POSITIVE};
use crate::profiles::trend::{Sums, Trend};

/// Topics listed per profile, most texts first.
const TOP_TOPICS: usize = 3;
const MICROS_PER_DAY: f64 = 86_400e6;

/// One scored text, as the summary takes it.
pub struct Scored<'a> {
    /// sentiment score in [-1, 1]
    pub score: f32,
    /// index into heads::sentiment::LABELS
    pub label: usize,
    /// index into heads::intent::LABELS; None where the encoder has no intent head
    pub intent: Option<usize>,
    /// the text's sentence embedding (unit length)
    pub embedding: &'a [f32],
    /// the customer's rating of the same item, on a 1 to 5 scale
    pub rating: Option<f32>,
    /// when it was written: PostgreSQL timestamptz microseconds, finite
    pub written_at: Option<i64>,
    /// the topics it is about (none, one or several)
    pub topics: &'a [&'a str],
    /// its language (ISO 639-1), None when too short to tell
    pub language: Option<&'a str>,
}

/// Texts about one topic, the sum of their sentiment, and how many of them ask a question or
/// make a complaint (a state serialised by an older library has no intents).
#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct TopicStats {
    texts: u64,
    score_sum: f64,
    #[serde(default)]
    questions: u64,
    #[serde(default)]
    complaints: u64,
}

impl TopicStats {
    /// Asked about or complained about: something the customer needs.
    fn is_need(&self) -> bool {
        self.questions + self.complaints > 0
    }
}

#[derive(Serialize, Deserialize, Default, Clone, Debug, PartialEq)]
pub struct TextSummary {
    pub texts: u64,
    pub null_texts: u64,
    pub blank_texts: u64,
    score_sum: f64,
    score_min: f64,
    score_max: f64,
    labels: [u64; 3],
    // texts per intent (heads::intent::LABELS), of those scored with an intent head
    #[serde(default)]
    intents: [u64; 4],
    // least squares of score on time (days), over timed texts
    timed: u64,
    t_sum: f64,
    t2_sum: f64,
    s_sum: f64,
    ts_sum: f64,
    // for the trend's residual spread; a state serialised by an older library has none
    #[serde(default)]
    s2_sum: f64,
    first_seen: Option<i64>,
    last_seen: Option<i64>,
    // ratings, and how far they disagree with the text's sentiment
    rated: u64,
    rating_sum: f64,
    disagreement_sum: f64,
    conflicts: u64,
    embedding_sum: Vec<f64>,
    topics: BTreeMap<String, TopicStats>,
    // texts per language; a state serialised by an older library has none
    #[serde(default)]
    languages: BTreeMap<String, u64>,
}

/// A 1 to 5 rating on the sentiment scale [-1, 1].
pub fn rating_as_score(rating: f32) -> f64 {
    ((rating as f64 - 3.0) / 2.0).clamp(-1.0, 1.0)
}

impl TextSummary {
    pub fn add(&mut self, t: &Scored) {
        let s = t.score as f64;
        if self.texts == 0 {
            self.score_min = s;
            self.score_max = s;
        } else {
            self.score_min = self.score_min.min(s);
            self.score_max = self.score_max.max(s);
        }
        self.texts += 1;
        self.score_sum += s;
        self.labels[t.label] += 1;
        if let Some(i) = t.intent {
            self.intents[i] += 1;
        }
        if let Some(at) = t.written_at {
            let d = at as f64 / MICROS_PER_DAY;
            self.timed += 1;
            self.t_sum += d;
            self.t2_sum += d * d;
            self.s_sum += s;
            self.ts_sum += d * s;
            self.s2_sum += s * s;
            self.first_seen = Some(self.first_seen.map_or(at, |f| f.min(at)));
            self.last_seen = Some(self.last_seen.map_or(at, |l| l.max(at)));
        }
        if let Some(r) = t.rating {
            let r_score = rating_as_score(r);
            self.rated += 1;
            self.rating_sum += r as f64;
            self.disagreement_sum += (r_score - s).abs();
            // a clear rating one way and a clear text the other way
            if (r_score >= 0.5 && t.label == 0) || (r_score <= -0.5 && t.label == 2) {
                self.conflicts += 1;
            }
        }
        for topic in t.topics {
            let e = self.topics.entry(topic.to_string()).or_default();
            e.texts += 1;
            e.score_sum += s;
            e.questions += (t.intent == Some(QUESTION)) as u64;
            e.complaints += (t.intent == Some(COMPLAINT)) as u64;
        }
        if let Some(language) = t.language {
            *self.languages.entry(language.to_string()).or_default() += 1;
        }
        if self.embedding_sum.is_empty() {
            self.embedding_sum = vec![0.0; t.embedding.len()];
        }
        for (a, x) in self.embedding_sum.iter_mut().zip(t.embedding) {
            *a += *x as f64;
        }
    }

    pub fn merge(&mut self, o: &TextSummary) {
        if o.texts > 0 {
            if self.texts == 0 {
                self.score_min = o.score_min;
                self.score_max = o.score_max;
            } else {
                self.score_min = self.score_min.min(o.score_min);
                self.score_max = self.score_max.max(o.score_max);
            }
        }
        self.texts += o.texts;
        self.null_texts += o.null_texts;
        self.blank_texts += o.blank_texts;
        self.score_sum += o.score_sum;
        for i in 0..3 {
            self.labels[i] += o.labels[i];
        }
        for i in 0..4 {
            self.intents[i] += o.intents[i];
        }
        self.timed += o.timed;
        self.t_sum += o.t_sum;
        self.t2_sum += o.t2_sum;
        self.s_sum += o.s_sum;
        self.ts_sum += o.ts_sum;
        self.s2_sum += o.s2_sum;
        self.first_seen = combine_opt(self.first_seen, o.first_seen, i64::min);
        self.last_seen = combine_opt(self.last_seen, o.last_seen, i64::max);
        self.rated += o.rated;
        self.rating_sum += o.rating_sum;
        self.disagreement_sum += o.disagreement_sum;
        self.conflicts += o.conflicts;
        for (topic, stats) in &o.topics {
            let e = self.topics.entry(topic.clone()).or_default();
            e.texts += stats.texts;
            e.score_sum += stats.score_sum;
            e.questions += stats.questions;
            e.complaints += stats.complaints;
        }
        for (language, texts) in &o.languages {
            *self.languages.entry(language.clone()).or_default() += texts;
        }
        if self.embedding_sum.is_empty() {
            self.embedding_sum = o.embedding_sum.clone();
        } else if !o.embedding_sum.is_empty() {
            self.embedding_sum
                .iter_mut()
                .zip(&o.embedding_sum)
                .for_each(|(a, b)| *a += b);
        }
    }

    /// The sentiment trend over the dated texts (see profiles::trend), None when they are too
    /// few or too close in time.
    pub fn trend(&self) -> Option<Trend> {
        let span_days = match (self.first_seen, self.last_seen) {
            (Some(first), Some(last)) => (last - first) as f64 / MICROS_PER_DAY,
            _ => 0.0,
        };
        Trend::of(&Sums {
            n: self.timed,
            t: self.t_sum,
            t2: self.t2_sum,
            s: self.s_sum,
            s2: self.s2_sum,
            ts: self.ts_sum,
            span_days,
        })
    }

    /// The normalised mean embedding; None when there is none or it is zero.
    pub fn interest_vector(&self) -> Option<Vec<f32>> {
        if self.texts == 0 || self.embedding_sum.is_empty() {
            return None;
        }
        let norm = self.embedding_sum.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return None;
        }
        Some(
            self.embedding_sum
                .iter()
                .map(|x| (x / norm) as f32)
                .collect(),
        )
    }

    /// The JSON document of `profile_agg`; `format_time` renders a timestamptz.
    pub fn to_json(&self, model: Value, format_time: impl Fn(i64) -> String) -> Value {
        let n = self.texts as f64;
        let sentiment = (self.texts > 0).then(|| {
            let trend = self.trend().map(|t| t.to_json(round));
            json!({
                "mean": round(self.score_sum / n),
                "min": round(self.score_min),
                "max": round(self.score_max),
                "distribution": {
                    "negative": round(self.labels[NEGATIVE] as f64 / n),
                    "neutral": round(self.labels[NEUTRAL] as f64 / n),
                    "positive": round(self.labels[POSITIVE] as f64 / n),
                },
                "trend": trend,
            })
        });
        let rating = (self.rated > 0).then(|| {
            let r = self.rated as f64;
            json!({
                "count": self.rated,
                "mean": round(self.rating_sum / r),
                "disagreement": round(self.disagreement_sum / r),
                "conflicting_texts": self.conflicts,
            })
        });
        // most texts first, then by name, so that the order is the same however rows were split
        let mut topics: Vec<(&String, &TopicStats)> = self.topics.iter().collect();
        topics.sort_by(|a, b| b.1.texts.cmp(&a.1.texts).then(a.0.cmp(b.0)));
        // a topic asked or complained about is a need; only a complaint signals churn
        let needs: Vec<&String> = topics.iter().filter(|(_, t)| t.is_need()).map(|(name, _)| *name).collect();
        let complaints: Vec<&String> = topics.iter().filter(|(_, t)| t.complaints > 0).map(|(name, _)| *name).collect();
        let with_intent = self.intents.iter().sum::<u64>();
        let intent = (with_intent > 0).then(|| {
            let shares: serde_json::Map<String, Value> = intent::LABELS
                .iter()
                .zip(self.intents)
                .map(|(label, k)| (label.to_string(), json!(round(k as f64 / with_intent as f64))))
                .collect();
            Value::Object(shares)
        });
        let topic_list: Vec<Value> = topics
            .iter()
            .take(TOP_TOPICS)
            .map(|(name, t)| {
                json!({
                    "topic": name,
                    "texts": t.texts,
                    "share": round(t.texts as f64 / n.max(1.0)),
                    "sentiment": round(t.score_sum / t.texts as f64),
                })
            })
            .collect();
        // share of the scored texts per language (texts too short to tell count in the total, so
        // the shares may sum to less than 1)
        let languages: serde_json::Map<String, Value> = self
            .languages
            .iter()
            .map(|(code, &texts)| (code.clone(), json!(round(texts as f64 / n.max(1.0)))))
            .collect();
        let vector = self
            .interest_vector()
            .map(|v| Value::Array(v.iter().map(|&x| json!(round(x as f64))).collect()));
        json!({
            "texts": self.texts,
            "skipped": { "null": self.null_texts, "blank": self.blank_texts },
            "sentiment": sentiment,
            "rating": rating,
            "intent": intent,
            "topics": topic_list,
            "needs": needs,
            "complaints": complaints,
            "languages": languages,
            "interest_vector": vector,
            "first_seen": self.first_seen.map(&format_time),
            "last_seen": self.last_seen.map(&format_time),
            "model": model,
        })
    }
}

fn combine_opt(a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(f(a, b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// Six decimals: well inside the 1e-5 agreement between serial and parallel plans, and short.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod unit {
    use super::*;

    fn text(
        score: f32,
        label: usize,
        e: &[f32],
        rating: Option<f32>,
        day: Option<i64>,
    ) -> Scored<'_> {
        Scored {
            score,
            label,
            intent: None,
            embedding: e,
            rating,
            written_at: day.map(|d| d * 86_400_000_000),
            topics: &[],
            language: Some("en"),
        }
    }

    #[test]
    fn merging_halves_equals_one_pass() {
        let e = [[1.0, 0.0], [0.0, 1.0], [0.6, 0.8], [1.0, 0.0]];
        let rows = [
            text(0.9, 2, &e[0], Some(5.0), Some(10)),
            text(-0.8, 0, &e[1], Some(5.0), Some(40)),
            text(0.1, 1, &e[2], None, None),
            text(-0.2, 1, &e[3], Some(2.0), Some(70)),
        ];
        let mut all = TextSummary::default();
        rows.iter().for_each(|r| all.add(r));
        let (mut a, mut b) = (TextSummary::default(), TextSummary::default());
        rows[..1].iter().for_each(|r| a.add(r));
        rows[1..].iter().for_each(|r| b.add(r));
        let mut empty = TextSummary::default();
        empty.merge(&a);
        empty.merge(&b);
        let f = |t: i64| t.to_string();
        assert_eq!(all.to_json(json!("m"), f), empty.to_json(json!("m"), f));
        assert_eq!(all.conflicts, 1, "5 stars with a negative text");
        assert_eq!(all.first_seen, Some(10 * 86_400_000_000));
    }

    #[test]
    fn topics_rank_by_texts_and_questions_and_complaints_are_needs() {
        let e = [1.0f32];
        let mut s = TextSummary::default();
        // a question about returns scores negative but is not a complaint; praise of the price
        // is no need
        let rows: [(f32, usize, &[&str], Option<&str>); 6] = [
            (-0.9, COMPLAINT, &["delivery"], Some("zh")),
            (-0.7, COMPLAINT, &["delivery", "price"], Some("zh")),
            (0.8, intent::PRAISE, &["price"], Some("en")),
            (0.5, intent::OTHER, &["quality"], None),
            (0.1, intent::OTHER, &["quality"], Some("zh")),
            (-0.7, QUESTION, &["returns"], Some("en")),
        ];
        for (score, intent, topics, language) in rows {
            s.add(&Scored {
                topics,
                language,
                intent: Some(intent),
                ..text(score, 1, &e, None, None)
            });
        }
        let j = s.to_json(json!("m"), |t| t.to_string());
        assert_eq!(j["topics"][0]["topic"], "delivery");
        assert_eq!(
            j["topics"][1]["topic"], "price",
            "a text about two topics counts for both"
        );
        assert_eq!(j["topics"][0]["share"], 0.333333);
        assert_eq!(j["needs"], json!(["delivery", "price", "returns"]));
        assert_eq!(j["complaints"], json!(["delivery", "price"]), "the question about returns is no complaint");
        assert_eq!(j["intent"], json!({"question": 0.166667, "complaint": 0.333333, "praise": 0.166667, "other": 0.333333}));
        assert_eq!(j["languages"], json!({"zh": 0.5, "en": 0.333333}));
    }

    #[test]
    fn without_an_intent_head_there_are_no_needs() {
        let e = [1.0f32];
        let mut s = TextSummary::default();
        s.add(&Scored { topics: &["delivery"], ..text(-0.9, 0, &e, None, None) });
        let j = s.to_json(json!("m"), |t| t.to_string());
        assert_eq!((j["intent"].clone(), j["needs"].clone(), j["complaints"].clone()), (json!(null), json!([]), json!([])));
    }

    #[test]
    fn trend_comes_from_the_dated_texts_and_merges() {
        let e = [1.0f32];
        let rows: Vec<Scored> = (0..6).map(|m| text(-0.5 + 0.2 * m as f32, 1, &e, None, Some(m * 30))).collect();
        let mut all = TextSummary::default();
        rows.iter().for_each(|r| all.add(r));
        let t = all.trend().unwrap();
        assert!((t.raw - 0.2).abs() < 1e-6 && (t.span_days - 150.0).abs() < 1e-9, "{t:?}");
        let (mut a, mut b) = (TextSummary::default(), TextSummary::default());
        rows[..2].iter().for_each(|r| a.add(r));
        rows[2..].iter().for_each(|r| b.add(r));
        a.merge(&b);
        assert_eq!(a.trend(), Some(t));
        let mut same_time = TextSummary::default();
        for score in [0.5, -0.5, 0.1] {
            same_time.add(&text(score, 1, &e, None, Some(3)));
        }
        assert_eq!(same_time.trend(), None);
    }

    #[test]
    fn nothing_scored_has_no_sentiment_or_vector() {
        let s = TextSummary {
            null_texts: 2,
            ..Default::default()
        };
        let j = s.to_json(json!("m"), |t| t.to_string());
        assert_eq!(j["sentiment"], Value::Null);
        assert_eq!(j["interest_vector"], Value::Null);
        assert_eq!(j["skipped"]["null"], 2);
    }
}
