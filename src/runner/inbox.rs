//! What arrives while the loop works or waits: the operator's intents, and
//! the events at the gate finishing, each in its own lane. Intents are kept
//! and applied between steps, in order, so an intent never changes the
//! engine in the middle of one. `Stop` is said at once.

use futures::channel::mpsc::UnboundedReceiver;
use futures::future::{FusedFuture, LocalBoxFuture};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::Intent;

/// What ended a wait.
pub(super) enum Arrived<T, F> {
    /// The work waited on is done.
    Done(T),
    /// Work beside the loop finished: an event at the gate, or (for a
    /// queue) a message settled with the queue.
    Finished(Box<F>),
    /// An intent arrived and was kept.
    Intent,
    Stop,
}

/// Intents, and the work under way beside the loop (`F` is what each piece
/// of work ends with).
pub(super) struct Inbox<'a, F> {
    arriving: UnboundedReceiver<Intent>,
    kept: VecDeque<Intent>,
    /// The work under way: the deliveries, one per busy lane.
    gate: FuturesUnordered<LocalBoxFuture<'a, F>>,
}

impl<'a, F> Inbox<'a, F> {
    pub fn new(arriving: UnboundedReceiver<Intent>) -> Self {
        Self {
            arriving,
            kept: VecDeque::new(),
            gate: FuturesUnordered::new(),
        }
    }

    /// Starts a delivery; it runs beside the loop until it finishes.
    pub fn start(&mut self, delivery: LocalBoxFuture<'a, F>) {
        self.gate.push(delivery);
    }

    /// Work under way beside the loop.
    pub fn at_gate(&self) -> usize {
        self.gate.len()
    }

    /// Waits for whichever comes first: `work`, a delivery finishing, an
    /// intent. Biased in that order's reverse, so a Stop that arrives with
    /// a result still wins.
    pub async fn next<T>(
        &mut self,
        mut work: Pin<&mut impl FusedFuture<Output = T>>,
    ) -> Arrived<T, F> {
        let mut finished = self.gate.select_next_some();
        futures::select_biased! {
            intent = self.arriving.next() => match intent {
                None | Some(Intent::Stop) => Arrived::Stop,
                Some(intent) => {
                    self.kept.push_back(intent);
                    Arrived::Intent
                }
            },
            done = finished => Arrived::Finished(Box::new(done)),
            done = work => Arrived::Done(done),
        }
    }

    /// The next delivery to finish, once told to stop; `None` when none is
    /// left.
    pub async fn next_finished(&mut self) -> Option<F> {
        self.gate.next().await
    }

    /// Runs `work` to its end, keeping what arrives meanwhile; `None` once
    /// told to stop. Only while nothing is at the gate (before draining).
    pub async fn attend<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let work = work.fuse();
        futures::pin_mut!(work);
        loop {
            match self.next(work.as_mut()).await {
                Arrived::Done(done) => return Some(done),
                Arrived::Intent | Arrived::Finished(_) => {}
                Arrived::Stop => return None,
            }
        }
    }

    /// Waits `duration`, or less if an intent arrives; `false` once told to
    /// stop. Only while nothing is at the gate (before draining).
    pub async fn wait(&mut self, duration: Duration) -> bool {
        if !self.kept.is_empty() {
            return true;
        }
        let timer = TimeoutFuture::new(timer_millis(duration)).fuse();
        futures::pin_mut!(timer);
        !matches!(self.next(timer).await, Arrived::Stop)
    }

    /// Waits for the next intent (kept); `false` once told to stop. Only
    /// while nothing is at the gate (before draining).
    pub async fn next_intent(&mut self) -> bool {
        let never = std::pin::pin!(futures::future::pending::<()>().fuse());
        !matches!(self.next(never).await, Arrived::Stop)
    }

    /// Lets `applied` act on the intents kept, keeping only those it did
    /// not apply (in order).
    pub fn apply_kept(&mut self, mut applied: impl FnMut(&Intent) -> bool) {
        self.kept.retain(|intent| !applied(intent));
    }

    /// The next intent kept, oldest first.
    pub fn next_kept(&mut self) -> Option<Intent> {
        self.kept.pop_front()
    }
}

/// A wait as a timer: longer waits are cut to an hour, after which the
/// loop simply looks again.
pub(super) fn timer_millis(duration: Duration) -> u32 {
    duration.as_millis().min(3_600_000) as u32
}
