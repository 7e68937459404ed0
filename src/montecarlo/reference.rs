//! The projection of one region in one draw written plainly, in double precision, with the
//! library's `exp` and `ln`: the model as MODEL.md states it, from the same random streams as a
//! run. It is slow and is not used by runs; the fast single-precision kernel ([`super::kernel`])
//! is tested against it.

use super::{AGE_GROUPS, Metric, N_STORED, kappa_shocks, kappa_trend, migration_persistence};
use crate::capacity::{self, CapacityPath};
use crate::care;
use crate::demography::lifetable::{Survival, survival};
use crate::demography::projection::{FertilityRates, step};
use crate::demography::{N_AGES, aged_at_least};
use crate::scenario::Scenario;

use crate::streams::{Purpose, stream};

/// One year's survival from the Lee-Carter index `kappa` (the national life table) and a
/// region's mortality level `c`: the cohort's survival under proportional hazards, `S^c` (and
/// `L(0)^c` for newborns).
pub fn survival_schedule(s: &Scenario, kappa: [f64; 2], level: f64) -> [Survival; 2] {
    let m = &s.mortality;
    std::array::from_fn(|sex| {
        let mx: [f64; N_AGES] = std::array::from_fn(|x| (m.base_log_m[sex][x] + m.b[sex][x] * kappa[sex]).exp());
        let national = survival(&mx);
        if level == 1.0 {
            return national;
        }
        Survival {
            s: national.s.map(|v| v.powf(level)),
            newborn: national.newborn.powf(level),
        }
    })
}

/// One region in one draw: the stored counts of every year and the horizon pyramid
/// (`[sex * AGE_GROUPS + group]`).
pub struct RegionPath {
    pub counts: Vec<[f64; N_STORED]>,
    pub pyramid: Vec<f64>,
}

/// Projects region `r` in draw `draw`.
pub fn region_draw(s: &Scenario, r: usize, draw: u64) -> RegionPath {
    let region = &s.regions[r];
    let n_years = s.n_years();
    let n_steps = n_years - 1;
    let trend = kappa_trend(s, draw);
    let shock_key = if s.mortality.national_shocks { 0 } else { region.key };
    let shocks = kappa_shocks(s, &mut stream(s.seed, Purpose::MortalityShock, draw, shock_key), n_steps);
    let (partial, full, uptake) = care::draw_prevalence(&s.care, n_years, s.seed, draw);
    let tfr = region
        .tfr
        .as_ref()
        .unwrap_or(&s.fertility.tfr)
        .sample(&mut stream(s.seed, Purpose::Fertility, draw, region.key));
    let rate = super::migration_rate(s, r, draw);
    let persistence = migration_persistence(s, draw);
    let mut mig = [[0.0; N_AGES]; 2];
    for sex in 0..2 {
        for x in 0..N_AGES {
            let schedule = region.migration_schedule.as_ref().map_or(0.0, |m| m[sex][x]);
            mig[sex][x] = (persistence * schedule + rate * s.migration.weight[x]).max(-1.0);
        }
    }
    let inflow: [[f64; N_AGES]; 2] = match &region.migration_inflow {
        Some(i) => std::array::from_fn(|sex| std::array::from_fn(|x| persistence * i[sex][x])),
        None => [[0.0; N_AGES]; 2],
    };
    let level = match region.mortality_level.as_fixed() {
        Some(v) => v,
        None => region
            .mortality_level
            .sample(&mut stream(s.seed, Purpose::MortalityLevel, draw, region.key)),
    };
    let mut cap = CapacityPath::new(n_years);
    capacity::realise(s, r, draw, &mut cap);
    let registered_ratio = region
        .registered_ratio
        .sample(&mut stream(s.seed, Purpose::Registered, draw, region.key));
    let fert = FertilityRates {
        tfr,
        shape: &s.fertility.shape,
        male_share: s.fertility.male_share,
    };
    let mut pop = region.base;
    let mut counts = Vec::with_capacity(n_years);
    for yi in 0..n_years {
        if yi > 0 {
            let k = [trend[yi - 1][0] + shocks[yi - 1][0], trend[yi - 1][1] + shocks[yi - 1][1]];
            step(&mut pop, &survival_schedule(s, k, level), fert, &mig, &inflow);
        }
        let need = care::need(&pop, &partial[yi], &full[yi], s.care.min_age, &uptake);
        let mut v = [0.0; N_STORED];
        v[Metric::PopulationTotal as usize] = aged_at_least(&pop, 0);
        v[Metric::Elderly as usize] = aged_at_least(&pop, s.elderly_age);
        v[Metric::ElderlyRegistered as usize] = registered_ratio * v[Metric::Elderly as usize];
        v[Metric::Aged65Plus as usize] = aged_at_least(&pop, 65);
        v[Metric::Aged80Plus as usize] = aged_at_least(&pop, 80);
        v[Metric::DependentPartial as usize] = need.partial;
        v[Metric::DependentFull as usize] = need.full;
        v[Metric::SeasonalDemand as usize] = cap.seasonal[yi];
        v[Metric::DemandInstitutional as usize] = need.demand_institutional + cap.seasonal[yi];
        v[Metric::DemandNursing as usize] = need.demand_nursing;
        v[Metric::Caregivers as usize] = cap.caregivers[yi];
        v[Metric::BedsInstitutional as usize] = cap.institutional[yi];
        v[Metric::BedsNursing as usize] = cap.nursing[yi];
        v[Metric::BedsCommunity as usize] = cap.community[yi];
        v[Metric::BedsTotal as usize] = cap.institutional[yi] + cap.community[yi];
        v[Metric::UnmetNursingNeed as usize] = (need.demand_nursing - cap.nursing[yi]).max(0.0);
        counts.push(v);
    }
    let mut pyramid = vec![0.0; 2 * AGE_GROUPS];
    for (sex, p) in pop.iter().enumerate() {
        for g in 0..AGE_GROUPS {
            pyramid[sex * AGE_GROUPS + g] = p[5 * g..(5 * g + 5).min(N_AGES)].iter().sum();
        }
    }
    RegionPath { counts, pyramid }
}
