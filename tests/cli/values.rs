//! Typed values end to end, and the failures that untyped values and unchecked paths let in:
//! seeds over the whole `u64` range, flags named in their own messages, a sweep's design drawn
//! from the run's seed, strict shard manifests, non-regular input files, documented ranges on
//! every distribution, destinations checked before any simulation, `--force` never replacing a
//! file, messages at the line that is wrong, and invisible characters shown escaped.

use std::path::Path;
use std::time::Duration;

use super::{bedsim, repo, small_scenario, write};

fn run_ok(dir: &Path, args: &[&str]) -> String {
    let o = bedsim(dir).args(args).timeout(Duration::from_secs(120)).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{args:?}: {stderr}");
    stderr
}

/// Exit 2, and stderr holding every one of `needles`.
fn refused(dir: &Path, args: &[&str], needles: &[&str]) -> String {
    let o = bedsim(dir).args(args).timeout(Duration::from_secs(60)).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{args:?}: expected {n:?} in:\n{stderr}");
    }
    stderr
}

fn manifest_seed(dir: &Path) -> u64 {
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap();
    m["seed"].as_u64().expect("seed as an unsigned integer")
}

#[test]
fn seeds_cover_the_whole_u64_range_or_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let base = small_scenario();
    let mut summaries = Vec::new();
    for (i, seed) in ["9223372036854775807", "9223372036854775808", "18446744073709551615"]
        .iter()
        .enumerate()
    {
        let p = write(d, &format!("s{i}.toml"), &base.replace("seed = 7", &format!("seed = {seed}")));
        let out = format!("r{i}");
        run_ok(
            d,
            &["run", p.to_str().unwrap(), "--draws", "40", "--no-charts", "--quiet", "--out", &out],
        );
        assert_eq!(manifest_seed(&d.join(&out)).to_string(), *seed);
        summaries.push(std::fs::read(d.join(&out).join("summary.csv")).unwrap());
    }
    assert!(summaries[0] != summaries[1], "seeds 2^63 - 1 and 2^63 gave the same run");
    assert!(summaries[1] != summaries[2]);
    // --seed is carried as the integer itself.
    let p = write(d, "s.toml", &base);
    run_ok(
        d,
        &[
            "run",
            p.to_str().unwrap(),
            "--seed",
            "18446744073709551615",
            "--draws",
            "40",
            "--no-charts",
            "--quiet",
            "--out",
            "flag",
        ],
    );
    assert_eq!(manifest_seed(&d.join("flag")), u64::MAX);
    assert_eq!(
        std::fs::read(d.join("flag/summary.csv")).unwrap(),
        summaries[2],
        "--seed and seed = give different runs"
    );

    let s = p.to_str().unwrap();
    refused(
        d,
        &["check", s, "--set", "seed=1e300"],
        &["--set seed=1e300: seed = 1e300 is outside the allowed range 0..=18446744073709551615"],
    );
    refused(d, &["check", s, "--set", "seed=-1"], &["outside the allowed range"]);
    refused(
        d,
        &["check", s, "--set", "seed=18446744073709551616"],
        &["outside the allowed range"],
    );
    let f = write(d, "float.toml", &base.replace("seed = 7", "seed = 1e19"));
    let line = base.lines().position(|l| l == "seed = 7").unwrap() + 1;
    refused(
        d,
        &["check", f.to_str().unwrap()],
        &[
            &format!("float.toml:{line}:"),
            "seed = 1e19 is a float, which cannot hold every integer above 2^53: write it as an integer",
        ],
    );
    // A whole float within 2^53 is still an integer.
    let small = write(d, "e4.toml", &base.replace("seed = 7", "seed = 1e4"));
    run_ok(d, &["check", small.to_str().unwrap()]);
}

