//! Requests with a deadline: the browser's fetch has none, so an
//! AbortController is fired by a timer. The deadline covers the body too,
//! and dropping it ends the request (a reply held open after its last
//! useful byte does not keep a connection).

use futures::StreamExt;
use gloo_net::http::{RequestBuilder, Response};
use gloo_timers::callback::Timeout;
use js_sys::Uint8Array;
use std::ops::ControlFlow;
use std::time::Duration;
use web_sys::{AbortController, AbortSignal};

/// Why a request produced no (complete) response.
#[derive(Debug)]
pub enum Failure {
    TimedOut,
    /// Offline, refused, reset, or blocked by CORS (the browser does not say which).
    Network,
}

/// Aborts whatever it guards once its time is up, or when dropped.
pub struct Deadline {
    controller: AbortController,
    signal: AbortSignal,
    _timer: Timeout,
}

impl Deadline {
    pub fn new(after: Duration) -> Result<Self, Failure> {
        let controller = AbortController::new().map_err(|_| Failure::Network)?;
        let signal = controller.signal();
        let fire = controller.clone();
        let timer = Timeout::new(after.as_millis().min(u32::MAX as u128) as u32, move || {
            fire.abort()
        });
        Ok(Self {
            controller,
            signal,
            _timer: timer,
        })
    }

    fn failure(&self) -> Failure {
        if self.signal.aborted() {
            Failure::TimedOut
        } else {
            Failure::Network
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        // Harmless once the request is complete.
        self.controller.abort();
    }
}

/// Sends `request` (with `body`, when given) under `deadline`.
pub async fn send(
    request: RequestBuilder,
    body: Option<String>,
    deadline: &Deadline,
) -> Result<Response, Failure> {
    let request = request.abort_signal(Some(&deadline.signal));
    let sent = match body {
        Some(body) => {
            request
                .body(body)
                .map_err(|_| Failure::Network)?
                .send()
                .await
        }
        None => request.send().await,
    };
    sent.map_err(|_| deadline.failure())
}

pub async fn text(response: &Response, deadline: &Deadline) -> Result<String, Failure> {
    response.text().await.map_err(|_| deadline.failure())
}

/// The start of the body, at most `limit` bytes (lossy UTF-8); the rest is
/// not read.
pub async fn text_up_to(
    response: &Response,
    deadline: &Deadline,
    limit: usize,
) -> Result<String, Failure> {
    let mut kept = Vec::new();
    stream(response, deadline, |chunk| {
        let room = limit - kept.len();
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if kept.len() < limit {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(())
        }
    })
    .await?;
    Ok(String::from_utf8_lossy(&kept).into_owned())
}

/// Feeds the body to `on_chunk` as it arrives, until it ends or `on_chunk`
/// has had enough.
pub async fn stream(
    response: &Response,
    deadline: &Deadline,
    mut on_chunk: impl FnMut(&[u8]) -> ControlFlow<()>,
) -> Result<(), Failure> {
    let Some(body) = response.body() else {
        return Ok(());
    };
    let mut chunks = wasm_streams::ReadableStream::from_raw(body).into_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| deadline.failure())?;
        if on_chunk(&Uint8Array::new(&chunk).to_vec()).is_break() {
            break;
        }
    }
    Ok(())
}
