//! The page's one error message, shared by everything that can fail in
//! front of the operator (components and the runner alike).

use leptos::prelude::*;

/// Errors the operator must see, shown by `components::AlertRegion`.
#[derive(Clone, Copy)]
pub struct Alerts(RwSignal<Option<String>>);

impl Default for Alerts {
    fn default() -> Self {
        Self(RwSignal::new(None))
    }
}

impl Alerts {
    pub fn show(self, message: impl ToString) {
        self.0.set(Some(message.to_string()));
    }

    pub fn clear(self) {
        self.0.set(None);
    }

    /// The message shown, if any (tracked).
    pub fn message(self) -> Option<String> {
        self.0.get()
    }

    pub fn is_empty(self) -> bool {
        self.0.with(Option::is_none)
    }
}
