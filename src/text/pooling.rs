//! Pooling of token vectors into sentence features. Pure functions over plain slices, so they
//! are unit-tested without a database. `tokens` always holds one text's real tokens only,
//! row by row (`len * dim` values, [CLS] first).

use crate::numeric::{dot, normalize};

/// The L2-normalised mean of a sequence's token vectors (zeros for no tokens): the sentence
/// embedding, and the mean of `pool`.
pub fn mean(tokens: &[f32], dim: usize) -> Vec<f32> {
    let mut mean = vec![0f32; dim];
    let mut count = 0f32;
    for row in tokens.chunks_exact(dim) {
        count += 1.0;
        mean.iter_mut().zip(row).for_each(|(m, &h)| *m += h);
    }
    if count > 0.0 {
        mean.iter_mut().for_each(|m| *m /= count);
    }
    normalize(&mut mean);
    mean
}

/// Mean, max and first-token ([CLS]) pooling of one sequence, each L2-normalised.
pub fn pool(tokens: &[f32], dim: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut max = vec![f32::NEG_INFINITY; dim];
    for row in tokens.chunks_exact(dim) {
        max.iter_mut().zip(row).for_each(|(x, &h)| *x = x.max(h));
    }
    if tokens.len() < dim {
        max.iter_mut().for_each(|x| *x = 0.0);
    }
    let mut cls = tokens.get(..dim).map(<[f32]>::to_vec).unwrap_or_else(|| vec![0.0; dim]);
    normalize(&mut max);
    normalize(&mut cls);
    (mean(tokens, dim), max, cls)
}

/// Attention weights of `heads` learnt queries over one sequence: for each token and query,
/// the softmax over the tokens of (query · token). Returned token-major (`len * heads`).
pub fn attention_weights(tokens: &[f32], dim: usize, queries: &[f32], heads: usize) -> Vec<f32> {
    let len = tokens.len() / dim;
    let mut w = vec![0f32; len * heads];
    for (t, row) in tokens.chunks_exact(dim).enumerate() {
        for (k, q) in queries.chunks_exact(dim).enumerate() {
            w[t * heads + k] = dot(row, q);
        }
    }
    for k in 0..heads {
        let max = (0..len).map(|t| w[t * heads + k]).fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0f32;
        for t in 0..len {
            let e = (w[t * heads + k] - max).exp();
            w[t * heads + k] = e;
            sum += e;
        }
        for t in 0..len {
            w[t * heads + k] /= sum;
        }
    }
    w
}

/// Attention pooling: for each query, the weighted sum of the tokens (see `attention_weights`);
/// `heads * dim` values, query by query.
pub fn attend(tokens: &[f32], dim: usize, weights: &[f32], heads: usize) -> Vec<f32> {
    let mut out = vec![0f32; heads * dim];
    for (t, row) in tokens.chunks_exact(dim).enumerate() {
        for k in 0..heads {
            let a = weights[t * heads + k];
            out[k * dim..(k + 1) * dim].iter_mut().zip(row).for_each(|(o, &h)| *o += a * h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_max_and_cls_pooling() {
        // two real tokens and one padding token of dimension 2
        let tokens = [1.0, 0.0, 0.0, 1.0];
        let (mean, max, cls) = pool(&tokens, 2);
        let s = 1.0 / 2f32.sqrt();
        assert!((mean[0] - s).abs() < 1e-6 && (mean[1] - s).abs() < 1e-6);
        assert!((max[0] - s).abs() < 1e-6 && (max[1] - s).abs() < 1e-6);
        assert_eq!(cls, vec![1.0, 0.0]);
        // no tokens: zeros, not NaN or -inf
        let (mean, max, cls) = pool(&[], 2);
        assert!([mean, max, cls].iter().all(|v| v == &vec![0.0, 0.0]));
    }

    #[test]
    fn attention_follows_the_query() {
        // two tokens; a query along the first axis puts almost all weight on the first token
        let tokens = [10.0, 0.0, 0.0, 10.0];
        let w = attention_weights(&tokens, 2, &[1.0, 0.0, 0.0, 0.0], 2);
        assert!(w[0] > 0.999 && w[2] < 0.001, "{w:?}");
        // the zero query weighs both tokens equally: its pool is the mean
        assert!((w[1] - 0.5).abs() < 1e-6 && (w[3] - 0.5).abs() < 1e-6);
        let p = attend(&tokens, 2, &w, 2);
        assert!((p[0] - 10.0).abs() < 0.02 && p[1].abs() < 0.02);
        assert!((p[2] - 5.0).abs() < 1e-5 && (p[3] - 5.0).abs() < 1e-5);
    }
}
