//! Once per table, and only before Sluice has handled anything in it: the
//! keys the seed prototype recorded are handed to the engine, which records
//! them instead of delivering them, if the operator says so (the
//! prototype's keys name a table but no project). The prototype's item is
//! left untouched.

use sluice_core::drain::Drain;
use sluice_core::legacy;

use super::drive::Context;
use crate::browser::dialogs::confirm;
use crate::browser::storage::{self, Store};

pub(super) fn import_keys(context: &Context, drain: &mut Drain) {
    if drain.ledger().handled() > 0 || context.store.prototype_imported() {
        return;
    }
    let stored = match storage::load::<serde_json::Value>(Store::Local, legacy::PROTOTYPE_KEY) {
        Ok(Some(stored)) => stored,
        Ok(None) => return,
        Err(error) => {
            context
                .alerts
                .show(format!("The prototype's history was not imported: {error}"));
            return;
        }
    };
    match legacy::parse(&stored.to_string()) {
        Ok((mut tables, _)) => {
            if let Some(keys) = tables.remove(context.store.table()) {
                let question = format!(
                    "This browser holds {} keys of table {} that the Sluice prototype (ms-processed-events) recorded as processed. They do not say which project they came from.\n\nTreat them as already handled in {}? OK: they will not be delivered again. Cancel: they are ignored, and this is not asked again.",
                    keys.len(),
                    context.store.table(),
                    context.session.project.as_str()
                );
                if confirm(&question) {
                    drain.import_handled(keys);
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
}
