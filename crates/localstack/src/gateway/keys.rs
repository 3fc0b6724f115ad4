//! API keys as a local Supabase project has them. With the Supabase CLI's
//! default JWT secret, the anon and service_role keys signed here are the
//! well-known local ones, so people's habits (and copied keys) carry over.
//!
//! The gateway checks `apikey` like Supabase's Kong (it must be one of the
//! project's keys), then `Authorization: Bearer` like PostgREST (a JWT signed
//! with the secret and not expired; PGRST301/PGRST303 otherwise). What it
//! finds is an [`Authorized`]: the database role the request runs as and the
//! claims PostgREST hands to the database as `request.jwt.claims`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{decode, errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The Supabase CLI's default local JWT secret.
pub const DEFAULT_JWT_SECRET: &str = "super-secret-jwt-token-with-at-least-32-characters-long";
/// The Supabase CLI's default local publishable and secret keys.
pub const DEFAULT_PUBLISHABLE_KEY: &str = "sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH";
pub const DEFAULT_SECRET_KEY: &str = "sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz";
/// Expiry of the CLI's local keys (2032-11-12).
const LOCAL_KEY_EXPIRY: u64 = 1_983_812_996;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    pub role: String,
    pub exp: u64,
}

/// The database role a request runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Anon,
    Authenticated,
    Service,
}

