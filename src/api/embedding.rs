//! Sentence embeddings and their comparison.

use pgrx::prelude::*;

use crate::errors::{Error, OrRaise};
use crate::runtime;
use crate::numeric;

/// The sentence embedding of the chosen encoder (custprofile.encoder): mean pooling over the attention
/// mask, L2-normalised, with the encoder's input prefix.
/// Texts beyond `custprofile.max_tokens` tokens are truncated, never rejected.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn embed_text(input: &str) -> Vec<f32> {
    runtime::embed(&[input]).or_raise().pop().expect("one text in, one out")
}

/// One embedding per array element, in input order (NULL elements give NULL rows), computed in
/// length-sorted batches of `custprofile.batch_size`.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn embed_texts(inputs: Array<&str>) -> SetOfIterator<'static, Option<Vec<f32>>> {
    let texts: Vec<Option<&str>> = inputs.iter().collect();
    let present: Vec<&str> = texts.iter().flatten().copied().collect();
    let mut it = runtime::embed(&present).or_raise().into_iter();
    let rows: Vec<Option<Vec<f32>>> = texts.iter().map(|t| t.map(|_| it.next().expect("one per text"))).collect();
    SetOfIterator::new(rows)
}

/// Separates the phrasings of one catalogue document: answers_sql (sql/catalogues.sql) joins an
/// answer's question and its alternate questions with it, and strips it from their text.
const PHRASING_SEPARATOR: char = '\u{1e}';

/// One embedding per catalogue document, in input order (NULL elements give NULL rows): the
/// centroid of its phrasings' embeddings (numeric::centroid), so that an article matches a message
/// close to any of the ways it is asked for; a document of one phrasing embeds as embed_texts
/// would embed it. All phrasings go through the encoder in one batched call.
#[pg_extern(schema = "custprofile_internal", stable, strict, parallel_safe, cost = 5000)]
fn embed_documents(documents: Array<&str>) -> SetOfIterator<'static, Option<Vec<f32>>> {
    let documents: Vec<Option<Vec<&str>>> = documents.iter().map(|d| d.map(phrasings)).collect();
    let all: Vec<&str> = documents.iter().flatten().flatten().copied().collect();
    let vectors = runtime::embed(&all).or_raise();
    assert_eq!(vectors.len(), all.len(), "one embedding per phrasing");
    let mut vectors = vectors.into_iter();
    let rows: Vec<Option<Vec<f32>>> = documents
        .iter()
        .map(|d| {
            let own: Vec<Vec<f32>> = vectors.by_ref().take(d.as_ref()?.len()).collect();
            numeric::centroid(&own)
        })
        .collect();
    SetOfIterator::new(rows)
}

/// The phrasings of a catalogue document: its non-empty pieces between separators, or the whole
/// document when there are none (an empty item text embeds as embed_text('') does), so every
/// document gets a vector and refresh_catalogues never stores NULL.
fn phrasings(document: &str) -> Vec<&str> {
    let pieces: Vec<&str> = document.split(PHRASING_SEPARATOR).filter(|p| !p.is_empty()).collect();
    if pieces.is_empty() { vec![document] } else { pieces }
}

/// Cosine similarity of two vectors of equal length. NULL when either vector is all zeros
/// (the angle is undefined).
#[pg_extern(immutable, strict, parallel_safe)]
fn cosine_similarity(a: Array<f32>, b: Array<f32>) -> Option<f32> {
    checked_cosine(a, b)
}

/// The cosine of two vectors of the current encoder on the one similarity scale that
/// recommend, suggest_replies and similar_customers rank and threshold by (the encoder
/// manifest's `relatedness`; all-MiniLM-L6-v2's cosine as it is). NULL when either vector is
/// all zeros.
#[pg_extern(stable, strict, parallel_safe)]
fn relatedness(a: Array<f32>, b: Array<f32>) -> Option<f32> {
    let cosine = checked_cosine(a, b)?;
    Some(runtime::current().or_raise().relatedness.of(cosine))
}

fn checked_cosine(a: Array<f32>, b: Array<f32>) -> Option<f32> {
    let a = dense(a, "a");
    let b = dense(b, "b");
    if a.len() != b.len() {
        Error::new(
            PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR,
            format!("vectors have different lengths: {} and {}", a.len(), b.len()),
        )
        .hint("Compare embeddings made by the same model.")
        .raise();
    }
    let zero = |v: &[f32]| v.iter().all(|&x| x == 0.0);
    if zero(&a) || zero(&b) {
        return None;
    }
    Some(numeric::cosine(&a, &b))
}

/// A vector argument as plain floats: one dimension, no NULL elements, not empty, finite.
pub fn dense(v: Array<f32>, name: &str) -> Vec<f32> {
    let values: Option<Vec<f32>> = v.iter().collect();
    // SAFETY: the pointer is the argument's detoasted array, valid for this call
    let ndim = unsafe { (*v.into_array_type()).ndim };
    if ndim > 1 {
        Error::new(PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR, format!("vector {name} has {ndim} dimensions; a vector has one"))
            .hint("Pass a one-dimensional real[] such as an embedding.")
            .raise();
    }
    let values = values.unwrap_or_else(|| {
        Error::invalid_parameter(format!("vector {name} contains NULL elements")).raise()
    });
    if values.is_empty() {
        Error::invalid_parameter(format!("vector {name} is empty")).raise();
    }
    if values.iter().any(|x| !x.is_finite()) {
        Error::invalid_parameter(format!("vector {name} contains NaN or infinity")).raise();
    }
    values
}

#[cfg(test)]
mod tests {
    use super::phrasings;

    #[test]
    fn a_document_splits_into_its_non_empty_phrasings() {
        assert_eq!(phrasings("When will I get my refund?"), vec!["When will I get my refund?"]);
        assert_eq!(phrasings("refund?\u{1e}\u{1e}money back?"), vec!["refund?", "money back?"]);
        assert_eq!(phrasings(""), vec![""]);
        assert_eq!(phrasings("\u{1e}"), vec!["\u{1e}"]);
    }
}
