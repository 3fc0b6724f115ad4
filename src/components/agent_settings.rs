use leptos::prelude::*;
use sluice_core::agent::{AgentSettings, Destination};
use std::num::NonZeroU32;

use super::state::DrainHandle;
use crate::alerts::Alerts;
use crate::browser::agent_store;

/// Where the gate sends events: "Agent URL" or, as an explicit choice,
/// "Pass-through (no agent)"; token, timeout and attempts. The form is built afresh from the settings each
/// time they change, so it always starts from what is in force.
#[component]
pub fn AgentSettingsForm() -> impl IntoView {
    let agent = expect_context::<DrainHandle>().agent;
    move || view! { <AgentForm current=agent.get() /> }
}

#[component]
fn AgentForm(current: AgentSettings) -> impl IntoView {
    let agent = expect_context::<DrainHandle>().agent;
    let alerts = expect_context::<Alerts>();
    let pass_through = RwSignal::new(current.pass_through);
    let destination = match current.destination() {
        Destination::Agent(_) => "",
        Destination::PassThrough => "Pass-through: events pass the gate without an agent.",
        Destination::Unchosen => {
            "No agent chosen: nothing drains until you enter an Agent URL or tick Pass-through."
        }
    };
    let url = RwSignal::new(current.url);
    let token = RwSignal::new(current.token);
    let timeout = RwSignal::new(current.timeout_s.to_string());
    let attempts = RwSignal::new(current.attempts.to_string());
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |text: String, what: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} must be a whole number."))
        };
        let typed = number(timeout.get(), "The agent timeout").and_then(|timeout_s| {
            let attempts = NonZeroU32::new(number(attempts.get(), "Attempts")?)
                .ok_or("Attempts must be between 1 and 20.")?;
            Ok(AgentSettings {
                url: url.get(),
                pass_through: pass_through.get(),
                token: token.get(),
                timeout_s,
                attempts,
            })
        });
        match typed.and_then(AgentSettings::validate) {
            Ok(valid) => {
                if let Err(error) = agent_store::save(&valid) {
                    alerts.show(error);
                }
                agent.set(valid);
            }
            Err(message) => alerts.show(message),
        }
    };
    view! {
        <form class="agent" aria-label="Agent settings" novalidate on:submit=save>
            <label class="agent__url">
                "Agent URL"
                <input type="url" name="agent-url" placeholder="https://…" bind:value=url />
            </label>
            <label class="agent__pass-through">
                <input type="checkbox" name="agent-pass-through" bind:checked=pass_through />
                "Pass-through (no agent)"
            </label>
            <label>
                "Token"
                <input type="password" name="agent-token" autocomplete="off" bind:value=token />
            </label>
            <label>
                "Timeout (s)"
                <input type="number" name="agent-timeout" min="1" max="600" bind:value=timeout />
            </label>
            <label>
                "Attempts"
                <input type="number" name="agent-attempts" min="1" max="20" bind:value=attempts />
            </label>
            <button type="submit" class="button">"Save agent"</button>
            <span class="agent__mode">{destination}</span>
        </form>
    }
}
