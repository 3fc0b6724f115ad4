//! What the page sets up before it lays out its panels: the shared state,
//! handed to the panels by context; the drain of the chosen source; and
//! what the page does when it is hidden, restored or told of another tab's
//! settings.

use leptos::prelude::*;
use sluice_core::rate::ConsumptionRate;
use sluice_core::runtime_config::{table_for_link, RuntimeConfig};
use sluice_core::storage_keys;

use super::history::Filter;
use super::inspector::Inspected;
use super::keyboard::ShortcutTargets;
use super::login::remembered_session;
use super::state::{remember, remembered, Clock, DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::browser::clock::now_unix;
use crate::browser::{agent_store, auth, runtime_config};
use crate::runner::Intent;
use gloo_timers::future::TimeoutFuture;

/// The state the panels share.
#[derive(Clone, Copy)]
pub struct AppState {
    pub alerts: Alerts,
    pub sources: Sources,
    pub drain: DrainHandle,
    /// The project URL config.json offers, for the login form.
    pub default_project_url: Signal<Option<String>>,
}

impl AppState {
    /// Builds the shared state from what this browser remembers (checked:
    /// storage is not trusted), hands it to the panels by context, and
    /// applies config.json once it is read.
    pub fn provide() -> Self {
        let alerts = Alerts::default();
        let sources = Sources::new(
            remembered_session(alerts),
            remembered(&storage_keys::added_tables(), alerts).unwrap_or_default(),
            remembered(&storage_keys::added_queues(), alerts).unwrap_or_default(),
            remembered(&storage_keys::selected_table(), alerts),
        );
        let saved_agent = agent_store::load_valid().unwrap_or_else(|error| {
            alerts.show(error);
            None
        });
        let agent_saved = saved_agent.is_some();
        let drain = DrainHandle::new(
            remembered::<ConsumptionRate>(&storage_keys::consumption_rate(), alerts)
                .unwrap_or_default(),
            saved_agent.unwrap_or_default(),
        );
        let config = LocalResource::new(runtime_config::fetch);
        Effect::new(move |_| {
            if let Some(config) = config.get() {
                apply_config(config, sources, drain, agent_saved, alerts);
            }
        });
        let default_project_url = Signal::derive(move || {
            config
                .get()
                .and_then(|config| config.ok())
                .and_then(|config| config.project_url)
        });
        // A display clock for "updated 3 s ago" and the figures, for as
        // long as the page lives.
        let now_ms = RwSignal::new(js_sys::Date::now());
        set_interval(
            move || now_ms.set(js_sys::Date::now()),
            std::time::Duration::from_secs(1),
        );
        provide_context(alerts);
        provide_context(sources);
        provide_context(drain);
        provide_context(Clock(now_ms.into()));
        provide_context(Inspected::default());
        provide_context(ShortcutTargets::default());
        provide_context(Filter(RwSignal::new(String::new())));
        Self {
            alerts,
            sources,
            drain,
            default_project_url,
        }
    }
}

/// The deployment's tables, queues and agent, then the table the page's
/// link names; until this has run no drain starts (`Sources::configured`).
fn apply_config(
    config: Result<RuntimeConfig, String>,
    sources: Sources,
    drain: DrainHandle,
    agent_saved: bool,
    alerts: Alerts,
) {
    match config {
        Ok(config) => {
            if !agent_saved {
                if let Some(url) = config.agent_url {
                    drain.agent.update(|a| a.url = url);
                }
            }
            sources.deployed.set(config.tables);
            sources.deployed_queues.set(config.queues);
        }
        Err(message) => alerts.show(message),
    }
    if let Some(name) = linked_table() {
        match sources.tables.with_untracked(|t| table_for_link(t, &name)) {
            Ok(source) => {
                if sources.tables.with_untracked(|t| t.contains(&source)) {
                    sources
                        .selected
                        .set(Some(source.table.as_str().to_string()));
                } else {
                    // A link is not a choice: anyone can send one.
                    sources.offered.set(Some(source));
                }
            }
            Err(error) => alerts.show(format!("The link names no usable table: {error}")),
        }
    }
    sources.configured.set(true);
}

/// `?table=name` in the page's address, decoded as a form value.
fn linked_table() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("table")
}

