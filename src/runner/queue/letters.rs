//! A queue's dead letters: looked at in the dead-letter queue (without
//! hiding them), and sent back or discarded letter by letter.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use serde_json::Value;
use sluice_core::dead_letters::{DeadLetter, MAX_DEAD_LETTERS};
use sluice_core::queue::QueueSource;
use sluice_core::source_error::SourceError;

use super::super::inbox::timer_millis;
use super::super::skeleton::Beside;
use super::super::station::{random, Station};
use super::QueueLoop;
use crate::browser::queue_rpc;

impl QueueLoop<'_> {
    /// Sends dead letters back to the queue (`again`) or discards them,
    /// letter by letter. Each letter is archived from the dead-letter queue
    /// first and its message sent back only if that archive answered
    /// `true`: of two operators retrying one letter, one sends it back.
    /// `false` once told to stop.
    pub(super) async fn act_on_letters(&mut self, keys: &[String], again: bool) -> bool {
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
    pub(super) async fn refresh_letters(&mut self) -> bool {
        let (station, source) = (self.station, self.source);
        let arguments = source.dead_letters_arguments(MAX_DEAD_LETTERS);
        let look = queue_rpc::call_for_rows(&station.session, source.name(), "read", &arguments);
        match self.alongside(look).await {
            None => false,
            Some(Ok(records)) => {
                let letters = QueueSource::letters(&records);
                station.view.dead_letters.set(letters);
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
