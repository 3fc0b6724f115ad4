use leptos::prelude::*;

use super::state::Sources;
use crate::alerts::Alerts;
use crate::browser::auth;

/// Once the operator's session ended (revoked, signed out elsewhere, the
/// user removed), asks for their password again. The login, the chosen
/// source and the drain stay as they are: the drain waits with its event
/// where it was, and goes on with it once the operator is back (in this
/// tab or another: `use_session_refresh`).
#[component]
pub fn SignInAgain() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let password = RwSignal::new(String::new());
    let signing_in = RwSignal::new(false);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Some((session, operator)) = sources
            .session
            .get_untracked()
            .and_then(|s| s.operator.clone().map(|operator| (s, operator)))
        else {
            return;
        };
        signing_in.set(true);
        let typed = password.get_untracked();
        leptos::task::spawn_local(async move {
            match auth::sign_in(&session, &operator.email, &typed).await {
                // The email was given to a new account meanwhile: the
                // login names the operator the history records.
                Ok(signed) if signed.user_id != operator.user_id => alerts
                    .show("This email now belongs to another account: log out, then log in again."),
                Ok(signed) => {
                    auth::renew(signed);
                    password.set(String::new());
                    alerts.clear();
                }
                Err(refused) => alerts.show(refused),
            }
            signing_in.set(false);
        });
    };
    view! {
        <Show when=move || auth::ended_reason().is_some()>
            <form class="login login--again" aria-label="Sign in again" on:submit=submit>
                <p class="login__ended">{auth::ended_reason}</p>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" bind:value=password />
                </label>
                <button
                    type="submit"
                    class="button button--primary"
                    disabled=move || signing_in.get()
                >
                    "Sign in again"
                </button>
            </form>
        </Show>
    }
}
