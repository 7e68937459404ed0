//! Plans delivered as plans are delivered: programmes of projects, the stock's date, and random
//! streams that keep every other value of a draw when one input changes.

use bedsim::capacity::{CapacityPath, Realised, realise, realise_item};
use bedsim::scenario::{self, Scenario};

use super::{small_scenario, write};

fn load(text: &str, overrides: &[String]) -> Scenario {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", text);
    scenario::load(&p, &super::sets(overrides)).unwrap()
}

/// The small scenario with one extra item in Kongtong: 1,000 beds in `projects` projects, each
/// cancelled with probability 0.2, no delay, delivered in full.
fn with_programme(projects: Option<usize>, shared: &str) -> Scenario {
    let projects = projects.map(|n| format!("projects = {n}\n")).unwrap_or_default();
    let text = small_scenario()
        + &format!(
            "\n[[plan]]\nid = \"programme\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2023\nbeds = 1000\n{projects}shared = {shared}\ncancel_probability = 0.2\ndelay = 0\ndelivered_share = 1\n"
        );
    load(&text, &["draws=2000".into()])
}

fn programme_beds(s: &Scenario) -> Vec<f64> {
    let item = s.plan().iter().position(|p| p.id == "programme").unwrap();
    let mut out: Vec<Realised> = Vec::new();
    (0..s.draws() as u64)
        .map(|d| {
            realise_item(s, item, d, &mut out);
            out.iter().map(|r| r.beds).sum()
        })
        .collect()
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, (v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)).sqrt())
}

#[test]
fn a_programme_of_one_project_is_the_item() {
    let (a, b) = (with_programme(None, "0.5"), with_programme(Some(1), "0.5"));
    assert_eq!(programme_beds(&a), programme_beds(&b));
    // and it is all or nothing: 1,000 beds or none, none in about 20% of draws
    let beds = programme_beds(&a);
    assert!(beds.iter().all(|&x| x == 0.0 || x == 1000.0));
    let cancelled = beds.iter().filter(|&&x| x == 0.0).count() as f64 / beds.len() as f64;
    assert!((cancelled - 0.2).abs() < 0.03, "{cancelled}");
}

/// 100 independent projects of 10 beds, each cancelled with probability 0.2: the beds delivered
/// are 10 x binomial(100, 0.8), mean 800 and standard deviation 10 sqrt(16) = 40.
#[test]
fn independent_projects_have_the_binomial_spread() {
    let beds = programme_beds(&with_programme(Some(100), "0"));
    let (m, sd) = mean_sd(&beds);
    // the mean to within 4 standard errors (40 / sqrt(2000) = 0.9), the sd within 10%
    assert!((m - 800.0).abs() < 3.6, "mean {m}");
    assert!((sd - 40.0).abs() < 4.0, "sd {sd}");
}

/// With every project sharing the programme's fate the programme is all or nothing again.
#[test]
fn projects_that_share_their_fate_are_all_or_nothing() {
    let beds = programme_beds(&with_programme(Some(100), "1"));
    assert!(beds.iter().all(|&x| x.abs() < 1e-9 || (x - 1000.0).abs() < 1e-9));
    let (_, sd) = mean_sd(&beds);
    assert!(sd > 350.0, "sd {sd}: about 1000 sqrt(0.2 * 0.8) = 400");
    // halfway, the spread lies between
    let (_, half) = mean_sd(&programme_beds(&with_programme(Some(100), "0.5")));
    assert!(half > 60.0 && half < 350.0, "sd {half}");
}

