//! Supabase Auth (GoTrue) from the browser: signing in and out, and the
//! signed-in operator's tokens, which every request to the project reads as
//! it is sent (`access_token`), so that a refresh reaches the requests of
//! every drain without restarting one. What the replies mean is
//! `sluice_core::auth`'s.
//!
//! Refresh tokens are single-use, and spending one again after GoTrue's
//! short reuse interval ends the whole session. So one refresh runs at a
//! time across this browser's tabs (a Web Lock per project); the tab that
//! refreshed stores the new tokens where the login lives and hands them to
//! the tabs still holding the spent one (a BroadcastChannel: a duplicated
//! tab holds a copy of the session in its own session storage).

use futures::channel::oneshot;
use futures::future::{select, Either};
use gloo_events::EventListener;
use gloo_net::http::{Method, RequestBuilder};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::auth::{password_body, refresh_body, signed_in, AuthError, Handoff, SignedIn};
use sluice_core::credentials::{Session, StoredSession};
use sluice_core::storage_keys;
use std::cell::RefCell;
use std::time::Duration;
use wasm_bindgen::JsCast;

use super::clock::now_unix;
use super::http::{self, Deadline};
use super::storage::{self, Store};
use super::tab_lock;

const AUTH_DEADLINE: Duration = Duration::from_secs(15);
const HANDOFF_CHANNEL: &str = "sluice:auth";

/// The signed-in operator's tokens in this tab, and where their login is
/// stored (a refresh is stored there too).
struct Kept {
    tokens: SignedIn,
    store: Store,
}

/// The requests waiting for the refresh under way in this tab.
type Waiting = Vec<oneshot::Sender<Result<(), AuthError>>>;

/// How long a refresh waits for another tab's to end (ms).
const LOCK_WAIT_MS: u32 = 10_000;
/// How long the tab that refreshed holds the lock after its hand-off (ms).
const HANDOFF_MS: u32 = 100;

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
    /// Set while a refresh is under way in this tab: the requests that
    /// need one meanwhile wait for its outcome rather than start another.
    static REFRESHING: RefCell<Option<Waiting>> = const { RefCell::new(None) };
    /// Why the session ended, once it has: the page asks the operator to
    /// sign in again, and requests wait for that rather than ask Auth.
    static ENDED: ArcRwSignal<Option<String>> = ArcRwSignal::new(None);
    /// The other tabs' handoffs, listened to once the tab keeps tokens.
    static HANDOFFS: RefCell<Option<(web_sys::BroadcastChannel, EventListener)>> =
        const { RefCell::new(None) };
}

/// The access token requests carry now, if an operator is signed in.
pub fn access_token() -> Option<String> {
    KEPT.with_borrow(|kept| kept.as_ref().map(|k| k.tokens.access_token.clone()))
}

/// When the tokens in force are due for a refresh (Unix seconds), unless
/// none are kept or the session ended.
pub fn refresh_at() -> Option<u64> {
    if ended_reason().is_some() {
        return None;
    }
    KEPT.with_borrow(|kept| kept.as_ref().map(|k| k.tokens.refresh_at()))
}

/// Whether the tokens in force are due for a refresh at `now_unix`
/// (none are once the session ended).
pub fn refresh_due(now_unix: u64) -> bool {
    ended_reason().is_none()
        && KEPT.with_borrow(|kept| {
            kept.as_ref()
                .is_some_and(|k| k.tokens.refresh_due(now_unix))
        })
}

/// Keeps `tokens` (after sign-in, a restore or signing in again), whose
/// login is stored in `store`.
pub fn keep(tokens: SignedIn, store: Store) {
    KEPT.with_borrow_mut(|kept| *kept = Some(Kept { tokens, store }));
    ENDED.with(|ended| ended.set(None));
    listen_for_handoffs();
}

/// Keeps the tokens of the operator who signed in again once their
/// session ended, stores them where their login is, and hands them to the
/// other tabs whose session ended with this one.
pub fn renew(tokens: SignedIn) {
    let (store, ended) = KEPT
        .with_borrow(|kept| {
            kept.as_ref()
                .map(|k| (k.store, k.tokens.refresh_token.clone()))
        })
        .unwrap_or((Store::Session, String::new()));
    keep(tokens.clone(), store);
    store_tokens(store, tokens.clone());
    hand_off(&Handoff {
        replaced: ended,
        tokens,
    });
}

/// Forgets the tokens (logged out).
fn forget() {
    KEPT.with_borrow_mut(|kept| *kept = None);
    ENDED.with(|ended| ended.set(None));
}

/// The tokens in force.
fn kept() -> Option<SignedIn> {
    KEPT.with_borrow(|kept| kept.as_ref().map(|k| k.tokens.clone()))
}

/// Why the session ended, if it has (tracked: the page shows it).
pub fn ended_reason() -> Option<String> {
    ENDED.with(|ended| ended.get())
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
    forget();
}

