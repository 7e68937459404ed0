//! bedsim: will an elderly-care build plan meet its targets, with what probability, and what
//! would it take?
//!
//! A Monte Carlo engine projects the population of each county by single year of age and sex
//! (cohort-component, Lee-Carter mortality with national shocks, fertility, migration), the
//! care need of its elderly, and its bed capacity as the build plan is realised with delays,
//! cancellations and shortfalls; it reports per region, group and year the distribution of
//! every metric and the probability of meeting each target.
//!
//! Layout: [`scenario`] reads and checks inputs; [`demography`], [`care`], [`capacity`] and
//! [`montecarlo`] are the engine (no files, tables or charts); [`report`] writes tables and the
//! run manifest; `cli` and `main` are the program.

// Numerical loops over sex and single age index several arrays at once, as the formulas do;
// iterator chains would hide that.
#![allow(clippy::needless_range_loop)]

pub mod backtest;
pub mod capacity;
pub mod care;
pub mod demography;
pub mod dist;
pub mod lang;
pub mod metric;
pub mod montecarlo;
#[cfg(feature = "report")]
pub mod report;
pub mod scenario;
pub mod sensitivity;
pub mod streams;
