//! Pooling of token vectors into sentence features. Pure functions over plain slices, so they
//! are unit-tested without a database.

/// L2-normalises in place; a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Mean, max and first-token ([CLS]) pooling of one sequence, each L2-normalised.
/// `hidden` holds `seq_len * dim` values row by row; `mask` marks the real tokens.
pub fn pool(hidden: &[f32], mask: &[i64], dim: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut mean = vec![0f32; dim];
    let mut max = vec![f32::NEG_INFINITY; dim];
    let mut count = 0f32;
    for (t, row) in hidden.chunks_exact(dim).enumerate() {
        if mask.get(t).copied().unwrap_or(0) == 0 {
            continue;
        }
        count += 1.0;
        for ((m, x), &h) in mean.iter_mut().zip(max.iter_mut()).zip(row) {
            *m += h;
            *x = x.max(h);
        }
    }
    if count == 0.0 {
        max.iter_mut().for_each(|x| *x = 0.0);
    } else {
        mean.iter_mut().for_each(|m| *m /= count);
    }
    let mut cls = hidden[..dim].to_vec();
    normalize(&mut mean);
    normalize(&mut max);
    normalize(&mut cls);
    (mean, max, cls)
}

/// Cosine similarity of two equally long vectors; 0 when either is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        dot += x as f64 * y as f64;
        na += x as f64 * x as f64;
        nb += y as f64 * y as f64;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        (dot / (na.sqrt() * nb.sqrt())) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_pooling_ignores_masked_tokens() {
        // two real tokens and one padding token of dimension 2
        let hidden = [1.0, 0.0, 0.0, 1.0, 100.0, 100.0];
        let (mean, max, cls) = pool(&hidden, &[1, 1, 0], 2);
        let s = 1.0 / 2f32.sqrt();
        assert!((mean[0] - s).abs() < 1e-6 && (mean[1] - s).abs() < 1e-6);
        assert!((max[0] - s).abs() < 1e-6 && (max[1] - s).abs() < 1e-6);
        assert_eq!(cls, vec![1.0, 0.0]);
    }

    #[test]
    fn cosine_of_parallel_and_orthogonal_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }
}
