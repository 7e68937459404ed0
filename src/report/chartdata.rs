//! The data charts are drawn from, read back from a results folder's tables.
//!
//! Charts are always drawn from the saved tables, so `bedsim chart DIR` redraws exactly what
//! `bedsim run` drew, without simulating again. This module turns the tables (polars) into
//! plain structs; `charts.rs` draws them (plotters) and knows nothing of tables.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::ReportError;

/// Mean and quantiles (p05, p10, p25, p50, p75, p90, p95) of one metric in one year.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct YearStats {
    pub year: i32,
    pub mean: f64,
    pub q: [f64; 7],
}

/// A region or group.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitInfo {
    pub id: String,
    pub name: String,
    pub is_group: bool,
    pub parent: Option<String>,
}

/// One target result: a row of `targets.parquet`.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInfo {
    pub id: String,
    pub unit: String,
    pub year: i32,
    pub metric: String,
    pub op: String,
    pub threshold: f64,
    pub probability: Option<f64>,
    /// The 5th, 50th and 95th percentiles of the target's metric.
    pub p05: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    /// What must be added to meet the target with the run's confidence, and in what unit.
    pub needed: Option<f64>,
    pub needed_unit: Option<String>,
    pub conversions: Option<f64>,
}

/// What a run's manifest says of how it was made, for the reports.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct RunInfo {
    pub version: String,
    pub description: String,
    pub scenario_path: String,
    pub overrides: Vec<String>,
    /// With `run --only`: the regions and groups the run was restricted to.
    pub only: Vec<String>,
    pub seed: u64,
    pub confidence: f64,
    pub started_utc: String,
    pub command_line: Vec<String>,
    pub inputs: Vec<InputInfo>,
    pub assumptions: Vec<crate::scenario::Assumption>,
    /// With observations: the effective sample size.
    pub effective_draws: Option<f64>,
}

/// A file a run read, with its hash.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
pub struct InputInfo {
    pub path: String,
    pub sha256: String,
}

/// One pyramid cell: median persons (and the 90% interval) of a sex and 5-year group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyramidCell {
    pub year: i32,
    pub female: bool,
    pub group: usize,
    pub p05: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Everything the charts of one run need.
#[derive(Debug, Clone, Default)]
pub struct ChartData {
    pub scenario: String,
    /// The language of the charts and reports.
    pub lang: crate::lang::Lang,
    pub run: RunInfo,
    pub elderly_age: usize,
    pub base_year: i32,
    pub horizon: i32,
    pub stock_year: i32,
    pub draws: usize,
    pub units: Vec<UnitInfo>,
    /// (unit id, metric name) -> yearly statistics, in year order; undefined years are absent.
    pub series: HashMap<(String, String), Vec<YearStats>>,
    pub targets: Vec<TargetInfo>,
    pub pyramid: HashMap<String, Vec<PyramidCell>>,
}

