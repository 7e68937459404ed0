//! Everything a run writes: tables (the only place that uses polars), the run manifest, and the
//! results folder, which is replaced atomically.
//!
//! A run writes into a fresh temporary folder beside the target and renames it into place only
//! when every file is complete, so a results folder holds either the previous complete results
//! or the new ones, never a mix. A folder that is not a bedsim results folder (no
//! `manifest.json` written by bedsim) is never replaced without `--force`.

pub mod chartdata;
pub mod charts;
pub mod compare;
pub mod html;
pub mod json;
pub mod manifest;
pub mod plan;
pub mod shard;
pub mod sweep;
pub mod tables;
pub mod text;
pub mod workbook;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::montecarlo::RunResult;
use crate::scenario::Scenario;

/// Failure to write results.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: {source}")]
    Table { path: String, source: polars::error::PolarsError },
    #[error("{path} exists and is not a bedsim results folder (no bedsim manifest.json); use --force to replace it")]
    NotResults { path: String },
    #[error("{path} is a file, not a folder; --force replaces only a results folder, choose another --out")]
    NotAFolder { path: String },
    #[error(transparent)]
    Chart(#[from] charts::ChartError),
    #[error("interrupted before the results were complete; nothing was replaced")]
    Interrupted,
}

/// Draws the charts of the results in `results` into `results/charts`, replacing that folder
/// only when every chart is drawn. Returns the number of PNG files.
///
/// # Errors
/// Unreadable tables or a chart that cannot be written.
pub fn redraw_charts(results: &Path, lang: Option<crate::lang::Lang>) -> Result<usize, ReportError> {
    let mut data = chartdata::load(results)?;
    if let Some(l) = lang {
        data.lang = l;
    }
    let target = results.join("charts");
    let staging = Staging::new(&target)?;
    let n = charts::draw_all(&data, &staging.dir)?.len();
    staging.commit()?;
    Ok(n)
}

/// Wall time of writing each document of a results folder, in seconds.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct DocumentTimes {
    pub workbook: f64,
    pub html: f64,
}

/// Draws the charts of a results folder (when `charts`) and writes its workbook at the same
/// time, since the workbook does not show the charts; then the HTML report, which does. Returns
/// the time of the charts and of each document, each measured on its own (the first two
/// overlap).
///
/// # Errors
/// A chart or document that cannot be written.
pub fn write_charts_and_documents(dir: &Path, data: &chartdata::ChartData, charts: bool) -> Result<(f64, DocumentTimes), ReportError> {
    let timed = |f: &dyn Fn() -> Result<(), ReportError>| {
        let t = std::time::Instant::now();
        f().map(|()| t.elapsed().as_secs_f64())
    };
    let (drawn, workbook) = rayon::join(
        || {
            if charts {
                timed(&|| charts::draw_all(data, &dir.join("charts")).map(|_| ()).map_err(ReportError::from))
            } else {
                Ok(0.0)
            }
        },
        || timed(&|| workbook::write(data, &dir.join("report.xlsx"))),
    );
    let (drawn, workbook) = (drawn?, workbook?);
    let html = timed(&|| html::write(data, dir, &dir.join("report.html")))?;
    Ok((drawn, DocumentTimes { workbook, html }))
}

/// Writes the documents of the results folder `results` again (after `bedsim chart`, or in
/// another language), replacing each file only when it is complete.
///
/// # Errors
/// Unreadable tables, or a document that cannot be written.
pub fn rewrite_documents(results: &Path, lang: Option<crate::lang::Lang>) -> Result<DocumentTimes, ReportError> {
    let mut data = chartdata::load(results)?;
    if let Some(l) = lang {
        data.lang = l;
    }
    let t = std::time::Instant::now();
    let tmp = results.join(format!(".report.xlsx.tmp-{}", std::process::id()));
    workbook::write(&data, &tmp)?;
    std::fs::rename(&tmp, results.join("report.xlsx")).map_err(io(&tmp))?;
    let workbook = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    let tmp = results.join(format!(".report.html.tmp-{}", std::process::id()));
    html::write(&data, results, &tmp)?;
    std::fs::rename(&tmp, results.join("report.html")).map_err(io(&tmp))?;
    Ok(DocumentTimes {
        workbook,
        html: t.elapsed().as_secs_f64(),
    })
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Whether `dir` holds results written by bedsim.
pub fn is_results_dir(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("manifest.json")).is_ok_and(|t| t.contains("\"program\": \"bedsim\""))
}

