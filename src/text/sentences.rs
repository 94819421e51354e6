//! Sentences and clauses, for the scorers that look at a review sentence by sentence
//! (aspect sentiment, heads trained with scoring "sentences"): mean pooling over a long review
//! blurs its opinions. `clauses` cuts a sentence further where its opinion may turn.

use once_cell::sync::Lazy;
use regex::Regex;
use unicode_segmentation::UnicodeSegmentation;

/// A quotation longer than this is taken for a stray pair of quote marks, not one utterance.
const MAX_QUOTE_BYTES: usize = 1000;

/// Sentences by the Unicode sentence boundaries (UAX #29: `.`, `!`, `?`, `。`, `！`, `？` and
/// their runs, newlines; "3.50" and "e.g. this" stay whole), cut further after `；` and `…` as
/// Chinese and Japanese end clauses with them, and never inside a quotation. Pieces are
/// trimmed; pieces without a letter or digit are dropped; a text without a boundary is one
/// sentence.
pub fn split(text: &str) -> Vec<&str> {
    let quotes = quotations(text);
    let inside_quote = |at: usize| quotes.iter().any(|&(open, close)| open < at && at <= close);
    let mut boundaries: Vec<usize> = text
        .split_sentence_bound_indices()
        .map(|(i, _)| i)
        .skip(1)
        .collect();
    boundaries.extend(clause_ends(text));
    boundaries.sort_unstable();
    boundaries.dedup();
    let mut out = Vec::new();
    let mut start = 0;
    for at in boundaries.into_iter().filter(|&at| !inside_quote(at)) {
        push(&mut out, &text[start..at]);
        start = at;
    }
    push(&mut out, &text[start..]);
    out
}

/// Byte offsets just after `；` and after each run of `…`/`⋯` (the UAX #29 rules end no
/// sentence there).
fn clause_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let end = match c {
            '；' => i + c.len_utf8(),
            '…' | '⋯' => {
                let mut end = i + c.len_utf8();
                while let Some(&(j, n)) = chars.peek() {
                    if !matches!(n, '…' | '⋯') {
                        break;
                    }
                    end = j + n.len_utf8();
                    chars.next();
                }
                end
            }
            _ => continue,
        };
        // a closing quote or bracket right after stays with its clause
        let tail = text[end..]
            .chars()
            .take_while(|c| is_closing(*c))
            .map(char::len_utf8)
            .sum::<usize>();
        ends.push(end + tail);
    }
    ends
}

fn is_closing(c: char) -> bool {
    matches!(c, '”' | '’' | '」' | '』' | '）' | ')' | '"' | '\'' | '》')
}

/// Byte spans (opening offset, closing offset) of the quotations of a text: “…”, 「…」, 『…』
/// matched as pairs, straight double quotes taken two by two. An unmatched mark opens nothing.
fn quotations(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut open: Vec<(char, usize)> = Vec::new();
    let mut straight: Option<usize> = None;
    for (i, c) in text.char_indices() {
        match c {
            '“' | '「' | '『' => open.push((c, i)),
            '”' | '」' | '』' => {
                let opener = match c {
                    '”' => '“',
                    '」' => '「',
                    _ => '『',
                };
                if let Some(k) = open.iter().rposition(|&(o, _)| o == opener) {
                    spans.push((open[k].1, i));
                    open.truncate(k);
                }
            }
            '"' => match straight.take() {
                Some(o) => spans.push((o, i)),
                None => straight = Some(i),
            },
            _ => {}
        }
    }
    spans.retain(|&(o, c)| c - o <= MAX_QUOTE_BYTES);
    spans
}

fn push<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    let piece = piece.trim();
    if piece.chars().any(|c| c.is_alphanumeric()) {
        out.push(piece);
    }
}

static TURN_RE: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"(?i)\s*(?:[;；]|,\s*(?:but|however|although|though|whereas|while|yet)\b,?|\s+but\b|，\s*(?:但是|但|不过|可是|然而|只是|就是)|(?:但是|不过|可是|然而))\s*",
    )
    .expect("valid")
});

