//! Stochastic weight averaging: the running mean of the head's parameters over the steps.

use super::attention::AttentionTraining;
use crate::heads::Layer;

/// The running mean of the head's parameters over training steps (stochastic weight averaging).
pub struct Averaged {
    pub layers: Vec<Layer>,
    queries: Option<Vec<f32>>,
    steps: usize,
}

impl Averaged {
    pub fn new(layers: &[Layer], queries: Option<&[f32]>) -> Self {
        Averaged { layers: layers.to_vec(), queries: queries.map(<[f32]>::to_vec), steps: 0 }
    }

    pub fn add(&mut self, layers: &[Layer], queries: Option<&[f32]>) {
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
    pub fn swap(&mut self, layers: &mut Vec<Layer>, attention: Option<&mut AttentionTraining>) {
        std::mem::swap(&mut self.layers, layers);
        if let (Some(q), Some(a)) = (self.queries.as_mut(), attention) {
            std::mem::swap(q, &mut a.attention.queries);
        }
    }
}

