//! The sentiment trend of one customer: a least-squares slope of score on time, reported only
//! when the texts span enough time, shrunk toward zero by its own uncertainty, and never beyond
//! what the score scale allows over the span. A customer with two texts written a day apart has
//! no trend; one with three texts over two months has a small one unless they say it plainly.

use serde_json::{json, Value};

/// Days per month in the slope.
pub const DAYS_PER_MONTH: f64 = 30.0;
/// Fewer dated texts than this: no trend (two points always fit a line exactly).
pub const MIN_TEXTS: u64 = 3;
/// Texts spread over less time than this: no trend (a slope per month from a few days is noise).
pub const MIN_SPAN_DAYS: f64 = 30.0;
/// The prior spread of true slopes, in score per month: a customer going from +0.5 to -0.5 over
/// twenty months moves by 0.05 a month. A slope is shrunk by tau² / (tau² + se²). Chosen so that
/// random scores without a trend almost never reach the 0.1 a month at which the churn factor
/// sentiment_decline is full (about 70 of 100,000 in the test below), while a plain change of 0.15 a
/// month over a year keeps 80 % of its size.
const PRIOR_SD_PER_MONTH: f64 = 0.05;
/// The residual spread is estimated together with a prior one worth this many texts, so that three
/// texts that happen to lie near a line still count as little evidence: a customer's scores
/// typically spread by about half a point around their line.
const PRIOR_RESIDUAL_SD: f64 = 0.5;
const PRIOR_RESIDUAL_TEXTS: f64 = 2.0;
/// Scores lie in [-1, 1]: across the span a line cannot move by more than this.
const SCORE_RANGE: f64 = 2.0;
/// A shrunk slope (score per month) within this of zero is steady.
const STEADY_SLOPE: f64 = 0.02;

/// The sums of least squares over a customer's dated texts, times in days.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub n: u64,
    pub t: f64,
    pub t2: f64,
    pub s: f64,
    pub s2: f64,
    pub ts: f64,
    pub span_days: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trend {
    /// the least-squares slope, score per month
    pub raw: f64,
    /// its standard error, score per month
    pub standard_error: f64,
    /// the slope shrunk toward zero and bounded by the span: what the profile reports and the
    /// churn factor reads
    pub shrunk: f64,
    pub span_days: f64,
    pub texts: u64,
}

impl Trend {
    /// None when the texts are too few or too close in time to tell a trend.
    pub fn of(s: &Sums) -> Option<Trend> {
        if s.n < MIN_TEXTS || s.span_days < MIN_SPAN_DAYS {
            return None;
        }
        let n = s.n as f64;
        let sxx = s.t2 - s.t * s.t / n;
        if sxx <= 0.0 {
            return None;
        }
        let sxy = s.ts - s.t * s.s / n;
        let syy = (s.s2 - s.s * s.s / n).max(0.0);
        let slope_per_day = sxy / sxx;
        let squared_residuals = (syy - slope_per_day * sxy).max(0.0);
        let residual_var = (PRIOR_RESIDUAL_TEXTS * PRIOR_RESIDUAL_SD * PRIOR_RESIDUAL_SD + squared_residuals)
            / (PRIOR_RESIDUAL_TEXTS + n - 2.0);
        let raw = slope_per_day * DAYS_PER_MONTH;
        let standard_error = (residual_var / sxx).sqrt() * DAYS_PER_MONTH;
        let tau2 = PRIOR_SD_PER_MONTH * PRIOR_SD_PER_MONTH;
        let bound = SCORE_RANGE / (s.span_days / DAYS_PER_MONTH);
        let shrunk = (raw * tau2 / (tau2 + standard_error * standard_error)).clamp(-bound, bound);
        Some(Trend { raw, standard_error, shrunk, span_days: s.span_days, texts: s.n })
    }