/// A programme's projects lie whole in its regions, in proportion to their shares: each region
/// gets the whole part of its expected count and one more with the probability of the fraction,
/// and the programme's total is always its count.
#[test]
fn a_programmes_projects_are_spread_over_its_regions() {
    let text = small_scenario()
        + "\n[[plan]]\nid = \"centres\"\nkind = \"new\"\ngroup = \"city\"\nsplit = \"equal\"\nyear = 2023\nbeds = 700\nprojects = 7\n";
    let s = load(&text, &["draws=4000".into()]);
    let item = s.plan().iter().position(|p| p.id == "centres").unwrap();
    let links: Vec<_> = s
        .regions()
        .iter()
        .map(|r| r.plan_items.iter().find(|l| l.item == item).unwrap().clone())
        .collect();
    // 7 projects over two regions with equal shares: 3.5 expected in each
    assert_eq!(links[0].quota, Some([0.0, 3.5]));
    assert_eq!(links[1].quota, Some([3.5, 7.0]));
    assert!(links.iter().all(|l| l.share == 1.0));
    let mut fours = 0;
    for d in 0..s.draws() as u64 {
        let u = bedsim::capacity::allocation_offset(&s, item, d);
        let (a, b) = (links[0].projects(u), links[1].projects(u));
        assert_eq!(a.end, b.start, "the regions' projects are disjoint and cover the programme");
        assert_eq!((a.start, b.end), (0, 7));
        assert!(a.len() == 3 || a.len() == 4, "{a:?}");
        fours += usize::from(a.len() == 4);
    }
    // the first region has 4 projects in half the draws (standard error 0.8 points)
    let share = fours as f64 / s.draws() as f64;
    assert!((share - 0.5).abs() < 0.04, "{share}");
    // whole expected counts are exact in every draw
    let equal = load(&text.replace("projects = 7", "projects = 8"), &[]);
    let l0 = equal.regions()[0].plan_items.iter().find(|l| l.item == item).unwrap();
    for u in [0.0, 0.3, 0.999_999] {
        assert_eq!(l0.projects(u), 0..4);
    }
}

/// Sweeping one distribution's parameter leaves every other sampled value of every draw as it
/// was (common random numbers), even when it is a beta, whose sampler uses a variable number
/// of random numbers.
#[test]
fn changing_one_distribution_leaves_the_other_draws_unchanged() {
    let text = small_scenario()
        + "\n[[plan]]\nid = \"programme\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2023\nbudget_yuan = 5e7\nprojects = 5\ndelivered_share = { dist = \"beta\", alpha = 18, beta = 2 }\n";
    let a = load(&text, &["draws=300".into()]);
    let b = load(
        &text,
        &[
            "draws=300".into(),
            "plan.programme.delivered_share={ dist = \"beta\", alpha = 3, beta = 2 }".into(),
            "care.uptake_partial={ dist = \"beta\", alpha = 2, beta = 30 }".into(),
        ],
    );
    let item = a.plan().iter().position(|p| p.id == "programme").unwrap();
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    let mut changed = 0;
    for d in 0..300 {
        realise_item(&a, item, d, &mut ra);
        realise_item(&b, item, d, &mut rb);
        for (x, y) in ra.iter().zip(&rb) {
            assert_eq!(
                (x.cancelled, x.delay_years, x.nursing_share),
                (y.cancelled, y.delay_years, y.nursing_share),
                "draw {d}"
            );
            changed += usize::from(x.beds != y.beds);
        }
        let (ca, cb) = (
            bedsim::care::draw_parameters(a.care(), a.seed(), d),
            bedsim::care::draw_parameters(b.care(), b.seed(), d),
        );
        assert_eq!(
            (ca.level, ca.trend, ca.uptake.independent, ca.uptake.full),
            (cb.level, cb.trend, cb.uptake.independent, cb.uptake.full)
        );
        assert_ne!(ca.uptake.partial, cb.uptake.partial);
        // the other item and the stock are untouched
        let (mut pa, mut pb) = (CapacityPath::new(a.n_years()), CapacityPath::new(b.n_years()));
        realise(&a, 1, d, &mut pa);
        realise(&b, 1, d, &mut pb);
        assert_eq!(pa.institutional, pb.institutional);
    }
    assert!(changed > 0, "the delivered share did change");
}

