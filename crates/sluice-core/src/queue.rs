//! A Supabase Queue (pgmq, exposed as `pgmq_public`) as a source of events.
//!
//! The queue is the progress: `read` hides what it returns for a visibility
//! timeout (so any number of readers get disjoint messages, and a message
//! whose reader vanished comes back by itself), `archive` ends a message.
//! Nothing about a queue's progress is kept in the browser. This module
//! holds the rules: the calls' bodies, how long a read hides a message, what
//! a message becomes at the gate, when a message is dead-lettered, and what
//! a dead letter carries.

use serde_json::{json, Value};
use std::num::NonZeroU32;
use std::time::Duration;

use crate::admission::Admission;
use crate::agent::{AgentSettings, RETRY_BACKOFF};
use crate::backoff::Backoff;
use crate::dead_letters::{self, DeadLetter};
pub use crate::source::QueueSource;
use crate::source::{Event, Identifier, MalformedRow, TableSource};
use crate::source_error::SourceError;
use crate::timestamp;

/// The schema Supabase exposes queues in (`Content-Profile` of each call).
pub const SCHEMA: &str = "pgmq_public";
/// The suffix of a queue's default dead-letter queue.
pub const DEAD_LETTER_SUFFIX: &str = "_dlq";
/// The function the README's recipe adds beside `pgmq_public` (in
/// `public`, for operators only): pgmq's `metrics()` for one queue, which
/// `pgmq_public` does not expose.
pub const METRICS_FUNCTION: &str = "sluice_queue_metrics";
/// How often a queue's length is asked for while it drains.
pub const METRICS_EVERY: Duration = Duration::from_secs(5);
/// Longest queue name: pgmq allows 47 bytes, and the default dead-letter
/// queue adds four.
pub const MAX_NAME_BYTES: usize = 43;
/// How long one call that settles a message (a dead letter's send, an
/// archive) may take: settling must end while the message is still hidden.
pub const SETTLE_CALL_DEADLINE: Duration = Duration::from_secs(5);
/// The longest settling after the agent's last word: a dead letter's send,
/// then the archive, each tried once (a failure holds the message and
/// stops reading until it is settled).
pub const SETTLE_WORST_CASE: Duration = Duration::from_secs(10);
/// A lane lets a message go this long before its visibility timeout ends:
/// after that, another reader may have it.
pub const RELEASE_BEFORE_VISIBLE: Duration = Duration::from_secs(2);
/// Between the read's start (when the visibility timeout is counted from,
/// at the latest) and the first attempt: the read's own reply time.
pub const READ_ALLOWANCE: Duration = Duration::from_secs(3);
/// Added to the visibility timeout beyond the attempts and their waits, so
/// that the first attempt may always start ([`may_start_attempt`]).
pub const VISIBILITY_MARGIN: Duration = Duration::from_secs(
    SETTLE_WORST_CASE.as_secs() + RELEASE_BEFORE_VISIBLE.as_secs() + READ_ALLOWANCE.as_secs(),
);

impl QueueSource {
    /// Checks the names an operator types; an empty dead-letter queue means
    /// `{queue}_dlq`.
    pub fn parse(queue: &str, dead_letter_queue: &str) -> Result<Self, String> {
        let name = |what: &str, name: &str| {
            let name = name.trim();
            let valid = name.len() <= MAX_NAME_BYTES
                && name.chars().all(|c| !c.is_ascii_uppercase())
                && Identifier::parse(name).is_ok();
            valid.then(|| Identifier::parse(name).expect("checked")).ok_or_else(|| {
                format!(
                    "The {what} {name:?} is not a valid queue name (lowercase letters, digits and _, starting with a letter or _, at most {MAX_NAME_BYTES} characters)."
                )
            })
        };
        let queue = name("queue", queue)?;
        let dead_letter_queue = if dead_letter_queue.trim().is_empty() {
            name(
                "dead-letter queue",
                &format!("{}{DEAD_LETTER_SUFFIX}", queue.as_str()),
            )?
        } else {
            name("dead-letter queue", dead_letter_queue)?
        };
        if dead_letter_queue == queue {
            return Err("A queue cannot be its own dead-letter queue.".into());
        }
        Ok(Self {
            queue,
            dead_letter_queue,
        })
    }

    /// How a message reads as a row: its key is `msg_id`, its timestamp
    /// `enqueued_at` (so the lag is measured from when it was sent).
    fn rows(&self) -> TableSource {
        let id = |name: &str| Identifier::parse(name).expect("a valid built-in name");
        TableSource {
            table: self.queue.clone(),
            timestamp_column: id("enqueued_at"),
            key_column: id("msg_id"),
        }
    }

