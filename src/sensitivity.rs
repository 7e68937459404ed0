//! Sensitivity designs and estimators, in the unit hypercube: one at a time, full grid, Latin
//! hypercube, and Sobol' indices by Saltelli sampling.
//!
//! A design is a list of points in `[0, 1]^k`; the sweep maps each coordinate onto its
//! parameter's `LOW..HIGH`. First-order indices use the estimator of Saltelli et al. (2010,
//! Comput. Phys. Commun. 181:259, table 2 (b)), total indices Jansen's (1999, ibid. 117:35);
//! confidence intervals come from a percentile bootstrap over the base samples.
//!
//! No files here: the sweep command runs the points and writes the tables.

use rand::RngExt;

use crate::streams::StreamRng;

/// Centre point, then each parameter alone at `steps` evenly spaced values from its low to its
/// high end (others at the centre).
pub fn one_at_a_time(k: usize, steps: usize) -> Vec<Vec<f64>> {
    let steps = steps.max(2);
    let mut out = vec![vec![0.5; k]];
    for i in 0..k {
        for s in 0..steps {
            let mut p = vec![0.5; k];
            p[i] = s as f64 / (steps - 1) as f64;
            out.push(p);
        }
    }
    out
}

/// Full factorial grid with `steps` values per parameter (the last parameter varies fastest).
pub fn grid(k: usize, steps: usize) -> Vec<Vec<f64>> {
    let steps = steps.max(2);
    let total = steps.pow(k as u32);
    (0..total)
        .map(|mut idx| {
            let mut p = vec![0.0; k];
            for slot in p.iter_mut().rev() {
                *slot = (idx % steps) as f64 / (steps - 1) as f64;
                idx /= steps;
            }
            p
        })
        .collect()
}

/// Latin hypercube of `n` points: in every dimension each of the `n` strata holds exactly one
/// point, placed uniformly within its stratum.
pub fn latin_hypercube(k: usize, n: usize, rng: &mut StreamRng) -> Vec<Vec<f64>> {
    let mut out = vec![vec![0.0; k]; n];
    for dim in 0..k {
        let mut strata: Vec<usize> = (0..n).collect();
        // Fisher-Yates shuffle.
        for i in (1..n).rev() {
            let j = rng.random_range(0..=i);
            strata.swap(i, j);
        }
        for (point, stratum) in out.iter_mut().zip(strata) {
            point[dim] = (stratum as f64 + rng.random::<f64>()) / n as f64;
        }
    }
    out
}

/// Saltelli's sampling for `k` parameters and `n` base samples: the rows of A, then of B, then of
/// each A_B^(i) (A with column i from B); `n (k + 2)` points.
pub fn saltelli(k: usize, n: usize, rng: &mut StreamRng) -> Vec<Vec<f64>> {
    let a: Vec<Vec<f64>> = (0..n).map(|_| (0..k).map(|_| rng.random::<f64>()).collect()).collect();
    let b: Vec<Vec<f64>> = (0..n).map(|_| (0..k).map(|_| rng.random::<f64>()).collect()).collect();
    let mut out = a.clone();
    out.extend(b.iter().cloned());
    for i in 0..k {
        for (ra, rb) in a.iter().zip(&b) {
            let mut row = ra.clone();
            row[i] = rb[i];
            out.push(row);
        }
    }
    out
}

/// Sobol' indices of one parameter with 95% bootstrap intervals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SobolIndex {
    pub first: f64,
    pub first_ci: (f64, f64),
    pub total: f64,
    pub total_ci: (f64, f64),
}

fn estimate(y: &[f64], k: usize, n: usize, rows: &[usize]) -> Vec<(f64, f64)> {
    let m = rows.len() as f64;
    let (fa, fb) = (&y[..n], &y[n..2 * n]);
    let mean = rows.iter().map(|&j| fa[j] + fb[j]).sum::<f64>() / (2.0 * m);
    let var = rows.iter().map(|&j| (fa[j] - mean).powi(2) + (fb[j] - mean).powi(2)).sum::<f64>() / (2.0 * m);
    (0..k)
        .map(|i| {
            let fab = &y[(2 + i) * n..(3 + i) * n];
            if var <= 0.0 {
                return (f64::NAN, f64::NAN);
            }
            let first = rows.iter().map(|&j| fb[j] * (fab[j] - fa[j])).sum::<f64>() / m / var;
            let total = rows.iter().map(|&j| (fa[j] - fab[j]).powi(2)).sum::<f64>() / (2.0 * m) / var;
            (first, total)
        })
        .collect()
}

