//! The Monte Carlo engine: draws, the projection of every region in every draw, group sums,
//! summaries and target probabilities.
//!
//! A run is organised so that its memory does not grow with regions x draws x years:
//!
//! - Regions are taken in chunks. The per-draw values of a chunk's regions are held until they
//!   are summarised, then the buffer is reused for the next chunk. The chunk size follows from a
//!   memory budget ([`RunOptions::memory_bytes`]).
//! - A chunk is simulated by tasks of one block of draws each, run in parallel. A task computes
//!   what the regions of a draw share (the survival schedule of every year, the care
//!   prevalence, the samples of shared stock entries and plan items) once per draw and reuses it
//!   for every region of the chunk ([`kernel`]).
//! - Each region is summarised one year at a time by exact selection ([`select`]), in parallel.
//!   The job that summarises a year of a group's regions also adds their values into the
//!   group's sums, while they are still in cache.
//! - A group's per-draw sums are kept in fixed point while its members are being simulated:
//!   each region is added to its own group, and a finished group is added to its parent, so
//!   only the groups on the current path of the hierarchy are held at once. Regions are taken
//!   in the order of the group hierarchy to keep that path short.
//! - When even one region's values for every year would not fit the budget (very many draws),
//!   the run is made in passes over a few years each, simulating every pass again.
//!
//! Every task computes its values from streams keyed by purpose, draw and entity, integer sums
//! do not depend on their order, and each summary sees the same values, so the results do not
//! depend on the number of threads, the block, chunk or pass sizes, or the order of work.
//!
//! This module knows nothing of files, tables or charts.

/// Defines `$name`, which runs the body `$any` compiled for AVX-512 (a nested function) when
/// the CPU has it, for AVX2 (`$avx2`) when it has that, and as built otherwise. The body is
/// `#[inline(always)]`, so it is compiled into each; it uses no fused multiply-add and sums in
/// a fixed order, so all give the same bits (tested), and a result never depends on the
/// machine's vector width. With AVX-512 the kernel's 16 lanes of a draw block fill one 512-bit
/// register, so each operation on a `V` is one instruction (two with AVX2, four with SSE2).
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident / $avx2:ident => $any:ident ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2")]
                #[allow(clippy::too_many_arguments)]
                fn wide($($arg: $ty),*) $(-> $ret)? {
                    $any($($arg),*)
                }
                if $crate::montecarlo::wide_vectors() {
                    // SAFETY: the CPU has these AVX-512 subsets and AVX2 (checked by
                    // `wide_vectors`), the only requirement of the call.
                    return unsafe { wide($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above), the only requirement of the call.
                    return unsafe { $avx2($($arg),*) };
                }
            }
            $any($($arg),*)
        }

        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        #[allow(clippy::too_many_arguments)]
        fn $avx2($($arg: $ty),*) $(-> $ret)? {
            $any($($arg),*)
        }
    };
}

/// Whether the engine's vector code runs its AVX-512 build: when the CPU has AVX-512 (F, VL,
/// BW, DQ) and the environment variable `BEDSIM_NO_AVX512` is not set. The variable exists to
/// compare the builds on one machine; they give the same bits (tested).
#[cfg(target_arch = "x86_64")]
pub fn wide_vectors() -> bool {
    static WIDE: OnceLock<bool> = OnceLock::new();
    *WIDE.get_or_init(|| {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512dq")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::env::var_os("BEDSIM_NO_AVX512").is_none()
    })
}

/// Whether the engine's vector code runs its AVX-512 build: never on this architecture.
#[cfg(not(target_arch = "x86_64"))]
pub fn wide_vectors() -> bool {
    false
}

/// The build of the engine's vector code this machine runs: "avx512", "avx2" or "baseline".
pub fn vector_build() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    if !wide_vectors() && std::arch::is_x86_feature_detected!("avx2") {
        return "avx2";
    }
    if wide_vectors() { "avx512" } else { "baseline" }
}

pub mod kernel;
pub mod observe;
pub mod reference;
pub mod select;
pub mod staged;
pub mod summary;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rand::RngExt;
use rayon::prelude::*;

use crate::capacity::EntryCache;
use crate::demography::N_AGES;
use crate::dist::std_normal_quantile;
use crate::scenario::{Drift, Scenario, TargetMetric, Unit};
use crate::streams::{Purpose, StreamRng, stream};
use kernel::{Constants, PassRows};
pub use summary::{SummaryStats, TargetResult, UnitSummary};

pub use crate::metric::{AGE_GROUPS, Metric, N_METRICS, N_STORED, PYRAMID_CELLS, full_rows};

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

