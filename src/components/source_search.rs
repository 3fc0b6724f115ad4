use leptos::prelude::*;
use sluice_core::source_search::{SourceSearch, SEARCH_LIMIT};

/// Rows found, or why the search failed.
pub type SearchResult = Result<Vec<serde_json::Value>, String>;

/// Searches the source table itself (type, source, words in the payload)
/// through PostgREST filters; the drain's cursor is not touched.
#[component]
pub fn SourceSearchPanel(
    search: Callback<SourceSearch>,
    results: RwSignal<Option<SearchResult>>,
    key_of: Callback<serde_json::Value, String>,
    inspect: Callback<serde_json::Value>,
) -> impl IntoView {
    let (event_type, origin, text) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        search.run(SourceSearch {
            event_type: event_type.get_untracked(),
            origin: origin.get_untracked(),
            text: text.get_untracked(),
        });
    };
    view! {
        <section class="panel search" aria-label="Search the table">
            <h2 class="panel__title">"Search the table"</h2>
            <form class="search__form" on:submit=submit>
                <label>"Type" <input type="text" bind:value=event_type placeholder="order.created" /></label>
                <label>"Source" <input type="text" bind:value=origin placeholder="billing-api" /></label>
                <label>"Words in payload" <input type="text" bind:value=text placeholder="refund -test" /></label>
                <button type="submit" class="button">"Search"</button>
            </form>
            <p class="search__status" role="status">
                {move || match results.get() {
                    None => String::new(),
                    Some(Ok(rows)) if rows.is_empty() => "No rows match.".into(),
                    Some(Ok(rows)) if rows.len() == SEARCH_LIMIT => format!("The newest {SEARCH_LIMIT} matching rows:"),
                    Some(Ok(rows)) => format!("{} matching rows, newest first:", rows.len()),
                    Some(Err(message)) => message,
                }}
            </p>
            <ul class="search__results">
                {move || results.get().and_then(Result::ok).unwrap_or_default().into_iter().map(|row| {
                    let key = key_of.run(row.clone());
                    let label = ["type", "source"].iter()
                        .filter_map(|f| row.get(*f).and_then(|v| v.as_str()).map(str::to_string))
                        .collect::<Vec<_>>().join(" · ");
                    view! {
                        <li>
                            <button type="button" class="search__row" aria-label=format!("Inspect row {key}")
                                on:click=move |_| inspect.run(row.clone())>
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
