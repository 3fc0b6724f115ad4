//! Intents that arrive while the loop is busy (a read, a delivery) or
//! waiting. They are kept and applied between steps, in order, so an intent
//! never changes the engine in the middle of one. `Stop` wins at once: the
//! work under way is dropped, except a delivery, which ends its attempt.
//! `RetryNow` is for the delivery under way, so it is handed over at once.

use futures::channel::mpsc::UnboundedReceiver;
use futures::{FutureExt, StreamExt};
use gloo_timers::future::TimeoutFuture;
use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use super::Intent;

/// Intents for the delivery under way, handed over as they arrive.
pub(super) enum Urgent {
    Stop,
    RetryNow,
}

pub(super) struct Inbox {
    arriving: UnboundedReceiver<Intent>,
    kept: VecDeque<Intent>,
}

impl Inbox {
    pub fn new(arriving: UnboundedReceiver<Intent>) -> Self {
        Self {
            arriving,
            kept: VecDeque::new(),
        }
    }

    /// Runs `work` to its end, keeping what arrives meanwhile; `None` once
    /// told to stop.
    pub async fn attend<T>(&mut self, work: impl Future<Output = T>) -> Option<T> {
        let work = work.fuse();
        futures::pin_mut!(work);
        loop {
            // Biased: a Stop that arrives with the result still wins.
            futures::select_biased! {
                intent = self.arriving.next() => match intent {
                    None | Some(Intent::Stop) => return None,
                    Some(intent) => self.kept.push_back(intent),
                },
                done = work => return Some(done),
            }
        }
    }

    /// Runs `work` to its end even when told to stop meanwhile. Urgent
    /// intents go to `on_urgent` at once; the result says whether it was
    /// told to stop (`true`). For the event at the gate, which the agent is
    /// already working on.
    pub async fn finish<T>(
        &mut self,
        work: impl Future<Output = T>,
        on_urgent: impl Fn(Urgent),
    ) -> (T, bool) {
        let work = work.fuse();
        futures::pin_mut!(work);
        loop {
            futures::select_biased! {
                intent = self.arriving.next() => match intent {
                    None | Some(Intent::Stop) => {
                        on_urgent(Urgent::Stop);
                        return (work.await, true);
                    }
                    Some(Intent::RetryNow) => on_urgent(Urgent::RetryNow),
                    Some(intent) => self.kept.push_back(intent),
                },
                done = work => return (done, false),
            }
        }
    }

    /// Waits `duration`, or less if an intent arrives; `false` once told to stop.
    pub async fn wait(&mut self, duration: Duration) -> bool {
        if !self.kept.is_empty() {
            return true;
        }
        // Longer waits are cut to an hour: the loop simply looks again.
        let millis = duration.as_millis().min(3_600_000) as u32;
        futures::select_biased! {
            intent = self.arriving.next() => match intent {
                None | Some(Intent::Stop) => false,
                Some(intent) => {
                    self.kept.push_back(intent);
                    true
                }
            },
            () = TimeoutFuture::new(millis).fuse() => true,
        }
    }

    /// The next intent kept, oldest first.
    pub fn next_kept(&mut self) -> Option<Intent> {
        self.kept.pop_front()
    }
}
