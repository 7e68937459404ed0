//! Sweep tables: one row per point x unit x target (`sweep.csv`, `sweep.parquet`) and the
//! Sobol' indices (`sobol.csv`).

use std::path::Path;

use polars::prelude::*;

use super::tables::{write_csv, write_parquet};

pub use crate::sensitivity::{SobolRow, SweepRow};

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The sweep table.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn sweep_frame(parameters: &[String], rows: &[SweepRow]) -> PolarsResult<DataFrame> {
    let n = rows.len();
    let mut cols = vec![Column::new("point".into(), rows.iter().map(|r| r.point as u32).collect::<Vec<_>>())];
    for (i, p) in parameters.iter().enumerate() {
        cols.push(Column::new(p.as_str().into(), rows.iter().map(|r| r.values[i]).collect::<Vec<_>>()));
    }
    cols.push(Column::new(
        "region".into(),
        rows.iter().map(|r| r.unit.as_str()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new("name".into(), rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>()));
    cols.push(Column::new(
        "target".into(),
        rows.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new("year".into(), rows.iter().map(|r| r.year).collect::<Vec<_>>()));
    cols.push(Column::new(
        "probability_met".into(),
        rows.iter().map(|r| r.probability).collect::<Vec<_>>(),
    ));
    for (i, q) in ["metric_p05", "metric_p50", "metric_p95"].into_iter().enumerate() {
        cols.push(Column::new(q.into(), rows.iter().map(|r| r.metric[i]).collect::<Vec<_>>()));
    }
    cols.push(Column::new(
        "needed_at_confidence".into(),
        rows.iter().map(|r| r.needed).collect::<Vec<_>>(),
    ));
    // Only a conditioned scenario's sweep has the column: each point has its own weights.
    if rows.iter().any(|r| r.effective_draws.is_some()) {
        cols.push(Column::new(
            "effective_draws".into(),
            rows.iter().map(|r| r.effective_draws).collect::<Vec<_>>(),
        ));
    }
    DataFrame::new(n, cols)
}

/// The first columns of an index table (Sobol' or Morris): the unit, target, output and input
/// each row is about.
fn index_keys<'a>(keys: impl Iterator<Item = [&'a str; 4]>) -> Vec<Column> {
    let mut cols: [Vec<&str>; 4] = Default::default();
    for k in keys {
        for (col, v) in cols.iter_mut().zip(k) {
            col.push(v);
        }
    }
    ["region", "target", "output", "parameter"]
        .into_iter()
        .zip(cols)
        .map(|(name, values)| Column::new(name.into(), values))
        .collect()
}

/// The Sobol' table.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn sobol_frame(rows: &[SobolRow]) -> PolarsResult<DataFrame> {
    let f = |g: &dyn Fn(&SobolRow) -> f64| rows.iter().map(|r| finite(g(r))).collect::<Vec<_>>();
    let mut cols = index_keys(rows.iter().map(|r| [r.unit.as_str(), &r.target, &r.output, &r.parameter]));
    cols.extend([
        Column::new("first_order".into(), f(&|r| r.first)),
        Column::new("first_order_low95".into(), f(&|r| r.first_ci.0)),
        Column::new("first_order_high95".into(), f(&|r| r.first_ci.1)),
        Column::new("total".into(), f(&|r| r.total)),
        Column::new("total_low95".into(), f(&|r| r.total_ci.0)),
        Column::new("total_high95".into(), f(&|r| r.total_ci.1)),
    ]);
    DataFrame::new(rows.len(), cols)
}

/// The Morris table.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn morris_frame(rows: &[crate::sensitivity::MorrisRow]) -> PolarsResult<DataFrame> {
    let f = |g: &dyn Fn(&crate::sensitivity::MorrisIndex) -> f64| rows.iter().map(|r| finite(g(&r.index))).collect::<Vec<_>>();
    let mut cols = index_keys(rows.iter().map(|r| [r.unit.as_str(), &r.target, &r.output, &r.parameter]));
    cols.extend([
        Column::new("mu".into(), f(&|m| m.mu)),
        Column::new("mu_star".into(), f(&|m| m.mu_star)),
        Column::new("sigma".into(), f(&|m| m.sigma)),
        Column::new(
            "trajectories".into(),
            rows.iter().map(|r| r.index.effects as u32).collect::<Vec<_>>(),
        ),
    ]);
    DataFrame::new(rows.len(), cols)
}

/// Writes the sweep tables into `dir`.
///
/// # Errors
/// Any write failure.
pub fn write(
    dir: &Path,
    parameters: &[String],
    rows: &[SweepRow],
    sobol: Option<&[SobolRow]>,
    morris: Option<&[crate::sensitivity::MorrisRow]>,
) -> Result<(), super::ReportError> {
    let table = |path: &Path| {
        let p = path.display().to_string();
        move |source| super::ReportError::Table { path: p, source }
    };
    let p = dir.join("sweep.csv");
    write_csv(&mut sweep_frame(parameters, rows).map_err(table(&p))?, &p).map_err(table(&p))?;
    let p = dir.join("sweep.parquet");
    write_parquet(&mut sweep_frame(parameters, rows).map_err(table(&p))?, &p).map_err(table(&p))?;
    if let Some(sobol) = sobol {
        let p = dir.join("sobol.csv");
        write_csv(&mut sobol_frame(sobol).map_err(table(&p))?, &p).map_err(table(&p))?;
    }
    if let Some(morris) = morris {
        let p = dir.join("morris.csv");
        write_csv(&mut morris_frame(morris).map_err(table(&p))?, &p).map_err(table(&p))?;
    }
    Ok(())
}
