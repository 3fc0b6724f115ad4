//! Signing in with Supabase Auth (GoTrue), as supabase-js does: the
//! project's public key as `apikey`, and once signed in the user's access
//! token as `Authorization: Bearer …`, so that the project's row-level
//! security sees the operator, not the public. The access token is
//! refreshed before it expires with its single-use refresh token.
//!
//! What the replies mean is decided here; the requests are the browser's.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use thiserror::Error;

/// Refresh when the access token has less than this left (s), or half its
/// lifetime when that is shorter. supabase-js refreshes three of its 30 s
/// ticks before expiry.
pub const REFRESH_MARGIN_S: u64 = 90;

/// How long GoTrue's access tokens live unless the project says otherwise
/// (s): what a login stored before the lifetime was kept assumes.
const DEFAULT_LIFETIME_S: u64 = 3600;

/// A signed-in operator, as kept for this tab (or, with "Remember me", this
/// browser).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub access_token: String,
    pub refresh_token: String,
    /// When the access token expires (Unix seconds).
    pub expires_at: u64,
    /// How long access tokens live in this project (s): the refresh margin
    /// shrinks with it.
    #[serde(default = "default_lifetime")]
    pub lifetime_s: u64,
    pub user_id: String,
    pub email: String,
}

// Tokens are secrets: never in a log or a panic message.
impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("email", &self.email)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Who is signed in, as the page shows it and the history records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub user_id: String,
    pub email: String,
}

impl SignedIn {
    pub fn operator(&self) -> Operator {
        Operator {
            user_id: self.user_id.clone(),
            email: self.email.clone(),
        }
    }

    /// When the access token should be refreshed (Unix seconds): a margin
    /// before it expires, so that no request carries an expired token.
    pub fn refresh_at(&self) -> u64 {
        let margin = REFRESH_MARGIN_S.min(self.lifetime_s / 2);
        self.expires_at.saturating_sub(margin)
    }

    /// Whether the access token should be refreshed now.
    pub fn refresh_due(&self, now_unix: u64) -> bool {
        now_unix >= self.refresh_at()
    }
}

/// `POST /auth/v1/token?grant_type=password`'s body.
/// Whether a refused request to the project's API may succeed with a
/// refreshed access token: any 401 but a missing grant (PostgREST answers
/// 401 `PGRST303` "JWT expired", 401 `PGRST301` for a token it cannot
/// verify, and 401 `42501` only when the role lacks a grant).
pub fn calls_for_refresh(status: u16, body: &str) -> bool {
    #[derive(Deserialize, Default)]
    struct Reply {
        code: Option<String>,
    }
    let reply: Reply = serde_json::from_str(body).unwrap_or_default();
    status == 401 && reply.code.as_deref() != Some("42501")
}

pub fn password_body(email: &str, password: &str) -> Value {
    json!({ "email": email.trim(), "password": password })
}

/// `POST /auth/v1/token?grant_type=refresh_token`'s body.
pub fn refresh_body(signed_in: &SignedIn) -> Value {
    json!({ "refresh_token": signed_in.refresh_token })
}

fn default_lifetime() -> u64 {
    DEFAULT_LIFETIME_S
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    refresh_token: String,
    expires_in: u64,
    expires_at: Option<u64>,
    user: User,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    email: Option<String>,
}

/// Reads a token reply (sign-in or refresh) received at `now_unix`.
pub fn signed_in(body: &str, now_unix: u64) -> Result<SignedIn, AuthError> {
    let reply: TokenReply =
        serde_json::from_str(body).map_err(|error| AuthError::Unreadable(error.to_string()))?;
    if reply.access_token.is_empty() || reply.refresh_token.is_empty() {
        return Err(AuthError::Unreadable("a token is missing".into()));
    }
    // Counted from this browser's clock: a clock ahead of the server's
    // would otherwise find every token expired on arrival.
    let expires_at = match reply.expires_in {
        0 => reply.expires_at.unwrap_or(now_unix),
        lifetime => now_unix.saturating_add(lifetime),
    };
    Ok(SignedIn {
        access_token: reply.access_token,
        refresh_token: reply.refresh_token,
        expires_at,
        lifetime_s: reply.expires_in,
        user_id: reply.user.id,
        email: reply.user.email.unwrap_or_default(),
    })
}

