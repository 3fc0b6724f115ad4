//! Calls Supabase Queues' functions (`pgmq_public`) through PostgREST's RPC:
//! `POST {project}/rest/v1/rpc/{function}` with the arguments as a JSON
//! object and `Content-Profile: pgmq_public`, as supabase-js does.

use gloo_net::http::{Method, RequestBuilder};
use serde_json::Value;
use sluice_core::credentials::Session;
use sluice_core::queue::{QueueSource, METRICS_FUNCTION, SCHEMA};
use sluice_core::source_error::{parse_retry_after, SourceError};
use std::time::Duration;

use super::http::{Deadline, Failure};
use super::project::{self, NoReply};

/// How long one call may take before it counts as a network failure.
const CALL_DEADLINE: Duration = Duration::from_secs(20);

fn explain(not: NoReply, limit: Duration) -> SourceError {
    SourceError::Network(match not {
        NoReply::Transport(Failure::TimedOut) => {
            format!("no complete answer within {} s", limit.as_secs())
        }
        NoReply::Transport(Failure::Network) => {
            "the request failed: offline, refused, dropped, or blocked by CORS".into()
        }
        NoReply::Session(refused) => return refused.into(),
    })
}

/// Calls `function` for `queue` with `arguments`; the reply's JSON.
pub async fn call(
    session: &Session,
    queue: &str,
    function: &str,
    arguments: &Value,
) -> Result<Value, SourceError> {
    call_within(session, queue, function, arguments, CALL_DEADLINE).await
}

/// [`call`], taking at most `limit`.
pub async fn call_within(
    session: &Session,
    queue: &str,
    function: &str,
    arguments: &Value,
    limit: Duration,
) -> Result<Value, SourceError> {
    call_in(session, queue, SCHEMA, function, arguments, limit).await
}

/// `queue`'s length, from [`METRICS_FUNCTION`], which the README's recipe
/// adds in `public` (pgmq_public has none).
pub async fn metrics(session: &Session, source: &QueueSource) -> Result<Value, SourceError> {
    let arguments = source.metrics_arguments();
    let queue = source.name();
    call_in(
        session,
        queue,
        "public",
        METRICS_FUNCTION,
        &arguments,
        CALL_DEADLINE,
    )
    .await
}

/// Calls `schema`'s `function`, taking at most `limit`.
async fn call_in(
    session: &Session,
    queue: &str,
    schema: &str,
    function: &str,
    arguments: &Value,
    limit: Duration,
) -> Result<Value, SourceError> {
    let url = format!("{}/rest/v1/rpc/{function}", session.project.as_str());
    let request = || {
        RequestBuilder::new(&url)
            .method(Method::POST)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header("Content-Profile", schema)
    };
    let explain = |not| explain(not, limit);
    let deadline = Deadline::new(limit).map_err(|f| explain(NoReply::Transport(f)))?;
    let reply = project::send(session, &request, Some(&arguments.to_string()), &deadline)
        .await
        .map_err(explain)?;
    let status = reply.status();
    if !(200..300).contains(&status) {
        let retry_after = parse_retry_after(reply.header("retry-after").as_deref());
        return Err(
            SourceError::from_queue_reply(queue, status, &reply.body, retry_after)
                .for_operator(session.operator_email()),
        );
    }
    serde_json::from_str(&reply.body).map_err(|error| SourceError::Unreadable {
        table: queue.to_string(),
        detail: format!("{function} answered something that is not JSON: {error}"),
    })
}

/// Calls `function`, whose answer is a set of rows.
pub async fn call_for_rows(
    session: &Session,
    queue: &str,
    function: &str,
    arguments: &Value,
) -> Result<Vec<Value>, SourceError> {
    match call(session, queue, function, arguments).await? {
        Value::Array(rows) => Ok(rows),
        other => Err(SourceError::Unreadable {
            table: queue.to_string(),
            detail: format!("{function} answered {other} where rows were expected"),
        }),
    }
}
