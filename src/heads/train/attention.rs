//! Attention pooling while its queries are trained: the forward pass of one row's pools and the
//! queries' gradient through the softmax over tokens.

use super::optimiser::{gemm, Adam};
use crate::heads::token_store::TokenStore;
use crate::heads::Attention;
use crate::numeric::Rng;

/// Attention pooling while its queries are trained. Its pools are standardised like fixed
/// features, with the statistics of the training rows' token vectors (a pool is a convex
/// combination of tokens, so that is an affine map, folded into the first layer at the end).
pub struct AttentionTraining<'a> {
    store: &'a TokenStore,
    pub attention: Attention,
    pub adam: Adam,
}

/// One row's attention pools and what their backward pass needs.
pub struct Pooled {
    pub pooled: Vec<f32>,
    tokens: Vec<f32>,
    weights: Vec<f32>,
}

impl<'a> AttentionTraining<'a> {
    pub fn new(store: &'a TokenStore, heads: usize, rng: &mut Rng) -> Self {
        // small queries: training starts from (nearly) mean pooling
        let queries = (0..heads * store.dim()).map(|_| (rng.uniform() * 2.0 - 1.0) * 0.01).collect();
        AttentionTraining { store, attention: Attention { heads, queries }, adam: Adam::new(heads * store.dim()) }
    }

    pub fn width(&self) -> usize {
        self.attention.heads * self.store.dim()
    }

    pub fn forward(&self, i: usize) -> Pooled {
        let tokens = self.store.row(i);
        let (pooled, weights) = self.attention.pool(&tokens, self.store.dim());
        Pooled { pooled, tokens, weights }
    }

    /// Adds the queries' gradient given the gradient of the row's attention pools.
    pub fn backward(&self, row: &Pooled, d_pooled: &[f32], grad: &mut [f32]) {
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

