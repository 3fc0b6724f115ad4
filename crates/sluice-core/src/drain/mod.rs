//! The drain engine for one table, as a pure state machine. The shell asks
//! [`Drain::next`] what to do, does it (a read, a delivery, a wait), and
//! reports back; the engine never sleeps, fetches or stores by itself.
//!
//! - Oldest first by keyset: each page starts after the cursor, so a table
//!   whose oldest rows are all handled never stalls.
//! - One read at a time: the next idle read is scheduled from when the
//!   last one ended; while pages come back full they follow each other
//!   without waiting.
//! - Lanes: up to that many events at the gate at once, admitted oldest
//!   first. With a partition key, an event waits while one with the same
//!   value is at the gate, so each value passes in order. Events finish in
//!   any order: the ledger's cursor moves only over the unbroken run of
//!   handled events (each read gets a sequence number, so the run needs no
//!   comparison of keys), and no more than `MAX_AHEAD` events go beyond
//!   the oldest unfinished one.
//! - Late rows: every few intervals, also during a backlog, rows between the
//!   ledger's floor and the cursor that the ledger does not remember are
//!   read and handled once.
//! - Transient errors back off with jitter; others halt until the operator acts.
//! - A page that cannot be read (a row the parser refuses) or that times out
//!   is read again in halves, down to one row; a single row that still
//!   cannot be read is refused by its key and timestamp (read alone), so one
//!   hostile row never blocks its table.
//!
//! This file holds the engine's state, what the shell may ask of it, and
//! [`Drain::next`]'s schedule; the rest is split by concern:
//!
//! - `reading.rs`: what a read brought, and isolating unreadable rows;
//! - `lanes.rs`: admission and lanes (partitions, Pause and Step);
//! - `cursor.rs`: the cursor's run over handled events;
//! - `finish.rs`: what follows the agent's done, in order;
//! - `tests.rs` and `lane_tests.rs`: the unit tests.

mod cursor;
mod finish;
mod lanes;
mod reading;

pub use finish::{finishing, Finish, Origin};

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

pub use crate::admission::{Admission, MAX_LANES};
use crate::backoff::Backoff;
use crate::ledger::{Arrival, Ledger, Write};
use crate::source::{Cursor, Event, Identifier, MalformedRow, Position, TableSource};
use crate::source_error::SourceError;

/// Rows asked for per page.
pub const PAGE_SIZE: usize = 100;
/// A one-row read must fail this many times in a row before its row counts
/// as unreadable: one garbled reply is the network's fault, not the row's.
pub const UNREADABLE_AFTER: u32 = 3;
/// Late rows asked for per look-back.
pub const LATE_PAGE_SIZE: usize = 50;
/// Backoff for transient read errors.
pub const READ_BACKOFF: Backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(60));

/// What the shell should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// GET this path (relative to `{project}/rest/v1/`), then call [`Drain::on_read`].
    Read(ReadKind, String),
    /// Hand the event to the gate, then call [`Drain::on_handled`] with its
    /// key once the agent's final signal has arrived. Other events may be
    /// at the gate meanwhile.
    Deliver(Event),
    /// Store these ledger items: an event the seed prototype handled, or
    /// the cursor moving over events handled ahead of it.
    Record(Vec<Write>),
    /// The next row cannot be read: keep this event (its key, its timestamp
    /// and a note in place of the row) as a dead letter with this reason,
    /// then call [`Drain::on_handled`]. It never reaches the agent.
    Refuse(Event, String),
    /// Nothing to do for this long, unless the operator acts or an event at
    /// the gate finishes first.
    Wait(Duration),
    /// Reading stopped on an error retrying cannot fix; see [`Drain::halted`].
    /// Events at the gate still finish.
    Halted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    Page,
    Late,
    /// The key and timestamp of a row that cannot be read whole.
    Position,
}

/// What a read brought that the operator should hear about.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ReadReport {
    /// Rows skipped, each reported once per session.
    pub malformed: Vec<MalformedRow>,
}

/// An event read and waiting at the source.
#[derive(Debug, Clone)]
struct Waiting {
    event: Event,
    arrival: Arrival,
    /// Its place in the order of reading.
    seq: u64,
    /// Its partition key's value, as JSON, taken once when it was read.
    partition: Option<String>,
    /// A row with no event in it, refused for this reason when its turn
    /// comes.
    refusing: Option<String>,
}

