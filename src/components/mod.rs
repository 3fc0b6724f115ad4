//! Components render state and send intents; they hold no decisions.
//! `app.rs` lays out the page; `state.rs` holds what the panels share by
//! context; each other file is one panel.

mod agent_settings;
mod alert_settings;
mod alerts;
mod app;
mod controls;
mod dead_letter_panel;
mod format;
mod history;
mod history_file;
mod inspector;
mod keyboard;
mod link_offer;
mod login;
mod metrics_strip;
mod rail;
mod source_dialog;
mod source_search;
mod state;
mod theme;

pub use app::App;
