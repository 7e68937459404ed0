//! The supply sections of a scenario: `[capacity]` (the observed stock, its date and the
//! delivery defaults by kind), `[[plan]]` items, `[[caregivers]]` and `[[seasonal]]` entries,
//! and the rule by which each of them names its regions.

use std::collections::HashMap;

use super::super::PlanLink;
use super::super::reader::{Diags, TableReader};
use super::super::subnational::Date;
use super::super::tree::{Node, Origin, Value};
use super::super::*;
use super::{GroupDraft, MAX_BEDS, RegionDraft, find_group, find_region};
use crate::demography::aged_at_least;
use crate::dist::{Dist, DistSpec};
use crate::streams::entity_key;

/// How an entry's size is split over its regions (`split`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Split {
    /// By their elderly (aged `elderly_age` and over) in the base year.
    Elderly,
    /// By their whole population in the base year.
    Population,
    Equal,
}

const SPLITS: [(&str, Split); 3] = [
    ("elderly", Split::Elderly),
    ("population", Split::Population),
    ("equal", Split::Equal),
];

/// The regions an entry covers (`region`, `group` or `regions`) and their weights (`split`),
/// for stock entries, plan items, caregivers and seasonal entries alike.
pub(super) struct Members<'a> {
    pub regions: &'a [RegionDraft],
    pub groups: &'a [GroupDraft],
    pub elderly_age: usize,
}

impl Members<'_> {
    fn weights(&self, split: Split, members: &[usize]) -> Vec<f64> {
        let raw: Vec<f64> = members
            .iter()
            .map(|&m| match split {
                Split::Population => aged_at_least(&self.regions[m].region.base, 0),
                Split::Equal => 1.0,
                Split::Elderly => aged_at_least(&self.regions[m].region.base, self.elderly_age),
            })
            .collect();
        let total: f64 = raw.iter().sum();
        if total > 0.0 {
            raw.iter().map(|w| w / total).collect()
        } else {
            vec![1.0 / members.len().max(1) as f64; members.len()]
        }
    }

    /// The (region, weight) pairs of the entry read by `t`.
    pub fn of(&self, t: &mut TableReader<'_>, d: &mut Diags) -> Option<Vec<(usize, f64)>> {
        let region = t.str_opt("region", d);
        let group = t.str_opt("group", d);
        let list = t.get("regions");
        let split = t.choice_in("split", Some("elderly"), &SPLITS, d);
        let given = usize::from(region.is_some()) + usize::from(group.is_some()) + usize::from(list.is_some());
        if given != 1 {
            let what = if given == 0 { "needs" } else { "must have only one of" };
            d.error(t.origin, format!("[{}] {what} region, group or regions", t.path));
            return None;
        }
        let members: Vec<usize> = if let Some((r, o)) = region {
            return find_region(self.regions, r, o, d).map(|i| vec![(i, 1.0)]);
        } else if let Some((g, o)) = group {
            self.groups[find_group(self.groups, g, o, d)?].group.members.clone()
        } else {
            let node = list?;
            let Value::Array(items) = &node.value else {
                d.error(&node.origin, format!("{}.regions must be an array of region ids", t.path));
                return None;
            };
            let mut out = Vec::new();
            for item in items {
                match &item.value {
                    Value::Str(id) => {
                        let i = find_region(self.regions, id, &item.origin, d)?;
                        if out.contains(&i) {
                            d.error(&item.origin, format!("region '{id}' is listed twice"));
                            return None;
                        }
                        out.push(i);
                    }
                    other => {
                        d.error(
                            &item.origin,
                            format!("{}.regions must hold region ids (strings), found {}", t.path, other.type_name()),
                        );
                        return None;
                    }
                }
            }
            if out.is_empty() {
                d.error(&node.origin, format!("{}.regions is empty", t.path));
                return None;
            }
            out.sort_unstable();
            out
        };
        let w = self.weights(split?, &members);
        Some(members.into_iter().zip(w).collect())
    }

    /// A stream key for an entry of `kind` without a position in it (see [`entry_key`]).
    fn key(&self, kind: &str, id: Option<&str>, members: &[(usize, f64)], seen: &mut HashMap<String, usize>) -> u64 {
        entry_key(kind, id, members, self.regions, seen)
    }
}

