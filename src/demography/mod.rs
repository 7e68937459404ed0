//! Population: base population by single year of age, mortality, and the one-year
//! cohort-component step.
//!
//! State is persons by sex and single age 0..=100, 100 being the open group 100+.

pub mod lifetable;
pub mod mortality;
pub mod projection;
pub mod split;

/// Number of single-year age classes: 0..=99 and the open 100+.
pub const N_AGES: usize = 101;
/// The open age class (100+).
pub const OPEN_AGE: usize = 100;

/// Sex, also the index into `[male, female]` arrays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    Male = 0,
    Female = 1,
}

/// Persons by sex (`[male, female]`) and single age.
pub type Population = [[f64; N_AGES]; 2];

/// Total persons aged `from` and over.
pub fn aged_at_least(pop: &Population, from: usize) -> f64 {
    let from = from.min(N_AGES);
    pop[0][from..].iter().sum::<f64>() + pop[1][from..].iter().sum::<f64>()
}

/// One age group of a census table: ages `start..=end` (`end = None` for the open group).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgeGroup {
    pub start: usize,
    pub end: Option<usize>,
    pub count: f64,
}
