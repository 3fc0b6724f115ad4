//! The operator's intents, applied to a table's drain between steps (or,
//! before the drain exists, to what is stored); a reset of the history
//! waits for the events at the gate to finish.

use leptos::prelude::*;
use sluice_core::drain::{Admission, Drain};
use sluice_core::ledger::{Ledger, PendingReset};
use std::collections::VecDeque;
use std::time::Duration;

use super::super::inbox::Inbox;
use super::super::station::now_ms;
use super::super::view::{Condition, Question};
use super::super::Intent;
use super::{Context, Finished, TableLoop};

impl TableLoop<'_> {
    /// Applies an intent between steps; `false` to stop.
    pub(super) fn apply(&mut self, intent: Intent) -> bool {
        let context = self.context;
        let store = &context.store;
        let drain = &mut self.drain;
        match intent {
            Intent::Pause => drain.pause(),
            Intent::Resume => drain.resume(),
            Intent::Step => drain.step(),
            Intent::WatchOnly(on) => drain.set_watch_only(on),
            Intent::Redeliver(keys) => self.redeliveries.extend(keys),
            Intent::Discard(keys) => context.publish_letters(store.remove_dead_letters(&keys)),
            // The events at the gate finish first: their agent is at work.
            Intent::Clear | Intent::Import(_) if self.inbox.at_gate() > 0 => {
                let reset = pending_reset(intent);
                let table = store.table();
                match store.save_pending_reset(&reset) {
                    Ok(()) => context.alerts.show(format!(
                        "The history of {table} is reset once the events at the gate finish (also after a reload)."
                    )),
                    Err(error) => context.alerts.show(format!(
                        "The history of {table} is reset once the events at the gate finish; keep this page open until then ({error})."
                    )),
                }
                drain.settle();
                self.pending_reset = Some(reset);
            }
            Intent::Clear | Intent::Import(_) => self.reset(pending_reset(intent)),
            Intent::RetryNow => context.retry_now(),
            Intent::Wake => {
                context.woke();
                drain.wake(now_ms());
            }
            Intent::Settings(choices) => context.choose(choices),
            Intent::PartitionKey(key) => {
                drain.set_partition_key(key.as_ref());
                context.view.partition_key.set(key);
            }
            Intent::AlertThresholds(limits) => context.view.alert_thresholds.set(limits),
            // No question is asked while draining.
            Intent::Answer(..) => {}
            Intent::Stop => return false,
        }
        context.view.publish(&self.drain);
        true
    }

    /// The reset waiting for the gate to empty: the one in storage, which is
    /// the newest (a later Clear or import, here or from another tab's
    /// "Clear all history", replaces it there), else this drain's own (when
    /// storage refused it).
    pub(super) fn newest_pending_reset(&mut self) -> Option<PendingReset> {
        let own = self.pending_reset.take();
        match self.context.store.pending_reset() {
            Ok(Some(stored)) => Some(stored),
            _ => own,
        }
    }

    /// Starts the table again from a cleared or imported history; a reset
    /// that was waiting is superseded.
    pub(super) fn reset(&mut self, reset: PendingReset) {
        self.pending_reset = None;
        if let Some(ledger) = self.context.reset_store(&reset) {
            self.drain = self.context.new_drain(ledger);
        }
        self.context.view.publish(&self.drain);
    }
}

impl Context {
    /// A drain from `ledger`, with the choices in force: the operator's, or
    /// a pause this drain made itself.
    pub(super) fn new_drain(&self, ledger: Ledger) -> Drain {
        let view = self.view;
        let mut drain = Drain::new(self.source.clone(), ledger);
        drain.set_partition_key(view.partition_key.get_untracked().as_ref());
        if view.admission.get_untracked() != Admission::Open {
            drain.pause();
        }
        drain.set_watch_only(view.watch_only.get_untracked());
        drain
    }

    /// Makes a reset in storage; the ledger to drain from, if stored.
    pub(super) fn reset_store(&self, reset: &PendingReset) -> Option<Ledger> {
        self.store
            .reset(reset)
            .map_err(|error| self.alerts.show(error))
            .ok()
    }

