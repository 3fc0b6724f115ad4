//! The loop that owns one table's drain: it takes the table's lock, reads
//! its ledger, then asks the engine what to do next and does it, applying
//! the operator's intents between steps. Each event the engine admits is
//! delivered in a lane of its own, beside the loop (the inbox runs them);
//! handling an event ends in [`Loop::record`], in a fixed order: dead
//! letter, ledger, journal.

use futures::channel::mpsc::UnboundedReceiver;
use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::dead_letters::DeadLetter;
use sluice_core::drain::{Admission, Drain, Step, MAX_LANES};
use sluice_core::gate::{Badge, GateView};
use sluice_core::history::Outcome;
use sluice_core::ledger::{Ledger, PendingReset};
use sluice_core::source::{Event, TableSource};
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use super::backlog::{self, Wanted};
use super::delivery::{self, Delivered};
use super::inbox::{timer_millis, Arrived, Finished, Inbox, Origin};
use super::lock::{self, Taken};
use super::station::{now_ms, random, Station};
use super::view::{publish_journal_every_second, set_if_changed, Condition};
use super::{prototype, Inputs, Intent};
use crate::browser::rest;
use crate::browser::table_store::{LetterRefused, TableStore};

/// What a table's drain reads: the station it shares with its lanes, and
/// the table with what this browser keeps about it.
pub(super) struct Context {
    pub station: Station,
    pub source: TableSource,
    pub store: TableStore,
}

impl std::ops::Deref for Context {
    type Target = Station;
    fn deref(&self) -> &Station {
        &self.station
    }
}

/// Longest run of the loop without yielding to the page (ms).
const SLICE_MS: f64 = 20.0;

/// Runs until told to stop; the backlog count and the journal's
/// publication run beside the loop and end with it.
pub(super) async fn run(inputs: Inputs, source: TableSource, intents: UnboundedReceiver<Intent>) {
    let store = TableStore::new(inputs.session.project.as_str(), source.table.as_str());
    let context = Context {
        station: Station::new(
            inputs.session,
            source.table.as_str(),
            source.table.as_str().to_string(),
            inputs.agent,
            inputs.rate,
            inputs.view,
            inputs.alerts,
        ),
        source,
        store,
    };
    let wanted = Wanted::default();
    let mut drive = Loop {
        context: &context,
        inbox: Inbox::new(intents),
        redeliveries: VecDeque::new(),
        wanted: &wanted,
        busy: [false; MAX_LANES],
        admitted: 0,
        redelivering: 0,
        pending_reset: None,
    };
    futures::select! {
        () = drive.run().fuse() => {}
        () = backlog::count_every_few_seconds(&context, &wanted).fuse() => {}
        () = publish_journal_every_second(context.view).fuse() => {}
    }
}

struct Loop<'a> {
    context: &'a Context,
    inbox: Inbox<'a>,
    /// Dead letters the operator sent back through the gate, by key.
    redeliveries: VecDeque<String>,
    wanted: &'a Wanted,
    /// Which lanes carry an event now.
    busy: [bool; MAX_LANES],
    /// Events sent to the gate so far, for the lanes' order.
    admitted: u64,
    /// Dead letters under way through the gate again (they take lanes too).
    redelivering: usize,
    /// "Clear history" or an import, waiting for the gate to empty (also
    /// kept in storage, so that a reload or a switch of table keeps it).
    pending_reset: Option<PendingReset>,
}

