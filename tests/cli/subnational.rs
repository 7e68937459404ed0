//! Sub-national mortality and migration, the census moved to the end of its year, and the
//! back-test: through the library on the shipped data and through the binary on real files.

use bedsim::montecarlo::{self, Metric, RunOptions};
use bedsim::scenario::{self, Scenario, Unit};

use super::{bedsim, read_rows, repo, small_scenario, write};

/// The small test scenario with every sub-national input: mortality levels and calibrated
/// uncertainty, migration schedules with persistence, a county's own and its city's shared
/// laplace noise.
fn subnational_text() -> String {
    let d = repo().join("data");
    let d = d.display();
    small_scenario()
        .replacen(
            "fit_to = 2020\n",
            &format!(
                "fit_to = 2020\nsigma = \"calibrated\"\ndrift_se = \"calibrated\"\ncalibrate_to = \"{d}/wpp2024_china_e0_annual.csv\"\nlevels_file = \"{d}/mortality_levels_2020_units.csv\"\n"
            ),
            1,
        )
        .replacen(
            "rate_per_1000 = { dist = \"normal\", mean = -3, sd = 2 }",
            &format!(
                "schedule_file = \"{d}/migration_2010_2020.csv\"\npersistence = {{ dist = \"uniform\", low = 0.3, high = 1.0 }}\nrate_per_1000 = {{ dist = \"laplace\", mean = 0, scale = 5.75 }}"
            ),
            1,
        )
        .replacen(
            "name = \"平凉市\"\n",
            "name = \"平凉市\"\nmigration_rate = { dist = \"laplace\", mean = 0, scale = 2.04 }\n",
            1,
        )
}

fn load(text: &str, overrides: &[String]) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", text);
    scenario::load(&p, &super::sets(overrides)).unwrap()
}

#[test]
fn the_scenario_reader_gives_each_region_its_level_and_schedule() {
    let s = load(&subnational_text(), &[]);
    let kongtong = &s.regions()[0];
    // data/mortality_levels_2020_units.csv: 620802 multiplier 0.8922, sdlog 0.0544
    let (meanlog, sdlog) = kongtong.mortality_level.lognormal().expect("a lognormal level");
    assert!(
        (meanlog.exp() - 0.8922).abs() < 1e-12 && (sdlog - 0.0544).abs() < 1e-12,
        "{meanlog} {sdlog}"
    );
    // Kongtong's women aged 60-64: -1.46 per 1,000 a year (a loss: a rate, no count).
    let sch = kongtong.migration_schedule.as_ref().unwrap();
    let inflow = kongtong.migration_inflow.as_ref().unwrap();
    assert!((sch[1][62] + 0.00146).abs() < 1e-15, "{}", sch[1][62]);
    assert_eq!(inflow[1][62], 0.0);
    // Its girls aged 5-9 gain 12.38 per 1,000: held as the yearly number on the census count.
    assert_eq!(sch[1][7], 0.0);
    assert!(inflow[1][7] > 0.0);
    assert!(s.mortality().sigma[0] > 4.0 * s.mortality().fitted.sigma[0], "calibrated sigma");
    assert!((s.base_shift() - 61.0 / 366.0).abs() < 1e-15);
}

/// The kernel and the f64 reference with every sub-national input: levels (S^c through
/// 2^(c log2 S)), schedules, yearly gains, persistence, the group's shared noise.
#[test]
fn the_f32_kernel_agrees_with_the_f64_reference_with_levels_and_schedules() {
    let s = load(&subnational_text(), &["draws=60".into()]);
    let (worst, at) = super::engine::kernel_against_reference(&s);
    assert!(worst < 2e-5, "worst relative difference {worst:e} at {at}");
}

#[test]
fn results_with_sub_national_inputs_do_not_depend_on_threads_or_blocks() {
    let s = load(&subnational_text(), &["draws=90".into()]);
    let a = montecarlo::run(&s, &RunOptions::default()).unwrap();
    let b = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| {
            montecarlo::run(
                &s,
                &RunOptions {
                    block_draws: 5,
                    memory_bytes: 1,
                    ..RunOptions::default()
                },
            )
        })
        .unwrap();
    assert_eq!(a.units, b.units);
    assert_eq!(a.targets, b.targets);
}

