//! Exponential backoff with full jitter, honouring a server's Retry-After.
//! The caller supplies the random draw, so the policy is testable.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: u32,
}

impl Backoff {
    pub const fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: 0,
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts a failure and returns how long to wait before the next try:
    /// a uniform draw (`random` in [0, 1)) below `base · 2^failures`, capped,
    /// and never sooner than the server's `Retry-After`.
    pub fn fail(&mut self, retry_after: Option<Duration>, random: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.cap);
        self.failures = self.failures.saturating_add(1);
        let jittered = ceiling.mul_f64(random.clamp(0.0, 1.0));
        retry_after.map_or(jittered, |asked| jittered.max(asked))
    }

    /// A success ends the run of failures.
    pub fn succeed(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Backoff {
        Backoff::new(Duration::from_millis(500), Duration::from_secs(30))
    }

    #[test]
    fn ceilings_double_until_the_cap() {
        let mut b = policy();
        let ceilings: Vec<u64> = (0..8)
            .map(|_| b.fail(None, 0.999_999).as_millis() as u64)
            .collect();
        assert_eq!(ceilings, [499, 999, 1999, 3999, 7999, 15999, 29999, 29999]);
        assert_eq!(b.failures(), 8);
    }

    #[test]
    fn jitter_spreads_over_the_whole_range() {
        let mut low = policy();
        let mut high = policy();
        low.fail(None, 0.0);
        high.fail(None, 0.0);
        assert_eq!(low.fail(None, 0.0), Duration::ZERO);
        assert_eq!(high.fail(None, 0.5), Duration::from_millis(500));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut b = policy();
        assert_eq!(
            b.fail(Some(Duration::from_secs(7)), 0.1),
            Duration::from_secs(7)
        );
        assert_eq!(
            b.fail(Some(Duration::from_secs(90)), 0.1),
            Duration::from_secs(90),
            "the server knows best"
        );
    }

    #[test]
    fn success_resets() {
        let mut b = policy();
        b.fail(None, 0.5);
        b.fail(None, 0.5);
        b.succeed();
        assert_eq!(b.failures(), 0);
        assert!(b.fail(None, 0.999) < Duration::from_millis(500));
    }
}
