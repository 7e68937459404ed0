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
//! - Everything the regions of a draw share is computed once per block ([`MortalityBlock`],
//!   [`CareBlock`]): the national life-table survival `S = L(x+1)/L(x)` by age and year and its
//!   logarithm, the fertility weights (women's exposure `(1 + S)/2` times the age pattern),
//!   newborns' survival to the end of the year, and the care-prevalence multipliers. A region
//!   whose mortality level is 1 then needs multiplications and additions only; a region with a
//!   level `c` of its own (per draw) survives with `S^c = exp(c ln S)`, one single-precision
//!   `2^x` per age and year (proportional hazards over the cohort's year): [`exp2_f32`], or
//!   for the small exponents of most ages below 70 the shorter [`exp_small`] (and up to the
//!   nineties [`exp2_medium`], `exp2_f32`'s bits without its range reduction), formed as the
//!   cohort step reaches the age rather than stored first. Which form each age needs is found
//!   before the step from bounds over the lanes ([`FormAges`]), so the step does not branch
//!   on the exponents.
//! - Sums over ages run in a fixed order for each lane, so a lane's result does not depend on
//!   the vector width of the machine: an SSE2 build, an AVX2 build, an AVX-512 build and a
//!   scalar one give the same bits. Nothing uses fused multiply-add (Rust never contracts
//!   `a * b + c`).
//! - Counts are `f32`: 24 significant bits, a relative rounding of 6e-8 per operation. The
//!   kernel agrees with the `f64` reference to about 1e-5 relative over a projection (tested
//!   in `tests/cli/engine.rs`), far below Monte Carlo noise.
//!
//! Double precision is kept where it matters for accuracy: the mortality schedule (`exp` of the
//! Lee-Carter log rates) and its life table are computed in `f64` by [`exp`] and
//! [`crate::demography::lifetable::ln`] and rounded once to `f32`.

use crate::capacity::{CapacityPath, EntryCache};
use crate::demography::{N_AGES, OPEN_AGE};
use crate::scenario::Scenario;
use crate::streams::{DrawKey, Purpose, draw_key};

use super::{AGE_GROUPS, Metric, N_STORED};

const LOG2_E: f64 = std::f64::consts::LOG2_E;

/// Draws projected together.
pub const LANES: usize = 16;

/// One value per draw of a block.
pub type V = [f32; LANES];

/// Values by single age, one lane per draw.
pub type AgeLanes = [V; N_AGES];

const ZERO: V = [0.0; LANES];

/// A value that starts a cache line (64 bytes).
///
/// Every value the kernel loads or stores is a [`V`] of 64 bytes. The system allocator gives a
/// `Vec` or `Box` of them 16-byte alignment only (the national run's population, migration and
/// survival tables started 16 or 32 bytes into a line), and then every one of those loads and
/// stores spans two cache lines. Tables of `V`s held in `Lines` start a line, so each `V` in them
/// is exactly one.
#[repr(C, align(64))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lines<T>(pub T);

impl<T> std::ops::Deref for Lines<T> {
    type Target = T;
    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Lines<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

#[inline(always)]
fn mul(a: &V, b: &V) -> V {
    std::array::from_fn(|l| a[l] * b[l])
}

#[inline(always)]
fn add(a: &V, b: &V) -> V {
    std::array::from_fn(|l| a[l] + b[l])
}

/// `max(a - b, 0)` lane by lane.
#[inline(always)]
fn excess(a: &V, b: &V) -> V {
    let mut out = ZERO;
    for l in 0..LANES {
        out[l] = (a[l] - b[l]).max(0.0);
    }
    out
}

/// The people of all ages, of the elderly, of 65+, of 80+ and of the care ages: for each, the
/// sum of both sexes' segment sums from its first segment on, in segment order, from zero. One
/// pass over the segments carries the five chains of additions side by side (each in its own
/// order, so the same bits as five passes), rather than each waiting for the one before. A
/// function, not a closure in [`project_any`]: some builds left such closures out of line.
#[inline(always)]
fn age_counts(c: &Constants, sums: &[Lines<[V; 2]>]) -> [V; 5] {
    let firsts = [0, c.elderly_seg, c.aged65_seg, c.aged80_seg, c.care_seg];
    let mut acc = [ZERO; 5];
    for (k, s) in sums.iter().enumerate() {
        let both = add(&s[0], &s[1]);
        for (a, &first) in acc.iter_mut().zip(&firsts) {
            if k >= first {
                *a = add(a, &both);
            }
        }
    }
    acc
}

pub use crate::demography::lifetable::exp;

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

impl Segment {
    fn contains(&self, x: usize) -> bool {
        (self.start..self.end).contains(&x)
    }
}

/// What every draw and region of a run share.
pub struct Constants {
    segments: Vec<Segment>,
    /// The segment of each age.
    seg_of: [usize; N_AGES],
    /// For each age, the bits that keep a segment's running sum into the next age: none after
    /// the last age of a segment (the next one starts from zero), all of them otherwise.
    seg_keep: [u32; N_AGES],
    /// For each age, the next age after it where fertility starts or stops (`N_AGES` if none):
    /// the end of the run of ages [`own_sex`] steps in one loop (besides the forms of `2^x`).
    run_end: [usize; N_AGES],
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
    /// Half the fertility age pattern by age, in single precision (0 outside the fertile
    /// ages): the women's exposure `(1 + S^c) / 2` times the pattern is `half_shape (1 + S^c)`,
    /// and halving is exact, so this is the same product with one multiplication less.
    fert_half_shape: [f32; N_AGES],
    /// Whether some region of the scenario is projected at the block's mortality itself (its
    /// level is the fixed value 1), and so needs [`MortalityBlock`]'s survival, fertility
    /// weights and newborns' survival; regions with a level of their own need only their
    /// logarithms.
    national_survival: bool,
    /// Regions whose supply is a share of their class's, made once per run.
    pub supply: std::sync::Arc<crate::capacity::SupplyClasses>,
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
            seg_of: std::array::from_fn(|x| segments.iter().position(|g| g.contains(x)).unwrap_or(0)),
            seg_keep: std::array::from_fn(|x| if segments.iter().any(|g| g.end == x + 1) { 0 } else { u32::MAX }),
            run_end: std::array::from_fn(|x| (x + 1..N_AGES).find(|&y| y == fert_lo || y == fert_hi).unwrap_or(N_AGES)),
            segments,
            base_peak,
            mig_weight: s.migration.weight,
            fert_lo,
            fert_hi,
            male_share: s.fertility.male_share as f32,
            fert_half_shape: std::array::from_fn(|x| 0.5 * s.fertility.shape[x] as f32),
            national_survival: !s.regions.iter().all(crate::scenario::Region::has_own_mortality_level),
            supply: std::sync::Arc::new(crate::capacity::SupplyClasses::new(s)),
        }
    }

    /// Number of age segments.
    pub fn segments(&self) -> usize {
        self.segments.len()
    }
}

/// `out[l] = 2^(c[l] y[l])` for every lane: by [`exp_small`] (of `c ln S`) where `|c y|` is below
/// [`SMALL_EXPONENT`] (the survival of most ages up to 70, whose yearly mortality is a few per
/// thousand) and by [`exp2_f32`] elsewhere. Each lane's value depends on that lane alone: each
/// form is computed for the whole block only when some lane needs it, and then chosen lane by
/// lane, so results do not depend on which draws share a block. Plain loops over the lanes,
/// not `array::from_fn`: in the large projection kernel LLVM reliably vectorises the loops,
/// while the closure form was left partly scalar by some builds (half the kernel's speed).
#[inline(always)]
fn exp2_scaled(out: &mut V, c: &V, y: &V) {
    let mut t = ZERO;
    let mut large = 0u32;
    let mut small = 0u32;
    for l in 0..LANES {
        t[l] = c[l] * y[l];
        let big = t[l].abs() >= SMALL_EXPONENT;
        large |= u32::from(big);
        small |= u32::from(!big);
    }
    if small == 0 {
        // Every lane needs the full form (the old ages): the short one would be thrown away.
        for l in 0..LANES {
            out[l] = exp2_f32(t[l]);
        }
        return;
    }
    let cl = ln_scaled(c);
    for l in 0..LANES {
        out[l] = exp_small(cl[l] * y[l]);
    }
    if large != 0 {
        for l in 0..LANES {
            let full = exp2_f32(t[l]);
            out[l] = if t[l].abs() >= SMALL_EXPONENT { full } else { out[l] };
        }
    }
}

/// `(ln 2)^k / k!`, the Taylor coefficients of `2^y = e^(y ln 2)` that every form of `2^x`
/// below uses.
const C1: f32 = std::f32::consts::LN_2;
const C2: f32 = 0.240_226_5;
const C3: f32 = 0.055_504_11;
const C4: f32 = 0.009_618_129;
const C5: f32 = 0.001_333_355_8;
const C6: f32 = 0.000_154_035_3;

