//! Segment names by contrast: a segment is named for what sets it apart from the whole base
//! (a category bought more, a topic written about more, more complaints or questions, sentiment
//! and spend above or below the rest), not for its own averages, which most segments of one shop share. Names within one
//! segmentation are unique: a name shared by two segments gets the next distinguishing trait,
//! and as a last resort the segment's number. Each name comes with the evidence behind it.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

/// A category or topic distinguishes a segment when it has at least this share of the
/// segment's orders or texts and this lift over the base.
const MIN_SHARE: f64 = 0.2;
const MIN_LIFT: f64 = 1.25;
/// Mean sentiment this far from the base's distinguishes a segment (scores in [-1, 1]).
const MIN_SENTIMENT_GAP: f64 = 0.2;
/// Mean monetary score (1 to 5) this far from the base's distinguishes a segment.
const MIN_SPEND_GAP: f64 = 0.75;
/// A share of complaints or questions among the segment's texts distinguishes it when it is at
/// least this and `MIN_LIFT` times the base's.
const MIN_INTENT_SHARE: f64 = 0.15;
/// A topic's sentiment in the segment at or beyond this is praise or complaint.
const TOPIC_TONE: f64 = 0.25;
/// Traits a name is made of at most, before the segment number decides.
const MAX_TRAITS: usize = 3;

#[derive(Deserialize, Default, Clone, Debug)]
pub struct TopicStats {
    pub texts: f64,
    /// mean sentiment of the segment's texts about the topic
    pub sentiment: f64,
}

/// What the segments view knows of one segment.
#[derive(Deserialize, Default, Clone, Debug)]
pub struct SegmentStats {
    pub segment: i32,
    pub customers: f64,
    pub mean_sentiment: Option<f64>,
    pub mean_monetary: Option<f64>,
    /// texts the sentiment mean is over
    #[serde(default)]
    pub texts: f64,
    #[serde(default)]
    pub categories: BTreeMap<String, f64>,
    #[serde(default)]
    pub topics: BTreeMap<String, TopicStats>,
    /// texts whose intent is question, and complaint (of `texts`)
    #[serde(default)]
    pub questions: f64,
    #[serde(default)]
    pub complaints: f64,
}

/// One trait that sets a segment apart, strongest first.
#[derive(Clone, Debug, PartialEq)]
enum Trait {
    Category { name: String, share: f64, base: f64 },
    Topic { name: String, share: f64, base: f64, sentiment: f64 },
    Sentiment { mean: f64, base: f64 },
    Spend { mean: f64, base: f64 },
    Complaints { share: f64, base: f64 },
    Questions { share: f64, base: f64 },
}

impl Trait {
    /// How strongly it sets the segment apart, on one scale: the gap in share, or the gap in
    /// sentiment or spend as a share of its range.
    fn strength(&self) -> f64 {
        match self {
            Trait::Category { share, base, .. }
            | Trait::Topic { share, base, .. }
            | Trait::Complaints { share, base }
            | Trait::Questions { share, base } => share - base,
            Trait::Sentiment { mean, base } => (mean - base).abs() / 2.0,
            Trait::Spend { mean, base } => (mean - base).abs() / 4.0,
        }
    }

    fn evidence(&self, label: &dyn Fn(&str) -> String) -> Value {
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        match self {
            Trait::Category { name, share, base } => json!({"trait": "category", "value": name,
                "segment_share": r(*share), "base_share": r(*base), "lift": r(share / base)}),
            Trait::Topic { name, share, base, sentiment } => json!({"trait": "topic", "value": label(name),
                "segment_share": r(*share), "base_share": r(*base), "lift": r(share / base), "sentiment": r(*sentiment)}),
            Trait::Sentiment { mean, base } => json!({"trait": "sentiment", "segment_mean": r(*mean), "base_mean": r(*base)}),
            Trait::Spend { mean, base } => json!({"trait": "spend", "segment_mean_monetary": r(*mean), "base_mean_monetary": r(*base)}),
            Trait::Complaints { share, base } => json!({"trait": "complaints", "segment_share": r(*share), "base_share": r(*base), "lift": r(share / base)}),
            Trait::Questions { share, base } => json!({"trait": "questions", "segment_share": r(*share), "base_share": r(*base), "lift": r(share / base)}),
        }
    }
}

fn shares(counts: &BTreeMap<String, f64>) -> BTreeMap<&str, f64> {
    let total: f64 = counts.values().sum();
    counts.iter().filter(|_| total > 0.0).map(|(k, v)| (k.as_str(), v / total)).collect()
}

