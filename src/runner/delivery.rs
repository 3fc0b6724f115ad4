//! One event at the gate, in its own lane, from admission to the agent's
//! final signal. Its lane's view changes only on the agent's signals for
//! this event and the attempts' results; no timer and no other lane moves it.
//! What follows each attempt is decided by
//! `sluice_core::agent::Patience`; nothing is stored here: the loop records
//! the result.

use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use sluice_core::agent::{
    AgentSettings, Attempt, Destination, Next, Patience, Signal as AgentSignal,
};
use sluice_core::gate::{Badge, GateView};
use sluice_core::history::{self, Entry, Outcome};
use sluice_core::metrics::format_duration_ms;
use sluice_core::queue::may_start_attempt;
use sluice_core::source::Event;
use std::cell::RefCell;
use std::time::Duration;

use super::inbox::timer_millis;
use super::station::{now_ms, random, Station};
use crate::browser::agent_client;

/// An event the agent is done with (passed, or to be dead-lettered).
pub(super) struct Delivered {
    pub event: Event,
    pub report: Report,
}

/// What happened to an event at the gate.
pub(super) struct Report {
    pub badge: Badge,
    pub outcome: Outcome,
    pub attempts: u32,
    pub admitted_ms: f64,
    /// What the agent said, in order (bounded).
    pub signals: Vec<String>,
}

impl Report {
    /// Counts the handled `event` in `station`'s journal: the history's
    /// entry, naming the operator, and the metrics (lag from the event's
    /// timestamp).
    pub fn note_in(self, event: Event, station: &Station) {
        let handled_at_ms = now_ms();
        let timestamp_micros = event.timestamp_micros;
        let entry = Entry {
            serial: 0,
            badge: self.badge,
            row: history::kept_row(event.row, event.row_bytes),
            row_bytes: event.row_bytes,
            timestamp: event.timestamp,
            outcome: self.outcome,
            attempts: self.attempts,
            duration_ms: handled_at_ms - self.admitted_ms,
            handled_at_ms,
            signals: self.signals,
            by: station.session.operator_email().map(str::to_string),
        };
        station.view.note(|journal| {
            journal
                .metrics
                .record_handled(handled_at_ms, timestamp_micros);
            journal.history.push(entry);
        });
    }

    /// Why the agent refused the event, if it did.
    pub fn refusal(&self) -> Option<&String> {
        match &self.outcome {
            Outcome::Rejected(reason) => Some(reason),
            _ => None,
        }
    }
}

/// Takes the event to the gate, in `lane`, and hands it to the agent (or
/// lets it pass through) until the agent's final signal; `None` when the
/// runner stopped while the event waited, or when it was still waiting at
/// `let_go_at_ms` (a queue's message whose visibility timeout ends): it
/// stays unhandled in its source.
pub(super) async fn deliver(
    context: &Station,
    lane: usize,
    serial: u64,
    event: Event,
    let_go_at_ms: Option<f64>,
) -> Option<Delivered> {
    let badge = Badge::of(&event.key, &event.row, context.source_name.as_str());
    let admitted = GateView::admit(badge.clone(), serial);
    context.show_gate(lane, |g| *g = admitted);
    let admitted_ms = now_ms();
    let signals = RefCell::new(Vec::new());
    let lane = Lane {
        context,
        index: lane,
    };
    let (outcome, attempts) = attempt_until_final(&lane, &event, &signals, let_go_at_ms).await?;
    Some(Delivered {
        event,
        report: Report {
            badge,
            outcome,
            attempts,
            admitted_ms,
            signals: signals.into_inner(),
        },
    })
}

/// One lane of the gate: what its event shows goes to its own view.
struct Lane<'a> {
    context: &'a Station,
    index: usize,
}

impl Lane<'_> {
    fn show(&self, change: impl FnOnce(&mut GateView)) {
        self.context.show_gate(self.index, change);
    }
}

