//! Training of classifier heads: softmax regression (one layer) or a one-hidden-layer MLP,
//! L2-regularised, mini-batch Adam, features standardised during training and the scaling folded
//! back into the first layer. Deterministic for a given seed: rows are put in a canonical order
//! by the caller and every random choice comes from one seeded generator.

use std::time::Instant;

use serde::Serialize;
use serde_json::{json, Value};

use super::{round4, Layer, Pooling, Scoring};
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
    pub pooling: Pooling,
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
            pooling: Pooling::MeanMaxCls,
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
                "pooling" => o.pooling = Pooling::parse(val.as_str().ok_or_else(bad)?)?,
                "scoring" => o.scoring = Scoring::parse(val.as_str().ok_or_else(bad)?)?,
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "unknown option \"{k}\"; known: model, hidden, l2, epochs, learning_rate, \
                         batch_size, seed, validation_share, pooling, scoring"
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

/// Training rows: features row-major, labels as class indices, optional per-row weights.
pub struct Dataset<'a> {
    pub x: &'a [f32],
    pub dim: usize,
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
    pub metrics: Value,
}

struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

/// Trains and reports validation metrics (on the held-out share, never trained on).
pub fn train(data: &Dataset, class_names: &[String], o: &TrainOptions, mut interrupt: impl FnMut()) -> Result<Trained> {
    let started = Instant::now();
    let n = data.y.len();
    let dim = data.dim;
    let mut rng = Rng::new(o.seed);
    let mut idx: Vec<usize> = (0..n).collect();
    rng.shuffle(&mut idx);
    let n_val = ((n as f64) * o.validation_share).round() as usize;
    let (val_idx, train_idx) = idx.split_at(n_val);
    let mut train_idx = train_idx.to_vec();
    if train_idx.is_empty() {
        return Err(Error::invalid_parameter("no training rows are left after the validation share"));
    }

    // standardise with training-row statistics
    let mut mean = vec![0f64; dim];
    let mut sq = vec![0f64; dim];
    for &i in &train_idx {
        for (j, &v) in data.x[i * dim..(i + 1) * dim].iter().enumerate() {
            mean[j] += v as f64;
            sq[j] += (v as f64) * (v as f64);
        }
    }
    let nt = train_idx.len() as f64;
    let mu: Vec<f32> = mean.iter().map(|m| (m / nt) as f32).collect();
    let sigma: Vec<f32> = sq
        .iter()
        .zip(&mean)
        .map(|(s, m)| ((s / nt - (m / nt).powi(2)).max(0.0).sqrt() as f32).max(1e-6))
        .collect();
    let standardise = |i: usize| -> Vec<f32> {
        data.x[i * dim..(i + 1) * dim].iter().zip(&mu).zip(&sigma).map(|((v, m), s)| (v - m) / s).collect()
    };

    let sizes: Vec<usize> = if o.model == "mlp" { vec![dim, o.hidden, data.classes] } else { vec![dim, data.classes] };
    let mut layers: Vec<Layer> = sizes
        .windows(2)
        .map(|w| {
            let limit = (6.0 / w[0] as f32).sqrt();
            let weights = (0..w[0] * w[1]).map(|_| if sizes.len() > 2 { (rng.uniform() * 2.0 - 1.0) * limit } else { 0.0 }).collect();
            Layer { inputs: w[0], outputs: w[1], weights, bias: vec![0.0; w[1]] }
        })
        .collect();
    let mut adam: Vec<(Adam, Adam)> = layers
        .iter()
        .map(|l| {
            (Adam { m: vec![0.0; l.weights.len()], v: vec![0.0; l.weights.len()] }, Adam { m: vec![0.0; l.outputs], v: vec![0.0; l.outputs] })
        })
        .collect();

    let val_x: Vec<f32> = val_idx.iter().flat_map(|&i| standardise(i)).collect();
    let val_y: Vec<usize> = val_idx.iter().map(|&i| data.y[i]).collect();
    let mut best: Option<(f64, Vec<Layer>, usize)> = None;
    let mut step = 0i32;
    let mut xb: Vec<f32> = Vec::with_capacity(o.batch_size * dim);
    for epoch in 0..o.epochs {
        interrupt();
        rng.shuffle(&mut train_idx);
        for batch in train_idx.chunks(o.batch_size) {
            let rows = batch.len();
            xb.clear();
            for &i in batch {
                xb.extend(standardise(i));
            }
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
                if k > 0 {
                    let mut prev = vec![0f32; rows * l.inputs];
                    gemm(rows, l.outputs, l.inputs, (&delta, l.outputs, 1), (&l.weights, l.inputs, 1), &mut prev);
                    // ReLU derivative of the hidden layer
                    prev.iter_mut().zip(input).for_each(|(p, &a)| if a <= 0.0 { *p = 0.0 });
                    delta = prev;
                }
            }
            grads.reverse();
            step += 1;
            for ((l, (gw, gb)), (aw, ab)) in layers.iter_mut().zip(&grads).zip(adam.iter_mut()) {
                adam_step(&mut l.weights, gw, aw, o.learning_rate, o.l2, step);
                adam_step(&mut l.bias, gb, ab, o.learning_rate, 0.0, step);
            }
        }
        if !val_y.is_empty() {
            let hits = predict_batch(&layers, &val_x, dim).iter().zip(&val_y).filter(|(p, y)| p == y).count();
            let acc = hits as f64 / val_y.len() as f64;
            if best.as_ref().map(|b| acc > b.0).unwrap_or(true) {
                best = Some((acc, layers.clone(), epoch + 1));
            }
        }
    }
    let best_epoch = match best {
        Some((_, l, e)) => {
            layers = l;
            e
        }
        None => o.epochs,
    };

    let metrics = validation_metrics(&predict_batch(&layers, &val_x, dim), &val_y, data.classes, class_names);
    fold_standardisation(&mut layers[0], &mu, &sigma);
    let mut metrics = metrics;
    metrics["best_epoch"] = json!(best_epoch);
    metrics["training_rows"] = json!(train_idx.len());
    metrics["training_seconds"] = json!((started.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    Ok(Trained { layers, metrics })
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
            let data = Dataset { x: &x, dim: 2, y: &y, weight: &w, classes: 2 };
            let a = train(&data, &names, &opts(model), || {}).unwrap();
            let b = train(&data, &names, &opts(model), || {}).unwrap();
            assert_eq!(a.metrics["validation_accuracy"], json!(1.0), "{model}");
            assert_eq!(a.layers[0].weights, b.layers[0].weights);
            // the folded layer works on raw features
            assert_eq!(predict_batch(&a.layers, &[-2.0, 1.0, 2.0, 1.0], 2), vec![0, 1]);
        }
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
        let data = Dataset { x: &x, dim, y: &y, weight: &w, classes: 4 };
        let o = TrainOptions::from_json(&json!({ "model": "mlp", "hidden": 256, "epochs": 60, "l2": 1e-3 })).unwrap();
        let t = Instant::now();
        let r = train(&data, &names, &o, || {}).unwrap();
        eprintln!("mlp 256 x 60 epochs on {n} x {dim}: {:.1} s, {}", t.elapsed().as_secs_f64(), r.metrics["validation_accuracy"]);
    }

    #[test]
    fn rejects_unknown_options() {
        assert!(TrainOptions::from_json(&json!({ "epoch": 3 })).is_err());
        assert!(TrainOptions::from_json(&json!({ "model": "svm" })).is_err());
        assert!(TrainOptions::from_json(&json!([])).is_err());
    }
}