/// The parts of a sentence between turns of opinion ("fair price, but the strap broke"; "价格实惠，
/// 就是发货有点慢"), so that each aspect gets the sentiment of its own part.
pub fn turns(sentence: &str) -> Vec<&str> {
    TURN_RE
        .split(sentence)
        .map(str::trim)
        .filter(|c| c.chars().any(char::is_alphanumeric))
        .collect()
}

/// The clauses of one turn. Chinese reviews string their remarks together with full-width commas
/// ("物流很快，第二天就到了，质量也不错"): each clause names its own aspect, while the opinion is
/// read from the whole turn, as a short Chinese clause alone reads poorly ("质量没问题").
pub fn clauses(turn: &str) -> Vec<&str> {
    turn.split('，')
        .map(str::trim)
        .filter(|c| c.chars().any(char::is_alphanumeric))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{clauses, split, turns};

    #[test]
    fn turns_end_at_contrasts_and_clauses_at_chinese_commas() {
        assert_eq!(
            turns("Fair price, but the strap broke"),
            vec!["Fair price", "the strap broke"]
        );
        assert_eq!(
            turns("Fair price, quick delivery"),
            vec!["Fair price, quick delivery"]
        );
        assert_eq!(
            turns("物流很快，质量一般，但是价格偏贵"),
            vec!["物流很快，质量一般", "价格偏贵"]
        );
        assert_eq!(turns("包装不错不过发货太慢"), vec!["包装不错", "发货太慢"]);
        assert_eq!(
            turns("价格实惠，就是发货有点慢；客服不错"),
            vec!["价格实惠", "发货有点慢", "客服不错"]
        );
        assert_eq!(clauses("物流很快，质量一般"), vec!["物流很快", "质量一般"]);
        assert_eq!(clauses("价格、质量都不错"), vec!["价格、质量都不错"]);
        assert_eq!(
            clauses("Fair price, quick delivery"),
            vec!["Fair price, quick delivery"]
        );
    }

    #[test]
    fn splits_on_sentence_ends() {
        assert_eq!(
            split("Great kettle. Boils fast!  But the lid broke?! Sad\nWould not buy again"),
            vec![
                "Great kettle.",
                "Boils fast!",
                "But the lid broke?!",
                "Sad",
                "Would not buy again"
            ]
        );
    }

    #[test]
    fn keeps_decimals_and_abbreviations_without_space() {
        assert_eq!(
            split("It cost 3.50 dollars."),
            vec!["It cost 3.50 dollars."]
        );
        assert_eq!(
            split("Smaller, e.g. the lid. Fine."),
            vec!["Smaller, e.g. the lid.", "Fine."]
        );
        assert_eq!(split(""), Vec::<&str>::new());
        assert_eq!(split("..."), Vec::<&str>::new());
    }

    #[test]
    fn splits_chinese_and_japanese_without_spaces() {
        assert_eq!(
            split("物流很快。质量不错！价格3.5元，有点贵？再也不买了；差评……下次再说"),
            vec![
                "物流很快。",
                "质量不错！",
                "价格3.5元，有点贵？",
                "再也不买了；",
                "差评……",
                "下次再说"
            ]
        );
        assert_eq!(
            split("配送が遅い。でも品質は良い！"),
            vec!["配送が遅い。", "でも品質は良い！"]
        );
        assert_eq!(split("！？。…"), Vec::<&str>::new());
    }

    #[test]
    fn never_cuts_inside_a_quotation() {
        assert_eq!(
            split("He said \"it broke. Again.\" and left. Next one."),
            vec!["He said \"it broke. Again.\" and left.", "Next one."]
        );
        assert_eq!(
            split("客服说“明天发货。一定！”结果没发。"),
            vec!["客服说“明天发货。一定！”", "结果没发。"]
        );
        assert_eq!(
            split("A \"stray quote. Then more."),
            vec!["A \"stray quote.", "Then more."]
        );
    }
}
