use leptos::prelude::*;

use crate::alerts::Alerts;

/// The region exists from the first render so that screen readers are
/// already listening when its text changes.
#[component]
pub fn AlertRegion() -> impl IntoView {
    let alerts = expect_context::<Alerts>();
    view! {
        <div class="alert" role="alert" class:alert--empty=move || alerts.is_empty()>
            <span>{move || alerts.message().unwrap_or_default()}</span>
            <Show when=move || !alerts.is_empty()>
                <button type="button" class="alert__dismiss" on:click=move |_| alerts.clear()>
                    "Dismiss"
                </button>
            </Show>
        </div>
    }
}
