//! The Monte Carlo engine: draws, the projection of every region in every draw, group sums,
//! summaries and target probabilities.
//!
//! Work is split into tasks of (a chunk of regions) x (a block of draws). Every task computes
//! its own values from streams keyed by purpose, draw and entity, so the results do not depend
//! on how many threads run the tasks or in which order. Draw-level quantities shared by all
//! regions (the survival schedule of each year, the care prevalence of each year) are computed
//! once per draw inside a task and reused for every region of the chunk.
//!
//! Group figures are sums of their members' per-draw values, added in scenario order, and
//! ratios are recomputed from those sums: never by adding quantiles.
//!
//! This module knows nothing of files, tables or charts.

pub mod streams;
pub mod summary;

use rand::RngExt;
use rayon::prelude::*;

use crate::capacity::{self, CapacityPath};
use crate::care;
use crate::demography::projection::{FertilityRates, step};
use crate::demography::{N_AGES, aged_at_least};
use crate::dist::std_normal_quantile;
use crate::scenario::{Drift, Scenario, TargetMetric, Unit};
use streams::{Purpose, StreamRng, stream};
pub use summary::{SummaryStats, TargetResult, UnitSummary};

/// Metrics computed per unit, year and draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    PopulationTotal,
    Elderly,
    ElderlyRegistered,
    Aged65Plus,
    Aged80Plus,
    DependentPartial,
    DependentFull,
    DemandInstitutional,
    DemandNursing,
    SeasonalDemand,
    BedsInstitutional,
    BedsNursing,
    BedsCommunity,
    BedsTotal,
    UnmetNursingNeed,
    Caregivers,
    BedsPer1000Elderly,
    BedsPer1000Registered,
    NursingShare,
    DemandSupplyRatio,
    CaregiversPer10000Elderly,
}

/// Number of metrics.
pub const N_METRICS: usize = 21;
/// Five-year age groups of the population pyramid: 0-4, ..., 95-99, 100+.
pub const AGE_GROUPS: usize = 21;
/// Pyramid cells kept per unit and draw: (base year, horizon) x (male, female) x age group.
pub const PYRAMID_ROWS: usize = 4 * AGE_GROUPS;

/// Rows of per-draw values per unit: every metric in every year, then the pyramid cells.
pub fn rows_per_unit(n_years: usize) -> usize {
    N_METRICS * n_years + PYRAMID_ROWS
}

/// Row of a pyramid cell: `horizon` false for the base year; `sex` 0 male, 1 female.
pub fn pyramid_row(n_years: usize, horizon: bool, sex: usize, group: usize) -> usize {
    N_METRICS * n_years + (usize::from(horizon) * 2 + sex) * AGE_GROUPS + group
}
/// Metrics `0..N_ADDITIVE` are counts that groups sum; the rest are ratios recomputed from sums.
pub const N_ADDITIVE: usize = 16;

impl Metric {
    pub const ALL: [Metric; N_METRICS] = [
        Metric::PopulationTotal,
        Metric::Elderly,
        Metric::ElderlyRegistered,
        Metric::Aged65Plus,
        Metric::Aged80Plus,
        Metric::DependentPartial,
        Metric::DependentFull,
        Metric::DemandInstitutional,
        Metric::DemandNursing,
        Metric::SeasonalDemand,
        Metric::BedsInstitutional,
        Metric::BedsNursing,
        Metric::BedsCommunity,
        Metric::BedsTotal,
        Metric::UnmetNursingNeed,
        Metric::Caregivers,
        Metric::BedsPer1000Elderly,
        Metric::BedsPer1000Registered,
        Metric::NursingShare,
        Metric::DemandSupplyRatio,
        Metric::CaregiversPer10000Elderly,
    ];

