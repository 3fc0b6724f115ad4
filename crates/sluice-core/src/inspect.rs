//! What the inspector shows of a row: a summary of each JSON value, long
//! strings and long lists cut to a preview (expanded on demand), and the
//! ids that tie events together. Rendering stays cheap however large the
//! row, because only previews are turned into page nodes.

use serde_json::Value;

/// Characters of a string shown before "show all".
pub const PREVIEW_CHARS: usize = 1_000;
/// Members of an object or array shown before "show more".
pub const PREVIEW_ITEMS: usize = 100;
/// Rows larger than this open with only their top level expanded.
pub const LARGE_ROW_BYTES: usize = 256 * 1024;

/// "object, 3 keys", "array, 12 items", for a collapsed value.
pub fn summary(value: &Value) -> String {
    match value {
        Value::Object(map) => format!(
            "object, {} {}",
            map.len(),
            if map.len() == 1 { "key" } else { "keys" }
        ),
        Value::Array(items) => format!(
            "array, {} {}",
            items.len(),
            if items.len() == 1 { "item" } else { "items" }
        ),
        _ => String::new(),
    }
}

/// The first `limit` characters of `text`, and how many were left out.
pub fn preview(text: &str, limit: usize) -> (&str, usize) {
    match text.char_indices().nth(limit) {
        Some((end, _)) => (&text[..end], text[end..].chars().count()),
        None => (text, 0),
    }
}

/// A scalar as JSON would spell it (strings quoted, with escapes).
pub fn scalar(value: &Value) -> String {
    match value {
        Value::Object(_) | Value::Array(_) => summary(value),
        other => other.to_string(),
    }
}

/// The kind of a value, for styling.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// "512 B", "4.2 KB", "5.0 MB".
pub fn format_bytes(bytes: usize) -> String {
    match bytes {
        0..=1023 => format!("{bytes} B"),
        1024..=1_048_575 => format!("{:.1} KB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MB", bytes as f64 / 1_048_576.0),
    }
}

const ID_FIELDS: [(&str, &str); 6] = [
    ("correlation_id", "Correlation id"),
    ("correlationId", "Correlation id"),
    ("causation_id", "Causation id"),
    ("causationId", "Causation id"),
    ("trace_id", "Trace id"),
    ("traceId", "Trace id"),
];

/// Correlation, causation and trace ids, found at the row's top level or
/// inside its `metadata` or `payload` object.
pub fn linked_ids(row: &Value) -> Vec<(&'static str, String)> {
    let places = [Some(row), row.get("metadata"), row.get("payload")];
    let mut found: Vec<(&'static str, String)> = Vec::new();
    for (field, label) in ID_FIELDS {
        let value = places
            .iter()
            .flatten()
            .find_map(|place| place.get(field))
            .filter(|v| !v.is_null());
        if let Some(value) = value {
            if !found.iter().any(|(l, _)| *l == label) {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                found.push((label, text));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn previews_cut_on_character_boundaries() {
        assert_eq!(preview("héllo", 2), ("hé", 3));
        assert_eq!(preview("hi", 5), ("hi", 0));
        let long = "x".repeat(5 * 1024 * 1024);
        let (shown, hidden) = preview(&long, PREVIEW_CHARS);
        assert_eq!(shown.len(), PREVIEW_CHARS);
        assert_eq!(hidden, long.len() - PREVIEW_CHARS);
    }

    #[test]
    fn summaries_and_scalars() {
        assert_eq!(summary(&json!({"a": 1})), "object, 1 key");
        assert_eq!(summary(&json!([1, 2])), "array, 2 items");
        assert_eq!(scalar(&json!("<script>")), "\"<script>\"");
        assert_eq!(scalar(&json!(null)), "null");
        assert_eq!(kind(&json!(1.5)), "number");
    }

    #[test]
    fn sizes_read_short() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(4300), "4.2 KB");
        assert_eq!(format_bytes(5 * 1024 * 1024), "5.0 MB");
    }

    #[test]
    fn linked_ids_are_found_where_producers_put_them() {
        let row = json!({
            "id": 1,
            "metadata": {"correlation_id": "c-1", "causationId": 7},
            "payload": {"trace_id": "t-9", "correlation_id": "ignored"}
        });
        assert_eq!(
            linked_ids(&row),
            vec![
                ("Correlation id", "c-1".to_string()),
                ("Causation id", "7".to_string()),
                ("Trace id", "t-9".to_string()),
            ]
        );
        assert!(linked_ids(&json!({"metadata": null})).is_empty());
    }
}
