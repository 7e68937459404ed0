//! The committed fuzz corpus (`tests/fuzz_corpus/`) run through the bodies of the fuzz targets
//! (`fuzz_corpus/harness.rs`, which `fuzz/fuzz_targets/*.rs` include too): no input may panic or
//! break a rule of the harness, and every input that once did gives its diagnostic now.
//! docs/fuzzing.md says how the corpus was made and how to fuzz further.

#[allow(dead_code)]
mod harness;

use std::path::PathBuf;

use super::{bedsim, repo, small_scenario, write};
use harness::Outcome;

/// Committed files stay small (the fuzzer itself runs CSV inputs up to 256 KB).
const MAX_COMMITTED: u64 = 64 * 1024;

/// Inputs that crashed (or broke a harness rule) before their fix, found by the fuzzer
/// (`crash-*`) or by reading the code while writing the harness (`review-*`): target folder,
/// file, and a diagnostic that must be among the input's diagnostics now.
const REPRODUCERS: &[(&str, &str, &str)] = &[
    (
        "csv",
        "crash-mx-no-usable-rows.csv",
        "fuzz.csv:1:1: no usable rows of death rates in this file",
    ),
    (
        "csv",
        "review-mx-overlapping-periods.csv",
        "fuzz.csv:1:1: periods 1985-2010 and 1990-1995 overlap",
    ),
    (
        "csv",
        "review-mx-period-end-overflow.csv",
        "fuzz.csv:3:1: impossible period 2015-3000000000",
    ),
];

fn corpus(kind: &str) -> Vec<PathBuf> {
    let dir = repo().join("tests/fuzz_corpus").join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `f` on every file of a corpus folder and reports every file that panicked (with the
/// harness's message) at once.
fn run_corpus(kind: &str, min_files: usize, f: impl Fn(&[u8]) -> Option<String>) {
    let files = corpus(kind);
    assert!(files.len() >= min_files, "{kind}: only {} files", files.len());
    let mut failures = Vec::new();
    for p in &files {
        let bytes = std::fs::read(p).unwrap();
        assert!(bytes.len() as u64 <= MAX_COMMITTED, "{} is over {MAX_COMMITTED} bytes", p.display());
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&bytes))) {
            Ok(None) => {}
            Ok(Some(problem)) => failures.push(format!("{}: {problem}", p.display())),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                failures.push(format!("{}: panicked: {msg}", p.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {kind} inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

#[test]
fn fuzz_corpus_scenarios_never_panic() {
    let repo = repo();
    run_corpus("scenario", 20, |bytes| match harness::scenario(bytes, &repo) {
        Outcome::Valid | Outcome::Invalid(_) => None,
        Outcome::Skipped => Some("names a data file outside data/: the fuzz targets skip it, so it tests nothing".into()),
    });
}

#[test]
fn fuzz_corpus_csv_files_never_panic() {
    run_corpus("csv", 20, |bytes| {
        harness::csv(bytes);
        None
    });
}

#[test]
fn fuzz_corpus_reproducers_give_their_diagnostics() {
    let repo = repo();
    for (kind, file, expected) in REPRODUCERS {
        let p = repo.join("tests/fuzz_corpus").join(kind).join(file);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let diagnostics = match *kind {
            "scenario" => match harness::scenario(&bytes, &repo) {
                Outcome::Invalid(d) => d,
                other => panic!("{file}: expected diagnostics, got {other:?}"),
            },
            _ => harness::csv(&bytes),
        };
        assert!(
            diagnostics.iter().any(|d| d.contains(expected)),
            "{file}: expected a diagnostic containing {expected:?}, got:\n{}",
            diagnostics.join("\n")
        );
    }
}

/// The first crash the fuzzer found, end to end: `bedsim check` on a scenario whose mortality file
/// has only malformed rows panicked (exit 101); now exit 2 and a diagnostic for each problem.
#[test]
fn check_reports_a_death_rate_file_without_usable_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mx = repo().join("tests/fuzz_corpus/csv/crash-mx-no-usable-rows.csv");
    let original = repo().join("data/wpp2024_china_mx_age5_sex.csv");
    let text = small_scenario().replace(&original.display().to_string(), &mx.display().to_string());
    let s = write(dir.path(), "s.toml", &text);
    let out = bedsim(dir.path()).args(["check", s.to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let shown = mx.display();
    assert!(
        stderr.contains(&format!("{shown}:2:1: ragged row: 1 fields where the header has 5")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("{shown}:1:1: no usable rows of death rates in this file")),
        "{stderr}"
    );
}
