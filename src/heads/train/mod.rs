//! Training of classifier heads: softmax regression (one layer) or a one-hidden-layer MLP,
//! L2-regularised, mini-batch Adam, features standardised during training and the scaling folded
//! back into the first layer. Under attention pooling the queries that pool the token vectors
//! are trained with the layers, by the same gradient. Deterministic for a given seed: rows are
//! put in a canonical order by the caller and every random choice comes from one seeded generator.
//! `train` runs the phases in order and `Training::step` is one optimiser step (forward, backward,
//! update); the matrix products and Adam are in `optimiser`, attention pooling's gradient in
//! `attention`, weight averaging in `averaging`, standardisation and calibration in `scaling`.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

mod attention;
mod averaging;
mod optimiser;
mod scaling;
#[cfg(test)]
mod tests;

use attention::{AttentionTraining, Pooled};
use averaging::Averaged;
use optimiser::{adam_step, flush_subnormal, forward_batch, gemm, predict_batch, Adam};
use scaling::{best_temperature, fold_standardisation, ColumnStats};

use super::token_store::TokenStore;
use super::{Attention, Layer, Pooling, Scoring};
use crate::errors::{Error, Result};
use crate::numeric::{round4, softmax, Rng};

/// Where a training run is, for progress reports (and the moment to check for a cancel).
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// texts encoded so far, of all the training rows
    Encoded { done: usize, total: usize },
    /// epochs started so far (with the label being trained, for a multi-label classifier)
    Epoch { done: usize, total: usize, label: Option<String> },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Encoded { done, total } => write!(f, "{done} of {total} rows encoded"),
            Step::Epoch { done, total, label: None } => write!(f, "epoch {done} of {total}"),
            Step::Epoch { done, total, label: Some(l) } => write!(f, "label {l:?}: epoch {done} of {total}"),
        }
    }
}

/// The network a head is: softmax regression, or one hidden ReLU layer before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    Logistic,
    Mlp,
}

impl Model {
    pub fn parse(s: &str) -> Result<Self> {
        [Model::Logistic, Model::Mlp]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| Error::invalid_parameter("option \"model\" must be \"logistic\" or \"mlp\""))
    }

    /// The name options and training reports use.
    pub fn name(self) -> &'static str {
        match self {
            Model::Logistic => "logistic",
            Model::Mlp => "mlp",
        }
    }
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub model: Model,
    pub hidden: usize,
    pub l2: f32,
    pub epochs: usize,
    pub learning_rate: f32,
    pub batch_size: usize,
    pub seed: u64,
    pub validation_share: f64,
    /// Divide the logits by the temperature that fits the validation rows best, so that
    /// probabilities are not more confident than the head is right.
    pub calibrate: bool,
    /// Stochastic weight averaging: from the second epoch on, the head is the running mean of
    /// the weights after every step, which lands nearer the middle of a good region than any
    /// single step (validation picks among the epochs' averages as usual).
    pub average_weights: bool,
    pub pooling: Pooling,
    /// How many of the encoder's last layers feed the head (see `Head::encoder_layers`).
    pub encoder_layers: usize,
    /// Attention heads (attention pooling only).
    pub heads: usize,
    pub scoring: Scoring,
}

