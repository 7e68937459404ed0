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
