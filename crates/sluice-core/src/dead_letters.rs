//! Events the agent refused for good, or gave up on, kept per table with the
//! reason so an operator can inspect and retry them.

use serde::{Deserialize, Serialize};

use crate::source::Event;

/// At most this many dead letters are kept per table. None is ever dropped
/// to make room: when they are full, the drain pauses until the operator
/// retries, discards or exports some.
pub const MAX_DEAD_LETTERS: usize = 100;
/// Reasons longer than this are cut, with their length kept.
pub const MAX_REASON_BYTES: usize = 4 * 1024;
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
    /// The signed-in operator whose drain dead-lettered it (their email):
    /// the audit trail. None for the key alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

impl DeadLetter {
    /// The letter for `event`, refused for `reason` after `attempts` in the
    /// drain of the operator `by`.
    pub fn of(
        event: &Event,
        reason: String,
        attempts: u32,
        at_ms: f64,
        by: Option<String>,
    ) -> Self {
        let size = event.row_bytes;
        let stored = if size > MAX_STORED_ROW_BYTES {
            serde_json::json!({ NOTE_FIELD: format!("row of {size} bytes not stored; read it from the table by its key") })
        } else {
            event.row.clone()
        };
        Self {
            key: event.key.clone(),
            event: stored,
            reason: cut_reason(reason),
            attempts,
            at_ms,
            by,
        }
    }

    /// Whether the row was too large to store and must be read again by key.
    pub fn row_is_noted(&self) -> bool {
        self.event.get(NOTE_FIELD).is_some()
    }

    /// Whether a filter's text appears in the key, the reason or the
    /// operator (case-insensitive). An empty filter matches everything.
    pub fn matches(&self, filter: &str) -> bool {
        let filter = crate::case::lower(filter.trim());
        [Some(&self.key), Some(&self.reason), self.by.as_ref()]
            .into_iter()
            .flatten()
            .any(|field| crate::case::lower(field).contains(&filter))
    }
}

/// A reason of at most [`MAX_REASON_BYTES`] (plus the note of its length).
pub fn cut_reason(reason: String) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason;
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut; {} bytes in all)", &reason[..end], reason.len())
}

/// The letters a filter shows, newest first.
pub fn shown(list: &[DeadLetter], filter: &str) -> Vec<DeadLetter> {
    list.iter()
        .rev()
        .filter(|l| l.matches(filter))
        .cloned()
        .collect()
}

/// The dead letters are full: nothing was dropped, nothing added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the dead letters are full ({MAX_DEAD_LETTERS}): retry, discard or export some to make room"
)]
pub struct Full;

