//! Sub-national inputs of a scenario: mortality levels and migration schedules by region, read
//! from data files, the e0 intervals mortality uncertainty is calibrated to, and the move of a
//! census taken during the base year to its end.
//!
//! The files are made by `scenarios/make_subnational.py` from the 2010 and 2020 censuses
//! (`data/SOURCES.md` says how); a user can write their own in the same layout.

use std::collections::HashMap;

use super::data::{Csv, load_age_table};
use super::reader::Diags;
use super::tree::Origin;
use crate::demography::projection::{FertilityRates, advance_fraction};
use crate::demography::{N_AGES, Population};
use crate::dist::{Dist, DistSpec};

/// Largest mortality level a region may have relative to the national schedule (and the
/// smallest, its inverse): the provinces of China differ by a factor of about 2.3.
pub const MAX_LEVEL: f64 = 10.0;

/// Reads mortality levels by region: `region_code, multiplier, sdlog` (other columns ignored).
/// A region's level is `lognormal(ln multiplier, sdlog)` per draw, or the fixed multiplier when
/// `sdlog` is 0.
pub fn load_levels(csv: &Csv, diags: &mut Diags) -> HashMap<String, Dist> {
    let mut out = HashMap::new();
    let Some(cols) = csv.columns(&["region_code", "multiplier", "sdlog"], diags) else {
        return out;
    };
    for (line, row) in csv.rows.iter() {
        let (Some(m), Some(sd)) = (csv.number(*line, row, cols[1], diags), csv.number(*line, row, cols[2], diags)) else {
            continue;
        };
        if !(1.0 / MAX_LEVEL..=MAX_LEVEL).contains(&m) {
            csv.error_at(
                *line,
                row,
                cols[1],
                diags,
                format!("column 'multiplier': {m} is outside {} .. {MAX_LEVEL}", 1.0 / MAX_LEVEL),
            );
            continue;
        }
        if !(0.0..=2.0).contains(&sd) {
            csv.error_at(*line, row, cols[2], diags, format!("column 'sdlog': {sd} is outside 0 .. 2"));
            continue;
        }
        let code = row[cols[0]].trim().to_string();
        if out.contains_key(&code) {
            csv.error_at(*line, row, cols[0], diags, format!("region '{code}' is listed twice"));
            continue;
        }
        let dist = if sd == 0.0 {
            Dist::fixed(m)
        } else {
            match Dist::new(DistSpec::LogNormal {
                meanlog: m.ln(),
                sdlog: sd,
            }) {
                Ok(d) => d.clamped(1.0 / MAX_LEVEL, MAX_LEVEL),
                Err(e) => {
                    csv.error_at(*line, row, cols[2], diags, e.to_string());
                    continue;
                }
            }
        };
        out.insert(code, dist);
    }
    out
}

/// Net migration rates by region, sex and single age, per person per year.
pub type Schedule = [[f64; N_AGES]; 2];

/// Largest annual net migration rate of a schedule, per 1,000 (either sign).
pub const MAX_SCHEDULE_RATE: f64 = 500.0;

/// Reads migration schedules for the wanted regions in the census long layout with the column
/// `rate_per_1000` (annual net migrants per 1,000 residents of that sex and age group, at the
/// end-of-year age), each group's rate applying to every age in it.
pub fn load_schedules(csv: &Csv, wanted: &[(&str, &Origin)], diags: &mut Diags) -> HashMap<String, Box<Schedule>> {
    let table = load_age_table(csv, wanted, "rate_per_1000", (-MAX_SCHEDULE_RATE, MAX_SCHEDULE_RATE), diags);
    table
        .into_iter()
        .map(|(code, groups)| {
            let mut out = Box::new([[0.0; N_AGES]; 2]);
            for (sex, gs) in groups.iter().enumerate() {
                for g in gs {
                    let end = g.end.unwrap_or(N_AGES - 1).min(N_AGES - 1);
                    for x in g.start..=end {
                        out[sex][x] = g.count / 1000.0;
                    }
                }
            }
            (code, out)
        })
        .collect()
}