impl TrainOptions {
    /// Reads the options object of `train_classifier`; unknown keys are an error so that a typo
    /// does not silently train with defaults.
    pub fn from_json(v: &Value) -> Result<Self> {
        let obj = v.as_object().ok_or_else(|| Error::invalid_parameter("options must be a JSON object"))?;
        let mut o = TrainOptions {
            model: Model::Logistic,
            hidden: 128,
            l2: 1e-4,
            epochs: 30,
            learning_rate: 0.0,
            batch_size: 128,
            seed: 42,
            validation_share: 0.1,
            calibrate: false,
            average_weights: false,
            pooling: Pooling::MeanMaxCls,
            encoder_layers: 1,
            heads: 4,
            scoring: Scoring::Text,
        };
        let mut model = Model::Logistic.name();
        for (k, val) in obj {
            let bad = || Error::invalid_parameter(format!("option \"{k}\" has an invalid value"));
            let num = || val.as_f64().ok_or_else(bad);
            match k.as_str() {
                "model" => model = val.as_str().ok_or_else(bad)?,
                "hidden" => o.hidden = num()? as usize,
                "l2" => o.l2 = num()? as f32,
                "epochs" => o.epochs = num()? as usize,
                "learning_rate" => o.learning_rate = num()? as f32,
                "batch_size" => o.batch_size = num()? as usize,
                "seed" => o.seed = num()? as u64,
                "validation_share" => o.validation_share = num()?,
                "calibrate" => o.calibrate = val.as_bool().ok_or_else(bad)?,
                "average_weights" => o.average_weights = val.as_bool().ok_or_else(bad)?,
                "pooling" => o.pooling = Pooling::parse(val.as_str().ok_or_else(bad)?)?,
                "encoder_layers" => o.encoder_layers = num()? as usize,
                "heads" => o.heads = num()? as usize,
                "scoring" => o.scoring = Scoring::parse(val.as_str().ok_or_else(bad)?)?,
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "unknown option \"{k}\"; known: model, hidden, l2, epochs, learning_rate, \
                         batch_size, seed, validation_share, calibrate, average_weights, pooling, encoder_layers, \
                         heads, scoring"
                    )))
                }
            }
        }
        o.model = Model::parse(model)?;
        if !(0.0..0.9).contains(&o.validation_share) {
            return Err(Error::invalid_parameter("option \"validation_share\" must be in [0, 0.9)"));
        }
        if o.epochs == 0 || o.epochs > 1000 || o.batch_size == 0 || o.hidden == 0 || o.hidden > 4096 || o.l2 < 0.0 {
            return Err(Error::invalid_parameter(
                "epochs must be in 1..1000, batch_size and hidden positive (hidden at most 4096), l2 not negative",
            ));
        }
        // "encoder_layers" depends on the encoder: heads::classifier checks it against the manifest
        if !(1..=16).contains(&o.heads) {
            return Err(Error::invalid_parameter("option \"heads\" must be in 1..16"));
        }
        // sane ranges: beyond them the optimiser overflows to NaN weights
        if !(o.l2.is_finite() && (0.0..=100.0).contains(&o.l2)) {
            return Err(Error::invalid_parameter("option \"l2\" must be between 0 and 100"));
        }
        if !(o.learning_rate.is_finite() && (0.0..=10.0).contains(&o.learning_rate)) {
            return Err(Error::invalid_parameter("option \"learning_rate\" must be between 0 (the default) and 10"));
        }
        if o.learning_rate <= 0.0 {
            o.learning_rate = match o.model {
                Model::Mlp => 1e-3,
                Model::Logistic => 1e-2,
            };
        }
        Ok(o)
    }
}

/// Training rows: fixed features, optionally token vectors for attention pooling, labels as
/// class indices, per-row weights.
pub struct Dataset<'a> {
    /// Each row's fixed features (`Pooling::fixed_features`), `dim` values per row, row-major.
    pub x: &'a [f32],
    pub dim: usize,
    /// Under attention pooling: each row's token vectors and the number of attention pools,
    /// whose queries are trained with the layers; the pools follow the fixed features.
    pub tokens: Option<(&'a TokenStore, usize)>,
    pub y: &'a [usize],
    pub weight: &'a [f32],
    pub classes: usize,
}

#[derive(Serialize)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub support: usize,
}

pub struct Trained {
    pub layers: Vec<Layer>,
    /// The trained queries, under attention pooling.
    pub attention: Option<Attention>,
    pub metrics: Value,
}

