//! One event at the gate, from admission to the agent's final signal. The
//! gate's view changes only on the agent's signals and the attempts' results;
//! no timer moves it. Nothing is stored here: the loop records the result.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::agent::{AgentSettings, Attempt, Signal as AgentSignal, DELIVERY_BACKOFF};
use sluice_core::gate::{Badge, GateView};
use sluice_core::history::{self, Outcome};
use sluice_core::source::Event;
use std::cell::RefCell;

use super::drive::{now_ms, random, Context};
use crate::browser::agent_client;

/// An event the agent is done with (passed, or to be dead-lettered).
pub(super) struct Delivered {
    pub event: Event,
    pub badge: Badge,
    pub outcome: Outcome,
    pub attempts: u32,
    pub admitted_ms: f64,
    /// What the agent said, in order (bounded).
    pub signals: Vec<String>,
}

/// Takes the event to the gate and hands it to the agent (or lets it pass
/// through) until the agent's final signal; `None` when the runner stopped
/// between two attempts (the event stays unhandled).
pub(super) async fn deliver(context: &Context, event: Event) -> Option<Delivered> {
    let badge = Badge::of(&event.key, &event.row, context.source.table.as_str());
    let admitted = GateView::admit(badge.clone());
    context.show_gate(|g| *g = admitted);
    let admitted_ms = now_ms();
    let settings = context.agent.get_untracked();
    let signals = RefCell::new(Vec::new());
    let (outcome, attempts) = if settings.pass_through() {
        context.show_gate(|g| {
            g.message = Some("pass-through: no agent configured".into());
            g.passed();
        });
        (Outcome::PassedThrough, 1)
    } else {
        attempt_until_final(context, &event, &settings, &signals).await?
    };
    Some(Delivered {
        event,
        badge,
        outcome,
        attempts,
        admitted_ms,
        signals: signals.into_inner(),
    })
}

/// Hands the event to the agent until it passes, is refused, or attempts
/// run out; `None` if the runner stops between two attempts.
async fn attempt_until_final(
    context: &Context,
    event: &Event,
    settings: &AgentSettings,
    signals: &RefCell<Vec<String>>,
) -> Option<(Outcome, u32)> {
    let count_attempt = |ok: bool| {
        context
            .view
            .note(|journal| journal.metrics.record_attempt(now_ms(), ok))
    };
    let say = |signal: String| history::push_signal(&mut signals.borrow_mut(), signal);
    let table = context.source.table.as_str();
    let attempts = settings.attempts.get();
    let mut backoff = DELIVERY_BACKOFF;
    let mut attempt = 1;
    loop {
        context.show_gate(|g| g.attempting(attempt));
        let on_signal = |signal: AgentSignal| {
            if let AgentSignal::Processing { progress, message } = signal {
                say(match (&message, progress) {
                    (Some(m), _) => m.clone(),
                    (None, Some(p)) => format!("{:.0} %", p * 100.0),
                    (None, None) => "processing".into(),
                });
                context.show_gate(|g| g.processing(progress, message));
            }
        };
        let (reason, retry_after) =
            match agent_client::attempt(settings, table, event, &on_signal).await {
                Attempt::Passed => {
                    count_attempt(true);
                    say("done".into());
                    context.show_gate(GateView::passed);
                    return Some((Outcome::Passed, attempt));
                }
                Attempt::Rejected(reason) => {
                    count_attempt(false);
                    say(format!("failed: {reason}"));
                    context.show_gate(|g| g.rejected(reason.clone()));
                    return Some((Outcome::Rejected(reason), attempt));
                }
                Attempt::Failed {
                    reason,
                    retry_after,
                } => (reason, retry_after),
            };
        count_attempt(false);
        say(format!("attempt {attempt}: {reason}"));
        if attempt >= attempts {
            let reason = format!("gave up after {attempt} attempts: {reason}");
            context.show_gate(|g| g.rejected(reason.clone()));
            return Some((Outcome::Rejected(reason), attempt));
        }
        let wait = backoff.fail(retry_after, random());
        let wait_ms = wait.as_secs_f64() * 1000.0;
        let retry_at_ms = now_ms() + wait_ms;
        context.show_gate(|g| g.retrying(reason, attempt + 1, retry_at_ms));
        // Looked at every tenth of a second: a stop ends the wait.
        while now_ms() < retry_at_ms {
            if context.stopping.get() {
                return None;
            }
            TimeoutFuture::new((retry_at_ms - now_ms()).clamp(0.0, 100.0) as u32).await;
        }
        if context.stopping.get() {
            return None;
        }
        attempt += 1;
    }
}
