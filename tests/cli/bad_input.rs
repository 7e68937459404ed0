//! Every bad input named by the engine issue gives exit code 2 and a message naming file, line
//! and column, and `run` writes nothing.

use super::{bedsim, repo, small_scenario, write};

/// Runs `check` on the scenario text and asserts exit 2 and a diagnostic `file:line:col: ...`
/// containing `message`, where line is the first line of the file containing `at` (or `line`
/// when `at` is empty). Returns stderr.
fn expect_invalid(text: &str, at: &str, message: &str) -> String {
    let line = if at.is_empty() {
        1
    } else {
        text.lines().position(|l| l.contains(at)).expect("marker line") + 1
    };
    expect_invalid_at(text, line, message)
}

/// As [`expect_invalid`], with the expected line given.
fn expect_invalid_at(text: &str, line: usize, message: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "s.toml", text);
    let out = bedsim(dir.path()).args(["check", path.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    let prefix = format!("{}:{line}:", path.display());
    assert!(
        stderr.lines().any(|l| l.starts_with(&prefix)
            && l.contains(message)
            && l[prefix.len()..].split(':').next().is_some_and(|c| c.parse::<usize>().is_ok())),
        "expected a line starting with {prefix}<col>: containing {message:?}; got:\n{stderr}"
    );
    // `run` on the same file refuses before computing and leaves no results behind.
    let run = bedsim(dir.path())
        .args(["run", path.to_str().unwrap(), "--out", "res"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    assert!(!dir.path().join("res").exists(), "run wrote results for an invalid scenario");
    stderr
}

fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "fixture lacks {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn rejects_unknown_field_with_a_hint() {
    let t = replace(&small_scenario(), "horizon = 2030", "horizon = 2030\nhorizn = 2031");
    expect_invalid(&t, "horizn", "did you mean 'horizon'");
}

#[test]
fn rejects_unknown_nested_field() {
    let t = replace(&small_scenario(), "uptake_full = 0.15", "uptake_ful = 0.15");
    expect_invalid(
        &t,
        "uptake_ful",
        "unknown field 'uptake_ful' in [care] (did you mean 'uptake_full'?)",
    );
}

#[test]
fn rejects_wrong_type() {
    let t = replace(&small_scenario(), "draws = 200", "draws = \"many\"");
    expect_invalid(&t, "draws =", "draws must be an integer");
}

#[test]
fn rejects_missing_data_file() {
    let t = replace(&small_scenario(), "census2020_target_regions_age5_sex.csv", "no_such_file.csv");
    expect_invalid(&t, "no_such_file.csv", "cannot read data file");
}

#[test]
fn rejects_malformed_and_negative_csv_rows() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(repo().join("data/census2020_target_regions_age5_sex.csv")).unwrap();
    let mut lines: Vec<String> = src.lines().map(str::to_string).collect();
    let ragged = lines
        .iter()
        .position(|l| l.starts_with("620802,") && l.contains(",male,60_64,"))
        .unwrap();
    lines[ragged] = lines[ragged].replacen(",male,", ",male,extra,", 1);
    let negative = lines
        .iter()
        .position(|l| l.starts_with("620821,") && l.contains(",female,70_74,"))
        .unwrap();
    let cut = lines[negative].rfind(",70,74,").unwrap() + ",70,74,".len();
    let rest = lines[negative][cut..].to_string();
    let num_end = rest.find(',').unwrap();
    lines[negative] = format!("{}-5{}", &lines[negative][..cut], &rest[num_end..]);
    let csv = write(dir.path(), "pop.csv", &(lines.join("\n") + "\n"));
    let t = small_scenario().replace(
        &format!("{}/census2020_target_regions_age5_sex.csv", repo().join("data").display()),
        &csv.display().to_string(),
    );
    let spath = write(dir.path(), "s.toml", &t);
    let out = bedsim(dir.path()).args(["check", spath.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}:{}:1: ragged row", csv.display(), ragged + 1)),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{}:{}:", csv.display(), negative + 1)) && stderr.contains("negative count -5"),
        "{stderr}"
    );
}

