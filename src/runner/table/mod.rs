//! The loop that owns one table's drain: it takes the table's lock, reads
//! its ledger, then asks the engine what to do next and does it, applying
//! the operator's intents between steps (`intents.rs`). Each event the
//! engine admits is delivered in a lane of its own, beside the loop;
//! handling an event ends in `record.rs`, in the order the engine gives.

mod backlog;
mod intents;
mod lock;
mod prototype;
mod record;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::drain::{Drain, Origin, Step};
use sluice_core::ledger::PendingReset;
use sluice_core::realtime::Target;
use sluice_core::source::{Event, Source, TableSource};
use std::collections::VecDeque;
use std::time::Duration;

use super::delivery::{self, Delivered};
use super::inbox::Inbox;
use super::live::keep_live;
use super::skeleton::{Beside, Lanes};
use super::station::{now_ms, random, Station};
use super::view::{publish_journal_every_second, set_if_changed, Condition};
use super::{Inputs, Intent};
use crate::browser::rest;
use crate::browser::tab_lock::TabLock;
use crate::browser::table_store::TableStore;
use backlog::Wanted;
use lock::Taken;

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

/// An event that left its lane: delivered, or `None` when the runner
/// stopped while it waited (it stays unhandled).
pub(super) struct Finished {
    lane: usize,
    delivered: Option<Delivered>,
}

/// Longest run of the loop without yielding to the page (ms).
const SLICE_MS: f64 = 20.0;

/// Runs until told to stop; the backlog count and the journal's
/// publication run beside the loop and end with it.
pub(super) async fn run(
    inputs: Inputs,
    source: TableSource,
    intents: UnboundedReceiver<Intent>,
    wake: UnboundedSender<Intent>,
) {
    let target = Target::of(&Source::Table(source.clone()));
    let store = TableStore::new(inputs.session.project.as_str(), source.table.as_str());
    let context = Context {
        station: Station::new(
            inputs.session,
            source.table.as_str(),
            source.table.as_str().to_string(),
            inputs.choices,
            inputs.view,
            inputs.alerts,
            wake,
        ),
        source,
        store,
    };
    let view = context.view;
    let wanted = Wanted::default();
    let drive = async {
        let mut inbox = Inbox::new(intents);
        let mut redeliveries = VecDeque::new();
        // The lock is held until the loop has ended, its last events recorded.
        let Some((drain, _lock)) = prepare(&context, &mut inbox, &mut redeliveries).await else {
            return;
        };
        let mut table = TableLoop {
            context: &context,
            inbox,
            drain,
            redeliveries,
            wanted: &wanted,
            lanes: Lanes::default(),
            pending_reset: None,
        };
        table.run().await;
    };
    futures::select! {
        () = drive.fuse() => {}
        () = backlog::count_every_few_seconds(&context, &wanted).fuse() => {}
        () = publish_journal_every_second(view).fuse() => {}
        () = keep_live(&context.station, target).fuse() => {}
    }
}

/// Before draining: the table's settings, its lock, a reset confirmed
/// before a reload, and its ledger; the drain to run and the lock it runs
/// under (none without Web Locks), or `None` once told to stop.
async fn prepare(
    context: &Context,
    inbox: &mut Inbox<'_, Finished>,
    redeliveries: &mut VecDeque<String>,
) -> Option<(Drain, Option<TabLock>)> {
    let view = context.view;
    view.condition.set(Condition::Starting);
    context.publish_letters(context.store.dead_letters());
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
    let lock = match lock::take(context, inbox).await {
        Taken::Held(lock) => Some(lock),
        Taken::Unavailable => None,
        Taken::Stopped => return None,
    };
    // A reset confirmed before a reload or a switch of table: made now,
    // as the gate is empty.
    match context.store.pending_reset() {
        Ok(Some(reset)) => {
            context.reset_store(&reset);
        }
        Ok(None) => {}
        Err(error) => context.alerts.show(format!(
            "A confirmed reset of {}'s history could not be read ({error}); it was not made.",
            context.store.table()
        )),
    }
    context.apply_choices(inbox);
    // Read only now: until the lock was ours, another tab moved the cursor.
    let ledger = intents::stored_ledger(context, inbox, redeliveries).await?;
    let imported = prototype::keys_to_import(context, inbox, &ledger).await?;
    let mut drain = context.new_drain(ledger);
    drain.import_handled(imported);
    Some((drain, lock))
}

