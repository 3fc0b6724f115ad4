use leptos::prelude::*;
use sluice_core::credentials::{Session, StoredSession};
use sluice_core::storage_keys;

use super::sign_in_again::SignInAgain;
use super::state::Sources;
use crate::alerts::Alerts;
use crate::browser::clock::now_unix;
use crate::browser::storage::{self, Store};
use crate::browser::{auth, rest};

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
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let remember = RwSignal::new(false);

    // The project and its key are checked first (a wrong URL, key or CORS
    // setting is named as such, whoever signs in); then, with an email and a
    // password, the operator signs in through Supabase Auth. Nothing is
    // stored until both succeed.
    let check = Action::new_local(
        move |(checked, credentials): &(Session, Option<(String, String)>)| {
            let (mut checked, credentials) = (checked.clone(), credentials.clone());
            let table = check_table();
            async move {
                if let Err(refused) = rest::check_login(&checked, &table).await {
                    return alerts.show(refused);
                }
                let signed = match credentials {
                    Some((email, password)) => {
                        match auth::sign_in(&checked, &email, &password).await {
                            Ok(signed) => Some(signed),
                            Err(refused) => return alerts.show(refused),
                        }
                    }
                    None => None,
                };
                let store = if remember.get_untracked() {
                    Store::Local
                } else {
                    Store::Session
                };
                checked = checked.signed_in_as(signed.as_ref());
                if let Some(signed) = &signed {
                    auth::keep(signed.clone(), store);
                }
                let stored = checked.to_stored(signed.as_ref());
                if let Err(error) = storage::save(store, &storage_keys::session(), &stored) {
                    alerts.show(error);
                }
                api_key.set(String::new());
                password.set(String::new());
                alerts.clear();
                session.set(Some(checked));
            }
        },
    );
    let checking = check.pending();
    let log_in = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let credentials = match (email.get().trim(), password.get()) {
            ("", pass) if pass.is_empty() => None,
            (typed, pass) if !typed.is_empty() && !pass.is_empty() => Some((typed.to_string(), pass)),
            _ => return alerts.show(
                "Enter both an email and a password to sign in as an operator, or neither to use the key alone.",
            ),
        };
        match Session::from_form(&project_url.get(), &api_key.get(), now_unix()) {
            Ok(checked) => {
                check.dispatch((checked, credentials));
            }
            Err(error) => alerts.show(error),
        }
    };

    // Signs out of Supabase Auth too (its refresh tokens end there), then
    // forgets the login here.
    let log_out = Action::new_local(move |_: &()| {
        let current = session.get_untracked();
        async move {
            if let Some(current) = current.filter(|s| s.operator.is_some()) {
                auth::sign_out(&current).await;
            }
            for store in [Store::Session, Store::Local] {
                storage::remove(store, &storage_keys::session());
            }
            session.set(None);
        }
    });

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
                        <label>
                            "Email"
                            <input type="email" name="email" autocomplete="username" bind:value=email />
                        </label>
                        <label>
                            "Password"
                            <input type="password" name="password" autocomplete="current-password" bind:value=password />
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
                    {move || session.with(|s| s.as_ref().map(|s| match &s.operator {
                        Some(operator) => format!("{} · {}", operator.email, s.project.as_str()),
                        None => s.project.as_str().to_string(),
                    }))}
                </span>
                <button type="button" class="button" disabled=move || log_out.pending().get()
                    on:click=move |_| { log_out.dispatch(()); }>"Log out"</button>
            </div>
            <SignInAgain />
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
                    Ok(session) => {
                        if let Some(signed) = stored.signed_in {
                            auth::keep(signed, store);
                        }
                        Some(session)
                    }
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
