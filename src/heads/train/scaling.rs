//! The two rescalings around training: features standardised with the training rows'
//! statistics (and that scaling folded back into the first layer at the end), and the
//! temperature that calibrates the probabilities on the validation rows.

use crate::heads::Layer;
use crate::numeric::log_softmax;

/// Per-column sums and sums of squares of the rows added, for standardisation.
pub struct ColumnStats {
    sum: Vec<f64>,
    sq: Vec<f64>,
    rows: usize,
}

impl ColumnStats {
    pub fn new(dim: usize) -> Self {
        ColumnStats { sum: vec![0.0; dim], sq: vec![0.0; dim], rows: 0 }
    }

    pub fn add(&mut self, row: &[f32]) {
        for ((s, q), &v) in self.sum.iter_mut().zip(&mut self.sq).zip(row) {
            *s += v as f64;
            *q += (v as f64) * (v as f64);
        }
        self.rows += 1;
    }

    /// Per-column mean and standard deviation (at least 1e-6).
    pub fn finish(&self) -> (Vec<f32>, Vec<f32>) {
        let n = self.rows.max(1) as f64;
        let mu = self.sum.iter().map(|m| (m / n) as f32).collect();
        let sigma = self.sq.iter().zip(&self.sum).map(|(s, m)| ((s / n - (m / n).powi(2)).max(0.0).sqrt() as f32).max(1e-6)).collect();
        (mu, sigma)
    }
}

/// Rewrites the first layer so that it takes raw features: W' = W / sigma, b' = b - W' . mu.
pub fn fold_standardisation(l: &mut Layer, mu: &[f32], sigma: &[f32]) {
    for (row, b) in l.weights.chunks_exact_mut(l.inputs).zip(l.bias.iter_mut()) {
        for ((w, m), s) in row.iter_mut().zip(mu).zip(sigma) {
            *w /= s;
            *b -= *w * m;
        }
    }
}

/// The temperature in [0.5, 10] (steps of 0.05) under which the softmax of `logits` (rows of
/// `classes`) gives the validation labels the lowest mean negative log-likelihood.
pub fn best_temperature(logits: &[f32], y: &[usize], classes: usize) -> f32 {
    let nll = |t: f32| -> f64 {
        logits
            .chunks_exact(classes)
            .zip(y)
            .map(|(z, &c)| {
                let scaled: Vec<f32> = z.iter().map(|v| v / t).collect();
                -(log_softmax(&scaled)[c] as f64)
            })
            .sum()
    };
    (10..=200).map(|i| i as f32 * 0.05).fold((1.0f32, f64::INFINITY), |best, t| {
        let v = nll(t);
        if v < best.1 { (t, v) } else { best }
    }).0
}