/// Delivery defaults of a kind of plan item.
#[derive(Debug, Clone)]
pub(super) struct ItemDefaults {
    pub delay: Dist,
    pub cancel_probability: f64,
    pub delivered_share: Dist,
    pub nursing_share: Dist,
    pub cost_per_bed: Dist,
    pub phasing: Vec<f64>,
    pub shared: Dist,
}

/// A built-in distribution; its parameters are constants, checked by the unit test
/// `every_builtin_default_is_a_valid_distribution`.
fn builtin(spec: DistSpec) -> Dist {
    Dist::new(spec).expect("built-in default distributions are valid")
}

fn discrete(values: &[f64], probs: &[f64]) -> Dist {
    builtin(DistSpec::Discrete {
        values: values.to_vec(),
        probs: probs.to_vec(),
    })
}

fn beta(alpha: f64, beta: f64) -> Dist {
    builtin(DistSpec::Beta { alpha, beta })
}

/// Built-in delivery defaults by kind; scenarios/README.md gives their reasoning.
pub(super) fn builtin_defaults(kind: ItemKind) -> ItemDefaults {
    let cost = builtin(DistSpec::LogNormal {
        meanlog: 150_000f64.ln(),
        sdlog: 0.35,
    });
    let (delay, cancel, delivered, nursing) = match kind {
        ItemKind::New => (
            discrete(&[0.0, 1.0, 2.0, 3.0], &[0.45, 0.30, 0.15, 0.10]),
            0.05,
            beta(18.0, 2.0),
            Dist::fixed(0.6),
        ),
        ItemKind::Expansion => (
            discrete(&[0.0, 1.0, 2.0], &[0.6, 0.3, 0.1]),
            0.03,
            beta(18.0, 2.0),
            Dist::fixed(0.6),
        ),
        ItemKind::Conversion => (discrete(&[0.0, 1.0, 2.0], &[0.6, 0.3, 0.1]), 0.05, beta(9.0, 1.0), Dist::fixed(1.0)),
        ItemKind::Closure => (Dist::fixed(0.0), 0.0, Dist::fixed(1.0), Dist::fixed(0.0)),
        ItemKind::Community => (discrete(&[0.0, 1.0, 2.0], &[0.5, 0.3, 0.2]), 0.10, beta(8.0, 2.0), Dist::fixed(0.0)),
    };
    // Projects of one programme share their funding (provincial and central budget lines, the
    // welfare lottery fund), approval and policy, and differ in site, land and contractor:
    // ASSUMPTION, scenarios/README.md.
    let shared = builtin(DistSpec::Uniform { low: 0.25, high: 0.75 });
    ItemDefaults {
        delay,
        cancel_probability: cancel,
        delivered_share: delivered,
        nursing_share: nursing,
        cost_per_bed: cost,
        phasing: vec![1.0],
        shared,
    }
}

