//! What the components show about a drain: signals its runner creates and
//! alone sets (the page reads them), only when a value changes, so the
//! steps of a fast drain wake only what they change.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::alert_thresholds::AlertThresholds;
use sluice_core::dead_letters::DeadLetter;
use sluice_core::drain::{Admission, Drain, MAX_LANES};
use sluice_core::gate::{speaking_lane, Badge, GateView};
use sluice_core::history::History;
use sluice_core::ledger::LookBack;
use sluice_core::metrics::{Backlog, Metrics};
use sluice_core::realtime::Mode as LiveMode;
use sluice_core::source::Identifier;
use sluice_core::source_error::SourceError;

/// Where a table's drain stands, in the operator's terms.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Idle,
    Starting,
    /// Another tab of this browser holds the table's lock.
    OtherTabDraining,
    Draining,
    /// A transient read error; retrying by itself.
    Retrying(String),
    /// Stopped until the operator acts.
    Halted(String),
}

impl Condition {
    /// A reading drain's condition, from its source's last errors.
    pub(super) fn of(halted: Option<&SourceError>, retrying: Option<(&SourceError, u32)>) -> Self {
        if let Some(error) = halted {
            Self::Halted(error.to_string())
        } else if let Some((error, failures)) = retrying {
            Self::Retrying(format!("{error} (attempt {failures})"))
        } else {
            Self::Draining
        }
    }
}

/// A question the drain needs the operator to answer before it goes on,
/// asked in the page (a browser dialog would freeze the page, and every
/// drain in it, until answered).
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    /// Tells an answer to this question from one to an earlier question.
    pub id: u32,
    pub text: String,
    /// The button that answers yes, and the one that answers no.
    pub yes: &'static str,
    pub no: &'static str,
}

impl Question {
    /// The questions a table's drain may ask, each at most once.
    pub const NO_WEB_LOCKS: u32 = 1;
    pub const PROTOTYPE_KEYS: u32 = 2;
}

/// What was handled in this tab: counted per event without waking the
/// page, and shown once a second (see [`publish_journal_every_second`]).
#[derive(Default)]
pub struct Journal {
    pub metrics: Metrics,
    pub history: History,
    changed: bool,
}

/// What the components show about the drain.
#[derive(Clone, Copy)]
pub struct DrainView {
    /// What each lane of the gate shows: its event, until the lane takes
    /// the next one. Each lane changes only on its own event's signals.
    pub lanes: [RwSignal<GateView>; MAX_LANES],
    /// How many lanes the agent settings give.
    pub lanes_shown: RwSignal<usize>,
    /// The table's partition key, as the drain applies it.
    pub partition_key: RwSignal<Option<Identifier>>,
    /// The event waiting first at the source.
    pub next_up: RwSignal<Option<Badge>>,
    pub queued: RwSignal<usize>,
    pub handled: RwSignal<u64>,
    pub dead_letters: RwSignal<Vec<DeadLetter>>,
    /// Source timestamp (µs) of the oldest event not yet handled.
    pub oldest_waiting_micros: RwSignal<Option<i64>>,
    pub backlog: RwSignal<Backlog>,
    /// A queue's project lacks the metrics function (the queue's length
    /// is then unknown).
    pub metrics_missing: RwSignal<bool>,
    /// Rows with a NULL or infinite timestamp, which are never drained.
    pub unorderable: RwSignal<u64>,
    /// Whether Realtime wakes the drain, or why it polls.
    pub live: RwSignal<LiveMode>,
    /// What the look-back for late rows covers now.
    pub look_back: RwSignal<Option<LookBack>>,
    pub journal: StoredValue<Journal, LocalStorage>,
    /// Notified when the journal is published.
    pub journal_published: Trigger,
    pub last_read_ms: RwSignal<Option<f64>>,
    /// Whether events may leave the source (the operator's choice, or a
    /// pause the drain made itself).
    pub admission: RwSignal<Admission>,
    pub watch_only: RwSignal<bool>,
    pub condition: RwSignal<Condition>,
    /// The table's alert limits: read when the runner starts, set when saved.
    pub alert_thresholds: RwSignal<AlertThresholds>,
    /// What the drain waits for the operator to answer.
    pub question: RwSignal<Option<Question>>,
}

