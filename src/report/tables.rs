//! Result tables as polars DataFrames, written as CSV and Parquet.
//!
//! The CSV is UTF-8 with a byte-order mark: without it, Excel on a Chinese-locale Windows reads
//! the file as GBK and garbles every region name; pandas, polars and DuckDB skip the mark.
//!
//! CSV values are rounded for reading (counts to 0.1, ratios to 1e-4 of their unit) and
//! written in plain decimal notation; Parquet keeps full precision. Undefined values (a ratio
//! with a zero denominator, a shortfall when no draw misses) are empty cells / nulls; the
//! README says why each can be empty.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use crate::montecarlo::{AGE_GROUPS, Metric, N_METRICS, RunResult};
use crate::scenario::{Scenario, TargetMetric, Unit};

/// Names of the quantile columns.
pub const QUANTILE_COLUMNS: [&str; 7] = ["p05", "p10", "p25", "p50", "p75", "p90", "p95"];

/// Id, display name and kind of a unit.
pub fn unit_labels(s: &Scenario, u: Unit) -> (&str, &str, &'static str) {
    match u {
        Unit::Region(r) => (&s.regions[r].id, &s.regions[r].name, "region"),
        Unit::Group(g) => (&s.groups[g].id, &s.groups[g].name, "group"),
    }
}

fn round_to(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    let r = (v * f).round() / f;
    if r == 0.0 { 0.0 } else { r }
}

fn digits_for(metric: Metric) -> i32 {
    match metric {
        Metric::NursingShare | Metric::DemandSupplyRatio => 4,
        Metric::BedsPer1000Elderly | Metric::BedsPer1000Registered | Metric::CaregiversPer10000Elderly => 3,
        _ => 1,
    }
}

fn opt(v: Option<f64>, round: Option<i32>) -> Option<f64> {
    v.filter(|x| x.is_finite()).map(|x| match round {
        Some(d) => round_to(x, d),
        None => x,
    })
}

/// The summary table: one row per unit x year x metric.
///
/// # Errors
/// Only if polars rejects the columns (lengths are consistent by construction).
pub fn summary_frame(s: &Scenario, r: &RunResult, rounded: bool) -> PolarsResult<DataFrame> {
    let n_years = r.years.len();
    let rows = r.units.len() * n_years * N_METRICS;
    let mut region = Vec::with_capacity(rows);
    let mut name = Vec::with_capacity(rows);
    let mut kind = Vec::with_capacity(rows);
    let mut year = Vec::with_capacity(rows);
    let mut metric = Vec::with_capacity(rows);
    let mut unit = Vec::with_capacity(rows);
    let mut mean: Vec<Option<f64>> = Vec::with_capacity(rows);
    let mut qs: Vec<Vec<Option<f64>>> = (0..7).map(|_| Vec::with_capacity(rows)).collect();
    for u in &r.units {
        let (id, nm, k) = unit_labels(s, u.unit);
        for (yi, y) in r.years.iter().enumerate() {
            for m in Metric::ALL {
                let st = u.stats[m.index() * n_years + yi];
                let d = rounded.then(|| digits_for(m));
                region.push(id);
                name.push(nm);
                kind.push(k);
                year.push(*y);
                metric.push(m.name());
                unit.push(m.unit());
                mean.push(opt(st.map(|x| x.mean), d));
                for (i, q) in qs.iter_mut().enumerate() {
                    q.push(opt(st.map(|x| x.quantiles[i]), d));
                }
            }
        }
    }
    let mut cols = vec![
        Column::new("region".into(), region),
        Column::new("name".into(), name),
        Column::new("kind".into(), kind),
        Column::new("year".into(), year),
        Column::new("metric".into(), metric),
        Column::new("unit".into(), unit),
        Column::new("mean".into(), mean),
    ];
    for (q, n) in qs.into_iter().zip(QUANTILE_COLUMNS) {
        cols.push(Column::new(n.into(), q));
    }
    DataFrame::new(rows, cols)
}

/// Five-year age group labels of the pyramid table.
pub fn age_group_label(g: usize) -> String {
    if g + 1 == AGE_GROUPS {
        format!("{}+", 5 * g)
    } else {
        format!("{}-{}", 5 * g, 5 * g + 4)
    }
}

