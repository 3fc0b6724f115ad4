use leptos::prelude::*;
use sluice_core::alert_thresholds::AlertThresholds;

use super::state::{DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::runner::Intent;

/// The table's lag and error-rate alert limits. The form is built afresh
/// for each table's limits (the runner reads them when it starts).
#[component]
pub fn AlertSettings() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    move || view! { <AlertForm current=drain.view().alert_thresholds.get() /> }
}

#[component]
fn AlertForm(current: AlertThresholds) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let drain = expect_context::<DrainHandle>();
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
            Ok(()) => drain.send(Intent::AlertThresholds(chosen)),
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
