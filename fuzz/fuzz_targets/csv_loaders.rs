//! CSV data files: arbitrary bytes given to every loader (census population, single-age shape
//! profile, WPP death rates, region values) and to what the scenario computes from each. The
//! body is shared with the regression test over the committed corpus.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../tests/cli/fuzz_corpus/harness.rs"]
mod harness;

fuzz_target!(|data: &[u8]| {
    let _ = harness::csv(data);
});