/// The population pyramid table: one row per unit x (base year, horizon) x sex x 5-year group.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn pyramid_frame(s: &Scenario, r: &RunResult, rounded: bool) -> PolarsResult<DataFrame> {
    let rows = r.units.len() * 4 * AGE_GROUPS;
    let (mut region, mut name, mut kind, mut year, mut sex, mut group, mut start) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    let mut mean: Vec<Option<f64>> = Vec::with_capacity(rows);
    let mut qs: Vec<Vec<Option<f64>>> = (0..7).map(|_| Vec::with_capacity(rows)).collect();
    let d = rounded.then_some(1);
    for u in &r.units {
        let (id, nm, k) = unit_labels(s, u.unit);
        for (yk, y) in [s.base_year, s.horizon].into_iter().enumerate() {
            for (sx, sex_name) in ["male", "female"].into_iter().enumerate() {
                for g in 0..AGE_GROUPS {
                    let st = u.pyramid[(yk * 2 + sx) * AGE_GROUPS + g];
                    region.push(id);
                    name.push(nm);
                    kind.push(k);
                    year.push(y);
                    sex.push(sex_name);
                    group.push(age_group_label(g));
                    start.push((5 * g) as u32);
                    mean.push(opt(st.map(|x| x.mean), d));
                    for (i, q) in qs.iter_mut().enumerate() {
                        q.push(opt(st.map(|x| x.quantiles[i]), d));
                    }
                }
            }
        }
    }
    let mut cols = vec![
        Column::new("region".into(), region),
        Column::new("name".into(), name),
        Column::new("kind".into(), kind),
        Column::new("year".into(), year),
        Column::new("sex".into(), sex),
        Column::new("age_group".into(), group),
        Column::new("age_start".into(), start),
        Column::new("mean".into(), mean),
    ];
    for (q, n) in qs.into_iter().zip(QUANTILE_COLUMNS) {
        cols.push(Column::new(n.into(), q));
    }
    DataFrame::new(rows, cols)
}

/// The units table: every region and group with its display name and enclosing group.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn units_frame(s: &Scenario) -> PolarsResult<DataFrame> {
    let mut region = Vec::new();
    let mut name = Vec::new();
    let mut kind = Vec::new();
    let mut parent: Vec<Option<&str>> = Vec::new();
    for r in &s.regions {
        region.push(r.id.as_str());
        name.push(r.name.as_str());
        kind.push("region");
        parent.push(r.group.map(|g| s.groups[g].id.as_str()));
    }
    for g in &s.groups {
        region.push(g.id.as_str());
        name.push(g.name.as_str());
        kind.push("group");
        parent.push(g.parent.map(|p| s.groups[p].id.as_str()));
    }
    let n = region.len();
    DataFrame::new(
        n,
        vec![
            Column::new("region".into(), region),
            Column::new("name".into(), name),
            Column::new("kind".into(), kind),
            Column::new("parent".into(), parent),
        ],
    )
}

