//! Staged evaluation for sweeps: the population and care need of every region and draw are
//! projected once, and each sweep point then realises only its supply (stock, plan, caregivers,
//! seasonal demand) and uptake on top of them and tests its targets.
//!
//! Every point of a sweep is the same scenario run with the same seed, and the random streams
//! are keyed by purpose, draw and entity, so a point that changes nothing the projection reads
//! (the plan, the stock, caregivers, seasonal demand, uptake, target thresholds) sees in every
//! draw exactly the populations and care need of the base scenario. [`Population::new`]
//! projects them once and keeps, per region and draw, only what the targets need (the elderly,
//! the registered elderly, and for demand-supply targets the dependent and independent people)
//! in the years the targets test; [`Population::evaluate`] then gives a point's target results.
//! They are bit for bit those of [`super::run`] on the point's scenario: the shared counts are
//! the kernel's own values, the supply side is realised by the same function, each derived count
//! is formed by the same single-precision operations in the same order, groups are summed in the
//! same fixed point, and the summaries are made by the same code ([`summary::target_results`]).
//!
//! [`Population::accepts`] says whether a point may use the shared population: it compares
//! every input the projection reads. A point that changes one of them (mortality, fertility,
//! migration, prevalence, the base population, draws, seed, years) is run in full instead.
//!
//! Memory stays within [`RunOptions::memory_bytes`]: regions are taken in chunks, in the order
//! of the group tree, and only the groups on the current path are held, as in a run. The shared
//! values live in a [`SharedStore`], which the caller may keep in memory (a `Vec<f32>`) or
//! elsewhere when they do not fit.

use super::*;
use std::borrow::Cow;

use crate::capacity::CapacityPath;
use crate::scenario::Region;

/// Where the shared values of a [`Population`] are kept: appended region by region in the
/// order of the group tree while the population is projected, then read back chunk by chunk
/// for every point. A `Vec<f32>` keeps them in memory.
pub trait SharedStore: Send {
    /// Appends values after those already kept.
    ///
    /// # Errors
    /// When the values cannot be kept (a full disk).
    fn append(&mut self, values: &[f32]) -> std::io::Result<()>;

    /// The `len` values from position `offset`: borrowed from the store, or read into `buf`.
    ///
    /// # Errors
    /// When they cannot be read back.
    fn read<'a>(&'a mut self, offset: usize, len: usize, buf: &'a mut Vec<f32>) -> std::io::Result<&'a [f32]>;
}

impl SharedStore for Vec<f32> {
    fn append(&mut self, values: &[f32]) -> std::io::Result<()> {
        self.extend_from_slice(values);
        Ok(())
    }

    fn read<'a>(&'a mut self, offset: usize, len: usize, _: &'a mut Vec<f32>) -> std::io::Result<&'a [f32]> {
        self.get(offset..offset + len)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "read past the shared values"))
    }
}

/// Why a staged evaluation stopped.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error("the run was interrupted")]
    Cancelled,
    #[error("could not keep or read the shared population: {0}")]
    Store(#[from] std::io::Error),
    /// The point reads other projection inputs than the population was projected from.
    #[error("the point cannot use the shared population: it {0}")]
    Differs(String),
}

/// Where the time of one point went (wall seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct PointTiming {
    /// Reading the shared values back.
    pub read: f64,
    /// Realising the supply of every region in every draw and forming the counts.
    pub supply: f64,
    /// The regions' target results.
    pub regions: f64,
    /// Group sums and the groups' target results.
    pub groups: f64,
}

impl std::ops::AddAssign for PointTiming {
    fn add_assign(&mut self, o: PointTiming) {
        self.read += o.read;
        self.supply += o.supply;
        self.regions += o.regions;
        self.groups += o.groups;
    }
}

/// A shared value of a region in a target year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SharedValue {
    Elderly,
    ElderlyRegistered,
    Partial,
    Full,
    /// People of the care ages without dependency.
    Independent,
}

/// What is kept and computed per region and draw: for each year a target tests, the counts its
/// targets read and the shared values they come from.
#[derive(Debug, Clone)]
struct Layout {
    /// Year indices tested by some target, ascending.
    years: Vec<usize>,
    /// The counts read in each year (numerators and denominators of the targets' metrics), in
    /// metric order: the rows of a point's chunk, year after year.
    counts: Vec<Vec<Metric>>,
    /// The shared values of each year: the rows of the store, year after year.
    shared: Vec<Vec<SharedValue>>,
}

