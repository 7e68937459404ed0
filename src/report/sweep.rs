//! Sweep tables: one row per point x unit x target (`sweep.csv`, `sweep.parquet`) and the
//! Sobol' indices (`sobol.csv`).

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use polars::prelude::*;

use super::tables::write_csv;

pub use crate::sensitivity::{SobolRow, SweepRow};

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The sweep table.
///
/// # Errors
/// Only if polars rejects the columns.
pub fn sweep_frame(parameters: &[String], rows: &[SweepRow], with_ess: bool) -> PolarsResult<DataFrame> {
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
    if with_ess {
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

/// Rows of `sweep.csv` and `sweep.parquet` written at once: about one Parquet row group.
pub const ROWS_PER_BATCH: usize = 1 << 18;

/// Writes `sweep.csv` and `sweep.parquet` a batch of rows at a time, so that a sweep of
/// millions of rows (every county of a national scenario at thousands of points) is never held
/// whole. The files are those one write of all rows would give.
pub struct SweepWriter {
    csv: BufWriter<File>,
    csv_path: String,
    parquet: Option<polars::io::parquet::write::BatchedWriter<File>>,
    parquet_file: Option<File>,
    parquet_path: String,
    parameters: Vec<String>,
    with_ess: bool,
    started: bool,
}

impl SweepWriter {
    /// Creates both files in `dir`. `with_ess`: the table has the `effective_draws` column
    /// (a scenario conditioned on observations).
    ///
    /// # Errors
    /// When a file cannot be created.
    pub fn create(dir: &Path, parameters: &[String], with_ess: bool) -> Result<SweepWriter, super::ReportError> {
        let open = |name: &str| {
            let path = dir.join(name);
            File::create(&path)
                .map(|f| (f, path.display().to_string()))
                .map_err(|source| super::ReportError::Io {
                    path: path.display().to_string(),
                    source,
                })
        };
        let (csv, csv_path) = open("sweep.csv")?;
        let (parquet_file, parquet_path) = open("sweep.parquet")?;
        Ok(SweepWriter {
            csv: BufWriter::new(csv),
            csv_path,
            parquet: None,
            parquet_file: Some(parquet_file),
            parquet_path,
            parameters: parameters.to_vec(),
            with_ess,
            started: false,
        })
    }

    /// Appends rows.
    ///
    /// # Errors
    /// Any write failure.
    pub fn write(&mut self, rows: &[SweepRow]) -> Result<(), super::ReportError> {
        let table = |p: &str| {
            let p = p.to_string();
            move |source| super::ReportError::Table { path: p, source }
        };
        let mut df = sweep_frame(&self.parameters, rows, self.with_ess).map_err(table(&self.csv_path))?;
        CsvWriter::new(&mut self.csv)
            .include_bom(!self.started)
            .include_header(!self.started)
            .with_float_scientific(Some(false))
            .finish(&mut df)
            .map_err(table(&self.csv_path))?;
        if self.parquet.is_none() {
            let file = self.parquet_file.take().expect("the parquet file is open until the first batch");
            let writer = ParquetWriter::new(file)
                .with_compression(ParquetCompression::Zstd(None))
                .batched(df.schema())
                .map_err(table(&self.parquet_path))?;
            self.parquet = Some(writer);
        }
        if let Some(w) = &mut self.parquet {
            w.write_batch(&df).map_err(table(&self.parquet_path))?;
        }
        self.started = true;
        Ok(())
    }

    /// Writes the header of an empty table if nothing was written, and closes both files.
    ///
    /// # Errors
    /// Any write failure.
    pub fn finish(mut self) -> Result<(), super::ReportError> {
        if !self.started {
            self.write(&[])?;
        }
        let table = |p: &str| {
            let p = p.to_string();
            move |source| super::ReportError::Table { path: p, source }
        };
        if let Some(w) = &self.parquet {
            w.finish().map_err(table(&self.parquet_path))?;
        }
        std::io::Write::flush(&mut self.csv).map_err(|source| super::ReportError::Io {
            path: self.csv_path.clone(),
            source,
        })?;
        Ok(())
    }
}

/// Writes the index tables (`sobol.csv`, `morris.csv`) into `dir`.
///
/// # Errors
/// Any write failure.
pub fn write_indices(
    dir: &Path,
    sobol: Option<&[SobolRow]>,
    morris: Option<&[crate::sensitivity::MorrisRow]>,
) -> Result<(), super::ReportError> {
    let table = |path: &Path| {
        let p = path.display().to_string();
        move |source| super::ReportError::Table { path: p, source }
    };
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