/// Trains and reports validation metrics (on the held-out share, never trained on). The phases:
/// split the rows, standardise, run the epochs (each a pass of optimiser steps, then validation
/// of the weights or of their running average), keep the best epoch, calibrate, fold the
/// standardisation into the first layer.
pub fn train(data: &Dataset, class_names: &[String], o: &TrainOptions, mut progress: impl FnMut(Step)) -> Result<Trained> {
    let started = Instant::now();
    let mut rng = Rng::new(o.seed);
    let (val_idx, mut train_idx) = split(data.y.len(), o.validation_share, &mut rng)?;
    let (mu, sigma) = standardisation(data, &train_idx);
    let mut t = Training::new(data, o, mu, sigma, &mut rng);
    let val_y: Vec<usize> = val_idx.iter().map(|&i| data.y[i]).collect();

    let mut best: Option<(f64, Vec<Layer>, Option<Attention>, usize)> = None;
    let mut averaged: Option<Averaged> = None;
    for epoch in 0..o.epochs {
        progress(Step::Epoch { done: epoch + 1, total: o.epochs, label: None });
        rng.shuffle(&mut train_idx);
        for batch in train_idx.chunks(o.batch_size) {
            t.step(batch);
            if o.average_weights && epoch > 0 {
                let queries = t.attention.as_ref().map(|a| a.attention.queries.as_slice());
                averaged.get_or_insert_with(|| Averaged::new(&t.layers, queries)).add(&t.layers, queries);
            }
        }
        // validation sees the averaged weights, training goes on from its own
        if let Some(a) = averaged.as_mut() {
            a.swap(&mut t.layers, t.attention.as_mut());
        }
        if !val_y.is_empty() {
            let acc = t.accuracy(&val_idx, &val_y);
            if best.as_ref().map(|b| acc > b.0).unwrap_or(true) {
                best = Some((acc, t.layers.clone(), t.attention.as_ref().map(|a| a.attention.clone()), epoch + 1));
            }
        }
        if let Some(a) = averaged.as_mut() {
            a.swap(&mut t.layers, t.attention.as_mut());
        }
    }
    if let Some(a) = averaged.as_mut() {
        a.swap(&mut t.layers, t.attention.as_mut());
    }
    let best_epoch = match best {
        Some((_, layers, attention, epoch)) => {
            t.layers = layers;
            if let (Some(att), Some(a)) = (t.attention.as_mut(), attention) {
                att.attention = a;
            }
            epoch
        }
        None => o.epochs,
    };

    let val_x = t.inputs_of(&val_idx);
    let mut metrics = validation_metrics(&predict_batch(&t.layers, &val_x, t.dim), &val_y, data.classes, class_names);
    let temperature = (o.calibrate && !val_y.is_empty()).then(|| t.calibrate(&val_x, &val_y));
    let Training { mut layers, attention, mu, sigma, .. } = t;
    fold_standardisation(&mut layers[0], &mu, &sigma);
    let attention = attention.map(|a| a.attention);
    check_finite(&layers, attention.as_ref())?;
    metrics["best_epoch"] = json!(best_epoch);
    if let Some(t) = temperature {
        metrics["temperature"] = json!(round4(t as f64));
    }
    metrics["training_rows"] = json!(train_idx.len());
    metrics["training_seconds"] = json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    Ok(Trained { layers, attention, metrics })
}

/// The held-out validation rows and the training rows, by a seeded shuffle.
fn split(n: usize, validation_share: f64, rng: &mut Rng) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let n_val = ((n as f64) * validation_share).round() as usize;
    let (val_idx, train_idx) = idx.split_at(n_val);
    if train_idx.is_empty() {
        return Err(Error::invalid_parameter("no training rows are left after the validation share"));
    }
    Ok((val_idx.to_vec(), train_idx.to_vec()))
}

/// Per-column mean and deviation of the head's input over the training rows: the fixed part,
/// then (under attention pooling) each pool, standardised with the statistics of the training
/// rows' tokens.
fn standardisation(data: &Dataset, train_idx: &[usize]) -> (Vec<f32>, Vec<f32>) {
    let (fixed, fixed_dim) = (data.x, data.dim);
    let mut stats = ColumnStats::new(fixed_dim);
    for &i in train_idx {
        stats.add(&fixed[i * fixed_dim..(i + 1) * fixed_dim]);
    }
    let (mut mu, mut sigma) = stats.finish();
    if let Some((store, heads)) = data.tokens {
        let d = store.dim();
        let mut stats = ColumnStats::new(d);
        for &i in train_idx {
            store.row(i).chunks_exact(d).for_each(|t| stats.add(t));
        }
        let (m, s) = stats.finish();
        for _ in 0..heads {
            mu.extend_from_slice(&m);
            sigma.extend_from_slice(&s);
        }
    }
    (mu, sigma)
}

/// A head whose weights overflowed is an ERROR, never a stored head.
fn check_finite(layers: &[Layer], attention: Option<&Attention>) -> Result<()> {
    let finite = |v: &[f32]| v.iter().all(|w| w.is_finite());
    if layers.iter().all(|l| finite(&l.weights) && finite(&l.bias)) && attention.is_none_or(|a| finite(&a.queries)) {
        return Ok(());
    }
    Err(Error::new(
        pgrx::PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        "training diverged: the head's weights are not finite numbers, so nothing was stored",
    )
    .hint("Train again with a smaller learning_rate (or l2), or check the inputs for extreme values."))
}