/// The Lee-Carter shocks of a draw, accumulated: `k` offsets per sex for each projection step.
///
/// k is known at the middle of the base period (`base_mid`); the random walk runs from there,
/// so the first projected year (whose middle is `base_year + 1.5`) carries the shocks of the
/// years between, `sigma * sqrt(base_year + 1.5 - base_mid)` (2020 from a 2015-2020 base period:
/// 3.5 years), and each later year one more year's.
pub(crate) fn kappa_shocks(s: &Scenario, rng: &mut StreamRng, n_steps: usize) -> Vec<[f64; 2]> {
    let gap = (f64::from(s.base_year) + 1.5 - s.mortality.base_mid).abs();
    let mut acc = [0.0; 2];
    (0..n_steps)
        .map(|i| {
            let u = ((rng.random::<u64>() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let e = std_normal_quantile(u) * if i == 0 { gap.sqrt() } else { 1.0 };
            for sex in 0..2 {
                acc[sex] += s.mortality.sigma[sex] * e;
            }
            acc
        })
        .collect()
}

/// The net migration rate of region `r` in `draw`, per person per year at ages of weight 1: the
/// region's own (or the scenario's) plus the shared rate of each enclosing group that has one.
pub(crate) fn migration_rate(s: &Scenario, r: usize, draw: u64) -> f64 {
    let sample = |d: &crate::dist::Dist, key: u64| match d.as_fixed() {
        Some(v) => v,
        None => d.sample(&mut stream(s.seed, Purpose::Migration, draw, key)),
    };
    let region = &s.regions[r];
    let mut rate = sample(region.migration_rate.as_ref().unwrap_or(&s.migration.rate_per_1000), region.key);
    let mut g = region.group;
    while let Some(gi) = g {
        let group = &s.groups[gi];
        if let Some(d) = &group.migration_rate {
            rate += sample(d, group.key);
        }
        g = group.parent;
    }
    rate / 1000.0
}

/// [`migration_rate`] for draws `d0..d0 + lanes` (lane `l` is draw `d0 + l`; later lanes are
/// left 0), with the same operations in the same order, so the same bits. A group's shared
/// rate is the same for every region below it, so its samples for a block are made once and
/// kept in `cache` for the next regions (the regions of a chunk run in group order): in the
/// national scenario that is one Laplace sample, with its stream and logarithm, saved for each
/// county and draw.
///
/// `keys` are the migration [`crate::streams::DrawKey`]s of the block's draws.
pub(crate) fn migration_rates(
    s: &Scenario,
    r: usize,
    d0: usize,
    lanes: usize,
    keys: &[crate::streams::DrawKey; kernel::LANES],
    cache: &mut GroupRates,
) -> [f64; kernel::LANES] {
    let sample = |d: &crate::dist::Dist, key: u64, l: usize| match d.as_fixed() {
        Some(v) => v,
        None => d.sample(&mut crate::streams::entity_stream(keys[l], key)),
    };
    let region = &s.regions[r];
    let own = region.migration_rate.as_ref().unwrap_or(&s.migration.rate_per_1000);
    let mut rate = [0.0; kernel::LANES];
    for (l, v) in rate.iter_mut().enumerate().take(lanes) {
        *v = sample(own, region.key, l);
    }
    let mut g = region.group;
    while let Some(gi) = g {
        let group = &s.groups[gi];
        if let Some(d) = &group.migration_rate {
            if cache.slots.len() < s.groups.len() {
                cache.slots.resize(s.groups.len(), None);
            }
            let slot = &mut cache.slots[gi];
            if !matches!(slot, Some((at, n, _)) if *at == d0 && *n == lanes) {
                let mut v = [0.0; kernel::LANES];
                for (l, x) in v.iter_mut().enumerate().take(lanes) {
                    *x = sample(d, group.key, l);
                }
                *slot = Some((d0, lanes, v));
            }
            if let Some((_, _, v)) = slot {
                for l in 0..lanes {
                    rate[l] += v[l];
                }
            }
        }
        g = group.parent;
    }
    for v in rate.iter_mut().take(lanes) {
        *v /= 1000.0;
    }
    rate
}

/// Groups' shared migration samples, by group: the first draw and the number of draws of the
/// block they are for, and the samples. Each is a function of the scenario, the group and the
/// draws only, so a kept one is valid for any region and chunk.
#[derive(Default)]
pub(crate) struct GroupRates {
    slots: Vec<Option<(usize, usize, [f64; kernel::LANES])>>,
}

/// The share of the migration schedules that goes on in `draw` (national, the same for every
/// region).
pub(crate) fn migration_persistence(s: &Scenario, draw: u64) -> f64 {
    match s.migration.persistence.as_fixed() {
        Some(v) => v,
        None => s
            .migration
            .persistence
            .sample(&mut stream(s.seed, Purpose::MigrationPersistence, draw, 0)),
    }
}

/// The deterministic part of Lee-Carter's k (drift times the years since the base period) per
/// sex for each projection step of a draw.
pub(crate) fn kappa_trend(s: &Scenario, draw: u64) -> Vec<[f64; 2]> {
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
    (0..s.draws)
        .map(|index| {
            let draw = s.draw_id(index);
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

/// How a run is carried out (what it computes is all in the scenario).
#[derive(Clone, Copy)]
pub struct RunOptions<'a> {
    /// Largest number of draws per task, at most [`kernel::LANES`] (the draws the kernel projects
    /// together). Any value gives the same results.
    pub block_draws: usize,
    /// Budget, in bytes, for the per-draw values held at once: the regions of a chunk and the
    /// group sums being built. Any value gives the same results; a smaller one means smaller
    /// chunks and, when even one region does not fit, passes over a few years at a time.
    pub memory_bytes: usize,
    /// Keep every draw of every unit in the result (memory grows with units x draws x years).
    pub keep_draws: bool,
    /// Probability with which the "needed" columns of the targets table meet the target.
    pub confidence: f64,
    /// Called with (region-draws projected so far, region-draws in the whole run), from any
    /// thread.
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
    /// Checked between tasks; when it returns true the run stops with [`Cancelled`].
    pub cancelled: Option<&'a (dyn Fn() -> bool + Sync)>,
}

/// The default memory budget for per-draw values: 1 GiB.
pub const DEFAULT_MEMORY_BYTES: usize = 1 << 30;

impl Default for RunOptions<'_> {
    fn default() -> Self {
        RunOptions {
            block_draws: 16,
            memory_bytes: DEFAULT_MEMORY_BYTES,
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

/// Per-draw values of one unit: `values[(metric * n_years + year) * draws + draw]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitDraws {
    pub unit: Unit,
    pub values: Vec<f64>,
}

/// Where the time of a run went (wall seconds, summed over chunks and passes) and how it was
/// split.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RunTiming {
    /// Projecting the regions (population, care need, capacity).
    pub project: f64,
    /// Summaries and target results of the regions.
    pub summarise_regions: f64,
    /// Adding regions into their groups, and the groups' summaries.
    pub groups: f64,
    /// Passes over the years (1 unless the memory budget is small for the number of draws).
    pub passes: usize,
    /// Regions per chunk.
    pub chunk_regions: usize,
    /// Draws per task.
    pub block_draws: usize,
    /// Whether the national mortality tables of every block were kept for the whole run
    /// (rather than computed again for each chunk).
    pub mortality_tables_kept: bool,
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
    pub timing: RunTiming,
}

/// Fixed-point scale of group sums: 2^16 units per person or bed (a resolution of 1.5e-5).
/// Sums of integers are exact whatever their order, so group figures do not depend on the order
/// in which regions are added, and a run split by region merges to exactly the single-machine
/// result. The largest count (China's population, 1.4e9) times the scale is 9e13, far inside
/// i64.
pub const GROUP_SCALE: f64 = 65_536.0;

/// A count in fixed point, rounded to the nearest step (ties to even): adding 1.5 * 2^52 leaves
/// the rounded integer in the low bits of the sum, which vectorises where `as i64` does not.
/// Exact for |v| * GROUP_SCALE < 2^51, that is counts up to 34 billion; larger ones (no region
/// has them) saturate there.
#[inline(always)]
fn to_fixed(v: f32) -> i64 {
    const MAGIC: f64 = 6_755_399_441_055_744.0;
    const LIMIT: f64 = 2_251_799_813_685_247.0;
    let x = (f64::from(v) * GROUP_SCALE).clamp(-LIMIT, LIMIT);
    ((x + MAGIC).to_bits() as i64).wrapping_sub(MAGIC.to_bits() as i64)
}

/// Writes the fixed-point values of `values` into `sums`.
fn set_fixed(sums: &mut [i64], values: &[f32]) {
    for (a, v) in sums.iter_mut().zip(values) {
        *a = to_fixed(*v);
    }
}

simd_dispatch! {
    /// Adds the fixed-point values of `values` into `sums`.
    fn add_fixed / add_fixed_avx2 => add_fixed_any(sums: &mut [i64], values: &[f32])
}

#[inline(always)]
fn add_fixed_any(sums: &mut [i64], values: &[f32]) {
    for (a, v) in sums.iter_mut().zip(values) {
        *a += to_fixed(*v);
    }
}

simd_dispatch! {
    /// `out[d] = from_fixed(sums[d])`: with AVX-512 DQ eight conversions from i64 at once (the
    /// baseline build converts one at a time). The same bits in every build.
    fn fixed_to_f32 / fixed_to_f32_avx2 => fixed_to_f32_any(sums: &[i64], out: &mut [f32])
}

#[inline(always)]
fn fixed_to_f32_any(sums: &[i64], out: &mut [f32]) {
    for (o, v) in out.iter_mut().zip(sums) {
        *o = from_fixed(*v);
    }
}

#[inline(always)]
fn from_fixed(v: i64) -> f32 {
    (v as f64 / GROUP_SCALE) as f32
}

/// The part of a run that a set of regions produces: the summaries of its regions and of the
/// groups all of whose members it holds, and, for the other groups it touches, the fixed-point
/// sums of its members (`group_sums`, each `full_rows(n_years) * draws` long, `[row][draw]`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PartialRun {
    pub units: Vec<UnitSummary>,
    /// The groups whose partial sums are in `group_sums`, in the same order.
    pub partial_groups: Vec<usize>,
    /// Written separately in binary by shards (see `report::shard`).
    #[serde(skip)]
    pub group_sums: Vec<Vec<i64>>,
    #[serde(skip)]
    pub kept: Vec<UnitDraws>,
    #[serde(skip)]
    pub timing: RunTiming,
}

/// Runs the scenario.
///
/// Uses the current rayon thread pool; results are identical for any pool size and any
/// `block_draws` or `memory_bytes`.
///
/// # Errors
/// [`Cancelled`] when `options.cancelled` says so.
pub fn run(s: &Scenario, options: &RunOptions<'_>) -> Result<RunResult, Cancelled> {
    let all: Vec<usize> = (0..s.regions.len()).collect();
    let part = run_regions(s, options, &all)?;
    Ok(finish_run(s, options, vec![part]))
}

/// Position of each group in a depth-first walk of the group tree (parents before children,
/// siblings in scenario order), and each group's depth.
fn group_tree_order(s: &Scenario) -> (Vec<usize>, Vec<usize>) {
    let n = s.groups.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    for (g, group) in s.groups.iter().enumerate() {
        match group.parent {
            Some(p) => children[p].push(g),
            None => roots.push(g),
        }
    }
    let (mut rank, mut depth) = (vec![0; n], vec![0; n]);
    let mut next = 0;
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&g| (g, 0)).collect();
    while let Some((g, d)) = stack.pop() {
        rank[g] = next;
        depth[g] = d;
        next += 1;
        stack.extend(children[g].iter().rev().map(|&c| (c, d + 1)));
    }
    (rank, depth)
}

/// How a set of regions is worked through: their order, the groups they touch, the passes and
/// the chunk size.
struct WorkPlan {
    /// Regions in processing order (the order of the group hierarchy).
    order: Vec<usize>,
    /// Members of each group within the part.
    in_part: Vec<usize>,
    /// Position in `order` of each group's last member in the part.
    last_pos: Vec<usize>,
    depth: Vec<usize>,
    passes: Vec<PassRows>,
    chunk: usize,
    block: usize,
    /// Whether the mortality tables of each block are kept for the whole run (computed by the
    /// first chunk, reused by the others) rather than computed again for every chunk.
    keep_tables: bool,
}

impl WorkPlan {
    fn new(s: &Scenario, c: &Constants, options: &RunOptions<'_>, regions: &[usize]) -> WorkPlan {
        let (rank, depth) = group_tree_order(s);
        let mut order = regions.to_vec();
        order.sort_by_key(|&r| (s.regions[r].group.map(|g| rank[g] + 1).unwrap_or(0), r));
        let n_groups = s.groups.len();
        let mut in_part = vec![0; n_groups];
        let mut first_pos = vec![usize::MAX; n_groups];
        let mut last_pos = vec![0; n_groups];
        for (pos, &r) in order.iter().enumerate() {
            let mut g = s.regions[r].group;
            while let Some(gi) = g {
                in_part[gi] += 1;
                first_pos[gi] = first_pos[gi].min(pos);
                last_pos[gi] = pos;
                g = s.groups[gi].parent;
            }
        }
        // Groups whose sums are held at once: the most group intervals covering one position.
        let mut events: Vec<(usize, i64)> = Vec::new();
        for g in 0..n_groups {
            if in_part[g] > 0 {
                events.push((first_pos[g], 1));
                events.push((last_pos[g] + 1, -1));
            }
        }
        events.sort_unstable();
        let (mut live, mut max_live) = (0i64, 0i64);
        for (_, e) in events {
            live += e;
            max_live = max_live.max(live);
        }
        let draws = s.draws;
        let n_years = s.n_years();
        let region_bytes = |years: usize| (years * N_STORED + 2 * AGE_GROUPS) * draws * 4;
        // Group sums are i64, twice a region's f32. A finished group's sums move into its
        // parent, whose interval covers the child's, so `max_live` buffers are the most held.
        let group_bytes = |years: usize| 2 * region_bytes(years) * max_live as usize;
        let budget = options.memory_bytes;
        let mut years = n_years;
        while years > 1 && group_bytes(years) + region_bytes(years) > budget {
            years = years.div_ceil(2);
        }
        let passes: Vec<PassRows> = (0..n_years)
            .step_by(years)
            .map(|y0| PassRows {
                years: y0..(y0 + years).min(n_years),
                pyramid: y0 + years >= n_years,
                independent: false,
            })
            .collect();
        // Enough tasks per chunk to keep every thread busy, at most `block_draws` draws each.
        let threads = rayon::current_num_threads().max(1);
        let block = draws.div_ceil(4 * threads).clamp(1, options.block_draws.clamp(1, kernel::LANES));
        // Mortality tables (about 30 KB per projection step and block) are kept for the run when
        // there is more than one chunk to reuse them and they take at most half the budget:
        // computing them again for every chunk costs more than the smaller chunks they leave.
        let chunk_for =
            |budget: usize| (budget.saturating_sub(group_bytes(years)) / region_bytes(years).max(1)).clamp(1, order.len().max(1));
        let table_bytes = draws.div_ceil(block) * (n_years - 1) * kernel::MortalityBlock::bytes_per_step(c);
        let chunk = chunk_for(budget);
        let repeated = passes.len() > 1 || order.len() > chunk;
        let keep_tables = s.mortality.national_shocks && repeated && table_bytes <= budget / 2;
        let chunk = if keep_tables { chunk_for(budget - table_bytes) } else { chunk };
        WorkPlan {
            order,
            in_part,
            last_pos,
            depth,
            passes,
            chunk,
            block,
            keep_tables,
        }
    }
}

impl WorkPlan {
    /// The groups whose last member in the part lies at positions `range` of `order`, deepest
    /// first: the order in which they are finished (each before its parent).
    fn finishing(&self, range: std::ops::Range<usize>) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.in_part.len())
            .filter(|&g| self.in_part[g] > 0 && range.contains(&self.last_pos[g]))
            .collect();
        out.sort_by_key(|&g| (std::cmp::Reverse(self.depth[g]), g));
        out
    }
}

