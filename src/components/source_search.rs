use leptos::prelude::*;
use sluice_core::source_search::{SourceSearch, SEARCH_LIMIT};
use std::sync::Arc;

use super::inspector::{Inspected, Inspection};
use super::state::Sources;
use crate::browser::rest;

/// Searches the source table itself (type, source, words in the payload)
/// through PostgREST filters; the drain's cursor is not touched.
#[component]
pub fn SourceSearchPanel() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let inspected = expect_context::<Inspected>();
    let (event_type, origin, text) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    // Set on each submit; a search belongs to the table it was made in.
    let asked = RwSignal::new(None::<(String, SourceSearch)>);
    let found = LocalResource::new(move || {
        let asked = asked.get();
        let (session, source) = (sources.session.get(), sources.source.get());
        async move {
            let (table, search) = asked?;
            let (Some(session), Some(source)) =
                (session, source.filter(|s| s.table.as_str() == table))
            else {
                return None;
            };
            let rows =
                rest::read_rows(&session, source.table.as_str(), &search.path(&source)).await;
            Some(rows.map_err(|e| e.to_string()))
        }
    });
    let problem = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let search = SourceSearch {
            event_type: event_type.get_untracked(),
            origin: origin.get_untracked(),
            text: text.get_untracked(),
        };
        let ready = sources.session.with_untracked(Option::is_some)
            && sources.source.with_untracked(Option::is_some);
        let table = sources.chosen_name_untracked();
        problem.set(match (ready, table) {
            (true, Some(_)) if search.is_empty() => {
                Some("Fill in a type, a source or words to look for.".into())
            }
            (true, Some(table)) => {
                asked.set(Some((table, search)));
                None
            }
            _ => Some("Log in and choose a table to search it.".into()),
        });
    };
    let rows = move || {
        found
            .get()
            .flatten()
            .and_then(Result::ok)
            .unwrap_or_default()
    };
    let key_of = move |row: &serde_json::Value| {
        sources.source.with_untracked(|s| {
            s.as_ref()
                .and_then(|s| s.event(row.clone()).ok())
                .map(|e| e.key)
                .unwrap_or_else(|| "?".into())
        })
    };
    view! {
        <section class="panel search" aria-label="Search the table" hidden=move || sources.queue_chosen()>
            <h2 class="panel__title">"Search the table"</h2>
            <form class="search__form" on:submit=submit>
                <label>"Type" <input type="text" bind:value=event_type placeholder="order.created" /></label>
                <label>"Source" <input type="text" bind:value=origin placeholder="billing-api" /></label>
                <label>"Words in payload" <input type="text" bind:value=text placeholder="refund -test" /></label>
                <button type="submit" class="button">"Search"</button>
            </form>
            <p class="search__status" role="status">
                {move || match (problem.get(), found.get().flatten()) {
                    (Some(message), _) => message,
                    (None, None) => String::new(),
                    (None, Some(Ok(rows))) if rows.is_empty() => "No rows match.".into(),
                    (None, Some(Ok(rows))) if rows.len() == SEARCH_LIMIT => format!("The newest {SEARCH_LIMIT} matching rows:"),
                    (None, Some(Ok(rows))) => format!("{} matching rows, newest first:", rows.len()),
                    (None, Some(Err(message))) => message,
                }}
            </p>
            <ul class="search__results">
                {move || rows().into_iter().map(|row| {
                    let key = key_of(&row);
                    let label = ["type", "source"].iter()
                        .filter_map(|f| row.get(*f).and_then(|v| v.as_str()).map(str::to_string))
                        .collect::<Vec<_>>().join(" · ");
                    let row = Arc::new(row);
                    let inspect = {
                        let key = key.clone();
                        move |_| {
                            let Some(table) = sources.chosen_name_untracked() else { return };
                            inspected.show(Inspection {
                                table,
                                key: key.clone(),
                                place: "search",
                                facts: Vec::new(),
                                signals: Vec::new(),
                                row: Some(row.clone()),
                            });
                        }
                    };
                    view! {
                        <li>
                            <button type="button" class="search__row" aria-label=format!("Inspect row {key}") on:click=inspect>
                                <span class="history__key">{key.clone()}</span>
                                <span class="history__type">{label}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
