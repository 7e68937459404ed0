//! `bedsim sweep` and `bedsim plan` on real files.

use std::path::Path;
use std::time::Duration;

use super::{bedsim, read_rows, small_scenario, write};

fn sweep(dir: &Path, args: &[&str]) -> std::process::Output {
    write(dir, "s.toml", &small_scenario());
    let mut all = vec!["sweep", "s.toml", "--draws", "100"];
    all.extend_from_slice(args);
    bedsim(dir).args(&all).output().unwrap()
}

#[test]
fn sweep_points_share_their_random_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let o = sweep(
        dir.path(),
        &[
            "--vary",
            "plan.new-home.beds=0..3000",
            "--method",
            "grid",
            "--steps",
            "4",
            "--out",
            "g",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let rows = read_rows(&dir.path().join("g/sweep.csv"));
    assert_eq!(rows.len(), 4 * 3 * 2, "4 points x 3 units x 2 targets");
    // The item is in 620821 only: 620802 sees the same draws at every point, so identical rows.
    let other: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r["region"] == "620802")
        .map(|r| {
            ["target", "probability_met", "metric_p05", "metric_p50", "metric_p95"]
                .iter()
                .map(|k| r[*k].clone())
                .collect()
        })
        .collect();
    assert_eq!(other.len(), 8);
    for k in 1..4 {
        assert_eq!(
            other[0..2],
            other[2 * k..2 * k + 2],
            "point {k} changed a region the parameter does not touch"
        );
    }
    let touched: Vec<f64> = rows
        .iter()
        .filter(|r| r["region"] == "620821" && r["target"] == "beds-2025")
        .map(|r| r["metric_p50"].parse().unwrap())
        .collect();
    assert!(
        touched.windows(2).all(|w| w[1] > w[0]),
        "more beds must raise beds per 1,000: {touched:?}"
    );
}

#[test]
fn one_at_a_time_sweep_draws_tornado_charts_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--vary",
        "plan.new-home.beds=0..3000",
        "--vary",
        "care.level.sdlog=0.1..0.3",
        "--method",
        "oat",
        "--steps",
        "2",
    ];
    let mut a = args.to_vec();
    a.extend(["--out", "a"]);
    let o = sweep(dir.path(), &a);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("plan.new-home.beds (0..3000)"));
    assert!(dir.path().join("a/charts/tornado_beds-2025_city.png").is_file());
    let mut b = args.to_vec();
    b.extend(["--out", "b"]);
    assert!(sweep(dir.path(), &b).status.success());
    assert_eq!(
        std::fs::read(dir.path().join("a/sweep.csv")).unwrap(),
        std::fs::read(dir.path().join("b/sweep.csv")).unwrap()
    );
}

