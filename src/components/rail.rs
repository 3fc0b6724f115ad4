use leptos::prelude::*;
use sluice_core::drain::Admission;
use sluice_core::gate::GateState;
use sluice_core::source::unorderable_note;

use super::format::clock_time;
use super::inspector::{Inspected, Inspection};
use super::state::{DrainHandle, Sources};
use crate::runner::{Condition, Intent};

/// Source → Gate → Drain. Each node is a named region, so a screen reader
/// and a browser test find the same three places. One pill carries the
/// current event: it enters at the source (CSS `@starting-style`), sits at
/// the gate while the agent works, and moves to the drain when the agent is
/// done. Its position follows the gate's state; no timer moves it.
#[component]
pub fn Rail() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let view = drain.view;
    let sources = expect_context::<Sources>();
    let inspected = expect_context::<Inspected>();
    let table = move || sources.selected.get();
    let gate = view.gate;
    let inspect_gate = move || {
        let Some(table) = sources.selected.get_untracked() else {
            return;
        };
        gate.with_untracked(|g| {
            if let Some(event) = &g.event {
                inspected.show(Inspection {
                    table,
                    key: event.key.clone(),
                    place: "gate",
                    facts: vec![
                        ("Type", event.label.clone()),
                        ("State", g.state.name().to_string()),
                        ("Agent says", g.message.clone().unwrap_or_default()),
                    ],
                    signals: Vec::new(),
                    row: None,
                });
            }
        });
    };
    let paused = move || view.admission.get() != Admission::Open;
    let offline = move || {
        matches!(
            view.condition.get(),
            Condition::Retrying(_) | Condition::Halted(_)
        )
    };
    let state = move || gate.with(|g| g.shown(paused(), offline()).name());
    let pill_at = move || {
        gate.with(|g| match g.state {
            GateState::Passed | GateState::Rejected => "drain",
            _ => "gate",
        })
    };
    let percent = move || {
        gate.with(|g| {
            (g.state == GateState::Processing)
                .then_some(g.progress)
                .flatten()
                .map(|p| (p * 100.0).round() as u32)
        })
    };
    let at_gate = Memo::new(move |_| gate.with(|g| g.event.clone()));
    let announcement = Memo::new(move |_| {
        gate.with(|g| g.announcement(view.queued.get() > 0))
            .unwrap_or_default()
    });
    view! {
        <p class="visually-hidden" aria-live="polite" aria-atomic="true">{move || announcement.get()}</p>
        <div class="rail">
            <section class="node node--source" aria-label="Source">
                <h2 class="node__title">"Source"</h2>
                <p class="node__detail node__table" title=table>{move || match table() {
                    // A break opportunity after each underscore, so long
                    // names wrap between words ("staff_room_" / "events").
                    Some(name) => name.split_inclusive('_').map(|part| view! { {part.to_string()}<wbr /> }).collect_view().into_any(),
                    None => "No table selected".into_any(),
                }}</p>
                {move || unorderable_note(view.unorderable.get()).map(|note| view! {
                    <p class="node__detail node__warning" role="note">{note}</p>
                })}
                <p class="node__detail node__count">
                    {move || match view.next_up.get() {
                        Some(next) => format!("next: {} ({} waiting)", next.initials, view.queued.get()),
                        None => "nothing waiting".to_string(),
                    }}
                </p>
            </section>
            <div class="rail__track" aria-hidden="true"></div>
            <section class="node node--gate" aria-label="Gate" data-state=state>
                <h2 class="node__title">"Gate"</h2>
                <p class="node__detail node__state">{state}</p>
                <Show when=move || percent().is_some()>
                    <progress class="gate__progress" max="100" value=move || percent().unwrap_or(0)></progress>
                </Show>
                <Show when=move || gate.with(|g| g.event.is_some())>
                    <button type="button" class="button button--small gate__inspect" aria-label="Inspect the event at the gate"
                        on:click=move |_| inspect_gate()>"Inspect"</button>
                </Show>
                <p class="node__detail gate__message">
                    {move || gate.with(|g| {
                        let mut parts = Vec::new();
                        if g.attempt > 1 {
                            parts.push(format!("attempt {}", g.attempt));
                        }
                        if let Some(message) = &g.message {
                            parts.push(message.clone());
                        }
                        if let Some(at) = g.retry_at_ms {
                            parts.push(format!("next try at {}", clock_time(at)));
                        }
                        parts.join(" · ")
                    })}
                </p>
                // The event waits on its agent: the operator may not want to.
                <Show when=move || gate.with(|g| g.event.is_some() && matches!(g.state, GateState::Retrying | GateState::Offline))>
                    <button type="button" class="button button--small" aria-label="Retry the event at the gate now"
                        on:click=move |_| drain.send(Intent::RetryNow)>"Retry now"</button>
                </Show>
            </section>
            <div class="rail__track" aria-hidden="true"></div>
            <section class="node node--drain" aria-label="Drain">
                <h2 class="node__title">"Drain"</h2>
                <p class="node__detail">{move || format!("{} drained", view.handled.get())}</p>
                <p class="node__detail node__count">
                    {move || match view.dead_letters.with(Vec::len) {
                        0 => String::new(),
                        n => format!("(of which {n} dead-lettered)"),
                    }}
                </p>
            </section>
            // Keyed by the event: each event gets a pill of its own that
            // enters at the source, and no pill is reused for the next
            // event (it would slide back from the drain to the gate).
            <For each=move || at_gate.get() key=|event| event.key.clone() let:event>
                <div
                    class="pill"
                    role="img"
                    aria-label=format!("Event {} ({})", event.key, event.label)
                    data-at=pill_at
                    data-state=move || gate.with(|g| g.state.name())
                    data-key=event.key.clone()
                    on:click=move |_| inspect_gate()
                >
                    {event.initials.clone()}
                </div>
            </For>
        </div>
    }
}
