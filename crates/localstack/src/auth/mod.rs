//! Supabase Auth (GoTrue) on the local stack, at `/auth/v1` on the
//! gateway's address, as Supabase serves it behind Kong: password sign-in,
//! refresh-token rotation, sign-out, the signed-in user, and the admin API's
//! users. Replies, errors and rules are read from supabase/auth's sources
//! (each module names the files); what this stack leaves out is listed in
//! docs/local-stack.md.
//!
//! Users, sessions and refresh tokens live in the `auth` schema (auth.sql);
//! passwords are bcrypt hashes; access tokens are HS256 JWTs signed with the
//! stack's JWT secret, which is what the gateway checks bearer tokens with.

mod admin;
mod errors;
mod rate_limit;
mod store;
mod tokens;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use tower_http::cors::{Any, CorsLayer};
use uuid::Uuid;

use crate::gateway::keys::{self, Role};
use crate::gateway::{ApiError, Gateway};
use errors::GoTrueError;
use store::{Client, User};
use tokens::Refresh;

/// GoTrue's default audience and the role of the users it creates
/// (`GOTRUE_JWT_AUD`, `GOTRUE_JWT_DEFAULT_GROUP_NAME` as Supabase sets them).
const AUDIENCE: &str = "authenticated";
/// bcrypt's cost as GoTrue hashes passwords (`bcrypt.DefaultCost`).
const BCRYPT_COST: u32 = 10;

#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// Lifetime of Auth's access tokens, in seconds (GoTrue's
    /// `GOTRUE_JWT_EXP`); tests make it short.
    #[arg(long, env = "SLUICE_JWT_EXPIRY_SECONDS", default_value_t = 3600)]
    pub jwt_expiry_seconds: u64,
    /// How long after a refresh token was swapped it may be presented
    /// again and be answered with the session's current tokens, in seconds
    /// (GoTrue's `GOTRUE_SECURITY_REFRESH_TOKEN_REUSE_INTERVAL`, 10 on
    /// Supabase). Later, it ends the whole session.
    #[arg(
        long,
        env = "SLUICE_REFRESH_TOKEN_REUSE_INTERVAL",
        default_value_t = 10
    )]
    pub refresh_token_reuse_interval: u64,
    /// Token requests (any grant) per client IP each five minutes, after a
    /// burst (GoTrue's `GOTRUE_RATE_LIMIT_TOKEN_REFRESH`). Supabase's
    /// default is 150 with a burst of 30; the local default is looser, so
    /// that test suites signing in from one address do not trip it.
    #[arg(long, env = "SLUICE_AUTH_RATE_LIMIT_TOKEN", default_value_t = 1800.0)]
    pub auth_rate_limit_token: f64,
    /// Token requests per client IP at once before the rate applies
    /// (Supabase: 30); 0 turns the limit off.
    #[arg(long, env = "SLUICE_AUTH_RATE_LIMIT_BURST", default_value_t = 300)]
    pub auth_rate_limit_burst: u32,
    /// The operator created (or kept) at start: a confirmed user with
    /// `app_metadata.sluice_operator = true`. Empty: none.
    #[arg(
        long,
        env = "SLUICE_OPERATOR_EMAIL",
        default_value = "operator@sluice.local"
    )]
    pub operator_email: String,
    /// The operator's password (a well-known local one, like the keys).
    #[arg(
        long,
        env = "SLUICE_OPERATOR_PASSWORD",
        default_value = "sluice-operator-password"
    )]
    pub operator_password: String,
}

pub struct Auth {
    gateway: Arc<Gateway>,
    /// `iss` of the access tokens: `{API URL}/auth/v1`, as the Supabase CLI
    /// sets `GOTRUE_JWT_ISSUER`.
    issuer: String,
    /// Seconds; a test facility changes it while the stack runs.
    jwt_expiry: AtomicU64,
    reuse_interval: u64,
    limiter: Mutex<rate_limit::Limiter>,
}

impl Auth {
    pub fn new(gateway: Arc<Gateway>, args: &AuthArgs, api_url: &str) -> Self {
        Self {
            gateway,
            issuer: format!("{api_url}/auth/v1"),
            jwt_expiry: AtomicU64::new(args.jwt_expiry_seconds),
            reuse_interval: args.refresh_token_reuse_interval,
            limiter: Mutex::new(rate_limit::Limiter::new(
                rate_limit::Rate::per_five_minutes(
                    args.auth_rate_limit_token,
                    args.auth_rate_limit_burst,
                ),
            )),
        }
    }