/// Exponents below which [`exp_small`] is used: `2^-5`.
pub const SMALL_EXPONENT: f32 = 0.031_25;

/// `c ln 2` lane by lane: the level that gives [`exp_small`]'s exponent `u = (c ln 2) log2 S
/// = c ln S` from the block's `log2 S` in one multiplication. Every caller forms it by this one
/// operation, so a lane's `u`, and its `S^c`, has the same bits wherever it is computed.
#[inline(always)]
fn ln_scaled(c: &V) -> V {
    let mut out = ZERO;
    for l in 0..LANES {
        out[l] = c[l] * C1;
    }
    out
}

/// `e^u` for `|u| < SMALL_EXPONENT ln 2 = 0.0217` (the exponents `u = c ln S` of the ages whose
/// `|c log2 S|` is below [`SMALL_EXPONENT`]) by the degree-3 Taylor polynomial
/// `(1 + u) + u^2 (1/2 + u/6)` (Estrin's scheme: the longest chain is four operations). Its
/// truncation is below `0.0217^4 / 24 = 9.2e-9`, a sixth of the rounding of a single-precision
/// value near 1 (6e-8), so the result is within the rounding of single precision (tested: 2e-7;
/// the worst over the range is 1.22e-7, against 1.18e-7 for the degree-4 form it replaced),
/// like [`exp2_f32`]'s.
///
/// Most ages of the cohort step take this form, and the step is bound by its multiplications
/// (two a cycle). In natural units it makes 4 of them with the exponent's own (`u`, `u^2`,
/// `u/6` and the last product), where the degree-4 polynomial of `2^y` it replaced made 6 (`t =
/// c y`, `C1 t`, `t^2`, `C3 t`, `C4 t^2`, the last product): with the step's two others (the
/// survivors' growth by migration and the carried product) 6 a vector instead of 8. The degree-4
/// form's truncation (4e-11) was far below what single precision keeps. The two round
/// differently in the last place of some values.
#[inline(always)]
pub fn exp_small(u: f32) -> f32 {
    let u2 = u * u;
    (1.0 + u) + u2 * (0.5 + u * (1.0 / 6.0))
}

/// Exponents below which [`exp2_medium`] gives [`exp2_f32`]'s value: `1/2`.
pub const MEDIUM_EXPONENT: f32 = 0.5;

/// [`exp2_f32`] for `|y| < MEDIUM_EXPONENT`, bit for bit, without its range reduction: there
/// the nearest integer `n` is 0, so `f = y` exactly and the scale `2^n` is 1, and only the
/// polynomial is left (tested). For survivals `S^c` above 0.71, every age up to the nineties
/// in the national data, this is two thirds of `exp2_f32`'s operations.
#[inline(always)]
pub fn exp2_medium(f: f32) -> f32 {
    let f2 = f * f;
    (1.0 + C1 * f) + f2 * ((C2 + C3 * f) + f2 * ((C4 + C5 * f) + f2 * C6))
}

/// `2^y` in single precision from basic IEEE operations (no libm, no fused multiply-add), so
/// it gives the same bits on every machine and vectorises: `y = n + f` with `n` the nearest
/// integer and `|f| <= 1/2` (exact), `2^f` by the degree-6 Taylor polynomial of `e^(f ln 2)`
/// (truncation below 1.2e-7 relative) evaluated in Estrin's scheme (independent pairs, so it
/// does not wait on one long chain of multiplications), and `2^n` from its bits. Inputs are
/// clamped to [-126, 127]. Within 3e-7 of the exact value (tested), about two units in the last
/// place of an `f32`. A region's survival `S^c` is `2^(c log2 S)` with `log2 S` computed once
/// per block in double precision, so this is its whole cost per age and year.
#[inline(always)]
pub fn exp2_f32(y: f32) -> f32 {
    const SHIFT: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let y = y.clamp(-126.0, 127.0);
    let t = y + SHIFT;
    let n = t - SHIFT;
    let f = y - n;
    let p = exp2_medium(f);
    let k = (t.to_bits() as i32).wrapping_sub(SHIFT.to_bits() as i32);
    p * f32::from_bits(((k + 127) << 23) as u32)
}

/// The national mortality of a block of draws (or a region's own, with regional shocks): the
/// life-table survival and its by-products for every projection step (step `i` takes the
/// population from year `i` to year `i + 1`).
pub struct MortalityBlock {
    /// Survival over the year, `L(x+1)/L(x)` (`T(100)/T(99)` at 99 and 100+), by step, sex and
    /// age. This, `fert` and `infant` are empty when every region of the scenario has a
    /// mortality level of its own (`Constants::national_survival`): those regions read only the
    /// logarithms, and the national run's kept tables are then 138 MB instead of 281 MB.
    pub surv: Vec<Lines<[AgeLanes; 2]>>,
    /// `log2` of `surv`, for regions with a mortality level of their own (`S^c = 2^(c log2 S)`).
    pub log2_surv: Vec<Lines<[AgeLanes; 2]>>,
    /// Fertility weight `shape(x) (1 + S_f(x)) / 2` by step and fertile age (`step * n + x - lo`).
    pub fert: Vec<Lines<V>>,
    /// Newborns' survival to the end of their year of birth, `L(0)/l(0)`, by step and sex, and
    /// its base-2 logarithm.
    pub infant: Vec<[V; 2]>,
    pub log2_infant: Vec<[V; 2]>,
    /// Bounds on `|log2 S|` over the block's lanes, by step and sex, from which a region with
    /// a level of its own finds the ages where each form of `2^x` is needed ([`FormAges`]):
    /// `[0][x]` is the largest over the lanes and the ages up to `x`, `[1][x]` the smallest
    /// over the lanes and the ages from `x` on (both non-decreasing in `x`).
    pub reach: Vec<[[[f32; N_AGES]; 2]; 2]>,
}

impl MortalityBlock {
    /// Memory of one projection step of a block.
    pub fn bytes_per_step(c: &Constants) -> usize {
        let logs = 2 * std::mem::size_of::<AgeLanes>() + 2 * std::mem::size_of::<V>() + std::mem::size_of::<[[[f32; N_AGES]; 2]; 2]>();
        let national = 2 * std::mem::size_of::<AgeLanes>() + (c.fert_hi - c.fert_lo + 2) * std::mem::size_of::<V>();
        logs + if c.national_survival { national } else { 0 }
    }

    pub fn new(c: &Constants, n_steps: usize) -> MortalityBlock {
        let national = if c.national_survival { n_steps } else { 0 };
        MortalityBlock {
            surv: vec![Lines([[ZERO; N_AGES]; 2]); national],
            log2_surv: vec![Lines([[ZERO; N_AGES]; 2]); n_steps],
            fert: vec![Lines(ZERO); national * (c.fert_hi - c.fert_lo)],
            infant: vec![[ZERO; 2]; national],
            log2_infant: vec![[ZERO; 2]; n_steps],
            reach: vec![[[[0.0; N_AGES]; 2]; 2]; n_steps],
        }
    }

    /// Fills every lane from the Lee-Carter index of its draw, `kappa[step][sex][lane]`:
    /// `m = exp(ln m_base + b k)`, then the year's life table.
    pub fn fill(&mut self, s: &Scenario, c: &Constants, kappa: &[[[f64; LANES]; 2]]) {
        fill_mortality(self, s, c, kappa);
    }

    #[inline(always)]
    fn fill_any(&mut self, s: &Scenario, c: &Constants, kappa: &[[[f64; LANES]; 2]]) {
        let m = &s.mortality;
        let nf = c.fert_hi - c.fert_lo;
        for (i, k) in kappa.iter().enumerate() {
            for sex in 0..2 {
                let mut rates = [[0.0f64; LANES]; N_AGES];
                for x in 0..N_AGES {
                    let (a, b) = (m.base_log_m[sex][x], m.b[sex][x]);
                    for l in 0..LANES {
                        rates[x][l] = exp(a + b * k[sex][l]);
                    }
                }
                let (surv, newborn) = life_table_lanes(&rates);
                for x in 0..N_AGES {
                    for l in 0..LANES {
                        self.log2_surv[i][sex][x][l] = (crate::demography::lifetable::ln(surv[x][l]) * LOG2_E) as f32;
                    }
                    if !c.national_survival {
                        continue;
                    }
                    for l in 0..LANES {
                        self.surv[i][sex][x][l] = surv[x][l] as f32;
                    }
                    if sex == 1 && (c.fert_lo..c.fert_hi).contains(&x) {
                        let shape = s.fertility.shape[x];
                        for l in 0..LANES {
                            self.fert[i * nf + x - c.fert_lo][l] = (shape * 0.5 * (1.0 + surv[x][l])) as f32;
                        }
                    }
                }
                for l in 0..LANES {
                    if c.national_survival {
                        self.infant[i][sex][l] = newborn[l] as f32;
                    }
                    self.log2_infant[i][sex][l] = (crate::demography::lifetable::ln(newborn[l]) * LOG2_E) as f32;
                }
                self.reach[i][sex] = reach(&self.log2_surv[i][sex]);
            }
        }
    }
}

