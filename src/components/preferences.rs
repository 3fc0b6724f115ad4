use leptos::prelude::*;
use sluice_core::alert_thresholds::AlertThresholds;
use sluice_core::shortcuts::SHORTCUTS;
use sluice_core::theme::Theme;

/// "Theme": system, light or dark.
#[component]
pub fn ThemeToggle(theme: ReadSignal<Theme>, on_choose: Callback<Theme>) -> impl IntoView {
    view! {
        <span class="theme">
            <label for="theme">"Theme"</label>
            <select id="theme" on:change=move |ev| {
                if let Some(chosen) = Theme::from_label(&event_target_value(&ev)) {
                    on_choose.run(chosen);
                }
            }>
                {Theme::ALL.into_iter().map(|t| view! {
                    <option value=t.label() selected=move || theme.get() == t>{t.label()}</option>
                }).collect_view()}
            </select>
        </span>
    }
}

/// The table's lag and error-rate alert limits.
#[component]
pub fn AlertSettings(
    thresholds: Signal<AlertThresholds>,
    on_save: Callback<AlertThresholds>,
) -> impl IntoView {
    let text = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let lag = RwSignal::new(String::new());
    let rate = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    // The form shows the chosen table's limits.
    Effect::new(move |_| {
        let t = thresholds.get();
        lag.set(text(t.max_lag_seconds));
        rate.set(text(t.max_error_percent));
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match AlertThresholds::parse(&lag.get_untracked(), &rate.get_untracked()) {
            Ok(t) => {
                error.set(None);
                on_save.run(t);
            }
            Err(message) => error.set(Some(message)),
        }
    };
    view! {
        <form class="alert-settings" aria-label="Alert limits" on:submit=submit novalidate>
            <label>"Lag alert (seconds)" <input type="number" min="1" bind:value=lag placeholder="off" /></label>
            <label>"Error rate alert (%)" <input type="number" min="1" max="100" bind:value=rate placeholder="off" /></label>
            <button type="submit" class="button">"Save limits"</button>
            <p class="form__error">{move || error.get().unwrap_or_default()}</p>
        </form>
    }
}

/// The shortcuts, listed in a native dialog.
#[component]
pub fn ShortcutHelp(dialog: NodeRef<leptos::html::Dialog>) -> impl IntoView {
    view! {
        <dialog class="dialog" node_ref=dialog aria-labelledby="shortcuts-title">
            <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
            <dl class="shortcuts">
                {SHORTCUTS.iter().map(|(_, name, _, what)| view! {
                    <div><dt><kbd>{*name}</kbd></dt><dd>{*what}</dd></div>
                }).collect_view()}
            </dl>
            <form method="dialog" class="dialog__actions">
                <button class="button">"Close"</button>
            </form>
        </dialog>
    }
}

/// The table's history as a file: exported here, imported in another browser.
#[component]
pub fn TableData(export: Callback<()>, import: Callback<String>) -> impl IntoView {
    let picker = NodeRef::<leptos::html::Input>::new();
    let error = RwSignal::new(String::new());
    let chosen = move |_| {
        let Some(input) = picker.get() else { return };
        leptos::task::spawn_local(async move {
            match crate::browser::files::chosen_text(&input).await {
                Ok(text) => {
                    error.set(String::new());
                    import.run(text);
                }
                Err(message) => error.set(message),
            }
            input.set_value("");
        });
    };
    view! {
        <div class="table-data" role="group" aria-label="History file">
            <button type="button" class="button" on:click=move |_| export.run(())>"Export history"</button>
            <label class="button">
                "Import history"
                <input class="visually-hidden" type="file" accept="application/json,.json" node_ref=picker on:change=chosen />
            </label>
            <p class="form__error">{move || error.get()}</p>
        </div>
    }
}