/// The base: every segment together.
struct Base {
    categories: BTreeMap<String, f64>,
    topics: BTreeMap<String, f64>,
    sentiment: Option<f64>,
    monetary: Option<f64>,
    /// shares of questions and complaints among all texts
    questions: f64,
    complaints: f64,
}

impl Base {
    fn of(segments: &[SegmentStats]) -> Base {
        let mut categories = BTreeMap::new();
        let mut topics = BTreeMap::new();
        let (mut s_sum, mut s_n, mut m_sum, mut m_n) = (0.0, 0.0, 0.0, 0.0);
        let (mut texts, mut questions, mut complaints) = (0.0, 0.0, 0.0);
        for s in segments {
            for (c, n) in &s.categories {
                *categories.entry(c.clone()).or_insert(0.0) += n;
            }
            for (t, st) in &s.topics {
                *topics.entry(t.clone()).or_insert(0.0) += st.texts;
            }
            if let Some(m) = s.mean_sentiment {
                let w = s.texts.max(1.0);
                s_sum += m * w;
                s_n += w;
            }
            if let Some(m) = s.mean_monetary {
                m_sum += m * s.customers;
                m_n += s.customers;
            }
            texts += s.texts;
            questions += s.questions;
            complaints += s.complaints;
        }
        let share = |n: f64| if texts > 0.0 { n / texts } else { 0.0 };
        Base {
            categories,
            topics,
            sentiment: (s_n > 0.0).then(|| s_sum / s_n),
            monetary: (m_n > 0.0).then(|| m_sum / m_n),
            questions: share(questions),
            complaints: share(complaints),
        }
    }
}

fn traits_of(s: &SegmentStats, base: &Base) -> Vec<Trait> {
    let mut out = Vec::new();
    let base_categories = shares(&base.categories);
    if let Some((name, share, b)) = shares(&s.categories)
        .into_iter()
        .filter_map(|(c, share)| base_categories.get(c).map(|&b| (c, share, b)))
        .filter(|&(_, share, b)| share >= MIN_SHARE && share >= b * MIN_LIFT)
        .max_by(|a, b| (a.1 - a.2).total_cmp(&(b.1 - b.2)).then(b.0.cmp(a.0)))
    {
        out.push(Trait::Category { name: name.to_string(), share, base: b });
    }
    let base_topics = shares(&base.topics);
    let segment_topics: BTreeMap<String, f64> = s.topics.iter().map(|(k, v)| (k.clone(), v.texts)).collect();
    if let Some((name, share, b)) = shares(&segment_topics)
        .into_iter()
        .filter_map(|(t, share)| base_topics.get(t).map(|&b| (t, share, b)))
        .filter(|&(_, share, b)| share >= MIN_SHARE && share >= b * MIN_LIFT)
        .max_by(|a, b| (a.1 - a.2).total_cmp(&(b.1 - b.2)).then(b.0.cmp(a.0)))
    {
        let sentiment = s.topics.get(name).map_or(0.0, |t| t.sentiment);
        out.push(Trait::Topic { name: name.to_string(), share, base: b, sentiment });
    }
    if s.texts > 0.0 {
        for (n, b, make) in [
            (s.complaints, base.complaints, (|share, base| Trait::Complaints { share, base }) as fn(f64, f64) -> Trait),
            (s.questions, base.questions, |share, base| Trait::Questions { share, base }),
        ] {
            let share = n / s.texts;
            if share >= MIN_INTENT_SHARE && share >= b * MIN_LIFT {
                out.push(make(share, b));
            }
        }
    }
    if let (Some(mean), Some(b)) = (s.mean_sentiment, base.sentiment) {
        if (mean - b).abs() >= MIN_SENTIMENT_GAP {
            out.push(Trait::Sentiment { mean, base: b });
        }
    }
    if let (Some(mean), Some(b)) = (s.mean_monetary, base.monetary) {
        if (mean - b).abs() >= MIN_SPEND_GAP {
            out.push(Trait::Spend { mean, base: b });
        }
    }
    out.sort_by(|a, b| b.strength().total_cmp(&a.strength()));
    out
}

/// Words of a name in one language.
struct Words {
    chinese: bool,
}

