//! Training a classifier from SQL, end to end: the checks that can refuse come first, then the
//! training query's rows are read and encoded, the head trained and stored.

use std::time::Instant;

use serde_json::{json, Value};

use crate::errors::{Error, Result};
use crate::heads::token_store::TokenStore;
use crate::heads::train::{self, Dataset, TrainOptions};
use crate::heads::{store, training_set, Head, Layer};
use crate::runtime;

/// Trains a head on the rows of `query` and stores it under `name`; returns the training
/// report (rows, classes, validation metrics, timings).
pub fn train_classifier(
    name: &str,
    query: &str,
    options: &Value,
    progress: impl FnMut(train::Step),
) -> Result<Value> {
    if name.trim().is_empty() {
        return Err(Error::invalid_parameter(
            "a classifier needs a non-empty name",
        ));
    }
    let opts = TrainOptions::from_json(options)?;
    if query.trim().trim_matches(';').trim().is_empty() {
        return Err(Error::invalid_parameter("the training query is empty")
            .hint("Pass a query returning rows, for example 'SELECT body, label FROM public.reviews'."));
    }
    // every check that can refuse comes before the minutes of encoding
    let owned = store::check_may_store(name)?;
    let read = training_set::read(query)?;
    let rows = &read.rows;
    let mut classes: Vec<String> = rows.iter().flat_map(|r| r.labels.iter().cloned()).collect();
    classes.sort();
    classes.dedup();
    if read.multi_label {
        check_multi_label(rows, &classes, &opts)?;
    } else if classes.len() < 2 {
        return Err(Error::invalid_parameter(format!(
            "the training query has {} class; a classifier needs at least two",
            classes.len()
        )));
    }

    let encoder = runtime::current()?;
    let layers = super::max_encoder_layers(&encoder);
    if !(1..=layers).contains(&opts.encoder_layers) {
        return Err(Error::invalid_parameter(format!(
            "option \"encoder_layers\" must be in 1..{layers}: the encoder exposes its last {layers} layers"
        )));
    }
    let mut progress = progress;
    let started = Instant::now();
    let encoded = training_set::encode(rows, &opts, &mut progress)?;
    let embedding_seconds = started.elapsed().as_secs_f64();
    let weight: Vec<f32> = rows.iter().map(|r| r.weight).collect();
    let features = Features {
        x: &encoded.fixed,
        dim: opts
            .pooling
            .fixed_dim(encoder.dimensions, opts.encoder_layers),
        tokens: encoded.tokens.as_ref().map(|store| (store, opts.heads)),
        weight: &weight,
    };
    let (trained_layers, attention, mut report) = if read.multi_label {
        train_one_vs_rest(rows, &classes, &opts, &features, &mut progress)?
    } else {
        let y: Vec<usize> = rows
            .iter()
            .map(|r| classes.binary_search(&r.labels[0]).expect("class listed"))
            .collect();
        let trained = train::train(
            &features.with(&y, classes.len()),
            &classes,
            &opts,
            &mut progress,
        )?;
        (trained.layers, trained.attention, trained.metrics)
    };
    drop(encoded);

    let head = Head {
        name: name.to_string(),
        encoder: encoder.name.clone(),
        dimensions: encoder.dimensions,
        pooling: opts.pooling,
        encoder_layers: opts.encoder_layers,
        attention,
        scoring: opts.scoring,
        classes: classes.clone(),
        layers: trained_layers,
        multi_label: read.multi_label,
    };
    report["name"] = json!(name);
    report["rows"] = json!(rows.len());
    report["classes"] = json!(classes);
    report["model"] = json!(opts.model.name());
    report["embedding_seconds"] = json!((embedding_seconds * 100.0).round() / 100.0);
    store::save(name, &head, &report, owned)?;
    Ok(report)
}

/// The encoded training rows, before the labels are chosen.
struct Features<'a> {
    x: &'a [f32],
    dim: usize,
    tokens: Option<(&'a TokenStore, usize)>,
    weight: &'a [f32],
}

impl Features<'_> {
    fn with<'b>(&'b self, y: &'b [usize], classes: usize) -> Dataset<'b> {
        Dataset {
            x: self.x,
            dim: self.dim,
            tokens: self.tokens,
            y,
            weight: self.weight,
            classes,
        }
    }
}

/// A multi-label head is one logistic regression per label: every label needs rows with it
/// and rows without it, and the heads' weights become the rows of one layer.
fn check_multi_label(
    rows: &[training_set::Row],
    classes: &[String],
    opts: &TrainOptions,
) -> Result<()> {
    // one linear layer per label merges into one layer; sentence scoring would average a label
    // raised in one sentence away over the others
    if opts.model != train::Model::Logistic
        || opts.pooling == crate::heads::Pooling::Attention
        || opts.scoring != crate::heads::Scoring::Text
    {
        return Err(Error::new(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "a multi-label classifier (text[] labels) is trained as logistic regression over fixed features of the whole text",
        )
        .hint("Leave out the options \"model\", \"pooling\": \"attention\" and \"scoring\": \"sentences\"."));
    }
    if classes.is_empty() {
        return Err(
            Error::invalid_parameter("the training query's label arrays are all empty").hint(
                "A multi-label classifier needs rows with labels, and rows without each label.",
            ),
        );
    }
    for c in classes {
        if rows.iter().all(|r| r.labels.contains(c)) {
            return Err(Error::invalid_parameter(format!(
                "label \"{c}\" applies to every row of the training query; a label needs rows without it too"
            )));
        }
    }
    Ok(())
}

/// One binary logistic regression per label (applies or not) over the same encoded rows and
/// validation split (the seed); each head's logit of "applies" less that of "not" becomes one
/// row of the multi-label layer. The report gives validation precision and recall per label.
fn train_one_vs_rest(
    rows: &[training_set::Row],
    classes: &[String],
    opts: &TrainOptions,
    features: &Features,
    progress: &mut dyn FnMut(train::Step),
) -> Result<(Vec<Layer>, Option<crate::heads::Attention>, Value)> {
    let binary = ["no".to_string(), "yes".to_string()];
    let mut layer: Option<Layer> = None;
    let mut per_label = serde_json::Map::new();
    let mut last = Value::Null;
    for c in classes {
        let y: Vec<usize> = rows
            .iter()
            .map(|r| usize::from(r.labels.contains(c)))
            .collect();
        let trained = train::train(&features.with(&y, 2), &binary, opts, |step| match step {
            train::Step::Epoch { done, total, .. } => progress(train::Step::Epoch { done, total, label: Some(c.clone()) }),
            other => progress(other),
        })?;
        let (w, bias) = trained.layers[0].logistic_of_two();
        let target = layer.get_or_insert_with(|| Layer { inputs: w.len(), outputs: 0, weights: Vec::new(), bias: Vec::new() });
        target.weights.extend(w);
        target.bias.push(bias);
        target.outputs += 1;
        let mut metrics = trained.metrics["per_class"]["yes"].clone();
        metrics["best_epoch"] = trained.metrics["best_epoch"].clone();
        if let Some(t) = trained.metrics.get("temperature") {
            metrics["temperature"] = t.clone();
        }
        per_label.insert(c.clone(), metrics);
        last = trained.metrics;
    }
    let report = json!({
        "multi_label": true,
        "validation_rows": last["validation_rows"],
        "training_rows": last["training_rows"],
        "per_label": per_label,
    });
    Ok((vec![layer.expect("at least one label")], None, report))
}
