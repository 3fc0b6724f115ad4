//! What went wrong reading a source, sorted by what the operator or the
//! engine should do about it. Built from the status and body PostgREST (or
//! Supabase's gateway) sent; messages never include the key.

use serde::Deserialize;
use std::time::Duration;
use thiserror::Error;

use crate::auth::AuthError;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SourceError {
    /// 401: a wrong, revoked or expired key. Polling stops until a new key.
    #[error("The project refused the API key ({0}). Log in again with a current key.")]
    Unauthorized(String),
    /// The signed-in operator's session ended (revoked, signed out
    /// elsewhere, the user removed): nothing goes on until they sign in
    /// again.
    #[error("Your session ended ({0}): sign in again.")]
    SessionEnded(String),
    /// 403 / 42501: the key's role may not read this table.
    #[error("The key may not read {table}: {message}. Grant select on it to the anon role, or check its row-level security.")]
    Forbidden { table: String, message: String },
    /// 403 / 42501 for a signed-in operator: the project's grants or
    /// policies leave this operator out.
    #[error("{email} may not read {table}: {message}. Check the project's policies for this operator: the table needs `grant select … to authenticated` and a SELECT policy to authenticated that this operator's claims pass (Sluice's README, “Pointing it at a real Supabase project”).")]
    OperatorForbidden {
        table: String,
        email: String,
        message: String,
    },
    /// 403 / 42501 on a queue's call for a signed-in operator.
    #[error("{email} may not use the queue {queue}: {message}. Check the project's policies for this operator on pgmq.q_{queue} and pgmq.a_{queue} (Sluice's docs/queues.md).")]
    OperatorQueueForbidden {
        queue: String,
        email: String,
        message: String,
    },
    /// 404 / PGRST205 / 42P01.
    #[error("The table {0} does not exist in this project (or is not exposed by its API).")]
    UnknownTable(String),
    /// A queue's call answered 404 / 42P01: pgmq has no such queue.
    #[error("The queue {0} does not exist in this project.")]
    UnknownQueue(String),
    /// 406 / PGRST106, or 404 / PGRST202: the project does not serve
    /// `pgmq_public`'s functions.
    #[error("This project does not expose Supabase Queues through its API ({0}). Turn on “Expose Queues via PostgREST” in the project's Queues settings.")]
    QueuesNotExposed(String),
    /// 401/403 / 42501 on a queue's call.
    #[error("The key may not use the queue {queue}: {message}. Its tables need the row-level security policies that let the key read, send and archive (see Sluice's docs/queues.md).")]
    QueueForbidden { queue: String, message: String },
    /// `archive` answered `false` for a message this reader still held: its
    /// role may not delete the message (row-level security without a
    /// DELETE policy hides the row instead of refusing).
    #[error("The queue {queue} did not archive message {msg_id} (archive answered false): the key's role may not delete its messages, or the message was removed meanwhile. Check the DELETE policy on pgmq.q_{queue} (and insert on pgmq.a_{queue}), then press Retry now.")]
    NotArchived { queue: String, msg_id: i64 },
    /// 400 / 42703.
    #[error("{message} — check the timestamp and key columns configured for {table}.")]
    UnknownColumn { table: String, message: String },
    /// Any other refusal that retrying will not fix.
    #[error("The project refused the request for {table} ({status}{code}): {message}")]
    Refused {
        table: String,
        status: u16,
        code: String,
        message: String,
    },
    /// 5xx, 408, 429: the server may recover; polling backs off.
    #[error("The project answered {status} for {table}: {message}. Retrying.")]
    Server {
        table: String,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// The request did not complete: offline, refused, dropped, or blocked by CORS.
    #[error("Could not reach the project ({0}). Retrying.")]
    Network(String),
    /// No complete answer in time: the engine reads smaller pages.
    #[error(
        "The project did not answer for {table} in time ({detail}). Retrying with smaller pages."
    )]
    TimedOut { table: String, detail: String },
    /// A 2xx whose body is not a JSON array of rows.
    #[error("The project sent an unreadable reply for {table} ({detail}). Retrying.")]
    Unreadable { table: String, detail: String },
}

#[derive(Deserialize, Default)]
struct ErrorBody {
    code: Option<String>,
    message: Option<String>,
}