#[test]
fn a_flag_is_named_in_the_messages_about_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "s.toml", &small_scenario());
    refused(
        dir.path(),
        &["run", p.to_str().unwrap(), "--draws", "0", "--out", "r"],
        &["--draws 0: draws = 0 is outside the allowed range 1..=10000000"],
    );
    assert!(!dir.path().join("r").exists());
    refused(
        dir.path(),
        &["check", p.to_str().unwrap(), "--set", "nothing"],
        &["--set nothing: expected PATH=VALUE"],
    );
    refused(
        dir.path(),
        &[
            "sweep",
            p.to_str().unwrap(),
            "--vary",
            "draws=0..10",
            "--method",
            "grid",
            "--steps",
            "2",
            "--out",
            "sw",
        ],
        &["--vary draws=0..10 (point value 0): draws = 0 is outside the allowed range"],
    );
}

/// Without `--seed`, a sweep's design comes from the scenario's seed, the one its manifest
/// records; before, it came from seed 1 whatever the scenario said.
#[test]
fn a_sweeps_design_comes_from_the_seed_its_manifest_records() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = write(d, "s.toml", &small_scenario());
    let s = p.to_str().unwrap();
    let sweep = |out: &str, seed: Option<&str>| {
        let mut args = vec![
            "sweep",
            s,
            "--vary",
            "plan.new-home.beds=0..3000",
            "--method",
            "lhs",
            "--samples",
            "4",
            "--draws",
            "40",
        ];
        args.extend(["--quiet", "--out", out]);
        if let Some(seed) = seed {
            args.extend(["--seed", seed]);
        }
        run_ok(d, &args);
        std::fs::read_to_string(d.join(out).join("sweep.csv")).unwrap()
    };
    let scenario_seed = sweep("a", None);
    assert_eq!(manifest_seed(&d.join("a")), 7);
    assert_eq!(scenario_seed, sweep("b", Some("7")), "the scenario's seed 7 and --seed 7 differ");
    assert_ne!(scenario_seed, sweep("c", Some("1")));
}

#[test]
fn merge_reads_shard_manifests_strictly() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = write(d, "s.toml", &small_scenario());
    for k in 1..=2 {
        run_ok(
            d,
            &[
                "sweep",
                p.to_str().unwrap(),
                "--vary",
                "plan.new-home.beds=0..3000",
                "--method",
                "grid",
                "--steps",
                "2",
                "--draws",
                "40",
                "--quiet",
                "--shard",
                &format!("{k}/2"),
                "--out",
                &format!("sh{k}"),
            ],
        );
    }
    run_ok(d, &["merge", "sh1", "sh2", "--out", "merged", "--quiet"]);
    let file = d.join("sh2/manifest.json");
    let good = std::fs::read_to_string(&file).unwrap();
    for (from, to, says) in [
        ("\"method\": \"grid\"", "\"method\": \"bogus\"", "unknown variant `bogus`"),
        ("\"confidence\": 0.9", "\"confidence\": \"high\"", "invalid type"),
        ("\"steps\": 2,", "", "missing field `steps`"),
        ("\"samples\": 64,", "\"samples\": 64, \"extra\": 1,", "unknown field `extra`"),
    ] {
        assert!(good.contains(from), "{from} not in {good}");
        std::fs::write(&file, good.replacen(from, to, 1)).unwrap();
        refused(
            d,
            &["merge", "sh1", "sh2", "--out", "again", "--force"],
            &["sh2/manifest.json is not a bedsim shard manifest", says],
        );
        assert!(!d.join("again").exists());
    }
}

#[cfg(unix)]
#[test]
fn named_pipes_and_devices_are_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let fifo = d.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let f = fifo.to_str().unwrap();
    // Opening a FIFO for reading waits for a writer: the file is refused before it is opened.
    refused(
        d,
        &["check", f],
        &["cannot read scenario file: it is a named pipe (FIFO), not a regular file"],
    );
    refused(d, &["run", f, "--out", "r"], &["named pipe"]);
    let census = format!("{}/census2020_target_regions_age5_sex.csv", repo().join("data").display());
    for (data, what) in [(f, "a named pipe (FIFO)"), ("/dev/zero", "a device")] {
        let p = write(d, "s.toml", &small_scenario().replace(&census, data));
        refused(
            d,
            &["check", p.to_str().unwrap()],
            &[&format!("cannot read data file {data}: it is {what}, not a regular file")],
        );
    }
    let p = write(d, "s.toml", &small_scenario());
    refused(
        d,
        &["sweep", p.to_str().unwrap(), "--vary-file", f, "--out", "sw"],
        &["cannot read the sweep file: it is a named pipe (FIFO)"],
    );
}

