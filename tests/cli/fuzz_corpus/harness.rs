//! The bodies of the fuzz targets, shared by the fuzz crate (`fuzz/fuzz_targets/*.rs` include
//! this file with `#[path]`) and the regression test over the committed corpus
//! (`tests/cli/fuzz_corpus.rs`), so the test runs exactly the calls the fuzzer ran. Only library
//! calls (the fuzz crate builds bedsim without the `report` feature) and std.
//!
//! Each target panics when an input breaks a rule: a panic inside the library, a diagnostic
//! that is not `file:line:column: message` within the file, or a scenario that passes the
//! checks but holds a value the engine trusts to be sane (a NaN death rate, a share above 1, an
//! index out of range). docs/fuzzing.md says how to run them.

use std::path::{Path, PathBuf};

use bedsim::demography::mortality::{GroupRates, fit_lee_carter, groups_to_single_ages, life_expectancy};
use bedsim::demography::split::{census_day_shape, split_groups};
use bedsim::demography::{N_AGES, aged_at_least};
use bedsim::dist::Dist;
use bedsim::scenario::reader::Diags;
use bedsim::scenario::tree::{Diagnostic, Node, Origin, Value, get_path};
use bedsim::scenario::{self, Drift, ItemSize, NursingStock, Scenario, data};

/// Largest input the scenario target is run with (`-max_len`).
pub const SCENARIO_MAX_LEN: usize = 64 * 1024;
/// Largest input the CSV target is run with (`-max_len`).
pub const CSV_MAX_LEN: usize = 256 * 1024;
/// At most this many `#--set PATH=VALUE` lines of a scenario input are applied as overrides.
pub const MAX_OVERRIDES: usize = 8;

/// What the scenario target made of an input.
#[derive(Debug)]
pub enum Outcome {
    /// The scenario passed every check.
    Valid,
    /// Rejected, with its diagnostics as printed by `bedsim check`.
    Invalid(Vec<String>),
    /// Not run: a data path of the scenario leaves the repository's `data/` folder.
    Skipped,
}

/// Where the scenario target pretends its input lives: in the repository's `scenarios/`
/// folder, so that `../data/...` paths, as the shipped scenarios write them, reach the real data
/// files and a mutated scenario still gets to the deep checks.
pub fn scenario_path(repo: &Path) -> PathBuf {
    repo.join("scenarios").join("fuzz.toml")
}

/// The scenario target: `bytes` as the text of a scenario file, read (UTF-8 and TOML checks),
/// overridden and checked with its data files, as `bedsim check` does.
///
/// Lines `#--set PATH=VALUE` (TOML comments, so the text parses the same) are also applied as
/// `--set` overrides, which fuzzes the override paths and values.
pub fn scenario(bytes: &[u8], repo: &Path) -> Outcome {
    let path = scenario_path(repo);
    let text = String::from_utf8_lossy(bytes);
    let texts: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("#--set ")).take(MAX_OVERRIDES).collect();
    let overrides = match scenario::Override::sets(&texts) {
        Ok(o) => o,
        Err(bad) => return Outcome::Invalid(check_diagnostics(&bad, &path.display().to_string(), count_lines(bytes))),
    };
    let lines = count_lines(bytes);
    let source = match scenario::read_bytes(&path, bytes, &overrides) {
        Ok(s) => s,
        Err(e) => return Outcome::Invalid(check_diagnostics(&e.0, &path.display().to_string(), lines)),
    };
    if !data_paths_stay_in(&source.root, &source.dir, &repo.join("data")) {
        return Outcome::Skipped;
    }
    match source.build() {
        Ok(s) => {
            check_scenario(&s);
            // `run --only`: a region, and an id that is nothing.
            if let Some(r) = s.regions().first() {
                let only = s
                    .restrict(std::slice::from_ref(&r.id))
                    .expect("restrict to a region of the scenario");
                assert_eq!(only.regions().len(), 1);
                check_scenario(&only);
            }
            // Longer than every id, so it is none of them.
            let longest = s
                .regions()
                .iter()
                .map(|r| r.id.len())
                .chain(s.groups().iter().map(|g| g.id.len()))
                .max();
            assert!(s.restrict(&["?".repeat(longest.unwrap_or(0) + 1)]).is_err());
            Outcome::Valid
        }
        Err(e) => Outcome::Invalid(check_diagnostics(&e.0, &path.display().to_string(), lines)),
    }
}

