//! One Realtime socket: heartbeats, joins (each checked in a task of its
//! own, so that a refusal's delay holds up nothing else), `access_token`,
//! `phx_leave`, the tokens' expiry, and the faults tests inject.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc::unbounded_channel;

use super::protocol::{self, Frame, Join, TokenRefusal, Vsn};
use super::{Channel, Fault, Outbound, Realtime, SocketEntry, MAX_CHANNELS};
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

pub(super) async fn serve(ws: WebSocket, hub: Arc<Realtime>, vsn: Vsn, key: Authorized) {
    let (outbox, mut outgoing) = unbounded_channel();
    let id = hub.next_socket.fetch_add(1, Ordering::Relaxed);
    hub.sockets().insert(
        id,
        SocketEntry {
            outbox,
            channels: HashMap::new(),
            muted: false,
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
                        handle(&hub, id, frame, &key);
                    }
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => heard_at = Instant::now(),
            },
            out = outgoing.recv() => match out {
                Some(Outbound::Frame(frame)) if !muted => {
                    if sink.send(Message::Text(frame.encode(vsn).into())).await.is_err() {
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

fn handle(hub: &Arc<Realtime>, socket: u64, frame: Frame, key: &Authorized) {
    match (frame.topic.as_str(), frame.event.as_str()) {
        ("phoenix", "heartbeat") => hub.send(socket, frame.reply("ok", json!({}))),
        (_, "phx_join") => {
            tokio::spawn(join(hub.clone(), socket, frame, key.clone()));
        }
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

async fn join(hub: Arc<Realtime>, socket: u64, frame: Frame, key: Authorized) {
    let topic = frame.topic.clone();
    if !topic.starts_with("realtime:") {
        hub.send(
            socket,
            frame.reply("error", json!({ "reason": "unmatched topic" })),
        );
        return;
    }
    let refuse = |reason: String| {
        let hub = hub.clone();
        let frame = frame.clone();
        async move {
            tokio::time::sleep(hub.refusal_delay).await;
            hub.send(socket, frame.reply("error", json!({ "reason": reason })));
        }
    };
    if topic == "realtime:" {
        return refuse("TopicNameRequired: You must provide a topic name".into()).await;
    }
    let join = match Join::parse(&frame.payload) {
        Ok(join) => join,
        Err(why) => return refuse(why).await,
    };
    let authorized = match authorize(&hub, join.access_token.as_deref(), &key) {
        Ok(authorized) => authorized,
        Err(refusal) => return refuse(refusal.reason()).await,
    };
    let full = {
        let mut sockets = hub.sockets();
        let Some(entry) = sockets.get_mut(&socket) else {
            return;
        };
        let full = entry.channels.len() >= MAX_CHANNELS && !entry.channels.contains_key(&topic);
        if !full {
            entry.channels.insert(
                topic.clone(),
                Channel {
                    join_ref: frame.join_ref.clone().or_else(|| frame.reference.clone()),
                    authorized,
                    bindings: join.bindings.clone(),
                    subscribed: false,
                },
            );
        }
        full
    };
    if full {
        return refuse("ChannelRateLimitReached: Too many channels".into()).await;
    }
    let echoed: Vec<Value> = join.bindings.iter().map(|b| b.echoed()).collect();
    hub.send(
        socket,
        frame.reply("ok", json!({ "postgres_changes": echoed })),
    );
    if join.bindings.is_empty() {
        return;
    }
    // As Realtime: the join succeeds, then the subscription is stored only
    // for tables the publication holds.
    let mut missing = None;
    for binding in &join.bindings {
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
    match missing {
        None => {
            if let Some(channel) = hub
                .sockets()
                .get_mut(&socket)
                .and_then(|entry| entry.channels.get_mut(&topic))
            {
                channel.subscribed = true;
            }
            hub.send(
                socket,
                protocol::system(&topic, "postgres_changes", "ok", "Subscribed to PostgreSQL"),
            );
        }
        Some(message) => hub.send(
            socket,
            protocol::system(&topic, "postgres_changes", "error", &message),
        ),
    }
}
