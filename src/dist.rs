//! Probability distributions for uncertain scenario inputs.
//!
//! Every uncertain input of a scenario is a [`Dist`]. A `Dist` can only be built through
//! [`Dist::new`], which checks its parameters ([`Dist::fixed`] and [`Dist::clamped`] aside, which
//! cannot make an invalid one; its form is private), so the engine never meets a negative standard
//! deviation or probabilities that do not sum to one.
//!
//! Continuous distributions are sampled by inverse transform from one uniform number. With
//! common random numbers (the same stream at every sweep point) a change of a parameter then
//! moves each sample smoothly instead of reshuffling it. The beta distribution has no closed-form
//! quantile and is sampled with `rand_distr`; its stream is still its own, so it does not disturb
//! other inputs.

use rand::{Rng, RngExt};
use rand_distr::Distribution as _;

/// An error in the parameters of a distribution.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    #[error("{name} must be finite, got {value}")]
    NotFinite { name: &'static str, value: f64 },
    #[error("{name} must be > 0, got {value}")]
    NotPositive { name: &'static str, value: f64 },
    #[error("low ({low}) must be below high ({high})")]
    BadRange { low: f64, high: f64 },
    #[error("mode ({mode}) must lie within low..high ({low}..{high})")]
    ModeOutside { low: f64, mode: f64, high: f64 },
    #[error("a discrete table needs as many probabilities ({probs}) as values ({values}), at least one")]
    TableShape { values: usize, probs: usize },
    #[error("probabilities must be >= 0 and sum to 1 (sum is {sum})")]
    ProbSum { sum: f64 },
    #[error("the truncation range {low}..{high} holds almost no probability of this normal")]
    EmptyTruncation { low: f64, high: f64 },
}

/// A validated distribution of a real-valued input. Its form is private: a `Dist` is built by
/// [`Dist::new`] (which checks the parameters), [`Dist::fixed`] or [`Dist::clamped`], so none
/// holds a parameter the sampler cannot take.
#[derive(Debug, Clone, PartialEq)]
pub struct Dist(Kind);

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    /// A known value.
    Fixed(f64),
    /// Normal, optionally truncated to `[low, high]` (exactly, by inverse transform).
    Normal {
        mean: f64,
        sd: f64,
        low: f64,
        high: f64,
        /// Standard normal CDF at the truncation bounds, computed once (sampling uses them for
        /// every draw).
        cdf_low: f64,
        cdf_high: f64,
    },
    /// Lognormal: `exp(N(meanlog, sdlog))`.
    LogNormal {
        meanlog: f64,
        sdlog: f64,
    },
    Laplace {
        mean: f64,
        scale: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Triangular {
        low: f64,
        mode: f64,
        high: f64,
    },
    /// Beta on `[0, 1]`, for shares.
    Beta {
        alpha: f64,
        beta: f64,
    },
    /// A discrete table (for example delay years with their probabilities). `cum` holds the
    /// cumulative probabilities, the last one exactly 1.
    Discrete {
        values: Vec<f64>,
        cum: Vec<f64>,
    },
    /// Another distribution with its samples clamped to `[low, high]`: used for sanity bounds
    /// far in the tails (a net migration rate of 500 per 1,000), never for physical limits.
    Clamped {
        inner: Box<Dist>,
        low: f64,
        high: f64,
    },
}

/// The raw, unchecked form of a distribution as a scenario writes it.
#[derive(Debug, Clone, PartialEq)]
pub enum DistSpec {
    Fixed(f64),
    Normal {
        mean: f64,
        sd: f64,
        low: Option<f64>,
        high: Option<f64>,
    },
    LogNormal {
        meanlog: f64,
        sdlog: f64,
    },
    Laplace {
        mean: f64,
        scale: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Triangular {
        low: f64,
        mode: f64,
        high: f64,
    },
    Beta {
        alpha: f64,
        beta: f64,
    },
    Discrete {
        values: Vec<f64>,
        probs: Vec<f64>,
    },
}

/// Tolerance for probabilities of a discrete table summing to one: tables are typed by hand
/// with two or three decimals, so 1e-6 catches real mistakes and accepts rounding of 1/3.
const PROB_SUM_TOLERANCE: f64 = 1e-6;

fn finite(name: &'static str, value: f64) -> Result<f64, DistError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DistError::NotFinite { name, value })
    }
}

fn positive(name: &'static str, value: f64) -> Result<f64, DistError> {
    finite(name, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(DistError::NotPositive { name, value })
    }
}

impl Dist {
    /// Checks a raw specification and builds the distribution.
    ///
    /// # Errors
    /// Any parameter that is not finite, a non-positive scale, an empty range, a mode outside
    /// its range, or a discrete table whose probabilities do not sum to one.
    pub fn new(spec: DistSpec) -> Result<Dist, DistError> {
        Ok(Dist(match spec {
            DistSpec::Fixed(v) => Kind::Fixed(finite("value", v)?),
            DistSpec::Normal { mean, sd, low, high } => {
                let mean = finite("mean", mean)?;
                let sd = positive("sd", sd)?;
                let low = low.map(|l| finite("low", l)).transpose()?;
                let high = high.map(|h| finite("high", h)).transpose()?;
                let (low, high) = (low.unwrap_or(f64::NEG_INFINITY), high.unwrap_or(f64::INFINITY));
                if low >= high {
                    return Err(DistError::BadRange { low, high });
                }
                let (cdf_low, cdf_high) = (std_normal_cdf((low - mean) / sd), std_normal_cdf((high - mean) / sd));
                if cdf_high - cdf_low < 1e-9 {
                    return Err(DistError::EmptyTruncation { low, high });
                }
                Kind::Normal {
                    mean,
                    sd,
                    low,
                    high,
                    cdf_low,
                    cdf_high,
                }
            }
            DistSpec::LogNormal { meanlog, sdlog } => Kind::LogNormal {
                meanlog: finite("meanlog", meanlog)?,
                sdlog: positive("sdlog", sdlog)?,
            },
            DistSpec::Laplace { mean, scale } => Kind::Laplace {
                mean: finite("mean", mean)?,
                scale: positive("scale", scale)?,
            },
            DistSpec::Uniform { low, high } => {
                let (low, high) = (finite("low", low)?, finite("high", high)?);
                if low >= high {
                    return Err(DistError::BadRange { low, high });
                }
                Kind::Uniform { low, high }
            }
            DistSpec::Triangular { low, mode, high } => {
                let (low, mode, high) = (finite("low", low)?, finite("mode", mode)?, finite("high", high)?);
                if low >= high {
                    return Err(DistError::BadRange { low, high });
                }
                if mode < low || mode > high {
                    return Err(DistError::ModeOutside { low, mode, high });
                }
                Kind::Triangular { low, mode, high }
            }
            DistSpec::Beta { alpha, beta } => Kind::Beta {
                alpha: positive("alpha", alpha)?,
                beta: positive("beta", beta)?,
            },
            DistSpec::Discrete { values, probs } => {
                if values.is_empty() || values.len() != probs.len() {
                    return Err(DistError::TableShape {
                        values: values.len(),
                        probs: probs.len(),
                    });
                }
                for &v in &values {
                    finite("value", v)?;
                }
                let mut cum = Vec::with_capacity(probs.len());
                let mut sum = 0.0;
                for &p in &probs {
                    if !p.is_finite() || p < 0.0 {
                        return Err(DistError::ProbSum { sum: p });
                    }
                    sum += p;
                    cum.push(sum);
                }
                if (sum - 1.0).abs() > PROB_SUM_TOLERANCE {
                    return Err(DistError::ProbSum { sum });
                }
                if let Some(last) = cum.last_mut() {
                    *last = 1.0;
                }
                Kind::Discrete { values, cum }
            }
        }))
    }

    /// A fixed value (always valid when finite; non-finite values become 0 and are rejected
    /// earlier by the scenario checker).
    pub fn fixed(v: f64) -> Dist {
        Dist(Kind::Fixed(if v.is_finite() { v } else { 0.0 }))
    }

    /// Clamps samples to `[low, high]` when the support reaches beyond it.
    pub fn clamped(self, low: f64, high: f64) -> Dist {
        let (lo, hi) = self.support();
        if lo >= low && hi <= high {
            self
        } else {
            Dist(Kind::Clamped {
                inner: Box::new(self),
                low,
                high,
            })
        }
    }

    /// Smallest and largest value the distribution can produce (infinite for unbounded ones).
    pub fn support(&self) -> (f64, f64) {
        match &self.0 {
            Kind::Fixed(v) => (*v, *v),
            Kind::Normal { low, high, .. } => (*low, *high),
            Kind::LogNormal { .. } => (0.0, f64::INFINITY),
            Kind::Laplace { .. } => (f64::NEG_INFINITY, f64::INFINITY),
            Kind::Uniform { low, high } | Kind::Triangular { low, high, .. } => (*low, *high),
            Kind::Beta { .. } => (0.0, 1.0),
            Kind::Discrete { values, .. } => values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v))),
            Kind::Clamped { inner, low, high } => {
                let (lo, hi) = inner.support();
                (lo.max(*low), hi.min(*high))
            }
        }
    }

    /// The central value used by one-at-a-time sweeps and printed in summaries: the mean
    /// (median for the lognormal, whose mean is dominated by its tail).
    pub fn central(&self) -> f64 {
        match &self.0 {
            Kind::Fixed(v) => *v,
            // The median: for an untruncated normal it is the mean.
            Kind::Normal { .. } => self.quantile(0.5).unwrap_or(0.0),
            Kind::LogNormal { meanlog, .. } => meanlog.exp(),
            Kind::Laplace { mean, .. } => *mean,
            Kind::Uniform { low, high } => 0.5 * (low + high),
            Kind::Triangular { low, mode, high } => (low + mode + high) / 3.0,
            Kind::Beta { alpha, beta } => alpha / (alpha + beta),
            Kind::Clamped { inner, low, high } => inner.central().clamp(*low, *high),
            Kind::Discrete { values, cum } => {
                let mut prev = 0.0;
                values
                    .iter()
                    .zip(cum)
                    .map(|(v, c)| {
                        let p = c - prev;
                        prev = *c;
                        v * p
                    })
                    .sum()
            }
        }
    }

    /// The value of a fixed distribution.
    pub fn as_fixed(&self) -> Option<f64> {
        match self.0 {
            Kind::Fixed(v) => Some(v),
            _ => None,
        }
    }

    /// Whether it is a normal distribution (truncated or not).
    pub fn is_normal(&self) -> bool {
        matches!(self.0, Kind::Normal { .. })
    }

    /// The values a discrete table or a fixed value can take (`None` for continuous ones).
    pub fn discrete_values(&self) -> Option<&[f64]> {
        match &self.0 {
            Kind::Fixed(v) => Some(std::slice::from_ref(v)),
            Kind::Discrete { values, .. } => Some(values),
            _ => None,
        }
    }

    /// `(meanlog, sdlog)` of a lognormal, clamped or not.
    pub fn lognormal(&self) -> Option<(f64, f64)> {
        match &self.0 {
            Kind::LogNormal { meanlog, sdlog } => Some((*meanlog, *sdlog)),
            Kind::Clamped { inner, .. } => inner.lognormal(),
            _ => None,
        }
    }

    /// Whether sampling needs random numbers at all.
    pub fn is_fixed(&self) -> bool {
        matches!(self.0, Kind::Fixed(_))
    }

    /// The quantile function at `u` in (0, 1), where it has a closed form (`None` for beta).
    pub fn quantile(&self, u: f64) -> Option<f64> {
        Some(match &self.0 {
            Kind::Fixed(v) => *v,
            Kind::Normal {
                mean,
                sd,
                low,
                high,
                cdf_low: a,
                cdf_high: b,
            } => {
                let p = (a + u * (b - a)).clamp(1e-300, 1.0 - 1e-16);
                (mean + sd * std_normal_quantile(p)).clamp(*low, *high)
            }
            Kind::LogNormal { meanlog, sdlog } => (meanlog + sdlog * std_normal_quantile(u)).exp(),
            Kind::Laplace { mean, scale } => {
                let d = u - 0.5;
                let tail = (1.0 - 2.0 * d.abs()).max(1e-300);
                mean - scale * d.signum() * crate::demography::lifetable::ln(tail)
            }
            Kind::Uniform { low, high } => low + u * (high - low),
            Kind::Triangular { low, mode, high } => {
                let fc = (mode - low) / (high - low);
                if u < fc {
                    low + (u * (high - low) * (mode - low)).sqrt()
                } else {
                    high - ((1.0 - u) * (high - low) * (high - mode)).sqrt()
                }
            }
            Kind::Beta { .. } => return None,
            Kind::Clamped { inner, low, high } => inner.quantile(u)?.clamp(*low, *high),
            Kind::Discrete { values, cum } => {
                let i = cum.partition_point(|&c| c <= u).min(values.len() - 1);
                values[i]
            }
        })
    }

    /// Draws one value. A fixed distribution consumes no random numbers.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        match &self.0 {
            Kind::Fixed(v) => *v,
            Kind::Beta { alpha, beta } => match rand_distr::Beta::new(*alpha, *beta) {
                Ok(b) => b.sample(rng),
                // Parameters were checked in `new`; keep the mean rather than panic.
                Err(_) => alpha / (alpha + beta),
            },
            Kind::Clamped { inner, low, high } => inner.sample(rng).clamp(*low, *high),
            _ => {
                // Uniform in the open interval (0, 1): 53 random bits, offset by half a step.
                let u = ((rng.random::<u64>() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
                self.quantile(u).unwrap_or(0.0)
            }
        }
    }
}

