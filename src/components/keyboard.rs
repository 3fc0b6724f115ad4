use leptos::html;
use leptos::prelude::*;
use sluice_core::shortcuts::{shortcut_for, Focus, Shortcut, SHORTCUTS};
use wasm_bindgen::JsCast;

use super::state::DrainHandle;

/// What the shortcuts act on, shared by the panels that own them.
#[derive(Clone, Copy)]
pub struct ShortcutTargets {
    pub help: NodeRef<html::Dialog>,
    /// Notified to open the source dialog.
    pub open_source: Trigger,
}

impl Default for ShortcutTargets {
    fn default() -> Self {
        Self {
            help: NodeRef::new(),
            open_source: Trigger::new(),
        }
    }
}

/// Space pauses or resumes, S opens the source dialog, / focuses the
/// filter, ? lists the shortcuts; never while typing in a field.
#[component]
pub fn KeyboardShortcuts() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    let targets = expect_context::<ShortcutTargets>();
    let _keys = window_event_listener(leptos::ev::keydown, move |ev| {
        let target = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok());
        let inside = |selector: &str| {
            target
                .as_ref()
                .is_some_and(|el| el.closest(selector).ok().flatten().is_some())
        };
        // Radios, checkboxes and sliders take no typing: keys other than
        // Space (which they use) stay shortcuts there, as on a button.
        let choice = "input[type=radio], input[type=checkbox], input[type=range]";
        let focus = if inside("dialog[open]")
            || (inside("input, select, textarea, [contenteditable]") && !inside(choice))
        {
            Focus::TextEntry
        } else if inside("button, summary, a") || inside(choice) {
            Focus::Control
        } else {
            Focus::Page
        };
        let modified = ev.ctrl_key() || ev.meta_key() || ev.alt_key();
        let Some(shortcut) = shortcut_for(&ev.key(), modified, focus) else {
            return;
        };
        ev.prevent_default();
        match shortcut {
            Shortcut::TogglePause => drain.set_paused(!drain.paused_untracked()),
            Shortcut::OpenSource => targets.open_source.notify(),
            Shortcut::FocusFilter => {
                if let Some(input) = document().get_element_by_id("filter") {
                    if let Ok(input) = input.dyn_into::<web_sys::HtmlElement>() {
                        let _ = input.focus();
                    }
                }
            }
            Shortcut::Help => open_help(targets.help),
        }
    });
}

fn open_help(dialog: NodeRef<html::Dialog>) {
    if let Some(dialog) = dialog.get() {
        let _ = dialog.show_modal();
    }
}

/// The "Shortcuts" button and the dialog that lists them.
#[component]
pub fn ShortcutHelp() -> impl IntoView {
    let help = expect_context::<ShortcutTargets>().help;
    view! {
        <button type="button" class="button" aria-keyshortcuts="?" on:click=move |_| open_help(help)>"Shortcuts"</button>
        <dialog class="dialog" node_ref=help aria-labelledby="shortcuts-title">
            <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
            <dl class="shortcuts">
                {SHORTCUTS.iter().map(|(_, name, _, what)| view! {
                    <div><dt><kbd>{*name}</kbd></dt><dd>{*what}</dd></div>
                }).collect_view()}
            </dl>
            <form method="dialog" class="dialog__actions">
                <button class="button">"Close"</button>
            </form>
        </dialog>
    }
}