    async fn transaction<T>(
        &self,
        work: impl AsyncFnOnce(&tokio_postgres::Transaction<'_>) -> Result<T, GoTrueError>,
    ) -> Result<T, GoTrueError> {
        let mut client = self
            .gateway
            .admin_client()
            .await
            .map_err(|e| GoTrueError::database("Database connection error", e.body))?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| GoTrueError::database("Database connection error", e))?;
        let result = work(&tx).await;
        match result {
            Ok(value) => {
                tx.commit()
                    .await
                    .map_err(|e| GoTrueError::database("Database error committing", e))?;
                Ok(value)
            }
            // GoTrue's `storage.NewCommitWithError`: some errors keep what
            // the transaction did (the end of a session whose refresh token
            // was reused).
            Err(error) if error.code == "refresh_token_already_used" => {
                tx.commit()
                    .await
                    .map_err(|e| GoTrueError::database("Database error committing", e))?;
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    fn secret(&self) -> String {
        self.gateway
            .keys
            .read()
            .expect("keys lock")
            .jwt_secret()
            .to_string()
    }

    /// GoTrue's token response (tokens/service.go, `AccessTokenResponse`).
    fn token_response(
        &self,
        user: &User,
        session: Uuid,
        amr: Vec<tokens::Amr>,
        refresh_token: &str,
    ) -> Value {
        let now = unix_now();
        let claims = tokens::access_claims(
            &user.subject(),
            &session.to_string(),
            amr,
            &self.issuer,
            now,
            self.jwt_expiry.load(Ordering::Relaxed),
        );
        let access_token = keys::sign(&self.secret(), &claims);
        json!({
            "access_token": access_token,
            "token_type": "bearer",
            "expires_in": claims.exp - now,
            "expires_at": claims.exp,
            "refresh_token": refresh_token,
            "user": user.to_json(),
        })
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn router(auth: Arc<Auth>) -> Router {
    // GoTrue's CORS (api/api.go): any origin, and these headers exposed.
    let cors = CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(Any)
        .expose_headers([
            HeaderName::from_static("x-total-count"),
            header::LINK,
            HeaderName::from_static(errors::API_VERSION_HEADER),
        ])
        .max_age(std::time::Duration::from_secs(3600));
    Router::new()
        .route("/auth/v1/token", post(token))
        .route("/auth/v1/user", get(user))
        .route("/auth/v1/logout", post(logout))
        .route("/auth/v1/admin/users", get(admin::list).post(admin::create))
        .route("/auth/v1/admin/users/{id}", delete(admin::delete))
        .route_layer(middleware::from_fn_with_state(auth.clone(), require_key))
        .layer(middleware::from_fn(errors::versioned))
        .with_state(auth)
        .layer(cors)
}

#[derive(Deserialize)]
struct TokenLifetime {
    jwt_expiry_seconds: u64,
}

/// The stack's control of Auth, a test facility merged with the other
/// `/_admin` controls (this machine only): `PUT /_admin/auth
/// {"jwt_expiry_seconds": 20}` makes the access tokens issued from now on
/// live that long (1 s to a week), as `--jwt-expiry-seconds` does at start.
pub fn controls(auth: Arc<Auth>) -> Router {
    Router::new()
        .route("/_admin/auth", put(set_token_lifetime))
        .with_state(auth)
}

async fn set_token_lifetime(
    State(auth): State<Arc<Auth>>,
    Json(lifetime): Json<TokenLifetime>,
) -> StatusCode {
    const WEEK_S: u64 = 7 * 24 * 3600;
    auth.jwt_expiry.store(
        lifetime.jwt_expiry_seconds.clamp(1, WEEK_S),
        Ordering::Relaxed,
    );
    StatusCode::NO_CONTENT
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn apikey<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<String> {
    header_str(headers, "apikey")
        .map(str::to_string)
        .or_else(|| {
            serde_urlencoded::from_str::<Vec<(String, String)>>(query.unwrap_or_default())
                .ok()?
                .into_iter()
                .find(|(k, _)| k == "apikey")
                .map(|(_, v)| v)
        })
}

/// Kong in front of Auth, as in front of PostgREST: `apikey` must be one of
/// the project's keys (its 401 `{message, hint}` otherwise).
async fn require_key(State(auth): State<Arc<Auth>>, request: Request, next: Next) -> Response {
    let key = apikey(request.headers(), request.uri().query()).filter(|k| !k.is_empty());
    let refusal = match key {
        None => Some(keys::AuthError::NoApiKey),
        Some(key) => {
            let known = auth
                .gateway
                .keys
                .read()
                .expect("keys lock")
                .role_of_apikey(&key)
                .is_some();
            (!known).then_some(keys::AuthError::InvalidApiKey)
        }
    };
    match refusal {
        Some(error) => ApiError::from(error).into_response(),
        None => next.run(request).await,
    }
}

/// GoTrue's `retrieveRequestParams`: the body as JSON, or 400 `bad_json`.
fn params<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, GoTrueError> {
    serde_json::from_slice(body).map_err(|e| {
        GoTrueError::bad_request(
            "bad_json",
            format!("Could not parse request body as JSON: {e}"),
        )
    })
}

fn client_of<'a>(headers: &'a HeaderMap, peer: SocketAddr) -> Client<'a> {
    Client {
        user_agent: header_str(headers, "user-agent"),
        ip: Some(peer.ip().to_string()),
    }
}

/// `POST /auth/v1/token?grant_type=...` (api/token.go, `Token`): the grant
/// is checked, then the rate limit, then the grant's handler runs.
async fn token(
    State(auth): State<Arc<Auth>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, GoTrueError> {
    let grant =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v)
            .unwrap_or_default();
    if grant != "password" && grant != "refresh_token" {
        return Err(GoTrueError::bad_request(
            "invalid_credentials",
            "unsupported_grant_type",
        ));
    }
    let allowed = auth
        .limiter
        .lock()
        .expect("limiter lock")
        .allow(peer.ip(), Instant::now());
    if !allowed {
        return Err(GoTrueError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "over_request_rate_limit",
            "Request rate limit reached",
        ));
    }
    let client = client_of(&headers, peer);
    if grant == "password" {
        password_grant(&auth, &body, &client).await
    } else {
        refresh_grant(&auth, &body, &client).await
    }
    .map(Json)
}

#[derive(Deserialize)]
struct PasswordParams {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn invalid_credentials() -> GoTrueError {
    GoTrueError::bad_request("invalid_credentials", "Invalid login credentials")
}

/// `grant_type=password` (api/token.go, `ResourceOwnerPasswordGrant`): a
/// wrong password and an unknown email are the same 400
/// `invalid_credentials`; a right password for an unconfirmed email is 400
/// `email_not_confirmed`.
async fn password_grant(
    auth: &Auth,
    body: &[u8],
    client: &Client<'_>,
) -> Result<Value, GoTrueError> {
    let params: PasswordParams = params(body)?;
    let email = params.email.unwrap_or_default();
    let phone = params.phone.unwrap_or_default();
    if !email.is_empty() && !phone.is_empty() {
        return Err(GoTrueError::bad_request(
            "validation_failed",
            "Only an email address or phone number should be provided on login.",
        ));
    }
    if email.is_empty() && !phone.is_empty() {
        // The phone provider is off, as on a new Supabase project.
        return Err(GoTrueError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "phone_provider_disabled",
            "Phone logins are disabled",
        ));
    }
    if email.is_empty() {
        return Err(GoTrueError::bad_request(
            "validation_failed",
            "missing email or phone",
        ));
    }
    let password = params.password.unwrap_or_default();
    let user = auth
        .transaction(async |tx| store::user_by_email(tx, &email, AUDIENCE).await)
        .await?
        .ok_or_else(invalid_credentials)?;
    let hash = user
        .encrypted_password
        .clone()
        .filter(|h| !h.is_empty())
        .ok_or_else(invalid_credentials)?;
    let valid =
        tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
    if !valid {
        return Err(invalid_credentials());
    }
    if !user.email_confirmed {
        return Err(GoTrueError::bad_request(
            "email_not_confirmed",
            "Email not confirmed",
        ));
    }
    let refresh_token = tokens::new_refresh_token(&mut rand::rng());
    let (user, session, amr) = auth
        .transaction(async |tx| {
            let session = store::start_session(tx, user.id, &refresh_token, client).await?;
            let amr = store::amr(tx, session).await?;
            let user = store::user_by_id(tx, user.id)
                .await?
                .ok_or_else(invalid_credentials)?;
            Ok((user, session, amr))
        })
        .await?;
    Ok(auth.token_response(&user, session, amr, &refresh_token))
}

#[derive(Deserialize)]
struct RefreshParams {
    #[serde(default)]
    refresh_token: Option<String>,
}

/// `grant_type=refresh_token` (api/token_refresh.go and
/// tokens/service.go, `RefreshTokenGrant`), with the rules of
/// [`tokens::decide`].
async fn refresh_grant(
    auth: &Auth,
    body: &[u8],
    client: &Client<'_>,
) -> Result<Value, GoTrueError> {
    let params: RefreshParams = params(body)?;
    let presented = params.refresh_token.unwrap_or_default();
    if !tokens::well_formed_refresh_token(&presented) {
        return Err(GoTrueError::bad_request(
            "validation_failed",
            "Refresh token is not valid",
        ));
    }
    let child = tokens::new_refresh_token(&mut rand::rng());
    let reuse_interval = auth.reuse_interval;
    let (user, session, amr, issued) = auth
        .transaction(async |tx| {
            let found = store::lock_refresh_token(tx, &presented)
                .await?
                .ok_or_else(|| {
                    GoTrueError::bad_request(
                        "refresh_token_not_found",
                        "Invalid Refresh Token: Refresh Token Not Found",
                    )
                })?;
            let active = store::active_token(tx, found.session).await?;
            let decision = tokens::decide(
                tokens::Presented {
                    revoked: found.revoked,
                    parent_of_active: active
                        .as_ref()
                        .is_some_and(|(_, parent)| parent.as_deref() == Some(presented.as_str())),
                    session_has_active: active.is_some(),
                    seconds_since_update: found.seconds_since_update,
                },
                reuse_interval,
            );
            let issued = match (decision, active) {
                (Refresh::Rotate, _) => {
                    store::rotate(tx, &found, &child).await?;
                    child.clone()
                }
                (Refresh::ReturnActive, Some((active, _))) => active,
                _ => {
                    store::end_session(tx, found.session).await?;
                    return Err(GoTrueError::bad_request(
                        "refresh_token_already_used",
                        "Invalid Refresh Token: Already Used",
                    ));
                }
            };
            store::refreshed(tx, found.session, client).await?;
            let amr = store::amr(tx, found.session).await?;
            let user = store::user_by_id(tx, found.user).await?.ok_or_else(|| {
                GoTrueError::bad_request(
                    "refresh_token_not_found",
                    "Invalid Refresh Token: Refresh Token Not Found",
                )
            })?;
            Ok((user, found.session, amr, issued))
        })
        .await?;
    Ok(auth.token_response(&user, session, amr, &issued))
}

/// GoTrue's `extractBearerToken`: `Authorization: Bearer {token}` (or
/// `bearer`), or 401 `no_authorization`.
fn bearer(headers: &HeaderMap) -> Result<&str, GoTrueError> {
    header_str(headers, "authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .filter(|t| !t.is_empty() && !t.contains(char::is_whitespace))
        .ok_or_else(|| {
            GoTrueError::new(
                StatusCode::UNAUTHORIZED,
                "no_authorization",
                "This endpoint requires a valid Bearer token",
            )
        })
}

/// GoTrue's `parseJWTClaims`: an HS256 token signed with the JWT secret,
/// not expired; 403 `bad_jwt` otherwise.
fn jwt_claims(auth: &Auth, token: &str) -> Result<Value, GoTrueError> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.required_spec_claims.clear();
    validation.validate_aud = false;
    validation.leeway = 0;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(auth.secret().as_bytes()),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|error| {
        GoTrueError::forbidden(
            "bad_jwt",
            format!(
                "invalid JWT: unable to parse or verify signature, {}",
                tokens::jwt_error_text(error.kind())
            ),
        )
    })
}

/// GoTrue's `requireAuthentication` (api/auth.go): a valid access token whose
/// user, and session if it names one, still exist.
async fn authenticated(
    auth: &Auth,
    headers: &HeaderMap,
) -> Result<(User, Option<Uuid>), GoTrueError> {
    let claims = jwt_claims(auth, bearer(headers)?)?;
    let sub = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if sub.is_empty() {
        return Err(GoTrueError::forbidden(
            "bad_jwt",
            "invalid claim: missing sub claim",
        ));
    }
    let user_id = Uuid::parse_str(sub).map_err(|_| {
        GoTrueError::bad_request("bad_jwt", "invalid claim: sub claim must be a UUID")
    })?;
    let session = match claims.get("session_id").and_then(Value::as_str) {
        None | Some("") | Some("00000000-0000-0000-0000-000000000000") => None,
        Some(id) => Some(Uuid::parse_str(id).map_err(|_| {
            GoTrueError::forbidden("bad_jwt", "invalid claim: session_id claim must be a UUID")
        })?),
    };
    auth.transaction(async |tx| {
        let user = store::user_by_id(tx, user_id).await?.ok_or_else(|| {
            GoTrueError::forbidden(
                "user_not_found",
                "User from sub claim in JWT does not exist",
            )
        })?;
        if let Some(session) = session {
            if !store::session_exists(tx, session).await? {
                return Err(GoTrueError::forbidden(
                    "session_not_found",
                    "Session from session_id claim in JWT does not exist",
                ));
            }
        }
        Ok((user, session))
    })
    .await
}

/// `GET /auth/v1/user` (api/user.go, `UserGet`): the signed-in user.
async fn user(
    State(auth): State<Arc<Auth>>,
    headers: HeaderMap,
) -> Result<Json<Value>, GoTrueError> {
    let (user, _) = authenticated(&auth, &headers).await?;
    Ok(Json(user.to_json()))
}

/// `POST /auth/v1/logout?scope=global|local|others` (api/logout.go):
/// `global` by default, ending every session of the user; 204.
async fn logout(
    State(auth): State<Arc<Auth>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<StatusCode, GoTrueError> {
    let (user, session) = authenticated(&auth, &headers).await?;
    let scope =
        serde_urlencoded::from_str::<Vec<(String, String)>>(query.as_deref().unwrap_or_default())
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| k == "scope")
            .map(|(_, v)| v)
            .unwrap_or_default();
    let scope = match scope.as_str() {
        "" | "global" => store::Scope::Global,
        "local" => store::Scope::Local,
        "others" => store::Scope::Others,
        other => {
            return Err(GoTrueError::bad_request(
                "validation_failed",
                format!("Unsupported logout scope {other:?}"),
            ))
        }
    };
    auth.transaction(async |tx| store::logout(tx, user.id, session, scope).await)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Creates or updates the stack's operator (`--operator-email`,
/// `--operator-password`) at start: a confirmed user whose `app_metadata`
/// marks it an operator (policies.sql).
pub async fn ensure_operator(
    gateway: &Arc<Gateway>,
    args: &AuthArgs,
) -> Result<Option<Uuid>, String> {
    if args.operator_email.is_empty() {
        return Ok(None);
    }
    let password = args.operator_password.clone();
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(password, BCRYPT_COST))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let auth = Auth::new(gateway.clone(), args, "");
    auth.transaction(async |tx| store::ensure_operator(tx, &args.operator_email, &hash).await)
        .await
        .map(Some)
        .map_err(|e| e.msg)
}

/// The role a request's keys stand for, for the admin API: a `service_role`
/// (or `supabase_admin`) JWT as bearer, or the secret key, which Supabase's
/// gateway turns into a service_role JWT.
fn admin_role(auth: &Auth, headers: &HeaderMap, query: Option<&str>) -> Result<(), GoTrueError> {
    let key = apikey(headers, query).unwrap_or_default();
    let key_role = auth
        .gateway
        .keys
        .read()
        .expect("keys lock")
        .role_of_apikey(&key);
    let not_admin = || GoTrueError::forbidden("not_admin", "User not allowed");
    let token = match bearer(headers) {
        Ok(token) => token,
        Err(_) if key.starts_with("sb_") && key_role == Some(Role::Service) => return Ok(()),
        Err(error) => return Err(error),
    };
    if token.starts_with("sb_") {
        return match key_role {
            Some(Role::Service) if token == key => Ok(()),
            Some(_) if token == key => Err(not_admin()),
            _ => Err(GoTrueError::forbidden(
                "bad_jwt",
                format!(
                    "invalid JWT: unable to parse or verify signature, {}",
                    tokens::jwt_error_text(&jsonwebtoken::errors::ErrorKind::InvalidToken)
                ),
            )),
        };
    }
    let claims = jwt_claims(auth, token)?;
    match claims.get("role").and_then(Value::as_str) {
        // GoTrue's default `GOTRUE_JWT_ADMIN_ROLES`.
        Some("service_role" | "supabase_admin") => Ok(()),
        _ => Err(not_admin()),
    }
}
