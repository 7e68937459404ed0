//! Sensitivity designs and estimators, in the unit hypercube: one at a time, full grid, Latin
//! hypercube, Sobol' indices by Saltelli sampling, and Morris's elementary effects.
//!
//! A design is a list of points in `[0, 1]^k`; the sweep maps each coordinate onto its
//! parameter's `LOW..HIGH`. First-order indices use the estimator of Saltelli et al. (2010,
//! Comput. Phys. Commun. 181:259, table 2 (b)), total indices Jansen's (1999, ibid. 117:35);
//! confidence intervals come from a percentile bootstrap over the base samples. Morris screening
//! (Morris 1991, Technometrics 33:161) follows `r` one-at-a-time trajectories through a grid
//! of 4 levels and reports per input the mean of the elementary effects, the mean of their
//! absolute values `mu*` (Campolongo, Cariboni & Saltelli 2007, Environ. Model. Softw. 22:1509)
//! and their standard deviation `sigma` (large: the input interacts or acts non-linearly).
//!
//! Also the sweep's own logic, apart from running and writing: the varied inputs
//! (`PATH=LOW..HIGH`), the rows of a sweep table, their exact encoding for resumable point
//! files, the one-at-a-time bars of a tornado chart and the Sobol' table of a Saltelli sweep.
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

/// Grid levels of a Morris design: 4, the usual choice, with a step of 2/3 of the range.
pub const MORRIS_LEVELS: usize = 4;

/// Morris's design for `k` parameters: `r` trajectories of `k + 1` points on a grid of
/// [`MORRIS_LEVELS`] levels in `[0, 1]`. Each starts at a random grid point and then moves one
/// coordinate at a time, in a random order, by the step `levels / (2 (levels - 1))` up or down
/// (up from the lower half of the levels, down from the upper half), so every point stays on the
/// grid and every level is as likely as every other.
pub fn morris(k: usize, r: usize, rng: &mut StreamRng) -> Vec<Vec<f64>> {
    let p = MORRIS_LEVELS;
    let half = p / 2;
    let level = |j: usize| j as f64 / (p - 1) as f64;
    let mut out = Vec::with_capacity(r * (k + 1));
    for _ in 0..r {
        let start: Vec<usize> = (0..k).map(|_| rng.random_range(0..p)).collect();
        let mut order: Vec<usize> = (0..k).collect();
        for i in (1..k).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut at = start.clone();
        out.push(at.iter().map(|&j| level(j)).collect());
        for &i in &order {
            at[i] = if at[i] < half { at[i] + half } else { at[i] - half };
            out.push(at.iter().map(|&j| level(j)).collect());
        }
    }
    out
}

/// Morris's measures of one parameter: the mean of its elementary effects, the mean of their
/// absolute values and their standard deviation, over the trajectories where both ends have an
/// output; in output units per whole range of the input.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MorrisIndex {
    pub mu: f64,
    pub mu_star: f64,
    pub sigma: f64,
    /// Trajectories that gave an effect.
    pub effects: usize,
}

