//! The last few hundred events handled in this tab, newest first, with what
//! happened to each at the gate. Bounded, so a long drain keeps the page
//! small; rows too large to keep are read again from the table on demand.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::gate::Badge;

/// Entries kept; the oldest go first.
pub const HISTORY_LIMIT: usize = 250;
/// Rows larger than this (as JSON) are not kept in memory.
pub const MAX_KEPT_ROW_BYTES: usize = 64 * 1024;
/// Agent signals kept per event.
pub const MAX_SIGNALS: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Passed,
    /// No agent configured.
    PassedThrough,
    /// Dead-lettered, with the reason.
    Rejected(String),
}

impl Outcome {
    /// "passed", "rejected", "retried 2 times, passed".
    pub fn describe(&self, attempts: u32) -> String {
        let what = match self {
            Self::Passed => "passed",
            Self::PassedThrough => "passed through",
            Self::Rejected(_) => "rejected",
        };
        match attempts {
            0 | 1 => what.to_string(),
            2 => format!("retried once, {what}"),
            n => format!("retried {} times, {what}", n - 1),
        }
    }

    pub fn is_rejected(&self) -> bool {
        matches!(self, Self::Rejected(_))
    }
}

/// One handled event.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Its place in the order of handling (set by [`History::push`]).
    pub serial: u64,
    pub badge: Badge,
    /// The event's timestamp as the source sent it.
    pub timestamp: String,
    pub outcome: Outcome,
    pub attempts: u32,
    /// From admission at the gate to the agent's final signal.
    pub duration_ms: f64,
    pub handled_at_ms: f64,
    /// The row, unless it was larger than [`MAX_KEPT_ROW_BYTES`].
    pub row: Option<Arc<serde_json::Value>>,
    pub row_bytes: usize,
    /// What the agent said about it, in order (at most [`MAX_SIGNALS`]).
    pub signals: Vec<String>,
    /// The signed-in operator whose drain handled it (their email): the
    /// audit trail. None for the key alone.
    pub by: Option<String>,
}

impl Entry {
    /// Whether a filter's text appears in the key, type, outcome or reason
    /// (case-insensitive). An empty filter matches everything.
    pub fn matches(&self, filter: &str) -> bool {
        let filter = crate::case::lower(filter.trim());
        if filter.is_empty() {
            return true;
        }
        let reason = match &self.outcome {
            Outcome::Rejected(reason) => reason.as_str(),
            _ => "",
        };
        [
            self.badge.key.as_str(),
            self.badge.label.as_str(),
            &self.outcome.describe(self.attempts),
            reason,
            self.by.as_deref().unwrap_or_default(),
        ]
        .iter()
        .any(|field| crate::case::lower(field).contains(&filter))
    }
}

/// Keeps a row of `bytes` (as JSON) only if it is small enough to hold in memory.
pub fn kept_row(row: serde_json::Value, bytes: usize) -> Option<Arc<serde_json::Value>> {
    (bytes <= MAX_KEPT_ROW_BYTES).then(|| Arc::new(row))
}

/// Adds a signal to an event's list, keeping the first ones and the last.
pub fn push_signal(signals: &mut Vec<String>, signal: String) {
    if signals.len() == MAX_SIGNALS {
        signals[MAX_SIGNALS - 1] = signal;
    } else {
        signals.push(signal);
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    entries: VecDeque<Arc<Entry>>,
    /// Entries ever added: the "N new" marker compares against it.
    added: u64,
}

impl History {
    pub fn push(&mut self, mut entry: Entry) {
        entry.serial = self.added;
        self.entries.push_front(Arc::new(entry));
        self.entries.truncate(HISTORY_LIMIT);
        self.added += 1;
    }

    pub fn added(&self) -> u64 {
        self.added
    }

    /// Newest first.
    pub fn entries(&self) -> impl Iterator<Item = &Arc<Entry>> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries added since the operator last saw the top, at most the bound.
    pub fn new_since(&self, seen: u64) -> usize {
        (self.added.saturating_sub(seen) as usize).min(HISTORY_LIMIT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(key: &str, outcome: Outcome, attempts: u32) -> Entry {
        let row = json!({"id": key, "type": "order.created"});
        let row_bytes = row.to_string().len();
        let row = kept_row(row, row_bytes);
        Entry {
            serial: 0,
            badge: Badge::of(key, row.as_deref().unwrap(), "events"),
            timestamp: "2026-01-01T00:00:00+00:00".into(),
            outcome,
            attempts,
            duration_ms: 12.0,
            handled_at_ms: 0.0,
            row,
            row_bytes,
            signals: Vec::new(),
            by: None,
        }
    }

    #[test]
    fn history_is_bounded_newest_first() {
        let mut history = History::default();
        for i in 0..HISTORY_LIMIT + 30 {
            history.push(entry(&i.to_string(), Outcome::Passed, 1));
        }
        assert_eq!(history.len(), HISTORY_LIMIT);
        assert_eq!(history.added(), (HISTORY_LIMIT + 30) as u64);
        let keys: Vec<_> = history.entries().map(|e| e.badge.key.clone()).collect();
        assert_eq!(keys[0], (HISTORY_LIMIT + 29).to_string());
        assert_eq!(keys[HISTORY_LIMIT - 1], "30");
    }

    #[test]
    fn new_entries_are_counted_from_what_was_seen() {
        let mut history = History::default();
        history.push(entry("1", Outcome::Passed, 1));
        let seen = history.added();
        history.push(entry("2", Outcome::Passed, 1));
        history.push(entry("3", Outcome::Passed, 1));
        assert_eq!(history.new_since(seen), 2);
        assert_eq!(history.new_since(0), 3);
    }

    #[test]
    fn outcomes_read_as_the_operator_says_them() {
        assert_eq!(Outcome::Passed.describe(1), "passed");
        assert_eq!(Outcome::Passed.describe(2), "retried once, passed");
        assert_eq!(
            Outcome::Rejected("no".into()).describe(4),
            "retried 3 times, rejected"
        );
        assert_eq!(Outcome::PassedThrough.describe(1), "passed through");
    }

    #[test]
    fn filters_match_key_type_outcome_and_reason() {
        let rejected = entry("42", Outcome::Rejected("schema mismatch".into()), 1);
        assert!(rejected.matches(""));
        assert!(rejected.matches("42"));
        assert!(rejected.matches("ORDER.CREATED"));
        assert!(rejected.matches("rejected"));
        assert!(rejected.matches("schema"));
        assert!(!rejected.matches("passed"));
        let handled = Entry {
            by: Some("op@example.com".into()),
            ..entry("43", Outcome::Passed, 1)
        };
        assert!(
            handled.matches("OP@EXAMPLE"),
            "by the operator who handled it"
        );
        assert!(!rejected.matches("op@example"));
    }

    #[test]
    fn large_rows_are_not_kept_and_signals_are_bounded() {
        let big = json!({"blob": "x".repeat(MAX_KEPT_ROW_BYTES)});
        assert!(kept_row(big.clone(), big.to_string().len()).is_none());
        assert!(kept_row(big, MAX_KEPT_ROW_BYTES).is_some());
        let mut signals = Vec::new();
        for i in 0..MAX_SIGNALS + 5 {
            push_signal(&mut signals, i.to_string());
        }
        assert_eq!(signals.len(), MAX_SIGNALS);
        assert_eq!(signals[0], "0");
        assert_eq!(signals[MAX_SIGNALS - 1], (MAX_SIGNALS + 4).to_string());
    }
}