/// `cost_per_bed_yuan` is documented as 1..1e9: a fixed value, a bounded distribution's whole
/// support and an unbounded distribution's far tails must lie there, and every message says so.
#[test]
fn documented_ranges_hold_for_every_distribution() {
    let dir = tempfile::tempdir().unwrap();
    let item = "[[plan]]\nid = \"budgeted\"\nkind = \"new\"\nregion = \"620802\"\nyear = 2023\nbudget_yuan = 1e8\n";
    let base = small_scenario().replacen("[[target]]", &format!("{item}\n[[target]]"), 1);
    let ok = write(dir.path(), "ok.toml", &base);
    run_ok(dir.path(), &["check", ok.to_str().unwrap()]);
    for (cost, says) in [
        (
            "{ dist = \"triangular\", low = 0, mode = 80000, high = 120000 }",
            "this distribution takes values in [0, 120000], outside the allowed range [1, 1e9]",
        ),
        ("0", "cost_per_bed_yuan = 0 is outside the allowed range [1, 1e9]"),
        ("-5", "cost_per_bed_yuan = -5 is outside the allowed range [1, 1e9]"),
        (
            "{ dist = \"uniform\", low = 5e4, high = 2e9 }",
            "outside the allowed range [1, 1e9]",
        ),
        (
            "{ dist = \"normal\", mean = 1e5, sd = 5e4 }",
            "takes values in [-inf, inf], outside the allowed range [1, 1e9] (truncate it",
        ),
        (
            "{ dist = \"lognormal\", meanlog = 0, sdlog = 1 }",
            "in its far tails (the 1e-6 and 1 - 1e-6 quantiles), outside the allowed range [1, 1e9]",
        ),
    ] {
        let text = base.replace("budget_yuan = 1e8\n", &format!("budget_yuan = 1e8\ncost_per_bed_yuan = {cost}\n"));
        let line = text.lines().position(|l| l.starts_with("cost_per_bed_yuan")).unwrap() + 1;
        let p = write(dir.path(), "s.toml", &text);
        refused(dir.path(), &["check", p.to_str().unwrap()], &[&format!("s.toml:{line}:"), says]);
    }
}

