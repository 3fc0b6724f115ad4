use leptos::prelude::*;
use serde_json::Value;
use sluice_core::inspect::{
    format_bytes, kind, linked_ids, preview, scalar, summary, LARGE_ROW_BYTES, PREVIEW_CHARS,
    PREVIEW_ITEMS,
};
use std::sync::Arc;

use super::state::Sources;
use crate::browser::{files, rest};

/// What the inspector shows: one event, from wherever it was selected.
#[derive(Clone, PartialEq)]
pub struct Inspection {
    /// The table it belongs to: on another table it is no longer shown.
    pub table: String,
    pub key: String,
    /// Where it was selected: "history", "gate", "dead letter", "search".
    pub place: &'static str,
    /// Outcome, attempts, duration, reason: whatever is known.
    pub facts: Vec<(&'static str, String)>,
    /// The agent's signals for it, in order.
    pub signals: Vec<String>,
    /// The row when at hand; `None`: read it from the table by its key
    /// (it was too large to keep, or it is at the gate).
    pub row: Option<Arc<Value>>,
}

/// The event the inspector shows, chosen by any panel.
#[derive(Clone, Copy, Default)]
pub struct Inspected(RwSignal<Option<Inspection>>);

impl Inspected {
    pub fn show(self, inspection: Inspection) {
        self.0.set(Some(inspection));
    }
}

/// A row read (or at hand), for the inspection of `key`.
type RowRead = (String, Result<(Arc<Value>, usize), String>);

/// The selected event: its facts, linked ids, the agent's signals and its
/// row as collapsible JSON. Every value is a text node: HTML or script in
/// a row is shown, never run. Long strings and lists show a preview first.
#[component]
pub fn Inspector() -> impl IntoView {
    let inspected = expect_context::<Inspected>().0;
    let sources = expect_context::<Sources>();
    // Shown only while its table is the chosen one.
    let inspection = Memo::new(move |_| {
        let table = sources.chosen_name()?;
        inspected.get().filter(|i| i.table == table)
    });
    let row = LocalResource::new(move || {
        let wanted = inspection.with(|i| i.as_ref().map(|i| (i.key.clone(), i.row.clone())));
        let (session, source) = (
            sources.session.get_untracked(),
            sources.source.get_untracked(),
        );
        async move {
            let (key, known) = wanted?;
            let read = match (known, session, source) {
                (Some(row), _, _) => Ok(row),
                (None, Some(session), Some(source)) => {
                    let path = source.row_path(&key);
                    match rest::read_rows(&session, source.table.as_str(), &path).await {
                        Ok(mut rows) if !rows.is_empty() => Ok(Arc::new(rows.swap_remove(0))),
                        Ok(_) => Err(format!("Row {key} is no longer in the table.")),
                        Err(error) => Err(error.to_string()),
                    }
                }
                (None, _, _) => Err("Log in to read the row.".to_string()),
            };
            Some::<RowRead>((
                key,
                read.map(|row| {
                    let bytes = row.to_string().len();
                    (row, bytes)
                }),
            ))
        }
    });
    let (copied, copy) = copy_with_note();
    view! {
        <aside class="panel inspector" aria-label="Inspector">
            <div class="panel__head">
                <h2 class="panel__title">"Inspector"</h2>
                <Show when=move || inspection.with(Option::is_some)>
                    <button type="button" class="button button--small" aria-label="Close the inspector"
                        on:click=move |_| inspected.set(None)>"Close"</button>
                </Show>
            </div>
            {move || match inspection.get() {
                None => view! {
                    <p class="panel__empty">"Select an event in the history, the dead letters or a search, or the event at the gate."</p>
                }.into_any(),
                Some(inspection) => {
                    let key = inspection.key.clone();
                    // The row read for this key, once it is there.
                    let read = move || row.get().flatten().filter(|(k, _)| *k == key).map(|(_, read)| read);
                    let ids = {
                        let read = read.clone();
                        move || match read() {
                            Some(Ok((row, _))) => linked_ids(&row),
                            _ => Vec::new(),
                        }
                    };
                    let copy = copy.clone();
                    view! {
                        <h3 class="inspector__title">{format!("Event {} ({})", inspection.key, inspection.place)}</h3>
                        <dl class="facts">
                            {inspection.facts.into_iter().map(|(label, value)| view! {
                                <dt>{label}</dt><dd>{value}</dd>
                            }).collect_view()}
                            {move || ids().into_iter().map(|(label, value)| view! {
                                <dt>{label}</dt><dd>{value}</dd>
                            }).collect_view()}
                        </dl>
                        <Show when={let empty = inspection.signals.is_empty(); move || !empty}>
                            <h4 class="inspector__subtitle">"Agent signals"</h4>
                        </Show>
                        <ol class="signals">
                            {inspection.signals.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}
                        </ol>
                        {move || match read() {
                            None => view! { <p class="panel__empty">"Reading the row from the table…"</p> }.into_any(),
                            Some(Err(message)) => view! { <p class="inspector__error">{message}</p> }.into_any(),
                            Some(Ok((row, bytes))) => {
                                let open_levels = if bytes > LARGE_ROW_BYTES { 1 } else { 2 };
                                let (copy, copied_row) = (copy.clone(), row.clone());
                                view! {
                                    <div class="inspector__row-head">
                                        <h4 class="inspector__subtitle">{format!("Row ({})", format_bytes(bytes))}</h4>
                                        <button type="button" class="button button--small" on:click=move |_| copy(&serde_json::to_string_pretty(&*copied_row).unwrap_or_default())>"Copy as JSON"</button>
                                        <span class="inspector__note" aria-live="polite">{move || if copied.get() { "Copied." } else { "" }}</span>
                                    </div>
                                    <ul class="json json--root">{members(row, String::new(), 0, open_levels)}</ul>
                                }.into_any()
                            }
                        }}
                    }.into_any()
                }
            }}
        </aside>
    }
}

/// "Copy as JSON": writes a text to the clipboard and says "Copied." for
/// 1.5 s after (a second copy starts the 1.5 s again), as leptos-use's
/// `use_clipboard` did, without its permission and listener machinery.
fn copy_with_note() -> (
    ReadSignal<bool>,
    impl Fn(&str) + Clone + Send + Sync + 'static,
) {
    let (copied, set_copied) = signal(false);
    // Dropping a timeout (a new copy, or the inspector going away) cancels it.
    let reset = StoredValue::new_local(None::<gloo_timers::callback::Timeout>);
    let copy = move |text: &str| {
        let text = text.to_owned();
        leptos::task::spawn_local(async move {
            if files::copy(&text).await {
                set_copied.set(true);
                let timeout =
                    gloo_timers::callback::Timeout::new(1_500, move || set_copied.set(false));
                reset.set_value(Some(timeout));
            }
        });
    };
    (copied, copy)
}

/// JSON pointer escaping of one key.
fn pointer_to(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

/// The members of the container at `pointer`, a page at a time.
fn members(root: Arc<Value>, pointer: String, depth: usize, open_levels: usize) -> impl IntoView {
    let total = match root.pointer(&pointer) {
        Some(Value::Object(map)) => map.len(),
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    };
    let shown = RwSignal::new(PREVIEW_ITEMS.min(total));
    let list = move || {
        let names: Vec<(String, String)> = match root.pointer(&pointer) {
            Some(Value::Object(map)) => map
                .keys()
                .take(shown.get())
                .map(|k| (format!("{k:?}"), pointer_to(&pointer, k)))
                .collect(),
            Some(Value::Array(items)) => (0..items.len().min(shown.get()))
                .map(|i| (i.to_string(), format!("{pointer}/{i}")))
                .collect(),
            _ => Vec::new(),
        };
        names
            .into_iter()
            .map(|(name, child)| node(root.clone(), child, name, depth + 1, open_levels))
            .collect_view()
    };
    view! {
        {list}
        <Show when=move || { shown.get() < total }>
            <li>
                <button type="button" class="button button--small" on:click=move |_| shown.update(|n| *n = (*n + PREVIEW_ITEMS * 10).min(total))>
                    {move || format!("Show more ({} not shown)", total - shown.get())}
                </button>
            </li>
        </Show>
    }
}

fn node(
    root: Arc<Value>,
    pointer: String,
    name: String,
    depth: usize,
    open_levels: usize,
) -> AnyView {
    let Some(value) = root.pointer(&pointer) else {
        return ().into_any();
    };
    match value {
        Value::Object(_) | Value::Array(_) => {
            let open = RwSignal::new(depth < open_levels);
            let described = summary(value);
            view! {
                <li>
                    <details prop:open=open.get_untracked() on:toggle=move |ev| {
                        let details: web_sys::HtmlDetailsElement = event_target(&ev);
                        open.set(details.open());
                    }>
                        <summary><span class="json__key">{name}</span>": "<span class="json__summary">{described}</span></summary>
                        <Show when=move || open.get()>
                            <ul class="json">{members(root.clone(), pointer.clone(), depth, open_levels)}</ul>
                        </Show>
                    </details>
                </li>
            }
            .into_any()
        }
        Value::String(text) => {
            let (start, hidden) = preview(text, PREVIEW_CHARS);
            let start = start.to_string();
            let whole = RwSignal::new(false);
            let full = root.clone();
            let shown = move || {
                if whole.get() {
                    full.pointer(&pointer).map(scalar).unwrap_or_default()
                } else if hidden > 0 {
                    // The preview's opening quote without a closing one: it goes on.
                    let quoted = scalar(&Value::String(start.clone()));
                    format!("{}…", &quoted[..quoted.len() - 1])
                } else {
                    scalar(&Value::String(start.clone()))
                }
            };
            view! {
                <li>
                    <span class="json__key">{name}</span>": "
                    <span class="json__string">{shown}</span>
                    <Show when=move || { hidden > 0 && !whole.get() }>
                        " "
                        <button type="button" class="button button--small" on:click=move |_| whole.set(true)>
                            {format!("Show all ({} more characters)", hidden)}
                        </button>
                    </Show>
                </li>
            }
            .into_any()
        }
        other => {
            let class = format!("json__{}", kind(other));
            view! {
                <li><span class="json__key">{name}</span>": "<span class=class>{scalar(other)}</span></li>
            }
            .into_any()
        }
    }
}
