//! The rows of a training query (`train_classifier`): read through SPI and checked, put in a
//! canonical order, and encoded into the features the trainer takes.

use pgrx::prelude::*;
use pgrx::spi::SpiTupleTable;

use crate::errors::{Error, Result};
use crate::heads::token_store::{self, TokenStore};
use crate::heads::train::TrainOptions;
use crate::heads::Pooling;
use crate::runtime;
use crate::settings;

/// Rows are encoded this many at a time, so token ids never pile up for a whole table.
const ENCODE_CHUNK: usize = 1024;

pub enum Input {
    Text(String),
    Features(Vec<f32>),
}

pub struct Row {
    pub input: Input,
    /// The row's class, or under a text[] label column every label that applies (sorted, none
    /// or several).
    pub labels: Vec<String>,
    pub weight: f32,
}

/// The rows of a training query, and whether its label column was text[] (multi-label).
pub struct Rows {
    pub rows: Vec<Row>,
    pub multi_label: bool,
}

fn read_table(table: SpiTupleTable) -> Result<Rows> {
    let columns = table.columns().map_err(Error::spi)?;
    if !(2..=3).contains(&columns) {
        return Err(Error::invalid_parameter(format!(
            "the training query returns {columns} columns; it must return (text, label) or (text, label, weight)"
        )));
    }
    let first = table.column_type_oid(1).map_err(Error::spi)?;
    let is_text = matches!(
        first,
        PgOid::BuiltIn(PgBuiltInOids::TEXTOID | PgBuiltInOids::VARCHAROID)
    );
    let is_vector = matches!(first, PgOid::BuiltIn(PgBuiltInOids::FLOAT4ARRAYOID));
    if !is_text && !is_vector {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            "the first column of the training query must be text (or real[] features)",
        )
        .hint("Cast it, for example SELECT body::text, label::text FROM ..."));
    }
    let multi_label = matches!(
        table.column_type_oid(2).map_err(Error::spi)?,
        PgOid::BuiltIn(PgBuiltInOids::TEXTARRAYOID)
    );
    let null_label = |n: usize| {
        Error::new(
            PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
            format!("row {} of the training query has a NULL label", n + 1),
        )
        .hint("Filter such rows out with WHERE label IS NOT NULL (a text[] label may be empty, not NULL or hold NULLs).")
    };
    let mut rows = Vec::with_capacity(table.len());
    for (n, tuple) in table.enumerate() {
        let labels = if multi_label {
            let l: Option<Vec<Option<String>>> = tuple.get(2).map_err(|_| label_type_error())?;
            let l: Option<Vec<String>> = l.ok_or_else(|| null_label(n))?.into_iter().collect();
            // labels as written, as a single label column's are
            let mut l: Vec<String> = l.ok_or_else(|| null_label(n))?;
            l.sort();
            l.dedup();
            l
        } else {
            let label: Option<String> = tuple.get(2).map_err(|_| label_type_error())?;
            vec![label.ok_or_else(|| null_label(n))?]
        };
        let input = if is_text {
            let t: Option<String> = tuple.get(1).map_err(Error::spi)?;
            Input::Text(t.ok_or_else(|| null_input(n))?)
        } else {
            let v: Option<Vec<Option<f32>>> = tuple.get(1).map_err(Error::spi)?;
            let v: Option<Vec<f32>> = v.ok_or_else(|| null_input(n))?.into_iter().collect();
            let v = v.ok_or_else(|| null_input(n))?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(Error::invalid_parameter(format!("row {} of the training query has a feature that is NaN or infinite", n + 1))
                    .hint("Compute features with custprofile.text_features(text), or filter such rows out."));
            }
            Input::Features(v)
        };
        let weight = if columns == 3 {
            let w: Option<f32> = tuple
                .get(3)
                .map_err(|_| Error::invalid_parameter("the weight column must be real"))?;
            w.unwrap_or(1.0)
        } else {
            1.0
        };
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(Error::invalid_parameter(format!(
                "row {} has a weight that is negative or not finite",
                n + 1
            )));
        }
        rows.push(Row {
            input,
            labels,
            weight,
        });
    }
    Ok(Rows { rows, multi_label })
}

