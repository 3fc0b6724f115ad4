//! What an operator types into the login form: a project URL and an API key.
//! Keys are classified before anything is sent, because a secret key must
//! never sit in a browser, and the kind of key decides the request headers.

use crate::auth::{Operator, SignedIn};
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
    Secret(String),
    #[error("This API key has expired. Copy a current key from the project's API settings.")]
    Expired,
    #[error(
        "This does not look like a Supabase API key (expected sb_publishable_… or a JWT anon key)."
    )]
    Unrecognised,
    #[error(
        "This key starts like a publishable key but is not one whole (sb_publishable_, then its \
         value, an underscore and an 8-character checksum). Copy it again from the project's API settings."
    )]
    DamagedPublishable,
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
        return Err(KeyError::Secret("sb_secret_…".into()));
    }
    if let Some(value) = key.strip_prefix("sb_publishable_") {
        return if is_publishable_value(value) {
            Ok(ApiKey::Publishable(key.to_string()))
        } else {
            Err(KeyError::DamagedPublishable)
        };
    }
    let claims = jwt_claims(key).ok_or(KeyError::Unrecognised)?;
    let role = claims.role.unwrap_or_default();
    // Only the roles row-level security is written for; any other (service_role,
    // supabase_admin, postgres, none) may bypass it.
    if !matches!(role.as_str(), "anon" | "authenticated") {
        return Err(KeyError::Secret(if role.is_empty() {
            "a JWT without a role".into()
        } else {
            format!("a {role} JWT")
        }));
    }
    if claims.exp.is_some_and(|exp| exp <= now_unix) {
        return Err(KeyError::Expired);
    }
    Ok(ApiKey::Jwt {
        key: key.to_string(),
        role,
    })
}

/// What follows `sb_publishable_`: a random value (base64url), an
/// underscore and an 8-character checksum, as Supabase issues them
/// (`sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH`).
fn is_publishable_value(value: &str) -> bool {
    let url_safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if !value.is_ascii() {
        return false;
    }
    match value.len().checked_sub(9).map(|at| value.split_at(at)) {
        Some((random, checksum)) => {
            random.len() >= 16
                && random.chars().all(url_safe)
                && checksum.starts_with('_')
                && checksum[1..].chars().all(|c| c.is_ascii_alphanumeric())
        }
        None => false,
    }
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
        let lower = url.to_ascii_lowercase();
        let rest = if lower.starts_with("https://") || lower.starts_with("http://") {
            &url[url.find("://").map_or(0, |at| at + 3)..]
        } else {
            return Err(ProjectUrlError::Scheme);
        };
        if rest.is_empty()
            || rest.starts_with('/')
            || rest.contains(|c: char| c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(ProjectUrlError::Malformed);
        }
        let trimmed = url.trim_end_matches('/');
        let base = trimmed.strip_suffix("/rest/v1").unwrap_or(trimmed);
        let base = base.trim_end_matches('/');
        // One project, one name: the scheme and host are case-insensitive
        // and a default port says nothing, so they name no second ledger.
        let (scheme, rest) = base.split_once("://").ok_or(ProjectUrlError::Scheme)?;
        let scheme = scheme.to_ascii_lowercase();
        let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = host.to_ascii_lowercase();
        let default_port = if scheme == "https" { ":443" } else { ":80" };
        let host = host.strip_suffix(default_port).unwrap_or(&host);
        Ok(Self(format!("{scheme}://{host}{path}")))
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
    /// The operator signed in through Supabase Auth, with their tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<SignedIn>,
}

