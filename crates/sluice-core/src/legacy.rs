//! The seed prototype kept every processed key in one localStorage item,
//! `ms-processed-events`: a JSON array of `"{table}:{id}"`. Sluice imports it
//! once, per table, so events the prototype handled are not handled again.

use std::collections::{BTreeMap, BTreeSet};

/// The prototype's storage key.
pub const PROTOTYPE_KEY: &str = "ms-processed-events";

/// Splits the prototype's keys by table. Entries that are not strings of
/// the form `table:id` are counted, not guessed at.
pub fn parse(text: &str) -> Result<(BTreeMap<String, BTreeSet<String>>, usize), String> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("{PROTOTYPE_KEY} is not a JSON array ({e})"))?;
    let mut tables: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut skipped = 0;
    for entry in entries {
        match entry.as_str().and_then(|s| s.split_once(':')) {
            Some((table, id)) if !table.is_empty() && !id.is_empty() => {
                tables
                    .entry(table.to_string())
                    .or_default()
                    .insert(id.to_string());
            }
            _ => skipped += 1,
        }
    }
    Ok((tables, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_split_by_table() {
        let (tables, skipped) =
            parse(r#"["events:1","events:2","trello_events:5f1c:x",7,"nocolon",":3"]"#).unwrap();
        assert_eq!(
            tables["events"],
            BTreeSet::from(["1".to_string(), "2".to_string()])
        );
        assert_eq!(
            tables["trello_events"],
            BTreeSet::from(["5f1c:x".to_string()]),
            "ids may contain colons"
        );
        assert_eq!(skipped, 3);
    }

    #[test]
    fn foreign_data_is_refused() {
        assert!(parse("{\"events\":1}").is_err());
        assert!(parse("not json").is_err());
    }
}
