//! A scenario's later census (`[backtest]`), which [`crate::backtest`] sets the projection
//! against.

use super::Unit;
use crate::metric::Metric;

/// The metrics a census gives: total, elderly, 65+, 80+.
pub const METRICS: [Metric; 4] = [Metric::PopulationTotal, Metric::Elderly, Metric::Aged65Plus, Metric::Aged80Plus];

/// One unit of the later census.
#[derive(Debug, Clone)]
pub struct Observed {
    pub unit: Unit,
    /// What kind of unit it is, for the coverage table (`province`, `county`, ...).
    pub level: String,
    /// Counts moved to the end of the census year, in [`METRICS`] order.
    pub counts: [f64; 4],
}

/// The later census of a scenario.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// Year of the census (its counts are compared with the projection of that year's end).
    pub year: i32,
    /// The census date as written, for reports.
    pub date: String,
    pub units: Vec<Observed>,
}
