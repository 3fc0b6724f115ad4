use leptos::prelude::*;
use sluice_core::gate::GateState;
use sluice_core::rate::ConsumptionRate;
use sluice_core::storage_keys;

use super::alerts::{AlertRegion, Alerts};
use super::controls::{PauseButton, RateSlider};
use super::login::{remembered_session, LoginArea};
use super::rail::Rail;
use crate::browser::runtime_config;
use crate::browser::storage::{self, Store};

/// The page: header with the login area, the rail, its controls and alerts.
#[component]
pub fn App() -> impl IntoView {
    let alerts = Alerts::new();
    let rate = RwSignal::new(remembered_rate(alerts));
    let session = RwSignal::new(remembered_session(alerts));
    let default_project_url = RwSignal::new(None::<String>);
    leptos::task::spawn_local(async move {
        match runtime_config::fetch().await {
            Ok(config) => default_project_url.set(config.project_url),
            Err(message) => alerts.show(message),
        }
    });
    let paused = RwSignal::new(false);
    let gate = Signal::derive(move || {
        if paused.get() {
            GateState::Paused
        } else {
            GateState::Idle
        }
    });

    let choose_rate = move |chosen: ConsumptionRate| {
        rate.set(chosen);
        if let Err(error) = storage::save(Store::Local, &storage_keys::consumption_rate(), &chosen)
        {
            alerts.show(error);
        }
    };

    view! {
        <header class="header">
            <h1 class="header__title">"Sluice"</h1>
            <LoginArea session=session default_project_url=default_project_url.read_only() alerts=alerts />
        </header>
        <main class="main">
            <Rail gate=gate />
            <section class="controls" aria-label="Controls">
                <RateSlider rate=rate.read_only() on_change=choose_rate />
                <PauseButton paused=paused />
            </section>
            <AlertRegion alerts=alerts />
        </main>
    }
}

/// The rate chosen in an earlier visit, or the default with a message when
/// what is stored cannot be read.
fn remembered_rate(alerts: Alerts) -> ConsumptionRate {
    match storage::load(Store::Local, &storage_keys::consumption_rate()) {
        Ok(found) => found.unwrap_or_default(),
        Err(error) => {
            alerts.show(error);
            ConsumptionRate::default()
        }
    }
}
