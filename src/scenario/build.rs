//! From a scenario tree (and its data files) to a checked [`Scenario`].
//!
//! Every section is read even when an earlier one failed, so `bedsim check` reports all
//! problems at once. Paths of data files are relative to the scenario file's folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::PlanLink;
use super::data::{self, GroupedPopulation, MxPeriod};
use super::reader::{Diags, TableReader, check_range, read_dist, suggest};
use super::subnational::{self, Date};
use super::tree::{self, Diagnostic, Node, Origin, Override, Value};
use super::*;
use crate::demography::mortality::{GroupRates, calibrate_to_e0_widths, fit_lee_carter, groups_to_single_ages, life_expectancy};
use crate::demography::split::{census_day_shape, split_groups};
use crate::demography::{N_AGES, aged_at_least};
use crate::dist::{Dist, DistSpec};
use crate::montecarlo::streams::entity_key;

/// Why a scenario could not be loaded: every problem found, each with its place.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} problem(s) in the scenario", .0.len())]
pub struct LoadError(pub Vec<Diagnostic>);

/// Largest number of draws accepted (memory grows with draws for exact quantiles).
pub const MAX_DRAWS: i64 = 10_000_000;

/// Reads, overrides and checks a scenario file.
///
/// `overrides` are applied in order, each naming its origin (`--set`, `--seed`, a sweep point)
/// in messages.
///
/// # Errors
/// Every problem of the file, its overrides and its data files.
pub fn load(path: &Path, overrides: &[Override]) -> Result<Scenario, LoadError> {
    read(path, overrides)?.build()
}

/// A scenario file read into its tree (with overrides applied), not yet checked. Sweeps change
/// values of the tree and build a scenario for each point.
#[derive(Debug, Clone)]
pub struct Source {
    pub root: Node,
    /// Folder that data paths are relative to.
    pub dir: std::path::PathBuf,
    /// The scenario file and its hash.
    pub file: InputFile,
}

impl Source {
    /// Checks the tree and loads its data files.
    ///
    /// # Errors
    /// Every problem of the tree and its data files.
    pub fn build(&self) -> Result<Scenario, LoadError> {
        let mut scenario = build(&self.root, &self.dir)?;
        scenario.inputs.insert(0, self.file.clone());
        Ok(scenario)
    }
}

/// Reads a scenario file into a [`Source`] and applies `PATH=VALUE` overrides.
///
/// # Errors
/// An unreadable or non-UTF-8 file, TOML syntax errors, bad overrides.
pub fn read(path: &Path, overrides: &[Override]) -> Result<Source, LoadError> {
    let at_file = |msg: String| {
        LoadError(vec![Diagnostic {
            origin: Origin::File {
                path: Arc::from(path.display().to_string().as_str()),
                line: 1,
                col: 1,
            },
            message: msg,
        }])
    };
    if path.is_dir() {
        return Err(at_file("is a directory, not a scenario file".into()));
    }
    // At most the limit (plus one byte to tell a larger file): `/dev/zero` must not fill memory.
    let bytes = match data::read_at_most(path, data::MAX_DATA_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Err(at_file("scenario file is too large".into())),
        Err(e) => return Err(at_file(format!("cannot read scenario file: {e}"))),
    };
    read_bytes(path, &bytes, overrides)
}

/// Reads a scenario from the bytes of its file at `path` (which names it in messages and whose
/// folder data paths are relative to) and applies `PATH=VALUE` overrides. [`read`] reads the file
/// and calls this.
///
/// # Errors
/// A non-UTF-8 or empty text, TOML syntax errors, bad overrides.
pub fn read_bytes(path: &Path, bytes: &[u8], overrides: &[Override]) -> Result<Source, LoadError> {
    let shown = path.display().to_string();
    let at_file = |msg: String| {
        LoadError(vec![Diagnostic {
            origin: Origin::File {
                path: Arc::from(shown.as_str()),
                line: 1,
                col: 1,
            },
            message: msg,
        }])
    };
    if bytes.len() as u64 > data::MAX_DATA_FILE_BYTES {
        return Err(at_file("scenario file is too large".into()));
    }
    let bytes_no_bom = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes_no_bom) {
        Ok(t) => t,
        Err(e) => {
            let good = &bytes_no_bom[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let col = String::from_utf8_lossy(good.rsplit(|b| *b == b'\n').next().unwrap_or(&[]))
                .chars()
                .count()
                + 1;
            return Err(LoadError(vec![Diagnostic {
                origin: Origin::File {
                    path: Arc::from(shown.as_str()),
                    line,
                    col,
                },
                message: "the file is not valid UTF-8 (save it as UTF-8)".into(),
            }]));
        }
    };
    if text.trim().is_empty() {
        return Err(at_file("the scenario file is empty".into()));
    }
    let mut root = tree::parse(&shown, text).map_err(LoadError)?;
    let mut diags = Diags::default();
    for ov in overrides {
        if let Err(e) = ov.apply(&mut root) {
            diags.list.push(e);
        }
    }
    if !diags.is_empty() {
        return Err(LoadError(diags.list));
    }
    Ok(Source {
        root,
        dir: path.parent().map(Path::to_path_buf).unwrap_or_default(),
        file: InputFile {
            path: shown,
            sha256: data::sha256_hex(bytes),
        },
    })
}

/// Checks a scenario tree; data paths are relative to `dir`.
///
/// # Errors
/// Every problem found, sorted by place.
pub fn build(root: &Node, dir: &Path) -> Result<Scenario, LoadError> {
    let mut d = Diags::default();
    let mut b = Builder {
        dir,
        inputs: Vec::new(),
        shape: None,
    };
    let out = b.scenario(root, &mut d);
    if d.is_empty()
        && let Some(mut s) = out
    {
        s.inputs = b.inputs;
        return Ok(s);
    }
    let mut list = d.list;
    if list.is_empty() {
        list.push(Diagnostic {
            origin: root.origin.clone(),
            message: "the scenario is incomplete".into(),
        });
    }
    list.sort_by_key(|a| origin_key(&a.origin));
    list.dedup();
    Err(LoadError(list))
}

fn origin_key(o: &Origin) -> (u8, String, usize, usize) {
    match o {
        Origin::Override(t) => (0, t.to_string(), 0, 0),
        Origin::File { path, line, col } => (1, path.to_string(), *line, *col),
    }
}

struct Builder<'a> {
    dir: &'a Path,
    inputs: Vec<InputFile>,
    /// The national single-year profile of `[population] shape_file` (census-day shape), for
    /// the care section's sex weights.
    shape: Option<crate::demography::Population>,
}

/// Item-kind defaults for delivery uncertainty.
#[derive(Clone)]
struct ItemDefaults {
    delay: Dist,
    cancel_probability: f64,
    delivered_share: Dist,
    nursing_share: Dist,
    cost_per_bed: Dist,
    phasing: Vec<f64>,
    /// Share of a programme's projects that follow its common fate.
    shared: Dist,
}

fn discrete(values: &[f64], probs: &[f64]) -> Dist {
    Dist::new(DistSpec::Discrete {
        values: values.to_vec(),
        probs: probs.to_vec(),
    })
    .unwrap_or(Dist::Fixed(0.0))
}

fn beta(alpha: f64, beta: f64) -> Dist {
    Dist::new(DistSpec::Beta { alpha, beta }).unwrap_or(Dist::Fixed(alpha / (alpha + beta)))
}

