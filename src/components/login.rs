use leptos::prelude::*;
use sluice_core::credentials::{Session, StoredSession};
use sluice_core::storage_keys;

use super::state::Sources;
use crate::alerts::Alerts;
use crate::browser::clock::now_unix;
use crate::browser::rest;
use crate::browser::storage::{self, Store};

/// The login form, or once logged in, the project and "Log out".
#[component]
pub fn LoginArea(default_project_url: Signal<Option<String>>) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let session = sources.session;
    // A table to send the key-checking request to (whether it exists does not matter).
    let check_table = move || {
        sources
            .selected
            .get_untracked()
            .or_else(|| {
                sources
                    .tables
                    .with_untracked(|t| t.first().map(|s| s.table.as_str().to_string()))
            })
            .unwrap_or_else(|| "events".into())
    };
    // What the operator typed; until then, the deployed default.
    let typed_url = RwSignal::new(None::<String>);
    let project_url = Signal::derive(move || {
        typed_url
            .get()
            .or_else(|| default_project_url.get())
            .unwrap_or_default()
    });
    let api_key = RwSignal::new(String::new());
    let remember = RwSignal::new(false);

    // The key is checked against the project before anything is stored.
    let check = Action::new_local(move |checked: &Session| {
        let checked = checked.clone();
        let table = check_table();
        async move {
            if let Err(refused) = rest::check_login(&checked, &table).await {
                return alerts.show(refused);
            }
            let store = if remember.get_untracked() {
                Store::Local
            } else {
                Store::Session
            };
            if let Err(error) = storage::save(store, &storage_keys::session(), &checked.to_stored())
            {
                alerts.show(error);
            }
            api_key.set(String::new());
            alerts.clear();
            session.set(Some(checked));
        }
    });
    let checking = check.pending();
    let log_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match Session::from_form(&project_url.get(), &api_key.get(), now_unix()) {
            Ok(checked) => {
                check.dispatch(checked);
            }
            Err(error) => alerts.show(error),
        }
    };

    let log_out = move |_| {
        for store in [Store::Session, Store::Local] {
            storage::remove(store, &storage_keys::session());
        }
        session.set(None);
    };

    view! {
        <Show
            when=move || session.with(Option::is_some)
            fallback=move || {
                view! {
                    <form class="login" on:submit=log_in>
                        <label>
                            "Project URL"
                            <input
                                type="url"
                                name="project-url"
                                placeholder="https://abcd.supabase.co"
                                prop:value=project_url
                                on:input=move |ev| typed_url.set(Some(event_target_value(&ev)))
                            />
                        </label>
                        <label>
                            "API key"
                            <input type="password" name="api-key" autocomplete="off" bind:value=api_key />
                        </label>
                        <label class="login__remember">
                            <input type="checkbox" bind:checked=remember />
                            "Remember me"
                        </label>
                        <button
                            type="submit"
                            class="button button--primary"
                            disabled=move || checking.get()
                            aria-busy=move || checking.get().to_string()
                        >
                            "Log in"
                        </button>
                    </form>
                }
            }
        >
            <div class="login login--in">
                <span class="login__project">
                    {move || session.with(|s| s.as_ref().map(|s| s.project.as_str().to_string()))}
                </span>
                <button type="button" class="button" on:click=log_out>"Log out"</button>
            </div>
        </Show>
    }
}

/// The login kept by an earlier page load in this tab (or, with "Remember
/// me", in this browser), re-checked because a key may have expired.
pub fn remembered_session(alerts: Alerts) -> Option<Session> {
    [Store::Session, Store::Local]
        .into_iter()
        .find_map(
            |store| match storage::load::<StoredSession>(store, &storage_keys::session()) {
                Ok(Some(stored)) => match Session::restore(&stored, now_unix()) {
                    Ok(session) => Some(session),
                    Err(error) => {
                        storage::remove(store, &storage_keys::session());
                        alerts.show(format!("The saved login was discarded: {error}"));
                        None
                    }
                },
                Ok(None) => None,
                Err(error) => {
                    alerts.show(error);
                    None
                }
            },
        )
}