/// The CSV target: `bytes` as a data file, parsed and given to every loader (population in the
/// census long layout, single-age shape profile, death rates in the WPP layout, region values),
/// then to what the scenario does with each result (split into single ages, interpolate,
/// fit Lee-Carter). Returns every diagnostic, as printed.
pub fn csv(bytes: &[u8]) -> Vec<String> {
    const SHOWN: &str = "fuzz.csv";
    let lines = count_lines(bytes);
    let mut d = Diags::default();
    let Some(csv) = data::parse_csv(bytes, SHOWN, &mut d) else {
        assert!(!d.is_empty(), "a CSV that is not read must say why");
        return check_diagnostics(&d.list, SHOWN, lines);
    };
    for (line, row) in csv.rows.iter() {
        assert_eq!(
            row.len(),
            csv.header.len(),
            "line {line}: a row kept with a field count unlike the header's"
        );
        assert!((1..=lines).contains(line), "row at line {line} of a {lines}-line file");
    }

    // Population: every region code of the file (at most 16 of them) and one it lacks.
    let mut codes: Vec<String> = Vec::new();
    if let Some(c) = csv.header.iter().position(|h| h.trim() == "region_code") {
        for (_, row) in csv.rows.iter() {
            let code = row[c].trim();
            if !codes.iter().any(|x| x == code) {
                codes.push(code.to_string());
                if codes.len() == 16 {
                    break;
                }
            }
        }
    }
    codes.push("no such region".to_string());
    let at = bedsim::scenario::Origin::File {
        path: std::sync::Arc::from("fuzzed.toml"),
        line: 1,
        col: 1,
    };
    let wanted: Vec<(&str, &bedsim::scenario::Origin)> = codes.iter().map(|c| (c.as_str(), &at)).collect();
    let grouped = data::load_population(&csv, &wanted, &mut d);
    let flat = census_day_shape(&[[1.0; N_AGES]; 2]);
    for (code, groups) in &grouped {
        for (s, g) in groups.iter().enumerate() {
            for a in g {
                assert!(a.count >= 0.0 && a.count.is_finite(), "{code}: count {}", a.count);
                assert!(
                    a.start < N_AGES && a.end.is_none_or(|e| e >= a.start && e < N_AGES),
                    "{code}: {a:?}"
                );
            }
            // As the scenario does, whether or not the groups were reported as incomplete.
            let single = split_groups(g, &flat[s]);
            assert!(single.iter().all(|v| *v >= 0.0 && !v.is_nan()), "{code}: split into {single:?}");
        }
    }

    let before = d.list.len();
    if let Some(profile) = data::load_single_age_profile(&csv, &mut d) {
        assert_eq!(d.list.len(), before, "a profile with problems must not be returned");
        let shape = census_day_shape(&profile);
        assert!(
            shape.iter().flatten().all(|v| v.is_finite() && *v > 0.0),
            "an accepted profile gives a shape that is not finite and positive: {shape:?}"
        );
    }

    let before = d.list.len();
    if let Some(periods) = data::load_mx_table(&csv, &mut d) {
        assert_eq!(d.list.len(), before, "a death-rate table with problems must not be returned");
        check_mx(&periods);
    }

    let column = csv.header.get(1).map(|h| h.trim().to_string()).unwrap_or_else(|| "value".into());
    for (code, v) in data::load_region_values(&csv, &column, &mut d) {
        assert!(v.is_finite() && v >= 0.0, "{code}: value {v}");
    }

    // The region this target always asks for and no file has gives at least one diagnostic.
    check_diagnostics(&d.list, SHOWN, lines)
}

