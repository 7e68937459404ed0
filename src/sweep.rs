//! `bedsim sweep` and `bedsim plan`: many runs of one scenario, and what it takes to meet its
//! targets.
//!
//! Every sweep point is the same scenario with the varied values written into its tree, run with
//! the same seed: the random streams are keyed by purpose, draw and entity, so every point sees
//! the same draws (common random numbers) and differences between points come from the
//! parameters alone. Finished points are kept in a partial folder beside the output, so an
//! interrupted sweep rerun with the same arguments resumes where it stopped.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use bedsim::montecarlo::{self, RunOptions, RunResult};
use bedsim::report::sweep::{SobolRow, SweepRow};
use bedsim::report::{self, Staging, charts, tables};
use bedsim::scenario::tree::{Node, Origin, Value, get_path, set_path};
use bedsim::scenario::{self, LoadError, Scenario, Source, Unit};
use bedsim::sensitivity;

use crate::app::{EXIT_FAILED, EXIT_INVALID, print_load_error};
use crate::cli::{Method, PlanArgs, SweepArgs};

/// A varied input: its dotted path and range.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub path: String,
    pub low: f64,
    pub high: f64,
    /// Whole numbers only (both ends written as integers): values are rounded.
    pub integer: bool,
}

/// Parses `PATH=LOW..HIGH`.
pub fn parse_vary(spec: &str) -> Result<Param, String> {
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

impl Param {
    fn value(&self, u: f64) -> f64 {
        let v = self.low + u * (self.high - self.low);
        if self.integer { v.round() } else { v }
    }
}

/// Builds the scenario of one point.
fn build_point(source: &Source, params: &[Param], values: &[f64]) -> Result<Scenario, LoadError> {
    let mut root = source.root.clone();
    for (p, v) in params.iter().zip(values) {
        let origin = Origin::Override(Arc::from(format!("sweep {}={v}", p.path).as_str()));
        let value = if p.integer { Value::Int(*v as i64) } else { Value::Float(*v) };
        set_path(
            &mut root,
            &p.path,
            Node {
                value,
                origin: origin.clone(),
            },
        )
        .map_err(|e| {
            LoadError(vec![scenario::Diagnostic {
                origin,
                message: e.to_string(),
            }])
        })?;
    }
    Source {
        root,
        dir: source.dir.clone(),
        file: source.file.clone(),
    }
    .build()
}

fn rows_of(s: &Scenario, r: &RunResult, point: usize, values: &[f64]) -> Vec<SweepRow> {
    r.targets
        .iter()
        .map(|t| {
            let (id, name, _) = tables::unit_labels(s, t.unit);
            let tg = &s.targets[t.target];
            SweepRow {
                point,
                values: values.to_vec(),
                unit: id.to_string(),
                name: name.to_string(),
                target: tg.id.clone(),
                year: tg.year,
                probability: t.probability,
                metric: [
                    t.metric.map(|m| m.quantiles[0]),
                    t.metric.map(|m| m.quantiles[3]),
                    t.metric.map(|m| m.quantiles[6]),
                ],
                needed: t.needed,
            }
        })
        .collect()
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:?}")).unwrap_or_default()
}

fn parse_opt(s: &str) -> Option<f64> {
    if s.is_empty() { None } else { s.parse().ok() }
}

/// One cached point: tab-separated rows, floats written exactly (Rust's shortest round-trip).
fn encode_point(rows: &[SweepRow]) -> String {
    let mut out = String::new();
    for r in rows {
        let vals: Vec<String> = r.values.iter().map(|v| format!("{v:?}")).collect();
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
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
            opt(r.needed)
        ));
    }
    out
}

fn decode_point(text: &str) -> Option<Vec<SweepRow>> {
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            if f.len() != 11 {
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
            })
        })
        .collect()
}

