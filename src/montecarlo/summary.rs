//! Summaries over draws: means and quantiles, target probabilities, shortfalls and the beds
//! needed to meet a target with a chosen probability.
//!
//! Quantiles are exact (Hyndman & Fan 1996 type 7, the default of R and numpy) over the draws
//! where the value is defined; undefined ratios (no elderly, no institutional beds) are left
//! out and, if no draw defines them, the statistic is empty.

use super::{Metric, N_METRICS, PYRAMID_ROWS};
use crate::scenario::{Scenario, TargetMetric, Unit};

/// Probabilities of the reported quantiles.
pub const QUANTILES: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// Mean and quantiles of one unit-year-metric.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryStats {
    pub mean: f64,
    pub quantiles: [f64; 7],
}

/// The result of one target for one unit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetResult {
    /// Index into `Scenario::targets`.
    pub target: usize,
    pub unit: Unit,
    /// Share of draws meeting the target (among draws where the metric is defined).
    pub probability: Option<f64>,
    /// Quantiles of the metric in the target year.
    pub metric: Option<SummaryStats>,
    /// Median distance to the threshold among the draws that miss it.
    pub median_shortfall: Option<f64>,
    /// Beds (beds-per-1,000 targets) or new nursing-type beds (nursing-share targets) to add so
    /// that the target is met with the chosen probability.
    pub needed: Option<f64>,
    /// For nursing-share targets: general beds to convert to nursing-type instead.
    pub needed_conversions: Option<f64>,
}

/// Summary of one unit: `stats[metric * n_years + year]`, its pyramid cells (as
/// [`super::pyramid_row`] minus the metric rows) and its target results.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnitSummary {
    pub unit: Unit,
    pub stats: Vec<Option<SummaryStats>>,
    pub pyramid: Vec<Option<SummaryStats>>,
    pub targets: Vec<TargetResult>,
}

/// Type-7 quantile of sorted values.
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Mean and quantiles of the finite values, sorted in place in `scratch`.
pub fn stats(values: &[f64], scratch: &mut Sorter) -> Option<SummaryStats> {
    let v = &mut scratch.values;
    v.clear();
    v.extend(values.iter().copied().filter(|v| v.is_finite()));
    if v.is_empty() {
        return None;
    }
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    // Deterministic series (the base year, stock before deliveries) need no sorting.
    if v.iter().all(|x| *x == v[0]) {
        return Some(SummaryStats {
            mean,
            quantiles: [v[0]; 7],
        });
    }
    scratch.sort();
    let scratch = &scratch.values;
    let mut quantiles = [0.0; 7];
    for (q, p) in quantiles.iter_mut().zip(QUANTILES) {
        *q = quantile_sorted(scratch, p);
    }
    Some(SummaryStats { mean, quantiles })
}

/// Reusable buffers for sorting the draws of one series.
#[derive(Debug, Default)]
pub struct Sorter {
    values: Vec<f64>,
    keys: Vec<u64>,
    tmp: Vec<u64>,
}

