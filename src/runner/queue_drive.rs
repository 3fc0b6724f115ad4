//! The loop that drains a Supabase Queue through `pgmq_public`. The queue
//! is the progress, so nothing is stored in the browser and no tab lock is
//! taken: any number of tabs and browsers may drain one queue, each read
//! hiding what it takes for a visibility timeout that covers the agent's
//! longest stay at the gate. Each message goes to a lane; after the agent's
//! done it is archived, after a refusal its dead letter is sent and then it
//! is archived. Only an archive that answers `true` counts: until then the
//! message is held and nothing more is read (a policy the operator must fix
//! halts the drain). A message whose next attempt could not end before its
//! visibility timeout is let go untouched: it comes back for any reader.

use futures::channel::mpsc::UnboundedReceiver;
use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use serde_json::Value;
use sluice_core::dead_letters::{DeadLetter, MAX_DEAD_LETTERS};
use sluice_core::drain::MAX_LANES;
use sluice_core::history::Outcome;
use sluice_core::queue::Message;
use sluice_core::queue::{
    arrivals, release_at_ms, visibility_timeout, Arrival, QueueReader, QueueSource, QueueStep,
    SettleCall, Settled, Unsettled, SETTLE_CALL_DEADLINE,
};
use sluice_core::source_error::SourceError;
use std::future::Future;
use std::time::Duration;

use super::delivery::{self, Delivered};
use super::inbox::{timer_millis, Arrived, Inbox};
use super::station::{now_ms, random, Station};
use super::view::{publish_journal_every_second, set_if_changed, Condition};
use super::{Inputs, Intent};
use crate::browser::queue_rpc;

/// Runs until told to stop.
pub(super) async fn run(inputs: Inputs, source: QueueSource, intents: UnboundedReceiver<Intent>) {
    let station = Station::new(
        inputs.session,
        source.name(),
        source.key_scope(),
        inputs.agent,
        inputs.rate,
        inputs.view,
        inputs.alerts,
    );
    let view = station.view;
    let mut drive = QueueLoop {
        station: &station,
        source: &source,
        inbox: Inbox::new(intents),
        reader: QueueReader::new(view.admission.get_untracked()),
        at_gate: [None; MAX_LANES],
        admitted: 0,
        letters_stale: false,
        settling: Vec::new(),
        held: Vec::new(),
    };
    futures::select! {
        () = drive.run().fuse() => {}
        () = publish_journal_every_second(view).fuse() => {}
    }
}

/// Work beside the loop: each message's delivery, then its settling with
/// the queue. A lane frees as soon as the agent is done, so the next read
/// overlaps the archive.
enum Work {
    Delivered {
        lane: usize,
        message: Message,
        let_go_at_ms: f64,
        delivered: Option<Delivered>,
    },
    Settled(Settling, Result<Settled, SourceError>),
}

/// A message being settled with the queue, and what the agent did with it
/// (`None` for one dead-lettered for being read too often).
struct Settling {
    unsettled: Unsettled,
    delivered: Option<Delivered>,
}

struct QueueLoop<'a> {
    station: &'a Station,
    source: &'a QueueSource,
    inbox: Inbox<'a, Work>,
    reader: QueueReader,
    /// The message each lane carries: its id, and when it was enqueued (µs).
    at_gate: [Option<(i64, i64)>; MAX_LANES],
    /// Messages sent to the gate so far, for the lanes' order.
    admitted: u64,
    /// A message went to the dead-letter queue since it was last looked at.
    letters_stale: bool,
    /// The ids of the messages being settled beside the loop.
    settling: Vec<i64>,
    /// Messages whose settling failed: settled again before anything is
    /// read, in order.
    held: Vec<Settling>,
}

