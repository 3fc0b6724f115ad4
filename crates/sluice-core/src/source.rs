//! What an operator drains (a table or a queue), a table as a source of
//! events, and the PostgREST queries that read it oldest first by keyset
//! pagination on (timestamp column, key column).
//!
//! Values inside `or=(...)`/`and=(...)`/`in.(...)` end at `,` or `)`, so every
//! value is wrapped in double quotes (with `\` and `"` escaped), and the
//! whole parameter is percent-encoded so that a timestamp's `+` arrives as a
//! `+` rather than a space.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::timestamp;

/// A table or column name that may go into a URL: PostgreSQL's unquoted
/// identifier shape, at most 63 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Identifier(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0:?} is not a valid table or column name (letters, digits and _, starting with a letter or _, at most 63 characters)")]
pub struct InvalidIdentifier(pub String);

impl Identifier {
    pub fn parse(name: &str) -> Result<Self, InvalidIdentifier> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if valid {
            Ok(Self(name.to_string()))
        } else {
            Err(InvalidIdentifier(name.chars().take(80).collect()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Identifier {
    type Error = InvalidIdentifier;
    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

impl From<Identifier> for String {
    fn from(id: Identifier) -> String {
        id.0
    }
}

/// Which table to drain, and the columns that order it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TableSource {
    pub table: Identifier,
    pub timestamp_column: Identifier,
    pub key_column: Identifier,
}

/// A queue to drain, and where its dead letters go. Its naming rules and
/// the calls that read it are in [`crate::queue`]. Read from storage or
/// config.json by those rules ([`NamedQueue`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "NamedQueue")]
pub struct QueueSource {
    pub queue: Identifier,
    pub dead_letter_queue: Identifier,
}

/// A queue as stored or configured: without a dead-letter queue (or with
/// `null`), it gets `{queue}_dlq`, as in the source dialog.
#[derive(Deserialize)]
struct NamedQueue {
    queue: String,
    #[serde(default)]
    dead_letter_queue: Option<String>,
}

impl TryFrom<NamedQueue> for QueueSource {
    type Error = String;
    fn try_from(named: NamedQueue) -> Result<Self, String> {
        Self::parse(
            &named.queue,
            named.dead_letter_queue.as_deref().unwrap_or(""),
        )
    }
}

impl QueueSource {
    pub fn name(&self) -> &str {
        self.queue.as_str()
    }
}

/// What an operator drains: a table read oldest first by keyset, or a
/// Supabase Queue read through `pgmq_public`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Source {
    Table(TableSource),
    Queue(QueueSource),
}

impl Source {
    /// The table's or the queue's name.
    pub fn name(&self) -> &str {
        match self {
            Self::Table(table) => table.table.as_str(),
            Self::Queue(queue) => queue.name(),
        }
    }

    pub fn is_queue(&self) -> bool {
        matches!(self, Self::Queue(_))
    }
}

/// A position in a table: the last event handled in order, with its
/// timestamp exactly as PostgREST sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub timestamp: String,
    pub key: String,
}

/// Percent-encode all but unreserved characters and the grammar's own
/// punctuation, which stays readable in the browser's network panel.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b',')
    .remove(b'(')
    .remove(b')');

pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

/// `"value"`, escaped for PostgREST's reserved-character grammar.
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl TableSource {
    /// Checks the three names an operator types to add a table; the
    /// message names the field that is wrong.
    pub fn parse(table: &str, timestamp_column: &str, key_column: &str) -> Result<Self, String> {
        let field = |what: &str, name: &str| {
            Identifier::parse(name.trim()).map_err(|_| format!("The {what} {:?} is not a valid name (letters, digits and _, starting with a letter or _).", name.trim()))
        };
        Ok(Self {
            table: field("table", table)?,
            timestamp_column: field("timestamp column", timestamp_column)?,
            key_column: field("key column", key_column)?,
        })
    }

    fn ordered(&self) -> String {
        format!(
            "order={ts}.asc,{key}.asc",
            ts = self.timestamp_column.as_str(),
            key = self.key_column.as_str()
        )
    }

    /// "After the cursor": `ts > t OR (ts = t AND key > k)`.
    fn after(&self, cursor: &Cursor) -> String {
        let (ts, key) = (self.timestamp_column.as_str(), self.key_column.as_str());
        let (t, k) = (quote(&cursor.timestamp), quote(&cursor.key));
        format!("({ts}.gt.{t},and({ts}.eq.{t},{key}.gt.{k}))")
    }

    /// The next page of events after `cursor` (from the start without one):
    /// a path relative to `{project}/rest/v1/`.
    pub fn page_path(&self, cursor: Option<&Cursor>, limit: usize) -> String {
        self.ordered_after("*", cursor, limit)
    }

    /// Only the key and timestamp of the first row after `cursor`: for a row
    /// whose whole cannot be read.
    pub fn position_path(&self, cursor: Option<&Cursor>) -> String {
        let (ts, key) = (self.timestamp_column.as_str(), self.key_column.as_str());
        self.ordered_after(&format!("{key},{ts}"), cursor, 1)
    }

    /// `select` of the first `limit` rows after `cursor`, oldest first.
    fn ordered_after(&self, select: &str, cursor: Option<&Cursor>, limit: usize) -> String {
        let mut path = format!(
            "{}?select={select}&{}&limit={limit}",
            self.table.as_str(),
            self.ordered()
        );
        if let Some(cursor) = cursor {
            path.push_str("&or=");
            path.push_str(&encode(&self.after(cursor)));
        }
        path
    }

    /// Rows at or before `cursor` but after `floor_micros`, except the keys
    /// already handled: rows that committed late with an older timestamp.
    pub fn late_rows_path(
        &self,
        cursor: &Cursor,
        floor_micros: i64,
        handled: &[&str],
        limit: usize,
    ) -> String {
        let (ts, key) = (self.timestamp_column.as_str(), self.key_column.as_str());
        let (t, k) = (quote(&cursor.timestamp), quote(&cursor.key));
        let floor = quote(&timestamp::format_micros(floor_micros));
        let window = format!("({ts}.gt.{floor},or({ts}.lt.{t},and({ts}.eq.{t},{key}.lte.{k})))");
        let mut path = format!(
            "{}?select=*&{}&limit={limit}&and={}",
            self.table.as_str(),
            self.ordered(),
            encode(&window)
        );
        if !handled.is_empty() {
            let list: Vec<String> = handled.iter().map(|k| quote(k)).collect();
            path.push_str(&format!(
                "&{key}=not.in.{}",
                encode(&format!("({})", list.join(",")))
            ));
        }
        path
    }

    /// One row's timestamp and key: checks that the table and both columns
    /// exist (PostgREST names what is missing) without reading much.
    pub fn probe_path(&self) -> String {
        format!(
            "{}?select={},{}&limit=1",
            self.table.as_str(),
            self.timestamp_column.as_str(),
            self.key_column.as_str()
        )
    }

    /// The one row with this key: the inspector reads large rows again
    /// rather than keep them in memory.
    pub fn row_path(&self, key: &str) -> String {
        format!(
            "{}?select=*&or={}",
            self.table.as_str(),
            encode(&format!("({}.eq.{})", self.key_column.as_str(), quote(key)))
        )
    }

    /// Rows the keyset can never reach, for a count: a NULL or infinite
    /// timestamp sorts outside every "after the cursor".
    pub fn unorderable_path(&self) -> String {
        let (ts, key) = (self.timestamp_column.as_str(), self.key_column.as_str());
        format!(
            "{}?select={key}&or={}",
            self.table.as_str(),
            encode(&format!(
                "({ts}.is.null,{ts}.eq.infinity,{ts}.eq.-infinity)"
            ))
        )
    }

    /// Rows after `cursor`, for a `HEAD` with `Prefer: count=exact`: the backlog.
    pub fn backlog_path(&self, cursor: Option<&Cursor>) -> String {
        let key = self.key_column.as_str();
        match cursor {
            Some(cursor) => format!(
                "{}?select={key}&or={}",
                self.table.as_str(),
                encode(&self.after(cursor))
            ),
            None => format!("{}?select={key}", self.table.as_str()),
        }
    }
}

/// What the operator reads about rows with a NULL or infinite timestamp.
pub fn unorderable_note(rows: u64) -> Option<String> {
    match rows {
        0 => None,
        1 => Some("1 row has no timestamp and cannot be drained in order".into()),
        n => Some(format!(
            "{n} rows have no timestamp and cannot be drained in order"
        )),
    }
}

impl TableSource {
    /// How to give such rows a timestamp, and keep new ones from lacking it.
    pub fn unorderable_fix(&self) -> String {
        let (table, ts) = (self.table.as_str(), self.timestamp_column.as_str());
        format!(
            "Rows whose {ts} is NULL or ±infinity sort outside every page, so they are never drained. \
             Give them a time (UPDATE {table} SET {ts} = now() WHERE {ts} IS NULL OR {ts} IN ('infinity', '-infinity');) \
             and keep new ones from lacking it (ALTER TABLE {table} ALTER COLUMN {ts} SET DEFAULT now(), ALTER COLUMN {ts} SET NOT NULL;)."
        )
    }
}

/// One row of the source, checked: it has a key and a timestamp.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub key: String,
    pub timestamp: String,
    pub timestamp_micros: i64,
    pub row: serde_json::Value,
    /// The row's size as JSON, measured once when it was read.
    pub row_bytes: usize,
}

/// Where an event sits in its table's keyset order: all the ledger needs
/// to record it, without the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub key: String,
    pub timestamp: String,
    pub timestamp_micros: i64,
}

