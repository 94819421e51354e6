//! Text utilities that need no model.

use pgrx::prelude::*;

use crate::text::sentences;

/// The sentences of a text, in order, as the sentence-level scorers see them.
#[pg_extern(immutable, strict, parallel_safe)]
fn split_sentences(input: &str) -> SetOfIterator<'static, String> {
    SetOfIterator::new(sentences::split(input).into_iter().map(str::to_string).collect::<Vec<_>>())
}