/// [`crate::demography::lifetable::survival`] for a lane of death-rate schedules at once,
/// written so that it vectorises over the lanes: the same operations in the same order, so each
/// lane has exactly the bits of the scalar function.
#[inline(always)]
fn life_table_lanes(m: &[[f64; LANES]; N_AGES]) -> ([[f64; LANES]; N_AGES], [f64; LANES]) {
    let mut big_l = [[0.0f64; LANES]; N_AGES];
    let mut l = [1.0f64; LANES];
    for x in 0..OPEN_AGE {
        let a = if x == 0 { 0.1 } else { 0.5 };
        for j in 0..LANES {
            let q = (m[x][j] / (1.0 + (1.0 - a) * m[x][j])).clamp(0.0, 1.0);
            let d = l[j] * q;
            big_l[x][j] = l[j] - (1.0 - a) * d;
            l[j] -= d;
        }
    }
    for j in 0..LANES {
        big_l[OPEN_AGE][j] = if m[OPEN_AGE][j] > 0.0 {
            l[j] / m[OPEN_AGE][j]
        } else {
            f64::INFINITY
        };
    }
    let mut s = [[0.0f64; LANES]; N_AGES];
    for x in 0..OPEN_AGE - 1 {
        for j in 0..LANES {
            s[x][j] = if big_l[x][j] > 0.0 { big_l[x + 1][j] / big_l[x][j] } else { 0.0 };
        }
    }
    for j in 0..LANES {
        let t99 = big_l[OPEN_AGE - 1][j] + big_l[OPEN_AGE][j];
        let open = if big_l[OPEN_AGE][j].is_infinite() {
            1.0
        } else if t99 > 0.0 {
            big_l[OPEN_AGE][j] / t99
        } else {
            0.0
        };
        s[OPEN_AGE - 1][j] = open;
        s[OPEN_AGE][j] = open;
    }
    (s, big_l[0])
}

/// [`MortalityBlock::reach`] of one sex and step from its `log2 S`: the running largest
/// `|log2 S|` from age 0 up and the running smallest from the open age down. An age where some
/// lane is NaN counts as having both the largest and the smallest value possible, so that no
/// form is ever chosen for it from these bounds alone (see [`FormAges`]).
fn reach(log2_surv: &AgeLanes) -> [[f32; N_AGES]; 2] {
    let mut out = [[0.0; N_AGES]; 2];
    let (mut up, mut down) = (0.0f32, f32::INFINITY);
    for x in 0..N_AGES {
        let v = &log2_surv[x];
        let nan = v.iter().any(|y| y.is_nan());
        let most = v.iter().fold(0.0f32, |m, y| m.max(y.abs()));
        up = if nan { f32::INFINITY } else { up.max(most) };
        out[0][x] = up;
    }
    for x in (0..N_AGES).rev() {
        let v = &log2_surv[x];
        let nan = v.iter().any(|y| y.is_nan());
        let least = v.iter().fold(f32::INFINITY, |m, y| m.min(y.abs()));
        down = if nan { 0.0 } else { down.min(least) };
        out[1][x] = down;
    }
    out
}

/// Where along the ages of one sex and step a region's `S^c = 2^(c log2 S)` needs which form
/// of `2^x`: [`exp_small`] where every lane's `|c log2 S|` is below [`SMALL_EXPONENT`],
/// [`exp2_medium`] where every lane's is between it and [`MEDIUM_EXPONENT`], [`exp2_f32`]
/// where every lane's is at least that, and between them both forms, chosen lane by lane.
///
/// The ages are found from bounds, not from the exponents: with `c` between `lo` and `hi` over
/// the lanes (all positive) and `|log2 S|` between [`MortalityBlock::reach`]'s bounds, the
/// rounded product `c |log2 S|` lies between the rounded products of the bounds, because
/// rounding is monotone. So each lane gets exactly the form [`exp2_scaled`] would give it, and
/// the step tests no exponent: the forms' ranges of ages are fixed before it starts, and it runs
/// each range without a branch on which form to take (a branch on the exponents, taken
/// differently from one county, year and age to the next, cost a quarter of the step in
/// mispredictions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormAges {
    /// Ages `0..small` take the short form.
    pub small: usize,
    /// Ages `small..mixed` take the short form or another, lane by lane (the polynomial before
    /// `medium`, the full form from there).
    pub mixed: usize,
    /// Ages before `medium` have every lane's exponent below [`MEDIUM_EXPONENT`].
    pub medium: usize,
}

impl FormAges {
    /// The forms' ages for levels between `lo` and `hi` (over the lanes) and one sex and step's
    /// `reach`. Levels that are not all finite and positive get the lane-by-lane choice at
    /// every age.
    #[inline(always)]
    pub fn new(lo: f32, hi: f32, reach: &[[f32; N_AGES]; 2]) -> FormAges {
        if !(lo > 0.0 && hi.is_finite()) {
            return FormAges {
                small: 0,
                mixed: N_AGES,
                medium: 0,
            };
        }
        // Each bound is non-decreasing in age, so the ages below a limit are a prefix, found by
        // bisection: 7 steps instead of a test of all 101 ages, three times for each sex and
        // year of every region block.
        let below = |c: f32, b: &[f32; N_AGES], limit: f32| b.partition_point(|&v| c * v < limit);
        FormAges {
            small: below(hi, &reach[0], SMALL_EXPONENT),
            mixed: below(lo, &reach[1], SMALL_EXPONENT),
            medium: below(hi, &reach[0], MEDIUM_EXPONENT),
        }
    }

    /// The ages of each form, in the order of [`SMALL`], [`MIXED_MEDIUM`], [`MIXED_FULL`],
    /// [`MEDIUM`] and [`FULL`]: consecutive ranges that cover every age.
    #[inline(always)]
    pub fn ranges(&self) -> [std::ops::Range<usize>; 5] {
        let mixed_medium = self.small.max(self.mixed.min(self.medium));
        let medium_end = self.mixed.max(self.medium);
        [
            0..self.small,
            self.small..mixed_medium,
            mixed_medium..self.mixed,
            self.mixed..medium_end,
            medium_end..N_AGES,
        ]
    }
}

/// The smallest and largest lane of a region's levels.
#[inline(always)]
fn level_bounds(level: &V) -> (f32, f32) {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &c in level {
        lo = lo.min(c);
        hi = hi.max(c);
    }
    if level.iter().any(|c| c.is_nan()) {
        (f32::NAN, f32::NAN)
    } else {
        (lo, hi)
    }
}

simd_dispatch! {
    fn fill_mortality / fill_mortality_avx2 => fill_mortality_any(
        m: &mut MortalityBlock,
        s: &Scenario,
        c: &Constants,
        kappa: &[[[f64; LANES]; 2]],
    )
}