    /// Column name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::PopulationTotal => "population_total",
            Metric::Elderly => "elderly",
            Metric::ElderlyRegistered => "elderly_registered",
            Metric::SeasonalDemand => "seasonal_demand_beds",
            Metric::Caregivers => "caregivers",
            Metric::BedsPer1000Registered => "beds_per_1000_registered_elderly",
            Metric::CaregiversPer10000Elderly => "caregivers_per_10000_elderly",
            Metric::Aged65Plus => "aged_65_plus",
            Metric::Aged80Plus => "aged_80_plus",
            Metric::DependentPartial => "dependent_partial",
            Metric::DependentFull => "dependent_full",
            Metric::DemandInstitutional => "demand_institutional_beds",
            Metric::DemandNursing => "demand_nursing_beds",
            Metric::BedsInstitutional => "beds_institutional",
            Metric::BedsNursing => "beds_nursing",
            Metric::BedsCommunity => "beds_community",
            Metric::BedsTotal => "beds_total",
            Metric::UnmetNursingNeed => "unmet_nursing_need",
            Metric::BedsPer1000Elderly => "beds_per_1000_elderly",
            Metric::NursingShare => "nursing_share",
            Metric::DemandSupplyRatio => "demand_supply_ratio",
        }
    }

    /// Unit of the metric, for tables and chart axes.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::PopulationTotal | Metric::Elderly | Metric::ElderlyRegistered | Metric::Aged65Plus | Metric::Aged80Plus => "persons",
            Metric::Caregivers => "certified caregivers",
            Metric::SeasonalDemand => "beds",
            Metric::BedsPer1000Registered => "beds per 1,000 registered elderly",
            Metric::CaregiversPer10000Elderly => "caregivers per 10,000 elderly",
            Metric::DependentPartial | Metric::DependentFull => "persons",
            Metric::DemandInstitutional | Metric::DemandNursing | Metric::UnmetNursingNeed => "beds",
            Metric::BedsInstitutional | Metric::BedsNursing | Metric::BedsCommunity | Metric::BedsTotal => "beds",
            Metric::BedsPer1000Elderly => "beds per 1,000 elderly",
            Metric::NursingShare => "share of institutional beds",
            Metric::DemandSupplyRatio => "institutional demand / institutional beds",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The metric a target tests.
pub fn target_metric(t: TargetMetric) -> Metric {
    match t {
        TargetMetric::BedsPer1000 => Metric::BedsPer1000Elderly,
        TargetMetric::BedsPer1000Registered => Metric::BedsPer1000Registered,
        TargetMetric::NursingShare => Metric::NursingShare,
        TargetMetric::DemandSupplyRatio => Metric::DemandSupplyRatio,
        TargetMetric::CaregiversPer10000 => Metric::CaregiversPer10000Elderly,
    }
}

/// Fills the ratio metrics of one unit-year from its counts. Undefined ratios (no elderly, no
/// institutional beds) are NaN and are reported as empty.
pub fn fill_ratios(v: &mut [f64; N_METRICS]) {
    let elderly = v[Metric::Elderly.index()];
    let inst = v[Metric::BedsInstitutional.index()];
    v[Metric::BedsPer1000Elderly.index()] = if elderly > 0.0 {
        1000.0 * v[Metric::BedsTotal.index()] / elderly
    } else {
        f64::NAN
    };
    v[Metric::NursingShare.index()] = if inst > 0.0 {
        v[Metric::BedsNursing.index()] / inst
    } else {
        f64::NAN
    };
    let registered = v[Metric::ElderlyRegistered.index()];
    v[Metric::BedsPer1000Registered.index()] = if registered > 0.0 {
        1000.0 * v[Metric::BedsTotal.index()] / registered
    } else {
        f64::NAN
    };
    v[Metric::CaregiversPer10000Elderly.index()] = if elderly > 0.0 {
        10000.0 * v[Metric::Caregivers.index()] / elderly
    } else {
        f64::NAN
    };
    v[Metric::DemandSupplyRatio.index()] = if inst > 0.0 {
        v[Metric::DemandInstitutional.index()] / inst
    } else {
        f64::NAN
    };
}

/// How a run is carried out (what it computes is all in the scenario).
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Draws per task. Any value gives the same results.
    pub block_draws: usize,
    /// Upper bound of the memory held for per-draw values of a chunk of regions, in bytes.
    pub chunk_bytes: usize,
    /// Keep every draw of every unit in the result.
    pub keep_draws: bool,
    /// Probability with which the "needed" columns of the targets table meet the target.
    pub confidence: f64,
    /// Called with the number of region-draws finished so far (from any thread).
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Checked between tasks; when it returns true the run stops with [`Cancelled`].
    pub cancelled: Option<&'a (dyn Fn() -> bool + Sync)>,
}

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            block_draws: 64,
            chunk_bytes: 512 << 20,
            keep_draws: false,
            confidence: 0.9,
            progress: None,
            cancelled: None,
        }
    }
}

/// The run was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the run was interrupted")]
pub struct Cancelled;