/// The parameters while they are trained, with the optimiser's state and the standardisation.
struct Training<'a> {
    data: &'a Dataset<'a>,
    o: &'a TrainOptions,
    layers: Vec<Layer>,
    adam: Vec<(Adam, Adam)>,
    attention: Option<AttentionTraining<'a>>,
    mu: Vec<f32>,
    sigma: Vec<f32>,
    /// Width of the head's input: the fixed features, then the attention pools.
    dim: usize,
    step: i32,
    batch: Vec<f32>,
}

impl<'a> Training<'a> {
    /// Initial layers (Glorot-uniform hidden layer, zero logistic layer) and attention queries,
    /// drawn from `rng` in that order.
    fn new(data: &'a Dataset<'a>, o: &'a TrainOptions, mu: Vec<f32>, sigma: Vec<f32>, rng: &mut Rng) -> Self {
        let extra_dim = data.tokens.map_or(0, |(store, heads)| heads * store.dim());
        let dim = data.dim + extra_dim;
        let sizes: Vec<usize> = match o.model {
            Model::Mlp => vec![dim, o.hidden, data.classes],
            Model::Logistic => vec![dim, data.classes],
        };
        let layers: Vec<Layer> = sizes
            .windows(2)
            .map(|w| {
                let limit = (6.0 / w[0] as f32).sqrt();
                let weights = (0..w[0] * w[1]).map(|_| if sizes.len() > 2 { (rng.uniform() * 2.0 - 1.0) * limit } else { 0.0 }).collect();
                Layer { inputs: w[0], outputs: w[1], weights, bias: vec![0.0; w[1]] }
            })
            .collect();
        let adam = layers.iter().map(|l| (Adam::new(l.weights.len()), Adam::new(l.outputs))).collect();
        let attention = data.tokens.map(|(store, heads)| AttentionTraining::new(store, heads, rng));
        let batch = Vec::with_capacity(o.batch_size * dim);
        Training { data, o, layers, adam, attention, mu, sigma, dim, step: 0, batch }
    }

    /// One row's input, standardised, appended to `out`: the fixed part, then the attention pools.
    fn input_of(&self, i: usize, out: &mut Vec<f32>) -> Option<Pooled> {
        let fixed_dim = self.data.dim;
        let start = out.len();
        out.extend_from_slice(&self.data.x[i * fixed_dim..(i + 1) * fixed_dim]);
        let pooled = self.attention.as_ref().map(|a| {
            let p = a.forward(i);
            out.extend_from_slice(&p.pooled);
            p
        });
        out[start..].iter_mut().zip(&self.mu).zip(&self.sigma).for_each(|((v, m), s)| *v = (*v - m) / s);
        pooled
    }

    fn inputs_of(&self, rows: &[usize]) -> Vec<f32> {
        let mut x = Vec::with_capacity(rows.len() * self.dim);
        for &i in rows {
            self.input_of(i, &mut x);
        }
        x
    }

