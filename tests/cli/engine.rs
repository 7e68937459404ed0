//! The engine through the library API: group sums, work-split invariance, monotonicity.

use bedsim::montecarlo::{self, Metric, RunOptions};
use bedsim::scenario::{self, Scenario, Unit};
use proptest::prelude::*;

use super::{small_scenario, write};

fn load_small(draws: usize) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", &small_scenario());
    scenario::load(&p, &super::sets(&[format!("draws={draws}")])).unwrap()
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
                // Group sums are kept in fixed point (each member rounded to half a step of
                // GROUP_SCALE) and the sum is then held in f32 like every per-draw value (half an
                // ulp, 2^-24 relative).
                let tolerance = members.len() as f64 * 0.5 / montecarlo::GROUP_SCALE + sum.abs() * f64::from(f32::EPSILON) / 2.0;
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
    assert!((g.values[i(Metric::BedsPer1000Elderly)] - expect).abs() < 1e-6 * expect);
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
                    memory_bytes: 1,
                    ..RunOptions::default()
                },
            )
        })
        .unwrap();
    // The smallest budget makes one region per chunk and one year per pass.
    assert_eq!((b.timing.chunk_regions, b.timing.passes), (1, s.n_years()));
    assert_eq!(a.units, b.units);
    assert_eq!(a.targets, b.targets);
    // A budget between the two: several regions per chunk, still one pass.
    let c = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap()
        .install(|| {
            montecarlo::run(
                &s,
                &RunOptions {
                    block_draws: 3,
                    memory_bytes: 300_000,
                    ..RunOptions::default()
                },
            )
        })
        .unwrap();
    assert_eq!(a.units, c.units);
    assert_eq!(a.targets, c.targets);
}

/// The fast single-precision kernel against the plain double-precision reference, draw by
/// draw, on the shipped Hainan scenario (25 units with their own mortality levels, migration
/// schedules and yearly gains, plan items, seasonal demand): every count within 2e-5 relative
/// (or 0.05 persons/beds absolute) in every year of 100 draws.
#[test]
fn the_f32_kernel_agrees_with_the_f64_reference_draw_by_draw() {
    let p = super::repo().join("scenarios/hainan.toml");
    let s = scenario::load(&p, &super::sets(&["draws=100"])).unwrap();
    let (worst, at) = kernel_against_reference(&s);
    assert!(worst < 2e-5, "worst relative difference {worst:e} at {at}");
}