/// An entry added for other regions leaves the draws of the existing entries as they were
/// (entries are keyed by what they cover, not by their position).
#[test]
fn adding_a_stock_entry_leaves_the_others_draws_unchanged() {
    let base = small_scenario();
    let extra = base.replacen(
        "[[capacity.stock]]\n",
        "[[capacity.stock]]\nregion = \"620821\"\ninstitutional = { dist = \"uniform\", low = 10, high = 50 }\n\n[[capacity.stock]]\n",
        1,
    );
    let (a, b) = (load(&base, &["draws=50".into()]), load(&extra, &["draws=50".into()]));
    for d in 0..50 {
        let (mut pa, mut pb) = (CapacityPath::new(a.n_years()), CapacityPath::new(b.n_years()));
        realise(&a, 0, d, &mut pa);
        realise(&b, 0, d, &mut pb);
        assert_eq!(pa.community, pb.community, "draw {d}");
    }
}

/// The stock stands at its date: of the stock year's deliveries, spread evenly over the year,
/// only the part after the date is added; caregivers likewise.
#[test]
fn the_stock_date_decides_how_much_of_its_years_deliveries_is_added() {
    let item = "\n[[plan]]\nid = \"home\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2022\nbeds = 1000\ncancel_probability = 0\ndelay = 0\ndelivered_share = 1\nnursing_share = 1\n";
    let stock_at = |line: &str| {
        let text = small_scenario().replacen("stock_year = 2020", line, 1) + item;
        let s = load(&text, &["draws=3".into()]);
        let mut p = CapacityPath::new(s.n_years());
        realise(&s, 0, 0, &mut p);
        let yi = |y: i32| (y - s.base_year()) as usize;
        (p.institutional[yi(2021)], p.institutional[yi(2022)], p.institutional[yi(2023)])
    };
    let (before, mid, after) = stock_at("stock_date = \"2022-06-30\"");
    // 184 of 365 days of 2022 come after 30 June
    assert!((mid - before - 1000.0 * 184.0 / 365.0).abs() < 1e-6, "{before} {mid}");
    assert_eq!(mid, after);
    let (before, end, after) = stock_at("stock_year = 2022");
    assert_eq!(
        (before, end, after),
        (before, before, before),
        "a year-end stock already holds its year's deliveries"
    );
    let (_, end, _) = stock_at("stock_year = 2021");
    assert!(end - before >= 1000.0 - 1e-6);
}

/// The small scenario with an observation of institutional beds at the end of 2023: Kongtong's
/// (fixed in every draw) or Jingchuan's (with its new home, uncertain).
fn observed_in(unit: &str, value: &str, sd: &str) -> String {
    small_scenario()
        + &format!("\n[[observation]]\nunit = \"{unit}\"\nmetric = \"beds_institutional\"\nyear = 2023\nvalue = {value}\nsd = {sd}\n")
}

fn observed(value: &str, sd: &str) -> String {
    observed_in("620802", value, sd)
}

