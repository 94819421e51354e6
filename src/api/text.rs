//! Text utilities that need no model.

use pgrx::prelude::*;

use crate::text::{language, sentences, words};

fn languages() -> std::rc::Rc<language::Languages> {
    language::current(crate::settings::languages()).unwrap_or_else(|e| e.raise())
}

/// The ISO 639-1 code of the language a text is written in ("zh", "en", "ja"), or NULL when it
/// is too short to tell: fewer than three letters, or no letters at all (emoji, digits,
/// punctuation). One Chinese, Japanese or Korean character is enough. STABLE: the answer
/// depends on custprofile.languages.
#[pg_extern(stable, strict, parallel_safe)]
fn detect_language(input: &str) -> Option<&'static str> {
    language::detect(input, &languages())
}

/// detect_language with the detector's working: {"language", "script", "confidence" (0 to 1),
/// "reliable", "scores" (up to five candidate languages, best first)}. "language" is null when
/// the text is too short to tell.
#[pg_extern(stable, strict, parallel_safe)]
fn detect_language_scores(input: &str) -> pgrx::JsonB {
    let value = match language::detect_with_scores(input, &languages()) {
        Some(d) => {
            let scores: serde_json::Map<String, serde_json::Value> = d
                .scores
                .iter()
                .map(|&(lang, score)| (lang.to_string(), serde_json::json!(score)))
                .collect();
            serde_json::json!({
                "language": d.language, "script": d.script, "confidence": d.confidence,
                "reliable": d.reliable, "scores": scores,
            })
        }
        None => {
            serde_json::json!({"language": null, "script": null, "confidence": 0.0, "reliable": false, "scores": {}})
        }
    };
    pgrx::JsonB(value)
}

/// The words of a text in order, as keywords and aspects see them: Chinese segmented by jieba,
/// other scripts split at spaces and punctuation.
#[pg_extern(immutable, strict, parallel_safe)]
fn split_words(input: &str) -> SetOfIterator<'static, String> {
    SetOfIterator::new(
        words::split(input)
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    )
}

/// The sentences of a text, in order, as the sentence-level scorers see them.
#[pg_extern(immutable, strict, parallel_safe)]
fn split_sentences(input: &str) -> SetOfIterator<'static, String> {
    SetOfIterator::new(
        sentences::split(input)
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>(),
    )
}

/// HTML tags and entities removed, URLs replaced by `[URL]`, repeated punctuation tamed,
/// control characters dropped, whitespace collapsed, Unicode NFKC.
#[pg_extern(immutable, strict, parallel_safe)]
fn clean_text(input: &str) -> String {
    crate::text::clean::clean(input)
}

/// E-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs (mod 97), IP addresses
/// and national ID numbers (US SSN, Chinese resident ID with its check digit) replaced by
/// `[EMAIL]`, `[PHONE]`, `[CARD]`, `[IBAN]`, `[IP]`, `[NATIONAL_ID]`.
#[pg_extern(immutable, strict, parallel_safe)]
fn mask_pii(input: &str) -> String {
    crate::text::pii::mask(input)
}