    /// One optimiser step on a mini-batch: forward, the weighted softmax loss's gradient back
    /// through the layers (and the attention queries), an Adam update of each.
    fn step(&mut self, batch: &[usize]) {
        let (data, o) = (self.data, self.o);
        let rows = batch.len();
        let mut xb = std::mem::take(&mut self.batch);
        xb.clear();
        let pooled: Vec<Option<Pooled>> = batch.iter().map(|&i| self.input_of(i, &mut xb)).collect();
        // forward for the whole batch, keeping every layer's input (rows × width, row-major)
        let acts = forward_batch(&self.layers, &xb, rows);
        self.batch = xb;
        let classes = data.classes;
        let wsum: f32 = batch.iter().map(|&i| data.weight[i]).sum::<f32>().max(1e-12);
        let mut delta = acts.last().expect("logits").clone();
        for (r, &i) in batch.iter().enumerate() {
            let row = &mut delta[r * classes..(r + 1) * classes];
            let p = softmax(row);
            row.copy_from_slice(&p);
            row[data.y[i]] -= 1.0;
            let w = data.weight[i] / wsum;
            row.iter_mut().for_each(|d| *d = flush_subnormal(*d * w));
        }
        // backward: gradient of each layer = deltaᵀ · input; delta of the layer below = delta · W
        let mut grads: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(self.layers.len());
        for k in (0..self.layers.len()).rev() {
            let l = &self.layers[k];
            let input = &acts[k];
            let mut gw = vec![0f32; l.weights.len()];
            gemm(l.outputs, rows, l.inputs, (&delta, 1, l.outputs), (input, l.inputs, 1), &mut gw);
            let mut gb = vec![0f32; l.outputs];
            for row in delta.chunks_exact(l.outputs) {
                gb.iter_mut().zip(row).for_each(|(g, d)| *g += d);
            }
            grads.push((gw, gb));
            if k > 0 || self.attention.is_some() {
                let mut prev = vec![0f32; rows * l.inputs];
                gemm(rows, l.outputs, l.inputs, (&delta, l.outputs, 1), (&l.weights, l.inputs, 1), &mut prev);
                if k > 0 {
                    // ReLU derivative of the hidden layer
                    prev.iter_mut().zip(input).for_each(|(p, &a)| if a <= 0.0 { *p = 0.0 });
                }
                delta = prev;
            }
        }
        grads.reverse();
        self.step += 1;
        let step = self.step;
        for ((l, (gw, gb)), (aw, ab)) in self.layers.iter_mut().zip(&grads).zip(self.adam.iter_mut()) {
            adam_step(&mut l.weights, gw, aw, o.learning_rate, o.l2, step);
            adam_step(&mut l.bias, gb, ab, o.learning_rate, 0.0, step);
        }
        let (dim, fixed_dim) = (self.dim, data.dim);
        if let Some(att) = self.attention.as_mut() {
            // delta now holds the gradient of each row's input; its tail is the attention pools'
            // (through the standardisation)
            let mut grad = vec![0f32; att.width()];
            for (r, p) in pooled.iter().enumerate() {
                let p = p.as_ref().expect("pooled under attention");
                let d: Vec<f32> =
                    delta[r * dim + fixed_dim..(r + 1) * dim].iter().zip(&self.sigma[fixed_dim..]).map(|(d, s)| d / s).collect();
                att.backward(p, &d, &mut grad);
            }
            adam_step(&mut att.attention.queries, &grad, &mut att.adam, o.learning_rate, 0.0, step);
        }
    }

    /// Share of the rows whose most likely class is their label.
    fn accuracy(&self, rows: &[usize], y: &[usize]) -> f64 {
        let x = self.inputs_of(rows);
        let hits = predict_batch(&self.layers, &x, self.dim).iter().zip(y).filter(|(p, y)| p == y).count();
        hits as f64 / y.len() as f64
    }

    /// Divides the last layer by the temperature that fits the validation rows best; returns it.
    fn calibrate(&mut self, val_x: &[f32], val_y: &[usize]) -> f32 {
        let dim = self.dim;
        let logits =
            val_x.chunks(1024 * dim).flat_map(|c| forward_batch(&self.layers, c, c.len() / dim).pop().expect("logits")).collect::<Vec<_>>();
        let t = best_temperature(&logits, val_y, self.data.classes);
        let last = self.layers.last_mut().expect("a layer");
        last.weights.iter_mut().chain(last.bias.iter_mut()).for_each(|w| *w /= t);
        t
    }
}

fn validation_metrics(predicted_classes: &[usize], ys: &[usize], k: usize, names: &[String]) -> Value {
    let mut tp = vec![0usize; k];
    let mut predicted = vec![0usize; k];
    let mut support = vec![0usize; k];
    for (&p, &y) in predicted_classes.iter().zip(ys) {
        predicted[p] += 1;
        support[y] += 1;
        if p == y {
            tp[y] += 1;
        }
    }
    let per_class: serde_json::Map<String, Value> = (0..k)
        .map(|c| {
            let m = ClassMetrics {
                precision: round4(tp[c] as f64 / predicted[c].max(1) as f64),
                recall: round4(tp[c] as f64 / support[c].max(1) as f64),
                support: support[c],
            };
            (names[c].clone(), serde_json::to_value(m).expect("plain struct"))
        })
        .collect();
    let acc = if ys.is_empty() { Value::Null } else { json!(round4(tp.iter().sum::<usize>() as f64 / ys.len() as f64)) };
    json!({ "validation_rows": ys.len(), "validation_accuracy": acc, "per_class": per_class })
}
