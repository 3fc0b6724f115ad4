//! One delivery attempt to the agent webhook (docs/agent-protocol.md).

use gloo_net::http::Request;
use sluice_core::agent::{attempt_for_status, AgentSettings, Attempt, NdjsonReader, Signal};
use sluice_core::source::Event;
use sluice_core::source_error::parse_retry_after;

use super::http::{self, Deadline, Failure};

fn failed(reason: impl Into<String>) -> Attempt {
    Attempt::Failed {
        reason: reason.into(),
        retry_after: None,
    }
}

fn explain(failure: Failure, settings: &AgentSettings) -> Attempt {
    match failure {
        Failure::TimedOut => failed(format!(
            "the agent did not finish within {} s",
            settings.timeout_s
        )),
        Failure::Network => {
            failed("the agent could not be reached (down, refused, dropped, or blocked by CORS)")
        }
    }
}

/// The webhook's body, serialised from borrowed parts (the row is not copied).
#[derive(serde::Serialize)]
struct Body<'a> {
    key: &'a str,
    table: &'a str,
    event: &'a serde_json::Value,
}

/// Posts `event` once and follows the reply; progress goes to `on_signal`.
pub async fn attempt(
    settings: &AgentSettings,
    table: &str,
    event: &Event,
    on_signal: &dyn Fn(Signal),
) -> Attempt {
    let body = serde_json::to_string(&Body {
        key: &event.key,
        table,
        event: &event.row,
    })
    .unwrap_or_default();
    let mut request = Request::post(&settings.url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/x-ndjson, application/json")
        .header("Idempotency-Key", &format!("{table}:{}", event.key));
    if !settings.token.is_empty() {
        request = request.header("Authorization", &format!("Bearer {}", settings.token));
    }
    let Ok(deadline) = Deadline::new(settings.timeout()) else {
        return failed("the browser could not arm a timeout");
    };
    let response = match http::send(request, Some(body), &deadline).await {
        Ok(response) => response,
        Err(failure) => return explain(failure, settings),
    };
    let status = response.status();
    if !(200..300).contains(&status) {
        let text = http::text(&response, &deadline).await.unwrap_or_default();
        return attempt_for_status(
            status,
            &text,
            parse_retry_after(response.headers().get("retry-after").as_deref()),
        );
    }
    let streamed = response
        .headers()
        .get("content-type")
        .is_some_and(|t| t.contains("application/x-ndjson"));
    let mut reader = NdjsonReader::default();
    let mut last: Option<Signal> = None;
    let mut broken: Option<String> = None;
    let mut follow = |signals: Vec<Result<Signal, String>>| {
        for signal in signals {
            match signal {
                Ok(signal) => {
                    on_signal(signal.clone());
                    last = Some(signal);
                }
                Err(problem) => broken = Some(problem),
            }
        }
    };
    let read = if streamed {
        http::stream(&response, &deadline, |chunk| follow(reader.push(chunk))).await
    } else {
        http::text(&response, &deadline)
            .await
            .map(|text| follow(reader.push(text.as_bytes())))
    };
    follow(reader.finish().into_iter().collect());
    if let Err(failure) = read {
        return match failure {
            Failure::TimedOut => explain(failure, settings),
            Failure::Network => failed("the agent's reply broke off before its final signal"),
        };
    }
    match last {
        Some(Signal::Done) => Attempt::Passed,
        Some(Signal::Failed { reason }) => Attempt::Rejected(reason),
        _ => failed(match broken {
            Some(problem) => format!("the agent's reply had no final signal ({problem})"),
            None => "the agent's reply ended without a final signal".into(),
        }),
    }
}
