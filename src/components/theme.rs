use leptos::prelude::*;
use sluice_core::storage_keys;
use sluice_core::theme::Theme;

use super::state::{remember, remembered};
use crate::alerts::Alerts;

/// "Theme": system, light or dark, remembered. The stylesheet's
/// `light-dark()` colours follow `data-theme` on the root element, absent
/// for "System". (leptos-use's `use_color_mode` always writes the resolved
/// scheme, so "System" could not stay attribute-free with it.)
#[component]
pub fn ThemeToggle() -> impl IntoView {
    let alerts = expect_context::<Alerts>();
    let theme =
        RwSignal::new(remembered::<Theme>(&storage_keys::theme(), alerts).unwrap_or_default());
    Effect::new(move |_| {
        let chosen = theme.get();
        if let Some(root) = document().document_element() {
            let _ = match chosen.attribute() {
                Some(name) => root.set_attribute("data-theme", name),
                None => root.remove_attribute("data-theme"),
            };
        }
    });
    view! {
        <span class="theme">
            <label for="theme">"Theme"</label>
            <select id="theme" on:change=move |ev| {
                if let Some(chosen) = Theme::from_label(&event_target_value(&ev)) {
                    theme.set(chosen);
                    remember(&storage_keys::theme(), &chosen, alerts);
                }
            }>
                {Theme::ALL.into_iter().map(|t| view! {
                    <option value=t.label() selected=move || theme.get() == t>{t.label()}</option>
                }).collect_view()}
            </select>
        </span>
    }
}
