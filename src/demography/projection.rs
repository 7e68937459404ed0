//! The one-year cohort-component step, and the fraction of a year that moves a census taken
//! during the year to its end.
//!
//! Timing conventions (the population of year t is the stock at the end of year t, 31 December):
//! - survivors of age x at the end of year t-1 are aged x+1 at the end of year t, with the
//!   life-table survival `L(x+1)/L(x)` of year t's death rates (the ages the cohort lives
//!   through during the year, see [`super::lifetable`]); the 99-year-olds and the 100+ survive
//!   together into the 100+ with `T(100)/T(99)`;
//! - births of year t come from women's exposure, taken as the start-of-year women times the
//!   mean of 1 and their survival over the year (half a year of exposure lost by those who
//!   die); newborns survive to the end of the year with `L(0)/l(0)`;
//! - net migrants of year t are added at the end of the year at their end-of-year age, in
//!   proportion to the survivors there (`rate(x) * survivors(x)`), so they are not exposed to
//!   that year's mortality. Rates below -1 per person are impossible by construction (checked
//!   when the scenario is read), so counts never go negative.
//!
//! The balancing equation `P(t) = P(t-1) - deaths + births + net migration` holds exactly for
//! the flows this step returns.

use super::lifetable::{Survival, exp};
use super::{N_AGES, OPEN_AGE, Population};

/// The flows of one step, for the balancing equation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Flows {
    pub deaths: f64,
    pub births: f64,
    pub net_migration: f64,
}

/// Fertility inputs of one region-year.
#[derive(Debug, Clone, Copy)]
pub struct FertilityRates<'a> {
    /// Total fertility rate (children per woman).
    pub tfr: f64,
    /// Age pattern of fertility by single age, summing to 1.
    pub shape: &'a [f64; N_AGES],
    /// Share of births that are boys (for a sex ratio at birth r boys per girl: r / (1 + r)).
    pub male_share: f64,
}

/// Advances `pop` by one year in place and returns the flows.
///
/// `surv[sex]` is the year's survival by sex, `migration[sex][age]` net migrants per person at
/// the end-of-year age (each >= -1), `inflow[sex][age]` net migrants added as a number (a
/// gaining area's in-migrants do not grow with its own population, see the scenario's
/// `[migration] gains`).
pub fn step(
    pop: &mut Population,
    surv: &[Survival; 2],
    fert: FertilityRates<'_>,
    migration: &[[f64; N_AGES]; 2],
    inflow: &[[f64; N_AGES]; 2],
) -> Flows {
    let mut exposure = 0.0;
    for x in 0..N_AGES {
        let s = fert.shape[x];
        if s != 0.0 {
            exposure += s * pop[1][x] * (0.5 * (1.0 + surv[1].s[x]));
        }
    }
    let births = fert.tfr * exposure;
    let mut flows = Flows {
        births,
        ..Flows::default()
    };
    for sex in 0..2 {
        let p = &mut pop[sex];
        let sv = &surv[sex].s;
        let before: f64 = p.iter().sum();
        p[OPEN_AGE] = p[OPEN_AGE] * sv[OPEN_AGE] + p[OPEN_AGE - 1] * sv[OPEN_AGE - 1];
        for x in (1..OPEN_AGE).rev() {
            p[x] = p[x - 1] * sv[x - 1];
        }
        let born = births * if sex == 0 { fert.male_share } else { 1.0 - fert.male_share };
        p[0] = born * surv[sex].newborn;
        let survivors: f64 = p.iter().sum();
        let mut net = 0.0;
        for ((px, r), add) in p.iter_mut().zip(&migration[sex]).zip(&inflow[sex]) {
            let m = *px * r + add;
            *px += m;
            net += m;
        }
        flows.deaths += before + born - survivors;
        flows.net_migration += net;
    }
    flows
}