    /// Applies the operator's choices while there is no drain yet (pause,
    /// watch only, the table's settings, the agent's): kept in the view and
    /// the station for the drain to come, and shown at once.
    pub(super) fn apply_choices(&self, inbox: &mut Inbox<'_, Finished>) {
        let view = self.view;
        inbox.apply_kept(|intent| match intent {
            Intent::PartitionKey(key) => {
                view.partition_key.set(key.clone());
                true
            }
            Intent::AlertThresholds(limits) => {
                view.alert_thresholds.set(*limits);
                true
            }
            Intent::Settings(choices) => {
                self.choose(choices.clone());
                true
            }
            Intent::Pause => {
                view.admission.set(Admission::Paused);
                true
            }
            Intent::Resume => {
                view.admission.set(Admission::Open);
                true
            }
            Intent::WatchOnly(on) => {
                view.watch_only.set(*on);
                true
            }
            _ => false,
        });
    }

    /// Applies an intent while there is no drain yet; `false` to stop.
    fn apply_before_draining(&self, intent: Intent, redeliveries: &mut VecDeque<String>) -> bool {
        let view = self.view;
        match intent {
            Intent::Redeliver(keys) => redeliveries.extend(keys),
            Intent::Discard(keys) => self.publish_letters(self.store.remove_dead_letters(&keys)),
            Intent::Clear | Intent::Import(_) => {
                self.reset_store(&pending_reset(intent));
            }
            // Kept in the view for the drain to come.
            Intent::Pause => view.admission.set(Admission::Paused),
            Intent::Resume => view.admission.set(Admission::Open),
            Intent::WatchOnly(on) => view.watch_only.set(on),
            Intent::PartitionKey(key) => view.partition_key.set(key),
            Intent::AlertThresholds(limits) => view.alert_thresholds.set(limits),
            Intent::Settings(choices) => self.choose(choices),
            // The drain's first read comes anyway.
            Intent::Wake => self.woke(),
            Intent::Step | Intent::RetryNow | Intent::Answer(..) => {}
            Intent::Stop => return false,
        }
        true
    }
}

/// The ledger as stored; while it cannot be read the drain waits for the
/// operator ("Clear history" or an import replaces it). `None` once told to
/// stop.
pub(super) async fn stored_ledger(
    context: &Context,
    inbox: &mut Inbox<'_, Finished>,
    redeliveries: &mut VecDeque<String>,
) -> Option<Ledger> {
    loop {
        match context.store.ledger() {
            Ok(ledger) => return Some(ledger),
            Err(error) => {
                // Never restart a table from zero silently.
                context.view.condition.set(Condition::Halted(format!(
                    "The saved progress of {} cannot be read ({error}) — use “Clear history” to start this table again.",
                    context.store.table()
                )));
                if !inbox.wait(Duration::MAX).await {
                    return None;
                }
                while let Some(intent) = inbox.next_kept() {
                    if !context.apply_before_draining(intent, redeliveries) {
                        return None;
                    }
                }
            }
        }
    }
}

/// Asks the operator in the page and waits for the answer, applying the
/// operator's choices meanwhile; `None` once told to stop.
pub(super) async fn ask(
    context: &Context,
    inbox: &mut Inbox<'_, Finished>,
    question: Question,
) -> Option<bool> {
    let id = question.id;
    context.view.question.set(Some(question));
    let answer = loop {
        let mut answer = None;
        // An answer to an earlier question (a double click) is dropped.
        inbox.apply_kept(|intent| match intent {
            Intent::Answer(to, yes) => {
                if *to == id {
                    answer = Some(*yes);
                }
                true
            }
            _ => false,
        });
        context.apply_choices(inbox);
        if answer.is_some() || !inbox.next_intent().await {
            break answer;
        }
    };
    context.view.question.set(None);
    answer
}

/// The reset an intent asks for.
fn pending_reset(intent: Intent) -> PendingReset {
    match intent {
        Intent::Import(file) => PendingReset::Import(file),
        _ => PendingReset::Clear,
    }
}