/// Maps an f64 to a u64 whose unsigned order is the numeric order (finite values).
fn order_key(v: f64) -> u64 {
    let b = v.to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

fn from_order_key(k: u64) -> f64 {
    f64::from_bits(if k >> 63 == 1 { k & !(1 << 63) } else { !k })
}

impl Sorter {
    /// Sorts `values` ascending: an LSD radix sort on 11-bit digits of the order-preserving
    /// integer keys, skipping digits all keys share (draws of one series usually share their
    /// sign and exponent). Several times faster than a comparison sort for the thousands of
    /// draws of a series, and exact.
    fn sort(&mut self) {
        let n = self.values.len();
        if n < 256 {
            self.values.sort_unstable_by(f64::total_cmp);
            return;
        }
        self.keys.clear();
        self.keys.extend(self.values.iter().map(|v| order_key(*v)));
        self.tmp.resize(n, 0);
        let (first, mut same) = (self.keys[0], 0u64);
        for k in &self.keys {
            same |= k ^ first;
        }
        const BITS: u32 = 11;
        const BUCKETS: usize = 1 << BITS;
        let mut counts = vec![0usize; BUCKETS];
        let mut shift = 0;
        while shift < 64 {
            let mask = ((BUCKETS as u64) - 1) << shift;
            if same & mask != 0 {
                counts.iter_mut().for_each(|c| *c = 0);
                for k in &self.keys {
                    counts[((k >> shift) as usize) & (BUCKETS - 1)] += 1;
                }
                let mut sum = 0;
                for c in counts.iter_mut() {
                    let here = *c;
                    *c = sum;
                    sum += here;
                }
                for k in &self.keys {
                    let d = ((k >> shift) as usize) & (BUCKETS - 1);
                    self.tmp[counts[d]] = *k;
                    counts[d] += 1;
                }
                std::mem::swap(&mut self.keys, &mut self.tmp);
            }
            shift += BITS;
        }
        for (v, k) in self.values.iter_mut().zip(&self.keys) {
            *v = from_order_key(*k);
        }
    }
}

/// The `p` quantile of finite values (sorting a copy).
fn quantile_of(values: impl Iterator<Item = f64>, p: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable_by(f64::total_cmp);
    Some(quantile_sorted(&v, p))
}

/// Summarises one unit from its per-draw values `values[row * draws + d]`.
pub fn summarise(s: &Scenario, unit: Unit, values: &[f64], confidence: f64) -> UnitSummary {
    let n_years = s.n_years();
    let draws = s.draws;
    let series = |m: Metric, yi: usize| &values[(m.index() * n_years + yi) * draws..(m.index() * n_years + yi + 1) * draws];
    let mut scratch = Sorter::default();
    let mut out = Vec::with_capacity(N_METRICS * n_years);
    for m in Metric::ALL {
        for yi in 0..n_years {
            out.push(stats(series(m, yi), &mut scratch));
        }
    }
    let first = N_METRICS * n_years;
    let pyramid = (first..first + PYRAMID_ROWS)
        .map(|row| stats(&values[row * draws..(row + 1) * draws], &mut scratch))
        .collect();
    let mut targets = Vec::new();
    for (ti, t) in s.targets.iter().enumerate() {
        if !t.units.contains(&unit) {
            continue;
        }
        let yi = (t.year - s.base_year) as usize;
        let metric = super::target_metric(t.metric);
        let vals = series(metric, yi);
        let defined = vals.iter().filter(|v| v.is_finite()).count();
        let met = vals.iter().filter(|v| v.is_finite() && t.op.holds(**v, t.threshold)).count();
        let probability = (defined > 0).then(|| met as f64 / defined as f64);
        let shortfall = quantile_of(
            vals.iter()
                .filter(|v| v.is_finite() && !t.op.holds(**v, t.threshold))
                .map(|v| (v - t.threshold).abs()),
            0.5,
        );
        let (elderly, total) = (series(Metric::Elderly, yi), series(Metric::BedsTotal, yi));
        let registered = series(Metric::ElderlyRegistered, yi);
        let caregivers = series(Metric::Caregivers, yi);
        let (inst, nurs) = (series(Metric::BedsInstitutional, yi), series(Metric::BedsNursing, yi));
        let lower = t.op.is_lower_bound();
        let (needed, conversions) = match (t.metric, lower) {
            // Beds to add so that (beds + x) / elderly * 1000 >= T in a share `confidence` of
            // draws: the `confidence` quantile of T * elderly / 1000 - beds (MODEL.md).
            (TargetMetric::BedsPer1000, true) => (
                quantile_of(elderly.iter().zip(total).map(|(e, b)| t.threshold * e / 1000.0 - b), confidence).map(|x| x.max(0.0)),
                None,
            ),
            (TargetMetric::BedsPer1000Registered, true) => (
                quantile_of(registered.iter().zip(total).map(|(e, b)| t.threshold * e / 1000.0 - b), confidence).map(|x| x.max(0.0)),
                None,
            ),
            // Caregivers to add: the quantile of T * elderly / 10,000 - caregivers.
            (TargetMetric::CaregiversPer10000, true) => (
                quantile_of(
                    elderly.iter().zip(caregivers).map(|(e, c)| t.threshold * e / 10000.0 - c),
                    confidence,
                )
                .map(|x| x.max(0.0)),
                None,
            ),
            // New nursing beds x: (N + x) / (I + x) >= s  <=>  x >= (s I - N) / (1 - s).
            // Conversions c: (N + c) / I >= s  <=>  c >= s I - N.
            (TargetMetric::NursingShare, true) => {
                let sh = t.threshold;
                let new = if sh < 1.0 {
                    quantile_of(inst.iter().zip(nurs).map(|(i, n)| (sh * i - n) / (1.0 - sh)), confidence).map(|x| x.max(0.0))
                } else {
                    None
                };
                let conv = quantile_of(inst.iter().zip(nurs).map(|(i, n)| sh * i - n), confidence).map(|x| x.max(0.0));
                (new, conv)
            }
            _ => (None, None),
        };
        targets.push(TargetResult {
            target: ti,
            unit,
            probability,
            metric: out[metric.index() * n_years + yi],
            median_shortfall: shortfall,
            needed,
            needed_conversions: conversions,
        });
    }
    UnitSummary {
        unit,
        stats: out,
        pyramid,
        targets,
    }
}

/// All target results, in target order and, within a target, in the order of its units.
pub fn collect_targets(s: &Scenario, units: &[UnitSummary]) -> Vec<TargetResult> {
    let mut out = Vec::new();
    for (ti, t) in s.targets.iter().enumerate() {
        for u in &t.units {
            if let Some(r) = units
                .iter()
                .find(|x| x.unit == *u)
                .and_then(|x| x.targets.iter().find(|r| r.target == ti))
            {
                out.push(r.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type7_quantiles_match_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        // numpy.quantile(v, [0.05, 0.5, 0.9]) = [1.2, 3.0, 7.6]
        assert!((quantile_sorted(&v, 0.05) - 1.2).abs() < 1e-12);
        assert!((quantile_sorted(&v, 0.5) - 3.0).abs() < 1e-12);
        assert!((quantile_sorted(&v, 0.9) - 7.6).abs() < 1e-12);
    }

    #[test]
    fn radix_sort_matches_comparison_sort() {
        let mut s = Sorter::default();
        let mut x: u64 = 12345;
        let mut vals = Vec::new();
        for i in 0..5000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let v = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.3) * 1e6 * if i % 7 == 0 { 1e-9 } else { 1.0 };
            vals.push(v);
        }
        vals.extend([0.0, -0.0, 1e300, -1e300, 5e-324]);
        s.values = vals.clone();
        s.sort();
        vals.sort_by(f64::total_cmp);
        assert_eq!(
            s.values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            vals.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }

    #[test]
    fn stats_skip_undefined_values() {
        let mut scratch = Sorter::default();
        let s = stats(&[f64::NAN, 2.0, 4.0], &mut scratch).unwrap();
        assert_eq!(s.mean, 3.0);
        assert!(stats(&[f64::NAN], &mut scratch).is_none());
    }
}