    /// A message as read (`pgmq.message_record`) as an event for the gate:
    /// the agent gets the whole record, with `read_ct` and `enqueued_at`.
    pub fn event(&self, record: Value) -> Result<Message, MalformedRow> {
        let read_count = record
            .get("read_ct")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok());
        let event = self.rows().event(record)?;
        let msg_id = event.key.parse::<i64>().map_err(|_| MalformedRow {
            table: self.name().to_string(),
            reason: format!("its msg_id {} is not a number", event.key),
        })?;
        let read_count = read_count.ok_or_else(|| MalformedRow {
            table: self.name().to_string(),
            reason: format!("message {msg_id}: it has no read_ct"),
        })?;
        Ok(Message {
            msg_id,
            read_count,
            event,
        })
    }

    /// What comes before `:{msg_id}` in a message's Idempotency-Key:
    /// `queue/{queue}`, which no table's key can start with (a table's name
    /// has no `/`), so table `jobs` row 7 and queue `jobs` message 7 differ.
    pub fn key_scope(&self) -> String {
        format!("queue/{}", self.name())
    }

    /// Whether the dead-letter queue (as last looked at) already holds a
    /// letter for this queue's message: it is then only archived, never
    /// dead-lettered twice.
    pub fn already_lettered(&self, letters: &[DeadLetter], msg_id: i64) -> bool {
        letters.iter().any(|letter| {
            letter.event.get("msg_id").and_then(Value::as_i64) == Some(msg_id)
                && letter.event.get("queue").and_then(Value::as_str) == Some(self.name())
        })
    }

    /// `read`'s arguments: up to `n` messages, hidden for `visibility`.
    pub fn read_arguments(&self, visibility: Duration, n: usize) -> Value {
        json!({
            "queue_name": self.name(),
            "sleep_seconds": visibility.as_secs(),
            "n": n,
        })
    }

    /// `read`'s arguments for a look that takes nothing: checks that the
    /// queue exists and this key may read it.
    pub fn check_arguments(&self) -> Value {
        self.read_arguments(Duration::ZERO, 0)
    }

    /// `archive`'s arguments for one message of this queue.
    pub fn archive_arguments(&self, msg_id: i64) -> Value {
        json!({ "queue_name": self.name(), "message_id": msg_id })
    }

    /// `send`'s arguments: a dead letter to the dead-letter queue, naming
    /// the signed-in operator `by` whose drain sent it (the audit trail).
    pub fn dead_letter_arguments(
        &self,
        message: &Message,
        reason: &str,
        at: &str,
        by: Option<&str>,
    ) -> Value {
        let mut arguments = json!({
            "queue_name": self.dead_letter_queue.as_str(),
            "message": {
                "queue": self.name(),
                "msg_id": message.msg_id,
                "read_ct": message.read_count,
                "enqueued_at": message.event.timestamp,
                "message": message.event.row.get("message").cloned().unwrap_or(Value::Null),
                "headers": message.event.row.get("headers").cloned().unwrap_or(Value::Null),
                "reason": dead_letters::cut_reason(reason.to_string()),
                "dead_lettered_at": at,
            },
        });
        if let Some(by) = by {
            arguments["message"]["dead_lettered_by"] = by.into();
        }
        arguments
    }

    /// [`METRICS_FUNCTION`]'s arguments.
    pub fn metrics_arguments(&self) -> Value {
        json!({ "queue_name": self.name() })
    }

    /// `read`'s arguments for a look at the dead-letter queue that leaves
    /// every letter visible (a visibility timeout of zero).
    pub fn dead_letters_arguments(&self, n: usize) -> Value {
        json!({
            "queue_name": self.dead_letter_queue.as_str(),
            "sleep_seconds": 0,
            "n": n,
        })
    }

    /// `send`'s arguments that put a dead letter's message back in the queue.
    pub fn send_again_arguments(&self, letter: &DeadLetter) -> Value {
        json!({
            "queue_name": self.name(),
            "message": letter.event.get("message").cloned().unwrap_or(Value::Null),
        })
    }

    /// `send`'s arguments that put a letter back in the dead-letter queue:
    /// its message could not be sent back after the letter was archived.
    pub fn letter_again_arguments(&self, letter: &DeadLetter) -> Value {
        json!({
            "queue_name": self.dead_letter_queue.as_str(),
            "message": letter.event,
        })
    }

    /// `archive`'s arguments that end a dead letter (the dead-letter queue's
    /// archive keeps it).
    pub fn archive_letter_arguments(&self, letter: &DeadLetter) -> Option<Value> {
        let msg_id = letter.key.parse::<i64>().ok()?;
        Some(json!({ "queue_name": self.dead_letter_queue.as_str(), "message_id": msg_id }))
    }

    /// The dead-letter queue's messages as letters, oldest first (`read`
    /// returns what it updated in no set order).
    pub fn letters(records: &[Value]) -> Vec<DeadLetter> {
        let mut letters: Vec<(i64, DeadLetter)> = records
            .iter()
            .filter_map(|record| Some((record.get("msg_id")?.as_i64()?, Self::letter(record)?)))
            .collect();
        letters.sort_by_key(|(msg_id, _)| *msg_id);
        letters.into_iter().map(|(_, letter)| letter).collect()
    }

    /// A message of the dead-letter queue, as the dead-letter panel shows
    /// it: keyed by its id in the dead-letter queue (what Retry and Discard
    /// act on), its reason naming the message it was in the queue.
    pub fn letter(record: &Value) -> Option<DeadLetter> {
        let key = record.get("msg_id")?.as_i64()?.to_string();
        let sent = record.get("message")?;
        let reason = sent
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("(no reason given)");
        let reason = match sent.get("msg_id").and_then(Value::as_i64) {
            Some(original) => format!("message {original}: {reason}"),
            None => reason.to_string(),
        };
        let at_ms = sent
            .get("dead_lettered_at")
            .and_then(Value::as_str)
            .and_then(timestamp::parse_micros)
            .map_or(0.0, |micros| micros as f64 / 1000.0);
        Some(DeadLetter {
            key,
            event: sent.clone(),
            reason,
            attempts: sent
                .get("read_ct")
                .and_then(Value::as_u64)
                .map_or(0, |n| n.min(u64::from(u32::MAX)) as u32),
            at_ms,
            by: sent
                .get("dead_lettered_by")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }
}

/// A message read from a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub msg_id: i64,
    /// How many times it was read, this read included.
    pub read_count: u32,
    pub event: Event,
}

