//! Components render state and send intents; they hold no decisions.

mod agent_settings;
mod alerts;
mod app;
mod controls;
mod login;
mod rail;
mod source_dialog;

pub use alerts::Alerts;
pub use app::App;
