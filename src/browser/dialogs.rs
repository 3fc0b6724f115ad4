//! The browser's own yes/no dialog, for the few questions that must be
//! answered before anything else happens.

/// Asks the operator; `false` if the browser cannot ask.
pub fn confirm(question: &str) -> bool {
    web_sys::window()
        .and_then(|w| w.confirm_with_message(question).ok())
        .unwrap_or(false)
}
