//! `bedsim sweep` and `bedsim plan`: many runs of one scenario, and what it takes to meet its
//! targets.
//!
//! Every sweep point is the same scenario with the varied values written into its tree, run with
//! the same seed: the random streams are keyed by purpose, draw and entity, so every point sees
//! the same draws (common random numbers) and differences between points come from the
//! parameters alone. Finished points are kept in a partial folder beside the output, so an
//! interrupted sweep rerun with the same arguments resumes where it stopped.

use super::*;

/// Builds the scenario of one point.
pub(super) fn build_point(source: &Source, params: &[Param], values: &[f64]) -> Result<Scenario, LoadError> {
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

pub(super) fn rows_of(s: &Scenario, targets: &[TargetResult], point: usize, values: &[f64]) -> Vec<SweepRow> {
    targets
        .iter()
        .map(|t| {
            let (id, name, _) = tables::unit_labels(s, t.unit);
            let tg = &s.targets()[t.target];
            SweepRow {
                point,
                values: values.to_vec(),
                unit: id.to_string(),
                name: name.to_string(),
                target: tg.id.clone(),
                year: tg.year,
                probability: t.probability,
                metric: [t.metric.map(|m| m.p05()), t.metric.map(|m| m.p50()), t.metric.map(|m| m.p95())],
                needed: t.needed,
                effective_draws: s.conditioned().as_ref().map(|c| c.effective_draws),
            }
        })
        .collect()
}

/// Everything a sweep needs before running its points.
pub(super) struct Prepared {
    pub(super) source: Source,
    pub(super) params: Vec<Param>,
    pub(super) points: Vec<Vec<f64>>,
    pub(super) base: Scenario,
    pub(super) method_name: String,
    pub(super) overrides: Vec<String>,
    /// Every varied input as `PATH=LOW..HIGH`, from --vary and the sweep file.
    pub(super) vary: Vec<String>,
    /// Describes the sweep exactly: equal specs give equal results (resume, shards).
    pub(super) spec: String,
}

/// Reads the inputs listed in a sweep file, as `PATH=LOW..HIGH` texts.
pub(super) fn read_vary_file(path: &Path) -> Result<Vec<String>, String> {
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

pub(super) fn prepare(args: &SweepArgs) -> Result<Prepared, CmdError> {
    // Every point builds the scenario again: its data files are parsed once.
    bedsim::scenario::data::keep_parsed_files(true);
    let mut vary = args.vary.clone();
    if let Some(file) = &args.vary_file {
        vary.extend(read_vary_file(file).map_err(CmdError::usage)?);
    }
    let args = &SweepArgs {
        vary,
        vary_file: None,
        ..args.clone()
    };
    if args.vary.is_empty() {
        return Err(CmdError::usage("give at least one --vary PATH=LOW..HIGH"));
    }
    let params: Vec<Param> = args
        .vary
        .iter()
        .map(|v| Param::parse(v))
        .collect::<Result<_, _>>()
        .map_err(CmdError::usage)?;
    let overrides = super::run_overrides(&args.flags, args.seed)?;
    let source = scenario::read(&args.scenario, &overrides)?;
    let overrides = super::override_texts(&overrides);
    for p in &params {
        if get_path(&source.root, &p.path).is_none() {
            return Err(CmdError::usage(format!(
                "--vary {}: the scenario has no value at this path (a path names an existing value, e.g. plan.<id>.beds or care.level.sdlog)",
                p.path
            )));
        }
    }
    let k = params.len();
    // A design size that cannot be run is refused before anything starts.
    const MAX_POINTS: usize = 1_000_000;
    let points_wanted = match args.method {
        Method::Oat => Some(1 + k * args.steps.max(2)),
        Method::Grid => args.steps.max(2).checked_pow(k as u32),
        Method::Lhs => Some(args.samples),
        Method::Sobol => args.samples.checked_mul(k + 2),
        Method::Morris => args.samples.checked_mul(k + 1),
    };
    if !(2..=10_000).contains(&args.steps) || args.samples < 2 || points_wanted.is_none_or(|n| n > MAX_POINTS) {
        return Err(CmdError::usage(format!(
            "--steps must be 2..=10000, --samples at least 2, and the design at most {MAX_POINTS} points (steps {}, samples {}, {k} inputs)",
            args.steps, args.samples
        )));
    }
    let base = source.build()?;
    // The design's random numbers come from the run's seed (the scenario's, or --seed), which
    // the manifest records.
    let mut rng = bedsim::streams::stream(base.seed(), bedsim::streams::Purpose::Sweep, 0, 0);
    let design: Vec<Vec<f64>> = match args.method {
        Method::Oat => sensitivity::one_at_a_time(k, args.steps),
        Method::Grid => sensitivity::grid(k, args.steps),
        Method::Lhs => sensitivity::latin_hypercube(k, args.samples, &mut rng),
        Method::Sobol => sensitivity::saltelli(k, args.samples, &mut rng),
        Method::Morris => sensitivity::morris(k, args.samples, &mut rng),
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
        build_point(&source, &params, &corner)?;
    }
    let method_name = format!("{:?}", args.method).to_lowercase();
    let spec = format!(
        "bedsim sweep\nscenario {}\nset {:?}\nvary {:?}\nmethod {method_name} steps {} samples {}\nconfidence {}\n",
        source.file.sha256, overrides, args.vary, args.steps, args.samples, args.flags.confidence
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

pub fn sweep(args: SweepArgs) -> Outcome {
    let started = Instant::now();
    let shard = super::resolve_shard(args.shard)?;
    let prep = prepare(&args)?;
    let default_name = match shard {
        None => format!("{}-sweep-{}", prep.base.name(), prep.method_name),
        Some(Shard { k, n }) => format!("{}-sweep-{}-shard-{k}-of-{n}", prep.base.name(), prep.method_name),
    };
    let out = super::results_folder(args.flags.out.as_deref(), args.flags.force, &default_name)?;
    let partial = out.with_file_name(format!(
        ".{}.partial",
        out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default()
    ));
    if std::fs::read_to_string(partial.join("spec.txt")).ok().as_deref() != Some(prep.spec.as_str()) {
        let _ = std::fs::remove_dir_all(&partial);
        if let Err(e) = std::fs::create_dir_all(&partial).and_then(|_| std::fs::write(partial.join("spec.txt"), &prep.spec)) {
            return Err(CmdError::failed(format!("cannot create {}: {e}", partial.display())));
        }
    }
    let (_, pool) = super::thread_pool(args.threads)?;
    // A shard owns every N-th point: a deterministic share whatever the order of the shards.
    let mine: Vec<usize> = (0..prep.points.len())
        .filter(|i| shard.is_none_or(|Shard { k, n }| i % n == k - 1))
        .collect();
    let bar = if !args.flags.quiet && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(mine.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} points, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    // Each point's rows go to its file in the partial folder (for resuming) and are read back
    // from there when the tables are written, so the sweep never holds all its rows.
    let mut files: Vec<PathBuf> = Vec::with_capacity(mine.len());
    let mut ess: Option<(f64, f64)> = None;
    let mut resumed = 0;
    let memory_bytes = args.memory.map_or(montecarlo::DEFAULT_MEMORY_BYTES, |m| m.saturating_mul(1 << 20));
    // The population shared by the points that change only the supply side, projected when the
    // first of them is run.
    let mut shared: Option<(montecarlo::staged::Population, Held)> = None;
    let (mut staged_points, mut full_points) = (0usize, 0usize);
    let mut point_timing = montecarlo::staged::PointTiming::default();
    let mut build_seconds = 0.0;
    let mut first_full: Option<(usize, String)> = None;
    // Points are compared with the centre of the design (every input at the middle of its
    // range): with only supply-side inputs varied they all share its projection; with some
    // demographic ones, those points that hold these at the centre (most of an OAT) do.
    let centre_values: Vec<f64> = prep.params.iter().map(|p| p.value(0.5)).collect();
    let centre = build_point(&prep.source, &prep.params, &centre_values)?;
    for &i in &mine {
        if super::interrupted() {
            bar.finish_and_clear();
            return Err(CmdError::failed(format!(
                "interrupted: {} finished points are kept in {} and a rerun resumes from them",
                files.len(),
                partial.display()
            )));
        }
        let values = &prep.points[i];
        let cache = partial.join(point_file(i));
        if let Some(r) = std::fs::read_to_string(&cache).ok().and_then(|t| decode_point(&t)) {
            note_ess(&mut ess, &r);
            files.push(cache);
            resumed += 1;
            bar.inc(1);
            continue;
        }
        let clock = Instant::now();
        let s = match build_point(&prep.source, &prep.params, values) {
            Ok(s) => s,
            Err(e) => {
                bar.finish_and_clear();
                return Err(CmdError::Invalid(e));
            }
        };
        build_seconds += clock.elapsed().as_secs_f64();
        let options = RunOptions {
            confidence: args.flags.confidence,
            cancelled: Some(&super::interrupted),
            memory_bytes,
            ..RunOptions::default()
        };
        // A point that changes nothing the projection reads uses the population projected once;
        // any other is run in full (and conditioned on the observations with its own inputs).
        let share = if args.unstaged {
            Err("is run so by --unstaged".to_string())
        } else {
            montecarlo::staged::shares_projection(&centre, &s)
        };
        let point_rows = match share {
            Ok(()) => {
                let (population, store) = match &mut shared {
                    Some(p) => p,
                    None => {
                        let made = pool
                            .install(|| shared_population(&centre, &options, &partial, args.flags.quiet, &bar))
                            .inspect_err(|_| bar.finish_and_clear())?;
                        shared.insert(made)
                    }
                };
                staged_points += 1;
                let options = RunOptions {
                    memory_bytes: options.memory_bytes.saturating_sub(store.held_bytes()),
                    ..options
                };
                let (targets, timing) = pool.install(|| population.evaluate(&s, store.as_store(), &options)).map_err(|e| {
                    bar.finish_and_clear();
                    match e {
                        montecarlo::staged::StageError::Cancelled => CmdError::failed(format!(
                            "interrupted: {} finished points are kept in {} and a rerun resumes from them",
                            files.len(),
                            partial.display()
                        )),
                        e => CmdError::failed(e.to_string()),
                    }
                })?;
                point_timing += timing;
                rows_of(&s, &targets, i, values)
            }
            Err(why) => {
                full_points += 1;
                if first_full.is_none() {
                    first_full = Some((i, why));
                }
                let s = pool
                    .install(|| super::condition_on_observations(s, &options, true))
                    .inspect_err(|_| bar.finish_and_clear())?;
                let result = pool.install(|| montecarlo::run(&s, &options)).map_err(CmdError::failed)?;
                rows_of(&s, &result.targets, i, values)
            }
        };
        let tmp = cache.with_extension("tmp");
        if let Err(e) = std::fs::write(&tmp, encode_point(&point_rows)).and_then(|_| std::fs::rename(&tmp, &cache)) {
            bar.finish_and_clear();
            return Err(CmdError::failed(format!("cannot keep point {i} in {}: {e}", cache.display())));
        }
        note_ess(&mut ess, &point_rows);
        files.push(cache);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let projected = shared.as_ref().map(|(p, _)| p.seconds);
    drop(shared);
    let outcome = match shard {
        None => finish(&prep, &args, &files, &out),
        Some(sh) => write_shard(&prep, &args, sh, &files, &mine, &out),
    };
    if outcome.is_ok() {
        let _ = std::fs::remove_dir_all(&partial);
        if args.flags.format == Format::Json {
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
                "scenario": prep.base.name(),
                "out": out.display().to_string(),
                "method": prep.method_name,
                "parameters": prep.params.iter().map(|p| serde_json::json!({"path": p.path, "low": p.low, "high": p.high})).collect::<Vec<_>>(),
                "points": prep.points.len(),
                "points_run": mine.len() - resumed,
                "points_resumed": resumed,
                "points_staged": staged_points,
                "points_full": full_points,
                "shard": shard.map(|Shard { k, n }| serde_json::json!({"k": k, "n": n})),
                "draws": prep.base.draws(),
                "seed": prep.base.seed(),
                "files": files,
            }));
        }
        if !args.flags.quiet {
            if let Some(seconds) = projected {
                eprintln!(
                    "{staged_points} points used the population projected once (in {seconds:.1} s); their scenarios took {build_seconds:.1} s to build, reading the population back {:.1} s, supply {:.1} s, regions' targets {:.1} s, groups {:.1} s",
                    point_timing.read, point_timing.supply, point_timing.regions, point_timing.groups
                );
            }
            if let Some((i, why)) = &first_full {
                eprintln!("{full_points} points were run in full (the first, point {i}, {why})");
            }
            eprintln!(
                "{} points ({resumed} resumed) x {} draws written to {}/ in {:.1} s",
                mine.len(),
                prep.base.draws(),
                out.display(),
                started.elapsed().as_secs_f64()
            );
            if let Some((lo, hi)) = ess {
                eprintln!(
                    "each point conditioned on {} observation(s): effective sample {lo:.0} to {hi:.0} draws (column effective_draws)",
                    prep.base.observations().len()
                );
            }
        }
    } else {
        eprintln!("finished points are kept in {} for a rerun", partial.display());
    }
    outcome
}

/// Where the shared population of a staged sweep is kept: in memory when it takes at most half
/// the memory budget, otherwise in a file in the sweep's partial folder (removed when dropped).
pub(super) enum Held {
    Memory(Vec<f32>),
    File(FileStore),
}

impl Held {
    /// Bytes held in memory.
    pub(super) fn held_bytes(&self) -> usize {
        match self {
            Held::Memory(v) => v.len() * 4,
            Held::File(_) => 0,
        }
    }

    pub(super) fn as_store(&mut self) -> &mut dyn montecarlo::staged::SharedStore {
        match self {
            Held::Memory(v) => v,
            Held::File(f) => f,
        }
    }
}

/// Shared values in a file of little-endian `f32`.
pub(super) struct FileStore {
    file: std::fs::File,
    path: PathBuf,
}

impl FileStore {
    fn create(path: &Path) -> std::io::Result<FileStore> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)?;
        Ok(FileStore {
            file,
            path: path.to_path_buf(),
        })
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl montecarlo::staged::SharedStore for FileStore {
    fn append(&mut self, values: &[f32]) -> std::io::Result<()> {
        use std::io::{Seek, Write};
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.file.seek(std::io::SeekFrom::End(0))?;
        self.file.write_all(&bytes)
    }

    fn read<'a>(&'a mut self, offset: usize, len: usize, buf: &'a mut Vec<f32>) -> std::io::Result<&'a [f32]> {
        use std::io::{Read, Seek};
        let mut bytes = vec![0u8; len * 4];
        self.file.seek(std::io::SeekFrom::Start(offset as u64 * 4))?;
        self.file.read_exact(&mut bytes)?;
        buf.clear();
        buf.extend(bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        Ok(buf)
    }
}

/// Projects the population the staged points share, in memory or in a file of the partial
/// folder (see [`Held`]).
fn shared_population(
    base: &Scenario,
    options: &RunOptions<'_>,
    partial: &Path,
    quiet: bool,
    bar: &indicatif::ProgressBar,
) -> Result<(montecarlo::staged::Population, Held), CmdError> {
    let bytes = montecarlo::staged::shared_bytes(base);
    let in_memory = bytes <= options.memory_bytes / 2;
    let mut held = if in_memory {
        Held::Memory(Vec::with_capacity(bytes / 4))
    } else {
        let path = partial.join("population.f32");
        Held::File(FileStore::create(&path).map_err(|e| CmdError::failed(format!("cannot create {}: {e}", path.display())))?)
    };
    if !quiet {
        bar.suspend(|| {
            eprintln!(
                "projecting the population of {} regions x {} draws once, for the points that change only supply, uptake or targets ({:.1} MiB {})",
                base.regions().len(),
                base.draws(),
                bytes as f64 / (1u64 << 20) as f64,
                if in_memory { "in memory" } else { "in the partial folder" }
            )
        });
    }
    let options = RunOptions {
        memory_bytes: options.memory_bytes.saturating_sub(if in_memory { bytes } else { 0 }),
        ..*options
    };
    let population = montecarlo::staged::Population::new(base, &options, held.as_store()).map_err(|e| match e {
        montecarlo::staged::StageError::Cancelled => CmdError::failed(format!(
            "interrupted while projecting the shared population: finished points are kept in {} and a rerun resumes from them",
            partial.display()
        )),
        e => CmdError::failed(e.to_string()),
    })?;
    Ok((population, held))
}

/// Widens the range of effective sample sizes by a point's rows.
fn note_ess(range: &mut Option<(f64, f64)>, rows: &[SweepRow]) {
    for e in rows.iter().filter_map(|r| r.effective_draws) {
        *range = Some(range.map_or((e, e), |(lo, hi)| (lo.min(e), hi.max(e))));
    }
}

pub(super) fn point_file(i: usize) -> String {
    format!("point-{i:06}.tsv")
}

/// Writes a shard: its points and what is needed to merge them.
pub(super) fn write_shard(
    prep: &Prepared,
    args: &SweepArgs,
    Shard { k, n }: Shard,
    files: &[PathBuf],
    mine: &[usize],
    out: &Path,
) -> Outcome {
    let written = (|| -> Result<(), report::ReportError> {
        let staging = Staging::new(out)?;
        let points = staging.dir.join("points");
        std::fs::create_dir_all(&points).map_err(|source| report::ReportError::Io {
            path: points.display().to_string(),
            source,
        })?;
        for (&i, file) in mine.iter().zip(files) {
            let to = points.join(point_file(i));
            std::fs::copy(file, &to).map_err(|source| report::ReportError::Io {
                path: to.display().to_string(),
                source,
            })?;
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
                draws: args.flags.draws,
                seed: args.seed,
                set: args.flags.set.clone(),
                confidence: args.flags.confidence,
                lang: args.flags.lang,
            },
        });
        report::write_json(&staging.dir.join("manifest.json"), &shard)?;
        staging.commit()
    })();
    match written {
        Ok(()) => Ok(()),
        Err(e) => Err(CmdError::failed(format!("could not write the shard: {e}"))),
    }
}

/// A finished sweep's `manifest.json`.
#[derive(serde::Serialize)]
struct SweepManifest<'a> {
    program: &'static str,
    kind: &'static str,
    version: &'static str,
    scenario: &'a str,
    scenario_path: &'a str,
    scenario_sha256: &'a str,
    overrides: &'a [String],
    vary: &'a [String],
    method: &'a str,
    steps: usize,
    samples: usize,
    points: usize,
    draws: usize,
    seed: u64,
    confidence: f64,
    command_line: Vec<String>,
}