/// The targets table: one row per target x unit.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn targets_frame(s: &Scenario, r: &RunResult, confidence: f64, rounded: bool) -> PolarsResult<DataFrame> {
    let n = r.targets.len();
    let mut target = Vec::with_capacity(n);
    let mut region = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut kind = Vec::with_capacity(n);
    let mut year = Vec::with_capacity(n);
    let mut metric = Vec::with_capacity(n);
    let mut op = Vec::with_capacity(n);
    let mut threshold = Vec::with_capacity(n);
    let mut prob: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut qs: Vec<Vec<Option<f64>>> = (0..7).map(|_| Vec::with_capacity(n)).collect();
    let mut shortfall: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut needed: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut needed_unit: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut conversions: Vec<Option<f64>> = Vec::with_capacity(n);
    for t in &r.targets {
        let tg = &s.targets[t.target];
        let (id, nm, k) = unit_labels(s, t.unit);
        let m = crate::montecarlo::target_metric(tg.metric);
        let d = rounded.then(|| digits_for(m));
        target.push(tg.id.as_str());
        region.push(id);
        name.push(nm);
        kind.push(k);
        year.push(tg.year);
        metric.push(m.name());
        op.push(tg.op.symbol());
        threshold.push(tg.threshold);
        prob.push(opt(t.probability, rounded.then_some(4)));
        for (i, q) in qs.iter_mut().enumerate() {
            q.push(opt(t.metric.map(|x| x.quantiles[i]), d));
        }
        shortfall.push(opt(t.median_shortfall, d));
        needed.push(opt(t.needed, rounded.then_some(0)));
        needed_unit.push(match tg.metric {
            TargetMetric::BedsPer1000 | TargetMetric::BedsPer1000Registered if t.needed.is_some() => Some("beds"),
            TargetMetric::CaregiversPer10000 if t.needed.is_some() => Some("certified caregivers"),
            TargetMetric::NursingShare if t.needed.is_some() => Some("new nursing-type beds"),
            _ => None,
        });
        conversions.push(opt(t.needed_conversions, rounded.then_some(0)));
    }
    let mut cols = vec![
        Column::new("target".into(), target),
        Column::new("region".into(), region),
        Column::new("name".into(), name),
        Column::new("kind".into(), kind),
        Column::new("year".into(), year),
        Column::new("metric".into(), metric),
        Column::new("op".into(), op),
        Column::new("threshold".into(), threshold),
        Column::new("probability_met".into(), prob),
    ];
    for (q, nm) in qs.into_iter().zip(QUANTILE_COLUMNS) {
        cols.push(Column::new(nm.into(), q));
    }
    cols.push(Column::new("median_shortfall".into(), shortfall));
    cols.push(Column::new("confidence".into(), vec![confidence; n]));
    cols.push(Column::new("needed_at_confidence".into(), needed));
    cols.push(Column::new("needed_unit".into(), needed_unit));
    cols.push(Column::new("conversions_needed_at_confidence".into(), conversions));
    DataFrame::new(n, cols)
}

/// Every draw: one row per unit x year x draw, one column per metric.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn draws_frame(s: &Scenario, r: &RunResult) -> PolarsResult<Option<DataFrame>> {
    let Some(kept) = &r.kept else { return Ok(None) };
    draws_frame_of(s, r, kept).map(Some)
}

/// The draws of some units, in the layout of [`draws_frame`].
fn draws_frame_of(s: &Scenario, r: &RunResult, kept: &[crate::montecarlo::UnitDraws]) -> PolarsResult<DataFrame> {
    let n_years = r.years.len();
    let rows = kept.len() * n_years * r.draws;
    let mut region = Vec::with_capacity(rows);
    let mut year = Vec::with_capacity(rows);
    let mut draw = Vec::with_capacity(rows);
    let mut metrics: Vec<Vec<Option<f64>>> = (0..N_METRICS).map(|_| Vec::with_capacity(rows)).collect();
    for u in kept {
        let (id, _, _) = unit_labels(s, u.unit);
        for (yi, y) in r.years.iter().enumerate() {
            for d in 0..r.draws {
                region.push(id);
                year.push(*y);
                draw.push(d as u32);
                for (m, col) in metrics.iter_mut().enumerate() {
                    let v = u.values[(m * n_years + yi) * r.draws + d];
                    col.push(v.is_finite().then_some(v));
                }
            }
        }
    }
    let mut cols = vec![
        Column::new("region".into(), region),
        Column::new("year".into(), year),
        Column::new("draw".into(), draw),
    ];
    // A conditioned run's draws are the scenario's draws resampled by weight: which one each is
    // (repeated draws share it).
    if s.conditioned.is_some() {
        let source: Vec<u64> = (0..kept.len() * n_years).flat_map(|_| (0..r.draws).map(|d| s.draw_id(d))).collect();
        cols.push(Column::new("scenario_draw".into(), source));
    }
    for (m, col) in Metric::ALL.iter().zip(metrics) {
        cols.push(Column::new(m.name().into(), col));
    }
    DataFrame::new(rows, cols)
}

/// Writes `draws.parquet` (when the run kept its draws) a unit at a time, asking `interrupted`
/// between units, so that a large file neither needs all its rows in one frame nor delays a
/// stop. Returns whether the file was written.
///
/// # Errors
/// Write failures; `Ok(false)` when interrupted (the file is then incomplete and must be
/// discarded with its folder).
pub fn write_draws(s: &Scenario, r: &RunResult, path: &Path, interrupted: &dyn Fn() -> bool) -> PolarsResult<bool> {
    let Some(kept) = &r.kept else { return Ok(true) };
    let Some(first) = kept.first() else { return Ok(true) };
    let schema = draws_frame_of(s, r, std::slice::from_ref(first))?.schema().clone();
    let f = File::create(path)?;
    let mut writer = ParquetWriter::new(f)
        .with_compression(ParquetCompression::Zstd(None))
        .batched(&schema)?;
    for unit in kept.chunks(1) {
        if interrupted() {
            return Ok(false);
        }
        let mut df = draws_frame_of(s, r, unit)?;
        df.rechunk_mut();
        writer.write_batch(&df)?;
    }
    writer.finish()?;
    Ok(true)
}

