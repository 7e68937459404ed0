//! Scenarios: the raw TOML file and its data files, checked into a [`Scenario`] the engine can
//! trust.
//!
//! A `Scenario` is only made by [`load`] (or [`build`] from a tree), which reports every problem
//! of the file and its data at once. Its fields hold validated values: shares in [0, 1],
//! non-negative counts, distributions whose support fits the quantity, regions and groups that
//! exist, so the engine never checks again.

pub mod backtest;
pub mod build;
pub mod conditioned;
pub mod data;
pub mod reader;
pub mod subnational;
pub mod tree;

use crate::demography::{N_AGES, Population};
use crate::dist::Dist;

pub use build::{LoadError, Source, build, load, read, read_bytes};
pub use tree::{Diagnostic, Origin, Override};

/// A checked scenario. Its fields are the library's own: a program or test reads them through
/// the accessors below and cannot change a scenario once checked (only the engine's
/// conditioning and [`Scenario::restrict`] derive new ones).
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name, used for the default results folder `results/<name>`.
    pub(crate) name: String,
    /// One-line description, shown by `bedsim scenarios`.
    pub(crate) description: String,
    /// Year of the base population: the regions' base populations are the stock at the end of
    /// it (31 December), moved there from the count date ([`Scenario::base_shift`]).
    pub(crate) base_year: i32,
    /// Part of the base year between the count date of the base population and its end (2/12
    /// for a census of 1 November), by which the base was moved to 31 December.
    pub(crate) base_shift: f64,
    /// Last projected year.
    pub(crate) horizon: i32,
    pub(crate) draws: usize,
    pub(crate) seed: u64,
    /// Age from which people count as elderly (60 in Chinese plans).
    pub(crate) elderly_age: usize,
    /// Language of the reports (`lang`; `--lang` overrides it).
    pub(crate) lang: crate::lang::Lang,
    /// Every sampled input as the scenario wrote it, for the reports' list of assumptions.
    pub(crate) assumptions: Vec<Assumption>,
    pub(crate) regions: Vec<Region>,
    pub(crate) groups: Vec<Group>,
    pub(crate) mortality: Mortality,
    pub(crate) fertility: Fertility,
    pub(crate) migration: Migration,
    pub(crate) care: Care,
    pub(crate) capacity: Capacity,
    pub(crate) plan: Vec<PlanItem>,
    pub(crate) targets: Vec<Target>,
    /// A later census to compare the projection with, when the scenario is a back-test.
    pub(crate) backtest: Option<backtest::Backtest>,
    /// Published figures after the base year that the run conditions on.
    pub(crate) observations: Vec<Observation>,
    /// The draws resampled by their likelihood under the observations, once the run has
    /// conditioned on them ([`crate::montecarlo::observe`]); `None`: draws `0..draws`.
    pub(crate) conditioned: Option<std::sync::Arc<conditioned::Conditioned>>,
    /// Data files read, with their content hash, for the run manifest.
    pub(crate) inputs: Vec<InputFile>,
}

/// Read access to a checked scenario's parts (see the fields for what each holds).
impl Scenario {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn base_year(&self) -> i32 {
        self.base_year
    }

    pub fn base_shift(&self) -> f64 {
        self.base_shift
    }

    pub fn horizon(&self) -> i32 {
        self.horizon
    }

