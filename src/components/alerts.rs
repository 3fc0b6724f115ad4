use leptos::prelude::*;

/// Errors the operator must see. The region exists from the first render so
/// that screen readers are already listening when its text changes.
#[derive(Clone, Copy)]
pub struct Alerts(RwSignal<Option<String>>);

impl Default for Alerts {
    fn default() -> Self {
        Self(RwSignal::new(None))
    }
}

impl Alerts {
    pub fn show(self, message: impl ToString) {
        self.0.set(Some(message.to_string()));
    }

    pub fn clear(self) {
        self.0.set(None);
    }
}

#[component]
pub fn AlertRegion(alerts: Alerts) -> impl IntoView {
    view! {
        <div class="alert" role="alert" class:alert--empty=move || alerts.0.with(Option::is_none)>
            <span>{move || alerts.0.get().unwrap_or_default()}</span>
            <Show when=move || alerts.0.with(Option::is_some)>
                <button type="button" class="alert__dismiss" on:click=move |_| alerts.clear()>
                    "Dismiss"
                </button>
            </Show>
        </div>
    }
}
