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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_namespaced_and_versioned() {
        assert_eq!(consumption_rate(), "sluice:v1:rate");
        assert_eq!(session(), "sluice:v1:session");
    }
}