/// Checks, before any work is done, that results can be written to `out`.
///
/// # Errors
/// When `out` exists and is not a results folder (and `force` is off), or is a file.
pub fn check_destination(out: &Path, force: bool) -> Result<(), ReportError> {
    if let (Some(parent), Some(name)) = (out.parent(), out.file_name()) {
        let parent = if parent.as_os_str().is_empty() { Path::new(".") } else { parent };
        clean_leftovers(parent, &name.to_string_lossy(), out);
    }
    if out.exists() && !out.is_dir() {
        return Err(ReportError::NotAFolder {
            path: out.display().to_string(),
        });
    }
    if out.exists() && !force {
        let empty_dir = out.is_dir() && std::fs::read_dir(out).map(|mut d| d.next().is_none()).unwrap_or(false);
        if !empty_dir && !is_results_dir(out) {
            return Err(ReportError::NotResults {
                path: out.display().to_string(),
            });
        }
    }
    Ok(())
}

/// Checks before a long run that its results can be written where they go: creates the parent
/// folders and a staging folder, then removes the staging folder.
///
/// # Errors
/// When the parent cannot be created or written (a read-only file system, a file in the way).
pub fn probe_destination(out: &Path) -> Result<(), ReportError> {
    Staging::new(out).map(drop)
}

