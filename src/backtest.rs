//! Back-tests: a projection from an earlier census set against a later one, unit by unit, to
//! measure how often its intervals hold what was counted.
//!
//! A scenario's `[backtest]` names a later census (in the base population's layout) whose units
//! are regions or groups of the scenario; its counts are moved from census day to the end of
//! their year the way base populations are ([`crate::scenario::subnational::move_to_year_end`],
//! without migration), and compared with the projection of that year: the error of the median,
//! and whether the count falls inside the 50% (p25..p75) and 90% (p05..p95) intervals. A
//! demographer reads calibration from the coverage over many units: about half should fall in
//! the 50% intervals and nine in ten in the 90% intervals.
//!
//! This module knows nothing of files; the scenario reader fills [`Backtest`] and the report
//! writes the tables.

use crate::montecarlo::{Metric, RunResult};
use crate::scenario::{Scenario, Unit};

pub use crate::scenario::backtest::{Backtest, METRICS, Observed};

/// A unit and metric of the census against the projection.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub unit: Unit,
    pub level: String,
    pub metric: Metric,
    pub observed: f64,
    /// p05, p10, p25, p50, p75, p90, p95 of the projection.
    pub quantiles: [f64; 7],
    /// Median over observed, minus 1.
    pub error: f64,
    pub inside50: bool,
    pub inside90: bool,
}

/// Coverage of one level and metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    pub level: String,
    pub metric: Metric,
    pub units: usize,
    pub median_abs_error: f64,
    pub p90_abs_error: f64,
    pub mean_error: f64,
    pub coverage50: f64,
    pub coverage90: f64,
}

/// Every unit and metric of the scenario's back-test against the run. Empty without a
/// back-test or when its year is not projected.
pub fn compare(s: &Scenario, r: &RunResult) -> Vec<Comparison> {
    let Some(bt) = &s.backtest else { return Vec::new() };
    let Some(yi) = r.years.iter().position(|&y| y == bt.year) else {
        return Vec::new();
    };
    let n_years = r.years.len();
    let mut out = Vec::new();
    for o in &bt.units {
        let Some(summary) = r.units.iter().find(|u| u.unit == o.unit) else {
            continue;
        };
        for (k, &metric) in METRICS.iter().enumerate() {
            let Some(st) = summary.stats[metric.index() * n_years + yi] else {
                continue;
            };
            let q = st.quantiles;
            let obs = o.counts[k];
            if obs.is_nan() || obs <= 0.0 {
                continue;
            }
            out.push(Comparison {
                unit: o.unit,
                level: o.level.clone(),
                metric,
                observed: obs,
                quantiles: q,
                error: q[3] / obs - 1.0,
                inside50: q[2] <= obs && obs <= q[4],
                inside90: q[0] <= obs && obs <= q[6],
            });
        }
    }
    out
}

/// The coverage of the comparisons by level and metric, levels in the order first met.
pub fn coverage(rows: &[Comparison]) -> Vec<Coverage> {
    let mut levels: Vec<&str> = Vec::new();
    for r in rows {
        if !levels.contains(&r.level.as_str()) {
            levels.push(&r.level);
        }
    }
    let mut out = Vec::new();
    for level in levels {
        for metric in METRICS {
            let sel: Vec<&Comparison> = rows.iter().filter(|r| r.level == level && r.metric == metric).collect();
            if sel.is_empty() {
                continue;
            }
            let n = sel.len() as f64;
            let mut abs: Vec<f64> = sel.iter().map(|r| r.error.abs()).collect();
            abs.sort_by(f64::total_cmp);
            out.push(Coverage {
                level: level.to_string(),
                metric,
                units: sel.len(),
                median_abs_error: quantile_sorted(&abs, 0.5),
                p90_abs_error: quantile_sorted(&abs, 0.9),
                mean_error: sel.iter().map(|r| r.error).sum::<f64>() / n,
                coverage50: sel.iter().filter(|r| r.inside50).count() as f64 / n,
                coverage90: sel.iter().filter(|r| r.inside90).count() as f64 / n,
            });
        }
    }
    out
}

/// The type-7 quantile of sorted values (linear between order statistics).
fn quantile_sorted(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let h = (v.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    v[lo] + (h - lo as f64) * (v[hi] - v[lo])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(level: &str, error: f64, in50: bool, in90: bool) -> Comparison {
        Comparison {
            unit: Unit::Region(0),
            level: level.into(),
            metric: Metric::Elderly,
            observed: 100.0,
            quantiles: [0.0; 7],
            error,
            inside50: in50,
            inside90: in90,
        }
    }

    #[test]
    fn coverage_counts_the_units_inside_each_interval() {
        let rows = vec![
            row("county", 0.01, true, true),
            row("county", -0.03, false, true),
            row("county", 0.10, false, false),
            row("county", -0.02, true, true),
            row("province", 0.02, true, true),
        ];
        let c = coverage(&rows);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].level.as_str(), c[0].units), ("county", 4));
        assert_eq!(c[0].coverage50, 0.5);
        assert_eq!(c[0].coverage90, 0.75);
        // |errors| sorted 0.01 0.02 0.03 0.10: median 0.025, p90 at 2.7 -> 0.03 + 0.7 * 0.07
        assert!((c[0].median_abs_error - 0.025).abs() < 1e-15);
        assert!((c[0].p90_abs_error - 0.079).abs() < 1e-12);
        assert!((c[0].mean_error - 0.015).abs() < 1e-15);
        assert_eq!(c[1].units, 1);
    }
}
