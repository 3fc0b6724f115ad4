//! Reads a Supabase table through PostgREST.

use gloo_net::http::Request;
use sluice_core::credentials::Session;
use sluice_core::source_error::{parse_retry_after, SourceError};
use std::time::Duration;

use super::http::{self, Deadline, Failure};

/// How long one read may take before it counts as a network failure.
const READ_DEADLINE: Duration = Duration::from_secs(20);

/// GETs `path` (relative to `{project}/rest/v1/`) and returns its rows.
pub async fn read_rows(
    session: &Session,
    table: &str,
    path: &str,
) -> Result<Vec<serde_json::Value>, SourceError> {
    let url = format!("{}/rest/v1/{path}", session.project.as_str());
    let mut request = Request::get(&url).header("Accept", "application/json");
    for (name, value) in session.key.request_headers() {
        request = request.header(name, &value);
    }
    let explain = |failure: Failure| match failure {
        Failure::TimedOut => SourceError::Network(format!(
            "no complete answer within {} s",
            READ_DEADLINE.as_secs()
        )),
        Failure::Network => SourceError::Network(
            "the request failed: offline, refused, dropped, or blocked by CORS".into(),
        ),
    };
    let deadline = Deadline::new(READ_DEADLINE).map_err(explain)?;
    let response = http::send(request, None, &deadline)
        .await
        .map_err(explain)?;
    let status = response.status();
    let body = http::text(&response, &deadline).await.map_err(explain)?;
    if !(200..300).contains(&status) {
        let retry_after = parse_retry_after(response.headers().get("retry-after").as_deref());
        return Err(SourceError::from_reply(table, status, &body, retry_after));
    }
    serde_json::from_str(&body).map_err(|error| SourceError::Unreadable {
        table: table.to_string(),
        detail: format!("not a JSON array of rows: {error}"),
    })
}
