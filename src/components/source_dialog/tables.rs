//! The tables in the source dialog: one radio each with its counts, adding
//! a table, and clearing histories.

use leptos::prelude::*;
use sluice_core::source::{unorderable_note, TableSource};
use sluice_core::storage_keys;

use super::super::state::{remember, DrainHandle, Sources};
use super::{lookup, Handled};
use crate::alerts::Alerts;
use crate::browser::dialogs::confirm;
use crate::browser::rest;
use crate::runner::Intent;

/// Backlog and reachability of every table ("12 waiting", "unreachable:
/// …"), asked of the server each time the dialog opens (`opens` > 0).
pub(super) fn backlog_notes(
    sources: Sources,
    opens: ReadSignal<u32>,
) -> LocalResource<Option<Vec<(String, String)>>> {
    LocalResource::new(move || {
        let opens = opens.get();
        let session = sources.session.get_untracked();
        let asked: Vec<(TableSource, Option<_>)> = sources.tables.with_untracked(|tables| {
            tables
                .iter()
                .map(|t| {
                    let cursor = sources
                        .store_of(t.table.as_str())
                        .and_then(|s| s.ledger().ok())
                        .and_then(|l| l.cursor().cloned());
                    (t.clone(), cursor)
                })
                .collect()
        });
        async move {
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
                    .collect(),
            )
        }
    })
}

/// Rows of the drained table that no page reaches, and how to fix them.
#[component]
pub(super) fn UnorderableRows() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let drain = expect_context::<DrainHandle>();
    let unorderable = move || drain.view().unorderable;
    move || {
        let note = unorderable_note(unorderable().get())?;
        let source = sources.source.get()?;
        Some(view! {
            <p class="dialog__warning" role="note">
                <strong>{format!("{}: {note}.", source.table.as_str())}</strong>
                " "
                {source.unorderable_fix()}
            </p>
        })
    }
}

/// One radio per table, with what this browser handled of it, its
/// backlog, and "Remove" for the tables the operator added.
#[component]
pub(super) fn TableOptions(
    handled: Handled,
    notes: LocalResource<Option<Vec<(String, String)>>>,
) -> impl IntoView {
    let sources = expect_context::<Sources>();
    view! {
        <fieldset class="dialog__tables">
            <legend>"Tables"</legend>
            <For each=move || sources.tables.get() key=|t| t.table.as_str().to_string() let:table>
                <TableOption name=table.table.as_str().to_string() handled=handled notes=notes />
            </For>
        </fieldset>
    }
}

#[component]
fn TableOption(
    name: String,
    handled: Handled,
    notes: LocalResource<Option<Vec<(String, String)>>>,
) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let this = StoredValue::new(name.clone());
    let note = move || {
        notes.with(|n| {
            let n = n.as_ref().and_then(|n| n.as_ref())?;
            this.with_value(|name| lookup(n, name).map(|note| format!(" · {note}")))
        })
    };
    let added = move || {
        this.with_value(|name| {
            sources
                .added
                .with(|a| a.iter().any(|s| s.table.as_str() == name))
        })
    };
    let remove = move |_| {
        let name = this.get_value();
        sources
            .added
            .update(|a| a.retain(|s| s.table.as_str() != name));
        sources
            .added
            .with_untracked(|a| remember(&storage_keys::added_tables(), a, alerts));
        if sources.selected.get_untracked() == Some(name) {
            sources.selected.set(None);
        }
    };
    view! {
        <label class="dialog__table">
            <input
                type="radio"
                name="source-table"
                value=name.clone()
                prop:checked=move || this.with_value(|n| sources.selected.get().as_ref() == Some(n))
                on:change=move |_| sources.selected.set(Some(this.get_value()))
            />
            <span class="dialog__name">{name.clone()}</span>
            <span class="dialog__count">{move || format!(" — {} handled", this.with_value(|n| handled.of(n)))}</span>
            <span class="dialog__note">{move || note().unwrap_or_default()}</span>
            <Show when=added>
                <button type="button" class="button button--small" aria-label=format!("Remove {name}") on:click=remove>
                    "Remove"
                </button>
            </Show>
        </label>
    }
}

