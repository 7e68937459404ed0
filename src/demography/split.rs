//! Splitting census 5-year age groups into single years.
//!
//! Smooth splits (Sprague, Beers, splines) cannot see sharp cohort features: the 2020 group aged
//! 55-59 holds the famine trough of 1959-61 and the boom of 1962-65. So each group is split in
//! proportion to a single-year *shape* profile (China's national one), which carries those
//! features, and every group total is kept exactly. The open group (85+ in county tables) is
//! split over 85..=100+ the same way.
//!
//! The national single-year table is the average population over the year before census day,
//! so it is about half a year younger than census-day counts. A person aged x on census day was
//! aged x or x-1 at the middle of that year, in about equal parts, so the census-day shape at age
//! x is taken as the mean of the profile at x-1 and x (at age 0, the profile at 0; at 100+, the
//! profile at 99 and 100+ because survivors of 99 join the open group).

use super::AgeGroup;
use super::{N_AGES, Population};

/// Shifts a mid-year-average single-age profile half a year older, to census-day shape.
pub fn census_day_shape(profile: &Population) -> Population {
    let mut out = [[0.0; N_AGES]; 2];
    for s in 0..2 {
        out[s][0] = profile[s][0];
        for x in 1..N_AGES {
            out[s][x] = 0.5 * (profile[s][x - 1] + profile[s][x]);
        }
    }
    out
}

/// Splits one sex's groups into single years 0..=100 in proportion to `shape`, keeping each
/// group total exactly. Groups must be contiguous from 0 with the last one open (checked by the
/// loader).
pub fn split_groups(groups: &[AgeGroup], shape: &[f64; N_AGES]) -> [f64; N_AGES] {
    let mut out = [0.0; N_AGES];
    for g in groups {
        let end = g.end.unwrap_or(N_AGES - 1).min(N_AGES - 1);
        let ages = g.start..=end;
        let weight: f64 = shape[ages.clone()].iter().sum();
        let n = (end + 1 - g.start) as f64;
        for x in ages {
            out[x] = if weight > 0.0 { g.count * shape[x] / weight } else { g.count / n };
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_group_totals_and_follows_shape() {
        let mut shape = [1.0; N_AGES];
        shape[57] = 3.0; // a cohort bump inside 55-59
        let groups = vec![
            AgeGroup {
                start: 0,
                end: Some(54),
                count: 5500.0,
            },
            AgeGroup {
                start: 55,
                end: Some(59),
                count: 700.0,
            },
            AgeGroup {
                start: 60,
                end: None,
                count: 410.0,
            },
        ];
        let out = split_groups(&groups, &shape);
        assert!((out[55..=59].iter().sum::<f64>() - 700.0).abs() < 1e-9);
        assert!((out[60..].iter().sum::<f64>() - 410.0).abs() < 1e-9);
        assert!((out[57] - 300.0).abs() < 1e-9 && (out[56] - 100.0).abs() < 1e-9);
    }
}
