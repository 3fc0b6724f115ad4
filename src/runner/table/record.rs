//! The one place where handling a table's event ends, in the order the
//! engine gives (`sluice_core::drain::finishing`): a refused event's dead
//! letter, the ledger, then the journal the page shows.

use leptos::prelude::*;
use sluice_core::dead_letters::DeadLetter;
use sluice_core::drain::{finishing, Finish, Origin};
use sluice_core::gate::{Badge, GateView};
use sluice_core::history::Outcome;
use sluice_core::ledger::Write;
use sluice_core::source::Event;

use super::super::delivery::{Delivered, Report};
use super::super::station::now_ms;
use super::{Context, TableLoop};
use crate::browser::storage::StoreError;
use crate::browser::table_store::LetterRefused;

impl TableLoop<'_> {
    /// Finishes an event the agent is done with.
    pub(super) fn record(&mut self, lane: usize, origin: Origin, delivered: Delivered) {
        let context = self.context;
        let store = &context.store;
        let refusal = delivered.report.refusal();
        for finish in finishing(origin, refusal.is_some()) {
            match finish {
                Finish::KeepDeadLetter => {
                    let reason = refusal.cloned().unwrap_or_default();
                    let letter = DeadLetter::of(
                        &delivered.event,
                        reason,
                        delivered.report.attempts,
                        now_ms(),
                        context.session.operator_email().map(str::to_string),
                    );
                    match store.add_dead_letter(letter) {
                        Ok(letters) => context.view.dead_letters.set(letters),
                        Err(refused) => return self.keep_back(lane, origin, delivered, refused),
                    }
                }
                Finish::RecordHandled => {
                    let writes = self.drain.on_handled(&delivered.event.key);
                    self.store_ledger(&writes);
                }
                Finish::ForgetDeadLetter => context.publish_letters(
                    store.remove_dead_letters(std::slice::from_ref(&delivered.event.key)),
                ),
            }
        }
        delivered.report.note_in(delivered.event, context);
    }

    /// A row that cannot be read goes straight to the dead letters, by its
    /// key, so it does not block the rows after it.
    pub(super) fn refuse(&mut self, event: Event, reason: String) {
        let context = self.context;
        let badge = Badge::of(&event.key, &event.row, context.source.table.as_str());
        let (lane, serial) = self.lanes.next_free();
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
            report: Report {
                badge,
                outcome: Outcome::Rejected(reason),
                attempts: 0,
                admitted_ms: now_ms(),
                signals: Vec::new(),
            },
        };
        self.record(lane, Origin::Source, delivered);
    }

    /// A refused event whose dead letter could not be kept stays unhandled,
    /// with draining paused until the operator makes room.
    fn keep_back(
        &mut self,
        lane: usize,
        origin: Origin,
        delivered: Delivered,
        refused: LetterRefused,
    ) {
        let context = self.context;
        let key = delivered.event.key.clone();
        self.drain.on_letter_refused(origin, delivered.event);
        context.view.publish(&self.drain);
        context.show_gate(lane, |g| {
            g.kept_back(format!("not dead-lettered: {refused}"))
        });
        context.alerts.show(format!(
            "The agent refused event {key} of {}, but its dead letter could not be kept: {refused} \
             Draining is paused and the event stays in the table; it goes to the agent again on Resume.",
            context.store.table()
        ));
    }

    /// Stores what the ledger recorded. If it cannot be stored, draining
    /// pauses: going on would hand these events to the agent again after a
    /// reload.
    pub(super) fn store_ledger(&mut self, writes: &[Write]) {
        if let Err(error) = self.context.store.record(writes) {
            self.drain.pause();
            self.context.view.publish(&self.drain);
            self.context.alerts.show(format!(
                "{error} Draining is paused so that no event is handled twice."
            ));
        }
    }
}

impl Context {
    /// Shows the table's dead letters as stored.
    pub(super) fn publish_letters(&self, letters: Result<Vec<DeadLetter>, StoreError>) {
        match letters {
            Ok(letters) => self.view.dead_letters.set(letters),
            Err(error) => self.alerts.show(error),
        }
    }
}