/// Why the wait between two tries ended.
enum Woke {
    Due,
    RetryNow,
    NewSettings(AgentSettings),
    Stop,
}

/// Waits until `until_ms` (for ever when `None`), or less if the operator
/// retries, saves new agent settings, or the runner stops: each of those
/// nudges the lanes that wait.
async fn wait_for_next_try(context: &Station, until_ms: Option<f64>, seen: &AgentSettings) -> Woke {
    let retries_asked = context.retries_asked();
    loop {
        if context.stopping() {
            return Woke::Stop;
        }
        if context.retries_asked() != retries_asked {
            return Woke::RetryNow;
        }
        let settings = context.agent();
        if &settings != seen {
            return Woke::NewSettings(settings);
        }
        let nudged = context.nudged().fuse();
        // The clock is read once: a second read could make what is left
        // negative, which no Duration can hold.
        let due = match until_ms.map(|at| at - now_ms()) {
            Some(left_ms) if left_ms <= 0.0 => return Woke::Due,
            Some(left_ms) => timer_millis(Duration::from_millis(left_ms.ceil() as u64)),
            None => timer_millis(Duration::MAX),
        };
        let due = TimeoutFuture::new(due).fuse();
        futures::pin_mut!(nudged, due);
        futures::select! {
            _ = nudged => {}
            () = due => if until_ms.is_some_and(|at| now_ms() >= at) { return Woke::Due },
        }
    }
}

/// Hands the event to the agent until it passes or is dead-lettered, waiting
/// through outages and wrong settings; `None` if the runner stops meanwhile,
/// or if the next try would come after `let_go_at_ms`.
async fn attempt_until_final(
    lane: &Lane<'_>,
    event: &Event,
    signals: &RefCell<Vec<String>>,
    let_go_at_ms: Option<f64>,
) -> Option<(Outcome, u32)> {
    let context = lane.context;
    let say = |signal: String| {
        let mut said = signals.borrow_mut();
        // An outage repeats itself; the history keeps it once.
        if said.last() != Some(&signal) {
            history::push_signal(&mut said, signal);
        }
    };
    let mut settings = context.agent();
    let mut patience = Patience::new(settings.attempts);
    loop {
        let next_try_at = match settings.destination() {
            Destination::PassThrough => {
                lane.show(|g| {
                    g.message = Some("pass-through: no agent, as chosen".into());
                    g.passed();
                });
                return Some((Outcome::PassedThrough, patience.attempt()));
            }
            // Fail closed: nothing leaves the source until the operator
            // chooses where events go.
            Destination::Unchosen => {
                let what = "No agent chosen: enter an Agent URL, or tick Pass-through (no agent), and save";
                lane.show(|g| g.halted(what.into()));
                context.announce(format!("{what}. Nothing drains until then."));
                None
            }
            Destination::Agent(_)
                if let_go_at_ms
                    .is_some_and(|at| !may_start_attempt(now_ms(), settings.timeout(), at)) =>
            {
                // It could not end, and be settled, while the message is
                // still hidden: another reader could take it meanwhile.
                say("let go: back in the queue for any reader".into());
                lane.show(|g| g.let_go("let go: its next attempt could not end before its visibility timeout; back in the queue for any reader".into()));
                return None;
            }
            Destination::Agent(_) => {
                let attempt = patience.attempt();
                let result = attempt_once(lane, event, &settings, attempt, &say).await;
                match follow(
                    lane,
                    event,
                    attempt,
                    patience.after(result, now_ms(), random()),
                    &say,
                ) {
                    Ok(outcome) => return Some((outcome, attempt)),
                    Err(next_try_at) => next_try_at,
                }
            }
        };
        let wake_at = match (next_try_at, let_go_at_ms) {
            (Some(next), Some(let_go)) => Some(next.min(let_go)),
            (next, let_go) => next.or(let_go),
        };
        match wait_for_next_try(context, wake_at, &settings).await {
            Woke::Stop => return None,
            Woke::Due if let_go_at_ms.is_some_and(|at| now_ms() >= at) => {
                say("let go: back in the queue for any reader".into());
                lane.show(|g| g.let_go("let go before its visibility timeout ended: back in the queue for any reader".into()));
                return None;
            }
            Woke::Due | Woke::RetryNow => {}
            Woke::NewSettings(saved) => {
                patience.allow(saved.attempts);
                settings = saved;
            }
        }
    }
}