/// Lines of a text as diagnostics count them (a last line without a newline counts).
fn count_lines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count() + 1
}

/// Every diagnostic is `file:line:column: message` with line and column from 1, within the file
/// when it is about the fuzzed file itself; returns them as printed.
fn check_diagnostics(list: &[Diagnostic], fuzzed: &str, lines: usize) -> Vec<String> {
    assert!(!list.is_empty(), "rejected without a diagnostic");
    for d in list {
        assert!(!d.message.trim().is_empty(), "empty message at {}", d.origin);
        if let Origin::File { path, line, col } = &d.origin {
            assert!(*line >= 1 && *col >= 1, "not a 1-based line and column: {d}");
            if &**path == fuzzed {
                assert!(*line <= lines, "line {line} of a {lines}-line file: {d}");
            }
        }
    }
    list.iter().map(ToString::to_string).collect()
}

/// Whether every data file the scenario names is inside `data_dir`, is a folder or does not
/// exist (the checker then reports it). Paths elsewhere would read the machine's files (`/dev/zero`, a
/// pipe, the build folder): the fuzzer is kept away from them.
fn data_paths_stay_in(root: &Node, dir: &Path, data_dir: &Path) -> bool {
    let Ok(data_dir) = data_dir.canonicalize() else {
        return false;
    };
    ["population.file", "population.shape_file", "mortality.file"]
        .iter()
        .all(|key| match get_path(root, key) {
            Some(Node {
                value: Value::Str(name), ..
            }) => {
                let p = dir.join(name);
                match p.canonicalize() {
                    // A folder is refused without reading it.
                    Ok(real) => real.starts_with(&data_dir) || real.is_dir(),
                    Err(_) => std::fs::symlink_metadata(&p).is_err(),
                }
            }
            _ => true,
        })
}

/// A death-rate table the loader accepted, and what the scenario computes from it.
fn check_mx(periods: &[data::MxPeriod]) {
    assert!(!periods.is_empty(), "an accepted death-rate table without periods");
    let starts: Vec<usize> = periods[0].groups.iter().map(|g| g.0).collect();
    assert_eq!(starts.first(), Some(&0));
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "age groups {starts:?}");
    for p in periods {
        assert!(p.start < p.end, "period {}-{}", p.start, p.end);
        assert!(p.groups.iter().map(|g| g.0).eq(starts.iter().copied()));
        for g in &p.groups {
            assert!(g.1 > 0.0 && g.1 <= 10.0 && g.2 > 0.0 && g.2 <= 10.0, "{g:?}");
        }
    }
    for sex in 0..2 {
        let pick = |g: &(usize, f64, f64)| if sex == 0 { g.1 } else { g.2 };
        for p in periods {
            let rates: Vec<f64> = p.groups.iter().map(pick).collect();
            let m = groups_to_single_ages(&starts, &rates, true);
            assert!(m.iter().all(|v| v.is_finite() && *v > 0.0), "single-age rates {m:?}");
            let e0 = life_expectancy(&m);
            assert!(e0.is_finite() && e0 >= 0.0, "e0 {e0}");
        }
        if periods.len() >= 3 {
            let rates = GroupRates {
                starts: &starts,
                mids: periods.iter().map(|p| 0.5 * (f64::from(p.start) + f64::from(p.end))).collect(),
                rates: periods.iter().map(|p| p.groups.iter().map(pick).collect()).collect(),
            };
            if let Some(f) = fit_lee_carter(&rates) {
                assert!(
                    f.drift.is_finite() && f.sigma.is_finite() && f.drift_se.is_finite() && f.b.iter().all(|v| v.is_finite()),
                    "Lee-Carter fit with non-finite values: drift {}, sigma {}, se {}",
                    f.drift,
                    f.sigma,
                    f.drift_se
                );
            }
        }
    }
}