/// The draws of each task: `(first draw, number of draws)`.
fn blocks(draws: usize, block: usize) -> Vec<(usize, usize)> {
    (0..draws).step_by(block).map(|d0| (d0, block.min(draws - d0))).collect()
}

/// Asks Linux to back the large buffer `v` with 2 MB pages where it can (transparent huge
/// pages in `madvise` mode, the usual default), before its pages are first written.
///
/// The chunk buffer and the groups' sums are hundreds of megabytes, written and read a row at a
/// time with rows `draws` values apart: with 4 KB pages nearly every row a block writes is on a
/// page of its own, beyond what the TLB holds, so each store first walks the page tables, and
/// every page is faulted in separately (the national run at 4,000 draws took 690,000 faults).
/// With 2 MB pages the national chunk buffer fits the second-level TLB. On the Zen 3 CI machine
/// (AVX2), the national run at 4,000 draws on 2 threads, alternated four times: simulation
/// 38.8 / 39.2 / 41.0 / 40.2 -> 36.8 / 35.3 / 35.3 / 38.0 s, `project` 1.14 times faster. (Two
/// runs side by side, one thread each, showed no gain: they share the memory bandwidth.) The
/// contents and the results do not change; where huge pages are off, or elsewhere than Linux,
/// this does nothing.
fn advise_huge_pages<T>(v: &[T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = std::mem::size_of_val(v);
        if bytes < 8 * HUGE {
            return;
        }
        let at = v.as_ptr() as usize;
        let (first, end) = (at.next_multiple_of(HUGE), (at + bytes) / HUGE * HUGE);
        if end > first {
            // SAFETY: the range is page-aligned and inside `v`'s allocation; MADV_HUGEPAGE
            // changes neither the contents nor the validity of the mapping, only how it is
            // backed. A kernel that refuses (huge pages off) returns an error, which changes
            // nothing either.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

/// Values whose first one starts a cache line (64 bytes): the chunk buffer (zeroed `f32`s) and
/// the selection's keys (`u32` scratch written afresh at each use).
///
/// The kernel writes a block of 16 draws of a row as one 64-byte store, and the selection loads
/// and stores its keys 16 at a time. A large `Vec` from the system allocator starts 16 bytes into
/// a page, so each of those stores crossed two cache lines, with twice the lines to fetch and a
/// split store every time; aligned, the projection of the national run took about 5% less time
/// (same tables).
#[derive(Default)]
pub(crate) struct LineAligned<T> {
    store: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> LineAligned<T> {
    /// Values in a line beyond the first one's: the most `start` can need.
    const PAD: usize = 64 / std::mem::size_of::<T>();

    /// `len` values of `T::default()`.
    pub(crate) fn zeroed(len: usize) -> LineAligned<T> {
        // `vec![0.0; n]` takes zeroed pages from the system as they are first written rather than
        // clearing them all here.
        let store = vec![T::default(); len + Self::PAD];
        let start = store.as_ptr().align_offset(64).min(Self::PAD);
        advise_huge_pages(&store);
        LineAligned { store, start, len }
    }

    /// Makes the buffer `len` values long, for reuse. What it holds is left over from before
    /// (or the default): the caller writes every value.
    pub(crate) fn reset(&mut self, len: usize) {
        if self.store.len() < len + Self::PAD {
            self.store.resize(len + Self::PAD, T::default());
        }
        self.start = self.store.as_ptr().align_offset(64).min(Self::PAD);
        self.len = len;
    }
}

impl<T> std::ops::Deref for LineAligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.store[self.start..self.start + self.len]
    }
}

impl<T> std::ops::DerefMut for LineAligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.store[self.start..self.start + self.len]
    }
}

