//! While the source holds more than was read, the server counts the
//! backlog every few seconds (never per event); otherwise the view knows it
//! from the drain itself (`DrainView::publish`). Once a minute (every five
//! while Realtime keeps the drain live, so that an idle live table costs
//! next to nothing) it also counts the rows no keyset reaches (a NULL or
//! infinite timestamp), so they are shown rather than silently passed over.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use sluice_core::drain::Drain;
use std::cell::RefCell;

use super::Context;
use crate::browser::rest;
use crate::runner::station::now_ms;

const EVERY_MS: u32 = 5_000;
/// How often the unreachable rows are counted (ms): polling, and live.
const UNORDERABLE_EVERY_MS: f64 = 60_000.0;
const UNORDERABLE_EVERY_LIVE_MS: f64 = 300_000.0;

/// What to count: rows after the cursor, and the events handled when asked.
#[derive(Default)]
pub(super) struct Wanted(RefCell<Option<(String, u64)>>);

impl Wanted {
    /// Set by the loop after each step: a count is wanted only while the
    /// source is known to hold more than was read.
    pub fn follow(&self, context: &Context, drain: &Drain) {
        let wanted = (!drain.backlog_known()).then(|| {
            let ledger = drain.ledger();
            (
                context.source.backlog_path(ledger.cursor()),
                ledger.handled(),
            )
        });
        *self.0.borrow_mut() = wanted;
    }
}

pub(super) async fn count_every_few_seconds(context: &Context, wanted: &Wanted) {
    let table = context.source.table.as_str();
    let mut unorderable_counted_ms = f64::MIN;
    loop {
        let live = context.view.live.with_untracked(|mode| mode.is_live());
        let every = if live {
            UNORDERABLE_EVERY_LIVE_MS
        } else {
            UNORDERABLE_EVERY_MS
        };
        if now_ms() - unorderable_counted_ms >= every {
            unorderable_counted_ms = now_ms();
            let path = context.source.unorderable_path();
            if let Ok(Some(rows)) = rest::count(&context.session, table, &path).await {
                context.view.unorderable.set(rows);
            }
        }
        let query = wanted.0.borrow().clone();
        if let Some((path, handled)) = query {
            if let Ok(Some(rows)) = rest::count(&context.session, table, &path).await {
                context.view.backlog.update(|b| b.counted(rows, handled));
            }
        }
        TimeoutFuture::new(EVERY_MS).await;
    }
}