impl Loop<'_> {
    async fn run(&mut self) {
        let context = self.context;
        let view = context.view;
        view.condition.set(Condition::Starting);
        self.publish_letters(context.store.dead_letters());
        match context.store.partition_key() {
            Ok(key) => view.partition_key.set(key),
            Err(error) => context.alerts.show(format!(
                "{error} Events of {} pass without a partition key until one is saved.",
                context.store.table()
            )),
        }
        match context.store.alert_thresholds() {
            Ok(limits) => view.alert_thresholds.set(limits),
            Err(error) => context.alerts.show(error),
        }
        let _lock = match lock::take(context, &mut self.inbox).await {
            Taken::Held(lock) => Some(lock),
            Taken::Unavailable => None,
            Taken::Stopped => return,
        };
        // A reset confirmed before a reload or a switch of table: made now,
        // as the gate is empty.
        match context.store.pending_reset() {
            Ok(Some(reset)) => {
                self.reset_store(&reset);
            }
            Ok(None) => {}
            Err(error) => context.alerts.show(format!(
                "A confirmed reset of {}'s history could not be read ({error}); it was not made.",
                context.store.table()
            )),
        }
        // Read only now: until the lock was ours, another tab moved the cursor.
        let Some(ledger) = self.stored_ledger().await else {
            return;
        };
        let mut drain = self.new_drain(ledger);
        prototype::import_keys(context, &mut drain);
        let mut slice_started = now_ms();
        loop {
            while let Some(intent) = self.inbox.next_kept() {
                if !self.apply(&mut drain, intent) {
                    return self.stop(&mut drain).await;
                }
            }
            if self.inbox.at_gate() == 0 {
                if let Some(reset) = self.pending_reset.take() {
                    self.reset(&mut drain, reset);
                }
            }
            // A backlog passes through without waiting on the network; give
            // the page its turn every few milliseconds so it never freezes.
            if now_ms() - slice_started > SLICE_MS {
                TimeoutFuture::new(0).await;
                slice_started = now_ms();
            }
            let lanes = context.agent.with_untracked(|a| a.lanes());
            set_if_changed(view.lanes_shown, lanes);
            drain.set_lanes(lanes.saturating_sub(self.redelivering));
            view.partition_key
                .with_untracked(|key| drain.set_partition_key(key.as_ref()));
            if self.inbox.at_gate() < lanes {
                if let Some(key) = self.redeliveries.pop_front() {
                    if !self.redeliver(&mut drain, &key).await {
                        return self.stop(&mut drain).await;
                    }
                    continue;
                }
            }
            let step = drain.next(now_ms(), context.rate.get_untracked().interval());
            view.publish(&drain);
            self.wanted.follow(context, &drain);
            let went_on = match step {
                Step::Read(kind, path) => {
                    let read = rest::read_rows(&context.session, context.store.table(), &path);
                    match self.alongside(&mut drain, read).await {
                        Some(result) => {
                            let report = drain.on_read(kind, result, now_ms(), random());
                            for malformed in report.malformed {
                                context.alerts.show(malformed);
                            }
                            true
                        }
                        None => false,
                    }
                }
                Step::Deliver(event) => {
                    self.start(Origin::Source, event);
                    true
                }
                Step::Record(writes) => {
                    self.store_ledger(&mut drain, &writes);
                    true
                }
                Step::Refuse(event, reason) => {
                    self.refuse(&mut drain, event, reason);
                    true
                }
                Step::Wait(duration) => self.wait(&mut drain, duration).await,
                Step::Halted => self.wait(&mut drain, Duration::MAX).await,
            };
            if !went_on {
                return self.stop(&mut drain).await;
            }
        }
    }

    /// Runs `work` while the events at the gate finish (each recorded as it
    /// does) and intents arrive (kept); `None` once told to stop.
    async fn alongside<T>(
        &mut self,
        drain: &mut Drain,
        work: impl Future<Output = T>,
    ) -> Option<T> {
        let work = work.fuse();
        futures::pin_mut!(work);
        loop {
            match self.inbox.next(work.as_mut()).await {
                Arrived::Done(done) => return Some(done),
                Arrived::Finished(finished) => self.finished(drain, *finished),
                Arrived::Intent => {}
                Arrived::Stop => return None,
            }
        }
    }

    /// Waits `duration`, or less if an intent arrives or an event at the
    /// gate finishes (a lane is free); `false` once told to stop.
    async fn wait(&mut self, drain: &mut Drain, duration: Duration) -> bool {
        let timer = std::pin::pin!(TimeoutFuture::new(timer_millis(duration)).fuse());
        match self.inbox.next(timer).await {
            Arrived::Done(()) | Arrived::Intent => true,
            Arrived::Finished(finished) => {
                self.finished(drain, *finished);
                true
            }
            Arrived::Stop => false,
        }
    }

    /// Told to stop: no event starts, the attempts under way end (each is
    /// recorded, so the agent's work is not done twice).
    async fn stop(&mut self, drain: &mut Drain) {
        self.context.stopping.set(true);
        while let Some(finished) = self.inbox.next_finished().await {
            self.finished(drain, finished);
        }
        // The gate is empty now, and the lock still held.
        if let Some(reset) = self.pending_reset.take() {
            self.reset_store(&reset);
        }
    }

    /// Sends an event to the gate in the first free lane.
    fn start(&mut self, origin: Origin, event: Event) {
        let lane = self.free_lane();
        self.busy[lane] = true;
        self.admitted += 1;
        if origin == Origin::DeadLetter {
            self.redelivering += 1;
        }
        let (context, serial) = (self.context, self.admitted);
        self.inbox.start(Box::pin(async move {
            Finished {
                lane,
                origin,
                delivered: delivery::deliver(context, lane, serial, event, None).await,
            }
        }));
    }

    fn free_lane(&self) -> usize {
        self.busy
            .iter()
            .position(|busy| !busy)
            .unwrap_or(MAX_LANES - 1)
    }

    /// An event left its lane.
    fn finished(&mut self, drain: &mut Drain, finished: Finished) {
        self.busy[finished.lane] = false;
        if finished.origin == Origin::DeadLetter {
            self.redelivering -= 1;
        }
        if let Some(delivered) = finished.delivered {
            self.record(drain, finished.lane, finished.origin, delivered);
        }
    }

    /// The ledger as stored; while it cannot be read the drain waits for
    /// the operator ("Clear history" or an import replaces it). `None` once
    /// told to stop.
    async fn stored_ledger(&mut self) -> Option<Ledger> {
        loop {
            match self.context.store.ledger() {
                Ok(ledger) => return Some(ledger),
                Err(error) => {
                    // Never restart a table from zero silently.
                    self.context.view.condition.set(Condition::Halted(format!(
                        "The saved progress of {} cannot be read ({error}) — use “Clear history” to start this table again.",
                        self.context.store.table()
                    )));
                    if !self.inbox.wait(Duration::MAX).await {
                        return None;
                    }
                    while let Some(intent) = self.inbox.next_kept() {
                        if !self.apply_before_draining(intent) {
                            return None;
                        }
                    }
                }
            }
        }
    }

    /// A drain from `ledger`, with the operator's current choices.
    fn new_drain(&self, ledger: Ledger) -> Drain {
        let view = self.context.view;
        let mut drain = Drain::new(self.context.source.clone(), ledger);
        if view.admission.get_untracked() != Admission::Open {
            drain.pause();
        }
        drain.set_watch_only(view.watch_only.get_untracked());
        drain
    }

    /// Applies an intent between steps; `false` to stop.
    fn apply(&mut self, drain: &mut Drain, intent: Intent) -> bool {
        let store = &self.context.store;
        match intent {
            Intent::Pause => drain.pause(),
            Intent::Resume => drain.resume(),
            Intent::Step => drain.step(),
            Intent::WatchOnly(on) => drain.set_watch_only(on),
            Intent::Redeliver(keys) => self.redeliveries.extend(keys),
            Intent::Discard(keys) => self.publish_letters(store.remove_dead_letters(&keys)),
            // The events at the gate finish first: their agent is at work.
            Intent::Clear | Intent::Import(_) if self.inbox.at_gate() > 0 => {
                let reset = pending_reset(intent);
                let table = store.table();
                match store.save_pending_reset(&reset) {
                    Ok(()) => self.context.alerts.show(format!(
                        "The history of {table} is reset once the events at the gate finish (also after a reload)."
                    )),
                    Err(error) => self.context.alerts.show(format!(
                        "The history of {table} is reset once the events at the gate finish; keep this page open until then ({error})."
                    )),
                }
                drain.settle();
                self.pending_reset = Some(reset);
            }
            Intent::Clear | Intent::Import(_) => self.reset(drain, pending_reset(intent)),
            Intent::RetryNow => {
                let asked = &self.context.retry_now;
                asked.set(asked.get().wrapping_add(1));
            }
            Intent::SettingsChanged => {}
            Intent::Stop => return false,
        }
        self.context.view.publish(drain);
        true
    }

    /// Starts the table again from a cleared or imported history.
    fn reset(&mut self, drain: &mut Drain, reset: PendingReset) {
        if let Some(ledger) = self.reset_store(&reset) {
            *drain = self.new_drain(ledger);
        }
        self.context.view.publish(drain);
    }

    /// Makes a reset in storage; the ledger to drain from, if stored.
    fn reset_store(&self, reset: &PendingReset) -> Option<Ledger> {
        self.context
            .store
            .reset(reset)
            .map_err(|error| self.context.alerts.show(error))
            .ok()
    }

    /// Applies an intent while there is no drain yet; `false` to stop.
    fn apply_before_draining(&mut self, intent: Intent) -> bool {
        let store = &self.context.store;
        match intent {
            Intent::Redeliver(keys) => self.redeliveries.extend(keys),
            Intent::Discard(keys) => self.publish_letters(store.remove_dead_letters(&keys)),
            Intent::Clear | Intent::Import(_) => {
                self.reset_store(&pending_reset(intent));
            }
            // The view keeps the operator's choices for the drain to come.
            Intent::Pause
            | Intent::Resume
            | Intent::Step
            | Intent::WatchOnly(_)
            | Intent::SettingsChanged
            | Intent::RetryNow => {}
            Intent::Stop => return false,
        }
        true
    }

    /// Sends one dead letter through the gate again, in a lane of its own;
    /// `false` once told to stop. Its letter stays stored until the agent's
    /// final signal.
    async fn redeliver(&mut self, drain: &mut Drain, key: &str) -> bool {
        let context = self.context;
        let table = context.store.table();
        let letters = context.store.dead_letters().unwrap_or_default();
        let Some(letter) = letters.into_iter().find(|l| l.key == key) else {
            return true;
        };
        let not_retried = |why: String| {
            context
                .alerts
                .show(format!("Dead letter {key} was not retried: {why}"));
            true
        };
        // A row too large to keep was stored as a note: read it again.
        let row = if letter.row_is_noted() {
            let path = context.source.row_path(key);
            let read = rest::read_rows(&context.session, table, &path);
            match self.alongside(drain, read).await {
                None => return false,
                Some(Ok(mut rows)) if !rows.is_empty() => rows.swap_remove(0),
                Some(Ok(_)) => return not_retried(format!("the row is no longer in {table}.")),
                Some(Err(error)) => return not_retried(error.to_string()),
            }
        } else {
            letter.event
        };
        match context.source.event(row) {
            Ok(event) => {
                self.start(Origin::DeadLetter, event);
                true
            }
            Err(malformed) => not_retried(malformed.to_string()),
        }
    }

    /// The one place where handling an event ends: a refused event's dead
    /// letter first (an event leaves the source only to the agent's done or
    /// to a kept dead letter), then the ledger (so a reload never hands it
    /// out again), then the journal the page shows (not once stopping: it
    /// shows another drain).
    fn record(&mut self, drain: &mut Drain, lane: usize, origin: Origin, delivered: Delivered) {
        let context = self.context;
        let store = &context.store;
        if let Outcome::Rejected(reason) = &delivered.outcome {
            let letter = DeadLetter::of(
                &delivered.event,
                reason.clone(),
                delivered.attempts,
                now_ms(),
            );
            match store.add_dead_letter(letter) {
                Ok(letters) => {
                    if !context.stopping.get() {
                        context.view.dead_letters.set(letters);
                    }
                }
                Err(refused) => {
                    self.keep_back(drain, lane, origin, delivered, refused);
                    return;
                }
            }
        }
        match (origin, &delivered.outcome) {
            (Origin::Source, _) => {
                let writes = drain.on_handled(&delivered.event.key);
                self.store_ledger(drain, &writes);
            }
            (Origin::DeadLetter, Outcome::Rejected(_)) => {}
            (Origin::DeadLetter, _) => self.publish_letters(
                store.remove_dead_letters(std::slice::from_ref(&delivered.event.key)),
            ),
        }
        if context.stopping.get() {
            // The page shows another drain by now: only the storage counts.
            return;
        }
        delivered.note_in(context.view);
    }

    /// A row that cannot be read goes straight to the dead letters, by its
    /// key, so it does not block the rows after it.
    fn refuse(&mut self, drain: &mut Drain, event: Event, reason: String) {
        let context = self.context;
        let badge = Badge::of(&event.key, &event.row, context.source.table.as_str());
        self.admitted += 1;
        let (lane, serial) = (self.free_lane(), self.admitted);
        context.show_gate(lane, |g| {
            *g = GateView::admit(badge.clone(), serial);
            g.rejected(reason.clone());
        });
        context.alerts.show(format!(
            "Row {} of {} could not be read and was dead-lettered ({reason}); the rows after it go on.",
            event.key,
            context.store.table()
        ));
        let delivered = Delivered {
            event,
            badge,
            outcome: Outcome::Rejected(reason),
            attempts: 0,
            admitted_ms: now_ms(),
            signals: Vec::new(),
        };
        self.record(drain, lane, Origin::Source, delivered);
    }

    /// A refused event whose dead letter could not be kept stays unhandled:
    /// back at the head of the queue, with draining paused until the
    /// operator makes room. (A dead letter sent through again keeps its
    /// earlier letter.)
    fn keep_back(
        &mut self,
        drain: &mut Drain,
        lane: usize,
        origin: Origin,
        delivered: Delivered,
        refused: LetterRefused,
    ) {
        let context = self.context;
        let key = delivered.event.key.clone();
        if origin == Origin::Source {
            drain.put_back(delivered.event);
        } else {
            drain.pause();
        }
        if context.stopping.get() {
            return;
        }
        context.view.admission.set(Admission::Paused);
        context.view.publish(drain);
        context.show_gate(lane, |g| {
            g.kept_back(format!("not dead-lettered: {refused}"))
        });
        context.alerts.show(format!(
            "The agent refused event {key}, but its dead letter could not be kept: {refused} \
             Draining is paused and the event stays in the table; it goes to the agent again on Resume."
        ));
    }

    /// Stores what the ledger recorded. If it cannot be stored, draining
    /// pauses: going on would hand these events to the agent again after a
    /// reload.
    fn store_ledger(&self, drain: &mut Drain, writes: &[sluice_core::ledger::Write]) {
        if let Err(error) = self.context.store.record(writes) {
            drain.pause();
            self.context.view.admission.set(Admission::Paused);
            self.context.alerts.show(format!(
                "{error} Draining is paused so that no event is handled twice."
            ));
        }
    }

    fn publish_letters(
        &self,
        letters: Result<Vec<DeadLetter>, crate::browser::storage::StoreError>,
    ) {
        match letters {
            Ok(_) if self.context.stopping.get() => {}
            Ok(letters) => self.context.view.dead_letters.set(letters),
            Err(error) => self.context.alerts.show(error),
        }
    }
}

/// The reset an intent asks for.
fn pending_reset(intent: Intent) -> PendingReset {
    match intent {
        Intent::Import(file) => PendingReset::Import(file),
        _ => PendingReset::Clear,
    }
}