/// A chunk's per-draw values, series by series: `[region][row][draw]`.
struct ChunkValues<'a> {
    buf: &'a [f32],
    rows: usize,
    draws: usize,
}

impl ChunkValues<'_> {
    fn series(&self, ri: usize, row: usize) -> &[f32] {
        let start = (ri * self.rows + row) * self.draws;
        &self.buf[start..start + self.draws]
    }
}

/// The chunk buffer while tasks write into it: each task owns a block of draws and writes that
/// block of every series, through [`kernel::BlockOut`]s.
struct ChunkWriter<'a> {
    ptr: *mut f32,
    regions: usize,
    rows: usize,
    draws: usize,
    /// The writer borrows the buffer mutably for as long as it lives.
    _buf: std::marker::PhantomData<&'a mut [f32]>,
}

// SAFETY: tasks write disjoint elements (their own draws) through the pointer, and the buffer
// outlives them (the parallel loop that uses the writer ends before the buffer is touched again).
unsafe impl Sync for ChunkWriter<'_> {}
unsafe impl Send for ChunkWriter<'_> {}

impl<'a> ChunkWriter<'a> {
    fn new(buf: &'a mut [f32], regions: usize, rows: usize, draws: usize) -> ChunkWriter<'a> {
        assert_eq!(buf.len(), regions * rows * draws);
        ChunkWriter {
            ptr: buf.as_mut_ptr(),
            regions,
            rows,
            draws,
            _buf: std::marker::PhantomData,
        }
    }

    /// Draws `d0..d0 + lanes` of every row of region `ri`. Each draw must be written by one
    /// task only.
    fn block(&self, ri: usize, d0: usize, lanes: usize) -> kernel::BlockOut {
        assert!(ri < self.regions && d0 + lanes <= self.draws && lanes <= kernel::LANES);
        let start = ri * self.rows * self.draws + d0;
        // SAFETY: for row < rows, the elements start + row * draws + (0..lanes) lie inside the
        // buffer (ri < regions, d0 + lanes <= draws); the draws belong to the calling task only
        // (see `run_regions`), so no other thread touches them while the block is written.
        unsafe { kernel::BlockOut::new(self.ptr.add(start), self.draws, self.rows, lanes) }
    }
}

/// Per-task scratch of the projection, reused from task to task.
struct TaskScratch {
    /// National mortality of the block's draws (when the run does not keep it for every block).
    mort: Option<kernel::MortalityBlock>,
    /// Mortality of one region with its own shocks.
    local: kernel::MortalityBlock,
    care: kernel::CareBlock,
    inputs: kernel::RegionBlock,
    entries: EntryCache,
    pop: Box<kernel::Lines<[kernel::AgeLanes; 2]>>,
    next: Box<kernel::Lines<[kernel::AgeLanes; 2]>>,
}

impl TaskScratch {
    fn new(s: &Scenario, c: &Constants) -> TaskScratch {
        let n_years = s.n_years();
        TaskScratch {
            mort: None,
            local: kernel::MortalityBlock::new(c, n_years - 1),
            care: kernel::CareBlock::new(n_years),
            inputs: kernel::RegionBlock::new(c, n_years),
            entries: EntryCache::with_classes(s, kernel::LANES, std::sync::Arc::clone(&c.supply)),
            pop: Box::new(kernel::Lines([[[0.0; kernel::LANES]; N_AGES]; 2])),
            next: Box::new(kernel::Lines([[[0.0; kernel::LANES]; N_AGES]; 2])),
        }
    }
}

/// Projects the regions of a chunk through the draws `d0..d0 + nd` (at most
/// [`kernel::LANES`]): the draw-level tables of the block are made first, then each region is
/// projected through the block's draws at once.
#[allow(clippy::too_many_arguments)]
fn project_block(
    s: &Scenario,
    c: &Constants,
    chunk: &[usize],
    rows: &PassRows,
    d0: usize,
    nd: usize,
    out: &ChunkWriter<'_>,
    kept: Option<&OnceLock<kernel::MortalityBlock>>,
    t: &mut TaskScratch,
) {
    let n_steps = s.n_years() - 1;
    let national = s.mortality.national_shocks;
    // kappa[step][sex][lane]; lanes past the block repeat its first draw.
    let mut kappa = vec![[[0.0; kernel::LANES]; 2]; n_steps];
    let mut trends: Vec<Vec<[f64; 2]>> = Vec::with_capacity(nd);
    let mut persistence = [0.0; kernel::LANES];
    t.care.clear();
    for l in 0..nd {
        let draw = s.draw_id(d0 + l);
        let trend = kappa_trend(s, draw);
        if national {
            let shocks = kappa_shocks(s, &mut stream(s.seed, Purpose::MortalityShock, draw, 0), n_steps);
            set_kappa(&mut kappa, l, nd, &trend, &shocks);
        }
        t.care.push_lane(&s.care, s.seed, draw);
        persistence[l] = migration_persistence(s, draw);
        trends.push(trend);
    }
    t.care.finish(s, c);
    if national {
        let fresh = || {
            let mut m = kernel::MortalityBlock::new(c, n_steps);
            m.fill(s, c, &kappa);
            m
        };
        match kept {
            Some(k) => {
                k.get_or_init(fresh);
            }
            None => {
                let m = t.mort.get_or_insert_with(|| kernel::MortalityBlock::new(c, n_steps));
                m.fill(s, c, &kappa);
            }
        }
    }
    for (ri, &r) in chunk.iter().enumerate() {
        let region = &s.regions[r];
        t.inputs.fill(s, c, r, d0, nd, &persistence, &mut t.entries);
        let mort = if national {
            match kept {
                Some(k) => k.get().expect("the block's mortality is filled"),
                None => t.mort.as_ref().expect("the block's mortality is filled"),
            }
        } else {
            for (l, trend) in trends.iter().enumerate() {
                let draw = s.draw_id(d0 + l);
                let shocks = kappa_shocks(s, &mut stream(s.seed, Purpose::MortalityShock, draw, region.key), n_steps);
                set_kappa(&mut kappa, l, nd, trend, &shocks);
            }
            t.local.fill(s, c, &kappa);
            &t.local
        };
        kernel::project(
            s,
            c,
            r,
            &mut t.inputs,
            mort,
            &t.care,
            rows,
            &mut t.pop.0,
            &mut t.next.0,
            &mut out.block(ri, d0, nd),
        );
    }
    kernel::fence_stores();
}

/// Sets lane `l` of `kappa` to trend + shocks (and, for the first lane, every lane past the
/// block's `nd`).
fn set_kappa(kappa: &mut [[[f64; kernel::LANES]; 2]], l: usize, nd: usize, trend: &[[f64; 2]], shocks: &[[f64; 2]]) {
    for (i, k) in kappa.iter_mut().enumerate() {
        for sex in 0..2 {
            let v = trend[i][sex] + shocks[i][sex];
            k[sex][l] = v;
            if l == 0 {
                k[sex][nd..].iter_mut().for_each(|x| *x = v);
            }
        }
    }
}

/// Where a unit's counts are read from when it is summarised.
enum Source<'a> {
    Region(&'a ChunkValues<'a>, usize),
    /// A group's fixed-point sums `[row][draw]`.
    Group(&'a [i64], usize),
}

impl Source<'_> {
    /// The draws of one row, borrowed or converted into `buf`.
    fn read<'b>(&'b self, row: usize, buf: &'b mut Vec<f32>) -> &'b [f32] {
        match self {
            Source::Region(v, ri) => v.series(*ri, row),
            Source::Group(sums, draws) => {
                buf.resize(*draws, 0.0);
                fixed_to_f32(&sums[row * draws..(row + 1) * draws], buf);
                buf
            }
        }
    }
}

