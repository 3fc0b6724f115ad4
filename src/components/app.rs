use gloo_timers::callback::Interval;
use leptos::html;
use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::alert_thresholds::AlertThresholds;
use sluice_core::dead_letters::{self, DeadLetter, NOTE_FIELD};
use sluice_core::drain::Admission;
use sluice_core::history::Entry;
use sluice_core::ledger::LedgerFile;
use sluice_core::rate::ConsumptionRate;
use sluice_core::runtime_config::{table_for_link, RuntimeConfig};
use sluice_core::shortcuts::{shortcut_for, Focus, Shortcut};
use sluice_core::source::TableSource;
use sluice_core::source_search::SourceSearch;
use sluice_core::storage_keys;
use sluice_core::theme::Theme;
use std::sync::Arc;
use wasm_bindgen::JsCast;

use super::agent_settings::AgentSettingsForm;
use super::alerts::{AlertRegion, Alerts};
use super::confirm;
use super::controls::{DrainControls, DrainIntents, DrainStatus, RateSlider};
use super::dead_letter_panel::{DeadLetterIntents, DeadLetterPanel};
use super::history::{format_duration_ms, HistoryPanel};
use super::inspector::{Inspection, Inspector, RowState};
use super::login::{remembered_session, LoginArea};
use super::metrics_strip::MetricsStrip;
use super::preferences::{AlertSettings, ShortcutHelp, TableData, ThemeToggle};
use super::rail::Rail;
use super::source_dialog::{SourceChoice, SourceDialog};
use super::source_search::{SearchResult, SourceSearchPanel};
use crate::browser::storage::{self, Store};
use crate::browser::{dead_letter_store, files, ledger_store, rest, runtime_config};
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
    let source_requests = RwSignal::new(0u32);
    let choice = SourceChoice {
        add: add_table,
        add_error,
        remove: remove_table,
        added: added_names,
        notes,
        refresh_notes,
        open_requests: source_requests,
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
    // It also publishes what the drain handled, once a second.
    Interval::new(1_000, move || {
        now_ms.set(js_sys::Date::now());
        view.publish_journal();
    })
    .forget();
    let tab_hidden = RwSignal::new(false);
    let _visibility = window_event_listener(leptos::ev::visibilitychange, move |_| {
        let hidden = web_sys::window()
            .and_then(|w| w.document())
            .is_some_and(|d| d.hidden());
        tab_hidden.set(hidden);
    });

    let operator = operator_view(OperatorInputs {
        session,
        source,
        view,
        runner,
        alerts,
        restart,
    });
    let theme =
        RwSignal::new(remembered::<Theme>(&storage_keys::theme(), alerts).unwrap_or_default());
    Effect::new(move |_| {
        let chosen = theme.get();
        if let Some(root) = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.document_element())
        {
            let _ = match chosen.attribute() {
                Some(name) => root.set_attribute("data-theme", name),
                None => root.remove_attribute("data-theme"),
            };
        }
    });
    let choose_theme = Callback::new(move |chosen: Theme| {
        theme.set(chosen);
        remember(&storage_keys::theme(), &chosen, alerts);
    });
    let help = NodeRef::<html::Dialog>::new();
    let filter = RwSignal::new(String::new());
    let filter_input = NodeRef::<html::Input>::new();
    let _keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let target = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let inside = |selector: &str| {
            target
                .as_ref()
                .is_some_and(|el| el.closest(selector).ok().flatten().is_some())
        };
        let focus = if inside("input, select, textarea, [contenteditable], dialog[open]") {
            Focus::TextEntry
        } else if inside("button, summary, a") {
            Focus::Control
        } else {
            Focus::Page
        };
        let modified = ev.ctrl_key() || ev.meta_key() || ev.alt_key();
        let Some(shortcut) = shortcut_for(&ev.key(), modified, focus) else {
            return;
        };
        ev.prevent_default();
        match shortcut {
            Shortcut::TogglePause => {
                if view.admission.get_untracked() == Admission::Open {
                    intents.pause.run(());
                } else {
                    intents.resume.run(());
                }
            }
            Shortcut::OpenSource => source_requests.update(|n| *n += 1),
            Shortcut::FocusFilter => {
                if let Some(input) = filter_input.get() {
                    let _ = input.focus();
                }
            }
            Shortcut::Help => {
                if let Some(dialog) = help.get() {
                    let _ = dialog.show_modal();
                }
            }
        }
    });

    view! {
        <header class="header">
            <div class="header__start">
                <h1 class="header__title">"Sluice"</h1>
                <SourceDialog choice=choice />
                <ThemeToggle theme=theme.read_only() on_choose=choose_theme />
                <button type="button" class="button" aria-keyshortcuts="?" on:click=move |_| {
                    if let Some(dialog) = help.get() {
                        let _ = dialog.show_modal();
                    }
                }>"Shortcuts"</button>
                <ShortcutHelp dialog=help />
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
            <Rail view=view table=Signal::derive(move || selected.get()) on_inspect_gate=operator.inspect_gate />
            <section class="controls" aria-label="Controls">
                <RateSlider rate=rate.read_only() on_change=choose_rate />
                <DrainControls view=view intents=intents />
            </section>
            <DrainStatus view=view now_ms=now_ms.read_only() tab_hidden=tab_hidden.read_only() />
            <MetricsStrip view=view now_ms=now_ms.read_only() agent=agent.into() thresholds=operator.thresholds.into() />
            <AlertRegion alerts=alerts />
            <div class="workspace">
                <div class="workspace__lists">
                    <label class="filter">
                        "Filter history and dead letters"
                        <input type="search" node_ref=filter_input aria-keyshortcuts="/" bind:value=filter placeholder="key, type, outcome or reason" />
                    </label>
                    <HistoryPanel view=view filter=filter.into() on_inspect=operator.inspect_entry />
                    <DeadLetterPanel letters=view.dead_letters filter=filter.into() intents=operator.dead_letter_intents />
                    <SourceSearchPanel search=operator.search results=operator.search_results key_of=operator.key_of inspect=operator.inspect_row />
                </div>
                <Inspector inspection=operator.inspection />
            </div>
            <section class="settings" aria-label="Settings">
                <AgentSettingsForm settings=agent on_save=save_agent alerts=alerts />
                <AlertSettings thresholds=operator.thresholds.into() on_save=operator.save_thresholds />
                <TableData export=operator.export_history import=operator.import_history />
            </section>
        </main>
    }
}

