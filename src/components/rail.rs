use leptos::prelude::*;
use sluice_core::drain::Admission;
use sluice_core::gate::{GateState, GateView};
use sluice_core::realtime::Target;
use sluice_core::source::unorderable_note;

use super::format::clock_time;
use super::inspector::{Inspected, Inspection};
use super::state::{DrainHandle, Sources};
use crate::runner::{Condition, Intent};

/// Lanes shown as pills, one row each; busy lanes beyond them are counted.
const PILL_ROWS: usize = 4;

/// Shows the event a lane carries in the inspector.
fn inspect(lane: &GateView) {
    let sources = expect_context::<Sources>();
    let inspected = expect_context::<Inspected>();
    let (Some(table), Some(event)) = (sources.chosen_name_untracked(), &lane.event) else {
        return;
    };
    inspected.show(Inspection {
        table,
        key: event.key.clone(),
        place: "gate",
        facts: vec![
            ("Type", event.label.clone()),
            ("State", lane.state.name().to_string()),
            ("Agent says", lane.message.clone().unwrap_or_default()),
        ],
        signals: Vec::new(),
        row: None,
    });
}

/// Source → Gate → Drain. Each node is a named region, so a screen reader
/// and a browser test find the same three places. Each lane's pill carries
/// its lane's event: it enters at the source (CSS `@starting-style`), sits
/// at the gate while the agent works, and moves to the drain when the agent
/// is done. Its position follows its own lane's state; no timer and no
/// other lane moves it. The gate node speaks for all lanes: the busiest
/// (see `sluice_core::gate::speaking_lane`).
#[component]
pub fn Rail() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let view = move || drain.view();
    let sources = expect_context::<Sources>();
    let table = move || sources.chosen_name();
    let operator_email = move || {
        sources.session.with(|s| {
            s.as_ref()
                .and_then(|s| s.operator_email().map(str::to_string))
        })
    };
    // "live", or "polling every 2 s: why" (Realtime is only a wake-up).
    let mode = move || {
        let target = sources.chosen.with(|c| c.as_ref().map(Target::of))?;
        let rate = drain.rate.get().in_words();
        Some(view().live.with(|mode| mode.describe(&target, &rate)))
    };
    let gate = Memo::new(move |_| view().speaking_lane());
    let inspect_gate = move || gate.with_untracked(inspect);
    let paused = move || view().admission.get() != Admission::Open;
    let offline = move || {
        matches!(
            view().condition.get(),
            Condition::Retrying(_) | Condition::Halted(_)
        )
    };
    let state = move || gate.with(|g| g.shown(paused(), offline()).name());
    let pill_rows = move || view().lanes_shown.get().min(PILL_ROWS);
    // Busy lanes without a pill row of their own.
    let more = move || {
        view().lanes[PILL_ROWS..view().lanes_shown.get().max(PILL_ROWS)]
            .iter()
            .filter(|lane| lane.with(|g| g.state.is_busy()))
            .count()
    };
    let percent = move || {
        gate.with(|g| {
            (g.state == GateState::Processing)
                .then_some(g.progress)
                .flatten()
                .map(|p| (p * 100.0).round() as u32)
        })
    };
    let announcement = Memo::new(move |_| {
        gate.with(|g| g.announcement(view().queued.get() > 0))
            .unwrap_or_default()
    });
    view! {
        <p class="visually-hidden" aria-live="polite" aria-atomic="true">{move || announcement.get()}</p>
        <div class="rail" class:rail--lanes=move || { view().lanes_shown.get() > 1 }
            style:--pill-rows=move || pill_rows().to_string()>
            <section class="node node--source" aria-label="Source">
                <h2 class="node__title">"Source"</h2>
                <p class="node__detail node__table" title=table>{move || match table() {
                    // A break opportunity after each underscore, so long
                    // names wrap between words ("staff_room_" / "events").
                    Some(name) => name.split_inclusive('_').map(|part| view! { {part.to_string()}<wbr /> }).collect_view().into_any(),
                    None => "No table selected".into_any(),
                }}</p>
                {move || mode().map(|mode| {
                    let live = mode == "live";
                    view! { <p class="node__detail node__mode" class:node__mode--live=live>{mode}</p> }
                })}
                {move || unorderable_note(view().unorderable.get()).map(|note| view! {
                    <p class="node__detail node__warning" role="note">{note}</p>
                })}
                <p class="node__detail node__count">
                    {move || match view().next_up.get() {
                        Some(next) => format!("next: {} ({} waiting)", next.initials, view().queued.get()),
                        // A queue's length comes from the metrics function
                        // the README's recipe adds.
                        None if sources.queue_chosen() => {
                            let waiting = view().backlog.with(|b| b.estimate(view().handled.get()));
                            match waiting {
                                Some(n) => format!("queue · {n} waiting"),
                                None if view().metrics_missing.get() => {
                                    "queue · length unknown: add sluice_queue_metrics (docs/queues.md)".to_string()
                                }
                                None => "queue · length unknown".to_string(),
                            }
                        }
                        // Policies that hide every row look like an empty
                        // table: say so until something was handled.
                        None => match operator_email() {
                            Some(email) if view().handled.get() == 0 && view().last_read_ms.get().is_some() => format!(
                                "nothing visible to {email}: if the table has rows, the project's policies hide them from this operator"
                            ),
                            _ => "nothing waiting".to_string(),
                        },
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
                <Show when=move || { more() > 0 }>
                    <p class="node__detail gate__more" aria-label=move || format!("{} more events at the gate", more())>
                        {move || format!("+{}", more())}
                    </p>
                </Show>
            </section>
            <div class="rail__track" aria-hidden="true"></div>
            <section class="node node--drain" aria-label="Drain">
                <h2 class="node__title">"Drain"</h2>
                <p class="node__detail">{move || format!("{} drained", view().handled.get())}</p>
                <p class="node__detail node__count">
                    {move || match view().dead_letters.with(Vec::len) {
                        0 => String::new(),
                        n => format!("(of which {n} dead-lettered)"),
                    }}
                </p>
            </section>
            {move || (0..pill_rows()).map(|lane| view! { <LanePill lane=lane /> }).collect_view()}
        </div>
    }
}

/// The pill of one lane, in its own row of the rail.
#[component]
fn LanePill(lane: usize) -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let gate = move || drain.view().lanes[lane];
    let at = move || {
        gate().with(|g| match g.state {
            GateState::Passed | GateState::Rejected => "drain",
            _ => "gate",
        })
    };
    let event = Memo::new(move |_| gate().with(|g| g.event.clone()));
    // Keyed by the event: each event gets a pill of its own that enters at
    // the source, and no pill is reused for the next event (it would slide
    // back from the drain to the gate).
    view! {
        <For each=move || event.get() key=|event| event.key.clone() let:event>
            <div
                class="pill"
                role="img"
                aria-label=format!("Event {} ({})", event.key, event.label)
                data-at=at
                data-state=move || gate().with(|g| g.state.name())
                data-key=event.key.clone()
                data-lane=lane
                style:--lane=lane.to_string()
                on:click=move |_| gate().with_untracked(inspect)
            >
                {event.initials.clone()}
            </div>
        </For>
    }
}
