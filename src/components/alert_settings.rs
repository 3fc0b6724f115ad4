use leptos::prelude::*;
use sluice_core::alert_thresholds::AlertThresholds;

use super::state::Sources;
use crate::alerts::Alerts;

/// The chosen table's alert limits, as stored.
#[derive(Clone, Copy)]
pub struct Thresholds {
    pub current: Signal<AlertThresholds>,
    /// Notified when they are saved, so they are read again.
    saved: Trigger,
}

impl Thresholds {
    /// Reads the chosen table's limits when the table changes or they are saved.
    pub fn provide() {
        let sources = expect_context::<Sources>();
        let alerts = expect_context::<Alerts>();
        let saved = Trigger::new();
        let stored = LocalResource::new(move || {
            saved.track();
            let store = sources.store.get();
            async move {
                store
                    .map(|s| s.alert_thresholds())
                    .unwrap_or(Ok(AlertThresholds::default()))
                    .unwrap_or_else(|error| {
                        alerts.show(error);
                        AlertThresholds::default()
                    })
            }
        });
        let current = Signal::derive(move || stored.get().unwrap_or_default());
        provide_context(Self { current, saved });
    }
}

/// The table's lag and error-rate alert limits. The form is built afresh
/// for each table's limits.
#[component]
pub fn AlertSettings() -> impl IntoView {
    let thresholds = expect_context::<Thresholds>();
    move || view! { <AlertForm current=thresholds.current.get() saved=thresholds.saved /> }
}

#[component]
fn AlertForm(current: AlertThresholds, saved: Trigger) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let text = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let lag = RwSignal::new(text(current.max_lag_seconds));
    let rate = RwSignal::new(text(current.max_error_percent));
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let chosen = match AlertThresholds::parse(&lag.get_untracked(), &rate.get_untracked()) {
            Ok(chosen) => chosen,
            Err(message) => return error.set(Some(message)),
        };
        error.set(None);
        let Some(store) = sources.store.get_untracked() else {
            return alerts
                .show("Log in and choose a table first: alert limits are kept per table.");
        };
        match store.save_alert_thresholds(&chosen) {
            Ok(()) => saved.notify(),
            Err(problem) => alerts.show(problem),
        }
    };
    view! {
        <form class="alert-settings" aria-label="Alert limits" on:submit=submit novalidate>
            <label>"Lag alert (seconds)" <input type="number" min="1" bind:value=lag placeholder="off" /></label>
            <label>"Error rate alert (%)" <input type="number" min="1" max="100" bind:value=rate placeholder="off" /></label>
            <button type="submit" class="button">"Save limits"</button>
            <p class="form__error">{move || error.get().unwrap_or_default()}</p>
        </form>
    }
}