impl Event {
    pub fn position(&self) -> Position {
        Position {
            key: self.key.clone(),
            timestamp: self.timestamp.clone(),
            timestamp_micros: self.timestamp_micros,
        }
    }
}

/// A row that cannot be handled, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a row of {table} was skipped: {reason}")]
pub struct MalformedRow {
    pub table: String,
    pub reason: String,
}

impl TableSource {
    /// Checks one row: a key that is a string or an integer, and a timestamp
    /// PostgreSQL wrote.
    pub fn event(&self, row: serde_json::Value) -> Result<Event, MalformedRow> {
        let malformed = |reason: String| MalformedRow {
            table: self.table.as_str().to_string(),
            reason,
        };
        let (ts_col, key_col) = (self.timestamp_column.as_str(), self.key_column.as_str());
        let Some(fields) = row.as_object() else {
            return Err(malformed("it is not a JSON object".into()));
        };
        let key = match fields.get(key_col) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(serde_json::Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
            Some(other) => {
                return Err(malformed(format!(
                    "its key column {key_col} holds {other}, not an id"
                )))
            }
            None => return Err(malformed(format!("it has no key column {key_col}"))),
        };
        let timestamp = match fields.get(ts_col) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(malformed(format!(
                    "row {key}: its timestamp column {ts_col} holds {other}"
                )))
            }
            None => {
                return Err(malformed(format!(
                    "row {key}: it has no timestamp column {ts_col}"
                )))
            }
        };
        let timestamp_micros = timestamp::parse_micros(&timestamp).ok_or_else(|| {
            malformed(format!(
                "row {key}: {timestamp:?} in {ts_col} is not a timestamp"
            ))
        })?;
        let row_bytes = row.to_string().len();
        Ok(Event {
            key,
            timestamp,
            timestamp_micros,
            row,
            row_bytes,
        })
    }
}

