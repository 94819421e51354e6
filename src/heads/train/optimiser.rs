//! The arithmetic of training: Adam, matrix products, and the forward pass of a batch.

use crate::heads::Layer;
use crate::numeric::argmax;

pub struct Adam {
    m: Vec<f32>,
    v: Vec<f32>,
}

impl Adam {
    pub fn new(len: usize) -> Self {
        Adam { m: vec![0.0; len], v: vec![0.0; len] }
    }
}

/// Subnormal floats are hundreds of times slower on x86; gradients of confident rows and Adam's
/// decaying moments reach them after many epochs (training took 20× longer), so they become 0.
#[inline]
pub fn flush_subnormal(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

pub fn adam_step(p: &mut [f32], g: &[f32], s: &mut Adam, lr: f32, l2: f32, t: i32) {
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
pub fn gemm(m: usize, k: usize, n: usize, a: (&[f32], usize, usize), b: (&[f32], usize, usize), c: &mut [f32]) {
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
pub fn forward_batch(layers: &[Layer], x: &[f32], rows: usize) -> Vec<Vec<f32>> {
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
pub fn predict_batch(layers: &[Layer], x: &[f32], dim: usize) -> Vec<usize> {
    let classes = layers.last().map_or(0, |l| l.outputs);
    x.chunks(1024 * dim)
        .flat_map(|chunk| {
            let logits = forward_batch(layers, chunk, chunk.len() / dim).pop().expect("logits");
            logits.chunks_exact(classes).map(argmax).collect::<Vec<_>>()
        })
        .collect()
}

