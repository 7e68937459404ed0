//! The metrics computed per unit, year and draw: what the engine writes, targets test and
//! observations condition on.

/// Metrics computed per unit, year and draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    PopulationTotal,
    Elderly,
    ElderlyRegistered,
    Aged65Plus,
    Aged80Plus,
    DependentPartial,
    DependentFull,
    DemandInstitutional,
    DemandNursing,
    SeasonalDemand,
    BedsInstitutional,
    BedsNursing,
    BedsCommunity,
    BedsTotal,
    UnmetNursingNeed,
    Caregivers,
    BedsPer1000Elderly,
    BedsPer1000Registered,
    NursingShare,
    DemandSupplyRatio,
    CaregiversPer10000Elderly,
}

/// Number of metrics.
pub const N_METRICS: usize = 21;
/// Metrics `0..N_STORED` are counts: they are what a run keeps per draw and what groups sum.
/// The rest are ratios computed per draw from those counts.
pub const N_STORED: usize = 16;
/// Five-year age groups of the population pyramid: 0-4, ..., 95-99, 100+.
pub const AGE_GROUPS: usize = 21;
/// Pyramid cells of a unit summary: (base year, horizon) x (male, female) x age group.
pub const PYRAMID_CELLS: usize = 4 * AGE_GROUPS;

/// Rows of per-draw values a unit has over a whole run: the counts of every year
/// (`year * N_STORED + metric`), then the horizon pyramid (`sex * AGE_GROUPS + group`).
pub fn full_rows(n_years: usize) -> usize {
    n_years * N_STORED + 2 * AGE_GROUPS
}

impl Metric {
    pub const ALL: [Metric; N_METRICS] = [
        Metric::PopulationTotal,
        Metric::Elderly,
        Metric::ElderlyRegistered,
        Metric::Aged65Plus,
        Metric::Aged80Plus,
        Metric::DependentPartial,
        Metric::DependentFull,
        Metric::DemandInstitutional,
        Metric::DemandNursing,
        Metric::SeasonalDemand,
        Metric::BedsInstitutional,
        Metric::BedsNursing,
        Metric::BedsCommunity,
        Metric::BedsTotal,
        Metric::UnmetNursingNeed,
        Metric::Caregivers,
        Metric::BedsPer1000Elderly,
        Metric::BedsPer1000Registered,
        Metric::NursingShare,
        Metric::DemandSupplyRatio,
        Metric::CaregiversPer10000Elderly,
    ];

    /// Column name in tables.
    pub fn name(self) -> &'static str {
        match self {
            Metric::PopulationTotal => "population_total",
            Metric::Elderly => "elderly",
            Metric::ElderlyRegistered => "elderly_registered",
            Metric::SeasonalDemand => "seasonal_demand_beds",
            Metric::Caregivers => "caregivers",
            Metric::BedsPer1000Registered => "beds_per_1000_registered_elderly",
            Metric::CaregiversPer10000Elderly => "caregivers_per_10000_elderly",
            Metric::Aged65Plus => "aged_65_plus",
            Metric::Aged80Plus => "aged_80_plus",
            Metric::DependentPartial => "dependent_partial",
            Metric::DependentFull => "dependent_full",
            Metric::DemandInstitutional => "demand_institutional_beds",
            Metric::DemandNursing => "demand_nursing_beds",
            Metric::BedsInstitutional => "beds_institutional",
            Metric::BedsNursing => "beds_nursing",
            Metric::BedsCommunity => "beds_community",
            Metric::BedsTotal => "beds_total",
            Metric::UnmetNursingNeed => "unmet_nursing_need",
            Metric::BedsPer1000Elderly => "beds_per_1000_elderly",
            Metric::NursingShare => "nursing_share",
            Metric::DemandSupplyRatio => "demand_supply_ratio",
        }
    }

    /// Unit of the metric, for tables and chart axes.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::PopulationTotal | Metric::Elderly | Metric::ElderlyRegistered | Metric::Aged65Plus | Metric::Aged80Plus => "persons",
            Metric::Caregivers => "certified caregivers",
            Metric::SeasonalDemand => "beds",
            Metric::BedsPer1000Registered => "beds per 1,000 registered elderly",
            Metric::CaregiversPer10000Elderly => "caregivers per 10,000 elderly",
            Metric::DependentPartial | Metric::DependentFull => "persons",
            Metric::DemandInstitutional | Metric::DemandNursing | Metric::UnmetNursingNeed => "beds",
            Metric::BedsInstitutional | Metric::BedsNursing | Metric::BedsCommunity | Metric::BedsTotal => "beds",
            Metric::BedsPer1000Elderly => "beds per 1,000 elderly",
            Metric::NursingShare => "share of institutional beds",
            Metric::DemandSupplyRatio => "institutional demand / institutional beds",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