/// One piece of summarising work: a year of a unit, or its horizon pyramid.
#[derive(Clone, Copy)]
enum Item {
    Year(usize),
    Pyramid,
}

/// What one [`Item`] gives.
enum ItemResult {
    Year(usize, Box<summary::YearSummary>),
    Pyramid(Vec<Option<SummaryStats>>),
}

/// Everything needed to summarise units.
struct Summariser<'a> {
    s: &'a Scenario,
    cancelled: Option<&'a (dyn Fn() -> bool + Sync)>,
    /// Targets of each unit by year: `targets[unit_index][year]` (regions, then groups).
    targets: Vec<Vec<Vec<usize>>>,
    confidence: f64,
    keep: bool,
}

impl Summariser<'_> {
    fn new<'a>(s: &'a Scenario, options: &RunOptions<'a>) -> Summariser<'a> {
        let n_years = s.n_years();
        let mut targets = vec![vec![Vec::new(); n_years]; s.regions.len() + s.groups.len()];
        for (ti, t) in s.targets.iter().enumerate() {
            let yi = (t.year - s.base_year) as usize;
            for u in &t.units {
                targets[unit_index(s, *u)][yi].push(ti);
            }
        }
        Summariser {
            s,
            cancelled: options.cancelled,
            targets,
            confidence: options.confidence,
            keep: options.keep_draws,
        }
    }

    fn item(&self, unit: Unit, src: &Source<'_>, rows: &PassRows, item: Item, scratch: &mut summary::YearScratch) -> ItemResult {
        match item {
            Item::Year(yi) => {
                let mut bufs = std::mem::take(&mut scratch.counts);
                bufs.resize_with(N_STORED, Vec::new);
                let mut rest: &mut [Vec<f32>] = &mut bufs;
                let mut refs: Vec<&[f32]> = Vec::with_capacity(N_STORED);
                for m in 0..N_STORED {
                    let (first, tail) = rest.split_first_mut().expect("one buffer per stored metric");
                    refs.push(src.read(rows.metric_row(yi, m), first));
                    rest = tail;
                }
                let refs: [&[f32]; N_STORED] = std::array::from_fn(|m| refs[m]);
                let targets = &self.targets[unit_index(self.s, unit)][yi];
                let y = summary::unit_year(self.s, unit, &refs, targets, self.confidence, self.keep, scratch);
                scratch.counts = bufs;
                ItemResult::Year(yi, Box::new(y))
            }
            Item::Pyramid => {
                let mut out = Vec::with_capacity(2 * AGE_GROUPS);
                let mut buf = std::mem::take(&mut scratch.series);
                for sex in 0..2 {
                    for g in 0..AGE_GROUPS {
                        let series = src.read(rows.pyramid_row(sex, g), &mut buf);
                        out.push(scratch.selector.stats(series));
                    }
                }
                scratch.series = buf;
                ItemResult::Pyramid(out)
            }
        }
    }
}

/// Index of a unit among regions then groups.
fn unit_index(s: &Scenario, u: Unit) -> usize {
    match u {
        Unit::Region(r) => r,
        Unit::Group(g) => s.regions.len() + g,
    }
}

/// The items of a pass.
fn pass_items(rows: &PassRows) -> Vec<Item> {
    let mut items: Vec<Item> = rows.years.clone().map(Item::Year).collect();
    if rows.pyramid {
        items.push(Item::Pyramid);
    }
    items
}

/// A unit's summary being filled pass by pass, and its kept draws.
struct UnitState {
    summary: UnitSummary,
    kept: Option<Vec<f64>>,
}

impl UnitState {
    fn new(s: &Scenario, unit: Unit, keep: bool) -> UnitState {
        let n_years = s.n_years();
        let mut summary = UnitSummary::empty(unit, n_years);
        // The base-year pyramid is the census: the same in every draw.
        let members: Vec<usize> = match unit {
            Unit::Region(r) => vec![r],
            Unit::Group(g) => s.groups[g].members.clone(),
        };
        for sex in 0..2 {
            for g in 0..AGE_GROUPS {
                let cell: f64 = members
                    .iter()
                    .map(|&r| s.regions[r].base[sex][5 * g..(5 * g + 5).min(N_AGES)].iter().sum::<f64>())
                    .sum();
                summary.pyramid[sex * AGE_GROUPS + g] = Some(SummaryStats {
                    mean: cell,
                    quantiles: [cell; 7],
                });
            }
        }
        UnitState {
            summary,
            kept: keep.then(|| vec![0.0; N_METRICS * n_years * s.draws]),
        }
    }

    fn absorb(&mut self, s: &Scenario, r: ItemResult) {
        let n_years = s.n_years();
        match r {
            ItemResult::Year(yi, y) => {
                for (m, st) in y.stats.into_iter().enumerate() {
                    self.summary.stats[m * n_years + yi] = st;
                }
                self.summary.targets.extend(y.targets);
                if let (Some(kept), Some(values)) = (&mut self.kept, y.kept) {
                    let d = s.draws;
                    for m in 0..N_METRICS {
                        kept[(m * n_years + yi) * d..(m * n_years + yi + 1) * d].copy_from_slice(&values[m * d..(m + 1) * d]);
                    }
                }
            }
            ItemResult::Pyramid(cells) => {
                for (i, c) in cells.into_iter().enumerate() {
                    self.summary.pyramid[2 * AGE_GROUPS + i] = c;
                }
            }
        }
    }

    fn finish(mut self) -> (UnitSummary, Option<UnitDraws>) {
        self.summary.targets.sort_by_key(|t| t.target);
        let unit = self.summary.unit;
        (self.summary, self.kept.map(|values| UnitDraws { unit, values }))
    }
}

/// Summarises units from their sources, in parallel over units and items.
/// Summarises units from their sources, in parallel over units and items. Items left when
/// `sm.cancelled` says stop are skipped (the run is then abandoned).
fn summarise_units(sm: &Summariser<'_>, work: &[(Unit, Source<'_>)], rows: &PassRows, states: &mut [UnitState]) {
    let items = pass_items(rows);
    let jobs: Vec<(usize, Item)> = (0..work.len()).flat_map(|w| items.iter().map(move |&i| (w, i))).collect();
    let results: Vec<Option<(usize, ItemResult)>> = jobs
        .par_iter()
        .map_init(summary::YearScratch::default, |scratch, &(w, item)| {
            if sm.cancelled.is_some_and(|c| c()) {
                return None;
            }
            Some((w, sm.item(work[w].0, &work[w].1, rows, item, scratch)))
        })
        .collect();
    for (w, r) in results.into_iter().flatten() {
        // Absorbing kept draws copies them into fresh memory, which takes a while for many.
        if sm.cancelled.is_some_and(|c| c()) {
            return;
        }
        states[w].absorb(sm.s, r);
    }
}