/// One attempt, with the agent's progress shown live; counted in the error
/// rate only when the agent judged the event.
async fn attempt_once(
    lane: &Lane<'_>,
    event: &Event,
    settings: &AgentSettings,
    attempt: u32,
    say: &dyn Fn(String),
) -> Attempt {
    let context = lane.context;
    lane.show(|g| g.attempting(attempt));
    let started_ms = now_ms();
    let on_signal = |signal: AgentSignal| {
        if let AgentSignal::Processing { progress, message } = signal {
            say(match (&message, progress) {
                (Some(m), _) => m.clone(),
                (None, Some(p)) => format!("{:.0} %", p * 100.0),
                (None, None) => "processing".into(),
            });
            lane.show(|g| g.processing(progress, message));
        }
    };
    let table = context.source_name.as_str();
    let result =
        agent_client::attempt(settings, table, &context.key_scope, event, &on_signal).await;
    let judged = match &result {
        Attempt::Passed => Some(true),
        Attempt::Rejected(_) | Attempt::Failed { .. } => Some(false),
        Attempt::Unanswered(_) | Attempt::Misconfigured(_) => None,
    };
    if let Some(ok) = judged {
        let ended_ms = now_ms();
        context.view.note(|journal| {
            journal
                .metrics
                .record_attempt(ended_ms, ok, ended_ms - started_ms)
        });
    }
    result
}

/// Shows what follows an attempt: the final outcome (`Ok`), or when to try
/// again (`Err`, `None` to wait for the operator).
fn follow(
    lane: &Lane<'_>,
    event: &Event,
    attempt: u32,
    next: Next,
    say: &dyn Fn(String),
) -> Result<Outcome, Option<f64>> {
    let context = lane.context;
    let at = |wait: std::time::Duration| now_ms() + wait.as_secs_f64() * 1000.0;
    match next {
        Next::Passed => {
            say("done".into());
            lane.show(GateView::passed);
            Ok(Outcome::Passed)
        }
        Next::DeadLetter(reason) => {
            say(format!("failed: {reason}"));
            lane.show(|g| g.rejected(reason.clone()));
            Ok(Outcome::Rejected(reason))
        }
        Next::Retry { reason, wait } => {
            say(format!("attempt {attempt}: {reason}"));
            let at = at(wait);
            lane.show(|g| g.retrying(reason, attempt + 1, at));
            Err(Some(at))
        }
        Next::Offline {
            reason,
            wait,
            announce: silent,
        } => {
            say(format!("no answer: {reason}"));
            let at = at(wait);
            if let Some(silent) = silent {
                context.announce(format!(
                    "The agent has not answered for {}: event {} of {} waits at the gate, and draining goes on by itself when the agent answers. Last error: {reason}.",
                    format_duration_ms(silent.as_secs_f64() * 1000.0),
                    event.key,
                    context.source_name.as_str()
                ));
            }
            lane.show(|g| g.offline(format!("agent offline: {reason}"), at));
            Err(Some(at))
        }
        Next::Halt(reason) => {
            say(format!("halted: {reason}"));
            context.announce(format!(
                "Draining halted: {reason}. Save the agent settings, or press Retry now at the gate, to go on with event {}.",
                event.key
            ));
            lane.show(|g| g.halted(format!("Draining halted: {reason}")));
            Err(None)
        }
    }
}
