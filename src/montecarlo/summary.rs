//! Summaries over draws: means and quantiles, target probabilities, shortfalls and the beds
//! needed to meet a target with a chosen probability.
//!
//! Quantiles are exact (Hyndman & Fan 1996 type 7, the default of R and numpy) over the draws
//! where the value is defined; undefined ratios (no elderly, no institutional beds) are left
//! out and, if no draw defines them, the statistic is empty. They are found by selection
//! ([`super::select`]), not by sorting.
//!
//! A unit is summarised one year at a time from the per-draw values of its sixteen counts in
//! that year; the five ratios are computed per draw from those counts, so a group's ratios come
//! from its summed counts, never from its members' ratios.

use super::select::{Selector, quantile_f64};
use super::{Metric, N_METRICS, N_STORED};
use crate::scenario::{Scenario, TargetMetric, Unit};

/// Probabilities of the reported quantiles.
pub const QUANTILES: [f64; 7] = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95];

/// Mean and quantiles of one unit-year-metric.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryStats {
    pub mean: f64,
    pub quantiles: [f64; 7],
}

impl SummaryStats {
    /// The 5th percentile (`quantiles` follow [`QUANTILES`]).
    pub fn p05(&self) -> f64 {
        self.quantiles[0]
    }

    pub fn p50(&self) -> f64 {
        self.quantiles[3]
    }

    pub fn p95(&self) -> f64 {
        self.quantiles[6]
    }
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

/// Summary of one unit: `stats[metric * n_years + year]`, its population pyramid
/// (`pyramid[(h * 2 + sex) * AGE_GROUPS + group]`, `h` 0 for the base year and 1 for the
/// horizon) and its target results.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UnitSummary {
    pub unit: Unit,
    pub stats: Vec<Option<SummaryStats>>,
    pub pyramid: Vec<Option<SummaryStats>>,
    pub targets: Vec<TargetResult>,
}

