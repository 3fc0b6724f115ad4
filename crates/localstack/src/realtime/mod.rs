//! A local Supabase Realtime, Postgres Changes only: `/realtime/v1/websocket`
//! speaks the Phoenix protocol in both versions Realtime serves
//! (`protocol.rs`), each socket is served by `socket.rs`, and the changes
//! come from the database (`realtime.sql`'s trigger, read by `changes.rs`)
//! and are read again as each subscriber before being sent, as Realtime
//! checks row-level security per subscriber. See docs/local-stack.md.
//!
//! Loopback controls: `GET /_admin/realtime` (counters), `PUT
//! /_admin/realtime {"enabled", "private_only"}`, and `POST /_admin/realtime/faults
//! {"mode": "drop" | "close" | "mute"}` on the sockets open now: `drop`
//! ends them without a close frame (the browser sees 1006), `close` sends
//! 1001 as Realtime's disconnect does, `mute` keeps them open but answers
//! nothing and sends no change (a missed heartbeat).

mod authorization;
mod changes;
mod protocol;
mod socket;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::mpsc::Sender;

use crate::gateway::keys::Authorized;
use crate::gateway::Gateway;
use protocol::{Binding, Frame, Vsn};

pub use changes::listen;

#[derive(Debug, Clone, clap::Args)]
pub struct RealtimeArgs {
    /// Serve Realtime (`off`: the socket is refused with 403, as for a
    /// project with Realtime disabled, so that the app polls).
    #[arg(long = "realtime", env = "SLUICE_REALTIME", value_enum, default_value_t = Switch::On)]
    pub switch: Switch,
    /// How long a refused join waits before its error reply (Realtime's
    /// `CHANNEL_ERROR_BACKOFF_MS`, 5 s).
    #[arg(
        long = "realtime-refusal-delay-ms",
        env = "SLUICE_REALTIME_REFUSAL_DELAY_MS",
        default_value_t = 5_000
    )]
    pub refusal_delay_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Most channels one socket may join (`TENANT_MAX_CHANNELS_PER_CLIENT`).
const MAX_CHANNELS: usize = 100;
/// Most bindings one join may ask for.
const MAX_BINDINGS: usize = 100;
/// Refused joins waiting for their reply, at most, before the socket is
/// closed (Realtime disconnects a client over its join rate).
const MAX_REFUSALS_PENDING: usize = 16;
/// Frames waiting for a slow client, at most: past them it is dropped
/// rather than let grow without bound.
const OUTBOX: usize = 10_000;
/// The largest frame a client may send.
const MAX_FRAME: usize = 1 << 20;

/// What is sent to a socket's task.
enum Outbound {
    Frame(Frame),
    Fault(Fault),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Fault {
    Drop,
    Close,
    Mute,
}

/// A joined channel: whom it answers to and what it listens for.
#[derive(Clone)]
struct Channel {
    join_ref: Option<String>,
    authorized: Authorized,
    bindings: Vec<Binding>,
    /// Set once the publication holds every binding's table.
    subscribed: bool,
}

struct SocketEntry {
    outbox: Sender<Outbound>,
    channels: HashMap<String, Channel>,
    muted: bool,
    refusals_pending: usize,
}

pub struct Realtime {
    gateway: Arc<Gateway>,
    enabled: AtomicBool,
    /// Public channels refused, as for a project that turned off
    /// "Allow public access" in its Realtime settings.
    private_only: AtomicBool,
    refusal_delay: Duration,
    next_socket: AtomicU64,
    sockets: Mutex<HashMap<u64, SocketEntry>>,
    changes_sent: AtomicU64,
    checks: AtomicU64,
}

impl Realtime {
    pub fn new(gateway: Arc<Gateway>, args: &RealtimeArgs) -> Arc<Self> {
        Arc::new(Self {
            gateway,
            enabled: AtomicBool::new(args.switch == Switch::On),
            private_only: AtomicBool::new(false),
            refusal_delay: Duration::from_millis(args.refusal_delay_ms),
            next_socket: AtomicU64::new(1),
            sockets: Mutex::new(HashMap::new()),
            changes_sent: AtomicU64::new(0),
            checks: AtomicU64::new(0),
        })
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    fn private_only(&self) -> bool {
        self.private_only.load(Ordering::Relaxed)
    }

    fn sockets(&self) -> std::sync::MutexGuard<'_, HashMap<u64, SocketEntry>> {
        self.sockets.lock().expect("realtime sockets lock")
    }

    fn send(&self, socket: u64, frame: Frame) {
        let mut sockets = self.sockets();
        if let Some(entry) = sockets.get(&socket) {
            if let Err(TrySendError::Full(_)) = entry.outbox.try_send(Outbound::Frame(frame)) {
                // A client that reads nothing: forgetting its entry closes
                // its outbox, which ends its task.
                sockets.remove(&socket);
            }
        }
    }

