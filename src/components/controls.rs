use leptos::prelude::*;
use sluice_core::drain::Admission;
use sluice_core::rate::ConsumptionRate;

use crate::runner::{Condition, DrainView};

/// The "Consumption rate" slider, with its value in words beside it.
#[component]
pub fn RateSlider(
    rate: ReadSignal<ConsumptionRate>,
    on_change: impl Fn(ConsumptionRate) + 'static,
) -> impl IntoView {
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
                        on_change(chosen);
                    }
                }
            />
            <output for="consumption-rate" class="rate__words">{words}</output>
        </div>
    }
}

/// What the operator can do to the drain.
#[derive(Clone, Copy)]
pub struct DrainIntents {
    pub pause: Callback<()>,
    pub resume: Callback<()>,
    pub step: Callback<()>,
    pub watch_only: Callback<bool>,
}

/// "Pause" lets the event at the gate finish and admits no more; "Step"
/// admits exactly one while paused; "Watch only" reads without draining.
#[component]
pub fn DrainControls(view: DrainView, intents: DrainIntents) -> impl IntoView {
    let paused = move || view.admission.get() != Admission::Open;
    view! {
        <div class="drain-controls">
            <button
                type="button"
                class="button"
                on:click=move |_| if paused() { intents.resume.run(()) } else { intents.pause.run(()) }
            >
                {move || if paused() { "Resume" } else { "Pause" }}
            </button>
            <button type="button" class="button" disabled=move || !paused() on:click=move |_| intents.step.run(())>
                "Step"
            </button>
            <label class="check">
                <input
                    type="checkbox"
                    prop:checked=move || view.watch_only.get()
                    on:change=move |ev| intents.watch_only.run(event_target_checked(&ev))
                />
                "Watch only"
            </label>
        </div>
    }
}

/// When the source was last read, and anything holding the drain back.
#[component]
pub fn DrainStatus(
    view: DrainView,
    now_ms: ReadSignal<f64>,
    tab_hidden: ReadSignal<bool>,
) -> impl IntoView {
    let updated = move || match view.last_read_ms.get() {
        None => "not read yet".to_string(),
        Some(at) => {
            let seconds = ((now_ms.get() - at) / 1000.0).max(0.0).round() as u64;
            if seconds == 0 {
                "updated just now".into()
            } else {
                format!("updated {seconds} s ago")
            }
        }
    };
    let condition = move || {
        match view.condition.get() {
        Condition::Idle => "Log in and choose a source to start.".to_string(),
        Condition::Starting => "Starting…".to_string(),
        Condition::OtherTabDraining => {
            "Another tab of this browser is draining this table; this tab watches and takes over when that tab closes.".to_string()
        }
        Condition::Draining if view.watch_only.get() => "Watching only: nothing is drained.".to_string(),
        Condition::Draining => String::new(),
        Condition::Retrying(message) | Condition::Halted(message) => message,
    }
    };
    view! {
        <p class="status" role="status" aria-live="polite">
            <span class="status__updated">{updated}</span>
            <span class="status__condition">{condition}</span>
            <Show when=move || tab_hidden.get()>
                <span class="status__hidden">
                    "This tab is hidden: the browser may slow idle polling to once a minute (a backlog keeps draining)."
                </span>
            </Show>
        </p>
    }
}
