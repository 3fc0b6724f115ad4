//! What an operator types into the login form: a project URL and an API key.
//! Keys are classified before anything is sent, because a secret key must
//! never sit in a browser, and the kind of key decides the request headers.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// A key the browser may use. Its `Debug` never prints the key itself.
#[derive(Clone, PartialEq, Eq)]
pub enum ApiKey {
    /// `sb_publishable_...`: not a JWT, so it travels in `apikey` only.
    Publishable(String),
    /// A legacy anon (or other non-secret) JWT: `apikey` and `Authorization`.
    Jwt { key: String, role: String },
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Publishable(_) => f.write_str("ApiKey::Publishable(<redacted>)"),
            Self::Jwt { role, .. } => {
                write!(f, "ApiKey::Jwt {{ role: {role:?}, key: <redacted> }}")
            }
        }
    }
}

/// Why a key is refused before any request is made.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum KeyError {
    #[error("Enter the project's API key.")]
    Empty,
    #[error(
        "This is a secret key ({0}). Secret keys bypass row-level security and must never be \
         used in a browser, where anyone can read them. Use the project's publishable or anon key."
    )]
    Secret(&'static str),
    #[error("This API key has expired. Copy a current key from the project's API settings.")]
    Expired,
    #[error(
        "This does not look like a Supabase API key (expected sb_publishable_… or a JWT anon key)."
    )]
    Unrecognised,
}

#[derive(Deserialize)]
struct JwtClaims {
    role: Option<String>,
    exp: Option<u64>,
}

/// Classifies a key as typed, at `now_unix` seconds, refusing secrets.
pub fn classify_key(raw: &str, now_unix: u64) -> Result<ApiKey, KeyError> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.starts_with("sb_secret_") {
        return Err(KeyError::Secret("sb_secret_…"));
    }
    if key.starts_with("sb_publishable_") {
        return Ok(ApiKey::Publishable(key.to_string()));
    }
    let claims = jwt_claims(key).ok_or(KeyError::Unrecognised)?;
    let role = claims.role.unwrap_or_default();
    if role == "service_role" {
        return Err(KeyError::Secret("a service_role JWT"));
    }
    if claims.exp.is_some_and(|exp| exp <= now_unix) {
        return Err(KeyError::Expired);
    }
    Ok(ApiKey::Jwt {
        key: key.to_string(),
        role,
    })
}

fn jwt_claims(key: &str) -> Option<JwtClaims> {
    let mut parts = key.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl ApiKey {
    /// The headers every request to the project carries.
    pub fn request_headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Publishable(key) => vec![("apikey", key.clone())],
            Self::Jwt { key, .. } => vec![
                ("apikey", key.clone()),
                ("Authorization", format!("Bearer {key}")),
            ],
        }
    }

    /// The key as typed, for storing it where the operator asked.
    pub fn expose(&self) -> &str {
        match self {
            Self::Publishable(key) | Self::Jwt { key, .. } => key,
        }
    }
}

/// A Supabase project's base URL, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUrl(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProjectUrlError {
    #[error("Enter the project URL, for example https://abcd.supabase.co.")]
    Empty,
    #[error("The project URL must start with https:// (or http:// for a local stack).")]
    Scheme,
    #[error("The project URL must be just the address, without spaces, ? or #.")]
    Malformed,
}

