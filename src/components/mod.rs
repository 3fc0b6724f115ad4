//! Components render state and send intents; they hold no decisions.

mod alerts;
mod app;
mod controls;
mod login;
mod rail;

pub use app::App;
