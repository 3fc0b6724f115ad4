//! One Realtime socket: heartbeats, joins (a refusal's delayed reply sent
//! from a task of its own, so that it holds up nothing else; a private
//! channel's policies checked in `authorization.rs`), `access_token`,
//! `phx_leave`, the tokens' expiry, and the faults tests inject.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::channel;

use super::authorization;
use super::protocol::{self, Binding, Frame, Join, TokenRefusal, Vsn};
use super::{
    Channel, Fault, Outbound, Realtime, SocketEntry, MAX_BINDINGS, MAX_CHANNELS,
    MAX_REFUSALS_PENDING, OUTBOX,
};
use crate::gateway::keys::{self, AuthError, Authorized};

/// A socket silent this long is closed (Phoenix's websocket timeout).
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The claims a join or `access_token` brings, checked as Realtime checks
/// them; an `sb_` key or no token stands for the socket's `apikey`.
fn authorize(
    hub: &Realtime,
    token: Option<&str>,
    key: &Authorized,
) -> Result<Authorized, TokenRefusal> {
    let Some(token) = token.filter(|t| !t.starts_with("sb_")) else {
        return Ok(key.clone());
    };
    let verified = hub.gateway.keys.read().expect("keys lock").verify(token);
    match verified {
        Ok(found) if found.claims.get("role").is_some() && found.claims.get("exp").is_some() => {
            Ok(found)
        }
        Ok(_) => Err(TokenRefusal::MissingClaims),
        Err(AuthError::JwtExpired) => {
            let exp = keys::payload(token)
                .and_then(|claims| claims.get("exp").and_then(Value::as_u64))
                .unwrap_or(0);
            Err(TokenRefusal::Expired {
                seconds_ago: now_s().saturating_sub(exp),
            })
        }
        Err(AuthError::InvalidJwt(why)) if why.contains("Signature") => {
            Err(TokenRefusal::Signature)
        }
        Err(_) => Err(TokenRefusal::Malformed),
    }
}

fn expires_at(authorized: &Authorized) -> Option<u64> {
    authorized.claims.get("exp").and_then(Value::as_u64)
}

/// Whether claims have expired (the socket's key, without `exp`, never).
pub(super) fn expired(authorized: &Authorized) -> bool {
    expires_at(authorized).is_some_and(|exp| exp <= now_s())
}

/// How long a frame may take to reach a client before it is dropped.
const SEND_WITHIN: Duration = Duration::from_secs(10);

pub(super) async fn serve(ws: WebSocket, hub: Arc<Realtime>, vsn: Vsn, key: Authorized) {
    let (outbox, mut outgoing) = channel(OUTBOX);
    let id = hub.next_socket.fetch_add(1, Ordering::Relaxed);
    hub.sockets().insert(
        id,
        SocketEntry {
            outbox,
            channels: HashMap::new(),
            muted: false,
            refusals_pending: 0,
        },
    );
    let (mut sink, mut incoming) = ws.split();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut heard_at = Instant::now();
    let mut muted = false;
    loop {
        tokio::select! {
            frame = incoming.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    heard_at = Instant::now();
                    if muted {
                        continue;
                    }
                    if let Some(frame) = Frame::decode(vsn, text.as_str()) {
                        handle(&hub, id, frame, &key).await;
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => heard_at = Instant::now(),
            },
            out = outgoing.recv() => match out {
                Some(Outbound::Frame(frame)) if !muted => {
                    let sent = tokio::time::timeout(
                        SEND_WITHIN,
                        sink.send(Message::Text(frame.encode(vsn).into())),
                    )
                    .await;
                    if !matches!(sent, Ok(Ok(()))) {
                        break;
                    }
                }
                Some(Outbound::Frame(_)) => {}
                Some(Outbound::Fault(Fault::Mute)) => muted = true,
                // Dropped without a close frame: the peer sees 1006.
                Some(Outbound::Fault(Fault::Drop)) | None => break,
                Some(Outbound::Fault(Fault::Close)) => {
                    let close = CloseFrame { code: 1001, reason: "".into() };
                    let _ = sink.send(Message::Close(Some(close))).await;
                    break;
                }
            },
            _ = tick.tick() => {
                if heard_at.elapsed() > IDLE_TIMEOUT {
                    break;
                }
                if !muted {
                    close_expired(&hub, id);
                }
            }
        }
    }
    hub.sockets().remove(&id);
}

