//! Components render state and send intents; they hold no decisions.
//! `app.rs` lays out the page; `page.rs` sets up what it shares (the state
//! in `state.rs`, handed to the panels by context) and its drain; each
//! other file is one panel.

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
mod page;
mod question;
mod rail;
mod sign_in_again;
mod source_dialog;
mod source_search;
mod state;
mod theme;

pub use app::App;
