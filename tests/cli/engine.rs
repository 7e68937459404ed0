//! The engine through the library API: group sums, work-split invariance, monotonicity.

use bedsim::dist::Dist;
use bedsim::montecarlo::{self, Metric, RunOptions};
use bedsim::scenario::{self, Scenario, Unit};
use proptest::prelude::*;

use super::{small_scenario, write};

fn load_small(draws: usize) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", &small_scenario());
    scenario::load(&p, &[format!("draws={draws}")]).unwrap()
}

#[test]
fn group_values_are_per_draw_sums_of_their_members() {
    let s = load_small(100);
    let r = montecarlo::run(
        &s,
        &RunOptions {
            keep_draws: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let kept = r.kept.as_ref().unwrap();
    let n_years = r.years.len();
    let g = kept.iter().find(|u| u.unit == Unit::Group(0)).unwrap();
    let members: Vec<_> = kept.iter().filter(|u| matches!(u.unit, Unit::Region(_))).collect();
    assert_eq!(members.len(), 2);
    for m in [Metric::Elderly, Metric::BedsTotal, Metric::DemandNursing, Metric::UnmetNursingNeed] {
        for yi in 0..n_years {
            for d in 0..r.draws {
                let i = (m.index() * n_years + yi) * r.draws + d;
                let sum: f64 = members.iter().map(|u| u.values[i]).sum();
                // Group sums are kept in fixed point: each member is rounded to 2^-20, so the sum is
                // exact to half that per member (GROUP_SCALE), plus the f64 rounding of `sum`.
                let tolerance = members.len() as f64 * 0.5 / montecarlo::GROUP_SCALE + 1e-12 * sum.abs();
                assert!(
                    (g.values[i] - sum).abs() <= tolerance,
                    "{m:?} year {yi} draw {d}: {} vs {sum}",
                    g.values[i]
                );
            }
        }
    }
    // Ratios are recomputed from the sums, not summed.
    let i = |m: Metric| (m.index() * n_years + 5) * r.draws + 3;
    let expect = 1000.0 * g.values[i(Metric::BedsTotal)] / g.values[i(Metric::Elderly)];
    assert!((g.values[i(Metric::BedsPer1000Elderly)] - expect).abs() < 1e-9);
}

#[test]
fn results_do_not_depend_on_block_or_chunk_size_or_threads() {
    let s = load_small(150);
    let a = montecarlo::run(&s, &RunOptions::default()).unwrap();
    let b = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| {
            montecarlo::run(
                &s,
                &RunOptions {
                    block_draws: 7,
                    chunk_bytes: 1,
                    ..RunOptions::default()
                },
            )
        })
        .unwrap();
    assert_eq!(a.units, b.units);
    assert_eq!(a.targets, b.targets);
}

#[test]
fn base_year_population_is_the_census_and_the_elderly_grow() {
    let s = load_small(50);
    let r = montecarlo::run(&s, &RunOptions::default()).unwrap();
    let n_years = r.years.len();
    let kongtong = &r.units[0];
    let elderly = |yi: usize| kongtong.stats[Metric::Elderly.index() * n_years + yi].unwrap();
    // Kongtong 620802 aged 60+ in the 2020 census, summed from the 5-year groups of the data file.
    let census = census_60_plus("620802");
    assert!((elderly(0).mean - census).abs() < 1e-6, "{} vs {census}", elderly(0).mean);
    assert_eq!(elderly(0).quantiles[0], elderly(0).quantiles[6], "the base year is not random");
    assert!(elderly(5).mean > elderly(0).mean * 1.1, "China's 60+ grow fast in 2020-2025");
}

fn census_60_plus(code: &str) -> f64 {
    let path = super::repo().join("data/census2020_target_regions_age5_sex.csv");
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let idx = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (c, a, p) = (idx("region_code"), idx("age_start"), idx("population"));
    r.records()
        .map(|x| x.unwrap())
        .filter(|x| &x[c] == code && x[a].parse::<u32>().unwrap() >= 60)
        .map(|x| x[p].parse::<f64>().unwrap())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Adding beds never lowers the probability of meeting a beds target.
    #[test]
    fn more_beds_never_lower_a_beds_target_probability(extra in 0.0f64..20000.0, base in 0.0f64..8000.0) {
        let mut s = load_small(60);
        s.capacity.stock[0].community = Dist::fixed(base);
        let p0 = montecarlo::run(&s, &RunOptions::default()).unwrap();
        s.capacity.stock[0].community = Dist::fixed(base + extra);
        let p1 = montecarlo::run(&s, &RunOptions::default()).unwrap();
        for (a, b) in p0.targets.iter().zip(&p1.targets) {
            if s.targets[a.target].id == "beds-2025" {
                prop_assert!(b.probability.unwrap() >= a.probability.unwrap());
            }
        }
    }
}