pub fn sweep(args: SweepArgs) -> i32 {
    let started = Instant::now();
    if args.vary.is_empty() {
        eprintln!("error: give at least one --vary PATH=LOW..HIGH");
        return EXIT_INVALID;
    }
    let params: Vec<Param> = match args.vary.iter().map(|v| parse_vary(v)).collect() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_INVALID;
        }
    };
    let mut overrides = args.set.clone();
    if let Some(d) = args.draws {
        overrides.push(format!("draws={d}"));
    }
    if let Some(s) = args.seed {
        overrides.push(format!("seed={s}"));
    }
    let source = match scenario::read(&args.scenario, &overrides) {
        Ok(s) => s,
        Err(e) => {
            print_load_error(&e);
            return EXIT_INVALID;
        }
    };
    for p in &params {
        if get_path(&source.root, &p.path).is_none() {
            eprintln!(
                "error: --vary {}: the scenario has no value at this path (a path names an existing value, e.g. plan.<id>.beds or care.level.sdlog)",
                p.path
            );
            return EXIT_INVALID;
        }
    }
    let k = params.len();
    let mut rng = bedsim::montecarlo::streams::stream(args.seed.unwrap_or(1), bedsim::montecarlo::streams::Purpose::Sweep, 0, 0);
    let design: Vec<Vec<f64>> = match args.method {
        Method::Oat => sensitivity::one_at_a_time(k, args.steps),
        Method::Grid => sensitivity::grid(k, args.steps),
        Method::Lhs => sensitivity::latin_hypercube(k, args.samples, &mut rng),
        Method::Sobol => sensitivity::saltelli(k, args.samples, &mut rng),
    };
    let points: Vec<Vec<f64>> = design
        .iter()
        .map(|u| params.iter().zip(u).map(|(p, x)| p.value(*x)).collect())
        .collect();
    // Check the corners first, so a range the scenario cannot take fails before any run.
    for corner in [
        params.iter().map(|p| p.low).collect::<Vec<_>>(),
        params.iter().map(|p| p.high).collect(),
    ] {
        if let Err(e) = build_point(&source, &params, &corner) {
            print_load_error(&e);
            return EXIT_INVALID;
        }
    }
    let base = match source.build() {
        Ok(s) => s,
        Err(e) => {
            print_load_error(&e);
            return EXIT_INVALID;
        }
    };
    let method_name = format!("{:?}", args.method).to_lowercase();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-sweep-{method_name}", base.name)));
    if let Err(e) = report::check_destination(&out, args.force) {
        eprintln!("error: {e}");
        return EXIT_INVALID;
    }
    let spec = format!(
        "bedsim sweep\nscenario {} {}\nset {:?}\nvary {:?}\nmethod {method_name} steps {} samples {}\nconfidence {}\n",
        source.file.path, source.file.sha256, overrides, args.vary, args.steps, args.samples, args.confidence
    );
    let partial = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
    ));
    if std::fs::read_to_string(partial.join("spec.txt")).ok().as_deref() != Some(spec.as_str()) {
        let _ = std::fs::remove_dir_all(&partial);
        if let Err(e) = std::fs::create_dir_all(&partial).and_then(|_| std::fs::write(partial.join("spec.txt"), &spec)) {
            eprintln!("error: cannot create {}: {e}", partial.display());
            return EXIT_FAILED;
        }
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    let bar = if !args.quiet && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(points.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} points, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut rows: Vec<SweepRow> = Vec::new();
    let mut resumed = 0;
    for (i, values) in points.iter().enumerate() {
        let cache = partial.join(format!("point-{i:06}.tsv"));
        if let Some(r) = std::fs::read_to_string(&cache).ok().and_then(|t| decode_point(&t)) {
            rows.extend(r);
            resumed += 1;
            bar.inc(1);
            continue;
        }
        let s = match build_point(&source, &params, values) {
            Ok(s) => s,
            Err(e) => {
                bar.finish_and_clear();
                print_load_error(&e);
                return EXIT_INVALID;
            }
        };
        let options = RunOptions {
            confidence: args.confidence,
            ..RunOptions::default()
        };
        let result = match pool.install(|| montecarlo::run(&s, &options)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_FAILED;
            }
        };
        let point_rows = rows_of(&s, &result, i, values);
        let tmp = cache.with_extension("tmp");
        if std::fs::write(&tmp, encode_point(&point_rows))
            .and_then(|_| std::fs::rename(&tmp, &cache))
            .is_err()
        {
            eprintln!("warning: could not keep point {i} for resuming");
        }
        rows.extend(point_rows);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let names: Vec<String> = params.iter().map(|p| p.path.clone()).collect();
    let sobol = (args.method == Method::Sobol).then(|| sobol_rows(&rows, &params, args.samples, args.seed.unwrap_or(1)));
    let written = (|| -> Result<usize, report::ReportError> {
        let staging = Staging::new(&out)?;
        report::sweep::write(&staging.dir, &names, &rows, sobol.as_deref())?;
        let n_charts = if args.method == Method::Oat {
            tornado_charts(&base, &params, args.steps, &rows, &staging.dir.join("charts"))?
        } else {
            0
        };
        let manifest = serde_json::json!({
            "program": "bedsim",
            "kind": "sweep",
            "version": env!("CARGO_PKG_VERSION"),
            "scenario": base.name,
            "scenario_path": source.file.path,
            "scenario_sha256": source.file.sha256,
            "overrides": overrides,
            "vary": args.vary,
            "method": method_name,
            "steps": args.steps,
            "samples": args.samples,
            "points": points.len(),
            "draws": base.draws,
            "seed": base.seed,
            "confidence": args.confidence,
            "command_line": std::env::args().collect::<Vec<_>>(),
        });
        report::write_text(
            &staging.dir.join("manifest.json"),
            &serde_json::to_string_pretty(&manifest).unwrap_or_default(),
        )?;
        staging.commit()?;
        Ok(n_charts)
    })();
    match written {
        Ok(n_charts) => {
            let _ = std::fs::remove_dir_all(&partial);
            if !args.quiet {
                print_summary(&base, &params, &rows, args.method, args.steps);
                eprintln!(
                    "{} points ({resumed} resumed) x {} draws written to {}/ in {:.1} s{}",
                    points.len(),
                    base.draws,
                    out.display(),
                    started.elapsed().as_secs_f64(),
                    if n_charts > 0 {
                        format!("; {n_charts} tornado charts")
                    } else {
                        String::new()
                    }
                );
            }
            0
        }
        Err(e) => {
            eprintln!(
                "error: could not write the sweep results: {e}; finished points are kept in {}",
                partial.display()
            );
            EXIT_FAILED
        }
    }
}

