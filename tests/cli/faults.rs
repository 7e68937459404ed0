//! Runs that are killed, disks that fill up, destinations that cannot be written, files that
//! vanish, and draw counts far beyond memory: the results folder always holds either its
//! previous complete results or complete new ones, never a mix, and nothing is left behind.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{bedsim, small_scenario, write};

/// Every file under `dir` (relative path -> bytes), without the manifest, whose times differ
/// from run to run.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "manifest.json") {
                // The documents record when the run was made, as the manifest does: only their
                // presence is compared.
                let record = p.file_name().is_some_and(|n| n == "report.html" || n == "report.xlsx");
                let bytes = if record { Vec::new() } else { std::fs::read(&p).unwrap() };
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), bytes);
            }
        }
    }
    out
}

/// Writes the test scenario into `dir`, runs it into `dir/res` and returns those results.
fn earlier_results(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    write(dir, "s.toml", &small_scenario());
    let o = bedsim(dir)
        .args(["run", "s.toml", "--no-charts", "--quiet", "--out", "res"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    snapshot(&dir.join("res"))
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect()
}

fn send(signal: &str, pid: u32) {
    assert!(Command::new("kill").args([signal, &pid.to_string()]).status().unwrap().success());
}

/// A run that writes its draws (so that writing takes about as long as simulating), killed by
/// SIGINT, SIGTERM or SIGKILL at 18 moments spread over the simulation and the writing (fixed
/// pseudo-random delays, so a failure can be reproduced). After every kill the folder holds the
/// previous complete results or the complete new ones; Ctrl-C and SIGTERM say which and stop
/// promptly; SIGKILL's staging folder is removed by the next run.
#[test]
fn a_run_killed_at_any_moment_leaves_the_previous_results_or_the_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let long = ["run", "s.toml", "--draws", "50000", "--keep-draws", "--no-charts", "--quiet"];
    // The complete new results, for comparison.
    let o = bedsim(dir.path()).args(long).args(["--out", "complete"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let complete = snapshot(&dir.path().join("complete"));
    // Earlier results in the folder the killed runs write to.
    let o = bedsim(dir.path())
        .args(["run", "s.toml", "--no-charts", "--quiet", "--out", "res"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut previous = snapshot(&dir.path().join("res"));
    let mut x: u64 = 20261128;
    let mut outcomes = Vec::new();
    for signal in ["-INT", "-TERM", "-KILL"] {
        for _ in 0..6 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let delay = 50 + (x >> 33) % 3000;
            let mut child = Command::new(assert_cmd::cargo::cargo_bin("bedsim"))
                .current_dir(dir.path())
                .args(long)
                .args(["--out", "res"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::sleep(Duration::from_millis(delay));
            let finished_before = child.try_wait().unwrap().is_some();
            let sent = Instant::now();
            if !finished_before {
                send(signal, child.id());
            }
            let out = child.wait_with_output().unwrap();
            let stop = sent.elapsed().as_secs_f64();
            let stderr = String::from_utf8_lossy(&out.stderr).to_string();
            let now = snapshot(&dir.path().join("res"));
            let what = format!("{signal} after {delay} ms (exit {:?}, {stop:.2} s): {stderr}", out.status.code());
            // (After a run that finished, the previous results are the complete new ones.)
            let kept = if out.status.success() && now == complete {
                "new"
            } else if now == previous {
                "previous"
            } else if now == complete {
                "new"
            } else {
                panic!("res holds a mix of old and new files: {what}")
            };
            let manifest = std::fs::read_to_string(dir.path().join("res/manifest.json")).unwrap_or_default();
            assert!(manifest.contains("\"program\": \"bedsim\""), "no manifest: {what}");
            if out.status.success() {
                assert_eq!(kept, "new", "{what}");
            } else if signal != "-KILL" {
                assert_eq!(out.status.code(), Some(1), "{what}");
                assert!(now == previous, "an interrupted run changed the results: {what}");
                assert!(stderr.contains("interrupted: res keeps its previous results"), "{what}");
                // One second is the requirement; test machines are shared, so the bound is loose.
                assert!(stop < 3.0, "took {stop:.2} s to stop: {what}");
                assert!(leftovers(dir.path()).is_empty(), "staging left behind: {what}");
            }
            outcomes.push(format!("{signal} {delay} ms: {kept}, {stop:.2} s"));
            previous = now;
        }
    }
    // The next run removes what SIGKILL left behind.
    let o = bedsim(dir.path())
        .args(["run", "s.toml", "--no-charts", "--quiet", "--out", "res"])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
    eprintln!("kills: {}", outcomes.join("; "));
}

/// A run killed between the two renames that put its results in place leaves the earlier
/// results under `.<name>.tmp-<pid>.old` and no folder under the name; a run killed before that
/// leaves its staging folder. Before the next run writes there, the earlier results are put
/// back and the staging folder removed.
#[test]
fn results_moved_aside_by_a_killed_run_are_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let before = earlier_results(dir.path());
    // The pid of a process that has exited.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::rename(dir.path().join("res"), dir.path().join(format!(".res.tmp-{dead}.old"))).unwrap();
    std::fs::create_dir(dir.path().join(format!(".res.tmp-{dead}"))).unwrap();
    std::fs::write(dir.path().join(format!(".res.tmp-{dead}/summary.csv")), "half written").unwrap();
    bedsim::report::check_destination(&dir.path().join("res"), false).unwrap();
    assert_eq!(snapshot(&dir.path().join("res")), before, "the earlier results are back");
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

/// A disk that fills up while the tables are written (simulated with a file-size limit, which
/// makes writes fail as a full disk does): a clear message, exit code 1, the earlier results
/// untouched and no staging folder left.
#[test]
fn a_full_disk_fails_cleanly_and_keeps_the_previous_results() {
    let dir = tempfile::tempdir().unwrap();
    let before = earlier_results(dir.path());
    let bin = assert_cmd::cargo::cargo_bin("bedsim");
    // 100 blocks of 512 bytes: the summary table (about 200 kB) does not fit.
    let o = Command::new("sh")
        .current_dir(dir.path())
        .args([
            "-c",
            &format!("ulimit -f 100; exec {} run s.toml --no-charts --out res --draws 300", bin.display()),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("could not write results") && stderr.contains("File too large") && stderr.contains("nothing was changed in res"),
        "{stderr}"
    );
    assert_eq!(snapshot(&dir.path().join("res")), before);
    assert!(leftovers(dir.path()).is_empty(), "{:?}", leftovers(dir.path()));
}

/// A disk that fills up while the workbook's rows go to their temporary file (the spreadsheet
/// crate panics there): `bedsim report` says so in one message, with exit code 1 and no panic,
/// and the folder keeps its documents and holds no temporary file.
#[test]
fn a_full_disk_while_the_workbook_is_written_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    earlier_results(dir.path());
    let res = dir.path().join("res");
    // Every file of the folder with its bytes, the documents included (`snapshot` compares
    // only their presence).
    let files = || {
        std::fs::read_dir(&res)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| (p.file_name().unwrap().to_owned(), std::fs::read(&p).unwrap()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let before = files();
    let bin = assert_cmd::cargo::cargo_bin("bedsim");
    // 100 blocks of 512 bytes: the summary sheet's rows (over 1 MB of XML) do not fit.
    let o = Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", &format!("ulimit -f 100; exec {} report res", bin.display())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("File too large") && !stderr.contains("panicked"), "{stderr}");
    assert_eq!(files(), before, "every file of the folder as it was, and no other");
}

/// A destination that cannot be written is found before the simulation, with exit code 1:
/// a read-only file system (`/sys`, where even root cannot create a folder) and a file where a
/// folder should be.
#[test]
fn an_unwritable_destination_is_refused_before_the_simulation() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    std::fs::write(dir.path().join("a-file"), "not a folder").unwrap();
    let mut outs = vec![("a-file/res".to_string(), "is a file, not a folder")];
    if Path::new("/sys/kernel").is_dir() {
        outs.push(("/sys/bedsim-results".to_string(), "cannot write results to /sys/bedsim-results"));
    }
    for (out, message) in outs {
        let started = Instant::now();
        let o = bedsim(dir.path())
            .args(["run", "s.toml", "--no-charts", "--out", &out, "--draws", "100000"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{out}: {stderr}");
        assert!(stderr.contains(message), "{out}: {stderr}");
        // 100,000 draws take seconds to simulate; the refusal comes before.
        assert!(started.elapsed().as_secs_f64() < 1.0, "{out}: refused only after simulating");
    }
    assert!(!dir.path().join("a-file").is_dir());
}

/// A data file deleted while the run is simulating changes nothing: every data file is read and
/// hashed (in the manifest) before the simulation starts, and the run never reads it again.
#[test]
fn a_data_file_deleted_during_the_run_does_not_change_its_results() {
    let dir = tempfile::tempdir().unwrap();
    let data = super::repo().join("data/census2020_target_regions_age5_sex.csv");
    let copy = dir.path().join("pop.csv");
    std::fs::copy(&data, &copy).unwrap();
    let text = small_scenario().replace(&data.display().to_string(), &copy.display().to_string());
    write(dir.path(), "s.toml", &text);
    let args = ["run", "s.toml", "--no-charts", "--quiet", "--draws", "100000"];
    let o = bedsim(dir.path()).args(args).args(["--out", "undisturbed"]).output().unwrap();
    assert!(o.status.success());
    let child = Command::new(assert_cmd::cargo::cargo_bin("bedsim"))
        .current_dir(dir.path())
        .args(args)
        .args(["--out", "disturbed"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_file(&copy).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(snapshot(&dir.path().join("disturbed")), snapshot(&dir.path().join("undisturbed")));
    let manifest = std::fs::read_to_string(dir.path().join("disturbed/manifest.json")).unwrap();
    assert!(manifest.contains("pop.csv"), "the manifest names the file read and its hash");
}

/// Many draws stay within the memory budget: 100,000 draws of one county with a 32 MiB budget
/// are made in passes over the years and give exactly the tables of the default budget, at a
/// fraction of its peak memory.
#[test]
fn many_draws_stay_within_the_memory_budget_and_give_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let one = small_scenario()
        .replace("[[group]]\nid = \"city\"\nname = \"平凉市\"\n\n", "")
        .replace("group = \"city\"\n", "")
        .replace("[[region]]\nid = \"620821\"\nname = \"泾川县\"\n\n", "")
        .replace("[[capacity.stock]]\n", "[[capacity.stock]]\nregion = \"620802\"\n")
        .replace("region = \"620821\"", "region = \"620802\"");
    write(dir.path(), "one.toml", &one);
    let peak = |out: &str, extra: &[&str]| -> (u64, u64) {
        let o = bedsim(dir.path())
            .args(["run", "one.toml", "--no-charts", "--quiet", "--draws", "100000", "--out", out])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(out).join("manifest.json")).unwrap()).unwrap();
        (
            m["peak_memory_bytes"].as_u64().unwrap_or(0),
            m["stage_seconds"]["engine"]["passes"].as_u64().unwrap(),
        )
    };
    let (default_peak, default_passes) = peak("default", &[]);
    let (small_peak, small_passes) = peak("small", &["--memory", "32"]);
    assert_eq!(default_passes, 1);
    assert!(small_passes > 1, "a 32 MiB budget needs passes");
    for f in ["summary.csv", "targets.csv", "pyramid.csv"] {
        assert_eq!(
            std::fs::read(dir.path().join("default").join(f)).unwrap(),
            std::fs::read(dir.path().join("small").join(f)).unwrap(),
            "{f}"
        );
    }
    if cfg!(target_os = "linux") {
        // The default run holds all 100,000 draws of every year (87 MB); the small budget a
        // few years at a time.
        assert!(default_peak > 80 << 20, "{default_peak}");
        assert!(small_peak < 56 << 20, "peak {small_peak} bytes with a 32 MiB budget");
    }
}
