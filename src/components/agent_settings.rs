use leptos::prelude::*;
use sluice_core::agent::AgentSettings;

use super::alerts::Alerts;

/// Where the gate sends events: "Agent URL" (empty: pass-through), token,
/// timeout and attempts. Saved only when valid.
#[component]
pub fn AgentSettingsForm(
    settings: RwSignal<AgentSettings>,
    on_save: Callback<AgentSettings>,
    alerts: Alerts,
) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let token = RwSignal::new(String::new());
    let timeout = RwSignal::new(String::new());
    let attempts = RwSignal::new(String::new());
    Effect::new(move |_| {
        let current = settings.get();
        url.set(current.url);
        token.set(current.token);
        timeout.set(current.timeout_s.to_string());
        attempts.set(current.attempts.to_string());
    });
    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |text: String, what: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| format!("{what} must be a whole number."))
        };
        let typed = number(timeout.get(), "The agent timeout").and_then(|timeout_s| {
            Ok(AgentSettings {
                url: url.get(),
                token: token.get(),
                timeout_s,
                attempts: number(attempts.get(), "Attempts")?,
            })
        });
        match typed.and_then(AgentSettings::validate) {
            Ok(valid) => on_save.run(valid),
            Err(message) => alerts.show(message),
        }
    };
    view! {
        <form class="agent" aria-label="Agent settings" novalidate on:submit=save>
            <label class="agent__url">
                "Agent URL"
                <input type="url" name="agent-url" placeholder="empty: pass-through" bind:value=url />
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
            <span class="agent__mode">
                {move || if settings.with(AgentSettings::pass_through) { "Pass-through: events pass the gate without an agent." } else { "" }}
            </span>
        </form>
    }
}
