//! Sluice in the browser: thin adapters over browser APIs (`browser`), the
//! loop that drives a table's drain (`runner`), and components that render
//! state and send intents (`components`). Every
//! decision lives in the `sluice-core` crate, which is tested natively.

pub mod alerts;
pub mod browser;
pub mod components;
pub mod runner;
