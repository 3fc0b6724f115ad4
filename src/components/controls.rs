use leptos::prelude::*;
use sluice_core::metrics::updated_ago;
use sluice_core::rate::ConsumptionRate;
use sluice_core::storage_keys;

use super::state::{remember, Clock, DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::runner::{Condition, Intent};

/// The "Consumption rate" slider, with its value in words beside it.
#[component]
pub fn RateSlider() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let alerts = expect_context::<Alerts>();
    let rate = drain.rate;
    let words = move || rate.get().in_words();
    view! {
        <div class="rate">
            <label for="consumption-rate">"Consumption rate"</label>
            <input
                id="consumption-rate"
                type="range"
                min="0"
                max=ConsumptionRate::MAX_POSITION
                step="1"
                prop:value=move || rate.get().position()
                aria-valuetext=words
                on:input=move |ev| {
                    let chosen = event_target_value(&ev).parse().ok().and_then(ConsumptionRate::from_position);
                    if let Some(chosen) = chosen {
                        rate.set(chosen);
                        remember(&storage_keys::consumption_rate(), &chosen, alerts);
                    }
                }
            />
            <output for="consumption-rate" class="rate__words">{words}</output>
        </div>
    }
}

/// "Pause" lets the event at the gate finish and admits no more; "Step"
/// admits exactly one while paused; "Watch only" reads without draining.
#[component]
pub fn DrainControls() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let sources = expect_context::<Sources>();
    let paused = move || drain.paused();
    view! {
        <div class="drain-controls">
            <button type="button" class="button" on:click=move |_| drain.set_paused(!paused())>
                {move || if paused() { "Resume" } else { "Pause" }}
            </button>
            <button type="button" class="button" disabled=move || !paused() on:click=move |_| drain.send(Intent::Step)>
                "Step"
            </button>
            // A queue's read takes what it reads: there is nothing to watch.
            <Show when=move || !sources.queue_chosen()>
                <label class="check">
                    <input
                        type="checkbox"
                        prop:checked=move || drain.view().watch_only.get()
                        on:change=move |ev| drain.set_watch_only(event_target_checked(&ev))
                    />
                    "Watch only"
                </label>
            </Show>
        </div>
    }
}

/// When the source was last read, and anything holding the drain back.
#[component]
pub fn DrainStatus() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let view = move || drain.view();
    let sources = expect_context::<Sources>();
    let clock = expect_context::<Clock>();
    let tab_hidden = tab_hidden();
    let updated = move || updated_ago(view().last_read_ms.get(), clock.now_ms());
    let condition = move || {
        match view().condition.get() {
        Condition::Idle => "Log in and choose a source to start.".to_string(),
        Condition::Starting => "Starting…".to_string(),
        Condition::OtherTabDraining => {
            "Another tab of this browser is draining this table; this tab watches and takes over when that tab closes.".to_string()
        }
        // Watch only is a table's; the operator's choice stays for the next table.
        Condition::Draining if view().watch_only.get() && !sources.queue_chosen() => "Watching only: nothing is drained.".to_string(),
        Condition::Draining => String::new(),
        Condition::Retrying(message) | Condition::Halted(message) => message,
    }
    };
    view! {
        <p class="status" role="status" aria-live="polite">
            <span class="status__updated">{updated}</span>
            <span class="status__condition">{condition}</span>
            // A queue halts on what the operator can fix in the project (an
            // archive its policies refuse): try again once it is fixed.
            <Show when=move || sources.queue_chosen() && matches!(view().condition.get(), Condition::Halted(_))>
                <button type="button" class="button button--small" on:click=move |_| drain.send(Intent::RetryNow)>
                    "Retry now"
                </button>
            </Show>
            <Show when=move || tab_hidden.get()>
                <span class="status__hidden">
                    "This tab is hidden: the browser may slow idle polling to once a minute (a backlog keeps draining)."
                </span>
            </Show>
        </p>
    }
}

/// Whether the tab is hidden, following the document's `visibilitychange`
/// (what leptos-use's `use_document_visibility` did, with less machinery).
fn tab_hidden() -> ReadSignal<bool> {
    let hidden = || document().visibility_state() == web_sys::VisibilityState::Hidden;
    let (tab_hidden, set_tab_hidden) = signal(hidden());
    let listener = gloo_events::EventListener::new(&document(), "visibilitychange", move |_| {
        set_tab_hidden.set(hidden())
    });
    // Dropped, which removes the listener, when the status goes away.
    StoredValue::new_local(listener);
    tab_hidden
}