/// One row as read in keyset order.
#[derive(Debug, Clone, PartialEq)]
pub enum RowRead {
    Event(Event),
    /// A row with a place in the order but no event in it (an empty key, a
    /// timestamp the browser cannot order): refused by its key, with its
    /// raw row and the reason, so the rows after it go on.
    Refused(Event, String),
    /// A row without even a place: skipped, and reported.
    Malformed(MalformedRow),
}

impl TableSource {
    /// Reads one row of a page. A refused row's timestamp stays as
    /// PostgreSQL wrote it (the cursor is the raw text); it sorts at the
    /// browser's range ends, or at `last_micros` (the row before it) when
    /// it is no timestamp at all.
    pub fn read_row(&self, row: serde_json::Value, last_micros: Option<i64>) -> RowRead {
        let (ts_col, key_col) = (self.timestamp_column.as_str(), self.key_column.as_str());
        let placed = row.as_object().and_then(|fields| {
            let key = match fields.get(key_col)? {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                _ => return None,
            };
            let timestamp = fields.get(ts_col)?.as_str()?.to_string();
            let parsed = timestamp::parse_micros(&timestamp);
            let reason = if parsed.is_none() {
                if timestamp::out_of_range_bound(&timestamp).is_some() {
                    format!("timestamp out of range ({timestamp} in {ts_col})")
                } else {
                    format!("timestamp that does not parse ({timestamp:?} in {ts_col})")
                }
            } else if key.is_empty() {
                format!("empty key (in {key_col})")
            } else {
                return None;
            };
            let micros = parsed
                .or_else(|| timestamp::out_of_range_bound(&timestamp))
                .or(last_micros)
                .unwrap_or(*timestamp::ORDERABLE_MICROS.start());
            Some((key, timestamp, micros, reason))
        });
        match placed {
            Some((key, timestamp, timestamp_micros, reason)) => {
                let row_bytes = row.to_string().len();
                let event = Event {
                    key,
                    timestamp,
                    timestamp_micros,
                    row,
                    row_bytes,
                };
                RowRead::Refused(event, format!("unreadable row: {reason}"))
            }
            None => match self.event(row) {
                Ok(event) => RowRead::Event(event),
                Err(malformed) => RowRead::Malformed(malformed),
            },
        }
    }
}

