use leptos::html;
use leptos::prelude::*;
use sluice_core::history::Entry;
use sluice_core::metrics::format_duration;
use std::sync::Arc;

use crate::runner::DrainView;

/// Time of day of a page-clock instant, "14:03:27".
pub fn clock_time(ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
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
pub fn HistoryPanel(
    view: DrainView,
    filter: Signal<String>,
    on_inspect: Callback<Arc<Entry>>,
) -> impl IntoView {
    let scroller = NodeRef::<html::Div>::new();
    let following = RwSignal::new(true);
    let seen = RwSignal::new(0u64);
    let shown = RwSignal::new(Vec::<Arc<Entry>>::new());
    let show_latest = move || {
        view.journal.with_value(|j| {
            shown.set(j.history.entries().cloned().collect());
            seen.set(j.history.added());
        });
    };
    Effect::new(move |_| {
        view.journal_revision.track();
        if following.get_untracked() {
            show_latest();
        }
    });
    let unseen = move || {
        view.journal_revision.track();
        view.journal.with_value(|j| j.history.new_since(seen.get()))
    };
    let scroll_top = RwSignal::new(0.0);
    let on_scroll = move |_| {
        let top = scroller.get().map_or(0, |s| s.scroll_top());
        scroll_top.set(f64::from(top));
        let at_top = top <= 4;
        if at_top && !following.get_untracked() {
            show_latest();
        }
        following.set(at_top);
    };
    let jump_to_top = move |_| {
        if let Some(s) = scroller.get() {
            s.set_scroll_top(0);
        }
        scroll_top.set(0.0);
        following.set(true);
        show_latest();
    };
    let listed = Memo::new(move |_| {
        let filter = filter.get();
        shown.with(|all| {
            all.iter()
                .filter(|e| e.matches(&filter))
                .cloned()
                .collect::<Vec<_>>()
        })
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
                <Show when=move || { !following.get() && unseen() > 0 }>
                    <button type="button" class="button button--small button--new" on:click=jump_to_top>
                        {move || format!("{} new", unseen())}
                    </button>
                </Show>
            </div>
            <div class="history__scroll" node_ref=scroller on:scroll=on_scroll>
                <Show when=move || shown.with(Vec::is_empty)>
                    <p class="panel__empty">"Events handled in this tab appear here, newest first."</p>
                </Show>
                <ol class="history__list" style:padding-top=move || format!("{}px", window.get().0 as f64 * ROW_PX)
                    style:height=move || format!("{}px", window.get().2 as f64 * ROW_PX)>
                    <For each=rows key=|(_, _, e)| e.serial let:item>
                        {
                            let (position, total, entry) = item;
                            let inspect = entry.clone();
                            let rejected = entry.outcome.is_rejected();
                            view! {
                                <li aria-posinset=position aria-setsize=total>
                                    <button type="button" class="history__row" class:history__row--rejected=rejected
                                        on:click=move |_| on_inspect.run(inspect.clone())>
                                        <span class="history__initials" aria-hidden="true">{entry.badge.initials.clone()}</span>
                                        <span class="history__key">{entry.badge.key.clone()}</span>
                                        <span class="history__type">{entry.badge.label.clone()}</span>
                                        <span class="history__outcome">{entry.outcome.describe(entry.attempts)}</span>
                                        <span class="history__duration">{format_duration_ms(entry.duration_ms)}</span>
                                        <span class="history__time">{clock_time(entry.handled_at_ms)}</span>
                                    </button>
                                </li>
                            }
                        }
                    </For>
                </ol>
            </div>
        </section>
    }
}

/// Time at the gate: milliseconds while short, else as a duration.
pub fn format_duration_ms(ms: f64) -> String {
    if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format_duration(ms / 1000.0)
    }
}
