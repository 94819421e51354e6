//! Numeric helpers every domain module shares: vector products, softmax, rounding for reports
//! and the seeded random generator. Pure functions over slices, unit-tested here.

/// Dot product of two equally long vectors. Summed in 16 independent lanes: a plain running sum
/// is one dependent add after another that the compiler may not reorder (floats), so it runs
/// scalar; lanes let it use SIMD registers (the head's 3072-wide layer was 5% of a query).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let (xs, ys) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = xs.remainder().iter().zip(ys.remainder()).map(|(x, y)| x * y).sum();
    let mut lanes = [0f32; LANES];
    for (x, y) in xs.zip(ys) {
        for i in 0..LANES {
            lanes[i] += x[i] * y[i];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

/// L2-normalises in place; a zero vector stays zero.
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The normalised mean of unit vectors of one length: the direction several embeddings of one
/// thing share (an article asked for in several ways). None for no vectors; one vector is
/// returned as it is.
pub fn centroid(vectors: &[Vec<f32>]) -> Option<Vec<f32>> {
    let first = vectors.first()?;
    if vectors.len() == 1 {
        return Some(first.clone());
    }
    let mut mean = vec![0f32; first.len()];
    for v in vectors {
        for (m, x) in mean.iter_mut().zip(v) {
            *m += x;
        }
    }
    normalize(&mut mean);
    Some(mean)
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

/// Rounded to four decimals, as every probability, score and weight the SQL functions report.
pub fn round4(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

/// Index of the largest value, the first of equals; 0 for an empty slice.
pub fn argmax<T: PartialOrd>(v: &[T]) -> usize {
    (0..v.len()).fold(0, |b, i| if v[i] > v[b] { i } else { b })
}

pub fn log_softmax(z: &[f32]) -> Vec<f32> {
    let m = z.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
    let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
    z.iter().map(|v| v - lse).collect()
}

pub fn softmax(z: &[f32]) -> Vec<f32> {
    log_softmax(z).into_iter().map(f32::exp).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroid_is_the_unit_mean_direction() {
        assert_eq!(centroid(&[]), None);
        assert_eq!(centroid(&[vec![0.6, 0.8]]), Some(vec![0.6, 0.8]));
        let c = centroid(&[vec![1.0, 0.0], vec![0.0, 1.0]]).unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((c[0] - h).abs() < 1e-6 && (c[1] - h).abs() < 1e-6);
    }

    #[test]
    fn dot_matches_the_plain_sum_at_every_length() {
        for n in [0, 1, 15, 16, 17, 384, 3072 + 5] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
            let b: Vec<f32> = (0..n).map(|i| ((i * 5 % 11) as f32 - 5.0) / 4.0).collect();
            let plain: f64 = a.iter().zip(&b).map(|(x, y)| (*x as f64) * (*y as f64)).sum();
            assert!((dot(&a, &b) as f64 - plain).abs() < 1e-3, "length {n}");
        }
    }

    #[test]
    fn cosine_of_parallel_and_orthogonal_vectors() {
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 3.0]).abs() < 1e-6);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] < p[1] && p[1] < p[2]);
        let big = softmax(&[1000.0, 0.0]);
        assert!((big[0] - 1.0).abs() < 1e-6);
    }
}