/// Per-draw values of one unit: `values[row * draws + draw]`, rows as in [`rows_per_unit`]
/// (metric `m` in year `y` is row `m * n_years + y`).
#[derive(Debug, Clone, PartialEq)]
pub struct UnitDraws {
    pub unit: Unit,
    pub values: Vec<f64>,
}

/// Everything a run produces.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub years: Vec<i32>,
    pub draws: usize,
    /// Regions first (scenario order), then groups.
    pub units: Vec<UnitSummary>,
    pub targets: Vec<TargetResult>,
    /// With `keep_draws`: every unit's per-draw values, in `units` order.
    pub kept: Option<Vec<UnitDraws>>,
}

/// Draw-level quantities shared by all regions of a draw.
struct DrawShared {
    /// One-year q by schedule and projection step: `q[schedule * n_steps + step]`.
    q: Vec<[[f64; N_AGES]; 2]>,
    /// Care prevalence by year index (0 = base year).
    partial: Vec<[[f64; N_AGES]; 2]>,
    full: Vec<[[f64; N_AGES]; 2]>,
    uptake: care::Uptake,
    /// Lee-Carter k offsets per sex and step, before shocks (for regional shocks).
    kappa_trend: Vec<[f64; 2]>,
}

fn kappa_shocks(s: &Scenario, rng: &mut StreamRng, n_steps: usize) -> Vec<[f64; 2]> {
    let mut acc = [0.0; 2];
    (0..n_steps)
        .map(|_| {
            let u = ((rng.random::<u64>() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let e = std_normal_quantile(u);
            for sex in 0..2 {
                acc[sex] += s.mortality.sigma[sex] * e;
            }
            acc
        })
        .collect()
}

fn q_schedule(s: &Scenario, kappa: [f64; 2], multiplier: f64, out: &mut [[f64; N_AGES]; 2]) {
    let m = &s.mortality;
    for sex in 0..2 {
        for x in 0..N_AGES {
            let mx = (m.base_log_m[sex][x] + m.b[sex][x] * kappa[sex]).exp() * multiplier;
            out[sex][x] = -(-mx).exp_m1();
        }
    }
}

/// The deterministic part of Lee-Carter's k (drift times the years since the base period) per
/// sex for each projection step of a draw.
fn kappa_trend(s: &Scenario, draw: u64) -> Vec<[f64; 2]> {
    let mut rng = stream(s.seed, Purpose::MortalityDrift, draw, 0);
    let drift = match &s.mortality.drift {
        Drift::Fitted { mean, se } => {
            let u = ((rng.random::<u64>() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let z = std_normal_quantile(u);
            [mean[0] + se[0] * z, mean[1] + se[1] * z]
        }
        Drift::Given(d) => {
            let v = d.sample(&mut rng);
            [v, v]
        }
    };
    (0..s.n_years() - 1)
        .map(|i| {
            let t = f64::from(s.base_year) + (i + 1) as f64 + 0.5 - s.mortality.base_mid;
            [drift[0] * t, drift[1] * t]
        })
        .collect()
}

/// Period life expectancy at birth by sex (`[male, female]`) in `year` of every draw, from the
/// same mortality streams as [`run`] (national shocks), for validation against other
/// projections. `year` must lie after the base year and up to the horizon.
pub fn life_expectancy_draws(s: &Scenario, year: i32) -> Vec<[f64; 2]> {
    let step = (year - s.base_year - 1).clamp(0, (s.n_years() as i32 - 2).max(0)) as usize;
    (0..s.draws as u64)
        .map(|draw| {
            let trend = kappa_trend(s, draw);
            let shocks = kappa_shocks(s, &mut stream(s.seed, Purpose::MortalityShock, draw, 0), s.n_years() - 1);
            let mut out = [0.0; 2];
            for (sex, e0) in out.iter_mut().enumerate() {
                let k = trend[step][sex] + shocks[step][sex];
                let mut m = [0.0; N_AGES];
                for (x, mx) in m.iter_mut().enumerate() {
                    *mx = (s.mortality.base_log_m[sex][x] + s.mortality.b[sex][x] * k).exp();
                }
                *e0 = crate::demography::mortality::life_expectancy(&m);
            }
            out
        })
        .collect()
}

impl DrawShared {
    fn new(s: &Scenario, draw: u64) -> DrawShared {
        let n_steps = s.n_years() - 1;
        let kappa_trend = kappa_trend(s, draw);
        let mut q = Vec::new();
        if s.mortality.national_shocks {
            let shocks = kappa_shocks(s, &mut stream(s.seed, Purpose::MortalityShock, draw, 0), n_steps);
            q = vec![[[0.0; N_AGES]; 2]; s.mortality.multipliers.len() * n_steps];
            for (si, &mult) in s.mortality.multipliers.iter().enumerate() {
                for i in 0..n_steps {
                    let k = [kappa_trend[i][0] + shocks[i][0], kappa_trend[i][1] + shocks[i][1]];
                    q_schedule(s, k, mult, &mut q[si * n_steps + i]);
                }
            }
        }
        let mut crng = stream(s.seed, Purpose::Care, draw, 0);
        let (partial, full, uptake) = care::draw_prevalence(&s.care, s.n_years(), &mut crng);
        DrawShared {
            q,
            partial,
            full,
            uptake,
            kappa_trend,
        }
    }
}

/// Projects one region in one draw and writes its metrics for every year into
/// `out[(metric * n_years + year) * stride]`, and its pyramid cells into the rows after them.
fn region_draw(s: &Scenario, r: usize, draw: u64, shared: &DrawShared, cap: &mut CapacityPath, out: &mut [f64], stride: usize) {
    let region = &s.regions[r];
    let n_years = s.n_years();
    let n_steps = n_years - 1;
    let mut pop = region.base;
    let tfr = region
        .tfr
        .as_ref()
        .unwrap_or(&s.fertility.tfr)
        .sample(&mut stream(s.seed, Purpose::Fertility, draw, region.key));
    let rate = region
        .migration_rate
        .as_ref()
        .unwrap_or(&s.migration.rate_per_1000)
        .sample(&mut stream(s.seed, Purpose::Migration, draw, region.key))
        / 1000.0;
    let mut mig = [[0.0; N_AGES]; 2];
    for sex in 0..2 {
        for x in 0..N_AGES {
            mig[sex][x] = rate * s.migration.weight[x];
        }
    }
    capacity::realise(s, r, draw, cap);
    let registered_ratio = region
        .registered_ratio
        .sample(&mut stream(s.seed, Purpose::Registered, draw, region.key));
    let regional_shocks = if s.mortality.national_shocks {
        None
    } else {
        Some(kappa_shocks(
            s,
            &mut stream(s.seed, Purpose::MortalityShock, draw, region.key),
            n_steps,
        ))
    };
    let mut q_local = [[0.0; N_AGES]; 2];
    let fert = FertilityRates {
        tfr,
        shape: &s.fertility.shape,
        male_share: s.fertility.male_share,
    };
    for yi in 0..n_years {
        if yi > 0 {
            let q = match &regional_shocks {
                None => &shared.q[region.mortality_schedule * n_steps + yi - 1],
                Some(sh) => {
                    let k = [
                        shared.kappa_trend[yi - 1][0] + sh[yi - 1][0],
                        shared.kappa_trend[yi - 1][1] + sh[yi - 1][1],
                    ];
                    q_schedule(s, k, s.mortality.multipliers[region.mortality_schedule], &mut q_local);
                    &q_local
                }
            };
            step(&mut pop, q, fert, &mig);
        }
        let mut v = [0.0; N_METRICS];
        v[Metric::PopulationTotal.index()] = aged_at_least(&pop, 0);
        v[Metric::Elderly.index()] = aged_at_least(&pop, s.elderly_age);
        v[Metric::ElderlyRegistered.index()] = registered_ratio * v[Metric::Elderly.index()];
        v[Metric::Aged65Plus.index()] = aged_at_least(&pop, 65);
        v[Metric::Aged80Plus.index()] = aged_at_least(&pop, 80);
        let need = care::need(&pop, &shared.partial[yi], &shared.full[yi], s.care.min_age, &shared.uptake);
        v[Metric::DependentPartial.index()] = need.partial;
        v[Metric::DependentFull.index()] = need.full;
        v[Metric::SeasonalDemand.index()] = cap.seasonal[yi];
        v[Metric::DemandInstitutional.index()] = need.demand_institutional + cap.seasonal[yi];
        v[Metric::Caregivers.index()] = cap.caregivers[yi];
        v[Metric::DemandNursing.index()] = need.demand_nursing;
        let (inst, nurs, comm) = (cap.institutional[yi], cap.nursing[yi], cap.community[yi]);
        v[Metric::BedsInstitutional.index()] = inst;
        v[Metric::BedsNursing.index()] = nurs;
        v[Metric::BedsCommunity.index()] = comm;
        v[Metric::BedsTotal.index()] = inst + comm;
        v[Metric::UnmetNursingNeed.index()] = (need.demand_nursing - nurs).max(0.0);
        fill_ratios(&mut v);
        for (m, val) in v.iter().enumerate() {
            out[(m * n_years + yi) * stride] = *val;
        }
        if yi == 0 || yi + 1 == n_years {
            for (sex, p) in pop.iter().enumerate() {
                for g in 0..AGE_GROUPS {
                    let cell: f64 = p[5 * g..(5 * g + 5).min(N_AGES)].iter().sum();
                    out[pyramid_row(n_years, yi != 0, sex, g) * stride] = cell;
                }
            }
        }
    }
}

/// Fixed-point scale of group sums: 2^20 units per person or bed (a resolution of about 1e-6).
/// Sums of integers are exact whatever their order, so group figures do not depend on the order
/// in which regions are added, and a run split by region merges to exactly the single-machine
/// result. The largest count (China's population, 1.4e9) times the scale is 1.5e15, far inside
/// i64.
pub const GROUP_SCALE: f64 = 1_048_576.0;

/// The part of a run that a set of regions produces: their summaries (and kept draws) and their
/// fixed-point contribution to every group's per-draw sums (`group_sums[g][row * draws + d]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartialRun {
    pub units: Vec<UnitSummary>,
    /// Written separately in binary by shards (see `report::shard`).
    #[serde(skip)]
    pub group_sums: Vec<Vec<i64>>,
    #[serde(skip)]
    pub kept: Vec<UnitDraws>,
}

/// Runs the scenario.
///
/// Uses the current rayon thread pool; results are identical for any pool size and any
/// `block_draws` or `chunk_bytes`.
///
/// # Errors
/// [`Cancelled`] when `options.cancelled` says so.
pub fn run(s: &Scenario, options: &RunOptions<'_>) -> Result<RunResult, Cancelled> {
    let all: Vec<usize> = (0..s.regions.len()).collect();
    let part = run_regions(s, options, &all)?;
    Ok(finish_run(s, options, vec![part]))
}

/// Runs the given regions (in increasing order) and returns their part of the run.
///
/// # Errors
/// [`Cancelled`] when `options.cancelled` says so.
pub fn run_regions(s: &Scenario, options: &RunOptions<'_>, regions: &[usize]) -> Result<PartialRun, Cancelled> {
    let n_years = s.n_years();
    let draws = s.draws;
    let n_regions = regions.len();
    let block = options.block_draws.max(1);
    let n_blocks = draws.div_ceil(block);
    let rows = rows_per_unit(n_years);
    let per_region = rows * draws;
    let chunk = (options.chunk_bytes / (per_region * 8).max(1)).clamp(1, n_regions.max(1));
    let done = std::sync::atomic::AtomicU64::new(0);

    let mut group_acc: Vec<Vec<i64>> = s.groups.iter().map(|_| vec![0; per_region]).collect();
    let mut units: Vec<UnitSummary> = Vec::with_capacity(n_regions);
    let mut kept: Vec<UnitDraws> = Vec::new();

    for chunk_regions in regions.chunks(chunk) {
        let chunk_regions: Vec<usize> = chunk_regions.to_vec();
        let nr = chunk_regions.len();
        // Each task: values [region][metric][year][draw in block].
        let blocks: Vec<Vec<f64>> = (0..n_blocks)
            .into_par_iter()
            .map(|b| {
                if options.cancelled.is_some_and(|c| c()) {
                    return Vec::new();
                }
                let d0 = b * block;
                let nd = block.min(draws - d0);
                let mut buf = vec![0.0; nr * rows * nd];
                let mut cap = CapacityPath::new(n_years);
                for dd in 0..nd {
                    let draw = (d0 + dd) as u64;
                    let shared = DrawShared::new(s, draw);
                    for (ri, &r) in chunk_regions.iter().enumerate() {
                        let base = ri * rows * nd + dd;
                        region_draw(s, r, draw, &shared, &mut cap, &mut buf[base..], nd);
                    }
                }
                if let Some(p) = options.progress {
                    let n = done.fetch_add((nd * nr) as u64, std::sync::atomic::Ordering::Relaxed) + (nd * nr) as u64;
                    p(n);
                }
                buf
            })
            .collect();
        if options.cancelled.is_some_and(|c| c()) {
            return Err(Cancelled);
        }
        // Reassemble per region: [metric][year][draw].
        let series: Vec<Vec<f64>> = (0..nr)
            .into_par_iter()
            .map(|ri| {
                let mut v = vec![0.0; per_region];
                for (b, buf) in blocks.iter().enumerate() {
                    let d0 = b * block;
                    let nd = block.min(draws - d0);
                    let src = &buf[ri * rows * nd..(ri + 1) * rows * nd];
                    for my in 0..rows {
                        v[my * draws + d0..my * draws + d0 + nd].copy_from_slice(&src[my * nd..(my + 1) * nd]);
                    }
                }
                v
            })
            .collect();
        drop(blocks);
        // Group sums of counts and pyramid cells, in fixed point (see GROUP_SCALE). Ratio rows
        // are recomputed from the sums when the run is finished.
        let counts = N_ADDITIVE * n_years * draws;
        let pyramid = N_METRICS * n_years * draws;
        for (ri, &r) in chunk_regions.iter().enumerate() {
            for (g, group) in s.groups.iter().enumerate() {
                if group.members.binary_search(&r).is_ok() {
                    let acc = &mut group_acc[g];
                    for (a, v) in acc[..counts].iter_mut().zip(&series[ri][..counts]) {
                        *a += (v * GROUP_SCALE).round() as i64;
                    }
                    for (a, v) in acc[pyramid..].iter_mut().zip(&series[ri][pyramid..]) {
                        *a += (v * GROUP_SCALE).round() as i64;
                    }
                }
            }
        }
        let summaries: Vec<UnitSummary> = series
            .par_iter()
            .zip(chunk_regions.par_iter())
            .map(|(v, &r)| summary::summarise(s, Unit::Region(r), v, options.confidence))
            .collect();
        units.extend(summaries);
        if options.keep_draws {
            kept.extend(series.into_iter().zip(&chunk_regions).map(|(values, &r)| UnitDraws {
                unit: Unit::Region(r),
                values,
            }));
        }
    }
    Ok(PartialRun {
        units,
        group_sums: group_acc,
        kept,
    })
}

/// Finishes a run from the parts of all its regions (each region in exactly one part): adds the
/// groups' fixed-point sums, computes group ratios and summaries, and collects target results.
pub fn finish_run(s: &Scenario, options: &RunOptions<'_>, parts: Vec<PartialRun>) -> RunResult {
    let n_years = s.n_years();
    let draws = s.draws;
    let per_region = rows_per_unit(n_years) * draws;
    let mut sums: Vec<Vec<i64>> = s.groups.iter().map(|_| vec![0; per_region]).collect();
    let mut units: Vec<UnitSummary> = Vec::new();
    let mut kept: Vec<UnitDraws> = Vec::new();
    for part in parts {
        for (acc, add) in sums.iter_mut().zip(&part.group_sums) {
            for (a, b) in acc.iter_mut().zip(add) {
                *a += b;
            }
        }
        units.extend(part.units);
        kept.extend(part.kept);
    }
    units.sort_by_key(|u| u.unit);
    kept.sort_by_key(|u| u.unit);
    let mut group_acc: Vec<Vec<f64>> = sums.iter().map(|v| v.iter().map(|x| *x as f64 / GROUP_SCALE).collect()).collect();
    drop(sums);
    for acc in &mut group_acc {
        for yi in 0..n_years {
            for d in 0..draws {
                let mut v = [0.0; N_METRICS];
                for (m, slot) in v.iter_mut().enumerate().take(N_ADDITIVE) {
                    *slot = acc[(m * n_years + yi) * draws + d];
                }
                fill_ratios(&mut v);
                for m in N_ADDITIVE..N_METRICS {
                    acc[(m * n_years + yi) * draws + d] = v[m];
                }
            }
        }
    }
    let group_summaries: Vec<UnitSummary> = group_acc
        .par_iter()
        .enumerate()
        .map(|(g, v)| summary::summarise(s, Unit::Group(g), v, options.confidence))
        .collect();
    units.extend(group_summaries);
    if options.keep_draws {
        kept.extend(group_acc.into_iter().enumerate().map(|(g, values)| UnitDraws {
            unit: Unit::Group(g),
            values,
        }));
    }
    let years: Vec<i32> = s.years().collect();
    let targets = summary::collect_targets(s, &units);
    RunResult {
        years,
        draws,
        units,
        targets,
        kept: options.keep_draws.then_some(kept),
    }
}
