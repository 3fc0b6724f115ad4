//! The queues in the source dialog: one radio each, and adding a queue.

use leptos::prelude::*;
use sluice_core::queue::QueueSource;
use sluice_core::runtime_config::selection;
use sluice_core::source::Source;
use sluice_core::storage_keys;

use super::super::state::{remember, Sources};
use crate::alerts::Alerts;
use crate::browser::queue_rpc;

/// One radio per queue, in the same group as the tables: the queue is the
/// progress, so there is no count and no history to clear here.
#[component]
pub(super) fn QueueOptions() -> impl IntoView {
    let sources = expect_context::<Sources>();
    view! {
        <fieldset class="dialog__tables">
            <legend>"Queues"</legend>
            <Show when=move || sources.queues.with(Vec::is_empty)>
                <p class="dialog__note">"No queue yet: add one by name below (Supabase Queues, exposed through the API)."</p>
            </Show>
            <For each=move || sources.queues.get() key=|q| q.name().to_string() let:queue>
                <QueueOption queue=queue />
            </For>
        </fieldset>
    }
}

#[component]
fn QueueOption(queue: QueueSource) -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let name = queue.name().to_string();
    let chosen = selection(&Source::Queue(queue.clone()));
    let dead_letters = queue.dead_letter_queue.as_str().to_string();
    let value = StoredValue::new(chosen.clone());
    let this = StoredValue::new(queue);
    let added = move || {
        this.with_value(|queue| {
            sources
                .added_queues
                .with(|a| a.iter().any(|q| q.queue == queue.queue))
        })
    };
    let remove = move |_| {
        let queue = this.get_value();
        sources
            .added_queues
            .update(|a| a.retain(|q| q.queue != queue.queue));
        sources
            .added_queues
            .with_untracked(|a| remember(&storage_keys::added_queues(), a, alerts));
        if sources.selected.get_untracked() == Some(value.get_value()) {
            sources.selected.set(None);
        }
    };
    view! {
        <label class="dialog__table">
            <input
                type="radio"
                name="source-table"
                value=chosen
                prop:checked=move || value.with_value(|v| sources.selected.get().as_ref() == Some(v))
                on:change=move |_| sources.selected.set(Some(value.get_value()))
            />
            <span class="dialog__name">{name.clone()}</span>
            <span class="dialog__count">{format!(" — queue · dead letters to {dead_letters}")}</span>
            <Show when=added>
                <button type="button" class="button button--small" aria-label=format!("Remove {name}") on:click=remove>
                    "Remove"
                </button>
            </Show>
        </label>
    }
}

/// Adds a queue by name, with its dead-letter queue (`{queue}_dlq` unless
/// named). Both are checked against the project first, with a read that
/// takes nothing; once added, the queue is chosen.
#[component]
pub(super) fn AddQueueForm() -> impl IntoView {
    let sources = expect_context::<Sources>();
    let alerts = expect_context::<Alerts>();
    let problem = RwSignal::new(None::<String>);
    let queue = RwSignal::new(String::new());
    let dead_letter_queue = RwSignal::new(String::new());
    // Both queues are checked against the project when logged in, with
    // reads that take nothing: a missing queue or grant is named now.
    let check_and_add = Action::new_local(move |source: &QueueSource| {
        let source = source.clone();
        let session = sources.session.get_untracked();
        async move {
            if let Some(session) = session {
                let (check, look) = (source.check_arguments(), source.dead_letters_arguments(0));
                let queue = queue_rpc::call(&session, source.name(), "read", &check);
                let letters =
                    queue_rpc::call(&session, source.dead_letter_queue.as_str(), "read", &look);
                if let Err(error) = async {
                    queue.await?;
                    letters.await
                }
                .await
                {
                    return problem.set(Some(error.to_string()));
                }
            }
            problem.set(None);
            sources.add_queue_and_select(source, alerts);
        }
    });
    let checking = check_and_add.pending();
    let add = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match QueueSource::parse(&queue.get(), &dead_letter_queue.get()) {
            Ok(source)
                if sources
                    .queues
                    .with_untracked(|q| q.iter().any(|s| s.queue == source.queue)) =>
            {
                problem.set(Some(format!("{} is already in the list.", source.name())))
            }
            Ok(source) => {
                check_and_add.dispatch(source);
            }
            Err(message) => problem.set(Some(message)),
        }
    };
    view! {
        <form class="dialog__add" aria-label="Add a queue" on:submit=add>
            <label>"Queue" <input type="text" name="new-queue" bind:value=queue /></label>
            <label>"Dead-letter queue" <input type="text" name="new-dead-letter-queue" placeholder="{queue}_dlq" bind:value=dead_letter_queue /></label>
            <button type="submit" class="button" disabled=move || checking.get() aria-busy=move || checking.get().to_string()>
                "Add queue"
            </button>
            <p class="dialog__error" role="alert">{move || problem.get().unwrap_or_default()}</p>
        </form>
    }
}