#[inline(always)]
fn fill_mortality_any(m: &mut MortalityBlock, s: &Scenario, c: &Constants, kappa: &[[[f64; LANES]; 2]]) {
    m.fill_any(s, c, kappa);
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
    /// from the same streams).
    pub fn push_lane(&mut self, care: &crate::scenario::Care, seed: u64, draw: u64) {
        let l = self.draws.len();
        let d = crate::care::draw_parameters(care, seed, draw);
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
    /// Survivors' growth by net migration at the end of the year, by sex and age:
    /// `1 + persistence * schedule(sex, x) + rate * weight(x)` (at least 0).
    pub grow: Lines<[AgeLanes; 2]>,
    /// Net in-migrants added at the end of the year, by sex and age: `persistence * inflow`.
    /// Zero when the region has no inflow ([`RegionBlock::has_inflow`]).
    pub inflow: Lines<[AgeLanes; 2]>,
    /// Whether the region has net in-migrants of its own (`migration_inflow`: with the migration
    /// schedules' default `gains = "counts"`, every region whose schedule gains people at some
    /// age). Without them the projection skips adding 2 x 101 rows of zeros every year.
    pub has_inflow: bool,
    pub registered: V,
    /// The region's mortality level in each draw, when it has one of its own (its distribution
    /// is not the fixed value 1): its survival is then `S^level` of the block's.
    pub level: Option<V>,
    /// Capacity by year.
    pub capacity: Vec<CapacityLanes>,
    cap: CapacityPath,
    /// Per-sex sums of the age segments, by year and segment (scratch of [`project`]).
    segment_sums: Vec<Lines<[V; 2]>>,
    /// Births by projection step (scratch of [`project`]: the women's step leaves them for the
    /// men's).
    births: Vec<V>,
    /// Each group's shared migration samples for the last block of draws it was asked for
    /// (see [`super::migration_rates`]).
    group_rates: super::GroupRates,
    /// The streams' draw keys of the last block of draws asked for: every region of a chunk
    /// is filled for the same block in turn, and they depend on the draws only (a
    /// `RegionBlock` serves one run, so one scenario's seed and draw numbering).
    keys: Option<DrawKeys>,
}

impl RegionBlock {
    pub fn new(c: &Constants, n_years: usize) -> RegionBlock {
        RegionBlock {
            lanes: 0,
            tfr: ZERO,
            grow: Lines([[ZERO; N_AGES]; 2]),
            inflow: Lines([[ZERO; N_AGES]; 2]),
            has_inflow: false,
            registered: ZERO,
            level: None,
            capacity: vec![[ZERO; 5]; n_years],
            cap: CapacityPath::new(n_years),
            segment_sums: vec![Lines([ZERO; 2]); n_years * c.segments()],
            births: vec![ZERO; n_years],
            group_rates: super::GroupRates::default(),
            keys: None,
        }
    }

    /// Samples region `r`'s inputs for draws `d0..d0 + lanes` (TFR, migration rate, registered
    /// ratio, mortality level, each from its own stream) and realises its capacity in each.
    /// `persistence[l]` is the draw's share of the last decade's migration schedules that goes
    /// on (national, see [`super::migration_persistence`]).
    #[allow(clippy::too_many_arguments)]
    pub fn fill(
        &mut self,
        s: &Scenario,
        c: &Constants,
        r: usize,
        d0: usize,
        lanes: usize,
        persistence: &[f64; LANES],
        entries: &mut EntryCache,
    ) {
        use crate::streams::entity_stream;
        let region = &s.regions[r];
        let tfr_dist = region.tfr.as_ref().unwrap_or(&s.fertility.tfr);
        let own_level = region.has_own_mortality_level();
        self.lanes = lanes;
        let keys = match &mut self.keys {
            Some(k) => {
                k.update(s, d0, lanes);
                k
            }
            none => none.insert(DrawKeys::of(s, d0, lanes)),
        };
        let mut rate = super::migration_rates(s, r, d0, lanes, &keys.migration, &mut self.group_rates);
        let mut level = [1.0f32; LANES];
        for l in 0..lanes {
            let draw = s.draw_id(d0 + l);
            // A fixed value draws no random number: its stream need not be made.
            let sample = |d: &crate::dist::Dist, key: DrawKey| match d.as_fixed() {
                Some(v) => v,
                None => d.sample(&mut entity_stream(key, region.key)),
            };
            self.tfr[l] = sample(tfr_dist, keys.fertility[l]) as f32;
            if own_level {
                level[l] = sample(&region.mortality_level, keys.level[l]) as f32;
            }
            crate::capacity::realise_cached(s, r, draw, l, entries, &mut self.cap);
            for (yi, y) in self.capacity.iter_mut().enumerate() {
                y[0][l] = self.cap.institutional[yi] as f32;
                y[1][l] = self.cap.nursing[yi] as f32;
                y[2][l] = self.cap.community[yi] as f32;
                y[3][l] = self.cap.caregivers[yi] as f32;
                y[4][l] = self.cap.seasonal[yi] as f32;
            }
            self.registered[l] = sample(&region.registered_ratio, keys.registered[l]) as f32;
        }
        // Lanes past the block repeat its first draw: they are computed and never stored.
        for l in lanes..LANES {
            self.tfr[l] = self.tfr[0];
            self.registered[l] = self.registered[0];
            rate[l] = rate[0];
            level[l] = level[0];
            for y in self.capacity.iter_mut() {
                for v in y.iter_mut() {
                    v[l] = v[0];
                }
            }
        }
        self.level = own_level.then_some(level);
        // Net migration: survivors times (1 + persistence * schedule + rate * weight(x)), added
        // at the end of the year; never below 0 (a schedule cannot remove more than everyone).
        let zero = [[0.0; N_AGES]; 2];
        let schedule = region.migration_schedule.as_deref().unwrap_or(&zero);
        let p: [f64; LANES] = std::array::from_fn(|l| if l < lanes { persistence[l] } else { persistence[0] });
        let had_inflow = self.has_inflow;
        self.has_inflow = region.migration_inflow.is_some();
        let inflow = match region.migration_inflow.as_deref() {
            Some(inflow) => Some(inflow),
            // The rows of a region before, with inflow, are cleared.
            None if had_inflow => Some(&zero),
            None => None,
        };
        fill_migration(&mut self.grow, &mut self.inflow, &c.mig_weight, schedule, inflow, &p, &rate);
    }
}

/// The [`DrawKey`]s of the streams a region's projection inputs come from, for a block of
/// draws `d0..d0 + lanes` (lane `l` is draw `d0 + l`; later lanes are left at the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DrawKeys {
    /// The block they are for: the seed, its first draw and its number of draws.
    block: (u64, usize, usize),
    pub fertility: [DrawKey; LANES],
    pub level: [DrawKey; LANES],
    pub registered: [DrawKey; LANES],
    pub migration: [DrawKey; LANES],
}

impl DrawKeys {
    pub(crate) fn of(s: &Scenario, d0: usize, lanes: usize) -> DrawKeys {
        let keys = |purpose| {
            std::array::from_fn(|l| {
                if l < lanes {
                    draw_key(s.seed, purpose, s.draw_id(d0 + l))
                } else {
                    DrawKey::default()
                }
            })
        };
        DrawKeys {
            block: (s.seed, d0, lanes),
            fertility: keys(Purpose::Fertility),
            level: keys(Purpose::MortalityLevel),
            registered: keys(Purpose::Registered),
            migration: keys(Purpose::Migration),
        }
    }

    /// Makes these the keys of the block `d0..d0 + lanes` of `s` (when they are not already).
    pub(crate) fn update(&mut self, s: &Scenario, d0: usize, lanes: usize) {
        if self.block != (s.seed, d0, lanes) {
            *self = DrawKeys::of(s, d0, lanes);
        }
    }
}

simd_dispatch! {
    /// The migration rows of a region block (see [`RegionBlock::grow`] and
    /// [`RegionBlock::inflow`], left as they are without `inflow`): 2 x 101 ages of 16 lanes
    /// in `f64`, vectorised (the same operations in every build, so the same bits).
    fn fill_migration / fill_migration_avx2 => fill_migration_any(
        grow: &mut [AgeLanes; 2],
        added: &mut [AgeLanes; 2],
        weight: &[f64; N_AGES],
        schedule: &[[f64; N_AGES]; 2],
        inflow: Option<&[[f64; N_AGES]; 2]>,
        p: &[f64; LANES],
        rate: &[f64; LANES],
    )
}

#[inline(always)]
fn fill_migration_any(
    grow: &mut [AgeLanes; 2],
    added: &mut [AgeLanes; 2],
    weight: &[f64; N_AGES],
    schedule: &[[f64; N_AGES]; 2],
    inflow: Option<&[[f64; N_AGES]; 2]>,
    p: &[f64; LANES],
    rate: &[f64; LANES],
) {
    for sex in 0..2 {
        for x in 0..N_AGES {
            let (w, m) = (weight[x], schedule[sex][x]);
            let g = &mut grow[sex][x];
            for l in 0..LANES {
                g[l] = (1.0 + p[l] * m + rate[l] * w).max(0.0) as f32;
            }
            // Left to itself, LLVM vectorises this loop across ages, with a scatter (AVX-512) or
            // shuffles (AVX2) per lane, at twice the time of the row-by-row form; the barrier
            // keeps each row one vector operation over the lanes.
            std::hint::black_box(g);
        }
    }
    if let Some(inflow) = inflow {
        for sex in 0..2 {
            for x in 0..N_AGES {
                let (n, a) = (inflow[sex][x], &mut added[sex][x]);
                for l in 0..LANES {
                    a[l] = (p[l] * n) as f32;
                }
                std::hint::black_box(a);
            }
        }
    }
}

/// Which stored rows a pass keeps: the metrics of years `years` and, if `pyramid`, the horizon
/// pyramid. Row `(yi - years.start) * N_STORED + metric`, then the pyramid cells
/// `sex * AGE_GROUPS + group`, then, if `independent`, the people of the care ages without
/// dependency in each year (what a staged sweep needs to form institutional demand again
/// under other uptakes; not a metric of the tables).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassRows {
    pub years: std::ops::Range<usize>,
    pub pyramid: bool,
    pub independent: bool,
}

impl PassRows {
    pub fn len(&self) -> usize {
        self.years.len() * N_STORED + self.pyramid_cells() + if self.independent { self.years.len() } else { 0 }
    }

    pub fn pyramid_cells(&self) -> usize {
        if self.pyramid { 2 * AGE_GROUPS } else { 0 }
    }