/// Runs the (non-empty) training query and reads its rows; a statement without a result set, a wrong column type or a NULL is an ERROR naming the row.
pub fn read(query: &str) -> Result<Rows> {
    let mut read = Spi::connect(|client| {
        let table = client.select(query, None, &[]).map_err(Error::spi)?;
        if table.columns().is_err() {
            // a utility statement (SET, CREATE ...) has no result rows at all
            return Err(Error::invalid_parameter("the training query returns no result set")
                .hint("Pass a query returning rows, for example 'SELECT body, label FROM public.reviews'."));
        }
        read_table(table)
    })?;
    if read.rows.is_empty() {
        return Err(Error::invalid_parameter(
            "the training query returned no rows",
        ));
    }
    // canonical order, so the result does not depend on the order the query happens to return
    read.rows.sort_by(|a, b| {
        a.labels
            .cmp(&b.labels)
            .then_with(|| input_key(&a.input).cmp(&input_key(&b.input)))
    });
    Ok(read)
}

fn input_key(i: &Input) -> Vec<u8> {
    match i {
        Input::Text(t) => t.as_bytes().to_vec(),
        Input::Features(v) => v.iter().flat_map(|f| f.to_bits().to_be_bytes()).collect(),
    }
}

fn label_type_error() -> Error {
    Error::new(
        PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
        "the label column of the training query must be text, or text[] for a multi-label classifier",
    )
    .hint("Cast it, for example label::text, or labels::text[].")
}

fn null_input(n: usize) -> Error {
    Error::new(
        PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        format!(
            "row {} of the training query has a NULL text or vector",
            n + 1
        ),
    )
    .hint("Filter such rows out in the training query.")
}

/// The training rows as the trainer takes them: every row's fixed features and, under attention
/// pooling, every text's token vectors.
pub struct Encoded {
    pub fixed: Vec<f32>,
    pub tokens: Option<TokenStore>,
}

/// Encodes the training texts in chunks. Training inputs are always those of the whole text,
/// whatever the scoring mode.
pub fn encode(rows: &[Row], opts: &TrainOptions, progress: &mut dyn FnMut(super::train::Step)) -> Result<Encoded> {
    let dims = runtime::current()?.dimensions;
    let dim = opts.pooling.fixed_dim(dims, opts.encoder_layers);
    let attention = opts.pooling == Pooling::Attention;
    if attention && rows.iter().any(|r| matches!(r.input, Input::Features(_))) {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            "attention pooling learns from the texts' tokens, so the training query must return text",
        )
        .hint("Return the texts instead of precomputed features, or use pooling \"mean_max_cls\"."));
    }
    let mut fixed = Vec::with_capacity(rows.len() * dim);
    let mut store = None;
    if attention {
        // the token vectors are kept for the whole run: refuse before encoding, not minutes in
        let limit = token_store::token_limit(dims, settings::maintenance_work_mem_bytes());
        let texts: Vec<&str> = rows
            .iter()
            .filter_map(|r| match &r.input {
                Input::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        let tokens = runtime::with_encoder(|e| e.total_tokens(&texts))?;
        if tokens > limit {
            return Err(token_store::too_many_tokens(tokens, limit));
        }
        store = Some(TokenStore::new(dims, limit));
    }
    for (n, chunk) in rows.chunks(ENCODE_CHUNK).enumerate() {
        if n > 0 {
            progress(super::train::Step::Encoded { done: n * ENCODE_CHUNK, total: rows.len() });
        }
        let texts: Vec<&str> = chunk
            .iter()
            .filter_map(|r| match &r.input {
                Input::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        let mut encoded = runtime::with_encoder(|e| {
            e.encode_with(&texts, |h| {
                let x = opts.pooling.fixed_features(&h, dims, opts.encoder_layers);
                // bfloat16 as each text leaves the encoder: a chunk is never held as f32 too
                (x, attention.then(|| token_store::bfloat16(h.tokens)))
            })
        })?
        .into_iter();
        for r in chunk {
            match &r.input {
                Input::Text(_) => {
                    let (x, tokens) = encoded.next().expect("one per text");
                    fixed.extend(x);
                    if let (Some(store), Some(tokens)) = (store.as_mut(), tokens) {
                        store.push(&tokens)?;
                    }
                }
                Input::Features(v) if v.len() == dim => fixed.extend_from_slice(v),
                Input::Features(v) => {
                    return Err(Error::new(
                        PgSqlErrorCode::ERRCODE_ARRAY_ELEMENT_ERROR,
                        format!(
                            "a feature vector has {} values; pooling \"{}\" over {} encoder layer(s) needs {dim}",
                            v.len(),
                            opts.pooling.name(),
                            opts.encoder_layers
                        ),
                    )
                    .hint("Compute features with custprofile.text_features(text, pooling, encoder_layers)."))
                }
            }
        }
    }
    Ok(Encoded {
        fixed,
        tokens: store,
    })
}
