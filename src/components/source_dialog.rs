use leptos::html;
use leptos::prelude::*;
use sluice_core::source::TableSource;
use sluice_core::storage_keys;
use std::collections::HashMap;

use super::confirm;
use super::keyboard::ShortcutTargets;
use super::state::{remember, DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::browser::rest;
use crate::runner::Intent;

/// The "Source" button and the "Select source" dialog: a native modal
/// `<dialog>` (inert background, Escape closes it) that hands focus back to
/// the button when it closes.
#[component]
pub fn SourceDialog() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let drain = expect_context::<DrainHandle>();
    let alerts = expect_context::<Alerts>();
    let open_requests = expect_context::<ShortcutTargets>().open_source;
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    // Events handled per table, read from this browser's storage on opening
    // and after a change.
    let counts = RwSignal::new(HashMap::<String, u64>::new());
    let refresh_counts = move || {
        let read: HashMap<String, u64> = sources.tables.with_untracked(|tables| {
            tables
                .iter()
                .map(|t| {
                    let name = t.table.as_str().to_string();
                    let handled = sources
                        .store_of(&name)
                        .and_then(|s| s.ledger().ok())
                        .map_or(0, |l| l.handled());
                    (name, handled)
                })
                .collect()
        });
        counts.set(read);
    };
    // Backlog and reachability of every table, asked of the server each
    // time the dialog opens.
    let opened = RwSignal::new(0u32);
    let notes = LocalResource::new(move || {
        let opens = opened.get();
        let session = sources.session.get_untracked();
        let asked: Vec<(TableSource, Option<_>)> = sources.tables.with_untracked(|tables| {
            tables
                .iter()
                .map(|t| {
                    let store = sources.store_of(t.table.as_str());
                    let cursor = store
                        .and_then(|s| s.ledger().ok())
                        .and_then(|l| l.cursor().cloned());
                    (t.clone(), cursor)
                })
                .collect()
        });
        async move {
            // Nothing is asked before the dialog first opens.
            let session = session.filter(|_| opens > 0)?;
            let counted = asked.into_iter().map(|(source, cursor)| {
                let session = session.clone();
                async move {
                    let name = source.table.as_str().to_string();
                    let path = source.backlog_path(cursor.as_ref());
                    let note = match rest::count(&session, &name, &path).await {
                        Ok(Some(waiting)) => format!("{waiting} waiting"),
                        Ok(None) => "reachable".to_string(),
                        Err(error) => format!("unreachable: {error}"),
                    };
                    (name, note)
                }
            });
            Some(
                futures::future::join_all(counted)
                    .await
                    .into_iter()
                    .collect::<HashMap<_, _>>(),
            )
        }
    });
    let open = move || {
        refresh_counts();
        opened.update(|n| *n += 1);
        if let Some(dialog) = dialog.get() {
            let _ = dialog.show_modal();
        }
    };
    Effect::new(move |first: Option<()>| {
        open_requests.track();
        if first.is_some() {
            open();
        }
    });
    let close = move |_| {
        if let Some(dialog) = dialog.get() {
            dialog.close();
        }
    };
    let return_focus = move |_| {
        if let Some(button) = opener.get() {
            let _ = button.focus();
        }
    };
    // Forgets tables' histories: the drained one through its runner, between
    // two events; the others directly.
    let clear = move |names: Vec<String>| {
        let drained = sources.selected.get_untracked();
        for name in names {
            if drain.is_running() && drained.as_deref() == Some(name.as_str()) {
                drain.send(Intent::Clear);
            } else if let Some(store) = sources.store_of(&name) {
                store.clear_ledger();
            }
        }
        counts.update(|c| c.values_mut().for_each(|n| *n = 0));
    };
    let clear_selected = move |_| {
        if sources.session.with_untracked(Option::is_none) {
            return alerts.show("Log in first: history is kept per project.");
        }
        if let Some(table) = sources.selected.get_untracked() {
            if confirm(&format!("Clear the history of {table}? Every event in it will be handed to the agent again.")) {
                counts.update(|c| { c.insert(table.clone(), 0); });
                clear(vec![table]);
            }
        }
    };
    let clear_all = move |_| {
        if sources.session.with_untracked(Option::is_none) {
            return alerts.show("Log in first: history is kept per project.");
        }
        let names: Vec<String> = sources
            .tables
            .with_untracked(|t| t.iter().map(|s| s.table.as_str().to_string()).collect());
        if confirm(&format!("Clear the history of all {} tables? Every event in them will be handed to the agent again.", names.len())) {
            clear(names);
        }
    };
    let add_error = RwSignal::new(None::<String>);
    let commit = move |source: TableSource| {
        let name = source.table.as_str().to_string();
        sources.added.update(|a| a.push(source));
        sources
            .added
            .with_untracked(|a| remember(&storage_keys::added_tables(), a, alerts));
        add_error.set(None);
        counts.update(|c| {
            c.insert(name.clone(), 0);
        });
        sources.selected.set(Some(name));
    };
    // A new table is checked against the project first, so that a missing
    // table or column is named now rather than when it is drained.
    let check_and_add = move |source: TableSource| {
        let Some(session) = sources.session.get_untracked() else {
            return commit(source);
        };
        leptos::task::spawn_local(async move {
            match rest::read_rows(&session, source.table.as_str(), &source.probe_path()).await {
                Ok(_) => commit(source),
                Err(error) => add_error.set(Some(error.to_string())),
            }
        });
    };
    let remove = move |name: String| {
        sources
            .added
            .update(|a| a.retain(|s| s.table.as_str() != name));
        sources
            .added
            .with_untracked(|a| remember(&storage_keys::added_tables(), a, alerts));
        if sources.selected.get_untracked().as_deref() == Some(name.as_str()) {
            sources.selected.set(None);
        }
    };
    let new_table = RwSignal::new(String::new());
    let new_timestamp = RwSignal::new("created_at".to_string());
    let new_key = RwSignal::new("id".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match TableSource::parse(&new_table.get(), &new_timestamp.get(), &new_key.get()) {
            Ok(source)
                if sources
                    .tables
                    .with_untracked(|t| t.iter().any(|s| s.table == source.table)) =>
            {
                add_error.set(Some(format!(
                    "{} is already in the list.",
                    source.table.as_str()
                )));
            }
            Ok(source) => check_and_add(source),
            Err(message) => add_error.set(Some(message)),
        }
    };
    let added = move |name: &str| {
        sources
            .added
            .with(|a| a.iter().any(|s| s.table.as_str() == name))
    };
    let note = move |name: &str| notes.get().flatten().and_then(|n| n.get(name).cloned());
    view! {
        <button type="button" class="button" node_ref=opener aria-keyshortcuts="S" on:click=move |_| open()>"Source"</button>
        <dialog class="dialog" node_ref=dialog aria-labelledby="source-title" on:close=return_focus>
            <h2 id="source-title">"Select source"</h2>
            <fieldset class="dialog__tables">
                <legend>"Tables"</legend>
                <For each=move || sources.tables.get() key=|t| t.table.as_str().to_string() let:table>
                    {
                        let name = table.table.as_str().to_string();
                        let (checked_name, value, count_name, note_name, added_name, remove_name) =
                            (name.clone(), name.clone(), name.clone(), name.clone(), name.clone(), name.clone());
                        view! {
                            <label class="dialog__table">
                                <input
                                    type="radio"
                                    name="source-table"
                                    value=name.clone()
                                    prop:checked=move || sources.selected.get().as_deref() == Some(checked_name.as_str())
                                    on:change=move |_| sources.selected.set(Some(value.clone()))
                                />
                                <span class="dialog__name">{name.clone()}</span>
                                <span class="dialog__count">
                                    {move || format!(" — {} handled", counts.with(|c| c.get(&count_name).copied().unwrap_or(0)))}
                                </span>
                                <span class="dialog__note">
                                    {move || note(&note_name).map(|note| format!(" · {note}")).unwrap_or_default()}
                                </span>
                                <Show when=move || added(&added_name)>
                                    <button
                                        type="button"
                                        class="button button--small"
                                        aria-label=format!("Remove {remove_name}")
                                        on:click={
                                            let table = remove_name.clone();
                                            move |_| remove(table.clone())
                                        }
                                    >
                                        "Remove"
                                    </button>
                                </Show>
                            </label>
                        }
                    }
                </For>
            </fieldset>
            <form class="dialog__add" aria-label="Add a table" on:submit=add>
                <label>"Table" <input type="text" name="new-table" bind:value=new_table /></label>
                <label>"Timestamp column" <input type="text" name="new-timestamp" bind:value=new_timestamp /></label>
                <label>"Key column" <input type="text" name="new-key" bind:value=new_key /></label>
                <button type="submit" class="button">"Add table"</button>
                <p class="dialog__error" role="alert">{move || add_error.get().unwrap_or_default()}</p>
            </form>
            <div class="dialog__actions">
                <button type="button" class="button" disabled=move || sources.selected.get().is_none() on:click=clear_selected>
                    "Clear history"
                </button>
                <button type="button" class="button" on:click=clear_all>"Clear all history"</button>
                <button type="button" class="button button--primary" on:click=close>"Close"</button>
            </div>
        </dialog>
    }
}