/// Morris's measures from the unit-cube points of a [`morris`] design (trajectories of `k + 1`
/// consecutive points) and their outputs `y` (NaN where undefined). The moved input and the
/// step are read from the points themselves.
pub fn morris_indices(points: &[Vec<f64>], y: &[f64], k: usize) -> Vec<MorrisIndex> {
    let mut effects: Vec<Vec<f64>> = vec![Vec::new(); k];
    for (t, trajectory) in points.chunks(k + 1).enumerate() {
        let base = t * (k + 1);
        for s in 1..trajectory.len() {
            let (a, b) = (&trajectory[s - 1], &trajectory[s]);
            let Some(i) = (0..k).find(|&i| a[i] != b[i]) else { continue };
            let (ya, yb) = (y[base + s - 1], y[base + s]);
            if ya.is_finite() && yb.is_finite() {
                effects[i].push((yb - ya) / (b[i] - a[i]));
            }
        }
    }
    effects
        .into_iter()
        .map(|e| {
            let n = e.len() as f64;
            let mu = e.iter().sum::<f64>() / n;
            let mu_star = e.iter().map(|x| x.abs()).sum::<f64>() / n;
            let sigma = if e.len() > 1 {
                (e.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
            } else {
                f64::NAN
            };
            MorrisIndex {
                mu,
                mu_star,
                sigma,
                effects: e.len(),
            }
        })
        .collect()
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

/// A varied input: its dotted path and range.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub path: String,
    pub low: f64,
    pub high: f64,
    /// Whole numbers only (both ends written as integers): values are rounded.
    pub integer: bool,
}

impl Param {
    /// Parses `PATH=LOW..HIGH`.
    ///
    /// # Errors
    /// A text of another shape, ends that are not finite numbers, or LOW above HIGH.
    pub fn parse(spec: &str) -> Result<Param, String> {
        let bad = || format!("--vary '{spec}': expected PATH=LOW..HIGH, for example --vary plan.township-centres.year=2023..2026");
        let (path, range) = spec.split_once('=').ok_or_else(bad)?;
        let (lo, hi) = range.split_once("..").ok_or_else(bad)?;
        let (lo_t, hi_t) = (lo.trim(), hi.trim());
        let low: f64 = lo_t.parse().map_err(|_| bad())?;
        let high: f64 = hi_t.parse().map_err(|_| bad())?;
        if !low.is_finite() || !high.is_finite() || low > high || path.trim().is_empty() {
            return Err(format!("--vary '{spec}': LOW and HIGH must be finite numbers with LOW <= HIGH"));
        }
        let integer = lo_t.parse::<i64>().is_ok() && hi_t.parse::<i64>().is_ok();
        Ok(Param {
            path: path.trim().to_string(),
            low,
            high,
            integer,
        })
    }

    /// The value at `u` in `[0, 1]` of the range (rounded for an integer input).
    pub fn value(&self, u: f64) -> f64 {
        let v = self.low + u * (self.high - self.low);
        if self.integer { v.round() } else { v }
    }
}

/// One row of a sweep table.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRow {
    pub point: usize,
    /// The values of the varied parameters at this point, in `--vary` order.
    pub values: Vec<f64>,
    pub unit: String,
    pub name: String,
    pub target: String,
    pub year: i32,
    pub probability: Option<f64>,
    /// p05, p50, p95 of the target's metric.
    pub metric: [Option<f64>; 3],
    pub needed: Option<f64>,
    /// Effective sample size of the point's draws, when the scenario conditions on observations.
    pub effective_draws: Option<f64>,
}

/// One Sobol' index row.
#[derive(Debug, Clone, PartialEq)]
pub struct SobolRow {
    pub unit: String,
    pub target: String,
    pub output: String,
    pub parameter: String,
    pub first: f64,
    pub first_ci: (f64, f64),
    pub total: f64,
    pub total_ci: (f64, f64),
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:?}")).unwrap_or_default()
}

fn parse_opt(s: &str) -> Option<f64> {
    if s.is_empty() { None } else { s.parse().ok() }
}

/// The rows of one point as tab-separated text, floats written exactly (Rust's shortest
/// round-trip form), for the point files a sweep resumes from and shards merge.
pub fn encode_point(rows: &[SweepRow]) -> String {
    let mut out = String::new();
    for r in rows {
        let vals: Vec<String> = r.values.iter().map(|v| format!("{v:?}")).collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            r.point,
            vals.join(","),
            r.unit,
            r.name,
            r.target,
            r.year,
            opt(r.probability),
            opt(r.metric[0]),
            opt(r.metric[1]),
            opt(r.metric[2]),
            opt(r.needed),
            opt(r.effective_draws)
        ));
    }
    out
}

/// Reads what [`encode_point`] wrote; `None` for anything else.
pub fn decode_point(text: &str) -> Option<Vec<SweepRow>> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() != 12 {
                return None;
            }
            Some(SweepRow {
                point: f[0].parse().ok()?,
                values: f[1].split(',').map(|v| v.parse().ok()).collect::<Option<Vec<f64>>>()?,
                unit: f[2].to_string(),
                name: f[3].to_string(),
                target: f[4].to_string(),
                year: f[5].parse().ok()?,
                probability: parse_opt(f[6]),
                metric: [parse_opt(f[7]), parse_opt(f[8]), parse_opt(f[9])],
                needed: parse_opt(f[10]),
                effective_draws: parse_opt(f[11]),
            })
        })
        .collect()
}

/// One bar of a tornado chart: the probability with one input at its low and at its high end.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub label: String,
    pub low: f64,
    pub high: f64,
}

fn probability(rows: &[SweepRow], point: usize, unit: &str, target: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.point == point && r.unit == unit && r.target == target)
        .and_then(|r| r.probability)
}

/// For a [`one_at_a_time`] design of `steps` values per input: the probability at the centre
/// and each input's bar, for one unit and target.
pub fn oat_bars(params: &[Param], steps: usize, rows: &[SweepRow], unit: &str, target: &str) -> Option<(f64, Vec<Bar>)> {
    let steps = steps.max(2);
    let centre = probability(rows, 0, unit, target)?;
    let bars = params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let low = probability(rows, 1 + i * steps, unit, target)?;
            let high = probability(rows, i * steps + steps, unit, target)?;
            Some(Bar {
                label: format!("{} ({}..{})", p.path, p.low, p.high),
                low,
                high,
            })
        })
        .collect();
    Some((centre, bars))
}

