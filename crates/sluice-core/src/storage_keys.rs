//! Everything Sluice keeps in the browser lives under one versioned namespace,
//! so a future format can migrate old data instead of misreading it, and so
//! other apps on the same origin are never touched.

/// The prefix of every key Sluice writes.
pub const NAMESPACE: &str = "sluice:v1:";

/// Where the chosen consumption rate is remembered.
pub fn consumption_rate() -> String {
    format!("{NAMESPACE}rate")
}

/// Where the logged-in project and key are kept (session or local storage,
/// as the operator chose with "Remember me").
pub fn session() -> String {
    format!("{NAMESPACE}session")
}

/// The prefix of one table's ledger items: per project, so two projects
/// with the same table names never mix.
pub fn ledger_prefix(project_url: &str, table: &str) -> String {
    format!("{NAMESPACE}ledger:{project_url}|{table}:")
}

pub fn ledger_head(project_url: &str, table: &str) -> String {
    format!("{}head", ledger_prefix(project_url, table))
}

pub fn ledger_slot(project_url: &str, table: &str, slot: usize) -> String {
    format!("{}{slot}", ledger_prefix(project_url, table))
}

/// A confirmed "Clear history" or import, waiting for the table's gate to
/// empty.
pub fn pending_reset(project_url: &str, table: &str) -> String {
    format!("{NAMESPACE}reset:{project_url}|{table}")
}

/// Set once the seed prototype's keys for a table were imported.
pub fn prototype_imported(project_url: &str, table: &str) -> String {
    format!("{NAMESPACE}imported:{project_url}|{table}")
}

/// Tables the operator added in the source dialog.
pub fn added_tables() -> String {
    format!("{NAMESPACE}tables")
}

/// Queues the operator added in the source dialog.
pub fn added_queues() -> String {
    format!("{NAMESPACE}queues")
}

/// The source chosen in the source dialog: a table's name, or `queue:{name}`.
pub fn selected_table() -> String {
    format!("{NAMESPACE}selected-table")
}

/// The agent settings, without the token.
pub fn agent_settings() -> String {
    format!("{NAMESPACE}agent")
}

/// The agent's token: in sessionStorage, or in localStorage when the login
/// is remembered.
pub fn agent_token() -> String {
    format!("{NAMESPACE}agent-token")
}

/// A table's dead letters.
pub fn dead_letters(project_url: &str, table: &str) -> String {
    format!("{NAMESPACE}dead:{project_url}|{table}")
}

/// A table's lag and error-rate alert limits.
pub fn alert_thresholds(project_url: &str, table: &str) -> String {
    format!("{NAMESPACE}alerts:{project_url}|{table}")
}

/// A table's partition key: the column whose values never overlap at the gate.
pub fn partition_key(project_url: &str, table: &str) -> String {
    format!("{NAMESPACE}partition:{project_url}|{table}")
}

/// Light, dark or system.
pub fn theme() -> String {
    format!("{NAMESPACE}theme")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_versioned() {
        assert_eq!(consumption_rate(), "sluice:v1:rate");
        assert_eq!(session(), "sluice:v1:session");
        assert_eq!(
            ledger_head("http://x", "events"),
            "sluice:v1:ledger:http://x|events:head"
        );
        assert_eq!(
            ledger_slot("http://x", "events", 7),
            "sluice:v1:ledger:http://x|events:7"
        );
        assert!(
            ledger_slot("http://x", "events", 7).starts_with(&ledger_prefix("http://x", "events"))
        );
    }
}