impl Words {
    fn name(&self, s: &SegmentStats, traits: &[Trait], label: &dyn Fn(&str) -> String) -> String {
        let category = traits.iter().find_map(|t| match t {
            Trait::Category { name, .. } => Some(name.as_str()),
            _ => None,
        });
        let spend = traits.iter().find_map(|t| match t {
            Trait::Spend { mean, base } => Some(mean > base),
            _ => None,
        });
        let (zh, en) = (self.chinese, !self.chinese);
        let mut noun = String::new();
        if let Some(high) = spend {
            noun.push_str(match (high, zh) {
                (true, true) => "高消费的",
                (false, true) => "低消费的",
                (true, false) => "high-spending ",
                (false, false) => "low-spending ",
            });
        }
        noun.push_str(&match (category, s.categories.is_empty(), zh) {
            (Some(c), _, true) => format!("{c}买家"),
            (Some(c), _, false) => format!("{c} buyers"),
            (None, true, true) => "未下单的客户".to_string(),
            (None, true, false) => "customers without orders".to_string(),
            (None, false, true) => "客户".to_string(),
            (None, false, false) => "customers".to_string(),
        });
        let mut parts = vec![noun];
        for t in traits {
            match t {
                Trait::Topic { name, sentiment, .. } => {
                    let topic = label(name);
                    parts.push(match (zh, *sentiment) {
                        (true, x) if x <= -TOPIC_TONE => format!("不满{topic}"),
                        (true, x) if x >= TOPIC_TONE => format!("满意{topic}"),
                        (true, _) => format!("常谈{topic}"),
                        (false, x) if x <= -TOPIC_TONE => format!("unhappy with {topic}"),
                        (false, x) if x >= TOPIC_TONE => format!("happy with {topic}"),
                        (false, _) => format!("often writing about {topic}"),
                    });
                }
                Trait::Sentiment { mean, base } => parts.push(
                    match (zh, mean > base) {
                        (true, true) => "比多数客户满意",
                        (true, false) => "比多数客户不满",
                        (false, true) => "happier than most",
                        (false, false) => "less happy than most",
                    }
                    .to_string(),
                ),
                Trait::Complaints { .. } => parts.push(if zh { "投诉较多" } else { "complaining more than most" }.to_string()),
                Trait::Questions { .. } => parts.push(if zh { "提问较多" } else { "asking more questions than most" }.to_string()),
                Trait::Category { .. } | Trait::Spend { .. } => {}
            }
        }
        if s.mean_sentiment.is_none() {
            parts.push(if en { "no reviews" } else { "没有评论" }.to_string());
        }
        parts.join(if zh { "，" } else { ", " })
    }
}

/// Names and evidence for every segment of one segmentation: {"1": {"name": ..., "evidence":
/// [...]}, ...}. `label` gives a topic's name in the label language.
pub fn name_segments(segments: &[SegmentStats], chinese: bool, label: &dyn Fn(&str) -> String) -> Value {
    let base = Base::of(segments);
    let traits: Vec<Vec<Trait>> = segments.iter().map(|s| traits_of(s, &base)).collect();
    let words = Words { chinese };
    // each segment starts with its strongest trait (or two: a lone category says little); a
    // name shared by several gets one more trait each, until all differ or none has more
    let mut used: Vec<usize> = traits.iter().map(|t| t.len().min(2)).collect();
    let name_of = |i: usize, n: usize| words.name(&segments[i], &traits[i][..n], label);
    let mut names: Vec<String> = (0..segments.len()).map(|i| name_of(i, used[i])).collect();
    loop {
        let mut grew = false;
        for i in 0..segments.len() {
            let shared = (0..segments.len()).any(|j| j != i && names[j] == names[i]);
            if shared && used[i] < traits[i].len().min(MAX_TRAITS) {
                used[i] += 1;
                grew = true;
            }
        }
        names = (0..segments.len()).map(|i| name_of(i, used[i])).collect();
        if !grew {
            break;
        }
    }
    let mut out = serde_json::Map::new();
    for i in 0..segments.len() {
        let mut name = names[i].clone();
        if (0..segments.len()).any(|j| j != i && names[j] == names[i]) {
            name = if chinese { format!("{name}（第{}组）", segments[i].segment) } else { format!("{name} (segment {})", segments[i].segment) };
        }
        let evidence: Vec<Value> = traits[i][..used[i]].iter().map(|t| t.evidence(label)).collect();
        out.insert(segments[i].segment.to_string(), json!({"name": name, "evidence": evidence}));
    }
    Value::Object(out)
}

#[cfg(test)]
mod unit {
    use super::*;