#[test]
fn sobol_sweep_writes_indices() {
    let dir = tempfile::tempdir().unwrap();
    let o = sweep(
        dir.path(),
        &[
            "--vary",
            "plan.new-home.beds=0..3000",
            "--vary",
            "capacity.stock.0.institutional=4000..8000",
            "--method",
            "sobol",
            "--samples",
            "16",
            "--out",
            "s",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_rows(&dir.path().join("s/sweep.csv")).len(), 16 * 4 * 3 * 2);
    let sobol = read_rows(&dir.path().join("s/sobol.csv"));
    assert!(!sobol.is_empty());
    // Stock size moves the city's beds per 1,000 far more than one 300-bed home does.
    let total = |p: &str| -> f64 {
        sobol
            .iter()
            .find(|r| r["region"] == "city" && r["target"] == "beds-2025" && r["output"] == "metric_p50" && r["parameter"] == p)
            .unwrap()["total"]
            .parse()
            .unwrap()
    };
    assert!(total("capacity.stock.0.institutional") > total("plan.new-home.beds"));
}

/// Morris screening: `--samples` trajectories of (inputs + 1) points, and per input the mean,
/// absolute mean and spread of its elementary effects. An input that cannot touch an output has
/// mu* = 0 exactly (common random numbers), and the table is the same on a rerun.
#[test]
fn morris_sweep_screens_the_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--vary",
        "plan.new-home.beds=0..3000",
        "--vary",
        "care.level.sdlog=0.1..0.3",
        "--method",
        "morris",
        "--samples",
        "5",
    ];
    let run = |out: &str| {
        let mut a = args.to_vec();
        a.extend(["--out", out]);
        let o = sweep(dir.path(), &a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        (stdout, std::fs::read_to_string(dir.path().join(out).join("morris.csv")).unwrap())
    };
    let (stdout, table) = run("m");
    assert!(stdout.contains("what moves P(met), by mu*"), "{stdout}");
    // 5 trajectories of 3 points, 3 units (2 regions and the city) and 2 targets.
    assert_eq!(read_rows(&dir.path().join("m/sweep.csv")).len(), 5 * 3 * 3 * 2);
    let rows = read_rows(&dir.path().join("m/morris.csv"));
    assert_eq!(rows.len(), 3 * 2 * 2 * 2, "unit x target x output x input");
    let at = |unit: &str, target: &str, output: &str, p: &str, col: &str| -> f64 {
        rows.iter()
            .find(|r| r["region"] == unit && r["target"] == target && r["output"] == output && r["parameter"] == p)
            .unwrap()[col]
            .parse()
            .unwrap()
    };
    // The new home stands in 泾川 (620821): its beds raise beds per 1,000 there, not in 崆峒.
    assert!(at("620821", "beds-2025", "metric_p50", "plan.new-home.beds", "mu") > 0.0);
    assert_eq!(at("620802", "beds-2025", "metric_p50", "plan.new-home.beds", "mu_star"), 0.0);
    // The spread of the care level cannot move beds per 1,000.
    assert_eq!(at("620821", "beds-2025", "metric_p50", "care.level.sdlog", "mu_star"), 0.0);
    assert_eq!(at("620821", "beds-2025", "metric_p50", "plan.new-home.beds", "trajectories"), 5.0);
    assert_eq!(run("again").1, table, "a rerun gives another Morris table");
}

#[test]
fn interrupted_sweep_resumes_from_the_points_already_written() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let args = [
        "sweep",
        "s.toml",
        "--draws",
        "200",
        "--vary",
        "plan.new-home.beds=0..3000",
        "--method",
        "grid",
        "--steps",
        "60",
    ];
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("bedsim"))
        .current_dir(dir.path())
        .args(args)
        .args(["--out", "r"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let some points finish, then kill it hard.
    let partial = dir.path().join(".r.partial");
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(25));
        if std::fs::read_dir(&partial).map(|d| d.count() > 3).unwrap_or(false) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!dir.path().join("r").exists(), "a killed sweep must not leave results");
    let o = bedsim(dir.path()).args(args).args(["--out", "r"]).output().unwrap();
    assert!(o.status.success());
    let stderr = String::from_utf8_lossy(&o.stderr);
    let resumed: usize = stderr
        .split(" resumed)")
        .next()
        .and_then(|s| s.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap();
    assert!(resumed > 0 && resumed < 60, "{stderr}");
    assert!(!partial.exists(), "the partial folder is removed once the sweep is complete");
    let clean = bedsim(dir.path()).args(args).args(["--out", "clean"]).output().unwrap();
    assert!(clean.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("r/sweep.csv")).unwrap(),
        std::fs::read(dir.path().join("clean/sweep.csv")).unwrap()
    );
}

