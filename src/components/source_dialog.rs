use leptos::html;
use leptos::prelude::*;
use sluice_core::queue::QueueSource;
use sluice_core::runtime_config::selection;
use sluice_core::source::{unorderable_note, Source, TableSource};
use sluice_core::storage_keys;

use super::keyboard::ShortcutTargets;
use super::state::{remember, DrainHandle, Sources};
use crate::alerts::Alerts;
use crate::browser::dialogs::confirm;
use crate::browser::{queue_rpc, rest};
use crate::runner::Intent;

/// Events handled per table, read from this browser's storage when the
/// dialog opens and set when a history is cleared or a table added.
#[derive(Clone, Copy)]
struct Handled(RwSignal<Vec<(String, u64)>>);

impl Handled {
    fn read(self, sources: Sources) {
        let read = sources.tables.with_untracked(|tables| {
            tables
                .iter()
                .map(|t| {
                    let name = t.table.as_str().to_string();
                    let handled = sources
                        .store_of(&name)
                        .and_then(|s| s.ledger().ok())
                        .map_or(0, |l| l.handled());
                    (name, handled)
                })
                .collect()
        });
        self.0.set(read);
    }

    fn forget(self, table: &str) {
        self.0.update(|counts| {
            counts.retain(|(name, _)| name != table);
            counts.push((table.to_string(), 0));
        });
    }

    fn of(self, table: &str) -> u64 {
        self.0
            .with(|counts| lookup(counts, table).copied().unwrap_or(0))
    }
}

/// The value listed for `table` (a handful of tables: a list is enough).
fn lookup<'a, T>(list: &'a [(String, T)], table: &str) -> Option<&'a T> {
    list.iter()
        .find(|(name, _)| name == table)
        .map(|(_, value)| value)
}

/// Backlog and reachability of every table ("12 waiting", "unreachable:
/// …"), asked of the server each time the dialog opens (`opens` > 0).
fn backlog_notes(
    sources: Sources,
    opens: ReadSignal<u32>,
) -> LocalResource<Option<Vec<(String, String)>>> {
    LocalResource::new(move || {
        let opens = opens.get();
        let session = sources.session.get_untracked();
        let asked: Vec<(TableSource, Option<_>)> = sources.tables.with_untracked(|tables| {
            tables
                .iter()
                .map(|t| {
                    let cursor = sources
                        .store_of(t.table.as_str())
                        .and_then(|s| s.ledger().ok())
                        .and_then(|l| l.cursor().cloned());
                    (t.clone(), cursor)
                })
                .collect()
        });
        async move {
            let session = session.filter(|_| opens > 0)?;
            let counted = asked.into_iter().map(|(source, cursor)| {
                let session = session.clone();
                async move {
                    let name = source.table.as_str().to_string();
                    let path = source.backlog_path(cursor.as_ref());
                    let note = match rest::count(&session, &name, &path).await {
                        Ok(Some(waiting)) => format!("{waiting} waiting"),
                        Ok(None) => "reachable".to_string(),
                        Err(error) => format!("unreachable: {error}"),
                    };
                    (name, note)
                }
            });
            Some(
                futures::future::join_all(counted)
                    .await
                    .into_iter()
                    .collect(),
            )
        }
    })
}

/// Rows of the drained table that no page reaches, and how to fix them.
#[component]
fn UnorderableRows() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let unorderable = expect_context::<DrainHandle>().view.unorderable;
    move || {
        let note = unorderable_note(unorderable.get())?;
        let source = sources.source.get()?;
        Some(view! {
            <p class="dialog__warning" role="note">
                <strong>{format!("{}: {note}.", source.table.as_str())}</strong>
                " "
                {source.unorderable_fix()}
            </p>
        })
    }
}

/// The "Source" button and the "Select source" dialog: a native modal
/// `<dialog>` (inert background, Escape closes it) that hands focus back to
/// the button when it closes.
#[component]
pub fn SourceDialog() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let open_requests = expect_context::<ShortcutTargets>().open_source;
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    let handled = Handled(RwSignal::new(Vec::new()));
    let (opens, set_opens) = signal(0u32);
    let notes = backlog_notes(sources, opens);
    let open = move || {
        handled.read(sources);
        set_opens.update(|n| *n += 1);
        if let Some(dialog) = dialog.get() {
            let _ = dialog.show_modal();
        }
    };
    // The keyboard shortcut; not on the first run, which only subscribes.
    Effect::new(move |first: Option<()>| {
        open_requests.track();
        if first.is_some() {
            open();
        }
    });
    let return_focus = move |_| {
        if let Some(button) = opener.get() {
            let _ = button.focus();
        }
    };
    let close = move |_| {
        if let Some(dialog) = dialog.get() {
            dialog.close();
        }
    };
    view! {
        <button type="button" class="button" node_ref=opener aria-keyshortcuts="S" on:click=move |_| open()>"Source"</button>
        <dialog class="dialog" node_ref=dialog aria-labelledby="source-title" on:close=return_focus>
            <h2 id="source-title">"Select source"</h2>
            <TableOptions handled=handled notes=notes />
            <UnorderableRows />
            <AddTableForm handled=handled />
            <QueueOptions />
            <AddQueueForm />
            <div class="dialog__actions">
                <ClearHistory handled=handled />
                <button type="button" class="button button--primary" on:click=close>"Close"</button>
            </div>
        </dialog>
    }
}

