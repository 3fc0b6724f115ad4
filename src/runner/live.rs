//! Keeps a drain live while the project offers Supabase Realtime: one
//! socket per drain, subscribed to inserts on the drain's table (a queue's
//! own table for a queue). Each insert only wakes the drain
//! (`Station::wake`); when the socket closes, errs or misses a reply, the
//! drain polls at the slider's rate again at once, and the socket
//! reconnects with backoff. What the frames mean is
//! `sluice_core::realtime`'s.

use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use sluice_core::realtime::{
    self, hear, Fallback, Heard, Mode, Target, HEARTBEAT_EVERY, RECONNECT, REPLY_WITHIN,
    RETRY_REFUSED_AFTER,
};
use std::cell::RefCell;
use std::time::Duration;

use super::inbox::timer_millis;
use super::station::{now_ms, random, Station};
use super::view::set_if_changed;
use crate::browser::auth;
use crate::browser::realtime::{Socket, SocketEvent};

/// Listens until the drain ends (this future is dropped with it, which
/// closes the socket).
pub(super) async fn keep_live(station: &Station, target: Target) {
    let mut reconnect = RECONNECT;
    let project = station.session.project.as_str();
    let mut private = PRIVATE_FIRST.with_borrow(|projects| projects.iter().any(|p| p == project));
    loop {
        let mut live_since = None;
        let why = listen(station, &target, private, &mut live_since).await;
        private = why.next_private(private);
        PRIVATE_FIRST.with_borrow_mut(|projects| {
            projects.retain(|p| p != project);
            if private {
                projects.push(project.to_string());
            }
        });
        set_if_changed(station.view.live, Mode::Polling(why.clone()));
        // Polling again: from a read now, at the slider's rate.
        station.wake();
        // Only a socket that stayed live a while starts the backoff over:
        // one that subscribes and drops at once is not retried every second.
        if live_since.is_some_and(|at| now_ms() - at >= millis(STAYED_LIVE)) {
            reconnect.succeed();
        }
        let wait = if why.retry_soon() {
            reconnect.fail(None, random()).max(Duration::from_secs(1))
        } else {
            RETRY_REFUSED_AFTER
        };
        TimeoutFuture::new(timer_millis(wait)).await;
    }
}

thread_local! {
    /// The projects whose Realtime last refused this tab a public channel:
    /// the next drain on one (another table, a new login) asks for a
    /// private channel first, rather than after another refusal, which
    /// Realtime sends only after 5 s.
    static PRIVATE_FIRST: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Live this long, a socket that ends is retried from the shortest wait.
const STAYED_LIVE: Duration = Duration::from_secs(60);

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// One socket's life: open, join, then wake the drain on each insert until
/// something ends it; why it ended.
async fn listen(
    station: &Station,
    target: &Target,
    private: bool,
    live_since: &mut Option<f64>,
) -> Fallback {
    let session = &station.session;
    let url = realtime::socket_url(&session.project, session.key.expose());
    let Some(mut socket) = Socket::open(&url) else {
        return Fallback::Unreachable;
    };
    let opened = futures::select! {
        event = socket.next().fuse() => event == SocketEvent::Opened,
        () = TimeoutFuture::new(timer_millis(REPLY_WITHIN)).fuse() => false,
    };
    if !opened {
        return Fallback::Unreachable;
    }
    let topic = target.topic();
    let join_ref = 1;
    let mut last_ref = join_ref;
    let mut token = auth::access_token();
    socket.send(&realtime::join(target, join_ref, token.as_deref(), private));
    // The reply waited for (the join's, then each heartbeat's) and when
    // its message was sent.
    let mut awaiting = Some((join_ref, now_ms()));
    let mut joined = false;
    let mut beat_at = now_ms() + millis(HEARTBEAT_EVERY);
    loop {
        let event = futures::select! {
            event = socket.next().fuse() => Some(event),
            () = TimeoutFuture::new(1_000).fuse() => None,
        };
        let now = now_ms();
        match event {
            Some(SocketEvent::Text(text)) => match hear(&text, &topic) {
                Heard::Joined(_) => {
                    joined = true;
                    awaiting = None;
                }
                Heard::Reply(reference) => {
                    if awaiting.is_some_and(|(waited, _)| waited == reference) {
                        awaiting = None;
                    }
                }
                Heard::Subscribed => {
                    set_if_changed(station.view.live, Mode::Live);
                    *live_since = Some(now);
                    // Inserts made before the subscription was in place
                    // were not announced: read now.
                    station.wake();
                }
                Heard::Change => station.wake(),
                Heard::ChangeRefused(why) => {
                    station.wake();
                    return Fallback::Refused(why);
                }
                Heard::Refused(why) | Heard::Ended(why) => return why,
                Heard::Other => {}
            },
            Some(SocketEvent::Closed(_)) => return Fallback::Lost,
            Some(SocketEvent::Opened) | None => {}
        }
        // After every event, not only when the socket is quiet: a busy
        // table's changes must not hold up the heartbeat.
        if awaiting.is_some_and(|(_, sent)| now - sent > millis(REPLY_WITHIN)) {
            return Fallback::Silent;
        }
        // A refreshed session: Realtime checks changes against the new
        // token, and would close the channel when the old one expires.
        let current = auth::access_token();
        if joined && current != token {
            if let Some(fresh) = current.as_deref() {
                last_ref += 1;
                socket.send(&realtime::access_token(target, last_ref, join_ref, fresh));
            }
            token = current;
        }
        if now >= beat_at && awaiting.is_none() {
            last_ref += 1;
            socket.send(&realtime::heartbeat(last_ref));
            awaiting = Some((last_ref, now));
            beat_at = now + millis(HEARTBEAT_EVERY);
        }
    }
}
