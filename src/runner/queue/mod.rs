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

mod letters;
mod settle;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender};
use futures::FutureExt;
use leptos::prelude::*;
use sluice_core::queue::{
    arrivals, release_at_ms, visibility_timeout, Arrival, Message, QueueMetrics, QueueReader,
    QueueSource, QueueStep, Settled, Unsettled, METRICS_EVERY,
};
use sluice_core::realtime::Target;
use sluice_core::source::Source;
use sluice_core::source_error::SourceError;
use std::time::Duration;

use super::delivery::{self, Report};
use super::inbox::Inbox;
use super::live::keep_live;
use super::skeleton::{Beside, Lanes};
use super::station::{now_ms, random, Station};
use super::view::{publish_journal_every_second, set_if_changed, Condition};
use super::{Inputs, Intent};
use crate::browser::queue_rpc;
use settle::settle;

/// Runs until told to stop.
pub(super) async fn run(
    inputs: Inputs,
    source: QueueSource,
    intents: UnboundedReceiver<Intent>,
    wake: UnboundedSender<Intent>,
) {
    let target = Target::of(&Source::Queue(source.clone()));
    let station = Station::new(
        inputs.session,
        source.name(),
        source.key_scope(),
        inputs.choices,
        inputs.view,
        inputs.alerts,
        wake,
    );
    let view = station.view;
    let mut drive = QueueLoop {
        station: &station,
        source: &source,
        inbox: Inbox::new(intents),
        reader: QueueReader::new(inputs.admission),
        lanes: Lanes::default(),
        letters_stale: false,
        settling: Vec::new(),
        held: Vec::new(),
        count_due_ms: 0.0,
    };
    futures::select! {
        () = drive.run().fuse() => {}
        () = publish_journal_every_second(view).fuse() => {}
        () = keep_live(&station, target).fuse() => {}
    }
}

/// Work beside the loop: each message's delivery, then its settling with
/// the queue. A lane frees as soon as the agent is done, so the next read
/// overlaps the archive.
enum Work {
    /// The agent is done with a message (`None`: the lane let it go, or the
    /// drain stopped, and it stays in the queue).
    Delivered {
        lane: usize,
        msg_id: i64,
        read_count: u32,
        let_go_at_ms: f64,
        delivered: Option<delivery::Delivered>,
    },
    Settled(Settling, Result<Settled, SourceError>),
    /// The queue's length, asked for now and then beside the reads.
    Counted(Result<serde_json::Value, SourceError>),
}

/// A message being settled with the queue, and what the agent did with it
/// (`None` for one dead-lettered for being read too often).
struct Settling {
    unsettled: Unsettled,
    report: Option<Report>,
}

struct QueueLoop<'a> {
    station: &'a Station,
    source: &'a QueueSource,
    inbox: Inbox<'a, Work>,
    reader: QueueReader,
    /// The message each lane carries: its id, and when it was enqueued (µs).
    lanes: Lanes<(i64, i64)>,
    /// A message went to the dead-letter queue since it was last looked at.
    letters_stale: bool,
    /// The ids of the messages being settled beside the loop.
    settling: Vec<i64>,
    /// Messages whose settling failed: settled again before anything is
    /// read, in order.
    held: Vec<Settling>,
    /// When the queue's length is next asked for (ms).
    count_due_ms: f64,
}