impl Message {
    /// Dead-lettered at once when it was read more times than the attempts
    /// allow: readers kept taking it and vanishing before they finished.
    pub fn over_read(&self, attempts: NonZeroU32) -> Option<String> {
        (self.read_count > attempts.get()).then(|| {
            format!(
                "read {} times, more than the {} attempts allow: its readers kept stopping before the agent finished",
                self.read_count,
                attempts.get()
            )
        })
    }
}

/// How long a read hides its messages: the longest stay at the gate the
/// agent settings allow (every attempt timing out, each wait between them
/// at its ceiling), plus a margin to archive. Retry-After beyond the
/// backoff's ceiling is not covered: such a message is let go (see
/// [`release_at_ms`]).
pub fn visibility_timeout(settings: &AgentSettings) -> Duration {
    let attempts = settings.attempts.get();
    let mut backoff = RETRY_BACKOFF;
    let waits: Duration = (1..attempts)
        .map(|_| backoff.fail(None, 0.999_999_999))
        .sum();
    let whole_seconds =
        |d: Duration| Duration::from_secs(d.as_secs() + u64::from(d.subsec_nanos() > 0));
    whole_seconds(settings.timeout() * attempts + waits + VISIBILITY_MARGIN)
}

/// When a lane lets a message read at `read_at_ms` go: shortly before its
/// visibility timeout ends and another reader may take it. A message let go
/// is neither archived nor dead-lettered: it comes back by itself.
pub fn release_at_ms(read_at_ms: f64, visibility: Duration) -> f64 {
    read_at_ms
        + visibility
            .saturating_sub(RELEASE_BEFORE_VISIBLE)
            .as_secs_f64()
            * 1000.0
}

/// Whether an attempt may start at `now_ms`: only if it can end (its
/// timeout) and the message be settled (the worst case) before the lane
/// must let it go. `pgmq_public` cannot extend a message's visibility, so
/// otherwise the message is let go untouched and comes back for any reader.
pub fn may_start_attempt(now_ms: f64, attempt_timeout: Duration, let_go_at_ms: f64) -> bool {
    now_ms + (attempt_timeout + SETTLE_WORST_CASE).as_secs_f64() * 1000.0 <= let_go_at_ms
}

/// What `archive` answered for a message this reader holds: `true` ends
/// it; `false` (nothing was deleted: row-level security without a DELETE
/// policy, or the message is gone) is not a done.
pub fn archive_answer(queue: &str, msg_id: i64, answer: &Value) -> Result<(), SourceError> {
    match answer {
        Value::Bool(true) => Ok(()),
        Value::Bool(false) => Err(SourceError::NotArchived {
            queue: queue.to_string(),
            msg_id,
        }),
        other => Err(SourceError::Unreadable {
            table: queue.to_string(),
            detail: format!("archive answered {other} where true or false was expected"),
        }),
    }
}

/// A message the agent is done with (or one read too often), not yet
/// settled with the queue: held, and settled again until it is, so that a
/// failed archive is never taken for a done and a letter never sent twice.
#[derive(Debug, Clone, PartialEq)]
pub struct Unsettled {
    pub message: Message,
    /// Why it goes to the dead-letter queue; `None` when it passed.
    pub refusal: Option<String>,
    /// Its dead letter is in the dead-letter queue already.
    pub letter_sent: bool,
    /// A send of its letter got no clear answer, or an earlier reader may
    /// have sent one: the dead-letter queue is looked at before sending.
    pub letter_unclear: bool,
    /// An archive got no clear answer: it may have gone through.
    pub archive_unclear: bool,
    /// When its lane had to let it go: after that, another reader may
    /// have read and archived it.
    pub let_go_at_ms: f64,
}