/// One unit and target of a sweep, with each output an index is computed for (name, value at
/// every point).
type UnitOutputs = (String, String, [(&'static str, Vec<f64>); 2]);

/// The outputs an index is computed for, per unit and target in the order they first appear:
/// the probability of meeting the target and the target metric's median at each point (NaN
/// where a point has none). Filled from the rows as they are read, a batch of points at a time,
/// so that a national sweep (millions of rows) never holds its rows at once.
#[derive(Debug, Default)]
pub struct Outputs {
    index: std::collections::HashMap<(String, String), usize>,
    outputs: Vec<UnitOutputs>,
    n_points: usize,
}

impl Outputs {
    pub fn new(n_points: usize) -> Outputs {
        Outputs {
            n_points,
            ..Outputs::default()
        }
    }

    /// Adds rows (of any points).
    pub fn add(&mut self, rows: &[SweepRow]) {
        for r in rows {
            let key = (r.unit.clone(), r.target.clone());
            let n = self.n_points;
            let i = match self.index.get(&key) {
                Some(&i) => i,
                None => {
                    self.outputs.push((
                        r.unit.clone(),
                        r.target.clone(),
                        [("probability_met", vec![f64::NAN; n]), ("metric_p50", vec![f64::NAN; n])],
                    ));
                    self.index.insert(key, self.outputs.len() - 1);
                    self.outputs.len() - 1
                }
            };
            let [(_, prob), (_, p50)] = &mut self.outputs[i].2;
            prob[r.point] = r.probability.unwrap_or(f64::NAN);
            p50[r.point] = r.metric[1].unwrap_or(f64::NAN);
        }
    }

    /// The outputs of all rows in `rows`.
    pub fn of(rows: &[SweepRow], n_points: usize) -> Outputs {
        let mut o = Outputs::new(n_points);
        o.add(rows);
        o
    }
}

/// The Sobol' table of a [`saltelli`] sweep of `n` base samples: for each unit and target,
/// the indices of the probability of meeting it and of its metric's median (an output with a
/// missing value at any point is left out). The bootstrap draws from `seed`.
pub fn sobol_table(outputs: &Outputs, params: &[Param], n: usize, seed: u64) -> Vec<SobolRow> {
    let k = params.len();
    let mut out = Vec::new();
    for (unit, target, outputs) in &outputs.outputs {
        for (output, y) in outputs {
            if y.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let mut rng = crate::streams::stream(seed, crate::streams::Purpose::Sweep, 1, 0);
            for (i, idx) in sobol_indices(y, k, n, 500, &mut rng).into_iter().enumerate() {
                out.push(SobolRow {
                    unit: unit.clone(),
                    target: target.clone(),
                    output: output.to_string(),
                    parameter: params[i].path.clone(),
                    first: idx.first,
                    first_ci: idx.first_ci,
                    total: idx.total,
                    total_ci: idx.total_ci,
                });
            }
        }
    }
    out
}

/// One row of the Morris table: an input's measures for one unit, target and output.
#[derive(Debug, Clone, PartialEq)]
pub struct MorrisRow {
    pub unit: String,
    pub target: String,
    pub output: String,
    pub parameter: String,
    pub index: MorrisIndex,
}

/// The Morris table of a [`morris`] sweep whose points (in the inputs' units) are `points`: for
/// each unit and target, the measures of the probability of meeting it and of its metric's
/// median, per input, in output units per whole range of the input.
pub fn morris_table(outputs: &Outputs, params: &[Param], points: &[Vec<f64>]) -> Vec<MorrisRow> {
    let k = params.len();
    // Back to the unit cube (integer inputs were rounded: their real step is used).
    let unit: Vec<Vec<f64>> = points
        .iter()
        .map(|v| {
            params
                .iter()
                .zip(v)
                .map(|(p, x)| if p.high > p.low { (x - p.low) / (p.high - p.low) } else { 0.0 })
                .collect()
        })
        .collect();
    let mut out = Vec::new();
    for (unit_id, target, outputs) in &outputs.outputs {
        for (output, y) in outputs {
            for (i, index) in morris_indices(&unit, y, k).into_iter().enumerate() {
                out.push(MorrisRow {
                    unit: unit_id.clone(),
                    target: target.clone(),
                    output: output.to_string(),
                    parameter: params[i].path.clone(),
                    index,
                });
            }
        }
    }
    out
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

    fn row(point: usize, probability: Option<f64>) -> SweepRow {
        SweepRow {
            point,
            values: vec![0.1, 1.0 / 3.0],
            unit: "460105".into(),
            name: "秀英区".into(),
            target: "beds-2025".into(),
            year: 2025,
            probability,
            metric: [Some(1e-17), None, Some(42.0)],
            needed: Some(12.5),
            effective_draws: None,
        }
    }

    #[test]
    fn a_vary_spec_reads_its_range_and_whether_it_is_whole() {
        let p = Param::parse(" plan.x.year = 2023..2026").unwrap();
        assert_eq!((p.path.as_str(), p.low, p.high, p.integer), ("plan.x.year", 2023.0, 2026.0, true));
        assert_eq!(p.value(0.5), 2025.0, "2024.5 rounds to an integer");
        let f = Param::parse("care.level.sdlog=0.1..0.3").unwrap();
        assert!(!f.integer && (f.value(0.5) - 0.2).abs() < 1e-15);
        for bad in ["x", "x=1", "x=a..2", "x=3..1", "=1..2", "x=inf..1"] {
            assert!(Param::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn point_files_give_back_every_row_exactly() {
        let rows = vec![row(3, Some(0.8765432109876543)), row(3, None)];
        assert_eq!(decode_point(&encode_point(&rows)), Some(rows));
        assert_eq!(decode_point("3\tnot a row"), None);
    }

    #[test]
    fn oat_bars_take_each_inputs_ends() {
        let params = vec![Param::parse("a=0..1").unwrap(), Param::parse("b=0..1").unwrap()];
        // Centre 0, then a at 3 steps (points 1..=3), then b (4..=6).
        let rows: Vec<SweepRow> = (0..7).map(|i| row(i, Some(i as f64 / 10.0))).collect();
        let (centre, bars) = oat_bars(&params, 3, &rows, "460105", "beds-2025").unwrap();
        assert_eq!(centre, 0.0);
        assert_eq!((bars[0].low, bars[0].high, bars[1].low, bars[1].high), (0.1, 0.3, 0.4, 0.6));
        assert_eq!(bars[0].label, "a (0..1)");
        assert!(oat_bars(&params, 3, &rows, "other", "beds-2025").is_none());
    }

    #[test]
    fn a_morris_trajectory_moves_each_input_once_by_two_thirds() {
        let mut rng = crate::streams::stream(5, crate::streams::Purpose::Sweep, 0, 0);
        let (k, r) = (3, 50);
        let d = morris(k, r, &mut rng);
        assert_eq!(d.len(), r * (k + 1));
        let mut levels = [0usize; MORRIS_LEVELS];
        for t in d.chunks(k + 1) {
            let mut moved = vec![0; k];
            for w in t.windows(2) {
                let changed: Vec<usize> = (0..k).filter(|&i| w[0][i] != w[1][i]).collect();
                assert_eq!(changed.len(), 1, "{w:?}");
                assert!(((w[1][changed[0]] - w[0][changed[0]]).abs() - 2.0 / 3.0).abs() < 1e-12);
                moved[changed[0]] += 1;
            }
            assert_eq!(moved, vec![1; k]);
            for x in t.iter().flatten() {
                assert!((0.0..=1.0).contains(x));
                levels[(x * 3.0).round() as usize] += 1;
            }
        }
        assert!(levels.iter().all(|&n| n > 100), "every level is used: {levels:?}");
    }

    #[test]
    fn morris_measures_recover_known_effects() {
        let mut rng = crate::streams::stream(9, crate::streams::Purpose::Sweep, 0, 0);
        let (k, r) = (3, 40);
        let d = morris(k, r, &mut rng);
        // Linear: every elementary effect is the slope; an input with no effect has mu* = 0.
        let y: Vec<f64> = d.iter().map(|x| 2.0 * x[0] - 0.5 * x[1]).collect();
        let m = morris_indices(&d, &y, k);
        assert!((m[0].mu - 2.0).abs() < 1e-12 && (m[0].mu_star - 2.0).abs() < 1e-12 && m[0].sigma < 1e-12);
        assert!((m[1].mu + 0.5).abs() < 1e-12 && (m[1].mu_star - 0.5).abs() < 1e-12);
        assert_eq!((m[2].mu_star, m[2].effects), (0.0, r));
        // An interaction: effects vary with the other input, so sigma is large.
        let y: Vec<f64> = d.iter().map(|x| x[0] * x[1]).collect();
        let m = morris_indices(&d, &y, k);
        assert!(m[0].sigma > 0.2 && m[1].sigma > 0.2 && m[2].mu_star == 0.0, "{m:?}");
        // An undefined output leaves the steps that touch it out.
        let mut y: Vec<f64> = d.iter().map(|x| x[0]).collect();
        y[0] = f64::NAN;
        assert!(morris_indices(&d, &y, k).iter().map(|m| m.effects).sum::<usize>() < r * k);
    }
}
