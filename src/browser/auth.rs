//! Supabase Auth (GoTrue) from the browser: signing in with email and
//! password, signing out, and the signed-in operator's tokens, which every
//! request to the project reads as it is sent (`access_token`), so that a
//! refresh reaches the requests of every drain without restarting one.
//! What the replies mean is `sluice_core::auth`'s.

use gloo_net::http::{Method, RequestBuilder};
use sluice_core::auth::{password_body, signed_in, AuthError, SignedIn};
use sluice_core::credentials::Session;
use std::cell::RefCell;
use std::time::Duration;

use super::clock::now_unix;
use super::http::{self, Deadline};

const AUTH_DEADLINE: Duration = Duration::from_secs(15);

thread_local! {
    /// The signed-in operator's tokens in this tab.
    static TOKENS: RefCell<Option<SignedIn>> = const { RefCell::new(None) };
}

/// The access token requests carry now, if an operator is signed in.
pub fn access_token() -> Option<String> {
    TOKENS.with_borrow(|tokens| tokens.as_ref().map(|t| t.access_token.clone()))
}

/// The tokens in force (after sign-in, a restore or a refresh), or none.
pub fn keep(tokens: Option<SignedIn>) {
    TOKENS.with_borrow_mut(|kept| *kept = tokens);
}

/// The tokens in force, for storing them with the login.
pub fn kept() -> Option<SignedIn> {
    TOKENS.with_borrow(Clone::clone)
}

/// Signs `email` in to the project of `session` with `password`.
pub async fn sign_in(
    session: &Session,
    email: &str,
    password: &str,
) -> Result<SignedIn, AuthError> {
    let url = format!(
        "{}/auth/v1/token?grant_type=password",
        session.project.as_str()
    );
    let body = password_body(email, password).to_string();
    let reply = call(session, &url, None, Some(body)).await?;
    signed_in(&reply, now_unix())
}

/// Signs the operator out of Supabase Auth (their refresh tokens end), then
/// forgets their tokens here, whether or not Auth answered.
pub async fn sign_out(session: &Session) {
    if let Some(token) = access_token() {
        let url = format!("{}/auth/v1/logout", session.project.as_str());
        let _ = call(session, &url, Some(&token), None).await;
    }
    keep(None);
}

/// POSTs to `/auth/v1` with the project's key; the reply's body on 2xx.
async fn call(
    session: &Session,
    url: &str,
    bearer: Option<&str>,
    body: Option<String>,
) -> Result<String, AuthError> {
    let unreachable = |_| AuthError::Unreachable("no answer".into());
    let deadline = Deadline::new(AUTH_DEADLINE).map_err(unreachable)?;
    let mut request = RequestBuilder::new(url)
        .method(Method::POST)
        .header("Content-Type", "application/json")
        .header("apikey", session.key.expose());
    if let Some(token) = bearer {
        request = request.header("Authorization", &format!("Bearer {token}"));
    }
    let response = http::send(request, body, &deadline)
        .await
        .map_err(|failure| {
            AuthError::Unreachable(
                match failure {
                    http::Failure::TimedOut => "no answer in time",
                    http::Failure::Network => "offline, refused, or blocked by CORS",
                }
                .into(),
            )
        })?;
    let status = response.status();
    let text = http::text(&response, &deadline).await.unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(AuthError::from_reply(status, &text))
    }
}
