//! Care need: dependency prevalence by age and sex, its trend, and institutional uptake.
//!
//! Prevalence of partial (半失能) and full (失能) dependency in year t is the prevalence of its
//! reference year (the survey it comes from) times a draw-level `level` and
//! `(1 + trend)^(t - reference_year)`, capped so that partial + full never exceeds 1. Demand for institutional beds is the sum over levels (and the
//! independent) of people times their uptake; demand for nursing-type beds comes from the
//! dependent residents only.

use crate::demography::{N_AGES, Population};
use crate::scenario::Care;
use crate::streams::{Purpose, field_stream};

/// Institutional uptake of a draw: the share of each level that would use an institutional bed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uptake {
    pub independent: f64,
    pub partial: f64,
    pub full: f64,
}

/// Care need of one region-year.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Need {
    pub partial: f64,
    pub full: f64,
    pub demand_institutional: f64,
    pub demand_nursing: f64,
}

/// Values by year index, sex and single age.
pub type ByYear = Vec<[[f64; N_AGES]; 2]>;

/// The care parameters of one draw: prevalence level and trend, and the uptakes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CareDraw {
    pub level: f64,
    pub trend: f64,
    /// Years from the prevalence's reference year to the base year.
    pub offset: i32,
    pub uptake: Uptake,
}

impl CareDraw {
    /// Multiplier of the reference-year prevalence in year index `t` (0 = base year):
    /// `level * (1 + trend)^(t + base_year - reference_year)`.
    pub fn factor(&self, t: usize) -> f64 {
        self.level * (1.0 + self.trend).powi(t as i32 + self.offset)
    }
}

/// Samples the care parameters of one draw, each from its own stream.
pub fn draw_parameters(care: &Care, seed: u64, draw: u64) -> CareDraw {
    let sample = |d: &crate::dist::Dist, field: &str| match d.as_fixed() {
        Some(v) => v,
        None => d.sample(&mut field_stream(seed, Purpose::Care, draw, 0, field)),
    };
    CareDraw {
        level: sample(&care.level, "level"),
        trend: sample(&care.trend, "trend"),
        offset: care.reference_offset,
        uptake: Uptake {
            independent: sample(&care.uptake_independent, "uptake_independent"),
            partial: sample(&care.uptake_partial, "uptake_partial"),
            full: sample(&care.uptake_full, "uptake_full"),
        },
    }
}

/// Partial and full prevalence of one age and sex with a multiplier, capped so that neither
/// exceeds 1 and their sum never does.
pub fn capped(partial: f64, full: f64, factor: f64) -> (f64, f64) {
    let p = (partial * factor).min(1.0);
    (p, (full * factor).min(1.0 - p))
}

/// Prevalence per year index (0 = base year) for one draw, and the draw's uptake.
pub fn draw_prevalence(care: &Care, n_years: usize, seed: u64, draw: u64) -> (ByYear, ByYear, Uptake) {
    let d = draw_parameters(care, seed, draw);
    let mut partial = vec![[[0.0; N_AGES]; 2]; n_years];
    let mut full = vec![[[0.0; N_AGES]; 2]; n_years];
    for t in 0..n_years {
        let factor = d.factor(t);
        for sex in 0..2 {
            for x in care.min_age.min(N_AGES)..N_AGES {
                (partial[t][sex][x], full[t][sex][x]) = capped(care.partial[sex][x], care.full[sex][x], factor);
            }
        }
    }
    (partial, full, d.uptake)
}

/// Dependents and demand of a population.
pub fn need(pop: &Population, partial: &[[f64; N_AGES]; 2], full: &[[f64; N_AGES]; 2], min_age: usize, uptake: &Uptake) -> Need {
    let mut n = Need::default();
    let mut people = 0.0;
    for sex in 0..2 {
        for x in min_age.min(N_AGES)..N_AGES {
            let p = pop[sex][x];
            people += p;
            n.partial += p * partial[sex][x];
            n.full += p * full[sex][x];
        }
    }
    let independent = (people - n.partial - n.full).max(0.0);
    n.demand_nursing = n.partial * uptake.partial + n.full * uptake.full;
    n.demand_institutional = n.demand_nursing + independent * uptake.independent;
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demand_is_people_times_prevalence_times_uptake() {
        let mut pop = [[0.0; N_AGES]; 2];
        pop[0][70] = 1000.0;
        pop[1][70] = 1000.0;
        pop[0][30] = 5000.0; // below the first band: no need
        let mut partial = [[0.0; N_AGES]; 2];
        let mut full = [[0.0; N_AGES]; 2];
        partial[0][70] = 0.1;
        partial[1][70] = 0.2;
        full[0][70] = 0.05;
        full[1][70] = 0.05;
        let u = Uptake {
            independent: 0.01,
            partial: 0.1,
            full: 0.2,
        };
        let n = need(&pop, &partial, &full, 60, &u);
        assert!((n.partial - 300.0).abs() < 1e-9);
        assert!((n.full - 100.0).abs() < 1e-9);
        assert!((n.demand_nursing - (30.0 + 20.0)).abs() < 1e-9);
        assert!((n.demand_institutional - (50.0 + 16.0)).abs() < 1e-9);
    }
}