    /// Row of the people without dependency in a year of the pass (with `independent`).
    pub fn independent_row(&self, yi: usize) -> usize {
        self.years.len() * N_STORED + self.pyramid_cells() + yi - self.years.start
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

/// Makes the non-temporal stores of [`BlockOut::set`] made so far by this thread visible
/// before any later store of it (`sfence`), so that the synchronisation that ends a task
/// (rayon's, a lock's) publishes them as it does plain stores. Every task that writes blocks
/// calls it once at its end.
#[inline]
pub fn fence_stores() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of x86_64; a fence reads and writes nothing.
    unsafe {
        std::arch::x86_64::_mm_sfence();
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
    pub(crate) unsafe fn new(base: *mut f32, stride: usize, rows: usize, lanes: usize) -> BlockOut {
        BlockOut { base, stride, rows, lanes }
    }

    /// Runs `f` with a `BlockOut` over `buf`, `rows` rows of `lanes` values one after the other:
    /// the safe way to write a block outside the engine (benchmarks, tests).
    ///
    /// # Panics
    /// When `lanes` is above the kernel's width or `buf` holds fewer than `rows * lanes` values.
    pub fn over_slice<R>(buf: &mut [f32], rows: usize, lanes: usize, f: impl FnOnce(&mut BlockOut) -> R) -> R {
        assert!(
            lanes <= LANES && buf.len() >= rows * lanes,
            "a buffer of {} values for {rows} rows of {lanes}",
            buf.len()
        );
        // SAFETY: `buf` is borrowed mutably for the whole call, so its first rows * lanes values
        // are valid for writes and no one else touches them; `f` cannot keep the BlockOut.
        let mut out = unsafe { BlockOut::new(buf.as_mut_ptr(), lanes, rows, lanes) };
        let result = f(&mut out);
        fence_stores();
        result
    }

    #[inline(always)]
    pub(crate) fn set(&mut self, row: usize, v: &V) {
        assert!(row < self.rows && self.lanes <= LANES, "row {row} outside a block of {}", self.rows);
        if self.lanes == LANES {
            // A full block is one fixed-size (64-byte) store. The slice copy below, of a length
            // known only at run time, is a call to `memcpy` per row (a fifth of the projection's
            // samples in a profile of the national run, most of it the stores' own wait).
            // SAFETY: row < rows and lanes == LANES: the constructor's contract makes the LANES
            // elements from base + row * stride valid and exclusively ours.
            let at = unsafe { self.base.add(row * self.stride) };
            // Rows lie `draws` values apart in a chunk far larger than the caches and are read
            // again only by the summaries, after the chunk is done: a plain store first reads
            // its line from memory and waits for it. Non-temporal stores (four of 16 bytes, one
            // whole line, written combined) skip that read. They need 16-byte alignment, which
            // the run's rows have when `draws` is a multiple of 4; [`fence_stores`] makes them
            // visible to other threads.
            #[cfg(target_arch = "x86_64")]
            if (at as usize).is_multiple_of(16) {
                use std::arch::x86_64::{_mm_loadu_ps, _mm_stream_ps};
                for k in 0..4 {
                    // SAFETY: SSE is part of x86_64; `at + 4k .. at + 4k + 4` lies in the row
                    // (above) and is 16-byte aligned; `v` holds 16 values.
                    unsafe { _mm_stream_ps(at.add(4 * k), _mm_loadu_ps(v.as_ptr().add(4 * k))) };
                }
                return;
            }
            // SAFETY: as above; `write_unaligned` asks no alignment.
            unsafe { at.cast::<V>().write_unaligned(*v) };
            return;
        }
        // SAFETY: row < rows and lanes <= LANES, and the constructor's contract makes the
        // `lanes` elements from base + row * stride valid and exclusively ours.
        let out = unsafe { std::slice::from_raw_parts_mut(self.base.add(row * self.stride), self.lanes) };
        out.copy_from_slice(&v[..self.lanes]);
    }
}

/// The survival a step uses: the block's (national) or the region's own.
#[derive(Clone, Copy)]
pub struct StepSurvival<'a> {
    pub surv: &'a [AgeLanes; 2],
    pub infant: &'a [V; 2],
    /// Fertility weights of the fertile ages `fert_lo..fert_hi`.
    pub fert: &'a [Lines<V>],
}

impl MortalityBlock {
    /// The survival of projection step `i`.
    pub fn step_survival(&self, c: &Constants, i: usize) -> StepSurvival<'_> {
        let nf = c.fert_hi - c.fert_lo;
        StepSurvival {
            surv: &self.surv[i],
            infant: &self.infant[i],
            fert: &self.fert[i * nf..(i + 1) * nf],
        }
    }
}

/// Survivors times their growth by migration, plus the in-migrants when the region has them
/// (`INFLOW`; adding zeros to counts that are never -0 changes no bit, so leaving them out
/// gives the same results).
#[inline(always)]
fn migrate<const INFLOW: bool>(survivors: &V, grow: &V, inflow: &V) -> V {
    let grown = mul(survivors, grow);
    if INFLOW { add(&grown, inflow) } else { grown }
}

#[inline(always)]
fn step_any<const INFLOW: bool>(
    c: &Constants,
    tfr: &V,
    grow: &[AgeLanes; 2],
    inflow: &[AgeLanes; 2],
    sv: StepSurvival<'_>,
    pop: &[AgeLanes; 2],
    next: &mut [AgeLanes; 2],
) {
    let mut births = ZERO;
    for (k, x) in (c.fert_lo..c.fert_hi).enumerate() {
        let w = &sv.fert[k];
        for l in 0..LANES {
            births[l] += pop[1][x][l] * w[l];
        }
    }
    let births = mul(&births, tfr);
    let shares = [c.male_share, 1.0 - c.male_share];
    for sex in 0..2 {
        let (p, n, s, grow, inflow) = (&pop[sex], &mut next[sex], &sv.surv[sex], &grow[sex], &inflow[sex]);
        for x in 1..OPEN_AGE {
            n[x] = migrate::<INFLOW>(&mul(&p[x - 1], &s[x - 1]), &grow[x], &inflow[x]);
        }
        let top = add(&mul(&p[OPEN_AGE - 1], &s[OPEN_AGE - 1]), &mul(&p[OPEN_AGE], &s[OPEN_AGE]));
        n[OPEN_AGE] = migrate::<INFLOW>(&top, &grow[OPEN_AGE], &inflow[OPEN_AGE]);
        let born = mul(&births, &[shares[sex]; LANES]);
        n[0] = migrate::<INFLOW>(&mul(&born, &sv.infant[sex]), &grow[0], &inflow[0]);
    }
}

/// Per-sex sums of the age segments of `pop`: each segment's ages added in ascending order,
/// starting from zero (both sexes' chains side by side; each keeps its own order).
#[inline(always)]
fn segment_sums(c: &Constants, pop: &[AgeLanes; 2], sums: &mut [Lines<[V; 2]>]) {
    for (g, s) in c.segments.iter().zip(sums.iter_mut()) {
        let (mut men, mut women) = (ZERO, ZERO);
        for x in g.start..g.end {
            men = add(&men, &pop[0][x]);
            women = add(&women, &pop[1][x]);
        }
        *s = Lines([men, women]);
    }
}

/// The forms of `2^x` an age of [`own_run`] takes (see [`FormAges`]).
const SMALL: u8 = 0;
const MIXED_MEDIUM: u8 = 1;
const MIXED_FULL: u8 = 2;
const MEDIUM: u8 = 3;
const FULL: u8 = 4;

/// What the step of one sex carries from one age to the next.
struct OwnStep {
    /// The survivors of the age before, this year's people times their `S^c`: carried as their
    /// product (the same multiplication the step makes at the next age), not as its two
    /// factors, one vector less to keep in registers across the ages. With both factors kept,
    /// the AVX2 build ran out of its 16 vector registers and kept a segment's sum on the stack,
    /// so that every age waited on a store and a reload of it.
    carried: V,
    /// The sum so far of the segment being summed.
    acc: V,
    /// Births so far (women only).
    births: V,
}

/// `2^(c y)` lane by lane in the form `FORM`, with `cl` the lanes' [`ln_scaled`] levels; the
/// mixed forms take the short one where a lane's exponent is below [`SMALL_EXPONENT`] and the
/// other elsewhere, as [`exp2_scaled`] does.
#[inline(always)]
fn exp2_in<const FORM: u8>(c: &V, cl: &V, y: &V) -> V {
    let mut out = ZERO;
    if FORM == SMALL {
        for l in 0..LANES {
            out[l] = exp_small(cl[l] * y[l]);
        }
        return out;
    }
    let mut t = ZERO;
    for l in 0..LANES {
        t[l] = c[l] * y[l];
    }
    match FORM {
        MEDIUM => {
            for l in 0..LANES {
                out[l] = exp2_medium(t[l]);
            }
        }
        FULL => {
            for l in 0..LANES {
                out[l] = exp2_f32(t[l]);
            }
        }
        MIXED_MEDIUM => {
            for l in 0..LANES {
                out[l] = exp_small(cl[l] * y[l]);
            }
            for l in 0..LANES {
                let medium = exp2_medium(t[l]);
                out[l] = if t[l].abs() >= SMALL_EXPONENT { medium } else { out[l] };
            }
        }
        _ => {
            for l in 0..LANES {
                out[l] = exp_small(cl[l] * y[l]);
            }
            for l in 0..LANES {
                let full = exp2_f32(t[l]);
                out[l] = if t[l].abs() >= SMALL_EXPONENT { full } else { out[l] };
            }
        }
    }
    out
}

