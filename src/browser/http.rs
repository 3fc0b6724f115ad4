//! Requests with a deadline: the browser's fetch has none, so an
//! AbortController is fired by a timer. The deadline covers the body too.

use futures::StreamExt;
use gloo_net::http::{RequestBuilder, Response};
use gloo_timers::callback::Timeout;
use js_sys::Uint8Array;
use std::time::Duration;
use web_sys::{AbortController, AbortSignal};

/// Why a request produced no (complete) response.
#[derive(Debug)]
pub enum Failure {
    TimedOut,
    /// Offline, refused, reset, or blocked by CORS (the browser does not say which).
    Network,
}

/// Aborts whatever it guards once its time is up; dropping it disarms it.
pub struct Deadline {
    signal: AbortSignal,
    _timer: Timeout,
}

impl Deadline {
    pub fn new(after: Duration) -> Result<Self, Failure> {
        let controller = AbortController::new().map_err(|_| Failure::Network)?;
        let signal = controller.signal();
        let timer = Timeout::new(after.as_millis().min(u32::MAX as u128) as u32, move || {
            controller.abort()
        });
        Ok(Self {
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

/// Feeds the body to `on_chunk` as it arrives.
pub async fn stream(
    response: &Response,
    deadline: &Deadline,
    mut on_chunk: impl FnMut(&[u8]),
) -> Result<(), Failure> {
    let Some(body) = response.body() else {
        return Ok(());
    };
    let mut chunks = wasm_streams::ReadableStream::from_raw(body).into_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| deadline.failure())?;
        on_chunk(&Uint8Array::new(&chunk).to_vec());
    }
    Ok(())
}
