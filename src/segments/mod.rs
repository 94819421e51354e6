//! Segmentation of stored profiles: the point each profile is clustered as (interest vector
//! and RFM scores), k-means over the points, and segments numbered by size. Rows come in as
//! arguments; nothing here reads a table.

pub mod kmeans;
pub mod naming;

use std::collections::HashMap;

use serde_json::Value;

use crate::errors::{Error, Result};
use crate::numeric::normalize;

/// The options of `kmeans_segments` (segment_customers).
pub struct SegmentOptions {
    pub seed: u64,
    pub max_iterations: usize,
    pub rfm_weight: f32,
}

impl SegmentOptions {
    pub fn from_json(v: &Value) -> Result<Self> {
        let obj = v.as_object().ok_or_else(|| Error::invalid_parameter("options must be a JSON object"))?;
        let mut o = SegmentOptions { seed: 42, max_iterations: 50, rfm_weight: 0.5 };
        for (k, val) in obj {
            let bad = || Error::invalid_parameter(format!("option \"{k}\" has an invalid value"));
            let num = val.as_f64().filter(|n| n.is_finite() && *n >= 0.0).ok_or_else(bad)?;
            match k.as_str() {
                "seed" => o.seed = num as u64,
                "max_iterations" if (1.0..=1000.0).contains(&num) => o.max_iterations = num as usize,
                "rfm_weight" if num <= 10.0 => o.rfm_weight = num as f32,
                "max_iterations" | "rfm_weight" => return Err(bad()),
                _ => {
                    return Err(Error::invalid_parameter(format!(
                        "unknown option \"{k}\"; known: seed, max_iterations (1..1000), rfm_weight (0..10)"
                    )))
                }
            }
        }
        Ok(o)
    }
}

/// The members' interest vectors as segmentation compares them: each of unit length, less the
/// members' mean, of unit length again; zeros for a member without texts (or of another width).
/// Centring takes out the direction every review shares: with an encoder whose cosines crowd
/// together (multilingual-e5-small: 0.7 to 1.0 between any two reviews), uncentred vectors
/// sit so close that the RFM scores alone decide the segments.
pub fn centred_interests(members: &[Member], dim: usize) -> Vec<Vec<f32>> {
    let mut vectors: Vec<Vec<f32>> = members
        .iter()
        .map(|m| {
            let mut v: Vec<f32> = m.interest.iter().flatten().map(|x| x.unwrap_or(0.0)).collect();
            if v.len() != dim {
                v = vec![0.0; dim];
            }
            normalize(&mut v);
            v
        })
        .collect();
    let present: Vec<&Vec<f32>> = vectors.iter().filter(|v| v.iter().any(|&x| x != 0.0)).collect();
    if present.is_empty() {
        return vectors;
    }
    let mut mean = vec![0.0f32; dim];
    for v in &present {
        mean.iter_mut().zip(v.iter()).for_each(|(m, x)| *m += x / present.len() as f32);
    }
    for v in vectors.iter_mut().filter(|v| v.iter().any(|&x| x != 0.0)) {
        v.iter_mut().zip(&mean).for_each(|(x, m)| *x -= m);
        normalize(v);
    }
    vectors
}

/// The point of one profile: its centred interest vector followed by recency, frequency and
/// monetary scores scaled to [0, 1] and weighted (zeros without orders).
pub fn point(interest: Vec<f32>, rfm: [Option<i32>; 3], rfm_weight: f32) -> Vec<f32> {
    let mut v = interest;
    v.extend(rfm.iter().map(|s| s.map_or(0.0, |s| (s as f32 - 1.0) / 4.0 * rfm_weight)));
    v
}

/// One profile as segmentation reads it: its interest vector and its recency, frequency and
/// monetary scores (1 to 5).
pub struct Member {
    pub interest: Option<Vec<Option<f32>>>,
    pub rfm: [Option<i32>; 3],
}

pub struct Segmentation {
    /// Each member's segment (numbered from 1 by size, largest first; ties by the first member
    /// in input order) and its Euclidean distance to the segment's centre, in input order.
    pub members: Vec<(i32, f32)>,
    pub iterations: usize,
    pub inertia: f64,
}

/// k-means (k-means++ start, the options' seed) over the members' points.
pub fn segment(members: &[Member], k: usize, o: &SegmentOptions, interrupt: impl FnMut()) -> Segmentation {
    let dim = members.iter().filter_map(|m| m.interest.as_ref().map(Vec::len)).max().unwrap_or(0);
    let points: Vec<Vec<f32>> = centred_interests(members, dim)
        .into_iter()
        .zip(members)
        .map(|(interest, m)| point(interest, m.rfm, o.rfm_weight))
        .collect();
    let c = kmeans::kmeans(&points, k, o.seed, o.max_iterations, interrupt);
    let mut sizes: Vec<(usize, usize, usize)> = (0..k)
        .map(|s| {
            let members = c.assignment.iter().filter(|&&a| a == s).count();
            let first = c.assignment.iter().position(|&a| a == s).unwrap_or(usize::MAX);
            (s, members, first)
        })
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let number: HashMap<usize, i32> = sizes.iter().enumerate().map(|(i, s)| (s.0, i as i32 + 1)).collect();
    let members = points
        .iter()
        .zip(&c.assignment)
        .map(|(p, &a)| {
            let d = p.iter().zip(&c.centroids[a]).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
            (number[&a], d)
        })
        .collect();
    Segmentation { members, iterations: c.iterations, inertia: c.inertia }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_are_interest_then_weighted_rfm() {
        assert_eq!(point(vec![0.6, 0.8], [Some(5), Some(1), None], 0.5), vec![0.6, 0.8, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn interests_are_centred_unit_vectors() {
        let m = |v: Option<Vec<f32>>| Member { interest: v.map(|v| v.into_iter().map(Some).collect()), rfm: [None; 3] };
        // two directions close together (cosine 0.98) end up opposite once their mean is taken out
        let members = [m(Some(vec![1.0, 0.2])), m(Some(vec![1.0, -0.2])), m(None), m(Some(vec![1.0]))];
        let c = centred_interests(&members, 2);
        assert!((c[0][1] - 1.0).abs() < 1e-6 && c[0][0].abs() < 1e-6);
        assert!((c[1][1] + 1.0).abs() < 1e-6);
        assert_eq!(c[2], vec![0.0, 0.0]);
        assert_eq!(c[3], vec![0.0, 0.0]);
    }

    #[test]
    fn segments_are_numbered_by_size() {
        let m = |x: f32, y: f32| Member { interest: Some(vec![Some(x), Some(y)]), rfm: [None; 3] };
        let members = [m(1.0, 0.0), m(0.0, 1.0), m(0.0, 1.0), m(0.05, 1.0)];
        let o = SegmentOptions { seed: 42, max_iterations: 50, rfm_weight: 0.5 };
        let s = segment(&members, 2, &o, || {}).members;
        let numbers: Vec<i32> = s.iter().map(|x| x.0).collect();
        assert_eq!(numbers, vec![2, 1, 1, 1]);
        assert!(s[0].1 < 1e-6);
    }
}
