//! k-means with k-means++ initialisation (Arthur and Vassilvitskii, 2007) and Lloyd iterations.
//! Deterministic: the same points in the same order with the same seed give the same clusters.

use crate::numeric::Rng;

pub struct Clustering {
    pub centroids: Vec<Vec<f32>>,
    pub assignment: Vec<usize>,
    pub iterations: usize,
    /// Sum of squared distances of the points to their centroids.
    pub inertia: f64,
}

fn distance2(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum()
}

fn uniform(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// k-means++: the first centre uniformly, each next one with probability proportional to its
/// squared distance from the nearest centre chosen so far.
fn initial_centres(points: &[Vec<f32>], k: usize, rng: &mut Rng) -> Vec<Vec<f32>> {
    let n = points.len();
    let mut centres = vec![points[(rng.next_u64() % n as u64) as usize].clone()];
    let mut nearest: Vec<f64> = points.iter().map(|p| distance2(p, &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let next = if total > 0.0 {
            let mut target = uniform(rng) * total;
            let mut chosen = n - 1;
            for (i, d) in nearest.iter().enumerate() {
                if target < *d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            // fewer distinct points than k: any point will do
            (rng.next_u64() % n as u64) as usize
        };
        centres.push(points[next].clone());
        for (i, p) in points.iter().enumerate() {
            nearest[i] = nearest[i].min(distance2(p, &centres[centres.len() - 1]));
        }
    }
    centres
}

fn nearest_centre(p: &[f32], centres: &[Vec<f32>]) -> (usize, f64) {
    centres
        .iter()
        .enumerate()
        .map(|(c, centre)| (c, distance2(p, centre)))
        .fold((0, f64::INFINITY), |best, x| if x.1 < best.1 { x } else { best })
}

/// Clusters `points` (all of one dimension, at least `k` of them) into `k` groups.
pub fn kmeans(points: &[Vec<f32>], k: usize, seed: u64, max_iterations: usize, mut interrupt: impl FnMut()) -> Clustering {
    assert!(k >= 1 && points.len() >= k, "k-means needs at least k points");
    let dim = points[0].len();
    let mut rng = Rng::new(seed);
    let mut centres = initial_centres(points, k, &mut rng);
    let mut assignment = vec![usize::MAX; points.len()];
    let mut iterations = 0;
    while iterations < max_iterations {
        interrupt();
        iterations += 1;
        let mut changed = false;
        for (i, p) in points.iter().enumerate() {
            let (c, _) = nearest_centre(p, &centres);
            if assignment[i] != c {
                assignment[i] = c;
                changed = true;
            }
        }
        if !changed {
            break;
        }
        let mut sums = vec![vec![0f64; dim]; k];
        let mut counts = vec![0usize; k];
        for (p, &c) in points.iter().zip(&assignment) {
            counts[c] += 1;
            sums[c].iter_mut().zip(p).for_each(|(s, v)| *s += *v as f64);
        }
        for c in 0..k {
            if counts[c] == 0 {
                // an empty cluster takes over the point farthest from its centre
                let far = (0..points.len())
                    .max_by(|&a, &b| {
                        distance2(&points[a], &centres[assignment[a]]).total_cmp(&distance2(&points[b], &centres[assignment[b]]))
                    })
                    .expect("points is not empty");
                centres[c] = points[far].clone();
                assignment[far] = c;
            } else {
                centres[c] = sums[c].iter().map(|s| (s / counts[c] as f64) as f32).collect();
            }
        }
    }
    let inertia = points.iter().zip(&assignment).map(|(p, &c)| distance2(p, &centres[c])).sum();
    Clustering { centroids: centres, assignment, iterations, inertia }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs() -> Vec<Vec<f32>> {
        let mut rng = Rng::new(7);
        let mut points = Vec::new();
        for centre in [[0.0f32, 0.0], [10.0, 0.0], [0.0, 10.0]] {
            for _ in 0..30 {
                points.push(vec![centre[0] + rng.uniform() - 0.5, centre[1] + rng.uniform() - 0.5]);
            }
        }
        points
    }

    #[test]
    fn separates_well_separated_blobs() {
        let points = blobs();
        let c = kmeans(&points, 3, 42, 100, || {});
        for blob in points.chunks(30).zip(c.assignment.chunks(30)) {
            assert!(blob.1.iter().all(|&a| a == blob.1[0]), "one blob, one cluster");
        }
        let labels: std::collections::HashSet<usize> = c.assignment.iter().copied().collect();
        assert_eq!(labels.len(), 3);
        assert!(c.inertia < 90.0 * 0.5);
    }

    #[test]
    fn same_seed_same_result_and_k_equal_to_points() {
        let points = blobs();
        let a = kmeans(&points, 4, 1, 100, || {});
        let b = kmeans(&points, 4, 1, 100, || {});
        assert_eq!(a.assignment, b.assignment);
        let few = vec![vec![1.0f32], vec![1.0], vec![2.0]];
        let c = kmeans(&few, 3, 5, 10, || {});
        assert_eq!(c.assignment.len(), 3);
    }
}
