//! Classifiers trained in SQL: `train_classifier` reads (text, label) rows from any query,
//! trains a head over the encoder's features and stores it in `custprofile.classifiers`;
//! `predict` and `predict_scores` apply it. The built-in sentiment head is made the same way.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Instant;

use pgrx::prelude::*;
use pgrx::spi::SpiTupleTable;
use pgrx::JsonB;
use serde_json::{json, Map, Value};

use crate::errors::{Error, OrRaise, Result};
use crate::functions::json_arg::JsonArg;
use crate::heads::token_store::{self, TokenStore};
use crate::heads::train::{self, Dataset, TrainOptions};
use crate::heads::{argmax, max_encoder_layers, round4, Head, Pooling};
use crate::runtime::{self, DEFAULT_ENCODER};

/// Rows are encoded this many at a time, so token ids never pile up for a whole table.
const ENCODE_CHUNK: usize = 1024;

enum Input {
    Text(String),
    Features(Vec<f32>),
}

struct Row {
    input: Input,
    label: String,
    weight: f32,
}

fn read_rows(table: SpiTupleTable) -> Result<Vec<Row>> {
    let columns = table.columns().map_err(spi_error)?;
    if !(2..=3).contains(&columns) {
        return Err(Error::invalid_parameter(format!(
            "the training query returns {columns} columns; it must return (text, label) or (text, label, weight)"
        )));
    }
    let first = table.column_type_oid(1).map_err(spi_error)?;
    let is_text = matches!(first, PgOid::BuiltIn(PgBuiltInOids::TEXTOID | PgBuiltInOids::VARCHAROID));
    let is_vector = matches!(first, PgOid::BuiltIn(PgBuiltInOids::FLOAT4ARRAYOID));
    if !is_text && !is_vector {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH,
            "the first column of the training query must be text (or real[] features)",
        )
        .hint("Cast it, for example SELECT body::text, label::text FROM ..."));
    }
    let mut rows = Vec::with_capacity(table.len());
    for (n, tuple) in table.enumerate() {
        let label: Option<String> = tuple.get(2).map_err(|_| label_type_error())?;
        let label = label.ok_or_else(|| {
            Error::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("row {} of the training query has a NULL label", n + 1))
                .hint("Filter such rows out with WHERE label IS NOT NULL.")
        })?;
        let input = if is_text {
            let t: Option<String> = tuple.get(1).map_err(spi_error)?;
            Input::Text(t.ok_or_else(|| null_input(n))?)
        } else {
            let v: Option<Vec<Option<f32>>> = tuple.get(1).map_err(spi_error)?;
            let v: Option<Vec<f32>> = v.ok_or_else(|| null_input(n))?.into_iter().collect();
            let v = v.ok_or_else(|| null_input(n))?;
            if v.iter().any(|x| !x.is_finite()) {
                return Err(Error::invalid_parameter(format!("row {} of the training query has a feature that is NaN or infinite", n + 1))
                    .hint("Compute features with custprofile.text_features(text), or filter such rows out."));
            }
            Input::Features(v)
        };
        let weight = if columns == 3 {
            let w: Option<f32> = tuple.get(3).map_err(|_| Error::invalid_parameter("the weight column must be real"))?;
            w.unwrap_or(1.0)
        } else {
            1.0
        };
        if !(weight.is_finite() && weight >= 0.0) {
            return Err(Error::invalid_parameter(format!("row {} has a weight that is negative or not finite", n + 1)));
        }
        rows.push(Row { input, label, weight });
    }
    Ok(rows)
}

fn spi_error(e: pgrx::spi::SpiError) -> Error {
    Error::internal(format!("SPI: {e}"))
}

fn label_type_error() -> Error {
    Error::new(PgSqlErrorCode::ERRCODE_DATATYPE_MISMATCH, "the label column of the training query must be text")
        .hint("Cast it, for example label::text.")
}

fn null_input(n: usize) -> Error {
    Error::new(PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED, format!("row {} of the training query has a NULL text or vector", n + 1))
        .hint("Filter such rows out in the training query.")
}

