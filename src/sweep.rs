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
use std::time::Instant;

use bedsim::montecarlo::{self, RunOptions, RunResult};
use bedsim::report::sweep::{SobolRow, SweepRow};
use bedsim::report::{self, Staging, charts, tables};
use bedsim::scenario::tree::{Value, get_path};
use bedsim::scenario::{self, LoadError, Override, Scenario, Source, Unit};
use bedsim::sensitivity;

use crate::app::{EXIT_FAILED, EXIT_INVALID, report_failure, report_invalid};
use crate::cli::{Format, MergeArgs, Method, PlanArgs, SweepArgs};

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
    let mut bad = Vec::new();
    for (p, v) in params.iter().zip(values) {
        let value = if p.integer { Value::Int(*v as i128) } else { Value::Float(*v) };
        let shown = if p.integer { format!("{v:.0}") } else { format!("{v}") };
        let o = Override::point(
            &p.path,
            value,
            &format!("--vary {}={}..{} (point value {shown})", p.path, p.low, p.high),
        );
        if let Err(e) = o.apply(&mut root) {
            bad.push(e);
        }
    }
    if !bad.is_empty() {
        return Err(LoadError(bad));
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
                effective_draws: s.conditioned.as_ref().map(|c| c.effective_draws),
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

fn decode_point(text: &str) -> Option<Vec<SweepRow>> {
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

/// Everything a sweep needs before running its points.
struct Prepared {
    source: Source,
    params: Vec<Param>,
    points: Vec<Vec<f64>>,
    base: Scenario,
    method_name: String,
    overrides: Vec<String>,
    /// Every varied input as `PATH=LOW..HIGH`, from --vary and the sweep file.
    vary: Vec<String>,
    /// Describes the sweep exactly: equal specs give equal results (resume, shards).
    spec: String,
}

/// Reads the inputs listed in a sweep file, as `PATH=LOW..HIGH` texts.
fn read_vary_file(path: &Path) -> Result<Vec<String>, String> {
    let text = bedsim::scenario::data::read_text(path).map_err(|e| format!("{}: cannot read the sweep file: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        let (line, col) = e
            .span()
            .map(|sp| {
                let idx = bedsim::scenario::tree::LineIndex::new(&text);
                idx.position(sp.start)
            })
            .unwrap_or((1, 1));
        format!("{}:{line}:{col}: {}", path.display(), e.message())
    })?;
    let mut out = Vec::new();
    for key in table.keys() {
        if key != "vary" {
            return Err(format!(
                "{}: unknown field '{key}' (a sweep file holds `vary` only)",
                path.display()
            ));
        }
    }
    match table.get("vary") {
        Some(toml::Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    toml::Value::String(s) => out.push(s.clone()),
                    toml::Value::Table(t) => {
                        let num = |k: &str| {
                            t.get(k).and_then(|v| {
                                v.as_float()
                                    .or_else(|| v.as_integer().map(|i| i as f64))
                                    .map(|x| (x, v.is_integer()))
                            })
                        };
                        match (t.get("path").and_then(|v| v.as_str()), num("low"), num("high")) {
                            (Some(p), Some((lo, lo_int)), Some((hi, hi_int))) => {
                                let f = |x: f64, int: bool| if int { format!("{}", x as i64) } else { format!("{x:?}") };
                                out.push(format!("{p}={}..{}", f(lo, lo_int), f(hi, hi_int)));
                            }
                            _ => return Err(format!("{}: vary[{i}] needs path, low and high", path.display())),
                        }
                    }
                    _ => {
                        return Err(format!(
                            "{}: vary[{i}] must be \"PATH=LOW..HIGH\" or a table with path, low, high",
                            path.display()
                        ));
                    }
                }
            }
        }
        _ => return Err(format!("{}: expected `vary = [...]` or [[vary]] tables", path.display())),
    }
    Ok(out)
}

