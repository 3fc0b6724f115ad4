//! `config.json`, served beside the app: defaults an operator can change in
//! a deployed build without recompiling.

use serde::Deserialize;

use crate::credentials::{ProjectUrl, ProjectUrlError};
use crate::source::{Identifier, TableSource};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    /// Pre-fills the login form's "Project URL".
    pub project_url: Option<String>,
    /// Pre-fills the "Agent URL" until the operator saves their own.
    pub agent_url: Option<String>,
    /// The tables offered in the source dialog, with their columns.
    pub tables: Vec<TableSource>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            project_url: None,
            agent_url: None,
            tables: DEFAULT_TABLES
                .iter()
                .map(|name| default_columns(name))
                .collect(),
        }
    }
}

/// The tables Sluice offers when config.json names none.
pub const DEFAULT_TABLES: [&str; 4] = [
    "staff_room_events",
    "temp_events",
    "events",
    "trello_events",
];

/// A table with the default columns, `created_at` and `id`.
fn default_columns(table: &str) -> TableSource {
    let id = |name: &str| Identifier::parse(name).expect("a valid built-in name");
    TableSource {
        table: id(table),
        timestamp_column: id("created_at"),
        key_column: id("id"),
    }
}

/// The table named in a deep link (`?table=events`): the configured one, or
/// a new one with the default columns.
pub fn table_for_link(
    tables: &[TableSource],
    name: &str,
) -> Result<TableSource, crate::source::InvalidIdentifier> {
    let name = Identifier::parse(name)?;
    Ok(tables
        .iter()
        .find(|t| t.table == name)
        .cloned()
        .unwrap_or_else(|| default_columns(name.as_str())))
}

/// The tables the source dialog offers: the deployed ones in their order,
/// then those the operator added, each name once (a deployed table wins,
/// with its columns).
pub fn table_list(deployed: &[TableSource], added: &[TableSource]) -> Vec<TableSource> {
    let mut all = deployed.to_vec();
    for table in added {
        if !all.iter().any(|t| t.table == table.table) {
            all.push(table.clone());
        }
    }
    all
}

impl RuntimeConfig {
    /// Reads the file's text; an unusable project URL is reported, not used.
    pub fn parse(text: &str) -> Result<Self, String> {
        let config: Self =
            serde_json::from_str(text).map_err(|e| format!("config.json is not valid: {e}"))?;
        if let Some(url) = &config.project_url {
            ProjectUrl::parse(url)
                .map_err(|e: ProjectUrlError| format!("config.json: project_url: {e}"))?;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_project_url_and_ignores_other_keys() {
        let config =
            RuntimeConfig::parse(r#"{"project_url":"http://127.0.0.1:54321","theme":"dark"}"#)
                .unwrap();
        assert_eq!(
            config.project_url.as_deref(),
            Some("http://127.0.0.1:54321")
        );
        assert_eq!(
            RuntimeConfig::parse("{}").unwrap(),
            RuntimeConfig::default()
        );
    }

    #[test]
    fn bad_files_are_explained() {
        assert!(RuntimeConfig::parse("<html>")
            .unwrap_err()
            .contains("not valid"));
        assert!(RuntimeConfig::parse(r#"{"project_url":"ftp://x"}"#)
            .unwrap_err()
            .contains("project_url"));
    }

    #[test]
    fn the_table_list_keeps_deployed_tables_first_and_each_name_once() {
        let deployed = RuntimeConfig::default().tables;
        let mut events = default_columns("events");
        events.key_column = Identifier::parse("event_id").unwrap();
        let added = vec![default_columns("orders"), events];
        let names: Vec<_> = table_list(&deployed, &added)
            .iter()
            .map(|t| t.table.as_str().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "staff_room_events",
                "temp_events",
                "events",
                "trello_events",
                "orders"
            ]
        );
        let events = table_list(&deployed, &added)
            .into_iter()
            .find(|t| t.table.as_str() == "events")
            .unwrap();
        assert_eq!(events.key_column.as_str(), "id", "the deployed columns win");
    }
}
