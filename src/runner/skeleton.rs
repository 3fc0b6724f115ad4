//! What a table's loop and a queue's loop share: the lanes of the gate, and
//! waiting for something while the work beside the loop (each lane's
//! delivery, a queue's settling) finishes and the operator's intents arrive.
//! Each loop says only what differs: what its work ends with, and what it
//! does when a piece of it finishes.

use futures::FutureExt;
use gloo_timers::future::TimeoutFuture;
use sluice_core::drain::MAX_LANES;
use std::future::Future;
use std::time::Duration;

use super::inbox::{timer_millis, Arrived, Inbox};

/// What each lane of the gate carries; an event takes the first free lane.
pub(super) struct Lanes<T> {
    carrying: [Option<T>; MAX_LANES],
    /// Events sent to the gate so far: each one's serial, for the lanes' order.
    admitted: u64,
}

impl<T> Default for Lanes<T> {
    fn default() -> Self {
        Self {
            carrying: std::array::from_fn(|_| None),
            admitted: 0,
        }
    }
}

impl<T> Lanes<T> {
    /// Puts `what` in the first free lane: the lane, and the event's serial.
    pub fn take(&mut self, what: T) -> (usize, u64) {
        let (lane, serial) = self.next_free();
        self.carrying[lane] = Some(what);
        (lane, serial)
    }

    /// The lane and serial an event would take, counted as admitted, for an
    /// event that is shown at the gate without waiting there.
    pub fn next_free(&mut self) -> (usize, u64) {
        self.admitted += 1;
        let lane = self
            .carrying
            .iter()
            .position(Option::is_none)
            .unwrap_or(MAX_LANES - 1);
        (lane, self.admitted)
    }

    /// Frees a lane: what it carried.
    pub fn free(&mut self, lane: usize) -> Option<T> {
        self.carrying[lane].take()
    }

    /// What the lanes carry now.
    pub fn carried(&self) -> impl Iterator<Item = &T> {
        self.carrying.iter().flatten()
    }

    pub fn busy(&self) -> usize {
        self.carried().count()
    }
}

/// A loop with work beside it.
pub(super) trait Beside<'a> {
    /// What each piece of work beside the loop ends with.
    type Work: 'a;

    fn inbox(&mut self) -> &mut Inbox<'a, Self::Work>;

    /// A piece of work beside the loop finished.
    fn finished(&mut self, work: Self::Work);

    /// Runs `work` while the work beside the loop finishes and intents
    /// arrive (kept); `None` once told to stop.
    async fn alongside<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let work = work.fuse();
        futures::pin_mut!(work);
        loop {
            match self.inbox().next(work.as_mut()).await {
                Arrived::Done(done) => return Some(done),
                Arrived::Finished(finished) => self.finished(*finished),
                Arrived::Intent => {}
                Arrived::Stop => return None,
            }
        }
    }

    /// Waits `duration`, or less if an intent arrives or a piece of work
    /// finishes (a lane is free); `false` once told to stop.
    async fn wait(&mut self, duration: Duration) -> bool {
        let timer = std::pin::pin!(TimeoutFuture::new(timer_millis(duration)).fuse());
        match self.inbox().next(timer).await {
            Arrived::Done(()) | Arrived::Intent => true,
            Arrived::Finished(finished) => {
                self.finished(*finished);
                true
            }
            Arrived::Stop => false,
        }
    }

    /// Told to stop: nothing new starts, and the work under way ends (each
    /// delivery recorded or settled, so the agent's work is not done
    /// twice; finishing one piece may start another, which is waited for
    /// too).
    async fn finish_work_under_way(&mut self) {
        while let Some(finished) = self.inbox().next_finished().await {
            self.finished(finished);
        }
    }
}
