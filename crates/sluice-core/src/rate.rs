//! The consumption rate: how often the source is polled when it has nothing
//! new. The slider moves over fixed steps, from ten polls a second down to one
//! a minute, so every position has an exact interval and a phrase in words.

use serde::{Deserialize, Serialize};
use std::time::Duration;
use thiserror::Error;

/// Poll intervals in milliseconds, fastest first; the slider's positions.
const STEPS_MS: [u64; 11] = [
    100, 250, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 20_000, 30_000, 60_000,
];

/// Where a new operator starts: every 2 s.
const DEFAULT_POSITION: usize = 4;

/// One position of the "Consumption rate" slider. Stored as its interval in
/// milliseconds, so a remembered choice survives a change to the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u64", into = "u64")]
pub struct ConsumptionRate {
    position: usize,
}

impl Default for ConsumptionRate {
    fn default() -> Self {
        Self {
            position: DEFAULT_POSITION,
        }
    }
}

impl ConsumptionRate {
    /// The slider's highest position (its lowest is 0).
    pub const MAX_POSITION: usize = STEPS_MS.len() - 1;

    /// The rate at a slider position; `None` when the position is off the scale.
    pub fn from_position(position: usize) -> Option<Self> {
        (position <= Self::MAX_POSITION).then_some(Self { position })
    }

    /// The rate whose interval is exactly `ms`, as remembered in storage.
    pub fn from_interval_ms(ms: u64) -> Option<Self> {
        STEPS_MS
            .iter()
            .position(|&step| step == ms)
            .map(|position| Self { position })
    }

    pub fn position(self) -> usize {
        self.position
    }

    pub fn interval(self) -> Duration {
        Duration::from_millis(self.interval_ms())
    }

    pub fn interval_ms(self) -> u64 {
        STEPS_MS[self.position]
    }

    /// The interval in words, as the slider shows it: "every 2 s".
    pub fn in_words(self) -> String {
        match self.interval_ms() {
            ms if ms < 1_000 => format!("every {} s", ms as f64 / 1_000.0),
            60_000 => "every minute".to_string(),
            ms => format!("every {} s", ms / 1_000),
        }
    }
}

/// A remembered interval that is not on the scale: damaged or foreign data.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0} ms is not one of the consumption rates")]
pub struct OffTheScale(pub u64);

impl TryFrom<u64> for ConsumptionRate {
    type Error = OffTheScale;
    fn try_from(ms: u64) -> Result<Self, Self::Error> {
        Self::from_interval_ms(ms).ok_or(OffTheScale(ms))
    }
}

impl From<ConsumptionRate> for u64 {
    fn from(rate: ConsumptionRate) -> u64 {
        rate.interval_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_polls_every_two_seconds() {
        let rate = ConsumptionRate::default();
        assert_eq!(rate.interval(), Duration::from_secs(2));
        assert_eq!(rate.in_words(), "every 2 s");
    }

    #[test]
    fn scale_runs_from_ten_a_second_to_one_a_minute() {
        let fastest = ConsumptionRate::from_position(0).unwrap();
        let slowest = ConsumptionRate::from_position(ConsumptionRate::MAX_POSITION).unwrap();
        assert_eq!(fastest.interval_ms(), 100);
        assert_eq!(fastest.in_words(), "every 0.1 s");
        assert_eq!(slowest.interval_ms(), 60_000);
        assert_eq!(slowest.in_words(), "every minute");
    }

    #[test]
    fn steps_only_get_slower() {
        let intervals: Vec<u64> = (0..=ConsumptionRate::MAX_POSITION)
            .map(|p| ConsumptionRate::from_position(p).unwrap().interval_ms())
            .collect();
        assert!(intervals.windows(2).all(|pair| pair[0] < pair[1]));
    }

    #[test]
    fn positions_off_the_scale_are_refused() {
        assert_eq!(
            ConsumptionRate::from_position(ConsumptionRate::MAX_POSITION + 1),
            None
        );
    }

    #[test]
    fn remembered_interval_round_trips_and_unknown_ones_are_refused() {
        for position in 0..=ConsumptionRate::MAX_POSITION {
            let rate = ConsumptionRate::from_position(position).unwrap();
            assert_eq!(
                ConsumptionRate::from_interval_ms(rate.interval_ms()),
                Some(rate)
            );
        }
        assert_eq!(ConsumptionRate::from_interval_ms(1_234), None);
    }

    #[test]
    fn sub_second_and_whole_seconds_read_naturally() {
        let words: Vec<String> = (0..=ConsumptionRate::MAX_POSITION)
            .map(|p| ConsumptionRate::from_position(p).unwrap().in_words())
            .collect();
        assert_eq!(words[2], "every 0.5 s");
        assert_eq!(words[3], "every 1 s");
        assert_eq!(words[9], "every 30 s");
    }

    #[test]
    fn stored_as_milliseconds_and_damaged_values_are_refused() {
        let rate = ConsumptionRate::from_position(6).unwrap();
        assert_eq!(serde_json::to_string(&rate).unwrap(), "10000");
        assert_eq!(
            serde_json::from_str::<ConsumptionRate>("10000").unwrap(),
            rate
        );
        for bad in ["1234", "\"fast\"", "-5", "{}"] {
            assert!(
                serde_json::from_str::<ConsumptionRate>(bad).is_err(),
                "{bad}"
            );
        }
    }
}
