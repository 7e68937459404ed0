//! Conditioning on what has been observed since the base year.
//!
//! A scenario's `[[observation]]`s are published figures (national beds of 2022, a province's
//! nursing share of 2023) with a normal measurement error. Each draw of the scenario is weighted
//! by its likelihood, the product over the observations of the normal density of the figure
//! given the draw's value. The run then uses the draws resampled by those weights (systematic
//! resampling, Kitagawa 1996, from one uniform of the scenario's seed): as many draws as before,
//! each a draw of the scenario, repeated in proportion to its weight, so that every output
//! (summaries, targets, the beds needed, charts) is of the conditioned distribution, and each
//! draw keeps its own random streams. The effective sample size `(sum w)^2 / sum w^2` says how
//! many independent draws the weighted set is worth.
//!
//! The likelihood needs each draw's value of every observed metric: a first run of the observed
//! units alone (the scenario restricted to them) keeps them. It knows nothing of files.

use crate::scenario::{Scenario, Unit};

use super::{Cancelled, N_METRICS, RunOptions};
use crate::streams::{Purpose, stream};

pub use crate::scenario::conditioned::{Conditioned, FAR_IN_ERRORS, FEW_EFFECTIVE_DRAWS, Fit};

/// Largest memory the first run may keep (the per-draw values of every observed unit).
pub const MAX_KEPT_BYTES: usize = 4 << 30;

/// Why a scenario could not be conditioned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConditionError {
    #[error(transparent)]
    Cancelled(#[from] Cancelled),
    #[error(
        "conditioning on the observations would keep {bytes} bytes of per-draw values of the observed units (at most {MAX_KEPT_BYTES}): observe fewer or smaller units, or run fewer draws"
    )]
    TooLarge { bytes: usize },
    #[error(
        "no draw is consistent with the observations: '{observation}' ({value}) lies far outside the scenario's 90% range {low:.6}..{high:.6}"
    )]
    Inconsistent {
        observation: String,
        value: f64,
        low: f64,
        high: f64,
    },
}

fn quantile(mut v: Vec<f64>, p: f64) -> f64 {
    v.retain(|x| !x.is_nan());
    v.sort_by(f64::total_cmp);
    super::summary::quantile_sorted(&v, p)
}

/// Effective sample size of log-weights.
fn effective(log_w: &[f64]) -> (f64, Vec<f64>) {
    let top = log_w.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !top.is_finite() {
        return (0.0, vec![0.0; log_w.len()]);
    }
    let w: Vec<f64> = log_w.iter().map(|l| (l - top).exp()).collect();
    let (sum, sum2): (f64, f64) = w.iter().fold((0.0, 0.0), |(a, b), x| (a + x, b + x * x));
    (sum * sum / sum2, w.into_iter().map(|x| x / sum).collect())
}

/// Draws `n` indices from normalised weights by systematic resampling with offset `u` in
/// [0, 1): index i is drawn `floor(n W_i + frac)` or so times, in order.
pub fn systematic_resample(weights: &[f64], n: usize, u: f64) -> Vec<usize> {
    let mut out = Vec::with_capacity(n);
    let mut cum = 0.0;
    let mut j = 0;
    for i in 0..n {
        let target = (i as f64 + u) / n as f64;
        while j + 1 < weights.len() && cum + weights[j] <= target {
            cum += weights[j];
            j += 1;
        }
        out.push(j);
    }
    out
}