/// What the operator views need from the page.
struct OperatorInputs {
    session: RwSignal<Option<sluice_core::credentials::Session>>,
    source: Memo<Option<TableSource>>,
    view: DrainView,
    runner: StoredValue<Option<Runner>, LocalStorage>,
    alerts: Alerts,
    restart: RwSignal<u32>,
}

/// The intents and state of the history, inspector, dead letters, search,
/// alert limits and history files.
struct OperatorView {
    inspection: RwSignal<Option<Inspection>>,
    inspect_entry: Callback<Arc<Entry>>,
    inspect_gate: Callback<()>,
    inspect_row: Callback<serde_json::Value>,
    key_of: Callback<serde_json::Value, String>,
    dead_letter_intents: DeadLetterIntents,
    search: Callback<SourceSearch>,
    search_results: RwSignal<Option<SearchResult>>,
    thresholds: Memo<AlertThresholds>,
    save_thresholds: Callback<AlertThresholds>,
    export_history: Callback<()>,
    import_history: Callback<String>,
}

fn operator_view(inputs: OperatorInputs) -> OperatorView {
    let OperatorInputs {
        session,
        source,
        view,
        runner,
        alerts,
        restart,
    } = inputs;
    let project =
        move || session.with_untracked(|s| s.as_ref().map(|s| s.project.as_str().to_string()));
    let table = move || source.with_untracked(|s| s.as_ref().map(|s| s.table.as_str().to_string()));
    let inspection = RwSignal::new(None::<Inspection>);
    let search_results = RwSignal::new(None::<SearchResult>);
    // Another table or login: what was inspected or found belongs to the old one.
    Effect::new(move |_| {
        source.track();
        session.track();
        inspection.set(None);
        search_results.set(None);
    });

    // Shows `inspection`, reading its row by key first if it is not at hand.
    let show = move |mut shown: Inspection, row: Option<Arc<serde_json::Value>>| {
        if let Some(row) = row {
            let bytes = row.to_string().len();
            shown.row = RowState::Loaded { row, bytes };
            return inspection.set(Some(shown));
        }
        let (Some(session), Some(source)) = (session.get_untracked(), source.get_untracked())
        else {
            shown.row = RowState::Failed("Log in to read the row.".into());
            return inspection.set(Some(shown));
        };
        let key = shown.key.clone();
        shown.row = RowState::Loading;
        inspection.set(Some(shown));
        leptos::task::spawn_local(async move {
            let read =
                rest::read_rows(&session, source.table.as_str(), &source.row_path(&key)).await;
            let state = match read {
                Ok(mut rows) if !rows.is_empty() => {
                    let row = rows.swap_remove(0);
                    let bytes = row.to_string().len();
                    RowState::Loaded {
                        row: Arc::new(row),
                        bytes,
                    }
                }
                Ok(_) => RowState::Failed(format!("Row {key} is no longer in the table.")),
                Err(error) => RowState::Failed(error.to_string()),
            };
            inspection.update(|i| {
                if let Some(i) = i.as_mut().filter(|i| i.key == key) {
                    i.row = state;
                }
            });
        });
    };

    let inspect_entry = Callback::new(move |entry: Arc<Entry>| {
        let mut facts = vec![
            ("Type", entry.badge.label.clone()),
            ("Outcome", entry.outcome.describe(entry.attempts)),
            ("Attempts", entry.attempts.to_string()),
            ("At the gate", format_duration_ms(entry.duration_ms)),
            ("Timestamp", entry.timestamp.clone()),
        ];
        if let sluice_core::history::Outcome::Rejected(reason) = &entry.outcome {
            facts.push(("Reason", reason.clone()));
        }
        show(
            Inspection {
                key: entry.badge.key.clone(),
                place: "history",
                facts,
                signals: entry.signals.clone(),
                row: RowState::Loading,
            },
            entry.row.clone(),
        );
    });
    let inspect_gate = Callback::new(move |()| {
        let Some((key, label, state)) = view.gate.with_untracked(|g| {
            g.event
                .as_ref()
                .map(|e| (e.key.clone(), e.label.clone(), g.state.name()))
        }) else {
            return;
        };
        let message = view
            .gate
            .with_untracked(|g| g.message.clone())
            .unwrap_or_default();
        show(
            Inspection {
                key,
                place: "gate",
                facts: vec![
                    ("Type", label),
                    ("State", state.to_string()),
                    ("Agent says", message),
                ],
                signals: Vec::new(),
                row: RowState::Loading,
            },
            None,
        );
    });
    let key_of = Callback::new(move |row: serde_json::Value| {
        source.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.event(row).ok())
                .map(|e| e.key)
                .unwrap_or_else(|| "?".into())
        })
    });
    let inspect_row = Callback::new(move |row: serde_json::Value| {
        let key = key_of.run(row.clone());
        show(
            Inspection {
                key,
                place: "search",
                facts: Vec::new(),
                signals: Vec::new(),
                row: RowState::Loading,
            },
            Some(Arc::new(row)),
        );
    });

    let save_letters = move |list: Vec<DeadLetter>| {
        let (Some(project), Some(table)) = (project(), table()) else {
            return;
        };
        if let Err(error) = dead_letter_store::save(&project, &table, &list) {
            alerts.show(error);
        }
        view.dead_letters.set(list);
    };
    let dead_letter_intents = DeadLetterIntents {
        retry: Callback::new(move |keys: Vec<String>| {
            runner.with_value(|r| r.iter().for_each(|r| r.redeliver(keys.clone())));
        }),
        discard: Callback::new(move |keys: Vec<String>| {
            let (Some(project), Some(table)) = (project(), table()) else {
                return;
            };
            // Read afresh: the drain may have added a letter since the list was drawn.
            let mut list = dead_letter_store::load(&project, &table).unwrap_or_default();
            dead_letters::take(&mut list, &keys);
            save_letters(list);
        }),
        export: Callback::new(move |()| {
            let Some(table) = table() else { return };
            let text = view
                .dead_letters
                .with_untracked(|l| dead_letters::export(&table, l));
            if let Err(message) = files::download(&format!("{table}-dead-letters.json"), &text) {
                alerts.show(message);
            }
        }),
        inspect: Callback::new(move |letter: DeadLetter| {
            let stored_whole = letter.event.get(NOTE_FIELD).is_none();
            show(
                Inspection {
                    key: letter.key.clone(),
                    place: "dead letter",
                    facts: vec![
                        ("Reason", letter.reason.clone()),
                        ("Attempts", letter.attempts.to_string()),
                    ],
                    signals: Vec::new(),
                    row: RowState::Loading,
                },
                stored_whole.then(|| Arc::new(letter.event.clone())),
            );
        }),
    };

    let search = Callback::new(move |search: SourceSearch| {
        let (Some(session), Some(source)) = (session.get_untracked(), source.get_untracked())
        else {
            return search_results.set(Some(Err("Log in and choose a table to search it.".into())));
        };
        if search.is_empty() {
            return search_results.set(Some(Err(
                "Fill in a type, a source or words to look for.".into()
            )));
        }
        leptos::task::spawn_local(async move {
            let found =
                rest::read_rows(&session, source.table.as_str(), &search.path(&source)).await;
            search_results.set(Some(found.map_err(|e| e.to_string())));
        });
    });

    let thresholds_revision = RwSignal::new(0u32);
    let thresholds = Memo::new(move |_| {
        thresholds_revision.track();
        session.track();
        let (Some(project), Some(table)) = (
            project(),
            source.get().map(|s| s.table.as_str().to_string()),
        ) else {
            return AlertThresholds::default();
        };
        remembered(&storage_keys::alert_thresholds(&project, &table), alerts).unwrap_or_default()
    });
    let save_thresholds = Callback::new(move |chosen: AlertThresholds| {
        let (Some(project), Some(table)) = (project(), table()) else {
            return alerts
                .show("Log in and choose a table first: alert limits are kept per table.");
        };
        remember(
            &storage_keys::alert_thresholds(&project, &table),
            &chosen,
            alerts,
        );
        thresholds_revision.update(|n| *n += 1);
    });

    let export_history = Callback::new(move |()| {
        let (Some(project), Some(table)) = (project(), table()) else {
            return alerts.show("Log in and choose a table first.");
        };
        match ledger_store::load(&project, &table) {
            Ok(ledger) => {
                let text = serde_json::to_string_pretty(&LedgerFile::of(&table, &ledger))
                    .unwrap_or_default();
                if let Err(message) = files::download(&format!("{table}-history.json"), &text) {
                    alerts.show(message);
                }
            }
            Err(error) => alerts.show(error),
        }
    });
    let import_history = Callback::new(move |text: String| {
        let (Some(project), Some(table)) = (project(), table()) else {
            return alerts.show("Log in and choose a table first.");
        };
        let file = match LedgerFile::parse(&text, &table) {
            Ok(file) => file,
            Err(message) => return alerts.show(message),
        };
        let current = ledger_store::load(&project, &table)
            .map(|l| l.handled())
            .unwrap_or(0);
        if !confirm(&format!(
            "Replace the history of {table} ({current} handled) with the file's ({} handled)?",
            file.head.handled
        )) {
            return;
        }
        // Stop the drain first, so it does not write over the imported ledger.
        runner.set_value(None);
        ledger_store::clear(&project, &table);
        if let Err(error) = ledger_store::save(&project, &table, &file.writes()) {
            alerts.show(error);
        }
        restart.update(|n| *n += 1);
    });

    OperatorView {
        inspection,
        inspect_entry,
        inspect_gate,
        inspect_row,
        key_of,
        dead_letter_intents,
        search,
        search_results,
        thresholds,
        save_thresholds,
        export_history,
        import_history,
    }
}