struct TableLoop<'a> {
    context: &'a Context,
    inbox: Inbox<'a, Finished>,
    drain: Drain,
    /// Dead letters the operator sent back through the gate, by key.
    redeliveries: VecDeque<String>,
    wanted: &'a Wanted,
    /// Where each event at the gate came from.
    lanes: Lanes<Origin>,
    /// "Clear history" or an import, waiting for the gate to empty (also
    /// kept in storage, so that a reload or a switch of table keeps it).
    pending_reset: Option<PendingReset>,
}

impl<'a> Beside<'a> for TableLoop<'a> {
    type Work = Finished;

    fn inbox(&mut self) -> &mut Inbox<'a, Finished> {
        &mut self.inbox
    }

    /// An event left its lane.
    fn finished(&mut self, finished: Finished) {
        let origin = self.lanes.free(finished.lane).unwrap_or(Origin::Source);
        if let Some(delivered) = finished.delivered {
            self.record(finished.lane, origin, delivered);
        }
    }
}

impl TableLoop<'_> {
    async fn run(&mut self) {
        let context = self.context;
        let view = context.view;
        let mut slice_started = now_ms();
        loop {
            while let Some(intent) = self.inbox.next_kept() {
                if !self.apply(intent) {
                    return self.stop().await;
                }
            }
            if self.inbox.at_gate() == 0 && self.pending_reset.is_some() {
                if let Some(reset) = self.newest_pending_reset() {
                    self.reset(reset);
                }
            }
            // A backlog passes through without waiting on the network; give
            // the page its turn every few milliseconds so it never freezes.
            if now_ms() - slice_started > SLICE_MS {
                TimeoutFuture::new(0).await;
                slice_started = now_ms();
            }
            let lanes = context.lanes();
            set_if_changed(view.lanes_shown, lanes);
            let redelivering = self
                .lanes
                .carried()
                .filter(|origin| **origin == Origin::DeadLetter)
                .count();
            self.drain.set_lanes(lanes.saturating_sub(redelivering));
            if self.inbox.at_gate() < lanes {
                if let Some(key) = self.redeliveries.pop_front() {
                    if !self.redeliver(&key).await {
                        return self.stop().await;
                    }
                    continue;
                }
            }
            let step = self.drain.next(now_ms(), context.poll_interval());
            view.publish(&self.drain);
            self.wanted.follow(context, &self.drain);
            let went_on = match step {
                Step::Read(kind, path) => {
                    let read = rest::read_rows(&context.session, context.store.table(), &path);
                    match self.alongside(read).await {
                        Some(result) => {
                            let report = self.drain.on_read(kind, result, now_ms(), random());
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
                    self.store_ledger(&writes);
                    true
                }
                Step::Refuse(event, reason) => {
                    self.refuse(event, reason);
                    true
                }
                Step::Wait(duration) => self.wait(duration).await,
                Step::Halted => self.wait(Duration::MAX).await,
            };
            if !went_on {
                return self.stop().await;
            }
        }
    }

    /// Told to stop: no event starts, the attempts under way end (each is
    /// recorded, so the agent's work is not done twice).
    async fn stop(&mut self) {
        self.context.stop();
        self.finish_work_under_way().await;
        // The gate is empty now, and the lock still held: a reset waiting
        // (this drain's, or another tab's "Clear all history") is made.
        if let Some(reset) = self.newest_pending_reset() {
            self.context.reset_store(&reset);
        }
    }

    /// Sends an event to the gate in the first free lane.
    fn start(&mut self, origin: Origin, event: Event) {
        let (lane, serial) = self.lanes.take(origin);
        let context = self.context;
        self.inbox.start(Box::pin(async move {
            Finished {
                lane,
                delivered: delivery::deliver(context, lane, serial, event, None).await,
            }
        }));
    }

    /// Sends one dead letter through the gate again, in a lane of its own;
    /// `false` once told to stop. Its letter stays stored until the agent's
    /// final signal.
    async fn redeliver(&mut self, key: &str) -> bool {
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
            match self.alongside(read).await {
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
}