    pub fn draws(&self) -> usize {
        self.draws
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn lang(&self) -> crate::lang::Lang {
        self.lang
    }

    pub fn assumptions(&self) -> &[Assumption] {
        &self.assumptions
    }

    pub fn elderly_age(&self) -> usize {
        self.elderly_age
    }

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    pub fn mortality(&self) -> &Mortality {
        &self.mortality
    }

    pub fn fertility(&self) -> &Fertility {
        &self.fertility
    }

    pub fn migration(&self) -> &Migration {
        &self.migration
    }

    pub fn care(&self) -> &Care {
        &self.care
    }

    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    pub fn plan(&self) -> &[PlanItem] {
        &self.plan
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    pub fn backtest(&self) -> Option<&backtest::Backtest> {
        self.backtest.as_ref()
    }

    pub fn observations(&self) -> &[Observation] {
        &self.observations
    }

    pub fn conditioned(&self) -> Option<&conditioned::Conditioned> {
        self.conditioned.as_deref()
    }

    pub fn inputs(&self) -> &[InputFile] {
        &self.inputs
    }
}

impl Scenario {
    /// The stream id of draw `index` of the run: the index itself, or the resampled draw's.
    pub fn draw_id(&self, index: usize) -> u64 {
        match &self.conditioned {
            Some(c) => c.draw_ids[index],
            None => index as u64,
        }
    }

    /// Number of reported years, base year included.
    pub fn n_years(&self) -> usize {
        (self.horizon - self.base_year + 1) as usize
    }

    /// The reported years, base year first.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.base_year..=self.horizon
    }

    /// The scenario restricted to the listed regions and to the members of the listed groups,
    /// with the groups that keep at least one member.
    ///
    /// Every kept region keeps its random streams and its share of each stock entry and plan
    /// item, so its results are exactly those it has in the whole scenario; a group's figures
    /// cover its kept members only.
    ///
    /// # Errors
    /// The ids that are neither a region nor a group, each with a close id when there is one.
    pub fn restrict(&self, ids: &[String]) -> Result<Scenario, Vec<String>> {
        let mut keep = vec![false; self.regions.len()];
        let mut unknown = Vec::new();
        for id in ids {
            if let Some(r) = self.regions.iter().position(|r| &r.id == id) {
                keep[r] = true;
            } else if let Some(g) = self.groups.iter().position(|g| &g.id == id) {
                for &m in &self.groups[g].members {
                    keep[m] = true;
                }
            } else {
                let all = self
                    .regions
                    .iter()
                    .map(|r| r.id.as_str())
                    .chain(self.groups.iter().map(|g| g.id.as_str()));
                let hint = reader::suggest(id, all)
                    .map(|h| format!(" (did you mean '{h}'?)"))
                    .unwrap_or_default();
                unknown.push(format!("'{id}' is neither a region nor a group of the scenario{hint}"));
            }
        }
        if !unknown.is_empty() {
            return Err(unknown);
        }
        let mut region_map = vec![None; self.regions.len()];
        for (new, old) in (0..self.regions.len()).filter(|&r| keep[r]).enumerate() {
            region_map[old] = Some(new);
        }
        let mut group_map = vec![None; self.groups.len()];
        let mut next = 0;
        for (g, group) in self.groups.iter().enumerate() {
            if group.members.iter().any(|&m| keep[m]) {
                group_map[g] = Some(next);
                next += 1;
            }
        }
        let mut out = self.clone();
        out.regions = self
            .regions
            .iter()
            .enumerate()
            .filter(|(r, _)| keep[*r])
            .map(|(_, r)| Region {
                group: r.group.and_then(|g| group_map[g]),
                ..r.clone()
            })
            .collect();
        out.groups = self
            .groups
            .iter()
            .enumerate()
            .filter(|(g, _)| group_map[*g].is_some())
            .map(|(_, g)| Group {
                parent: g.parent.and_then(|p| group_map[p]),
                members: g.members.iter().filter_map(|&m| region_map[m]).collect(),
                ..g.clone()
            })
            .collect();
        let map = |u: Unit| match u {
            Unit::Region(r) => region_map[r].map(Unit::Region),
            Unit::Group(g) => group_map[g].map(Unit::Group),
        };
        for t in &mut out.targets {
            t.units = t.units.iter().filter_map(|u| map(*u)).collect();
        }
        // A group's census count covers all its members: it is compared only if all are kept.
        let complete = |u: Unit| match u {
            Unit::Group(g) => self.groups[g].members.iter().all(|&m| keep[m]),
            Unit::Region(_) => true,
        };
        out.observations = self
            .observations
            .iter()
            .filter(|o| complete(o.unit))
            .filter_map(|o| map(o.unit).map(|unit| Observation { unit, ..o.clone() }))
            .collect();
        if let Some(bt) = &mut out.backtest {
            bt.units = bt
                .units
                .iter()
                .filter(|o| complete(o.unit))
                .filter_map(|o| map(o.unit).map(|unit| backtest::Observed { unit, ..o.clone() }))
                .collect();
        }
        Ok(out)
    }
}

/// A sampled input as the scenario wrote it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Assumption {
    /// Where the input is, as the dotted path `--set` and `--vary` take, e.g.
    /// `plan.township-centres.delay_years`.
    pub path: String,
    /// The distribution as written, in TOML's inline form.
    pub written: String,
    /// The file and line it was written at, or the override that set it.
    pub origin: String,
}

