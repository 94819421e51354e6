//! Unit tests of training: determinism, divergence, options, gradients, averaging, calibration.

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
        let a = train(&data, &names, &opts(model), |_| {}).unwrap();
        let b = train(&data, &names, &opts(model), |_| {}).unwrap();
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
        let e = train(&data, &names, &o, |_| {}).err().expect("diverged training is refused");
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
    let r = train(&data, &names, &o, |_| {}).unwrap();
    eprintln!("mlp 256 x 60 epochs on {n} x {dim}: {:.1} s, {}", t.elapsed().as_secs_f64(), r.metrics["validation_accuracy"]);
}

/// The queries' gradient of attention pooling agrees with finite differences of
/// loss = d_pooled . pooled(queries).
#[test]
fn attention_gradient_matches_finite_differences() {
    let (dim, heads, len) = (4, 2, 5);
    let mut rng = Rng::new(11);
    let mut store = TokenStore::new(dim, token_store::MIN_TOKEN_LIMIT);
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
    let mut store = TokenStore::new(dim, token_store::MIN_TOKEN_LIMIT);
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
    let a = train(&data, &names, &o, |_| {}).unwrap();
    let b = train(&data, &names, &o, |_| {}).unwrap();
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
        train(&data, &names, &o, |_| {}).unwrap()
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

#[test]
fn training_reports_every_epoch_as_a_step() {
    let x = vec![0.0f32, 1.0, 1.0, 0.0, 0.1, 0.9, 0.9, 0.1];
    let y = vec![0usize, 1, 0, 1];
    let w = vec![1.0; 4];
    let names = vec!["a".to_string(), "b".to_string()];
    let data = Dataset { x: &x, dim: 2, tokens: None, y: &y, weight: &w, classes: 2 };
    let o = TrainOptions::from_json(&json!({ "epochs": 4, "validation_share": 0, "pooling": "mean" })).unwrap();
    let mut steps = Vec::new();
    train(&data, &names, &o, |s| steps.push(s.to_string())).unwrap();
    assert_eq!(steps, ["epoch 1 of 4", "epoch 2 of 4", "epoch 3 of 4", "epoch 4 of 4"]);
}
