//! Text utilities that need no model.

use pgrx::prelude::*;

use crate::text::sentences;

/// The sentences of a text, in order, as the sentence-level scorers see them.
#[pg_extern(immutable, strict, parallel_safe)]
fn split_sentences(input: &str) -> SetOfIterator<'static, String> {
    SetOfIterator::new(sentences::split(input).into_iter().map(str::to_string).collect::<Vec<_>>())
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