fn prepare(args: &SweepArgs) -> Result<Prepared, i32> {
    let mut vary = args.vary.clone();
    if let Some(file) = &args.vary_file {
        match read_vary_file(file) {
            Ok(v) => vary.extend(v),
            Err(e) => {
                report_failure(&e, args.format);
                return Err(EXIT_INVALID);
            }
        }
    }
    let args = &SweepArgs {
        vary,
        vary_file: None,
        ..args.clone()
    };
    if args.vary.is_empty() {
        report_failure("give at least one --vary PATH=LOW..HIGH", args.format);
        return Err(EXIT_INVALID);
    }
    let params: Vec<Param> = args.vary.iter().map(|v| parse_vary(v)).collect::<Result<_, _>>().map_err(|e| {
        report_failure(&e.to_string(), args.format);
        EXIT_INVALID
    })?;
    let overrides = crate::app::overrides(&args.set, args.draws, args.seed).map_err(|e| {
        report_invalid(&e, args.format);
        EXIT_INVALID
    })?;
    let source = scenario::read(&args.scenario, &overrides).map_err(|e| {
        report_invalid(&e, args.format);
        EXIT_INVALID
    })?;
    let overrides = crate::app::override_texts(&overrides);
    for p in &params {
        if get_path(&source.root, &p.path).is_none() {
            eprintln!(
                "error: --vary {}: the scenario has no value at this path (a path names an existing value, e.g. plan.<id>.beds or care.level.sdlog)",
                p.path
            );
            return Err(EXIT_INVALID);
        }
    }
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        report_failure(
            &format!("--confidence must be strictly between 0 and 1, got {}", args.confidence),
            args.format,
        );
        return Err(EXIT_INVALID);
    }
    let k = params.len();
    // A design size that cannot be run is refused before anything starts.
    const MAX_POINTS: usize = 1_000_000;
    let points_wanted = match args.method {
        Method::Oat => Some(1 + k * args.steps.max(2)),
        Method::Grid => args.steps.max(2).checked_pow(k as u32),
        Method::Lhs => Some(args.samples),
        Method::Sobol => args.samples.checked_mul(k + 2),
    };
    if !(2..=10_000).contains(&args.steps) || args.samples < 2 || points_wanted.is_none_or(|n| n > MAX_POINTS) {
        report_failure(
            &format!(
                "--steps must be 2..=10000, --samples at least 2, and the design at most {MAX_POINTS} points (steps {}, samples {}, {k} inputs)",
                args.steps, args.samples
            ),
            args.format,
        );
        return Err(EXIT_INVALID);
    }
    let base = source.build().map_err(|e| {
        report_invalid(&e, args.format);
        EXIT_INVALID
    })?;
    // The design's random numbers come from the run's seed (the scenario's, or --seed), which
    // the manifest records.
    let mut rng = bedsim::streams::stream(base.seed, bedsim::streams::Purpose::Sweep, 0, 0);
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
            report_invalid(&e, args.format);
            return Err(EXIT_INVALID);
        }
    }
    let method_name = format!("{:?}", args.method).to_lowercase();
    let spec = format!(
        "bedsim sweep\nscenario {}\nset {:?}\nvary {:?}\nmethod {method_name} steps {} samples {}\nconfidence {}\n",
        source.file.sha256, overrides, args.vary, args.steps, args.samples, args.confidence
    );
    Ok(Prepared {
        source,
        params,
        points,
        base,
        method_name,
        overrides,
        vary: args.vary.clone(),
        spec,
    })
}

/// Parses `K/N` (1-based shard K of N).
pub fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("--shard '{text}': expected K/N with 1 <= K <= N, for example --shard 3/8");
    let (k, n) = text.split_once('/').ok_or_else(bad)?;
    let (k, n): (usize, usize) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || n == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

