//! Requests to the project's API (PostgREST): the key's headers, the
//! signed-in operator's access token read as each request is sent, and one
//! refresh and retry when the token was refused, so that an expired token
//! never reaches the operator as an error.

use gloo_net::http::{RequestBuilder, Response};
use sluice_core::auth::{calls_for_refresh, AuthError};
use sluice_core::credentials::Session;

use super::auth;
use super::http::{self, Deadline, Failure};

/// A complete reply.
pub struct Reply {
    pub response: Response,
    pub body: String,
}

impl Reply {
    pub fn status(&self) -> u16 {
        self.response.status()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.response.headers().get(name)
    }
}

/// Why a request got no reply to read.
pub enum NoReply {
    Transport(Failure),
    /// The operator's session needed a refresh, which failed.
    Session(AuthError),
}

/// Sends the request `build` makes, with `body`, under `deadline`.
pub async fn send(
    session: &Session,
    build: &dyn Fn() -> RequestBuilder,
    body: Option<&str>,
    deadline: &Deadline,
) -> Result<Reply, NoReply> {
    let token = auth::access_token();
    let reply = send_once(session, build, body, token.as_deref(), deadline).await?;
    if session.operator.is_none() || !calls_for_refresh(reply.status(), &reply.body) {
        return Ok(reply);
    }
    auth::refresh(session, token.as_deref())
        .await
        .map_err(NoReply::Session)?;
    let token = auth::access_token();
    send_once(session, build, body, token.as_deref(), deadline).await
}

async fn send_once(
    session: &Session,
    build: &dyn Fn() -> RequestBuilder,
    body: Option<&str>,
    token: Option<&str>,
    deadline: &Deadline,
) -> Result<Reply, NoReply> {
    let mut request = build();
    for (name, value) in session.request_headers(token) {
        request = request.header(name, &value);
    }
    let response = http::send(request, body.map(str::to_string), deadline)
        .await
        .map_err(NoReply::Transport)?;
    let body = http::text(&response, deadline)
        .await
        .map_err(NoReply::Transport)?;
    Ok(Reply { response, body })
}