/// Delivery fields of an item or of a kind's defaults.
pub(super) fn item_delivery(t: &mut TableReader<'_>, def: &ItemDefaults, d: &mut Diags) -> ItemDefaults {
    let delay = t.dist("delay", Some(def.delay.clone()), 0.0, 50.0, d);
    if let Some(n) = t.get("delay")
        && let Some(dist) = &delay
    {
        let whole = dist.discrete_values().is_some_and(|values| values.iter().all(|v| v.fract() == 0.0));
        if !whole {
            d.error(&n.origin, "delay must be whole years: a number or a discrete table such as { dist = \"discrete\", values = [0, 1, 2], probs = [0.6, 0.3, 0.1] }");
        }
    }
    let cancel = t.f64_in("cancel_probability", Some(def.cancel_probability), 0.0, 1.0, d);
    let delivered = t.dist("delivered_share", Some(def.delivered_share.clone()), 0.0, 1.0, d);
    let nursing = t.dist("nursing_share", Some(def.nursing_share.clone()), 0.0, 1.0, d);
    let cost = if t.path.starts_with("capacity.defaults") {
        t.dist_soft("cost_per_bed_yuan", Some(def.cost_per_bed.clone()), 0.0, f64::INFINITY, 1.0, 1e9, d)
    } else {
        Some(def.cost_per_bed.clone())
    };
    let shared = t.dist("shared", Some(def.shared.clone()), 0.0, 1.0, d);
    let phasing = t.f64_list("phasing", Some(def.phasing.clone()), 0.0, 1.0, d);
    let phasing = match phasing {
        Some((p, o)) if p.is_empty() || (p.iter().sum::<f64>() - 1.0).abs() > 1e-6 => {
            d.error(o, format!("phasing shares must sum to 1 (they sum to {})", p.iter().sum::<f64>()));
            None
        }
        Some((p, _)) => Some(p),
        None => None,
    };
    ItemDefaults {
        delay: delay.unwrap_or_else(|| def.delay.clone()),
        cancel_probability: cancel.unwrap_or(def.cancel_probability),
        delivered_share: delivered.unwrap_or_else(|| def.delivered_share.clone()),
        nursing_share: nursing.unwrap_or_else(|| def.nursing_share.clone()),
        cost_per_bed: cost.unwrap_or_else(|| def.cost_per_bed.clone()),
        phasing: phasing.unwrap_or_else(|| def.phasing.clone()),
        shared: shared.unwrap_or_else(|| def.shared.clone()),
    }
}

/// `[capacity]` as read: the stock's year and date, its entries with the regions they cover,
/// and the delivery defaults by kind (in the order of [`ItemKind::NAMES`]).
pub(super) struct CapacityDraft {
    pub stock_year: Option<i32>,
    /// The part of the stock year after the stock's date: 0 for the end of the year.
    pub stock_after: f64,
    pub stock: Vec<StockEntry>,
    /// (region, stock entry, weight).
    pub links: Vec<(usize, usize, f64)>,
    pub defaults: Vec<ItemDefaults>,
}