pub fn sweep(args: SweepArgs) -> i32 {
    let started = Instant::now();
    let shard = match args.shard.as_deref().map(parse_shard).transpose() {
        Ok(s) => s,
        Err(e) => {
            report_failure(&e.to_string(), args.format);
            return EXIT_INVALID;
        }
    };
    let prep = match prepare(&args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let default_name = match shard {
        None => format!("{}-sweep-{}", prep.base.name, prep.method_name),
        Some((k, n)) => format!("{}-sweep-{}-shard-{k}-of-{n}", prep.base.name, prep.method_name),
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(default_name));
    if let Err(code) = crate::app::destination(&out, args.force, args.format) {
        return code;
    }
    let partial = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
    ));
    if std::fs::read_to_string(partial.join("spec.txt")).ok().as_deref() != Some(prep.spec.as_str()) {
        let _ = std::fs::remove_dir_all(&partial);
        if let Err(e) = std::fs::create_dir_all(&partial).and_then(|_| std::fs::write(partial.join("spec.txt"), &prep.spec)) {
            report_failure(&format!("cannot create {}: {e}", partial.display()), args.format);
            return EXIT_FAILED;
        }
    }
    let (_, pool) = match crate::app::thread_pool(args.threads) {
        Ok(p) => p,
        Err(e) => {
            report_failure(&e, args.format);
            return EXIT_FAILED;
        }
    };
    // A shard owns every N-th point: a deterministic share whatever the order of the shards.
    let mine: Vec<usize> = (0..prep.points.len())
        .filter(|i| shard.is_none_or(|(k, n)| i % n == k - 1))
        .collect();
    let bar = if !args.quiet && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(mine.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} points, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut rows: Vec<SweepRow> = Vec::new();
    let mut resumed = 0;
    for &i in &mine {
        if crate::app::interrupted() {
            bar.finish_and_clear();
            report_failure(
                &format!(
                    "interrupted: {} finished points are kept in {} and a rerun resumes from them",
                    rows.iter().map(|r| r.point).collect::<std::collections::BTreeSet<_>>().len(),
                    partial.display()
                ),
                args.format,
            );
            return EXIT_FAILED;
        }
        let values = &prep.points[i];
        let cache = partial.join(point_file(i));
        if let Some(r) = std::fs::read_to_string(&cache).ok().and_then(|t| decode_point(&t)) {
            rows.extend(r);
            resumed += 1;
            bar.inc(1);
            continue;
        }
        let s = match build_point(&prep.source, &prep.params, values) {
            Ok(s) => s,
            Err(e) => {
                bar.finish_and_clear();
                report_invalid(&e, args.format);
                return EXIT_INVALID;
            }
        };
        let options = RunOptions {
            confidence: args.confidence,
            cancelled: Some(&crate::app::interrupted),
            ..RunOptions::default()
        };
        // Each point is conditioned on the observations with its own inputs.
        let s = match pool.install(|| crate::app::condition_on_observations(s, &options, true, args.format)) {
            Ok(s) => s,
            Err(code) => {
                bar.finish_and_clear();
                return code;
            }
        };
        let result = match pool.install(|| montecarlo::run(&s, &options)) {
            Ok(r) => r,
            Err(e) => {
                report_failure(&e.to_string(), args.format);
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
    let code = match shard {
        None => finish(&prep, &args, &rows, &out),
        Some((k, n)) => write_shard(&prep, &args, k, n, &rows, &mine, &out),
    };
    if code == 0 {
        let _ = std::fs::remove_dir_all(&partial);
        if args.format == Format::Json {
            let files: Vec<String> = std::fs::read_dir(&out)
                .map(|d| {
                    d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let mut files = files;
            files.sort();
            bedsim::report::json::print(&serde_json::json!({
                "ok": true,
                "scenario": prep.base.name,
                "out": out.display().to_string(),
                "method": prep.method_name,
                "parameters": prep.params.iter().map(|p| serde_json::json!({"path": p.path, "low": p.low, "high": p.high})).collect::<Vec<_>>(),
                "points": prep.points.len(),
                "points_run": mine.len() - resumed,
                "points_resumed": resumed,
                "shard": shard.map(|(k, n)| serde_json::json!({"k": k, "n": n})),
                "draws": prep.base.draws,
                "seed": prep.base.seed,
                "files": files,
            }));
        }
        if !args.quiet {
            eprintln!(
                "{} points ({resumed} resumed) x {} draws written to {}/ in {:.1} s",
                mine.len(),
                prep.base.draws,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            let ess: Vec<f64> = rows.iter().filter_map(|r| r.effective_draws).collect();
            if let (Some(lo), Some(hi)) = (ess.iter().copied().reduce(f64::min), ess.iter().copied().reduce(f64::max)) {
                eprintln!(
                    "each point conditioned on {} observation(s): effective sample {lo:.0} to {hi:.0} draws (column effective_draws)",
                    prep.base.observations.len()
                );
            }
        }
    } else {
        eprintln!("finished points are kept in {} for a rerun", partial.display());
    }
    code
}

fn point_file(i: usize) -> String {
    format!("point-{i:06}.tsv")
}

/// Writes a shard: its points and what is needed to merge them.
fn write_shard(prep: &Prepared, args: &SweepArgs, k: usize, n: usize, rows: &[SweepRow], mine: &[usize], out: &Path) -> i32 {
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(out)?;
        let points = staging.dir.join("points");
        std::fs::create_dir_all(&points).map_err(|source| report::ReportError::Io {
            path: points.display().to_string(),
            source,
        })?;
        for &i in mine {
            let own: Vec<SweepRow> = rows.iter().filter(|r| r.point == i).cloned().collect();
            report::write_text(&points.join(point_file(i)), &encode_point(&own))?;
        }
        let shard = ShardManifest::Sweep(SweepShard {
            program: "bedsim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: prep.spec.clone(),
            shard: k,
            shards: n,
            points_total: prep.points.len(),
            arguments: SweepArguments {
                scenario: args.scenario.display().to_string(),
                vary: prep.vary.clone(),
                method: args.method,
                steps: args.steps,
                samples: args.samples,
                draws: args.draws,
                seed: args.seed,
                set: args.set.clone(),
                confidence: args.confidence,
            },
        });
        report::write_json(&staging.dir.join("manifest.json"), &shard)?;
        staging.commit()
    })();
    match written {
        Ok(()) => 0,
        Err(e) => {
            report_failure(&format!("could not write the shard: {e}"), args.format);
            EXIT_FAILED
        }
    }
}

/// Writes the results of a complete sweep (all points) into `out`.
fn finish(prep: &Prepared, args: &SweepArgs, rows: &[SweepRow], out: &Path) -> i32 {
    let names: Vec<String> = prep.params.iter().map(|p| p.path.clone()).collect();
    let sobol = (args.method == Method::Sobol).then(|| sobol_rows(rows, &prep.params, args.samples, prep.base.seed));
    let written = (|| -> Result<usize, report::ReportError> {
        let staging = Staging::new(out)?;
        report::sweep::write(&staging.dir, &names, rows, sobol.as_deref())?;
        let n_charts = if args.method == Method::Oat {
            tornado_charts(&prep.base, &prep.params, args.steps, rows, &staging.dir.join("charts"))?
        } else {
            0
        };
        let manifest = serde_json::json!({
            "program": "bedsim",
            "kind": "sweep",
            "version": env!("CARGO_PKG_VERSION"),
            "scenario": prep.base.name,
            "scenario_path": prep.source.file.path,
            "scenario_sha256": prep.source.file.sha256,
            "overrides": prep.overrides,
            "vary": prep.vary,
            "method": prep.method_name,
            "steps": args.steps,
            "samples": args.samples,
            "points": prep.points.len(),
            "draws": prep.base.draws,
            "seed": prep.base.seed,
            "confidence": args.confidence,
            "command_line": std::env::args().collect::<Vec<_>>(),
        });
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()?;
        Ok(n_charts)
    })();
    match written {
        Ok(n_charts) => {
            if !args.quiet && args.format == Format::Text {
                print_summary(&prep.base, &prep.params, rows, args.method, args.steps);
                if n_charts > 0 {
                    eprintln!("{n_charts} tornado charts in {}/charts/", out.display());
                }
            }
            0
        }
        Err(e) => {
            report_failure(&format!("could not write the sweep results: {e}"), args.format);
            EXIT_FAILED
        }
    }
}

/// `bedsim run --shard K/N`: which shard, and where it goes (checked: not a file, writable).
/// The error is the exit code, the problem reported.
pub fn shard_destination(name: &str, args: &crate::cli::RunArgs, shard: &str) -> Result<((usize, usize), PathBuf), i32> {
    let (k, n) = parse_shard(shard).map_err(|e| {
        report_failure(&e, args.format);
        EXIT_INVALID
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{name}-shard-{k}-of-{n}")));
    crate::app::destination(&out, args.force, args.format)?;
    Ok(((k, n), out))
}

/// `bedsim run --shard K/N`: runs every N-th region and writes their part of the run.
///
/// The caller has checked `out` (see [`shard_destination`]) before any simulation, conditioning
/// included.
pub fn run_shard(s: &Scenario, args: &crate::cli::RunArgs, (k, n): (usize, usize), out: &Path, path: &Path, overrides: &[String]) -> i32 {
    let regions: Vec<usize> = (0..s.regions.len()).filter(|i| i % n == k - 1).collect();
    let (_, pool) = match crate::app::thread_pool(args.threads) {
        Ok(p) => p,
        Err(e) => {
            report_failure(&e, args.format);
            return EXIT_FAILED;
        }
    };
    let options = RunOptions {
        confidence: args.confidence,
        ..RunOptions::default()
    };
    let part = match pool.install(|| montecarlo::run_regions(s, &options, &regions)) {
        Ok(p) => p,
        Err(e) => {
            report_failure(&e.to_string(), args.format);
            return EXIT_FAILED;
        }
    };
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(out)?;
        report::shard::write_run_part(&staging.dir, &part)?;
        let manifest = ShardManifest::Run(RunShard {
            program: "bedsim".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            spec: run_spec(s, overrides, args.confidence),
            shard: k,
            shards: n,
            scenario_path: path.display().to_string(),
            overrides: overrides.to_vec(),
            confidence: args.confidence,
            regions: regions.iter().map(|&r| s.regions[r].id.clone()).collect(),
        });
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()
    })();
    match written {
        Ok(()) => {
            if !args.quiet {
                eprintln!("shard {k} of {n}: {} regions written to {}/", regions.len(), out.display());
            }
            0
        }
        Err(e) => {
            report_failure(&format!("could not write the shard: {e}"), args.format);
            EXIT_FAILED
        }
    }
}

/// Identifies a run exactly: the scenario and its data (hashes), the overrides, the confidence.
fn run_spec(s: &Scenario, overrides: &[String], confidence: f64) -> String {
    let inputs: Vec<String> = s.inputs.iter().map(|i| i.sha256.clone()).collect();
    format!("bedsim run\ninputs {inputs:?}\nset {overrides:?}\nconfidence {confidence}\n")
}

/// What a shard writes in its `manifest.json`, and what `merge` reads back strictly: a field
/// missing, unknown or of the wrong type makes the folder refused, never a silent default.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind")]
enum ShardManifest {
    #[serde(rename = "sweep-shard")]
    Sweep(SweepShard),
    #[serde(rename = "run-shard")]
    Run(RunShard),
}

impl ShardManifest {
    fn spec(&self) -> (&str, usize, usize) {
        match self {
            ShardManifest::Sweep(m) => (&m.spec, m.shard, m.shards),
            ShardManifest::Run(m) => (&m.spec, m.shard, m.shards),
        }
    }
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepShard {
    program: String,
    version: String,
    spec: String,
    shard: usize,
    shards: usize,
    points_total: usize,
    arguments: SweepArguments,
}

/// The sweep's command line, enough to prepare the same sweep again at the merge.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepArguments {
    scenario: String,
    vary: Vec<String>,
    method: Method,
    steps: usize,
    samples: usize,
    draws: Option<u64>,
    seed: Option<u64>,
    set: Vec<String>,
    confidence: f64,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RunShard {
    program: String,
    version: String,
    spec: String,
    shard: usize,
    shards: usize,
    scenario_path: String,
    /// `PATH=VALUE` texts, as `--set` reads them.
    overrides: Vec<String>,
    confidence: f64,
    regions: Vec<String>,
}

/// Merges the shards of a run (`bedsim run --shard`).
fn merge_run(shards: &[(&RunShard, &Path)], args: &MergeArgs) -> i32 {
    let first = shards[0].0;
    let n = first.shards;
    let path = PathBuf::from(&first.scenario_path);
    let confidence = first.confidence;
    let overrides = match crate::app::overrides(&first.overrides, None, None) {
        Ok(o) => o,
        Err(e) => {
            report_invalid(&e, Format::Text);
            return EXIT_INVALID;
        }
    };
    let s = match scenario::load(&path, &overrides) {
        Ok(s) => s,
        Err(e) => {
            report_invalid(&e, Format::Text);
            return EXIT_INVALID;
        }
    };
    if first.spec != run_spec(&s, &first.overrides, confidence) {
        eprintln!(
            "error: the scenario or its data changed since the shards were run ({})",
            path.display()
        );
        return EXIT_INVALID;
    }
    let mut parts = Vec::new();
    for (_, dir) in shards {
        match report::shard::read_run_part(dir, montecarlo::full_rows(s.n_years()) * s.draws) {
            Ok(p) => parts.push(p),
            Err(e) => {
                eprintln!("error: {e}");
                return EXIT_INVALID;
            }
        }
    }
    let covered: usize = parts
        .iter()
        .map(|p| {
            p.units
                .iter()
                .filter(|u| matches!(u.unit, bedsim::scenario::Unit::Region(_)))
                .count()
        })
        .sum();
    if covered != s.regions.len() {
        eprintln!("error: the shards hold {covered} regions, the scenario has {}", s.regions.len());
        return EXIT_INVALID;
    }
    let started = std::time::SystemTime::now();
    let clock = Instant::now();
    let options = RunOptions {
        confidence,
        ..RunOptions::default()
    };
    let result = montecarlo::finish_run(&s, &options, parts);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&s.name));
    if let Err(code) = crate::app::destination(&out, args.force, Format::Text) {
        return code;
    }
    let write_options = crate::app::WriteOptions {
        confidence,
        no_charts: false,
        only: Vec::new(),
    };
    match crate::app::write_results(
        &s,
        &result,
        &write_options,
        &path,
        &first.overrides,
        1,
        started,
        &clock,
        &out,
        Default::default(),
    ) {
        Ok(_) => {
            if !args.quiet {
                eprintln!("{n} run shards merged into {}/", out.display());
            }
            0
        }
        Err(e) => {
            eprintln!("error: could not write results: {e}");
            EXIT_FAILED
        }
    }
}

/// `bedsim merge`: combines the shards of one sweep or run into exactly the single-machine result.
pub fn merge(args: MergeArgs) -> i32 {
    let mut shards: Vec<(ShardManifest, PathBuf)> = Vec::new();
    for dir in &args.shards {
        let file = dir.join("manifest.json");
        let text = match bedsim::scenario::data::read_text(&file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("error: {} is not a bedsim shard: {}: {e}", dir.display(), file.display());
                return EXIT_INVALID;
            }
        };
        match serde_json::from_str::<ShardManifest>(&text) {
            Ok(m) => shards.push((m, dir.clone())),
            Err(e) => {
                eprintln!(
                    "error: {} is not a bedsim shard manifest of kind sweep-shard or run-shard: {e}",
                    file.display()
                );
                return EXIT_INVALID;
            }
        }
    }
    let Some((first, _)) = shards.first() else {
        eprintln!("error: give the shard folders to merge");
        return EXIT_INVALID;
    };
    let (spec, _, n) = first.spec();
    let mut seen = vec![false; n];
    for (m, dir) in &shards {
        let (their_spec, k, their_n) = m.spec();
        if their_spec != spec || their_n != n {
            eprintln!(
                "error: {} belongs to another sweep or run (different scenario, inputs or shard count)",
                dir.display()
            );
            return EXIT_INVALID;
        }
        if k == 0 || k > n || seen[k - 1] {
            eprintln!("error: {}: shard {k} of {n} is missing or given twice", dir.display());
            return EXIT_INVALID;
        }
        seen[k - 1] = true;
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        eprintln!("error: shard {} of {n} is missing", missing + 1);
        return EXIT_INVALID;
    }
    let runs: Vec<(&RunShard, &Path)> = shards
        .iter()
        .filter_map(|(m, d)| {
            if let ShardManifest::Run(r) = m {
                Some((r, d.as_path()))
            } else {
                None
            }
        })
        .collect();
    let sweeps: Vec<(&SweepShard, &Path)> = shards
        .iter()
        .filter_map(|(m, d)| {
            if let ShardManifest::Sweep(w) = m {
                Some((w, d.as_path()))
            } else {
                None
            }
        })
        .collect();
    if !runs.is_empty() && !sweeps.is_empty() {
        eprintln!("error: the folders mix run and sweep shards");
        return EXIT_INVALID;
    }
    if !runs.is_empty() {
        return merge_run(&runs, &args);
    }
    let (first, total) = (sweeps[0].0, sweeps[0].0.points_total);
    let a = &first.arguments;
    let sweep_args = SweepArgs {
        scenario: PathBuf::from(&a.scenario),
        vary: a.vary.clone(),
        method: a.method,
        steps: a.steps,
        samples: a.samples,
        draws: a.draws,
        seed: a.seed,
        threads: None,
        out: None,
        set: a.set.clone(),
        vary_file: None,
        confidence: a.confidence,
        quiet: args.quiet,
        force: args.force,
        shard: None,
        format: Format::Text,
    };
    let prep = match prepare(&sweep_args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if prep.spec != first.spec || prep.points.len() != total {
        eprintln!(
            "error: the scenario or its data changed since the shards were run ({})",
            sweep_args.scenario.display()
        );
        return EXIT_INVALID;
    }
    // Shards may be given in any order: shard K owns the points i with i % N == K - 1.
    let mut owners: Vec<&Path> = vec![Path::new(""); n];
    for (m, dir) in &sweeps {
        owners[m.shard - 1] = dir;
    }
    let mut rows = Vec::new();
    for i in 0..total {
        let owner = owners[i % n];
        match std::fs::read_to_string(owner.join("points").join(point_file(i)))
            .ok()
            .and_then(|t| decode_point(&t))
        {
            Some(r) => rows.extend(r),
            None => {
                eprintln!("error: {}: point {i} is missing or unreadable", owner.display());
                return EXIT_INVALID;
            }
        }
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-sweep-{}", prep.base.name, prep.method_name)));
    if let Err(code) = crate::app::destination(&out, args.force, Format::Text) {
        return code;
    }
    let code = finish(&prep, &sweep_args, &rows, &out);
    if code == 0 && !args.quiet {
        eprintln!("{n} shards, {total} points merged into {}/", out.display());
    }
    code
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
            let mut rng = bedsim::streams::stream(seed, bedsim::streams::Purpose::Sweep, 1, 0);
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
    let overrides = match crate::app::overrides(&args.set, args.draws, None) {
        Ok(o) => o,
        Err(e) => {
            report_invalid(&e, args.format);
            return EXIT_INVALID;
        }
    };
    if !(args.confidence > 0.0 && args.confidence < 1.0) {
        report_failure(
            &format!("--confidence must be strictly between 0 and 1, got {}", args.confidence),
            args.format,
        );
        return EXIT_INVALID;
    }
    let s = match scenario::load(&args.scenario, &overrides) {
        Ok(s) => s,
        Err(e) => {
            report_invalid(&e, args.format);
            return EXIT_INVALID;
        }
    };
    let options = RunOptions {
        confidence: args.confidence,
        ..RunOptions::default()
    };
    let s = match crate::app::condition_on_observations(s, &options, false, args.format) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let r = match montecarlo::run(&s, &options) {
        Ok(r) => r,
        Err(e) => {
            report_failure(&e.to_string(), args.format);
            return EXIT_FAILED;
        }
    };
    let rows = bedsim::report::plan::rows(&s, &r, args.confidence);
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-plan", s.name)));
    if let Err(code) = crate::app::destination(&out, args.force, args.format) {
        return code;
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
            "overrides": crate::app::override_texts(&overrides),
            "draws": s.draws,
            "seed": s.seed,
            "confidence": args.confidence,
        });
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()
    })();
    if let Err(e) = written {
        report_failure(&format!("could not write {}: {e}", out.display()), args.format);
        return EXIT_FAILED;
    }
    if args.format == Format::Json {
        bedsim::report::json::print(&serde_json::json!({
            "ok": true,
            "scenario": s.name,
            "out": out.display().to_string(),
            "draws": s.draws,
            "seed": s.seed,
            "confidence": args.confidence,
            "effective_draws": s.conditioned.as_ref().map(|c| c.effective_draws),
            "rows": bedsim::report::json::plan(&rows),
        }));
    } else if !args.quiet {
        let _ = std::io::stdout()
            .lock()
            .write_all(bedsim::report::plan::text(&rows, args.confidence).as_bytes());
    }
    if !args.quiet {
        eprintln!("plan written to {}/plan.csv", out.display());
    }
    0
}