impl Layout {
    fn new(s: &Scenario) -> Layout {
        let mut years: Vec<usize> = s.targets.iter().map(|t| (t.year - s.base_year) as usize).collect();
        years.sort_unstable();
        years.dedup();
        let mut counts = Vec::new();
        let mut shared = Vec::new();
        for &yi in &years {
            let mut c: Vec<Metric> = Vec::new();
            for t in s.targets.iter().filter(|t| (t.year - s.base_year) as usize == yi) {
                if let Some((num, den, _)) = summary::ratio_parts(target_metric(t.metric)) {
                    c.extend([num, den]);
                }
            }
            c.sort_by_key(|m| m.index());
            c.dedup();
            let mut sh = Vec::new();
            for m in &c {
                match m {
                    Metric::Elderly => sh.push(SharedValue::Elderly),
                    Metric::ElderlyRegistered => sh.push(SharedValue::ElderlyRegistered),
                    Metric::DemandInstitutional => sh.extend([SharedValue::Partial, SharedValue::Full, SharedValue::Independent]),
                    _ => {}
                }
            }
            counts.push(c);
            shared.push(sh);
        }
        Layout { years, counts, shared }
    }

    fn count_rows(&self) -> usize {
        self.counts.iter().map(Vec::len).sum()
    }

    fn shared_rows(&self) -> usize {
        self.shared.iter().map(Vec::len).sum()
    }

    /// First row of year position `yp` among the count rows, and among the shared rows.
    fn first_rows(&self, yp: usize) -> (usize, usize) {
        (
            self.counts[..yp].iter().map(Vec::len).sum(),
            self.shared[..yp].iter().map(Vec::len).sum(),
        )
    }
}

/// The population and care need of a scenario's regions in every draw, projected once for the
/// points of a sweep (see the module documentation).
pub struct Population {
    base: Scenario,
    layout: Layout,
    /// Regions in the order of the group tree, as the store holds them, and the groups'
    /// positions in it.
    plan: WorkPlan,
    /// Seconds spent projecting.
    pub seconds: f64,
    /// The chunk buffer of [`Population::evaluate`] and its group sums, kept from point to point:
    /// taking hundreds of megabytes of fresh pages from the system for every point cost a third
    /// of a national point's time in page faults.
    scratch: std::sync::Mutex<(Vec<f32>, Vec<Vec<i64>>)>,
}

/// Bytes of shared values a [`Population`] of `s` keeps: what its store must hold.
pub fn shared_bytes(s: &Scenario) -> usize {
    Layout::new(s).shared_rows() * s.regions.len() * s.draws * 4
}

