//! Components render state and send intents; they hold no decisions.

mod agent_settings;
mod alerts;
mod app;
mod controls;
mod dead_letter_panel;
mod history;
mod inspector;
mod login;
mod metrics_strip;
mod preferences;
mod rail;
mod source_dialog;
mod source_search;

pub use alerts::Alerts;
pub use app::App;

/// Asks the operator with the browser's own dialog; `false` if it cannot.
fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}