/// `[capacity]`. `years` are the base year and the horizon, when they are valid.
pub(super) fn capacity(
    node: Option<&Node>,
    root: &Origin,
    (base_year, horizon): (Option<i32>, Option<i32>),
    members: &Members<'_>,
    seen: &mut HashMap<String, usize>,
    d: &mut Diags,
) -> CapacityDraft {
    let mut out = CapacityDraft {
        stock_year: None,
        stock_after: 0.0,
        stock: Vec::new(),
        links: Vec::new(),
        defaults: ItemKind::NAMES.iter().map(|&(_, k)| builtin_defaults(k)).collect(),
    };
    let Some(n) = node else {
        d.error(root, "the [capacity] section is missing: it gives the base bed stock");
        return out;
    };
    let Some(mut c) = TableReader::new(n, "capacity", d) else {
        return out;
    };
    let mut stock_year = c.int_in("stock_year", base_year.map(i64::from), 1900, 2400, d).map(|v| v as i32);
    if let Some((text, o)) = c.str_opt("stock_date", d) {
        match Date::parse(text) {
            Some(dt) if c.get("stock_year").is_none() || stock_year == Some(dt.year) => {
                stock_year = Some(dt.year);
                // The stock counts what stood at the end of that day.
                let leap = (dt.year % 4 == 0 && dt.year % 100 != 0) || dt.year % 400 == 0;
                out.stock_after = dt.part_of_year_left() - 1.0 / if leap { 366.0 } else { 365.0 };
            }
            Some(dt) => d.error(
                o,
                format!(
                    "capacity.stock_date = {text} is not in stock_year {}",
                    stock_year.unwrap_or(dt.year)
                ),
            ),
            None => d.error(o, format!("capacity.stock_date = '{text}' is not a date YYYY-MM-DD")),
        }
    }
    if let (Some(sy), Some(b), Some(h)) = (stock_year, base_year, horizon)
        && (sy < b || sy > h)
    {
        let o = c.get("stock_year").map(|n| &n.origin).unwrap_or(c.origin);
        d.error(o, format!("capacity.stock_year = {sy} must lie in base_year..=horizon ({b}..={h})"));
    }
    out.stock_year = stock_year;
    for (i, node) in c.tables("stock", d).into_iter().enumerate() {
        let path = format!("capacity.stock[{i}]");
        let Some(mut t) = TableReader::new(node, path.clone(), d) else {
            continue;
        };
        let covered = members.of(&mut t, d);
        let inst = t.dist("institutional", None, 0.0, MAX_BEDS, d);
        let nursing = match (t.has("nursing"), t.has("nursing_share")) {
            (true, false) => t.dist("nursing", None, 0.0, MAX_BEDS, d).map(NursingStock::Beds),
            (false, true) => t.dist("nursing_share", None, 0.0, 1.0, d).map(NursingStock::Share),
            (true, true) => {
                d.error(t.origin, format!("[{path}] gives both nursing and nursing_share: give one"));
                None
            }
            (false, false) => Some(NursingStock::Beds(Dist::fixed(0.0))),
        };
        let community = t.dist("community", Some(Dist::fixed(0.0)), 0.0, MAX_BEDS, d);
        if let (Some(inst), Some(NursingStock::Beds(n))) = (&inst, &nursing)
            && n.support().1 > inst.support().0
        {
            let o = t.get("nursing").map(|n| &n.origin).unwrap_or(t.origin);
            d.error(o, format!("{path}: nursing beds (up to {}) can exceed institutional beds (from {}): nursing-type beds are part of institutional beds", n.support().1, inst.support().0));
        }
        let own_id = t.str_opt("id", d).map(|(s, _)| s.to_string());
        t.finish(d);
        if let (Some(covered), Some(institutional), Some(nursing), Some(community)) = (covered, inst, nursing, community) {
            let idx = out.stock.len();
            out.stock.push(StockEntry {
                key: members.key("stock", own_id.as_deref(), &covered, seen),
                institutional,
                nursing,
                community,
            });
            out.links.extend(covered.into_iter().map(|(r, w)| (r, idx, w)));
        }
    }
    if let Some(dn) = c.get("defaults")
        && let Some(mut dt) = TableReader::new(dn, "capacity.defaults", d)
    {
        for (k, (kind, _)) in ItemKind::NAMES.iter().enumerate() {
            if let Some(n) = dt.get(kind)
                && let Some(mut kt) = TableReader::new(n, format!("capacity.defaults.{kind}"), d)
            {
                out.defaults[k] = item_delivery(&mut kt, &out.defaults[k], d);
                kt.finish(d);
            }
        }
        dt.finish(d);
    }
    c.finish(d);
    out
}

