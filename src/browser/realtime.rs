//! A WebSocket as a stream of what happens on it (web-sys's `WebSocket`,
//! with its events turned into a channel). What to say on it and what the
//! frames mean is `sluice_core::realtime`'s; the loop that keeps a drain
//! live is `runner/live.rs`.

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::StreamExt;
use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

/// What happened on the socket.
#[derive(Debug, Clone, PartialEq)]
pub enum SocketEvent {
    Opened,
    Text(String),
    /// Closed, with its close code (1006: dropped, or refused at the
    /// handshake; a browser is told no more).
    Closed(u16),
}

/// An open (or opening) socket; dropping it closes it.
pub struct Socket {
    socket: WebSocket,
    events: UnboundedReceiver<SocketEvent>,
    _listeners: [EventListener; 3],
}

impl Socket {
    /// Starts opening a socket to `url`; `None` if the browser refuses the
    /// address itself.
    pub fn open(url: &str) -> Option<Self> {
        let socket = WebSocket::new(url).ok()?;
        let (sender, events) = unbounded();
        let opened = sender.clone();
        let on_open = EventListener::new(&socket, "open", move |_| {
            let _ = opened.unbounded_send(SocketEvent::Opened);
        });
        let texts = sender.clone();
        let on_message = EventListener::new(&socket, "message", move |event| {
            let text = event
                .dyn_ref::<MessageEvent>()
                .and_then(|message| message.data().as_string());
            if let Some(text) = text {
                let _ = texts.unbounded_send(SocketEvent::Text(text));
            }
        });
        // An `error` is always followed by `close`, which carries the code.
        let on_close = EventListener::new(&socket, "close", move |event| {
            let code = event.dyn_ref::<CloseEvent>().map_or(1006, CloseEvent::code);
            let _ = sender.unbounded_send(SocketEvent::Closed(code));
        });
        Some(Self {
            socket,
            events,
            _listeners: [on_open, on_message, on_close],
        })
    }

    /// The next thing that happens; `Closed` once the socket is gone.
    pub async fn next(&mut self) -> SocketEvent {
        self.events
            .next()
            .await
            .unwrap_or(SocketEvent::Closed(1006))
    }

    /// Sends a text frame; `false` if the socket is not open.
    pub fn send(&self, text: &str) -> bool {
        self.socket.send_with_str(text).is_ok()
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = self.socket.close_with_code(1000);
    }
}
