//! The operator's agent settings, as stored and as checked when saved.

use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::time::Duration;

use crate::admission::MAX_LANES;

/// HTTP/1.1 connections a browser opens to one host at most (Chromium,
/// Firefox and Safari alike).
pub const BROWSER_CONNECTIONS_PER_HOST: usize = 6;

/// Where the gate sends events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination<'a> {
    Agent(&'a str),
    /// Ticked "Pass-through (no agent)": events pass the gate unprocessed.
    PassThrough,
    /// Neither an agent nor pass-through: nothing may drain.
    Unchosen,
}

/// Where events go, and how patiently. Remembered in localStorage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentSettings {
    /// Where events are posted. Empty, with pass-through not ticked, means
    /// no agent was chosen: nothing drains (fail closed).
    pub url: String,
    /// The operator's explicit choice to let events pass without an agent.
    pub pass_through: bool,
    /// Sent as `Authorization: Bearer {token}` when not empty.
    pub token: String,
    /// How long one attempt may take, in seconds.
    pub timeout_s: u32,
    /// Attempts before an event is dead-lettered; never zero, so a stored
    /// 0 is refused as damaged rather than retried for ever.
    pub attempts: NonZeroU32,
    /// Events at the gate at once (1 to [`MAX_LANES`]).
    pub lanes: NonZeroU32,
}

impl Default for AgentSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            pass_through: false,
            token: String::new(),
            timeout_s: 30,
            attempts: NonZeroU32::new(5).expect("five is not zero"),
            lanes: NonZeroU32::MIN,
        }
    }
}

impl AgentSettings {
    /// Checks the settings as typed (and as loaded: stored settings are not
    /// trusted): an http(s) URL or nothing, a timeout of 1–600 s, 1–20
    /// attempts, a token a header can carry.
    pub fn validate(self) -> Result<Self, String> {
        let url = self.url.trim().to_string();
        let web_address = url.starts_with("https://") || url.starts_with("http://");
        if !(url.is_empty() || web_address) || url.contains(char::is_whitespace) {
            return Err("The agent URL must be an http:// or https:// address.".into());
        }
        if !(1..=600).contains(&self.timeout_s) {
            return Err("The agent timeout must be between 1 and 600 seconds.".into());
        }
        if self.attempts.get() > 20 {
            return Err("Attempts must be between 1 and 20.".into());
        }
        if self.lanes.get() as usize > MAX_LANES {
            return Err(format!("Lanes must be between 1 and {MAX_LANES}."));
        }
        // It travels in a header, which carries visible ASCII only.
        if !self.token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(
                "The token may hold only visible ASCII characters (no spaces or accents).".into(),
            );
        }
        Ok(Self { url, ..self })
    }

    pub fn destination(&self) -> Destination<'_> {
        match (self.pass_through, self.url.is_empty()) {
            (true, _) => Destination::PassThrough,
            (false, false) => Destination::Agent(&self.url),
            (false, true) => Destination::Unchosen,
        }
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_s))
    }

    pub fn lanes(&self) -> usize {
        self.lanes.get() as usize
    }

    /// Said when lanes would wait for a connection rather than for the
    /// agent: over plain http a browser speaks HTTP/1.1, and opens at most
    /// six connections to one host.
    pub fn connection_note(&self) -> Option<String> {
        let plain = self.url.starts_with("http://");
        (plain && !self.pass_through && self.lanes() > BROWSER_CONNECTIONS_PER_HOST).then(|| {
            format!(
                "Over http:// a browser opens at most {BROWSER_CONNECTIONS_PER_HOST} connections to one host: lanes beyond {BROWSER_CONNECTIONS_PER_HOST} wait for one. An https:// agent that speaks HTTP/2 has no such limit."
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_validated() {
        assert_eq!(
            AgentSettings::default().validate().unwrap().destination(),
            Destination::Unchosen,
            "no agent until the operator chooses one"
        );
        let through = AgentSettings {
            url: "http://kept-for-later".into(),
            pass_through: true,
            ..Default::default()
        };
        assert_eq!(through.destination(), Destination::PassThrough);
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
                lanes: NonZeroU32::new(33).unwrap(),
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
    fn more_lanes_than_a_browser_opens_connections_over_http_are_pointed_out() {
        let lanes = |url: &str, lanes: u32| AgentSettings {
            url: url.into(),
            lanes: NonZeroU32::new(lanes).unwrap(),
            ..Default::default()
        };
        assert_eq!(lanes("http://agent", 6).connection_note(), None);
        assert!(lanes("http://agent", 7)
            .connection_note()
            .unwrap()
            .contains("at most 6 connections"));
        assert_eq!(lanes("https://agent", 32).connection_note(), None);
    }

    #[test]
    fn settings_stored_before_pass_through_was_a_choice_choose_nothing() {
        let old: AgentSettings =
            serde_json::from_str(r#"{"url":"","token":"","timeout_s":30,"attempts":5}"#).unwrap();
        assert_eq!(old.destination(), Destination::Unchosen);
        assert_eq!(old.lanes(), 1, "one lane, as before lanes existed");
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