#[test]
fn sweep_rejects_bad_ranges_and_paths() {
    let dir = tempfile::tempdir().unwrap();
    let huge = sweep(
        dir.path(),
        &[
            "--vary",
            "plan.new-home.beds=0..1",
            "--vary",
            "care.level.sdlog=0.1..0.2",
            "--method",
            "grid",
            "--steps",
            "5000",
        ],
    );
    assert_eq!(huge.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&huge.stderr).contains("at most 1000000 points"));
    let none = sweep(
        dir.path(),
        &["--vary", "plan.new-home.beds=0..1", "--method", "sobol", "--samples", "0"],
    );
    assert_eq!(none.status.code(), Some(2));
    for (vary, msg) in [
        ("plan.new-home.beds=5..", "expected PATH=LOW..HIGH"),
        ("plan.nope.beds=0..1", "no value at this path"),
        ("target.nursing-2025.threshold=0.5..1.5", "must be a share in [0, 1]"),
    ] {
        let o = sweep(dir.path(), &["--vary", vary]);
        assert_eq!(o.status.code(), Some(2), "{vary}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(msg),
            "{vary}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn plan_answer_added_as_beds_meets_the_target_with_the_requested_probability() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let harder = ["--set", "target.beds-2025.threshold=60"];
    let o = bedsim(dir.path())
        .args(["plan", "s.toml", "--confidence", "0.8", "--out", "p"])
        .args(harder)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("beds-2025 崆峒区 (620802) 2025"), "{stdout}");
    let again = bedsim(dir.path())
        .args(["plan", "s.toml", "--confidence", "0.8", "--out", "p2"])
        .args(harder)
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("p/plan.csv")).unwrap(),
        std::fs::read(dir.path().join("p2/plan.csv")).unwrap(),
        "plan is not reproducible"
    );
    let rows = read_rows(&dir.path().join("p/plan.csv"));
    let row = rows.iter().find(|r| r["target"] == "beds-2025" && r["region"] == "620802").unwrap();
    let needed: f64 = row["needed"].parse().unwrap();
    // New items have delays of up to 3 years at 80%: start by 2025 - 2 = 2023 at the latest.
    assert_eq!(row["latest_start_year"], "2023");
    let more = format!(
        "{}\n[[capacity.stock]]\nregion = \"620802\"\ninstitutional = 0\ncommunity = {needed}\n",
        small_scenario()
    );
    write(dir.path(), "s2.toml", &more);
    let o = bedsim(dir.path())
        .args(["run", "s2.toml", "--out", "r", "--no-charts"])
        .args(harder)
        .output()
        .unwrap();
    assert!(o.status.success());
    let p: f64 = read_rows(&dir.path().join("r/targets.csv"))
        .into_iter()
        .find(|r| r["target"] == "beds-2025" && r["region"] == "620802")
        .unwrap()["probability_met"]
        .parse()
        .unwrap();
    // Exact by construction on the same draws (the needed beds are a quantile of the shortfall).
    assert!(p >= 0.8, "{p}");
}