/// `[[plan]]` items, and the (region, link) pairs by which each region sees them.
pub(super) fn plan_items(
    nodes: Vec<&Node>,
    defaults: &[ItemDefaults],
    (stock_year, horizon): (Option<i32>, Option<i32>),
    members: &Members<'_>,
    d: &mut Diags,
) -> (Vec<PlanItem>, Vec<(usize, PlanLink)>) {
    let mut plan = Vec::new();
    let mut links = Vec::new();
    let mut seen_items: HashMap<String, ()> = HashMap::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let path = format!("plan[{i}]");
        let Some(mut t) = TableReader::new(node, path.clone(), d) else {
            continue;
        };
        let id = t.str_req("id", d).and_then(|(s, o)| {
            if seen_items.insert(s.to_string(), ()).is_some() {
                d.error(o, format!("duplicate plan item id '{s}'"));
                None
            } else {
                Some(s.to_string())
            }
        });
        let kind = t.choice_in("kind", None, &ItemKind::NAMES, d);
        let covered = members.of(&mut t, d);
        let year = t.int_in("year", None, 1900, 2400, d).map(|v| v as i32);
        if let (Some(y), Some(sy), Some(h)) = (year, stock_year, horizon)
            && (y < sy || y > h)
        {
            let o = t.get("year").map(|n| &n.origin).unwrap_or(t.origin);
            d.error(o, format!("{path}.year = {y} must lie in capacity.stock_year..=horizon ({sy}..={h}): earlier items are already in the observed stock"));
        }
        let size = match (t.has("beds"), t.has("budget_yuan")) {
            (true, false) => t.dist("beds", None, 0.0, MAX_BEDS, d).map(ItemSize::Beds),
            (false, true) => {
                let yuan = t.dist("budget_yuan", None, 0.0, 1e13, d);
                let cost = kind.and_then(|k| {
                    let def = defaults[k as usize].cost_per_bed.clone();
                    t.dist_soft("cost_per_bed_yuan", Some(def), 0.0, f64::INFINITY, 1.0, 1e9, d)
                });
                match (yuan, cost) {
                    (Some(yuan), Some(cost_per_bed)) => Some(ItemSize::Budget { yuan, cost_per_bed }),
                    _ => None,
                }
            }
            (true, true) => {
                d.error(t.origin, format!("[{path}] gives both beds and budget_yuan: give one"));
                None
            }
            (false, false) => {
                d.error(t.origin, format!("[{path}] needs beds or budget_yuan"));
                None
            }
        };
        if t.has("budget_yuan") {
            // Read above, or not for want of a kind (already reported): a known field either way.
            t.has("cost_per_bed_yuan");
        } else if let Some(n) = t.get("cost_per_bed_yuan") {
            // Known, so reported as misplaced rather than unknown.
            d.error(&n.origin, format!("{path}.cost_per_bed_yuan applies only with budget_yuan"));
        }
        let projects = t.int_in("projects", Some(1), 1, 100_000, d).map(|v| v as usize);
        let delivery = kind.map(|k| item_delivery(&mut t, &defaults[k as usize], d));
        if kind.is_none() {
            // The kind is wrong (already reported): its delivery fields are still known ones.
            for key in [
                "delay",
                "cancel_probability",
                "delivered_share",
                "nursing_share",
                "phasing",
                "shared",
            ] {
                t.has(key);
            }
        }
        t.finish(d);
        if let (Some(id), Some(kind), Some(covered), Some(year), Some(size), Some(del), Some(projects)) =
            (id, kind, covered, year, size, delivery, projects)
        {
            let idx = plan.len();
            links.extend(
                project_links(&covered, projects)
                    .into_iter()
                    .map(|(r, share, quota)| (r, PlanLink { item: idx, share, quota })),
            );
            plan.push(PlanItem {
                key: entity_key(&id),
                id,
                kind,
                year,
                size,
                nursing_share: del.nursing_share,
                phasing: del.phasing,
                delay: del.delay,
                cancel_probability: del.cancel_probability,
                delivered_share: del.delivered_share,
                projects,
                shared: del.shared,
            });
        }
    }
    (plan, links)
}

/// `[[caregivers]]`, each for a region or split over several, with (region, entry, weight).
pub(super) fn caregiver_entries(
    nodes: Vec<&Node>,
    members: &Members<'_>,
    seen: &mut HashMap<String, usize>,
    d: &mut Diags,
) -> (Vec<CaregiverEntry>, Vec<(usize, usize, f64)>) {
    let mut entries = Vec::new();
    let mut links = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let Some(mut t) = TableReader::new(node, format!("caregivers[{i}]"), d) else {
            continue;
        };
        let covered = members.of(&mut t, d);
        let own_id = t.str_opt("id", d).map(|(s, _)| s.to_string());
        let stock = t.dist("stock", None, 0.0, MAX_BEDS, d);
        let trained = t.dist("trained_per_year", Some(Dist::fixed(0.0)), 0.0, MAX_BEDS, d);
        let attrition = t.dist("attrition", Some(Dist::fixed(0.0)), 0.0, 1.0, d);
        t.finish(d);
        if let (Some(covered), Some(stock), Some(trained_per_year), Some(attrition)) = (covered, stock, trained, attrition) {
            let idx = entries.len();
            entries.push(CaregiverEntry {
                key: members.key("caregivers", own_id.as_deref(), &covered, seen),
                stock,
                trained_per_year,
                attrition,
            });
            links.extend(covered.into_iter().map(|(r, w)| (r, idx, w)));
        }
    }
    (entries, links)
}