/// The 80% interval widths of e0 by sex in a file of the `wpp2024_china_e0_annual.csv` layout
/// (`year, e0_male_lower80, e0_male_upper80, e0_female_lower80, e0_female_upper80`), for the
/// rows that have them: `(decimal middle of the year, width)`, the first `years` years.
pub fn load_e0_widths(csv: &Csv, years: usize, diags: &mut Diags) -> Option<[Vec<(f64, f64)>; 2]> {
    let cols = csv.columns(
        &[
            "year",
            "e0_male_lower80",
            "e0_male_upper80",
            "e0_female_lower80",
            "e0_female_upper80",
        ],
        diags,
    )?;
    let before = diags.list.len();
    let mut out: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
    for (line, row) in csv.rows.iter() {
        if row[cols[1]].trim().is_empty() {
            continue; // an estimate, without bounds
        }
        let Some(year) = csv.number(*line, row, cols[0], diags) else {
            continue;
        };
        for sex in 0..2 {
            let (lo, hi) = (cols[1 + 2 * sex], cols[2 + 2 * sex]);
            let (Some(a), Some(b)) = (csv.number(*line, row, lo, diags), csv.number(*line, row, hi, diags)) else {
                continue;
            };
            if b < a {
                csv.error_at(*line, row, hi, diags, format!("the upper bound {b} is below the lower bound {a}"));
                continue;
            }
            if out[sex].len() < years {
                out[sex].push((year + 0.5, b - a));
            }
        }
    }
    if diags.list.len() > before {
        return None;
    }
    if out[0].is_empty() || out[1].is_empty() {
        diags.error(&csv_origin(csv), "no rows with 80% bounds of e0 in this file");
        return None;
    }
    Some(out)
}

fn csv_origin(csv: &Csv) -> super::tree::Origin {
    super::tree::Origin::File {
        path: csv.path.clone(),
        line: 1,
        col: 1,
    }
}

/// A calendar date `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut it = s.trim().split('-');
        let (y, m, d) = (it.next()?, it.next()?, it.next()?);
        if it.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let (year, month, day) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
        ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)).then_some(Date { year, month, day })
    }

    /// The part of its year that lies after the start of this day: 61/365 from 1 November, 0
    /// from 1 January of the next year (not a date of this year), 1 from 1 January.
    pub fn part_of_year_left(self) -> f64 {
        let days: u32 = if is_leap(self.year) { 366 } else { 365 };
        let before: u32 = (1..self.month).map(|m| days_in_month(self.year, m)).sum::<u32>() + self.day - 1;
        f64::from(days - before) / f64::from(days)
    }

    /// The part of its year that has passed at the start of this day.
    pub fn part_of_year_passed(self) -> f64 {
        1.0 - self.part_of_year_left()
    }
}

/// What moves a region's base population from its count date to the end of the base year.
pub struct YearEndShift<'a> {
    /// Part of the year left after the count (2/12 after 1 November).
    pub h: f64,
    /// Death rates by sex and age at that time of the base year (the national schedule moved on
    /// by the mean drift), before the region's level.
    pub m: &'a [[f64; N_AGES]; 2],
    pub shape: &'a [f64; N_AGES],
    pub male_share: f64,
}

/// Moves `pop`, counted `shift.h` of a year before the end of the base year, to the end of the
/// year with the central values of the region's inputs: its mortality level, total fertility
/// rate and net migration ([`advance_fraction`]). Two months of a projection hardly depend on
/// their uncertainty, so this is done once, not per draw.
pub fn move_to_year_end(pop: &mut Population, shift: &YearEndShift<'_>, level: f64, tfr: f64, migration: &Schedule, inflow: &Schedule) {
    let m: [[f64; N_AGES]; 2] = std::array::from_fn(|sex| std::array::from_fn(|x| shift.m[sex][x] * level));
    let fert = FertilityRates {
        tfr,
        shape: shift.shape,
        male_share: shift.male_share,
    };
    advance_fraction(pop, shift.h, &m, fert, migration, inflow);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_the_part_of_the_year_left() {
        let census = Date::parse("2020-11-01").unwrap();
        assert_eq!(census.part_of_year_left(), 61.0 / 366.0);
        assert_eq!(Date::parse("2019-11-01").unwrap().part_of_year_left(), 61.0 / 365.0);
        assert_eq!(Date::parse("2010-01-01").unwrap().part_of_year_left(), 1.0);
        assert_eq!(Date::parse("2010-12-31").unwrap().part_of_year_left(), 1.0 / 365.0);
        assert!((Date::parse("2010-07-01").unwrap().part_of_year_passed() - 181.0 / 365.0).abs() < 1e-15);
        for bad in [
            "2020-02-30",
            "2021-02-29",
            "2020-13-01",
            "2020-1-01",
            "20-11-01",
            "2020-11-01-02",
            "x",
        ] {
            assert!(Date::parse(bad).is_none(), "{bad}");
        }
        assert!(Date::parse("2020-02-29").is_some());
    }
}
