//! Once per table, and only before Sluice has handled anything in it: the
//! keys the seed prototype recorded are handed to the engine, which records
//! them instead of delivering them. The prototype's item is left untouched.

use sluice_core::drain::Drain;
use sluice_core::legacy;

use super::drive::Context;
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
                drain.import_handled(keys);
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