#[test]
fn shards_run_in_separate_processes_merge_to_the_single_machine_result() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let base = [
        "sweep",
        "s.toml",
        "--draws",
        "80",
        "--vary",
        "plan.new-home.beds=0..3000",
        "--vary",
        "care.level.sdlog=0.1..0.3",
        "--method",
        "sobol",
        "--samples",
        "6",
    ];
    let whole = bedsim(dir.path()).args(base).args(["--out", "whole"]).output().unwrap();
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    // Three shards at once, as a job array would run them.
    let children: Vec<_> = (1..=3)
        .map(|k| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("bedsim"))
                .current_dir(dir.path())
                .args(base)
                .args(["--shard", &format!("{k}/3"), "--out", &format!("shard{k}"), "--quiet"])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let m = bedsim(dir.path())
        .args(["merge", "shard3", "shard1", "shard2", "--out", "merged"])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    for f in ["sweep.csv", "sobol.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("whole").join(f)).unwrap(),
            std::fs::read(dir.path().join("merged").join(f)).unwrap(),
            "{f} differs"
        );
    }
    let missing = bedsim(dir.path())
        .args(["merge", "shard1", "shard2", "--out", "bad"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("shard 3 of 3 is missing"));
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn format_json_prints_one_document_on_stdout_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let c = bedsim(dir.path()).args(["check", "s.toml", "--format", "json"]).output().unwrap();
    assert!(c.status.success());
    assert_eq!(json(&c)["regions"], 2);
    let bad = bedsim(dir.path())
        .args(["check", "s.toml", "--format", "json", "--set", "draws=-5"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let v = json(&bad);
    assert_eq!(v["ok"], false);
    assert!(v["problems"][0]["message"].as_str().unwrap().contains("draws"));
    let r = bedsim(dir.path())
        .args(["run", "s.toml", "--format", "json", "--draws", "50", "--out", "r", "--no-charts"])
        .output()
        .unwrap();
    assert!(r.status.success());
    let v = json(&r);
    assert_eq!(v["ok"], true);
    assert_eq!(v["targets"].as_array().unwrap().len(), 6);
    assert!(v["targets"][0]["probability_met"].is_number());
    let p = bedsim(dir.path())
        .args(["plan", "s.toml", "--format", "json", "--draws", "50", "--out", "p"])
        .output()
        .unwrap();
    assert!(p.status.success());
    assert_eq!(json(&p)["rows"].as_array().unwrap().len(), 6);
    let s = bedsim(dir.path())
        .args([
            "sweep",
            "s.toml",
            "--format",
            "json",
            "--draws",
            "50",
            "--vary",
            "plan.new-home.beds=0..100",
            "--method",
            "grid",
            "--steps",
            "2",
            "--out",
            "sw",
        ])
        .output()
        .unwrap();
    assert!(s.status.success());
    let v = json(&s);
    assert_eq!(v["points"], 2);
    assert!(v["files"].as_array().unwrap().iter().any(|f| f == "sweep.parquet"));
}

#[test]
fn completions_and_man_page_come_from_the_command_definitions() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let o = bedsim(dir.path()).args(["completions", shell]).output().unwrap();
        assert!(o.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("sweep") && text.contains("--vary"),
            "{shell} completions lack the sweep command"
        );
    }
    let man = bedsim(dir.path()).arg("man").output().unwrap();
    assert!(man.status.success());
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH bedsim 1"));
}

#[test]
fn the_documented_example_script_runs() {
    let dir = tempfile::tempdir().unwrap();
    let script = super::repo().join("examples/sweep_and_plot.sh");
    let o = std::process::Command::new("bash")
        .arg(&script)
        .arg(assert_cmd::cargo::cargo_bin("bedsim"))
        .arg(dir.path().join("ex"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let svg = std::fs::read_to_string(dir.path().join("ex/probability.svg")).unwrap();
    assert_eq!(svg.matches("<circle").count(), 6);
}

#[test]
fn a_sweep_file_lists_inputs_like_vary() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sweep.toml",
        "[[vary]]\npath = \"plan.new-home.beds\"\nlow = 0\nhigh = 3000\n",
    );
    let a = sweep(
        dir.path(),
        &["--vary-file", "sweep.toml", "--method", "grid", "--steps", "2", "--out", "a"],
    );
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = sweep(
        dir.path(),
        &[
            "--vary",
            "plan.new-home.beds=0..3000",
            "--method",
            "grid",
            "--steps",
            "2",
            "--out",
            "b",
        ],
    );
    assert!(b.status.success());
    assert_eq!(
        std::fs::read(dir.path().join("a/sweep.csv")).unwrap(),
        std::fs::read(dir.path().join("b/sweep.csv")).unwrap()
    );
    write(
        dir.path(),
        "bad.toml",
        "[[vary]]\npath = \"plan.new-home.beds\"\nlow = 0\nhihg = 3000\n",
    );
    let c = sweep(dir.path(), &["--vary-file", "bad.toml", "--out", "c"]);
    assert_eq!(c.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&c.stderr).contains("vary[0] needs path, low and high"));
}

