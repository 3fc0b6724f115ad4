//! The cursor's run: events finish in any order, and the ledger's cursor
//! moves only over the unbroken run of handled events, found by the
//! sequence number each read gives its rows (no comparison of keys). When
//! reading starts again from the cursor, events keep their places only once
//! read again, so the cursor never passes a row not read.

use super::Drain;
use crate::ledger::{Arrival, Write};

impl Drain {
    /// The sequence number of the oldest event read in order and not yet
    /// handled: the cursor's run ends before it.
    pub(super) fn first_unfinished(&self) -> Option<u64> {
        let in_order = |arrival: Arrival| arrival != Arrival::Late;
        let waiting = self
            .queue
            .iter()
            .find(|w| in_order(w.arrival))
            .map(|w| w.seq);
        let at_gate = self
            .at_gate
            .iter()
            .filter(|g| in_order(g.arrival))
            .filter_map(|g| g.seq);
        let refused = self.refusal.as_ref().map(|(_, _, seq)| *seq);
        waiting.into_iter().chain(at_gate).chain(refused).min()
    }

    /// The agent's final signal for the event at the gate with this key has
    /// arrived: the event is handled. Returns the storage items to write.
    /// A key no longer at the gate (the history was cleared meanwhile)
    /// records nothing.
    pub fn on_handled(&mut self, key: &str) -> Vec<Write> {
        let Some(index) = self.at_gate.iter().position(|g| g.position.key == key) else {
            return Vec::new();
        };
        let done = self.at_gate.remove(index);
        if done.arrival == Arrival::Late {
            return self.ledger.record(&done.position, Arrival::Late);
        }
        // Remembered ahead first; the run then decides whether the cursor
        // moves over it at once.
        let mut writes = self.ledger.record(&done.position, Arrival::Ahead);
        if let Some(seq) = done.seq {
            self.ahead_read.insert(seq, done.position);
        }
        if let Some(head) = self.pass_run() {
            writes[0] = head;
        }
        writes
    }

    /// Moves the cursor to the newest event handled ahead with nothing
    /// unfinished read before it; returns the head to write, if it moved.
    pub(super) fn pass_run(&mut self) -> Option<Write> {
        let first = self.first_unfinished().unwrap_or(u64::MAX);
        let passed: Vec<u64> = self
            .ahead_read
            .range(..first)
            .map(|(seq, _)| *seq)
            .collect();
        let last = *passed.last()?;
        let to = self.ahead_read[&last].clone();
        let keys: Vec<String> = passed
            .iter()
            .filter_map(|seq| self.ahead_read.remove(seq))
            .map(|position| position.key)
            .collect();
        Some(self.ledger.pass_ahead(&to, &keys))
    }

    /// Forgets what was read: the next page starts after the cursor. The
    /// events at the gate and those handled ahead keep their places only
    /// once read again, so the cursor never passes a row not read.
    pub(super) fn read_again_from_cursor(&mut self) {
        self.queue.clear();
        self.ahead_read.clear();
        for at_gate in &mut self.at_gate {
            at_gate.seq = None;
        }
        self.refusal = None;
        self.unreadable = None;
        self.read_to = self.ledger.cursor().cloned();
        self.more_pages = false;
        self.next_read_at_ms = f64::MIN;
    }
}
