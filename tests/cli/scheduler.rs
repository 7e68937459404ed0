//! `--shard auto`: the shard from a scheduler's array index (Slurm, Kubernetes Indexed Jobs,
//! AWS Batch), and a shard retried by the scheduler resuming from its finished points.

use std::time::Duration;

use super::{bedsim, small_scenario, write};

/// Every variable `--shard auto` reads, removed so that a test run under a scheduler is not
/// confused by its own task's.
const SCHEDULER_VARS: [&str; 7] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_STEP",
    "JOB_COMPLETION_INDEX",
    "AWS_BATCH_JOB_ARRAY_INDEX",
];

/// A scheduler's variables for one task.
type Env<'a> = &'a [(&'a str, &'a str)];

const SWEEP: [&str; 12] = [
    "sweep",
    "s.toml",
    "--draws",
    "80",
    "--vary",
    "plan.new-home.beds=0..3000",
    "--vary",
    "care.level.sdlog=0.1..0.3",
    "--method",
    "lhs",
    "--samples",
    "24",
];

fn command(dir: &std::path::Path, env: &[(&str, &str)]) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("bedsim"));
    c.current_dir(dir);
    for v in SCHEDULER_VARS {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

#[test]
fn shard_auto_takes_the_task_from_slurm_kubernetes_or_aws_batch() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let whole = command(dir.path(), &[])
        .args(SWEEP)
        .args(["--out", "whole", "--quiet"])
        .output()
        .unwrap();
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    // Shard 1 from a Slurm array 0-2, shard 2 from a Kubernetes Indexed Job, shard 3 from an
    // AWS Batch array job; each writes to the folder its shard names by default.
    let tasks: [(Env<'_>, &str); 3] = [
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "0"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_MAX", "2"),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ],
            "auto",
        ),
        (&[("JOB_COMPLETION_INDEX", "1")], "auto/3"),
        (&[("AWS_BATCH_JOB_ARRAY_INDEX", "2")], "auto/3"),
    ];
    for (env, arg) in tasks {
        let o = command(dir.path(), env)
            .args(SWEEP)
            .args(["--shard", arg, "--quiet"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{arg}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let shards: Vec<String> = (1..=3).map(|k| format!("results/small-sweep-lhs-shard-{k}-of-3")).collect();
    let m = command(dir.path(), &[])
        .arg("merge")
        .args(&shards)
        .args(["--out", "merged"])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("whole/sweep.csv")).unwrap(),
        std::fs::read(dir.path().join("merged/sweep.csv")).unwrap()
    );

    // No index, a count Kubernetes cannot give, and schedulers that disagree: exit 2, nothing run.
    let cases: [(Env<'_>, &str, &str); 3] = [
        (&[], "auto", "no scheduler's array index is set"),
        (&[("JOB_COMPLETION_INDEX", "1")], "auto", "use --shard auto/N"),
        (
            &[
                ("SLURM_ARRAY_TASK_ID", "3"),
                ("SLURM_ARRAY_TASK_MIN", "0"),
                ("SLURM_ARRAY_TASK_COUNT", "4"),
                ("AWS_BATCH_JOB_ARRAY_INDEX", "0"),
            ],
            "auto/4",
            "Slurm says shard 4/4 but AWS Batch says 1/4",
        ),
    ];
    for (env, arg, message) in cases {
        let o = command(dir.path(), env)
            .args(SWEEP)
            .args(["--shard", arg, "--out", "nothing"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{arg} {env:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(message), "{err}");
        assert!(!dir.path().join("nothing").exists());
    }
    // A run shard takes it the same way.
    let o = command(dir.path(), &[("JOB_COMPLETION_INDEX", "0")])
        .args(["run", "s.toml", "--draws", "50", "--shard", "auto/2", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(dir.path().join("results/small-shard-1-of-2/manifest.json").is_file());
}

#[test]
fn a_shard_the_scheduler_retries_resumes_from_its_finished_points() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "s.toml", &small_scenario());
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "1"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_MAX", "1"),
    ];
    let mut sweep: Vec<&str> = SWEEP.to_vec();
    sweep[11] = "120";
    // The first attempt is preempted (killed) once some of its points are done.
    let mut child = command(dir.path(), &slurm)
        .args(&sweep)
        .args(["--shard", "auto"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let partial = dir.path().join("results/.small-sweep-lhs-shard-2-of-2.partial");
    for _ in 0..400 {
        std::thread::sleep(Duration::from_millis(25));
        if std::fs::read_dir(&partial).map(|d| d.count() > 4).unwrap_or(false) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(partial.is_dir(), "the killed attempt kept its finished points");
    // The scheduler starts the task again, with the same variables.
    let o = command(dir.path(), &slurm)
        .args(&sweep)
        .args(["--shard", "auto", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let resumed = doc["points_resumed"].as_u64().unwrap();
    let run = doc["points_run"].as_u64().unwrap();
    assert!(resumed > 0 && run > 0, "{doc}");
    assert_eq!(resumed + run, 60, "shard 2 of 2 owns 60 of the 120 points");
    // Its merge with shard 1 is the single-machine sweep.
    let o = command(dir.path(), &[])
        .args(&sweep)
        .args(["--shard", "1/2", "--quiet"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let whole = command(dir.path(), &[])
        .args(&sweep)
        .args(["--out", "whole", "--quiet"])
        .output()
        .unwrap();
    assert!(whole.status.success());
    let m = bedsim(dir.path())
        .args([
            "merge",
            "results/small-sweep-lhs-shard-1-of-2",
            "results/small-sweep-lhs-shard-2-of-2",
            "--out",
            "merged",
        ])
        .output()
        .unwrap();
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    assert_eq!(
        std::fs::read(dir.path().join("whole/sweep.csv")).unwrap(),
        std::fs::read(dir.path().join("merged/sweep.csv")).unwrap()
    );
}