impl Role {
    pub fn db_role(self) -> &'static str {
        match self {
            Self::Anon => "anon",
            Self::Authenticated => "authenticated",
            Self::Service => "service_role",
        }
    }

    /// Supabase's statement timeout for the role (`ALTER ROLE ... SET
    /// statement_timeout`): 3 s for anon, 8 s for authenticated, and
    /// service_role, which sets none, keeps the authenticator role's 8 s.
    pub fn statement_timeout(self) -> &'static str {
        match self {
            Self::Anon => "3s",
            Self::Authenticated | Self::Service => "8s",
        }
    }

    pub fn from_claim(role: &str) -> Option<Self> {
        Some(match role {
            "anon" => Self::Anon,
            "authenticated" => Self::Authenticated,
            "service_role" => Self::Service,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// Kong: no `apikey` header or query parameter.
    NoApiKey,
    /// Kong: `apikey` is not one of the project's keys.
    InvalidApiKey,
    /// PostgREST PGRST301: the bearer token is not a valid JWT for this project.
    InvalidJwt(String),
    /// PostgREST PGRST303.
    JwtExpired,
}

/// What the gateway found out about a request: the role it runs as, and
/// the claims set as `request.jwt.claims` for its transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorized {
    pub role: Role,
    /// The bearer JWT's payload; with no bearer, the apikey's (an `sb_`
    /// key, not a JWT, stands for `{"role": ...}`, the claims Supabase's
    /// gateway gives the JWT it mints for such a key).
    pub claims: Value,
}

impl Authorized {
    fn of_key(role: Role, apikey: &str) -> Self {
        let claims = payload(apikey).unwrap_or_else(|| json!({ "role": role.db_role() }));
        Self { role, claims }
    }
}

/// The payload of a JWT the gateway itself signed (the project's keys), read
/// without checking a signature it already knows to be its own.
pub fn payload(jwt: &str) -> Option<Value> {
    let part = jwt.split('.').nth(1)?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
}

/// Signs claims with HS256, as Supabase signs its keys and Auth its access
/// tokens. The header is written as `{"alg":"HS256","typ":"JWT"}`
/// (Supabase's order, which jsonwebtoken's own encoder does not keep) so the
/// local keys come out byte for byte equal to the well-known ones: Kong
/// compares `apikey` as a string.
pub fn sign<C: Serialize>(secret: &str, claims: &C) -> String {
    let part = |json: &str| URL_SAFE_NO_PAD.encode(json);
    let header = part(r#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = part(&serde_json::to_string(claims).expect("claims serialise"));
    let message = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .expect("HS256 signing cannot fail");
    format!("{message}.{signature}")
}

pub struct Keys {
    secret: String,
    pub anon: String,
    pub service_role: String,
    pub publishable: String,
    pub secret_key: String,
}

impl Keys {
    pub fn new(jwt_secret: &str, publishable: &str, secret_key: &str) -> Self {
        let local_key = |role: &str| {
            let claims = Claims {
                iss: Some("supabase-demo".into()),
                role: role.into(),
                exp: LOCAL_KEY_EXPIRY,
            };
            sign(jwt_secret, &claims)
        };
        Self {
            secret: jwt_secret.to_string(),
            anon: local_key("anon"),
            service_role: local_key("service_role"),
            publishable: publishable.to_string(),
            secret_key: secret_key.to_string(),
        }
    }

    /// The JWT secret, for Auth to sign and check its access tokens with.
    pub fn jwt_secret(&self) -> &str {
        &self.secret
    }

    pub fn role_of_apikey(&self, apikey: &str) -> Option<Role> {
        if apikey == self.anon || apikey == self.publishable {
            Some(Role::Anon)
        } else if apikey == self.service_role || apikey == self.secret_key {
            Some(Role::Service)
        } else {
            None
        }
    }

    /// A bearer JWT checked as PostgREST checks it: signed with the
    /// project's secret, not expired, with a role the database knows.
    pub fn verify(&self, token: &str) -> Result<Authorized, AuthError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = true;
        validation.leeway = 0;
        // PostgREST checks `aud` only when `jwt-aud` is configured, which
        // Supabase leaves unset: user tokens carry `aud: authenticated`.
        validation.validate_aud = false;
        let data = decode::<Value>(
            token,
            &DecodingKey::from_secret(self.secret.as_bytes()),
            &validation,
        )
        .map_err(|error| match error.kind() {
            ErrorKind::ExpiredSignature => AuthError::JwtExpired,
            ErrorKind::InvalidSignature => {
                AuthError::InvalidJwt("JWSError JWSInvalidSignature".into())
            }
            _ => AuthError::InvalidJwt(
                "JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got 1)"
                    .into(),
            ),
        })?;
        let claims = data.claims;
        // PostgREST ("Authentication"): a JWT without a `role` claim runs as
        // the anonymous role.
        let role = match claims.get("role") {
            None => Role::Anon,
            Some(Value::String(role)) => Role::from_claim(role)
                .ok_or_else(|| AuthError::InvalidJwt(format!("role \"{role}\" does not exist")))?,
            Some(other) => {
                return Err(AuthError::InvalidJwt(format!(
                    "role \"{other}\" does not exist"
                )))
            }
        };
        Ok(Authorized { role, claims })
    }

    /// The role a request runs as and its claims, from its `apikey` and
    /// `Authorization`.
    pub fn authorize(
        &self,
        apikey: Option<&str>,
        authorization: Option<&str>,
    ) -> Result<Authorized, AuthError> {
        let apikey = apikey
            .filter(|k| !k.is_empty())
            .ok_or(AuthError::NoApiKey)?;
        let key_role = self
            .role_of_apikey(apikey)
            .ok_or(AuthError::InvalidApiKey)?;
        let Some(authorization) = authorization else {
            return Ok(Authorized::of_key(key_role, apikey));
        };
        let token = authorization
            .strip_prefix("Bearer ")
            .or_else(|| authorization.strip_prefix("bearer "))
            .ok_or_else(|| {
                AuthError::InvalidJwt("Authorization header is not a Bearer token".into())
            })?
            .trim();
        // The new sb_ keys are not JWTs: Supabase accepts one as a bearer only
        // when it is the same key as `apikey`.
        if token.starts_with("sb_") {
            return if token == apikey {
                Ok(Authorized::of_key(key_role, apikey))
            } else {
                Err(AuthError::InvalidJwt("JWSError JWSInvalidSignature".into()))
            };
        }
        self.verify(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(found: Result<Authorized, AuthError>) -> Result<Role, AuthError> {
        found.map(|found| found.role)
    }

    fn local() -> Keys {
        Keys::new(
            DEFAULT_JWT_SECRET,
            DEFAULT_PUBLISHABLE_KEY,
            DEFAULT_SECRET_KEY,
        )
    }

    #[test]
    fn default_secret_gives_the_supabase_cli_well_known_keys() {
        let keys = local();
        assert_eq!(
            keys.anon,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
        );
        assert_eq!(
            keys.service_role,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
        );
    }

    #[test]
    fn statement_timeouts_are_supabases() {
        assert_eq!(Role::Anon.statement_timeout(), "3s");
        assert_eq!(Role::Authenticated.statement_timeout(), "8s");
        assert_eq!(Role::Service.statement_timeout(), "8s");
    }

    #[test]
    fn apikey_decides_the_role_when_no_bearer_is_sent() {
        let keys = local();
        assert_eq!(role(keys.authorize(Some(&keys.anon), None)), Ok(Role::Anon));
        assert_eq!(
            role(keys.authorize(Some(DEFAULT_PUBLISHABLE_KEY), None)),
            Ok(Role::Anon)
        );
        assert_eq!(
            role(keys.authorize(Some(&keys.service_role), None)),
            Ok(Role::Service)
        );
        assert_eq!(role(keys.authorize(None, None)), Err(AuthError::NoApiKey));
        assert_eq!(
            role(keys.authorize(Some("wrong"), None)),
            Err(AuthError::InvalidApiKey)
        );
    }

    #[test]
    fn bearer_tokens_are_verified_like_postgrest() {
        let keys = local();
        let anon = keys.anon.clone();
        assert_eq!(
            role(keys.authorize(Some(&anon), Some(&format!("Bearer {anon}")))),
            Ok(Role::Anon)
        );
        let expired = sign(
            DEFAULT_JWT_SECRET,
            &Claims {
                iss: None,
                role: "anon".into(),
                exp: 1_000,
            },
        );
        assert_eq!(
            role(keys.authorize(Some(&anon), Some(&format!("Bearer {expired}")))),
            Err(AuthError::JwtExpired)
        );
        let forged = Keys::new("another-secret-that-is-at-least-32-chars!", "p", "s").anon;
        assert!(matches!(
            keys.authorize(Some(&anon), Some(&format!("Bearer {forged}"))),
            Err(AuthError::InvalidJwt(_))
        ));
        assert!(matches!(
            keys.authorize(Some(&anon), Some("Bearer garbage")),
            Err(AuthError::InvalidJwt(_))
        ));
    }

    #[test]
    fn a_user_token_with_an_audience_is_accepted_as_postgrest_accepts_it() {
        let keys = local();
        let user = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(Algorithm::HS256),
            &serde_json::json!({"role": "authenticated", "aud": "authenticated", "exp": 4_102_444_800u64}),
            &EncodingKey::from_secret(DEFAULT_JWT_SECRET.as_bytes()),
        )
        .unwrap();
        assert_eq!(
            role(keys.authorize(Some(&keys.anon), Some(&format!("Bearer {user}")))),
            Ok(Role::Authenticated)
        );
    }

    #[test]
    fn a_publishable_key_may_be_its_own_bearer() {
        let keys = local();
        let bearer = format!("Bearer {DEFAULT_PUBLISHABLE_KEY}");
        assert_eq!(
            role(keys.authorize(Some(DEFAULT_PUBLISHABLE_KEY), Some(&bearer))),
            Ok(Role::Anon)
        );
        assert!(keys.authorize(Some(&keys.anon), Some(&bearer)).is_err());
    }

    #[test]
    fn the_claims_are_the_bearers_payload_or_the_keys() {
        let keys = local();
        let user = sign(
            DEFAULT_JWT_SECRET,
            &json!({"sub": "u-1", "role": "authenticated", "exp": 4_102_444_800u64}),
        );
        let found = keys
            .authorize(Some(&keys.anon), Some(&format!("Bearer {user}")))
            .unwrap();
        assert_eq!(found.claims["sub"], "u-1");
        let anon = keys.authorize(Some(&keys.anon), None).unwrap();
        assert_eq!(
            anon.claims,
            json!({"iss": "supabase-demo", "role": "anon", "exp": LOCAL_KEY_EXPIRY})
        );
        let publishable = keys.authorize(Some(DEFAULT_PUBLISHABLE_KEY), None).unwrap();
        assert_eq!(publishable.claims, json!({"role": "anon"}));
        let secret = keys.authorize(Some(DEFAULT_SECRET_KEY), None).unwrap();
        assert_eq!(secret.claims, json!({"role": "service_role"}));
    }

    #[test]
    fn a_jwt_without_a_role_runs_as_anon_and_an_unknown_role_is_refused() {
        let keys = local();
        let bare = sign(DEFAULT_JWT_SECRET, &json!({"exp": 4_102_444_800u64}));
        assert_eq!(
            role(keys.authorize(Some(&keys.anon), Some(&format!("Bearer {bare}")))),
            Ok(Role::Anon)
        );
        let admin = sign(DEFAULT_JWT_SECRET, &json!({"role": "postgres"}));
        assert!(matches!(
            keys.authorize(Some(&keys.anon), Some(&format!("Bearer {admin}"))),
            Err(AuthError::InvalidJwt(_))
        ));
    }
}
