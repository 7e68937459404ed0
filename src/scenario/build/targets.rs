//! `[[target]]`s and `[[observation]]`s: what a run is measured against, and the published
//! figures it conditions on.

use super::super::reader::{Diags, TableReader};
use super::super::tree::{Node, Origin, Value, escape_invisible};
use super::super::*;
use super::{GroupDraft, RegionDraft};
use crate::scenario::reader::suggest;

/// A target's or an observation's unit: a region id or a group id. `message` words the error for
/// an unknown id; a "did you mean" hint is added to it.
fn find_unit(
    regions: &[RegionDraft],
    groups: &[GroupDraft],
    id: &str,
    message: impl FnOnce(&str) -> String,
    o: &Origin,
    d: &mut Diags,
) -> Option<Unit> {
    if let Some(r) = regions.iter().position(|r| r.region.id == id) {
        return Some(Unit::Region(r));
    }
    if let Some(g) = groups.iter().position(|g| g.group.id == id) {
        return Some(Unit::Group(g));
    }
    let ids = regions
        .iter()
        .map(|r| r.region.id.as_str())
        .chain(groups.iter().map(|g| g.group.id.as_str()));
    let hint = suggest(id, ids)
        .map(|h| format!(" (did you mean '{}'?)", escape_invisible(h)))
        .unwrap_or_default();
    d.error(o, format!("{}{hint}", message(id)));
    None
}

/// `[[target]]`s; `years` are the base year and the horizon, when they are valid.
pub(super) fn targets(
    nodes: Vec<&Node>,
    (base_year, horizon): (Option<i32>, Option<i32>),
    regions: &[RegionDraft],
    groups: &[GroupDraft],
    d: &mut Diags,
) -> Vec<Target> {
    let mut targets: Vec<Target> = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let path = format!("target[{i}]");
        let Some(mut t) = TableReader::new(node, path.clone(), d) else {
            continue;
        };
        let id = t.str_req("id", d).map(|(s, _)| s.to_string());
        if let Some(id) = &id
            && targets.iter().any(|x| &x.id == id)
        {
            d.error(t.origin, format!("duplicate target id '{id}'"));
        }
        let metric = t.choice_in("metric", None, &TargetMetric::NAMES, d);
        let denominator = t.choice("denominator", Some("resident"), &["resident", "registered"], d);
        let metric = match (metric, denominator) {
            (Some(TargetMetric::BedsPer1000), Some("registered")) => Some(TargetMetric::BedsPer1000Registered),
            (Some(m), Some("registered")) => {
                let o = t.get("denominator").map(|n| &n.origin).unwrap_or(t.origin);
                d.error(
                    o,
                    format!("{path}: denominator = \"registered\" applies only to beds_per_1000_elderly targets"),
                );
                Some(m)
            }
            (m, _) => m,
        };
        let op = t.choice_in("op", Some(">="), &Op::NAMES, d);
        let (lo, hi) = match metric {
            Some(TargetMetric::NursingShare) => (0.0, 1.0),
            _ => (0.0, 1e6),
        };
        let threshold = t.f64_in("threshold", None, lo, hi, d);
        let year = t.int_in("year", None, 1900, 2400, d).map(|v| v as i32);
        if let (Some(y), Some(b), Some(h)) = (year, base_year, horizon)
            && (y < b || y > h)
        {
            let o = t.get("year").map(|n| &n.origin).unwrap_or(t.origin);
            d.error(o, format!("{path}.year = {y} is outside the projection {b}..={h}"));
        }
        let units = target_units(&mut t, regions, groups, d);
        t.finish(d);
        if let (Some(id), Some(metric), Some(op), Some(threshold), Some(year), Some(units)) = (id, metric, op, threshold, year, units) {
            targets.push(Target {
                id,
                metric,
                op,
                threshold,
                year,
                units,
            });
        }
    }
    targets
}