#[test]
fn rejects_csv_with_wrong_header() {
    let dir = tempfile::tempdir().unwrap();
    let csv = write(
        dir.path(),
        "pop.csv",
        "region,sex,age_from,age_end,population\n620802,male,0,0,10\n",
    );
    let t = small_scenario().replace(
        &format!("{}/census2020_target_regions_age5_sex.csv", repo().join("data").display()),
        &csv.display().to_string(),
    );
    let spath = write(dir.path(), "s.toml", &t);
    let out = bedsim(dir.path()).args(["check", spath.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains(&format!("{}:1:1: missing column(s) region_code, age_start", csv.display())),
        "{stderr}"
    );
}

#[test]
fn rejects_share_outside_unit_interval() {
    let t = replace(&small_scenario(), "threshold = 0.55", "threshold = 1.5");
    expect_invalid(&t, "threshold = 1.5", "must be a share in [0, 1]");
}

#[test]
fn rejects_nursing_beds_above_institutional_beds() {
    let t = replace(&small_scenario(), "nursing = 2500", "nursing = 7000");
    expect_invalid(&t, "nursing = 7000", "nursing beds (up to 7000) can exceed institutional beds");
}

#[test]
fn rejects_target_year_outside_projection() {
    let t = replace(&small_scenario(), "threshold = 35\nyear = 2025", "threshold = 35\nyear = 2040");
    expect_invalid(&t, "year = 2040", "outside the projection 2020..=2030");
}

#[test]
fn rejects_plan_item_naming_unknown_region() {
    let t = replace(
        &small_scenario(),
        "region = \"620821\"\nyear = 2022",
        "region = \"620829\"\nyear = 2022",
    );
    expect_invalid(&t, "region = \"620829\"", "unknown region '620829' (did you mean '620821'?)");
}

#[test]
fn rejects_duplicate_region_ids() {
    let t = replace(&small_scenario(), "id = \"620821\"", "id = \"620802\"");
    let line_text = "id = \"620802\"";
    // The duplicate is the second occurrence.
    let second = t.lines().enumerate().filter(|(_, l)| l.contains(line_text)).nth(1).unwrap().0 + 1;
    expect_invalid_at(&t, second, "duplicate region id '620802'");
}

#[test]
fn rejects_nan_and_infinite_values() {
    let t = replace(&small_scenario(), "institutional = 6000", "institutional = nan");
    expect_invalid(&t, "institutional = nan", "must be a finite number");
    let t = replace(&small_scenario(), "beds = 300", "beds = inf");
    expect_invalid(&t, "beds = inf", "must be a finite number");
}

#[test]
fn rejects_empty_region_list() {
    let base = small_scenario();
    let start = base.find("[[region]]").unwrap();
    let end = base.find("[mortality]").unwrap();
    let t = format!("{}{}", &base[..start], &base[end..]);
    expect_invalid(&t, "", "the scenario has no regions");
}

#[test]
fn rejects_bad_distribution_parameters() {
    let t = replace(&small_scenario(), "mean = -3, sd = 2", "mean = -3, sd = -2");
    expect_invalid(&t, "sd = -2", "sd must be > 0");
    let t = replace(
        &small_scenario(),
        "nursing_share = 0.8",
        "nursing_share = 0.8\ndelay = { dist = \"discrete\", values = [0, 1], probs = [0.5, 0.6] }",
    );
    expect_invalid(&t, "probs = [0.5, 0.6]", "probabilities must be >= 0 and sum to 1");
}

#[test]
fn rejects_toml_syntax_errors() {
    let t = replace(&small_scenario(), "draws = 200", "draws = = 200");
    expect_invalid(&t, "draws = = 200", "TOML syntax error");
}

#[test]
fn rejects_cyclic_groups() {
    let t = replace(
        &small_scenario(),
        "[[region]]",
        "[[group]]\nid = \"a\"\nparent = \"b\"\n\n[[group]]\nid = \"b\"\nparent = \"a\"\n\n[[region]]",
    );
    expect_invalid(&t, "id = \"a\"", "the parent chain forms a cycle");
}

#[test]
fn rejects_non_utf8_scenario() {
    let text = small_scenario();
    let line = text.lines().position(|l| l.starts_with("draws =")).unwrap() + 1;
    let mut bytes = text.into_bytes();
    let pos = bytes.windows(7).position(|w| w == b"draws =").unwrap();
    bytes.splice(pos..pos, [0xff, 0xfe]);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.toml");
    std::fs::write(&p, &bytes).unwrap();
    let out = bedsim(dir.path()).args(["check", p.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr.contains(&format!("{}:{line}:1: the file is not valid UTF-8", p.display())),
        "{stderr}"
    );
}

#[test]
fn reports_every_problem_at_once() {
    let t = replace(&small_scenario(), "draws = 200", "draws = -1");
    let t = replace(&t, "threshold = 0.55", "threshold = 2");
    let t = replace(&t, "uptake_full = 0.15", "uptake_full = 1.15");
    let stderr = expect_invalid(&t, "draws = -1", "outside the allowed range");
    assert!(stderr.contains("error: 3 problem(s) found"), "{stderr}");
}

#[test]
fn rejects_missing_scenario_file_and_bad_set_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = bedsim(dir.path()).args(["check", "nope.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("nope.toml:1:1: cannot read scenario file"));
    let p = write(dir.path(), "s.toml", &small_scenario());
    let out = bedsim(dir.path())
        .args(["check", p.to_str().unwrap(), "--set", "target.nope.threshold=3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--set target.nope.threshold=3: 'nope'"));
    let out = bedsim(dir.path())
        .args(["check", p.to_str().unwrap(), "--set", "draws=abc"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--set draws=abc: draws must be an integer"));
}

/// More hostile inputs, each: exit 2, `file:line:column`, nothing written.
#[test]
fn rejects_a_catalogue_of_hostile_scenario_values() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (replace, with, marker line, message)
        ("draws = 200", "draws = 1e300", "draws =", "outside the allowed range"),
        (
            "draws = 200",
            "draws = 99999999999999999999999",
            "draws =",
            "outside the allowed range",
        ),
        ("horizon = 2030", "horizon = 1850", "horizon =", "outside the allowed range"),
        ("base_year = 2020", "base_year = 2020.5", "base_year =", "must be an integer"),
        ("threshold = 35", "threshold = \"三十五\"", "三十五", "must be a number"),
        (
            "threshold = 0.55",
            "threshold = -0.1",
            "threshold = -0.1",
            "must be a share in [0, 1]",
        ),
        (
            "uptake_full = 0.15",
            "uptake_full = { dist = \"beta\", alpha = 2 }",
            "uptake_full",
            "beta is missing",
        ),
        (
            "uptake_full = 0.15",
            "uptake_full = { dist = \"gamma\", shape = 2 }",
            "uptake_full",
            "is not one of fixed, normal",
        ),
        (
            "uptake_full = 0.15",
            "uptake_full = { dist = \"uniform\", low = 0.5, high = 0.2 }",
            "uptake_full",
            "must be below high",
        ),
        (
            "uptake_full = 0.15",
            "uptake_full = { dist = \"normal\", mean = 0.1, sd = 0.05 }",
            "uptake_full",
            "truncate it with low/high",
        ),
        (
            "group = \"city\"\n\n[[region]]",
            "group = \"cty\"\n\n[[region]]",
            "group = \"cty\"",
            "unknown group 'cty' (did you mean 'city'?)",
        ),
        ("kind = \"new\"", "kind = \"nwe\"", "kind = \"nwe\"", "did you mean 'new'"),
        (
            "year = 2022\nbeds = 300",
            "year = 2019\nbeds = 300",
            "year = 2019",
            "already in the observed stock",
        ),
        ("beds = 300", "beds = -300", "beds = -300", "must be in [0,"),
        (
            "beds = 300",
            "beds = 300\nbudget_yuan = 1e6",
            "[[plan]]",
            "gives both beds and budget_yuan",
        ),
        (
            "nursing_share = 0.8",
            "nursing_share = 0.8\nphasing = [0.5, 0.6]",
            "phasing",
            "must sum to 1",
        ),
        (
            "metric = \"nursing_share\"",
            "metric = \"nursing_share\"\ndenominator = \"registered\"",
            "denominator",
            "applies only to beds_per_1000_elderly",
        ),
        (
            "stock_year = 2020",
            "stock_year = 2031",
            "stock_year",
            "must lie in base_year..=horizon",
        ),
        ("fit_to = 2020", "fit_to = 1985", "[mortality]", "at least 3 periods"),
        ("base_period = 2015", "base_period = 2016", "[mortality]", "not a period start"),
        (
            "rate_per_1000 = { dist = \"normal\", mean = -3, sd = 2 }",
            "rate_per_1000 = { dist = \"normal\", mean = -3000, sd = 2 }",
            "rate_per_1000",
            "outside the allowed range [-500, 500]",
        ),
        ("name = \"small\"", "name = \"../escape\"", "name =", "must be non-empty ASCII"),
        (
            "[[target]]\nid = \"beds-2025\"",
            "[[target]]\nid = \"beds-2025\"\nunits = [\"nowhere\"]",
            "nowhere",
            "unknown region or group 'nowhere'",
        ),
        ("id = \"nursing-2025\"", "id = \"beds-2025\"", "", "duplicate target id 'beds-2025'"),
    ];
    // Every case is tried, and all failures are reported together.
    let mut failures = Vec::new();
    for (from, to, marker, msg) in cases {
        let text = replace(&small_scenario(), from, to);
        let outcome = std::panic::catch_unwind(|| {
            if marker.is_empty() {
                // The duplicate target: its [[target]] header line.
                let line = text.lines().enumerate().filter(|(_, l)| *l == "[[target]]").nth(1).unwrap().0 + 1;
                expect_invalid_at(&text, line, msg);
            } else {
                expect_invalid(&text, marker, msg);
            }
        });
        if let Err(e) = outcome {
            failures.push(format!("{to}: {}", e.downcast_ref::<String>().cloned().unwrap_or_default()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn rejects_hostile_data_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = repo().join("data/census2020_target_regions_age5_sex.csv");
    let original = std::fs::read_to_string(&data).unwrap();
    let with_file = |name: &str, bytes: &[u8]| -> String {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        small_scenario().replace(&data.display().to_string(), &p.display().to_string())
    };
    let check = |text: &str, needle: &str| {
        let s = write(dir.path(), "s.toml", text);
        let o = bedsim(dir.path()).args(["check", s.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(2), "{needle}: {err}");
        // The line with the message names a file, a line and a column: `path:line:col: ...`.
        let located = err.lines().filter(|l| l.contains(needle)).any(|l| {
            let mut parts = l.splitn(4, ':');
            let (_, line, col) = (parts.next(), parts.next(), parts.next());
            line.is_some_and(|x| x.parse::<usize>().is_ok_and(|n| n >= 1)) && col.is_some_and(|x| x.parse::<usize>().is_ok_and(|n| n >= 1))
        });
        assert!(located, "expected {needle:?} at file:line:col in:\n{err}");
        err
    };
    // An empty file, a header only, a BOM (accepted), non-UTF-8 bytes, Chinese text in a count.
    check(&with_file("empty.csv", b""), "the file is empty");
    check(
        &with_file("header.csv", b"region_code,sex,age_start,age_end,population\n"),
        "has a header but no data rows",
    );
    let bom = [b"\xEF\xBB\xBF".as_slice(), original.as_bytes()].concat();
    let s = write(dir.path(), "s.toml", &with_file("bom.csv", &bom));
    assert!(
        bedsim(dir.path())
            .args(["check", s.to_str().unwrap()])
            .output()
            .unwrap()
            .status
            .success(),
        "a UTF-8 BOM must be accepted"
    );
    let line = original
        .lines()
        .position(|l| l.starts_with("620802,") && l.contains(",male,0,"))
        .unwrap();
    let lines: Vec<String> = original.lines().map(str::to_string).collect();
    let last = lines[line].rfind(',').unwrap();
    let prev = lines[line][..last].rfind(',').unwrap();
    let chinese = format!("{},三千{}", &lines[line][..prev], &lines[line][last..]);
    let mut l2 = lines.clone();
    l2[line] = chinese;
    let err = check(
        &with_file("zh.csv", (l2.join("\n") + "\n").as_bytes()),
        "'三千' is not a finite number",
    );
    assert!(err.contains(&format!("zh.csv:{}:", line + 1)), "{err}");
    let mut bad_utf8 = lines.join("\n").into_bytes();
    let at = bad_utf8.windows(6).position(|w| w == b"620821").unwrap();
    bad_utf8.splice(at..at, [0xff, 0xfe]);
    check(&with_file("latin.csv", &bad_utf8), "is not valid UTF-8");
    // A data file of several gigabytes (sparse, so the test writes almost nothing) is refused by
    // its size before anything is read.
    let big = dir.path().join("big.csv");
    std::fs::File::create(&big).unwrap().set_len(3 << 30).unwrap();
    let text = small_scenario().replace(&data.display().to_string(), &big.display().to_string());
    check(&text, "over the limit");
    // A data path that is a folder.
    let text = small_scenario().replace(&data.display().to_string(), &dir.path().display().to_string());
    check(&text, "is a directory");
}
