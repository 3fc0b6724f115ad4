//! What follows an event the agent is done with. Handling an event ends in
//! a fixed order, each step only once the one before it was kept: a refused
//! event's dead letter first (an event leaves the source only to the
//! agent's done or to a kept dead letter), then the ledger (so that a
//! reload never hands it out again). A dead letter sent through the gate
//! again is already in the ledger: its letter is forgotten once the agent
//! is done with it, or kept (updated) if refused again.

use super::Drain;
use crate::source::Event;

/// Where an event at the gate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Read from the table.
    Source,
    /// A dead letter sent through the gate again.
    DeadLetter,
}

/// One step of finishing an event, done by the shell in the order given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Keep the event's dead letter; if it cannot be kept, stop here and
    /// call [`Drain::on_letter_refused`].
    KeepDeadLetter,
    /// Record the event as handled ([`Drain::on_handled`]) and store what
    /// the ledger wrote.
    RecordHandled,
    /// Remove the event's dead letter: the agent is done with it.
    ForgetDeadLetter,
}

/// The steps that finish an event of `origin` that the agent passed
/// (`refused` false) or refused.
pub fn finishing(origin: Origin, refused: bool) -> &'static [Finish] {
    match (origin, refused) {
        (Origin::Source, true) => &[Finish::KeepDeadLetter, Finish::RecordHandled],
        (Origin::Source, false) => &[Finish::RecordHandled],
        (Origin::DeadLetter, true) => &[Finish::KeepDeadLetter],
        (Origin::DeadLetter, false) => &[Finish::ForgetDeadLetter],
    }
}

impl Drain {
    /// A refused event whose dead letter could not be kept stays unhandled:
    /// a table's event goes back to its place at the head of the queue; in
    /// both cases admission pauses until the operator makes room.
    pub fn on_letter_refused(&mut self, origin: Origin, event: Event) {
        match origin {
            Origin::Source => self.put_back(event),
            Origin::DeadLetter => self.pause(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_event_is_recorded_only_after_its_letter_is_kept() {
        assert_eq!(
            finishing(Origin::Source, true),
            [Finish::KeepDeadLetter, Finish::RecordHandled]
        );
        assert_eq!(finishing(Origin::Source, false), [Finish::RecordHandled]);
    }

    #[test]
    fn a_dead_letter_sent_again_is_never_recorded_twice() {
        assert_eq!(
            finishing(Origin::DeadLetter, true),
            [Finish::KeepDeadLetter]
        );
        assert_eq!(
            finishing(Origin::DeadLetter, false),
            [Finish::ForgetDeadLetter]
        );
    }
}