/// A file the scenario read.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: String,
    pub sha256: String,
}

/// A county-level unit.
#[derive(Debug, Clone)]
pub struct Region {
    pub id: String,
    /// Display name in any script (Chinese names are kept as written).
    pub name: String,
    /// Index of the group it belongs to directly.
    pub group: Option<usize>,
    /// Stream key (hash of the id).
    pub key: u64,
    /// Base population by sex and single age.
    pub base: Population,
    /// Mortality level relative to the national schedule (a multiplier of the death rates,
    /// applied to the cohort's survival over each year as `S^level`), sampled per draw.
    pub mortality_level: Dist,
    /// Net migrants per person per year by sex and single age at the end-of-year age, the last
    /// decade's schedule (moved on by [`Migration::persistence`]), when the scenario gives one.
    pub migration_schedule: Option<Box<[[f64; N_AGES]; 2]>>,
    /// Net in-migrants per year by sex and single age (end-of-year age), moved on by
    /// [`Migration::persistence`] like the schedule: a gaining region's part of its schedule
    /// held as the numbers it gives on the base population (`[migration] gains = "counts"`).
    pub migration_inflow: Option<Box<[[f64; N_AGES]; 2]>>,
    /// Net migration rate (per 1,000 per year) when the region has its own.
    pub migration_rate: Option<Dist>,
    /// Total fertility rate when the region has its own.
    pub tfr: Option<Dist>,
    /// Plan items that touch the region.
    pub plan_items: Vec<PlanLink>,
    /// Stock entries that touch the region: (entry index, share of the entry).
    pub stock_entries: Vec<(usize, f64)>,
    /// Caregiver entries that touch the region: (entry index, share of the entry).
    pub caregiver_entries: Vec<(usize, f64)>,
    /// Seasonal-demand entries that touch the region: (entry index, share of the entry).
    pub seasonal_entries: Vec<(usize, f64)>,
    /// Ratio of registered (户籍) to resident elderly, sampled per draw (1 when not given).
    pub registered_ratio: Dist,
}

impl Region {
    /// Whether the region has a mortality level of its own (its distribution is not the fixed
    /// value 1): it then survives with `S^level` of the national schedule, and is projected
    /// from the logarithms of the national survival only.
    pub fn has_own_mortality_level(&self) -> bool {
        self.mortality_level.as_fixed() != Some(1.0)
    }
}

/// A plan item's part in a region: a share of its one project (an item spread over its
/// regions), or whole projects of a programme (`share` 1), as many as the region's `quota`.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanLink {
    pub item: usize,
    pub share: f64,
    /// A programme's projects fall to its regions by their shares: the region's expected
    /// projects are `hi - lo`, with `[lo, hi)` its slice of `[0, projects)` (regions in order).
    /// `None`: the item is one project and the region has its `share` of it.
    pub quota: Option<[f64; 2]>,
}

impl PlanLink {
    /// The item's projects that lie in this region in a draw with allocation offset `u` in
    /// [0, 1): projects `j` with `lo <= j + u < hi`. Every region gets the whole part of its
    /// expected projects and one more with the probability of its fraction (balanced rounding:
    /// the expectation is exact and the programme's total is always its count), so a county
    /// whose expected share is 0.4 of a project has it in 40% of the draws, not never.
    pub fn projects(&self, u: f64) -> std::ops::Range<usize> {
        match self.quota {
            None => 0..1,
            Some([lo, hi]) => {
                let first = (lo - u).ceil().max(0.0) as usize;
                let end = (hi - u).ceil().max(0.0) as usize;
                first..end.max(first)
            }
        }
    }
}

/// A group of regions (prefecture, province) whose figures are summed per draw.
#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// Stream key (hash of the id).
    pub key: u64,
    pub parent: Option<usize>,
    /// A net migration rate (per 1,000 per year, at ages of weight 1) shared by all members in a
    /// draw and added to each member's own: what a province's regions have in common.
    pub migration_rate: Option<Dist>,
    /// Member regions (directly or through sub-groups), in scenario order.
    pub members: Vec<usize>,
}