impl QueueLoop<'_> {
    async fn run(&mut self) {
        let view = self.station.view;
        view.condition.set(Condition::Starting);
        if !self.refresh_letters().await {
            return self.stop().await;
        }
        loop {
            while let Some(intent) = self.inbox.next_kept() {
                if !self.apply(intent).await {
                    return self.stop().await;
                }
            }
            if std::mem::take(&mut self.letters_stale) && !self.refresh_letters().await {
                return self.stop().await;
            }
            let lanes = self.station.agent.with_untracked(|a| a.lanes());
            set_if_changed(view.lanes_shown, lanes);
            self.publish();
            let busy = self.at_gate.iter().flatten().count();
            // Held messages are settled before anything is read.
            let step = if self.held.is_empty() {
                self.reader.next(now_ms(), busy, lanes)
            } else {
                self.reader.settle_step(now_ms())
            };
            let went_on = match step {
                QueueStep::Settle => self.settle_held().await,
                QueueStep::Read(wanted) => self.read(wanted).await,
                QueueStep::Wait(duration) => self.wait(duration).await,
                QueueStep::Halted => self.wait(Duration::MAX).await,
            };
            if !went_on {
                return self.stop().await;
            }
        }
    }

    /// Reads up to `wanted` messages and sends each where it goes; `false`
    /// once told to stop.
    async fn read(&mut self, wanted: usize) -> bool {
        let (station, source) = (self.station, self.source);
        let settings = station.agent.get_untracked();
        let visibility = visibility_timeout(&settings);
        let arguments = source.read_arguments(visibility, wanted);
        let let_go_at_ms = release_at_ms(now_ms(), visibility);
        let read = queue_rpc::call_for_rows(&station.session, source.name(), "read", &arguments);
        let Some(result) = self.alongside(read).await else {
            return false;
        };
        let records = match result {
            Ok(records) => records,
            Err(error) => {
                self.reader.on_error(error, now_ms(), random());
                return true;
            }
        };
        let interval = station.rate.get_untracked().interval();
        self.reader
            .on_read(wanted, records.len(), now_ms(), interval);
        set_if_changed(station.view.last_read_ms, Some(now_ms()));
        // Still here: at the gate, being settled, or held.
        let here: Vec<i64> = (self.at_gate.iter().flatten().map(|(id, _)| *id))
            .chain(self.settling.iter().copied())
            .chain(self.held.iter().map(|h| h.unsettled.message.msg_id))
            .collect();
        for arrival in arrivals(source, records, settings.attempts, &here) {
            match arrival {
                Arrival::Deliver(message) => self.start(message, let_go_at_ms),
                Arrival::DeadLetter(message, reason) => {
                    station.announce(format!(
                        "Message {} of {} was dead-lettered: {reason}.",
                        message.msg_id,
                        source.name()
                    ));
                    let settling = Settling {
                        unsettled: Unsettled::new(message, Some(reason), let_go_at_ms),
                        delivered: None,
                    };
                    if !self.settle_now(settling).await {
                        return false;
                    }
                }
                Arrival::Unreadable(reason) => station.announce(format!(
                    "{reason}; it stays in the queue and comes back after its visibility timeout."
                )),
            }
        }
        true
    }

    /// Sends a message to the gate in the first free lane.
    fn start(&mut self, message: Message, let_go_at_ms: f64) {
        let lane = self
            .at_gate
            .iter()
            .position(Option::is_none)
            .unwrap_or(MAX_LANES - 1);
        self.at_gate[lane] = Some((message.msg_id, message.event.timestamp_micros));
        self.admitted += 1;
        let (station, serial) = (self.station, self.admitted);
        self.inbox.start(Box::pin(async move {
            let event = message.event.clone();
            let delivered =
                delivery::deliver(station, lane, serial, event, Some(let_go_at_ms)).await;
            Work::Delivered {
                lane,
                message,
                let_go_at_ms,
                delivered,
            }
        }));
    }

    /// Work beside the loop finished: a message the agent is done with is
    /// settled with the queue (beside the loop, its lane free), and counted
    /// once settled.
    fn finished(&mut self, work: Work) {
        match work {
            Work::Delivered {
                lane,
                message,
                let_go_at_ms,
                delivered,
            } => {
                self.at_gate[lane] = None;
                if let Some(delivered) = delivered {
                    let refusal = match &delivered.outcome {
                        Outcome::Rejected(reason) => Some(reason.clone()),
                        _ => None,
                    };
                    let mut settling = Settling {
                        unsettled: Unsettled::new(message, refusal, let_go_at_ms),
                        delivered: Some(delivered),
                    };
                    let (station, source) = (self.station, self.source);
                    self.settling.push(settling.unsettled.message.msg_id);
                    self.inbox.start(Box::pin(async move {
                        let settled = settle(station, source, &mut settling.unsettled).await;
                        Work::Settled(settling, settled)
                    }));
                }
            }
            Work::Settled(settling, settled) => {
                let msg_id = settling.unsettled.message.msg_id;
                self.settling.retain(|id| *id != msg_id);
                self.after_settling(settling, settled);
            }
        }
    }

    /// A message was settled (counted once), or is held until it is.
    fn after_settling(&mut self, settling: Settling, settled: Result<Settled, SourceError>) {
        let station = self.station;
        match settled {
            Ok(Settled::Released(why)) => {
                self.reader.on_settled();
                station.announce(format!("Not counted: {why}."));
            }
            Ok(Settled::Archived) => {
                self.reader.on_settled();
                self.letters_stale |= settling.unsettled.refusal.is_some();
                if let (Some(delivered), false) = (settling.delivered, station.stopping.get()) {
                    station.view.handled.update(|n| *n += 1);
                    delivered.note_in(station.view);
                }
            }
            Err(error) => {
                let msg_id = settling.unsettled.message.msg_id;
                station.announce(format!(
                    "Message {msg_id} of {} is held: {error} Nothing more is read until it is settled.",
                    self.source.name()
                ));
                self.letters_stale |= settling.unsettled.letter_sent;
                self.held.push(settling);
                self.reader.on_error(error, now_ms(), random());
            }
        }
    }

    /// Settles one message in the loop (a message read too often); `false`
    /// once told to stop.
    async fn settle_now(&mut self, mut settling: Settling) -> bool {
        let (station, source) = (self.station, self.source);
        let settled = self
            .alongside(settle(station, source, &mut settling.unsettled))
            .await;
        let Some(settled) = settled else {
            return false;
        };
        self.after_settling(settling, settled);
        true
    }

    /// Settles the held messages again, oldest first, stopping at the first
    /// that still fails; `false` once told to stop.
    async fn settle_held(&mut self) -> bool {
        while !self.held.is_empty() {
            let mut settling = self.held.remove(0);
            let (station, source) = (self.station, self.source);
            let settled = self
                .alongside(settle(station, source, &mut settling.unsettled))
                .await;
            let Some(settled) = settled else {
                self.held.insert(0, settling);
                return false;
            };
            match settled {
                Err(error) => {
                    self.station.announce(format!(
                        "Message {} of {} is still held: {error}",
                        settling.unsettled.message.msg_id,
                        self.source.name()
                    ));
                    // Back in front: held in the order they were.
                    self.held.insert(0, settling);
                    self.reader.on_error(error, now_ms(), random());
                    return true;
                }
                settled => self.after_settling(settling, settled),
            }
        }
        true
    }

    /// Runs `work` while the messages at the gate finish and intents arrive
    /// (kept); `None` once told to stop.
    async fn alongside<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let work = work.fuse();
        futures::pin_mut!(work);
        loop {
            match self.inbox.next(work.as_mut()).await {
                Arrived::Done(done) => return Some(done),
                Arrived::Finished(finished) => self.finished(*finished),
                Arrived::Intent => {}
                Arrived::Stop => return None,
            }
        }
    }

    /// Waits `duration`, or less if an intent arrives or a lane frees;
    /// `false` once told to stop.
    async fn wait(&mut self, duration: Duration) -> bool {
        let timer = std::pin::pin!(TimeoutFuture::new(timer_millis(duration)).fuse());
        match self.inbox.next(timer).await {
            Arrived::Done(()) | Arrived::Intent => true,
            Arrived::Finished(finished) => {
                self.finished(*finished);
                true
            }
            Arrived::Stop => false,
        }
    }

    /// Told to stop: no message starts; the attempts under way end and are
    /// settled with the queue, so the agent's work is not done twice.
    /// (Settling a message adds work, which this waits for too.)
    async fn stop(&mut self) {
        self.station.stopping.set(true);
        while let Some(finished) = self.inbox.next_finished().await {
            self.finished(finished);
        }
    }

    /// Applies an intent between steps; `false` to stop.
    async fn apply(&mut self, intent: Intent) -> bool {
        match intent {
            Intent::Pause => self.reader.pause(),
            Intent::Resume => self.reader.resume(),
            Intent::Step => self.reader.step(),
            Intent::RetryNow => {
                let asked = &self.station.retry_now;
                asked.set(asked.get().wrapping_add(1));
                self.reader.retry_now();
            }
            // New settings may fix a halt; they also ask for the dead
            // letters to be looked at again.
            Intent::SettingsChanged => {
                self.reader.retry_now();
                return self.refresh_letters().await;
            }
            Intent::Redeliver(keys) => return self.act_on_letters(&keys, true).await,
            Intent::Discard(keys) => return self.act_on_letters(&keys, false).await,
            // A table's: a queue keeps no history in the browser, and its
            // reads always take what they read.
            Intent::Clear | Intent::Import(_) | Intent::WatchOnly(_) => {}
            Intent::Stop => return false,
        }
        true
    }

    /// Sends dead letters back to the queue (`again`) or discards them,
    /// letter by letter. Each letter is archived from the dead-letter queue
    /// first and its message sent back only if that archive answered
    /// `true`: of two operators retrying one letter, one sends it back.
    /// `false` once told to stop.
    async fn act_on_letters(&mut self, keys: &[String], again: bool) -> bool {
        let (station, source) = (self.station, self.source);
        let letters: Vec<DeadLetter> = station.view.dead_letters.with_untracked(|all| {
            all.iter()
                .filter(|l| keys.contains(&l.key))
                .cloned()
                .collect()
        });
        let dead_letter_queue = source.dead_letter_queue.as_str();
        let undone = if again {
            "was not sent back"
        } else {
            "was not discarded"
        };
        for letter in letters {
            let act = async {
                let Some(arguments) = source.archive_letter_arguments(&letter) else {
                    return Ok(false);
                };
                let taken = queue_rpc::call(&station.session, source.name(), "archive", &arguments)
                    .await
                    .map_err(|error| error.to_string())?
                    == Value::Bool(true);
                if taken && again {
                    send_back(station, source, &letter).await?;
                }
                Ok::<bool, String>(taken)
            };
            let mut act = std::pin::pin!(act);
            match self.alongside(act.as_mut()).await {
                // Told to stop with a letter half acted on (archived, its
                // message not yet sent back): finish it first.
                None => {
                    if let Err(error) = act.await {
                        station.announce(format!(
                            "Dead letter {} of {dead_letter_queue} {undone}: {error}",
                            letter.key
                        ));
                    }
                    return false;
                }
                Some(Ok(true)) => {}
                Some(Ok(false)) => station.announce(format!(
                    "Dead letter {} of {dead_letter_queue} {undone}: another operator already took it (or this key may not archive it).",
                    letter.key
                )),
                Some(Err(error)) => station.announce(format!(
                    "Dead letter {} of {dead_letter_queue} {undone}: {error}",
                    letter.key
                )),
            }
        }
        self.refresh_letters().await
    }

    /// Looks at the dead-letter queue (without hiding its letters); `false`
    /// once told to stop.
    async fn refresh_letters(&mut self) -> bool {
        let (station, source) = (self.station, self.source);
        let arguments = source.dead_letters_arguments(MAX_DEAD_LETTERS);
        let look = queue_rpc::call_for_rows(&station.session, source.name(), "read", &arguments);
        match self.alongside(look).await {
            None => false,
            Some(Ok(records)) => {
                let letters = QueueSource::letters(&records);
                if !station.stopping.get() {
                    station.view.dead_letters.set(letters);
                }
                true
            }
            Some(Err(error)) => {
                station.announce(format!(
                    "The dead-letter queue {} cannot be read: {error}",
                    source.dead_letter_queue.as_str()
                ));
                true
            }
        }
    }

    /// What the page shows of the reader.
    fn publish(&self) {
        let view = self.station.view;
        set_if_changed(view.admission, self.reader.admission());
        // The lag: how long the oldest message at the gate has been queued.
        let oldest = self
            .at_gate
            .iter()
            .flatten()
            .map(|(_, enqueued)| *enqueued)
            .min();
        set_if_changed(view.oldest_waiting_micros, oldest);
        let condition = if let Some(error) = self.reader.halted() {
            Condition::Halted(error.to_string())
        } else if let Some((error, failures)) = self.reader.retrying() {
            Condition::Retrying(format!("{error} (attempt {failures})"))
        } else {
            Condition::Draining
        };
        set_if_changed(view.condition, condition);
    }
}

