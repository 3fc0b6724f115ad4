use leptos::prelude::*;
use sluice_core::ledger::LedgerFile;

use super::state::{DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::browser::dialogs::confirm;
use crate::browser::files;
use crate::runner::Intent;

/// The table's history as a file: exported here, imported in another browser.
#[component]
pub fn HistoryFile() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let drain = expect_context::<DrainHandle>();
    let alerts = expect_context::<Alerts>();
    let picker = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(String::new());
    let export = move |_| {
        let Some(store) = sources.store.get_untracked() else {
            return alerts.show("Log in and choose a table first.");
        };
        let table = store.table();
        match store.ledger() {
            Ok(ledger) => {
                let text = serde_json::to_string_pretty(&LedgerFile::of(table, &ledger))
                    .unwrap_or_default();
                if let Err(message) = files::download(&format!("{table}-history.json"), &text) {
                    alerts.show(message);
                }
            }
            Err(problem) => alerts.show(problem),
        }
    };
    let import = move |text: String| {
        let Some(store) = sources.store.get_untracked() else {
            return alerts.show("Log in and choose a table first.");
        };
        let table = store.table();
        let file = match LedgerFile::parse(&text, table) {
            Ok(file) => file,
            Err(message) => return alerts.show(message),
        };
        let current = store.ledger().map(|l| l.handled()).unwrap_or(0);
        if confirm(&format!(
            "Replace the history of {table} ({current} handled) with the file's ({} handled)?",
            file.head.handled
        )) {
            // The drain writes it, between two events, and goes on from it.
            drain.send(Intent::Import(file));
        }
    };
    // The chosen file is read, then offered for import.
    let read = Action::new_local(move |input: &web_sys::HtmlInputElement| {
        let input = input.clone();
        async move {
            match files::chosen_text(&input).await {
                Ok(text) => {
                    error.set(String::new());
                    import(text);
                }
                Err(message) => error.set(message),
            }
            input.set_value("");
        }
    });
    let chosen = move |_| {
        if let Some(input) = picker.get() {
            read.dispatch(input);
        }
    };
    // A queue's history is the queue: nothing in the browser to export.
    view! {
        <div class="table-data" role="group" aria-label="History file" hidden=move || sources.queue_chosen()>
            <button type="button" class="button" on:click=export>"Export history"</button>
            <label class="button">
                "Import history"
                <input class="visually-hidden" type="file" accept="application/json,.json" node_ref=picker on:change=chosen />
            </label>
            <p class="form__error">{move || error.get()}</p>
        </div>
    }
}
