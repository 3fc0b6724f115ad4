//! `config.json`, served beside the app: defaults an operator can change in
//! a deployed build without recompiling.

use serde::Deserialize;

use crate::credentials::{ProjectUrl, ProjectUrlError};

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct RuntimeConfig {
    /// Pre-fills the login form's "Project URL".
    pub project_url: Option<String>,
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
}