#[test]
fn destinations_are_checked_before_any_simulation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("file.txt"), "keep me").unwrap();
    // An observation makes a run condition on it first: that is a simulation too.
    let observed =
        small_scenario() + "\n[[observation]]\nunit = \"620821\"\nmetric = \"beds_institutional\"\nyear = 2023\nvalue = 3300\nsd = 300\n";
    let p = write(d, "s.toml", &observed);
    let s = p.to_str().unwrap();
    // A results folder below a regular file cannot be made: found before the shard simulates.
    let o = bedsim(d)
        .args(["run", s, "--shard", "1/2", "--out", "file.txt/shard"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cannot write results to file.txt/shard"), "{stderr}");
    assert!(!stderr.contains("conditioned"), "the shard simulated before checking: {stderr}");
    // --force replaces results folders only, never a regular file, on every command.
    for args in [
        vec!["run", s, "--no-charts", "--force", "--out", "file.txt"],
        vec!["run", s, "--shard", "1/2", "--force", "--out", "file.txt"],
        vec!["plan", s, "--force", "--out", "file.txt"],
        vec![
            "sweep",
            s,
            "--vary",
            "plan.new-home.beds=0..3000",
            "--method",
            "grid",
            "--steps",
            "2",
            "--force",
            "--out",
            "file.txt",
        ],
    ] {
        refused(
            d,
            &args,
            &["file.txt is a file, not a folder; --force replaces only a results folder"],
        );
        assert_eq!(std::fs::read_to_string(d.join("file.txt")).unwrap(), "keep me", "{args:?}");
    }
}

#[test]
fn messages_point_at_the_line_that_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let census = repo().join("data/census2020_target_regions_age5_sex.csv");
    let src = std::fs::read_to_string(&census).unwrap();
    // A gap in the age groups: reported at the group after it, not at the region's last row.
    let mut lines: Vec<&str> = src.lines().collect();
    let gap = lines
        .iter()
        .position(|l| l.starts_with("620802,") && l.contains(",male,60_64,"))
        .unwrap();
    lines.remove(gap);
    let after = lines
        .iter()
        .position(|l| l.starts_with("620802,") && l.contains(",male,65_69,"))
        .unwrap()
        + 1;
    let csv = write(d, "pop.csv", &(lines.join("\n") + "\n"));
    let text = small_scenario().replace(&census.display().to_string(), &csv.display().to_string());
    let p = write(d, "s.toml", &text);
    refused(
        d,
        &["check", p.to_str().unwrap()],
        &[&format!(
            "pop.csv:{after}:1: region '620802' male: age groups are not contiguous (expected a group starting at 60, found 65)"
        )],
    );
    // A region the population file lacks: reported at the scenario's region, not the CSV's line 1.
    let text = small_scenario().replace("id = \"620821\"\nname = \"泾川县\"", "id = \"620899\"\nname = \"泾川县\"");
    let text = text.replace("region = \"620821\"", "region = \"620802\"");
    let p = write(d, "s.toml", &text);
    let region_line = text.lines().position(|l| l == "id = \"620899\"").unwrap();
    let stderr = refused(d, &["check", p.to_str().unwrap()], &["region '620899' has no rows in"]);
    let at = stderr.lines().find(|l| l.contains("620899")).unwrap();
    assert!(
        at.starts_with(&format!("{}:{region_line}:", p.display())) || at.starts_with(&format!("{}:{}:", p.display(), region_line + 1)),
        "expected the scenario's [[region]] at line {region_line}: {at}"
    );
}

#[test]
fn invisible_characters_are_escaped_in_messages() {
    let dir = tempfile::tempdir().unwrap();
    let text = small_scenario().replace("id = \"beds-2025\"", "id = \"beds-2025\"\nunits = [\"6208\u{200B}02\"]");
    let p = write(dir.path(), "s.toml", &text);
    let stderr = refused(
        dir.path(),
        &["check", p.to_str().unwrap()],
        &["unknown region or group '6208\\u{200b}02' (did you mean '620802'?)"],
    );
    assert!(!stderr.contains('\u{200B}'), "a raw zero-width space in: {stderr}");
    let text = small_scenario().replace("id = \"beds-2025\"", "id = \"beds-2025\"\nunits = [\"\\u001b[31m620802\"]");
    let p = write(dir.path(), "s.toml", &text);
    let stderr = refused(dir.path(), &["check", p.to_str().unwrap()], &["'\\u{1b}[31m620802'"]);
    assert!(!stderr.contains('\u{1b}'), "a raw escape sequence in: {stderr}");
}

/// `bedsim chart` reads what it needs of the run manifest strictly: a missing field is named,
/// not replaced by a default (an elderly age of 60, a base year of 0).
#[test]
fn chart_refuses_a_manifest_without_the_fields_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = write(d, "s.toml", &small_scenario());
    run_ok(
        d,
        &["run", p.to_str().unwrap(), "--draws", "40", "--no-charts", "--quiet", "--out", "r"],
    );
    run_ok(d, &["chart", "r"]);
    let file = d.join("r/manifest.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let cut: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("\"elderly_age\""))
        .collect::<Vec<_>>()
        .join("\n");
    assert_ne!(cut, text);
    std::fs::write(&file, cut).unwrap();
    let o = bedsim(d).args(["chart", "r"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(
        stderr.contains("manifest.json") && stderr.contains("missing field `elderly_age`"),
        "{stderr}"
    );
}