#[test]
fn run_shards_merge_to_the_single_machine_tables() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = small_scenario();
    // A third region so that shards hold different numbers of regions.
    text = text.replace(
        "[mortality]",
        "[[region]]\nid = \"620822\"\nname = \"灵台县\"\ngroup = \"city\"\n\n[mortality]",
    );
    write(dir.path(), "s.toml", &text);
    let whole = bedsim(dir.path())
        .args(["run", "s.toml", "--out", "whole", "--no-charts", "--draws", "150"])
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let children: Vec<_> = (1..=2)
        .map(|k| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("bedsim"))
                .current_dir(dir.path())
                .args([
                    "run",
                    "s.toml",
                    "--draws",
                    "150",
                    "--shard",
                    &format!("{k}/2"),
                    "--out",
                    &format!("part{k}"),
                    "--quiet",
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let m = bedsim(dir.path())
        .args(["merge", "part2", "part1", "--out", "merged"])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    for f in ["summary.csv", "targets.csv", "pyramid.csv", "units.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("whole").join(f)).unwrap(),
            std::fs::read(dir.path().join("merged").join(f)).unwrap(),
            "{f} differs"
        );
    }
    assert!(dir.path().join("merged/charts/beds_per_1000/city.png").is_file());
    // A shard streams the sums of the groups it holds in part to groups.bin as each is
    // finished, in passes over the years when the memory budget is small: the same bytes.
    // (2,000 draws: a region's values are 2.4 MB, so a 1 MiB budget makes one pass a year.)
    for k in 1..=2 {
        for (memory, out) in [("1024", "big"), ("1", "small")] {
            let o = bedsim(dir.path())
                .args(["run", "s.toml", "--draws", "2000", "--memory", memory, "--quiet"])
                .args(["--shard", &format!("{k}/2"), "--out", &format!("{out}{k}")])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        }
        for f in ["groups.bin", "partial.json"] {
            let (a, b) = (
                dir.path().join(format!("big{k}")).join(f),
                dir.path().join(format!("small{k}")).join(f),
            );
            assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "{f} of shard {k}");
        }
    }
    let partial: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("part1/partial.json")).unwrap()).unwrap();
    assert_eq!(partial["partial_groups"].as_array().unwrap().len(), 1, "the city is held in part");
    assert!(std::fs::metadata(dir.path().join("part1/groups.bin")).unwrap().len() > 0);
}

/// Three counties, two of them holding a city-wide stock and plan item by their share of the
/// elderly (a class of the supply scaling), registered elderly, caregivers, seasonal demand and
/// a target of every kind in two years: every path of a staged point.
fn staged_scenario() -> String {
    let base = small_scenario()
        .replace(
            "[[region]]\nid = \"620821\"",
            "[[region]]\nid = \"620822\"\nname = \"灵台县\"\ngroup = \"city\"\n\n[[region]]\nid = \"620821\"",
        )
        .replace("institutional = 6000", "institutional = 2500")
        .replace("low = 3000, high = 6000", "low = 1500, high = 3500")
        .replace(
            "shape_file = ",
            "registered_ratio = { dist = \"uniform\", low = 1.02, high = 1.08 }\nshape_file = ",
        );
    format!(
        r#"{base}
[[plan]]
id = "city-homes"
kind = "new"
group = "city"
split = "elderly"
year = 2021
beds = {{ dist = "triangular", low = 400, mode = 900, high = 1500 }}
nursing_share = {{ dist = "uniform", low = 0.4, high = 0.9 }}
delay = {{ dist = "discrete", values = [0, 1, 2], probs = [0.5, 0.3, 0.2] }}
cancel_probability = 0.1

[[caregivers]]
group = "city"
stock = 300
trained_per_year = {{ dist = "uniform", low = 10, high = 60 }}
attrition = 0.1

[[seasonal]]
region = "620802"
elderly = {{ dist = "uniform", low = 500, high = 2000 }}
growth = 0.02
institutional_uptake = 0.05

[[target]]
id = "registered-2030"
metric = "beds_per_1000_elderly"
denominator = "registered"
threshold = 30
year = 2030

[[target]]
id = "demand-2030"
metric = "demand_supply_ratio"
op = "<="
threshold = 1.0
year = 2030

[[target]]
id = "caregivers-2025"
metric = "caregivers_per_10000_elderly"
threshold = 25
year = 2025
units = "all"
"#
    )
}

