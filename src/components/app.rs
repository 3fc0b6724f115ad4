use leptos::prelude::*;

use super::agent_settings::AgentSettingsForm;
use super::alert_settings::AlertSettings;
use super::alerts::AlertRegion;
use super::controls::{DrainControls, DrainStatus, RateSlider};
use super::dead_letter_panel::DeadLetterPanel;
use super::history::{FilterField, HistoryPanel};
use super::history_file::HistoryFile;
use super::inspector::Inspector;
use super::keyboard::{KeyboardShortcuts, ShortcutHelp};
use super::link_offer::LinkOffer;
use super::login::LoginArea;
use super::metrics_strip::MetricsStrip;
use super::page::{use_drain, use_page_lifecycle, use_session_refresh, AppState};
use super::question::DrainQuestion;
use super::rail::Rail;
use super::source_dialog::SourceDialog;
use super::source_search::SourceSearchPanel;
use super::theme::ThemeToggle;

/// The page: the shared state, the drain of the chosen source, and the
/// panels laid out.
#[component]
pub fn App() -> impl IntoView {
    let state = AppState::provide();
    use_drain(state);
    use_page_lifecycle(state);
    use_session_refresh(state);
    view! {
        <header class="header">
            <div class="header__start">
                <h1 class="header__title">"Sluice"</h1>
                <SourceDialog />
                <ThemeToggle />
                <ShortcutHelp />
            </div>
            <LoginArea default_project_url=state.default_project_url />
        </header>
        <KeyboardShortcuts />
        <main class="main">
            <LinkOffer />
            <DrainQuestion />
            <Rail />
            <section class="controls" aria-label="Controls">
                <RateSlider />
                <DrainControls />
            </section>
            <DrainStatus />
            <MetricsStrip />
            <AlertRegion />
            <div class="workspace">
                <div class="workspace__lists">
                    <FilterField />
                    <HistoryPanel />
                    <DeadLetterPanel />
                    <SourceSearchPanel />
                </div>
                <Inspector />
            </div>
            <section class="settings" aria-label="Settings">
                <AgentSettingsForm />
                <AlertSettings />
                <HistoryFile />
            </section>
        </main>
    }
}
