use gloo_timers::callback::Interval;
use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::drain::Admission;
use sluice_core::rate::ConsumptionRate;
use sluice_core::runtime_config::{table_for_link, RuntimeConfig};
use sluice_core::source::TableSource;
use sluice_core::storage_keys;

use super::agent_settings::AgentSettingsForm;
use super::alerts::{AlertRegion, Alerts};
use super::controls::{DrainControls, DrainIntents, DrainStatus, RateSlider};
use super::login::{remembered_session, LoginArea};
use super::rail::Rail;
use super::source_dialog::{SourceChoice, SourceDialog};
use crate::browser::storage::{self, Store};
use crate::browser::{ledger_store, rest, runtime_config};
use crate::runner::{DrainView, Runner};

/// Reads a remembered value; damaged data gives a message and the default.
fn remembered<T: serde::de::DeserializeOwned + Default>(key: &str, alerts: Alerts) -> Option<T> {
    storage::load(Store::Local, key).unwrap_or_else(|error| {
        alerts.show(error);
        None
    })
}

fn remember<T: serde::Serialize>(key: &str, value: &T, alerts: Alerts) {
    if let Err(error) = storage::save(Store::Local, key, value) {
        alerts.show(error);
    }
}

/// The names of the tables the operator added.
fn added_table_names(alerts: Alerts) -> Vec<String> {
    remembered::<Vec<TableSource>>(&storage_keys::added_tables(), alerts)
        .unwrap_or_default()
        .iter()
        .map(|s| s.table.as_str().to_string())
        .collect()
}

/// `?table=name` in the page's address.
fn linked_table() -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    search
        .trim_start_matches('?')
        .split('&')
        .find_map(|pair| pair.strip_prefix("table="))
        .map(|name| {
            js_sys::decode_uri_component(name)
                .ok()
                .and_then(|s| s.as_string())
                .unwrap_or_default()
        })
}