/// Moves a population counted at a moment of a year to the end of that year: `h` is the part of
/// the year left (2/12 from a census of 1 November). A share `h` of each single-year age has its
/// birthday in that time (birthdays are spread evenly over the year) and moves up one age, the
/// 99-year-olds into the open group; everyone is exposed to `h` years of the death rates `m`
/// (`exp(-h m)`); births of `h` years (from the women present, at the year's fertility) join age
/// 0 exposed on average to `h / 2` years; net migration is `h` years of the annual rates, as in
/// [`step`] (and `h` years of the `inflow` numbers). With `h = 0` the population is unchanged.
/// The balancing equation holds for the returned flows.
pub fn advance_fraction(
    pop: &mut Population,
    h: f64,
    m: &[[f64; N_AGES]; 2],
    fert: FertilityRates<'_>,
    migration: &[[f64; N_AGES]; 2],
    inflow: &[[f64; N_AGES]; 2],
) -> Flows {
    let h = h.clamp(0.0, 1.0);
    let mut flows = Flows::default();
    if h == 0.0 {
        return flows;
    }
    let mut exposure = 0.0;
    for x in 0..N_AGES {
        exposure += fert.shape[x] * pop[1][x];
    }
    let births = h * fert.tfr * exposure;
    flows.births = births;
    for sex in 0..2 {
        let p = &mut pop[sex];
        let before: f64 = p.iter().sum();
        let surv: [f64; N_AGES] = std::array::from_fn(|x| exp(-h * m[sex][x]));
        let mut next = [0.0; N_AGES];
        for x in 0..N_AGES {
            let stay = if x == OPEN_AGE { 1.0 } else { 1.0 - h };
            next[x] += p[x] * stay * surv[x];
            if x < OPEN_AGE {
                next[x + 1] += p[x] * h * surv[x];
            }
        }
        let born = births * if sex == 0 { fert.male_share } else { 1.0 - fert.male_share };
        next[0] += born * exp(-0.5 * h * m[sex][0]);
        let survivors: f64 = next.iter().sum();
        let mut net = 0.0;
        for ((px, r), count) in next.iter_mut().zip(&migration[sex]).zip(&inflow[sex]) {
            let add = *px * h * r + h * count;
            *px += add;
            net += add;
        }
        *p = next;
        flows.deaths += before + born - survivors;
        flows.net_migration += net;
    }
    flows
}

#[cfg(test)]
mod tests {
    use super::super::lifetable::{person_years, survival};
    use super::*;

    fn total(p: &Population) -> f64 {
        p.iter().flatten().sum()
    }

    fn flat(s: f64, newborn: f64) -> [Survival; 2] {
        [Survival { s: [s; N_AGES], newborn }; 2]
    }

