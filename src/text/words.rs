//! The words of a text, in order, as keywords see them: runs of letters and digits (with inner
//! apostrophes, "don't") in scripts that space their words, and jieba's segmentation of the
//! runs that hold Chinese characters, which do not ("物流很快" is 物流 + 很快).

use jieba_rs::Jieba;
use once_cell::sync::Lazy;
use regex::Regex;

static WORD_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"[\p{L}\p{N}]+(?:['’][\p{L}]+)*").expect("valid"));

/// jieba's own dictionary (349,046 words, embedded in the library): parsed on the first Chinese
/// text of a backend, about 100 ms.
static JIEBA: Lazy<Jieba> = Lazy::new(Jieba::new);

/// A Han character (CJK unified ideographs and their extensions, compatibility ideographs).
pub fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

pub fn has_han(text: &str) -> bool {
    text.chars().any(is_han)
}

/// The words of a text, in order, as slices of it. Punctuation, spaces and emoji are no words.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for m in WORD_RE.find_iter(text) {
        let run = m.as_str();
        if has_han(run) {
            // HMM on: jieba also finds words its dictionary lacks (names, new product words)
            let tokens = JIEBA.cut(run, true);
            out.extend(tokens.into_iter().map(|t| &run[t.byte_start..t.byte_end]).filter(|w| w.chars().any(char::is_alphanumeric)));
        } else {
            out.push(run);
        }
    }
    out
}

/// Words joined into a phrase as the text writes them: Chinese words without a space between
/// them, other words with one.
pub fn join(words: &[impl AsRef<str>]) -> String {
    let mut phrase = String::new();
    for w in words {
        let w = w.as_ref();
        let glued = phrase.chars().last().is_some_and(is_han) && w.chars().next().is_some_and(is_han);
        if !phrase.is_empty() && !glued {
            phrase.push(' ');
        }
        phrase.push_str(w);
    }
    phrase
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_scripts_split_on_non_letters() {
        assert_eq!(split("Don't buy it: 2 stars!"), vec!["Don't", "buy", "it", "2", "stars"]);
        assert_eq!(split("Très bien, livré à temps"), vec!["Très", "bien", "livré", "à", "temps"]);
    }

    #[test]
    fn chinese_is_segmented_into_words() {
        assert_eq!(split("物流很快，质量不错"), vec!["物流", "很快", "质量", "不错"]);
        assert_eq!(split("iPhone15的电池续航很好 👍"), vec!["iPhone15", "的", "电池", "续航", "很", "好"]);
        assert_eq!(split("！？。👍"), Vec::<&str>::new());
    }

    #[test]
    fn phrases_join_as_written() {
        assert_eq!(join(&["物流", "速度"]), "物流速度");
        assert_eq!(join(&["iphone", "电池"]), "iphone 电池");
        assert_eq!(join(&["battery", "life"]), "battery life");
    }
}