/// The page: it owns the state, starts a drain for the chosen table once
/// logged in, and wires the components' intents to it.
#[component]
pub fn App() -> impl IntoView {
    let alerts = Alerts::default();
    let rate = RwSignal::new(
        remembered::<ConsumptionRate>(&storage_keys::consumption_rate(), alerts)
            .unwrap_or_default(),
    );
    let session = RwSignal::new(remembered_session(alerts));
    let saved_agent = remembered::<AgentSettings>(&storage_keys::agent_settings(), alerts);
    let agent_saved = saved_agent.is_some();
    let agent = RwSignal::new(saved_agent.unwrap_or_default());
    let added_tables =
        remembered::<Vec<TableSource>>(&storage_keys::added_tables(), alerts).unwrap_or_default();
    let tables = RwSignal::new({
        let mut all = RuntimeConfig::default().tables;
        all.extend(
            added_tables
                .into_iter()
                .filter(|a| !all.iter().any(|t| t.table == a.table))
                .collect::<Vec<_>>(),
        );
        all
    });
    let selected = RwSignal::new(remembered::<String>(
        &storage_keys::selected_table(),
        alerts,
    ));
    let default_project_url = RwSignal::new(None::<String>);
    let view = DrainView::default();
    let runner = StoredValue::new_local(None::<Runner>);
    let restart = RwSignal::new(0u32);

    leptos::task::spawn_local(async move {
        match runtime_config::fetch().await {
            Ok(config) => {
                default_project_url.set(config.project_url);
                if !agent_saved {
                    if let Some(url) = config.agent_url {
                        agent.update(|a| a.url = url);
                    }
                }
                tables.update(|t| {
                    // The deployed tables first, then those the operator added.
                    let added: Vec<_> = t
                        .drain(..)
                        .filter(|s| !config.tables.iter().any(|c| c.table == s.table))
                        .collect();
                    *t = config.tables;
                    t.extend(added);
                });
            }
            Err(message) => alerts.show(message),
        }
        if let Some(name) = linked_table() {
            match tables.with_untracked(|t| table_for_link(t, &name)) {
                Ok(source) => {
                    let name = source.table.as_str().to_string();
                    tables.update(|t| {
                        if !t.iter().any(|s| s.table == source.table) {
                            t.push(source);
                        }
                    });
                    selected.set(Some(name));
                }
                Err(error) => alerts.show(format!("The link names no usable table: {error}")),
            }
        }
    });

    let source = Memo::new(move |_| {
        let name = selected.get()?;
        tables.with(|t| t.iter().find(|s| s.table.as_str() == name).cloned())
    });

    // One drain at a time: a new login or table stops the old one (after the
    // event at its gate) and starts the next.
    Effect::new(move |_| {
        restart.track();
        let (session, source) = (session.get(), source.get());
        runner.set_value(None);
        view.reset();
        if let (Some(session), Some(source)) = (session, source) {
            runner.set_value(Some(Runner::start(
                session,
                source,
                agent.into(),
                rate.into(),
                view,
                alerts,
            )));
        }
    });
    Effect::new(move |_| {
        if let Some(name) = selected.get() {
            remember(&storage_keys::selected_table(), &name, alerts);
        }
    });
    Effect::new(move |_| {
        rate.track();
        runner.with_value(|r| r.iter().for_each(Runner::nudge));
    });

    let choose_rate = move |chosen: ConsumptionRate| {
        rate.set(chosen);
        remember(&storage_keys::consumption_rate(), &chosen, alerts);
    };
    let to_runner =
        move |intent: &dyn Fn(&Runner)| runner.with_value(|r| r.iter().for_each(intent));
    // The view keeps the operator's choice for a drain that has not started yet.
    let intents = DrainIntents {
        pause: Callback::new(move |()| {
            view.admission.set(Admission::Paused);
            to_runner(&Runner::pause);
        }),
        resume: Callback::new(move |()| {
            view.admission.set(Admission::Open);
            to_runner(&Runner::resume);
        }),
        step: Callback::new(move |()| to_runner(&Runner::step)),
        watch_only: Callback::new(move |on: bool| {
            view.watch_only.set(on);
            to_runner(&|r| r.set_watch_only(on));
        }),
    };
    let project =
        move || session.with_untracked(|s| s.as_ref().map(|s| s.project.as_str().to_string()));
    let added_names = RwSignal::new(added_table_names(alerts));
    let add_error = RwSignal::new(None::<String>);
    let commit_table = move |source: TableSource| {
        let name = source.table.as_str().to_string();
        let mut added = remembered::<Vec<TableSource>>(&storage_keys::added_tables(), alerts)
            .unwrap_or_default();
        added.push(source.clone());
        remember(&storage_keys::added_tables(), &added, alerts);
        added_names.update(|n| n.push(name.clone()));
        tables.update(|t| t.push(source));
        add_error.set(None);
        selected.set(Some(name));
    };
    // A new table is checked against the project first, so that a missing
    // table or column is named now rather than when it is drained.
    let add_table = Callback::new(move |source: TableSource| {
        if tables.with_untracked(|t| t.iter().any(|s| s.table == source.table)) {
            return add_error.set(Some(format!(
                "{} is already in the list.",
                source.table.as_str()
            )));
        }
        let Some(session) = session.get_untracked() else {
            return commit_table(source);
        };
        leptos::task::spawn_local(async move {
            match rest::read_rows(&session, source.table.as_str(), &source.probe_path()).await {
                Ok(_) => commit_table(source),
                Err(error) => add_error.set(Some(error.to_string())),
            }
        });
    });
    let remove_table = Callback::new(move |name: String| {
        let mut added = remembered::<Vec<TableSource>>(&storage_keys::added_tables(), alerts)
            .unwrap_or_default();
        added.retain(|s| s.table.as_str() != name);
        remember(&storage_keys::added_tables(), &added, alerts);
        added_names.update(|n| n.retain(|a| *a != name));
        tables.update(|t| t.retain(|s| s.table.as_str() != name));
        if selected.get_untracked().as_deref() == Some(name.as_str()) {
            selected.set(None);
        }
    });
    // Backlog and reachability of every table, read when the dialog opens.
    let notes = RwSignal::new(std::collections::HashMap::<String, String>::new());
    let refresh_notes = Callback::new(move |()| {
        let (Some(session), Some(project)) = (session.get_untracked(), project()) else {
            return;
        };
        for source in tables.get_untracked() {
            let (session, project) = (session.clone(), project.clone());
            leptos::task::spawn_local(async move {
                let name = source.table.as_str().to_string();
                let cursor = ledger_store::load(&project, &name)
                    .ok()
                    .and_then(|l| l.cursor().cloned());
                let note = match rest::count(&session, &name, &source.backlog_path(cursor.as_ref()))
                    .await
                {
                    Ok(Some(waiting)) => format!("{waiting} waiting"),
                    Ok(None) => "reachable".to_string(),
                    Err(error) => format!("unreachable: {error}"),
                };
                notes.update(|n| {
                    n.insert(name, note);
                });
            });
        }
    });
    let choice = SourceChoice {
        add: add_table,
        add_error,
        remove: remove_table,
        added: added_names,
        notes,
        refresh_notes,
        tables,
        selected,
        handled: Callback::new(move |table: String| {
            project()
                .and_then(|p| ledger_store::load(&p, &table).ok())
                .map_or(0, |l| l.handled())
        }),
        clear: Callback::new(move |table: Option<String>| {
            let Some(project) = project() else {
                alerts.show("Log in first: history is kept per project.");
                return;
            };
            let names: Vec<String> = match table {
                Some(name) => vec![name],
                None => tables
                    .with_untracked(|t| t.iter().map(|s| s.table.as_str().to_string()).collect()),
            };
            runner.set_value(None);
            for name in names {
                ledger_store::clear(&project, &name);
            }
            restart.update(|n| *n += 1);
        }),
    };
    let save_agent = Callback::new(move |settings: AgentSettings| {
        remember(&storage_keys::agent_settings(), &settings, alerts);
        agent.set(settings);
    });

    let now_ms = RwSignal::new(js_sys::Date::now());
    // A display clock for "updated 3 s ago"; the App lives as long as the page.
    Interval::new(1_000, move || now_ms.set(js_sys::Date::now())).forget();
    let tab_hidden = RwSignal::new(false);
    let _visibility = window_event_listener(leptos::ev::visibilitychange, move |_| {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        tab_hidden.set(hidden);
    });

    view! {
        <header class="header">
            <div class="header__start">
                <h1 class="header__title">"Sluice"</h1>
                <SourceDialog choice=choice />
            </div>
            <LoginArea
                session=session
                default_project_url=default_project_url.read_only()
                check_table=Signal::derive(move || {
                    selected.get().or_else(|| tables.with(|t| t.first().map(|s| s.table.as_str().to_string()))).unwrap_or_else(|| "events".into())
                })
                alerts=alerts
            />
        </header>
        <main class="main">
            <Rail view=view table=Signal::derive(move || selected.get()) />
            <section class="controls" aria-label="Controls">
                <RateSlider rate=rate.read_only() on_change=choose_rate />
                <DrainControls view=view intents=intents />
            </section>
            <DrainStatus view=view now_ms=now_ms.read_only() tab_hidden=tab_hidden.read_only() />
            <AgentSettingsForm settings=agent on_save=save_agent alerts=alerts />
            <AlertRegion alerts=alerts />
        </main>
    }
}