/// Writes the results of a complete sweep into `out` from the files of its points (every
/// point, in order), read a batch at a time.
pub(super) fn finish(prep: &Prepared, args: &SweepArgs, files: &[PathBuf], out: &Path) -> Outcome {
    let names: Vec<String> = prep.params.iter().map(|p| p.path.clone()).collect();
    let with_ess = !prep.base.observations().is_empty();
    // The rows that tornado charts and the summary need: the headline units' (an OAT sweep).
    let headline: std::collections::HashSet<String> = headline_units(&prep.base)
        .into_iter()
        .map(|u| tables::unit_labels(&prep.base, u).0.to_string())
        .collect();
    let indexed = matches!(args.method, Method::Sobol | Method::Morris);
    // Charts drawn, the headline rows and the Morris table, for what is printed.
    type Written = (usize, Vec<SweepRow>, Option<Vec<sensitivity::MorrisRow>>);
    let written = (|| -> Result<Written, report::ReportError> {
        let staging = Staging::new(out)?;
        let mut writer = report::sweep::SweepWriter::create(&staging.dir, &names, with_ess)?;
        let mut outputs = indexed.then(|| sensitivity::Outputs::new(prep.points.len()));
        let mut headline_rows = Vec::new();
        let mut batch: Vec<SweepRow> = Vec::new();
        for file in files {
            let rows = std::fs::read_to_string(file)
                .ok()
                .and_then(|t| decode_point(&t))
                .ok_or_else(|| report::ReportError::Io {
                    path: file.display().to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::InvalidData, "a sweep point's file is missing or unreadable"),
                })?;
            if let Some(o) = &mut outputs {
                o.add(&rows);
            }
            if args.method == Method::Oat {
                headline_rows.extend(rows.iter().filter(|r| headline.contains(&r.unit)).cloned());
            }
            batch.extend(rows);
            if batch.len() >= report::sweep::ROWS_PER_BATCH {
                writer.write(&batch)?;
                batch.clear();
            }
        }
        if !batch.is_empty() {
            writer.write(&batch)?;
        }
        writer.finish()?;
        let sobol = match (&outputs, args.method) {
            (Some(o), Method::Sobol) => Some(sensitivity::sobol_table(o, &prep.params, args.samples, prep.base.seed())),
            _ => None,
        };
        let morris = match (&outputs, args.method) {
            (Some(o), Method::Morris) => Some(sensitivity::morris_table(o, &prep.params, &prep.points)),
            _ => None,
        };
        report::sweep::write_indices(&staging.dir, sobol.as_deref(), morris.as_deref())?;
        let n_charts = if args.method == Method::Oat {
            tornado_charts(&prep.base, &prep.params, args.steps, &headline_rows, &staging.dir.join("charts"))?
        } else {
            0
        };
        let manifest = SweepManifest {
            program: "bedsim",
            kind: "sweep",
            version: env!("CARGO_PKG_VERSION"),
            scenario: prep.base.name(),
            scenario_path: &prep.source.file.path,
            scenario_sha256: &prep.source.file.sha256,
            overrides: &prep.overrides,
            vary: &prep.vary,
            method: &prep.method_name,
            steps: args.steps,
            samples: args.samples,
            points: prep.points.len(),
            draws: prep.base.draws(),
            seed: prep.base.seed(),
            confidence: args.flags.confidence,
            command_line: std::env::args().collect(),
        };
        report::write_json(&staging.dir.join("manifest.json"), &manifest)?;
        staging.commit()?;
        Ok((n_charts, headline_rows, morris))
    })();
    match written {
        Ok((n_charts, rows, morris)) => {
            if !args.flags.quiet && args.flags.format == Format::Text {
                print_summary(&prep.base, &prep.params, &rows, args.method, args.steps);
                if let Some(m) = &morris {
                    print_morris(&prep.base, m);
                }
                if n_charts > 0 {
                    eprintln!("{n_charts} tornado charts in {}/charts/", out.display());
                }
            }
            Ok(())
        }
        Err(e) => Err(CmdError::failed(format!("could not write the sweep results: {e}"))),
    }
}

