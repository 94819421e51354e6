//! Whether a piece of text concerns an aspect or topic: a built-in lexicon for the common retail
//! aspects, the aspect's own name and the words of its description, matched as whole words
//! (phrases as substrings) in lowercase; and the rule that gives each aspect the sentiment of
//! the clauses that concern it.

use std::collections::BTreeMap;

use crate::numeric::argmax;
use crate::text::words;

/// Words that mark a sentence as concerning one of the common retail aspects, in English and
/// Chinese, whichever language the aspect is named in.
pub fn lexicon(name: &str) -> &'static [&'static str] {
    match name.to_lowercase().as_str() {
        "price" | "prices" | "pricing" | "cost" | "value" | "价格" | "价钱" | "性价比" => &[
            "price",
            "prices",
            "priced",
            "cost",
            "costs",
            "expensive",
            "cheap",
            "cheaper",
            "overpriced",
            "affordable",
            "value",
            "money",
            "worth",
            "bargain",
            "discount",
            "paid",
            "pay",
            "价格",
            "价钱",
            "价位",
            "性价比",
            "便宜",
            "太贵",
            "很贵",
            "偏贵",
            "有点贵",
            "不贵",
            "划算",
            "实惠",
            "涨价",
            "降价",
            "优惠",
            "打折",
            "折扣",
            "花钱",
        ],
        "delivery" | "shipping" | "物流" | "快递" | "发货" | "配送" => &[
            "delivery",
            "delivered",
            "deliver",
            "shipping",
            "shipped",
            "ship",
            "courier",
            "arrived",
            "arrive",
            "arrival",
            "package",
            "parcel",
            "late",
            "dispatch",
            "dispatched",
            "postage",
            "tracking",
            "shipment",
            "物流",
            "快递",
            "发货",
            "配送",
            "送货",
            "到货",
            "送达",
            "送到",
            "包裹",
            "运费",
            "派送",
            "快递员",
            "送餐",
            "骑手",
            "收到货",
        ],
        "quality" | "质量" | "品质" => &[
            "quality",
            "broke",
            "broken",
            "break",
            "breaks",
            "sturdy",
            "durable",
            "flimsy",
            "defective",
            "faulty",
            "solid",
            "cracked",
            "leaking",
            "leaks",
            "stopped working",
            "well made",
            "cheaply made",
            "fell apart",
            "质量",
            "品质",
            "做工",
            "材质",
            "用料",
            "坏了",
            "破损",
            "耐用",
            "结实",
            "次品",
            "瑕疵",
            "正品",
            "假货",
            "漏水",
            "掉色",
            "开线",
        ],
        "support" | "customer service" | "service" | "客服" | "服务" | "售后" => &[
            "support",
            "service",
            "staff",
            "helpful",
            "agent",
            "replied",
            "reply",
            "response",
            "answer",
            "answered",
            "emails",
            "email",
            "contact",
            "contacted",
            "rude",
            "friendly",
            "help",
            "客服",
            "服务",
            "售后",
            "态度",
            "回复",
            "商家",
            "店家",
            "卖家",
            "服务员",
            "不理人",
        ],
        "returns"
        | "refunds"
        | "returns and refunds"
        | "refund"
        | "return"
        | "退货"
        | "退款"
        | "退换货"
        | "退货退款" => &[
            "return",
            "returned",
            "returns",
            "returning",
            "refund",
            "refunds",
            "refunded",
            "exchange",
            "money back",
            "replacement",
            "退货",
            "退款",
            "换货",
            "退换",
            "退钱",
            "退回",
            "补发",
        ],
        "features" | "product features" | "功能" | "产品功能" => &[
            "feature",
            "features",
            "function",
            "functions",
            "battery",
            "screen",
            "size",
            "design",
            "settings",
            "sound",
            "easy to use",
            "app",
            "button",
            "buttons",
            "功能",
            "电池",
            "续航",
            "屏幕",
            "尺寸",
            "大小",
            "设计",
            "外观",
            "颜色",
            "音质",
            "操作",
            "好用",
            "款式",
            "充电",
        ],
        _ => &[],
    }
}

/// The terms of an aspect: its lexicon, its name and its description's comma-separated words.
pub fn terms(name: &str, description: Option<&str>) -> Vec<String> {
    let mut t: Vec<String> = lexicon(name).iter().map(|s| s.to_string()).collect();
    t.push(name.to_lowercase());
    if let Some(d) = description {
        t.extend(
            d.split(',')
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty()),
        );
    }
    t.sort();
    t.dedup();
    t
}

/// A text in lowercase with its words.
pub struct Words {
    lower: String,
    words: Vec<String>,
}

impl Words {
    pub fn of(text: &str) -> Words {
        let lower = text.to_lowercase();
        let words = lower
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        Words { lower, words }
    }

    /// How many of the terms the text contains: phrases and Chinese terms anywhere (Chinese
    /// has no spaces to mark a whole word), other terms as whole words.
    pub fn mentions(&self, terms: &[String]) -> usize {
        terms
            .iter()
            .filter(|t| {
                if t.contains(' ') || words::has_han(t) {
                    self.lower.contains(t.as_str())
                } else {
                    self.words.contains(t)
                }
            })
            .count()
    }
}