/// Realtime re-checks a channel's token and closes the channel once it
/// has expired.
fn close_expired(hub: &Realtime, socket: u64) {
    let now = now_s();
    let expired: Vec<(String, Channel)> = {
        let mut sockets = hub.sockets();
        let Some(entry) = sockets.get_mut(&socket) else {
            return;
        };
        let topics: Vec<String> = entry
            .channels
            .iter()
            .filter(|(_, c)| expires_at(&c.authorized).is_some_and(|exp| exp <= now))
            .map(|(t, _)| t.clone())
            .collect();
        topics
            .into_iter()
            .filter_map(|t| entry.channels.remove(&t).map(|c| (t, c)))
            .collect()
    };
    for (topic, channel) in expired {
        let seconds_ago = now.saturating_sub(expires_at(&channel.authorized).unwrap_or(now));
        let message = TokenRefusal::Expired { seconds_ago }.message();
        close_channel(hub, socket, &topic, &channel, &message);
    }
}

/// Realtime's way of ending a channel over its token: a `system` error
/// (the message without a code), then `phx_close`.
fn close_channel(hub: &Realtime, socket: u64, topic: &str, channel: &Channel, message: &str) {
    hub.send(socket, protocol::system(topic, "system", "error", message));
    hub.send(socket, phx_close(topic, channel));
}

/// `phx_close` for a channel: Phoenix sends it with the join's ref.
fn phx_close(topic: &str, channel: &Channel) -> Frame {
    let mut close = protocol::push(topic, channel.join_ref.as_deref(), "phx_close", json!({}));
    close.reference = channel.join_ref.clone();
    close
}

async fn handle(hub: &Arc<Realtime>, socket: u64, frame: Frame, key: &Authorized) {
    match (frame.topic.as_str(), frame.event.as_str()) {
        ("phoenix", "heartbeat") => hub.send(socket, frame.reply("ok", json!({}))),
        (_, "phx_join") => join(hub, socket, frame, key).await,
        (topic, "phx_leave") => {
            let left = hub
                .sockets()
                .get_mut(&socket)
                .and_then(|entry| entry.channels.remove(topic));
            hub.send(socket, frame.reply("ok", json!({})));
            if let Some(channel) = left {
                hub.send(socket, phx_close(topic, &channel));
            }
        }
        (topic, "access_token") => renew(hub, socket, topic, &frame, key),
        (topic, _) => {
            let joined = hub
                .sockets()
                .get(&socket)
                .is_some_and(|entry| entry.channels.contains_key(topic));
            if !joined {
                hub.send(
                    socket,
                    frame.reply("error", json!({ "reason": "unmatched topic" })),
                );
            }
        }
    }
}

/// `access_token`: no reply when the token is good; a refused one closes
/// the channel.
fn renew(hub: &Realtime, socket: u64, topic: &str, frame: &Frame, key: &Authorized) {
    let token = frame.payload.get("access_token").and_then(Value::as_str);
    if token.is_none_or(|t| t.starts_with("sb_")) {
        return;
    }
    let checked = authorize(hub, token, key);
    let closed = {
        let mut sockets = hub.sockets();
        let Some(channels) = sockets.get_mut(&socket).map(|e| &mut e.channels) else {
            return;
        };
        match checked {
            Ok(authorized) => {
                if let Some(channel) = channels.get_mut(topic) {
                    channel.authorized = authorized;
                }
                None
            }
            Err(refusal) => channels.remove(topic).map(|c| (c, refusal)),
        }
    };
    if let Some((channel, refusal)) = closed {
        close_channel(hub, socket, topic, &channel, &refusal.message());
    }
}

