//! The draws a scenario runs once it is conditioned on its observations (computed by
//! [`crate::montecarlo::observe`]).

/// What conditioning found about one observation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fit {
    pub observation: String,
    pub value: f64,
    pub sd: f64,
    /// p05, p50, p95 of the observed metric over the scenario's draws (before conditioning).
    pub prior: [f64; 3],
    /// The effective sample size this observation alone would leave.
    pub effective_draws_alone: f64,
    /// How far the closest draw lies from the figure, in measurement errors.
    pub closest_in_errors: f64,
}

/// The conditioned draws of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Conditioned {
    /// Stream ids of the run's draws, in order: the scenario's draws resampled by weight.
    #[serde(skip)]
    pub draw_ids: Vec<u64>,
    /// Effective sample size of the weights.
    pub effective_draws: f64,
    /// Distinct draws kept by the resampling.
    pub distinct_draws: usize,
    pub fits: Vec<Fit>,
}

impl Conditioned {
    /// The observation that fits the scenario worst: one that no draw comes near, else the one
    /// that alone leaves the fewest effective draws.
    pub fn least_consistent(&self) -> Option<&Fit> {
        let far = self.fits.iter().max_by(|a, b| a.closest_in_errors.total_cmp(&b.closest_in_errors));
        match far {
            Some(f) if f.closest_in_errors > FAR_IN_ERRORS => Some(f),
            _ => self
                .fits
                .iter()
                .min_by(|a, b| a.effective_draws_alone.total_cmp(&b.effective_draws_alone)),
        }
    }

    /// Whether the conditioned draws deserve a warning: too few effective draws, or an
    /// observation no draw comes near (then weighting cannot help, however many draws agree).
    pub fn is_doubtful(&self) -> bool {
        self.effective_draws < FEW_EFFECTIVE_DRAWS || self.fits.iter().any(|f| f.closest_in_errors > FAR_IN_ERRORS)
    }
}

/// An observation further than this many measurement errors from every draw is inconsistent
/// with the scenario.
pub const FAR_IN_ERRORS: f64 = 4.0;

/// Fewer effective draws than this is warned about.
pub const FEW_EFFECTIVE_DRAWS: f64 = 100.0;