/// Lee-Carter mortality, ready to sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Mortality {
    /// ln m(x, s) of the base period, single ages.
    pub base_log_m: [[f64; N_AGES]; 2],
    /// Age response b(x, s).
    pub b: [[f64; N_AGES]; 2],
    /// Middle of the base period as a decimal year (k is at its base value there): 2018.0 for
    /// WPP's 2015-2020, which runs from 1 July 2015 to 30 June 2020.
    pub base_mid: f64,
    /// Drift of k per year, per sex.
    pub drift: Drift,
    /// Standard deviation of the yearly shocks of k, per sex.
    pub sigma: [f64; 2],
    /// Whether all regions of a draw share the yearly shocks (MODEL.md's default).
    pub national_shocks: bool,
    /// Fitted values, for reports: (drift, drift_se, sigma) per sex and e0 of the base period.
    pub fitted: FittedMortality,
}

/// What the Lee-Carter fit found, for `check` and the manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedMortality {
    pub drift: [f64; 2],
    pub drift_se: [f64; 2],
    pub sigma: [f64; 2],
    pub base_e0: [f64; 2],
    pub periods: (i32, i32),
    /// With `calibrate_to`: `(sigma, drift_se)` per sex that give the file's e0 intervals.
    pub calibrated: Option<[(f64, f64); 2]>,
}

/// How the drift of a draw is chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Drift {
    /// `N(fitted drift, fitted standard error)` per sex, one standard normal per draw.
    Fitted { mean: [f64; 2], se: [f64; 2] },
    /// A distribution given in the scenario, the same drift for both sexes.
    Given(Dist),
}

/// Fertility.
#[derive(Debug, Clone, PartialEq)]
pub struct Fertility {
    pub tfr: Dist,
    /// Share of births that are boys.
    pub male_share: f64,
    /// Age pattern of fertility by single age, summing to 1.
    pub shape: [f64; N_AGES],
}

/// Net migration.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// Share of each region's schedule ([`Region::migration_schedule`]) that goes on in a draw:
    /// sampled once per draw and shared by all regions (whether the last decade's migration
    /// regime continues is a national question).
    pub persistence: Dist,
    /// Net migrants per 1,000 residents per year at ages of weight 1, sampled per region and draw.
    pub rate_per_1000: Dist,
    /// Relative weight of each single age.
    pub weight: [f64; N_AGES],
}

/// Care dependency and institutional uptake.
#[derive(Debug, Clone)]
pub struct Care {
    /// Base-year prevalence of partial dependency by sex and single age.
    pub partial: [[f64; N_AGES]; 2],
    /// Base-year prevalence of full dependency by sex and single age.
    pub full: [[f64; N_AGES]; 2],
    /// First age with any prevalence (the lowest band).
    pub min_age: usize,
    /// Multiplier of all prevalences, per draw.
    pub level: Dist,
    /// Annual relative change of prevalence from the reference year, per draw.
    pub trend: Dist,
    /// `base_year - reference_year`: years of trend between the prevalence's reference year
    /// (the survey it comes from) and the base year.
    pub reference_offset: i32,
    pub uptake_independent: Dist,
    pub uptake_partial: Dist,
    pub uptake_full: Dist,
}

/// Base stock and its year.
#[derive(Debug, Clone)]
pub struct Capacity {
    /// Year the stock was observed in; years before it report the observed stock.
    pub stock_year: i32,
    /// Part of the stock year after the observation (0 for a stock at the end of the year, 0.5
    /// at the end of June): that part of the stock year's deliveries, training and attrition
    /// is added to the stock (deliveries are spread evenly over their year).
    pub stock_year_after: f64,
    pub stock: Vec<StockEntry>,
    pub caregivers: Vec<CaregiverEntry>,
    pub seasonal: Vec<SeasonalEntry>,
    /// Delivery delay of a new item of each kind (indexed by `ItemKind as usize`), for `plan`.
    pub default_delays: Vec<Dist>,
}

/// Certified caregivers of a region or group: a stock at the stock year, then training and
/// attrition each year.
#[derive(Debug, Clone)]
pub struct CaregiverEntry {
    pub key: u64,
    pub stock: Dist,
    pub trained_per_year: Dist,
    /// Share leaving per year.
    pub attrition: Dist,
}

/// Seasonal (migratory, 候鸟) elderly: extra institutional demand, not counted as residents.
#[derive(Debug, Clone)]
pub struct SeasonalEntry {
    pub key: u64,
    /// Migratory elderly present at the peak of the base year.
    pub elderly: Dist,
    /// Annual relative growth of their number.
    pub growth: Dist,
    /// Share of them who need an institutional bed.
    pub institutional_uptake: Dist,
}

