//! Statistics over raw samples (DESIGN.md, "Statistics").
//!
//! Percentiles use linear interpolation between order statistics (the
//! "type 7" definition of R and NumPy). The confidence interval for the
//! median is distribution-free: for sorted samples x(1) <= ... <= x(n), the
//! interval [x(k), x(n-k+1)] contains the true median with probability
//! 1 - 2 P(B <= k-1), B ~ Binomial(n, 1/2) (e.g. Conover, "Practical
//! Nonparametric Statistics", ch. 3.2). Timings are skewed and have outliers,
//! so no normality is assumed anywhere.

use reports::{Metric, Stats};

/// Target confidence level of the median interval.
pub const CI_LEVEL: f64 = 0.95;

/// Summary statistics of `samples` (NaNs are ignored). Empty input gives
/// all-NaN statistics with `n = 0`.
pub fn summarize(samples: &[f64]) -> Stats {
    let mut xs: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n == 0 {
        return Stats {
            n: 0,
            median: f64::NAN,
            p5: f64::NAN,
            p95: f64::NAN,
            mean: f64::NAN,
            stddev: f64::NAN,
            cv: f64::NAN,
            outliers: Vec::new(),
            median_ci_low: f64::NAN,
            median_ci_high: f64::NAN,
            ci_level: 0.0,
        };
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let stddev = if n > 1 {
        (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
    } else {
        0.0
    };
    let (lo, hi, level) = median_ci(n, CI_LEVEL);
    let (q1, q3) = (percentile(&xs, 0.25), percentile(&xs, 0.75));
    let (fence_lo, fence_hi) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    Stats {
        n,
        median: percentile(&xs, 0.5),
        p5: percentile(&xs, 0.05),
        p95: percentile(&xs, 0.95),
        mean,
        stddev,
        cv: if mean != 0.0 {
            stddev / mean.abs()
        } else {
            f64::NAN
        },
        // Indices into the caller's order, NaNs included, so they point at samples.
        outliers: samples
            .iter()
            .enumerate()
            .filter(|(_, x)| **x < fence_lo || **x > fence_hi)
            .map(|(i, _)| i)
            .collect(),
        median_ci_low: xs[lo],
        median_ci_high: xs[hi],
        ci_level: level,
    }
}

/// A metric: the samples and their statistics.
pub fn metric(unit: &str, samples: Vec<f64>) -> Metric {
    Metric {
        unit: unit.into(),
        stats: summarize(&samples),
        samples,
    }
}

/// Percentile `q` in [0, 1] of sorted, non-empty `xs` (linear interpolation).
pub fn percentile(xs: &[f64], q: f64) -> f64 {
    let h = (xs.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (i, frac) = (h.floor() as usize, h.fract());
    match xs.get(i + 1) {
        Some(next) => xs[i] + frac * (next - xs[i]),
        None => xs[i],
    }
}

/// 0-based indices (low, high) into n sorted samples of the narrowest
/// order-statistic interval for the median with coverage >= `level`, and its
/// exact coverage. With too few samples for `level`, the widest interval
/// [min, max] and its (lower) coverage.
pub fn median_ci(n: usize, level: f64) -> (usize, usize, f64) {
    let alpha_half = (1.0 - level) / 2.0;
    // cdf[j] = P(B <= j), computed in log space so large n does not underflow.
    let ln_half = 0.5f64.ln();
    let mut ln_pmf = n as f64 * ln_half; // P(B = 0)
    let mut cdf = 0.0;
    // k: how many j = 0, 1, ... have P(B <= j) <= alpha/2; the interval is
    // then [x(k), x(n-k+1)] (1-based), with coverage 1 - 2 P(B <= k-1).
    let mut k = 0;
    let mut tail = 0.0; // P(B <= k-1)
    for j in 0..=n / 2 {
        cdf += ln_pmf.exp();
        if cdf > alpha_half {
            break;
        }
        k = j + 1;
        tail = cdf;
        ln_pmf += ((n - j) as f64 / (j + 1) as f64).ln();
    }
    if k == 0 {
        // Even [min, max] misses the level.
        return (0, n - 1, 1.0 - 2.0 * 0.5f64.powi(n as i32));
    }
    (k - 1, n - k, 1.0 - 2.0 * tail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12 * b.abs().max(1.0)
    }

    #[test]
    fn one_to_ten_by_hand() {
        // Hand-computed: median 5.5; p5 = 1 + 0.45*(2-1); p95 = 9 + 0.55*(10-9);
        // stddev = sqrt(82.5/9); P(B<=1) = 11/1024 <= 0.025 < P(B<=2) = 56/1024,
        // so one sample is excluded per side: [x(2), x(9)] = [2, 9], coverage
        // 1 - 22/1024.
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&xs);
        assert_eq!(s.n, 10);
        assert!(close(s.median, 5.5));
        assert!(close(s.p5, 1.45));
        assert!(close(s.p95, 9.55));
        assert!(close(s.mean, 5.5));
        assert!(close(s.stddev, (82.5f64 / 9.0).sqrt()));
        assert_eq!((s.median_ci_low, s.median_ci_high), (2.0, 9.0));
        assert!(close(s.ci_level, 1.0 - 22.0 / 1024.0));
    }

    #[test]
    fn outliers_by_tukey_fences_are_flagged_not_dropped() {
        // 1..=9 and 100: Q1 = 3.25, Q3 = 7.75, IQR = 4.5, upper fence 14.5.
        let mut xs: Vec<f64> = (1..=9).map(f64::from).collect();
        xs.insert(4, 100.0);
        let s = summarize(&xs);
        assert_eq!(s.outliers, vec![4]);
        assert_eq!(s.n, 10);
        assert!(close(s.mean, 145.0 / 10.0), "the outlier stays in the mean");
        assert!(close(s.cv, s.stddev / s.mean));
        assert!(summarize(&[1.0, 2.0, 3.0]).outliers.is_empty());
    }

    #[test]
    fn order_does_not_matter_and_nan_is_ignored() {
        let a = summarize(&[3.0, 1.0, f64::NAN, 2.0]);
        let b = summarize(&[1.0, 2.0, 3.0]);
        assert_eq!(
            (a.n, a.median, a.mean, a.stddev),
            (b.n, b.median, b.mean, b.stddev)
        );
        assert!(close(b.median, 2.0));
        assert!(close(b.stddev, 1.0));
    }

    #[test]
    fn small_samples_get_widest_interval_with_true_level() {
        let s = summarize(&[4.0, 7.0, 5.0]);
        assert_eq!((s.median_ci_low, s.median_ci_high), (4.0, 7.0));
        assert!(close(s.ci_level, 0.75)); // 1 - 2 * (1/2)^3
        let one = summarize(&[2.5]);
        assert_eq!(
            (one.median, one.p5, one.p95, one.stddev),
            (2.5, 2.5, 2.5, 0.0)
        );
        assert!(summarize(&[]).median.is_nan());
    }

    #[test]
    fn large_n_interval_matches_normal_approximation() {
        // For n = 1000 the 95 % interval excludes about n/2 - 1.96 sqrt(n)/2 = 469
        // samples per side; the exact binomial answer is 468 or 469.
        let (lo, hi, level) = median_ci(1000, 0.95);
        assert!((468..=469).contains(&lo), "lo = {lo}");
        assert_eq!(hi, 999 - lo);
        assert!((0.95..0.96).contains(&level));
    }
}
