//! The period life table behind the one-year step: how many of a cohort survive a calendar
//! year, given the death rates of that year.
//!
//! A cohort aged x (in completed years) at the start of a year lives through ages x to x+1
//! during it, so its survival over the year is the life table's `L(x+1) / L(x)` (person-years
//! lived at x+1 over those lived at x; Preston, Heuveline & Guillot 2001, *Demography*, §6.3),
//! not `exp(-m(x))` of its starting age alone: with death rates rising by about 9% a year of
//! age, survival at the starting age overstates a cohort's survival, and the error compounds
//! over the projection (at 80+ about +4% after ten years with China's rates). The open group is
//! handled as the usual `T(100) / T(99)`: the 99-year-olds and the 100+ at the start of the year
//! survive together into the 100+ at its end. Births of the year survive to its end with
//! `L(0) / l(0)`.
//!
//! The table uses `a(0) = 0.1` (the average part of the year lived by infants who die) and
//! `a(x) = 0.5` above, `q = m / (1 + (1 - a) m)`, and closes the open group with
//! `L(100) = l(100) / m(100)`, as [`super::mortality::life_expectancy`] does. With these
//! survival ratios a stationary population (`B L(x)` at each age, `B T(100)` in the open group)
//! is left exactly as it is by a step with births `B`: tested below.
//!
//! [`ln`] and [`exp`] here use basic IEEE operations only, in a fixed order, so a survival
//! schedule has the same bits on every machine (the engine's results are byte-identical across
//! machines and thread counts).

use super::{N_AGES, OPEN_AGE};

/// One year's survival from a schedule of death rates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Survival {
    /// `s[x]` for `x < 99`: survivors at the end of the year per person aged x at its start
    /// (they are then aged x+1). `s[99] = s[100] = T(100) / T(99)`: the 99-year-olds and the
    /// open group together survive into the open group with this ratio.
    pub s: [f64; N_AGES],
    /// Births of the year alive at its end, per birth: `L(0) / l(0)`.
    pub newborn: f64,
}

/// `a(x)` of the life table: the average part of the year lived by those who die at age x.
fn a_of(x: usize) -> f64 {
    if x == 0 { 0.1 } else { 0.5 }
}

/// Person-years lived at each age per birth (`L(x)`, `l(0) = 1`), the open group's being its
/// total `T(100)`. A death rate of zero in the open group gives an infinite `T(100)`; survival
/// ratios are then 1 there.
pub fn person_years(m: &[f64; N_AGES]) -> [f64; N_AGES] {
    let mut big_l = [0.0; N_AGES];
    let mut l = 1.0;
    for x in 0..OPEN_AGE {
        let a = a_of(x);
        let q = (m[x] / (1.0 + (1.0 - a) * m[x])).clamp(0.0, 1.0);
        let d = l * q;
        big_l[x] = l - (1.0 - a) * d;
        l -= d;
    }
    big_l[OPEN_AGE] = if m[OPEN_AGE] > 0.0 { l / m[OPEN_AGE] } else { f64::INFINITY };
    big_l
}

