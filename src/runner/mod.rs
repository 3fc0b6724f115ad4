//! Drives one table's or queue's drain. Its loop owns the engine (a
//! table's `sluice_core::drain::Drain`, a queue's `QueueReader`): it asks it
//! what to do next, does it with the browser adapters, reports back, and
//! publishes what happened to the drain's own view. The page talks to it
//! only by sending [`Intent`]s.
//!
//! - `table/`: a table's loop, and the one place where handling an event
//!   ends (`record.rs`); its tab lock, backlog count and the prototype's keys;
//! - `queue/`: a queue's loop, settling each message with the queue, and
//!   its dead letters;
//! - `skeleton.rs`: what both loops share (lanes, waiting beside the work);
//! - `delivery.rs`: one event at the gate, from admission to the agent's
//!   final signal;
//! - `station.rs`: what a loop shares with its lanes;
//! - `inbox.rs`: intents arriving while the loop works or waits;
//! - `live.rs`: Supabase Realtime waking the drain when a row arrives;
//! - `view.rs`: what the components show about the drain.

mod delivery;
mod inbox;
mod live;
mod queue;
mod skeleton;
mod station;
mod table;
mod view;

use futures::channel::mpsc::{unbounded, UnboundedSender};
use leptos::prelude::*;
use sluice_core::agent::AgentSettings;
use sluice_core::alert_thresholds::AlertThresholds;
use sluice_core::credentials::Session;
use sluice_core::drain::Admission;
use sluice_core::ledger::LedgerFile;
use sluice_core::rate::ConsumptionRate;
use sluice_core::source::{Identifier, Source};

pub use view::{Condition, DrainView, Journal, Question};

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
    /// The rate or the agent settings changed: lanes waiting for their next
    /// try look at them now, and more lanes may admit more events at once.
    Settings(Choices),
    /// The table's partition key was saved.
    PartitionKey(Option<Identifier>),
    /// The table's alert limits were saved.
    AlertThresholds(AlertThresholds),
    /// The operator's answer (yes or no) to the drain's question with this id.
    Answer(u32, bool),
    /// Try the event at the gate again now, instead of waiting for its next
    /// try (retrying, agent offline, or halted on the agent's settings).
    RetryNow,
    /// Realtime announced an insert: read now (a burst of inserts wakes
    /// one read at a time, see `Station::wake`).
    Wake,
    Stop,
}

/// The operator's choices that apply to every source.
#[derive(Debug, Clone, PartialEq)]
pub struct Choices {
    pub agent: AgentSettings,
    pub rate: ConsumptionRate,
}

/// What a drain needs from the page: what to drain, the operator's choices
/// as they are when it starts, and the view it alone writes from then on
/// (made showing the operator's Pause and Watch only).
pub struct Inputs {
    pub session: Session,
    pub source: Source,
    pub choices: Choices,
    pub admission: Admission,
    pub view: DrainView,
    pub alerts: Alerts,
}

/// A running drain; dropping it stops it (an event at the gate stays
/// unrecorded and goes again, with the same Idempotency-Key).
pub struct Runner {
    intents: UnboundedSender<Intent>,
}

impl Runner {
    /// Starts draining; `owner` owns the view's signals and is dropped
    /// (disposing them) once the loop has ended, after its last attempts.
    pub fn start(inputs: Inputs, owner: Owner) -> Self {
        let (intents, inbox) = unbounded();
        let wake = intents.clone();
        leptos::task::spawn_local(async move {
            match inputs.source.clone() {
                Source::Table(table) => table::run(inputs, table, inbox, wake).await,
                Source::Queue(queue) => queue::run(inputs, queue, inbox, wake).await,
            }
            drop(owner);
        });
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
