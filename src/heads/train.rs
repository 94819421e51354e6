//! Training of classifier heads: softmax regression (one layer) or a one-hidden-layer MLP,
//! L2-regularised, mini-batch Adam, features standardised during training and the scaling folded
//! back into the first layer. Under attention pooling the queries that pool the token vectors
//! are trained with the layers, by the same gradient. Deterministic for a given seed: rows are
//! put in a canonical order by the caller and every random choice comes from one seeded generator.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::token_store::TokenStore;
use super::{round4, Attention, Layer, Pooling, Scoring};
use crate::errors::{Error, Result};

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub model: String,
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
            model: "logistic".into(),
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
        for (k, val) in obj {
            let bad = || Error::invalid_parameter(format!("option \"{k}\" has an invalid value"));
            let num = || val.as_f64().ok_or_else(bad);
            match k.as_str() {
                "model" => o.model = val.as_str().ok_or_else(bad)?.to_string(),
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
        if o.model != "logistic" && o.model != "mlp" {
            return Err(Error::invalid_parameter("option \"model\" must be \"logistic\" or \"mlp\""));
        }
        if !(0.0..0.9).contains(&o.validation_share) {
            return Err(Error::invalid_parameter("option \"validation_share\" must be in [0, 0.9)"));
        }
        if o.epochs == 0 || o.epochs > 1000 || o.batch_size == 0 || o.hidden == 0 || o.hidden > 4096 || o.l2 < 0.0 {
            return Err(Error::invalid_parameter(
                "epochs must be in 1..1000, batch_size and hidden positive (hidden at most 4096), l2 not negative",
            ));
        }
        if !(1..=super::max_encoder_layers()).contains(&o.encoder_layers) {
            return Err(Error::invalid_parameter(format!(
                "option \"encoder_layers\" must be in 1..{}: the encoder exposes its last {0} layers",
                super::max_encoder_layers()
            )));
        }
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
            o.learning_rate = if o.model == "mlp" { 1e-3 } else { 1e-2 };
        }
        Ok(o)
    }
}

/// splitmix64: a tiny, well-known generator; enough for shuffling and initialisation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
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

struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    fn new(len: usize) -> Self {
        Adam { m: vec![0.0; len], v: vec![0.0; len] }
    }
}

/// Attention pooling while its queries are trained. Its pools are standardised like fixed
/// features, with the statistics of the training rows' token vectors (a pool is a convex
/// combination of tokens, so that is an affine map, folded into the first layer at the end).
struct AttentionTraining<'a> {
    store: &'a TokenStore,
    attention: Attention,
    adam: Adam,
}

/// One row's attention pools and what their backward pass needs.
struct Pooled {
    pooled: Vec<f32>,
    tokens: Vec<f32>,
    weights: Vec<f32>,
}

impl<'a> AttentionTraining<'a> {
    fn new(store: &'a TokenStore, heads: usize, rng: &mut Rng) -> Self {
        // small queries: training starts from (nearly) mean pooling
        let queries = (0..heads * store.dim()).map(|_| (rng.uniform() * 2.0 - 1.0) * 0.01).collect();
        AttentionTraining { store, attention: Attention { heads, queries }, adam: Adam::new(heads * store.dim()) }
    }

    fn width(&self) -> usize {
        self.attention.heads * self.store.dim()
    }

    fn forward(&self, i: usize) -> Pooled {
        let tokens = self.store.row(i);
        let (pooled, weights) = self.attention.pool(&tokens, self.store.dim());
        Pooled { pooled, tokens, weights }
    }