/// Adds a table with its timestamp and key columns. It is checked against
/// the project first, so that a missing table or column is named now rather
/// than when it is drained; once added, it is chosen.
#[component]
pub(super) fn AddTableForm(handled: Handled) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let problem = RwSignal::new(None::<String>);
    let commit = move |source: TableSource| {
        let name = source.table.as_str().to_string();
        problem.set(None);
        handled.forget(&name);
        sources.add_and_select(source, alerts);
    };
    // Checked against the project when logged in: a missing table or
    // column is named now.
    let check_and_add = Action::new_local(move |source: &TableSource| {
        let source = source.clone();
        let session = sources.session.get_untracked();
        async move {
            if let Some(session) = session {
                let probe = source.probe_path();
                if let Err(error) = rest::read_rows(&session, source.table.as_str(), &probe).await {
                    return problem.set(Some(error.to_string()));
                }
            }
            commit(source);
        }
    });
    let checking = check_and_add.pending();
    let table = RwSignal::new(String::new());
    let timestamp = RwSignal::new("created_at".to_string());
    let key = RwSignal::new("id".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = TableSource::parse(&table.get(), &timestamp.get(), &key.get());
        match parsed {
            Ok(source)
                if sources
                    .tables
                    .with_untracked(|t| t.iter().any(|s| s.table == source.table)) =>
            {
                problem.set(Some(format!(
                    "{} is already in the list.",
                    source.table.as_str()
                )))
            }
            Ok(source) => {
                check_and_add.dispatch(source);
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    view! {
        <form class="dialog__add" aria-label="Add a table" on:submit=add>
            <label>"Table" <input type="text" name="new-table" bind:value=table /></label>
            <label>"Timestamp column" <input type="text" name="new-timestamp" bind:value=timestamp /></label>
            <label>"Key column" <input type="text" name="new-key" bind:value=key /></label>
            <button type="submit" class="button" disabled=move || checking.get() aria-busy=move || checking.get().to_string()>
                "Add table"
            </button>
            <p class="dialog__error" role="alert">{move || problem.get().unwrap_or_default()}</p>
        </form>
    }
}

/// "Clear history" (the chosen table) and "Clear all history", each after a
/// confirmation. The drained table is cleared by its runner, between two
/// events; the others under their Web Lock, once no tab drains them.
#[component]
pub(super) fn ClearHistory(handled: Handled) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let drain = expect_context::<DrainHandle>();
    let alerts = expect_context::<Alerts>();
    let clear = move |names: Vec<String>, question: String| {
        if sources.session.with_untracked(Option::is_none) {
            return alerts.show("Log in first: history is kept per project.");
        }
        if !confirm(&question) {
            return;
        }
        let drained = sources.selected.get_untracked();
        for name in names {
            if drain.is_running() && drained.as_ref() == Some(&name) {
                drain.send(Intent::Clear);
            } else if let Some(store) = sources.store_of(&name) {
                leptos::task::spawn_local(async move {
                    let waiting = || {
                        alerts.show(format!(
                        "Another tab is draining {}: its history is cleared once that tab lets go of it.",
                        store.table()
                    ))
                    };
                    if let Err(error) = store.clear_under_lock(waiting).await {
                        alerts.show(error);
                    }
                });
            }
            handled.forget(&name);
        }
    };
    let clear_chosen = move |_| {
        if let Some(table) = sources
            .source
            .get_untracked()
            .map(|s| s.table.as_str().to_string())
        {
            let question = format!("Clear the history of {table}? Every event in it will be handed to the agent again.");
            clear(vec![table], question);
        }
    };
    let clear_all = move |_| {
        let names: Vec<String> = sources
            .tables
            .with_untracked(|t| t.iter().map(|s| s.table.as_str().to_string()).collect());
        let question = format!("Clear the history of all {} tables? Every event in them will be handed to the agent again.", names.len());
        clear(names, question);
    };
    view! {
        <button type="button" class="button" disabled=move || sources.source.get().is_none() on:click=clear_chosen>
            "Clear history"
        </button>
        <button type="button" class="button" on:click=clear_all>"Clear all history"</button>
    }
}
