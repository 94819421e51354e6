//! How alike two customers are: the similarity `similar_customers` and the recommendations rank
//! by (sql/recommendations.sql), from their interest vectors and their orders by category.

use serde_json::Value;

use crate::numeric::cosine;
use crate::runtime::manifest::Relatedness;

/// Share of the interest vectors in `customer_similarity`; the rest is the purchase categories.
const INTEREST_SHARE: f32 = 0.7;

/// Cosine of two `{category: orders}` objects; None when either has no orders.
pub fn category_cosine(a: &Value, b: &Value) -> Option<f32> {
    let (a, b) = (a.as_object()?, b.as_object()?);
    let norm = |m: &serde_json::Map<String, Value>| m.values().filter_map(Value::as_f64).map(|x| x * x).sum::<f64>().sqrt();
    let (na, nb) = (norm(a), norm(b));
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    let dot: f64 = a.iter().filter_map(|(k, x)| Some(x.as_f64()? * b.get(k)?.as_f64()?)).sum();
    Some((dot / (na * nb)) as f32)
}

/// 0.7 × the relatedness of the interest vectors (their cosine on the common scale of the
/// encoder that made them) + 0.3 × the cosine of the orders by category; when one part is
/// missing (or all zeros) on either side, the other part alone; None when both are.
pub fn customer_similarity(
    relatedness: &Relatedness,
    a_interest: Option<&[f32]>,
    a_categories: Option<&Value>,
    b_interest: Option<&[f32]>,
    b_categories: Option<&Value>,
) -> Option<f32> {
    let interest = match (a_interest, b_interest) {
        (Some(a), Some(b)) if a.len() == b.len() && a.iter().any(|&x| x != 0.0) && b.iter().any(|&x| x != 0.0) => {
            Some(relatedness.of(cosine(a, b)))
        }
        _ => None,
    };
    let categories = match (a_categories, b_categories) {
        (Some(a), Some(b)) => category_cosine(a, b),
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
    fn one_part_alone_when_the_other_is_missing() {
        let (a, b) = ([1.0f32, 0.0], [1.0f32, 0.0]);
        let identity = Relatedness::default();
        assert_eq!(customer_similarity(&identity, Some(&a), None, Some(&b), None), Some(1.0));
        let cats = json!({"x": 1});
        let both = customer_similarity(&identity, Some(&a), Some(&cats), Some(&[0.0, 1.0]), Some(&cats)).unwrap();
        assert!((both - 0.3).abs() < 1e-6);
        assert_eq!(customer_similarity(&identity, Some(&[0.0, 0.0]), None, Some(&b), None), None);
    }

    #[test]
    fn interest_vectors_count_on_the_encoders_scale() {
        let crowded = Relatedness { offset: -3.0, slope: 4.0 };
        let (a, b) = ([1.0f32, 0.0], [0.8f32, 0.6]);
        assert!((customer_similarity(&crowded, Some(&a), None, Some(&b), None).unwrap() - 0.2).abs() < 1e-5);
        assert_eq!(customer_similarity(&crowded, Some(&a), None, Some(&[0.0, 1.0]), None), Some(-1.0));
    }
}