/// What settling a message came to, when the queue answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Archived: handled once.
    Archived,
    /// Not archived by this reader and no longer its to hold (why): not
    /// counted; it comes back if it is still in the queue.
    Released(String),
}

/// The next call that settles a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettleCall {
    /// Send its dead letter (`send` to the dead-letter queue).
    SendLetter,
    /// Archive it from the queue.
    Archive,
}

impl Unsettled {
    pub fn new(message: Message, refusal: Option<String>, let_go_at_ms: f64) -> Self {
        Self {
            letter_unclear: message.read_count > 1,
            message,
            refusal,
            letter_sent: false,
            archive_unclear: false,
            let_go_at_ms,
        }
    }

    /// Whether to look at the dead-letter queue before sending the letter:
    /// an earlier reader or send may have sent it already.
    pub fn check_letters_first(&self) -> bool {
        self.next_call() == SettleCall::SendLetter && self.letter_unclear
    }

    /// What `archive`'s answer at `now_ms` means for this message. `false`
    /// is not a done, but not always a missing policy either: after an
    /// archive with no clear answer it is this reader's own archive, and
    /// after the let-go time another reader may have archived it.
    pub fn archive_answer(
        &self,
        queue: &str,
        answer: &Value,
        now_ms: f64,
    ) -> Result<Settled, SourceError> {
        match archive_answer(queue, self.message.msg_id, answer) {
            Ok(()) => Ok(Settled::Archived),
            Err(SourceError::NotArchived { .. }) if self.archive_unclear => Ok(Settled::Archived),
            Err(SourceError::NotArchived { .. }) if now_ms >= self.let_go_at_ms => {
                Ok(Settled::Released(format!(
                    "message {} was held past its visibility timeout and is no longer in {queue} to archive: another reader may have handled it",
                    self.message.msg_id
                )))
            }
            Err(error) => Err(error),
        }
    }

    pub fn next_call(&self) -> SettleCall {
        if self.refusal.is_some() && !self.letter_sent {
            SettleCall::SendLetter
        } else {
            SettleCall::Archive
        }
    }
}

/// What to do with the messages one read returned.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// To the gate.
    Deliver(Message),
    /// Straight to the dead-letter queue, then archived.
    DeadLetter(Message, String),
    /// A record that is not a message: shown, and left to come back.
    Unreadable(String),
}

/// Sorts a read's records, oldest first (`read` returns what it updated in
/// no set order): `at_gate` holds the ids this browser still has at its
/// gate (a message it let go and read again is not delivered twice at once).
pub fn arrivals(
    source: &QueueSource,
    mut records: Vec<Value>,
    attempts: NonZeroU32,
    at_gate: &[i64],
) -> Vec<Arrival> {
    records.sort_by_key(|record| record.get("msg_id").and_then(Value::as_i64));
    records
        .into_iter()
        .filter_map(|record| match source.event(record) {
            Err(malformed) => Some(Arrival::Unreadable(malformed.to_string())),
            Ok(message) if at_gate.contains(&message.msg_id) => None,
            Ok(message) => Some(match message.over_read(attempts) {
                Some(reason) => Arrival::DeadLetter(message, reason),
                None => Arrival::Deliver(message),
            }),
        })
        .collect()
}

/// Between reads that failed with an error that may pass.
/// A queue's length, as pgmq's `metrics()` counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueMetrics {
    /// Messages not yet archived or deleted, hidden by a reader or not.
    pub length: u64,
}

impl QueueMetrics {
    /// [`METRICS_FUNCTION`]'s answer: one row (PostgREST sends a set of
    /// rows as an array).
    pub fn parse(answer: &Value) -> Option<Self> {
        let row = match answer {
            Value::Array(rows) => rows.first()?,
            row => row,
        };
        Some(Self {
            length: row.get("queue_length")?.as_u64()?,
        })
    }
}

pub const READ_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));

/// What the queue's loop does next.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueStep {
    /// Read up to this many messages (one per free lane).
    Read(usize),
    /// Wait this long, or until a lane frees or the operator acts.
    Wait(Duration),
    /// Stopped on an error only the operator can fix.
    Halted,
    /// Settle the held messages again (before anything is read).
    Settle,
}

/// When to read a queue, and how much: as many messages as lanes are free,
/// at once while the queue has more, at the consumption rate once a read
/// came back short, backing off after errors that may pass.
#[derive(Debug, Clone)]
pub struct QueueReader {
    admission: Admission,
    next_read_at_ms: f64,
    failures: Backoff,
    retrying: Option<(SourceError, u32)>,
    halted: Option<SourceError>,
}