/// Staged points (the population projected once, each point realising only its supply and
/// uptake) give the table that running every point in full gives, byte for byte, for a design
/// whose points change the plan, the stock, caregivers, uptake and a threshold, and one whose
/// inputs include a demographic one (its points off the centre are run in full).
#[test]
fn staged_sweeps_write_the_tables_of_running_every_point_in_full() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "staged.toml", &staged_scenario());
    let supply = [
        "plan.city-homes.beds.mode=600..1400",
        "plan.new-home.beds=0..3000",
        "capacity.stock.0.community.high=3000..5000",
        "caregivers.0.stock=100..500",
        "care.uptake_partial.alpha=3..9",
        "target.beds-2025.threshold=15..30",
    ];
    let run = |out: &str, method: &str, draws: &str, vary: &[&str], extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "staged.toml",
            "--draws",
            draws,
            "--method",
            method,
            "--samples",
            "6",
            "--out",
            out,
        ];
        for v in vary {
            args.extend(["--vary", v]);
        }
        args.extend_from_slice(extra);
        let o = bedsim(dir.path()).args(&args).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).to_string()
    };
    let same = |a: &str, b: &str, files: &[&str]| {
        for f in files {
            let (x, y) = (
                std::fs::read(dir.path().join(a).join(f)).unwrap(),
                std::fs::read(dir.path().join(b).join(f)).unwrap(),
            );
            assert!(x == y, "{a}/{f} and {b}/{f} differ");
        }
    };
    for method in ["oat", "sobol"] {
        let staged = run(&format!("{method}-staged"), method, "150", &supply, &[]);
        assert!(staged.contains("points used the population projected once"), "{staged}");
        assert!(!staged.contains("run in full"), "{staged}");
        let full = run(&format!("{method}-full"), method, "150", &supply, &["--unstaged"]);
        assert!(full.contains("run in full") && !full.contains("projected once"), "{full}");
        same(
            &format!("{method}-staged"),
            &format!("{method}-full"),
            &["sweep.csv", "sweep.parquet"],
        );
    }
    same("sobol-staged", "sobol-full", &["sobol.csv"]);
    let rows = read_rows(&dir.path().join("oat-staged/sweep.csv"));
    for target in ["registered-2030", "demand-2030", "caregivers-2025", "beds-2025", "nursing-2025"] {
        assert!(
            rows.iter().any(|r| r["target"] == target && !r["probability_met"].is_empty()),
            "{target}"
        );
    }
    // The inputs move P(met): the staged points are not all the centre's.
    let p: std::collections::BTreeSet<&str> = rows
        .iter()
        .filter(|r| r["target"] == "beds-2025")
        .map(|r| r["probability_met"].as_str())
        .collect();
    assert!(p.len() > 5, "{p:?}");
    let mut mixed: Vec<&str> = supply[..3].to_vec();
    mixed.push("care.level.sdlog=0.1..0.4");
    let staged = run("mixed-staged", "oat", "150", &mixed, &[]);
    assert!(
        staged.contains("11 points used the population projected once") && staged.contains("2 points were run in full"),
        "{staged}"
    );
    run("mixed-full", "oat", "150", &mixed, &["--unstaged"]);
    same("mixed-staged", "mixed-full", &["sweep.csv", "sweep.parquet"]);
    // A memory budget smaller than the shared population keeps it in the partial folder and
    // takes the regions a few at a time: the same tables.
    run("roomy", "oat", "9000", &supply[..2], &["--steps", "2"]);
    let tight = run("tight", "oat", "9000", &supply[..2], &["--steps", "2", "--memory", "1"]);
    assert!(tight.contains("in the partial folder"), "{tight}");
    same("roomy", "tight", &["sweep.csv", "sweep.parquet"]);
    assert!(
        !dir.path().join(".tight.partial").exists(),
        "the partial folder and its population file are removed"
    );
}