/// A checked login: a project and a key the browser may use, and the
/// operator signed in with it, if any (their tokens are kept apart: they
/// change with each refresh while the login stays the same).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub project: ProjectUrl,
    pub key: ApiKey,
    pub operator: Option<Operator>,
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
            operator: None,
        })
    }

    /// Re-checks a stored login: a key may have expired since it was kept.
    pub fn restore(stored: &StoredSession, now_unix: u64) -> Result<Self, LoginError> {
        let session = Self::from_form(&stored.project_url, &stored.api_key, now_unix)?;
        Ok(session.signed_in_as(stored.signed_in.as_ref()))
    }

    /// The signed-in operator's email: whom refusals are told to, and whom
    /// the history and the dead letters name (none for the key alone).
    pub fn operator_email(&self) -> Option<&str> {
        self.operator.as_ref().map(|o| o.email.as_str())
    }

    /// This login with the operator `signed_in` names (none: the key alone).
    pub fn signed_in_as(self, signed_in: Option<&SignedIn>) -> Self {
        Self {
            operator: signed_in.map(SignedIn::operator),
            ..self
        }
    }

    pub fn to_stored(&self, signed_in: Option<&SignedIn>) -> StoredSession {
        StoredSession {
            project_url: self.project.as_str().to_string(),
            api_key: self.key.expose().to_string(),
            signed_in: signed_in.cloned(),
        }
    }

    /// The headers every request to the project carries: the key, and once
    /// an operator signed in, their current access token instead of the
    /// key as the bearer (as supabase-js does), so that row-level security
    /// sees the operator. Without a token an operator's request carries
    /// the key only, and is refused rather than read as the public's.
    pub fn request_headers(&self, access_token: Option<&str>) -> Vec<(&'static str, String)> {
        match (&self.operator, access_token) {
            (None, _) => self.key.request_headers(),
            (Some(_), Some(token)) => vec![
                ("apikey", self.key.expose().to_string()),
                ("Authorization", format!("Bearer {token}")),
            ],
            (Some(_), None) => vec![("apikey", self.key.expose().to_string())],
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
    /// The local development publishable key every Supabase CLI prints.
    const PUBLISHABLE: &str = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH";

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
        let key = classify_key(&format!("  {PUBLISHABLE} "), NOW).unwrap();
        assert_eq!(
            key.request_headers(),
            vec![("apikey", PUBLISHABLE.to_string())]
        );
    }

    #[test]
    fn publishable_keys_are_accepted_only_whole() {
        for damaged in [
            "sb_publishable_",
            "sb_publishable_abc123",
            "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAa",
            "sb_publishable_ACJWlzQHlZjBrEguHvfOxg 3BJgxAaH",
            "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgx\"H",
            "sb_publishable_éééééééééééééééééééé_3BJgxAaH",
        ] {
            assert_eq!(
                classify_key(damaged, NOW),
                Err(KeyError::DamagedPublishable),
                "{damaged}"
            );
        }
    }

    #[test]
    fn secret_keys_are_refused_with_a_reason() {
        assert_eq!(
            classify_key("sb_secret_xyz", NOW),
            Err(KeyError::Secret("sb_secret_…".into()))
        );
        for (claims, said) in [
            (r#"{"role":"service_role"}"#, "a service_role JWT"),
            (r#"{"role":"supabase_admin"}"#, "a supabase_admin JWT"),
            (r#"{"role":"postgres"}"#, "a postgres JWT"),
            (r#"{"exp":1983812996}"#, "a JWT without a role"),
        ] {
            assert_eq!(
                classify_key(&jwt(claims), NOW),
                Err(KeyError::Secret(said.into()))
            );
        }
        let user = jwt(r#"{"role":"authenticated","aud":"authenticated"}"#);
        assert!(classify_key(&user, NOW).is_ok());
        assert!(KeyError::Secret("x".into()).to_string().contains("never"));
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
        let key = classify_key(PUBLISHABLE, NOW).unwrap();
        assert!(!format!("{key:?}").contains("ACJWlz"));
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
        for raw in [
            "https://ABC.supabase.co/",
            "https://abc.supabase.co",
            "HTTPS://abc.Supabase.CO:443/rest/v1",
        ] {
            assert_eq!(
                ProjectUrl::parse(raw).unwrap().as_str(),
                "https://abc.supabase.co",
                "{raw}"
            );
        }
        assert_eq!(
            ProjectUrl::parse("https://x.co/Some/Path")
                .unwrap()
                .as_str(),
            "https://x.co/Some/Path",
            "a path keeps its case"
        );
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
        let stored = session.to_stored(None);
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
            Err(LoginError::Key(KeyError::Secret("sb_secret_…".into())))
        );
    }

    #[test]
    fn a_signed_in_operator_is_the_bearer_and_the_key_stays_the_apikey() {
        let session = Session::from_form("http://127.0.0.1:54321", PUBLISHABLE, NOW).unwrap();
        assert_eq!(
            session.request_headers(Some("user.jwt")),
            vec![("apikey", PUBLISHABLE.to_string())]
        );
        let signed = crate::auth::signed_in(
            r#"{"access_token":"user.jwt","refresh_token":"r","expires_in":3600,"user":{"id":"u1","email":"op@example.com"}}"#,
            NOW,
        )
        .unwrap();
        let operator = session.clone().signed_in_as(Some(&signed));
        assert_eq!(operator.operator_email(), Some(signed.email.as_str()));
        assert_eq!(session.operator_email(), None, "the key alone names no one");
        assert_eq!(
            operator.request_headers(Some("user.jwt")),
            vec![
                ("apikey", PUBLISHABLE.to_string()),
                ("Authorization", "Bearer user.jwt".to_string())
            ]
        );
        // Without its token an operator's request is never the public's.
        assert_eq!(
            operator.request_headers(None),
            vec![("apikey", PUBLISHABLE.to_string())]
        );
        let stored = operator.to_stored(Some(&signed));
        assert_eq!(
            Session::restore(&stored, NOW)
                .unwrap()
                .operator
                .unwrap()
                .email,
            "op@example.com"
        );
        // A login stored before sign-in existed reads as the key alone.
        let old: StoredSession = serde_json::from_str(&format!(
            r#"{{"project_url":"http://127.0.0.1:54321","api_key":"{PUBLISHABLE}"}}"#
        ))
        .unwrap();
        assert_eq!(Session::restore(&old, NOW).unwrap(), session);
    }
}