/// The largest difference, relative to the value (or to 2,500 persons or beds, whichever is
/// larger), between a run's kept draws and the f64 reference, over every region, draw, year and
/// stored count, and where it is.
pub fn kernel_against_reference(s: &Scenario) -> (f64, String) {
    let r = montecarlo::run(
        s,
        &RunOptions {
            keep_draws: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let kept = r.kept.as_ref().unwrap();
    let n_years = s.n_years();
    let mut worst = (0.0f64, String::new());
    for (ri, region) in s.regions().iter().enumerate() {
        let unit = kept.iter().find(|u| u.unit == Unit::Region(ri)).unwrap();
        for d in 0..s.draws() {
            let reference = montecarlo::reference::region_draw(s, ri, s.draw_id(d));
            for (yi, counts) in reference.counts.iter().enumerate() {
                for m in Metric::ALL.iter().take(montecarlo::N_STORED) {
                    let want = counts[m.index()];
                    let got = unit.values[(m.index() * n_years + yi) * s.draws() + d];
                    let err = (got - want).abs() / want.abs().max(2500.0);
                    if err > worst.0 {
                        worst = (err, format!("{} {m:?} year {yi} draw {d}: {got} vs {want}", region.id));
                    }
                }
            }
        }
    }
    worst
}

/// A region's results do not depend on which other regions are run with it: the national
/// scenario restricted to a few counties gives, for those counties, the rows of the full run.
#[test]
fn a_slice_gives_each_region_exactly_its_rows_of_the_whole_scenario() {
    let p = super::repo().join("scenarios/china-counties.toml");
    let s = scenario::load(&p, &super::sets(&["draws=40"])).unwrap();
    let ids: Vec<String> = ["460105", "460106", "110101", "654326"].iter().map(|x| x.to_string()).collect();
    let slice = s.restrict(&ids).unwrap();
    assert_eq!(slice.regions().len(), 4);
    // The groups that keep members: the nation, three provinces and their prefectures.
    assert!(slice.groups().iter().any(|g| g.id == "china" && g.members.len() == 4));
    let part = montecarlo::run(&slice, &RunOptions::default()).unwrap();
    let all: Vec<usize> = s
        .regions()
        .iter()
        .enumerate()
        .filter(|(_, r)| ids.contains(&r.id))
        .map(|(i, _)| i)
        .collect();
    let whole = montecarlo::run_regions(&s, &RunOptions::default(), &all).unwrap();
    for (k, &r) in all.iter().enumerate() {
        let a = part.units.iter().find(|u| u.unit == Unit::Region(k)).unwrap();
        let b = whole.units.iter().find(|u| u.unit == Unit::Region(r)).unwrap();
        assert_eq!(a.stats, b.stats, "region {}", s.regions()[r].id);
        assert_eq!(a.pyramid, b.pyramid);
    }
    assert!(s.restrict(&["99999x".into()]).is_err());
}

/// The base year's value is the census of 1 November moved to 31 December: two months in which
/// a sixth of the 59-year-olds turn 60 and the old die at a sixth of their annual rate. China's
/// 60+ grew by about 3.5% a year around 2020, so the move adds a little over half a percent; a
/// count dated 31 December (00:00) is moved by one day only.
#[test]
fn base_year_population_is_the_census_moved_to_the_end_of_the_year() {
    let s = load_small(50);
    let r = montecarlo::run(&s, &RunOptions::default()).unwrap();
    let n_years = r.years.len();
    let kongtong = &r.units[0];
    let elderly = |yi: usize| kongtong.stats[Metric::Elderly.index() * n_years + yi].unwrap();
    // Kongtong 620802 aged 60+ in the 2020 census, summed from the 5-year groups of the data file.
    let census = census_60_plus("620802");
    let moved = elderly(0).mean / census - 1.0;
    assert!((0.001..0.012).contains(&moved), "{} vs {census}: {moved}", elderly(0).mean);
    assert_eq!(elderly(0).quantiles[0], elderly(0).quantiles[6], "the base year is not random");
    assert!(elderly(5).mean > elderly(0).mean * 1.1, "China's 60+ grow fast in 2020-2025");

    let dec31 = scenario::load(
        &super::repo().join("scenarios/pingliang.toml"),
        &super::sets(&["draws=20", "population.date=\"2020-12-31\""]),
    )
    .unwrap();
    assert!((dec31.base_shift() - 1.0 / 366.0).abs() < 1e-15);
    let r = montecarlo::run(&dec31, &RunOptions::default()).unwrap();
    let e0 = r.units[0].stats[Metric::Elderly.index() * r.years.len()].unwrap().mean;
    assert!((e0 / census - 1.0).abs() < 1e-4, "one day moves {e0} from {census}");
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
        // The scenario is checked and then read-only: each stock is set through the file.
        let with_community = |beds: f64| {
            let dir = tempfile::tempdir().unwrap();
            let p = write(dir.path(), "s.toml", &small_scenario());
            scenario::load(&p, &super::sets(&["draws=60".to_string(), format!("capacity.stock.0.community={beds:?}")])).unwrap()
        };
        let s = with_community(base);
        let p0 = montecarlo::run(&s, &RunOptions::default()).unwrap();
        let p1 = montecarlo::run(&with_community(base + extra), &RunOptions::default()).unwrap();
        for (a, b) in p0.targets.iter().zip(&p1.targets) {
            if s.targets()[a.target].id == "beds-2025" {
                prop_assert!(b.probability.unwrap() >= a.probability.unwrap());
            }
        }
    }
}

/// Counties holding the national stock and plan by one share are scaled from their class's
/// beds (`capacity::SupplyClasses`); the f64 reference realises each county on its own. Four
/// counties of the national scenario: every count of every year of 40 draws within 2e-5.
#[test]
fn supply_scaled_from_a_class_agrees_with_each_county_realised_alone() {
    let p = super::repo().join("scenarios/china-counties.toml");
    let s = scenario::load(&p, &super::sets(&["draws=40"])).unwrap();
    let ids: Vec<String> = ["460105", "110101", "654326", "320102"].iter().map(|x| x.to_string()).collect();
    let slice = s.restrict(&ids).unwrap();
    assert_eq!(bedsim::capacity::SupplyClasses::new(&slice).scaled_regions(), 4);
    let (worst, at) = kernel_against_reference(&slice);
    assert!(worst < 2e-5, "worst relative difference {worst:e} at {at}");
}

/// The AVX-512 build of the engine's vector code gives the tables of the AVX2 build, byte for
/// byte: the real program on the national scenario's counties of Hainan (each with a mortality
/// level of its own, so the kernel's `S^c` path runs), once as the machine allows and once with
/// `BEDSIM_NO_AVX512`. On a machine without AVX-512 both runs take the AVX2 build and the
/// manifests say so; the comparison then shows only that the variable changes nothing.
#[test]
fn the_avx512_and_avx2_builds_write_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = super::repo().join("scenarios/china-counties.toml");
    let mut vectors = Vec::new();
    for (out, narrow) in [("wide", false), ("narrow", true)] {
        let mut cmd = super::bedsim(dir.path());
        cmd.args([
            "run",
            scenario.to_str().unwrap(),
            "--only",
            "460000",
            "--draws",
            "96",
            "--no-charts",
            "--out",
            out,
        ]);
        if narrow {
            cmd.env("BEDSIM_NO_AVX512", "1");
        } else {
            cmd.env_remove("BEDSIM_NO_AVX512");
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(out).join("manifest.json")).unwrap()).unwrap();
        vectors.push(manifest["vectors"].as_str().unwrap().to_string());
    }
    assert_ne!(vectors[1], "avx512", "BEDSIM_NO_AVX512 must turn the AVX-512 build off");
    eprintln!("vector builds compared: {vectors:?}");
    for f in ["summary.csv", "targets.csv", "pyramid.csv", "units.csv"] {
        let a = std::fs::read(dir.path().join("wide").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("narrow").join(f)).unwrap();
        assert!(a == b, "{f} differs between the {} and {} builds", vectors[0], vectors[1]);
    }
}