/// Units that get tornado charts and summary lines: the groups, or the regions if there are none;
/// for a scenario of more than [`charts::PER_UNIT_CHARTS`] units (the nation by county), only
/// the groups of the two upper levels (the nation and its provinces), as for a run's charts.
pub(super) fn headline_units(s: &Scenario) -> Vec<Unit> {
    let groups = s.groups();
    if groups.is_empty() {
        return (0..s.regions().len()).map(Unit::Region).collect();
    }
    if s.regions().len() + groups.len() <= charts::PER_UNIT_CHARTS {
        return (0..groups.len()).map(Unit::Group).collect();
    }
    let root = |g: Option<usize>| g.is_none_or(|p| groups[p].parent.is_none());
    (0..groups.len()).filter(|&g| root(groups[g].parent)).map(Unit::Group).collect()
}

pub(super) fn tornado_charts(
    s: &Scenario,
    params: &[Param],
    steps: usize,
    rows: &[SweepRow],
    dir: &Path,
) -> Result<usize, report::ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| report::ReportError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut n = 0;
    for u in headline_units(s) {
        let (id, name, _) = tables::unit_labels(s, u);
        for t in s.targets() {
            if let Some((centre, bars)) = oat_bars(params, steps, rows, id, &t.id) {
                let path = dir.join(format!("tornado_{}_{}.png", charts::file_stem(&t.id), charts::file_stem(id)));
                let text = report::text::Captions::of(s.lang());
                charts::tornado(
                    &path,
                    &text.tornado_title(name, &t.id),
                    &text.tornado_subtitle(centre),
                    text.probability_axis,
                    centre,
                    &bars,
                    text,
                )?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The inputs of each headline unit and target ranked by Morris's mu* for the probability of
/// meeting the target.
fn print_morris(s: &Scenario, table: &[sensitivity::MorrisRow]) {
    let mut out = std::io::stdout().lock();
    for u in headline_units(s) {
        let (id, name, _) = tables::unit_labels(s, u);
        for t in s.targets() {
            let mut rows: Vec<&sensitivity::MorrisRow> = table
                .iter()
                .filter(|r| r.unit == id && r.target == t.id && r.output == "probability_met")
                .collect();
            if rows.is_empty() {
                continue;
            }
            rows.sort_by(|a, b| b.index.mu_star.total_cmp(&a.index.mu_star));
            let _ = writeln!(
                out,
                "{name} {}: what moves P(met), by mu* (points of probability per range of the input)",
                t.id
            );
            for r in rows {
                let _ = writeln!(
                    out,
                    "  {:<48} mu* {:>6.1}  mu {:>+6.1}  sigma {:>6.1}",
                    r.parameter,
                    100.0 * r.index.mu_star,
                    100.0 * r.index.mu,
                    100.0 * r.index.sigma
                );
            }
        }
    }
}

pub(super) fn print_summary(s: &Scenario, params: &[Param], rows: &[SweepRow], method: Method, steps: usize) {
    let mut out = std::io::stdout().lock();
    if method != Method::Oat {
        return;
    }
    for u in headline_units(s) {
        let (id, name, _) = tables::unit_labels(s, u);
        for t in s.targets() {
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
