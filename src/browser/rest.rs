//! Reads a Supabase table through PostgREST.

use gloo_net::http::{Method, RequestBuilder};
use sluice_core::credentials::Session;
use sluice_core::login_check::{verdict, LoginRefused};
use sluice_core::source::content_range_total;
use sluice_core::source_error::{parse_retry_after, SourceError};
use std::time::Duration;
use web_sys::RequestMode;

use super::http::{self, Deadline, Failure};
use super::project::{self, NoReply};

/// How long one read may take before it counts as a network failure.
const READ_DEADLINE: Duration = Duration::from_secs(20);

/// A request to `{project}/rest/v1/{path}`; [`project`] adds the headers.
fn request(session: &Session, method: Method, path: &str) -> RequestBuilder {
    let url = format!("{}/rest/v1/{path}", session.project.as_str());
    RequestBuilder::new(&url)
        .method(method)
        .header("Accept", "application/json")
}

fn explain(not: NoReply) -> SourceError {
    match not {
        NoReply::Transport(Failure::TimedOut) => SourceError::Network(format!(
            "no complete answer within {} s",
            READ_DEADLINE.as_secs()
        )),
        NoReply::Transport(Failure::Network) => SourceError::Network(
            "the request failed: offline, refused, dropped, or blocked by CORS".into(),
        ),
        NoReply::Session(refused) => refused.into(),
    }
}

/// As [`explain`], but a read that timed out says so: the engine then asks
/// for fewer rows.
fn explain_read(table: &str, not: NoReply) -> SourceError {
    match not {
        NoReply::Transport(Failure::TimedOut) => SourceError::TimedOut {
            table: table.to_string(),
            detail: format!("no complete answer within {} s", READ_DEADLINE.as_secs()),
        },
        other => explain(other),
    }
}

/// GETs `path` (relative to `{project}/rest/v1/`) and returns its rows.
pub async fn read_rows(
    session: &Session,
    table: &str,
    path: &str,
) -> Result<Vec<serde_json::Value>, SourceError> {
    let deadline = Deadline::new(READ_DEADLINE).map_err(|f| explain(NoReply::Transport(f)))?;
    let reply = project::send(
        session,
        &|| request(session, Method::GET, path),
        None,
        &deadline,
    )
    .await
    .map_err(|not| explain_read(table, not))?;
    let status = reply.status();
    if !(200..300).contains(&status) {
        let retry_after = parse_retry_after(reply.header("retry-after").as_deref());
        return Err(
            SourceError::from_reply(table, status, &reply.body, retry_after)
                .for_operator(session.operator_email()),
        );
    }
    serde_json::from_str(&reply.body).map_err(|error| SourceError::Unreadable {
        table: table.to_string(),
        detail: format!("not a JSON array of rows: {error}"),
    })
}

/// How many rows `path` matches (`Prefer: count=exact`, no rows sent back).
pub async fn count(session: &Session, table: &str, path: &str) -> Result<Option<u64>, SourceError> {
    let deadline = Deadline::new(READ_DEADLINE).map_err(|f| explain(NoReply::Transport(f)))?;
    let counted = || {
        request(session, Method::GET, path)
            .header("Prefer", "count=exact")
            .header("Range", "0-0")
    };
    let reply = project::send(session, &counted, None, &deadline)
        .await
        .map_err(explain)?;
    let status = reply.status();
    if !(200..300).contains(&status) {
        return Err(SourceError::from_reply(table, status, &reply.body, None)
            .for_operator(session.operator_email()));
    }
    Ok(reply
        .header("content-range")
        .as_deref()
        .and_then(content_range_total))
}

/// Checks the project and its key with one small request (the key's
/// headers alone, before any sign-in) before the login is accepted.
pub async fn check_login(session: &Session, table: &str) -> Result<(), LoginRefused> {
    let deadline = Deadline::new(Duration::from_secs(10)).map_err(|_| LoginRefused::Unreachable)?;
    let path = format!("{table}?select=*&limit=0");
    let mut checked = request(session, Method::GET, &path);
    for (name, value) in session.key.request_headers() {
        checked = checked.header(name, &value);
    }
    match http::send(checked, None, &deadline).await {
        Ok(response) => {
            let body = http::text(&response, &deadline).await.unwrap_or_default();
            verdict(response.status(), &body)
        }
        Err(Failure::TimedOut) => Err(LoginRefused::Unreachable),
        Err(Failure::Network) => {
            // The browser hides why a request failed. An opaque (no-cors)
            // request still succeeds when only CORS was in the way.
            let url = format!("{}/rest/v1/", session.project.as_str());
            let probe = RequestBuilder::new(&url).mode(RequestMode::NoCors);
            match http::send(probe, None, &deadline).await {
                Ok(_) => Err(LoginRefused::CorsBlocked),
                Err(_) => Err(LoginRefused::Unreachable),
            }
        }
    }
}
