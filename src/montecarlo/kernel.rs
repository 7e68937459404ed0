//! The hot loop: one region projected through every year of a block of draws, in single
//! precision, with the draws side by side.
//!
//! The projection of a run touches every (region, draw, year), so this is where the time goes.
//! It computes the same model as the plain double-precision [`super::reference`], arranged so
//! that the compiler vectorises it:
//!
//! - A block of up to [`LANES`] = 16 draws is projected together. Every quantity by age is a
//!   vector of 16 lanes, one per draw (`[age][draw]`), so each operation of the cohort step,
//!   each sum over ages and each stored value handles 16 draws at once, and the 16 draws of a
//!   series fill one 64-byte cache line of the output.
//! - Everything the regions of a draw share is computed once per block and schedule
//!   ([`MortalityBlock`], [`CareBlock`]): survival `S = exp(-m)` by age and year, the fertility
//!   weights (women's exposure `1 - q/2` times the age pattern), newborns' survival to the end
//!   of the year, and the care-prevalence multipliers. A region-year is then multiplications and
//!   additions, with no transcendental function.
//! - Sums over ages run in a fixed order for each lane, so a lane's result does not depend on
//!   the vector width of the machine: an SSE2 build, an AVX2 build and a scalar one give the
//!   same bits. Nothing uses fused multiply-add (Rust never contracts `a * b + c`).
//! - Counts are `f32`: 24 significant bits, a relative rounding of 6e-8 per operation. The
//!   kernel agrees with the `f64` reference to about 1e-5 relative over a projection (tested
//!   in `tests/cli/engine.rs`), far below Monte Carlo noise.
//!
//! Double precision is kept where it matters for accuracy: the mortality schedule (`exp` of the
//! Lee-Carter log rates) is computed in `f64` by [`exp`] and rounded once to `f32`.

use crate::capacity::{CapacityPath, EntryCache};
use crate::demography::{N_AGES, OPEN_AGE};
use crate::scenario::Scenario;

use super::{AGE_GROUPS, Metric, N_STORED};

/// Draws projected together.
pub const LANES: usize = 16;

/// One value per draw of a block.
pub type V = [f32; LANES];

/// Values by single age, one lane per draw.
pub type AgeLanes = [V; N_AGES];

const ZERO: V = [0.0; LANES];

#[inline(always)]
fn mul(a: &V, b: &V) -> V {
    std::array::from_fn(|l| a[l] * b[l])
}

#[inline(always)]
fn mul3(a: &V, b: &V, c: &V) -> V {
    std::array::from_fn(|l| a[l] * b[l] * c[l])
}

#[inline(always)]
fn add(a: &V, b: &V) -> V {
    std::array::from_fn(|l| a[l] + b[l])
}

