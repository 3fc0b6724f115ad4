use leptos::prelude::*;
use sluice_core::rate::ConsumptionRate;

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
                    let chosen = event_target_value(&ev)
                        .parse()
                        .ok()
                        .and_then(ConsumptionRate::from_position);
                    if let Some(chosen) = chosen {
                        on_change(chosen);
                    }
                }
            />
            <output for="consumption-rate" class="rate__words">{words}</output>
        </div>
    }
}

/// "Pause" stops admitting events; "Resume" lets them through again.
#[component]
pub fn PauseButton(paused: RwSignal<bool>) -> impl IntoView {
    view! {
        <button type="button" class="button" on:click=move |_| paused.update(|p| *p = !*p)>
            {move || if paused.get() { "Resume" } else { "Pause" }}
        </button>
    }
}