/// Trains a classifier head and stores it under `name`, replacing one of the same name in the
/// same transaction. Returns the row count, classes and validation metrics.
#[pg_extern(volatile, parallel_unsafe)]
fn train_classifier(name: &str, training_query: &str, options: default!(JsonArg, "'{}'")) -> JsonB {
    train_and_store(name, training_query, &options.value().or_raise()).or_raise()
}

fn train_and_store(name: &str, query: &str, options: &Value) -> Result<JsonB> {
    if name.trim().is_empty() {
        return Err(Error::invalid_parameter("a classifier needs a non-empty name"));
    }
    let opts = TrainOptions::from_json(options)?;
    if query.trim().trim_matches(';').trim().is_empty() {
        return Err(Error::invalid_parameter("the training query is empty")
            .hint("Pass a query returning rows, for example 'SELECT body, label FROM public.reviews'."));
    }
    // every check that can refuse comes before the minutes of encoding
    let owned = check_may_store(name)?;
    let mut rows = Spi::connect(|client| {
        let table = client.select(query, None, &[]).map_err(spi_error)?;
        if table.columns().is_err() {
            // a utility statement (SET, CREATE ...) has no result rows at all
            return Err(Error::invalid_parameter("the training query returns no result set")
                .hint("Pass a query returning rows, for example 'SELECT body, label FROM public.reviews'."));
        }
        read_rows(table)
    })?;
    if rows.is_empty() {
        return Err(Error::invalid_parameter("the training query returned no rows"));
    }
    // canonical order, so the result does not depend on the order the query happens to return
    rows.sort_by(|a, b| a.label.cmp(&b.label).then_with(|| input_key(&a.input).cmp(&input_key(&b.input))));
    let mut classes: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    classes.dedup();
    if classes.len() < 2 {
        return Err(Error::invalid_parameter(format!(
            "the training query has {} class; a classifier needs at least two",
            classes.len()
        )));
    }

    let started = Instant::now();
    let encoded = encode_rows(&rows, &opts)?;
    let embedding_seconds = started.elapsed().as_secs_f64();
    let y: Vec<usize> = rows.iter().map(|r| classes.binary_search(&r.label).expect("class listed")).collect();
    let weight: Vec<f32> = rows.iter().map(|r| r.weight).collect();
    let data = Dataset {
        x: &encoded.fixed,
        dim: opts.pooling.fixed_dim(DEFAULT_ENCODER.dimensions, opts.encoder_layers),
        tokens: encoded.tokens.as_ref().map(|store| (store, opts.heads)),
        y: &y,
        weight: &weight,
        classes: classes.len(),
    };
    let trained = train::train(&data, &classes, &opts, check_interrupts)?;
    drop(encoded);

    let head = Head {
        name: name.to_string(),
        encoder: DEFAULT_ENCODER.name.to_string(),
        pooling: opts.pooling,
        encoder_layers: opts.encoder_layers,
        attention: trained.attention,
        scoring: opts.scoring,
        classes: classes.clone(),
        layers: trained.layers,
    };
    let mut report = trained.metrics;
    report["name"] = json!(name);
    report["rows"] = json!(rows.len());
    report["classes"] = json!(classes);
    report["model"] = json!(opts.model);
    report["embedding_seconds"] = json!((embedding_seconds * 100.0).round() / 100.0);
    // through a string, so that weights keep f32's shortest decimal form instead of widening to f64
    let head_json: Value = serde_json::to_string(&head)
        .and_then(|s| serde_json::from_str(&s))
        .map_err(|e| Error::internal(e.to_string()))?;
    // a 0.1.0 schema (library updated, ALTER EXTENSION UPDATE not yet run) has no owner column
    let (owner_column, owner_value) = if owned { (", owner", ", CURRENT_USER") } else { ("", "") };
    Spi::run_with_args(
        &format!(
            "INSERT INTO custprofile.classifiers AS c (name, head, metrics, trained_at{owner_column})
             VALUES ($1, $2, $3, pg_catalog.now(){owner_value})
             ON CONFLICT (name) DO UPDATE SET head = excluded.head, metrics = excluded.metrics, trained_at = excluded.trained_at"
        ),
        &[name.into(), JsonB(head_json).into(), JsonB(report.clone()).into()],
    )
    .map_err(spi_error)?;
    Ok(JsonB(report))
}

