//! Mortality: a base schedule by single age and a Lee-Carter model that moves it on.
//!
//! `ln m(x,s,t) = ln m(x,s,base) + b(x,s) * (k_s(t) - k_s(base))`, with
//! `k_s(t) = k_s(t-1) + drift_s + sigma_s * e(t)` (Lee & Carter 1992, JASA 87:659). The age
//! pattern `b`, the drift and `sigma` are fitted per sex to a table of 5-year-group death rates
//! (the UN WPP 2024 estimates) by the first singular vector of the centred log-rate matrix.
//! The one-year probability of dying is `q = 1 - exp(-m)`.

use super::{N_AGES, OPEN_AGE};

/// Group death rates of one period, as the fit needs them.
pub struct GroupRates<'a> {
    /// First age of each group; the last group is open.
    pub starts: &'a [usize],
    /// Mid-year of each period (for example 2017.5 for 2015-2020).
    pub mids: Vec<f64>,
    /// `rates[period][group]` for one sex.
    pub rates: Vec<Vec<f64>>,
}

/// A Lee-Carter model fitted for one sex.
#[derive(Debug, Clone, PartialEq)]
pub struct LeeCarterFit {
    /// Age response by single age; sums to 1 over the fitted groups.
    pub b: [f64; N_AGES],
    /// Fitted k by period.
    pub k: Vec<f64>,
    /// Drift of k per year.
    pub drift: f64,
    /// Standard deviation of the yearly random-walk shocks of k.
    pub sigma: f64,
    /// Standard error of the drift: `sigma / sqrt(years spanned)`.
    pub drift_se: f64,
}

/// Interpolates values given per age group to single ages: age 0 and the open group take their
/// group's value, other ages are interpolated linearly at their centre (x + 0.5) between group
/// centres, flat beyond the first and last centre. With `log = true` the interpolation is on the
/// logarithm (for death rates, as MODEL.md asks).
pub fn groups_to_single_ages(starts: &[usize], values: &[f64], log: bool) -> [f64; N_AGES] {
    let tf = |v: f64| if log { v.ln() } else { v };
    let inv = |v: f64| if log { v.exp() } else { v };
    let n = starts.len();
    let mut knots = Vec::with_capacity(n);
    for g in 0..n {
        if starts[g] == 0 && n > 1 && starts[1] == 1 {
            continue; // the infant group is used only for age 0
        }
        let end = if g + 1 < n { starts[g + 1] } else { starts[g] + 1 };
        knots.push((0.5 * (starts[g] + end) as f64, tf(values[g])));
    }
    let mut out = [0.0; N_AGES];
    for (x, slot) in out.iter_mut().enumerate() {
        let c = x as f64 + 0.5;
        let v = if knots.is_empty() || c <= knots[0].0 {
            knots.first().map(|k| k.1).unwrap_or(0.0)
        } else if c >= knots[knots.len() - 1].0 {
            knots[knots.len() - 1].1
        } else {
            let i = knots.partition_point(|k| k.0 <= c);
            let (x0, y0) = knots[i - 1];
            let (x1, y1) = knots[i];
            y0 + (y1 - y0) * (c - x0) / (x1 - x0)
        };
        *slot = inv(v);
    }
    if starts.first() == Some(&0) {
        out[0] = values[0];
    }
    if let (Some(&last_start), Some(&last)) = (starts.last(), values.last())
        && last_start >= OPEN_AGE
    {
        out[OPEN_AGE] = last;
    }
    out
}