/// The total in a `Content-Range` header (`0-9/42`, `*/42`); `None` for `*/*`.
pub fn content_range_total(header: &str) -> Option<u64> {
    header.rsplit_once('/')?.1.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn events() -> TableSource {
        TableSource {
            table: Identifier::parse("events").unwrap(),
            timestamp_column: Identifier::parse("occurred_at").unwrap(),
            key_column: Identifier::parse("id").unwrap(),
        }
    }

    fn cursor() -> Cursor {
        Cursor {
            timestamp: "2024-05-01T10:00:00.123456+00:00".into(),
            key: "41".into(),
        }
    }

    #[test]
    fn rows_no_keyset_reaches_are_counted_named_and_explained() {
        assert_eq!(
            events().unorderable_path(),
            "events?select=id&or=(occurred_at.is.null,occurred_at.eq.infinity,occurred_at.eq.-infinity)"
        );
        assert_eq!(unorderable_note(0), None);
        assert_eq!(
            unorderable_note(3).unwrap(),
            "3 rows have no timestamp and cannot be drained in order"
        );
        assert!(unorderable_note(1).unwrap().starts_with("1 row has"));
        let fix = events().unorderable_fix();
        assert!(fix.contains("UPDATE events SET occurred_at = now() WHERE occurred_at IS NULL"));
        assert!(fix.contains("SET NOT NULL"));
    }

    #[test]
    fn the_position_of_a_row_is_read_alone_by_key_and_timestamp() {
        assert_eq!(
            events().position_path(Some(&cursor())),
            format!(
                "events?select=id,occurred_at&order=occurred_at.asc,id.asc&limit=1&or={}",
                encode(&events().after(&cursor()))
            )
        );
    }

    #[test]
    fn one_row_is_read_by_its_quoted_key() {
        assert_eq!(
            events().row_path("a,b)\"c"),
            "events?select=*&or=(id.eq.%22a,b)%5C%22c%22)"
        );
    }

    #[test]
    fn identifiers_refuse_anything_that_could_escape_a_url_or_grammar() {
        for good in [
            "events",
            "_private",
            "trello_events2",
            "a".repeat(63).as_str(),
        ] {
            assert!(Identifier::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "2fast",
            "events;drop",
            "a b",
            "a.b",
            "a,b",
            "a(b",
            "ev\"ents",
            "évents",
            "a".repeat(64).as_str(),
        ] {
            assert!(Identifier::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn added_tables_name_the_field_that_is_wrong() {
        let ok = TableSource::parse(" audit_log ", "logged_at", "uuid").unwrap();
        assert_eq!(ok.table.as_str(), "audit_log");
        assert!(TableSource::parse("audit log", "t", "k")
            .unwrap_err()
            .starts_with("The table"));
        assert!(TableSource::parse("a", "t;", "k")
            .unwrap_err()
            .starts_with("The timestamp column"));
        assert!(TableSource::parse("a", "t", "")
            .unwrap_err()
            .starts_with("The key column"));
    }

    #[test]
    fn first_page_is_oldest_first_without_a_filter() {
        assert_eq!(
            events().page_path(None, 50),
            "events?select=*&order=occurred_at.asc,id.asc&limit=50"
        );
    }

    #[test]
    fn next_page_uses_the_keyset_with_quoted_encoded_values() {
        let path = events().page_path(Some(&cursor()), 50);
        assert_eq!(
            path,
            "events?select=*&order=occurred_at.asc,id.asc&limit=50&or=(occurred_at.gt.%222024-05-01T10%3A00%3A00.123456%2B00%3A00%22,and(occurred_at.eq.%222024-05-01T10%3A00%3A00.123456%2B00%3A00%22,id.gt.%2241%22))"
        );
        assert!(!path.contains('+'), "a raw + would arrive as a space");
    }

    #[test]
    fn quoting_escapes_the_grammar() {
        assert_eq!(quote(r#"a,b)"c\d"#), r#""a,b)\"c\\d""#);
        let tricky = Cursor {
            timestamp: "2024-01-01T00:00:00Z".into(),
            key: "x\",and(y".into(),
        };
        let path = events().page_path(Some(&tricky), 1);
        assert!(path.contains("id.gt.%22x%5C%22,and(y%22"), "{path}");
    }

    #[test]
    fn late_rows_look_between_the_floor_and_the_cursor_excluding_handled_keys() {
        let floor = timestamp::parse_micros("2024-05-01T09:55:00+00:00").unwrap();
        let path = events().late_rows_path(&cursor(), floor, &["40", "41"], 20);
        let decoded = percent_encoding::percent_decode_str(&path)
            .decode_utf8()
            .unwrap();
        assert_eq!(
            decoded,
            r#"events?select=*&order=occurred_at.asc,id.asc&limit=20&and=(occurred_at.gt."2024-05-01T09:55:00.000000+00:00",or(occurred_at.lt."2024-05-01T10:00:00.123456+00:00",and(occurred_at.eq."2024-05-01T10:00:00.123456+00:00",id.lte."41")))&id=not.in.("40","41")"#
        );
    }

    #[test]
    fn backlog_counts_what_is_after_the_cursor() {
        assert_eq!(events().backlog_path(None), "events?select=id");
        assert!(events()
            .backlog_path(Some(&cursor()))
            .starts_with("events?select=id&or=(occurred_at.gt."));
    }

    #[test]
    fn totals_come_from_content_range() {
        assert_eq!(content_range_total("0-9/42"), Some(42));
        assert_eq!(content_range_total("*/0"), Some(0));
        assert_eq!(content_range_total("0-9/*"), None);
        assert_eq!(content_range_total("junk"), None);
        assert_eq!(
            events().probe_path(),
            "events?select=occurred_at,id&limit=1"
        );
    }

    #[test]
    fn rows_become_events_or_are_explained() {
        let source = events();
        let ok = source
            .event(json!({"id": 7, "occurred_at": "2024-05-01T10:00:00+00:00", "type": "x"}))
            .unwrap();
        assert_eq!(
            (ok.key.as_str(), ok.timestamp.as_str()),
            ("7", "2024-05-01T10:00:00+00:00")
        );
        let uuid = source
            .event(json!({"id": "9b2f", "occurred_at": "2024-05-01T10:00:00Z"}))
            .unwrap();
        assert_eq!(uuid.key, "9b2f");
        for (row, reason) in [
            (json!([1]), "not a JSON object"),
            (
                json!({"occurred_at": "2024-05-01T10:00:00Z"}),
                "no key column id",
            ),
            (
                json!({"id": null, "occurred_at": "2024-05-01T10:00:00Z"}),
                "holds null",
            ),
            (
                json!({"id": 1.5, "occurred_at": "2024-05-01T10:00:00Z"}),
                "holds 1.5",
            ),
            (json!({"id": 1}), "no timestamp column occurred_at"),
            (json!({"id": 1, "occurred_at": 5}), "holds 5"),
            (
                json!({"id": 1, "occurred_at": "soon"}),
                "is not a timestamp",
            ),
        ] {
            let err = source.event(row).unwrap_err();
            assert!(err.to_string().contains(reason), "{err}");
        }
    }

    #[test]
    fn rows_with_a_place_but_no_event_are_refused_with_their_raw_row() {
        let source = events();
        let refused = |row: serde_json::Value| match source.read_row(row, Some(5)) {
            RowRead::Refused(event, reason) => (event, reason),
            other => panic!("{other:?}"),
        };
        let (empty, why) = refused(json!({"id": "", "occurred_at": "2024-05-01T10:00:00Z"}));
        assert_eq!(empty.key, "");
        assert!(why.contains("empty key"), "{why}");
        let (bc, why) = refused(json!({"id": 1, "occurred_at": "0044-03-15T12:00:00+00:00 BC"}));
        assert!(why.contains("timestamp out of range"), "{why}");
        assert_eq!(
            bc.timestamp, "0044-03-15T12:00:00+00:00 BC",
            "kept as written"
        );
        assert_eq!(bc.timestamp_micros, *timestamp::ORDERABLE_MICROS.start());
        assert_eq!(bc.row["occurred_at"], "0044-03-15T12:00:00+00:00 BC");
        let (late, _) = refused(json!({"id": 2, "occurred_at": "10000-01-01T00:00:00+00:00"}));
        assert_eq!(late.timestamp_micros, *timestamp::ORDERABLE_MICROS.end());
        let (text, why) = refused(json!({"id": 3, "occurred_at": "soon"}));
        assert!(why.contains("does not parse"), "{why}");
        assert_eq!(
            text.timestamp_micros, 5,
            "sorts where the row before it did"
        );
        assert!(matches!(
            source.read_row(
                json!({"id": 4, "occurred_at": "2024-05-01T10:00:00Z"}),
                None
            ),
            RowRead::Event(_)
        ));
        assert!(matches!(
            source.read_row(
                json!({"id": null, "occurred_at": "2024-05-01T10:00:00Z"}),
                None
            ),
            RowRead::Malformed(_)
        ));
    }
}