/// One year's survival ratios from that year's death rates `m` (per person-year, by single age,
/// `m[100]` the open group's).
pub fn survival(m: &[f64; N_AGES]) -> Survival {
    let big_l = person_years(m);
    let mut s = [0.0; N_AGES];
    for x in 0..OPEN_AGE - 1 {
        s[x] = if big_l[x] > 0.0 { big_l[x + 1] / big_l[x] } else { 0.0 };
    }
    let t99 = big_l[OPEN_AGE - 1] + big_l[OPEN_AGE];
    let open = if big_l[OPEN_AGE].is_infinite() {
        1.0
    } else if t99 > 0.0 {
        big_l[OPEN_AGE] / t99
    } else {
        0.0
    };
    s[OPEN_AGE - 1] = open;
    s[OPEN_AGE] = open;
    Survival { s, newborn: big_l[0] }
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

/// Natural logarithm in double precision from basic IEEE operations (no libm): `x = 2^e f` with
/// `f` in `[sqrt(1/2), sqrt(2))`, `ln x = e ln 2 + 2 atanh((f - 1) / (f + 1))`, the series to
/// its 17th power (|t| <= 0.172, so the truncation is below 3e-16 relative). For `x > 0` and
/// finite; `x <= 0` gives `-inf`, as survival of zero must.
pub fn ln(x: f64) -> f64 {
    if x <= 0.0 || x.is_nan() {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let (mut f, mut e) = {
        let bits = x.to_bits();
        let exp = ((bits >> 52) & 0x7ff) as i64;
        if exp == 0 {
            // subnormal: scale into the normal range first
            let y = x * f64::from_bits(0x4350_0000_0000_0000); // 2^54
            let b = y.to_bits();
            (
                f64::from_bits((b & 0x800f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000),
                ((b >> 52) & 0x7ff) as i64 - 1023 - 54,
            )
        } else {
            (f64::from_bits((bits & 0x800f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000), exp - 1023)
        }
    };
    if f > std::f64::consts::SQRT_2 {
        f *= 0.5;
        e += 1;
    }
    let t = (f - 1.0) / (f + 1.0);
    let t2 = t * t;
    let mut p = 1.0 / 17.0;
    for k in [15.0, 13.0, 11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        p = p * t2 + 1.0 / k;
    }
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    let ef = e as f64;
    (ef * LN2_HI + 2.0 * t * p) + ef * LN2_LO
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

    #[test]
    fn ln_is_within_4e_16_of_libm() {
        let mut worst = 0.0f64;
        let mut x = 1e-300;
        while x < 1e300 {
            let (a, b) = (ln(x), x.ln());
            worst = worst.max(((a - b) / b.abs().max(1e-300)).abs());
            x *= 1.37;
        }
        for x in [0.5, 0.999_999, 1.000_001, 2.0, 0.98, 0.6, 1e-310] {
            let (a, b) = (ln(x), x.ln());
            worst = worst.max((a - b).abs() / b.abs().max(1e-16));
        }
        assert!(worst < 4e-16, "worst relative error {worst:e}");
        assert_eq!(ln(1.0), 0.0);
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
    }

    /// Constant m = 0.02: q = 0.02 / 1.01 above age 0, so L(x+1)/L(x) = 1 - q; at age 0
    /// q0 = 0.02 / 1.018, L0 = 1 - 0.9 q0, L1 = (1 - q0)(1 - q/2); the open group gives
    /// T(100)/T(99) = 50 (1 - q) / ((1 - q/2) + 50 (1 - q)) = 1 - q as well.
    #[test]
    fn survival_of_a_hand_worked_life_table() {
        let m = [0.02; N_AGES];
        let s = survival(&m);
        let q = 0.02 / 1.01;
        let q0 = 0.02 / 1.018;
        let l0 = 1.0 - 0.9 * q0;
        let l1 = (1.0 - q0) * (1.0 - 0.5 * q);
        assert!((s.newborn - l0).abs() < 1e-15);
        assert!((s.s[0] - l1 / l0).abs() < 1e-15, "{} vs {}", s.s[0], l1 / l0);
        for x in 1..OPEN_AGE - 1 {
            assert!((s.s[x] - (1.0 - q)).abs() < 1e-14, "age {x}: {}", s.s[x]);
        }
        assert!((s.s[99] - (1.0 - q)).abs() < 1e-14, "{}", s.s[99]);
        assert_eq!(s.s[99], s.s[100]);
    }

    #[test]
    fn survival_ratios_follow_the_person_years() {
        // Gompertz-like rates: survival falls with age and lies in (0, 1).
        let mut m = [0.0; N_AGES];
        for (x, v) in m.iter_mut().enumerate() {
            *v = 0.0002 * (0.09 * x as f64).exp();
        }
        let s = survival(&m);
        let big_l = person_years(&m);
        for x in 0..98 {
            assert!(s.s[x] > 0.0 && s.s[x] < 1.0);
            assert!((s.s[x] * big_l[x] - big_l[x + 1]).abs() < 1e-15);
        }
        assert!(s.s[97] < s.s[60] && s.s[60] < s.s[20]);
    }

    #[test]
    fn zero_rates_survive_everyone() {
        let s = survival(&[0.0; N_AGES]);
        assert!(s.s.iter().all(|v| *v == 1.0));
        assert_eq!(s.newborn, 1.0);
    }
}
