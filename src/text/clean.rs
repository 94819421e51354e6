//! `clean_text`: what scraped or pasted customer text needs before anyone reads or encodes it.
//! HTML markup goes (scripts and styles with their content), entities are decoded, URLs become
//! `[URL]`, runs of the same punctuation mark shrink (`!!!!` to `!`, `.....` to `...`), control
//! characters go, whitespace collapses, and the result is Unicode NFKC (full-width letters and
//! digits, ligatures and compatibility forms become their plain equivalents).

use once_cell::sync::Lazy;
use regex::Regex;
use unicode_normalization::UnicodeNormalization;

pub const URL: &str = "[URL]";

static SCRIPT_RE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?is)<(script|style)\b[^>]*>.*?</(script|style)\s*>").expect("valid"));
static COMMENT_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?s)<!--.*?-->").expect("valid"));
// a tag: < then a letter, / or ! (so "a < b" and "<3" stay)
static TAG_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"<[/!]?[A-Za-z][^<>]*>").expect("valid"));
static URL_RE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)\b(?:https?://|ftp://|www\.)[^\s<>]+[^\s<>.,;:!?)\]}'\x22]").expect("valid"));
static REPEAT_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"[!?,;:*~=_-]{2,}").expect("valid"));
static DOTS_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\.{4,}|…+").expect("valid"));
static SPACE_RE: Lazy<Regex> = Lazy::new(|| Regex::new(r"\s+").expect("valid"));

pub fn clean(text: &str) -> String {
    // NFKC first, so that full-width brackets and letters are seen by the patterns below
    let t: String = text.nfkc().collect();
    let t = SCRIPT_RE.replace_all(&t, " ");
    let t = COMMENT_RE.replace_all(&t, " ");
    let t = TAG_RE.replace_all(&t, " ");
    let t = html_escape::decode_html_entities(&t).into_owned();
    // entities can decode to compatibility characters (&nbsp;): normalise again
    let t: String = t.nfkc().collect();
    let t = URL_RE.replace_all(&t, URL);
    let t = DOTS_RE.replace_all(&t, "...");
    let t = tame_repeats(&t);
    let t: String = t.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    SPACE_RE.replace_all(&t, " ").trim().to_string()
}

/// "!!!" -> "!", "?!?!?!" -> "?!", "----" -> "-": a run of punctuation marks keeps each distinct
/// mark once, in order of first appearance.
fn tame_repeats(text: &str) -> String {
    REPEAT_RE
        .replace_all(text, |c: &regex::Captures| {
            let mut seen = String::new();
            for ch in c[0].chars() {
                if !seen.contains(ch) {
                    seen.push(ch);
                }
            }
            seen
        })
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans() {
        let cases = [
            ("<p>Great&nbsp;kettle!!!</p><br/>Love it", "Great kettle! Love it"),
            ("<script>alert(1)</script>Fine &amp; dandy", "Fine & dandy"),
            ("See https://shop.example.com/item?id=42, it's cheap", "See [URL], it's cheap"),
            ("Why?!?!?! Sooo bad.....", "Why?! Sooo bad..."),
            ("ＡＢＣ　１２３ ﬁne", "ABC 123 fine"),
            ("  tabs\tand\nnewlines  ", "tabs and newlines"),
            ("5 < 6 and 7 > 3, <3", "5 < 6 and 7 > 3, <3"),
            ("price: 1,299.00 - 20% off", "price: 1,299.00 - 20% off"),
        ];
        for (input, want) in cases {
            assert_eq!(clean(input), want, "{input}");
        }
    }
}