/// Runs the given regions and returns their part of the run: the summaries of the regions and
/// of the groups all of whose members are among them, and partial sums for the other groups
/// they touch.
///
/// # Errors
/// [`Cancelled`] when `options.cancelled` says so.
pub fn run_regions(s: &Scenario, options: &RunOptions<'_>, regions: &[usize]) -> Result<PartialRun, Cancelled> {
    run_part(s, options, regions, None).map_err(|_| Cancelled)
}

/// Where [`run_regions_streaming`] puts the sums of the groups a part holds only some members
/// of, as each is finished: `rows` are full rows (`year * N_STORED + metric`, then the
/// pyramid; see [`full_rows`]) from `first_row`, each of `draws` values, of the partial group
/// numbered `slot` in [`partial_groups`].
pub trait PartialSink {
    /// # Errors
    /// When the sums cannot be kept (a full disk): the part stops.
    fn rows(&mut self, slot: usize, first_row: usize, rows: &[i64]) -> std::io::Result<()>;
}

/// Why a part streamed to a [`PartialSink`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error("the run was interrupted")]
    Cancelled,
    #[error("could not keep a group's partial sums: {0}")]
    Sink(#[from] std::io::Error),
}

/// The groups a part made of `regions` holds some but not all members of: those whose partial
/// sums a run part produces, in this order (the slots of a [`PartialSink`]).
pub fn partial_groups(s: &Scenario, regions: &[usize]) -> Vec<usize> {
    let mut in_part = vec![0usize; s.groups.len()];
    for &r in regions {
        let mut g = s.regions[r].group;
        while let Some(gi) = g {
            in_part[gi] += 1;
            g = s.groups[gi].parent;
        }
    }
    (0..s.groups.len())
        .filter(|&g| in_part[g] > 0 && in_part[g] < s.groups[g].members.len())
        .collect()
}

/// The regions of shard `k` of `n` (1-based) of a run split by region: contiguous blocks of
/// the regions in the order of the group tree, so that a shard holds most of its groups whole
/// and only the groups across its two ends in part (at most the depth of the tree at each).
pub fn shard_regions(s: &Scenario, k: usize, n: usize) -> Vec<usize> {
    let (rank, _) = group_tree_order(s);
    let mut order: Vec<usize> = (0..s.regions.len()).collect();
    order.sort_by_key(|&r| (s.regions[r].group.map(|g| rank[g] + 1).unwrap_or(0), r));
    let len = order.len();
    let (from, to) = ((k - 1) * len / n, k * len / n);
    let mut mine = order[from..to].to_vec();
    mine.sort_unstable();
    mine
}

/// [`run_regions`], with the partial group sums handed to `sink` as each group is finished
/// instead of held to the end: the part then holds no more group sums at once than the memory
/// budget allows, however many groups it touches. The returned part's `group_sums` is empty;
/// its `partial_groups` name the sink's slots.
///
/// # Errors
/// [`PartError::Cancelled`] when `options.cancelled` says so; [`PartError::Sink`] when the sink
/// fails.
pub fn run_regions_streaming(
    s: &Scenario,
    options: &RunOptions<'_>,
    regions: &[usize],
    sink: &mut dyn PartialSink,
) -> Result<PartialRun, PartError> {
    run_part(s, options, regions, Some(sink))
}

fn run_part(
    s: &Scenario,
    options: &RunOptions<'_>,
    regions: &[usize],
    mut sink: Option<&mut dyn PartialSink>,
) -> Result<PartialRun, PartError> {
    let constants = Constants::new(s);
    let plan = WorkPlan::new(s, &constants, options, regions);
    let draws = s.draws;
    let n_years = s.n_years();
    let n_groups = s.groups.len();
    let sm = Summariser::new(s, options);
    let task_blocks = blocks(draws, plan.block);
    let total = (plan.passes.len() * plan.order.len() * draws) as u64;
    let done = AtomicU64::new(0);
    let mut timing = RunTiming {
        passes: plan.passes.len(),
        chunk_regions: plan.chunk,
        block_draws: plan.block,
        mortality_tables_kept: plan.keep_tables,
        ..RunTiming::default()
    };

    let mut region_states: Vec<Option<UnitState>> = (0..s.regions.len()).map(|_| None).collect();
    for &r in &plan.order {
        region_states[r] = Some(UnitState::new(s, Unit::Region(r), options.keep_draws));
    }
    let complete = |g: usize| plan.in_part[g] == s.groups[g].members.len();
    let mut group_states: Vec<Option<UnitState>> = (0..n_groups)
        .map(|g| (plan.in_part[g] > 0 && complete(g)).then(|| UnitState::new(s, Unit::Group(g), options.keep_draws)))
        .collect();
    let full = full_rows(n_years);
    // Without a sink, partial sums are held to the end (all their rows); with one, each group's
    // rows of a pass go to the sink when the group is finished in that pass.
    let slots: Vec<usize> = partial_groups(s, regions);
    let slot_of: std::collections::HashMap<usize, usize> = slots.iter().enumerate().map(|(i, &g)| (g, i)).collect();
    let mut partial_sums: Vec<Option<Vec<i64>>> = (0..n_groups)
        .map(|g| (sink.is_none() && plan.in_part[g] > 0 && !complete(g)).then(|| vec![0; full * draws]))
        .collect();

    // The chunk buffer, allocated once at its largest size and aligned to cache lines. Its
    // zeroed pages come from the system as they are first written (by the projection tasks, in
    // parallel) rather than all cleared here first.
    let largest = plan.passes.iter().map(PassRows::len).max().unwrap_or(0) * plan.chunk.min(plan.order.len()) * draws;
    let mut buf = LineAligned::<f32>::zeroed(largest);
    // With `keep_tables`: the national mortality tables of each block, filled on first use.
    let kept_tables: Vec<OnceLock<kernel::MortalityBlock>> = if plan.keep_tables {
        task_blocks.iter().map(|_| OnceLock::new()).collect()
    } else {
        Vec::new()
    };
    let mut acc: Vec<Option<Vec<i64>>> = (0..n_groups).map(|_| None).collect();
    let mut spare: Vec<Vec<i64>> = Vec::new();

    for rows in &plan.passes {
        let n_rows = rows.len();
        for (ci, chunk) in plan.order.chunks(plan.chunk).enumerate() {
            let chunk_start = ci * plan.chunk;
            let nr = chunk.len();
            // 1. Project every region of the chunk in every draw.
            let clock = Instant::now();
            {
                let writer = ChunkWriter::new(&mut buf[..nr * n_rows * draws], nr, n_rows, draws);
                // Each task owns the draws of its block: it is the only one to write them.
                task_blocks.par_iter().enumerate().for_each_init(
                    || TaskScratch::new(s, &constants),
                    |scratch, (b, &(d0, nd))| {
                        if options.cancelled.is_some_and(|c| c()) {
                            return;
                        }
                        project_block(s, &constants, chunk, rows, d0, nd, &writer, kept_tables.get(b), scratch);
                        if let Some(p) = options.progress {
                            let n = (nd * nr) as u64;
                            p(done.fetch_add(n, Ordering::Relaxed) + n, total);
                        }
                    },
                );
            }
            if options.cancelled.is_some_and(|c| c()) {
                return Err(PartError::Cancelled);
            }
            timing.project += clock.elapsed().as_secs_f64();

            // 2. Summarise the regions.
            let clock = Instant::now();
            let values = ChunkValues {
                buf: &buf[..nr * n_rows * draws],
                rows: n_rows,
                draws,
            };
            let mut states: Vec<UnitState> = chunk.iter().filter_map(|&r| region_states[r].take()).collect();
            summarise_chunk(&sm, chunk, &values, rows, &mut states, &mut acc, &mut spare);
            for (&r, st) in chunk.iter().zip(states) {
                region_states[r] = Some(st);
            }
            timing.summarise_regions += clock.elapsed().as_secs_f64();
            if options.cancelled.is_some_and(|c| c()) {
                return Err(PartError::Cancelled);
            }

            // 3. Finish the groups whose last member this chunk holds, deepest first: each is
            //    added to its parent, then summarised (or kept as a partial sum when the part
            //    does not hold all its members).
            let clock = Instant::now();
            for g in plan.finishing(chunk_start..chunk_start + nr) {
                let Some(sums) = acc[g].take() else { continue };
                if let Some(st) = group_states[g].as_mut() {
                    let work = [(Unit::Group(g), Source::Group(&sums, draws))];
                    summarise_units(&sm, &work, rows, std::slice::from_mut(st));
                } else if let (Some(sink), Some(&slot)) = (sink.as_deref_mut(), slot_of.get(&g)) {
                    for y in rows.years.clone() {
                        for m in 0..N_STORED {
                            let from = rows.metric_row(y, m);
                            sink.rows(slot, y * N_STORED + m, &sums[from * draws..(from + 1) * draws])?;
                        }
                    }
                    if rows.pyramid {
                        for cell in 0..2 * AGE_GROUPS {
                            let from = rows.pyramid_row(0, cell);
                            sink.rows(slot, n_years * N_STORED + cell, &sums[from * draws..(from + 1) * draws])?;
                        }
                    }
                } else if let Some(total_sums) = partial_sums[g].as_mut() {
                    for y in rows.years.clone() {
                        for m in 0..N_STORED {
                            let (from, to) = (rows.metric_row(y, m), y * N_STORED + m);
                            total_sums[to * draws..(to + 1) * draws].copy_from_slice(&sums[from * draws..(from + 1) * draws]);
                        }
                    }
                    if rows.pyramid {
                        for cell in 0..2 * AGE_GROUPS {
                            let (from, to) = (rows.pyramid_row(0, cell), n_years * N_STORED + cell);
                            total_sums[to * draws..(to + 1) * draws].copy_from_slice(&sums[from * draws..(from + 1) * draws]);
                        }
                    }
                }
                pass_to_parent(s, g, sums, &mut acc, &mut spare);
            }
            timing.groups += clock.elapsed().as_secs_f64();
            if options.cancelled.is_some_and(|c| c()) {
                return Err(PartError::Cancelled);
            }
        }
    }

    let mut units = Vec::new();
    let mut kept = Vec::new();
    for st in region_states.into_iter().chain(group_states).flatten() {
        let (summary, k) = st.finish();
        units.push(summary);
        kept.extend(k);
    }
    let (held, group_sums): (Vec<usize>, Vec<Vec<i64>>) =
        partial_sums.into_iter().enumerate().filter_map(|(g, v)| v.map(|v| (g, v))).unzip();
    let partial_groups = if sink.is_some() { slots } else { held };
    Ok(PartialRun {
        units,
        partial_groups,
        group_sums,
        kept,
        timing,
    })
}

