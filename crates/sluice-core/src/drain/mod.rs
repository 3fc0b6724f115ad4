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

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::ledger::{Arrival, Ledger, Write, MAX_AHEAD};
use crate::source::{Cursor, Event, Identifier, MalformedRow, Position, TableSource};
use crate::source_error::SourceError;

/// Rows asked for per page.
pub const PAGE_SIZE: usize = 100;
/// Most events at the gate at once.
pub const MAX_LANES: usize = 32;
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

/// Whether events may leave the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Open,
    Paused,
    /// Paused, but the next event may go.
    StepOnce,
}

impl Admission {
    /// "Step": while paused, exactly one more may go; open stays open.
    pub fn stepped(self) -> Self {
        match self {
            Self::Open => Self::Open,
            Self::Paused | Self::StepOnce => Self::StepOnce,
        }
    }
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
    reported: HashSet<String>,
    /// Keys the seed prototype handled, until the drain first catches up.
    imported: HashSet<String>,
}

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
            reported: HashSet::new(),
            imported: HashSet::new(),
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

    /// The last page came back full: the source holds more than was read,
    /// so only the server can count the backlog.
    pub fn more_pages(&self) -> bool {
        self.more_pages
    }

    pub fn admission(&self) -> Admission {
        self.admission
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

    /// How often the look-back runs: every five idle polls, between 1 s and a minute.
    fn late_check_every(&self) -> Duration {
        (self.interval * 5).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }

    fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// The sequence number of the oldest event read in order and not yet
    /// handled: the cursor's run ends before it.
    fn first_unfinished(&self) -> Option<u64> {
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

    /// An event read, as it waits at the source.
    fn waiting(&self, event: Event, arrival: Arrival, seq: u64) -> Waiting {
        let partition = partition_of(self.partition_key.as_ref(), &event);
        Waiting {
            event,
            arrival,
            seq,
            partition,
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
    fn admit(&mut self) -> Option<Step> {
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
            refusing: None,
        });
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

    /// What to do now, at `now_ms`, polling every `interval` when idle.
    pub fn next(&mut self, now_ms: f64, interval: Duration) -> Step {
        if interval != self.interval {
            // A new rate applies from the last read, not from the old schedule.
            self.next_read_at_ms = self
                .last_read_ms
                .map_or(f64::MIN, |at| at + millis(interval));
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

    /// Takes the result of a read that ended at `now_ms`; `random` in [0, 1)
    /// jitters the backoff.
    pub fn on_read(
        &mut self,
        kind: ReadKind,
        result: Result<Vec<serde_json::Value>, SourceError>,
        now_ms: f64,
        random: f64,
    ) -> ReadReport {
        let mut report = ReadReport::default();
        if kind == ReadKind::Position {
            self.on_position_read(result, now_ms, random);
            return report;
        }
        let rows = match result {
            Ok(rows) => rows,
            Err(error) => {
                // Watching only, nothing is refused: the error backs off.
                if kind == ReadKind::Page && !self.watch_only && self.read_smaller(&error) {
                    return report;
                }
                if error.is_transient() {
                    let wait = self.backoff.fail(error.retry_after(), random);
                    self.retry_at_ms = Some(now_ms + millis(wait));
                    self.last_error = Some(error);
                } else {
                    self.halted = Some(error);
                }
                return report;
            }
        };
        self.backoff.succeed();
        self.last_error = None;
        self.last_read_ms = Some(now_ms);
        let full = rows.len()
            >= if kind == ReadKind::Page {
                self.page_size
            } else {
                LATE_PAGE_SIZE
            };
        if kind == ReadKind::Page {
            self.unreadable_reads = 0;
            self.page_size = (self.page_size * 2).min(PAGE_SIZE);
        }
        if self.watch_only && kind == ReadKind::Page {
            // A fresh look replaces the last one, when it arrives: the source
            // never shows empty while a read is under way.
            self.queue.clear();
        }
        let arrival = if kind == ReadKind::Page {
            Arrival::InOrder
        } else {
            Arrival::Late
        };
        let mut parsed = 0;
        for row in rows {
            match self.source.event(row) {
                Ok(event) => {
                    parsed += 1;
                    if let Some(missing) = self.missing_partition_key(&event) {
                        self.halted = Some(missing);
                        return report;
                    }
                    self.take_in(event, arrival);
                }
                Err(malformed) => {
                    if self.reported.len() < 10_000 && self.reported.insert(malformed.to_string()) {
                        report.malformed.push(malformed);
                    }
                }
            }
        }
        match kind {
            ReadKind::Page => {
                self.more_pages = full && !self.watch_only;
                self.next_read_at_ms = now_ms + millis(self.interval);
                if full && parsed == 0 {
                    // A whole page of rows that cannot be handled: the cursor
                    // cannot move past them, so say so rather than spin.
                    self.halted = Some(SourceError::Unreadable {
                        table: self.source.table.as_str().to_string(),
                        detail: format!("{PAGE_SIZE} rows in a row are malformed; fix them or the table's columns"),
                    });
                }
            }
            ReadKind::Late => {
                // More late rows than one look-back holds: check again soon.
                if full {
                    self.next_late_check_at_ms = now_ms;
                }
            }
            ReadKind::Position => {}
        }
        report
    }

    /// The partition key names a column the table's rows do not have.
    fn missing_partition_key(&self, event: &Event) -> Option<SourceError> {
        let column = self.partition_key.as_ref()?;
        event.row.get(column.as_str()).is_none().then(|| SourceError::UnknownColumn {
            table: self.source.table.as_str().to_string(),
            message: format!(
                "the partition key {} is not a column of {}; change or clear it in the agent settings",
                column.as_str(),
                self.source.table.as_str()
            ),
        })
    }

    /// A row just read: waiting at the source, unless it is already at the
    /// gate or handled ahead of the cursor (read again after a reload), or
    /// (from the look-back) already waiting.
    fn take_in(&mut self, event: Event, arrival: Arrival) {
        if self.watch_only {
            let seq = self.take_seq();
            self.queue.push_back(self.waiting(event, arrival, seq));
            return;
        }
        if arrival == Arrival::InOrder {
            self.read_to = Some(Cursor {
                timestamp: event.timestamp.clone(),
                key: event.key.clone(),
            });
        }
        let seq = self.take_seq();
        if let Some(at_gate) = self
            .at_gate
            .iter_mut()
            .find(|g| g.position.key == event.key)
        {
            if arrival == Arrival::InOrder && at_gate.arrival != Arrival::Late {
                at_gate.seq = Some(seq);
            }
            return;
        }
        if arrival == Arrival::InOrder && self.ledger.is_ahead(&event.key) {
            self.ahead_read.insert(seq, event.position());
            return;
        }
        if arrival == Arrival::Late && self.queue.iter().any(|w| w.event.key == event.key) {
            return;
        }
        self.queue.push_back(self.waiting(event, arrival, seq));
    }

    /// A page failed in a way a smaller page may not: unreadable (a row the
    /// parser refuses) or too slow. Returns whether it is handled here.
    fn read_smaller(&mut self, error: &SourceError) -> bool {
        let SourceError::Unreadable { detail, .. } = error else {
            if matches!(error, SourceError::TimedOut { .. }) {
                // Still backed off as transient, but with a smaller page.
                self.page_size = (self.page_size / 2).max(1);
            }
            return false;
        };
        if self.page_size > 1 {
            self.page_size /= 2;
            return true;
        }
        self.unreadable_reads += 1;
        if self.unreadable_reads < UNREADABLE_AFTER {
            return false;
        }
        self.unreadable = Some(detail.clone());
        true
    }

    /// The key and timestamp of a row that cannot be read whole.
    fn on_position_read(
        &mut self,
        result: Result<Vec<serde_json::Value>, SourceError>,
        now_ms: f64,
        random: f64,
    ) {
        let detail = self.unreadable.clone().unwrap_or_default();
        let after = match &self.read_to {
            Some(c) => format!("after key {} at {}", c.key, c.timestamp),
            None => "first".to_string(),
        };
        let halt = |detail: String| SourceError::Unreadable {
            table: self.source.table.as_str().to_string(),
            detail,
        };
        match result {
            Err(error)
                if error.is_transient() && !matches!(error, SourceError::Unreadable { .. }) =>
            {
                let wait = self.backoff.fail(error.retry_after(), random);
                self.retry_at_ms = Some(now_ms + millis(wait));
                self.last_error = Some(error);
            }
            Err(error) => {
                self.unreadable = None;
                self.halted = Some(halt(format!(
                    "the row {after} cannot be read, not even its key ({error}); fix or delete it"
                )));
            }
            Ok(rows) => {
                self.unreadable = None;
                self.unreadable_reads = 0;
                let Some(row) = rows.into_iter().next() else {
                    // The row is gone: read on.
                    return;
                };
                match self.source.event(row) {
                    // Refused before a reload, ahead of an older event: it
                    // is handled, and stays so.
                    Ok(event) if self.ledger.is_ahead(&event.key) => {
                        self.read_to = Some(Cursor {
                            timestamp: event.timestamp.clone(),
                            key: event.key.clone(),
                        });
                        let seq = self.take_seq();
                        self.ahead_read.insert(seq, event.position());
                    }
                    Ok(mut event) => {
                        let reason = format!("unreadable row: {detail}");
                        event.row = serde_json::json!({
                            crate::dead_letters::NOTE_FIELD: format!("this row could not be read ({detail}); read it from the table by its key"),
                        });
                        event.row_bytes = 0;
                        self.read_to = Some(Cursor {
                            timestamp: event.timestamp.clone(),
                            key: event.key.clone(),
                        });
                        let seq = self.take_seq();
                        self.refusal = Some((event, reason, seq));
                    }
                    Err(malformed) => {
                        self.halted = Some(halt(format!(
                            "the row {after} cannot be read, not even its key ({})",
                            malformed.reason
                        )));
                    }
                }
            }
        }
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
    fn pass_run(&mut self) -> Option<Write> {
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

    pub fn set_watch_only(&mut self, watch_only: bool) {
        self.watch_only = watch_only;
        self.read_again_from_cursor();
    }

    /// Forgets what was read: the next page starts after the cursor. The
    /// events at the gate and those handled ahead keep their places only
    /// once read again, so the cursor never passes a row not read.
    fn read_again_from_cursor(&mut self) {
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

#[cfg(test)]
mod lane_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Identifier;
    use crate::timestamp::format_micros;
    use serde_json::{json, Value};

    pub(super) const T0: i64 = 1_714_557_600_000_000;
    pub(super) const SECOND: Duration = Duration::from_secs(1);

    pub(super) fn source() -> TableSource {
        TableSource {
            table: Identifier::parse("events").unwrap(),
            timestamp_column: Identifier::parse("created_at").unwrap(),
            key_column: Identifier::parse("id").unwrap(),
        }
    }

    /// A row of the test table; its `part` column serves as a partition key.
    pub(super) fn row(id: i64, micros: i64) -> Value {
        json!({"id": id, "created_at": format_micros(micros), "type": "x", "part": (id * 7) % 5})
    }

    /// A table in memory, answering the engine's reads the way PostgREST would.
    pub(super) struct Table(pub Vec<(i64, i64)>);

    impl Table {
        pub(super) fn answer(&self, drain: &Drain, kind: ReadKind) -> Vec<Value> {
            let mut rows = self.0.clone();
            rows.sort_by_key(|&(id, t)| (t, id));
            let after = |id: i64, t: i64| match drain.read_to.as_ref() {
                None => true,
                Some(c) => {
                    let ct = crate::timestamp::parse_micros(&c.timestamp).unwrap();
                    let ck: i64 = c.key.parse().unwrap();
                    (t, id) > (ct, ck)
                }
            };
            match kind {
                ReadKind::Page | ReadKind::Position => rows
                    .into_iter()
                    .filter(|&(id, t)| after(id, t))
                    .take(PAGE_SIZE)
                    .map(|(id, t)| row(id, t))
                    .collect(),
                ReadKind::Late => {
                    let floor = drain.ledger().late_floor().unwrap();
                    rows.into_iter()
                        .filter(|&(id, t)| {
                            let cursor = drain.ledger().cursor().unwrap();
                            let ct = crate::timestamp::parse_micros(&cursor.timestamp).unwrap();
                            let ck: i64 = cursor.key.parse().unwrap();
                            t > floor
                                && (t, id) <= (ct, ck)
                                && !drain.ledger().remembers(&id.to_string())
                        })
                        .take(LATE_PAGE_SIZE)
                        .map(|(id, t)| row(id, t))
                        .collect()
                }
            }
        }
    }

    /// Runs the engine against `table` until it waits, delivering every
    /// event at once; returns the keys delivered, in order.
    fn run(drain: &mut Drain, table: &Table, now: &mut f64) -> Vec<String> {
        let mut delivered = Vec::new();
        for _ in 0..10_000 {
            match drain.next(*now, SECOND) {
                Step::Read(kind, _) => {
                    let rows = table.answer(drain, kind);
                    drain.on_read(kind, Ok(rows), *now, 0.5);
                }
                Step::Deliver(event) => {
                    delivered.push(event.key.clone());
                    drain.on_handled(&event.key);
                }
                Step::Record(_) => {}
                Step::Refuse(event, reason) => panic!("{} refused: {reason}", event.key),
                Step::Wait(_) | Step::Halted => return delivered,
            }
        }
        panic!("the engine never settled");
    }

    fn limit_in(path: &str) -> usize {
        let at = path.find("limit=").expect("a limit") + 6;
        path[at..].split('&').next().unwrap().parse().unwrap()
    }

    /// Runs the engine against `table`, where any read that would carry a
    /// row of `poisoned` fails as unreadable (position reads carry only the
    /// key and timestamp, so they pass). Returns the keys delivered, the
    /// keys refused and the page sizes asked for, in order.
    fn run_poisoned(
        drain: &mut Drain,
        table: &Table,
        poisoned: &[i64],
        now: &mut f64,
    ) -> (Vec<String>, Vec<String>, Vec<usize>) {
        let (mut delivered, mut refused, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..100_000 {
            match drain.next(*now, SECOND) {
                Step::Read(ReadKind::Position, _) => {
                    let next = table.answer(drain, ReadKind::Page).into_iter().next();
                    let rows = next
                        .map(|r| vec![json!({"id": r["id"], "created_at": r["created_at"]})])
                        .unwrap_or_default();
                    drain.on_read(ReadKind::Position, Ok(rows), *now, 0.5);
                }
                Step::Read(kind, path) => {
                    let mut rows = table.answer(drain, kind);
                    if kind == ReadKind::Page {
                        sizes.push(limit_in(&path));
                        rows.truncate(limit_in(&path));
                    }
                    let hostile = rows
                        .iter()
                        .any(|r| poisoned.contains(&r["id"].as_i64().unwrap()));
                    let result = if hostile {
                        Err(SourceError::Unreadable {
                            table: "events".into(),
                            detail: "recursion limit exceeded".into(),
                        })
                    } else {
                        Ok(rows)
                    };
                    drain.on_read(kind, result, *now, 0.5);
                }
                Step::Deliver(event) => {
                    delivered.push(event.key.clone());
                    drain.on_handled(&event.key);
                }
                Step::Refuse(event, reason) => {
                    assert!(reason.contains("recursion limit exceeded"), "{reason}");
                    assert!(event.row.get(crate::dead_letters::NOTE_FIELD).is_some());
                    refused.push(event.key.clone());
                    drain.on_handled(&event.key);
                }
                Step::Record(_) => {}
                // Waits of a backoff pass; once every row is handled, stop.
                Step::Wait(wait)
                    if wait < Duration::from_secs(600)
                        && drain.ledger().handled() < table.0.len() as u64 =>
                {
                    *now += millis(wait).max(1.0);
                }
                Step::Wait(_) | Step::Halted => return (delivered, refused, sizes),
            }
        }
        panic!("the engine never settled");
    }

    #[test]
    fn an_unreadable_row_is_isolated_by_halving_and_refused_by_its_key() {
        let table = Table((1..=250).map(|i| (i, T0 + i * 1000)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        let (delivered, refused, sizes) = run_poisoned(&mut drain, &table, &[137, 138], &mut now);
        assert_eq!(refused, ["137", "138"]);
        let mut expected = keys(1..251);
        expected.retain(|k| k != "137" && k != "138");
        assert_eq!(delivered, expected, "every other row, in order");
        assert!(drain.halted().is_none());
        assert_eq!(drain.ledger().handled(), 250);
        assert!(sizes.contains(&1), "isolated down to one row: {sizes:?}");
        let after = &sizes[sizes.iter().rposition(|&n| n == 1).unwrap()..];
        assert!(
            after.windows(2).all(|w| w[1] == (w[0] * 2).min(PAGE_SIZE)) && after.len() > 3,
            "then doubling back towards full pages: {after:?}"
        );
    }

    #[test]
    fn one_garbled_reply_is_not_taken_for_an_unreadable_row() {
        let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let garbled = || {
            Err(SourceError::Unreadable {
                table: "events".into(),
                detail: "EOF".into(),
            })
        };
        // Garbled at every size down to one row (100, 50, 25, 12, 6, 3),
        // then at one row fewer times than it takes.
        let mut reads = 0;
        while reads < 6 + UNREADABLE_AFTER - 1 {
            if let Step::Read(kind, _) = drain.next(1e9, SECOND) {
                drain.on_read(kind, garbled(), 0.0, 0.5);
                reads += 1;
            }
        }
        let mut now = 1e9;
        assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
    }

    #[test]
    fn a_row_whose_key_cannot_be_read_halts_the_table_naming_its_place() {
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        let unreadable = || SourceError::Unreadable {
            table: "events".into(),
            detail: "recursion limit exceeded".into(),
        };
        let mut halted = false;
        for _ in 0..1000 {
            match drain.next(now, SECOND) {
                Step::Read(ReadKind::Position, _) => {
                    drain.on_read(ReadKind::Position, Ok(vec![json!({"id": null})]), now, 0.5);
                }
                Step::Read(kind, _) => {
                    drain.on_read(kind, Err(unreadable()), now, 0.5);
                }
                Step::Wait(wait) => now += millis(wait),
                Step::Halted => {
                    halted = true;
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(halted);
        assert!(drain
            .halted()
            .unwrap()
            .to_string()
            .contains("the row first cannot be read, not even its key"));
    }

    #[test]
    fn watching_only_an_unreadable_page_backs_off_instead_of_isolating() {
        let mut drain = Drain::new(source(), Ledger::default());
        drain.set_watch_only(true);
        let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
            panic!("a first read");
        };
        let unreadable = SourceError::Unreadable {
            table: "events".into(),
            detail: "recursion limit exceeded".into(),
        };
        drain.on_read(kind, Err(unreadable), 0.0, 0.5);
        assert!(matches!(drain.next(0.0, SECOND), Step::Wait(_)));
        assert!(drain.retrying().is_some());
    }

    #[test]
    fn a_page_that_times_out_is_asked_again_smaller() {
        let mut drain = Drain::new(source(), Ledger::default());
        let mut sizes = Vec::new();
        let mut now = 0.0;
        for _ in 0..200 {
            match drain.next(now, SECOND) {
                Step::Read(kind, path) => {
                    sizes.push(limit_in(&path));
                    let timed_out = SourceError::TimedOut {
                        table: "events".into(),
                        detail: "20 s".into(),
                    };
                    drain.on_read(kind, Err(timed_out), now, 0.5);
                }
                Step::Wait(wait) => now += millis(wait),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(&sizes[..8], [100, 50, 25, 12, 6, 3, 1, 1]);
    }

    /// The drain's first step is a read: answers it.
    pub(super) fn read_first_page(drain: &mut Drain, table: &Table) {
        let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
            panic!("a new drain reads first")
        };
        drain.on_read(kind, Ok(table.answer(drain, kind)), 0.0, 0.5);
    }

    pub(super) fn keys(range: std::ops::Range<i64>) -> Vec<String> {
        range.map(|i| i.to_string()).collect()
    }

    #[test]
    fn drains_oldest_first_across_pages_without_waiting_between_them() {
        let table = Table((1..=250).rev().map(|i| (i, T0 + i * 1000)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        assert_eq!(run(&mut drain, &table, &mut now), keys(1..251));
        assert_eq!(drain.ledger().handled(), 250);
    }

    #[test]
    fn an_event_put_back_stays_unhandled_and_comes_first_after_resume() {
        let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        let first = loop {
            match drain.next(now, SECOND) {
                Step::Read(kind, _) => {
                    drain.on_read(kind, Ok(table.answer(&drain, kind)), now, 0.5);
                }
                Step::Deliver(event) => break event,
                other => panic!("{other:?}"),
            }
        };
        drain.put_back(first);
        assert_eq!(drain.admission(), Admission::Paused);
        assert_eq!(drain.ledger().handled(), 0);
        assert!(matches!(drain.next(now, SECOND), Step::Wait(_)));
        drain.resume();
        assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
    }

    #[test]
    fn late_rows_are_looked_for_during_a_backlog_too() {
        let mut table = Table((1..=250).map(|i| (i, T0 + i * 1000)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut delivered = Vec::new();
        while delivered.len() < 50 {
            match drain.next(0.0, SECOND) {
                Step::Read(kind, _) => {
                    drain.on_read(kind, Ok(table.answer(&drain, kind)), 0.0, 0.5);
                }
                Step::Deliver(event) => {
                    drain.on_handled(&event.key);
                    delivered.push(event.key);
                }
                other => panic!("{other:?}"),
            }
        }
        // Commits now, with a timestamp among the rows already handled.
        table.0.push((1000, T0 + 10 * 1000 + 1));
        let mut now = 0.0;
        delivered.extend(run(&mut drain, &table, &mut now));
        let late_at = delivered.iter().position(|k| k == "1000").unwrap();
        assert!(late_at < 200, "handled during the backlog, at {late_at}");
        assert_eq!(delivered.len(), 251);
    }

    #[test]
    fn equal_timestamps_are_neither_skipped_nor_repeated() {
        // 230 rows sharing 3 timestamps, across page boundaries.
        let table = Table((1..=230).map(|i| (i, T0 + (i % 3) * 1000)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        let delivered = run(&mut drain, &table, &mut now);
        let mut expected = table.0.clone();
        expected.sort_by_key(|&(id, t)| (t, id));
        assert_eq!(
            delivered,
            expected
                .iter()
                .map(|(id, _)| id.to_string())
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn new_rows_are_picked_up_after_the_interval_and_old_ones_never_again() {
        let mut table = Table((1..=3).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        assert_eq!(run(&mut drain, &table, &mut now), keys(1..4));
        table.0.push((4, T0 + 10));
        assert_eq!(
            run(&mut drain, &table, &mut now),
            Vec::<String>::new(),
            "not before the interval"
        );
        now += 1000.0;
        assert_eq!(run(&mut drain, &table, &mut now), keys(4..5));
    }

    #[test]
    fn a_table_whose_oldest_rows_are_all_handled_does_not_stall() {
        // The seed's "oldest N, filtered on the client" would fetch rows 1..=100
        // for ever; the keyset starts after them.
        let mut table = Table((1..=100).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        run(&mut drain, &table, &mut now);
        table.0.push((101, T0 + 1_000));
        now += 1000.0;
        match drain.next(now, SECOND) {
            Step::Read(ReadKind::Page, path) => {
                assert!(path.contains("or=(created_at.gt."), "{path}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn late_rows_inside_the_window_are_handled_once() {
        let mut table = Table((1..=5).map(|i| (i, T0 + i * 1_000_000)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        let mut now = 0.0;
        run(&mut drain, &table, &mut now);
        // Row 6 commits late, with a timestamp between rows 2 and 3.
        table.0.push((6, T0 + 2_500_000));
        now += 5_000.0;
        assert_eq!(run(&mut drain, &table, &mut now), keys(6..7));
        now += 60_000.0;
        assert_eq!(
            run(&mut drain, &table, &mut now),
            Vec::<String>::new(),
            "never twice"
        );
        assert_eq!(
            drain.ledger().cursor().unwrap().key,
            "5",
            "a late row does not move the cursor"
        );
    }

    #[test]
    fn transient_errors_back_off_and_recover() {
        let table = Table(vec![(1, T0)]);
        let mut drain = Drain::new(source(), Ledger::default());
        let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
            panic!()
        };
        let error = SourceError::Server {
            table: "events".into(),
            status: 503,
            message: "down".into(),
            retry_after: None,
        };
        drain.on_read(kind, Err(error), 0.0, 0.999);
        assert_eq!(drain.retrying().map(|(_, n)| n), Some(1));
        assert!(
            matches!(drain.next(100.0, SECOND), Step::Wait(d) if d > Duration::from_millis(300))
        );
        let Step::Read(kind, _) = drain.next(600.0, SECOND) else {
            panic!("retries after the backoff")
        };
        let rows = table.answer(&drain, kind);
        drain.on_read(kind, Ok(rows), 600.0, 0.5);
        assert!(drain.retrying().is_none());
        assert!(matches!(drain.next(600.0, SECOND), Step::Deliver(e) if e.key == "1"));
    }

    #[test]
    fn a_refused_key_halts_until_the_operator_acts() {
        let mut drain = Drain::new(source(), Ledger::default());
        let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
            panic!()
        };
        drain.on_read(
            kind,
            Err(SourceError::Unauthorized("Invalid API key".into())),
            0.0,
            0.5,
        );
        assert_eq!(drain.next(1e9, SECOND), Step::Halted);
        assert_eq!(drain.next(2e9, SECOND), Step::Halted, "never by itself");
    }

    #[test]
    fn malformed_rows_are_reported_once_and_skipped_without_losing_neighbours() {
        let mut drain = Drain::new(source(), Ledger::default());
        let Step::Read(kind, _) = drain.next(0.0, SECOND) else {
            panic!()
        };
        let rows = vec![
            row(1, T0),
            json!({"id": 2, "created_at": "never"}),
            row(3, T0 + 2),
        ];
        let report = drain.on_read(kind, Ok(rows.clone()), 0.0, 0.5);
        assert_eq!(report.malformed.len(), 1);
        assert!(report.malformed[0].reason.contains("row 2"));
        assert_eq!(drain.queued(), 2);
        drain.queue.clear();
        assert!(
            drain.on_read(kind, Ok(rows), 0.0, 0.5).malformed.is_empty(),
            "reported once"
        );
    }

    #[test]
    fn pause_lets_the_gate_finish_and_step_admits_exactly_one() {
        let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        read_first_page(&mut drain, &table);
        assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "1"));
        drain.pause();
        assert_eq!(
            drain.on_handled("1").len(),
            2,
            "the event at the gate still finishes"
        );
        assert_eq!(drain.next(0.0, SECOND), Step::Wait(Duration::MAX));
        drain.step();
        assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "2"));
        drain.on_handled("2");
        assert_eq!(
            drain.next(0.0, SECOND),
            Step::Wait(Duration::MAX),
            "one step, one event"
        );
        drain.resume();
        assert!(matches!(drain.next(0.0, SECOND), Step::Deliver(e) if e.key == "3"));
    }

    #[test]
    fn watch_only_reads_but_never_delivers() {
        let table = Table((1..=3).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        drain.set_watch_only(true);
        let mut now = 0.0;
        assert_eq!(run(&mut drain, &table, &mut now), Vec::<String>::new());
        assert_eq!(drain.next_event().map(|e| e.key.as_str()), Some("1"));
        assert_eq!(drain.ledger().handled(), 0);
        // The next look: what waits stays shown while the read is under way,
        // and is replaced, not doubled, when it returns.
        let Step::Read(kind, _) = drain.next(now + 1_000.0, SECOND) else {
            panic!()
        };
        assert_eq!(drain.queued(), 3);
        let rows = table.answer(&drain, kind);
        drain.on_read(kind, Ok(rows), now + 1_000.0, 0.5);
        assert_eq!(drain.queued(), 3);
    }

    #[test]
    fn keys_the_prototype_handled_are_recorded_not_delivered() {
        let table = Table((1..=6).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        drain.import_handled(["2".to_string(), "3".to_string(), "99".to_string()]);
        let mut now = 0.0;
        assert_eq!(run(&mut drain, &table, &mut now), ["1", "4", "5", "6"]);
        assert_eq!(drain.ledger().handled(), 6);
        assert!(drain.imported.is_empty(), "dropped once caught up");
    }

    #[test]
    fn a_restart_from_the_stored_ledger_resumes_after_the_last_handled_event() {
        let table = Table((1..=5).map(|i| (i, T0 + i)).collect());
        let mut drain = Drain::new(source(), Ledger::default());
        read_first_page(&mut drain, &table);
        for _ in 0..2 {
            let Step::Deliver(event) = drain.next(0.0, SECOND) else {
                panic!()
            };
            drain.on_handled(&event.key);
        }
        // The third event is at the gate when the page reloads.
        let Step::Deliver(in_flight) = drain.next(0.0, SECOND) else {
            panic!()
        };
        let mut reloaded = Drain::new(source(), drain.ledger().clone());
        let mut now = 0.0;
        let delivered = run(&mut reloaded, &table, &mut now);
        assert_eq!(delivered, keys(3..6));
        assert_eq!(
            delivered[0], in_flight.key,
            "the in-flight event goes again, with the same key"
        );
    }
}