fn target_units(t: &mut TableReader<'_>, regions: &[RegionDraft], groups: &[GroupDraft], d: &mut Diags) -> Option<Vec<Unit>> {
    let all = || -> Vec<Unit> {
        (0..regions.len())
            .map(Unit::Region)
            .chain((0..groups.len()).map(Unit::Group))
            .collect()
    };
    let Some(node) = t.get("units") else { return Some(all()) };
    match &node.value {
        Value::Str(s) if s == "all" => Some(all()),
        Value::Str(s) if s == "regions" => Some((0..regions.len()).map(Unit::Region).collect()),
        Value::Str(s) if s == "groups" => Some((0..groups.len()).map(Unit::Group).collect()),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                let Value::Str(id) = &item.value else {
                    d.error(&item.origin, "target units must be region or group ids (strings)");
                    continue;
                };
                if let Some(u) = find_unit(
                    regions,
                    groups,
                    id,
                    |id| format!("target refers to unknown region or group '{id}'"),
                    &item.origin,
                    d,
                ) {
                    out.push(u);
                }
            }
            (!out.is_empty()).then_some(out)
        }
        other => {
            d.error(
                &node.origin,
                format!(
                    "target units must be \"all\", \"regions\", \"groups\" or an array of ids, found {}",
                    other.type_name()
                ),
            );
            None
        }
    }
}

/// `[[observation]]`: published figures the run conditions on (see
/// [`crate::montecarlo::observe`]).
pub(super) fn observations(
    nodes: Vec<&Node>,
    regions: &[RegionDraft],
    groups: &[GroupDraft],
    years: Option<(i32, i32)>,
    d: &mut Diags,
) -> Vec<Observation> {
    let metrics: Vec<(&'static str, crate::metric::Metric)> = crate::metric::Metric::ALL.iter().map(|&m| (m.name(), m)).collect();
    let mut out = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let path = format!("observation[{i}]");
        let Some(mut t) = TableReader::new(node, path.clone(), d) else {
            continue;
        };
        let unit = t.str_req("unit", d).and_then(|(id, o)| {
            find_unit(
                regions,
                groups,
                id,
                |id| format!("{path}.unit '{id}' is neither a region nor a group"),
                o,
                d,
            )
        });
        let metric = t.choice_in("metric", None, &metrics, d);
        let year = t.int_in("year", None, 1900, 2400, d).map(|v| v as i32);
        if let (Some(y), Some((b, h))) = (year, years)
            && !(b < y && y <= h)
        {
            let o = t.get("year").map(|n| &n.origin).unwrap_or(t.origin);
            d.error(o, format!("{path}.year = {y} must lie after base_year {b} and by the horizon {h}"));
        }
        let value = t.f64_in("value", None, -1e12, 1e12, d);
        let sd = match (t.has("sd"), t.has("relative_sd")) {
            (true, false) => t.f64_in("sd", None, 0.0, 1e12, d),
            (false, true) => t.f64_in("relative_sd", None, 0.0, 10.0, d).zip(value).map(|(r, v)| r * v.abs()),
            (true, true) => {
                d.error(t.origin, format!("[{path}] gives both sd and relative_sd: give one"));
                None
            }
            (false, false) => {
                d.error(
                    t.origin,
                    format!("[{path}] needs sd or relative_sd, the measurement error of the figure"),
                );
                None
            }
        };
        let origin = t.origin;
        t.finish(d);
        if let Some(0.0) = sd {
            d.error(
                origin,
                format!("[{path}]: the measurement error must be above 0 (no published figure is exact)"),
            );
            continue;
        }
        if let (Some(unit), Some(metric), Some(year), Some(value), Some(sd)) = (unit, metric, year, value, sd) {
            let id = match unit {
                Unit::Region(r) => regions[r].region.id.as_str(),
                Unit::Group(g) => groups[g].group.id.as_str(),
            };
            out.push(Observation {
                label: format!("{} {id} {year}", metric.name()),
                unit,
                metric,
                year,
                value,
                sd,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Op::symbol` indexes `Op::NAMES` by the enum's order.
    #[test]
    fn each_op_is_named_by_its_own_symbol() {
        for &(name, op) in &Op::NAMES {
            assert_eq!(op.symbol(), name);
        }
    }
}