/// Refuses, before any work, what the store at the end would refuse: a read-only transaction
/// (or a standby), a role without INSERT on custprofile.classifiers, or a head of that name that
/// belongs to another role (row-level security on the table enforces the same). Returns whether
/// heads have owners: a database still at 0.1.0 (the new library installed, ALTER EXTENSION
/// UPDATE not yet run) has no owner column.
fn check_may_store(name: &str) -> Result<bool> {
    // SAFETY: reads a backend-local flag
    if unsafe { pg_sys::XactReadOnly } {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            "cannot train a classifier in a read-only transaction",
        )
        .hint("Train on the primary server, outside a READ ONLY transaction."));
    }
    let owned: bool = Spi::connect(|client| {
        client
            .select(
                "SELECT EXISTS (SELECT FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) 'custprofile.classifiers'::pg_catalog.regclass
                                   AND attname OPERATOR(pg_catalog.=) 'owner' AND NOT attisdropped)",
                Some(1),
                &[],
            )?
            .first()
            .get_one::<bool>()
    })
    .map_err(spi_error)?
    .unwrap_or(false);
    if !owned {
        return Ok(false);
    }
    let (may_insert, owner, may_replace) = Spi::connect(|client| {
        let row = client
            .select(
                "SELECT pg_catalog.has_table_privilege('custprofile.classifiers', 'INSERT'),
                        (SELECT c.owner::text FROM custprofile.classifiers c WHERE c.name OPERATOR(pg_catalog.=) $1),
                        (SELECT pg_catalog.pg_has_role(c.owner, 'MEMBER') FROM custprofile.classifiers c
                          WHERE c.name OPERATOR(pg_catalog.=) $1)",
                Some(1),
                &[name.into()],
            )?
            .first();
        Ok::<_, pgrx::spi::SpiError>((row.get::<bool>(1)?, row.get::<String>(2)?, row.get::<bool>(3)?))
    })
    .map_err(spi_error)?;
    if may_insert != Some(true) {
        return Err(Error::new(PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE, "permission denied to store classifiers")
            .hint("An administrator can allow it: GRANT INSERT, UPDATE, DELETE ON custprofile.classifiers TO your_role;"));
    }
    if let (Some(owner), false) = (owner, may_replace.unwrap_or(true) || is_superuser()) {
        return Err(Error::new(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("classifier \"{name}\" belongs to role \"{owner}\""),
        )
        .hint("Choose another name; only its owner (or a member of that role) can replace it."));
    }
    Ok(true)
}

fn is_superuser() -> bool {
    // SAFETY: plain catalogue lookup of the current user
    unsafe { pg_sys::superuser() }
}

fn check_interrupts() {
    pgrx::check_for_interrupts!();
}

fn input_key(i: &Input) -> Vec<u8> {
    match i {
        Input::Text(t) => t.as_bytes().to_vec(),
        Input::Features(v) => v.iter().flat_map(|f| f.to_bits().to_be_bytes()).collect(),
    }
}

/// The training rows as the trainer takes them: every row's fixed features and, under attention
/// pooling, every text's token vectors.
struct Encoded {
    fixed: Vec<f32>,
    tokens: Option<TokenStore>,
}