/// Built-in delivery defaults by kind; scenarios/README.md gives their reasoning.
fn builtin_defaults(kind: ItemKind) -> ItemDefaults {
    let cost = Dist::new(DistSpec::LogNormal {
        meanlog: 150_000f64.ln(),
        sdlog: 0.35,
    })
    .unwrap_or(Dist::Fixed(150_000.0));
    let (delay, cancel, delivered, nursing) = match kind {
        ItemKind::New => (
            discrete(&[0.0, 1.0, 2.0, 3.0], &[0.45, 0.30, 0.15, 0.10]),
            0.05,
            beta(18.0, 2.0),
            Dist::Fixed(0.6),
        ),
        ItemKind::Expansion => (
            discrete(&[0.0, 1.0, 2.0], &[0.6, 0.3, 0.1]),
            0.03,
            beta(18.0, 2.0),
            Dist::Fixed(0.6),
        ),
        ItemKind::Conversion => (discrete(&[0.0, 1.0, 2.0], &[0.6, 0.3, 0.1]), 0.05, beta(9.0, 1.0), Dist::Fixed(1.0)),
        ItemKind::Closure => (Dist::Fixed(0.0), 0.0, Dist::Fixed(1.0), Dist::Fixed(0.0)),
        ItemKind::Community => (discrete(&[0.0, 1.0, 2.0], &[0.5, 0.3, 0.2]), 0.10, beta(8.0, 2.0), Dist::Fixed(0.0)),
    };
    // Projects of one programme share their funding (provincial and central budget lines, the
    // welfare lottery fund), approval and policy, and differ in site, land and contractor:
    // ASSUMPTION, scenarios/README.md.
    let shared = Dist::new(DistSpec::Uniform { low: 0.25, high: 0.75 }).unwrap_or(Dist::Fixed(0.5));
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

const MAX_BEDS: f64 = 1e9;
/// Sanity bound of net migration rates, per 1,000 per year.
const MAX_MIGRATION: f64 = 500.0;

impl Builder<'_> {
    fn data_file(&mut self, t: &mut TableReader<'_>, key: &'static str, d: &mut Diags) -> Option<data::Csv> {
        let (name, origin) = t.str_req(key, d)?;
        let path: PathBuf = self.dir.join(name);
        let shown = path.display().to_string();
        let csv = data::read_csv(&path, &shown, origin, d)?;
        if !self.inputs.iter().any(|i| i.path == shown) {
            self.inputs.push(InputFile {
                path: shown,
                sha256: csv.sha256.clone(),
            });
        }
        Some(csv)
    }

    fn scenario(&mut self, root: &Node, d: &mut Diags) -> Option<Scenario> {
        let mut top = TableReader::new(root, "", d)?;
        let name = top.str_req("name", d).and_then(|(n, o)| {
            if !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                Some(n.to_string())
            } else {
                d.error(
                    o,
                    format!("name = '{n}' must be non-empty ASCII letters, digits, '-' or '_' (it names the results folder)"),
                );
                None
            }
        });
        let description = top.str_opt("description", d).map(|(s, _)| s.to_string()).unwrap_or_default();
        let base_year = top.int_in("base_year", None, 1900, 2200, d).map(|v| v as i32);
        let horizon = top.int_in("horizon", None, 1900, 2400, d).map(|v| v as i32);
        let draws = top.int_in("draws", Some(1000), 1, MAX_DRAWS, d).map(|v| v as usize);
        let seed = top.u64_in("seed", Some(1), d);
        let elderly_age = top.int_in("elderly_age", Some(60), 1, 100, d).map(|v| v as usize);
        if let (Some(b), Some(h)) = (base_year, horizon)
            && (h <= b || h - b > 200)
            && let Some(n) = top.get("horizon")
        {
            d.error(
                &n.origin,
                format!("horizon = {h} must be after base_year = {b} and at most 200 years later"),
            );
        }
        let years_ok = matches!((base_year, horizon), (Some(b), Some(h)) if h > b && h - b <= 200);

        // Groups and regions.
        let group_nodes = top.tables("group", d);
        let region_nodes = top.tables("region", d);
        let (groups, group_parent_refs) = self.groups(&group_nodes, d);
        let mut regions = self.regions(&region_nodes, &groups, d);
        let groups = resolve_groups(groups, group_parent_refs, &regions, d);
        if region_nodes.is_empty() {
            d.error(
                &root.origin,
                "the scenario has no regions: add at least one [[region]] with id and name",
            );
        }

        // Population.
        let population = top.get("population");
        let mut registered_default = Dist::Fixed(1.0);
        let mut count_date: Option<Date> = None;
        let pops = population.and_then(|n| self.population(n, &regions, base_year, &mut registered_default, &mut count_date, d));
        if population.is_none() {
            d.error(
                &root.origin,
                "the [population] section is missing: it names the base population file",
            );
        }
        for r in &mut regions {
            if let Some(own) = r.registered_ratio.take() {
                r.region.registered_ratio = own;
            } else {
                r.region.registered_ratio = registered_default.clone();
            }
        }
        if let Some(pops) = &pops {
            for r in &mut regions {
                if let Some(p) = pops.get(&r.region.id) {
                    r.region.base = *p;
                }
            }
        }
        let pop_ok = pops.is_some();

        let mortality = match top.get("mortality") {
            Some(n) => self.mortality(n, base_year, &mut regions, d),
            None => {
                d.error(&root.origin, "the [mortality] section is missing");
                None
            }
        };
        let fertility = self.fertility(top.get("fertility"), &root.origin, d);
        let migration = self.migration(top.get("migration"), &root.origin, &mut regions, d);
        let shape = self.shape;
        let care = self.care(top.get("care"), &root.origin, base_year, shape.as_ref(), d);
        let backtest = match top.get("backtest") {
            Some(n) => {
                let years = base_year.zip(horizon);
                let bt = self.backtest(n, &regions, &groups, years, mortality.as_ref(), fertility.as_ref(), elderly_age, d);
                if bt.is_none() && d.is_empty() {
                    d.error(&n.origin, "the [backtest] section could not be read");
                }
                bt
            }
            None => None,
        };
        // The base populations were counted on `count_date`: move them to the end of the year.
        let mut base_shift = 0.0;
        if let (Some(date), Some(m), Some(f), Some(mg), Some(b)) = (count_date, &mortality, &fertility, &migration, base_year) {
            base_shift = date.part_of_year_left();
            if base_shift < 1.0 {
                shift_to_year_end(&mut regions, &groups, base_shift, b, m, f, mg);
            }
        }
        if let Some(m) = &migration {
            let wmax = m.weight.iter().cloned().fold(0.0, f64::max);
            for r in &regions {
                if let Some(rate) = &r.region.migration_rate
                    && rate.support().0 * wmax / 1000.0 <= -1.0
                {
                    d.error(&r.origin, format!("region '{}': its migration_rate (down to {}) times the largest age weight ({wmax}) would remove everyone of some age in a year", r.region.id, rate.support().0));
                }
            }
        }

        let weights = |rule: &str, members: &[usize]| -> Vec<f64> {
            let raw: Vec<f64> = members
                .iter()
                .map(|&m| match rule {
                    "population" => aged_at_least(&regions[m].region.base, 0),
                    "equal" => 1.0,
                    _ => aged_at_least(&regions[m].region.base, elderly_age.unwrap_or(60)),
                })
                .collect();
            let total: f64 = raw.iter().sum();
            if total > 0.0 {
                raw.iter().map(|w| w / total).collect()
            } else {
                vec![1.0 / members.len().max(1) as f64; members.len()]
            }
        };
        let targets_of = |t: &mut TableReader<'_>, d: &mut Diags| -> Option<Vec<(usize, f64)>> {
            let region = t.str_opt("region", d);
            let group = t.str_opt("group", d);
            let list = t.get("regions");
            let rule = t.choice("split", Some("elderly"), &["elderly", "population", "equal"], d);
            let given = usize::from(region.is_some()) + usize::from(group.is_some()) + usize::from(list.is_some());
            if given != 1 {
                let what = if given == 0 { "needs" } else { "must have only one of" };
                d.error(t.origin, format!("[{}] {what} region, group or regions", t.path));
                return None;
            }
            let members: Vec<usize> = if let Some((r, o)) = region {
                return find_region(&regions, r, o, d).map(|i| vec![(i, 1.0)]);
            } else if let Some((g, o)) = group {
                groups[find_group(&groups, g, o, d)?].group.members.clone()
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
                            let i = find_region(&regions, id, &item.origin, d)?;
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
            let w = weights(rule?, &members);
            Some(members.into_iter().zip(w).collect())
        };

        // Capacity: stock and item defaults. Links from regions to stock entries and plan items
        // are applied once the closures above no longer borrow the regions.
        let mut stock_links: Vec<(usize, usize, f64)> = Vec::new();
        let mut plan_links: Vec<(usize, PlanLink)> = Vec::new();
        let mut stock = Vec::new();
        // Stream keys of stock, caregiver and seasonal entries already given (see entry_key).
        let mut entry_seen: HashMap<String, usize> = HashMap::new();
        let mut stock_year = None;
        // The part of the stock year after the stock: none for the end of the year (the default).
        let mut stock_after = 0.0;
        let mut defaults: Vec<ItemDefaults> = (0..5).map(|k| builtin_defaults(kind_from_index(k))).collect();
        match top.get("capacity") {
            None => d.error(&root.origin, "the [capacity] section is missing: it gives the base bed stock"),
            Some(n) => {
                if let Some(mut c) = TableReader::new(n, "capacity", d) {
                    stock_year = c.int_in("stock_year", base_year.map(i64::from), 1900, 2400, d).map(|v| v as i32);
                    if let Some((text, o)) = c.str_opt("stock_date", d) {
                        match Date::parse(text) {
                            Some(dt) if c.get("stock_year").is_none() || stock_year == Some(dt.year) => {
                                stock_year = Some(dt.year);
                                // the stock counts what stood at the end of that day
                                stock_after = dt.part_of_year_left()
                                    - 1.0
                                        / if (dt.year % 4 == 0 && dt.year % 100 != 0) || dt.year % 400 == 0 {
                                            366.0
                                        } else {
                                            365.0
                                        };
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
                    for (i, node) in c.tables("stock", d).into_iter().enumerate() {
                        let path = format!("capacity.stock[{i}]");
                        let Some(mut t) = TableReader::new(node, path.clone(), d) else {
                            continue;
                        };
                        let members = targets_of(&mut t, d);
                        let inst = t.dist("institutional", None, 0.0, MAX_BEDS, d);
                        let nursing = match (t.has("nursing"), t.has("nursing_share")) {
                            (true, false) => t.dist("nursing", None, 0.0, MAX_BEDS, d).map(NursingStock::Beds),
                            (false, true) => t.dist("nursing_share", None, 0.0, 1.0, d).map(NursingStock::Share),
                            (true, true) => {
                                d.error(t.origin, format!("[{path}] gives both nursing and nursing_share: give one"));
                                None
                            }
                            (false, false) => Some(NursingStock::Beds(Dist::Fixed(0.0))),
                        };
                        let community = t.dist("community", Some(Dist::Fixed(0.0)), 0.0, MAX_BEDS, d);
                        if let (Some(inst), Some(NursingStock::Beds(n))) = (&inst, &nursing)
                            && n.support().1 > inst.support().0
                        {
                            let o = t.get("nursing").map(|n| &n.origin).unwrap_or(t.origin);
                            d.error(o, format!("{path}: nursing beds (up to {}) can exceed institutional beds (from {}): nursing-type beds are part of institutional beds", n.support().1, inst.support().0));
                        }
                        let own_id = t.str_opt("id", d).map(|(s, _)| s.to_string());
                        t.finish(d);
                        if let (Some(members), Some(institutional), Some(nursing), Some(community)) = (members, inst, nursing, community) {
                            let idx = stock.len();
                            let key = entry_key("stock", own_id.as_deref(), &members, &regions, &mut entry_seen);
                            stock.push(StockEntry {
                                key,
                                institutional,
                                nursing,
                                community,
                            });
                            stock_links.extend(members.into_iter().map(|(r, w)| (r, idx, w)));
                        }
                    }
                    if let Some(dn) = c.get("defaults")
                        && let Some(mut dt) = TableReader::new(dn, "capacity.defaults", d)
                    {
                        for (k, kind) in ItemKind::ALL.iter().enumerate() {
                            if let Some(n) = dt.get(kind)
                                && let Some(mut kt) = TableReader::new(n, format!("capacity.defaults.{kind}"), d)
                            {
                                defaults[k] = item_delivery(&mut kt, &defaults[k], d);
                                kt.finish(d);
                            }
                        }
                        dt.finish(d);
                    }
                    c.finish(d);
                }
            }
        }

        // Plan items.
        let mut plan = Vec::new();
        let mut seen_items: HashMap<String, ()> = HashMap::new();
        for (i, node) in top.tables("plan", d).into_iter().enumerate() {
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
            let kind = t.choice("kind", None, &ItemKind::ALL, d).and_then(ItemKind::from_name);
            let members = targets_of(&mut t, d);
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
                t.has("cost_per_bed_yuan");
            } else {
                // Mark as known so it is reported as misplaced rather than unknown.
                if let Some(n) = t.get("cost_per_bed_yuan") {
                    d.error(&n.origin, format!("{path}.cost_per_bed_yuan applies only with budget_yuan"));
                }
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
            if let (Some(id), Some(kind), Some(members), Some(year), Some(size), Some(del), Some(projects)) =
                (id, kind, members, year, size, delivery, projects)
            {
                let idx = plan.len();
                plan_links.extend(
                    project_links(&members, projects)
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

        // Caregivers and seasonal (migratory) elderly, each for a region or split over several.
        let mut caregivers = Vec::new();
        let mut caregiver_links: Vec<(usize, usize, f64)> = Vec::new();
        for (i, node) in top.tables("caregivers", d).into_iter().enumerate() {
            let Some(mut t) = TableReader::new(node, format!("caregivers[{i}]"), d) else {
                continue;
            };
            let members = targets_of(&mut t, d);
            let own_id = t.str_opt("id", d).map(|(s, _)| s.to_string());
            let stock = t.dist("stock", None, 0.0, MAX_BEDS, d);
            let trained = t.dist("trained_per_year", Some(Dist::Fixed(0.0)), 0.0, MAX_BEDS, d);
            let attrition = t.dist("attrition", Some(Dist::Fixed(0.0)), 0.0, 1.0, d);
            t.finish(d);
            if let (Some(members), Some(stock), Some(trained_per_year), Some(attrition)) = (members, stock, trained, attrition) {
                let idx = caregivers.len();
                caregivers.push(CaregiverEntry {
                    key: entry_key("caregivers", own_id.as_deref(), &members, &regions, &mut entry_seen),
                    stock,
                    trained_per_year,
                    attrition,
                });
                caregiver_links.extend(members.into_iter().map(|(r, w)| (r, idx, w)));
            }
        }
        let mut seasonal = Vec::new();
        let mut seasonal_links: Vec<(usize, usize, f64)> = Vec::new();
        for (i, node) in top.tables("seasonal", d).into_iter().enumerate() {
            let Some(mut t) = TableReader::new(node, format!("seasonal[{i}]"), d) else {
                continue;
            };
            let members = targets_of(&mut t, d);
            let own_id = t.str_opt("id", d).map(|(s, _)| s.to_string());
            let elderly = t.dist("elderly", None, 0.0, 1e9, d);
            let growth = t.dist("growth", Some(Dist::Fixed(0.0)), -0.5, 1.0, d);
            let uptake = t.dist("institutional_uptake", None, 0.0, 1.0, d);
            t.finish(d);
            if let (Some(members), Some(elderly), Some(growth), Some(institutional_uptake)) = (members, elderly, growth, uptake) {
                let idx = seasonal.len();
                seasonal.push(SeasonalEntry {
                    key: entry_key("seasonal", own_id.as_deref(), &members, &regions, &mut entry_seen),
                    elderly,
                    growth,
                    institutional_uptake,
                });
                seasonal_links.extend(members.into_iter().map(|(r, w)| (r, idx, w)));
            }
        }
        for (r, idx, w) in caregiver_links {
            regions[r].region.caregiver_entries.push((idx, w));
        }
        for (r, idx, w) in seasonal_links {
            regions[r].region.seasonal_entries.push((idx, w));
        }
        for (r, idx, w) in stock_links {
            regions[r].region.stock_entries.push((idx, w));
        }
        for (r, link) in plan_links {
            regions[r].region.plan_items.push(link);
        }

        // Targets.
        let mut targets = Vec::new();
        for (i, node) in top.tables("target", d).into_iter().enumerate() {
            let path = format!("target[{i}]");
            let Some(mut t) = TableReader::new(node, path.clone(), d) else {
                continue;
            };
            let id = t.str_req("id", d).map(|(s, _)| s.to_string());
            if let Some(id) = &id
                && targets.iter().any(|x: &Target| &x.id == id)
            {
                d.error(t.origin, format!("duplicate target id '{id}'"));
            }
            let metric = t.choice("metric", None, &TargetMetric::ALL, d).map(|m| match m {
                "beds_per_1000_elderly" => TargetMetric::BedsPer1000,
                "nursing_share" => TargetMetric::NursingShare,
                "caregivers_per_10000_elderly" => TargetMetric::CaregiversPer10000,
                _ => TargetMetric::DemandSupplyRatio,
            });
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
            let op = t.choice("op", Some(">="), &[">=", ">", "<=", "<"], d).map(|o| match o {
                ">=" => Op::Ge,
                ">" => Op::Gt,
                "<=" => Op::Le,
                _ => Op::Lt,
            });
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
            let units = self.target_units(&mut t, &regions, &groups, d);
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
        let observations = self.observations(top.tables("observation", d), &regions, &groups, base_year.zip(horizon), d);
        top.finish(d);

        if !d.is_empty() || !years_ok || !pop_ok {
            return None;
        }
        Some(Scenario {
            name: name?,
            description,
            base_year: base_year?,
            base_shift,
            horizon: horizon?,
            draws: draws?,
            seed: seed?,
            elderly_age: elderly_age?,
            regions: regions.into_iter().map(|r| r.region).collect(),
            groups: groups.into_iter().map(|g| g.group).collect(),
            mortality: mortality?,
            fertility: fertility?,
            migration: migration?,
            care: care?,
            capacity: Capacity {
                stock_year: stock_year?,
                stock_year_after: stock_after.max(0.0),
                stock,
                caregivers,
                seasonal,
                default_delays: defaults.iter().map(|d| d.delay.clone()).collect(),
            },
            plan,
            targets,
            backtest,
            observations,
            conditioned: None,
            inputs: Vec::new(),
        })
    }

    fn groups<'n>(&mut self, nodes: &[&'n Node], d: &mut Diags) -> (Vec<GroupDraft>, ParentRefs<'n>) {
        let mut out: Vec<GroupDraft> = Vec::new();
        let mut parents = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            let Some(mut t) = TableReader::new(node, format!("group[{i}]"), d) else {
                continue;
            };
            let id = t.str_req("id", d);
            let name = t.str_opt("name", d);
            let parent = t.str_opt("parent", d);
            let mig = migration_rate_field(&mut t, d);
            t.finish(d);
            let Some((id, o)) = id else { continue };
            if out.iter().any(|g| g.group.id == id) {
                d.error(o, format!("duplicate group id '{id}'"));
                continue;
            }
            out.push(GroupDraft {
                origin: o.clone(),
                group: Group {
                    id: id.to_string(),
                    name: name.map(|n| n.0.to_string()).unwrap_or_else(|| id.to_string()),
                    key: entity_key(id),
                    parent: None,
                    migration_rate: mig,
                    members: Vec::new(),
                },
            });
            parents.push(parent);
        }
        (out, parents)
    }

    fn regions(&mut self, nodes: &[&Node], groups: &[GroupDraft], d: &mut Diags) -> Vec<RegionDraft> {
        let mut out: Vec<RegionDraft> = Vec::new();
        // Ids seen so far and the groups by id: a national scenario has thousands of regions.
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        let group_index: HashMap<&str, usize> = groups.iter().enumerate().map(|(i, g)| (g.group.id.as_str(), i)).collect();
        for (i, node) in nodes.iter().enumerate() {
            let path = format!("region[{i}]");
            let Some(mut t) = TableReader::new(node, path, d) else { continue };
            let id = t.str_req("id", d);
            let name = t.str_opt("name", d);
            let group = t.str_opt("group", d).and_then(|(g, o)| match group_index.get(g).copied() {
                Some(i) => Some(i),
                None => {
                    let hint = suggest(g, groups.iter().map(|x| x.group.id.as_str()))
                        .map(|h| format!(" (did you mean '{h}'?)"))
                        .unwrap_or_default();
                    d.error(o, format!("region refers to unknown group '{g}'{hint}"));
                    None
                }
            });
            let mult = if t.has("mortality_multiplier") {
                t.dist_soft(
                    "mortality_multiplier",
                    None,
                    0.0,
                    f64::INFINITY,
                    1.0 / super::subnational::MAX_LEVEL,
                    super::subnational::MAX_LEVEL,
                    d,
                )
            } else {
                None
            };
            let mig = migration_rate_field(&mut t, d);
            let tfr = t.get("tfr").and_then(|n| read_dist(n, "tfr", 0.0, 10.0, d));
            let registered_ratio = if t.has("registered_ratio") {
                t.dist_soft("registered_ratio", None, 0.0, f64::INFINITY, 0.2, 5.0, d)
            } else {
                None
            };
            t.finish(d);
            let Some((id, o)) = id else { continue };
            if id.is_empty() {
                d.error(o, "region id must not be empty");
                continue;
            }
            if !seen.insert(id.to_string()) {
                d.error(o, format!("duplicate region id '{id}'"));
                continue;
            }
            if group_index.contains_key(id) {
                d.error(o, format!("region id '{id}' is also a group id: ids must be unique"));
                continue;
            }
            out.push(RegionDraft {
                origin: o.clone(),
                multiplier: mult,
                registered_ratio,
                region: Region {
                    key: entity_key(id),
                    id: id.to_string(),
                    name: name.map(|n| n.0.to_string()).unwrap_or_else(|| id.to_string()),
                    group,
                    base: [[0.0; N_AGES]; 2],
                    mortality_level: Dist::Fixed(1.0),
                    migration_schedule: None,
                    migration_inflow: None,
                    migration_rate: mig,
                    tfr,
                    plan_items: Vec::new(),
                    stock_entries: Vec::new(),
                    caregiver_entries: Vec::new(),
                    seasonal_entries: Vec::new(),
                    registered_ratio: Dist::Fixed(1.0),
                },
            });
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn population(
        &mut self,
        node: &Node,
        regions: &[RegionDraft],
        base_year: Option<i32>,
        registered_ratio: &mut Dist,
        date: &mut Option<Date>,
        d: &mut Diags,
    ) -> Option<HashMap<String, crate::demography::Population>> {
        let mut t = TableReader::new(node, "population", d)?;
        let csv = self.data_file(&mut t, "file", d);
        let shape_csv = self.data_file(&mut t, "shape_file", d);
        if let Some(r) = t.dist_soft("registered_ratio", Some(Dist::Fixed(1.0)), 0.0, f64::INFINITY, 0.2, 5.0, d) {
            *registered_ratio = r;
        }
        // The count date; census day (1 November) of the base year unless the file says otherwise.
        match (t.str_opt("date", d), base_year) {
            (Some((text, o)), b) => match Date::parse(text) {
                Some(dt) if b.is_none_or(|b| b == dt.year) => *date = Some(dt),
                Some(dt) => d.error(
                    o,
                    format!(
                        "population.date = {text} is not in base_year {} (the base population is counted during the base year)",
                        b.unwrap_or(dt.year)
                    ),
                ),
                None => d.error(o, format!("population.date = '{text}' is not a date YYYY-MM-DD")),
            },
            (None, Some(b)) => *date = Date::parse(&format!("{b:04}-11-01")),
            (None, None) => {}
        }
        t.finish(d);
        let shape = data::load_single_age_profile(&shape_csv?, d).map(|p| census_day_shape(&p));
        self.shape = shape;
        let csv = csv?;
        let wanted: Vec<(&str, &Origin)> = regions.iter().map(|r| (r.region.id.as_str(), &r.origin)).collect();
        let grouped: HashMap<String, GroupedPopulation> = data::load_population(&csv, &wanted, d);
        let shape = shape?;
        let mut out = HashMap::new();
        for (id, g) in grouped {
            out.insert(id, [split_groups(&g[0], &shape[0]), split_groups(&g[1], &shape[1])]);
        }
        Some(out)
    }

    /// A data file named by `key` when the table has it.
    fn data_file_opt(&mut self, t: &mut TableReader<'_>, key: &'static str, d: &mut Diags) -> Option<Option<data::Csv>> {
        if t.has(key) {
            self.data_file(t, key, d).map(Some)
        } else {
            Some(None)
        }
    }

    fn mortality(&mut self, node: &Node, base_year: Option<i32>, regions: &mut [RegionDraft], d: &mut Diags) -> Option<Mortality> {
        let mut t = TableReader::new(node, "mortality", d)?;
        let csv = self.data_file(&mut t, "file", d);
        let base_period = t.int_in("base_period", None, 1900, 2400, d).map(|v| v as i32);
        let fit_from = t.int_in("fit_from", Some(1950), 1900, 2400, d).map(|v| v as i32);
        let fit_to = t.int_in("fit_to", None, 1900, 2400, d).map(|v| v as i32);
        let drift_node = t.get("drift");
        let shocks = t.choice("shocks", Some("national"), &["national", "regional"], d);
        let origin = t.origin;
        let drift_given = match drift_node {
            None => None,
            Some(Node { value: Value::Str(s), .. }) if s == "fitted" => None,
            Some(n) => Some(read_dist(n, "mortality.drift", -10.0, 10.0, d)),
        };
        // sigma and drift_se: "fitted" (from the Lee-Carter residuals), "calibrated" (to the e0
        // intervals of `calibrate_to`) or a number.
        let spread = |key: &'static str, t: &mut TableReader<'_>, d: &mut Diags| -> Option<Spread> {
            match t.get(key) {
                None => Some(Spread::Fitted),
                Some(Node { value: Value::Str(s), .. }) if s == "fitted" => Some(Spread::Fitted),
                Some(Node { value: Value::Str(s), .. }) if s == "calibrated" => Some(Spread::Calibrated),
                Some(Node {
                    value: Value::Array(items),
                    origin,
                }) => {
                    let path = format!("mortality.{key}");
                    let v: Vec<f64> = items
                        .iter()
                        .filter_map(|n| super::reader::number(n, &path, d).and_then(|v| check_range(v, 0.0, 10.0, &path, &n.origin, d)))
                        .collect();
                    if items.len() != 2 {
                        d.error(origin, format!("{path} as a list needs two numbers, [male, female]"));
                        return None;
                    }
                    (v.len() == 2).then(|| Spread::Given([v[0], v[1]]))
                }
                Some(n) => super::reader::number(n, &format!("mortality.{key}"), d)
                    .and_then(|v| check_range(v, 0.0, 10.0, &format!("mortality.{key}"), &n.origin, d))
                    .map(|v| Spread::Given([v, v])),
            }
        };
        let sigma_spec = spread("sigma", &mut t, d);
        let drift_se_spec = spread("drift_se", &mut t, d);
        let calibrate_csv = self.data_file_opt(&mut t, "calibrate_to", d);
        let levels_csv = self.data_file_opt(&mut t, "levels_file", d);
        let levels_origin = t.get("levels_file").map(|n| n.origin.clone());
        t.finish(d);
        let periods = data::load_mx_table(&csv?, d)?;
        let (base_period, fit_from, fit_to) = (base_period?, fit_from?, fit_to?);
        let (sigma_spec, drift_se_spec) = (sigma_spec?, drift_se_spec?);
        let Some(base) = periods.iter().find(|p| p.start == base_period) else {
            let have: Vec<String> = periods.iter().map(|p| p.start.to_string()).collect();
            d.error(
                origin,
                format!(
                    "mortality.base_period = {base_period} is not a period start in the file (have {})",
                    have.join(", ")
                ),
            );
            return None;
        };
        if let Some(b) = base_year
            && (base.start - b).abs() > 10
        {
            d.error(
                origin,
                format!(
                    "mortality.base_period {}-{} is more than 10 years from base_year {b}",
                    base.start, base.end
                ),
            );
        }
        let fit: Vec<&MxPeriod> = periods.iter().filter(|p| p.start >= fit_from && p.end <= fit_to).collect();
        if fit.len() < 3 {
            d.error(
                origin,
                format!(
                    "Lee-Carter needs at least 3 periods within fit_from..fit_to ({fit_from}..{fit_to}); found {}",
                    fit.len()
                ),
            );
            return None;
        }
        // WPP's periods run from 1 July of their first year to 30 June of their last: the
        // middle of 2015-2020 is 1 January 2018.
        let base_mid = 0.5 * f64::from(base.start + base.end) + 0.5;
        let starts: Vec<usize> = base.groups.iter().map(|g| g.0).collect();
        let mut base_log_m = [[0.0; N_AGES]; 2];
        let mut b = [[0.0; N_AGES]; 2];
        let mut fitted = FittedMortality {
            drift: [0.0; 2],
            drift_se: [0.0; 2],
            sigma: [0.0; 2],
            base_e0: [0.0; 2],
            periods: (fit[0].start, fit[fit.len() - 1].end),
            calibrated: None,
        };
        for sex in 0..2 {
            let pick = |g: &(usize, f64, f64)| if sex == 0 { g.1 } else { g.2 };
            let base_rates: Vec<f64> = base.groups.iter().map(pick).collect();
            let m = groups_to_single_ages(&starts, &base_rates, true);
            fitted.base_e0[sex] = life_expectancy(&m);
            for x in 0..N_AGES {
                base_log_m[sex][x] = m[x].ln();
            }
            let rates = GroupRates {
                starts: &starts,
                mids: fit.iter().map(|p| 0.5 * f64::from(p.start + p.end) + 0.5).collect(),
                rates: fit.iter().map(|p| p.groups.iter().map(pick).collect()).collect(),
            };
            let Some(f) = fit_lee_carter(&rates) else {
                d.error(
                    origin,
                    "the Lee-Carter fit failed on these periods (no variation in the death rates?)",
                );
                return None;
            };
            b[sex] = f.b;
            fitted.drift[sex] = f.drift;
            fitted.drift_se[sex] = f.drift_se;
            fitted.sigma[sex] = f.sigma;
        }
        let wants_calibration = matches!(sigma_spec, Spread::Calibrated) || matches!(drift_se_spec, Spread::Calibrated);
        match (&calibrate_csv, wants_calibration) {
            (Some(None), true) => {
                d.error(origin, "mortality: sigma or drift_se = \"calibrated\" needs calibrate_to, a file of e0 intervals (data/wpp2024_china_e0_annual.csv)");
                return None;
            }
            (Some(Some(csv)), true) => {
                let widths = subnational::load_e0_widths(csv, CALIBRATION_YEARS, d)?;
                let mut out = [(0.0, 0.0); 2];
                for sex in 0..2 {
                    let Some(c) = calibrate_to_e0_widths(&base_log_m[sex], &b[sex], fitted.drift[sex], base_mid, &widths[sex]) else {
                        d.error(origin, "mortality.calibrate_to: no year of the file lies after the base period");
                        return None;
                    };
                    out[sex] = c;
                }
                fitted.calibrated = Some(out);
            }
            _ => {}
        }
        let pick = |spec: &Spread, fitted_v: [f64; 2], which: usize| -> [f64; 2] {
            match spec {
                Spread::Fitted => fitted_v,
                Spread::Given(v) => *v,
                Spread::Calibrated => {
                    let c = fitted.calibrated.unwrap_or([(0.0, 0.0); 2]);
                    if which == 0 { [c[0].0, c[1].0] } else { [c[0].1, c[1].1] }
                }
            }
        };
        let sigma = pick(&sigma_spec, fitted.sigma, 0);
        let drift_se = pick(&drift_se_spec, fitted.drift_se, 1);
        let drift = match drift_given {
            None => Drift::Fitted {
                mean: fitted.drift,
                se: drift_se,
            },
            Some(Some(dist)) => Drift::Given(dist),
            Some(None) => return None,
        };
        // Mortality levels: the region's own, else the levels file's, else 1.
        let levels = levels_csv?.map(|csv| subnational::load_levels(&csv, d));
        let mut missing = Vec::new();
        for r in regions.iter_mut() {
            r.region.mortality_level = match (&r.multiplier, &levels) {
                (Some(own), _) => own.clone(),
                (None, Some(levels)) => match levels.get(&r.region.id) {
                    Some(level) => level.clone(),
                    None => {
                        missing.push(r.region.id.clone());
                        Dist::Fixed(1.0)
                    }
                },
                (None, None) => Dist::Fixed(1.0),
            };
        }
        if !missing.is_empty()
            && let Some(o) = &levels_origin
        {
            let shown: Vec<&str> = missing.iter().take(10).map(String::as_str).collect();
            d.error(
                o,
                format!(
                    "mortality.levels_file has no row for {} region(s): {}{} (give them a row, or mortality_multiplier in their [[region]])",
                    missing.len(),
                    shown.join(", "),
                    if missing.len() > 10 { ", ..." } else { "" }
                ),
            );
        }
        Some(Mortality {
            base_log_m,
            b,
            base_mid,
            drift,
            sigma,
            national_shocks: shocks? == "national",
            fitted,
        })
    }

    /// `[[observation]]`: published figures the run conditions on (see
    /// [`crate::montecarlo::observe`]).
    fn observations(
        &mut self,
        nodes: Vec<&Node>,
        regions: &[RegionDraft],
        groups: &[GroupDraft],
        years: Option<(i32, i32)>,
        d: &mut Diags,
    ) -> Vec<Observation> {
        let names: Vec<&str> = crate::montecarlo::Metric::ALL.iter().map(|m| m.name()).collect();
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
            let metric = t
                .choice("metric", None, &names, d)
                .and_then(|m| crate::montecarlo::Metric::ALL.iter().copied().find(|x| x.name() == m));
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

    /// `[backtest]`: a later census to set the projection against (see [`crate::backtest`]).
    #[allow(clippy::too_many_arguments)]
    fn backtest(
        &mut self,
        node: &Node,
        regions: &[RegionDraft],
        groups: &[GroupDraft],
        years: Option<(i32, i32)>,
        mortality: Option<&Mortality>,
        fertility: Option<&Fertility>,
        elderly_age: Option<usize>,
        d: &mut Diags,
    ) -> Option<crate::backtest::Backtest> {
        let mut t = TableReader::new(node, "backtest", d)?;
        let csv = self.data_file(&mut t, "file", d);
        let shape_csv = self.data_file(&mut t, "shape_file", d);
        let date = t.str_req("date", d);
        t.finish(d);
        let (text, o) = date?;
        let Some(date) = Date::parse(text) else {
            d.error(o, format!("backtest.date = '{text}' is not a date YYYY-MM-DD"));
            return None;
        };
        if let Some((b, h)) = years
            && !(b < date.year && date.year <= h)
        {
            d.error(
                o,
                format!("backtest.date = {text} must fall after base_year {b} and by the horizon {h}"),
            );
            return None;
        }
        let shape = data::load_single_age_profile(&shape_csv?, d).map(|p| census_day_shape(&p));
        let csv = csv?;
        let c_reg = csv.columns(&["region_code"], d)?[0];
        let c_level = csv.header.iter().position(|h| h.trim() == "level");
        let region_index: HashMap<&str, usize> = regions.iter().enumerate().map(|(i, r)| (r.region.id.as_str(), i)).collect();
        let group_index: HashMap<&str, usize> = groups.iter().enumerate().map(|(i, g)| (g.group.id.as_str(), i)).collect();
        let mut ids: Vec<(String, Unit, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (line, row) in &csv.rows {
            let id = row[c_reg].trim();
            if !seen.insert(id.to_string()) {
                continue;
            }
            let unit = match (region_index.get(id), group_index.get(id)) {
                (Some(&r), _) => Unit::Region(r),
                (None, Some(&g)) => Unit::Group(g),
                (None, None) => {
                    csv.error_at(
                        *line,
                        row,
                        c_reg,
                        d,
                        format!("backtest: '{id}' is neither a region nor a group of the scenario"),
                    );
                    continue;
                }
            };
            let level = match c_level {
                Some(c) if !row[c].trim().is_empty() => row[c].trim().to_string(),
                _ => {
                    if matches!(unit, Unit::Region(_)) {
                        "region".into()
                    } else {
                        "group".into()
                    }
                }
            };
            ids.push((id.to_string(), unit, level));
        }
        // The ids come from this file's own rows, so none lacks rows.
        let at = csv.origin(1, 1);
        let wanted: Vec<(&str, &Origin)> = ids.iter().map(|x| (x.0.as_str(), &at)).collect();
        let grouped = data::load_population(&csv, &wanted, d);
        let (shape, m, f, elderly_age) = (shape?, mortality?, fertility?, elderly_age?);
        let h = date.part_of_year_left();
        let rates = year_end_rates(m, date.year, h);
        let shift = subnational::YearEndShift {
            h,
            m: &rates,
            shape: &f.shape,
            male_share: f.male_share,
        };
        let mut units = Vec::new();
        for (id, unit, level) in ids {
            let Some(g) = grouped.get(&id) else { continue };
            let mut pop = [split_groups(&g[0], &shape[0]), split_groups(&g[1], &shape[1])];
            // Counted on census day, moved to the year's end without migration (what the
            // census cannot tell) at the national level of mortality.
            subnational::move_to_year_end(&mut pop, &shift, 1.0, f.tfr.central(), &[[0.0; N_AGES]; 2], &[[0.0; N_AGES]; 2]);
            units.push(crate::backtest::Observed {
                unit,
                level,
                counts: [
                    aged_at_least(&pop, 0),
                    aged_at_least(&pop, elderly_age),
                    aged_at_least(&pop, 65),
                    aged_at_least(&pop, 80),
                ],
            });
        }
        Some(crate::backtest::Backtest {
            year: date.year,
            date: text.to_string(),
            units,
        })
    }

    fn fertility(&mut self, node: Option<&Node>, root: &Origin, d: &mut Diags) -> Option<Fertility> {
        let empty = Node {
            value: Value::Table(Vec::new()),
            origin: root.clone(),
        };
        let mut t = TableReader::new(node.unwrap_or(&empty), "fertility", d)?;
        let tfr = t.dist("tfr", Some(Dist::Fixed(1.3)), 0.0, 10.0, d);
        let srb = t.f64_in("sex_ratio_at_birth", Some(1.11), 0.5, 2.0, d);
        // China 2020 census age pattern of fertility, shares by 5-year group 15-19 .. 45-49
        // (rounded; see scenarios/README.md).
        let shares = t.f64_list("age_shares", Some(vec![0.02, 0.19, 0.38, 0.26, 0.11, 0.03, 0.01]), 0.0, 1.0, d);
        t.finish(d);
        let (shares, so) = shares?;
        if shares.len() != 7 || (shares.iter().sum::<f64>() - 1.0).abs() > 1e-6 {
            d.error(
                so,
                format!(
                    "fertility.age_shares needs 7 shares (ages 15-19 .. 45-49) summing to 1; got {} summing to {}",
                    shares.len(),
                    shares.iter().sum::<f64>()
                ),
            );
            return None;
        }
        let mut shape = [0.0; N_AGES];
        for (g, s) in shares.iter().enumerate() {
            for v in &mut shape[15 + 5 * g..20 + 5 * g] {
                *v = s / 5.0;
            }
        }
        Some(Fertility {
            tfr: tfr?,
            male_share: srb? / (1.0 + srb?),
            shape,
        })
    }

    fn migration(&mut self, node: Option<&Node>, root: &Origin, regions: &mut [RegionDraft], d: &mut Diags) -> Option<Migration> {
        let empty = Node {
            value: Value::Table(Vec::new()),
            origin: root.clone(),
        };
        let mut t = TableReader::new(node.unwrap_or(&empty), "migration", d)?;
        let schedule_csv = self.data_file_opt(&mut t, "schedule_file", d);
        let persistence = t.dist("persistence", Some(Dist::Fixed(1.0)), 0.0, 2.0, d);
        let gains = t.choice("gains", Some("counts"), &["counts", "rates"], d);
        let rate = t.dist_soft(
            "rate_per_1000",
            Some(Dist::Fixed(0.0)),
            f64::NEG_INFINITY,
            f64::INFINITY,
            -MAX_MIGRATION,
            MAX_MIGRATION,
            d,
        );
        let bands = t.f64_list("age_bands", Some(vec![0.0, 15.0, 35.0, 60.0]), 0.0, 100.0, d);
        let weights = t.f64_list("age_weights", Some(vec![0.6, 1.6, 0.7, 0.3]), 0.0, 10.0, d);
        t.finish(d);
        let (bands, bo) = bands?;
        let (weights, _) = weights?;
        let weight = bands_to_ages(&bands, &weights, bo, "migration.age_bands", d)?;
        if let Some(csv) = schedule_csv? {
            let wanted: Vec<(&str, &Origin)> = regions.iter().map(|r| (r.region.id.as_str(), &r.origin)).collect();
            let mut schedules = subnational::load_schedules(&csv, &wanted, d);
            let as_counts = gains? == "counts";
            for r in regions.iter_mut() {
                let Some(mut schedule) = schedules.remove(&r.region.id) else {
                    continue;
                };
                if as_counts {
                    // Gains as the yearly numbers the rates give on the base population: a
                    // destination's in-migrants come from elsewhere, they do not grow with it.
                    let mut inflow = Box::new([[0.0; N_AGES]; 2]);
                    for sex in 0..2 {
                        for x in 0..N_AGES {
                            if schedule[sex][x] > 0.0 {
                                inflow[sex][x] = schedule[sex][x] * r.region.base[sex][x];
                                schedule[sex][x] = 0.0;
                            }
                        }
                    }
                    r.region.migration_inflow = Some(inflow);
                }
                r.region.migration_schedule = Some(schedule);
            }
        }
        let rate = rate?;
        // The range that holds all but a millionth of the draws at each end (a clamped
        // distribution's support is the clamp).
        let (lo, hi) = match (rate.quantile(1e-6), rate.quantile(1.0 - 1e-6)) {
            (Some(a), Some(b)) => (a, b),
            _ => rate.support(),
        };
        let wmax = weight.iter().cloned().fold(0.0, f64::max);
        if lo * wmax / 1000.0 <= -1.0 || hi * wmax / 1000.0 > 10.0 {
            d.error(bo, format!("migration.rate_per_1000 (from {lo} to {hi}) times the largest age weight ({wmax}) would remove everyone or more than multiply an age by 10 in a year"));
            return None;
        }
        Some(Migration {
            persistence: persistence?,
            rate_per_1000: rate,
            weight,
        })
    }

    fn care(
        &mut self,
        node: Option<&Node>,
        root: &Origin,
        base_year: Option<i32>,
        shape: Option<&crate::demography::Population>,
        d: &mut Diags,
    ) -> Option<Care> {
        let Some(node) = node else {
            d.error(root, "the [care] section is missing");
            return None;
        };
        let mut t = TableReader::new(node, "care", d)?;
        let bands = t.f64_list("age_bands", None, 0.0, 100.0, d);
        let partial = t.f64_list("partial", None, 0.0, 1.0, d);
        let full = t.f64_list("full", None, 0.0, 1.0, d);
        let ratio = t.f64_in("female_to_male", Some(1.0), 0.1, 10.0, d);
        let level = t.dist_soft("level", Some(Dist::Fixed(1.0)), 0.0, f64::INFINITY, 0.0, 10.0, d);
        let trend = t.dist("trend", Some(Dist::Fixed(0.0)), -0.5, 0.5, d);
        let reference_year = t
            .int_in("reference_year", base_year.map(i64::from), 1900, 2400, d)
            .map(|v| v as i32);
        if let (Some(r), Some(b)) = (reference_year, base_year)
            && (r - b).abs() > 50
        {
            let o = t.get("reference_year").map(|n| &n.origin).unwrap_or(t.origin);
            d.error(o, format!("care.reference_year = {r} is more than 50 years from base_year {b}"));
        }
        let ui = t.dist("uptake_independent", None, 0.0, 1.0, d);
        let up = t.dist("uptake_partial", None, 0.0, 1.0, d);
        let uf = t.dist("uptake_full", None, 0.0, 1.0, d);
        t.finish(d);
        let (bands, bo) = bands?;
        let (partial, po) = partial?;
        let (full, fo) = full?;
        if partial.len() != bands.len() {
            d.error(
                po,
                format!("care.partial has {} values for {} age bands", partial.len(), bands.len()),
            );
        }
        if full.len() != bands.len() {
            d.error(fo, format!("care.full has {} values for {} age bands", full.len(), bands.len()));
        }
        for (i, (p, f)) in partial.iter().zip(&full).enumerate() {
            if p + f > 1.0 {
                d.error(po, format!("care: band {i} has partial + full = {} > 1", p + f));
            }
        }
        let p = bands_to_ages(&bands, &partial, bo, "care.age_bands", d)?;
        let f = bands_to_ages(&bands, &full, bo, "care.age_bands", d)?;
        let ratio = ratio?;
        // Sex factors that keep the band value for both sexes together: at each age, the men's
        // factor fm and the women's ratio * fm average to 1 over the two sexes weighted by
        // their numbers (the national profile's; women outnumber men at old ages, so an
        // unweighted mean of the two would raise the band's prevalence).
        let mut out_p = [[0.0; N_AGES]; 2];
        let mut out_f = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            let female = match shape {
                Some(sh) if sh[0][x] + sh[1][x] > 0.0 => sh[1][x] / (sh[0][x] + sh[1][x]),
                _ => 0.5,
            };
            let fm = 1.0 / ((1.0 - female) + ratio * female);
            let ff = ratio * fm;
            out_p[0][x] = (p[x] * fm).min(1.0);
            out_p[1][x] = (p[x] * ff).min(1.0);
            out_f[0][x] = (f[x] * fm).min(1.0 - out_p[0][x]);
            out_f[1][x] = (f[x] * ff).min(1.0 - out_p[1][x]);
        }
        Some(Care {
            partial: out_p,
            full: out_f,
            min_age: bands.first().map(|b| *b as usize).unwrap_or(0),
            level: level?,
            trend: trend?,
            reference_offset: base_year.unwrap_or(0) - reference_year?,
            uptake_independent: ui?,
            uptake_partial: up?,
            uptake_full: uf?,
        })
    }

    fn target_units(&self, t: &mut TableReader<'_>, regions: &[RegionDraft], groups: &[GroupDraft], d: &mut Diags) -> Option<Vec<Unit>> {
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
}

fn kind_from_index(k: usize) -> ItemKind {
    ItemKind::from_name(ItemKind::ALL[k]).unwrap_or(ItemKind::New)
}

/// Delivery fields of an item or of a kind's defaults.
fn item_delivery(t: &mut TableReader<'_>, def: &ItemDefaults, d: &mut Diags) -> ItemDefaults {
    let delay = t.dist("delay", Some(def.delay.clone()), 0.0, 50.0, d);
    if let Some(n) = t.get("delay")
        && let Some(dist) = &delay
    {
        let whole = match dist {
            Dist::Fixed(v) => v.fract() == 0.0,
            Dist::Discrete { values, .. } => values.iter().all(|v| v.fract() == 0.0),
            _ => false,
        };
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

/// Expands band values (bands given by their first ages, increasing) to single ages; ages below
/// the first band get 0.
fn bands_to_ages(bands: &[f64], values: &[f64], origin: &Origin, path: &str, d: &mut Diags) -> Option<[f64; N_AGES]> {
    if bands.is_empty() || bands.len() != values.len() {
        d.error(origin, format!("{path}: {} bands but {} values", bands.len(), values.len()));
        return None;
    }
    if bands.iter().any(|b| b.fract() != 0.0) || bands.windows(2).any(|w| w[0] >= w[1]) {
        d.error(origin, format!("{path} must be increasing whole ages"));
        return None;
    }
    let mut out = [0.0; N_AGES];
    for (x, slot) in out.iter_mut().enumerate() {
        if let Some(i) = bands.iter().rposition(|b| *b as usize <= x) {
            *slot = values[i];
        }
    }
    Some(out)
}

/// The `parent` written by each group, with where it was written.
type ParentRefs<'n> = Vec<Option<(&'n str, &'n Origin)>>;

struct GroupDraft {
    origin: Origin,
    group: Group,
}

/// How `mortality.sigma` or `mortality.drift_se` is set.
enum Spread {
    Fitted,
    Calibrated,
    /// `[male, female]`.
    Given([f64; 2]),
}

/// Years of a file of e0 intervals that mortality uncertainty is calibrated to: the first 30
/// with bounds (2024-2053 in WPP 2024), a planning horizon's worth.
const CALIBRATION_YEARS: usize = 30;

struct RegionDraft {
    origin: Origin,
    /// The region's own mortality level (`mortality_multiplier`), if it gives one.
    multiplier: Option<Dist>,
    /// The region's own registered/resident ratio, if it gives one.
    registered_ratio: Option<Dist>,
    region: Region,
}

/// Moves every region's base population from its count date, `h` of a year before the end of
/// the base year, to 31 December (see [`subnational::move_to_year_end`]).
fn shift_to_year_end(
    regions: &mut [RegionDraft],
    groups: &[GroupDraft],
    h: f64,
    base_year: i32,
    m: &Mortality,
    f: &Fertility,
    mg: &Migration,
) {
    let rates = year_end_rates(m, base_year, h);
    let shift = subnational::YearEndShift {
        h,
        m: &rates,
        shape: &f.shape,
        male_share: f.male_share,
    };
    let persistence = mg.persistence.central();
    for r in regions {
        let region = &mut r.region;
        let mut rate = region.migration_rate.as_ref().unwrap_or(&mg.rate_per_1000).central();
        let mut g = region.group;
        while let Some(gi) = g {
            rate += groups[gi].group.migration_rate.as_ref().map_or(0.0, Dist::central);
            g = groups[gi].group.parent;
        }
        let rate = rate / 1000.0;
        let migration: subnational::Schedule = std::array::from_fn(|sex| {
            std::array::from_fn(|x| {
                let schedule = region.migration_schedule.as_ref().map_or(0.0, |s| s[sex][x]);
                (persistence * schedule + rate * mg.weight[x]).max(-1.0)
            })
        });
        let tfr = region.tfr.as_ref().unwrap_or(&f.tfr).central();
        let level = region.mortality_level.quantile(0.5).unwrap_or(1.0);
        let inflow: subnational::Schedule = match &region.migration_inflow {
            Some(i) => std::array::from_fn(|sex| std::array::from_fn(|x| persistence * i[sex][x])),
            None => [[0.0; N_AGES]; 2],
        };
        subnational::move_to_year_end(&mut region.base, &shift, level, tfr, &migration, &inflow);
    }
}

/// A region's or group's own `migration_rate`, when it gives one (per 1,000 a year, within the
/// plausible range).
fn migration_rate_field(t: &mut TableReader<'_>, d: &mut Diags) -> Option<Dist> {
    if !t.has("migration_rate") {
        return None;
    }
    t.dist_soft(
        "migration_rate",
        None,
        f64::NEG_INFINITY,
        f64::INFINITY,
        -MAX_MIGRATION,
        MAX_MIGRATION,
        d,
    )
}

/// The national death rates at the middle of the last `h` of `year` (the mean drift's).
fn year_end_rates(m: &Mortality, year: i32, h: f64) -> [[f64; N_AGES]; 2] {
    let t = f64::from(year) + 1.0 - 0.5 * h - m.base_mid;
    let drift = match &m.drift {
        Drift::Fitted { mean, .. } => *mean,
        Drift::Given(d) => [d.central(); 2],
    };
    std::array::from_fn(|sex| {
        std::array::from_fn(|x| crate::demography::lifetable::exp(m.base_log_m[sex][x] + m.b[sex][x] * drift[sex] * t))
    })
}

/// The stream key of a stock, caregiver or seasonal entry: from its `id` when it has one, else
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

fn find_region(regions: &[RegionDraft], id: &str, o: &Origin, d: &mut Diags) -> Option<usize> {
    let found = regions.iter().position(|r| r.region.id == id);
    if found.is_none() {
        let hint = suggest(id, regions.iter().map(|r| r.region.id.as_str()))
            .map(|h| format!(" (did you mean '{h}'?)"))
            .unwrap_or_default();
        d.error(o, format!("unknown region '{id}'{hint}"));
    }
    found
}

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
    let hint = suggest(id, ids).map(|h| format!(" (did you mean '{h}'?)")).unwrap_or_default();
    d.error(o, format!("{}{hint}", message(id)));
    None
}

fn find_group(groups: &[GroupDraft], id: &str, o: &Origin, d: &mut Diags) -> Option<usize> {
    let found = groups.iter().position(|g| g.group.id == id);
    if found.is_none() {
        let hint = suggest(id, groups.iter().map(|g| g.group.id.as_str()))
            .map(|h| format!(" (did you mean '{h}'?)"))
            .unwrap_or_default();
        d.error(o, format!("unknown group '{id}'{hint}"));
    }
    found
}

/// Resolves group parents (rejecting unknown ones and cycles) and fills each group's members.
fn resolve_groups(
    mut groups: Vec<GroupDraft>,
    parents: Vec<Option<(&str, &Origin)>>,
    regions: &[RegionDraft],
    d: &mut Diags,
) -> Vec<GroupDraft> {
    for (i, p) in parents.iter().enumerate() {
        if let Some((pid, o)) = p {
            match groups.iter().position(|g| g.group.id == *pid) {
                Some(j) => groups[i].group.parent = Some(j),
                None => {
                    let hint = suggest(pid, groups.iter().map(|g| g.group.id.as_str()))
                        .map(|h| format!(" (did you mean '{h}'?)"))
                        .unwrap_or_default();
                    d.error(o, format!("group '{}' has unknown parent '{pid}'{hint}", groups[i].group.id));
                }
            }
        }
    }
    let n = groups.len();
    let mut cyclic = vec![false; n];
    for (start, flag) in cyclic.iter_mut().enumerate() {
        let mut cur = groups[start].group.parent;
        let mut steps = 0;
        while let Some(c) = cur {
            steps += 1;
            if c == start || steps > n {
                *flag = true;
                break;
            }
            cur = groups[c].group.parent;
        }
    }
    for (i, c) in cyclic.iter().enumerate() {
        if *c {
            d.error(
                &groups[i].origin,
                format!("group '{}' is its own ancestor: the parent chain forms a cycle", groups[i].group.id),
            );
            groups[i].group.parent = None;
        }
    }
    for (ri, r) in regions.iter().enumerate() {
        let mut cur = r.region.group;
        let mut steps = 0;
        while let Some(g) = cur {
            if cyclic[g] || steps > n {
                break;
            }
            groups[g].group.members.push(ri);
            cur = groups[g].group.parent;
            steps += 1;
        }
    }
    for g in &groups {
        if g.group.members.is_empty() && !cyclic.iter().any(|c| *c) {
            d.error(&g.origin, format!("group '{}' has no member regions", g.group.id));
        }
    }
    groups
}
