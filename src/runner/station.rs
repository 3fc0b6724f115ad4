//! What every drain shares with the lanes of its gate, whatever its source:
//! the session, the operator's choices as last sent, the drain's own view,
//! and the nudge that wakes lanes waiting for their next try.

use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;
use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::credentials::Session;
use sluice_core::gate::GateView;
use sluice_core::rate::ConsumptionRate;
use std::cell::{Cell, RefCell};
use std::time::Duration;

use super::view::DrainView;
use super::{Choices, Intent};
use crate::alerts::Alerts;

pub(super) struct Station {
    pub session: Session,
    /// The table's or the queue's name: the agent gets it beside each event.
    pub source_name: String,
    /// What comes before `:{key}` in each event's Idempotency-Key: the
    /// table's name, or `queue/{queue}`.
    pub key_scope: String,
    /// The operator's choices, as the last `Intent::Settings` sent them.
    choices: RefCell<Choices>,
    /// This drain's view: the page shows it while this drain is the chosen
    /// one; a drain still ending after another was chosen writes to a view
    /// nobody shows.
    pub view: DrainView,
    pub alerts: Alerts,
    /// Told to stop: lanes waiting for their next try end.
    stopping: Cell<bool>,
    /// How many times the operator asked to try the events waiting at the
    /// gate again now.
    retries_asked: Cell<u32>,
    /// The lanes waiting for their next try, woken by a change above.
    waiting: RefCell<Vec<oneshot::Sender<()>>>,
    /// The drain's own intents, for Realtime's wake-ups.
    intents: UnboundedSender<Intent>,
    /// A wake-up was sent and the loop has not taken it yet.
    wake_sent: Cell<bool>,
}

impl Station {
    pub fn new(
        session: Session,
        source_name: &str,
        key_scope: String,
        choices: Choices,
        view: DrainView,
        alerts: Alerts,
        intents: UnboundedSender<Intent>,
    ) -> Self {
        Self {
            session,
            source_name: source_name.to_string(),
            key_scope,
            choices: RefCell::new(choices),
            view,
            alerts,
            stopping: Cell::new(false),
            retries_asked: Cell::new(0),
            waiting: RefCell::new(Vec::new()),
            intents,
            wake_sent: Cell::new(false),
        }
    }

    pub fn agent(&self) -> AgentSettings {
        self.choices.borrow().agent.clone()
    }

    /// The agent's lanes, without copying its settings.
    pub fn lanes(&self) -> usize {
        self.choices.borrow().agent.lanes()
    }

    pub fn rate(&self) -> ConsumptionRate {
        self.choices.borrow().rate
    }

    /// How long the drain waits between reads when idle: the slider's
    /// rate, or only now and then while Realtime wakes it.
    pub fn poll_interval(&self) -> Duration {
        let rate = self.rate().interval();
        self.view
            .live
            .with_untracked(|mode| mode.poll_interval(rate))
    }

    /// Asks the loop to read now; while one wake-up waits for the loop,
    /// more add nothing (a burst of inserts is one read).
    pub fn wake(&self) {
        if !self.wake_sent.replace(true) {
            let _ = self.intents.unbounded_send(Intent::Wake);
        }
    }

    /// The loop took the wake-up: the next insert wakes it again.
    pub fn woke(&self) {
        self.wake_sent.set(false);
    }

    /// New choices: lanes waiting for their next try look at them now.
    pub fn choose(&self, choices: Choices) {
        *self.choices.borrow_mut() = choices;
        self.nudge();
    }

    /// The operator asked to try the events waiting at the gate now.
    pub fn retry_now(&self) {
        self.retries_asked
            .set(self.retries_asked.get().wrapping_add(1));
        self.nudge();
    }

    pub fn retries_asked(&self) -> u32 {
        self.retries_asked.get()
    }

    /// Told to stop: no lane starts another try.
    pub fn stop(&self) {
        self.stopping.set(true);
        self.nudge();
    }

    pub fn stopping(&self) -> bool {
        self.stopping.get()
    }

    /// Resolves at the next nudge (a change of choices, a retry asked, a
    /// stop): the waiting lane then looks at what changed.
    pub fn nudged(&self) -> oneshot::Receiver<()> {
        let (nudge, nudged) = oneshot::channel();
        let mut waiting = self.waiting.borrow_mut();
        // Lanes that stopped waiting (their try was due) are let go here.
        waiting.retain(|lane| !lane.is_canceled());
        waiting.push(nudge);
        nudged
    }

    fn nudge(&self) {
        for lane in self.waiting.take() {
            let _ = lane.send(());
        }
    }

    /// Changes what one lane of the gate shows.
    pub fn show_gate(&self, lane: usize, change: impl FnOnce(&mut GateView)) {
        self.view.lanes[lane].update(change);
    }

    /// An alert for the operator (it names the source: another may be
    /// chosen by the time it shows).
    pub fn announce(&self, text: String) {
        self.alerts.show(text);
    }
}

pub(super) fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub(super) fn random() -> f64 {
    js_sys::Math::random()
}