/// `[[seasonal]]` (migratory) elderly, each for a region or split over several, with
/// (region, entry, weight).
pub(super) fn seasonal_entries(
    nodes: Vec<&Node>,
    members: &Members<'_>,
    seen: &mut HashMap<String, usize>,
    d: &mut Diags,
) -> (Vec<SeasonalEntry>, Vec<(usize, usize, f64)>) {
    let mut entries = Vec::new();
    let mut links = Vec::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let Some(mut t) = TableReader::new(node, format!("seasonal[{i}]"), d) else {
            continue;
        };
        let covered = members.of(&mut t, d);
        let own_id = t.str_opt("id", d).map(|(s, _)| s.to_string());
        let elderly = t.dist("elderly", None, 0.0, 1e9, d);
        let growth = t.dist("growth", Some(Dist::fixed(0.0)), -0.5, 1.0, d);
        let uptake = t.dist("institutional_uptake", None, 0.0, 1.0, d);
        t.finish(d);
        if let (Some(covered), Some(elderly), Some(growth), Some(institutional_uptake)) = (covered, elderly, growth, uptake) {
            let idx = entries.len();
            entries.push(SeasonalEntry {
                key: members.key("seasonal", own_id.as_deref(), &covered, seen),
                elderly,
                growth,
                institutional_uptake,
            });
            links.extend(covered.into_iter().map(|(r, w)| (r, idx, w)));
        }
    }
    (entries, links)
}

/// A stream key for a stock, caregiver or seasonal entry: from its `id` when it has one, else
/// from the regions it covers and how many entries of the kind covered them before, so that
/// adding or removing an entry elsewhere leaves the others' draws as they were.
fn entry_key(kind: &str, id: Option<&str>, members: &[(usize, f64)], regions: &[RegionDraft], seen: &mut HashMap<String, usize>) -> u64 {
    let base = match id {
        Some(id) => format!("{kind}:id:{id}"),
        None => {
            let ids: Vec<&str> = members.iter().map(|(r, _)| regions[*r].region.id.as_str()).collect();
            format!("{kind}:{}", ids.join(","))
        }
    };
    let n = seen.entry(base.clone()).or_insert(0);
    *n += 1;
    entity_key(&format!("{base}#{n}"))
}

/// How a plan item's projects fall to its regions: one project is spread over the regions by
/// their shares; several are whole, each region's slice of `[0, projects)` proportional to its
/// share (regions in order; see [`PlanLink::projects`]). Returns (region, share of each
/// project, slice).
fn project_links(members: &[(usize, f64)], projects: usize) -> Vec<(usize, f64, Option<[f64; 2]>)> {
    if projects <= 1 {
        return members.iter().map(|&(r, w)| (r, w, None)).collect();
    }
    let n = projects as f64;
    // Slice ends snapped to whole numbers where the shares make them so (equal splits), so that
    // rounding never moves a project between regions that should have exact counts.
    let snap = |x: f64| if (x - x.round()).abs() < 1e-9 * n { x.round() } else { x };
    let mut lo = 0.0;
    let mut out = Vec::with_capacity(members.len());
    for (i, &(r, w)) in members.iter().enumerate() {
        let hi = if i + 1 == members.len() { n } else { snap(lo + w * n).min(n) };
        if hi > lo {
            out.push((r, 1.0, Some([lo, hi])));
        }
        lo = hi;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_default_is_a_valid_distribution() {
        for &(name, kind) in &ItemKind::NAMES {
            let d = builtin_defaults(kind);
            assert_eq!(kind.name(), name);
            assert!((0.0..=1.0).contains(&d.cancel_probability), "{name}");
            assert!(
                d.delivered_share.support().0 >= 0.0 && d.delivered_share.support().1 <= 1.0,
                "{name}"
            );
        }
    }

    #[test]
    fn a_programme_is_cut_into_whole_slices_that_cover_it() {
        let links = project_links(&[(0, 0.5), (1, 0.25), (2, 0.25)], 8);
        assert_eq!(
            links.iter().map(|l| l.2.unwrap()).collect::<Vec<_>>(),
            vec![[0.0, 4.0], [4.0, 6.0], [6.0, 8.0]]
        );
        assert_eq!(project_links(&[(3, 1.0)], 1), vec![(3, 1.0, None)]);
    }
}