/// Weights the scenario's draws by the observations and resamples them.
///
/// # Errors
/// [`ConditionError`] when the run is interrupted, the observed units' values would take too
/// much memory, or no draw is consistent with the observations.
pub fn condition(s: &Scenario, options: &RunOptions<'_>) -> Result<Conditioned, ConditionError> {
    let ids: Vec<String> = s
        .observations
        .iter()
        .map(|o| match o.unit {
            Unit::Region(r) => s.regions[r].id.clone(),
            Unit::Group(g) => s.groups[g].id.clone(),
        })
        .collect();
    let mut part = s.restrict(&ids).expect("observed units are regions or groups of the scenario");
    part.conditioned = None;
    let n_years = part.n_years();
    let bytes = (part.regions.len() + part.groups.len()) * N_METRICS * n_years * s.draws * 8;
    if bytes > MAX_KEPT_BYTES {
        return Err(ConditionError::TooLarge { bytes });
    }
    let run = super::run(
        &part,
        &RunOptions {
            keep_draws: true,
            progress: None,
            ..*options
        },
    )?;
    let kept = run.kept.as_ref().expect("kept draws");
    let draws = s.draws;
    let mut total = vec![0.0f64; draws];
    let mut fits = Vec::new();
    for o in &part.observations {
        let unit = kept.iter().find(|u| u.unit == o.unit).expect("the observed unit is kept");
        let yi = (o.year - part.base_year) as usize;
        let start = (o.metric.index() * n_years + yi) * draws;
        let values = &unit.values[start..start + draws];
        let log_w: Vec<f64> = values
            .iter()
            .map(|x| {
                if x.is_nan() {
                    f64::NEG_INFINITY
                } else {
                    -0.5 * ((x - o.value) / o.sd).powi(2)
                }
            })
            .collect();
        for (t, l) in total.iter_mut().zip(&log_w) {
            *t += l;
        }
        fits.push(Fit {
            observation: o.label.clone(),
            value: o.value,
            sd: o.sd,
            prior: [
                quantile(values.to_vec(), 0.05),
                quantile(values.to_vec(), 0.5),
                quantile(values.to_vec(), 0.95),
            ],
            effective_draws_alone: effective(&log_w).0,
            closest_in_errors: values
                .iter()
                .filter(|x| !x.is_nan())
                .map(|x| ((x - o.value) / o.sd).abs())
                .fold(f64::INFINITY, f64::min),
        });
    }
    let (ess, weights) = effective(&total);
    if ess == 0.0 || ess.is_nan() {
        let worst = fits
            .iter()
            .min_by(|a, b| a.effective_draws_alone.total_cmp(&b.effective_draws_alone))
            .expect("at least one observation");
        return Err(ConditionError::Inconsistent {
            observation: worst.observation.clone(),
            value: worst.value,
            low: worst.prior[0],
            high: worst.prior[2],
        });
    }
    let u = {
        use rand::RngExt;
        let x: f64 = stream(s.seed, Purpose::Observation, 0, 0).random();
        x
    };
    let picked = systematic_resample(&weights, draws, u);
    let mut distinct = picked.clone();
    distinct.dedup();
    Ok(Conditioned {
        draw_ids: picked.iter().map(|&i| s.draw_id(i)).collect(),
        effective_draws: ess,
        distinct_draws: distinct.len(),
        fits,
    })
}

/// The scenario conditioned on its observations (unchanged without any): its draws resampled.
///
/// # Errors
/// As [`condition`].
pub fn conditioned(mut s: Scenario, options: &RunOptions<'_>) -> Result<Scenario, ConditionError> {
    if !s.observations.is_empty() {
        s.conditioned = None;
        let c = condition(&s, options)?;
        s.conditioned = Some(std::sync::Arc::new(c));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systematic_resampling_repeats_draws_in_proportion_to_their_weights() {
        let w = [0.5, 0.0, 0.25, 0.25];
        assert_eq!(systematic_resample(&w, 8, 0.5), vec![0, 0, 0, 0, 2, 2, 3, 3]);
        let equal = [0.25; 4];
        assert_eq!(systematic_resample(&equal, 4, 0.3), vec![0, 1, 2, 3]);
        // effective sample size: n for equal weights, 1 for one draw
        assert!((effective(&[0.0; 4]).0 - 4.0).abs() < 1e-12);
        assert!((effective(&[0.0, f64::NEG_INFINITY, f64::NEG_INFINITY]).0 - 1.0).abs() < 1e-12);
    }
}