/// The tables one sex's step reads and writes, and what it needs of the block.
struct OwnSex<'a> {
    c: &'a Constants,
    sex: usize,
    ls: &'a AgeLanes,
    grow: &'a AgeLanes,
    inflow: &'a AgeLanes,
    /// The lanes' levels times `ln 2` ([`ln_scaled`]), for [`exp_small`].
    cl: V,
}

/// Ages `ages` of one sex's step in place ([`step_own_any`]), every one in the form `FORM`,
/// with births summed when `FERTILE`. The ages lie in `1..OPEN_AGE`, and the loop has no
/// branch: each age reads its people, adds them to its segment's sum ([`own_sum`]), forms its
/// `S^c`, and writes the survivors of the age below.
#[inline(always)]
fn own_run<const INFLOW: bool, const FORM: u8, const FERTILE: bool>(
    t: &OwnSex<'_>,
    ages: std::ops::Range<usize>,
    level: &V,
    p: &mut AgeLanes,
    sums: &mut [Lines<[V; 2]>],
    st: &mut OwnStep,
) {
    for x in ages {
        let now = p[x];
        own_sum(t, x, &now, sums, st);
        let sx = exp2_in::<FORM>(level, &t.cl, &t.ls[x]);
        if FERTILE {
            add_births(t, x, &now, &sx, st);
        }
        p[x] = migrate::<INFLOW>(&st.carried, &t.grow[x], &t.inflow[x]);
        st.carried = mul(&now, &sx);
    }
}

/// Age 0 or the open age of one sex's step (the ages [`own_run`] leaves out): age 0 writes
/// nothing (its survivors are the births, written by [`step_own_any`]), and the open age keeps
/// its own survivors besides those of the age below.
#[inline(always)]
fn own_edge<const INFLOW: bool>(t: &OwnSex<'_>, x: usize, level: &V, p: &mut AgeLanes, sums: &mut [Lines<[V; 2]>], st: &mut OwnStep) {
    let now = p[x];
    own_sum(t, x, &now, sums, st);
    // Every form gives each lane `exp2_scaled`'s value (see `FormAges`); the mixed one is
    // right for any lane.
    let sx = exp2_in::<MIXED_FULL>(level, &t.cl, &t.ls[x]);
    if t.sex == 1 && (t.c.fert_lo..t.c.fert_hi).contains(&x) {
        add_births(t, x, &now, &sx, st);
    }
    if x == OPEN_AGE {
        let top = add(&st.carried, &mul(&now, &sx));
        p[x] = migrate::<INFLOW>(&top, &t.grow[x], &t.inflow[x]);
    }
    st.carried = mul(&now, &sx);
}

/// Adds the births of the women of fertile age `x` (`now` of them, with survival `sx`) to the
/// step's births.
#[inline(always)]
fn add_births(t: &OwnSex<'_>, x: usize, now: &V, sx: &V, st: &mut OwnStep) {
    // `half (1 + S)` is `shape (0.5 (1 + S))` bit for bit: both are exactly half of `shape (1
    // + S)` (no product here is near underflow or overflow).
    let half = t.c.fert_half_shape[x];
    for l in 0..LANES {
        st.births[l] += now[l] * (half * (1.0 + sx[l]));
    }
}

/// Adds age `x`'s people `now` to its segment's sum, and writes the sum so far as the
/// segment's: the segment's last age leaves its whole sum (its ages added in ascending order
/// from zero). After that age the sum starts again from zero, by masking its bits rather than
/// by a branch, so that a segment's end does not end a loop: the step's ages are then cut only
/// where the form of `2^x` changes and where fertility starts and stops, about 6 loops a sex and
/// year instead of 17 with the national scenario's care bands. A store per age instead of per
/// segment, to a line the first-level cache holds.
#[inline(always)]
fn own_sum(t: &OwnSex<'_>, x: usize, now: &V, sums: &mut [Lines<[V; 2]>], st: &mut OwnStep) {
    let acc = add(&st.acc, now);
    sums[t.c.seg_of[x]][t.sex] = acc;
    let keep = t.c.seg_keep[x];
    for l in 0..LANES {
        st.acc[l] = f32::from_bits(acc[l].to_bits() & keep);
    }
}

/// One sex's step ([`step_own_any`]): the ages are cut where the form of `2^x` changes and
/// where fertility starts and stops, and each piece runs as a loop without branches
/// ([`own_run`]). With one loop over all ages that tested, at every age, whether it ended a
/// segment, was fertile or was the open age, LLVM kept the step's state (`S^c` and the people
/// of the age below, the segment's sum, the births) on the stack, and each age stored and
/// reloaded it: about 115 instructions an age in the AVX2 build, against 37 to 49 with the
/// pieces. The national run's `project` stage went from 27.0 to 23.1 s (2,000 draws, one
/// thread, Zen 3). The ends of segments cut the ages too until 4 December: 17 pieces a sex and
/// year, whose entries and exits (a jump on the piece's form, a mispredicted loop exit) cost
/// about a quarter of the step (`project_one` 46.5 -> 34.6 us, alternated on a Zen 3).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn own_sex<const INFLOW: bool>(
    t: &OwnSex<'_>,
    forms: &[std::ops::Range<usize>; 5],
    level: &V,
    p: &mut AgeLanes,
    sums: &mut [Lines<[V; 2]>],
    births: &mut V,
) {
    let mut st = OwnStep {
        carried: ZERO,
        acc: ZERO,
        births: *births,
    };
    own_edge::<INFLOW>(t, 0, level, p, sums, &mut st);
    let mut x = 1;
    while x < OPEN_AGE {
        let form = forms.iter().position(|r| r.contains(&x)).unwrap_or(2);
        let fertile = t.sex == 1 && (t.c.fert_lo..t.c.fert_hi).contains(&x);
        let end = forms[form].end.min(t.c.run_end[x]).min(OPEN_AGE);
        let ages = x..end;
        match (form, fertile) {
            (0, false) => own_run::<INFLOW, SMALL, false>(t, ages, level, p, sums, &mut st),
            (0, true) => own_run::<INFLOW, SMALL, true>(t, ages, level, p, sums, &mut st),
            (1, false) => own_run::<INFLOW, MIXED_MEDIUM, false>(t, ages, level, p, sums, &mut st),
            (1, true) => own_run::<INFLOW, MIXED_MEDIUM, true>(t, ages, level, p, sums, &mut st),
            (3, false) => own_run::<INFLOW, MEDIUM, false>(t, ages, level, p, sums, &mut st),
            (3, true) => own_run::<INFLOW, MEDIUM, true>(t, ages, level, p, sums, &mut st),
            (4, false) => own_run::<INFLOW, FULL, false>(t, ages, level, p, sums, &mut st),
            (4, true) => own_run::<INFLOW, FULL, true>(t, ages, level, p, sums, &mut st),
            (_, false) => own_run::<INFLOW, MIXED_FULL, false>(t, ages, level, p, sums, &mut st),
            (_, true) => own_run::<INFLOW, MIXED_FULL, true>(t, ages, level, p, sums, &mut st),
        }
        x = end;
    }
    own_edge::<INFLOW>(t, OPEN_AGE, level, p, sums, &mut st);
    *births = st.births;
}