impl ProjectUrl {
    /// Accepts what operators paste: surrounding spaces, a trailing slash, or
    /// the REST path copied from the dashboard.
    pub fn parse(raw: &str) -> Result<Self, ProjectUrlError> {
        let url = raw.trim();
        if url.is_empty() {
            return Err(ProjectUrlError::Empty);
        }
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or(ProjectUrlError::Scheme)?;
        if rest.is_empty()
            || rest.starts_with('/')
            || rest.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(ProjectUrlError::Malformed);
        }
        let trimmed = url.trim_end_matches('/');
        let base = trimmed.strip_suffix("/rest/v1").unwrap_or(trimmed);
        Ok(Self(base.trim_end_matches('/').to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A login as kept in browser storage: what the operator typed, re-checked
/// with [`Session::restore`] whenever it is read back.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSession {
    pub project_url: String,
    pub api_key: String,
}

/// A checked login: a project and a key the browser may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub project: ProjectUrl,
    pub key: ApiKey,
}

/// Why the login form refused what was typed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoginError {
    #[error(transparent)]
    Url(#[from] ProjectUrlError),
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl Session {
    /// Checks what the login form holds, at `now_unix` seconds.
    pub fn from_form(project_url: &str, api_key: &str, now_unix: u64) -> Result<Self, LoginError> {
        Ok(Self {
            project: ProjectUrl::parse(project_url)?,
            key: classify_key(api_key, now_unix)?,
        })
    }

    /// Re-checks a stored login: a key may have expired since it was kept.
    pub fn restore(stored: &StoredSession, now_unix: u64) -> Result<Self, LoginError> {
        Self::from_form(&stored.project_url, &stored.api_key, now_unix)
    }

    pub fn to_stored(&self) -> StoredSession {
        StoredSession {
            project_url: self.project.as_str().to_string(),
            api_key: self.key.expose().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims);
        format!("{header}.{payload}.signature")
    }

    const NOW: u64 = 1_800_000_000;

    #[test]
    fn anon_jwt_is_accepted_and_sent_in_both_headers() {
        let key = classify_key(&jwt(r#"{"role":"anon","exp":1983812996}"#), NOW).unwrap();
        let headers = key.request_headers();
        assert_eq!(headers[0].0, "apikey");
        assert_eq!(
            headers[1],
            ("Authorization", format!("Bearer {}", key.expose()))
        );
    }

    #[test]
    fn publishable_key_travels_in_apikey_only() {
        let key = classify_key("  sb_publishable_abc123 ", NOW).unwrap();
        assert_eq!(
            key.request_headers(),
            vec![("apikey", "sb_publishable_abc123".to_string())]
        );
    }

    #[test]
    fn secret_keys_are_refused_with_a_reason() {
        assert_eq!(
            classify_key("sb_secret_xyz", NOW),
            Err(KeyError::Secret("sb_secret_…"))
        );
        let service = jwt(r#"{"role":"service_role","exp":1983812996}"#);
        assert_eq!(
            classify_key(&service, NOW),
            Err(KeyError::Secret("a service_role JWT"))
        );
        assert!(KeyError::Secret("x").to_string().contains("never"));
    }

    #[test]
    fn expired_and_foreign_keys_are_refused() {
        assert_eq!(
            classify_key(&jwt(r#"{"role":"anon","exp":5}"#), NOW),
            Err(KeyError::Expired)
        );
        assert_eq!(classify_key("hunter2", NOW), Err(KeyError::Unrecognised));
        assert_eq!(classify_key("a.!!!.c", NOW), Err(KeyError::Unrecognised));
        assert_eq!(classify_key("a.b.c.d", NOW), Err(KeyError::Unrecognised));
        assert_eq!(classify_key("   ", NOW), Err(KeyError::Empty));
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let key = classify_key("sb_publishable_topsecretvalue", NOW).unwrap();
        assert!(!format!("{key:?}").contains("topsecretvalue"));
        let key = classify_key(&jwt(r#"{"role":"anon"}"#), NOW).unwrap();
        assert!(!format!("{key:?}").contains("signature"));
    }

    #[test]
    fn project_urls_are_normalised() {
        for raw in [
            "http://127.0.0.1:54321",
            " http://127.0.0.1:54321/ ",
            "http://127.0.0.1:54321/rest/v1/",
        ] {
            assert_eq!(
                ProjectUrl::parse(raw).unwrap().as_str(),
                "http://127.0.0.1:54321"
            );
        }
    }

    #[test]
    fn bad_project_urls_say_what_is_wrong() {
        assert_eq!(ProjectUrl::parse(""), Err(ProjectUrlError::Empty));
        assert_eq!(
            ProjectUrl::parse("abcd.supabase.co"),
            Err(ProjectUrlError::Scheme)
        );
        assert_eq!(ProjectUrl::parse("ftp://x"), Err(ProjectUrlError::Scheme));
        assert_eq!(
            ProjectUrl::parse("https://"),
            Err(ProjectUrlError::Malformed)
        );
        assert_eq!(
            ProjectUrl::parse("https://a b.co"),
            Err(ProjectUrlError::Malformed)
        );
        assert_eq!(
            ProjectUrl::parse("https://x.co/?a=1"),
            Err(ProjectUrlError::Malformed)
        );
    }

    #[test]
    fn a_session_survives_storage_and_is_rechecked() {
        let anon = jwt(r#"{"role":"anon","exp":1800000100}"#);
        let session = Session::from_form("http://127.0.0.1:54321/", &anon, NOW).unwrap();
        let stored = session.to_stored();
        assert_eq!(stored.project_url, "http://127.0.0.1:54321");
        assert_eq!(Session::restore(&stored, NOW), Ok(session));
        assert_eq!(
            Session::restore(&stored, NOW + 200),
            Err(LoginError::Key(KeyError::Expired))
        );
    }

    #[test]
    fn the_form_names_the_first_problem() {
        assert_eq!(
            Session::from_form("example.com", "sb_secret_x", NOW),
            Err(LoginError::Url(ProjectUrlError::Scheme))
        );
        assert_eq!(
            Session::from_form("https://example.com", "sb_secret_x", NOW),
            Err(LoginError::Key(KeyError::Secret("sb_secret_…")))
        );
    }
}
