//! `bedsim compare A B`: two runs' answers side by side, per target and unit.
//!
//! The question analysts are asked most is what a change to the plan buys: the plan as
//! written (A) against the plan with one more programme (B). Runs with the same seed share
//! their random numbers (common random numbers, [`crate::streams`]), so the difference of
//! their P(met) is the effect of the change alone; with different seeds it also holds Monte
//! Carlo noise, whose standard error is given.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use polars::prelude::*;
use rust_xlsxwriter::{Color, ConditionalFormatCell, ConditionalFormatCellRule, Format, Workbook};

use super::ReportError;
use super::chartdata::ChartData;
use super::text::Captions;

/// One target and unit in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub target: String,
    pub unit: String,
    pub name: String,
    pub is_group: bool,
    pub year: i32,
    pub metric: String,
    pub op: String,
    pub threshold: f64,
    pub p_a: Option<f64>,
    pub p_b: Option<f64>,
    /// Standard error of `p_b - p_a` from the draws, when the runs do not share their draws.
    pub mc_se: Option<f64>,
    pub median_a: Option<f64>,
    pub median_b: Option<f64>,
    pub needed_a: Option<f64>,
    pub needed_b: Option<f64>,
    pub needed_unit: Option<String>,
}

impl Row {
    pub fn p_diff(&self) -> Option<f64> {
        Some(self.p_b? - self.p_a?)
    }

    pub fn needed_diff(&self) -> Option<f64> {
        // No need is "nothing to add": 0, so that a plan that closes a gap shows its size.
        match (self.needed_a, self.needed_b) {
            (None, None) => None,
            (a, b) => Some(b.unwrap_or(0.0) - a.unwrap_or(0.0)),
        }
    }
}

