//! A question the drain asks before it goes on (a tab without Web Locks,
//! the prototype's keys): answered here, it reaches the drain as an intent.

use leptos::prelude::*;

use super::state::DrainHandle;
use crate::runner::Intent;

#[component]
pub fn DrainQuestion() -> impl IntoView {
    let drain = expect_context::<DrainHandle>();
    move || {
        drain.view().question.get().map(|question| {
            let id = question.id;
            let answer = move |yes: bool| drain.send(Intent::Answer(id, yes));
            view! {
                <section class="offer" role="alertdialog" aria-label="Question" aria-describedby="drain-question">
                    <p id="drain-question">{question.text}</p>
                    <button type="button" class="button button--primary" on:click=move |_| answer(true)>{question.yes}</button>
                    <button type="button" class="button" on:click=move |_| answer(false)>{question.no}</button>
                </section>
            }
        })
    }
}
