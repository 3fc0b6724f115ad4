use leptos::prelude::*;
use serde_json::Value;
use sluice_core::inspect::{
    format_bytes, kind, linked_ids, preview, scalar, summary, LARGE_ROW_BYTES, PREVIEW_CHARS,
    PREVIEW_ITEMS,
};
use std::sync::Arc;

use crate::browser::files;

/// An event's row, as far as it is known.
#[derive(Clone)]
pub enum RowState {
    Loaded {
        row: Arc<Value>,
        bytes: usize,
    },
    /// Read again from the table (it was too large to keep).
    Loading,
    Failed(String),
}

/// What the inspector shows: one event, from wherever it was selected.
#[derive(Clone)]
pub struct Inspection {
    pub key: String,
    /// Where it was selected: "history", "gate", "dead letter", "search".
    pub place: &'static str,
    /// Outcome, attempts, duration, reason: whatever is known.
    pub facts: Vec<(&'static str, String)>,
    /// The agent's signals for it, in order.
    pub signals: Vec<String>,
    pub row: RowState,
}

/// The selected event: its facts, linked ids, the agent's signals and its
/// row as collapsible JSON. Every value is a text node: HTML or script in
/// a row is shown, never run. Long strings and lists show a preview first.
#[component]
pub fn Inspector(inspection: RwSignal<Option<Inspection>>) -> impl IntoView {
    let copy_note = RwSignal::new(String::new());
    view! {
        <aside class="panel inspector" aria-label="Inspector">
            <div class="panel__head">
                <h2 class="panel__title">"Inspector"</h2>
                <Show when=move || inspection.with(Option::is_some)>
                    <button type="button" class="button button--small" aria-label="Close the inspector" on:click=move |_| {
                        inspection.set(None);
                        copy_note.set(String::new());
                    }>"Close"</button>
                </Show>
            </div>
            {move || match inspection.get() {
                None => view! {
                    <p class="panel__empty">"Select an event in the history, the dead letters or a search, or the event at the gate."</p>
                }.into_any(),
                Some(inspection) => {
                    let ids = match &inspection.row {
                        RowState::Loaded { row, .. } => linked_ids(row),
                        _ => Vec::new(),
                    };
                    let copy = match &inspection.row {
                        RowState::Loaded { row, .. } => Some(row.clone()),
                        _ => None,
                    };
                    view! {
                        <h3 class="inspector__title">{format!("Event {} ({})", inspection.key, inspection.place)}</h3>
                        <dl class="facts">
                            {inspection.facts.into_iter().chain(ids).map(|(label, value)| view! {
                                <dt>{label}</dt><dd>{value}</dd>
                            }).collect_view()}
                        </dl>
                        <Show when={let empty = inspection.signals.is_empty(); move || !empty}>
                            <h4 class="inspector__subtitle">"Agent signals"</h4>
                        </Show>
                        <ol class="signals">
                            {inspection.signals.into_iter().map(|s| view! { <li>{s}</li> }).collect_view()}
                        </ol>
                        {match inspection.row {
                            RowState::Loading => view! { <p class="panel__empty">"Reading the row from the table…"</p> }.into_any(),
                            RowState::Failed(message) => view! { <p class="inspector__error">{message}</p> }.into_any(),
                            RowState::Loaded { row, bytes } => {
                                let open_levels = if bytes > LARGE_ROW_BYTES { 1 } else { 2 };
                                view! {
                                    <div class="inspector__row-head">
                                        <h4 class="inspector__subtitle">{format!("Row ({})", format_bytes(bytes))}</h4>
                                        <button type="button" class="button button--small" on:click=move |_| {
                                            let Some(row) = copy.clone() else { return };
                                            leptos::task::spawn_local(async move {
                                                let text = serde_json::to_string_pretty(&*row).unwrap_or_default();
                                                copy_note.set(match files::copy(&text).await {
                                                    Ok(()) => "Copied.".into(),
                                                    Err(message) => message,
                                                });
                                            });
                                        }>"Copy as JSON"</button>
                                        <span class="inspector__note" aria-live="polite">{move || copy_note.get()}</span>
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
