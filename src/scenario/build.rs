//! From a scenario tree (and its data files) to a checked [`Scenario`].
//!
//! Every section is read even when an earlier one failed, so `bedsim check` reports all
//! problems at once. Paths of data files are relative to the scenario file's folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod demography;
mod supply;
mod targets;

use super::data::{self, GroupedPopulation, MxPeriod};
use super::reader::{Diags, TableReader, check_range, read_dist, suggest};
use super::subnational::{self, Date};
use super::tree::{self, Diagnostic, Node, Origin, Override, Value};
use super::*;
use crate::demography::mortality::{GroupRates, calibrate_to_e0_widths, fit_lee_carter, groups_to_single_ages, life_expectancy};
use crate::demography::split::{census_day_shape, split_groups};
use crate::demography::{N_AGES, aged_at_least};
use crate::dist::Dist;
use crate::streams::entity_key;

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
        s.assumptions = tree::distributions(root)
            .into_iter()
            .map(|(path, n)| Assumption {
                path,
                written: tree::inline_toml(n),
                origin: n.origin.to_string(),
            })
            .collect();
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

/// The top-level fields: what the scenario is called and what it runs.
struct Meta {
    name: Option<String>,
    description: String,
    base_year: Option<i32>,
    horizon: Option<i32>,
    draws: Option<usize>,
    seed: Option<u64>,
    elderly_age: Option<usize>,
    lang: Option<crate::lang::Lang>,
}

fn meta(top: &mut TableReader<'_>, d: &mut Diags) -> Meta {
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
    let lang = top.choice_in("lang", Some("zh"), &crate::lang::Lang::NAMES, d);
    if let (Some(b), Some(h)) = (base_year, horizon)
        && (h <= b || h - b > 200)
        && let Some(n) = top.get("horizon")
    {
        d.error(
            &n.origin,
            format!("horizon = {h} must be after base_year = {b} and at most 200 years later"),
        );
    }
    Meta {
        name,
        description,
        base_year,
        horizon,
        draws,
        seed,
        elderly_age,
        lang,
    }
}

struct Builder<'a> {
    dir: &'a Path,
    inputs: Vec<InputFile>,
    /// The national single-year profile of `[population] shape_file` (census-day shape), for
    /// the care section's sex weights.
    shape: Option<crate::demography::Population>,
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
        let Meta {
            name,
            description,
            base_year,
            horizon,
            draws,
            seed,
            elderly_age,
            lang,
        } = meta(&mut top, d);
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

        let (pop_ok, count_date) = self.base_population(top.get("population"), &root.origin, &mut regions, base_year, d);

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

        // Supply: the stock, the plan, caregivers and seasonal elderly, each naming its regions.
        // Stream keys of stock, caregiver and seasonal entries already given (see entry_key).
        let mut entry_seen: HashMap<String, usize> = HashMap::new();
        let members = supply::Members {
            regions: &regions,
            groups: &groups,
            elderly_age: elderly_age.unwrap_or(60),
        };
        let cap = supply::capacity(
            top.get("capacity"),
            &root.origin,
            (base_year, horizon),
            &members,
            &mut entry_seen,
            d,
        );
        let (plan, plan_links) = supply::plan_items(top.tables("plan", d), &cap.defaults, (cap.stock_year, horizon), &members, d);
        let (caregivers, caregiver_links) = supply::caregiver_entries(top.tables("caregivers", d), &members, &mut entry_seen, d);
        let (seasonal, seasonal_links) = supply::seasonal_entries(top.tables("seasonal", d), &members, &mut entry_seen, d);
        for (r, idx, w) in caregiver_links {
            regions[r].region.caregiver_entries.push((idx, w));
        }
        for (r, idx, w) in seasonal_links {
            regions[r].region.seasonal_entries.push((idx, w));
        }
        for &(r, idx, w) in &cap.links {
            regions[r].region.stock_entries.push((idx, w));
        }
        for (r, link) in plan_links {
            regions[r].region.plan_items.push(link);
        }

        let targets = targets::targets(top.tables("target", d), (base_year, horizon), &regions, &groups, d);
        let observations = targets::observations(top.tables("observation", d), &regions, &groups, base_year.zip(horizon), d);
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
            lang: lang?,
            assumptions: Vec::new(),
            regions: regions.into_iter().map(|r| r.region).collect(),
            groups: groups.into_iter().map(|g| g.group).collect(),
            mortality: mortality?,
            fertility: fertility?,
            migration: migration?,
            care: care?,
            capacity: Capacity {
                stock_year: cap.stock_year?,
                stock_year_after: cap.stock_after.max(0.0),
                stock: cap.stock,
                caregivers,
                seasonal,
                default_delays: cap.defaults.iter().map(|d| d.delay.clone()).collect(),
            },
            plan,
            targets,
            backtest,
            observations,
            conditioned: None,
            inputs: Vec::new(),
        })
    }

    /// `[population]`: each region's base population (by the census date, moved to the end of
    /// the year later) and registered/resident ratio. Returns whether the populations were read,
    /// and the date they were counted on.
    fn base_population(
        &mut self,
        population: Option<&Node>,
        root: &Origin,
        regions: &mut [RegionDraft],
        base_year: Option<i32>,
        d: &mut Diags,
    ) -> (bool, Option<Date>) {
        let mut registered_default = Dist::fixed(1.0);
        let mut count_date: Option<Date> = None;
        let pops = population.and_then(|n| self.population(n, regions, base_year, &mut registered_default, &mut count_date, d));
        if population.is_none() {
            d.error(root, "the [population] section is missing: it names the base population file");
        }
        for r in regions.iter_mut() {
            r.region.registered_ratio = r.registered_ratio.take().unwrap_or_else(|| registered_default.clone());
            if let Some(p) = pops.as_ref().and_then(|p| p.get(&r.region.id)) {
                r.region.base = *p;
            }
        }
        (pops.is_some(), count_date)
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
                    mortality_level: Dist::fixed(1.0),
                    migration_schedule: None,
                    migration_inflow: None,
                    migration_rate: mig,
                    tfr,
                    plan_items: Vec::new(),
                    stock_entries: Vec::new(),
                    caregiver_entries: Vec::new(),
                    seasonal_entries: Vec::new(),
                    registered_ratio: Dist::fixed(1.0),
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
        if let Some(r) = t.dist_soft("registered_ratio", Some(Dist::fixed(1.0)), 0.0, f64::INFINITY, 0.2, 5.0, d) {
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