impl ChartData {
    /// The yearly statistics of a metric for a unit (empty if none).
    pub fn series(&self, unit: &str, metric: &str) -> &[YearStats] {
        self.series
            .get(&(unit.to_string(), metric.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Display name of a unit.
    pub fn name<'a>(&'a self, unit: &'a str) -> &'a str {
        self.units.iter().find(|u| u.id == unit).map(|u| u.name.as_str()).unwrap_or(unit)
    }
}

fn read_parquet(path: &Path) -> Result<DataFrame, ReportError> {
    let table = |source| ReportError::Table {
        path: path.display().to_string(),
        source,
    };
    let f = crate::scenario::data::regular_file(path)
        .and_then(|_| File::open(path))
        .map_err(|source| ReportError::Io {
            path: path.display().to_string(),
            source,
        })?;
    ParquetReader::new(f).finish().map_err(table)
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    Ok(df.column(name)?.str()?.iter().map(|s| s.map(str::to_string)).collect())
}

fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    Ok(df.column(name)?.f64()?.iter().collect())
}

fn i32s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i32>>> {
    Ok(df.column(name)?.i32()?.iter().collect())
}

const QS: [&str; 7] = ["p05", "p10", "p25", "p50", "p75", "p90", "p95"];

/// What the charts need of a run's `manifest.json` ([`super::manifest::Manifest`]), read
/// strictly: a field missing or of the wrong type is an error naming it, never a default.
#[derive(serde::Deserialize)]
struct RunHead {
    scenario: String,
    lang: crate::lang::Lang,
    version: String,
    description: String,
    scenario_path: String,
    overrides: Vec<String>,
    /// Written only when the run had `--only`.
    #[serde(default)]
    only: Vec<String>,
    seed: u64,
    confidence: f64,
    started_utc: String,
    command_line: Vec<String>,
    inputs: Vec<InputInfo>,
    assumptions: Vec<crate::scenario::Assumption>,
    conditioning: Option<ConditioningHead>,
    elderly_age: usize,
    base_year: i32,
    horizon: i32,
    stock_year: i32,
    draws: usize,
}

#[derive(serde::Deserialize)]
struct ConditioningHead {
    effective_draws: f64,
}

/// Reads the chart data of a results folder: its manifest and the Parquet files of the summary,
/// the targets, the pyramid and the units. `bedsim run` makes the documents from these while it
/// writes the other tables ([`super::write_tables_then`]), so a table read here must be among
/// the ones that function writes first.
///
/// # Errors
/// Missing or unreadable tables, or tables without the expected columns.
pub fn load(dir: &Path) -> Result<ChartData, ReportError> {
    let manifest_path = dir.join("manifest.json");
    let manifest: RunHead = crate::scenario::data::read_text(&manifest_path)
        .map_err(|source| ReportError::Io {
            path: manifest_path.display().to_string(),
            source,
        })
        .and_then(|t| {
            serde_json::from_str(&t).map_err(|e| ReportError::Io {
                path: manifest_path.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{e} (a manifest of an older bedsim lacks the fields the charts and reports need: run the scenario again)"),
                ),
            })
        })?;
    let mut data = ChartData {
        scenario: manifest.scenario,
        lang: manifest.lang,
        run: RunInfo {
            version: manifest.version,
            description: manifest.description,
            scenario_path: manifest.scenario_path,
            overrides: manifest.overrides,
            only: manifest.only,
            seed: manifest.seed,
            confidence: manifest.confidence,
            started_utc: manifest.started_utc,
            command_line: manifest.command_line,
            inputs: manifest.inputs,
            assumptions: manifest.assumptions,
            effective_draws: manifest.conditioning.map(|c| c.effective_draws),
        },
        elderly_age: manifest.elderly_age,
        base_year: manifest.base_year,
        horizon: manifest.horizon,
        stock_year: manifest.stock_year,
        draws: manifest.draws,
        ..ChartData::default()
    };
    let wrap = |path: &Path| {
        let p = path.display().to_string();
        move |source| ReportError::Table { path: p, source }
    };

    let p = dir.join("units.parquet");
    let df = read_parquet(&p)?;
    let (ids, names, kinds, parents) =
        (|| Ok::<_, PolarsError>((strs(&df, "region")?, strs(&df, "name")?, strs(&df, "kind")?, strs(&df, "parent")?)))()
            .map_err(wrap(&p))?;
    for i in 0..ids.len() {
        data.units.push(UnitInfo {
            id: ids[i].clone().unwrap_or_default(),
            name: names[i].clone().unwrap_or_default(),
            is_group: kinds[i].as_deref() == Some("group"),
            parent: parents[i].clone(),
        });
    }

    let p = dir.join("summary.parquet");
    let df = read_parquet(&p)?;
    (|| -> PolarsResult<()> {
        let (region, metric, year, mean) = (strs(&df, "region")?, strs(&df, "metric")?, i32s(&df, "year")?, f64s(&df, "mean")?);
        let qs: Vec<Vec<Option<f64>>> = QS.iter().map(|q| f64s(&df, q)).collect::<PolarsResult<_>>()?;
        for i in 0..region.len() {
            let (Some(r), Some(m), Some(y), Some(mean)) = (&region[i], &metric[i], year[i], mean[i]) else {
                continue;
            };
            let mut q = [0.0; 7];
            for (k, col) in qs.iter().enumerate() {
                q[k] = col[i].unwrap_or(f64::NAN);
            }
            data.series
                .entry((r.clone(), m.clone()))
                .or_default()
                .push(YearStats { year: y, mean, q });
        }
        Ok(())
    })()
    .map_err(wrap(&p))?;
    for v in data.series.values_mut() {
        v.sort_by_key(|s| s.year);
    }

    let p = dir.join("targets.parquet");
    let df = read_parquet(&p)?;
    (|| -> PolarsResult<()> {
        let (id, region, metric, op) = (strs(&df, "target")?, strs(&df, "region")?, strs(&df, "metric")?, strs(&df, "op")?);
        let (year, threshold, prob) = (i32s(&df, "year")?, f64s(&df, "threshold")?, f64s(&df, "probability_met")?);
        let (p05, p50, p95) = (f64s(&df, "p05")?, f64s(&df, "p50")?, f64s(&df, "p95")?);
        let (needed, needed_unit, conversions) = (
            f64s(&df, "needed_at_confidence")?,
            strs(&df, "needed_unit")?,
            f64s(&df, "conversions_needed_at_confidence")?,
        );
        for i in 0..id.len() {
            data.targets.push(TargetInfo {
                id: id[i].clone().unwrap_or_default(),
                unit: region[i].clone().unwrap_or_default(),
                year: year[i].unwrap_or(0),
                metric: metric[i].clone().unwrap_or_default(),
                op: op[i].clone().unwrap_or_default(),
                threshold: threshold[i].unwrap_or(f64::NAN),
                probability: prob[i],
                p05: p05[i],
                p50: p50[i],
                p95: p95[i],
                needed: needed[i],
                needed_unit: needed_unit[i].clone(),
                conversions: conversions[i],
            });
        }
        Ok(())
    })()
    .map_err(wrap(&p))?;

    let p = dir.join("pyramid.parquet");
    let df = read_parquet(&p)?;
    (|| -> PolarsResult<()> {
        let (region, sex, year) = (strs(&df, "region")?, strs(&df, "sex")?, i32s(&df, "year")?);
        let start: Vec<Option<u32>> = df.column("age_start")?.u32()?.iter().collect();
        let (p05, p50, p95) = (f64s(&df, "p05")?, f64s(&df, "p50")?, f64s(&df, "p95")?);
        for i in 0..region.len() {
            let (Some(r), Some(sx), Some(y), Some(a)) = (&region[i], &sex[i], year[i], start[i]) else {
                continue;
            };
            data.pyramid.entry(r.clone()).or_default().push(PyramidCell {
                year: y,
                female: sx == "female",
                group: (a / 5) as usize,
                p05: p05[i].unwrap_or(0.0),
                p50: p50[i].unwrap_or(0.0),
                p95: p95[i].unwrap_or(0.0),
            });
        }
        Ok(())
    })()
    .map_err(wrap(&p))?;
    Ok(data)
}