/// One drain at a time: a new login or source stops the old one and starts
/// the next, with a view of its own; the operator's rate and agent settings
/// reach it as intents. The chosen source is remembered.
pub fn use_drain(state: AppState) {
    let AppState {
        sources,
        drain,
        alerts,
        ..
    } = state;
    Effect::new(move |_| {
        // Until config.json is read, a remembered table name may stand for
        // a table with other columns: start nothing on a guess.
        if !sources.configured.get() {
            return;
        }
        let next = sources.session.get().zip(sources.chosen.get());
        drain.start(next, alerts);
    });
    Effect::new(move |_| {
        if let Some(name) = sources.selected.get() {
            remember(&storage_keys::selected_table(), &name, alerts);
        }
    });
    Effect::new(move |_| {
        drain.rate.track();
        drain.agent.track();
        drain.send(Intent::Settings(drain.choices_untracked()));
    });
}

/// Keeps the signed-in operator's session fresh: each access token is
/// refreshed a margin before it expires (a request refused for an expired
/// token refreshes it too, for a tab whose timers the browser slowed).
pub fn use_session_refresh(state: AppState) {
    let AppState { sources, drain, .. } = state;
    // Signed in again (here or in another tab): the drain halted on the
    // ended session goes on with the event where it was.
    Effect::new(move |was_ended: Option<bool>| {
        let ended = auth::ended_reason().is_some();
        if was_ended == Some(true) && !ended {
            drain.send(Intent::RetryNow);
        }
        ended
    });
    leptos::task::spawn_local(async move {
        let mut failures = 0u32;
        loop {
            // Woken every 2 s while no one is signed in, so that a new
            // sign-in's token is followed from its start (a short-lived one
            // would expire first, and Realtime would close its channel).
            let now = now_unix();
            let wait_s = auth::refresh_at().map_or(2, |at| at.saturating_sub(now).clamp(1, 30));
            TimeoutFuture::new(wait_s as u32 * 1_000).await;
            let Some(session) = sources.session.get_untracked() else {
                continue;
            };
            if session.operator.is_some() && auth::refresh_due(now_unix()) {
                // A failure is retried, less and less often (5 s to a
                // minute), or ends the session (the page then asks the
                // operator to sign in).
                if auth::refresh(&session, None).await.is_ok() {
                    failures = 0;
                } else {
                    TimeoutFuture::new((5_000 << failures.min(4)).min(60_000)).await;
                    failures += 1;
                }
            }
        }
    });
}

/// What the page does as a whole: agent settings saved in another tab apply
/// here too (the tab that drains may not be the one where the operator fixed
/// the token); a page going away starts no new attempt (its requests are
/// being cancelled, which looks like an agent gone offline: the events at
/// the gate stay unrecorded and go again after the reload, once each); a
/// page restored from the back-forward cache has no drain, so it reloads.
pub fn use_page_lifecycle(state: AppState) {
    let AppState { drain, alerts, .. } = state;
    let _ = window_event_listener(leptos::ev::storage, move |event| {
        let key = event.key().unwrap_or_default();
        if key != storage_keys::agent_settings() && key != storage_keys::agent_token() {
            return;
        }
        if let Ok(Some(saved)) = agent_store::load_valid() {
            drain.agent.set(saved);
        }
    });
    let _ = window_event_listener(leptos::ev::pagehide, move |_| drain.start(None, alerts));
    let _ = window_event_listener(leptos::ev::pageshow, move |event| {
        if event.persisted() {
            let _ = window().location().reload();
        }
    });
}
