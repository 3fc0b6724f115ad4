//! The "Source" button and its "Select source" dialog: the tables
//! (`tables.rs`) and the queues (`queues.rs`) in one radio group, and
//! forms to add either.

mod queues;
mod tables;

use leptos::html;
use leptos::prelude::*;

use super::keyboard::ShortcutTargets;
use super::state::Sources;
use queues::{AddQueueForm, QueueOptions};
use tables::{backlog_notes, AddTableForm, ClearHistory, TableOptions, UnorderableRows};

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
