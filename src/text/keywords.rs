//! Keyword candidates and their selection. Candidates are runs of one to three words inside a
//! clause (Chinese segmented into words by `words`) that contain no stop word (English, and the
//! stopwords-iso Chinese list) and are not numbers; the selection is maximal marginal
//! relevance: the next keyword is the candidate most similar to the whole text, less its
//! similarity to the keywords already chosen, so that the list is relevant and not repetitive.
//! `of_text` and `of_group` rank with the sentence vectors that `embed` gives (the encoder's,
//! handed in by the caller, so that this module stays below the runtime).

use once_cell::sync::Lazy;
use regex::Regex;
use std::collections::{HashMap, HashSet};

use crate::errors::{Error, Result};
use crate::numeric::cosine;
use crate::text::words;

/// Weight of relevance against diversity in the selection.
const RELEVANCE: f32 = 0.5;
/// Candidates considered per text (the most frequent, then the earliest).
pub const MAX_CANDIDATES: usize = 150;
const MAX_WORDS: usize = 3;

const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "don't",
    "down",
    "during",
    "each",
    "even",
    "ever",
    "every",
    "few",
    "for",
    "from",
    "further",
    "get",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "i'm",
    "i've",
    "if",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "itself",
    "just",
    "let",
    "like",
    "me",
    "more",
    "most",
    "much",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "out",
    "over",
    "own",
    "really",
    "same",
    "she",
    "should",
    "so",
    "some",
    "still",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "yet",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "didn't",
    "doesn't",
    "isn't",
    "wasn't",
    "won't",
    "can't",
    "couldn't",
    "wouldn't",
    "shouldn't",
    "aren't",
    "weren't",
    "haven't",
    "hasn't",
    "hadn't",
    "ll",
    "ve",
    "re",
    "s",
    "t",
    "d",
    "m",
    "since",
    "though",
    "although",
    "however",
    "well",
    "yes",
    "thing",
    "things",
    "way",
    "lot",
    "bit",
    "again",
    "always",
    "never",
    "many",
    "may",
    "might",
    "must",
    "put",
    "make",
    "made",
    "go",
    "went",
    "come",
    "came",
    "take",
    "took",
    "say",
    "said",
    "see",
    "seen",
    "know",
    "think",
    "two",
    "three",
    "first",
    "last",
    "back",
    "day",
    "days",
    "week",
    "weeks",
    "time",
    "times",
    "use",
    "used",
    "using",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "twenty",
    "hundred",
    "month",
    "months",
    "year",
    "years",
];

/// Chinese words the stopwords-iso list lacks that carry no topic of a review (degree, time,
/// filler, negation): "充电有点" should end at 充电. Single characters need no entry: a word of one
/// character never starts or continues a candidate.
const CHINESE_FILLERS: &[&str] = &[
    "有点", "有些", "已经", "非常", "比较", "真的", "特别", "一直", "感觉", "觉得", "东西", "这次",
    "那次", "下次", "还是", "就是", "一下", "一点", "很多", "好像", "可能", "其实", "反正", "总之",
    "然后", "而且", "所以", "这个", "那个", "两次", "一次", "超级", "没有", "不是",
];

static CLAUSE_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"[.!?;:,()\[\]\n\x22，。！？；：、（）“”「」『』【】《》…～]+").expect("valid")
});

static STOP_SET: Lazy<HashSet<&'static str>> = Lazy::new(|| {
    let chinese = stop_words::lookup("zh").unwrap_or_default();
    STOP_WORDS
        .iter()
        .chain(chinese)
        .chain(CHINESE_FILLERS)
        .copied()
        .collect()
});

fn is_stop(word: &str) -> bool {
    STOP_SET.contains(word)
}

/// Candidate phrases of a text, lowercase, deduplicated.
pub fn candidates(text: &str) -> Vec<String> {
    let mut count: HashMap<String, (usize, usize)> = HashMap::new(); // phrase -> (count, first position)
    let mut position = 0;
    for clause in CLAUSE_RE.split(text) {
        let words: Vec<String> = words::split(clause)
            .into_iter()
            .map(|w| w.to_lowercase().replace('’', "'"))
            .collect();
        for start in 0..words.len() {
            for n in 1..=MAX_WORDS.min(words.len() - start) {
                let w = &words[start + n - 1];
                if is_stop(w) || w.chars().all(|c| c.is_numeric()) || w.chars().count() < 2 {
                    break;
                }
                let phrase = words::join(&words[start..start + n]);
                position += 1;
                let e = count.entry(phrase).or_insert((0, position));
                e.0 += 1;
            }
        }
    }
    let mut list: Vec<(String, (usize, usize))> = count.into_iter().collect();
    list.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.1 .1.cmp(&b.1 .1)));
    list.truncate(MAX_CANDIDATES);
    list.into_iter().map(|(p, _)| p).collect()
}