/// First-order and total indices from the outputs `y` of a [`saltelli`] design (same order),
/// with `bootstrap` resamples for the 95% intervals. An output that never varies has undefined
/// indices (NaN).
pub fn sobol_indices(y: &[f64], k: usize, n: usize, bootstrap: usize, rng: &mut StreamRng) -> Vec<SobolIndex> {
    let all: Vec<usize> = (0..n).collect();
    let point = estimate(y, k, n, &all);
    let mut boots: Vec<Vec<(f64, f64)>> = Vec::with_capacity(bootstrap);
    for _ in 0..bootstrap {
        let rows: Vec<usize> = (0..n).map(|_| rng.random_range(0..n)).collect();
        boots.push(estimate(y, k, n, &rows));
    }
    let interval = |mut v: Vec<f64>| -> (f64, f64) {
        v.retain(|x| x.is_finite());
        if v.is_empty() {
            return (f64::NAN, f64::NAN);
        }
        v.sort_by(f64::total_cmp);
        let q = |p: f64| crate::montecarlo::summary::quantile_sorted(&v, p);
        (q(0.025), q(0.975))
    };
    (0..k)
        .map(|i| SobolIndex {
            first: point[i].0,
            first_ci: interval(boots.iter().map(|b| b[i].0).collect()),
            total: point[i].1,
            total_ci: interval(boots.iter().map(|b| b[i].1).collect()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streams::{Purpose, stream};

    #[test]
    fn latin_hypercube_strata_hold_one_point_per_dimension() {
        let mut rng = stream(1, Purpose::Sweep, 0, 0);
        let n = 37;
        let pts = latin_hypercube(4, n, &mut rng);
        for dim in 0..4 {
            let mut seen = vec![0; n];
            for p in &pts {
                assert!((0.0..1.0).contains(&p[dim]));
                seen[(p[dim] * n as f64) as usize] += 1;
            }
            assert!(seen.iter().all(|c| *c == 1), "dimension {dim}: {seen:?}");
        }
    }

    #[test]
    fn designs_have_the_stated_shape() {
        assert_eq!(one_at_a_time(3, 2).len(), 7);
        assert_eq!(grid(2, 3).len(), 9);
        assert_eq!(grid(2, 3)[5], vec![0.5, 1.0]);
        let mut rng = stream(1, Purpose::Sweep, 0, 0);
        assert_eq!(saltelli(3, 10, &mut rng).len(), 50);
    }

    /// The Ishigami function (a = 7, b = 0.1) has known indices (Saltelli et al. 2008, Global
    /// Sensitivity Analysis: The Primer, 4.2.2). With 20,000 base samples the estimators'
    /// standard errors are about 0.01; the tolerance is 0.03.
    #[test]
    fn sobol_recovers_the_ishigami_indices() {
        use std::f64::consts::PI;
        let (a, b) = (7.0, 0.1);
        let n = 20_000;
        let mut rng = stream(42, Purpose::Sweep, 0, 0);
        let pts = saltelli(3, n, &mut rng);
        let y: Vec<f64> = pts
            .iter()
            .map(|p| {
                let x: Vec<f64> = p.iter().map(|u| -PI + 2.0 * PI * u).collect();
                x[0].sin() + a * x[1].sin().powi(2) + b * x[2].powi(4) * x[0].sin()
            })
            .collect();
        let v1 = 0.5 * (1.0 + b * PI.powi(4) / 5.0).powi(2);
        let v2 = a * a / 8.0;
        let v13 = 8.0 * b * b * PI.powi(8) / 225.0;
        let v = v1 + v2 + v13;
        let expect_first = [v1 / v, v2 / v, 0.0];
        let expect_total = [(v1 + v13) / v, v2 / v, v13 / v];
        let idx = sobol_indices(&y, 3, n, 100, &mut stream(43, Purpose::Sweep, 0, 0));
        for i in 0..3 {
            assert!(
                (idx[i].first - expect_first[i]).abs() < 0.03,
                "S{} = {} vs {}",
                i + 1,
                idx[i].first,
                expect_first[i]
            );
            assert!(
                (idx[i].total - expect_total[i]).abs() < 0.03,
                "ST{} = {} vs {}",
                i + 1,
                idx[i].total,
                expect_total[i]
            );
            assert!(idx[i].total_ci.0 <= idx[i].total && idx[i].total <= idx[i].total_ci.1);
        }
    }
}
