use leptos::prelude::*;
use sluice_core::dead_letters::DeadLetter;

use super::confirm;
use super::history::clock_time;

/// What the operator can do with dead letters; each takes the keys it touches.
#[derive(Clone, Copy)]
pub struct DeadLetterIntents {
    /// Back through the gate, with the same Idempotency-Key.
    pub retry: Callback<Vec<String>>,
    pub discard: Callback<Vec<String>>,
    pub export: Callback<()>,
    pub inspect: Callback<DeadLetter>,
}

/// The table's dead letters, with per-letter and bulk actions. Bulk actions
/// act on the letters shown (after the filter), say how many, and ask first.
#[component]
pub fn DeadLetterPanel(
    letters: RwSignal<Vec<DeadLetter>>,
    filter: Signal<String>,
    intents: DeadLetterIntents,
) -> impl IntoView {
    let shown = Memo::new(move |_| {
        let filter = filter.get().trim().to_lowercase();
        letters.with(|list| {
            list.iter()
                .rev()
                .filter(|l| {
                    filter.is_empty()
                        || l.key.to_lowercase().contains(&filter)
                        || l.reason.to_lowercase().contains(&filter)
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let shown_keys = move || shown.with(|s| s.iter().map(|l| l.key.clone()).collect::<Vec<_>>());
    let count = move || shown.with(Vec::len);
    let retry_all = move |_| {
        let keys = shown_keys();
        if confirm(&format!(
            "Send {} dead letters back to the agent?",
            keys.len()
        )) {
            intents.retry.run(keys);
        }
    };
    let discard_all = move |_| {
        let keys = shown_keys();
        if confirm(&format!(
            "Discard {} dead letters? They stay handled and will not be delivered again.",
            keys.len()
        )) {
            intents.discard.run(keys);
        }
    };
    view! {
        <section class="panel dead-letters" aria-label="Dead letters">
            <div class="panel__head">
                <h2 class="panel__title">{move || format!("Dead letters ({})", letters.with(Vec::len))}</h2>
                <div class="panel__actions">
                    <button type="button" class="button button--small" disabled=move || count() == 0 on:click=retry_all>
                        {move || format!("Retry all {}", count())}
                    </button>
                    <button type="button" class="button button--small" disabled=move || count() == 0 on:click=discard_all>
                        {move || format!("Discard all {}", count())}
                    </button>
                    <button type="button" class="button button--small" disabled=move || letters.with(Vec::is_empty)
                        on:click=move |_| intents.export.run(())>
                        "Export JSON"
                    </button>
                </div>
            </div>
            <Show when=move || count() == 0>
                <p class="panel__empty">"No dead letters."</p>
            </Show>
            <ul class="dead-letters__list">
                <For each=move || shown.get() key=|l| (l.key.clone(), l.at_ms.to_bits()) let:letter>
                    {
                        let key = letter.key.clone();
                        let (retry_key, discard_key) = (key.clone(), key.clone());
                        let inspected = letter.clone();
                        view! {
                            <li class="dead-letter">
                                <span class="dead-letter__key">{key.clone()}</span>
                                <span class="dead-letter__reason">{letter.reason.clone()}</span>
                                <span class="dead-letter__meta">
                                    {format!("{} attempt{} · {}", letter.attempts, if letter.attempts == 1 { "" } else { "s" }, clock_time(letter.at_ms))}
                                </span>
                                <span class="dead-letter__actions">
                                    <button type="button" class="button button--small" aria-label=format!("Inspect dead letter {key}")
                                        on:click=move |_| intents.inspect.run(inspected.clone())>"Inspect"</button>
                                    <button type="button" class="button button--small" aria-label=format!("Retry {key}")
                                        on:click=move |_| intents.retry.run(vec![retry_key.clone()])>"Retry"</button>
                                    <button type="button" class="button button--small" aria-label=format!("Discard {key}")
                                        on:click=move |_| if confirm(&format!("Discard dead letter {discard_key}? It will not be delivered again.")) {
                                            intents.discard.run(vec![discard_key.clone()]);
                                        }>"Discard"</button>
                                </span>
                            </li>
                        }
                    }
                </For>
            </ul>
        </section>
    }
}
