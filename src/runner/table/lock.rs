//! One draining tab per table: the loop holds the table's Web Lock while it
//! drains. While another tab holds it, this one watches (reads the source
//! without draining it) and takes over when that tab lets go or closes.

use futures::FutureExt;
use leptos::prelude::*;
use sluice_core::drain::{Drain, Step};
use std::time::Duration;

use super::super::inbox::Inbox;
use super::super::station::{now_ms, random};
use super::super::view::{Condition, Question};
use super::intents::ask;
use super::{Context, Finished};
use crate::browser::{rest, tab_lock};

/// What taking the lock came to.
pub(super) enum Taken {
    Held(tab_lock::TabLock),
    /// The browser has no Web Locks: drain without one if the operator said
    /// so, else watch only.
    Unavailable,
    Stopped,
}

/// Takes the table's lock, watching while another tab holds it. Intents that
/// arrive meanwhile are kept in `inbox`.
pub(super) async fn take(context: &Context, inbox: &mut Inbox<'_, Finished>) -> Taken {
    let name = context.store.lock_name();
    match tab_lock::try_acquire(&name).await {
        Ok(Some(lock)) => Taken::Held(lock),
        Ok(None) => {
            // This tab's own earlier drain of the table may still be ending
            // its last attempts (the table was chosen again meanwhile): wait
            // for it without watching, and without blaming another tab.
            let mut freed = Box::pin(tab_lock::acquire(&name).fuse());
            loop {
                let ours = tab_lock::held_in_this_tab(&name);
                context.view.condition.set(if ours {
                    Condition::Starting
                } else {
                    Condition::OtherTabDraining
                });
                // Watch once, then wait for the lock or the next look.
                if !ours && inbox.attend(watch_once(context)).await.is_none() {
                    return Taken::Stopped;
                }
                context.apply_choices(inbox);
                let interval = context.rate().interval();
                let next_look = gloo_timers::future::sleep(interval.max(Duration::from_secs(1)));
                let Some(lock) = inbox
                    .attend(async {
                        futures::select! {
                            lock = freed.as_mut() => Some(lock),
                            () = next_look.fuse() => None,
                        }
                    })
                    .await
                else {
                    return Taken::Stopped;
                };
                if let Some(lock) = lock {
                    return lock.map_or(Taken::Unavailable, Taken::Held);
                }
            }
        }
        Err(reason) => {
            // Fail closed: without a lock, only the operator knows whether
            // another tab drains this table.
            let table = context.store.table();
            let question = Question {
                id: Question::NO_WEB_LOCKS,
                text: format!(
                    "This page cannot keep other tabs from draining {table} at the same time ({reason}; for example, a page served over plain http on a network address). Drain {table} in this tab only if no other tab or browser drains it; otherwise this tab only watches."
                ),
                yes: "Drain here",
                no: "Watch only",
            };
            match ask(context, inbox, question).await {
                None => return Taken::Stopped,
                Some(true) => {}
                Some(false) => {
                    context.view.watch_only.set(true);
                    context.alerts.show(format!(
                        "Watching {table} only: this page cannot coordinate with other tabs ({reason}). Untick Watch only to drain here once no other tab does."
                    ));
                }
            }
            Taken::Unavailable
        }
    }
}

/// Reads the source once without draining it, as the other tab left it.
async fn watch_once(context: &Context) {
    // The other tab moves the cursor: read it afresh each time.
    let ledger = context.store.ledger().unwrap_or_default();
    let mut drain = Drain::new(context.source.clone(), ledger);
    drain.set_watch_only(true);
    let interval = context.rate().interval();
    if let Step::Read(kind, path) = drain.next(now_ms(), interval) {
        let result = rest::read_rows(&context.session, context.store.table(), &path).await;
        drain.on_read(kind, result, now_ms(), random());
    }
    let view = context.view;
    let (admission, watch_only) = (
        view.admission.get_untracked(),
        view.watch_only.get_untracked(),
    );
    view.publish(&drain);
    // The operator's own choices stay as they were for when this tab drains.
    view.admission.set(admission);
    view.watch_only.set(watch_only);
    view.condition.set(Condition::OtherTabDraining);
}