impl QueueReader {
    pub fn new(admission: Admission) -> Self {
        Self {
            admission,
            next_read_at_ms: 0.0,
            failures: READ_BACKOFF,
            retrying: None,
            halted: None,
        }
    }

    pub fn next(&self, now_ms: f64, at_gate: usize, lanes: usize) -> QueueStep {
        if self.halted.is_some() {
            return QueueStep::Halted;
        }
        let free = lanes.saturating_sub(at_gate);
        let wanted = match self.admission {
            Admission::Open => free,
            Admission::Paused => 0,
            Admission::StepOnce => free.min(1),
        };
        if wanted == 0 {
            QueueStep::Wait(Duration::MAX)
        } else if now_ms < self.next_read_at_ms {
            QueueStep::Wait(Duration::from_secs_f64(
                (self.next_read_at_ms - now_ms) / 1000.0,
            ))
        } else {
            QueueStep::Read(wanted)
        }
    }

    /// What to do while messages are held: settle them again once no
    /// backoff is pending, paused or not (settling is not admitting).
    pub fn settle_step(&self, now_ms: f64) -> QueueStep {
        if self.halted.is_some() {
            QueueStep::Halted
        } else if now_ms < self.next_read_at_ms {
            QueueStep::Wait(Duration::from_secs_f64(
                (self.next_read_at_ms - now_ms) / 1000.0,
            ))
        } else {
            QueueStep::Settle
        }
    }

    /// A read asked for `asked` and got `got` messages.
    pub fn on_read(&mut self, asked: usize, got: usize, now_ms: f64, interval: Duration) {
        self.failures.succeed();
        self.retrying = None;
        self.next_read_at_ms = if got < asked {
            now_ms + interval.as_secs_f64() * 1000.0
        } else {
            now_ms
        };
        if got > 0 && self.admission == Admission::StepOnce {
            self.admission = Admission::Paused;
        }
    }

    /// A read failed: back off if it may pass, halt if not.
    pub fn on_error(&mut self, error: SourceError, now_ms: f64, random: f64) {
        if error.is_transient() {
            let wait = self.failures.fail(error.retry_after(), random);
            self.next_read_at_ms = now_ms + wait.as_secs_f64() * 1000.0;
            self.retrying = Some((error, self.failures.failures()));
        } else {
            self.halted = Some(error);
        }
    }

    /// A held message was settled: the queue answers again.
    pub fn on_settled(&mut self) {
        self.failures.succeed();
        self.retrying = None;
    }

    /// A message was sent (Realtime said so): read now, unless a backoff
    /// is pending or the reader halted.
    pub fn wake(&mut self, now_ms: f64) {
        if self.retrying.is_none() {
            self.next_read_at_ms = self.next_read_at_ms.min(now_ms);
        }
    }

    /// The operator asked to try again now (or saved new settings).
    pub fn retry_now(&mut self) {
        self.halted = None;
        self.next_read_at_ms = 0.0;
    }

    pub fn pause(&mut self) {
        self.admission = Admission::Paused;
    }

    pub fn resume(&mut self) {
        self.admission = Admission::Open;
    }

    /// While paused, lets exactly one message through.
    pub fn step(&mut self) {
        self.admission = self.admission.stepped();
    }

    pub fn admission(&self) -> Admission {
        self.admission
    }

    pub fn halted(&self) -> Option<&SourceError> {
        self.halted.as_ref()
    }

