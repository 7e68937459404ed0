//! `bedsim plan`: what must be added to meet each target with a chosen probability, and the
//! latest year it must be started given the scenario's delivery delays.

use std::fmt::Write as _;
use std::path::Path;

use polars::prelude::*;

use super::tables::{unit_labels, write_csv};
use crate::montecarlo::RunResult;
use crate::scenario::{ItemKind, Scenario, TargetMetric};

/// One line of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRow {
    pub target: String,
    pub unit: String,
    pub name: String,
    pub year: i32,
    pub threshold: f64,
    pub probability: Option<f64>,
    /// What to add, in `unit_of_need`.
    pub needed: Option<f64>,
    pub unit_of_need: &'static str,
    /// Latest year the addition must be started (planned) so that, with the scenario's delay
    /// distribution for new items, it is in place by the target year with the chosen probability.
    pub latest_start: Option<i32>,
    /// For nursing-share targets: conversions of general beds instead, and their latest start.
    pub conversions: Option<f64>,
    pub conversions_latest_start: Option<i32>,
    /// The latest start lies before the first year plan items can be placed (the stock year):
    /// with the scenario's delays, new building cannot close the gap in time with this confidence.
    pub too_late: bool,
}

/// The plan rows of a run (targets that are upper bounds get no addition).
pub fn rows(s: &Scenario, r: &RunResult, confidence: f64) -> Vec<PlanRow> {
    let latest = |kind: ItemKind, year: i32| -> Option<i32> {
        let delay = s.capacity.default_delays.get(kind as usize)?.quantile(confidence)?;
        Some(year - delay.ceil() as i32)
    };
    r.targets
        .iter()
        .map(|t| {
            let tg = &s.targets[t.target];
            let (id, name, _) = unit_labels(s, t.unit);
            let (unit_of_need, start, conv_start) = match tg.metric {
                TargetMetric::BedsPer1000 | TargetMetric::BedsPer1000Registered => ("beds", latest(ItemKind::New, tg.year), None),
                TargetMetric::NursingShare => (
                    "new nursing-type beds",
                    latest(ItemKind::New, tg.year),
                    latest(ItemKind::Conversion, tg.year),
                ),
                TargetMetric::CaregiversPer10000 => ("certified caregivers", Some(tg.year), None),
                TargetMetric::DemandSupplyRatio => ("", None, None),
            };
            let needs = t.needed.is_some_and(|n| n > 0.0);
            PlanRow {
                target: tg.id.clone(),
                unit: id.to_string(),
                name: name.to_string(),
                year: tg.year,
                threshold: tg.threshold,
                probability: t.probability,
                needed: t.needed,
                unit_of_need,
                latest_start: if needs { start } else { None },
                conversions: t.needed_conversions,
                conversions_latest_start: if t.needed_conversions.is_some_and(|c| c > 0.0) {
                    conv_start
                } else {
                    None
                },
                too_late: needs && start.is_some_and(|y| y < s.capacity.stock_year),
            }
        })
        .collect()
}

/// Writes `plan.csv`.
///
/// # Errors
/// Any write failure.
pub fn write(dir: &Path, rows: &[PlanRow]) -> Result<(), super::ReportError> {
    let p = dir.join("plan.csv");
    let table = |source| super::ReportError::Table {
        path: p.display().to_string(),
        source,
    };
    let n = rows.len();
    let mut df = DataFrame::new(
        n,
        vec![
            Column::new("target".into(), rows.iter().map(|r| r.target.as_str()).collect::<Vec<_>>()),
            Column::new("region".into(), rows.iter().map(|r| r.unit.as_str()).collect::<Vec<_>>()),
            Column::new("name".into(), rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>()),
            Column::new("year".into(), rows.iter().map(|r| r.year).collect::<Vec<_>>()),
            Column::new("threshold".into(), rows.iter().map(|r| r.threshold).collect::<Vec<_>>()),
            Column::new(
                "probability_met".into(),
                rows.iter()
                    .map(|r| r.probability.map(|p| (p * 1e4).round() / 1e4))
                    .collect::<Vec<_>>(),
            ),
            Column::new("needed".into(), rows.iter().map(|r| r.needed.map(f64::ceil)).collect::<Vec<_>>()),
            Column::new("needed_unit".into(), rows.iter().map(|r| r.unit_of_need).collect::<Vec<_>>()),
            Column::new("latest_start_year".into(), rows.iter().map(|r| r.latest_start).collect::<Vec<_>>()),
            Column::new(
                "conversions_needed".into(),
                rows.iter().map(|r| r.conversions.map(f64::ceil)).collect::<Vec<_>>(),
            ),
            Column::new(
                "conversions_latest_start_year".into(),
                rows.iter().map(|r| r.conversions_latest_start).collect::<Vec<_>>(),
            ),
        ],
    )
    .map_err(table)?;
    write_csv(&mut df, &p).map_err(table)
}

/// The plan as text for stdout.
pub fn text(rows: &[PlanRow], confidence: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "What it takes to meet each target with probability {:.0}%:",
        100.0 * confidence
    );
    for r in rows {
        let p = r.probability.map(|p| format!("{:.1}%", 100.0 * p)).unwrap_or_else(|| "n/a".into());
        let need = match (r.needed, r.latest_start) {
            (Some(n), Some(y)) if n > 0.0 && r.too_late => {
                format!(
                    "add {:.0} {} (would have had to start by {y}: too late with the scenario's delays)",
                    n.ceil(),
                    r.unit_of_need
                )
            }
            (Some(n), Some(y)) if n > 0.0 => format!("add {:.0} {} (start by {y})", n.ceil(), r.unit_of_need),
            (Some(_), _) => "already met".to_string(),
            _ => "-".to_string(),
        };
        let conv = match (r.conversions, r.conversions_latest_start) {
            (Some(c), Some(y)) if c > 0.0 => format!(", or convert {:.0} general beds (start by {y})", c.ceil()),
            _ => String::new(),
        };
        let _ = writeln!(out, "{} {} ({}) {}: now {p}; {need}{conv}", r.target, r.name, r.unit, r.year);
    }
    out
}
