//! Integration tests: the real `bedsim` binary on real files, and the library on the shipped
//! data. One test binary (each extra one would link polars again).

mod bad_input;
mod charts;
mod documents;
mod engine;
mod faults;
mod fuzz_corpus;
mod plans;
mod run;
mod scheduler;
mod subnational;
mod sweep;
mod validation;
mod values;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A small scenario over two Pingliang counties and their city, with absolute data paths so it
/// can be written anywhere. Tests edit its text to make bad inputs.
pub fn small_scenario() -> String {
    let data = repo().join("data");
    let d = data.display();
    format!(
        r#"name = "small"
description = "two counties for tests"
base_year = 2020
horizon = 2030
draws = 200
seed = 7

[population]
file = "{d}/census2020_target_regions_age5_sex.csv"
shape_file = "{d}/china_2020_pop_single_age_sex.csv"

[[group]]
id = "city"
name = "平凉市"

[[region]]
id = "620802"
name = "崆峒区"
group = "city"

[[region]]
id = "620821"
name = "泾川县"
group = "city"

[mortality]
file = "{d}/wpp2024_china_mx_age5_sex.csv"
base_period = 2015
fit_from = 1980
fit_to = 2020

[fertility]
tfr = {{ dist = "uniform", low = 1.1, high = 1.5 }}

[migration]
rate_per_1000 = {{ dist = "normal", mean = -3, sd = 2 }}

[care]
age_bands = [60, 70, 80]
partial = [0.078, 0.143, 0.271]
full = [0.026, 0.061, 0.181]
level = {{ dist = "lognormal", meanlog = 0.0, sdlog = 0.2 }}
uptake_independent = 0.01
uptake_partial = {{ dist = "beta", alpha = 5, beta = 95 }}
uptake_full = 0.15

[capacity]
stock_year = 2020

[[capacity.stock]]
group = "city"
institutional = 6000
nursing = 2500
community = {{ dist = "uniform", low = 3000, high = 6000 }}

[[plan]]
id = "new-home"
kind = "new"
region = "620821"
year = 2022
beds = 300
nursing_share = 0.8

[[target]]
id = "beds-2025"
metric = "beds_per_1000_elderly"
threshold = 35
year = 2025

[[target]]
id = "nursing-2025"
metric = "nursing_share"
threshold = 0.55
year = 2025
"#
    )
}

/// Writes `text` as `name` in `dir` and returns its path.
/// `--set` texts as typed overrides, for the library's `scenario::load`.
pub fn sets<S: AsRef<str>>(texts: &[S]) -> Vec<bedsim::scenario::Override> {
    bedsim::scenario::Override::sets(texts).expect("PATH=VALUE overrides")
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Reads a CSV result into rows of column -> value.
pub fn read_rows(path: &Path) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_string).collect();
    r.records()
        .map(|rec| header.iter().cloned().zip(rec.unwrap().iter().map(str::to_string)).collect())
        .collect()
}

/// The bedsim binary, run in `dir`.
pub fn bedsim(dir: &Path) -> assert_cmd::Command {
    let mut c = assert_cmd::Command::cargo_bin("bedsim").unwrap();
    c.current_dir(dir);
    c
}
