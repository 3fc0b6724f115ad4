use leptos::prelude::*;
use sluice_core::gate::GateState;

/// Source → Gate → Drain. Each node is a named region, so a screen reader
/// and a browser test find the same three places.
#[component]
pub fn Rail(gate: Signal<GateState>) -> impl IntoView {
    view! {
        <div class="rail">
            <section class="node node--source" aria-label="Source">
                <h2 class="node__title">"Source"</h2>
                <p class="node__detail">"No table selected"</p>
            </section>
            <div class="rail__track" aria-hidden="true"></div>
            <section class="node node--gate" aria-label="Gate" data-state=move || gate.get().name()>
                <h2 class="node__title">"Gate"</h2>
                <p class="node__detail">{move || gate.get().name()}</p>
            </section>
            <div class="rail__track" aria-hidden="true"></div>
            <section class="node node--drain" aria-label="Drain">
                <h2 class="node__title">"Drain"</h2>
                <p class="node__detail">"0 drained"</p>
            </section>
        </div>
    }
}
