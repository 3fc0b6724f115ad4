//! A `?table=` link names a table the operator has not added: anyone can
//! send a link, so it is drained only once the operator says so.

use leptos::prelude::*;

use super::state::Sources;
use crate::alerts::Alerts;

#[component]
pub fn LinkOffer() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let offered = sources.offered;
    let accept = move |_| {
        if let Some(source) = offered.get_untracked() {
            offered.set(None);
            sources.add_and_select(source, alerts);
        }
    };
    move || {
        offered.get().map(|source| {
            let name = source.table.as_str().to_string();
            view! {
                <section class="offer" aria-label="Table from a link">
                    <p>
                        "This link opens the table " <strong>{name.clone()}</strong>
                        {format!(
                            " (time column {}, key column {}), which is not in your sources. Drain it from this browser?",
                            source.timestamp_column.as_str(),
                            source.key_column.as_str()
                        )}
                    </p>
                    <button type="button" class="button button--primary" on:click=accept>{format!("Drain {name}")}</button>
                    <button type="button" class="button" on:click=move |_| offered.set(None)>"Not now"</button>
                </section>
            }
        })
    }
}