/// Indices of up to `k` candidates chosen by maximal marginal relevance.
pub fn select(document: &[f32], candidates: &[Vec<f32>], k: usize) -> Vec<usize> {
    let relevance: Vec<f32> = candidates.iter().map(|c| cosine(document, c)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < k.min(candidates.len()) {
        let best = (0..candidates.len())
            .filter(|i| !chosen.contains(i))
            .map(|i| {
                let redundancy = chosen
                    .iter()
                    .map(|&j| cosine(&candidates[i], &candidates[j]))
                    .fold(0f32, f32::max);
                (i, RELEVANCE * relevance[i] - (1.0 - RELEVANCE) * redundancy)
            })
            .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
            .map(|(i, _)| i);
        match best {
            Some(i) => chosen.push(i),
            None => break,
        }
    }
    chosen
}

/// Sentence vectors of texts, one per text in order.
pub type Embed<'a> = &'a dyn Fn(&[&str]) -> Result<Vec<Vec<f32>>>;

/// Up to k keywords of one text, ranked against the text's own embedding.
pub fn of_text(input: &str, k: usize, embed: Embed) -> Result<Vec<String>> {
    let candidates = candidates(input);
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut texts: Vec<&str> = vec![input];
    texts.extend(candidates.iter().map(String::as_str));
    let mut vectors = embed(&texts)?;
    let document = vectors.remove(0);
    Ok(select(&document, &vectors, k)
        .into_iter()
        .map(|i| candidates[i].clone())
        .collect())
}

/// Up to k keywords of a group of (non-blank) texts, ranked against `centre` or, without one,
/// the mean of the texts' embeddings.
pub fn of_group(
    texts: &[&str],
    k: usize,
    centre: Option<Vec<f32>>,
    embed: Embed,
) -> Result<Vec<String>> {
    let candidates = candidates(&texts.join(".\n"));
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut inputs: Vec<&str> = candidates.iter().map(String::as_str).collect();
    let group_texts = if centre.is_none() { texts.len() } else { 0 };
    inputs.extend(&texts[..group_texts]);
    let mut vectors = embed(&inputs)?;
    let dims = vectors[0].len();
    let document = centre.unwrap_or_else(|| {
        let mut mean = vec![0f32; dims];
        for v in &vectors[candidates.len()..] {
            mean.iter_mut().zip(v).for_each(|(m, x)| *m += x);
        }
        mean
    });
    if document.len() != dims {
        return Err(Error::invalid_parameter(format!(
            "centre has {} values; the model's vectors have {dims}",
            document.len()
        )));
    }
    vectors.truncate(candidates.len());
    Ok(select(&document, &vectors, k)
        .into_iter()
        .map(|i| candidates[i].clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_skip_stop_words_numbers_and_clause_breaks() {
        let c = candidates(
            "The espresso machine broke after 2 weeks. Customer service, however, was great!",
        );
        assert!(c.contains(&"espresso machine".to_string()));
        assert!(c.contains(&"customer service".to_string()));
        assert!(!c
            .iter()
            .any(|p| p.contains("the") || p.contains('2') || p.contains("broke customer")));
        assert!(
            !c.contains(&"service however".to_string()),
            "commas end a clause"
        );
    }

    #[test]
    fn chinese_candidates_are_whole_words_without_stop_words() {
        let c = candidates("物流很快，质量也不错！就是价格有点贵。");
        assert!(
            c.contains(&"物流".to_string()) && c.contains(&"质量".to_string()),
            "{c:?}"
        );
        assert!(c.contains(&"价格".to_string()), "{c:?}");
        assert!(
            !c.iter()
                .any(|p| p == "也" || p == "就是" || p.contains("，")),
            "{c:?}"
        );
        assert!(
            !c.iter().any(|p| p.contains("快质")),
            "clauses end at full-width commas: {c:?}"
        );
    }

    #[test]
    fn selection_prefers_relevant_and_diverse() {
        let doc = [1.0, 0.0, 0.0];
        let cands = vec![
            vec![0.9, 0.1, 0.0],
            vec![0.89, 0.11, 0.0],
            vec![0.5, 0.0, 0.5],
            vec![0.0, 1.0, 0.0],
        ];
        assert_eq!(select(&doc, &cands, 2), vec![0, 2]);
    }
}