/// Why Supabase Auth did not sign the operator in (or keep them signed in),
/// in words an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("Wrong email or password.")]
    WrongCredentials,
    #[error(
        "This email address is not confirmed yet: open the link Supabase sent to it, then sign in."
    )]
    NotConfirmed,
    #[error("Too many sign-in attempts for now: wait a minute, then try again.")]
    RateLimited,
    /// The session cannot be refreshed: revoked, signed out elsewhere, its
    /// refresh token already used, or the user removed.
    #[error("Your session ended ({0}): sign in again.")]
    SessionEnded(String),
    /// 401 from the gateway in front of Auth (Kong's `{message}`, no
    /// GoTrue error code): the project's key, not the session, was refused.
    #[error("The project refused the API key ({0}). Log in again with a current key.")]
    KeyRefused(String),
    #[error("Supabase Auth refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error(
        "Supabase Auth could not be reached ({0}). Check the project URL and your connection."
    )]
    Unreachable(String),
    #[error("Supabase Auth sent a reply Sluice cannot read ({0}).")]
    Unreadable(String),
}

/// The error bodies GoTrue sends: `{code, error_code, msg}`, with API
/// version 2024-01-01 `{code: "…", message}`, and from older servers OAuth's
/// `{error, error_description}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    code: Option<Value>,
    error_code: Option<String>,
    msg: Option<String>,
    message: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl AuthError {
    /// Classifies a non-2xx reply of `/auth/v1`.
    pub fn from_reply(status: u16, body: &str) -> Self {
        let parsed: ErrorBody = serde_json::from_str(body).unwrap_or_default();
        let code = parsed
            .error_code
            .or_else(|| {
                parsed
                    .code
                    .as_ref()
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let message = parsed
            .msg
            .or(parsed.message)
            .or(parsed.error_description)
            .or(parsed.error)
            .unwrap_or_else(|| {
                body.chars()
                    .take(200)
                    .collect::<String>()
                    .trim()
                    .to_string()
            });
        match code.as_str() {
            "invalid_credentials" => Self::WrongCredentials,
            "email_not_confirmed" => Self::NotConfirmed,
            "over_request_rate_limit" => Self::RateLimited,
            "refresh_token_already_used"
            | "refresh_token_not_found"
            | "session_not_found"
            | "session_expired"
            | "user_not_found"
            | "user_banned"
            | "bad_jwt" => Self::SessionEnded(message),
            _ if status == 429 => Self::RateLimited,
            "" if status == 401 => Self::KeyRefused(message),
            // Servers without error codes: the OAuth error and its words.
            _ if message == "Invalid login credentials" => Self::WrongCredentials,
            _ if message == "Email not confirmed" => Self::NotConfirmed,
            _ if message.starts_with("Invalid Refresh Token") => Self::SessionEnded(message),
            _ => Self::Refused { status, message },
        }
    }

    /// Whether only signing in again helps: asked to refresh, Auth refused
    /// the session itself, not for want of time or a server.
    pub fn session_ended(&self) -> bool {
        match self {
            Self::SessionEnded(_) | Self::WrongCredentials | Self::NotConfirmed => true,
            Self::Refused { status, .. } => *status < 500,
            Self::RateLimited
            | Self::Unreachable(_)
            | Self::Unreadable(_)
            | Self::KeyRefused(_) => false,
        }
    }
}

/// What the tab that refreshed a session tells the other tabs: the refresh
/// token it used, now spent, and the tokens that replace it. A tab still
/// holding that refresh token takes the new ones instead of spending it
/// again (which, after GoTrue's reuse interval, ends the session).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handoff {
    pub replaced: String,
    pub tokens: SignedIn,
}

impl std::fmt::Debug for Handoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The spent token still works within GoTrue's reuse interval.
        f.debug_struct("Handoff")
            .field("tokens", &self.tokens)
            .finish_non_exhaustive()
    }
}