/// One stock statement, for a region or split over a group's members.
#[derive(Debug, Clone)]
pub struct StockEntry {
    pub key: u64,
    pub institutional: Dist,
    pub nursing: NursingStock,
    pub community: Dist,
}

/// Nursing-type beds of a stock entry.
#[derive(Debug, Clone)]
pub enum NursingStock {
    Beds(Dist),
    Share(Dist),
}

/// Kind of plan item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    New,
    Expansion,
    Conversion,
    Closure,
    Community,
}

impl ItemKind {
    /// The scenario's name of each kind, in the order of the enum.
    pub const NAMES: [(&'static str, ItemKind); 5] = [
        ("new", ItemKind::New),
        ("expansion", ItemKind::Expansion),
        ("conversion", ItemKind::Conversion),
        ("closure", ItemKind::Closure),
        ("community", ItemKind::Community),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize].0
    }
}

/// Size of an item: beds, or a budget turned into beds by an uncertain cost per bed.
#[derive(Debug, Clone)]
pub enum ItemSize {
    Beds(Dist),
    Budget { yuan: Dist, cost_per_bed: Dist },
}

/// One item of the build plan.
#[derive(Debug, Clone)]
pub struct PlanItem {
    pub id: String,
    pub key: u64,
    pub kind: ItemKind,
    pub year: i32,
    pub size: ItemSize,
    /// Share of the item's beds that are nursing-type (new, expansion, closure).
    pub nursing_share: Dist,
    /// Share of the beds delivered in the delivery year, the next, ...; sums to 1.
    pub phasing: Vec<f64>,
    /// Delay in whole years (a discrete distribution of non-negative integers).
    pub delay: Dist,
    pub cancel_probability: f64,
    pub delivered_share: Dist,
    /// Number of projects of the programme (1: one item, realised as a whole).
    pub projects: usize,
    /// Share of the projects that follow the programme's common fate in a draw (its
    /// cancellation, delay, delivered share, cost per bed and nursing share); the others are
    /// realised on their own. 1: all or nothing, 0: independent projects.
    pub shared: Dist,
}

/// A published figure the run conditions on: the value of `metric` for `unit` at the end of
/// `year`, measured with a normal error of standard deviation `sd`.
#[derive(Debug, Clone)]
pub struct Observation {
    /// How the scenario names it, for messages: `metric unit year`.
    pub label: String,
    pub unit: Unit,
    pub metric: crate::metric::Metric,
    pub year: i32,
    pub value: f64,
    pub sd: f64,
}

/// A metric a target can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetMetric {
    BedsPer1000,
    /// Beds per 1,000 registered (户籍) elderly: a beds target with `denominator = "registered"`.
    BedsPer1000Registered,
    NursingShare,
    DemandSupplyRatio,
    CaregiversPer10000,
}

impl TargetMetric {
    /// The scenario's `metric` names. `BedsPer1000Registered` is `beds_per_1000_elderly` with
    /// `denominator = "registered"`.
    pub const NAMES: [(&'static str, TargetMetric); 4] = [
        ("beds_per_1000_elderly", TargetMetric::BedsPer1000),
        ("nursing_share", TargetMetric::NursingShare),
        ("demand_supply_ratio", TargetMetric::DemandSupplyRatio),
        ("caregivers_per_10000_elderly", TargetMetric::CaregiversPer10000),
    ];
}

/// Comparison of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
}

impl Op {
    /// The scenario's `op` names.
    pub const NAMES: [(&'static str, Op); 4] = [(">=", Op::Ge), (">", Op::Gt), ("<=", Op::Le), ("<", Op::Lt)];

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Ge => value >= threshold,
            Op::Gt => value > threshold,
            Op::Le => value <= threshold,
            Op::Lt => value < threshold,
        }
    }

    pub fn symbol(self) -> &'static str {
        Self::NAMES[self as usize].0
    }

    /// Whether larger values are better.
    pub fn is_lower_bound(self) -> bool {
        matches!(self, Op::Ge | Op::Gt)
    }
}

/// A region or a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    Region(usize),
    Group(usize),
}

/// A target, expanded to the units it applies to.
#[derive(Debug, Clone)]
pub struct Target {
    pub id: String,
    pub metric: TargetMetric,
    pub op: Op,
    pub threshold: f64,
    pub year: i32,
    pub units: Vec<Unit>,
}