fn run_targets(dir: &std::path::Path, text: &str) -> (String, String, Vec<std::collections::HashMap<String, String>>) {
    let p = write(dir, "s.toml", text);
    let o = super::bedsim(dir)
        .args([
            "run",
            p.to_str().unwrap(),
            "--no-charts",
            "--draws",
            "400",
            "--out",
            "res",
            "--force",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let targets = std::fs::read_to_string(dir.join("res/targets.csv")).unwrap();
    (
        targets,
        String::from_utf8_lossy(&o.stderr).to_string(),
        super::read_rows(&dir.join("res/targets.csv")),
    )
}

/// Without observations the draws are the scenario's own; an observation that says nothing (an
/// error far wider than the scenario's spread) keeps every draw and the same tables, byte for
/// byte.
#[test]
fn an_observation_that_says_nothing_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (plain, _, _) = run_targets(dir.path(), &small_scenario());
    let (vague, stderr, _) = run_targets(dir.path(), &observed("3000", "1e9"));
    assert!(stderr.contains("an effective sample of 400 of 400 draws"), "{stderr}");
    assert_eq!(plain, vague);
}

/// Conditioning on what the scenario already predicts (its median, with an error like its own
/// spread) leaves the answers within Monte Carlo error.
#[test]
fn conditioning_on_what_the_scenario_predicts_leaves_the_answer() {
    let s = load(&small_scenario(), &["draws=400".into()]);
    let r = bedsim::montecarlo::run(&s, &bedsim::montecarlo::RunOptions::default()).unwrap();
    let n = r.years.len();
    let inst = r.units[1].stats[bedsim::montecarlo::Metric::BedsInstitutional.index() * n + 3].unwrap();
    let (median, spread) = (inst.quantiles[3], inst.quantiles[6] - inst.quantiles[0]);
    assert!(spread > 0.0);
    let dir = tempfile::tempdir().unwrap();
    let (_, _, plain) = run_targets(dir.path(), &small_scenario());
    let (_, stderr, cond) = run_targets(dir.path(), &observed_in("620821", &median.to_string(), &spread.to_string()));
    assert!(!stderr.contains("warning"), "{stderr}");
    for (a, b) in plain.iter().zip(&cond) {
        let (pa, pb): (f64, f64) = (a["probability_met"].parse().unwrap(), b["probability_met"].parse().unwrap());
        // 400 draws: a standard error of at most 2.5 points, and fewer effective draws
        assert!((pa - pb).abs() < 0.1, "{} {}: {pa} vs {pb}", a["target"], a["region"]);
    }
}

/// An informative figure pulls the published distribution towards it: observing Jingchuan's
/// beds near the scenario's 90th percentile, with an error a tenth of its spread, moves the
/// summary's median of that metric and year to within a few errors of the figure and narrows
/// its interval.
#[test]
fn an_informative_observation_moves_the_summary_towards_it() {
    let s = load(&small_scenario(), &["draws=400".into()]);
    let r = bedsim::montecarlo::run(&s, &bedsim::montecarlo::RunOptions::default()).unwrap();
    let n = r.years.len();
    let inst = r.units[1].stats[bedsim::montecarlo::Metric::BedsInstitutional.index() * n + 3].unwrap();
    let (p10, p90) = (inst.quantiles[1], inst.quantiles[5]);
    let sd = (p90 - p10) / 10.0;
    assert!(sd > 0.0);
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr, _) = run_targets(dir.path(), &observed_in("620821", &p90.to_string(), &sd.to_string()));
    assert!(stderr.contains("conditioned on 1 observation(s)"), "{stderr}");
    let rows = super::read_rows(&dir.path().join("res/summary.csv"));
    let row = rows
        .iter()
        .find(|r| r["region"] == "620821" && r["year"] == "2023" && r["metric"] == "beds_institutional")
        .unwrap();
    let (median, low, high): (f64, f64, f64) = (
        row["p50"].parse().unwrap(),
        row["p05"].parse().unwrap(),
        row["p95"].parse().unwrap(),
    );
    assert!(
        (median - p90).abs() < 3.0 * sd,
        "median {median} against the figure {p90} (sd {sd})"
    );
    assert!(high - low < inst.quantiles[6] - inst.quantiles[0], "{low}..{high}");
}

/// A figure far from every draw leaves few effective draws: the run says so and names it.
#[test]
fn an_observation_far_from_every_draw_is_named_in_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (_, stderr, _) = run_targets(dir.path(), &observed("40000", "100"));
    assert!(
        stderr.contains("warning: the observations leave") && stderr.contains("'beds_institutional 620802 2023' (40000)"),
        "{stderr}"
    );
    let manifest = std::fs::read_to_string(dir.path().join("res/manifest.json")).unwrap();
    assert!(
        manifest.contains("\"effective_draws\"") && manifest.contains("beds_institutional 620802 2023"),
        "{manifest}"
    );
}

