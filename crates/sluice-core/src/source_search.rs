//! Searching the source table itself, through PostgREST filters, newest
//! first. A separate request: the drain's cursor is never touched.

use crate::source::{encode, TableSource};

/// Rows a search returns at most.
pub const SEARCH_LIMIT: usize = 50;

/// What the operator asked for; empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceSearch {
    /// Exact match on the `type` column.
    pub event_type: String,
    /// Exact match on the `source` column.
    pub origin: String,
    /// Words in the `payload` column, as a web search would take them
    /// (`wfts`: PostgREST 13 converts a json column with `to_tsvector`).
    pub text: String,
}

impl SourceSearch {
    pub fn is_empty(&self) -> bool {
        [&self.event_type, &self.origin, &self.text]
            .iter()
            .all(|f| f.trim().is_empty())
    }

    /// The path (relative to `{project}/rest/v1/`) of the newest matching rows.
    pub fn path(&self, source: &TableSource) -> String {
        let (ts, key) = (source.timestamp_column.as_str(), source.key_column.as_str());
        let mut path = format!(
            "{}?select=*&order={ts}.desc,{key}.desc&limit={SEARCH_LIMIT}",
            source.table.as_str()
        );
        // A top-level filter's value is taken whole: only URL encoding is needed.
        for (column, op, value) in [
            ("type", "eq", &self.event_type),
            ("source", "eq", &self.origin),
            ("payload", "wfts", &self.text),
        ] {
            let value = value.trim();
            if !value.is_empty() {
                path.push_str(&format!("&{column}={op}.{}", encode(value)));
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_become_encoded_filters_newest_first() {
        let source = TableSource::parse("events", "occurred_at", "id").unwrap();
        let search = SourceSearch {
            event_type: "order.created".into(),
            origin: String::new(),
            text: "refund & \"late\"".into(),
        };
        assert_eq!(
            search.path(&source),
            "events?select=*&order=occurred_at.desc,id.desc&limit=50&type=eq.order.created&payload=wfts.refund%20%26%20%22late%22"
        );
        assert!(SourceSearch::default().is_empty());
        assert!(!search.is_empty());
    }
}