/// An event at the gate: its row went to the shell, only its place stays.
#[derive(Debug, Clone)]
struct AtGate {
    position: Position,
    arrival: Arrival,
    /// Its place in the order of reading; `None` after reading started
    /// again from the cursor, until the row is read again.
    seq: Option<u64>,
    /// Its partition key's value, as JSON.
    partition: Option<String>,
    /// An unreadable row, refused for this reason.
    refusing: Option<String>,
}

pub struct Drain {
    source: TableSource,
    ledger: Ledger,
    queue: VecDeque<Waiting>,
    at_gate: Vec<AtGate>,
    /// Events handled ahead of the cursor whose place in this reading is
    /// known, by sequence number: the run the cursor moves over.
    ahead_read: BTreeMap<u64, Position>,
    next_seq: u64,
    /// The newest row read in keyset order: the next page starts after it.
    read_to: Option<Cursor>,
    lanes: usize,
    partition_key: Option<Identifier>,
    /// Admit nothing until the gate is empty (the partition key changed).
    settling: bool,
    /// Rows asked for per page: halved while pages cannot be read or time
    /// out, doubled back after each good one.
    page_size: usize,
    /// One-row reads that failed in a row as unreadable.
    unreadable_reads: u32,
    /// Why the next row cannot be read, while its position is asked for.
    unreadable: Option<String>,
    /// An unreadable row to hand out, refused, with its sequence number.
    refusal: Option<(Event, String, u64)>,
    admission: Admission,
    watch_only: bool,
    /// The last page was full: read the next at once.
    more_pages: bool,
    interval: Duration,
    next_read_at_ms: f64,
    next_late_check_at_ms: f64,
    backoff: Backoff,
    retry_at_ms: Option<f64>,
    last_error: Option<SourceError>,
    halted: Option<SourceError>,
    last_read_ms: Option<f64>,
    reported: BTreeSet<String>,
    /// Keys the seed prototype handled, until the drain first catches up.
    imported: BTreeSet<String>,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Drain {
    pub fn new(source: TableSource, ledger: Ledger) -> Self {
        let read_to = ledger.cursor().cloned();
        Self {
            source,
            ledger,
            queue: VecDeque::new(),
            at_gate: Vec::new(),
            ahead_read: BTreeMap::new(),
            next_seq: 0,
            read_to,
            lanes: 1,
            partition_key: None,
            settling: false,
            page_size: PAGE_SIZE,
            unreadable_reads: 0,
            unreadable: None,
            refusal: None,
            admission: Admission::Open,
            watch_only: false,
            more_pages: false,
            interval: Duration::from_secs(2),
            next_read_at_ms: f64::MIN,
            next_late_check_at_ms: f64::MIN,
            backoff: READ_BACKOFF,
            retry_at_ms: None,
            last_error: None,
            halted: None,
            last_read_ms: None,
            reported: BTreeSet::new(),
            imported: BTreeSet::new(),
        }
    }

    /// Keys handled by the seed prototype: they are recorded, not delivered,
    /// as the drain reaches them.
    pub fn import_handled(&mut self, keys: impl IntoIterator<Item = String>) {
        self.imported.extend(keys);
    }

    pub fn source(&self) -> &TableSource {
        &self.source
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Events read and waiting at the source, in order.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// The next event to leave the source.
    pub fn next_event(&self) -> Option<&Event> {
        self.queue.front().map(|waiting| &waiting.event)
    }

    /// How many events are at the gate.
    pub fn at_gate(&self) -> usize {
        self.at_gate.len()
    }

    /// The source timestamp (µs) of the oldest event not yet handled: at the
    /// gate or waiting. Its age is the lag.
    pub fn oldest_waiting_micros(&self) -> Option<i64> {
        let waiting = self.queue.iter().map(|w| w.event.timestamp_micros);
        self.at_gate
            .iter()
            .map(|g| g.position.timestamp_micros)
            .chain(waiting)
            .min()
    }

    /// Whether everything after the cursor has been read, so that the
    /// backlog is known without asking the server.
    pub fn backlog_known(&self) -> bool {
        self.last_read_ms().is_some() && !self.more_pages() && self.queued() < PAGE_SIZE
    }

    /// The last page came back full: the source holds more than was read,
    /// so only the server can count the backlog.
    pub fn more_pages(&self) -> bool {
        self.more_pages
    }

    pub fn watch_only(&self) -> bool {
        self.watch_only
    }

    /// When the source last answered (ms on the shell's clock).
    pub fn last_read_ms(&self) -> Option<f64> {
        self.last_read_ms
    }

    /// The transient error being retried, and how many times in a row.
    pub fn retrying(&self) -> Option<(&SourceError, u32)> {
        self.last_error
            .as_ref()
            .map(|e| (e, self.backoff.failures()))
    }

    pub fn halted(&self) -> Option<&SourceError> {
        self.halted.as_ref()
    }

    /// How often the look-back runs: every five idle polls, between 1 s and
    /// a minute, and never more than every other poll (a live drain polls
    /// once a minute, and a late row's insert wakes it anyway).
    fn late_check_every(&self) -> Duration {
        (self.interval * 5)
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
            .max(self.interval * 2)
    }

    /// A row was inserted (Realtime said so): read the next page now, and
    /// look for late rows within a second (a burst of wake-ups looks once a
    /// second, not once per read), unless a backoff is pending. Only a
    /// wake-up: what is read decides what is handled.
    pub fn wake(&mut self, now_ms: f64) {
        self.next_read_at_ms = f64::MIN;
        self.next_late_check_at_ms = self.next_late_check_at_ms.min(now_ms + 1_000.0);
    }

    /// What to do now, at `now_ms`, polling every `interval` when idle.
    pub fn next(&mut self, now_ms: f64, interval: Duration) -> Step {
        if interval != self.interval {
            // A new rate applies from the last read, not from the old
            // schedule; a read a wake-up made due stays due (going live
            // both wakes the drain and lengthens its interval).
            if self.next_read_at_ms != f64::MIN {
                self.next_read_at_ms = self
                    .last_read_ms
                    .map_or(f64::MIN, |at| at + millis(interval));
            }
            self.interval = interval;
        }
        if self.halted.is_some() {
            return Step::Halted;
        }
        if self.settling && self.at_gate.is_empty() {
            self.settling = false;
        }
        if let Some(head) = self.pass_run() {
            return Step::Record(vec![head]);
        }
        if !self.watch_only {
            if let Some(step) = self.admit() {
                return step;
            }
        }
        if let Some(at) = self.retry_at_ms {
            if now_ms < at {
                return Step::Wait(Duration::from_secs_f64((at - now_ms) / 1000.0));
            }
            self.retry_at_ms = None;
        }
        if self.watch_only {
            if now_ms >= self.next_read_at_ms {
                return Step::Read(
                    ReadKind::Page,
                    self.source.page_path(self.ledger.cursor(), self.page_size),
                );
            }
            return self.wait_until(self.next_read_at_ms, now_ms);
        }
        if self.unreadable.is_some() {
            return Step::Read(
                ReadKind::Position,
                self.source.position_path(self.read_to.as_ref()),
            );
        }
        if !self.wants_rows() {
            return Step::Wait(Duration::MAX);
        }
        // Late rows are looked for during a backlog too: a row that commits
        // late must not wait for the backlog to end, when the ring may have
        // forgotten the keys around it.
        if let (Some(cursor), Some(floor)) = (self.ledger.cursor(), self.ledger.late_floor()) {
            if now_ms >= self.next_late_check_at_ms {
                self.next_late_check_at_ms = now_ms + millis(self.late_check_every());
                let handled = self.ledger.keys_after_floor();
                return Step::Read(
                    ReadKind::Late,
                    self.source
                        .late_rows_path(cursor, floor, &handled, LATE_PAGE_SIZE),
                );
            }
        }
        if self.more_pages {
            return self.read_page();
        }
        if self.last_read_ms.is_some() && self.queue.is_empty() {
            // Caught up: every imported key has been met, or never will be.
            self.imported.clear();
        }
        if now_ms >= self.next_read_at_ms {
            return self.read_page();
        }
        let late_at = if self.ledger.cursor().is_some() {
            self.next_late_check_at_ms
        } else {
            f64::MAX
        };
        self.wait_until(self.next_read_at_ms.min(late_at), now_ms)
    }

    fn read_page(&self) -> Step {
        Step::Read(
            ReadKind::Page,
            self.source.page_path(self.read_to.as_ref(), self.page_size),
        )
    }

    /// Whether to read more rows now: when nothing waits, or when what
    /// waits is held back (its partition is busy) while a lane is free.
    fn wants_rows(&self) -> bool {
        self.queue.is_empty()
            || (self.admission != Admission::Paused
                && !self.settling
                && self.at_gate.len() < self.lanes
                && self.queue.len() < PAGE_SIZE)
    }

    fn wait_until(&self, at_ms: f64, now_ms: f64) -> Step {
        Step::Wait(Duration::from_secs_f64(
            ((at_ms - now_ms) / 1000.0).max(0.0),
        ))
    }
}

#[cfg(test)]
mod lane_tests;

#[cfg(test)]
mod tests;