    pub fn retrying(&self) -> Option<&(SourceError, u32)> {
        self.retrying.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders() -> QueueSource {
        QueueSource::parse("order_jobs", "").unwrap()
    }

    fn record(msg_id: i64, read_ct: u32) -> Value {
        json!({
            "msg_id": msg_id,
            "read_ct": read_ct,
            "enqueued_at": "2026-11-30T01:00:00.123456+00:00",
            "last_read_at": null,
            "vt": "2026-11-30T01:01:00+00:00",
            "message": {"type": "invoice.render"},
            "headers": null,
        })
    }

    fn attempts(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn a_queue_gets_its_dead_letter_queue_by_default_and_names_are_checked() {
        assert_eq!(orders().dead_letter_queue.as_str(), "order_jobs_dlq");
        assert_eq!(
            QueueSource::parse("jobs", "failed_jobs")
                .unwrap()
                .dead_letter_queue
                .as_str(),
            "failed_jobs"
        );
        assert!(QueueSource::parse("Jobs", "")
            .unwrap_err()
            .contains("\"Jobs\""));
        assert!(QueueSource::parse("jobs;drop", "").is_err());
        assert!(QueueSource::parse(&"q".repeat(44), "").is_err());
        assert!(QueueSource::parse("jobs", "jobs").is_err());
    }

    #[test]
    fn a_message_is_an_event_keyed_by_msg_id_and_timed_by_enqueued_at() {
        let message = orders().event(record(42, 1)).unwrap();
        assert_eq!(message.msg_id, 42);
        assert_eq!(message.read_count, 1);
        assert_eq!(message.event.key, "42");
        assert_eq!(message.event.timestamp, "2026-11-30T01:00:00.123456+00:00");
        assert_eq!(message.event.row["message"]["type"], "invoice.render");
    }

    #[test]
    fn a_record_without_msg_id_or_read_ct_is_unreadable_with_the_reason() {
        let mut no_count = record(7, 1);
        no_count.as_object_mut().unwrap().remove("read_ct");
        let arrivals = arrivals(&orders(), vec![json!({"x": 1}), no_count], attempts(3), &[]);
        assert!(matches!(&arrivals[0], Arrival::Unreadable(r) if r.contains("msg_id")));
        assert!(matches!(&arrivals[1], Arrival::Unreadable(r) if r.contains("read_ct")));
    }

    #[test]
    fn a_message_read_more_times_than_the_attempts_allow_is_dead_lettered_with_the_count() {
        let arrivals = arrivals(
            &orders(),
            vec![record(1, 3), record(2, 4)],
            attempts(3),
            &[],
        );
        assert!(matches!(&arrivals[0], Arrival::Deliver(m) if m.msg_id == 1));
        match &arrivals[1] {
            Arrival::DeadLetter(m, reason) => {
                assert_eq!(m.msg_id, 2);
                assert!(reason.starts_with("read 4 times, more than the 3 attempts allow"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_reads_messages_and_the_dead_letters_come_oldest_first() {
        let arrivals = arrivals(
            &orders(),
            vec![record(3, 1), record(1, 1), record(2, 1)],
            attempts(5),
            &[],
        );
        let ids: Vec<i64> = arrivals
            .iter()
            .map(|a| match a {
                Arrival::Deliver(m) => m.msg_id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        let letter = |id: i64| json!({"msg_id": id, "message": {"reason": "r"}});
        let keys: Vec<String> = QueueSource::letters(&[letter(9), letter(2), letter(5)])
            .into_iter()
            .map(|l| l.key)
            .collect();
        assert_eq!(keys, ["2", "5", "9"]);
    }

    #[test]
    fn a_message_still_at_this_gate_is_not_delivered_again() {
        let arrivals = arrivals(
            &orders(),
            vec![record(1, 2), record(2, 1)],
            attempts(5),
            &[1],
        );
        assert_eq!(arrivals.len(), 1);
        assert!(matches!(&arrivals[0], Arrival::Deliver(m) if m.msg_id == 2));
    }

    #[test]
    fn the_visibility_timeout_covers_every_attempt_timing_out_and_every_wait_at_its_ceiling() {
        let mut settings = AgentSettings {
            attempts: attempts(1),
            timeout_s: 2,
            ..AgentSettings::default()
        };
        assert_eq!(visibility_timeout(&settings), Duration::from_secs(2 + 15));
        settings.attempts = attempts(4);
        // Waits below 1 s, 2 s and 4 s.
        assert_eq!(
            visibility_timeout(&settings),
            Duration::from_secs(4 * 2 + 7 + 15)
        );
        settings.attempts = attempts(10);
        settings.timeout_s = 30;
        // 1+2+4+8+16+32, then three at the 60 s cap.
        assert_eq!(
            visibility_timeout(&settings),
            Duration::from_secs(300 + 63 + 180 + 15)
        );
    }

    #[test]
    fn an_attempt_starts_only_if_it_and_the_settling_end_before_the_let_go_time() {
        let timeout = Duration::from_secs(5);
        // 5 s for the attempt, 10 s to settle.
        assert!(may_start_attempt(0.0, timeout, 15_000.0));
        assert!(!may_start_attempt(1.0, timeout, 15_000.0));
        // The first attempt may always start when the read came back in time.
        let settings = AgentSettings {
            attempts: attempts(1),
            timeout_s: 5,
            ..AgentSettings::default()
        };
        let let_go = release_at_ms(0.0, visibility_timeout(&settings));
        let read_back = READ_ALLOWANCE.as_secs_f64() * 1000.0;
        assert!(may_start_attempt(read_back, timeout, let_go));
        assert!(!may_start_attempt(read_back + 1.0, timeout, let_go));
    }

    #[test]
    fn only_an_archive_that_answers_true_settles_a_message() {
        assert_eq!(archive_answer("jobs", 7, &json!(true)), Ok(()));
        let refused = archive_answer("jobs", 7, &json!(false)).unwrap_err();
        assert!(
            !refused.is_transient(),
            "a missing policy is not going to pass"
        );
        assert!(refused.to_string().contains("DELETE policy on pgmq.q_jobs"));
        assert!(archive_answer("jobs", 7, &json!([1]))
            .unwrap_err()
            .is_transient());
    }

    #[test]
    fn a_refused_message_sends_its_letter_once_then_archives() {
        let message = orders().event(record(42, 2)).unwrap();
        let mut held = Unsettled::new(message.clone(), Some("422".into()), 0.0);
        assert_eq!(held.next_call(), SettleCall::SendLetter);
        assert!(
            held.check_letters_first(),
            "read before: its letter may be there"
        );
        held.letter_sent = true;
        assert_eq!(held.next_call(), SettleCall::Archive);
        assert!(!held.check_letters_first());
        assert_eq!(
            Unsettled::new(message, None, 0.0).next_call(),
            SettleCall::Archive
        );
        let first_read = orders().event(record(43, 1)).unwrap();
        assert!(!Unsettled::new(first_read, Some("422".into()), 0.0).check_letters_first());
    }

    #[test]
    fn false_from_archive_halts_unless_the_message_is_no_longer_this_readers() {
        let message = orders().event(record(42, 1)).unwrap();
        let mut held = Unsettled::new(message, None, 10_000.0);
        assert_eq!(
            held.archive_answer("order_jobs", &json!(true), 0.0),
            Ok(Settled::Archived)
        );
        let missing_policy = held
            .archive_answer("order_jobs", &json!(false), 0.0)
            .unwrap_err();
        assert!(missing_policy.to_string().contains("DELETE policy"));
        assert!(matches!(
            held.archive_answer("order_jobs", &json!(false), 10_000.0),
            Ok(Settled::Released(why)) if why.contains("held past its visibility timeout")
        ));
        held.archive_unclear = true;
        assert_eq!(
            held.archive_answer("order_jobs", &json!(false), 0.0),
            Ok(Settled::Archived),
            "its own earlier archive went through"
        );
    }

    #[test]
    fn held_messages_are_settled_again_paused_or_not_once_no_backoff_is_pending() {
        let mut reader = QueueReader::new(Admission::Paused);
        assert_eq!(reader.settle_step(0.0), QueueStep::Settle);
        reader.on_error(SourceError::Network("down".into()), 0.0, 0.5);
        assert!(matches!(reader.settle_step(100.0), QueueStep::Wait(_)));
        assert_eq!(reader.settle_step(1_000.0), QueueStep::Settle);
        reader.on_error(
            SourceError::NotArchived {
                queue: "q".into(),
                msg_id: 1,
            },
            1_000.0,
            0.5,
        );
        assert_eq!(reader.settle_step(5_000.0), QueueStep::Halted);
        reader.retry_now();
        assert_eq!(reader.settle_step(5_000.0), QueueStep::Settle);
    }

    #[test]
    fn a_message_already_in_the_dead_letter_queue_is_known_by_its_id_and_queue() {
        let source = orders();
        let message = source.event(record(42, 4)).unwrap();
        let sent =
            source.dead_letter_arguments(&message, "read 4 times", "2026-11-30T02:00:00Z", None);
        let letter =
            QueueSource::letter(&json!({"msg_id": 1, "message": sent["message"].clone()})).unwrap();
        assert!(source.already_lettered(std::slice::from_ref(&letter), 42));
        assert!(!source.already_lettered(std::slice::from_ref(&letter), 43));
        let other = QueueSource::parse("email_jobs", "order_jobs_dlq").unwrap();
        assert!(!other.already_lettered(&[letter], 42));
    }

    #[test]
    fn a_queues_length_is_read_from_its_metrics() {
        assert_eq!(
            orders().metrics_arguments(),
            json!({"queue_name": "order_jobs"})
        );
        let answer =
            json!([{"queue_length": 12, "queue_visible_length": 9, "oldest_msg_age_sec": 40}]);
        assert_eq!(
            QueueMetrics::parse(&answer),
            Some(QueueMetrics { length: 12 })
        );
        assert_eq!(
            QueueMetrics::parse(&json!({"queue_length": 0})),
            Some(QueueMetrics { length: 0 })
        );
        assert_eq!(QueueMetrics::parse(&json!([])), None);
        assert_eq!(QueueMetrics::parse(&json!([{"queue_length": -1}])), None);
    }

    #[test]
    fn a_messages_key_scope_is_one_no_table_can_have() {
        assert_eq!(orders().key_scope(), "queue/order_jobs");
        assert!(Identifier::parse("queue/order_jobs").is_err());
    }

    #[test]
    fn a_lane_lets_a_message_go_before_another_reader_can_take_it() {
        let at = release_at_ms(1_000.0, Duration::from_secs(7));
        assert_eq!(at, 1_000.0 + 5_000.0);
    }

    #[test]
    fn the_calls_carry_pgmq_publics_argument_names() {
        let source = orders();
        assert_eq!(
            source.read_arguments(Duration::from_secs(30), 4),
            json!({"queue_name": "order_jobs", "sleep_seconds": 30, "n": 4})
        );
        assert_eq!(
            source.archive_arguments(9),
            json!({"queue_name": "order_jobs", "message_id": 9})
        );
        assert_eq!(source.check_arguments()["n"], 0);
    }

    #[test]
    fn a_dead_letter_carries_the_message_its_reason_and_comes_back_as_a_letter() {
        let source = orders();
        let message = source.event(record(42, 2)).unwrap();
        let sent = source.dead_letter_arguments(
            &message,
            "422: bad order",
            "2026-11-30T02:00:00Z",
            Some("op@example.com"),
        );
        assert_eq!(sent["message"]["dead_lettered_by"], "op@example.com");
        assert_eq!(sent["queue_name"], "order_jobs_dlq");
        assert_eq!(sent["message"]["msg_id"], 42);
        assert_eq!(sent["message"]["message"]["type"], "invoice.render");
        let read_back = json!({"msg_id": 3, "read_ct": 1, "message": sent["message"].clone()});
        let letter = QueueSource::letter(&read_back).unwrap();
        assert_eq!(letter.key, "3");
        assert_eq!(letter.reason, "message 42: 422: bad order");
        assert_eq!(
            letter.at_ms, 1_796_004_000_000.0,
            "when it was dead-lettered"
        );
        assert_eq!(letter.attempts, 2);
        assert_eq!(letter.by.as_deref(), Some("op@example.com"), "who sent it");
        assert_eq!(
            source.send_again_arguments(&letter),
            json!({"queue_name": "order_jobs", "message": {"type": "invoice.render"}})
        );
        assert_eq!(
            source.letter_again_arguments(&letter),
            json!({"queue_name": "order_jobs_dlq", "message": sent["message"].clone()}),
            "the letter as it was"
        );
        assert_eq!(
            source.archive_letter_arguments(&letter).unwrap(),
            json!({"queue_name": "order_jobs_dlq", "message_id": 3})
        );
    }

    #[test]
    fn a_read_takes_one_message_per_free_lane_and_reads_again_at_once_while_the_queue_has_more() {
        let mut reader = QueueReader::new(Admission::Open);
        assert_eq!(reader.next(0.0, 0, 4), QueueStep::Read(4));
        assert_eq!(reader.next(0.0, 3, 4), QueueStep::Read(1));
        assert_eq!(reader.next(0.0, 4, 4), QueueStep::Wait(Duration::MAX));
        reader.on_read(4, 4, 1_000.0, Duration::from_secs(2));
        assert_eq!(reader.next(1_000.0, 0, 4), QueueStep::Read(4));
        reader.on_read(4, 1, 1_000.0, Duration::from_secs(2));
        assert_eq!(
            reader.next(1_500.0, 1, 4),
            QueueStep::Wait(Duration::from_millis(1_500))
        );
        assert_eq!(reader.next(3_000.0, 1, 4), QueueStep::Read(3));
    }

    #[test]
    fn paused_reads_nothing_and_a_step_reads_exactly_one_message() {
        let mut reader = QueueReader::new(Admission::Paused);
        assert_eq!(reader.next(0.0, 0, 8), QueueStep::Wait(Duration::MAX));
        reader.step();
        assert_eq!(reader.next(0.0, 0, 8), QueueStep::Read(1));
        reader.on_read(1, 0, 0.0, Duration::from_secs(1));
        assert_eq!(
            reader.admission(),
            Admission::StepOnce,
            "an empty read used no step"
        );
        reader.on_read(1, 1, 5_000.0, Duration::from_secs(1));
        assert_eq!(reader.admission(), Admission::Paused);
        assert_eq!(reader.next(9_000.0, 0, 8), QueueStep::Wait(Duration::MAX));
    }

    #[test]
    fn a_passing_error_backs_off_and_one_the_operator_must_fix_halts_until_retried() {
        let mut reader = QueueReader::new(Admission::Open);
        reader.on_error(SourceError::Network("down".into()), 0.0, 0.5);
        assert!(
            matches!(reader.next(0.0, 0, 1), QueueStep::Wait(w) if w == Duration::from_millis(500))
        );
        assert_eq!(reader.retrying().unwrap().1, 1);
        reader.on_error(SourceError::UnknownQueue("jobs".into()), 600.0, 0.5);
        assert_eq!(reader.next(60_000.0, 0, 1), QueueStep::Halted);
        reader.retry_now();
        assert_eq!(reader.next(60_000.0, 0, 1), QueueStep::Read(1));
    }

    #[test]
    fn a_wake_reads_now_unless_backing_off() {
        let mut reader = QueueReader::new(Admission::Open);
        reader.on_read(1, 0, 0.0, Duration::from_secs(60));
        assert!(matches!(reader.next(1_000.0, 0, 1), QueueStep::Wait(_)));
        reader.wake(1_000.0);
        assert_eq!(reader.next(1_000.0, 0, 1), QueueStep::Read(1));
        reader.on_error(SourceError::Network("down".into()), 2_000.0, 0.5);
        reader.wake(2_000.0);
        assert!(matches!(reader.next(2_000.0, 0, 1), QueueStep::Wait(_)));
    }
}
