//! The operator's agent settings, as stored and as checked when saved.

use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::time::Duration;

/// Where events go, and how patiently. Remembered in localStorage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSettings {
    /// Empty: pass-through (events pass the gate without an agent).
    pub url: String,
    /// Sent as `Authorization: Bearer {token}` when not empty.
    pub token: String,
    /// How long one attempt may take, in seconds.
    pub timeout_s: u32,
    /// Attempts before an event is dead-lettered; never zero, so a stored
    /// 0 is refused as damaged rather than retried for ever.
    pub attempts: NonZeroU32,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: String::new(),
            timeout_s: 30,
            attempts: NonZeroU32::new(5).expect("five is not zero"),
        }
    }
}

impl AgentSettings {
    /// Checks the settings as typed: an http(s) URL or nothing, a timeout of
    /// 1–600 s, 1–20 attempts.
    pub fn validate(self) -> Result<Self, String> {
        let url = self.url.trim().to_string();
        let web_address = url.starts_with("https://") || url.starts_with("http://");
        if !(url.is_empty() || web_address) || url.contains(char::is_whitespace) {
            return Err(
                "The agent URL must be an http:// or https:// address (or empty for pass-through)."
                    .into(),
            );
        }
        if !(1..=600).contains(&self.timeout_s) {
            return Err("The agent timeout must be between 1 and 600 seconds.".into());
        }
        if self.attempts.get() > 20 {
            return Err("Attempts must be between 1 and 20.".into());
        }
        // It travels in a header, which carries visible ASCII only.
        if !self.token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(
                "The token may hold only visible ASCII characters (no spaces or accents).".into(),
            );
        }
        Ok(Self { url, ..self })
    }

    pub fn pass_through(&self) -> bool {
        self.url.is_empty()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated() {
        assert!(AgentSettings::default().validate().unwrap().pass_through());
        let ok = AgentSettings {
            url: " http://127.0.0.1:54330/ ".into(),
            ..Default::default()
        }
        .validate()
        .unwrap();
        assert_eq!(ok.url, "http://127.0.0.1:54330/");
        for bad in [
            AgentSettings {
                url: "ftp://x".into(),
                ..Default::default()
            },
            AgentSettings {
                url: "javascript:alert(1)".into(),
                ..Default::default()
            },
            AgentSettings {
                timeout_s: 0,
                ..Default::default()
            },
            AgentSettings {
                attempts: NonZeroU32::new(21).unwrap(),
                ..Default::default()
            },
            AgentSettings {
                url: "http://agent".into(),
                token: "s\u{e9}cret".into(),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err());
        }
    }

    #[test]
    fn stored_settings_with_zero_attempts_are_refused_not_looped_on() {
        let stored = r#"{"url":"http://agent","token":"","timeout_s":30,"attempts":0}"#;
        assert!(serde_json::from_str::<AgentSettings>(stored).is_err());
        let fine = stored.replace(":0}", ":3}");
        let settings: AgentSettings = serde_json::from_str(&fine).unwrap();
        assert_eq!(settings.attempts.get(), 3);
    }
}
