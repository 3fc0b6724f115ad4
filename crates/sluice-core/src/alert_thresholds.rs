//! The lag and error-rate limits an operator sets per table, and the
//! warnings shown while they are crossed.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertThresholds {
    /// Warn when the oldest waiting event is older than this.
    pub max_lag_seconds: Option<u32>,
    /// Warn when more than this share of attempts fail (percent).
    pub max_error_percent: Option<u32>,
}

impl AlertThresholds {
    /// Reads the two fields of the form; empty means "no alert".
    pub fn parse(lag: &str, error_percent: &str) -> Result<Self, String> {
        let field = |text: &str, what: &str, max: u32| -> Result<Option<u32>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
                _ => Err(format!(
                    "The {what} must be a whole number from 1 to {max}, or empty for no alert."
                )),
            }
        };
        Ok(Self {
            max_lag_seconds: field(lag, "lag limit (seconds)", 7 * 24 * 3600)?,
            max_error_percent: field(error_percent, "error rate limit (%)", 100)?,
        })
    }

    /// The warnings for the current lag (s) and error rate (0–1).
    pub fn warnings(&self, lag_seconds: Option<f64>, error_rate: Option<f64>) -> Vec<Warning> {
        let mut warnings = Vec::new();
        if let (Some(limit), Some(lag)) = (self.max_lag_seconds, lag_seconds) {
            if lag > f64::from(limit) {
                warnings.push(Warning::Lag {
                    seconds: lag,
                    limit,
                });
            }
        }
        if let (Some(limit), Some(rate)) = (self.max_error_percent, error_rate) {
            if rate * 100.0 > f64::from(limit) {
                warnings.push(Warning::ErrorRate { rate, limit });
            }
        }
        warnings
    }
}

/// A limit crossed: which figure, by how much.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Warning {
    Lag {
        seconds: f64,
        limit: u32,
    },
    /// `rate` in 0–1, `limit` in percent.
    ErrorRate {
        rate: f64,
        limit: u32,
    },
}

impl Warning {
    pub fn is_lag(&self) -> bool {
        matches!(self, Self::Lag { .. })
    }

    pub fn is_error_rate(&self) -> bool {
        matches!(self, Self::ErrorRate { .. })
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::metrics::format_duration;
        match *self {
            Self::Lag { seconds, limit } => write!(
                f,
                "Lag is {} — over the {} limit.",
                format_duration(seconds),
                format_duration(f64::from(limit))
            ),
            Self::ErrorRate { rate, limit } => write!(
                f,
                "Error rate is {:.0} % over the last minute — over the {limit} % limit.",
                rate * 100.0
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_mean_no_alert_and_bad_ones_are_named() {
        assert_eq!(
            AlertThresholds::parse("", " ").unwrap(),
            AlertThresholds::default()
        );
        let set = AlertThresholds::parse("30", "10").unwrap();
        assert_eq!(set.max_lag_seconds, Some(30));
        assert_eq!(set.max_error_percent, Some(10));
        assert!(AlertThresholds::parse("-3", "")
            .unwrap_err()
            .contains("lag limit"));
        assert!(AlertThresholds::parse("", "150")
            .unwrap_err()
            .contains("error rate limit"));
    }

    #[test]
    fn warnings_fire_over_the_limit_and_clear_under_it() {
        let set = AlertThresholds::parse("30", "10").unwrap();
        assert!(set.warnings(Some(30.0), Some(0.1)).is_empty());
        assert!(set.warnings(None, None).is_empty());
        let both = set.warnings(Some(95.0), Some(0.25));
        assert_eq!(both.len(), 2);
        assert!(both[0].is_lag() && !both[0].is_error_rate());
        assert!(both[0].to_string().contains("1 min 35 s"));
        assert!(both[1].is_error_rate());
        assert!(both[1].to_string().contains("25 %"));
        assert!(AlertThresholds::default()
            .warnings(Some(1e9), Some(1.0))
            .is_empty());
    }
}
