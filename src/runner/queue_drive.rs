//! The loop that drains a Supabase Queue through `pgmq_public`. The queue
//! is the progress, so nothing is stored in the browser and no tab lock is
//! taken: any number of tabs and browsers may drain one queue, each read
//! hiding what it takes for a visibility timeout that covers the agent's
//! longest stay at the gate. Each message goes to a lane; its lane archives
//! it after the agent's done, or sends it to the dead-letter queue with the
//! reason and then archives it (in that order: a crash between the two
//! duplicates a dead letter, never loses one). A message still waiting when
//! its visibility timeout nears is let go: it comes back for any reader.

use futures::channel::mpsc::UnboundedReceiver;
use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use serde_json::Value;
use sluice_core::dead_letters::{DeadLetter, MAX_DEAD_LETTERS};
use sluice_core::drain::MAX_LANES;
use sluice_core::history::Outcome;
use sluice_core::queue::{
    arrivals, release_at_ms, visibility_timeout, Arrival, Message, QueueReader, QueueSource,
    QueueStep,
};
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
        delivered: Option<Delivered>,
    },
    Settled(Option<Delivered>),
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
            let went_on = match self.reader.next(now_ms(), busy, lanes) {
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
        let read_at_ms = now_ms();
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
        let at_gate: Vec<i64> = self.at_gate.iter().flatten().map(|(id, _)| *id).collect();
        for arrival in arrivals(source, records, settings.attempts, &at_gate) {
            match arrival {
                Arrival::Deliver(message) => {
                    self.start(message, release_at_ms(read_at_ms, visibility))
                }
                Arrival::DeadLetter(message, reason) => {
                    station.announce(format!(
                        "Message {} of {} was dead-lettered: {reason}.",
                        message.msg_id,
                        source.name()
                    ));
                    let settle = settle_refused(station, source, &message, &reason);
                    if self.alongside(settle).await.is_none() {
                        return false;
                    }
                    if !self.refresh_letters().await {
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
                delivered,
            } => {
                self.at_gate[lane] = None;
                if let Some(delivered) = delivered {
                    let (station, source) = (self.station, self.source);
                    self.inbox.start(Box::pin(async move {
                        Work::Settled(settle(station, source, &message, delivered).await)
                    }));
                }
            }
            Work::Settled(Some(delivered)) if !self.station.stopping.get() => {
                let view = self.station.view;
                // The dead-letter panel shows the queue's: looked at again next step.
                self.letters_stale |= matches!(delivered.outcome, Outcome::Rejected(_));
                view.handled.update(|n| *n += 1);
                delivered.note_in(view);
            }
            Work::Settled(_) => {}
        }
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

    /// Sends dead letters back to the queue (`again`) or discards them, each
    /// archived from the dead-letter queue once done; `false` once told to
    /// stop.
    async fn act_on_letters(&mut self, keys: &[String], again: bool) -> bool {
        let (station, source) = (self.station, self.source);
        let letters: Vec<DeadLetter> = station.view.dead_letters.with_untracked(|all| {
            all.iter()
                .filter(|l| keys.contains(&l.key))
                .cloned()
                .collect()
        });
        for letter in letters {
            let act = async {
                if again {
                    queue_rpc::call(
                        &station.session,
                        source.name(),
                        "send",
                        &source.send_again_arguments(&letter),
                    )
                    .await?;
                }
                match source.archive_letter_arguments(&letter) {
                    Some(arguments) => {
                        queue_rpc::call(&station.session, source.name(), "archive", &arguments)
                            .await
                            .map(drop)
                    }
                    None => Ok(()),
                }
            };
            match self.alongside(act).await {
                None => return false,
                Some(Ok(())) => {}
                Some(Err(error)) => station.announce(format!(
                    "Dead letter {} of {} was not {}: {error}",
                    letter.key,
                    source.dead_letter_queue.as_str(),
                    if again { "sent back" } else { "discarded" }
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

/// Settles a message the agent is done with: a refused one to the
/// dead-letter queue first, then archived. `None` when the queue could not
/// be told (the message comes back after its visibility timeout, with the
/// same Idempotency-Key).
async fn settle(
    station: &Station,
    source: &QueueSource,
    message: &Message,
    delivered: Delivered,
) -> Option<Delivered> {
    let settled = match &delivered.outcome {
        Outcome::Rejected(reason) => settle_refused(station, source, message, reason).await,
        _ => archive(station, source, message.msg_id).await,
    };
    settled.then_some(delivered)
}

/// A refused message: its dead letter is sent, then it is archived.
async fn settle_refused(
    station: &Station,
    source: &QueueSource,
    message: &Message,
    reason: &str,
) -> bool {
    let at: String = js_sys::Date::new_0().to_iso_string().into();
    let arguments = source.dead_letter_arguments(message, reason, &at);
    match with_retries(|| queue_rpc::call(&station.session, source.name(), "send", &arguments))
        .await
    {
        Ok(_) => archive(station, source, message.msg_id).await,
        Err(error) => {
            station.announce(format!(
                "Message {} of {} was refused by the agent, but its dead letter could not be sent to {}: {error} It stays in the queue and comes back after its visibility timeout.",
                message.msg_id,
                source.name(),
                source.dead_letter_queue.as_str()
            ));
            false
        }
    }
}

/// Archives a message; `false` (with an alert) when the queue could not be
/// told.
async fn archive(station: &Station, source: &QueueSource, msg_id: i64) -> bool {
    let arguments = source.archive_arguments(msg_id);
    match with_retries(|| queue_rpc::call(&station.session, source.name(), "archive", &arguments))
        .await
    {
        // `false`: another reader archived it first, after this one's
        // visibility timeout ended. Done either way.
        Ok(Value::Bool(_)) => true,
        Ok(other) => {
            station.announce(format!(
                "Archiving message {msg_id} of {} answered {other}; it may come back.",
                source.name()
            ));
            false
        }
        Err(error) => {
            station.announce(format!(
                "Message {msg_id} of {} was handled but could not be archived: {error} It comes back after its visibility timeout and goes to the agent again with the same Idempotency-Key.",
                source.name()
            ));
            false
        }
    }
}

/// A call tried up to three times while its errors may pass.
async fn with_retries<F, Fut>(call: F) -> Result<Value, sluice_core::source_error::SourceError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Value, sluice_core::source_error::SourceError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match call().await {
            Err(error) if error.is_transient() && tries < 3 => {
                TimeoutFuture::new(500 * tries).await;
            }
            result => return result,
        }
    }
}
