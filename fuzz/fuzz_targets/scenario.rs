//! Scenario files: arbitrary bytes as the text of a scenario in `scenarios/`, read, overridden
//! (`#--set PATH=VALUE` lines) and checked with the repository's real data files, as
//! `bedsim check` does. The body is shared with the regression test over the committed corpus.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tests/cli/fuzz_corpus/harness.rs"]
mod harness;

fn repo() -> &'static PathBuf {
    static REPO: OnceLock<PathBuf> = OnceLock::new();
    REPO.get_or_init(|| {
        let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        repo.canonicalize().unwrap_or(repo)
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = harness::scenario(data, repo());
});
