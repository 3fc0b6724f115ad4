//! The agent webhook, v1 (docs/agent-protocol.md), as pure decisions: what a
//! reply means, how a stream of ndjson signals is read, when to retry.

use serde::{Deserialize, Serialize};
use std::num::NonZeroU32;
use std::time::Duration;

use crate::backoff::Backoff;

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
        Ok(Self { url, ..self })
    }

    pub fn pass_through(&self) -> bool {
        self.url.is_empty()
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_s))
    }
}

/// One signal from the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum Signal {
    Processing {
        progress: Option<f64>,
        message: Option<String>,
    },
    Done,
    Failed {
        reason: String,
    },
}

#[derive(Deserialize)]
struct RawSignal {
    status: String,
    progress: Option<f64>,
    message: Option<String>,
    reason: Option<String>,
}

/// Parses one JSON signal; unknown fields are ignored.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    let raw: RawSignal =
        serde_json::from_str(text.trim()).map_err(|e| format!("not a signal ({e})"))?;
    match raw.status.as_str() {
        "processing" => Ok(Signal::Processing {
            progress: raw
                .progress
                .filter(|p| p.is_finite())
                .map(|p| p.clamp(0.0, 1.0)),
            message: raw.message,
        }),
        "done" => Ok(Signal::Done),
        "failed" => Ok(Signal::Failed {
            reason: raw
                .reason
                .or(raw.message)
                .unwrap_or_else(|| "the agent gave no reason".into()),
        }),
        other => Err(format!("unknown status {other:?}")),
    }
}

/// Splits an ndjson byte stream into signals, however the chunks fall
/// (a line, or a UTF-8 character, may span chunks).
#[derive(Debug, Default)]
pub struct NdjsonReader {
    pending: Vec<u8>,
}

impl NdjsonReader {
    /// Feeds a chunk; returns the signals of the lines it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Signal, String>> {
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            if let Some(signal) = Self::line(&line) {
                out.push(signal);
            }
        }
        out
    }

    /// The stream ended: a last line without a newline still counts.
    pub fn finish(&mut self) -> Option<Result<Signal, String>> {
        let line = std::mem::take(&mut self.pending);
        Self::line(&line)
    }

    fn line(bytes: &[u8]) -> Option<Result<Signal, String>> {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim();
        (!text.is_empty()).then(|| parse_signal(text))
    }
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Passed,
    /// Final: the event goes to the dead letters.
    Rejected(String),
    /// Worth another try (after `retry_after` at least, when given).
    Failed {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// What a non-2xx reply means: 408, 429 and 5xx are worth retrying; any
/// other refusal is final.
pub fn attempt_for_status(status: u16, body: &str, retry_after: Option<Duration>) -> Attempt {
    let reason = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("reason")
                .or_else(|| v.get("message"))
                .and_then(|r| r.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| {
            let snippet: String = body.chars().take(120).collect();
            format!(
                "HTTP {status}{}",
                if snippet.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", snippet.trim())
                }
            )
        });
    match status {
        408 | 429 | 500..=599 => Attempt::Failed {
            reason: format!("{reason} (HTTP {status})"),
            retry_after,
        },
        _ => Attempt::Rejected(format!("{reason} (HTTP {status})")),
    }
}

/// The retry policy for deliveries.
pub const DELIVERY_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

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

    #[test]
    fn signals_parse_with_unknown_fields_ignored() {
        assert_eq!(
            parse_signal(
                r#"{"status":"processing","progress":0.4,"message":"resizing","extra":[1]}"#
            ),
            Ok(Signal::Processing {
                progress: Some(0.4),
                message: Some("resizing".into())
            })
        );
        assert_eq!(
            parse_signal(r#"{"status":"processing","progress":7}"#),
            Ok(Signal::Processing {
                progress: Some(1.0),
                message: None
            })
        );
        assert_eq!(parse_signal(r#"{"status":"done"}"#), Ok(Signal::Done));
        assert_eq!(
            parse_signal(r#"{"status":"failed","reason":"bad row"}"#),
            Ok(Signal::Failed {
                reason: "bad row".into()
            })
        );
        assert!(parse_signal(r#"{"status":"dancing"}"#).is_err());
        assert!(parse_signal("<html>").is_err());
    }

    #[test]
    fn ndjson_survives_any_chunking() {
        let stream = "{\"status\":\"processing\",\"progress\":0.5,\"message\":\"h\u{e9}\"}\n\n{\"status\":\"done\"}";
        let bytes = stream.as_bytes();
        for split in 1..bytes.len() {
            let mut reader = NdjsonReader::default();
            let mut signals = reader.push(&bytes[..split]);
            signals.extend(reader.push(&bytes[split..]));
            signals.extend(reader.finish());
            assert_eq!(
                signals,
                vec![
                    Ok(Signal::Processing {
                        progress: Some(0.5),
                        message: Some("h\u{e9}".into())
                    }),
                    Ok(Signal::Done)
                ],
                "split at {split}"
            );
        }
    }

    #[test]
    fn a_broken_line_is_reported_and_the_stream_goes_on() {
        let mut reader = NdjsonReader::default();
        let signals = reader.push(b"{\"status\":\"proc\n{\"status\":\"done\"}\n");
        assert!(signals[0].is_err());
        assert_eq!(signals[1], Ok(Signal::Done));
    }

    #[test]
    fn statuses_sort_into_final_and_retryable() {
        assert_eq!(
            attempt_for_status(422, r#"{"status":"failed","reason":"no such order"}"#, None),
            Attempt::Rejected("no such order (HTTP 422)".into())
        );
        assert_eq!(
            attempt_for_status(404, "<html>Not Found</html>", None),
            Attempt::Rejected("HTTP 404: <html>Not Found</html> (HTTP 404)".into())
        );
        for status in [408, 429, 500, 503] {
            assert!(matches!(
                attempt_for_status(status, "", Some(Duration::from_secs(2))),
                Attempt::Failed {
                    retry_after: Some(_),
                    ..
                }
            ));
        }
    }
}