    /// Sends a change read under `claims` only if the channel still holds
    /// those claims, unexpired, under the same join: a token swapped, a
    /// leave or a rejoin meanwhile means the read no longer speaks for it.
    fn send_change(&self, to: &changes::Recipient, frame: Frame) -> bool {
        let current = self.sockets().get(&to.socket).and_then(|entry| {
            let channel = entry.channels.get(&to.topic)?;
            let same = channel.subscribed
                && channel.join_ref == to.join_ref
                && channel.authorized.claims == to.authorized.claims
                && !socket::expired(&channel.authorized);
            same.then_some(())
        });
        if current.is_some() {
            self.send(to.socket, frame);
        }
        current.is_some()
    }

    /// Sends `fault` to one socket.
    fn inject_into(&self, socket: u64, fault: Fault) {
        if let Some(entry) = self.sockets().get(&socket) {
            let _ = entry.outbox.try_send(Outbound::Fault(fault));
        }
    }

    /// Sends `fault` to every socket open now.
    fn inject(&self, fault: Fault) -> usize {
        let mut sockets = self.sockets();
        for entry in sockets.values_mut() {
            entry.muted |= fault == Fault::Mute;
            let _ = entry.outbox.try_send(Outbound::Fault(fault));
        }
        sockets.len()
    }
}

pub fn router(hub: Arc<Realtime>) -> Router {
    Router::new()
        .route("/realtime/v1/websocket", get(upgrade))
        .with_state(hub)
}

/// The loopback-only controls (see the module's documentation).
pub fn controls(hub: Arc<Realtime>) -> Router {
    Router::new()
        .route("/_admin/realtime", get(counters).put(switch))
        .route("/_admin/realtime/faults", post(fault))
        .with_state(hub)
}

fn refused(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// The handshake, refused as Realtime (behind Kong) refuses it: an unknown
/// `vsn` with an empty 403, Realtime off with 403, a missing or wrong
/// `apikey` with 401.
async fn upgrade(
    State(hub): State<Arc<Realtime>>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.as_deref().unwrap_or_default()).unwrap_or_default();
    let param = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let Some(vsn) = Vsn::parse(param("vsn")) else {
        return StatusCode::FORBIDDEN.into_response();
    };
    if !hub.enabled() {
        return refused(
            StatusCode::FORBIDDEN,
            "Realtime was disabled for this tenant",
        );
    }
    let apikey = param("apikey").or_else(|| headers.get("apikey").and_then(|v| v.to_str().ok()));
    let Some(apikey) = apikey.filter(|k| !k.is_empty()) else {
        return refused(StatusCode::UNAUTHORIZED, "API key is missing");
    };
    let found = hub
        .gateway
        .keys
        .read()
        .expect("keys lock")
        .authorize(Some(apikey), None);
    let Ok(key) = found else {
        return refused(StatusCode::UNAUTHORIZED, "Invalid API key");
    };
    upgrade
        .max_message_size(MAX_FRAME)
        .on_upgrade(move |ws| socket::serve(ws, hub, vsn, key))
}

async fn counters(State(hub): State<Arc<Realtime>>) -> Json<serde_json::Value> {
    let sockets = hub.sockets();
    let channels: usize = sockets.values().map(|s| s.channels.len()).sum();
    Json(json!({
        "enabled": hub.enabled(),
        "private_only": hub.private_only(),
        "sockets": sockets.len(),
        "channels": channels,
        "changes_sent": hub.changes_sent.load(Ordering::Relaxed),
        "checks": hub.checks.load(Ordering::Relaxed),
    }))
}

#[derive(Deserialize)]
struct SwitchBody {
    enabled: Option<bool>,
    private_only: Option<bool>,
}

/// Turns Realtime on or off (off also closes the sockets open now), and
/// public channels off or on again (for joins from now on).
async fn switch(
    State(hub): State<Arc<Realtime>>,
    Json(body): Json<SwitchBody>,
) -> Json<serde_json::Value> {
    if let Some(enabled) = body.enabled {
        hub.enabled.store(enabled, Ordering::Relaxed);
        if !enabled {
            hub.inject(Fault::Close);
        }
    }
    if let Some(private_only) = body.private_only {
        hub.private_only.store(private_only, Ordering::Relaxed);
    }
    Json(json!({ "enabled": hub.enabled(), "private_only": hub.private_only() }))
}

#[derive(Deserialize)]
struct FaultBody {
    mode: Fault,
}

async fn fault(
    State(hub): State<Arc<Realtime>>,
    Json(body): Json<FaultBody>,
) -> Json<serde_json::Value> {
    let sockets = hub.inject(body.mode);
    Json(json!({ "sockets": sockets }))
}
