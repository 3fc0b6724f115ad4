//! What one attempt came to, sorted by what the agent answered
//! (docs/agent-protocol.md, "Replies"), and the request's
//! `Idempotency-Key`.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use std::time::Duration;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Passed,
    /// The agent refused the event for good: it goes to the dead letters.
    Rejected(String),
    /// The agent is up and failed this event: worth another try (after
    /// `retry_after` at least, when given), as many as "Attempts" allows.
    Failed {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// No answer at all: the agent is offline, the event waits.
    Unanswered(String),
    /// The agent's settings are wrong, not the event: the drain halts.
    Misconfigured(String),
}

/// A server's `Retry-After` is honoured up to an hour.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(3600);

/// What a non-2xx reply means. Redirects arrive here as 3xx (they are not
/// followed: the browser reports them without a status, see
/// [`Attempt::redirected`]).
pub fn attempt_for_status(status: u16, body: &str, retry_after: Option<Duration>) -> Attempt {
    let said = reason_in(body);
    let with_said = |what: &str| match &said {
        Some(said) => format!("{what}: {said}"),
        None => what.to_string(),
    };
    let check = |what: &str, advice: &str| {
        Attempt::Misconfigured(format!("{} — {advice}", with_said(what)))
    };
    match status {
        300..=399 => Attempt::redirected(),
        401 => check("the agent refused the token (HTTP 401)", "check Token"),
        403 => check(
            "the agent forbids this (HTTP 403)",
            "check Token and what the agent allows",
        ),
        404 | 410 => check(
            &format!("there is no agent at this address (HTTP {status})"),
            "check Agent URL",
        ),
        405 => check(
            "the agent address does not accept POST (HTTP 405)",
            "check Agent URL",
        ),
        407 => check(
            "a proxy asks for credentials (HTTP 407)",
            "check the network between this browser and the agent",
        ),
        400 | 409 | 413 | 422 => Attempt::Rejected(format!(
            "{} (HTTP {status})",
            said.unwrap_or_else(|| "the agent refused the event".into())
        )),
        408 | 429 | 500..=599 => Attempt::Failed {
            reason: with_said(&format!("the agent failed (HTTP {status})")),
            retry_after: retry_after.map(|d| d.min(RETRY_AFTER_CAP)),
        },
        _ => Attempt::Failed {
            reason: with_said(&format!(
                "the agent answered HTTP {status}, outside the protocol"
            )),
            retry_after: None,
        },
    }
}

impl Attempt {
    /// The agent's address answered with a redirect.
    pub fn redirected() -> Self {
        Self::Misconfigured(
            "the agent address redirects, and redirects are not followed — put the address it redirects to in Agent URL".into(),
        )
    }
}

/// The agent's own words in an error body: its `reason` or `message`, or
/// the start of a body that is not JSON.
fn reason_in(body: &str) -> Option<String> {
    let field = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            ["reason", "message", "error"]
                .iter()
                .find_map(|f| v.get(f).and_then(|r| r.as_str()).map(str::to_string))
        });
    field.or_else(|| {
        let snippet: String = body.trim().chars().take(120).collect();
        (!snippet.is_empty()).then_some(snippet)
    })
}

/// Bytes escaped in an `Idempotency-Key`: what a header cannot carry
/// (controls, space, non-ASCII, which the encoder always escapes) and `%`
/// itself, so that the encoding is one-to-one.
const NOT_IN_A_KEY: &AsciiSet = &CONTROLS.add(b' ').add(b'%').add(b'"');

/// `{table}:{key}`, percent-encoded where a header value could not carry it
/// (docs/agent-protocol.md). Keys of visible ASCII without `%` or `"` are
/// unchanged; two different keys never share a value.
pub fn idempotency_key(table: &str, key: &str) -> String {
    format!(
        "{}:{}",
        utf8_percent_encode(table, NOT_IN_A_KEY),
        utf8_percent_encode(key, NOT_IN_A_KEY)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_problems_halt_instead_of_dead_lettering() {
        for status in [301, 302, 307, 308, 401, 403, 404, 405, 407, 410] {
            assert!(
                matches!(
                    attempt_for_status(status, "", None),
                    Attempt::Misconfigured(_)
                ),
                "{status}"
            );
        }
        let Attempt::Misconfigured(why) =
            attempt_for_status(401, r#"{"message":"bad token"}"#, None)
        else {
            unreachable!()
        };
        assert_eq!(
            why,
            "the agent refused the token (HTTP 401): bad token — check Token"
        );
        let Attempt::Misconfigured(why) = attempt_for_status(410, "", None) else {
            unreachable!()
        };
        assert!(
            why.contains("HTTP 410") && why.contains("Agent URL"),
            "{why}"
        );
    }

    #[test]
    fn refusals_of_the_event_are_final() {
        assert_eq!(
            attempt_for_status(422, r#"{"status":"failed","reason":"no such order"}"#, None),
            Attempt::Rejected("no such order (HTTP 422)".into())
        );
        for status in [400, 409, 413] {
            assert!(matches!(
                attempt_for_status(status, "", None),
                Attempt::Rejected(_)
            ));
        }
    }

    #[test]
    fn failures_of_an_agent_that_is_up_are_retried_with_retry_after_capped() {
        for status in [408, 429, 500, 503] {
            assert_eq!(
                attempt_for_status(status, "", Some(Duration::from_secs(2))),
                Attempt::Failed {
                    reason: format!("the agent failed (HTTP {status})"),
                    retry_after: Some(Duration::from_secs(2))
                }
            );
        }
        assert!(matches!(
            attempt_for_status(503, "", Some(Duration::from_secs(u64::MAX))),
            Attempt::Failed { retry_after: Some(d), .. } if d == RETRY_AFTER_CAP
        ));
        // Outside the protocol: retried, then dead-lettered.
        for status in [0, 101, 204, 418, 451, 600, u16::MAX] {
            assert!(
                matches!(
                    attempt_for_status(status, "x", None),
                    Attempt::Failed { .. }
                ),
                "{status}"
            );
        }
    }

    #[test]
    fn ordinary_keys_travel_unchanged() {
        assert_eq!(idempotency_key("orders", "42"), "orders:42");
        assert_eq!(
            idempotency_key("orders", "9f1c-aa:b/c?d"),
            "orders:9f1c-aa:b/c?d"
        );
    }

    #[test]
    fn hostile_keys_become_header_values_and_stay_distinct() {
        let keys = [
            "caf\u{e9}",
            "\u{1f600}",
            " lead",
            "trail ",
            "in side",
            "a\nb",
            "a\u{0}b",
            "%20lead",
            "%",
            "\"quoted\"",
            "caf%C3%A9",
        ];
        let encoded: Vec<String> = keys.iter().map(|k| idempotency_key("t", k)).collect();
        for value in &encoded {
            assert!(
                value.bytes().all(|b| b.is_ascii_graphic()),
                "{value:?} is not a header value"
            );
        }
        let distinct: std::collections::HashSet<&String> = encoded.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "{encoded:?}");
        assert_eq!(encoded[0], "t:caf%C3%A9");
        assert_eq!(encoded[2], "t:%20lead");
        assert_eq!(encoded[7], "t:%2520lead");
    }
}