/// A higher mortality level leaves fewer old people; a level of 1 is the national schedule.
#[test]
fn a_higher_mortality_level_leaves_fewer_of_the_old() {
    let base = small_scenario();
    let old80 = |level: &str| {
        let t = base.replacen(
            "id = \"620802\"\n",
            &format!("id = \"620802\"\nmortality_multiplier = {level}\n"),
            1,
        );
        let s = load(&t, &["draws=20".into()]);
        let r = montecarlo::run(&s, &RunOptions::default()).unwrap();
        let n = r.years.len();
        r.units[0].stats[Metric::Aged80Plus.index() * n + n - 1].unwrap().quantiles[3]
    };
    let (low, one, high) = (old80("0.7"), old80("1"), old80("1.4"));
    assert!(low > one * 1.05 && one > high * 1.05, "{low} {one} {high}");
}

/// Gains held as numbers grow a destination more slowly than the same gains as rates, which
/// compound on its growing population: Haikou's 秀英区 gained 25-65 per 1,000 a year at every age
/// in 2010-2020.
#[test]
fn gains_as_numbers_do_not_compound() {
    let p = repo().join("scenarios/hainan.toml");
    let total = |gains: &str| {
        let s = scenario::load(
            &p,
            &super::sets(&[
                "draws=20".into(),
                format!("migration.gains=\"{gains}\""),
                "migration.persistence=1".into(),
            ]),
        )
        .unwrap();
        let r = montecarlo::run(&s, &RunOptions::default()).unwrap();
        let n = r.years.len();
        let xiuying = r.units.iter().find(|u| u.unit == Unit::Region(0)).unwrap();
        let at = |yi: usize| xiuying.stats[Metric::PopulationTotal.index() * n + yi].unwrap().quantiles[3];
        at(n - 1) / at(0)
    };
    let (counts, rates) = (total("counts"), total("rates"));
    assert!(
        counts > 1.2 && counts < rates - 0.1,
        "growth 2020-2035: {counts} as numbers, {rates} as rates"
    );
}

