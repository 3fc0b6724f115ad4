//! Times and durations as the panels show them.

pub use sluice_core::metrics::{format_duration, format_duration_ms};

/// Time of day of a page-clock instant, "14:03:27", in the browser's zone
/// (which only the browser knows, hence not in the core).
pub fn clock_time(ms: f64) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
    format!(
        "{:02}:{:02}:{:02}",
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}