/// Sends an archived letter's message back to the queue, trying again
/// while the error may pass; if it still fails, the letter goes back to the
/// dead-letter queue, so that the message is never lost between the two.
async fn send_back(
    station: &Station,
    source: &QueueSource,
    letter: &DeadLetter,
) -> Result<(), String> {
    let (session, queue) = (&station.session, source.name());
    let arguments = source.send_again_arguments(letter);
    let mut backoff = sluice_core::queue::READ_BACKOFF;
    let error = loop {
        match queue_rpc::call(session, queue, "send", &arguments).await {
            Ok(_) => return Ok(()),
            // Only refusals that certainly did nothing are tried again: a
            // send with no clear answer may have gone through.
            Err(
                error @ SourceError::Server {
                    status: 429 | 503, ..
                },
            ) if backoff.failures() < 3 => {
                let wait = backoff.fail(error.retry_after(), random());
                TimeoutFuture::new(timer_millis(wait)).await;
            }
            Err(error) => break error,
        }
    };
    let lettered_again = queue_rpc::call(
        session,
        queue,
        "send",
        &source.letter_again_arguments(letter),
    )
    .await;
    Err(match lettered_again {
        Ok(_) => format!(
            "its message may not have been sent back ({error}); the letter is back in the dead-letter queue: check the queue before retrying it again"
        ),
        Err(again) => format!(
            "its message could not be sent back ({error}), nor the letter kept ({again}): the message was {}",
            letter.event
        ),
    })
}