/// Units that get tornado charts and summary lines: the groups, or the regions if there are none.
fn headline_units(s: &Scenario) -> Vec<Unit> {
    if s.groups.is_empty() {
        (0..s.regions.len()).map(Unit::Region).collect()
    } else {
        (0..s.groups.len()).map(Unit::Group).collect()
    }
}

fn probability(rows: &[SweepRow], point: usize, unit: &str, target: &str) -> Option<f64> {
    rows.iter()
        .find(|r| r.point == point && r.unit == unit && r.target == target)
        .and_then(|r| r.probability)
}

/// For a one-at-a-time design: (parameter, P at low, P at high) per unit and target, and the
/// centre probability.
fn oat_bars(params: &[Param], steps: usize, rows: &[SweepRow], unit: &str, target: &str) -> Option<(f64, Vec<charts::TornadoBar>)> {
    let steps = steps.max(2);
    let centre = probability(rows, 0, unit, target)?;
    let bars = params
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let low = probability(rows, 1 + i * steps, unit, target)?;
            let high = probability(rows, i * steps + steps, unit, target)?;
            Some(charts::TornadoBar {
                label: format!("{} ({}..{})", p.path, p.low, p.high),
                low,
                high,
            })
        })
        .collect();
    Some((centre, bars))
}

fn tornado_charts(s: &Scenario, params: &[Param], steps: usize, rows: &[SweepRow], dir: &Path) -> Result<usize, report::ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| report::ReportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut n = 0;
    for u in headline_units(s) {
        let (id, name, _) = tables::unit_labels(s, u);
        for t in &s.targets {
            if let Some((centre, bars)) = oat_bars(params, steps, rows, id, &t.id) {
                let path = dir.join(format!("tornado_{}_{}.png", charts::file_stem(&t.id), charts::file_stem(id)));
                charts::tornado(
                    &path,
                    &format!("{name}: {} — what moves the probability", t.id),
                    &format!(
                        "one at a time, others at the middle of their ranges; P(met) there = {:.0}%",
                        100.0 * centre
                    ),
                    "probability of meeting the target",
                    centre,
                    &bars,
                )?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn sobol_rows(rows: &[SweepRow], params: &[Param], n: usize, seed: u64) -> Vec<SobolRow> {
    let k = params.len();
    let total_points = n * (k + 2);
    let mut keys: Vec<(String, String)> = Vec::new();
    for r in rows {
        if !keys.iter().any(|(u, t)| *u == r.unit && *t == r.target) {
            keys.push((r.unit.clone(), r.target.clone()));
        }
    }
    let mut out = Vec::new();
    for (unit, target) in keys {
        let mut prob = vec![f64::NAN; total_points];
        let mut p50 = vec![f64::NAN; total_points];
        for r in rows.iter().filter(|r| r.unit == unit && r.target == target) {
            prob[r.point] = r.probability.unwrap_or(f64::NAN);
            p50[r.point] = r.metric[1].unwrap_or(f64::NAN);
        }
        for (output, y) in [("probability_met", prob), ("metric_p50", p50)] {
            if y.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let mut rng = bedsim::montecarlo::streams::stream(seed, bedsim::montecarlo::streams::Purpose::Sweep, 1, 0);
            for (i, idx) in sensitivity::sobol_indices(&y, k, n, 500, &mut rng).into_iter().enumerate() {
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

fn print_summary(s: &Scenario, params: &[Param], rows: &[SweepRow], method: Method, steps: usize) {
    let mut out = std::io::stdout().lock();
    if method != Method::Oat {
        return;
    }
    for u in headline_units(s) {
        let (id, name, _) = tables::unit_labels(s, u);
        for t in &s.targets {
            let Some((centre, mut bars)) = oat_bars(params, steps, rows, id, &t.id) else {
                continue;
            };
            bars.sort_by(|a, b| (b.high - b.low).abs().total_cmp(&(a.high - a.low).abs()));
            let _ = writeln!(out, "{name} {}: P(met) {:.1}% at the centre", t.id, 100.0 * centre);
            for b in bars {
                let _ = writeln!(out, "  {:<48} low {:>6.1}%  high {:>6.1}%", b.label, 100.0 * b.low, 100.0 * b.high);
            }
        }
    }
}

/// `bedsim plan`: per region and target, what must be added to meet it with the chosen
/// probability, and the latest year it must be started given the scenario's delays.
pub fn plan(args: PlanArgs) -> i32 {
    let mut overrides = args.set.clone();
    if let Some(d) = args.draws {
        overrides.push(format!("draws={d}"));
    }
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        eprintln!("error: --confidence must be strictly between 0 and 1, got {}", args.confidence);
        return EXIT_INVALID;
    }
    let s = match scenario::load(&args.scenario, &overrides) {
        Ok(s) => s,
        Err(e) => {
            print_load_error(&e);
            return EXIT_INVALID;
        }
    };
    let options = RunOptions {
        confidence: args.confidence,
        ..RunOptions::default()
    };
    let r = match montecarlo::run(&s, &options) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return EXIT_FAILED;
        }
    };
    let rows = bedsim::report::plan::rows(&s, &r, args.confidence);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-plan", s.name)));
    if let Err(e) = report::check_destination(&out, args.force) {
        eprintln!("error: {e}");
        return EXIT_INVALID;
    }
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(&out)?;
        bedsim::report::plan::write(&staging.dir, &rows)?;
        let manifest = serde_json::json!({
            "program": "bedsim",
            "kind": "plan",
            "version": env!("CARGO_PKG_VERSION"),
            "scenario": s.name,
            "scenario_path": args.scenario.display().to_string(),
            "overrides": overrides,
            "draws": s.draws,
            "seed": s.seed,
            "confidence": args.confidence,
        });
        report::write_text(
            &staging.dir.join("manifest.json"),
            &serde_json::to_string_pretty(&manifest).unwrap_or_default(),
        )?;
        staging.commit()
    })();
    if let Err(e) = written {
        eprintln!("error: could not write {}: {e}", out.display());
        return EXIT_FAILED;
    }
    if !args.quiet {
        let _ = std::io::stdout()
            .lock()
            .write_all(bedsim::report::plan::text(&rows, args.confidence).as_bytes());
        eprintln!("plan written to {}/plan.csv", out.display());
    }
    0
}
