//! `config.json`, served beside the app: defaults an operator can change in
//! a deployed build without recompiling.

use serde::Deserialize;

use crate::credentials::{ProjectUrl, ProjectUrlError};
use crate::source::{Identifier, QueueSource, Source, TableSource};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    /// Pre-fills the login form's "Project URL".
    pub project_url: Option<String>,
    /// Pre-fills the "Agent URL" until the operator saves their own.
    pub agent_url: Option<String>,
    /// The tables offered in the source dialog, with their columns.
    pub tables: Vec<TableSource>,
    /// The Supabase Queues offered in the source dialog (none unless named:
    /// a project may not have Queues).
    pub queues: Vec<QueueSource>,
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
            queues: Vec::new(),
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

/// The queues the source dialog offers: the deployed ones, then those the
/// operator added, each name once (a deployed queue wins).
pub fn queue_list(deployed: &[QueueSource], added: &[QueueSource]) -> Vec<QueueSource> {
    let mut all = deployed.to_vec();
    for queue in added {
        if !all.iter().any(|q| q.queue == queue.queue) {
            all.push(queue.clone());
        }
    }
    all
}

/// How the chosen source is remembered: a table by its name, a queue as
/// `queue:{name}` (a table's name cannot hold a colon).
pub fn selection(source: &Source) -> String {
    match source {
        Source::Table(table) => table.table.as_str().to_string(),
        Source::Queue(queue) => format!("{QUEUE_SELECTION}{}", queue.name()),
    }
}

const QUEUE_SELECTION: &str = "queue:";

/// The source a remembered selection names, among those offered.
pub fn selected_source(
    selection: &str,
    tables: &[TableSource],
    queues: &[QueueSource],
) -> Option<Source> {
    match selection.strip_prefix(QUEUE_SELECTION) {
        Some(queue) => queues
            .iter()
            .find(|q| q.name() == queue)
            .cloned()
            .map(Source::Queue),
        None => tables
            .iter()
            .find(|t| t.table.as_str() == selection)
            .cloned()
            .map(Source::Table),
    }
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

    #[test]
    fn a_selection_names_a_table_or_a_queue_even_when_they_share_a_name() {
        let tables = RuntimeConfig::default().tables;
        let queues = vec![QueueSource::parse("events", "").unwrap()];
        let table = selected_source("events", &tables, &queues).unwrap();
        let queue = selected_source("queue:events", &tables, &queues).unwrap();
        assert!(!table.is_queue());
        assert!(queue.is_queue());
        assert_eq!(selection(&queue), "queue:events");
        assert_eq!(selection(&table), "events");
        assert_eq!(selected_source("queue:nope", &tables, &queues), None);
        let parsed =
            RuntimeConfig::parse(r#"{"queues":[{"queue":"jobs","dead_letter_queue":"jobs_dlq"}]}"#)
                .unwrap();
        assert_eq!(parsed.queues[0].name(), "jobs");
        assert_eq!(queue_list(&parsed.queues, &queues).len(), 2);
    }

    #[test]
    fn a_configured_queue_without_a_dead_letter_queue_gets_the_dialogs_default() {
        let config = RuntimeConfig::parse(
            r#"{"queues":[{"queue":"jobs"},{"queue":"mail","dead_letter_queue":null},{"queue":"orders","dead_letter_queue":"failed_orders"}]}"#,
        )
        .unwrap();
        let pairs: Vec<_> = config
            .queues
            .iter()
            .map(|q| (q.name(), q.dead_letter_queue.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("jobs", "jobs_dlq"),
                ("mail", "mail_dlq"),
                ("orders", "failed_orders")
            ]
        );
        assert_eq!(
            config.queues[0],
            QueueSource::parse("jobs", "").unwrap(),
            "the same default as a queue added in the source dialog"
        );
        assert!(RuntimeConfig::parse(r#"{"queues":[{"queue":"Jobs"}]}"#)
            .unwrap_err()
            .contains("\"Jobs\""));
    }
}