impl Population {
    /// Projects the regions of `s` in every draw and appends what the targets need to `store`.
    /// `options.memory_bytes` bounds the values held at once (not counting the store).
    ///
    /// # Errors
    /// [`StageError::Cancelled`] when `options.cancelled` says so; [`StageError::Store`] when
    /// the store fails.
    pub fn new(s: &Scenario, options: &RunOptions<'_>, store: &mut dyn SharedStore) -> Result<Population, StageError> {
        let clock = Instant::now();
        let layout = Layout::new(s);
        let all: Vec<usize> = (0..s.regions.len()).collect();
        let constants = Constants::new(s);
        let plan = WorkPlan::new(s, &constants, options, &all);
        let draws = s.draws;
        let population = Population {
            base: s.clone(),
            layout,
            plan,
            seconds: 0.0,
            scratch: std::sync::Mutex::new((Vec::new(), Vec::new())),
        };
        let layout = &population.layout;
        let (Some(&first), Some(&last)) = (layout.years.first(), layout.years.last()) else {
            return Ok(population);
        };
        let rows = PassRows {
            years: first..last + 1,
            pyramid: false,
            independent: layout.shared.iter().flatten().any(|v| *v == SharedValue::Independent),
        };
        let task_blocks = blocks(draws, population.plan.block);
        let region_bytes = rows.len() * draws * 4;
        let n_steps = s.n_years() - 1;
        let table_bytes = task_blocks.len() * n_steps * kernel::MortalityBlock::bytes_per_step(&constants);
        let keep_tables = s.mortality.national_shocks && table_bytes <= options.memory_bytes / 4;
        let budget = options.memory_bytes.saturating_sub(if keep_tables { table_bytes } else { 0 });
        let chunk = (budget / region_bytes.max(1)).clamp(1, s.regions.len().max(1));
        let kept_tables: Vec<OnceLock<kernel::MortalityBlock>> = if keep_tables {
            task_blocks.iter().map(|_| OnceLock::new()).collect()
        } else {
            Vec::new()
        };
        let mut buf = super::LineAligned::<f32>::zeroed(chunk.min(s.regions.len()) * rows.len() * draws);
        let mut out = vec![0.0f32; layout.shared_rows() * draws];
        for regions in population.plan.order.chunks(chunk) {
            let nr = regions.len();
            {
                let writer = ChunkWriter::new(&mut buf[..nr * rows.len() * draws], nr, rows.len(), draws);
                task_blocks.par_iter().enumerate().for_each_init(
                    || TaskScratch::new(s, &constants),
                    |scratch, (b, &(d0, nd))| {
                        if options.cancelled.is_some_and(|c| c()) {
                            return;
                        }
                        project_block(s, &constants, regions, &rows, d0, nd, &writer, kept_tables.get(b), scratch);
                    },
                );
            }
            if options.cancelled.is_some_and(|c| c()) {
                return Err(StageError::Cancelled);
            }
            let values = ChunkValues {
                buf: &buf[..nr * rows.len() * draws],
                rows: rows.len(),
                draws,
            };
            for ri in 0..nr {
                let mut k = 0;
                for (yp, &yi) in layout.years.iter().enumerate() {
                    for v in &layout.shared[yp] {
                        let row = match v {
                            SharedValue::Elderly => rows.metric_row(yi, Metric::Elderly.index()),
                            SharedValue::ElderlyRegistered => rows.metric_row(yi, Metric::ElderlyRegistered.index()),
                            SharedValue::Partial => rows.metric_row(yi, Metric::DependentPartial.index()),
                            SharedValue::Full => rows.metric_row(yi, Metric::DependentFull.index()),
                            SharedValue::Independent => rows.independent_row(yi),
                        };
                        out[k * draws..(k + 1) * draws].copy_from_slice(values.series(ri, row));
                        k += 1;
                    }
                }
                store.append(&out)?;
            }
        }
        Ok(Population {
            seconds: clock.elapsed().as_secs_f64(),
            ..population
        })
    }

    /// `Ok` when `point` reads the same projection inputs as the scenario this population was
    /// projected from, so that [`Population::evaluate`] gives its results; otherwise the first
    /// input that differs.
    ///
    /// # Errors
    /// The name of the input that differs.
    pub fn accepts(&self, point: &Scenario) -> Result<(), String> {
        shares_projection(&self.base, point)
    }

