//! The numeric parts of segmentation and similarity over stored profiles: k-means over the
//! profiles (sql/segments.sql stores the result) and the customer-to-customer similarity used
//! by `similar_customers` (sql/recommendations.sql).

use std::collections::HashMap;

use pgrx::prelude::*;
use serde_json::Value;

use crate::errors::{Error, OrRaise, Result};
use crate::functions::json_arg::JsonArg;
use crate::profiles::kmeans;
use crate::text::pooling::{cosine, normalize};

/// Share of the interest vectors in `customer_similarity`; the rest is the purchase categories.
const INTEREST_SHARE: f32 = 0.7;

struct SegmentOptions {
    seed: u64,
    max_iterations: usize,
    rfm_weight: f32,
}

impl SegmentOptions {
    fn from_json(v: &Value) -> Result<Self> {
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

/// The point of one profile: its interest vector (unit length; zeros without texts) followed by
/// recency, frequency and monetary scores scaled to [0, 1] and weighted (zeros without orders).
fn point(interest: Option<Vec<Option<f32>>>, rfm: [Option<i32>; 3], dim: usize, rfm_weight: f32) -> Vec<f32> {
    let mut v: Vec<f32> = interest.map(|v| v.into_iter().map(|x| x.unwrap_or(0.0)).collect()).unwrap_or_default();
    if v.len() != dim {
        v = vec![0.0; dim];
    }
    normalize(&mut v);
    v.extend(rfm.iter().map(|s| s.map_or(0.0, |s| (s as f32 - 1.0) / 4.0 * rfm_weight)));
    v
}

/// k-means (k-means++ start, fixed seed) over every stored profile. Segments are numbered from
/// 1 by size, largest first. `distance` is the Euclidean distance to the segment's centre.
#[pg_extern(volatile, parallel_unsafe)]
fn kmeans_segments(
    k: i32,
    options: default!(JsonArg, "'{}'"),
) -> TableIterator<'static, (name!(customer_key, String), name!(segment, i32), name!(distance, f32))> {
    let opts = SegmentOptions::from_json(&options.value().or_raise()).or_raise();
    let rows: Vec<(String, Option<Vec<Option<f32>>>, [Option<i32>; 3])> = Spi::connect(|client| {
        client
            .select(
                // operators qualified: the caller's search_path must not choose them
                "SELECT customer_key, interest_vector, (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,recency}')::int, \
                        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,frequency}')::int, \
                        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,monetary}')::int \
                   FROM custprofile.profiles ORDER BY customer_key",
                None,
                &[],
            )?
            .map(|r| Ok((r.get::<String>(1)?.unwrap_or_default(), r.get(2)?, [r.get(3)?, r.get(4)?, r.get(5)?])))
            .collect::<std::result::Result<Vec<_>, pgrx::spi::SpiError>>()
    })
    .unwrap_or_else(|e| Error::internal(format!("could not read custprofile.profiles: {e}")).raise());
    if k < 1 || k as usize > rows.len() {
        Error::invalid_parameter(format!("k must be between 1 and the number of stored profiles ({}), not {k}", rows.len()))
            .raise();
    }
    let dim = rows.iter().filter_map(|r| r.1.as_ref().map(Vec::len)).max().unwrap_or(0);
    let points: Vec<Vec<f32>> = rows.iter().map(|r| point(r.1.clone(), r.2, dim, opts.rfm_weight)).collect();
    let c = kmeans::kmeans(&points, k as usize, opts.seed, opts.max_iterations, || { pgrx::check_for_interrupts!(); });
    pgrx::debug1!("custprofile: k-means stopped after {} iterations, inertia {:.3}", c.iterations, c.inertia);
    // number by size, largest first; ties by the first member (rows are in key order)
    let mut sizes: Vec<(usize, usize, usize)> = (0..k as usize)
        .map(|s| {
            let members = c.assignment.iter().filter(|&&a| a == s).count();
            let first = c.assignment.iter().position(|&a| a == s).unwrap_or(usize::MAX);
            (s, members, first)
        })
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    let number: HashMap<usize, i32> = sizes.iter().enumerate().map(|(i, s)| (s.0, i as i32 + 1)).collect();
    let out: Vec<(String, i32, f32)> = rows
        .into_iter()
        .zip(points.iter().zip(&c.assignment))
        .map(|(row, (p, &a))| {
            let d = p.iter().zip(&c.centroids[a]).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
            (row.0, number[&a], d)
        })
        .collect();
    TableIterator::new(out)
}

fn category_cosine(a: &Value, b: &Value) -> Option<f32> {
    let (a, b) = (a.as_object()?, b.as_object()?);
    let norm = |m: &serde_json::Map<String, Value>| m.values().filter_map(Value::as_f64).map(|x| x * x).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    let dot: f64 = a.iter().filter_map(|(k, x)| Some(x.as_f64()? * b.get(k)?.as_f64()?)).sum();
    Some((dot / (na * nb)) as f32)
}

/// How alike two customers are, in [-1, 1]: 0.7 × the cosine of their interest vectors + 0.3 ×
/// the cosine of their orders by category; when one part is missing on either side, the other
/// part alone; NULL when both are.
#[pg_extern(immutable, parallel_safe)]
fn customer_similarity(
    a_interest: Option<Vec<Option<f32>>>,
    a_categories: Option<JsonArg>,
    b_interest: Option<Vec<Option<f32>>>,
    b_categories: Option<JsonArg>,
) -> Option<f32> {
    let dense = |v: Option<Vec<Option<f32>>>| v.and_then(|v| v.into_iter().collect::<Option<Vec<f32>>>()).filter(|v| !v.is_empty());
    let interest = match (dense(a_interest), dense(b_interest)) {
        (Some(a), Some(b)) if a.len() == b.len() && a.iter().any(|&x| x != 0.0) && b.iter().any(|&x| x != 0.0) => {
            Some(cosine(&a, &b))
        }
        _ => None,
    };
    let categories = match (a_categories, b_categories) {
        (Some(a), Some(b)) => category_cosine(&a.value().or_raise(), &b.value().or_raise()),
        _ => None,
    };
    match (interest, categories) {
        (Some(i), Some(c)) => Some(INTEREST_SHARE * i + (1.0 - INTEREST_SHARE) * c),
        (Some(x), None) | (None, Some(x)) => Some(x),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn category_cosine_of_order_counts() {
        assert_eq!(category_cosine(&json!({"a": 2, "b": 0}), &json!({"a": 5})), Some(1.0));
        assert_eq!(category_cosine(&json!({"a": 1}), &json!({"b": 1})), Some(0.0));
        assert_eq!(category_cosine(&json!({}), &json!({"b": 1})), None);
    }

    #[test]
    fn points_are_unit_interest_then_weighted_rfm() {
        let p = point(Some(vec![Some(3.0), Some(4.0)]), [Some(5), Some(1), None], 2, 0.5);
        assert_eq!(p, vec![0.6, 0.8, 0.5, 0.0, 0.0]);
        assert_eq!(point(None, [None; 3], 2, 1.0), vec![0.0; 5]);
    }
}