fn expect_check_error(text: &str, file_end: &str, message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", text);
    let out = bedsim(dir.path()).args(["check", path.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let hit = stderr.lines().any(|l| {
        let mut parts = l.splitn(4, ':');
        let (f, line, col) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        f.ends_with(file_end) && line.parse::<usize>().is_ok() && col.parse::<usize>().is_ok() && l.contains(message)
    });
    assert!(hit, "expected {file_end}:<line>:<col>: ... {message:?}; got:\n{stderr}");
}

#[test]
fn rejects_a_levels_file_without_a_region_or_with_a_bad_level() {
    let d = repo().join("data");
    let dir = tempfile::tempdir().unwrap();
    let levels = write(dir.path(), "levels.csv", "region_code,multiplier,sdlog\n620802,0.9,0.05\n");
    let t = subnational_text().replace(
        &format!("{}/mortality_levels_2020_units.csv", d.display()),
        &levels.display().to_string(),
    );
    expect_check_error(&t, "s.toml", "mortality.levels_file has no row for 1 region(s): 620821");
    let levels = write(
        dir.path(),
        "bad.csv",
        "region_code,multiplier,sdlog\n620802,0.9,0.05\n620821,25,0.05\n",
    );
    let t = subnational_text().replace(
        &format!("{}/mortality_levels_2020_units.csv", d.display()),
        &levels.display().to_string(),
    );
    expect_check_error(&t, "bad.csv", "column 'multiplier': 25 is outside 0.1 .. 10");
}

#[test]
fn rejects_a_schedule_file_without_a_region() {
    let d = repo().join("data");
    let dir = tempfile::tempdir().unwrap();
    let sched = write(
        dir.path(),
        "sched.csv",
        "region_code,sex,age_start,age_end,rate_per_1000\n620802,male,0,,1\n620802,female,0,,1\n",
    );
    let t = subnational_text().replace(&format!("{}/migration_2010_2020.csv", d.display()), &sched.display().to_string());
    // Reported at the scenario's region, which names the id the file lacks.
    expect_check_error(&t, "s.toml", &format!("region '620821' has no rows in {}", sched.display()));
    let bad = write(
        dir.path(),
        "bad.csv",
        "region_code,sex,age_start,age_end,rate_per_1000\n620802,male,0,,1\n620802,female,0,,-700\n",
    );
    let t = subnational_text().replace(&format!("{}/migration_2010_2020.csv", d.display()), &bad.display().to_string());
    expect_check_error(&t, "bad.csv", "column 'rate_per_1000': -700 is outside -500 .. 500");
}

#[test]
fn rejects_a_count_date_outside_the_base_year_or_not_a_date() {
    let t = small_scenario().replacen("[population]\n", "[population]\ndate = \"2019-11-01\"\n", 1);
    expect_check_error(&t, "s.toml", "population.date = 2019-11-01 is not in base_year 2020");
    let t = small_scenario().replacen("[population]\n", "[population]\ndate = \"2020-02-30\"\n", 1);
    expect_check_error(&t, "s.toml", "population.date = '2020-02-30' is not a date YYYY-MM-DD");
}

#[test]
fn rejects_calibrated_uncertainty_without_a_file_of_intervals() {
    let t = small_scenario().replacen("fit_to = 2020\n", "fit_to = 2020\nsigma = \"calibrated\"\n", 1);
    expect_check_error(&t, "s.toml", "needs calibrate_to");
    let t = small_scenario().replacen("fit_to = 2020\n", "fit_to = 2020\nsigma = [1.0]\n", 1);
    expect_check_error(&t, "s.toml", "mortality.sigma as a list needs two numbers, [male, female]");
}

#[test]
fn rejects_a_backtest_unit_that_is_not_in_the_scenario() {
    let d = repo().join("data");
    let t = small_scenario()
        + &format!(
            "\n[backtest]\nfile = \"{}/census2020_target_regions_age5_sex.csv\"\nshape_file = \"{}/china_2020_pop_single_age_sex.csv\"\ndate = \"2025-11-01\"\n",
            d.display(),
            d.display()
        );
    // the file holds many regions the small scenario does not have
    expect_check_error(
        &t,
        "census2020_target_regions_age5_sex.csv",
        "backtest: '000000' is neither a region nor a group of the scenario",
    );
}

/// The province back-test through the binary: the tables and the coverage on stdout.
#[test]
fn a_backtest_run_writes_the_comparison_and_prints_the_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let p = repo().join("scenarios/backtest-2010-provinces.toml");
    let o = bedsim(dir.path())
        .args(["run", p.to_str().unwrap(), "--draws", "300", "--no-charts", "--out", "bt"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("back-test against the census of 2020-11-01"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("province") && l.contains("elderly") && l.contains(" 31 ")),
        "{stdout}"
    );
    let rows = read_rows(&dir.path().join("bt/backtest.csv"));
    // 31 provinces and the nation, 4 metrics each
    assert_eq!(rows.len(), 32 * 4);
    let bj = rows.iter().find(|r| r["region"] == "110000" && r["metric"] == "elderly").unwrap();
    let obs: f64 = bj["observed"].parse().unwrap();
    // Beijing's 4,298,590 aged 60+ on census day, moved to 31 December
    assert!(obs > 4_298_590.0 && obs < 4_298_590.0 * 1.01, "{obs}");
    let cov = read_rows(&dir.path().join("bt/backtest_coverage.csv"));
    let prov = cov.iter().find(|r| r["level"] == "province" && r["metric"] == "elderly").unwrap();
    let c90: f64 = prov["coverage90"].parse().unwrap();
    assert!((0.8..=0.97).contains(&c90), "{c90}");
}

/// The committed crosswalk, levels, schedules and back-test scenarios are what the script makes
/// from the committed census tables.
#[test]
fn the_sub_national_inputs_are_reproduced_by_their_script() {
    let out = std::process::Command::new("python3")
        .arg(repo().join("scenarios/make_subnational.py"))
        .arg("--check")
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