    /// The target results of the point `s`, in the order of [`RunResult::targets`], equal to
    /// those of [`super::run`] on it.
    ///
    /// # Errors
    /// [`StageError::Differs`] when `s` is not [accepted](Population::accepts);
    /// [`StageError::Cancelled`] when `options.cancelled` says so; [`StageError::Store`] when the
    /// store cannot be read.
    pub fn evaluate(
        &self,
        s: &Scenario,
        store: &mut dyn SharedStore,
        options: &RunOptions<'_>,
    ) -> Result<(Vec<TargetResult>, PointTiming), StageError> {
        self.accepts(s).map_err(StageError::Differs)?;
        let mut timing = PointTiming::default();
        let layout = &self.layout;
        let plan = &self.plan;
        let draws = s.draws;
        let n_rows = layout.count_rows();
        let n_shared = layout.shared_rows();
        let sm = Summariser::new(s, options);
        let mut results: std::collections::HashMap<(usize, Unit), TargetResult> = std::collections::HashMap::new();
        if layout.years.is_empty() || s.regions.is_empty() {
            return Ok((Vec::new(), timing));
        }
        // Per region: its counts (f32) and its shared values; per live group: its sums (i64).
        let region_bytes = (n_rows + n_shared) * draws * 4;
        let max_live = plan.depth.iter().copied().max().map_or(0, |d| d + 1);
        let group_bytes = 2 * n_rows * draws * 4 * (max_live + 1);
        let chunk = (options.memory_bytes.saturating_sub(group_bytes) / region_bytes.max(1)).clamp(1, plan.order.len());
        let mut scratch = self.scratch.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (buf, spare) = &mut *scratch;
        // Every value of the buffer is written before it is read (each region's rows by its draws'
        // tasks), so a buffer kept from the last point needs no clearing.
        buf.resize(chunk.min(plan.order.len()) * n_rows * draws, 0.0);
        let mut read_buf: Vec<f32> = Vec::new();
        let task_blocks = blocks(draws, plan.block);
        let classes = std::sync::Arc::new(crate::capacity::SupplyClasses::new(s));
        let sources = layout.sources();
        let mut acc: Vec<Option<Vec<i64>>> = (0..s.groups.len()).map(|_| None).collect();
        let complete = |g: usize| plan.in_part[g] == s.groups[g].members.len();
        for (ci, regions) in plan.order.chunks(chunk).enumerate() {
            let nr = regions.len();
            let chunk_start = ci * chunk;
            let clock = Instant::now();
            let shared = store.read(chunk_start * n_shared * draws, nr * n_shared * draws, &mut read_buf)?;
            timing.read += clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            {
                let writer = ChunkWriter::new(&mut buf[..nr * n_rows * draws], nr, n_rows, draws);
                task_blocks.par_iter().for_each_init(
                    || {
                        let entries = crate::capacity::EntryCache::with_classes(s, kernel::LANES, std::sync::Arc::clone(&classes));
                        (entries, CapacityPath::new(s.n_years()))
                    },
                    |(entries, cap), &(d0, nd)| {
                        if options.cancelled.is_some_and(|c| c()) {
                            return;
                        }
                        supply_block(s, &sources, n_shared, regions, shared, d0, nd, &writer, entries, cap);
                    },
                );
            }
            if options.cancelled.is_some_and(|c| c()) {
                return Err(StageError::Cancelled);
            }
            timing.supply += clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            let values = ChunkValues {
                buf: &buf[..nr * n_rows * draws],
                rows: n_rows,
                draws,
            };
            // The regions' targets, in parallel.
            let found: Vec<Vec<TargetResult>> = (0..nr)
                .into_par_iter()
                .map_init(summary::YearScratch::default, |scratch, ri| {
                    let unit = Unit::Region(regions[ri]);
                    unit_targets(&sm, layout, unit, &|row| Cow::Borrowed(values.series(ri, row)), draws, scratch)
                })
                .collect();
            for r in found.into_iter().flatten() {
                results.insert((r.target, r.unit), r);
            }
            timing.regions += clock.elapsed().as_secs_f64();
            let clock = Instant::now();
            // Groups: sums of their members, each finished group tested and passed to its parent.
            add_to_groups(s, regions, &values, &mut acc, spare);
            // Finished groups level by level, deepest first: a level's sums are complete once the
            // level below has been passed up, and its groups are tested in parallel.
            let finishing = plan.finishing(chunk_start..chunk_start + nr);
            for level in finishing.chunk_by(|a, b| plan.depth[*a] == plan.depth[*b]) {
                let done: Vec<(usize, Vec<i64>)> = level.iter().filter_map(|&g| acc[g].take().map(|v| (g, v))).collect();
                let found: Vec<Vec<TargetResult>> = done
                    .par_iter()
                    .filter(|(g, _)| complete(*g))
                    .map_init(summary::YearScratch::default, |scratch, (g, sums)| {
                        let series = |row: usize| {
                            let mut v = vec![0.0; draws];
                            fixed_to_f32(&sums[row * draws..(row + 1) * draws], &mut v);
                            Cow::Owned(v)
                        };
                        unit_targets(&sm, layout, Unit::Group(*g), &series, draws, scratch)
                    })
                    .collect();
                for r in found.into_iter().flatten() {
                    results.insert((r.target, r.unit), r);
                }
                for (g, sums) in done {
                    pass_to_parent(s, g, sums, &mut acc, spare);
                }
            }
            timing.groups += clock.elapsed().as_secs_f64();
            if options.cancelled.is_some_and(|c| c()) {
                return Err(StageError::Cancelled);
            }
        }
        let mut out = Vec::new();
        for (ti, t) in s.targets.iter().enumerate() {
            for u in &t.units {
                if let Some(r) = results.remove(&(ti, *u)) {
                    out.push(r);
                }
            }
        }
        Ok((out, timing))
    }
}