/// Why two runs cannot be compared row by row.
#[derive(Debug, Clone, PartialEq)]
pub struct Mismatch {
    /// (target, unit) pairs only A has, and only B has.
    pub only_a: Vec<(String, String)>,
    pub only_b: Vec<(String, String)>,
    /// Targets with the same id but another metric, operator or year.
    pub different_targets: Vec<String>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &[(String, String)]| v.iter().take(3).map(|(t, u)| format!("{t}/{u}")).collect::<Vec<_>>().join(", ");
        let mut parts = Vec::new();
        if !self.only_a.is_empty() {
            parts.push(format!(
                "{} (target, unit) pair(s) only in A (e.g. {})",
                self.only_a.len(),
                show(&self.only_a)
            ));
        }
        if !self.only_b.is_empty() {
            parts.push(format!("{} only in B (e.g. {})", self.only_b.len(), show(&self.only_b)));
        }
        if !self.different_targets.is_empty() {
            parts.push(format!(
                "target(s) {} have another metric, operator or year in B",
                self.different_targets.join(", ")
            ));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// Whether two runs are made of the same random draws (the same seed and number of draws, and
/// neither conditioned on observations, which resamples the draws by weights that depend on
/// the inputs), so that their difference is the effect of what changed alone.
pub fn shared_draws(a: &ChartData, b: &ChartData) -> bool {
    a.run.seed == b.run.seed && a.draws == b.draws && a.run.effective_draws.is_none() && b.run.effective_draws.is_none()
}

/// The sample size behind a run's probabilities: its effective sample when it is conditioned.
fn sample_size(d: &ChartData) -> f64 {
    d.run.effective_draws.unwrap_or(d.draws as f64).max(1.0)
}

/// Pairs the targets of two runs by target id and unit id. Unless `common`, every pair must be
/// in both runs with the same metric, operator and year.
///
/// # Errors
/// A [`Mismatch`] naming what differs, when not `common` and the runs differ, or when they have
/// nothing in common.
pub fn rows(a: &ChartData, b: &ChartData, common: bool) -> Result<Vec<Row>, Mismatch> {
    let key = |t: &super::chartdata::TargetInfo| (t.id.clone(), t.unit.clone());
    let in_b: HashMap<(String, String), &super::chartdata::TargetInfo> = b.targets.iter().map(|t| (key(t), t)).collect();
    let in_a: HashSet<(String, String)> = a.targets.iter().map(key).collect();
    let units: HashMap<&str, &super::chartdata::UnitInfo> = a.units.iter().map(|u| (u.id.as_str(), u)).collect();
    let same_seed = shared_draws(a, b);
    let mut mismatch = Mismatch {
        only_a: Vec::new(),
        only_b: b.targets.iter().map(key).filter(|k| !in_a.contains(k)).collect(),
        different_targets: Vec::new(),
    };
    let mut out = Vec::new();
    for ta in &a.targets {
        let Some(tb) = in_b.get(&key(ta)) else {
            mismatch.only_a.push(key(ta));
            continue;
        };
        if (ta.metric.as_str(), ta.op.as_str(), ta.year) != (tb.metric.as_str(), tb.op.as_str(), tb.year) {
            if !mismatch.different_targets.contains(&ta.id) {
                mismatch.different_targets.push(ta.id.clone());
            }
            continue;
        }
        let var = |p: f64, n: f64| p * (1.0 - p) / n;
        let mc_se = match (same_seed, ta.probability, tb.probability) {
            (false, Some(pa), Some(pb)) => Some((var(pa, sample_size(a)) + var(pb, sample_size(b))).sqrt()),
            _ => None,
        };
        let unit = units.get(ta.unit.as_str());
        out.push(Row {
            target: ta.id.clone(),
            unit: ta.unit.clone(),
            name: unit.map_or_else(|| ta.unit.clone(), |u| u.name.clone()),
            is_group: unit.is_some_and(|u| u.is_group),
            year: ta.year,
            metric: ta.metric.clone(),
            op: ta.op.clone(),
            threshold: tb.threshold,
            p_a: ta.probability,
            p_b: tb.probability,
            mc_se,
            median_a: ta.p50,
            median_b: tb.p50,
            needed_a: ta.needed,
            needed_b: tb.needed,
            needed_unit: ta.needed_unit.clone().or_else(|| tb.needed_unit.clone()),
        });
    }
    let differs = !mismatch.only_a.is_empty() || !mismatch.only_b.is_empty() || !mismatch.different_targets.is_empty();
    if (differs && !common) || out.is_empty() {
        return Err(mismatch);
    }
    Ok(out)
}

/// The comparison as a table (CSV and Parquet share it).
///
/// # Errors
/// Only if polars rejects the columns.
pub fn frame(rows: &[Row]) -> PolarsResult<DataFrame> {
    let col_s = |name: &str, f: &dyn Fn(&Row) -> Option<String>| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    let col_f = |name: &str, f: &dyn Fn(&Row) -> Option<f64>| Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>());
    DataFrame::new(
        rows.len(),
        vec![
            col_s("target", &|r| Some(r.target.clone())),
            col_s("region", &|r| Some(r.unit.clone())),
            col_s("name", &|r| Some(r.name.clone())),
            col_s("kind", &|r| Some(if r.is_group { "group" } else { "region" }.into())),
            Column::new("year".into(), rows.iter().map(|r| r.year).collect::<Vec<_>>()),
            col_s("metric", &|r| Some(r.metric.clone())),
            col_s("op", &|r| Some(r.op.clone())),
            col_f("threshold", &|r| Some(r.threshold)),
            col_f("probability_met_a", &|r| r.p_a),
            col_f("probability_met_b", &|r| r.p_b),
            col_f("probability_met_diff", &Row::p_diff),
            col_f("mc_se", &|r| r.mc_se),
            col_f("median_a", &|r| r.median_a),
            col_f("median_b", &|r| r.median_b),
            col_f("needed_at_confidence_a", &|r| r.needed_a),
            col_f("needed_at_confidence_b", &|r| r.needed_b),
            col_f("needed_diff", &Row::needed_diff),
            col_s("needed_unit", &|r| r.needed_unit.clone()),
        ],
    )
}

/// Writes `compare.xlsx`: the comparison sheet and a note on what the difference means.
///
/// # Errors
/// When the workbook cannot be written.
pub fn write_workbook(rows: &[Row], text: &Captions, note: &str, age: usize, path: &Path) -> Result<(), ReportError> {
    let e = |e: rust_xlsxwriter::XlsxError| ReportError::Io {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    };
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name(text.sheet_compare).map_err(e)?;
    let headers: Vec<String> = vec![
        text.target.into(),
        text.unit_id.into(),
        text.unit.into(),
        text.year.into(),
        text.metric.into(),
        text.op.into(),
        text.threshold.into(),
        format!("{} {}", text.p_met, text.run_a),
        format!("{} {}", text.p_met, text.run_b),
        format!("{} {}", text.p_met, text.difference),
        "mc_se".into(),
        format!("{} {}", text.needed, text.run_a),
        format!("{} {}", text.needed, text.run_b),
        format!("{} {}", text.needed, text.difference),
        text.needed_unit.into(),
    ];
    let bold = Format::new().set_bold().set_background_color(Color::RGB(0xD9E1F2));
    let wrap = Format::new().set_text_wrap();
    ws.merge_range(0, 0, 0, headers.len() as u16 - 1, note, &wrap).map_err(e)?;
    ws.set_row_height(0, 36).map_err(e)?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(1, c as u16, h, &bold).map_err(e)?;
    }
    ws.set_freeze_panes(2, 0).map_err(e)?;
    ws.autofilter(1, 0, rows.len() as u32 + 1, headers.len() as u16 - 1).map_err(e)?;
    let percent = Format::new().set_num_format("0.0%");
    let signed = Format::new().set_num_format("+0.0%;-0.0%;0.0%");
    let count = Format::new().set_num_format("#,##0");
    let signed_count = Format::new().set_num_format("+#,##0;-#,##0;0");
    let plain = Format::new().set_num_format("0.###");
    // The column of the difference of P(met), coloured.
    const DIFF: u16 = 9;
    let mut widths: Vec<usize> = headers
        .iter()
        .map(|h| h.chars().map(|c| if c as u32 >= 0x1100 { 2 } else { 1 }).sum())
        .collect();
    let put = |ws: &mut rust_xlsxwriter::Worksheet, r: u32, c: u16, v: Option<f64>, f: &Format| -> Result<(), rust_xlsxwriter::XlsxError> {
        if let Some(x) = v.filter(|x| x.is_finite()) {
            ws.write_number_with_format(r, c, x, f)?;
        }
        Ok(())
    };
    for (i, r) in rows.iter().enumerate() {
        let row = i as u32 + 2;
        let metric = text.metric_name(&r.metric, age);
        let unit_caption = r.needed_unit.as_deref().map(|u| text.metric_unit(u)).unwrap_or_default();
        for (c, s) in [
            (0u16, &r.target),
            (1, &r.unit),
            (2, &r.name),
            (4, &metric),
            (5, &r.op),
            (14, &unit_caption),
        ] {
            ws.write_string(row, c, s).map_err(e)?;
            let w: usize = s.chars().map(|c| if c as u32 >= 0x1100 { 2 } else { 1 }).sum();
            widths[c as usize] = widths[c as usize].max(w);
        }
        ws.write_number(row, 3, f64::from(r.year)).map_err(e)?;
        let threshold_format = if r.metric == "nursing_share" { &percent } else { &plain };
        put(ws, row, 6, Some(r.threshold), threshold_format).map_err(e)?;
        put(ws, row, 7, r.p_a, &percent).map_err(e)?;
        put(ws, row, 8, r.p_b, &percent).map_err(e)?;
        put(ws, row, DIFF, r.p_diff(), &signed).map_err(e)?;
        put(ws, row, 10, r.mc_se, &percent).map_err(e)?;
        put(ws, row, 11, r.needed_a, &count).map_err(e)?;
        put(ws, row, 12, r.needed_b, &count).map_err(e)?;
        put(ws, row, 13, r.needed_diff(), &signed_count).map_err(e)?;
    }
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, (*w as f64 + 2.0).clamp(8.0, 60.0)).map_err(e)?;
    }
    if !rows.is_empty() {
        let last = rows.len() as u32 + 1;
        for (rule, rgb, font) in [
            (ConditionalFormatCellRule::GreaterThan(0.0), 0xC6EFCE, 0x006100),
            (ConditionalFormatCellRule::LessThan(0.0), 0xFFC7CE, 0x9C0006),
        ] {
            ws.add_conditional_format(
                2,
                DIFF,
                last,
                DIFF,
                &ConditionalFormatCell::new()
                    .set_rule(rule)
                    .set_format(Format::new().set_background_color(Color::RGB(rgb)).set_font_color(Color::RGB(font))),
            )
            .map_err(e)?;
        }
    }
    wb.save(path).map_err(e)
}