/// A join, checked and stored before the socket's next frame is read (a
/// token swap or a leave that follows finds the channel; a private
/// channel's policies are checked meanwhile, as Phoenix holds a socket's
/// frames while a channel joins); only a refusal's delayed reply and the
/// publication check run apart.
async fn join(hub: &Arc<Realtime>, socket: u64, frame: Frame, key: &Authorized) {
    let topic = frame.topic.clone();
    if !topic.starts_with("realtime:") {
        hub.send(
            socket,
            frame.reply("error", json!({ "reason": "unmatched topic" })),
        );
        return;
    }
    if topic == "realtime:" {
        return refuse(
            hub,
            socket,
            frame,
            "TopicNameRequired: You must provide a topic name".into(),
        );
    }
    let join = match Join::parse(&frame.payload) {
        Ok(join) if join.bindings.len() > MAX_BINDINGS => {
            return refuse(
                hub,
                socket,
                frame,
                "Too many postgres_changes bindings".into(),
            )
        }
        Ok(join) => join,
        Err(why) => return refuse(hub, socket, frame, why),
    };
    if hub.private_only() && !join.private {
        return refuse(
            hub,
            socket,
            frame,
            "PrivateOnly: This project only allows private channels".into(),
        );
    }
    let authorized = match authorize(hub, join.access_token.as_deref(), key) {
        Ok(authorized) => authorized,
        Err(refusal) => return refuse(hub, socket, frame, refusal.reason()),
    };
    let channel = &topic["realtime:".len()..];
    if join.private && !authorization::may_read(hub, &authorized, channel).await {
        let reason = format!(
            "Unauthorized: You do not have permissions to read from this Channel topic: {channel}"
        );
        return refuse(hub, socket, frame, reason);
    }
    let join_ref = frame.join_ref.clone().or_else(|| frame.reference.clone());
    let stored = {
        let mut sockets = hub.sockets();
        let Some(entry) = sockets.get_mut(&socket) else {
            return;
        };
        let full = entry.channels.len() >= MAX_CHANNELS && !entry.channels.contains_key(&topic);
        if !full {
            entry.channels.insert(
                topic.clone(),
                Channel {
                    join_ref: join_ref.clone(),
                    authorized,
                    bindings: join.bindings.clone(),
                    subscribed: false,
                },
            );
        }
        !full
    };
    if !stored {
        return refuse(
            hub,
            socket,
            frame,
            "ChannelRateLimitReached: Too many channels".into(),
        );
    }
    let echoed: Vec<Value> = join.bindings.iter().map(|b| b.echoed()).collect();
    hub.send(
        socket,
        frame.reply("ok", json!({ "postgres_changes": echoed })),
    );
    if !join.bindings.is_empty() {
        tokio::spawn(subscribe(
            hub.clone(),
            socket,
            topic,
            join_ref,
            join.bindings,
        ));
    }
}

/// Answers a refused join after Realtime's delay; too many refusals
/// waiting close the socket.
fn refuse(hub: &Arc<Realtime>, socket: u64, frame: Frame, reason: String) {
    let flooding = {
        let mut sockets = hub.sockets();
        let Some(entry) = sockets.get_mut(&socket) else {
            return;
        };
        entry.refusals_pending += 1;
        entry.refusals_pending > MAX_REFUSALS_PENDING
    };
    if flooding {
        hub.inject_into(socket, Fault::Close);
        return;
    }
    let hub = hub.clone();
    tokio::spawn(async move {
        tokio::time::sleep(hub.refusal_delay).await;
        if let Some(entry) = hub.sockets().get_mut(&socket) {
            entry.refusals_pending -= 1;
        }
        hub.send(socket, frame.reply("error", json!({ "reason": reason })));
    });
}

/// As Realtime: the join succeeded; the subscription is stored only for
/// tables the publication holds, and only for the join that asked for it.
async fn subscribe(
    hub: Arc<Realtime>,
    socket: u64,
    topic: String,
    join_ref: Option<String>,
    bindings: Vec<Binding>,
) {
    let mut missing = None;
    for binding in &bindings {
        match super::changes::published(&hub, binding).await {
            Ok(true) => {}
            Ok(false) => {
                missing = Some(binding.unable_to_subscribe());
                break;
            }
            Err(error) => {
                missing = Some(format!("Unable to subscribe: {error}"));
                break;
            }
        }
    }
    let message = match missing {
        None => {
            let mut sockets = hub.sockets();
            let channel = sockets
                .get_mut(&socket)
                .and_then(|entry| entry.channels.get_mut(&topic))
                .filter(|channel| channel.join_ref == join_ref);
            let Some(channel) = channel else {
                return;
            };
            channel.subscribed = true;
            protocol::system(&topic, "postgres_changes", "ok", "Subscribed to PostgreSQL")
        }
        Some(message) => protocol::system(&topic, "postgres_changes", "error", &message),
    };
    hub.send(socket, message);
}
