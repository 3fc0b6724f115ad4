use leptos::prelude::*;
use leptos_use::use_interval_fn;
use sluice_core::rate::ConsumptionRate;
use sluice_core::runtime_config::table_for_link;
use sluice_core::storage_keys;

use super::agent_settings::AgentSettingsForm;
use super::alert_settings::AlertSettings;
use super::alerts::AlertRegion;
use super::controls::{DrainControls, DrainStatus, RateSlider};
use super::dead_letter_panel::DeadLetterPanel;
use super::history::HistoryPanel;
use super::history_file::HistoryFile;
use super::inspector::{Inspected, Inspector};
use super::keyboard::{KeyboardShortcuts, ShortcutHelp, ShortcutTargets};
use super::link_offer::LinkOffer;
use super::login::{remembered_session, LoginArea};
use super::metrics_strip::MetricsStrip;
use super::rail::Rail;
use super::source_dialog::SourceDialog;
use super::source_search::SourceSearchPanel;
use super::state::{remember, remembered, Clock, DrainHandle, Sources};
use super::theme::ThemeToggle;
use crate::alerts::Alerts;
use crate::browser::agent_store;
use crate::browser::runtime_config;
use crate::runner::{Inputs, Intent, Runner};

/// The page: it builds the shared state, hands it to the panels by
/// context, starts a drain for the chosen table once logged in, and lays
/// the panels out.
#[component]
pub fn App() -> impl IntoView {
    let alerts = Alerts::default();
    provide_context(alerts);
    let sources = Sources::new(
        remembered_session(alerts),
        remembered(&storage_keys::added_tables(), alerts).unwrap_or_default(),
        remembered(&storage_keys::added_queues(), alerts).unwrap_or_default(),
        remembered(&storage_keys::selected_table(), alerts),
    );
    provide_context(sources);
    // Stored settings are checked as typed ones are: storage is not trusted.
    let saved_agent = agent_store::load()
        .unwrap_or_else(|error| {
            alerts.show(error);
            None
        })
        .and_then(|stored| {
            stored
                .validate()
                .map_err(|why| {
                    alerts.show(format!("The saved agent settings were not used: {why}"))
                })
                .ok()
        });
    let agent_saved = saved_agent.is_some();
    let drain = DrainHandle::new(
        remembered::<ConsumptionRate>(&storage_keys::consumption_rate(), alerts)
            .unwrap_or_default(),
        saved_agent.unwrap_or_default(),
    );
    provide_context(drain);
    // Agent settings saved in another tab apply here too: the tab that
    // drains may not be the one where the operator fixed the token.
    let _ = window_event_listener(leptos::ev::storage, move |event| {
        let key = event.key().unwrap_or_default();
        if key != storage_keys::agent_settings() && key != storage_keys::agent_token() {
            return;
        }
        if let Ok(Some(saved)) = agent_store::load() {
            if let Ok(valid) = saved.validate() {
                drain.agent.set(valid);
            }
        }
    });
    // A page going away starts no new attempt (its requests are being
    // cancelled, which looks like an agent gone offline): the events at the
    // gate stay unrecorded and go again after the reload, once each.
    let _ = window_event_listener(leptos::ev::pagehide, move |_| drain.replace(None));
    // Restored from the back-forward cache, the page has no drain: start
    // afresh.
    let _ = window_event_listener(leptos::ev::pageshow, move |event| {
        if event.persisted() {
            let _ = window().location().reload();
        }
    });
    provide_context(Inspected::default());
    provide_context(ShortcutTargets::default());
    let filter = RwSignal::new(String::new());
    provide_context(super::history::Filter(filter));
    // A display clock for "updated 3 s ago" and the figures.
    let now_ms = RwSignal::new(js_sys::Date::now());
    use_interval_fn(move || now_ms.set(js_sys::Date::now()), 1_000);
    provide_context(Clock(now_ms.into()));
    let default_project_url = RwSignal::new(None::<String>);

    leptos::task::spawn_local(async move {
        match runtime_config::fetch().await {
            Ok(config) => {
                default_project_url.set(config.project_url);
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
    });

    // One drain at a time: a new login or table stops the old one and
    // starts the next. The runner's signals belong to the page, not to the
    // Effect: a stopping runner still reads them while its last attempts
    // end, after the Effect has run again and disposed what it owned.
    let (agent, rate): (Signal<_>, Signal<_>) = (drain.agent.into(), drain.rate.into());
    Effect::new(move |_| {
        // Until config.json is read, a remembered table name may stand for
        // a table with other columns: start nothing on a guess.
        if !sources.configured.get() {
            return;
        }
        let next = match (sources.session.get(), sources.chosen.get()) {
            (Some(session), Some(source)) => Some(Runner::start(Inputs {
                session,
                source,
                agent,
                rate,
                view: drain.view,
                alerts,
            })),
            _ => None,
        };
        drain.replace(next);
    });
    Effect::new(move |_| {
        if let Some(name) = sources.selected.get() {
            remember(&storage_keys::selected_table(), &name, alerts);
        }
    });
    Effect::new(move |_| {
        drain.rate.track();
        drain.agent.track();
        drain.view.partition_key.track();
        drain.send(Intent::SettingsChanged);
    });
    view! {
        <header class="header">
            <div class="header__start">
                <h1 class="header__title">"Sluice"</h1>
                <SourceDialog />
                <ThemeToggle />
                <ShortcutHelp />
            </div>
            <LoginArea default_project_url=default_project_url.read_only() />
        </header>
        <KeyboardShortcuts />
        <main class="main">
            <LinkOffer />
            <Rail />
            <section class="controls" aria-label="Controls">
                <RateSlider />
                <DrainControls />
            </section>
            <DrainStatus />
            <MetricsStrip />
            <AlertRegion />
            <div class="workspace">
                <div class="workspace__lists">
                    <super::history::FilterField />
                    <HistoryPanel />
                    <DeadLetterPanel />
                    <SourceSearchPanel />
                </div>
                <Inspector />
            </div>
            <section class="settings" aria-label="Settings">
                <AgentSettingsForm />
                <AlertSettings />
                <HistoryFile />
            </section>
        </main>
    }
}

/// `?table=name` in the page's address, decoded as a form value.
fn linked_table() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get("table")
}