/// Encodes the training texts in chunks. Training inputs are always those of the whole text,
/// whatever the scoring mode.
fn encode_rows(rows: &[Row], opts: &TrainOptions) -> Result<Encoded> {
    let dims = DEFAULT_ENCODER.dimensions;
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
    let mut store = attention.then(|| TokenStore::new(dims));
    for chunk in rows.chunks(ENCODE_CHUNK) {
        let texts: Vec<&str> = chunk.iter().filter_map(|r| match &r.input { Input::Text(t) => Some(t.as_str()), _ => None }).collect();
        let mut encoded = runtime::with_encoder(|e| {
            e.encode_with(&texts, |h| {
                let x = opts.pooling.fixed_features(&h, opts.encoder_layers);
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
    Ok(Encoded { fixed, tokens: store })
}

thread_local! {
    /// Parsed heads by name, with the version of the row they were parsed from: a head is
    /// parsed once per backend, not once per row (a large MLP head is megabytes of JSON).
    static HEADS: RefCell<HashMap<String, (String, Rc<Head>)>> = RefCell::new(HashMap::new());
}

/// Heads kept per backend before the cache starts over.
const HEAD_CACHE_LIMIT: usize = 64;

/// The stored head of a classifier; an unknown name is an ERROR listing the known ones.
fn load_head(name: &str) -> Result<Rc<Head>> {
    // the row's physical version changes with every retraining, even within one transaction
    // read-only SPI throughout (Spi::get_one would take a transaction id, which a parallel
    // worker or a standby cannot); operators and functions qualified, whatever the search_path
    let version: Option<String> = read_one(
        "SELECT pg_catalog.concat_ws('/', ctid, xmin) FROM custprofile.classifiers WHERE name OPERATOR(pg_catalog.=) $1",
        name,
    )?;
    let Some(version) = version else {
        let known: Option<String> =
            read_one("SELECT pg_catalog.string_agg(pg_catalog.quote_literal(name), ', ' ORDER BY name) FROM custprofile.classifiers WHERE $1 IS NOT NULL", name)?;
        return Err(Error::new(PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT, format!("classifier \"{name}\" does not exist"))
            .hint(match known {
                Some(k) => format!("Available classifiers: {k}."),
                None => "No classifier has been trained yet; train one with custprofile.train_classifier.".into(),
            }));
    };
    if let Some(head) = HEADS.with(|h| h.borrow().get(name).filter(|(v, _)| *v == version).map(|(_, head)| head.clone())) {
        return Ok(head);
    }
    let json: Option<String> =
        read_one("SELECT head::text FROM custprofile.classifiers WHERE name OPERATOR(pg_catalog.=) $1", name)?;
    let head = Rc::new(Head::from_json(&json.unwrap_or_default())?);
    HEADS.with(|h| {
        let mut h = h.borrow_mut();
        if h.len() >= HEAD_CACHE_LIMIT {
            h.clear();
        }
        h.insert(name.to_string(), (version, head.clone()));
    });
    Ok(head)
}

/// The first column of the first row of a read-only query with one text argument; None when it
/// returns no row or NULL.
fn read_one(query: &str, arg: &str) -> Result<Option<String>> {
    Spi::connect(|client| {
        let table = client.select(query, Some(1), &[arg.into()])?;
        if table.is_empty() {
            return Ok(None);
        }
        table.first().get_one::<String>()
    })
    .map_err(spi_error)
}

/// The most probable class.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn predict(name: &str, input: &str) -> String {
    let head = load_head(name).or_raise();
    let p = head.predict(&[input]).or_raise().pop().expect("one text");
    let best = argmax(&p);
    head.classes[best].clone()
}

/// Probability of each class.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn predict_scores(name: &str, input: &str) -> JsonB {
    let head = load_head(name).or_raise();
    let p = head.predict(&[input]).or_raise().pop().expect("one text");
    let m: Map<String, Value> = head.classes.iter().zip(p).map(|(c, v)| (c.clone(), json!(round4(v as f64)))).collect();
    JsonB(Value::Object(m))
}

/// The pooled features a head is trained on, for precomputing them in a table.
#[pg_extern(stable, strict, parallel_safe, cost = 5000)]
fn text_features(input: &str, pooling: default!(&str, "'mean_max_cls'"), encoder_layers: default!(i32, 1)) -> Vec<f32> {
    let pooling = Pooling::parse(pooling).or_raise();
    if pooling == Pooling::Attention {
        Error::invalid_parameter("attention pooling depends on a trained classifier's queries; it has no fixed features")
            .hint("Use pooling \"mean\" or \"mean_max_cls\", or train on the texts themselves.")
            .raise();
    }
    let layers = usize::try_from(encoder_layers).ok().filter(|n| (1..=max_encoder_layers()).contains(n)).unwrap_or_else(|| {
        Error::invalid_parameter(format!("encoder_layers must be in 1..{}", max_encoder_layers())).raise()
    });
    runtime::with_encoder(|e| e.encode_with(&[input], |h| pooling.fixed_features(&h, layers))).or_raise().pop().expect("one text")
}
