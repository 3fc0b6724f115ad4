//! Events the agent refused for good, or gave up on, kept per table with the
//! reason so an operator can inspect and retry them.

use serde::{Deserialize, Serialize};

/// At most this many dead letters are kept per table; the oldest go first.
pub const MAX_DEAD_LETTERS: usize = 100;
/// Rows larger than this (as JSON) are kept as a note, not whole, so one
/// huge row cannot fill the browser's storage.
pub const MAX_STORED_ROW_BYTES: usize = 4 * 1024;
/// The field of the note that stands in for a row too large to keep.
pub const NOTE_FIELD: &str = "_sluice_note";

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
            serde_json::json!({ NOTE_FIELD: format!("row of {size} bytes not stored; read it from the table by its key") })
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
/// A key dead-lettered again (after a retry) replaces its earlier letter.
pub fn push(list: &mut Vec<DeadLetter>, letter: DeadLetter) -> usize {
    list.retain(|l| l.key != letter.key);
    list.push(letter);
    let excess = list.len().saturating_sub(MAX_DEAD_LETTERS);
    list.drain(..excess);
    excess
}

/// The letters whose key is in `keys`, taken out of the list.
pub fn take(list: &mut Vec<DeadLetter>, keys: &[String]) -> Vec<DeadLetter> {
    let (taken, kept) = list.drain(..).partition(|l| keys.contains(&l.key));
    *list = kept;
    taken
}

/// The export file: the table's name and its letters, as pretty JSON.
pub fn export(table: &str, list: &[DeadLetter]) -> String {
    serde_json::to_string_pretty(&serde_json::json!({
        "format": "sluice-dead-letters",
        "version": 1,
        "table": table,
        "dead_letters": list,
    }))
    .unwrap_or_default()
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

    #[test]
    fn a_letter_dead_again_replaces_its_earlier_one() {
        let mut list = Vec::new();
        push(
            &mut list,
            DeadLetter::new("1", &json!({}), "first".into(), 1, 0.0),
        );
        push(
            &mut list,
            DeadLetter::new("2", &json!({}), "r".into(), 1, 0.0),
        );
        push(
            &mut list,
            DeadLetter::new("1", &json!({}), "again".into(), 3, 1.0),
        );
        assert_eq!(list.len(), 2);
        assert_eq!(
            (list[1].key.as_str(), list[1].reason.as_str()),
            ("1", "again")
        );
    }

    #[test]
    fn letters_are_taken_by_key_and_exported_with_their_table() {
        let mut list: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|k| DeadLetter::new(k, &json!({"k": k}), "r".into(), 1, 0.0))
            .collect();
        let taken = take(&mut list, &["a".into(), "c".into()]);
        assert_eq!(taken.len(), 2);
        assert_eq!(list.len(), 1);
        let file: serde_json::Value = serde_json::from_str(&export("events", &list)).unwrap();
        assert_eq!(file["table"], "events");
        assert_eq!(file["dead_letters"][0]["key"], "b");
        assert_eq!(file["dead_letters"][0]["event"]["k"], "b");
    }
}