/// One radio per table, with what this browser handled of it, its
/// backlog, and "Remove" for the tables the operator added.
#[component]
fn TableOptions(
    handled: Handled,
    notes: LocalResource<Option<Vec<(String, String)>>>,
) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let note = move |name: &str| {
        notes.with(|n| {
            n.as_ref()
                .and_then(|n| n.as_ref())
                .and_then(|n| lookup(n, name).cloned())
        })
    };
    let added = move |name: &str| {
        sources
            .added
            .with(|a| a.iter().any(|s| s.table.as_str() == name))
    };
    let remove = move |name: &str| {
        sources
            .added
            .update(|a| a.retain(|s| s.table.as_str() != name));
        sources
            .added
            .with_untracked(|a| remember(&storage_keys::added_tables(), a, alerts));
        if sources.selected.get_untracked().as_deref() == Some(name) {
            sources.selected.set(None);
        }
    };
    view! {
        <fieldset class="dialog__tables">
            <legend>"Tables"</legend>
            <For each=move || sources.tables.get() key=|t| t.table.as_str().to_string() let:table>
                {
                    let name = table.table.as_str().to_string();
                    let this = StoredValue::new(name.clone());
                    view! {
                        <label class="dialog__table">
                            <input
                                type="radio"
                                name="source-table"
                                value=name.clone()
                                prop:checked=move || this.with_value(|n| sources.selected.get().as_ref() == Some(n))
                                on:change=move |_| sources.selected.set(Some(this.get_value()))
                            />
                            <span class="dialog__name">{name.clone()}</span>
                            <span class="dialog__count">{move || format!(" — {} handled", this.with_value(|n| handled.of(n)))}</span>
                            <span class="dialog__note">
                                {move || this.with_value(|n| note(n)).map(|note| format!(" · {note}")).unwrap_or_default()}
                            </span>
                            <Show when=move || this.with_value(|n| added(n))>
                                <button type="button" class="button button--small" aria-label=format!("Remove {name}")
                                    on:click=move |_| this.with_value(|n| remove(n))>
                                    "Remove"
                                </button>
                            </Show>
                        </label>
                    }
                }
            </For>
        </fieldset>
    }
}

/// Adds a table with its timestamp and key columns. It is checked against
/// the project first, so that a missing table or column is named now rather
/// than when it is drained; once added, it is chosen.
#[component]
fn AddTableForm(handled: Handled) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let problem = RwSignal::new(None::<String>);
    let commit = move |source: TableSource| {
        let name = source.table.as_str().to_string();
        problem.set(None);
        handled.forget(&name);
        sources.add_and_select(source, alerts);
    };
    let check_and_add = move |source: TableSource| {
        let Some(session) = sources.session.get_untracked() else {
            return commit(source);
        };
        leptos::task::spawn_local(async move {
            match rest::read_rows(&session, source.table.as_str(), &source.probe_path()).await {
                Ok(_) => commit(source),
                Err(error) => problem.set(Some(error.to_string())),
            }
        });
    };
    let table = RwSignal::new(String::new());
    let timestamp = RwSignal::new("created_at".to_string());
    let key = RwSignal::new("id".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let parsed = TableSource::parse(&table.get(), &timestamp.get(), &key.get());
        match parsed {
            Ok(source)
                if sources
                    .tables
                    .with_untracked(|t| t.iter().any(|s| s.table == source.table)) =>
            {
                problem.set(Some(format!(
                    "{} is already in the list.",
                    source.table.as_str()
                )))
            }
            Ok(source) => check_and_add(source),
            Err(message) => problem.set(Some(message)),
        }
    };
    view! {
        <form class="dialog__add" aria-label="Add a table" on:submit=add>
            <label>"Table" <input type="text" name="new-table" bind:value=table /></label>
            <label>"Timestamp column" <input type="text" name="new-timestamp" bind:value=timestamp /></label>
            <label>"Key column" <input type="text" name="new-key" bind:value=key /></label>
            <button type="submit" class="button">"Add table"</button>
            <p class="dialog__error" role="alert">{move || problem.get().unwrap_or_default()}</p>
        </form>
    }
}

