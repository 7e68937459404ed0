//! Machine-readable results for `--format json` (schema in docs/json.md). One JSON document on
//! stdout per command; human text and progress stay on stderr.

use serde_json::{Value, json};

use super::plan::PlanRow;
use super::tables::unit_labels;
use crate::montecarlo::{RunResult, target_metric};
use crate::scenario::{Diagnostic, Origin, Scenario};

fn num(v: Option<f64>) -> Value {
    v.filter(|x| x.is_finite()).map(Value::from).unwrap_or(Value::Null)
}

/// The problems of an invalid input: file, line, column (null for `--set` overrides), message.
pub fn problems(list: &[Diagnostic]) -> Value {
    Value::Array(
        list.iter()
            .map(|d| match &d.origin {
                Origin::File { path, line, col } => json!({"file": path.as_ref(), "line": line, "column": col, "message": d.message}),
                Origin::Override(text) => json!({"file": Value::Null, "line": Value::Null, "column": Value::Null, "override": text.as_ref(), "message": d.message}),
            })
            .collect(),
    )
}

/// A failed command.
pub fn failure(error: &str, list: &[Diagnostic]) -> Value {
    json!({"ok": false, "error": error, "problems": problems(list)})
}

/// The target rows of a run.
pub fn targets(s: &Scenario, r: &RunResult) -> Value {
    Value::Array(
        r.targets
            .iter()
            .map(|t| {
                let tg = &s.targets[t.target];
                let (id, name, kind) = unit_labels(s, t.unit);
                let q = |i: usize| num(t.metric.map(|m| m.quantiles[i]));
                json!({
                    "target": tg.id, "region": id, "name": name, "kind": kind, "year": tg.year,
                    "metric": target_metric(tg.metric).name(), "op": tg.op.symbol(), "threshold": tg.threshold,
                    "probability_met": num(t.probability),
                    "p05": q(0), "p10": q(1), "p25": q(2), "p50": q(3), "p75": q(4), "p90": q(5), "p95": q(6),
                    "median_shortfall": num(t.median_shortfall),
                    "needed_at_confidence": num(t.needed),
                    "conversions_needed_at_confidence": num(t.needed_conversions),
                })
            })
            .collect(),
    )
}

/// The coverage of a back-test by level and metric (empty without `[backtest]`).
pub fn backtest(s: &Scenario, r: &RunResult) -> Value {
    let rows = crate::backtest::compare(s, r);
    Value::Array(
        crate::backtest::coverage(&rows)
            .iter()
            .map(|c| {
                json!({
                    "level": c.level, "metric": c.metric.name(), "units": c.units,
                    "median_abs_error": c.median_abs_error, "p90_abs_error": c.p90_abs_error,
                    "mean_error": c.mean_error, "coverage50": c.coverage50, "coverage90": c.coverage90,
                })
            })
            .collect(),
    )
}

/// The rows of `bedsim plan`.
pub fn plan(rows: &[PlanRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| {
                json!({
                    "target": r.target, "region": r.unit, "name": r.name, "year": r.year, "threshold": r.threshold,
                    "probability_met": num(r.probability), "needed": num(r.needed), "needed_unit": r.unit_of_need,
                    "latest_start_year": r.latest_start, "conversions_needed": num(r.conversions),
                    "conversions_latest_start_year": r.conversions_latest_start, "too_late": r.too_late,
                })
            })
            .collect(),
    )
}

/// Prints a document on stdout (a closed pipe is not an error).
pub fn print(v: &Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, v);
    let _ = writeln!(out);
}