    /// Adds the queries' gradient given the gradient of the row's attention pools.
    fn backward(&self, row: &Pooled, d_pooled: &[f32], grad: &mut [f32]) {
        let (dim, heads) = (self.store.dim(), self.attention.heads);
        let len = row.tokens.len() / dim;
        // d loss / d weight[t, k] = d_pooled[k] . token[t]
        let mut dw = vec![0f32; len * heads];
        gemm(len, dim, heads, (&row.tokens, dim, 1), (d_pooled, 1, dim), &mut dw);
        // through the softmax over tokens, to the scores query[k] . token[t]
        let mut de = vec![0f32; len * heads];
        for k in 0..heads {
            let dot: f32 = (0..len).map(|t| row.weights[t * heads + k] * dw[t * heads + k]).sum();
            for t in 0..len {
                de[t * heads + k] = row.weights[t * heads + k] * (dw[t * heads + k] - dot);
            }
        }
        let mut dq = vec![0f32; heads * dim];
        gemm(heads, len, dim, (&de, 1, heads), (&row.tokens, dim, 1), &mut dq);
        grad.iter_mut().zip(&dq).for_each(|(g, d)| *g += d);
    }
}

/// Trains and reports validation metrics (on the held-out share, never trained on).
pub fn train(data: &Dataset, class_names: &[String], o: &TrainOptions, mut interrupt: impl FnMut()) -> Result<Trained> {
    let started = Instant::now();
    let n = data.y.len();
    let (fixed, fixed_dim) = (data.x, data.dim);
    let mut rng = Rng::new(o.seed);
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let n_val = ((n as f64) * o.validation_share).round() as usize;
    let (val_idx, train_idx) = idx.split_at(n_val);
    let mut train_idx = train_idx.to_vec();
    if train_idx.is_empty() {
        return Err(Error::invalid_parameter("no training rows are left after the validation share"));
    }

    // standardise the fixed part with training-row statistics
    let mut stats = ColumnStats::new(fixed_dim);
    for &i in &train_idx {
        stats.add(&fixed[i * fixed_dim..(i + 1) * fixed_dim]);
    }
    let (mut mu, mut sigma) = stats.finish();
    // the attention pools are standardised with the statistics of the training rows' tokens
    if let Some((store, heads)) = data.tokens {
        let d = store.dim();
        let mut stats = ColumnStats::new(d);
        for &i in &train_idx {
            store.row(i).chunks_exact(d).for_each(|t| stats.add(t));
        }
        let (m, s) = stats.finish();
        for _ in 0..heads {
            mu.extend_from_slice(&m);
            sigma.extend_from_slice(&s);
        }
    }

    let extra_dim = data.tokens.map_or(0, |(store, heads)| heads * store.dim());
    let dim = fixed_dim + extra_dim;
    let sizes: Vec<usize> = if o.model == "mlp" { vec![dim, o.hidden, data.classes] } else { vec![dim, data.classes] };
    let mut layers: Vec<Layer> = sizes
        .windows(2)
        .map(|w| {
            let limit = (6.0 / w[0] as f32).sqrt();
            let weights = (0..w[0] * w[1]).map(|_| if sizes.len() > 2 { (rng.uniform() * 2.0 - 1.0) * limit } else { 0.0 }).collect();
            Layer { inputs: w[0], outputs: w[1], weights, bias: vec![0.0; w[1]] }
        })
        .collect();
    let mut adam: Vec<(Adam, Adam)> = layers.iter().map(|l| (Adam::new(l.weights.len()), Adam::new(l.outputs))).collect();
    let mut attention = data.tokens.map(|(store, heads)| AttentionTraining::new(store, heads, &mut rng));

    // one row's input, standardised: the fixed part, then the attention pools
    let input_of = |i: usize, att: Option<&AttentionTraining>, out: &mut Vec<f32>| -> Option<Pooled> {
        let start = out.len();
        out.extend_from_slice(&fixed[i * fixed_dim..(i + 1) * fixed_dim]);
        let pooled = att.map(|a| {
            let p = a.forward(i);
            out.extend_from_slice(&p.pooled);
            p
        });
        out[start..].iter_mut().zip(&mu).zip(&sigma).for_each(|((v, m), s)| *v = (*v - m) / s);
        pooled
    };
    let inputs_of = |rows: &[usize], att: Option<&AttentionTraining>| -> Vec<f32> {
        let mut x = Vec::with_capacity(rows.len() * dim);
        for &i in rows {
            input_of(i, att, &mut x);
        }
        x
    };

    let val_y: Vec<usize> = val_idx.iter().map(|&i| data.y[i]).collect();
    let mut best: Option<(f64, Vec<Layer>, Option<Attention>, usize)> = None;
    let mut averaged: Option<Averaged> = None;
    let mut step = 0i32;
    let mut xb: Vec<f32> = Vec::with_capacity(o.batch_size * dim);
    for epoch in 0..o.epochs {
        interrupt();
        rng.shuffle(&mut train_idx);
        for batch in train_idx.chunks(o.batch_size) {
            let rows = batch.len();
            xb.clear();
            let pooled: Vec<Option<Pooled>> = batch.iter().map(|&i| input_of(i, attention.as_ref(), &mut xb)).collect();
            // forward for the whole batch, keeping every layer's input (rows × width, row-major)
            let acts = forward_batch(&layers, &xb, rows);
            let classes = data.classes;
            let wsum: f32 = batch.iter().map(|&i| data.weight[i]).sum::<f32>().max(1e-12);
            let mut delta = acts.last().expect("logits").clone();
            for (r, &i) in batch.iter().enumerate() {
                let row = &mut delta[r * classes..(r + 1) * classes];
                let p = super::softmax(row);
                row.copy_from_slice(&p);
                row[data.y[i]] -= 1.0;
                let w = data.weight[i] / wsum;
                row.iter_mut().for_each(|d| *d = flush_subnormal(*d * w));
            }
            // backward: gradient of each layer = deltaᵀ · input; delta of the layer below = delta · W
            let mut grads: Vec<(Vec<f32>, Vec<f32>)> = Vec::with_capacity(layers.len());
            for k in (0..layers.len()).rev() {
                let l = &layers[k];
                let input = &acts[k];
                let mut gw = vec![0f32; l.weights.len()];
                gemm(l.outputs, rows, l.inputs, (&delta, 1, l.outputs), (input, l.inputs, 1), &mut gw);
                let mut gb = vec![0f32; l.outputs];
                for row in delta.chunks_exact(l.outputs) {
                    gb.iter_mut().zip(row).for_each(|(g, d)| *g += d);
                }
                grads.push((gw, gb));
                if k > 0 || attention.is_some() {
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
            step += 1;
            for ((l, (gw, gb)), (aw, ab)) in layers.iter_mut().zip(&grads).zip(adam.iter_mut()) {
                adam_step(&mut l.weights, gw, aw, o.learning_rate, o.l2, step);
                adam_step(&mut l.bias, gb, ab, o.learning_rate, 0.0, step);
            }
            if let Some(att) = attention.as_mut() {
                // delta now holds the gradient of each row's input; its tail is the attention pools'
                // (through the standardisation)
                let mut grad = vec![0f32; att.width()];
                for (r, p) in pooled.iter().enumerate() {
                    let p = p.as_ref().expect("pooled under attention");
                    let d: Vec<f32> = delta[r * dim + fixed_dim..(r + 1) * dim].iter().zip(&sigma[fixed_dim..]).map(|(d, s)| d / s).collect();
                    att.backward(p, &d, &mut grad);
                }
                adam_step(&mut att.attention.queries, &grad, &mut att.adam, o.learning_rate, 0.0, step);
            }
            if o.average_weights && epoch > 0 {
                let queries = attention.as_ref().map(|a| a.attention.queries.as_slice());
                averaged.get_or_insert_with(|| Averaged::new(&layers, queries)).add(&layers, queries);
            }
        }
        // validation sees the averaged weights, training goes on from its own
        if let Some(a) = averaged.as_mut() {
            a.swap(&mut layers, attention.as_mut());
        }
        if !val_y.is_empty() {
            let val_x = inputs_of(val_idx, attention.as_ref());
            let hits = predict_batch(&layers, &val_x, dim).iter().zip(&val_y).filter(|(p, y)| p == y).count();
            let acc = hits as f64 / val_y.len() as f64;
            if best.as_ref().map(|b| acc > b.0).unwrap_or(true) {
                best = Some((acc, layers.clone(), attention.as_ref().map(|a| a.attention.clone()), epoch + 1));
            }
        }
        if let Some(a) = averaged.as_mut() {
            a.swap(&mut layers, attention.as_mut());
        }
    }
    if let Some(a) = averaged.as_mut() {
        a.swap(&mut layers, attention.as_mut());
    }
    let best_epoch = match best {
        Some((_, l, a, e)) => {
            layers = l;
            if let (Some(att), Some(a)) = (attention.as_mut(), a) {
                att.attention = a;
            }
            e
        }
        None => o.epochs,
    };

    let val_x = inputs_of(val_idx, attention.as_ref());
    let metrics = validation_metrics(&predict_batch(&layers, &val_x, dim), &val_y, data.classes, class_names);
    let temperature = if o.calibrate && !val_y.is_empty() {
        let logits = val_x.chunks(1024 * dim).flat_map(|c| forward_batch(&layers, c, c.len() / dim).pop().expect("logits")).collect::<Vec<_>>();
        let t = best_temperature(&logits, &val_y, data.classes);
        let last = layers.last_mut().expect("a layer");
        last.weights.iter_mut().chain(last.bias.iter_mut()).for_each(|w| *w /= t);
        Some(t)
    } else {
        None
    };
    fold_standardisation(&mut layers[0], &mu, &sigma);
    let finite = |v: &[f32]| v.iter().all(|w| w.is_finite());
    if !layers.iter().all(|l| finite(&l.weights) && finite(&l.bias))
        || !attention.as_ref().is_none_or(|a| finite(&a.attention.queries))
    {
        return Err(Error::new(
            pgrx::PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
            "training diverged: the head's weights are not finite numbers, so nothing was stored",
        )
        .hint("Train again with a smaller learning_rate (or l2), or check the inputs for extreme values."));
    }
    let mut metrics = metrics;
    metrics["best_epoch"] = json!(best_epoch);
    if let Some(t) = temperature {
        metrics["temperature"] = json!(round4(t as f64));
    }
    metrics["training_rows"] = json!(train_idx.len());
    metrics["training_seconds"] = json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    Ok(Trained { layers, attention: attention.map(|a| a.attention), metrics })
}

/// The running mean of the head's parameters over training steps (stochastic weight averaging).
struct Averaged {
    layers: Vec<Layer>,
    queries: Option<Vec<f32>>,
    steps: usize,
}

impl Averaged {
    fn new(layers: &[Layer], queries: Option<&[f32]>) -> Self {
        Averaged { layers: layers.to_vec(), queries: queries.map(<[f32]>::to_vec), steps: 0 }
    }

    fn add(&mut self, layers: &[Layer], queries: Option<&[f32]>) {
        self.steps += 1;
        let n = self.steps as f32;
        let mean_in = |mean: &mut [f32], x: &[f32]| mean.iter_mut().zip(x).for_each(|(m, v)| *m += (v - *m) / n);
        for (m, l) in self.layers.iter_mut().zip(layers) {
            mean_in(&mut m.weights, &l.weights);
            mean_in(&mut m.bias, &l.bias);
        }
        if let (Some(m), Some(q)) = (self.queries.as_mut(), queries) {
            mean_in(m, q);
        }
    }

    /// Exchanges the averaged parameters with the trained ones.
    fn swap(&mut self, layers: &mut Vec<Layer>, attention: Option<&mut AttentionTraining>) {
        std::mem::swap(&mut self.layers, layers);
        if let (Some(q), Some(a)) = (self.queries.as_mut(), attention) {
            std::mem::swap(q, &mut a.attention.queries);
        }
    }
}

/// The temperature in [0.5, 10] (steps of 0.05) under which the softmax of `logits` (rows of
/// `classes`) gives the validation labels the lowest mean negative log-likelihood.
fn best_temperature(logits: &[f32], y: &[usize], classes: usize) -> f32 {
    let nll = |t: f32| -> f64 {
        logits
            .chunks_exact(classes)
            .zip(y)
            .map(|(z, &c)| {
                let scaled: Vec<f32> = z.iter().map(|v| v / t).collect();
                -(super::log_softmax(&scaled)[c] as f64)
            })
            .sum()
    };
    (10..=200).map(|i| i as f32 * 0.05).fold((1.0f32, f64::INFINITY), |best, t| {
        let v = nll(t);
        if v < best.1 { (t, v) } else { best }
    }).0
}

/// Per-column sums and sums of squares of the rows added, for standardisation.
struct ColumnStats {
    sum: Vec<f64>,
    sq: Vec<f64>,
    rows: usize,
}

impl ColumnStats {
    fn new(dim: usize) -> Self {
        ColumnStats { sum: vec![0.0; dim], sq: vec![0.0; dim], rows: 0 }
    }

    fn add(&mut self, row: &[f32]) {
        for ((s, q), &v) in self.sum.iter_mut().zip(&mut self.sq).zip(row) {
            *s += v as f64;
            *q += (v as f64) * (v as f64);
        }
        self.rows += 1;
    }

    /// Per-column mean and standard deviation (at least 1e-6).
    fn finish(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.rows.max(1) as f64;
        let mu = self.sum.iter().map(|m| (m / n) as f32).collect();
        let sigma = self.sq.iter().zip(&self.sum).map(|(s, m)| ((s / n - (m / n).powi(2)).max(0.0).sqrt() as f32).max(1e-6)).collect();
        (mu, sigma)
    }
}

/// Subnormal floats are hundreds of times slower on x86; gradients of confident rows and Adam's
/// decaying moments reach them after many epochs (training took 20× longer), so they become 0.
#[inline]
fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

fn adam_step(p: &mut [f32], g: &[f32], s: &mut Adam, lr: f32, l2: f32, t: i32) {
    let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    let c1 = 1.0 - b1.powi(t);
    let c2 = 1.0 - b2.powi(t);
    for i in 0..p.len() {
        let gi = g[i] + l2 * p[i];
        s.m[i] = flush_subnormal(b1 * s.m[i] + (1.0 - b1) * gi);
        s.v[i] = flush_subnormal(b2 * s.v[i] + (1.0 - b2) * gi * gi);
        p[i] -= lr * (s.m[i] / c1) / ((s.v[i] / c2).sqrt() + eps);
    }
}

/// C (m × n, row-major) = A (m × k) · B (k × n), each of A and B given as (values, row stride,
/// column stride), so that a transposed operand needs no copy. matrixmultiply picks the CPU's
/// vector instructions at run time; the result is the same on every run on the same machine.
fn gemm(m: usize, k: usize, n: usize, a: (&[f32], usize, usize), b: (&[f32], usize, usize), c: &mut [f32]) {
    let extent = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs + 1;
    if m == 0 || k == 0 || n == 0 {
        c.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    assert!(a.0.len() >= extent(m, k, a.1, a.2) && b.0.len() >= extent(k, n, b.1, b.2) && c.len() >= m * n);
    // SAFETY: the assertion above keeps every index the strides reach inside the slices.
    unsafe {
        matrixmultiply::sgemm(
            m, k, n, 1.0,
            a.0.as_ptr(), a.1 as isize, a.2 as isize,
            b.0.as_ptr(), b.1 as isize, b.2 as isize,
            0.0, c.as_mut_ptr(), n as isize, 1,
        );
    }
}

/// Every layer's input and the logits for `rows` rows of `x` (row-major): [x, h1, ..., logits].
fn forward_batch(layers: &[Layer], x: &[f32], rows: usize) -> Vec<Vec<f32>> {
    let mut acts = vec![x.to_vec()];
    for (k, l) in layers.iter().enumerate() {
        let mut z = vec![0f32; rows * l.outputs];
        gemm(rows, l.inputs, l.outputs, (acts.last().expect("input"), l.inputs, 1), (&l.weights, 1, l.inputs), &mut z);
        for row in z.chunks_exact_mut(l.outputs) {
            row.iter_mut().zip(&l.bias).for_each(|(v, b)| *v += b);
            if k + 1 < layers.len() {
                row.iter_mut().for_each(|v| *v = v.max(0.0));
            }
        }
        acts.push(z);
    }
    acts
}

/// The most likely class of each row of `x` (row-major, `dim` values per row).
fn predict_batch(layers: &[Layer], x: &[f32], dim: usize) -> Vec<usize> {
    let classes = layers.last().map_or(0, |l| l.outputs);
    x.chunks(1024 * dim)
        .flat_map(|chunk| {
            let logits = forward_batch(layers, chunk, chunk.len() / dim).pop().expect("logits");
            logits.chunks_exact(classes).map(super::argmax).collect::<Vec<_>>()
        })
        .collect()
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

/// Rewrites the first layer so that it takes raw features: W' = W / sigma, b' = b - W' . mu.
fn fold_standardisation(l: &mut Layer, mu: &[f32], sigma: &[f32]) {
    for (row, b) in l.weights.chunks_exact_mut(l.inputs).zip(l.bias.iter_mut()) {
        for ((w, m), s) in row.iter_mut().zip(mu).zip(sigma) {
            *w /= s;
            *b -= *w * m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heads::token_store;
    use crate::text::pooling;

    fn opts(model: &str) -> TrainOptions {
        TrainOptions::from_json(&json!({ "model": model, "epochs": 40, "validation_share": 0.25, "pooling": "mean" })).unwrap()
    }

    /// Two well separated blobs in 2-D are learned perfectly, and training twice gives the same weights.
    #[test]
    fn learns_separable_data_deterministically() {
        let mut rng = Rng::new(7);
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..200 {
            let c = i % 2;
            let centre = if c == 0 { -2.0 } else { 2.0 };
            x.push(centre + rng.uniform() - 0.5);
            x.push(rng.uniform() * 4.0);
            y.push(c);
        }
        let w = vec![1.0; 200];
        let names = vec!["a".to_string(), "b".to_string()];
        for model in ["logistic", "mlp"] {
            let data = Dataset { x: &x, dim: 2, tokens: None, y: &y, weight: &w, classes: 2 };
            let a = train(&data, &names, &opts(model), || {}).unwrap();
            let b = train(&data, &names, &opts(model), || {}).unwrap();
            assert_eq!(a.metrics["validation_accuracy"], json!(1.0), "{model}");
            assert_eq!(a.layers[0].weights, b.layers[0].weights);
            // the folded layer works on raw features
            assert_eq!(predict_batch(&a.layers, &[-2.0, 1.0, 2.0, 1.0], 2), vec![0, 1]);
        }
    }

    /// Rows whose features overflow the optimiser give an ERROR (22003), not a head of NaNs.
    #[test]
    fn divergence_is_an_error_not_a_head() {
        let x = vec![f32::MAX, -f32::MAX, f32::NAN, 1.0, -f32::MAX, f32::MAX, 1.0, f32::NAN];
        let y = vec![0, 1, 0, 1];
        let w = vec![1.0; 4];
        let names = vec!["a".to_string(), "b".to_string()];
        for model in ["logistic", "mlp"] {
            let data = Dataset { x: &x, dim: 2, tokens: None, y: &y, weight: &w, classes: 2 };
            let mut o = opts(model);
            o.validation_share = 0.0;
            let e = train(&data, &names, &o, || {}).err().expect("diverged training is refused");
            assert_eq!(e.code, pgrx::PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE, "{model}");
        }
    }

    /// Options beyond sane ranges are refused before any work.
    #[test]
    fn options_out_of_range_are_refused() {
        for bad in [json!({"l2": 1e308}), json!({"learning_rate": 1e30}), json!({"l2": -1}), json!({"learning_rate": -0.5})] {
            assert!(TrainOptions::from_json(&bad).is_err(), "{bad}");
        }
        assert!(TrainOptions::from_json(&json!({"l2": 0.01, "learning_rate": 0.5})).is_ok());
    }

    /// Not a timed assertion: prints how long the category-task shape takes
    /// (`cargo test --release --lib --no-default-features --features pg15 training_speed -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn training_speed() {
        let (n, dim) = (6800, 1152);
        let mut rng = Rng::new(3);
        let y: Vec<usize> = (0..n).map(|i| i % 4).collect();
        let x: Vec<f32> = (0..n * dim).map(|j| rng.uniform() + if j % dim == y[j / dim] { 1.0 } else { 0.0 }).collect();
        let w = vec![1.0; n];
        let names: Vec<String> = (0..4).map(|c| c.to_string()).collect();
        let data = Dataset { x: &x, dim, tokens: None, y: &y, weight: &w, classes: 4 };
        let o = TrainOptions::from_json(&json!({ "model": "mlp", "hidden": 256, "epochs": 60, "l2": 1e-3 })).unwrap();
        let t = Instant::now();
        let r = train(&data, &names, &o, || {}).unwrap();
        eprintln!("mlp 256 x 60 epochs on {n} x {dim}: {:.1} s, {}", t.elapsed().as_secs_f64(), r.metrics["validation_accuracy"]);
    }

    /// The queries' gradient of attention pooling agrees with finite differences of
    /// loss = d_pooled . pooled(queries).
    #[test]
    fn attention_gradient_matches_finite_differences() {
        let (dim, heads, len) = (4, 2, 5);
        let mut rng = Rng::new(11);
        let mut store = TokenStore::new(dim);
        let tokens: Vec<f32> = (0..len * dim).map(|_| rng.uniform() * 4.0 - 2.0).collect();
        store.push(&token_store::bfloat16(&tokens)).unwrap();
        let mut att = AttentionTraining::new(&store, heads, &mut rng);
        att.attention.queries = (0..heads * dim).map(|_| rng.uniform() - 0.5).collect();
        let d_pooled: Vec<f32> = (0..heads * dim).map(|_| rng.uniform() - 0.5).collect();
        let loss = |a: &AttentionTraining| -> f64 {
            a.forward(0).pooled.iter().zip(&d_pooled).map(|(p, d)| (*p as f64) * (*d as f64)).sum()
        };
        let mut grad = vec![0f32; heads * dim];
        att.backward(&att.forward(0), &d_pooled, &mut grad);
        for j in 0..heads * dim {
            let q = att.attention.queries[j];
            att.attention.queries[j] = q + 1e-2;
            let up = loss(&att);
            att.attention.queries[j] = q - 1e-2;
            let down = loss(&att);
            att.attention.queries[j] = q;
            let numeric = (up - down) / 2e-2;
            assert!((numeric - grad[j] as f64).abs() < 1e-2 * (1.0 + numeric.abs()), "{j}: {numeric} vs {}", grad[j]);
        }
    }

    /// A class marked by one token among many is learnt through attention pooling, and training
    /// twice gives the same queries.
    #[test]
    fn attention_pooling_learns_a_marked_token() {
        let dim = 8;
        let mut rng = Rng::new(5);
        let mut store = TokenStore::new(dim);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..300 {
            let c = i % 2;
            let mut tokens: Vec<f32> = (0..12 * dim).map(|_| rng.uniform() - 0.5).collect();
            // class 1 has one token pointing along the last axis
            if c == 1 {
                let t = 1 + (rng.next_u64() % 10) as usize;
                tokens[t * dim + dim - 1] = 4.0;
            }
            store.push(&token_store::bfloat16(&tokens)).unwrap();
            x.extend(pooling::mean(&tokens, dim));
            y.push(c);
        }
        let w = vec![1.0; y.len()];
        let names = vec!["a".to_string(), "b".to_string()];
        let o = TrainOptions::from_json(&json!({ "model": "mlp", "hidden": 16, "epochs": 40, "batch_size": 16, "learning_rate": 0.01, "validation_share": 0.25, "pooling": "attention", "heads": 2 })).unwrap();
        let data = Dataset { x: &x, dim, tokens: Some((&store, 2)), y: &y, weight: &w, classes: 2 };
        let a = train(&data, &names, &o, || {}).unwrap();
        let b = train(&data, &names, &o, || {}).unwrap();
        assert!(a.metrics["validation_accuracy"].as_f64().unwrap() >= 0.95, "{}", a.metrics);
        assert_eq!(a.attention.as_ref().unwrap().queries, b.attention.as_ref().unwrap().queries);
        assert_eq!(a.layers[0].inputs, 3 * dim);
    }

    /// Overconfident logits are cooled, well calibrated ones kept.
    #[test]
    fn temperature_fits_the_validation_rows() {
        // right 3 times in 4 with logits that claim ~100% certainty: the temperature must rise
        let logits = [4.0, -4.0, 4.0, -4.0, 4.0, -4.0, 4.0, -4.0];
        let t = best_temperature(&logits, &[0, 0, 0, 1], 2);
        // the best softmax probability is 0.75: 8 / t = ln 3
        assert!((t - 8.0 / 3f32.ln()).abs() < 0.05, "{t}");
        // always right with modest logits: colder is better, down to the lower bound
        assert_eq!(best_temperature(&[1.0, -1.0], &[0], 2), 0.5);
    }

    /// The averaged parameters are the mean of those added, and swapping twice restores both.
    #[test]
    fn weight_averaging_keeps_the_mean_of_every_step() {
        let layer = |w: f32| Layer { inputs: 2, outputs: 1, weights: vec![w, -w], bias: vec![w / 2.0] };
        let mut a = Averaged::new(&[layer(9.0)], None);
        for w in [1.0, 2.0, 6.0] {
            a.add(&[layer(w)], None);
        }
        assert_eq!(a.layers[0].weights, vec![3.0, -3.0]);
        assert_eq!(a.layers[0].bias, vec![1.5]);
        let mut trained = vec![layer(6.0)];
        a.swap(&mut trained, None);
        assert_eq!(trained[0].weights, vec![3.0, -3.0]);
        a.swap(&mut trained, None);
        assert_eq!(trained[0].weights, vec![6.0, -6.0]);
    }

    /// Averaged training learns the same separable task, deterministically, and its head is not
    /// the last step's.
    #[test]
    fn averaged_training_learns_deterministically() {
        let mut rng = Rng::new(3);
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..400 {
            let c = i % 2;
            x.push(if c == 0 { -1.0 } else { 1.0 } + rng.uniform() * 1.6 - 0.8);
            x.push(rng.uniform() * 4.0);
            y.push(c);
        }
        let w = vec![1.0; y.len()];
        let names = vec!["a".to_string(), "b".to_string()];
        let data = Dataset { x: &x, dim: 2, tokens: None, y: &y, weight: &w, classes: 2 };
        let with = |avg: bool| {
            let o = TrainOptions::from_json(&json!({ "model": "mlp", "hidden": 8, "epochs": 10, "batch_size": 16, "learning_rate": 0.01, "validation_share": 0, "average_weights": avg })).unwrap();
            train(&data, &names, &o, || {}).unwrap()
        };
        let (a, b, plain) = (with(true), with(true), with(false));
        assert_eq!(a.layers[0].weights, b.layers[0].weights);
        assert_ne!(a.layers[0].weights, plain.layers[0].weights);
        assert_eq!(predict_batch(&a.layers, &[-1.5, 1.0, 1.5, 1.0], 2), vec![0, 1]);
    }

    #[test]
    fn rejects_unknown_options() {
        assert!(TrainOptions::from_json(&json!({ "epoch": 3 })).is_err());
        assert!(TrainOptions::from_json(&json!({ "model": "svm" })).is_err());
        assert!(TrainOptions::from_json(&json!([])).is_err());
    }
}
