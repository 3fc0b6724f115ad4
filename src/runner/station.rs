//! What every drain shares with the lanes of its gate, whatever its source:
//! the session, the agent settings, the page's signals and the flags the
//! lanes watch.

use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::credentials::Session;
use sluice_core::gate::GateView;
use sluice_core::rate::ConsumptionRate;
use std::cell::Cell;

use super::view::DrainView;
use crate::alerts::Alerts;

pub(super) struct Station {
    pub session: Session,
    /// The table's or the queue's name: the agent gets it beside each event.
    pub source_name: String,
    /// What comes before `:{key}` in each event's Idempotency-Key: the
    /// table's name, or `queue/{queue}`.
    pub key_scope: String,
    pub agent: Signal<AgentSettings>,
    pub rate: Signal<ConsumptionRate>,
    pub view: DrainView,
    pub alerts: Alerts,
    /// Told to stop while events were at the gate: their attempts end, no
    /// other starts, and the page (already showing something else) is left
    /// alone.
    pub stopping: Cell<bool>,
    /// How many times the operator asked to try the events waiting at the
    /// gate again now: each lane waiting notices the count change.
    pub retry_now: Cell<u32>,
}

impl Station {
    pub fn new(
        session: Session,
        source_name: &str,
        key_scope: String,
        agent: Signal<AgentSettings>,
        rate: Signal<ConsumptionRate>,
        view: DrainView,
        alerts: Alerts,
    ) -> Self {
        Self {
            session,
            source_name: source_name.to_string(),
            key_scope,
            agent,
            rate,
            view,
            alerts,
            stopping: Cell::new(false),
            retry_now: Cell::new(0),
        }
    }

    /// Changes what one lane of the gate shows, unless stopping.
    pub fn show_gate(&self, lane: usize, change: impl FnOnce(&mut GateView)) {
        if !self.stopping.get() {
            self.view.lanes[lane].update(change);
        }
    }

    /// An alert, unless the page already shows another drain.
    pub fn announce(&self, text: String) {
        if !self.stopping.get() {
            self.alerts.show(text);
        }
    }
}

pub(super) fn now_ms() -> f64 {
    js_sys::Date::now()
}

pub(super) fn random() -> f64 {
    js_sys::Math::random()
}