impl UnitSummary {
    /// An empty summary, filled year by year.
    pub fn empty(unit: Unit, n_years: usize) -> UnitSummary {
        UnitSummary {
            unit,
            stats: vec![None; N_METRICS * n_years],
            pyramid: vec![None; super::PYRAMID_CELLS],
            targets: Vec::new(),
        }
    }
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

/// A ratio metric as `scale * numerator / denominator` of two counts; `None` for counts.
pub fn ratio_parts(m: Metric) -> Option<(Metric, Metric, f64)> {
    Some(match m {
        Metric::BedsPer1000Elderly => (Metric::BedsTotal, Metric::Elderly, 1000.0),
        Metric::BedsPer1000Registered => (Metric::BedsTotal, Metric::ElderlyRegistered, 1000.0),
        Metric::NursingShare => (Metric::BedsNursing, Metric::BedsInstitutional, 1.0),
        Metric::DemandSupplyRatio => (Metric::DemandInstitutional, Metric::BedsInstitutional, 1.0),
        Metric::CaregiversPer10000Elderly => (Metric::Caregivers, Metric::Elderly, 10000.0),
        _ => return None,
    })
}

/// A ratio of one draw; NaN (undefined) when the denominator is not positive.
#[inline(always)]
pub fn ratio(num: f32, den: f32, scale: f64) -> f64 {
    if den > 0.0 {
        scale * f64::from(num) / f64::from(den)
    } else {
        f64::NAN
    }
}

/// The per-draw values of metric `m` from the counts, in `f64`.
fn metric_values(m: Metric, counts: &[&[f32]; N_STORED], out: &mut Vec<f64>) {
    out.clear();
    match ratio_parts(m) {
        Some((num, den, scale)) => out.extend(
            counts[num.index()]
                .iter()
                .zip(counts[den.index()])
                .map(|(n, d)| ratio(*n, *d, scale)),
        ),
        None => out.extend(counts[m.index()].iter().map(|v| f64::from(*v))),
    }
}

/// Scratch space for summarising one unit-year.
#[derive(Default)]
pub struct YearScratch {
    pub selector: Selector,
    pub series: Vec<f32>,
    /// The unit's counts in the year being summarised, one series per stored metric.
    pub counts: Vec<Vec<f32>>,
    values: Vec<f64>,
    other: Vec<f64>,
}

/// What summarising one unit-year gives: the stats of every metric, the unit's targets in that
/// year and, when asked, every draw of every metric (`kept[metric * draws + d]`).
pub struct YearSummary {
    pub stats: [Option<SummaryStats>; N_METRICS],
    pub targets: Vec<TargetResult>,
    pub kept: Option<Vec<f64>>,
}

/// Summarises one unit in year index `yi` from its counts `counts[m][d]` (the first
/// [`N_STORED`] metrics, each `draws` long). `targets` are the indices of the scenario's
/// targets that test this unit in this year.
pub fn unit_year(
    s: &Scenario,
    unit: Unit,
    counts: &[&[f32]; N_STORED],
    targets: &[usize],
    confidence: f64,
    keep: bool,
    scratch: &mut YearScratch,
) -> YearSummary {
    let draws = counts[0].len();
    let mut stats = [None; N_METRICS];
    let mut kept = keep.then(|| vec![0.0; N_METRICS * draws]);
    // Without a registered/resident ratio the registered elderly are the elderly, bit for bit,
    // and their stats need not be found twice.
    let registered_same = counts[Metric::ElderlyRegistered.index()] == counts[Metric::Elderly.index()];
    for m in Metric::ALL {
        let same_as = match m {
            Metric::ElderlyRegistered if registered_same => Some(Metric::Elderly),
            Metric::BedsPer1000Registered if registered_same => Some(Metric::BedsPer1000Elderly),
            _ => None,
        };
        if let (Some(other), None) = (same_as, &kept) {
            stats[m.index()] = stats[other.index()];
            continue;
        }
        stats[m.index()] = metric_stats(m, counts, scratch);
        if let Some(k) = &mut kept {
            let series = scratch.series_of(m, counts);
            for (slot, v) in k[m.index() * draws..(m.index() + 1) * draws].iter_mut().zip(&series) {
                *slot = f64::from(*v);
            }
            scratch.series = series;
        }
    }
    let results = target_results(
        s,
        unit,
        counts,
        draws,
        targets,
        confidence,
        true,
        &mut |m, _| stats[m.index()],
        scratch,
    );
    YearSummary {
        stats,
        targets: results,
        kept,
    }
}

/// Mean and quantiles of metric `m` over the draws, from the counts (a ratio is formed per draw,
/// in single precision, as the tables report it).
pub fn metric_stats(m: Metric, counts: &[&[f32]; N_STORED], scratch: &mut YearScratch) -> Option<SummaryStats> {
    match ratio_parts(m) {
        None => scratch.selector.stats(counts[m.index()]),
        Some(_) => {
            let series = scratch.series_of(m, counts);
            let stats = scratch.selector.stats(&series);
            scratch.series = series;
            stats
        }
    }
}

impl YearScratch {
    /// The per-draw values of metric `m` in single precision, in a buffer taken from the scratch
    /// (put it back in `series` when done).
    fn series_of(&mut self, m: Metric, counts: &[&[f32]; N_STORED]) -> Vec<f32> {
        let mut out = std::mem::take(&mut self.series);
        out.clear();
        match ratio_parts(m) {
            None => out.extend_from_slice(counts[m.index()]),
            Some((num, den, scale)) => {
                out.resize(counts[num.index()].len(), 0.0);
                ratio_series(counts[num.index()], counts[den.index()], scale, &mut out);
            }
        }
        out
    }
}

simd_dispatch! {
    /// `out[d] = ratio(num[d], den[d], scale)` in single precision, vectorised (a division in
    /// `f64` per draw: the same bits in every build).
    fn ratio_series / ratio_series_avx2 => ratio_series_any(num: &[f32], den: &[f32], scale: f64, out: &mut [f32])
}

#[inline(always)]
fn ratio_series_any(num: &[f32], den: &[f32], scale: f64, out: &mut [f32]) {
    for ((o, n), d) in out.iter_mut().zip(num).zip(den) {
        *o = ratio(*n, *d, scale) as f32;
    }
}

/// The results of `targets` (indices of the scenario's targets, all in one year) for one unit
/// from its counts in that year, `draws` values each. Only the counts the targets' metrics and
/// needs read must be filled (a target reads the numerator and denominator of its metric).
/// `stats(metric, scratch)` gives the metric's summary (computed already, or on demand by
/// [`metric_stats`]). Without `all`, only what a sweep writes is computed (the probability, the
/// metric's summary and the need); the median shortfall and the conversions are left `None`.
#[allow(clippy::too_many_arguments)]
pub fn target_results(
    s: &Scenario,
    unit: Unit,
    counts: &[&[f32]; N_STORED],
    draws: usize,
    targets: &[usize],
    confidence: f64,
    all: bool,
    stats: &mut dyn FnMut(Metric, &mut YearScratch) -> Option<SummaryStats>,
    scratch: &mut YearScratch,
) -> Vec<TargetResult> {
    let mut results = Vec::with_capacity(targets.len());
    for &ti in targets {
        let t = &s.targets[ti];
        let metric = super::target_metric(t.metric);
        let metric_summary = stats(metric, scratch);
        let values = &mut scratch.values;
        metric_values(metric, counts, values);
        let defined = values.iter().filter(|v| v.is_finite()).count();
        let met = values.iter().filter(|v| v.is_finite() && t.op.holds(**v, t.threshold)).count();
        let probability = (defined > 0).then(|| met as f64 / defined as f64);
        let shortfall = if all {
            let other = &mut scratch.other;
            other.clear();
            other.extend(
                values
                    .iter()
                    .filter(|v| v.is_finite() && !t.op.holds(**v, t.threshold))
                    .map(|v| (v - t.threshold).abs()),
            );
            quantile_f64(other, 0.5)
        } else {
            None
        };
        let lower = t.op.is_lower_bound();
        let c = |m: Metric, d: usize| f64::from(counts[m.index()][d]);
        let mut needed_quantile = |f: &dyn Fn(usize) -> f64| {
            let v = &mut scratch.values;
            v.clear();
            v.extend((0..draws).map(f));
            quantile_f64(v, confidence).map(|x| x.max(0.0))
        };
        let th = t.threshold;
        let (needed, conversions) = match (t.metric, lower) {
            // Beds to add so that (beds + x) / elderly * 1000 >= T in a share `confidence` of
            // draws: the `confidence` quantile of T * elderly / 1000 - beds (MODEL.md).
            (TargetMetric::BedsPer1000, true) => (
                needed_quantile(&|d| th * c(Metric::Elderly, d) / 1000.0 - c(Metric::BedsTotal, d)),
                None,
            ),
            (TargetMetric::BedsPer1000Registered, true) => (
                needed_quantile(&|d| th * c(Metric::ElderlyRegistered, d) / 1000.0 - c(Metric::BedsTotal, d)),
                None,
            ),
            // Caregivers to add: the quantile of T * elderly / 10,000 - caregivers.
            (TargetMetric::CaregiversPer10000, true) => (
                needed_quantile(&|d| th * c(Metric::Elderly, d) / 10000.0 - c(Metric::Caregivers, d)),
                None,
            ),
            // New nursing beds x: (N + x) / (I + x) >= s  <=>  x >= (s I - N) / (1 - s).
            // Conversions c: (N + c) / I >= s  <=>  c >= s I - N.
            (TargetMetric::NursingShare, true) => {
                let new = if th < 1.0 {
                    needed_quantile(&|d| (th * c(Metric::BedsInstitutional, d) - c(Metric::BedsNursing, d)) / (1.0 - th))
                } else {
                    None
                };
                let conv = if all {
                    needed_quantile(&|d| th * c(Metric::BedsInstitutional, d) - c(Metric::BedsNursing, d))
                } else {
                    None
                };
                (new, conv)
            }
            _ => (None, None),
        };
        results.push(TargetResult {
            target: ti,
            unit,
            probability,
            metric: metric_summary,
            median_shortfall: shortfall,
            needed,
            needed_conversions: conversions,
        });
    }
    results
}

/// All target results, in target order and, within a target, in the order of its units.
pub fn collect_targets(s: &Scenario, units: &[UnitSummary]) -> Vec<TargetResult> {
    let index: std::collections::HashMap<Unit, &UnitSummary> = units.iter().map(|u| (u.unit, u)).collect();
    let mut out = Vec::new();
    for (ti, t) in s.targets.iter().enumerate() {
        for u in &t.units {
            if let Some(r) = index.get(u).and_then(|x| x.targets.iter().find(|r| r.target == ti)) {
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
    fn ratios_are_undefined_without_a_denominator() {
        assert!(ratio(30.0, 0.0, 1000.0).is_nan());
        assert_eq!(ratio(30.0, 1000.0, 1000.0), 30.0);
        assert_eq!(ratio(5.0, 10.0, 1.0), 0.5);
        assert_eq!(ratio_parts(Metric::Elderly), None);
    }
}
