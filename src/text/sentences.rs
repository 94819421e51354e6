//! A small rule-based sentence splitter, for the scorers that look at a review sentence by sentence
//! (aspect sentiment, heads trained with scoring "sentences"): mean pooling over a long review
//! blurs its opinions. `clauses` cuts a sentence further where its opinion may turn.

use once_cell::sync::Lazy;
use regex::Regex;

/// Splits on `.`, `!`, `?` and newlines followed by whitespace, keeping the punctuation.
/// Pieces without a letter or digit are dropped; a text without a boundary is one sentence.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let boundary = match c {
            '\n' => true,
            '.' | '!' | '?' | '。' | '！' | '？' => {
                // swallow runs such as "?!" or "..." and split only before whitespace or the end
                while let Some(&(_, n)) = chars.peek() {
                    if matches!(n, '.' | '!' | '?' | '"' | '\'' | ')') {
                        chars.next();
                    } else {
                        break;
                    }
                }
                chars.peek().map(|&(_, n)| n.is_whitespace()).unwrap_or(true)
            }
            _ => false,
        };
        if boundary {
            let end = chars.peek().map(|&(j, _)| j).unwrap_or(text.len());
            push(&mut out, &text[start..end]);
            start = end;
        } else if i + c.len_utf8() == text.len() {
            push(&mut out, &text[start..]);
            start = text.len();
        }
    }
    if start < text.len() {
        push(&mut out, &text[start..]);
    }
    out
}

fn push<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    let piece = piece.trim();
    if piece.chars().any(|c| c.is_alphanumeric()) {
        out.push(piece);
    }
}

static CONTRAST_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?i)\s*(?:;|,\s*(?:but|however|although|though|whereas|while|yet)\b,?|\s+but\b)\s*").expect("valid")
});

/// A sentence cut where its opinion may turn ("fair price, but the strap broke"), so that each
/// aspect gets the sentiment of its own clause.
pub fn clauses(sentence: &str) -> Vec<&str> {
    CONTRAST_RE.split(sentence).map(str::trim).filter(|c| c.chars().any(char::is_alphanumeric)).collect()
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn splits_on_sentence_ends() {
        assert_eq!(
            split("Great kettle. Boils fast!  But the lid broke?! Sad\nWould not buy again"),
            vec!["Great kettle.", "Boils fast!", "But the lid broke?!", "Sad", "Would not buy again"]
        );
    }

    #[test]
    fn keeps_decimals_and_abbreviations_without_space() {
        assert_eq!(split("It cost 3.50 dollars."), vec!["It cost 3.50 dollars."]);
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split("..."), Vec::<&str>::new());
    }
}