/// Writes a frame as CSV.
///
/// # Errors
/// I/O errors.
pub fn write_csv(df: &mut DataFrame, path: &Path) -> PolarsResult<()> {
    let f = File::create(path)?;
    let mut w = BufWriter::new(f);
    CsvWriter::new(&mut w)
        .include_bom(true)
        .include_header(true)
        .with_float_scientific(Some(false))
        .finish(df)?;
    std::io::Write::flush(&mut w)?;
    Ok(())
}

/// Writes a frame as Parquet (zstd).
///
/// # Errors
/// I/O errors.
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> PolarsResult<()> {
    let f = File::create(path)?;
    ParquetWriter::new(f).with_compression(ParquetCompression::Zstd(None)).finish(df)?;
    Ok(())
}

/// The back-test table: one row per census unit x metric, the census count (moved to the end
/// of its year) against the projection's quantiles.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn backtest_frame(s: &Scenario, rows: &[crate::backtest::Comparison], rounded: bool) -> PolarsResult<DataFrame> {
    let r1 = |v: f64| if rounded { round_to(v, 1) } else { v };
    let r4 = |v: f64| if rounded { round_to(v, 4) } else { v };
    let mut cols: Vec<Column> = vec![
        Column::new("region".into(), rows.iter().map(|r| unit_labels(s, r.unit).0).collect::<Vec<_>>()),
        Column::new("name".into(), rows.iter().map(|r| unit_labels(s, r.unit).1).collect::<Vec<_>>()),
        Column::new("level".into(), rows.iter().map(|r| r.level.as_str()).collect::<Vec<_>>()),
        Column::new("metric".into(), rows.iter().map(|r| r.metric.name()).collect::<Vec<_>>()),
        Column::new("observed".into(), rows.iter().map(|r| r1(r.observed)).collect::<Vec<_>>()),
    ];
    for (i, q) in QUANTILE_COLUMNS.iter().enumerate() {
        cols.push(Column::new(
            (*q).into(),
            rows.iter().map(|r| r1(r.quantiles[i])).collect::<Vec<_>>(),
        ));
    }
    cols.push(Column::new("error".into(), rows.iter().map(|r| r4(r.error)).collect::<Vec<_>>()));
    cols.push(Column::new("inside50".into(), rows.iter().map(|r| r.inside50).collect::<Vec<_>>()));
    cols.push(Column::new("inside90".into(), rows.iter().map(|r| r.inside90).collect::<Vec<_>>()));
    DataFrame::new(rows.len(), cols)
}

/// The back-test's coverage: one row per level x metric.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn coverage_frame(rows: &[crate::backtest::Coverage]) -> PolarsResult<DataFrame> {
    let r4 = |v: f64| round_to(v, 4);
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("level".into(), rows.iter().map(|r| r.level.as_str()).collect::<Vec<_>>()),
            Column::new("metric".into(), rows.iter().map(|r| r.metric.name()).collect::<Vec<_>>()),
            Column::new("units".into(), rows.iter().map(|r| r.units as u32).collect::<Vec<_>>()),
            Column::new(
                "median_abs_error".into(),
                rows.iter().map(|r| r4(r.median_abs_error)).collect::<Vec<_>>(),
            ),
            Column::new("p90_abs_error".into(), rows.iter().map(|r| r4(r.p90_abs_error)).collect::<Vec<_>>()),
            Column::new("mean_error".into(), rows.iter().map(|r| r4(r.mean_error)).collect::<Vec<_>>()),
            Column::new("coverage50".into(), rows.iter().map(|r| r4(r.coverage50)).collect::<Vec<_>>()),
            Column::new("coverage90".into(), rows.iter().map(|r| r4(r.coverage90)).collect::<Vec<_>>()),
        ],
    )
}