/// Standard normal CDF, via `erfc` (W. J. Cody's rational approximations are overkill here; this
/// uses the complementary error function of Numerical Recipes, `erfcc`, relative error < 1.2e-7,
/// enough for truncation masses).
pub fn std_normal_cdf(z: f64) -> f64 {
    if z == f64::INFINITY {
        return 1.0;
    }
    if z == f64::NEG_INFINITY {
        return 0.0;
    }
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07 + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal quantile (P. J. Acklam's algorithm with one Halley refinement step;
/// relative error about 1e-9 before refinement).
pub fn std_normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    const P_LOW: f64 = 0.02425;
    if p < P_LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - P_LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5]) / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn normal_quantile_matches_known_values() {
        assert!((std_normal_quantile(0.975) - 1.959_963_985).abs() < 1e-8);
        assert!((std_normal_quantile(0.5)).abs() < 1e-12);
        assert!((std_normal_quantile(0.001) + 3.090_232_306).abs() < 1e-7);
        assert!((std_normal_cdf(1.959_963_985) - 0.975).abs() < 2e-7);
    }

    /// Laplace(0, 1): quantiles -ln(2 (1 - u)) above the median, the interquartile range 2 ln 2.
    #[test]
    fn laplace_quantiles_are_the_closed_form() {
        let d = Dist::new(DistSpec::Laplace { mean: 3.0, scale: 2.0 }).unwrap();
        assert_eq!(d.quantile(0.5), Some(3.0));
        let q75 = d.quantile(0.75).unwrap();
        assert!((q75 - (3.0 + 2.0 * 2f64.ln())).abs() < 1e-14, "{q75}");
        let q05 = d.quantile(0.05).unwrap();
        assert!((q05 - (3.0 - 2.0 * 10f64.ln())).abs() < 1e-13, "{q05}");
        assert!(Dist::new(DistSpec::Laplace { mean: 0.0, scale: 0.0 }).is_err());
        assert_eq!(d.central(), 3.0);
    }

    #[test]
    fn rejects_bad_parameters() {
        let bad = [
            DistSpec::Normal {
                mean: 0.0,
                sd: -1.0,
                low: None,
                high: None,
            },
            DistSpec::Normal {
                mean: f64::NAN,
                sd: 1.0,
                low: None,
                high: None,
            },
            DistSpec::Uniform { low: 2.0, high: 1.0 },
            DistSpec::Triangular {
                low: 0.0,
                mode: 3.0,
                high: 2.0,
            },
            DistSpec::Beta { alpha: 0.0, beta: 1.0 },
            DistSpec::Discrete {
                values: vec![0.0, 1.0],
                probs: vec![0.5, 0.6],
            },
            DistSpec::Discrete {
                values: vec![0.0],
                probs: vec![],
            },
            DistSpec::LogNormal {
                meanlog: 0.0,
                sdlog: f64::INFINITY,
            },
            DistSpec::Normal {
                mean: 0.0,
                sd: 1.0,
                low: Some(50.0),
                high: Some(60.0),
            },
        ];
        for spec in bad {
            assert!(Dist::new(spec.clone()).is_err(), "{spec:?} accepted");
        }
        assert!(
            Dist::new(DistSpec::Discrete {
                values: vec![0.0, 1.0, 2.0],
                probs: vec![0.5, 0.3, 0.2]
            })
            .is_ok()
        );
    }

    #[test]
    fn samples_stay_in_support_and_match_moments() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let dists = [
            Dist::new(DistSpec::Normal {
                mean: 1.0,
                sd: 2.0,
                low: Some(0.0),
                high: Some(3.0),
            })
            .unwrap(),
            Dist::new(DistSpec::Triangular {
                low: 1.0,
                mode: 2.0,
                high: 4.0,
            })
            .unwrap(),
            Dist::new(DistSpec::Beta { alpha: 2.0, beta: 6.0 }).unwrap(),
            Dist::new(DistSpec::Uniform { low: -1.0, high: 1.0 }).unwrap(),
            Dist::new(DistSpec::Discrete {
                values: vec![0.0, 1.0, 2.0],
                probs: vec![0.5, 0.3, 0.2],
            })
            .unwrap(),
        ];
        for d in &dists {
            let (lo, hi) = d.support();
            let n = 200_000;
            let mut sum = 0.0;
            for _ in 0..n {
                let x = d.sample(&mut rng);
                assert!(x >= lo && x <= hi, "{x} outside {lo}..{hi} for {d:?}");
                sum += x;
            }
            let mean = sum / n as f64;
            if !d.is_normal() {
                assert!((mean - d.central()).abs() < 0.01, "{d:?}: mean {mean} vs {}", d.central());
            }
        }
    }

    #[test]
    fn lognormal_median_is_exp_meanlog() {
        let d = Dist::new(DistSpec::LogNormal { meanlog: 2.0, sdlog: 0.5 }).unwrap();
        assert!((d.quantile(0.5).unwrap() - 2f64.exp()).abs() < 1e-9);
    }
}
