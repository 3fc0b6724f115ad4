use leptos::html;
use leptos::prelude::*;
use sluice_core::history::{Entry, Outcome};
use std::sync::Arc;

use super::format::{clock_time, format_duration_ms};
use super::inspector::{Inspected, Inspection};
use super::state::{DrainHandle, Sources};

/// The text that narrows the history and the dead letters.
#[derive(Clone, Copy)]
pub struct Filter(pub RwSignal<String>);

/// The one filter field above both lists ("/" focuses it).
#[component]
pub fn FilterField() -> impl IntoView {
    let filter = expect_context::<Filter>().0;
    view! {
        <label class="filter">
            "Filter history and dead letters"
            <input type="search" id="filter" aria-keyshortcuts="/" bind:value=filter placeholder="key, type, outcome or reason" />
        </label>
    }
}

/// What the inspector shows for a history entry.
fn inspection_of(table: String, entry: &Entry) -> Inspection {
    let mut facts = vec![
        ("Type", entry.badge.label.clone()),
        ("Outcome", entry.outcome.describe(entry.attempts)),
        ("Attempts", entry.attempts.to_string()),
        ("At the gate", format_duration_ms(entry.duration_ms)),
        ("Timestamp", entry.timestamp.clone()),
    ];
    if let Outcome::Rejected(reason) = &entry.outcome {
        facts.push(("Reason", reason.clone()));
    }
    if let Some(by) = &entry.by {
        facts.push(("Handled by", by.clone()));
    }
    Inspection {
        table,
        key: entry.badge.key.clone(),
        place: "history",
        facts,
        signals: entry.signals.clone(),
        row: entry.row.clone(),
    }
}

/// Height of one history row in pixels (fixed in the stylesheet too), and
/// rows drawn beyond the visible ones on each side.
const ROW_PX: f64 = 36.0;
const OVERSCAN: usize = 6;
const VISIBLE_ROWS: usize = 10;

/// The events handled in this tab, newest first. While the operator reads
/// further down, the list holds still and an "N new" button says how many
/// arrived; at the top it follows the drain. Only the rows in view (and a
/// few around them) are in the page: spacers stand in for the rest.
#[component]
pub fn HistoryPanel() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let view = move || drain.view();
    let filter = expect_context::<Filter>().0;
    let scroller = NodeRef::<html::Div>::new();
    // The journal as last published: its entries and how many were ever added.
    let latest = Memo::new(move |_| {
        view().journal_published.track();
        view().journal.with_value(|j| {
            let entries: Vec<Arc<Entry>> = j.history.entries().cloned().collect();
            (entries, j.history.added())
        })
    });
    // While the operator reads further down, the list holds still.
    let held = RwSignal::new(None::<(Vec<Arc<Entry>>, u64)>);
    let shown = move || held.get().unwrap_or_else(|| latest.get()).0;
    let unseen = move || {
        let seen = held.with(|h| h.as_ref().map(|(_, added)| *added));
        seen.map_or(0, |seen| {
            view().journal.with_value(|j| {
                latest.track();
                j.history.new_since(seen)
            })
        })
    };
    let scroll_top = RwSignal::new(0.0);
    let on_scroll = move |_| {
        let top = scroller.get().map_or(0, |s| s.scroll_top());
        scroll_top.set(f64::from(top));
        let at_top = top <= 4;
        match (at_top, held.with_untracked(Option::is_some)) {
            (true, true) => held.set(None),
            (false, false) => held.set(Some(latest.get_untracked())),
            _ => {}
        }
    };
    let jump_to_top = move |_| {
        if let Some(s) = scroller.get() {
            s.set_scroll_top(0);
        }
        scroll_top.set(0.0);
        held.set(None);
    };
    let listed = Memo::new(move |_| {
        let filter = filter.get();
        shown()
            .into_iter()
            .filter(|e| e.matches(&filter))
            .collect::<Vec<_>>()
    });
    let window = Memo::new(move |_| {
        let total = listed.with(Vec::len);
        let first = ((scroll_top.get() / ROW_PX) as usize).saturating_sub(OVERSCAN);
        let start = first.min(total);
        let end = (first + VISIBLE_ROWS + 2 * OVERSCAN).min(total);
        (start, end, total)
    });
    let rows = move || {
        let (start, end, total) = window.get();
        listed.with(|all| {
            all[start..end]
                .iter()
                .enumerate()
                .map(|(i, e)| (start + i + 1, total, e.clone()))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <section class="panel history" aria-label="History">
            <div class="panel__head">
                <h2 class="panel__title">{move || format!("History ({})", listed.with(Vec::len))}</h2>
                <Show when=move || { unseen() > 0 }>
                    <button type="button" class="button button--small button--new" on:click=jump_to_top>
                        {move || format!("{} new", unseen())}
                    </button>
                </Show>
            </div>
            <div class="history__scroll" node_ref=scroller on:scroll=on_scroll>
                <Show when=move || latest.with(|(entries, _)| entries.is_empty())>
                    <p class="panel__empty">"Events handled in this tab appear here, newest first."</p>
                </Show>
                <ol class="history__list" style:padding-top=move || format!("{}px", window.get().0 as f64 * ROW_PX)
                    style:height=move || format!("{}px", window.get().2 as f64 * ROW_PX)>
                    <For each=rows key=|(_, _, e)| e.serial let:item>
                        <HistoryRow position=item.0 total=item.1 entry=item.2 />
                    </For>
                </ol>
            </div>
        </section>
    }
}

/// One handled event; pressing it inspects it.
#[component]
fn HistoryRow(position: usize, total: usize, entry: Arc<Entry>) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let inspected = expect_context::<Inspected>();
    let rejected = entry.outcome.is_rejected();
    let badge = &entry.badge;
    let (initials, key, label) = (
        badge.initials.clone(),
        badge.key.clone(),
        badge.label.clone(),
    );
    let outcome = entry.outcome.describe(entry.attempts);
    let (duration, time) = (
        format_duration_ms(entry.duration_ms),
        clock_time(entry.handled_at_ms),
    );
    let inspect = move |_| {
        if let Some(table) = sources.chosen_name_untracked() {
            inspected.show(inspection_of(table, &entry));
        }
    };
    view! {
        <li aria-posinset=position aria-setsize=total>
            <button type="button" class="history__row" class:history__row--rejected=rejected on:click=inspect>
                <span class="history__initials" aria-hidden="true">{initials}</span>
                <span class="history__key">{key}</span>
                <span class="history__type">{label}</span>
                <span class="history__outcome">{outcome}</span>
                <span class="history__duration">{duration}</span>
                <span class="history__time">{time}</span>
            </button>
        </li>
    }
}