/// One sex's part of [`step_any`] for a region with a mortality level of its own: its
/// survival `S^c` of each age is formed as the cohort step reaches that age rather than stored
/// first, and the fertility weights from the women's `S^c` as the births are summed (ascending
/// ages, as `step_any`). The same values and operations as computing every `S^c` first and then
/// `step_any`, so the same bits, without writing and reading back 13 KB of survival per region
/// and year. `bounds` are the smallest and largest lane of `level`: with the block's
/// [`MortalityBlock::reach`] they give the ages of each form of `2^x` ([`FormAges`]), which are
/// then stepped range by range.
///
/// `births` are the year's births: the women's step (`sex` 1) adds them up from zero, the
/// men's takes the women's of the same year. The newborns of `sex` are then `births * tfr`
/// times the sex's share, as in `step_any`.
///
/// It also leaves the sex's segment sums of `p` in `sums[..][sex]` ([`segment_sums`]'s values:
/// each segment's ages added in ascending order from zero), formed as the step reads each age:
/// the sums' chains of additions then wait on nothing but the loads the step makes anyway,
/// instead of running as a pass of their own that waits on each addition in turn.
///
/// The population is stepped in place, in ascending age: age x's people of this year are read
/// before the cohort below them overwrites them, and kept for the survivors they give at
/// x + 1. One table instead of this year's and next year's: 6.5 KB less for the step to keep in
/// the first-level cache.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn step_own_sex<const INFLOW: bool>(
    c: &Constants,
    tfr: &V,
    grow: &AgeLanes,
    inflow: &AgeLanes,
    mort: &MortalityBlock,
    i: usize,
    level: &V,
    bounds: (f32, f32),
    sex: usize,
    p: &mut AgeLanes,
    sums: &mut [Lines<[V; 2]>],
    births: &mut V,
) {
    let share = if sex == 0 { c.male_share } else { 1.0 - c.male_share };
    let t = OwnSex {
        c,
        sex,
        ls: &mort.log2_surv[i][sex],
        grow,
        inflow,
        cl: ln_scaled(level),
    };
    let forms = FormAges::new(bounds.0, bounds.1, &mort.reach[i][sex]).ranges();
    own_sex::<INFLOW>(&t, &forms, level, p, sums, births);
    let mut infant = ZERO;
    exp2_scaled(&mut infant, level, &mort.log2_infant[i][sex]);
    let born = mul(&mul(births, tfr), &[share; LANES]);
    p[0] = migrate::<INFLOW>(&mul(&born, &infant), &grow[0], &inflow[0]);
}

/// One sex's segment sums of `p` into `sums[..][sex]` ([`segment_sums`]'s values).
#[inline(always)]
fn segment_sums_of_sex(c: &Constants, p: &AgeLanes, sex: usize, sums: &mut [Lines<[V; 2]>]) {
    for (g, s) in c.segments.iter().zip(sums.iter_mut()) {
        let mut acc = ZERO;
        for x in g.start..g.end {
            acc = add(&acc, &p[x]);
        }
        s[sex] = acc;
    }
}

simd_dispatch! {
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
    let n_seg = c.segments();
    match inputs.level {
        Some(level) => {
            // Sex by sex: the women through every year, then the men. The women's projection
            // does not depend on the men's, and the men's needs only the women's births of each
            // year, kept in `births`. A sex's year then reads and writes its people, its
            // migration rows and the year's survival logarithms, 26 KB with inflow, which fit a
            // 32 KB first-level cache; both sexes of a year together were 52 KB. Each sex's
            // operations and their order are those of the year-by-year step, so the bits are the
            // same. On a Zen 3 (AVX2), timed against the year-by-year order in one process,
            // alternately: 1.5% less time for one region-block alone, 5 to 8% with the carried
            // product of [`OwnStep`].
            let bounds = level_bounds(&level);
            let (tfr, grow, inflow) = (&inputs.tfr, &inputs.grow, &inputs.inflow);
            let births = &mut inputs.births;
            for sex in [1, 0] {
                let p = &mut pop[sex];
                for yi in 0..n_years {
                    let sums = &mut inputs.segment_sums[yi * n_seg..(yi + 1) * n_seg];
                    if yi + 1 == n_years {
                        segment_sums_of_sex(c, p, sex, sums);
                        continue;
                    }
                    let b = &mut births[yi];
                    if sex == 1 {
                        *b = ZERO;
                    }
                    let (g, f) = (&grow[sex], &inflow[sex]);
                    if inputs.has_inflow {
                        step_own_sex::<true>(c, tfr, g, f, mort, yi, &level, bounds, sex, p, sums, b);
                    } else {
                        step_own_sex::<false>(c, tfr, g, f, mort, yi, &level, bounds, sex, p, sums, b);
                    }
                }
            }
        }
        None => {
            for yi in 0..n_years {
                // The segment sums of this year's population (`pop`), then the step to the next
                // year into `next`.
                let sums = &mut inputs.segment_sums[yi * n_seg..(yi + 1) * n_seg];
                segment_sums(c, pop, sums);
                if yi + 1 < n_years {
                    let (tfr, grow, inflow) = (&inputs.tfr, &inputs.grow, &inputs.inflow);
                    let sv = mort.step_survival(c, yi);
                    if inputs.has_inflow {
                        step_any::<true>(c, tfr, grow, inflow, sv, pop, next);
                    } else {
                        step_any::<false>(c, tfr, grow, inflow, sv, pop, next);
                    }
                    std::mem::swap(&mut pop, &mut next);
                }
            }
        }
    }
    // `pop` is now the last year's population.
    if rows.pyramid {
        for (sex, p) in pop.iter().enumerate() {
            for g in 0..AGE_GROUPS {
                // Whole vectors: the loop over lanes inside the loop over ages was left
                // scalar by the compiler (a store of every lane to the stack per age).
                let mut cell = ZERO;
                for x in 5 * g..(5 * g + 5).min(N_AGES) {
                    cell = add(&cell, &p[x]);
                }
                out.set(rows.pyramid_row(sex, g), &cell);
            }
        }
    }
    // The years two at a time for their dependents ([`dependents`]), then each year's metrics;
    // an odd last year is summed beside itself and written once.
    for yi in rows.years.clone().step_by(2) {
        let next = if yi + 1 < rows.years.end { Some(yi + 1) } else { None };
        let [need, need_next] = dependents(c, care, &inputs.segment_sums, n_seg, [yi, next.unwrap_or(yi)]);
        year_metrics(c, care, inputs, rows, yi, need, out);
        if let Some(y) = next {
            year_metrics(c, care, inputs, rows, y, need_next, out);
        }
    }
}

/// The partial and full dependents of years `years` (by the block's base prevalence times each
/// year's multiplier, or its capped tables): for each year, each sex's segment sums times their
/// prevalence added in segment order, from zero.
///
/// With the national scenario's care prevalence (its sexes' factors differ at every age) each
/// single age from 60 is a segment of its own, about 41 of them: a year's sums are four chains of
/// 82 dependent additions (two vectors each of partial and full): by the latencies, six cycles a
/// segment against four for the adders' throughput. Two years' chains side by side give the
/// adders independent work; each chain makes the same operations in the same order, so the same
/// bits as one year at a time. (The bench could not tell its time from this machine's noise: 16
/// alternated pairs, median ratio 0.98.)
#[inline(always)]
fn dependents(c: &Constants, care: &CareBlock, segment_sums: &[Lines<[V; 2]>], n_seg: usize, years: [usize; 2]) -> [[V; 2]; 2] {
    let sums = years.map(|yi| &segment_sums[yi * n_seg..(yi + 1) * n_seg]);
    let mut partial = [ZERO; 2];
    let mut full = [ZERO; 2];
    match &care.capped {
        None => {
            for (k, g) in c.segments.iter().enumerate().skip(c.care_seg) {
                for sex in 0..2 {
                    let (p, f) = ([g.partial[sex]; LANES], [g.full[sex]; LANES]);
                    for y in 0..2 {
                        let s = &sums[y][k][sex];
                        partial[y] = add(&partial[y], &mul(s, &p));
                        full[y] = add(&full[y], &mul(s, &f));
                    }
                }
            }
            for y in 0..2 {
                partial[y] = mul(&partial[y], &care.factor[years[y]]);
                full[y] = mul(&full[y], &care.factor[years[y]]);
            }
        }
        Some(tables) => {
            let n = c.segments.len() - c.care_seg;
            for k in 0..n {
                for sex in 0..2 {
                    for y in 0..2 {
                        let prev = &tables[years[y] * n + k];
                        let s = &sums[y][c.care_seg + k][sex];
                        partial[y] = add(&partial[y], &mul(s, &prev[0][sex]));
                        full[y] = add(&full[y], &mul(s, &prev[1][sex]));
                    }
                }
            }
        }
    }
    [[partial[0], full[0]], [partial[1], full[1]]]
}