impl SignedIn {
    /// When these tokens were issued (Unix seconds, this browser's clock).
    pub fn issued_at(&self) -> u64 {
        self.expires_at.saturating_sub(self.lifetime_s)
    }

    /// Whether `other` are the same operator's tokens, issued later.
    pub fn is_older_than(&self, other: &SignedIn) -> bool {
        other.user_id == self.user_id && other.issued_at() > self.issued_at()
    }

    /// These tokens after `handoff`: its tokens if they replace these, or,
    /// once the session `ended`, if they are the same operator's, newer
    /// (they signed in again in another tab).
    pub fn after(self, handoff: Handoff, ended: bool) -> Self {
        if handoff.replaced == self.refresh_token || (ended && self.is_older_than(&handoff.tokens))
        {
            handoff.tokens
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPLY: &str = r#"{"access_token":"a.b.c","token_type":"bearer","expires_in":3600,"expires_at":1764500000,"refresh_token":"r1","user":{"id":"u-1","email":"op@example.com","app_metadata":{}}}"#;

    #[test]
    fn a_token_reply_is_a_signed_in_operator() {
        let signed = signed_in(REPLY, 1_764_496_400).unwrap();
        assert_eq!(signed.email, "op@example.com");
        assert_eq!(signed.expires_at, 1_764_500_000);
        // Counted on this browser's clock, ahead of the server's by 10 min.
        let ahead = signed_in(REPLY, 1_764_497_000).unwrap();
        assert_eq!(ahead.expires_at, 1_764_500_600);
        assert!(!ahead.refresh_due(1_764_497_000));
        let without_expiry = REPLY.replace(r#""expires_at":1764500000,"#, "");
        assert_eq!(signed_in(&without_expiry, 100).unwrap().expires_at, 3_700);
        assert!(matches!(signed_in("{}", 0), Err(AuthError::Unreadable(_))));
    }

    #[test]
    fn the_token_is_refreshed_a_margin_before_it_expires() {
        let signed = signed_in(REPLY, 1_764_496_400).unwrap();
        assert!(!signed.refresh_due(1_764_500_000 - REFRESH_MARGIN_S - 1));
        assert!(signed.refresh_due(1_764_500_000 - REFRESH_MARGIN_S));
        assert!(signed.refresh_due(1_764_500_001));
        // A 20 s token is refreshed halfway, not the moment it is issued.
        let short = REPLY.replace(r#""expires_in":3600"#, r#""expires_in":20"#);
        let short = signed_in(&short, 1_764_499_980).unwrap();
        assert_eq!(short.refresh_at(), 1_764_500_000 - 10);
        // A login stored before the lifetime was kept assumes GoTrue's hour.
        let mut stored: serde_json::Value = serde_json::to_value(&signed).unwrap();
        stored.as_object_mut().unwrap().remove("lifetime_s");
        let old: SignedIn = serde_json::from_value(stored).unwrap();
        assert_eq!(old.refresh_at(), 1_764_500_000 - REFRESH_MARGIN_S);
    }

    #[test]
    fn an_expired_or_unverifiable_token_calls_for_a_refresh_a_missing_grant_does_not() {
        assert!(calls_for_refresh(
            401,
            r#"{"code":"PGRST303","message":"JWT expired"}"#
        ));
        assert!(calls_for_refresh(401, r#"{"code":"PGRST301"}"#));
        assert!(calls_for_refresh(401, "Unauthorized"));
        assert!(!calls_for_refresh(
            401,
            r#"{"code":"42501","message":"permission denied for table events"}"#
        ));
        assert!(!calls_for_refresh(403, r#"{"code":"42501"}"#));
        assert!(!calls_for_refresh(200, "[]"));
    }

    #[test]
    fn a_handoff_replaces_only_the_tokens_it_names() {
        let ours = signed_in(REPLY, 0).unwrap();
        let fresh = SignedIn {
            refresh_token: "r2".into(),
            access_token: "d.e.f".into(),
            expires_at: ours.expires_at + 60,
            ..ours.clone()
        };
        let handoff = |replaced: &str| Handoff {
            replaced: replaced.into(),
            tokens: fresh.clone(),
        };
        assert_eq!(ours.clone().after(handoff("r1"), false), fresh);
        assert_eq!(ours.clone().after(handoff("r0"), false), ours);
        // Once the session ended, the same operator's newer tokens (signed
        // in again in another tab) are taken too; another user's never.
        assert_eq!(ours.clone().after(handoff("r0"), true), fresh);
        let stranger = Handoff {
            replaced: "r0".into(),
            tokens: SignedIn {
                user_id: "u-2".into(),
                ..fresh.clone()
            },
        };
        assert_eq!(ours.clone().after(stranger, true), ours);
        assert!(
            !format!("{:?}", handoff("r1")).contains("r1"),
            "no token in Debug"
        );
        let sent = serde_json::to_string(&handoff("r1")).unwrap();
        assert_eq!(
            serde_json::from_str::<Handoff>(&sent).unwrap(),
            handoff("r1")
        );
    }

    #[test]
    fn tokens_never_show_in_debug_output() {
        let shown = format!("{:?}", signed_in(REPLY, 0).unwrap());
        assert!(!shown.contains("a.b.c") && !shown.contains("r1"), "{shown}");
    }

    #[test]
    fn errors_are_told_in_the_operators_words_whatever_the_servers_shape() {
        let new =
            r#"{"code":400,"error_code":"invalid_credentials","msg":"Invalid login credentials"}"#;
        assert_eq!(AuthError::from_reply(400, new), AuthError::WrongCredentials);
        let versioned = r#"{"code":"email_not_confirmed","message":"Email not confirmed"}"#;
        assert_eq!(
            AuthError::from_reply(400, versioned),
            AuthError::NotConfirmed
        );
        let oauth = r#"{"error":"invalid_grant","error_description":"Invalid login credentials"}"#;
        assert_eq!(
            AuthError::from_reply(400, oauth),
            AuthError::WrongCredentials
        );
        assert_eq!(
            AuthError::from_reply(
                429,
                r#"{"code":429,"error_code":"over_request_rate_limit","msg":"Request rate limit reached"}"#
            ),
            AuthError::RateLimited
        );
        assert_eq!(
            AuthError::from_reply(429, "slow down"),
            AuthError::RateLimited
        );
        let reused = AuthError::from_reply(
            400,
            r#"{"code":400,"error_code":"refresh_token_already_used","msg":"Invalid Refresh Token: Already Used"}"#,
        );
        assert!(reused.session_ended());
        assert!(reused.to_string().contains("sign in again"));
        assert!(matches!(
            AuthError::from_reply(500, "<html>"),
            AuthError::Refused { status: 500, .. }
        ));
        let kong = r#"{"message":"Invalid API key","hint":"Double check your Supabase `anon` or `service_role` API key."}"#;
        let key = AuthError::from_reply(401, kong);
        assert_eq!(key, AuthError::KeyRefused("Invalid API key".into()));
        assert!(!key.session_ended(), "a key refused is not a session ended");
        let gotrue = r#"{"code":401,"error_code":"no_authorization","msg":"This endpoint requires a valid Bearer token"}"#;
        assert!(AuthError::from_reply(401, gotrue).session_ended());
    }
}
