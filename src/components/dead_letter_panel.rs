use leptos::prelude::*;
use sluice_core::dead_letters::{self, DeadLetter};

use super::format::clock_time;
use super::history::Filter;
use super::inspector::{Inspected, Inspection};
use super::state::{DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::browser::dialogs::confirm;
use crate::browser::files;
use crate::runner::Intent;

/// What the inspector shows for a dead letter (the row is read again by
/// key when it was too large to store).
fn inspection_of(table: String, letter: &DeadLetter) -> Inspection {
    let mut facts = vec![
        ("Reason", letter.reason.clone()),
        ("Attempts", letter.attempts.to_string()),
    ];
    if let Some(by) = &letter.by {
        facts.push(("Dead-lettered by", by.clone()));
    }
    Inspection {
        table,
        key: letter.key.clone(),
        place: "dead letter",
        facts,
        signals: Vec::new(),
        row: (!letter.row_is_noted()).then(|| std::sync::Arc::new(letter.event.clone())),
    }
}

/// The table's dead letters, with per-letter and bulk actions. Bulk actions
/// act on the letters shown (after the filter), say how many, and ask first.
#[component]
pub fn DeadLetterPanel() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let letters = move || drain.view().dead_letters;
    let filter = expect_context::<Filter>().0;
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let shown =
        Memo::new(move |_| filter.with(|f| letters().with(|list| dead_letters::shown(list, f))));
    let retry = move |keys: Vec<String>| drain.send(Intent::Redeliver(keys));
    let discard = move |keys: Vec<String>| drain.send(Intent::Discard(keys));
    let export = move || {
        let Some(table) = sources.chosen_name_untracked() else {
            return;
        };
        let text = letters().with_untracked(|l| dead_letters::export(&table, l));
        if let Err(message) = files::download(&format!("{table}-dead-letters.json"), &text) {
            alerts.show(message);
        }
    };
    let shown_keys = move || shown.with(|s| s.iter().map(|l| l.key.clone()).collect::<Vec<_>>());
    let count = move || shown.with(Vec::len);
    let retry_all = move |_| {
        let keys = shown_keys();
        if confirm(&format!(
            "Send {} dead letters back to the agent?",
            keys.len()
        )) {
            retry(keys);
        }
    };
    let discard_all = move |_| {
        let keys = shown_keys();
        if confirm(&format!(
            "Discard {} dead letters? They stay handled and will not be delivered again.",
            keys.len()
        )) {
            discard(keys);
        }
    };
    view! {
        <section class="panel dead-letters" aria-label="Dead letters">
            <div class="panel__head">
                <h2 class="panel__title">{move || format!("Dead letters ({})", letters().with(Vec::len))}</h2>
                <div class="panel__actions">
                    <button type="button" class="button button--small" disabled=move || count() == 0 on:click=retry_all>
                        {move || format!("Retry all {}", count())}
                    </button>
                    <button type="button" class="button button--small" disabled=move || count() == 0 on:click=discard_all>
                        {move || format!("Discard all {}", count())}
                    </button>
                    <button type="button" class="button button--small" disabled=move || letters().with(Vec::is_empty)
                        on:click=move |_| export()>
                        "Export JSON"
                    </button>
                </div>
            </div>
            <Show when=move || count() == 0>
                <p class="panel__empty">"No dead letters."</p>
            </Show>
            <ul class="dead-letters__list">
                <For each=move || shown.get() key=|l| (l.key.clone(), l.at_ms.to_bits()) let:letter>
                    <DeadLetterRow letter=letter />
                </For>
            </ul>
        </section>
    }
}

/// One dead letter, with its own Inspect, Retry and Discard.
#[component]
fn DeadLetterRow(letter: DeadLetter) -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let sources = expect_context::<Sources>();
    let inspected = expect_context::<Inspected>();
    let key = letter.key.clone();
    let (retry_key, discard_key) = (key.clone(), key.clone());
    let meta = format!(
        "{} attempt{} · {}{}",
        letter.attempts,
        if letter.attempts == 1 { "" } else { "s" },
        clock_time(letter.at_ms),
        letter
            .by
            .as_ref()
            .map(|by| format!(" · by {by}"))
            .unwrap_or_default()
    );
    let reason = letter.reason.clone();
    let inspect = move |_| {
        if let Some(table) = sources.chosen_name_untracked() {
            inspected.show(inspection_of(table, &letter));
        }
    };
    let retry = move |_| drain.send(Intent::Redeliver(vec![retry_key.clone()]));
    let discard = move |_| {
        if confirm(&format!(
            "Discard dead letter {discard_key}? It will not be delivered again."
        )) {
            drain.send(Intent::Discard(vec![discard_key.clone()]));
        }
    };
    view! {
        <li class="dead-letter">
            <span class="dead-letter__key">{key.clone()}</span>
            <span class="dead-letter__reason">{reason}</span>
            <span class="dead-letter__meta">{meta}</span>
            <span class="dead-letter__actions">
                <button type="button" class="button button--small" aria-label=format!("Inspect dead letter {key}") on:click=inspect>"Inspect"</button>
                <button type="button" class="button button--small" aria-label=format!("Retry {key}") on:click=retry>"Retry"</button>
                <button type="button" class="button button--small" aria-label=format!("Discard {key}") on:click=discard>"Discard"</button>
            </span>
        </li>
    }
}