/// Adds the values of a chunk's regions into the fixed-point sums of their own groups
/// (`acc[group]`, `[row][draw]`) in a pass of their own (a staged sweep's population, whose
/// regions' targets are tested before; a run does both at once in [`summarise_chunk`]). A
/// group's first contribution is written, not added, so buffers need no zeroing.
fn add_to_groups(s: &Scenario, chunk: &[usize], values: &ChunkValues<'_>, acc: &mut [Option<Vec<i64>>], spare: &mut Vec<Vec<i64>>) {
    let draws = values.draws;
    let mut direct: Vec<usize> = chunk.iter().filter_map(|&r| s.regions[r].group).collect();
    direct.sort_unstable();
    direct.dedup();
    for g in direct {
        let members: Vec<usize> = (0..chunk.len()).filter(|&ri| s.regions[chunk[ri]].group == Some(g)).collect();
        let fresh = acc[g].is_none();
        let sums = acc[g].get_or_insert_with(|| take_buffer(spare, values.rows * draws));
        sums.par_chunks_mut(draws).enumerate().for_each(|(row, sums)| {
            for (i, &ri) in members.iter().enumerate() {
                if fresh && i == 0 {
                    set_fixed(sums, values.series(ri, row));
                } else {
                    add_fixed(sums, values.series(ri, row));
                }
            }
        });
    }
}

/// One job of [`summarise_chunk`]: an item of some regions of the chunk (`members`, positions
/// in the chunk) and, when they share a group, that group's sums for the item's rows.
struct ChunkJob<'a> {
    members: Vec<usize>,
    item: Item,
    /// The group's sums of the item's rows (`[row][draw]`, the item's rows in order), and
    /// whether the first member's values are written rather than added (a fresh buffer).
    sums: Option<(&'a mut [i64], bool)>,
    /// The group's sums of the item's year's `independent` row, when the pass has one.
    independent: Option<&'a mut [i64]>,
}

/// Summarises the regions of a chunk into `states` (one per region, in chunk order) and adds
/// their values into the fixed-point sums of their own groups (`acc[group]`, `[row][draw]`),
/// in the same jobs. A job takes one item (a year, or the horizon pyramid) of every region of
/// the chunk in one group, in turn: each region's rows are added to the group's just after its
/// summary has read them, while they are still in the cache. Added in a pass of their own, they
/// were read from memory a second time (the chunk is far larger than the caches), which cost
/// about half of the group stage. A group's first contribution is written, not added, so
/// buffers need no zeroing; the sums are integers, so the order of the additions does not
/// change them.
#[allow(clippy::too_many_arguments)]
fn summarise_chunk(
    sm: &Summariser<'_>,
    chunk: &[usize],
    values: &ChunkValues<'_>,
    rows: &PassRows,
    states: &mut [UnitState],
    acc: &mut [Option<Vec<i64>>],
    spare: &mut Vec<Vec<i64>>,
) {
    let s = sm.s;
    let draws = values.draws;
    let items = pass_items(rows);
    let mut members_of: Vec<Vec<usize>> = vec![Vec::new(); acc.len()];
    let mut jobs: Vec<ChunkJob<'_>> = Vec::new();
    for (ri, &r) in chunk.iter().enumerate() {
        match s.regions[r].group {
            Some(g) => members_of[g].push(ri),
            None => jobs.extend(items.iter().map(|&item| ChunkJob {
                members: vec![ri],
                item,
                sums: None,
                independent: None,
            })),
        }
    }
    for (slot, members) in acc.iter_mut().zip(members_of) {
        if members.is_empty() {
            continue;
        }
        let fresh = slot.is_none();
        let sums = slot.get_or_insert_with(|| take_buffer(spare, values.rows * draws));
        // Rows: the metrics of each year, then the pyramid, then the independent people.
        let (metric_rows, rest) = sums.split_at_mut(rows.years.len() * N_STORED * draws);
        let (mut pyramid_rows, independent_rows) = rest.split_at_mut(rows.pyramid_cells() * draws);
        let mut years = metric_rows.chunks_mut(N_STORED * draws);
        let mut independent = independent_rows.chunks_mut(draws);
        for &item in &items {
            let (sums, independent) = match item {
                Item::Year(_) => (years.next(), if rows.independent { independent.next() } else { None }),
                Item::Pyramid => (Some(std::mem::take(&mut pyramid_rows)), None),
            };
            jobs.push(ChunkJob {
                members: members.clone(),
                item,
                sums: sums.map(|v| (v, fresh)),
                independent,
            });
        }
    }
    let results: Vec<Vec<(usize, ItemResult)>> = jobs
        .par_iter_mut()
        .map_init(summary::YearScratch::default, |scratch, job| {
            let mut out = Vec::with_capacity(job.members.len());
            for (i, &ri) in job.members.iter().enumerate() {
                if sm.cancelled.is_some_and(|c| c()) {
                    break;
                }
                let src = Source::Region(values, ri);
                out.push((ri, sm.item(Unit::Region(chunk[ri]), &src, rows, job.item, scratch)));
                let Some((sums, fresh)) = &mut job.sums else { continue };
                let first = *fresh && i == 0;
                let add = |to: &mut [i64], row: usize| {
                    let from = values.series(ri, row);
                    if first { set_fixed(to, from) } else { add_fixed(to, from) }
                };
                let (from, n) = match job.item {
                    Item::Year(yi) => (rows.metric_row(yi, 0), N_STORED),
                    Item::Pyramid => (rows.pyramid_row(0, 0), 2 * AGE_GROUPS),
                };
                for (k, to) in sums.chunks_mut(draws).take(n).enumerate() {
                    add(to, from + k);
                }
                if let (Some(to), Item::Year(yi)) = (&mut job.independent, job.item) {
                    add(to, rows.independent_row(yi));
                }
            }
            out
        })
        .collect();
    for (ri, r) in results.into_iter().flatten() {
        // Absorbing kept draws copies them into fresh memory, which takes a while for many.
        if sm.cancelled.is_some_and(|c| c()) {
            return;
        }
        states[ri].absorb(s, r);
    }
}