/// Refreshes the session, unless `refused_token` (the access token a
/// request was refused with) is no longer the one in force: then another
/// request already refreshed it. Requests that need a refresh at the same
/// time share one.
pub async fn refresh(session: &Session, refused_token: Option<&str>) -> Result<(), AuthError> {
    if let Some(spent) = kept().filter(|_| ended_reason().is_some()) {
        // The operator may have signed in again in another tab that shares
        // this login.
        take_stored_tokens(&spent);
        return match ended_reason() {
            Some(reason) => Err(AuthError::SessionEnded(reason)),
            None => Ok(()),
        };
    }
    if refused_token.is_some() && access_token().as_deref() != refused_token {
        return Ok(());
    }
    let (sender, outcome) = oneshot::channel();
    let first = REFRESHING.with_borrow_mut(|slot| match slot {
        Some(waiting) => {
            waiting.push(sender);
            false
        }
        None => {
            *slot = Some(vec![sender]);
            true
        }
    });
    if first {
        // A task of its own: a request cancelled meanwhile must not lose
        // the reply to a refresh token Auth has already swapped.
        let session = session.clone();
        leptos::task::spawn_local(async move {
            let refreshed = refresh_across_tabs(&session).await;
            for waiting in REFRESHING.with_borrow_mut(Option::take).unwrap_or_default() {
                let _ = waiting.send(refreshed.clone());
            }
        });
    }
    outcome
        .await
        .unwrap_or_else(|_| Err(AuthError::Unreachable("the refresh was cancelled".into())))
}

/// One refresh under the project's lock: a tab that waited for it first
/// takes what the tab before it stored or handed off.
async fn refresh_across_tabs(session: &Session) -> Result<(), AuthError> {
    let Some(spent) = kept() else {
        return Err(AuthError::SessionEnded("signed out".into()));
    };
    let name = format!("sluice:auth:{}", session.project.as_str());
    let lock = match select(
        Box::pin(tab_lock::acquire(&name)),
        TimeoutFuture::new(LOCK_WAIT_MS),
    )
    .await
    {
        // Without Web Locks, GoTrue's reuse interval is the only guard.
        Either::Left((lock, _)) => lock.ok(),
        Either::Right(_) => {
            return Err(AuthError::Unreachable(
                "another tab's refresh did not end".into(),
            ))
        }
    };
    take_stored_tokens(&spent);
    if kept().is_some_and(|now| now.refresh_token != spent.refresh_token) {
        return Ok(());
    }
    let url = format!(
        "{}/auth/v1/token?grant_type=refresh_token",
        session.project.as_str()
    );
    let body = refresh_body(&spent).to_string();
    match call(session, &url, None, Some(body))
        .await
        .and_then(|reply| signed_in(&reply, now_unix()))
    {
        Ok(fresh) => {
            let handoff = Handoff {
                replaced: spent.refresh_token,
                tokens: fresh,
            };
            take(handoff.clone());
            hand_off(&handoff);
            // The next tab in line gets the lock only once the hand-off has
            // had time to reach it.
            TimeoutFuture::new(HANDOFF_MS).await;
            drop(lock);
            Ok(())
        }
        Err(error) => {
            let still_spent = kept().is_some_and(|now| now.refresh_token == spent.refresh_token);
            if error.session_ended() && still_spent {
                ENDED.with(|ended| ended.set(Some(error.to_string())));
            }
            Err(error)
        }
    }
}

/// Tells the other tabs of this browser that `handoff`'s tokens replace
/// the ones it names.
fn hand_off(handoff: &Handoff) {
    if let Some(channel) = HANDOFFS.with_borrow(|h| h.as_ref().map(|(c, _)| c.clone())) {
        if let Ok(message) = serde_json::to_string(handoff) {
            let _ = channel.post_message(&message.into());
        }
    }
}

/// Takes the tokens stored with the login if another tab (with "Remember
/// me", sharing the storage) refreshed the `spent` ones.
fn take_stored_tokens(spent: &SignedIn) {
    let Some(store) = KEPT.with_borrow(|kept| kept.as_ref().map(|k| k.store)) else {
        return;
    };
    if let Ok(Some(StoredSession {
        signed_in: Some(stored),
        ..
    })) = storage::load::<StoredSession>(store, &storage_keys::session())
    {
        if spent.is_older_than(&stored) {
            KEPT.with_borrow_mut(|kept| {
                if let Some(kept) = kept {
                    kept.tokens = stored;
                }
            });
            ENDED.with(|ended| ended.set(None));
        }
    }
}

/// Takes `handoff`'s tokens if they replace the ones in force (a session
/// that ended here goes on: the operator signed in again in another tab),
/// and stores them with the login.
fn take(handoff: Handoff) {
    let ended = ended_reason().is_some();
    let taken = KEPT.with_borrow_mut(|kept| {
        let kept = kept.as_mut()?;
        let before = kept.tokens.refresh_token.clone();
        kept.tokens = kept.tokens.clone().after(handoff, ended);
        (kept.tokens.refresh_token != before).then(|| (kept.tokens.clone(), kept.store))
    });
    if let Some((tokens, store)) = taken {
        ENDED.with(|ended| ended.set(None));
        store_tokens(store, tokens);
    }
}

/// Stores `tokens` with the login kept in `store`. Tokens that could not
/// be stored cost only this: a reload restores the spent ones, and the
/// operator signs in again.
fn store_tokens(store: Store, tokens: SignedIn) {
    let key = storage_keys::session();
    if let Ok(Some(mut stored)) = storage::load::<StoredSession>(store, &key) {
        stored.signed_in = Some(tokens);
        let _ = storage::save(store, &key, &stored);
    }
}

/// Listens, once per tab, for the tokens another tab refreshed.
fn listen_for_handoffs() {
    HANDOFFS.with_borrow_mut(|handoffs| {
        if handoffs.is_some() {
            return;
        }
        let Ok(channel) = web_sys::BroadcastChannel::new(HANDOFF_CHANNEL) else {
            return;
        };
        let listener = EventListener::new(&channel, "message", |event| {
            let message = event
                .dyn_ref::<web_sys::MessageEvent>()
                .and_then(|message| message.data().as_string());
            if let Some(handoff) = message.and_then(|m| serde_json::from_str::<Handoff>(&m).ok()) {
                take(handoff);
            }
        });
        *handoffs = Some((channel, listener));
    });
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