/// "Clear history" (the chosen table) and "Clear all history", each after a
/// confirmation. The drained table is cleared by its runner, between two
/// events; the others directly.
#[component]
fn ClearHistory(handled: Handled) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let drain = expect_context::<DrainHandle>();
    let alerts = expect_context::<Alerts>();
    let clear = move |names: Vec<String>, question: String| {
        if sources.session.with_untracked(Option::is_none) {
            return alerts.show("Log in first: history is kept per project.");
        }
        if !confirm(&question) {
            return;
        }
        let drained = sources.selected.get_untracked();
        for name in names {
            if drain.is_running() && drained.as_ref() == Some(&name) {
                drain.send(Intent::Clear);
            } else if let Some(store) = sources.store_of(&name) {
                store.clear_ledger();
            }
            handled.forget(&name);
        }
    };
    let clear_chosen = move |_| {
        if let Some(table) = sources
            .source
            .get_untracked()
            .map(|s| s.table.as_str().to_string())
        {
            let question = format!("Clear the history of {table}? Every event in it will be handed to the agent again.");
            clear(vec![table], question);
        }
    };
    let clear_all = move |_| {
        let names: Vec<String> = sources
            .tables
            .with_untracked(|t| t.iter().map(|s| s.table.as_str().to_string()).collect());
        let question = format!("Clear the history of all {} tables? Every event in them will be handed to the agent again.", names.len());
        clear(names, question);
    };
    view! {
        <button type="button" class="button" disabled=move || sources.source.get().is_none() on:click=clear_chosen>
            "Clear history"
        </button>
        <button type="button" class="button" on:click=clear_all>"Clear all history"</button>
    }
}

/// One radio per queue, in the same group as the tables: the queue is the
/// progress, so there is no count and no history to clear here.
#[component]
fn QueueOptions() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let added = move |name: &str| {
        sources
            .added_queues
            .with(|a| a.iter().any(|q| q.name() == name))
    };
    let remove = move |queue: &QueueSource| {
        sources
            .added_queues
            .update(|a| a.retain(|q| q.queue != queue.queue));
        sources
            .added_queues
            .with_untracked(|a| remember(&storage_keys::added_queues(), a, alerts));
        if sources.selected.get_untracked() == Some(selection(&Source::Queue(queue.clone()))) {
            sources.selected.set(None);
        }
    };
    view! {
        <fieldset class="dialog__tables">
            <legend>"Queues"</legend>
            <Show when=move || sources.queues.with(Vec::is_empty)>
                <p class="dialog__note">"No queue yet: add one by name below (Supabase Queues, exposed through the API)."</p>
            </Show>
            <For each=move || sources.queues.get() key=|q| q.name().to_string() let:queue>
                {
                    let name = queue.name().to_string();
                    let chosen = selection(&Source::Queue(queue.clone()));
                    let dead_letters = queue.dead_letter_queue.as_str().to_string();
                    let this = StoredValue::new(queue);
                    let value = StoredValue::new(chosen.clone());
                    view! {
                        <label class="dialog__table">
                            <input
                                type="radio"
                                name="source-table"
                                value=chosen
                                prop:checked=move || value.with_value(|v| sources.selected.get().as_ref() == Some(v))
                                on:change=move |_| sources.selected.set(Some(value.get_value()))
                            />
                            <span class="dialog__name">{name.clone()}</span>
                            <span class="dialog__count">{format!(" — queue · dead letters to {dead_letters}")}</span>
                            <Show when=move || this.with_value(|q| added(q.name()))>
                                <button type="button" class="button button--small" aria-label=format!("Remove {name}")
                                    on:click=move |_| this.with_value(remove)>
                                    "Remove"
                                </button>
                            </Show>
                        </label>
                    }
                }
            </For>
        </fieldset>
    }
}

/// Adds a queue by name, with its dead-letter queue (`{queue}_dlq` unless
/// named). Both are checked against the project first, with a read that
/// takes nothing; once added, the queue is chosen.
#[component]
fn AddQueueForm() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let problem = RwSignal::new(None::<String>);
    let queue = RwSignal::new(String::new());
    let dead_letter_queue = RwSignal::new(String::new());
    let check_and_add = move |source: QueueSource| {
        let Some(session) = sources.session.get_untracked() else {
            problem.set(None);
            return sources.add_queue_and_select(source, alerts);
        };
        leptos::task::spawn_local(async move {
            let dead_letters = source.dead_letter_queue.as_str();
            let checked =
                match queue_rpc::call(&session, source.name(), "read", &source.check_arguments())
                    .await
                {
                    Ok(_) => {
                        queue_rpc::call(
                            &session,
                            dead_letters,
                            "read",
                            &source.dead_letters_arguments(0),
                        )
                        .await
                    }
                    Err(error) => Err(error),
                };
            match checked {
                Ok(_) => {
                    problem.set(None);
                    sources.add_queue_and_select(source, alerts);
                }
                Err(error) => problem.set(Some(error.to_string())),
            }
        });
    };
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match QueueSource::parse(&queue.get(), &dead_letter_queue.get()) {
            Ok(source)
                if sources
                    .queues
                    .with_untracked(|q| q.iter().any(|s| s.queue == source.queue)) =>
            {
                problem.set(Some(format!("{} is already in the list.", source.name())))
            }
            Ok(source) => check_and_add(source),
            Err(message) => problem.set(Some(message)),
        }
    };
    view! {
        <form class="dialog__add" aria-label="Add a queue" on:submit=add>
            <label>"Queue" <input type="text" name="new-queue" bind:value=queue /></label>
            <label>"Dead-letter queue" <input type="text" name="new-dead-letter-queue" placeholder="{queue}_dlq" bind:value=dead_letter_queue /></label>
            <button type="submit" class="button">"Add queue"</button>
            <p class="dialog__error" role="alert">{move || problem.get().unwrap_or_default()}</p>
        </form>
    }
}