    fn seg(n: i32, sentiment: f64, monetary: f64, categories: &[(&str, f64)], topics: &[(&str, f64, f64)]) -> SegmentStats {
        SegmentStats {
            segment: n,
            customers: 10.0,
            mean_sentiment: Some(sentiment),
            mean_monetary: Some(monetary),
            texts: topics.iter().map(|t| t.1).sum::<f64>().max(10.0),
            categories: categories.iter().map(|(c, v)| (c.to_string(), *v)).collect(),
            topics: topics.iter().map(|(t, n, s)| (t.to_string(), TopicStats { texts: *n, sentiment: *s })).collect(),
            questions: 0.0,
            complaints: 0.0,
        }
    }

    #[test]
    fn segments_that_complain_or_ask_more_say_so() {
        let base = seg(1, 0.3, 3.0, &[("echo", 10.0)], &[("sound", 10.0, 0.5)]);
        let complaining = SegmentStats { segment: 2, complaints: 6.0, ..base.clone() };
        let asking = SegmentStats { segment: 3, questions: 5.0, ..base.clone() };
        let named = name_segments(&[base, complaining, asking], false, &label);
        assert_eq!(named["1"]["name"], "customers");
        assert!(named["2"]["name"].as_str().unwrap().contains("complaining more than most"), "{named}");
        assert!(named["3"]["name"].as_str().unwrap().contains("asking more questions than most"), "{named}");
        assert_eq!(named["2"]["evidence"][0]["trait"], "complaints");
        assert_eq!(named["2"]["evidence"][0]["segment_share"], 0.6);
    }

    fn label(t: &str) -> String {
        t.to_string()
    }

    #[test]
    fn segments_alike_on_average_are_named_for_what_differs() {
        // the shop: every segment is mostly positive and unhappy with returns; what
        // differs is what they buy and what else they write about
        let segments = vec![
            seg(1, 0.4, 3.0, &[("echo", 40.0), ("kindle", 5.0)], &[("returns and refunds", 10.0, -0.6), ("sound", 20.0, 0.7)]),
            seg(2, 0.4, 3.0, &[("kindle", 40.0), ("echo", 5.0)], &[("returns and refunds", 10.0, -0.6), ("reading", 20.0, 0.6)]),
            seg(3, 0.4, 4.5, &[("echo", 20.0), ("kindle", 20.0)], &[("returns and refunds", 25.0, -0.7)]),
            seg(4, -0.3, 2.0, &[("echo", 20.0), ("kindle", 20.0)], &[("returns and refunds", 10.0, -0.6), ("delivery", 15.0, -0.7)]),
        ];
        let named = name_segments(&segments, false, &label);
        let names: Vec<&str> = (1..=4).map(|i| named[i.to_string()]["name"].as_str().unwrap()).collect();
        let mut distinct = names.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 4, "{names:?}");
        assert!(names[0].starts_with("echo buyers") && names[0].contains("sound"), "{names:?}");
        assert!(names[1].starts_with("kindle buyers") && names[1].contains("reading"), "{names:?}");
        assert!(names[2].contains("high-spending") && names[2].contains("returns and refunds"), "{names:?}");
        assert!(names[3].contains("less happy than most") || names[3].contains("unhappy with delivery"), "{names:?}");
        let evidence = named["1"]["evidence"].as_array().unwrap();
        let category = evidence.iter().find(|e| e["trait"] == "category").unwrap();
        assert_eq!(category["value"], "echo");
        assert!(category["lift"].as_f64().unwrap() > 1.25, "{evidence:?}");
    }

    #[test]
    fn identical_segments_still_get_distinct_names() {
        let s = seg(1, 0.1, 3.0, &[("books", 10.0)], &[("price", 5.0, 0.0)]);
        let segments = vec![s.clone(), SegmentStats { segment: 2, ..s.clone() }, SegmentStats { segment: 3, ..s }];
        let named = name_segments(&segments, true, &label);
        let names: Vec<&str> = (1..=3).map(|i| named[i.to_string()]["name"].as_str().unwrap()).collect();
        assert_eq!(names[0], "客户（第1组）");
        assert_ne!(names[1], names[2]);
        assert_eq!(named["1"]["evidence"], json!([]));
    }

    #[test]
    fn silent_and_orderless_segments_say_so() {
        let mut quiet = seg(1, 0.0, 1.0, &[], &[]);
        quiet.mean_sentiment = None;
        let busy = seg(2, 0.5, 4.0, &[("tents", 10.0)], &[("quality", 10.0, 0.8)]);
        let named = name_segments(&[quiet, busy], false, &label);
        assert_eq!(named["1"]["name"], "low-spending customers without orders, no reviews");
        // the only category and topic of the base set nothing apart
        assert_eq!(named["2"]["name"], "high-spending customers");
    }
}
