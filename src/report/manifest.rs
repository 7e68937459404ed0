//! The run manifest (`manifest.json`): what was run, on what, by which program, when.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::scenario::{Drift, Scenario};

/// Contents of `manifest.json`.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub program: &'static str,
    pub version: &'static str,
    pub scenario: String,
    pub description: String,
    /// Language of the charts and reports.
    pub lang: crate::lang::Lang,
    pub scenario_path: String,
    pub inputs: Vec<InputRecord>,
    pub overrides: Vec<String>,
    /// With `run --only`: the regions and groups the run was restricted to.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    pub seed: u64,
    pub draws: usize,
    pub threads: usize,
    /// Which build of the engine's vector code ran: "avx512", "avx2" or "baseline" (the same
    /// bits; it says what the timings were measured with).
    pub vectors: &'static str,
    pub base_year: i32,
    pub horizon: i32,
    pub elderly_age: usize,
    /// Year of the observed bed stock (years before it report that stock).
    pub stock_year: i32,
    pub confidence: f64,
    pub started_utc: String,
    /// Wall time of the whole run, and of its stages.
    pub duration_seconds: f64,
    pub stage_seconds: Stages,
    /// Largest resident memory of the run up to the writing of the manifest (Linux only).
    pub peak_memory_bytes: Option<u64>,
    pub command_line: Vec<String>,
    pub conventions: Vec<&'static str>,
    pub base: BaseRecord,
    pub mortality: MortalityRecord,
    /// With observations: the effective sample size and how each observation fits.
    pub conditioning: Option<crate::montecarlo::observe::Conditioned>,
    /// Every sampled input as the scenario wrote it.
    pub assumptions: Vec<crate::scenario::Assumption>,
}

/// Wall time of the stages of a run, in seconds.
#[derive(Debug, Serialize, Default, Clone, Copy)]
pub struct Stages {
    pub check: f64,
    pub simulate: f64,
    pub tables: f64,
    /// Reading the saved tables back for the charts and documents.
    pub read_back: f64,
    pub charts: f64,
    /// `report.xlsx` and `report.html`.
    pub workbook: f64,
    pub html: f64,
    /// How the simulation's time divides between the engine's stages, and how it split the
    /// work.
    pub engine: crate::montecarlo::RunTiming,
}

/// The largest resident memory of this process so far, in bytes (Linux's `VmHWM`; `None`
/// elsewhere).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[derive(Debug, Serialize)]
pub struct InputRecord {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Serialize)]
pub struct MortalityRecord {
    pub fitted_periods: String,
    pub fitted_drift_per_year: [f64; 2],
    pub fitted_drift_se: [f64; 2],
    /// Sigma of the Lee-Carter residuals (before any calibration).
    pub fitted_sigma: [f64; 2],
    /// `[sigma, drift_se]` per sex that give the e0 intervals of `calibrate_to`, when given.
    pub calibrated_to_e0_intervals: Option<[[f64; 2]; 2]>,
    pub sigma_used: [f64; 2],
    pub drift_used: String,
    pub base_period_e0: [f64; 2],
    /// Decimal year at which k is at its base value (the middle of the base period).
    pub base_period_middle: f64,
    /// Regions with a mortality level of their own (not 1).
    pub regions_with_own_level: usize,
}

/// How the base population was moved to the end of the base year.
#[derive(Debug, Clone, Serialize)]
pub struct BaseRecord {
    /// Part of the base year between the count date and 31 December.
    pub years_moved: f64,
    pub method: &'static str,
}

/// The method of [`BaseRecord`].
pub const BASE_METHOD: &str = "fractional step from the count date to 31 December: that part of a year of ageing (a share of each single-year age moves up), of the base schedule's death rates times each region's central level, of births and of net migration (central values)";

/// What the run needs to say about its conventions (read by users of the tables).
pub const CONVENTIONS: [&str; 5] = [
    "values for year t are stocks at 31 December of year t; the base population is moved there from its count date (see base)",
    "survival over a year is the life table's L(x+1)/L(x) of the year's death rates (T(100)/T(99) for 99 and 100+); a region with mortality level c survives with S^c",
    "group figures are computed per draw from their members, then summarised",
    "quantiles are type 7 (R and numpy default) over the draws where a value is defined",
    "arrays by sex are [male, female]",
];

impl Manifest {
    /// Builds the manifest of a finished run.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        s: &Scenario,
        scenario_path: &str,
        overrides: &[String],
        threads: usize,
        confidence: f64,
        started: SystemTime,
        duration_seconds: f64,
        stage_seconds: Stages,
    ) -> Manifest {
        let f = &s.mortality.fitted;
        Manifest {
            program: "bedsim",
            version: env!("CARGO_PKG_VERSION"),
            scenario: s.name.clone(),
            description: s.description.clone(),
            lang: s.lang,
            scenario_path: scenario_path.to_string(),
            inputs: s
                .inputs
                .iter()
                .map(|i| InputRecord {
                    path: i.path.clone(),
                    sha256: i.sha256.clone(),
                })
                .collect(),
            overrides: overrides.to_vec(),
            only: Vec::new(),
            seed: s.seed,
            draws: s.draws,
            threads,
            vectors: crate::montecarlo::vector_build(),
            base_year: s.base_year,
            horizon: s.horizon,
            elderly_age: s.elderly_age,
            stock_year: s.capacity.stock_year,
            confidence,
            started_utc: rfc3339(started),
            duration_seconds,
            stage_seconds,
            peak_memory_bytes: peak_memory_bytes(),
            command_line: std::env::args().collect(),
            conventions: CONVENTIONS.to_vec(),
            conditioning: s.conditioned.as_deref().cloned(),
            assumptions: s.assumptions.clone(),
            base: BaseRecord {
                years_moved: s.base_shift,
                method: BASE_METHOD,
            },
            mortality: MortalityRecord {
                fitted_periods: format!("{}-{}", f.periods.0, f.periods.1),
                fitted_drift_per_year: f.drift,
                fitted_drift_se: f.drift_se,
                fitted_sigma: f.sigma,
                calibrated_to_e0_intervals: f.calibrated.map(|c| [[c[0].0, c[1].0], [c[0].1, c[1].1]]),
                sigma_used: s.mortality.sigma,
                drift_used: match &s.mortality.drift {
                    Drift::Fitted { se, .. } => format!("normal(fitted drift, drift_se {:.4} / {:.4}) per draw", se[0], se[1]),
                    Drift::Given(d) => format!("given: {d:?}"),
                },
                base_period_e0: f.base_e0,
                base_period_middle: s.mortality.base_mid,
                regions_with_own_level: s.regions.iter().filter(|r| r.has_own_mortality_level()).count(),
            },
        }
    }

    /// Pretty JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Formats a time as RFC 3339 UTC (civil-from-days, H. Hinnant's algorithm).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(1_795_000_000)), "2026-11-18T11:06:40Z");
    }
}
