use leptos::prelude::*;
use sluice_core::agent::{AgentSettings, Destination};
use sluice_core::drain::MAX_LANES;
use sluice_core::source::Identifier;
use std::num::NonZeroU32;

use super::state::{DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::browser::agent_store;
use crate::runner::Intent;

/// Where the gate sends events: "Agent URL" or, as an explicit choice,
/// "Pass-through (no agent)"; token, timeout, attempts, lanes, and the
/// table's partition key. The form is built afresh from the settings each
/// time they change, so it always starts from what is in force.
#[component]
pub fn AgentSettingsForm() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    move || {
        view! { <AgentForm current=drain.agent.get() partition_key=drain.view().partition_key.get() /> }
    }
}

/// The partition key as typed: empty for none.
fn parse_partition_key(typed: &str) -> Result<Option<Identifier>, String> {
    let typed = typed.trim();
    if typed.is_empty() {
        return Ok(None);
    }
    Identifier::parse(typed).map(Some).map_err(|_| {
        format!("The partition key {typed:?} is not a column name (letters, digits and _, starting with a letter or _).")
    })
}

#[component]
fn AgentForm(current: AgentSettings, partition_key: Option<Identifier>) -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let agent = drain.agent;
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let pass_through = RwSignal::new(current.pass_through);
    let destination = match current.destination() {
        Destination::Agent(_) => "",
        Destination::PassThrough => "Pass-through: events pass the gate without an agent.",
        Destination::Unchosen => {
            "No agent chosen: nothing drains until you enter an Agent URL or tick Pass-through."
        }
    };
    let connection_note = current.connection_note();
    let url = RwSignal::new(current.url);
    let token = RwSignal::new(current.token);
    let timeout = RwSignal::new(current.timeout_s.to_string());
    let attempts = RwSignal::new(current.attempts.to_string());
    let lanes = RwSignal::new(current.lanes.to_string());
    let partition = RwSignal::new(
        partition_key
            .map(|key| key.as_str().to_string())
            .unwrap_or_default(),
    );
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
            let lanes = NonZeroU32::new(number(lanes.get(), "Lanes")?)
                .ok_or(format!("Lanes must be between 1 and {MAX_LANES}."))?;
            Ok(AgentSettings {
                url: url.get(),
                pass_through: pass_through.get(),
                token: token.get(),
                timeout_s,
                attempts,
                lanes,
            })
        });
        let checked = typed
            .and_then(AgentSettings::validate)
            .and_then(|valid| Ok((valid, parse_partition_key(&partition.get())?)));
        match checked {
            Ok((valid, partition_key)) => {
                if let Err(error) = agent_store::save(&valid) {
                    alerts.show(error);
                }
                if let Some(store) = sources.store.get_untracked() {
                    if let Err(error) = store.save_partition_key(partition_key.as_ref()) {
                        alerts.show(error);
                    }
                    drain.send(Intent::PartitionKey(partition_key));
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
            <label>
                "Lanes"
                <input type="number" name="agent-lanes" min="1" max=MAX_LANES bind:value=lanes />
            </label>
            // Per table: the events of one value never overlap at the gate.
            <label title="A column of this table: events with the same value never overlap and pass in order. Empty: events may finish in any order.">
                "Partition key"
                <input type="text" name="agent-partition-key" placeholder="none" spellcheck="false"
                    disabled=move || sources.store.with(Option::is_none) bind:value=partition />
            </label>
            <button type="submit" class="button">"Save agent"</button>
            <span class="agent__mode">{destination}</span>
            {connection_note.map(|note| view! { <p class="agent__note" role="note">{note}</p> })}
        </form>
    }
}
