use leptos::html;
use leptos::prelude::*;
use sluice_core::source::TableSource;

use super::confirm;

/// What the dialog needs from the page.
#[derive(Clone, Copy)]
pub struct SourceChoice {
    pub tables: RwSignal<Vec<TableSource>>,
    pub selected: RwSignal<Option<String>>,
    /// Events handled per table, read when the dialog opens.
    pub handled: Callback<String, u64>,
    pub clear: Callback<Option<String>>,
    /// Checks, adds and selects a table; problems land in `add_error`.
    pub add: Callback<TableSource>,
    pub add_error: RwSignal<Option<String>>,
    /// Tables the operator added (only those can be removed).
    pub added: RwSignal<Vec<String>>,
    pub remove: Callback<String>,
    /// Per table: its backlog, or why it cannot be read.
    pub notes: RwSignal<std::collections::HashMap<String, String>>,
    pub refresh_notes: Callback<()>,
    /// Bumped to open the dialog (the keyboard shortcut).
    pub open_requests: RwSignal<u32>,
}

/// The "Source" button and the "Select source" dialog: a native modal
/// `<dialog>` (inert background, Escape closes it) that hands focus back to
/// the button when it closes.
#[component]
pub fn SourceDialog(choice: SourceChoice) -> impl IntoView {
    let dialog = NodeRef::<html::Dialog>::new();
    let opener = NodeRef::<html::Button>::new();
    let counts = RwSignal::new(Vec::<(String, u64)>::new());
    let refresh_counts = move || {
        let names: Vec<String> = choice
            .tables
            .with_untracked(|t| t.iter().map(|s| s.table.as_str().to_string()).collect());
        counts.set(
            names
                .into_iter()
                .map(|name| (name.clone(), choice.handled.run(name)))
                .collect(),
        );
    };
    // A table added or removed shows at once.
    Effect::new(move |_| {
        choice.tables.track();
        refresh_counts();
    });
    let open = move |_: ()| {
        refresh_counts();
        choice.refresh_notes.run(());
        if let Some(dialog) = dialog.get() {
            let _ = dialog.show_modal();
        }
    };
    Effect::new(move |_| {
        if choice.open_requests.get() > 0 {
            open(());
        }
    });
    let close = move |_| {
        if let Some(dialog) = dialog.get() {
            dialog.close();
        }
    };
    let return_focus = move |_| {
        if let Some(button) = opener.get() {
            let _ = button.focus();
        }
    };
    let clear_selected = move |_| {
        if let Some(table) = choice.selected.get_untracked() {
            if confirm(&format!("Clear the history of {table}? Every event in it will be handed to the agent again.")) {
                choice.clear.run(Some(table));
                refresh_counts();
            }
        }
    };
    let clear_all = move |_| {
        let n = choice.tables.with_untracked(Vec::len);
        if confirm(&format!("Clear the history of all {n} tables? Every event in them will be handed to the agent again.")) {
            choice.clear.run(None);
            refresh_counts();
        }
    };
    let new_table = RwSignal::new(String::new());
    let new_timestamp = RwSignal::new("created_at".to_string());
    let new_key = RwSignal::new("id".to_string());
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match TableSource::parse(&new_table.get(), &new_timestamp.get(), &new_key.get()) {
            Ok(source) => choice.add.run(source),
            Err(message) => choice.add_error.set(Some(message)),
        }
    };
    view! {
        <button type="button" class="button" node_ref=opener aria-keyshortcuts="S" on:click=move |_| open(())>"Source"</button>
        <dialog class="dialog" node_ref=dialog aria-labelledby="source-title" on:close=return_focus>
            <h2 id="source-title">"Select source"</h2>
            <fieldset class="dialog__tables">
                <legend>"Tables"</legend>
                <For each=move || counts.get() key=|(name, count)| (name.clone(), *count) let:entry>
                    {
                        let (name, count) = entry;
                        let value = name.clone();
                        let checked_name = name.clone();
                        let name_for_note = name.clone();
                        let name_for_remove = name.clone();
                        view! {
                            <label class="dialog__table">
                                <input
                                    type="radio"
                                    name="source-table"
                                    value=value.clone()
                                    prop:checked=move || choice.selected.get().as_deref() == Some(checked_name.as_str())
                                    on:change=move |_| choice.selected.set(Some(value.clone()))
                                />
                                <span class="dialog__name">{name}</span>
                                <span class="dialog__count">{format!(" — {count} handled")}</span>
                                <span class="dialog__note">
                                    {
                                        let table = name_for_note.clone();
                                        move || choice.notes.with(|n| n.get(&table).cloned()).map(|note| format!(" · {note}")).unwrap_or_default()
                                    }
                                </span>
                                <Show when={
                                    let table = name_for_remove.clone();
                                    move || choice.added.with(|a| a.contains(&table))
                                }>
                                    <button
                                        type="button"
                                        class="button button--small"
                                        aria-label=format!("Remove {}", name_for_remove.clone())
                                        on:click={
                                            let table = name_for_remove.clone();
                                            move |_| {
                                                choice.remove.run(table.clone());
                                                refresh_counts();
                                            }
                                        }
                                    >
                                        "Remove"
                                    </button>
                                </Show>
                            </label>
                        }
                    }
                </For>
            </fieldset>
            <form class="dialog__add" aria-label="Add a table" on:submit=add>
                <label>"Table" <input type="text" name="new-table" bind:value=new_table /></label>
                <label>"Timestamp column" <input type="text" name="new-timestamp" bind:value=new_timestamp /></label>
                <label>"Key column" <input type="text" name="new-key" bind:value=new_key /></label>
                <button type="submit" class="button">"Add table"</button>
                <p class="dialog__error" role="alert">{move || choice.add_error.get().unwrap_or_default()}</p>
            </form>
            <div class="dialog__actions">
                <button type="button" class="button" disabled=move || choice.selected.get().is_none() on:click=clear_selected>
                    "Clear history"
                </button>
                <button type="button" class="button" on:click=clear_all>"Clear all history"</button>
                <button type="button" class="button button--primary" on:click=close>"Close"</button>
            </div>
        </dialog>
    }
}