    fn no_births(shape: &[f64; N_AGES]) -> FertilityRates<'_> {
        FertilityRates {
            tfr: 0.0,
            shape,
            male_share: 0.5,
        }
    }

    #[test]
    fn without_mortality_fertility_and_migration_the_population_only_ages() {
        let mut pop = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            pop[0][x] = x as f64;
            pop[1][x] = 2.0 * x as f64;
        }
        let before = pop;
        let zero = [[0.0; N_AGES]; 2];
        let shape = [0.0; N_AGES];
        let flows = step(&mut pop, &flat(1.0, 1.0), no_births(&shape), &zero, &zero);
        assert_eq!(flows, Flows::default());
        for s in 0..2 {
            assert_eq!(pop[s][0], 0.0);
            for x in 1..OPEN_AGE {
                assert_eq!(pop[s][x], before[s][x - 1]);
            }
            assert_eq!(pop[s][OPEN_AGE], before[s][99] + before[s][100]);
        }
    }

    #[test]
    fn hand_worked_case() {
        // 1000 women aged 30, survival 0.99 everywhere (newborns 0.995), TFR 1.5 all at age
        // 30, no migration.
        let mut pop = [[0.0; N_AGES]; 2];
        pop[1][30] = 1000.0;
        let mut shape = [0.0; N_AGES];
        shape[30] = 1.0;
        let fert = FertilityRates {
            tfr: 1.5,
            shape: &shape,
            male_share: 0.5,
        };
        let flows = step(&mut pop, &flat(0.99, 0.995), fert, &[[0.0; N_AGES]; 2], &[[0.0; N_AGES]; 2]);
        // exposure 1000 * (1 + 0.99) / 2 = 995; births 1492.5; each sex 746.25, survive 0.995
        assert!((flows.births - 1492.5).abs() < 1e-9);
        assert!((pop[1][31] - 990.0).abs() < 1e-9);
        assert!((pop[0][0] - 746.25 * 0.995).abs() < 1e-9);
        assert!((flows.deaths - (10.0 + 1492.5 * 0.005)).abs() < 1e-9);
    }

    /// A stationary population, `B L(x)` at each age and `B T(100)` in the open group with `B`
    /// births a year, stays exactly as it is under its own life table: the right answer is
    /// known. The start-age rule `exp(-m(x))` it replaces does not keep it: it lets the old
    /// outlive their life table, by several percent at 80+ after ten years.
    #[test]
    fn a_stationary_population_stays_stationary_and_the_start_age_rule_drifts() {
        let mut m = [0.0; N_AGES];
        for (x, v) in m.iter_mut().enumerate() {
            *v = if x == 0 {
                0.006
            } else {
                0.0004 + 0.00003 * (0.095 * x as f64).exp()
            };
        }
        let big_l = person_years(&m);
        let births = 10_000.0;
        // The shape and TFR give exactly `births` a year from this population.
        let mut shape = [0.0; N_AGES];
        shape[28] = 1.0;
        let sv = survival(&m);
        let female_births = births / 2.0;
        let exposure = female_births * big_l[28] * 0.5 * (1.0 + sv.s[28]);
        let fert = FertilityRates {
            tfr: births / exposure,
            shape: &shape,
            male_share: 0.5,
        };
        let stationary: Population = std::array::from_fn(|_| std::array::from_fn(|x| female_births * big_l[x]));
        let mut pop = stationary;
        let mut old = stationary;
        let zero = [[0.0; N_AGES]; 2];
        for _ in 0..10 {
            step(&mut pop, &[sv, sv], fert, &zero, &zero);
            // the start-age rule: q = 1 - exp(-m) of the starting age, newborns 1 - q0 / 2
            let q: [f64; N_AGES] = std::array::from_fn(|x| 1.0 - (-m[x]).exp());
            let start_rule = Survival {
                s: std::array::from_fn(|x| 1.0 - q[x]),
                newborn: 1.0 - 0.5 * q[0],
            };
            step(&mut old, &[start_rule, start_rule], fert, &zero, &zero);
        }
        for x in 0..N_AGES {
            let rel = (pop[1][x] - stationary[1][x]).abs() / stationary[1][x];
            assert!(rel < 1e-12, "age {x}: {rel:e}");
        }
        let sum80 = |p: &Population| p[1][80..].iter().sum::<f64>();
        let drift = sum80(&old) / sum80(&stationary) - 1.0;
        assert!(drift > 0.02, "the start-age rule overstates 80+ by {drift}");
    }

    #[test]
    fn balancing_equation_holds_with_all_flows() {
        let mut pop = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            pop[0][x] = 1000.0 + 7.0 * x as f64;
            pop[1][x] = 900.0 + 5.0 * x as f64;
        }
        let mut m = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            m[0][x] = 0.001 + 0.0009 * x as f64;
            m[1][x] = 0.0008 + 0.0008 * x as f64;
        }
        let mut shape = [0.0; N_AGES];
        for v in &mut shape[15..50] {
            *v = 1.0 / 35.0;
        }
        let mut mig = [[0.003; N_AGES]; 2];
        mig[1][70] = -0.02;
        let fert = FertilityRates {
            tfr: 1.3,
            shape: &shape,
            male_share: 0.53,
        };
        let before = total(&pop);
        let mut inflow = [[0.0; N_AGES]; 2];
        inflow[0][25] = 120.0;
        let f = step(&mut pop, &[survival(&m[0]), survival(&m[1])], fert, &mig, &inflow);
        let after = total(&pop);
        assert!((after - (before - f.deaths + f.births + f.net_migration)).abs() < 1e-6 * before);
        assert!(pop.iter().flatten().all(|v| *v >= 0.0));
        let before = total(&pop);
        let f = advance_fraction(&mut pop, 2.0 / 12.0, &m, fert, &mig, &inflow);
        let after = total(&pop);
        assert!((after - (before - f.deaths + f.births + f.net_migration)).abs() < 1e-6 * before);
        assert!(f.deaths > 0.0 && f.births > 0.0);
    }

    /// Two months after a census of 1 November, a sixth of each age has had its birthday.
    #[test]
    fn a_fraction_of_a_year_moves_that_share_of_each_age_up() {
        let mut pop = [[0.0; N_AGES]; 2];
        pop[0][59] = 1200.0;
        pop[1][OPEN_AGE] = 600.0;
        let zero = [[0.0; N_AGES]; 2];
        let shape = [0.0; N_AGES];
        let mut p = pop;
        let f = advance_fraction(&mut p, 0.0, &zero, no_births(&shape), &zero, &zero);
        assert_eq!((p, f), (pop, Flows::default()));
        let m = [[0.03; N_AGES]; 2];
        let f = advance_fraction(&mut p, 1.0 / 6.0, &m, no_births(&shape), &zero, &zero);
        let s = (-0.03f64 / 6.0).exp();
        assert!((p[0][59] - 1000.0 * s).abs() < 1e-9);
        assert!((p[0][60] - 200.0 * s).abs() < 1e-9);
        assert!((p[1][OPEN_AGE] - 600.0 * s).abs() < 1e-9);
        assert!((f.deaths - 1800.0 * (1.0 - s)).abs() < 1e-9);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

        /// Any population, any death rates, fertility and net migration rates (>= -1 per
        /// person): the balancing equation holds and no count goes negative.
        #[test]
        fn balancing_and_non_negativity_hold_for_any_inputs(
            pop_m in proptest::collection::vec(0.0f64..1e6, N_AGES),
            pop_f in proptest::collection::vec(0.0f64..1e6, N_AGES),
            m_scale in 0.0f64..3.0,
            tfr in 0.0f64..8.0,
            mig_rate in -1.0f64..2.0,
            young_mig in -1.0f64..0.5,
            h in 0.0f64..1.0,
        ) {
            let mut pop = [[0.0; N_AGES]; 2];
            pop[0].copy_from_slice(&pop_m);
            pop[1].copy_from_slice(&pop_f);
            let mut m = [[0.0; N_AGES]; 2];
            for x in 0..N_AGES {
                m[0][x] = m_scale * (0.001 + x as f64 / 100.0);
                m[1][x] = m[0][x] * 0.9;
            }
            let mut shape = [0.0; N_AGES];
            for v in &mut shape[15..50] {
                *v = 1.0 / 35.0;
            }
            let mut mig = [[mig_rate; N_AGES]; 2];
            for x in 15..35 {
                mig[0][x] = young_mig;
                mig[1][x] = young_mig;
            }
            let fert = FertilityRates { tfr, shape: &shape, male_share: 0.52 };
            let before = total(&pop);
            let mut inflow = [[0.0; N_AGES]; 2];
            inflow[1][40] = tfr * 10.0;
            let f = step(&mut pop, &[survival(&m[0]), survival(&m[1])], fert, &mig, &inflow);
            let after = total(&pop);
            proptest::prop_assert!((after - (before - f.deaths + f.births + f.net_migration)).abs() <= 1e-9 * before.max(1.0));
            proptest::prop_assert!(pop.iter().flatten().all(|v| *v >= 0.0));
            proptest::prop_assert!(f.deaths >= -1e-9 * before.max(1.0) && f.births >= 0.0);
            let before = total(&pop);
            let f = advance_fraction(&mut pop, h, &m, fert, &mig, &inflow);
            let after = total(&pop);
            proptest::prop_assert!((after - (before - f.deaths + f.births + f.net_migration)).abs() <= 1e-9 * before.max(1.0));
            proptest::prop_assert!(pop.iter().flatten().all(|v| *v >= 0.0));
        }
    }
}
