//! Once per table, and only before Sluice has handled anything in it: the
//! keys the seed prototype recorded are handed to the engine, which records
//! them instead of delivering them, if the operator says so (the
//! prototype's keys name a table but no project). The prototype's item is
//! left untouched.

use sluice_core::ledger::Ledger;
use sluice_core::legacy;

use super::super::inbox::Inbox;
use super::super::view::Question;
use super::intents::ask;
use super::{Context, Finished};
use crate::browser::storage::{self, Store};

/// The prototype's keys the operator chose to treat as handled (asked
/// before the drain exists, so that nothing is admitted meanwhile); `None`
/// once told to stop while the question was asked.
pub(super) async fn keys_to_import(
    context: &Context,
    inbox: &mut Inbox<'_, Finished>,
    ledger: &Ledger,
) -> Option<Vec<String>> {
    let mut chosen = Vec::new();
    if ledger.handled() > 0 || context.store.prototype_imported() {
        return Some(chosen);
    }
    let stored = match storage::load::<serde_json::Value>(Store::Local, legacy::PROTOTYPE_KEY) {
        Ok(Some(stored)) => stored,
        Ok(None) => return Some(chosen),
        Err(error) => {
            context
                .alerts
                .show(format!("The prototype's history was not imported: {error}"));
            return Some(chosen);
        }
    };
    match legacy::parse(&stored.to_string()) {
        Ok((mut tables, _)) => {
            if let Some(keys) = tables.remove(context.store.table()) {
                let question = Question {
                    id: Question::PROTOTYPE_KEYS,
                    text: format!(
                        "This browser holds {} keys of table {} that the Sluice prototype (ms-processed-events) recorded as processed. They do not say which project they came from. Treat them as already handled in {}? If so, they will not be delivered again; if not, they are ignored, and this is not asked again.",
                        keys.len(),
                        context.store.table(),
                        context.session.project.as_str()
                    ),
                    yes: "Treat as handled",
                    no: "Ignore them",
                };
                if ask(context, inbox, question).await? {
                    chosen.extend(keys);
                }
            }
            if let Err(error) = context.store.mark_prototype_imported() {
                context.alerts.show(error);
            }
        }
        Err(message) => context.alerts.show(format!(
            "The prototype's history was not imported: {message}"
        )),
    }
    Some(chosen)
}
