//! The one-year cohort-component step.
//!
//! Timing conventions (the population of year t is the stock at the end of year t):
//! - survivors of age x at the end of year t-1 are aged x+1 at the end of year t, with the
//!   one-year probability of dying `q(x)` of year t; the 100+ class keeps its own survivors;
//! - births of year t come from women's exposure, taken as the start-of-year women times
//!   `1 - q/2` (half a year of exposure lost by those who die); newborns survive to the end of
//!   the year with `1 - q(0)/2` (they are born on average mid-year);
//! - net migrants of year t are added at the end of the year at their end-of-year age, in
//!   proportion to the survivors there (`rate(x) * survivors(x)`), so they are not exposed to
//!   that year's mortality. Rates below -1 per person are impossible by construction (checked
//!   when the scenario is read), so counts never go negative.
//!
//! The balancing equation `P(t) = P(t-1) - deaths + births + net migration` holds exactly for
//! the flows this step returns.

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
/// `q[sex][age]` are one-year probabilities of dying, `migration[sex][age]` net migrants per
/// person at the end-of-year age (each >= -1).
pub fn step(pop: &mut Population, q: &[[f64; N_AGES]; 2], fert: FertilityRates<'_>, migration: &[[f64; N_AGES]; 2]) -> Flows {
    let mut exposure = 0.0;
    for x in 0..N_AGES {
        let s = fert.shape[x];
        if s != 0.0 {
            exposure += s * pop[1][x] * (1.0 - 0.5 * q[1][x]);
        }
    }
    let births = fert.tfr * exposure;
    let mut flows = Flows {
        births,
        ..Flows::default()
    };
    for sex in 0..2 {
        let p = &mut pop[sex];
        let qs = &q[sex];
        let mut deaths = 0.0;
        let top = p[OPEN_AGE] * qs[OPEN_AGE] + p[OPEN_AGE - 1] * qs[OPEN_AGE - 1];
        p[OPEN_AGE] = p[OPEN_AGE] * (1.0 - qs[OPEN_AGE]) + p[OPEN_AGE - 1] * (1.0 - qs[OPEN_AGE - 1]);
        deaths += top;
        for x in (1..OPEN_AGE).rev() {
            let d = p[x - 1] * qs[x - 1];
            deaths += d;
            p[x] = p[x - 1] - d;
        }
        let born = births * if sex == 0 { fert.male_share } else { 1.0 - fert.male_share };
        let infant_deaths = born * 0.5 * qs[0];
        p[0] = born - infant_deaths;
        deaths += infant_deaths;
        let mut net = 0.0;
        for (px, r) in p.iter_mut().zip(&migration[sex]) {
            let m = *px * r;
            *px += m;
            net += m;
        }
        flows.deaths += deaths;
        flows.net_migration += net;
    }
    flows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(p: &Population) -> f64 {
        p.iter().flatten().sum()
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
        let flows = step(
            &mut pop,
            &zero,
            FertilityRates {
                tfr: 0.0,
                shape: &shape,
                male_share: 0.5,
            },
            &zero,
        );
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
        // 1000 women aged 30, q = 0.01 everywhere, TFR 1.5 all at age 30, no migration.
        let mut pop = [[0.0; N_AGES]; 2];
        pop[1][30] = 1000.0;
        let q = [[0.01; N_AGES]; 2];
        let mut shape = [0.0; N_AGES];
        shape[30] = 1.0;
        let flows = step(
            &mut pop,
            &q,
            FertilityRates {
                tfr: 1.5,
                shape: &shape,
                male_share: 0.5,
            },
            &[[0.0; N_AGES]; 2],
        );
        // exposure 1000 * 0.995 = 995; births 1492.5; each sex 746.25, survive 1 - 0.005
        assert!((flows.births - 1492.5).abs() < 1e-9);
        assert!((pop[1][31] - 990.0).abs() < 1e-9);
        assert!((pop[0][0] - 746.25 * 0.995).abs() < 1e-9);
        assert!((flows.deaths - (10.0 + 1492.5 * 0.005)).abs() < 1e-9);
    }

    #[test]
    fn balancing_equation_holds_with_all_flows() {
        let mut pop = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            pop[0][x] = 1000.0 + 7.0 * x as f64;
            pop[1][x] = 900.0 + 5.0 * x as f64;
        }
        let mut q = [[0.0; N_AGES]; 2];
        for x in 0..N_AGES {
            q[0][x] = 0.001 + 0.0009 * x as f64;
            q[1][x] = 0.0008 + 0.0008 * x as f64;
        }
        let mut shape = [0.0; N_AGES];
        for v in &mut shape[15..50] {
            *v = 1.0 / 35.0;
        }
        let mut mig = [[0.003; N_AGES]; 2];
        mig[1][70] = -0.02;
        let before = total(&pop);
        let f = step(
            &mut pop,
            &q,
            FertilityRates {
                tfr: 1.3,
                shape: &shape,
                male_share: 0.53,
            },
            &mig,
        );
        let after = total(&pop);
        assert!((after - (before - f.deaths + f.births + f.net_migration)).abs() < 1e-6 * before);
        assert!(pop.iter().flatten().all(|v| *v >= 0.0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

        /// Any population, any death probabilities, fertility and net migration rates (>= -1 per
        /// person): the balancing equation holds and no count goes negative.
        #[test]
        fn balancing_and_non_negativity_hold_for_any_inputs(
            pop_m in proptest::collection::vec(0.0f64..1e6, N_AGES),
            pop_f in proptest::collection::vec(0.0f64..1e6, N_AGES),
            q_scale in 0.0f64..1.0,
            tfr in 0.0f64..8.0,
            mig_rate in -1.0f64..2.0,
            young_mig in -1.0f64..0.5,
        ) {
            let mut pop = [[0.0; N_AGES]; 2];
            pop[0].copy_from_slice(&pop_m);
            pop[1].copy_from_slice(&pop_f);
            let mut q = [[0.0; N_AGES]; 2];
            for x in 0..N_AGES {
                let v = (q_scale * (0.001 + x as f64 / 100.0)).min(1.0);
                q[0][x] = v;
                q[1][x] = v * 0.9;
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
            let before = total(&pop);
            let f = step(&mut pop, &q, FertilityRates { tfr, shape: &shape, male_share: 0.52 }, &mig);
            let after = total(&pop);
            proptest::prop_assert!((after - (before - f.deaths + f.births + f.net_migration)).abs() <= 1e-9 * before.max(1.0));
            proptest::prop_assert!(pop.iter().flatten().all(|v| *v >= 0.0));
            proptest::prop_assert!(f.deaths >= 0.0 && f.births >= 0.0);
        }
    }
}