/// Fits Lee-Carter to the group rates of one sex over the given periods.
///
/// Needs at least three periods (two increments of k to estimate sigma).
pub fn fit_lee_carter(data: &GroupRates<'_>) -> Option<LeeCarterFit> {
    let periods = data.rates.len();
    let groups = data.starts.len();
    if periods < 3 || data.rates.iter().any(|r| r.len() != groups || r.iter().any(|v| *v <= 0.0)) {
        return None;
    }
    let logm: Vec<Vec<f64>> = data.rates.iter().map(|r| r.iter().map(|v| v.ln()).collect()).collect();
    let a: Vec<f64> = (0..groups)
        .map(|g| logm.iter().map(|r| r[g]).sum::<f64>() / periods as f64)
        .collect();
    let c: Vec<Vec<f64>> = logm.iter().map(|r| r.iter().zip(&a).map(|(v, a)| v - a).collect()).collect();
    // Leading singular vectors by power iteration on C^T C (C is periods x groups).
    let mut u = vec![1.0; groups];
    let mut v = vec![0.0; periods];
    for _ in 0..500 {
        for (p, vp) in v.iter_mut().enumerate() {
            *vp = c[p].iter().zip(&u).map(|(x, y)| x * y).sum();
        }
        let mut nu = vec![0.0; groups];
        for (p, row) in c.iter().enumerate() {
            for (g, x) in row.iter().enumerate() {
                nu[g] += x * v[p];
            }
        }
        let norm = nu.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return None;
        }
        for (a, b) in u.iter_mut().zip(&nu) {
            *a = b / norm;
        }
    }
    for (p, vp) in v.iter_mut().enumerate() {
        *vp = c[p].iter().zip(&u).map(|(x, y)| x * y).sum();
    }
    let su: f64 = u.iter().sum();
    if su.abs() < 1e-12 {
        return None;
    }
    let b_groups: Vec<f64> = u.iter().map(|x| x / su).collect();
    let k: Vec<f64> = v.iter().map(|x| x * su).collect();
    let span = data.mids[periods - 1] - data.mids[0];
    let drift = (k[periods - 1] - k[0]) / span;
    let incs: Vec<f64> = (1..periods)
        .map(|i| (k[i] - k[i - 1]) - drift * (data.mids[i] - data.mids[i - 1]))
        .collect();
    let step = span / (periods - 1) as f64;
    let var = incs.iter().map(|d| d * d).sum::<f64>() / (incs.len() - 1).max(1) as f64;
    let sigma = (var / step).sqrt();
    Some(LeeCarterFit {
        b: groups_to_single_ages(data.starts, &b_groups, false),
        k,
        drift,
        sigma,
        drift_se: sigma / span.sqrt(),
    })
}

/// Period life expectancy at birth from single-age death rates 0..=100+ (a0 = 0.1, other ages
/// a = 0.5, the open group closed with L = l / m).
pub fn life_expectancy(m: &[f64; N_AGES]) -> f64 {
    let mut l = 1.0;
    let mut total = 0.0;
    for (x, &mx) in m.iter().enumerate() {
        if x == OPEN_AGE {
            total += if mx > 0.0 { l / mx } else { 0.0 };
            break;
        }
        let a = if x == 0 { 0.1 } else { 0.5 };
        let q = (mx / (1.0 + (1.0 - a) * mx)).min(1.0);
        let d = l * q;
        total += l - (1.0 - a) * d;
        l -= d;
    }
    total
}

/// The 90% point of the standard normal: an 80% interval is the median +- this many standard
/// deviations.
pub const Z80: f64 = 1.281_551_565_544_600_5;

