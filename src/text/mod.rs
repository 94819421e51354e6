//! Rules over text: cleaning, PII masking, language, sentences and clauses, words (Chinese
//! segmented), aspect and topic terms and the aspect rule, keyword candidates (ranked with the
//! encoder's vectors by `keywords::of_text`), pooling of token vectors, and the character bound
//! applied before tokenisation.

pub mod aspects;
pub mod clean;
pub mod keywords;
pub mod language;
pub mod pii;
pub mod pooling;
pub mod sentences;
pub mod words;

/// Characters of a text that can matter for `max_tokens` tokens. A WordPiece token covers at most
/// one word of 100 characters, so this prefix yields the same first tokens as the whole text for
/// anything but pathological input, and a 10 MB text is never tokenised in full.
pub fn token_prefix(text: &str, max_tokens: usize) -> &str {
    let limit = max_tokens.saturating_mul(128);
    match text.char_indices().nth(limit) {
        Some((byte, _)) => &text[..byte],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_prefix_cuts_long_text_on_a_char_boundary() {
        let long = "é".repeat(100_000);
        let p = token_prefix(&long, 8);
        assert_eq!(p.chars().count(), 8 * 128);
        assert_eq!(token_prefix("short", 8), "short");
    }
}