/// A distribution the checker accepted: its support is ordered and its quantiles are finite.
fn check_dist(what: &str, d: &Dist) {
    let (lo, hi) = d.support();
    assert!(lo <= hi, "{what}: support {lo}..{hi} of {d:?}");
    for u in [1e-6, 0.5, 1.0 - 1e-6] {
        if let Some(q) = d.quantile(u) {
            assert!(q.is_finite() && q >= lo && q <= hi, "{what}: quantile({u}) = {q} of {d:?}");
        }
    }
    assert!(d.central().is_finite(), "{what}: central value of {d:?}");
}

fn check_share(what: &str, v: f64) {
    assert!((0.0..=1.0).contains(&v), "{what} = {v}");
}

fn check_links(what: &str, links: &[(usize, f64)], n: usize) {
    for &(i, w) in links {
        assert!(i < n, "{what}: entry {i} of {n}");
        assert!(w.is_finite() && (0.0..=1.0 + 1e-9).contains(&w), "{what}: share {w}");
    }
}

/// What the engine trusts of a checked scenario.
fn check_scenario(s: &Scenario) {
    assert!(
        s.base_year() < s.horizon() && s.horizon() - s.base_year() <= 200,
        "years {}..{}",
        s.base_year(),
        s.horizon()
    );
    assert!(s.draws() >= 1 && (1..N_AGES).contains(&s.elderly_age()));
    assert!(!s.regions().is_empty());
    let m = &s.mortality();
    for r in s.regions() {
        assert!(
            r.base.iter().flatten().all(|v| v.is_finite() && *v >= 0.0),
            "region {}: base population {:?}",
            r.id,
            r.base
        );
        assert!(aged_at_least(&r.base, 0).is_finite(), "region {}: total population", r.id);
        assert!(r.group.is_none_or(|g| g < s.groups().len()));
        check_dist("mortality_level", &r.mortality_level);
        let (lo, hi) = r.mortality_level.support();
        assert!(
            lo > 0.0 && hi.is_finite(),
            "region {}: mortality level {:?}",
            r.id,
            r.mortality_level
        );
        if let Some(sch) = &r.migration_schedule {
            assert!(
                sch.iter().flatten().all(|v| v.is_finite() && *v > -1.0),
                "region {}: migration schedule",
                r.id
            );
        }
        for link in &r.plan_items {
            assert!(
                link.item < s.plan().len() && link.share.is_finite() && (0.0..=1.0).contains(&link.share),
                "plan link {link:?}"
            );
            let n = s.plan()[link.item].projects.max(1);
            if let Some([lo, hi]) = link.quota {
                assert!(0.0 <= lo && lo < hi && hi <= n as f64, "plan link {link:?}");
            }
            for u in [0.0, 0.5, 0.999_999] {
                let p = link.projects(u);
                assert!(p.start <= p.end && p.end <= n, "plan link {link:?}: {p:?}");
            }
        }
        check_links("stock entries", &r.stock_entries, s.capacity().stock.len());
        check_links("caregiver entries", &r.caregiver_entries, s.capacity().caregivers.len());
        check_links("seasonal entries", &r.seasonal_entries, s.capacity().seasonal.len());
        for (what, d) in [("migration_rate", &r.migration_rate), ("tfr", &r.tfr)] {
            if let Some(d) = d {
                check_dist(what, d);
            }
        }
        check_dist("registered_ratio", &r.registered_ratio);
    }
    for g in s.groups() {
        assert!(
            !g.members.is_empty() && g.members.iter().all(|&r| r < s.regions().len()),
            "group {}",
            g.id
        );
        assert!(g.parent.is_none_or(|p| p < s.groups().len()));
    }

    assert!(
        m.base_log_m.iter().flatten().all(|v| v.is_finite()),
        "base log death rates {:?}",
        m.base_log_m
    );
    assert!(m.b.iter().flatten().all(|v| v.is_finite()), "Lee-Carter b {:?}", m.b);
    assert!(m.base_mid.is_finite());
    assert!(m.sigma.iter().all(|v| v.is_finite() && *v >= 0.0), "sigma {:?}", m.sigma);
    check_dist("migration persistence", &s.migration().persistence);
    assert!(
        (0.0..1.0).contains(&s.base_shift()) || s.base_shift() == 1.0,
        "base shift {}",
        s.base_shift()
    );
    let f = &m.fitted;
    for v in f.drift.iter().chain(&f.drift_se).chain(&f.sigma).chain(&f.base_e0) {
        assert!(v.is_finite(), "fitted mortality {f:?}");
    }
    match &m.drift {
        Drift::Fitted { mean, se } => assert!(mean.iter().chain(se).all(|v| v.is_finite()), "drift {mean:?} se {se:?}"),
        Drift::Given(d) => check_dist("mortality.drift", d),
    }

    check_dist("fertility.tfr", &s.fertility().tfr);
    assert!(s.fertility().male_share > 0.0 && s.fertility().male_share < 1.0);
    assert!((s.fertility().shape.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    check_dist("migration.rate_per_1000", &s.migration().rate_per_1000);
    assert!(s.migration().weight.iter().all(|w| w.is_finite() && *w >= 0.0));
    let c = &s.care();
    for (p, f) in c.partial.iter().flatten().zip(c.full.iter().flatten()) {
        check_share("care.partial", *p);
        check_share("care.full", *f);
        assert!(p + f <= 1.0 + 1e-12, "care: partial {p} + full {f}");
    }
    assert!(c.min_age < N_AGES);
    for (what, d) in [
        ("care.level", &c.level),
        ("care.trend", &c.trend),
        ("care.uptake_independent", &c.uptake_independent),
        ("care.uptake_partial", &c.uptake_partial),
        ("care.uptake_full", &c.uptake_full),
    ] {
        check_dist(what, d);
    }

    let cap = &s.capacity();
    assert!(cap.stock_year >= s.base_year() && cap.stock_year <= s.horizon());
    for e in &cap.stock {
        check_dist("stock.institutional", &e.institutional);
        check_dist("stock.community", &e.community);
        match &e.nursing {
            NursingStock::Beds(d) | NursingStock::Share(d) => check_dist("stock.nursing", d),
        }
    }
    for e in &cap.caregivers {
        for d in [&e.stock, &e.trained_per_year, &e.attrition] {
            check_dist("caregivers", d);
        }
    }
    for e in &cap.seasonal {
        for d in [&e.elderly, &e.growth, &e.institutional_uptake] {
            check_dist("seasonal", d);
        }
    }
    for d in &cap.default_delays {
        check_dist("capacity.defaults delay", d);
    }
    for p in s.plan() {
        assert!(p.year >= cap.stock_year && p.year <= s.horizon(), "plan {} year {}", p.id, p.year);
        match &p.size {
            ItemSize::Beds(d) => check_dist("plan beds", d),
            ItemSize::Budget { yuan, cost_per_bed } => {
                check_dist("plan budget_yuan", yuan);
                check_dist("plan cost_per_bed_yuan", cost_per_bed);
            }
        }
        for d in [&p.nursing_share, &p.delay, &p.delivered_share] {
            check_dist("plan item", d);
        }
        check_share("cancel_probability", p.cancel_probability);
        assert!(!p.phasing.is_empty() && (p.phasing.iter().sum::<f64>() - 1.0).abs() <= 1e-6);
    }
    for t in s.targets() {
        assert!(
            t.threshold.is_finite() && t.year >= s.base_year() && t.year <= s.horizon(),
            "target {}",
            t.id
        );
        for u in &t.units {
            match *u {
                scenario::Unit::Region(r) => assert!(r < s.regions().len()),
                scenario::Unit::Group(g) => assert!(g < s.groups().len()),
            }
        }
    }
}
