//! How long one event waits at the gate, and what ends its stay: the rule
//! "an event leaves the source only to the agent's done or to a kept dead
//! letter" as a pure decision over the attempts' results.

use std::num::NonZeroU32;
use std::time::Duration;

use super::Attempt;
use crate::backoff::Backoff;

/// Between failed attempts of an agent that answers.
pub const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// Between tries while the agent does not answer at all.
pub const OFFLINE_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// An agent silent this long is announced in an alert, once per outage.
pub const OFFLINE_ALERT_AFTER: Duration = Duration::from_secs(60);

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    Passed,
    /// The event is refused for good (or its attempts ran out).
    DeadLetter(String),
    /// Try again after `wait`: the agent answered and failed.
    Retry {
        reason: String,
        wait: Duration,
    },
    /// Try again after `wait`: the agent did not answer. `announce` is set
    /// once per outage, when it has lasted [`OFFLINE_ALERT_AFTER`].
    Offline {
        reason: String,
        wait: Duration,
        announce: Option<Duration>,
    },
    /// Wait for new settings or the operator's retry.
    Halt(String),
}

/// The state of one event's stay at the gate.
#[derive(Debug, Clone)]
pub struct Patience {
    allowed: u32,
    answered_failures: u32,
    retries: Backoff,
    silences: Backoff,
    offline_since_ms: Option<f64>,
    announced: bool,
}

impl Patience {
    pub fn new(attempts: NonZeroU32) -> Self {
        Self {
            allowed: attempts.get(),
            answered_failures: 0,
            retries: RETRY_BACKOFF,
            silences: OFFLINE_BACKOFF,
            offline_since_ms: None,
            announced: false,
        }
    }

    /// The operator saved new settings while the event waited.
    pub fn allow(&mut self, attempts: NonZeroU32) {
        self.allowed = attempts.get();
    }

    /// The attempt about to start: only attempts the agent answered count,
    /// since an agent that never saw the event cannot have failed it.
    pub fn attempt(&self) -> u32 {
        self.answered_failures + 1
    }

    /// Decides what follows `attempt` (`now_ms` on any steady clock,
    /// `random` in [0, 1) for the jitter).
    pub fn after(&mut self, attempt: Attempt, now_ms: f64, random: f64) -> Next {
        if !matches!(attempt, Attempt::Unanswered(_)) {
            self.silences = OFFLINE_BACKOFF;
            self.offline_since_ms = None;
            self.announced = false;
        }
        match attempt {
            Attempt::Passed => Next::Passed,
            Attempt::Rejected(reason) => Next::DeadLetter(reason),
            Attempt::Misconfigured(reason) => Next::Halt(reason),
            Attempt::Failed {
                reason,
                retry_after,
            } => {
                self.answered_failures += 1;
                if self.answered_failures >= self.allowed {
                    return Next::DeadLetter(format!(
                        "gave up after {} attempts: {reason}",
                        self.answered_failures
                    ));
                }
                let wait = self.retries.fail(retry_after, random);
                Next::Retry { reason, wait }
            }
            Attempt::Unanswered(reason) => {
                let since = *self.offline_since_ms.get_or_insert(now_ms);
                let silent = Duration::from_secs_f64(((now_ms - since) / 1000.0).max(0.0));
                let announce = (!self.announced && silent >= OFFLINE_ALERT_AFTER).then(|| {
                    self.announced = true;
                    silent
                });
                Next::Offline {
                    reason,
                    wait: self.silences.fail(None, random),
                    announce,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patience(attempts: u32) -> Patience {
        Patience::new(NonZeroU32::new(attempts).unwrap())
    }

    fn failed() -> Attempt {
        Attempt::Failed {
            reason: "HTTP 500".into(),
            retry_after: None,
        }
    }

    fn silence() -> Attempt {
        Attempt::Unanswered("refused".into())
    }

    #[test]
    fn an_offline_agent_never_dead_letters_and_backs_off_to_a_minute() {
        let mut p = patience(2);
        let mut waits = Vec::new();
        for i in 0..200 {
            match p.after(silence(), i as f64 * 1000.0, 0.999_999) {
                Next::Offline { wait, .. } => waits.push(wait.as_secs()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(&waits[..8], [0, 1, 3, 7, 15, 31, 59, 59]);
        assert_eq!(*waits.last().unwrap(), 59);
        assert_eq!(p.attempt(), 1, "silences are not attempts");
        assert_eq!(p.after(Attempt::Passed, 0.0, 0.5), Next::Passed);
    }

    #[test]
    fn an_outage_is_announced_once_after_a_minute() {
        let mut p = patience(3);
        let announced: Vec<f64> = [0.0, 30_000.0, 59_000.0, 61_000.0, 90_000.0]
            .into_iter()
            .filter(|&t| {
                matches!(
                    p.after(silence(), t, 0.5),
                    Next::Offline {
                        announce: Some(_),
                        ..
                    }
                )
            })
            .collect();
        assert_eq!(announced, [61_000.0]);
        // An answer ends the outage; the next one is announced again.
        assert!(matches!(
            p.after(failed(), 91_000.0, 0.5),
            Next::Retry { .. }
        ));
        p.after(silence(), 100_000.0, 0.5);
        assert!(matches!(
            p.after(silence(), 161_000.0, 0.5),
            Next::Offline { announce: Some(d), .. } if d == Duration::from_secs(61)
        ));
    }

    #[test]
    fn failures_count_up_to_attempts_then_dead_letter() {
        let mut p = patience(3);
        assert!(matches!(p.after(failed(), 0.0, 0.5), Next::Retry { .. }));
        assert!(matches!(p.after(silence(), 0.0, 0.5), Next::Offline { .. }));
        assert!(matches!(p.after(failed(), 0.0, 0.5), Next::Retry { .. }));
        assert_eq!(p.attempt(), 3);
        assert_eq!(
            p.after(failed(), 0.0, 0.5),
            Next::DeadLetter("gave up after 3 attempts: HTTP 500".into())
        );
    }

    #[test]
    fn retry_after_is_a_floor() {
        let mut p = patience(5);
        let asked = Duration::from_secs(30);
        let Next::Retry { wait, .. } = p.after(
            Attempt::Failed {
                reason: "busy".into(),
                retry_after: Some(asked),
            },
            0.0,
            0.0,
        ) else {
            unreachable!()
        };
        assert_eq!(wait, asked);
    }

    #[test]
    fn wrong_settings_halt_and_refusals_are_final() {
        let mut p = patience(5);
        assert_eq!(
            p.after(Attempt::Misconfigured("401".into()), 0.0, 0.5),
            Next::Halt("401".into())
        );
        assert_eq!(p.attempt(), 1);
        assert_eq!(
            p.after(Attempt::Rejected("no".into()), 0.0, 0.5),
            Next::DeadLetter("no".into())
        );
    }

    #[test]
    fn fewer_attempts_saved_meanwhile_end_the_retries() {
        let mut p = patience(5);
        p.after(failed(), 0.0, 0.5);
        p.after(failed(), 0.0, 0.5);
        p.allow(NonZeroU32::new(2).unwrap());
        assert!(matches!(p.after(failed(), 0.0, 0.5), Next::DeadLetter(_)));
    }
}