/// The target results of one unit in every year a target tests it, from its count rows
/// (`series(row)`, `draws` values each).
fn unit_targets<'a>(
    sm: &Summariser<'_>,
    layout: &Layout,
    unit: Unit,
    series: &dyn Fn(usize) -> Cow<'a, [f32]>,
    draws: usize,
    scratch: &mut summary::YearScratch,
) -> Vec<TargetResult> {
    let mut out = Vec::new();
    let empty: &[f32] = &[];
    for (yp, &yi) in layout.years.iter().enumerate() {
        let targets = &sm.targets[unit_index(sm.s, unit)][yi];
        if targets.is_empty() {
            continue;
        }
        let (first, _) = layout.first_rows(yp);
        let rows: Vec<(Metric, Cow<'a, [f32]>)> = layout.counts[yp].iter().enumerate().map(|(k, &m)| (m, series(first + k))).collect();
        let mut counts: [&[f32]; N_STORED] = [empty; N_STORED];
        for (m, v) in &rows {
            counts[m.index()] = v;
        }
        let mut known: Vec<(Metric, Option<SummaryStats>)> = Vec::new();
        let mut stats = |m: Metric, scratch: &mut summary::YearScratch| {
            if let Some((_, st)) = known.iter().find(|(k, _)| *k == m) {
                return *st;
            }
            let st = summary::metric_stats(m, &counts, scratch);
            known.push((m, st));
            st
        };
        out.extend(summary::target_results(
            sm.s,
            unit,
            &counts,
            draws,
            targets,
            sm.confidence,
            false,
            &mut stats,
            scratch,
        ));
    }
    out
}

/// Where a count of a point comes from.
#[derive(Clone, Copy)]
enum CountSource {
    /// A shared row of the region (its index among the region's shared rows).
    Shared(usize),
    Institutional,
    Nursing,
    /// Institutional plus community beds.
    Total,
    Caregivers,
    /// Institutional demand from the shared partial, full and independent rows.
    Demand([usize; 3]),
}

impl Layout {
    /// For each count row (year after year): its year index and where it comes from.
    fn sources(&self) -> Vec<(usize, CountSource)> {
        let mut out = Vec::with_capacity(self.count_rows());
        for (yp, &yi) in self.years.iter().enumerate() {
            let (_, first) = self.first_rows(yp);
            let at = |v: SharedValue| {
                first
                    + self.shared[yp]
                        .iter()
                        .position(|x| *x == v)
                        .expect("the layout keeps what its counts need")
            };
            for &m in &self.counts[yp] {
                out.push((
                    yi,
                    match m {
                        Metric::Elderly => CountSource::Shared(at(SharedValue::Elderly)),
                        Metric::ElderlyRegistered => CountSource::Shared(at(SharedValue::ElderlyRegistered)),
                        Metric::BedsInstitutional => CountSource::Institutional,
                        Metric::BedsNursing => CountSource::Nursing,
                        Metric::BedsTotal => CountSource::Total,
                        Metric::Caregivers => CountSource::Caregivers,
                        Metric::DemandInstitutional => {
                            CountSource::Demand([at(SharedValue::Partial), at(SharedValue::Full), at(SharedValue::Independent)])
                        }
                        other => unreachable!("no target reads {other:?} as a count"),
                    },
                ));
            }
        }
        out
    }
}

/// Realises the supply of the chunk's regions in draws `d0..d0 + nd` and writes their count rows:
/// the same values the kernel stores for those counts (a region scaled from its class takes
/// `w` times the class's beds, as [`crate::capacity::realise_cached`] gives them).
#[allow(clippy::too_many_arguments)]
fn supply_block(
    s: &Scenario,
    sources: &[(usize, CountSource)],
    n_shared: usize,
    regions: &[usize],
    shared: &[f32],
    d0: usize,
    nd: usize,
    out: &ChunkWriter<'_>,
    entries: &mut crate::capacity::EntryCache,
    cap: &mut CapacityPath,
) {
    let draws = s.draws;
    // The uptakes of the block's draws, as the kernel's care block holds them.
    let uptake: Vec<[f32; 3]> = (0..nd)
        .map(|l| {
            let u = crate::care::draw_parameters(&s.care, s.seed, s.draw_id(d0 + l)).uptake;
            [u.independent as f32, u.partial as f32, u.full as f32]
        })
        .collect();
    let mut rows: Vec<kernel::V> = vec![[0.0; kernel::LANES]; sources.len()];
    for (ri, &r) in regions.iter().enumerate() {
        let sh = |k: usize, l: usize| shared[(ri * n_shared + k) * draws + d0 + l];
        let class = entries.class_of(r);
        for l in 0..nd {
            let draw = s.draw_id(d0 + l);
            // Multiplying by 1 is exact: a region realised on its own keeps its values.
            let (w, path): (f64, &CapacityPath) = match class {
                Some((c, w)) => (w, crate::capacity::class_path(s, c, draw, l, entries)),
                None => {
                    crate::capacity::realise_cached(s, r, draw, l, entries, cap);
                    (1.0, &*cap)
                }
            };
            for (row, &(yi, source)) in rows.iter_mut().zip(sources) {
                row[l] = match source {
                    CountSource::Shared(k) => sh(k, l),
                    CountSource::Institutional => (w * path.institutional[yi]) as f32,
                    CountSource::Nursing => (w * path.nursing[yi]) as f32,
                    CountSource::Total => (w * path.institutional[yi]) as f32 + (w * path.community[yi]) as f32,
                    CountSource::Caregivers => (w * path.caregivers[yi]) as f32,
                    CountSource::Demand([p, f, i]) => {
                        let [u0, u1, u2] = uptake[l];
                        let demand_nursing = sh(p, l) * u1 + sh(f, l) * u2;
                        (demand_nursing + sh(i, l) * u0) + (w * path.seasonal[yi]) as f32
                    }
                };
            }
        }
        let mut block = out.block(ri, d0, nd);
        for (k, v) in rows.iter().enumerate() {
            block.set(k, v);
        }
    }
    kernel::fence_stores();
}

/// `Ok` when two scenarios project the same populations and care need in every draw: every
/// input the projection reads is equal, so that a [`Population`] of one serves the other.
///
/// # Errors
/// Says which input differs first.
pub fn shares_projection(a: &Scenario, b: &Scenario) -> Result<(), String> {
    let differs = |what: &str| Err(format!("changes {what}"));
    if (a.base_year, a.horizon, a.draws, a.seed, a.elderly_age) != (b.base_year, b.horizon, b.draws, b.seed, b.elderly_age) {
        return differs("the years, draws, seed or elderly age");
    }
    if a.conditioned.is_some() || b.conditioned.is_some() || !a.observations.is_empty() || !b.observations.is_empty() {
        return differs("nothing, but the scenario is conditioned on observations, whose weights depend on every input");
    }
    if a.mortality != b.mortality {
        return differs("mortality");
    }
    if a.fertility != b.fertility {
        return differs("fertility");
    }
    if a.migration != b.migration {
        return differs("migration");
    }
    let (ca, cb) = (&a.care, &b.care);
    if (ca.partial, ca.full, ca.min_age, &ca.level, &ca.trend, ca.reference_offset)
        != (cb.partial, cb.full, cb.min_age, &cb.level, &cb.trend, cb.reference_offset)
    {
        return differs("the care prevalence");
    }
    if a.regions.len() != b.regions.len() || a.groups.len() != b.groups.len() {
        return differs("the regions or groups");
    }
    fn same_region(x: &Region, y: &Region) -> bool {
        (x.key, x.group, x.base) == (y.key, y.group, y.base)
            && (&x.mortality_level, &x.migration_schedule, &x.migration_inflow)
                == (&y.mortality_level, &y.migration_schedule, &y.migration_inflow)
            && (&x.migration_rate, &x.tfr, &x.registered_ratio) == (&y.migration_rate, &y.tfr, &y.registered_ratio)
    }
    if let Some(r) = a.regions.iter().zip(&b.regions).position(|(x, y)| !same_region(x, y)) {
        return differs(&format!("region {}'s population or demography", a.regions[r].id));
    }
    fn same_group(x: &crate::scenario::Group, y: &crate::scenario::Group) -> bool {
        (x.key, x.parent, &x.migration_rate, &x.members) == (y.key, y.parent, &y.migration_rate, &y.members)
    }
    if let Some(g) = a.groups.iter().zip(&b.groups).position(|(x, y)| !same_group(x, y)) {
        return differs(&format!("group {}'s members or migration", a.groups[g].id));
    }
    let target = |t: &crate::scenario::Target| (t.metric, t.year, t.units.clone());
    if a.targets.len() != b.targets.len() || a.targets.iter().zip(&b.targets).any(|(x, y)| target(x) != target(y)) {
        return differs("which metric, year or units a target tests");
    }
    Ok(())
}
