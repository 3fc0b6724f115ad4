//! Events the agent refused for good, or gave up on, kept per table with the
//! reason so an operator can inspect and retry them.

use serde::{Deserialize, Serialize};

/// At most this many dead letters are kept per table; the oldest go first.
pub const MAX_DEAD_LETTERS: usize = 100;
/// Rows larger than this (as JSON) are kept as a note, not whole, so one
/// huge row cannot fill the browser's storage.
pub const MAX_STORED_ROW_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub key: String,
    /// The row, or a note of its size when it was too large to keep.
    pub event: serde_json::Value,
    pub reason: String,
    pub attempts: u32,
    pub at_ms: f64,
}

impl DeadLetter {
    pub fn new(
        key: &str,
        row: &serde_json::Value,
        reason: String,
        attempts: u32,
        at_ms: f64,
    ) -> Self {
        let size = row.to_string().len();
        let event = if size > MAX_STORED_ROW_BYTES {
            serde_json::json!({ "_sluice_note": format!("row of {size} bytes not stored; read it from the table by its key") })
        } else {
            row.clone()
        };
        Self {
            key: key.to_string(),
            event,
            reason,
            attempts,
            at_ms,
        }
    }
}

/// Adds a dead letter; returns how many old ones were dropped to make room.
pub fn push(list: &mut Vec<DeadLetter>, letter: DeadLetter) -> usize {
    list.push(letter);
    let excess = list.len().saturating_sub(MAX_DEAD_LETTERS);
    list.drain(..excess);
    excess
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_list_is_bounded_and_drops_the_oldest() {
        let mut list = Vec::new();
        for i in 0..MAX_DEAD_LETTERS {
            assert_eq!(
                push(
                    &mut list,
                    DeadLetter::new(&i.to_string(), &json!({}), "r".into(), 1, 0.0)
                ),
                0
            );
        }
        assert_eq!(
            push(
                &mut list,
                DeadLetter::new("new", &json!({}), "r".into(), 1, 0.0)
            ),
            1
        );
        assert_eq!(list.len(), MAX_DEAD_LETTERS);
        assert_eq!(list[0].key, "1");
        assert_eq!(list.last().unwrap().key, "new");
    }

    #[test]
    fn huge_rows_are_noted_not_stored() {
        let big = json!({"blob": "x".repeat(MAX_STORED_ROW_BYTES)});
        let letter = DeadLetter::new("1", &big, "too big".into(), 3, 0.0);
        assert!(letter.event["_sluice_note"]
            .as_str()
            .unwrap()
            .contains("bytes not stored"));
        let small = DeadLetter::new("2", &json!({"a": 1}), "r".into(), 1, 0.0);
        assert_eq!(small.event, json!({"a": 1}));
    }
}