/// Writes the metrics of year `yi` from its segment sums, its dependents `need` (partial, full:
/// [`dependents`]) and the block's inputs and capacity.
#[inline(always)]
fn year_metrics(c: &Constants, care: &CareBlock, inputs: &RegionBlock, rows: &PassRows, yi: usize, need: [V; 2], out: &mut BlockOut) {
    let n_seg = c.segments();
    let sums = &inputs.segment_sums[yi * n_seg..(yi + 1) * n_seg];
    let [total, elderly, aged65, aged80, people] = age_counts(c, sums);
    let [partial, full] = need;
    let [inst, nurs, comm, caregivers, seasonal] = &inputs.capacity[yi];
    let u = &care.uptake;
    let mut independent = ZERO;
    for l in 0..LANES {
        independent[l] = (people[l] - partial[l] - full[l]).max(0.0);
    }
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
    v[Metric::UnmetNursingNeed as usize] = excess(&demand_nursing, nurs);
    v[Metric::Caregivers as usize] = *caregivers;
    let base = rows.metric_row(yi, 0);
    for (m, val) in v.iter().enumerate() {
        out.set(base + m, val);
    }
    if rows.independent {
        out.set(rows.independent_row(yi), &independent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp2_f32_is_within_3e_7_of_exact() {
        let mut worst = 0.0f64;
        let mut y = -126.0f32;
        while y < 127.0 {
            let (a, b) = (f64::from(exp2_f32(y)), f64::from(y).exp2());
            worst = worst.max(((a - b) / b).abs());
            y += 0.0071;
        }
        for y in [0.0f32, -1e-7, 1e-7, -0.5, 0.5, -2.3, -0.012] {
            let (a, b) = (f64::from(exp2_f32(y)), f64::from(y).exp2());
            worst = worst.max(((a - b) / b).abs());
        }
        assert!(worst <= 3e-7, "worst relative error {worst:e}");
        assert_eq!(exp2_f32(0.0), 1.0);
        assert_eq!(exp2_f32(-1.0), 0.5);
    }

    #[test]
    fn exp_small_is_within_2e_7_of_exact_below_its_bound() {
        let mut worst = 0.0f64;
        let bound = SMALL_EXPONENT * C1;
        let mut u = -bound;
        while u < bound {
            let (a, b) = (f64::from(exp_small(u)), f64::from(u).exp());
            worst = worst.max(((a - b) / b).abs());
            u += 0.9e-5;
        }
        assert!(worst <= 2e-7, "worst relative error {worst:e}");
        assert_eq!(exp_small(0.0), 1.0);
        // As the step forms it, from a level and `log2 S`: within 2e-7 of `S^c` itself.
        let mut worst = 0.0f64;
        for c in [0.5f32, 0.9, 1.0, 1.3, 2.0] {
            let mut y = -SMALL_EXPONENT / c;
            while y < 0.0 {
                let got = f64::from(exp_small(ln_scaled(&[c; LANES])[0] * y));
                let want = (f64::from(c) * f64::from(y)).exp2();
                worst = worst.max(((got - want) / want).abs());
                y += 1.1e-5;
            }
        }
        assert!(worst <= 2e-7, "worst relative error of S^c {worst:e}");
    }

    #[test]
    fn exp2_medium_is_exp2_f32_below_its_bound() {
        let mut y = -MEDIUM_EXPONENT;
        while y < MEDIUM_EXPONENT {
            assert_eq!(exp2_medium(y).to_bits(), exp2_f32(y).to_bits(), "y = {y:e}");
            y = if y.abs() < 1e-3 { y + 1.7e-6 } else { y + 3.1e-5 };
        }
        for y in [-0.0f32, 0.0, f32::MIN_POSITIVE, -f32::MIN_POSITIVE, 0.499_999_97, -0.499_999_97] {
            assert_eq!(exp2_medium(y).to_bits(), exp2_f32(y).to_bits(), "y = {y:e}");
        }
    }

    /// Each age takes, in the form its range gives it, exactly what [`exp2_scaled`] gives it:
    /// over survival tables rising with age (an infant peak, lanes apart, NaN at one age in one
    /// case) and levels spread over the lanes (one lane far above the others in one case), with
    /// every form's range non-empty in some case.
    #[test]
    fn the_forms_ages_give_every_lane_exp2_scaleds_value() {
        let table = |nan: bool| -> AgeLanes {
            std::array::from_fn(|x| {
                std::array::from_fn(|l| {
                    let spread = 1.0 + 0.07 * ((l * 7 % 5) as f32 - 2.0);
                    let y = -(0.000_4 * (0.085 * x as f32).exp() + if x == 0 { 0.01 } else { 0.0 }) * spread;
                    if nan && x == 70 && l == 3 { f32::NAN } else { y }
                })
            })
        };
        let levels: [V; 3] = [
            std::array::from_fn(|l| 0.8 + 0.03 * l as f32),
            std::array::from_fn(|l| if l == 5 { 2.9 } else { 1.1 }),
            [1.0; LANES],
        ];
        let mut used = [false; 5];
        for (case, (nan, level)) in [(false, levels[0]), (true, levels[0]), (false, levels[1]), (false, levels[2])]
            .into_iter()
            .enumerate()
        {
            let ls = table(nan);
            let (lo, hi) = level_bounds(&level);
            let ranges = FormAges::new(lo, hi, &reach(&ls)).ranges();
            assert_eq!(ranges[0].start, 0);
            assert_eq!(ranges[4].end, N_AGES);
            for k in 0..4 {
                assert_eq!(ranges[k].end, ranges[k + 1].start, "case {case}: {ranges:?}");
            }
            for (k, r) in ranges.iter().enumerate() {
                used[k] |= !r.is_empty();
            }
            for x in 0..N_AGES {
                let mut want = ZERO;
                exp2_scaled(&mut want, &level, &ls[x]);
                let got = match ranges.iter().position(|r| r.contains(&x)).expect("every age has a form") {
                    0 => exp2_in::<SMALL>(&level, &ln_scaled(&level), &ls[x]),
                    1 => exp2_in::<MIXED_MEDIUM>(&level, &ln_scaled(&level), &ls[x]),
                    2 => exp2_in::<MIXED_FULL>(&level, &ln_scaled(&level), &ls[x]),
                    3 => exp2_in::<MEDIUM>(&level, &ln_scaled(&level), &ls[x]),
                    _ => exp2_in::<FULL>(&level, &ln_scaled(&level), &ls[x]),
                };
                for l in 0..LANES {
                    assert!(
                        got[l].to_bits() == want[l].to_bits() || (got[l].is_nan() && want[l].is_nan()),
                        "case {case}, age {x}, lane {l}: {} against {}",
                        got[l],
                        want[l]
                    );
                }
            }
        }
        assert_eq!(used, [true; 5], "every form is tested");
        // Levels that are not all positive and finite: the lane-by-lane choice everywhere.
        let mut bad = levels[0];
        bad[2] = f32::NAN;
        let (lo, hi) = level_bounds(&bad);
        assert_eq!(FormAges::new(lo, hi, &reach(&table(false))).ranges()[2], 0..N_AGES);
    }

    /// A lane's survival does not depend on the other lanes of its block (whether some lane
    /// needed the full exponential).
    #[test]
    fn each_lane_of_exp2_scaled_depends_on_that_lane_only() {
        let y: V = std::array::from_fn(|l| -0.001 * (l as f32 + 1.0));
        let c: V = [1.0; LANES];
        let (mut alone, mut mixed) = (ZERO, ZERO);
        exp2_scaled(&mut alone, &c, &y);
        let mut c2 = c;
        c2[LANES - 1] = 100.0; // that lane's exponent is large: the block takes the full form too
        exp2_scaled(&mut mixed, &c2, &y);
        assert_eq!(alone[..LANES - 1], mixed[..LANES - 1]);
        assert_eq!(mixed[LANES - 1], exp2_f32(100.0 * y[LANES - 1]));
        // Every lane large: the full form in each, as when it shares a block with small ones.
        let big: V = [100.0; LANES];
        let mut all = ZERO;
        exp2_scaled(&mut all, &big, &y);
        for l in 0..LANES {
            assert_eq!(all[l], exp2_f32(100.0 * y[l]), "lane {l}");
        }
    }

    /// The tables the cohort step loads and stores every age start a cache line, so that each
    /// 64-byte value of them is one line, not two.
    #[test]
    fn the_kernels_tables_start_a_cache_line() {
        let line = |p: *const V| p as usize % 64;
        let boxed = Box::new(Lines([[ZERO; N_AGES]; 2]));
        assert_eq!(line(boxed[1][3..].as_ptr()), 0);
        let rows = vec![Lines([[ZERO; N_AGES]; 2]); 3];
        for r in &rows {
            assert_eq!(line(r[0].as_ptr()), 0);
            assert_eq!(line(r[1].as_ptr()), 0);
        }
        let fert = vec![Lines(ZERO); 5];
        assert!(fert.iter().all(|v| line(&v.0) == 0));
        assert_eq!(std::mem::size_of::<Lines<V>>(), 64);
        assert_eq!(std::mem::size_of::<Lines<[AgeLanes; 2]>>(), std::mem::size_of::<[AgeLanes; 2]>());
    }

    /// The lanes' life table is the scalar one, bit for bit.
    #[test]
    fn lane_life_table_matches_the_scalar_one() {
        let mut m = [[0.0f64; LANES]; N_AGES];
        for x in 0..N_AGES {
            for l in 0..LANES {
                m[x][l] = (0.0003 + 0.00002 * (0.1 * x as f64).exp()) * (0.5 + 0.1 * l as f64);
            }
        }
        let (s, newborn) = life_table_lanes(&m);
        for l in 0..LANES {
            let one: [f64; N_AGES] = std::array::from_fn(|x| m[x][l]);
            let want = crate::demography::lifetable::survival(&one);
            for x in 0..N_AGES {
                assert_eq!(s[x][l].to_bits(), want.s[x].to_bits(), "lane {l} age {x}");
            }
            assert_eq!(newborn[l].to_bits(), want.newborn.to_bits());
        }
    }
}