/// The resampling comes from the scenario's seed: a conditioned run gives the same tables, byte
/// for byte, on one thread and on two.
#[test]
fn a_conditioned_run_is_the_same_on_any_thread_count() {
    let s = load(&small_scenario(), &["draws=300".into()]);
    let r = bedsim::montecarlo::run(&s, &bedsim::montecarlo::RunOptions::default()).unwrap();
    let n = r.years.len();
    let inst = r.units[1].stats[bedsim::montecarlo::Metric::BedsInstitutional.index() * n + 3].unwrap();
    let (p75, sd) = (inst.quantiles[4], (inst.quantiles[5] - inst.quantiles[1]) / 4.0);
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", &observed_in("620821", &p75.to_string(), &sd.to_string()));
    for (out, threads) in [("t1", "1"), ("t2", "2")] {
        let o = super::bedsim(dir.path())
            .args([
                "run",
                p.to_str().unwrap(),
                "--no-charts",
                "--draws",
                "300",
                "--threads",
                threads,
                "--out",
                out,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && stderr.contains("conditioned on 1 observation(s)"), "{stderr}");
        assert!(
            !stderr.contains("of 300 draws (300 distinct)"),
            "the observation should weigh: {stderr}"
        );
    }
    for f in ["summary.csv", "targets.csv", "pyramid.csv"] {
        let a = std::fs::read(dir.path().join("t1").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("t2").join(f)).unwrap();
        assert!(a == b, "{f} differs between one and two threads");
    }
}

#[test]
fn an_observation_of_an_unknown_unit_or_without_an_error_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (text, message) in [
        (
            observed("3000", "100").replace("unit = \"620802\"", "unit = \"620803\""),
            "observation[0].unit '620803' is neither a region nor a group",
        ),
        (observed("3000", "0"), "the measurement error must be above 0"),
        (
            observed("3000", "100").replace("year = 2023", "year = 2020"),
            "observation[0].year = 2020 must lie after base_year 2020",
        ),
    ] {
        let p = write(dir.path(), "bad.toml", &text);
        let o = super::bedsim(dir.path()).args(["check", p.to_str().unwrap()]).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(message) && stderr.contains("bad.toml:"), "{stderr}");
    }
}

/// A sweep of a conditioned scenario conditions each point with its own inputs: the points that
/// disagree with the observation keep fewer effective draws, and `sweep.csv` says how many.
#[test]
fn a_sweep_conditions_each_point_and_reports_its_effective_draws() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", &observed_in("620821", "3300", "300"));
    let o = super::bedsim(dir.path())
        .args([
            "sweep",
            p.to_str().unwrap(),
            "--draws",
            "200",
            "--vary",
            "plan.new-home.beds=0..3000",
            "--method",
            "grid",
            "--steps",
            "3",
            "--out",
            "sw",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("each point conditioned on 1 observation(s)"), "{stderr}");
    let rows = super::read_rows(&dir.path().join("sw/sweep.csv"));
    let mut ess: Vec<(String, f64)> = rows
        .iter()
        .map(|r| (r["point"].clone(), r["effective_draws"].parse().unwrap()))
        .collect();
    ess.dedup();
    assert_eq!(ess.len(), 3, "{ess:?}");
    assert!(ess.iter().all(|(_, e)| *e > 0.0 && *e <= 200.0 + 1e-9), "{ess:?}");
    assert!(ess.windows(2).any(|w| (w[0].1 - w[1].1).abs() > 1.0), "{ess:?}");
}

/// `--keep-draws` of a conditioned run says which of the scenario's draws each kept draw is: the
/// resampled ones, with the repeats of the draws that agree best.
#[test]
fn the_kept_draws_of_a_conditioned_run_name_their_scenario_draw() {
    use bedsim::montecarlo::{RunOptions, observe, run};
    let s = load(&observed_in("620821", "3300", "300"), &["draws=200".into()]);
    let s = observe::conditioned(s, &RunOptions::default()).unwrap();
    let c = s.conditioned().expect("conditioned");
    assert!(c.distinct_draws < 200, "an informative figure repeats some draws");
    let r = run(
        &s,
        &RunOptions {
            keep_draws: true,
            ..RunOptions::default()
        },
    )
    .unwrap();
    let frame = bedsim::report::tables::draws_frame(&s, &r).unwrap().unwrap();
    let column = frame.column("scenario_draw").unwrap().u64().unwrap();
    let source: Vec<u64> = (0..column.len()).map(|i| column.get(i).unwrap()).collect();
    assert_eq!(source.len(), frame.height());
    assert_eq!(&source[..200], &c.draw_ids[..]);
}