/// Whether a process with this id is running (Linux; elsewhere it is assumed to be, so its
/// files are left alone).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// Tidies what killed runs left beside `target` (in `parent`): staging folders
/// `.<name>.tmp-<pid>` of processes that no longer run are removed, and a previous results
/// folder that a run killed between the two renames of [`Staging::commit`] had moved aside
/// (`.<name>.tmp-<pid>.old`) is put back when nothing has taken its place.
fn clean_leftovers(parent: &Path, name: &str, target: &Path) {
    let prefix = format!(".{name}.tmp-");
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    // Old results first, so that they are put back before the staging folders are removed.
    entries.sort_by_key(|e| !e.file_name().to_string_lossy().ends_with(".old"));
    for entry in entries {
        let file_name = entry.file_name().to_string_lossy().to_string();
        let Some(rest) = file_name.strip_prefix(&prefix) else { continue };
        let (pid, old) = match rest.strip_suffix(".old") {
            Some(p) => (p, true),
            None => (rest, false),
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        if old && !target.exists() && std::fs::rename(entry.path(), target).is_ok() {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

/// A temporary results folder beside the target, removed on drop unless committed.
pub struct Staging {
    pub dir: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staging {
    /// Creates `.<name>.tmp-<pid>` beside `target`.
    ///
    /// # Errors
    /// When the parent folder cannot be created or written.
    pub fn new(target: &Path) -> Result<Staging, ReportError> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if let Some(file) = parent.ancestors().find(|a| a.is_file()) {
            return Err(io(file)(std::io::Error::other("is a file, not a folder")));
        }
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "results".into());
        clean_leftovers(parent, &name, target);
        let dir = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        Ok(Staging {
            dir,
            target: target.to_path_buf(),
            committed: false,
        })
    }

    /// Moves the staged folder into place, replacing an earlier results folder.
    ///
    /// # Errors
    /// When a rename fails; the previous results are then left in place.
    pub fn commit(mut self) -> Result<(), ReportError> {
        let target = self.target.clone();
        if target.exists() {
            let old = self.dir.with_extension("old");
            std::fs::rename(&target, &old).map_err(io(&target))?;
            if let Err(e) = std::fs::rename(&self.dir, &target) {
                let _ = std::fs::rename(&old, &target);
                return Err(io(&target)(e));
            }
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&self.dir, &target).map_err(io(&target))?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Writes every table of a run into `dir`; between files, `interrupted` is asked whether to
/// stop.
///
/// # Errors
/// Any write failure, or [`ReportError::Interrupted`].
pub fn write_tables(
    s: &Scenario,
    r: &RunResult,
    confidence: f64,
    dir: &Path,
    interrupted: &(dyn Fn() -> bool + Sync),
) -> Result<(), ReportError> {
    write_tables_then(s, r, confidence, dir, interrupted, || Ok(())).map(|_| ())
}

/// [`write_tables`], and `then` beside the tables it does not read: the tables
/// [`chartdata::load`] reads (the Parquet files of the summary, the targets, the pyramid and
/// the units) are written first, then the others (the CSVs, the back-test, the draws) at the
/// same time as `then`, which is meant to read the first ones back and make the documents. The
/// national run's workbook takes seconds on one thread and its summary CSV about as long: side
/// by side rather than one after the other. Returns the seconds until every table was written,
/// and `then`'s value; the first error in the order of the files, or `then`'s, is reported.
///
/// # Errors
/// A table that cannot be made or written, `then`'s error, or an interruption.
pub fn write_tables_then<T: Send>(
    s: &Scenario,
    r: &RunResult,
    confidence: f64,
    dir: &Path,
    interrupted: &(dyn Fn() -> bool + Sync),
    then: impl FnOnce() -> Result<T, ReportError> + Send,
) -> Result<(f64, T), ReportError> {
    let clock = std::time::Instant::now();
    use rayon::prelude::*;
    let table = |path: &Path| {
        let path = path.display().to_string();
        move |source| ReportError::Table { path, source }
    };
    let csv = |name: &str, frame: &(dyn Fn() -> polars::prelude::PolarsResult<polars::prelude::DataFrame> + Sync)| {
        let p = dir.join(name);
        tables::write_csv(&mut frame().map_err(table(&p))?, &p).map_err(table(&p))
    };
    let parquet = |name: &str, frame: &(dyn Fn() -> polars::prelude::PolarsResult<polars::prelude::DataFrame> + Sync)| {
        let p = dir.join(name);
        tables::write_parquet(&mut frame().map_err(table(&p))?, &p).map_err(table(&p))
    };
    // Every file is made from the run alone, so they are written side by side (the national
    // run's summary alone is 1.1 million rows in each form); the first failure in this order
    // is reported.
    let backtest = s.backtest.is_some().then(|| crate::backtest::compare(s, r));
    type Job<'a> = Box<dyn Fn() -> Result<(), ReportError> + Sync + 'a>;
    let first: Vec<Job<'_>> = vec![
        Box::new(|| parquet("summary.parquet", &|| tables::summary_frame(s, r, false))),
        Box::new(|| parquet("targets.parquet", &|| tables::targets_frame(s, r, confidence, false))),
        Box::new(|| parquet("pyramid.parquet", &|| tables::pyramid_frame(s, r, false))),
        Box::new(|| parquet("units.parquet", &|| tables::units_frame(s))),
    ];
    let mut jobs: Vec<Job<'_>> = vec![
        Box::new(|| csv("summary.csv", &|| tables::summary_frame(s, r, true))),
        Box::new(|| csv("targets.csv", &|| tables::targets_frame(s, r, confidence, true))),
        Box::new(|| csv("pyramid.csv", &|| tables::pyramid_frame(s, r, true))),
        Box::new(|| csv("units.csv", &|| tables::units_frame(s))),
    ];
    if let Some(rows) = &backtest {
        jobs.push(Box::new(|| csv("backtest.csv", &|| tables::backtest_frame(s, rows, true))));
        jobs.push(Box::new(|| parquet("backtest.parquet", &|| tables::backtest_frame(s, rows, false))));
        jobs.push(Box::new(|| {
            let cov = crate::backtest::coverage(rows);
            csv("backtest_coverage.csv", &|| tables::coverage_frame(&cov))
        }));
    }
    jobs.push(Box::new(|| {
        let p = dir.join("draws.parquet");
        if tables::write_draws(s, r, &p, interrupted).map_err(table(&p))? {
            Ok(())
        } else {
            Err(ReportError::Interrupted)
        }
    }));
    let run = |jobs: &[Job<'_>]| {
        let done: Vec<Result<(), ReportError>> = jobs.par_iter().map(|job| stop_if(interrupted).and_then(|()| job())).collect();
        done.into_iter().collect::<Result<(), _>>().and_then(|()| stop_if(interrupted))
    };
    run(&first)?;
    let (tables, after) = rayon::join(|| run(&jobs).map(|()| clock.elapsed().as_secs_f64()), then);
    let tables = tables?;
    Ok((tables, after?))
}

fn stop_if(interrupted: &dyn Fn() -> bool) -> Result<(), ReportError> {
    if interrupted() { Err(ReportError::Interrupted) } else { Ok(()) }
}

/// Writes a JSON document (a manifest) to `path`, pretty-printed.
///
/// # Errors
/// I/O errors.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<(), ReportError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| ReportError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    write_text(path, &text)
}

/// Writes `text` to `path`.
///
/// # Errors
/// I/O errors.
pub fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    std::fs::write(path, text).map_err(io(path))
}

fn pct(p: Option<f64>) -> String {
    p.map(|x| format!("{:.1}%", 100.0 * x)).unwrap_or_else(|| "n/a".into())
}

/// The short readable table of target probabilities printed on stdout.
pub fn target_table_text(s: &Scenario, r: &RunResult, confidence: f64) -> String {
    let text = text::Captions::of(s.lang);
    let mut out = String::new();
    let _ = writeln!(out, "{}", text.table_heading(&s.name, r.draws, s.seed));
    if let Some(c) = &s.conditioned {
        let _ = writeln!(out, "{}", text.conditioned_line(c.fits.len(), c.effective_draws, r.draws));
    }
    if let Some(bt) = &s.backtest {
        let cov = crate::backtest::coverage(&crate::backtest::compare(s, r));
        let _ = writeln!(
            out,
            "back-test against the census of {} (moved to the end of {}): share of units inside the intervals",
            bt.date, bt.year
        );
        let _ = writeln!(
            out,
            "{:<12} {:<18} {:>6} {:>12} {:>12} {:>10} {:>10} {:>10}",
            "level", "metric", "units", "median|err|", "p90|err|", "mean err", "in 50%", "in 90%"
        );
        for c in &cov {
            let _ = writeln!(
                out,
                "{} {:<18} {:>6} {:>11.1}% {:>11.1}% {:>9.1}% {:>9.1}% {:>9.1}%",
                truncate(&c.level, 12),
                c.metric.name(),
                c.units,
                100.0 * c.median_abs_error,
                100.0 * c.p90_abs_error,
                100.0 * c.mean_error,
                100.0 * c.coverage50,
                100.0 * c.coverage90
            );
        }
    }
    if r.targets.is_empty() {
        if s.backtest.is_none() {
            let _ = writeln!(out, "{}", text.no_targets);
        }
        return out;
    }
    let _ = writeln!(
        out,
        "{} {} {} {} {} {} {}",
        truncate(text.target, 24),
        truncate(text.unit, 22),
        pad_left(text.year, 5),
        pad_left(text.threshold, 10),
        pad_left(text.p_met, 8),
        pad_left(text.median, 12),
        pad_left(&text.needed_at(confidence), 14)
    );
    for t in &r.targets {
        let tg = &s.targets[t.target];
        let (_, name, _) = tables::unit_labels(s, t.unit);
        let median = t.metric.map(|m| m.p50());
        let fmt_v = |v: f64| {
            if tg.threshold <= 1.0 {
                format!("{v:.3}")
            } else {
                format!("{v:.1}")
            }
        };
        let needed = match t.needed {
            Some(n) => format!("{n:.0}"),
            None => "-".into(),
        };
        let _ = writeln!(
            out,
            "{} {} {:>5} {:>10} {:>8} {:>12} {:>14}",
            truncate(&tg.id, 24),
            truncate(name, 22),
            tg.year,
            format!("{} {}", tg.op.symbol(), fmt_v(tg.threshold)),
            pct(t.probability),
            median.map(fmt_v).unwrap_or_else(|| "n/a".into()),
            needed
        );
    }
    out
}

/// Pads on the left to `width` display columns (CJK characters count two).
pub fn pad_left(s: &str, width: usize) -> String {
    let w: usize = s.chars().map(|c| if c as u32 >= 0x1100 { 2 } else { 1 }).sum();
    format!("{}{s}", " ".repeat(width.saturating_sub(w)))
}

/// Truncates to `width` display columns (CJK characters count two) and pads to exactly that.
pub fn truncate(s: &str, width: usize) -> String {
    let mut w = 0;
    let mut out = String::new();
    for c in s.chars() {
        let cw = if c as u32 >= 0x1100 { 2 } else { 1 };
        if w + cw > width {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.extend(std::iter::repeat_n(' ', width - w));
    out
}