impl SourceError {
    /// Classifies a non-2xx reply for `table`.
    pub fn from_reply(table: &str, status: u16, body: &str, retry_after: Option<Duration>) -> Self {
        let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
        let code = parsed.code.unwrap_or_default();
        let message = parsed.message.unwrap_or_else(|| {
            body.chars()
                .take(200)
                .collect::<String>()
                .trim()
                .to_string()
        });
        let table = table.to_string();
        match (status, code.as_str()) {
            (401, "42501") | (403, _) => Self::Forbidden { table, message },
            (401, _) => Self::Unauthorized(if message.is_empty() {
                "401".into()
            } else {
                message
            }),
            (404, _) | (_, "PGRST205") | (_, "42P01") => Self::UnknownTable(table),
            (400, "42703") => Self::UnknownColumn { table, message },
            (408 | 429, _) | (500..=599, _) => Self::Server {
                table,
                status,
                message,
                retry_after,
            },
            _ => Self::Refused {
                table,
                status,
                code: if code.is_empty() {
                    String::new()
                } else {
                    format!(", {code}")
                },
                message,
            },
        }
    }

    /// Classifies a non-2xx reply to a call of `pgmq_public` for `queue`.
    pub fn from_queue_reply(
        queue: &str,
        status: u16,
        body: &str,
        retry_after: Option<Duration>,
    ) -> Self {
        let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
        let code = parsed.code.unwrap_or_default();
        let message = parsed.message.unwrap_or_default();
        match (status, code.as_str()) {
            (_, "PGRST106" | "PGRST202") => Self::QueuesNotExposed(message),
            (_, "42P01") => Self::UnknownQueue(queue.to_string()),
            (401 | 403, "42501") => Self::QueueForbidden {
                queue: queue.to_string(),
                message,
            },
            _ => Self::from_reply(queue, status, body, retry_after),
        }
    }

    /// This refusal as told to the signed-in operator `email`: what they
    /// may not read is a matter of the project's policies for them, not of
    /// the anon role.
    pub fn for_operator(self, email: Option<&str>) -> Self {
        let Some(email) = email else {
            return self;
        };
        match self {
            Self::Forbidden { table, message } => Self::OperatorForbidden {
                table,
                email: email.to_string(),
                message,
            },
            Self::QueueForbidden { queue, message } => Self::OperatorQueueForbidden {
                queue,
                email: email.to_string(),
                message,
            },
            other => other,
        }
    }

    /// Whether the engine should retry by itself.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Server { .. }
                | Self::Network(_)
                | Self::TimedOut { .. }
                | Self::Unreadable { .. }
        )
    }

    /// The server's Retry-After, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// What a refresh of the operator's session that failed means for the
/// request that needed it: an ended session halts the drain until the
/// operator signs in again; an Auth that could not answer is retried.
impl From<AuthError> for SourceError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::SessionEnded(reason) => Self::SessionEnded(reason),
            AuthError::KeyRefused(message) => Self::Unauthorized(message),
            AuthError::Unreachable(detail) => {
                Self::Network(format!("Supabase Auth, to refresh the session: {detail}"))
            }
            AuthError::RateLimited => Self::Server {
                table: "Supabase Auth".into(),
                status: 429,
                message: "too many session refreshes".into(),
                retry_after: None,
            },
            AuthError::Refused { status, message } if status >= 500 => Self::Server {
                table: "Supabase Auth".into(),
                status,
                message,
                retry_after: None,
            },
            AuthError::Unreadable(detail) => Self::Network(format!(
                "Supabase Auth's reply to a session refresh was unreadable: {detail}"
            )),
            // Refused for any other reason: retrying will not help.
            AuthError::Refused { message, .. } => Self::SessionEnded(message),
            other => Self::SessionEnded(other.to_string()),
        }
    }
}

