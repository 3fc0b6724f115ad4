//! Admission and lanes: which event leaves the source next, and when.
//! Up to `lanes` events are at the gate at once, admitted oldest first; an
//! event whose partition key's value is already at the gate (or waiting
//! before it) waits, and in order no more than `MAX_AHEAD` go beyond the
//! oldest unfinished event. The operator's Pause, Step and Resume, and an
//! event put back because its dead letter could not be kept, act here too.

use super::{AtGate, Drain, Step, Waiting};
use crate::admission::{Admission, MAX_LANES};
use crate::ledger::{Arrival, MAX_AHEAD};
use crate::source::{Event, Identifier};

/// The partition key's value in `event`'s row, as JSON (`null` when the
/// row has none: such rows pass in order among themselves).
fn partition_of(column: Option<&Identifier>, event: &Event) -> Option<String> {
    let column = column?;
    Some(
        event
            .row
            .get(column.as_str())
            .map_or_else(|| "null".to_string(), |v| v.to_string()),
    )
}

impl Drain {
    /// Up to `lanes` events at the gate at once (at most [`MAX_LANES`]; 0
    /// while the shell's own deliveries take every lane).
    pub fn set_lanes(&mut self, lanes: usize) {
        self.lanes = lanes.min(MAX_LANES);
    }

    /// Admits nothing more until the gate is empty.
    pub fn settle(&mut self) {
        self.settling = !self.at_gate.is_empty();
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Events with the same value in this column never overlap. A new key
    /// applies once the events at the gate under the old one have finished.
    pub fn set_partition_key(&mut self, key: Option<&Identifier>) {
        if key != self.partition_key.as_ref() {
            self.settling = !self.at_gate.is_empty();
            self.partition_key = key.cloned();
            let column = self.partition_key.clone();
            for waiting in &mut self.queue {
                waiting.partition = partition_of(column.as_ref(), &waiting.event);
            }
        }
    }

    pub fn admission(&self) -> Admission {
        self.admission
    }

    /// An event read, as it waits at the source.
    pub(super) fn waiting(&self, event: Event, arrival: Arrival, seq: u64) -> Waiting {
        let partition = partition_of(self.partition_key.as_ref(), &event);
        Waiting {
            event,
            arrival,
            seq,
            partition,
            refusing: None,
        }
    }

    /// The waiting event to admit next, if a lane is free: the oldest whose
    /// partition has nothing at the gate or waiting before it. In order,
    /// no more than [`MAX_AHEAD`] go beyond the oldest unfinished event.
    fn admissible(&self) -> Option<usize> {
        let first = self.first_unfinished();
        let beyond = self.ledger.head().ahead.len()
            + self
                .at_gate
                .iter()
                .filter(|g| g.arrival != Arrival::Late)
                .count();
        let mut blocked: Vec<String> = self
            .at_gate
            .iter()
            .filter_map(|g| g.partition.clone())
            .collect();
        for (i, waiting) in self.queue.iter().enumerate() {
            let partition = waiting.partition.as_ref();
            let held = partition.is_some_and(|p| blocked.contains(p))
                || (waiting.arrival != Arrival::Late
                    && beyond >= MAX_AHEAD
                    && Some(waiting.seq) != first);
            if !held {
                return Some(i);
            }
            // Whatever shares its partition waits behind it.
            blocked.extend(partition.cloned());
        }
        None
    }

    /// Lets the next event through, if admission allows: a refused
    /// unreadable row, else the oldest admissible waiting event.
    pub(super) fn admit(&mut self) -> Option<Step> {
        if self.admission == Admission::Paused || self.settling || self.at_gate.len() >= self.lanes
        {
            return None;
        }
        if let Some((event, reason, seq)) = self.refusal.take() {
            self.admitted();
            self.at_gate.push(AtGate {
                position: event.position(),
                arrival: Arrival::InOrder,
                seq: Some(seq),
                partition: None,
                refusing: Some(reason.clone()),
            });
            return Some(Step::Refuse(event, reason));
        }
        let index = self.admissible()?;
        self.admitted();
        let waiting = self.queue.remove(index).expect("admissible index");
        let key = waiting.event.key.clone();
        self.at_gate.push(AtGate {
            position: waiting.event.position(),
            arrival: waiting.arrival,
            seq: Some(waiting.seq),
            partition: waiting.partition,
            refusing: waiting.refusing.clone(),
        });
        if let Some(reason) = waiting.refusing {
            return Some(Step::Refuse(waiting.event, reason));
        }
        if self.imported.contains(&key) {
            return Some(Step::Record(self.on_handled(&key)));
        }
        Some(Step::Deliver(waiting.event))
    }

    /// One event went: a step admits no other.
    fn admitted(&mut self) {
        if self.admission == Admission::StepOnce {
            self.admission = Admission::Paused;
        }
    }

    /// The event at the gate cannot leave (its dead letter could not be
    /// kept): it goes back to its place in the queue, unhandled, and
    /// admission pauses until the operator has made room.
    pub fn put_back(&mut self, event: Event) {
        if let Some(index) = self
            .at_gate
            .iter()
            .position(|g| g.position.key == event.key)
        {
            let back = self.at_gate.remove(index);
            match (back.refusing, back.seq) {
                // An unreadable row: refused again once there is room.
                (Some(reason), Some(seq)) => self.refusal = Some((event, reason, seq)),
                (None, Some(seq)) => {
                    let place = self.queue.iter().position(|w| w.seq > seq);
                    let waiting = self.waiting(event, back.arrival, seq);
                    match place {
                        Some(place) => self.queue.insert(place, waiting),
                        None => self.queue.push_back(waiting),
                    }
                }
                // Its place is not known yet: reading finds it again.
                (_, None) => {}
            }
        }
        self.pause();
    }

    pub fn pause(&mut self) {
        self.admission = Admission::Paused;
    }

    pub fn resume(&mut self) {
        self.admission = Admission::Open;
    }

    /// While paused, lets exactly one event through.
    pub fn step(&mut self) {
        self.admission = self.admission.stepped();
    }
}