/// Clauses of one text that aspect_sentiment scores: every clause is an encoder run (about 2 ms),
/// so a text of megabytes would take minutes; the first 128 clauses cover any review.
pub const MAX_CLAUSES: usize = 128;

/// A clause concerns the aspect closest to it without naming it when their relatedness (cosine
/// on the common scale, src/runtime/manifest.rs) is at least this.
pub const MIN_RELATEDNESS: f32 = 0.4;

/// One scored clause: its sentiment (negative, neutral, positive) and its relatedness to each
/// aspect.
pub struct Clause<'a> {
    pub text: &'a str,
    pub score: f32,
    pub probabilities: [f32; 3],
    pub similarity: Vec<f32>,
}

/// The sentiment of the clauses that concern one aspect.
#[derive(Debug, PartialEq)]
pub struct AspectSentiment {
    /// Index of the most probable label (negative, neutral, positive) over the clauses.
    pub label: usize,
    /// Mean sentiment score of the clauses.
    pub score: f32,
    pub clauses: u32,
}

/// For each aspect (by index into `terms`) that some clause concerns, the sentiment of those
/// clauses. A clause concerns the aspects whose terms it names; a clause that names none
/// concerns the aspect it is closest to when their relatedness is at least MIN_RELATEDNESS.
pub fn tally(clauses: &[Clause], terms: &[Vec<String>]) -> BTreeMap<usize, AspectSentiment> {
    // aspect -> (score sum, probability sums, clauses)
    let mut acc: BTreeMap<usize, (f32, [f32; 3], u32)> = BTreeMap::new();
    for c in clauses {
        let words = Words::of(c.text);
        let named: Vec<bool> = terms.iter().map(|t| words.mentions(t) > 0).collect();
        // a named aspect outweighs a guessed one: "用了两天就坏了" names quality and sits close to
        // delivery ("two days"), so only a clause that names none falls back to the closest
        let closest = argmax(&c.similarity);
        let guessed = !named.contains(&true)
            && c.similarity
                .get(closest)
                .is_some_and(|&r| r >= MIN_RELATEDNESS);
        for i in 0..terms.len() {
            if named[i] || (guessed && i == closest) {
                let a = acc.entry(i).or_insert((0.0, [0.0; 3], 0));
                a.0 += c.score;
                (0..3).for_each(|k| a.1[k] += c.probabilities[k]);
                a.2 += 1;
            }
        }
    }
    acc.into_iter()
        .map(|(i, (sum, p, n))| {
            (
                i,
                AspectSentiment {
                    label: argmax(&p),
                    score: sum / n as f32,
                    clauses: n,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_whole_words_and_phrases() {
        let delivery = terms("delivery", None);
        assert_eq!(
            Words::of("It arrived late, the parcel was wet.").mentions(&delivery),
            3
        );
        assert_eq!(
            Words::of("Delightful").mentions(&delivery),
            0,
            "no prefix matches"
        );
        let own = terms("setup", Some("instructions, assembly manual"));
        assert_eq!(
            Words::of("The assembly manual was missing").mentions(&own),
            1
        );
        assert_eq!(
            Words::of("It stopped working").mentions(&terms("quality", None)),
            1
        );
        assert_eq!(
            Words::of("快递很慢，包裹还破了").mentions(&delivery),
            2,
            "Chinese terms inside a clause"
        );
        assert_eq!(
            terms("物流", None),
            delivery,
            "a Chinese name gets the same lexicon"
        );
        assert_eq!(
            Words::of("安装说明书看不懂").mentions(&terms("安装", Some("说明书, 安装步骤"))),
            2
        );
    }

    #[test]
    fn clauses_count_towards_the_aspects_they_concern() {
        let terms = vec![terms("delivery", None), terms("price", None)];
        let clause = |text, score: f32, similarity: Vec<f32>| Clause {
            text,
            score,
            probabilities: if score < 0.0 {
                [0.9, 0.05, 0.05]
            } else {
                [0.05, 0.05, 0.9]
            },
            similarity,
        };
        let clauses = [
            clause("the parcel arrived late", -0.8, vec![0.1, 0.1]),
            clause("fair price", 0.6, vec![0.1, 0.2]),
            clause("it came in two days", 0.4, vec![0.5, 0.1]),
            clause("nice colour", 0.9, vec![0.2, 0.3]),
            clause("the price was right", 0.8, vec![0.9, 0.3]),
        ];
        let t = tally(&clauses, &terms);
        assert_eq!(t.len(), 2);
        assert_eq!(t[&0].clauses, 2, "named, then closest above 0.4");
        assert!((t[&0].score - -0.2).abs() < 1e-6);
        assert_eq!(
            (t[&1].label, t[&1].clauses),
            (2, 2),
            "named, though closer to delivery"
        );
        assert!((t[&1].score - 0.7).abs() < 1e-6);
    }
}