/// Reads a `Retry-After` header given in seconds (the HTTP-date form is rare
/// from APIs and treated as absent).
pub fn parse_retry_after(header: Option<&str>) -> Option<Duration> {
    header?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_queues_call_gets_messages_about_queues() {
        let reply = |status, code: &str| {
            SourceError::from_queue_reply(
                "jobs",
                status,
                &format!(r#"{{"code":"{code}","message":"m"}}"#),
                None,
            )
        };
        assert_eq!(
            reply(404, "42P01"),
            SourceError::UnknownQueue("jobs".into())
        );
        assert!(matches!(
            reply(406, "PGRST106"),
            SourceError::QueuesNotExposed(_)
        ));
        assert!(matches!(
            reply(404, "PGRST202"),
            SourceError::QueuesNotExposed(_)
        ));
        assert!(matches!(
            reply(401, "42501"),
            SourceError::QueueForbidden { .. }
        ));
        assert!(reply(503, "").is_transient());
        assert!(reply(401, "PGRST301").to_string().contains("Log in again"));
    }

    use super::*;

    #[test]
    fn a_refusal_for_a_signed_in_operator_points_at_the_policies_for_them() {
        let denied = r#"{"code":"42501","message":"permission denied for table events"}"#;
        let refused = SourceError::from_reply("events", 403, denied, None);
        assert!(refused.to_string().contains("anon role"));
        let told = refused.for_operator(Some("op@example.com")).to_string();
        assert!(
            told.starts_with("op@example.com may not read events"),
            "{told}"
        );
        assert!(told.contains("policies for this operator") && !told.contains("anon"));
        let queue = SourceError::from_queue_reply("jobs", 403, denied, None)
            .for_operator(Some("op@example.com"));
        assert!(queue.to_string().contains("pgmq.q_jobs"));
        let key_alone = SourceError::from_reply("events", 403, denied, None).for_operator(None);
        assert!(matches!(key_alone, SourceError::Forbidden { .. }));
        assert!(!SourceError::from_reply("events", 503, "", None)
            .for_operator(Some("op@example.com"))
            .to_string()
            .contains("op@example.com"));
    }

    #[test]
    fn a_failed_refresh_halts_only_when_the_session_ended() {
        let ended = SourceError::from(AuthError::SessionEnded("Already Used".into()));
        assert!(!ended.is_transient());
        assert_eq!(
            ended.to_string(),
            "Your session ended (Already Used): sign in again."
        );
        assert!(SourceError::from(AuthError::Unreachable("offline".into())).is_transient());
        assert!(SourceError::from(AuthError::RateLimited).is_transient());
        let down = AuthError::Refused {
            status: 502,
            message: "bad gateway".into(),
        };
        assert!(SourceError::from(down).is_transient());
        let refused = AuthError::Refused {
            status: 400,
            message: "invalid grant".into(),
        };
        assert!(matches!(
            SourceError::from(refused),
            SourceError::SessionEnded(_)
        ));
    }

    #[test]
    fn supabase_and_postgrest_errors_are_sorted() {
        let kong = r#"{"message":"Invalid API key","hint":"Double check your Supabase `anon` or `service_role` API key."}"#;
        assert_eq!(
            SourceError::from_reply("events", 401, kong, None),
            SourceError::Unauthorized("Invalid API key".into())
        );
        let expired = r#"{"code":"PGRST303","details":null,"hint":null,"message":"JWT expired"}"#;
        assert!(
            matches!(SourceError::from_reply("events", 401, expired, None), SourceError::Unauthorized(m) if m == "JWT expired")
        );
        let table = r#"{"code":"PGRST205","details":null,"hint":null,"message":"Could not find the table 'public.evnts' in the schema cache"}"#;
        assert_eq!(
            SourceError::from_reply("evnts", 404, table, None),
            SourceError::UnknownTable("evnts".into())
        );
        let column = r#"{"code":"42703","details":null,"hint":null,"message":"column events.created_at does not exist"}"#;
        let err = SourceError::from_reply("events", 400, column, None);
        assert!(err
            .to_string()
            .contains("column events.created_at does not exist"));
        let denied = r#"{"code":"42501","details":null,"hint":null,"message":"permission denied for table secrets"}"#;
        assert!(matches!(
            SourceError::from_reply("secrets", 401, denied, None),
            SourceError::Forbidden { .. }
        ));
    }

    #[test]
    fn server_trouble_is_transient_and_keeps_retry_after() {
        let err = SourceError::from_reply(
            "events",
            503,
            "<html>bad gateway</html>",
            Some(Duration::from_secs(3)),
        );
        assert!(err.is_transient());
        assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
        assert!(err.to_string().contains("<html>bad gateway</html>"));
        assert!(SourceError::from_reply("events", 429, "", None).is_transient());
        assert!(!SourceError::from_reply("events", 401, "", None).is_transient());
        assert!(!SourceError::from_reply(
            "events",
            400,
            r#"{"code":"PGRST100","message":"bad"}"#,
            None
        )
        .is_transient());
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after(Some(" 5 ")), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }
}
