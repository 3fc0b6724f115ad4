//! Drives one table's drain. The loop (`drive`) owns the engine
//! (`sluice_core::drain::Drain`): it asks it what to do next, does it with the
//! browser adapters, reports back, and publishes what happened to the
//! view's signals. The page talks to it only by sending [`Intent`]s.
//!
//! - `drive.rs`: the loop, and the one place where handling an event ends
//!   (dead letter, ledger, journal, in that order);
//! - `delivery.rs`: one event at the gate, from admission to the agent's
//!   final signal;
//! - `lock.rs`: one draining tab per table, watching while another drains;
//! - `backlog.rs`: the server's count of the backlog while catching up;
//! - `prototype.rs`: the seed prototype's keys, imported once;
//! - `inbox.rs`: intents arriving while the loop works or waits;
//! - `view.rs`: what the components show about the drain.

mod backlog;
mod delivery;
mod drive;
mod inbox;
mod lock;
mod prototype;
mod queue_drive;
mod station;
mod view;

use futures::channel::mpsc::{unbounded, UnboundedSender};
use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::credentials::Session;
use sluice_core::ledger::LedgerFile;
use sluice_core::rate::ConsumptionRate;
use sluice_core::source::Source;

pub use view::{Condition, DrainView, Journal};

use crate::alerts::Alerts;

/// What the operator asks of a running drain.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    Pause,
    Resume,
    /// While paused, admit exactly one event.
    Step,
    WatchOnly(bool),
    /// Send these dead letters through the gate again, same Idempotency-Key.
    Redeliver(Vec<String>),
    /// Discard these dead letters: they stay handled.
    Discard(Vec<String>),
    /// Forget the table's history and start from its oldest event.
    Clear,
    /// Replace the table's history with a file's.
    Import(LedgerFile),
    /// The rate, the agent settings or the partition key changed: plan
    /// again (more lanes may admit more events at once).
    SettingsChanged,
    /// Try the event at the gate again now, instead of waiting for its next
    /// try (retrying, agent offline, or halted on the agent's settings).
    RetryNow,
    Stop,
}

/// What a drain needs from the page.
pub struct Inputs {
    pub session: Session,
    pub source: Source,
    pub agent: Signal<AgentSettings>,
    pub rate: Signal<ConsumptionRate>,
    pub view: DrainView,
    pub alerts: Alerts,
}

/// A running drain; dropping it stops it (an event at the gate stays
/// unrecorded and goes again, with the same Idempotency-Key).
pub struct Runner {
    intents: UnboundedSender<Intent>,
}

impl Runner {
    pub fn start(inputs: Inputs) -> Self {
        let (intents, inbox) = unbounded();
        match inputs.source.clone() {
            Source::Table(table) => leptos::task::spawn_local(drive::run(inputs, table, inbox)),
            Source::Queue(queue) => {
                leptos::task::spawn_local(queue_drive::run(inputs, queue, inbox))
            }
        }
        Self { intents }
    }

    pub fn send(&self, intent: Intent) {
        // The loop ends only after `Stop`, so a refused send means it is gone.
        let _ = self.intents.unbounded_send(intent);
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.send(Intent::Stop);
    }
}
