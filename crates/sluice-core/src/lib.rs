//! Sluice's functional core: every decision the app makes that does not need
//! a browser lives here, so plain `cargo test` checks it natively and fast.
//! Nothing in this crate may depend on web-sys, gloo or Leptos (`case` alone
//! takes the browser's case mapping through js-sys, on wasm32).

pub mod admission;
pub mod agent;
pub mod alert_thresholds;
pub mod auth;
pub mod backoff;
pub mod case;
pub mod credentials;
pub mod dead_letters;
pub mod drain;
pub mod gate;
pub mod history;
pub mod inspect;
pub mod ledger;
pub mod legacy;
pub mod login_check;
pub mod metrics;
pub mod queue;
pub mod rate;
pub mod realtime;
pub mod runtime_config;
pub mod shortcuts;
pub mod source;
pub mod source_error;
pub mod source_search;
pub mod storage_keys;
pub mod theme;
pub mod timestamp;