impl<'a> Beside<'a> for QueueLoop<'a> {
    type Work = Work;

    fn inbox(&mut self) -> &mut Inbox<'a, Work> {
        &mut self.inbox
    }

    /// Work beside the loop finished: a message the agent is done with is
    /// settled with the queue (beside the loop, its lane free), and counted
    /// once settled.
    fn finished(&mut self, work: Work) {
        match work {
            Work::Delivered {
                lane,
                msg_id,
                read_count,
                let_go_at_ms,
                delivered,
            } => {
                self.lanes.free(lane);
                if let Some(delivered) = delivered {
                    let refusal = delivered.report.refusal().cloned();
                    let message = Message {
                        msg_id,
                        read_count,
                        event: delivered.event,
                    };
                    let mut settling = Settling {
                        unsettled: Unsettled::new(message, refusal, let_go_at_ms),
                        report: Some(delivered.report),
                    };
                    let (station, source) = (self.station, self.source);
                    self.settling.push(msg_id);
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
            Work::Counted(answer) => self.counted(answer),
        }
    }
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
            let lanes = self.station.lanes();
            set_if_changed(view.lanes_shown, lanes);
            self.publish();
            // Held messages are settled before anything is read.
            let step = if self.held.is_empty() {
                self.reader.next(now_ms(), self.lanes.busy(), lanes)
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
        let settings = station.agent();
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
        let interval = station.poll_interval();
        self.reader
            .on_read(wanted, records.len(), now_ms(), interval);
        set_if_changed(station.view.last_read_ms, Some(now_ms()));
        self.count_when_due();
        // Still here: at the gate, being settled, or held.
        let here: Vec<i64> = (self.lanes.carried().map(|(id, _)| *id))
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
                        report: None,
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
        let Message {
            msg_id,
            read_count,
            event,
        } = message;
        let (lane, serial) = self.lanes.take((msg_id, event.timestamp_micros));
        let station = self.station;
        self.inbox.start(Box::pin(async move {
            Work::Delivered {
                lane,
                msg_id,
                read_count,
                let_go_at_ms,
                delivered: delivery::deliver(station, lane, serial, event, Some(let_go_at_ms))
                    .await,
            }
        }));
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
                if let Some(report) = settling.report {
                    station.view.handled.update(|n| *n += 1);
                    report.note_in(settling.unsettled.message.event, station);
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

    /// Told to stop: no message starts; the attempts under way end and are
    /// settled with the queue, so the agent's work is not done twice.
    async fn stop(&mut self) {
        self.station.stop();
        self.finish_work_under_way().await;
    }

    /// Applies an intent between steps; `false` to stop.
    async fn apply(&mut self, intent: Intent) -> bool {
        match intent {
            Intent::Pause => self.reader.pause(),
            Intent::Resume => self.reader.resume(),
            Intent::Step => self.reader.step(),
            Intent::RetryNow => {
                self.station.retry_now();
                self.reader.retry_now();
            }
            Intent::Wake => {
                self.station.woke();
                self.reader.wake(now_ms());
            }
            // New settings may fix a halt; they also ask for the dead
            // letters to be looked at again.
            Intent::Settings(choices) => {
                self.station.choose(choices);
                self.reader.retry_now();
                return self.refresh_letters().await;
            }
            Intent::AlertThresholds(limits) => self.station.view.alert_thresholds.set(limits),
            Intent::Redeliver(keys) => return self.act_on_letters(&keys, true).await,
            Intent::Discard(keys) => return self.act_on_letters(&keys, false).await,
            // A table's: a queue keeps no history in the browser, and its
            // reads always take what they read.
            Intent::Clear
            | Intent::Import(_)
            | Intent::WatchOnly(_)
            | Intent::PartitionKey(_)
            | Intent::Answer(..) => {}
            Intent::Stop => return false,
        }
        true
    }

    /// Asks for the queue's length beside the loop, at most every
    /// [`METRICS_EVERY`] (never per message).
    fn count_when_due(&mut self) {
        let now = now_ms();
        if now < self.count_due_ms {
            return;
        }
        self.count_due_ms = now + METRICS_EVERY.as_millis() as f64;
        let (station, source) = (self.station, self.source);
        self.inbox.start(Box::pin(async move {
            Work::Counted(queue_rpc::metrics(&station.session, source).await)
        }));
    }

    /// The queue's length as counted: the backlog, or, without the metrics
    /// function, what the page says to add. Other failures keep the last
    /// count: the reads say what is wrong.
    fn counted(&mut self, answer: Result<serde_json::Value, SourceError>) {
        let view = self.station.view;
        match answer {
            Ok(answer) => {
                if let Some(metrics) = QueueMetrics::parse(&answer) {
                    let handled = view.handled.get_untracked();
                    view.backlog.update(|b| b.counted(metrics.length, handled));
                }
                set_if_changed(view.metrics_missing, false);
            }
            Err(SourceError::QueuesNotExposed(_)) => set_if_changed(view.metrics_missing, true),
            Err(_) => {}
        }
    }

    /// What the page shows of the reader.
    fn publish(&self) {
        let view = self.station.view;
        set_if_changed(view.admission, self.reader.admission());
        // The lag: how long the oldest message at the gate has been queued.
        let oldest = self.lanes.carried().map(|(_, enqueued)| *enqueued).min();
        set_if_changed(view.oldest_waiting_micros, oldest);
        let retrying = self.reader.retrying().map(|(error, n)| (error, *n));
        set_if_changed(
            view.condition,
            Condition::of(self.reader.halted(), retrying),
        );
    }
}