/// Adds a dead letter, unless the list is full. A key dead-lettered again
/// (after a retry) replaces its earlier letter, so it always has room.
pub fn push(list: &mut Vec<DeadLetter>, letter: DeadLetter) -> Result<(), Full> {
    let earlier = list.iter().position(|l| l.key == letter.key);
    match earlier {
        Some(at) => {
            list.remove(at);
        }
        None if list.len() >= MAX_DEAD_LETTERS => return Err(Full),
        None => {}
    }
    list.push(letter);
    Ok(())
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
    use crate::source::{Identifier, TableSource};
    use serde_json::{json, Value};

    fn letter(key: &str, row: Value, reason: &str, attempts: u32, at_ms: f64) -> DeadLetter {
        let source = TableSource {
            table: Identifier::parse("events").unwrap(),
            timestamp_column: Identifier::parse("created_at").unwrap(),
            key_column: Identifier::parse("id").unwrap(),
        };
        let mut row = row;
        row["id"] = json!(key);
        row["created_at"] = json!("2026-01-01T00:00:00+00:00");
        let event = source.event(row).unwrap();
        DeadLetter::of(&event, reason.into(), attempts, at_ms, None)
    }

    #[test]
    fn a_full_list_refuses_a_new_letter_and_drops_none() {
        let mut list = Vec::new();
        for i in 0..MAX_DEAD_LETTERS {
            assert_eq!(
                push(&mut list, letter(&i.to_string(), json!({}), "r", 1, 0.0)),
                Ok(())
            );
        }
        let before = list.clone();
        assert_eq!(
            push(&mut list, letter("new", json!({}), "r", 1, 0.0)),
            Err(Full)
        );
        assert_eq!(list, before);
        // A letter dead again still fits: it replaces its earlier one.
        assert_eq!(
            push(&mut list, letter("7", json!({}), "again", 2, 1.0)),
            Ok(())
        );
        assert_eq!(list.len(), MAX_DEAD_LETTERS);
        assert_eq!(list.last().unwrap().reason, "again");
    }

    #[test]
    fn long_reasons_are_cut_with_their_length_kept() {
        let long = "é".repeat(3000);
        let cut = letter("1", json!({}), &long, 1, 0.0).reason;
        assert!(cut.len() < MAX_REASON_BYTES + 64, "{}", cut.len());
        assert!(cut.ends_with("… (cut; 6000 bytes in all)"), "{cut}");
        assert_eq!(letter("2", json!({}), "short", 1, 0.0).reason, "short");
    }

    #[test]
    fn huge_rows_are_noted_not_stored() {
        let big = json!({"blob": "x".repeat(MAX_STORED_ROW_BYTES)});
        let noted = letter("1", big, "too big", 3, 0.0);
        assert!(noted.event["_sluice_note"]
            .as_str()
            .unwrap()
            .contains("bytes not stored"));
        assert!(noted.row_is_noted());
        let small = letter("2", json!({"a": 1}), "r", 1, 0.0);
        assert_eq!(small.event["a"], 1);
        assert!(!small.row_is_noted());
    }

    #[test]
    fn a_letter_dead_again_replaces_its_earlier_one() {
        let mut list = Vec::new();
        for (key, reason) in [("1", "first"), ("2", "r"), ("1", "again")] {
            push(&mut list, letter(key, json!({}), reason, 3, 1.0)).unwrap();
        }
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
            .map(|k| letter(k, json!({"k": k}), "r", 1, 0.0))
            .collect();
        let taken = take(&mut list, &["a".into(), "c".into()]);
        assert_eq!(taken.len(), 2);
        assert_eq!(list.len(), 1);
        list[0].by = Some("op@example.com".into());
        let file: serde_json::Value = serde_json::from_str(&export("events", &list)).unwrap();
        assert_eq!(file["table"], "events");
        assert_eq!(file["dead_letters"][0]["key"], "b");
        assert_eq!(file["dead_letters"][0]["event"]["k"], "b");
        assert_eq!(file["dead_letters"][0]["by"], "op@example.com", "who");
    }

    #[test]
    fn letters_kept_before_operators_signed_in_are_read_without_one() {
        let old: DeadLetter =
            serde_json::from_str(r#"{"key":"1","event":{},"reason":"r","attempts":1,"at_ms":0}"#)
                .unwrap();
        assert_eq!(old.by, None);
        assert!(!serde_json::to_string(&old).unwrap().contains("by"));
    }

    #[test]
    fn the_filter_matches_key_and_reason_newest_first() {
        let list = vec![
            letter("a-1", json!({}), "HTTP 422: schema mismatch", 1, 0.0),
            letter("b-2", json!({}), "gave up after 3 attempts", 3, 1.0),
            letter("c-3", json!({}), "Schema drift", 1, 2.0),
        ];
        let keys = |filter: &str| -> Vec<String> {
            shown(&list, filter).into_iter().map(|l| l.key).collect()
        };
        assert_eq!(keys(""), ["c-3", "b-2", "a-1"]);
        assert_eq!(keys(" SCHEMA "), ["c-3", "a-1"]);
        assert_eq!(keys("b-2"), ["b-2"]);
        assert!(keys("nothing").is_empty());
        let by = DeadLetter {
            by: Some("op@example.com".into()),
            ..list[0].clone()
        };
        assert!(by.matches("op@"), "by the operator who dead-lettered it");
    }
}