/// Makes the next calls that settle a message: its dead letter (once:
/// when an earlier reader or send may have sent it, the dead-letter queue
/// is looked at first), then its archive, each within
/// [`SETTLE_CALL_DEADLINE`]. Only an archive that answers `true` (or
/// `false` after this reader's own unclear archive) settles it.
async fn settle(
    station: &Station,
    source: &QueueSource,
    unsettled: &mut Unsettled,
) -> Result<Settled, SourceError> {
    let (session, queue) = (&station.session, source.name());
    let msg_id = unsettled.message.msg_id;
    if unsettled.check_letters_first() {
        let arguments = source.dead_letters_arguments(MAX_DEAD_LETTERS);
        let records = queue_rpc::call_for_rows(session, queue, "read", &arguments).await?;
        unsettled.letter_sent = source.already_lettered(&QueueSource::letters(&records), msg_id);
        unsettled.letter_unclear = false;
    }
    if unsettled.next_call() == SettleCall::SendLetter {
        let at: String = js_sys::Date::new_0().to_iso_string().into();
        let reason = unsettled.refusal.as_deref().unwrap_or_default();
        let arguments = source.dead_letter_arguments(&unsettled.message, reason, &at);
        if let Err(error) =
            queue_rpc::call_within(session, queue, "send", &arguments, SETTLE_CALL_DEADLINE).await
        {
            // It may have been sent all the same: look before sending again.
            unsettled.letter_unclear = true;
            return Err(error);
        }
        unsettled.letter_sent = true;
    }
    let arguments = source.archive_arguments(msg_id);
    match queue_rpc::call_within(session, queue, "archive", &arguments, SETTLE_CALL_DEADLINE).await
    {
        Ok(answer) => unsettled.archive_answer(queue, &answer, now_ms()),
        Err(error) => {
            unsettled.archive_unclear |= error.is_transient();
            Err(error)
        }
    }
}