    pub fn direction(&self) -> &'static str {
        if self.shrunk > STEADY_SLOPE {
            "improving"
        } else if self.shrunk < -STEADY_SLOPE {
            "declining"
        } else {
            "steady"
        }
    }

    /// The `texts.sentiment.trend` object of the profile document.
    pub fn to_json(&self, round: fn(f64) -> f64) -> Value {
        json!({
            "slope_per_month": round(self.shrunk),
            "raw_slope_per_month": round(self.raw),
            "standard_error": round(self.standard_error),
            "span_days": round(self.span_days),
            "direction": self.direction(),
            "texts": self.texts,
        })
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    fn sums(points: &[(f64, f64)]) -> Sums {
        let mut s = Sums::default();
        for &(t, y) in points {
            s.n += 1;
            s.t += t;
            s.t2 += t * t;
            s.s += y;
            s.s2 += y * y;
            s.ts += t * y;
        }
        let first = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let last = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        s.span_days = last - first;
        s
    }

    #[test]
    fn too_few_or_too_close_texts_have_no_trend() {
        assert_eq!(Trend::of(&sums(&[(0.0, -0.9), (90.0, 0.9)])), None, "two texts");
        // the case of the issue: texts a day apart
        assert_eq!(Trend::of(&sums(&[(0.0, -0.9), (0.5, 0.0), (1.0, 0.9)])), None);
    }

    #[test]
    fn a_plain_steady_change_is_kept() {
        // twelve texts over a year, score rising 0.15 a month with a little noise
        let points: Vec<(f64, f64)> =
            (0..12).map(|m| (m as f64 * 30.0, -0.8 + 0.15 * m as f64 + if m % 2 == 0 { 0.05 } else { -0.05 })).collect();
        let t = Trend::of(&sums(&points)).unwrap();
        assert!((t.raw - 0.15).abs() < 0.01, "{t:?}");
        assert!(t.shrunk > 0.12 && t.shrunk <= t.raw, "{t:?}");
        assert_eq!(t.direction(), "improving");
    }

    #[test]
    fn thin_evidence_is_shrunk_and_bounded_by_the_span() {
        // three texts over 31 days from -1 to +1: the raw slope is ~1.9 a month
        let t = Trend::of(&sums(&[(0.0, -1.0), (15.0, 0.0), (31.0, 1.0)])).unwrap();
        assert!(t.raw > 1.8, "{t:?}");
        assert!(t.shrunk < t.raw / 2.0, "{t:?}");
        assert!(t.shrunk.abs() * t.span_days / DAYS_PER_MONTH <= SCORE_RANGE);
        // noise without a trend stays near zero
        let t = Trend::of(&sums(&[(0.0, 0.9), (10.0, -0.9), (20.0, 0.9), (40.0, -0.9)])).unwrap();
        assert!(t.shrunk.abs() < 0.05, "{t:?}");
    }

    #[test]
    fn random_customers_without_a_trend_never_get_a_large_one() {
        // 100,000 customers, 3 to 12 texts each at random times over up to two years, scores
        // drawn at random from [-1, 1] (a fixed LCG: the test is deterministic)
        let mut state: u64 = 42;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut largest: f64 = 0.0;
        let mut beyond_a_tenth = 0;
        for _ in 0..100_000 {
            let texts = 3 + (next() * 10.0) as usize;
            let span = 1.0 + next() * 730.0;
            let points: Vec<(f64, f64)> = (0..texts).map(|_| (next() * span, next() * 2.0 - 1.0)).collect();
            if let Some(t) = Trend::of(&sums(&points)) {
                assert!(t.shrunk.abs() * t.span_days / DAYS_PER_MONTH <= SCORE_RANGE + 1e-9);
                largest = largest.max(t.shrunk.abs());
                beyond_a_tenth += (t.shrunk.abs() > 0.1) as usize;
            }
        }
        assert!(largest < 0.2, "largest shrunk slope {largest}");
        assert!(beyond_a_tenth < 100, "{beyond_a_tenth} customers beyond 0.1 a month");
    }
}