/// Puts a finished group's sums into its parent's: as they are when the parent has none yet.
fn pass_to_parent(s: &Scenario, g: usize, sums: Vec<i64>, acc: &mut [Option<Vec<i64>>], spare: &mut Vec<Vec<i64>>) {
    match s.groups[g].parent.map(|p| &mut acc[p]) {
        Some(slot @ None) => *slot = Some(sums),
        Some(Some(parent)) => {
            parent.par_iter_mut().zip(sums.par_iter()).for_each(|(a, b)| *a += b);
            spare.push(sums);
        }
        None => spare.push(sums),
    }
}

/// A buffer of `len` (contents unspecified), reusing a spare one when there is one.
fn take_buffer(spare: &mut Vec<Vec<i64>>, len: usize) -> Vec<i64> {
    match spare.pop() {
        Some(mut v) => {
            v.resize(len, 0);
            v
        }
        None => {
            let v = vec![0; len];
            advise_huge_pages(&v);
            v
        }
    }
}

/// Finishes a run from the parts of all its regions (each region in exactly one part): adds
/// the partial sums of groups split across parts, summarises those groups, and collects the
/// target results.
pub fn finish_run(s: &Scenario, options: &RunOptions<'_>, parts: Vec<PartialRun>) -> RunResult {
    let mut merger = PartMerger::new(s);
    for part in parts {
        merger.add(part);
    }
    merger.finish(options)
}

/// [`finish_run`] a part at a time, so that a merge holds the sums of the groups split across
/// parts and one part, not every part at once.
pub struct PartMerger<'s> {
    s: &'s Scenario,
    sums: Vec<Option<Vec<i64>>>,
    units: Vec<UnitSummary>,
    kept: Vec<UnitDraws>,
    timing: RunTiming,
}

impl<'s> PartMerger<'s> {
    pub fn new(s: &'s Scenario) -> PartMerger<'s> {
        PartMerger {
            s,
            sums: (0..s.groups.len()).map(|_| None).collect(),
            units: Vec::new(),
            kept: Vec::new(),
            timing: RunTiming::default(),
        }
    }

    /// Adds a part: its summaries, and its partial group sums into the running totals.
    pub fn add(&mut self, part: PartialRun) {
        for (g, add) in part.partial_groups.iter().zip(part.group_sums) {
            match &mut self.sums[*g] {
                Some(acc) => acc.iter_mut().zip(&add).for_each(|(a, b)| *a += b),
                slot => *slot = Some(add),
            }
        }
        self.units.extend(part.units);
        self.kept.extend(part.kept);
        let timing = &mut self.timing;
        timing.project += part.timing.project;
        timing.summarise_regions += part.timing.summarise_regions;
        timing.groups += part.timing.groups;
        timing.passes = timing.passes.max(part.timing.passes);
        timing.chunk_regions = timing.chunk_regions.max(part.timing.chunk_regions);
        timing.block_draws = timing.block_draws.max(part.timing.block_draws);
        timing.mortality_tables_kept |= part.timing.mortality_tables_kept;
    }

    /// Regions summarised in the parts added so far.
    pub fn regions(&self) -> usize {
        self.units.iter().filter(|u| matches!(u.unit, Unit::Region(_))).count()
    }

    /// Summarises the groups split across parts and returns the whole run.
    pub fn finish(self, options: &RunOptions<'_>) -> RunResult {
        let PartMerger {
            s,
            sums,
            units,
            kept,
            timing,
        } = self;
        finish_merged(s, options, sums, units, kept, timing)
    }
}

fn finish_merged(
    s: &Scenario,
    options: &RunOptions<'_>,
    sums: Vec<Option<Vec<i64>>>,
    mut units: Vec<UnitSummary>,
    mut kept: Vec<UnitDraws>,
    mut timing: RunTiming,
) -> RunResult {
    let n_years = s.n_years();
    let draws = s.draws;
    let clock = Instant::now();
    let sm = Summariser::new(s, options);
    let rows = PassRows {
        years: 0..n_years,
        pyramid: true,
        independent: false,
    };
    for (g, v) in sums.iter().enumerate() {
        if let Some(v) = v {
            let mut st = UnitState::new(s, Unit::Group(g), options.keep_draws);
            summarise_units(
                &sm,
                &[(Unit::Group(g), Source::Group(v, draws))],
                &rows,
                std::slice::from_mut(&mut st),
            );
            let (summary, k) = st.finish();
            units.push(summary);
            kept.extend(k);
        }
    }
    timing.groups += clock.elapsed().as_secs_f64();
    units.sort_by_key(|u| u.unit);
    kept.sort_by_key(|u| u.unit);
    let years: Vec<i32> = s.years().collect();
    let targets = summary::collect_targets(s, &units);
    RunResult {
        years,
        draws,
        units,
        targets,
        kept: options.keep_draws.then_some(kept),
        timing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `migration_rates` keeps each group's samples from one region to the next; every lane must
    /// still be exactly `migration_rate` of its draw, whichever regions and blocks came before
    /// (regions of two provinces taken in turn, blocks revisited, blocks of fewer draws).
    #[test]
    fn migration_rates_of_a_block_are_each_draws_own_rate() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/china-counties.toml");
        let sets = crate::scenario::Override::sets(&["draws=64"]).expect("a valid override");
        let s = crate::scenario::load(&p, &sets).expect("the shipped scenario loads");
        let n = s.regions.len();
        let regions = [0, n - 1, 1, n - 2, 2];
        assert_ne!(s.regions[0].group, s.regions[n - 1].group);
        let shared = |r: usize| {
            let mut g = s.regions[r].group;
            while let Some(gi) = g {
                if s.groups[gi].migration_rate.is_some() {
                    return true;
                }
                g = s.groups[gi].parent;
            }
            false
        };
        assert!(regions.iter().all(|&r| shared(r)), "every region has a group with a shared rate");
        let mut cache = GroupRates::default();
        for (d0, lanes) in [(0, 16), (16, 16), (0, 16), (0, 5), (48, 16), (16, 3)] {
            for &r in &regions {
                let keys = kernel::DrawKeys::of(&s, d0, lanes).migration;
                let got = migration_rates(&s, r, d0, lanes, &keys, &mut cache);
                for (l, v) in got.iter().enumerate() {
                    let want = if l < lanes { migration_rate(&s, r, s.draw_id(d0 + l)) } else { 0.0 };
                    assert_eq!(v.to_bits(), want.to_bits(), "region {r}, draws {d0}+{lanes}, lane {l}");
                }
            }
        }
    }
}
