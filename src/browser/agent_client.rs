//! One delivery attempt to the agent webhook (docs/agent-protocol.md). What
//! the reply means is decided in `sluice_core::agent`; this file only talks
//! HTTP, and nothing in it can panic on what a row or the agent holds.

use gloo_net::http::{Headers, Request, Response};
use sluice_core::agent::{
    attempt_for_status, idempotency_key, AgentSettings, Attempt, ReplyFormat, ReplyReader, Signal,
};
use sluice_core::source::Event;
use sluice_core::source_error::parse_retry_after;
use std::ops::ControlFlow;
use web_sys::{RequestRedirect, ResponseType};

use super::http::{self, Deadline, Failure};

/// An error body is read only this far: enough for the agent's reason.
const ERROR_BODY_BYTES: usize = 16 * 1024;

fn failed(reason: impl Into<String>) -> Attempt {
    Attempt::Failed {
        reason: reason.into(),
        retry_after: None,
    }
}

/// The webhook's body, serialised from borrowed parts (the row is not copied).
#[derive(serde::Serialize)]
struct Body<'a> {
    key: &'a str,
    table: &'a str,
    event: &'a serde_json::Value,
}

/// The request's headers. `Headers.set` throws on a value a header cannot
/// carry; the key is encoded so it can, and the token is checked when saved,
/// but a stored token is refused here rather than panicking.
fn headers(settings: &AgentSettings, key_scope: &str, key: &str) -> Result<Headers, Attempt> {
    let raw = web_sys::Headers::new().map_err(|_| failed("the browser could not build headers"))?;
    let set = |name: &str, value: &str| raw.set(name, value).is_ok();
    if !settings.token.is_empty() && !set("Authorization", &format!("Bearer {}", settings.token)) {
        return Err(Attempt::Misconfigured(
            "the token holds characters a header cannot carry — check Token".into(),
        ));
    }
    let ok = set("Content-Type", "application/json")
        && set("Accept", "application/x-ndjson, application/json")
        && set("Idempotency-Key", &idempotency_key(key_scope, key));
    if ok {
        Ok(Headers::from_raw(raw))
    } else {
        Err(failed("the browser refused the request's headers"))
    }
}

/// Posts `event` once and follows the reply; progress goes to `on_signal`.
pub async fn attempt(
    settings: &AgentSettings,
    table: &str,
    key_scope: &str,
    event: &Event,
    on_signal: &dyn Fn(Signal),
) -> Attempt {
    let body = match serde_json::to_string(&Body {
        key: &event.key,
        table,
        event: &event.row,
    }) {
        Ok(body) => body,
        Err(error) => {
            return Attempt::Rejected(format!("the row cannot be sent as JSON ({error})"))
        }
    };
    let headers = match headers(settings, key_scope, &event.key) {
        Ok(headers) => headers,
        Err(refused) => return refused,
    };
    let request = Request::post(&settings.url)
        .headers(headers)
        .redirect(RequestRedirect::Manual);
    let Ok(deadline) = Deadline::new(settings.timeout()) else {
        return failed("the browser could not arm a timeout");
    };
    let response = match http::send(request, Some(body), &deadline).await {
        Ok(response) => response,
        Err(Failure::TimedOut) => {
            return Attempt::Unanswered(format!(
                "the agent did not answer within {} s",
                settings.timeout_s
            ))
        }
        Err(Failure::Network) => {
            return Attempt::Unanswered(
                "the agent could not be reached (down, refused, or blocked by CORS)".into(),
            )
        }
    };
    if response.type_() == ResponseType::Opaqueredirect {
        return Attempt::redirected();
    }
    let status = response.status();
    if !(200..300).contains(&status) {
        let text = http::text_up_to(&response, &deadline, ERROR_BODY_BYTES)
            .await
            .unwrap_or_default();
        let retry_after = parse_retry_after(response.headers().get("retry-after").as_deref());
        return attempt_for_status(status, &text, retry_after);
    }
    follow_reply(&response, &deadline, settings, on_signal).await
}

/// The signals of one reply, as far as they went.
#[derive(Default)]
struct Followed {
    last: Option<Signal>,
    /// A line that was not a signal.
    broken: Option<String>,
}

impl Followed {
    fn ended(&self) -> bool {
        matches!(self.last, Some(Signal::Done | Signal::Failed { .. }))
    }

    /// Takes signals in order, up to a final one.
    fn take(
        &mut self,
        signals: Vec<Result<Signal, String>>,
        on_signal: &dyn Fn(Signal),
    ) -> ControlFlow<()> {
        for signal in signals {
            match signal {
                Ok(signal) => {
                    on_signal(signal.clone());
                    self.last = Some(signal);
                    if self.ended() {
                        return ControlFlow::Break(());
                    }
                }
                Err(problem) => self.broken = Some(problem),
            }
        }
        ControlFlow::Continue(())
    }
}

/// Reads a 2xx reply's signals until the final one; the connection is not
/// waited on after it.
async fn follow_reply(
    response: &Response,
    deadline: &Deadline,
    settings: &AgentSettings,
    on_signal: &dyn Fn(Signal),
) -> Attempt {
    let streamed = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.contains("application/x-ndjson"));
    let mut reader = ReplyReader::new(if streamed {
        ReplyFormat::Ndjson
    } else {
        ReplyFormat::Json
    });
    let mut followed = Followed::default();
    let mut refused: Option<String> = None;
    let read = http::stream(response, deadline, |chunk| match reader.push(chunk) {
        Ok(signals) => followed.take(signals, on_signal),
        Err(why) => {
            refused = Some(why);
            ControlFlow::Break(())
        }
    })
    .await;
    if let Some(why) = refused {
        return failed(why);
    }
    if !followed.ended() {
        let _ = followed.take(reader.finish().into_iter().collect(), on_signal);
    }
    match (followed.last, read) {
        // Final signals count, whatever the connection did after them.
        (Some(Signal::Done), _) => Attempt::Passed,
        (Some(Signal::Failed { reason }), _) => Attempt::Rejected(reason),
        (_, Err(Failure::TimedOut)) => failed(format!(
            "the agent did not finish within {} s",
            settings.timeout_s
        )),
        (_, Err(Failure::Network)) => failed("the agent's reply broke off before its final signal"),
        (_, Ok(())) => failed(match followed.broken {
            Some(problem) => format!("the agent's reply is outside the protocol ({problem})"),
            None => "the agent's reply ended without a final signal".into(),
        }),
    }
}