/// `e^x` in double precision from basic IEEE operations only (no libm, no fused multiply-add),
/// so that it gives the same bits on every machine and vectorises: Cody-Waite reduction
/// `x = n ln2 + r` with `|r| <= ln2 / 2`, a degree-10 Taylor polynomial for `e^r` (truncation
/// error below 2e-13 relative), and `2^n` assembled from its bits. Inputs are clamped to
/// [-708, 709], where the result is a normal number. Within 3e-13 of the correctly rounded
/// value (tested): far finer than the `f32` survival it feeds, with three fewer steps than full
/// double precision would need.
#[inline(always)]
pub fn exp(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that n * LN2_HI is exact for |n| < 2^20 (fdlibm's constants, by their bits).
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    // 1.5 * 2^52: adding it rounds to an integer held in the low mantissa bits.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-708.0, 709.0);
    let t = x * LOG2E + SHIFT;
    let n = t - SHIFT;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    let k = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    p * f64::from_bits(((k + 1023) << 52) as u64)
}

/// A run of ages `start..end` summed as one: every age count the metrics need (elderly, 65+,
/// 80+, the care bands) starts at a segment boundary, and the care prevalence is constant
/// within a segment (it is given by age band).
#[derive(Debug, Clone)]
struct Segment {
    start: usize,
    end: usize,
    /// Base-year partial and full prevalence by sex (care segments only).
    partial: [f32; 2],
    full: [f32; 2],
}

/// What every draw and region of a run share.
pub struct Constants {
    segments: Vec<Segment>,
    /// First segment of the elderly, of 65+, of 80+ and of the ages with care need.
    elderly_seg: usize,
    aged65_seg: usize,
    aged80_seg: usize,
    care_seg: usize,
    /// Largest base partial + full prevalence: a draw whose multiplier keeps it at or below 1
    /// needs no capping.
    base_peak: f64,
    /// Migration weight by age (net migrants per person per unit of rate).
    mig_weight: [f64; N_AGES],
    /// Ages with fertility: `fert_lo..fert_hi`.
    fert_lo: usize,
    fert_hi: usize,
    male_share: f32,
}

impl Constants {
    pub fn new(s: &Scenario) -> Constants {
        let fertile: Vec<usize> = (0..N_AGES).filter(|&x| s.fertility.shape[x] != 0.0).collect();
        let (fert_lo, fert_hi) = match (fertile.first(), fertile.last()) {
            (Some(a), Some(b)) => (*a, b + 1),
            _ => (0, 0),
        };
        let care = &s.care;
        let care_min = care.min_age.min(N_AGES);
        let elderly_age = s.elderly_age.min(N_AGES);
        let mut cuts = vec![0, 65, 80, elderly_age, care_min, N_AGES];
        for x in care_min + 1..N_AGES {
            if (0..2).any(|sex| care.partial[sex][x] != care.partial[sex][x - 1] || care.full[sex][x] != care.full[sex][x - 1]) {
                cuts.push(x);
            }
        }
        cuts.sort_unstable();
        cuts.dedup();
        let segments: Vec<Segment> = cuts
            .windows(2)
            .map(|w| {
                let x = w[0];
                let in_care = x >= care_min;
                Segment {
                    start: w[0],
                    end: w[1],
                    partial: std::array::from_fn(|sex| if in_care { care.partial[sex][x] as f32 } else { 0.0 }),
                    full: std::array::from_fn(|sex| if in_care { care.full[sex][x] as f32 } else { 0.0 }),
                }
            })
            .collect();
        let first = |age: usize| segments.iter().position(|g| g.start >= age).unwrap_or(segments.len());
        let base_peak = (0..2)
            .flat_map(|sex| (care_min..N_AGES).map(move |x| (sex, x)))
            .map(|(sex, x)| care.partial[sex][x] + care.full[sex][x])
            .fold(0.0, f64::max);
        Constants {
            elderly_seg: first(elderly_age),
            aged65_seg: first(65),
            aged80_seg: first(80),
            care_seg: first(care_min),
            segments,
            base_peak,
            mig_weight: s.migration.weight,
            fert_lo,
            fert_hi,
            male_share: s.fertility.male_share as f32,
        }
    }

    /// Number of age segments.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

/// The mortality of a block of draws for one schedule: survival and its by-products for every
/// projection step (step `i` takes the population from year `i` to year `i + 1`).
pub struct MortalityBlock {
    /// `S = exp(-m)` by step, sex and age.
    pub surv: Vec<[AgeLanes; 2]>,
    /// Fertility weight `shape(x) (1 - q_f(x) / 2)` by step and fertile age (`step * n + x - lo`).
    pub fert: Vec<V>,
    /// Newborns' survival to the end of their year of birth, `1 - q(0) / 2`, by step and sex.
    pub infant: Vec<[V; 2]>,
}

impl MortalityBlock {
    /// Memory of one projection step of a block.
    pub fn bytes_per_step(c: &Constants) -> usize {
        2 * std::mem::size_of::<AgeLanes>() + (c.fert_hi - c.fert_lo + 2) * std::mem::size_of::<V>()
    }

    pub fn new(c: &Constants, n_steps: usize) -> MortalityBlock {
        MortalityBlock {
            surv: vec![[[ZERO; N_AGES]; 2]; n_steps],
            fert: vec![ZERO; n_steps * (c.fert_hi - c.fert_lo)],
            infant: vec![[ZERO; 2]; n_steps],
        }
    }

    /// Fills every lane from the Lee-Carter index of its draw, `kappa[step][sex][lane]`, and a
    /// level multiplier: `m = exp(ln m_base + b k) * multiplier`, `S = exp(-m)`.
    pub fn fill(&mut self, s: &Scenario, c: &Constants, kappa: &[[[f64; LANES]; 2]], multiplier: f64) {
        fill_mortality(self, s, c, kappa, multiplier);
    }

    #[inline(always)]
    fn fill_any(&mut self, s: &Scenario, c: &Constants, kappa: &[[[f64; LANES]; 2]], multiplier: f64) {
        let m = &s.mortality;
        let nf = c.fert_hi - c.fert_lo;
        for (i, k) in kappa.iter().enumerate() {
            for sex in 0..2 {
                for x in 0..N_AGES {
                    let (a, b) = (m.base_log_m[sex][x], m.b[sex][x]);
                    let mut surv = [0.0f64; LANES];
                    for l in 0..LANES {
                        surv[l] = exp(-(exp(a + b * k[sex][l]) * multiplier));
                    }
                    for l in 0..LANES {
                        self.surv[i][sex][x][l] = surv[l] as f32;
                    }
                    if x == 0 {
                        for l in 0..LANES {
                            self.infant[i][sex][l] = (0.5 * (1.0 + surv[l])) as f32;
                        }
                    }
                    if sex == 1 && (c.fert_lo..c.fert_hi).contains(&x) {
                        let shape = s.fertility.shape[x];
                        for l in 0..LANES {
                            self.fert[i * nf + x - c.fert_lo][l] = (shape * 0.5 * (1.0 + surv[l])) as f32;
                        }
                    }
                }
            }
        }
    }
}

avx2_dispatch! {
    fn fill_mortality / fill_mortality_avx2 => fill_mortality_any(
        m: &mut MortalityBlock,
        s: &Scenario,
        c: &Constants,
        kappa: &[[[f64; LANES]; 2]],
        multiplier: f64,
    )
}

#[inline(always)]
fn fill_mortality_any(m: &mut MortalityBlock, s: &Scenario, c: &Constants, kappa: &[[[f64; LANES]; 2]], multiplier: f64) {
    m.fill_any(s, c, kappa, multiplier);
}

/// Care need of a block of draws: each draw's prevalence multiplier by year and its uptakes.
/// When some draw's multiplier would take a prevalence above 1, the block keeps the capped
/// prevalence of every care segment instead (as [`crate::care::capped`]).
pub struct CareBlock {
    draws: Vec<crate::care::CareDraw>,
    /// Multiplier of the base prevalence by year.
    factor: Vec<V>,
    /// With capping: partial and full prevalence by year, care segment and sex.
    capped: Option<Vec<[[V; 2]; 2]>>,
    uptake: [V; 3],
}

impl CareBlock {
    pub fn new(n_years: usize) -> CareBlock {
        CareBlock {
            draws: Vec::with_capacity(LANES),
            factor: vec![ZERO; n_years],
            capped: None,
            uptake: [ZERO; 3],
        }
    }

    /// Starts a new block.
    pub fn clear(&mut self) {
        self.draws.clear();
        self.capped = None;
    }

    /// Samples the next lane's level, trend and uptakes (as [`crate::care::draw_prevalence`],
    /// from the same stream in the same order).
    pub fn push_lane<R: rand::Rng + ?Sized>(&mut self, care: &crate::scenario::Care, rng: &mut R) {
        let l = self.draws.len();
        let d = crate::care::draw_parameters(care, rng);
        for (t, f) in self.factor.iter_mut().enumerate() {
            f[l] = d.factor(t) as f32;
        }
        self.uptake[0][l] = d.uptake.independent as f32;
        self.uptake[1][l] = d.uptake.partial as f32;
        self.uptake[2][l] = d.uptake.full as f32;
        self.draws.push(d);
    }

    /// Builds the capped prevalence if a lane needs it.
    pub fn finish(&mut self, s: &Scenario, c: &Constants) {
        let n_years = self.factor.len();
        if !self.draws.iter().any(|d| (0..n_years).any(|t| d.factor(t) * c.base_peak > 1.0)) {
            return;
        }
        let care_segs = &c.segments[c.care_seg..];
        let mut tables = vec![[[ZERO; 2]; 2]; n_years * care_segs.len()];
        for (l, d) in self.draws.iter().enumerate() {
            for t in 0..n_years {
                let factor = d.factor(t);
                for (k, g) in care_segs.iter().enumerate() {
                    for sex in 0..2 {
                        let x = g.start;
                        let (p, f) = crate::care::capped(s.care.partial[sex][x], s.care.full[sex][x], factor);
                        tables[t * care_segs.len() + k][0][sex][l] = p as f32;
                        tables[t * care_segs.len() + k][1][sex][l] = f as f32;
                    }
                }
            }
        }
        self.capped = Some(tables);
    }
}

/// Capacity values of a year, one lane per draw: institutional, nursing-type and community
/// beds, caregivers, seasonal demand.
pub type CapacityLanes = [V; 5];

/// The random inputs and capacity of one region in each draw of a block.
pub struct RegionBlock {
    pub lanes: usize,
    pub tfr: V,
    pub grow: AgeLanes,
    pub registered: V,
    /// Capacity by year.
    pub capacity: Vec<CapacityLanes>,
    cap: CapacityPath,
    /// Per-sex sums of the age segments, by segment (scratch of [`project`]).
    segment_sums: Vec<[V; 2]>,
}

impl RegionBlock {
    pub fn new(c: &Constants, n_years: usize) -> RegionBlock {
        RegionBlock {
            lanes: 0,
            tfr: ZERO,
            grow: [ZERO; N_AGES],
            registered: ZERO,
            capacity: vec![[ZERO; 5]; n_years],
            cap: CapacityPath::new(n_years),
            segment_sums: vec![[ZERO; 2]; c.segments()],
        }
    }

    /// Samples region `r`'s inputs for draws `d0..d0 + lanes` (TFR, migration rate, registered
    /// ratio, each from its own stream) and realises its capacity in each.
    pub fn fill(&mut self, s: &Scenario, c: &Constants, r: usize, d0: usize, lanes: usize, entries: &mut EntryCache) {
        use super::streams::{Purpose, stream};
        let region = &s.regions[r];
        let tfr_dist = region.tfr.as_ref().unwrap_or(&s.fertility.tfr);
        let rate_dist = region.migration_rate.as_ref().unwrap_or(&s.migration.rate_per_1000);
        self.lanes = lanes;
        let mut rate = [0.0f64; LANES];
        for l in 0..lanes {
            let draw = (d0 + l) as u64;
            // A fixed value draws no random number: its stream need not be made.
            let sample = |d: &crate::dist::Dist, purpose| match d {
                crate::dist::Dist::Fixed(v) => *v,
                d => d.sample(&mut stream(s.seed, purpose, draw, region.key)),
            };
            self.tfr[l] = sample(tfr_dist, Purpose::Fertility) as f32;
            rate[l] = sample(rate_dist, Purpose::Migration) / 1000.0;
            crate::capacity::realise_cached(s, r, draw, l, entries, &mut self.cap);
            for (yi, y) in self.capacity.iter_mut().enumerate() {
                y[0][l] = self.cap.institutional[yi] as f32;
                y[1][l] = self.cap.nursing[yi] as f32;
                y[2][l] = self.cap.community[yi] as f32;
                y[3][l] = self.cap.caregivers[yi] as f32;
                y[4][l] = self.cap.seasonal[yi] as f32;
            }
            self.registered[l] = sample(&region.registered_ratio, Purpose::Registered) as f32;
        }
        // Lanes past the block repeat its first draw: they are computed and never stored.
        for l in lanes..LANES {
            self.tfr[l] = self.tfr[0];
            self.registered[l] = self.registered[0];
            rate[l] = rate[0];
            for y in self.capacity.iter_mut() {
                for v in y.iter_mut() {
                    v[l] = v[0];
                }
            }
        }
        // Net migration: survivors times (1 + rate * weight(x)), added at the end of the year.
        for (g, w) in self.grow.iter_mut().zip(&c.mig_weight) {
            for l in 0..LANES {
                g[l] = (1.0 + rate[l] * w) as f32;
            }
        }
    }
}

/// Which stored rows a pass keeps: the metrics of years `years` and, if `pyramid`, the horizon
/// pyramid. Row `(yi - years.start) * N_STORED + metric`, then the pyramid cells
/// `sex * AGE_GROUPS + group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRows {
    pub years: std::ops::Range<usize>,
    pub pyramid: bool,
}

impl PassRows {
    pub fn len(&self) -> usize {
        self.years.len() * N_STORED + if self.pyramid { 2 * AGE_GROUPS } else { 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row of a metric in a year of the pass.
    pub fn metric_row(&self, yi: usize, m: usize) -> usize {
        (yi - self.years.start) * N_STORED + m
    }

    /// Row of a horizon pyramid cell.
    pub fn pyramid_row(&self, sex: usize, group: usize) -> usize {
        self.years.len() * N_STORED + sex * AGE_GROUPS + group
    }
}

/// Where one region's values of a block of draws go: row `row` holds `lanes` consecutive
/// values from `base + row * stride`, for `row < rows`.
///
/// A chunk of a run keeps its values series by series (`[region][row][draw]`), so that each
/// series is contiguous when it is summarised, and tasks that own different draws write into
/// the same series. A `BlockOut` is how a task writes its own draws of every row of a region.
pub struct BlockOut {
    base: *mut f32,
    stride: usize,
    rows: usize,
    lanes: usize,
}

impl BlockOut {
    /// # Safety
    /// For every `row < rows`, the `lanes` elements from `base + row * stride` must be valid for
    /// writes while the value is used, and no other thread may read or write them meanwhile.
    pub unsafe fn new(base: *mut f32, stride: usize, rows: usize, lanes: usize) -> BlockOut {
        BlockOut { base, stride, rows, lanes }
    }

    #[inline(always)]
    fn set(&mut self, row: usize, v: &V) {
        assert!(row < self.rows && self.lanes <= LANES, "row {row} outside a block of {}", self.rows);
        // SAFETY: row < rows and lanes <= LANES, and the constructor's contract makes the
        // `lanes` elements from base + row * stride valid and exclusively ours.
        let out = unsafe { std::slice::from_raw_parts_mut(self.base.add(row * self.stride), self.lanes) };
        out.copy_from_slice(&v[..self.lanes]);
    }
}

avx2_dispatch! {
    /// The one-year cohort-component step of one region in a block of draws: `next` is `pop` a
    /// year later, through projection step `i` (the same step as
    /// [`crate::demography::projection`] with survival `S = 1 - q`).
    pub fn step / step_avx2 => step_any(
        c: &Constants,
        inputs: &RegionBlock,
        mort: &MortalityBlock,
        i: usize,
        pop: &[AgeLanes; 2],
        next: &mut [AgeLanes; 2],
    )
}

#[inline(always)]
fn step_any(c: &Constants, inputs: &RegionBlock, mort: &MortalityBlock, i: usize, pop: &[AgeLanes; 2], next: &mut [AgeLanes; 2]) {
    let nf = c.fert_hi - c.fert_lo;
    let grow = &inputs.grow;
    let mut births = ZERO;
    for (k, x) in (c.fert_lo..c.fert_hi).enumerate() {
        let w = &mort.fert[i * nf + k];
        for l in 0..LANES {
            births[l] += pop[1][x][l] * w[l];
        }
    }
    let births = mul(&births, &inputs.tfr);
    let shares = [c.male_share, 1.0 - c.male_share];
    for sex in 0..2 {
        let (p, n, sv) = (&pop[sex], &mut next[sex], &mort.surv[i][sex]);
        for x in 1..OPEN_AGE {
            n[x] = mul3(&p[x - 1], &sv[x - 1], &grow[x]);
        }
        let top = add(&mul(&p[OPEN_AGE - 1], &sv[OPEN_AGE - 1]), &mul(&p[OPEN_AGE], &sv[OPEN_AGE]));
        n[OPEN_AGE] = mul(&top, &grow[OPEN_AGE]);
        let born = mul(&births, &[shares[sex]; LANES]);
        n[0] = mul3(&born, &mort.infant[i][sex], &grow[0]);
    }
}

avx2_dispatch! {
    /// Projects region `r` through every year of a block of draws and writes the rows of
    /// `rows`.
    ///
    /// `mort` is the block's mortality for the region's schedule, `care` its care need,
    /// `inputs` the region's inputs and capacity in each draw; `pop` and `next` are scratch.
    pub fn project / project_avx2 => project_any(
        s: &Scenario,
        c: &Constants,
        r: usize,
        inputs: &mut RegionBlock,
        mort: &MortalityBlock,
        care: &CareBlock,
        rows: &PassRows,
        pop: &mut [AgeLanes; 2],
        next: &mut [AgeLanes; 2],
        out: &mut BlockOut,
    )
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn project_any<'a>(
    s: &Scenario,
    c: &Constants,
    r: usize,
    inputs: &mut RegionBlock,
    mort: &MortalityBlock,
    care: &CareBlock,
    rows: &PassRows,
    mut pop: &'a mut [AgeLanes; 2],
    mut next: &'a mut [AgeLanes; 2],
    out: &mut BlockOut,
) {
    let region = &s.regions[r];
    let n_years = s.n_years();
    for sex in 0..2 {
        for x in 0..N_AGES {
            pop[sex][x] = [region.base[sex][x] as f32; LANES];
        }
    }
    for yi in 0..n_years {
        if yi > 0 {
            step_any(c, inputs, mort, yi - 1, pop, next);
            std::mem::swap(&mut pop, &mut next);
        }
        if !rows.years.contains(&yi) {
            continue;
        }
        // Per-sex sums of the age segments, then the counts from them.
        let sums = &mut inputs.segment_sums;
        for (k, g) in c.segments.iter().enumerate() {
            for sex in 0..2 {
                let mut acc = ZERO;
                for x in g.start..g.end {
                    acc = add(&acc, &pop[sex][x]);
                }
                sums[k][sex] = acc;
            }
        }
        let from = |first: usize| -> V {
            let mut acc = ZERO;
            for s in &sums[first..] {
                acc = add(&acc, &add(&s[0], &s[1]));
            }
            acc
        };
        let (total, elderly, aged65, aged80, people) = (
            from(0),
            from(c.elderly_seg),
            from(c.aged65_seg),
            from(c.aged80_seg),
            from(c.care_seg),
        );
        let (mut partial, mut full) = (ZERO, ZERO);
        match &care.capped {
            None => {
                for (g, s) in c.segments[c.care_seg..].iter().zip(&sums[c.care_seg..]) {
                    for sex in 0..2 {
                        partial = add(&partial, &mul(&s[sex], &[g.partial[sex]; LANES]));
                        full = add(&full, &mul(&s[sex], &[g.full[sex]; LANES]));
                    }
                }
                partial = mul(&partial, &care.factor[yi]);
                full = mul(&full, &care.factor[yi]);
            }
            Some(tables) => {
                let n = c.segments.len() - c.care_seg;
                for (k, s) in sums[c.care_seg..].iter().enumerate() {
                    let prev = &tables[yi * n + k];
                    for sex in 0..2 {
                        partial = add(&partial, &mul(&s[sex], &prev[0][sex]));
                        full = add(&full, &mul(&s[sex], &prev[1][sex]));
                    }
                }
            }
        }
        let [inst, nurs, comm, caregivers, seasonal] = &inputs.capacity[yi];
        let u = &care.uptake;
        let independent: V = std::array::from_fn(|l| (people[l] - partial[l] - full[l]).max(0.0));
        let demand_nursing = add(&mul(&partial, &u[1]), &mul(&full, &u[2]));
        let mut v = [ZERO; N_STORED];
        v[Metric::PopulationTotal as usize] = total;
        v[Metric::Elderly as usize] = elderly;
        v[Metric::ElderlyRegistered as usize] = mul(&inputs.registered, &elderly);
        v[Metric::Aged65Plus as usize] = aged65;
        v[Metric::Aged80Plus as usize] = aged80;
        v[Metric::DependentPartial as usize] = partial;
        v[Metric::DependentFull as usize] = full;
        v[Metric::DemandInstitutional as usize] = add(&add(&demand_nursing, &mul(&independent, &u[0])), seasonal);
        v[Metric::DemandNursing as usize] = demand_nursing;
        v[Metric::SeasonalDemand as usize] = *seasonal;
        v[Metric::BedsInstitutional as usize] = *inst;
        v[Metric::BedsNursing as usize] = *nurs;
        v[Metric::BedsCommunity as usize] = *comm;
        v[Metric::BedsTotal as usize] = add(inst, comm);
        v[Metric::UnmetNursingNeed as usize] = std::array::from_fn(|l| (demand_nursing[l] - nurs[l]).max(0.0));
        v[Metric::Caregivers as usize] = *caregivers;
        let base = rows.metric_row(yi, 0);
        for (m, val) in v.iter().enumerate() {
            out.set(base + m, val);
        }
        if rows.pyramid && yi + 1 == n_years {
            for (sex, p) in pop.iter().enumerate() {
                for g in 0..AGE_GROUPS {
                    let mut cell = ZERO;
                    for x in 5 * g..(5 * g + 5).min(N_AGES) {
                        for l in 0..LANES {
                            cell[l] += p[x][l];
                        }
                    }
                    out.set(rows.pyramid_row(sex, g), &cell);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_3e_13_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -708.0;
        while x < 709.0 {
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        for x in [-1e-12, 0.0, 1e-300, -0.5, 0.5, 1.0, -20.0] {
            let (a, b) = (exp(x), x.exp());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst <= 3e-13, "worst relative error {worst:e}");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1e6) > 0.0 && exp(-1e6) < 1e-300);
    }
}