/// Random-walk and drift uncertainty of a Lee-Carter model of one sex, chosen so that its
/// life-expectancy intervals have the widths of a probabilistic projection.
///
/// k at the decimal year `t` is normal with mean `drift (t - base_mid)` and variance
/// `sigma^2 h + drift_se^2 h^2`, `h = t - base_mid` (the random walk's shocks since the base
/// period and the uncertainty of its drift). e0 is monotone in k, so the 80% interval of e0 is
/// e0 at the 10% and 90% points of k, and its width is about `2 Z80 |de0/dk| sd(k)`. Each year
/// `(t, width)` of the target gives `(width / (2 Z80 |de0/dk|))^2 = sigma^2 h + drift_se^2 h^2`
/// (the slope taken at the year's median k); the two variances are fitted to all years by least
/// squares, kept non-negative. Years with `h <= 0` are ignored. Returns `(sigma, drift_se)`, or
/// `None` without a usable year.
pub fn calibrate_to_e0_widths(
    base_log_m: &[f64; N_AGES],
    b: &[f64; N_AGES],
    drift: f64,
    base_mid: f64,
    widths: &[(f64, f64)],
) -> Option<(f64, f64)> {
    let e0_at = |k: f64| {
        let m: [f64; N_AGES] = std::array::from_fn(|x| (base_log_m[x] + b[x] * k).exp());
        life_expectancy(&m)
    };
    let mut rows = Vec::new();
    for &(t, w) in widths {
        let h = t - base_mid;
        if h <= 0.0 || w.is_nan() || w <= 0.0 {
            continue;
        }
        let k = drift * h;
        let slope = ((e0_at(k + 0.5) - e0_at(k - 0.5)) / 1.0).abs();
        if slope <= 0.0 {
            continue;
        }
        let sd = w / (2.0 * Z80 * slope);
        rows.push((h, sd * sd));
    }
    if rows.is_empty() {
        return None;
    }
    // Normal equations of y = a h + c h^2.
    let (mut s11, mut s12, mut s22, mut t1, mut t2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(h, y) in &rows {
        s11 += h * h;
        s12 += h * h * h;
        s22 += h * h * h * h;
        t1 += h * y;
        t2 += h * h * y;
    }
    let det = s11 * s22 - s12 * s12;
    let (mut a, mut c) = if det.abs() > 1e-12 * s11 * s22 {
        ((t1 * s22 - t2 * s12) / det, (s11 * t2 - s12 * t1) / det)
    } else {
        (t1 / s11, 0.0)
    };
    if a < 0.0 {
        a = 0.0;
        c = t2 / s22;
    }
    if c < 0.0 {
        c = 0.0;
        a = t1 / s11;
    }
    Some((a.max(0.0).sqrt(), c.max(0.0).sqrt()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_keeps_constant_and_linear_shapes() {
        let starts = [0, 1, 5, 10, 100];
        let flat = groups_to_single_ages(&starts, &[0.01, 0.01, 0.01, 0.01, 0.01], true);
        assert!(flat.iter().all(|v| (v - 0.01).abs() < 1e-12));
        let out = groups_to_single_ages(&starts, &[0.5, 0.1, 0.2, 0.3, 0.9], false);
        assert_eq!(out[0], 0.5);
        assert_eq!(out[100], 0.9);
        // centre of 5-9 is 7.5: age 7 (centre 7.5) takes the group value
        assert!((out[7] - 0.2).abs() < 1e-12);
    }

    #[test]
    fn recovers_a_known_lee_carter_model() {
        let starts: Vec<usize> = vec![0, 1, 5, 10, 15, 20, 100];
        let b_true = [0.2, 0.2, 0.15, 0.15, 0.1, 0.1, 0.1];
        let a_true = [-4.0, -6.0, -7.0, -6.5, -6.0, -5.0, -1.0];
        let mids: Vec<f64> = (0..8).map(|i| 1980.0 + 5.0 * i as f64).collect();
        let shocks = [0.0, 0.3, -0.2, 0.1, -0.3, 0.2, 0.0, -0.1];
        let ks: Vec<f64> = (0..8).map(|i| -2.0 * i as f64 + shocks[i]).collect();
        let rates = ks
            .iter()
            .map(|k| a_true.iter().zip(&b_true).map(|(a, b)| (a + b * k).exp()).collect())
            .collect();
        let fit = fit_lee_carter(&GroupRates {
            starts: &starts,
            mids,
            rates,
        })
        .unwrap();
        // drift: (k_last - k_first) / 35 years
        let expect = (ks[7] - ks[0]) / 35.0;
        assert!((fit.drift - expect).abs() < 1e-9, "{} vs {expect}", fit.drift);
        assert!((fit.b[0] - 0.2).abs() < 1e-9);
        assert!(fit.sigma > 0.0);
    }

    /// A model whose k has a known variance gives back the sigma and drift_se the target
    /// widths were made with.
    #[test]
    fn calibration_recovers_the_uncertainty_behind_e0_widths() {
        let mut a = [0.0; N_AGES];
        let mut b = [0.0; N_AGES];
        for x in 0..N_AGES {
            a[x] = (0.0002 * (0.09 * x as f64).exp() + 0.0005).ln();
            b[x] = 1.0 / N_AGES as f64;
        }
        let (drift, sigma, se, base_mid) = (-0.5, 0.4, 0.05, 2018.0);
        let e0_at = |k: f64| {
            let m: [f64; N_AGES] = std::array::from_fn(|x| (a[x] + b[x] * k).exp());
            life_expectancy(&m)
        };
        let widths: Vec<(f64, f64)> = (2025..2060)
            .map(|y| {
                let t = y as f64 + 0.5;
                let h = t - base_mid;
                let sd = (sigma * sigma * h + se * se * h * h).sqrt();
                let k = drift * h;
                (t, e0_at(k - Z80 * sd) - e0_at(k + Z80 * sd))
            })
            .collect();
        let (s, d) = calibrate_to_e0_widths(&a, &b, drift, base_mid, &widths).unwrap();
        // e0 is close to linear in k over these intervals: within 5%.
        assert!((s / sigma - 1.0).abs() < 0.05, "sigma {s}");
        assert!((d / se - 1.0).abs() < 0.05, "drift_se {d}");
        assert!(calibrate_to_e0_widths(&a, &b, drift, base_mid, &[(2000.0, 1.0)]).is_none());
    }

    #[test]
    fn life_expectancy_of_constant_hazard() {
        // With constant m the expectation of life is about 1/m.
        let m = [0.02; N_AGES];
        let e0 = life_expectancy(&m);
        assert!((e0 - 50.0).abs() < 1.5, "{e0}");
    }
}