impl Default for DrainView {
    fn default() -> Self {
        Self {
            lanes: std::array::from_fn(|_| RwSignal::new(GateView::default())),
            lanes_shown: RwSignal::new(1),
            partition_key: RwSignal::new(None),
            next_up: RwSignal::new(None),
            queued: RwSignal::new(0),
            handled: RwSignal::new(0),
            dead_letters: RwSignal::new(Vec::new()),
            oldest_waiting_micros: RwSignal::new(None),
            backlog: RwSignal::new(Backlog::default()),
            metrics_missing: RwSignal::new(false),
            unorderable: RwSignal::new(0),
            live: RwSignal::new(LiveMode::default()),
            look_back: RwSignal::new(None),
            journal: StoredValue::new_local(Journal::default()),
            journal_published: Trigger::new(),
            last_read_ms: RwSignal::new(None),
            admission: RwSignal::new(Admission::Open),
            watch_only: RwSignal::new(false),
            condition: RwSignal::new(Condition::Idle),
            alert_thresholds: RwSignal::new(AlertThresholds::default()),
            question: RwSignal::new(None),
        }
    }
}

impl DrainView {
    /// The lane that speaks for the whole gate (tracked).
    pub fn speaking_lane(&self) -> GateView {
        let ranks = self
            .lanes
            .iter()
            .map(|lane| lane.with(GateView::speaking_rank));
        speaking_lane(ranks).map_or_else(GateView::default, |lane| self.lanes[lane].get())
    }

    /// Lanes with an event at the gate (tracked).
    pub fn busy_lanes(&self) -> usize {
        self.lanes
            .iter()
            .filter(|lane| lane.with(|g| g.state.is_busy()))
            .count()
    }

    /// Counts something in the journal without waking the page.
    pub(super) fn note(&self, change: impl FnOnce(&mut Journal)) {
        self.journal.update_value(|j| {
            change(j);
            j.changed = true;
        });
    }

    /// Shows what was handled since the last call; a fast drain changes the
    /// page once per call rather than once per event.
    fn publish_journal(&self) {
        let changed = self
            .journal
            .try_update_value(|j| std::mem::take(&mut j.changed))
            .unwrap_or(false);
        if changed {
            self.journal_published.notify();
        }
    }

    /// The drain's state after a step.
    pub(super) fn publish(&self, drain: &Drain) {
        let table = drain.source().table.as_str();
        let next_up = drain.next_event();
        if self
            .next_up
            .with_untracked(|n| n.as_ref().map(|b| &b.key) != next_up.map(|e| &e.key))
        {
            self.next_up
                .set(next_up.map(|e| Badge::of(&e.key, &e.row, table)));
        }
        set_if_changed(self.queued, drain.queued());
        set_if_changed(self.handled, drain.ledger().handled());
        set_if_changed(self.last_read_ms, drain.last_read_ms());
        set_if_changed(self.admission, drain.admission());
        set_if_changed(self.watch_only, drain.watch_only());
        set_if_changed(self.oldest_waiting_micros, drain.oldest_waiting_micros());
        set_if_changed(self.look_back, drain.ledger().look_back());
        if drain.backlog_known() {
            let waiting = (drain.queued() + drain.at_gate()) as u64;
            let handled = drain.ledger().handled();
            self.backlog.maybe_update(|b| {
                let before = *b;
                b.counted(waiting, handled);
                *b != before
            });
        }
        set_if_changed(
            self.condition,
            Condition::of(drain.halted(), drain.retrying()),
        );
    }
}

/// Sets a signal only when the value differs.
pub(super) fn set_if_changed<T: PartialEq + Send + Sync + 'static>(signal: RwSignal<T>, value: T) {
    signal.maybe_update(|current| {
        let changed = *current != value;
        if changed {
            *current = value;
        }
        changed
    });
}

/// Publishes the journal once a second for as long as the runner runs.
pub(super) async fn publish_journal_every_second(view: DrainView) {
    loop {
        TimeoutFuture::new(1_000).await;
        view.publish_journal();
    }
}
