//! One table's ledger in localStorage: a head item and one item per ring
//! slot, so recording an event writes two small items.

use sluice_core::ledger::{Head, Ledger, Slot, Write, RING_SLOTS};
use sluice_core::storage_keys;

use super::storage::{self, Store, StoreError};

/// Reads a table's ledger; a new table starts empty. A damaged head is an
/// error: starting from zero would hand every event to the agent again.
pub fn load(project: &str, table: &str) -> Result<Ledger, StoreError> {
    let Some(head) =
        storage::load::<Head>(Store::Local, &storage_keys::ledger_head(project, table))?
    else {
        return Ok(Ledger::default());
    };
    let slots = (0..RING_SLOTS)
        .map(|i| {
            storage::load::<Slot>(Store::Local, &storage_keys::ledger_slot(project, table, i))
                .ok()
                .flatten()
        })
        .collect();
    Ok(Ledger::restore(head, slots))
}

/// Writes what recording an event changed.
pub fn save(project: &str, table: &str, writes: &[Write]) -> Result<(), StoreError> {
    for write in writes {
        match write {
            Write::Head(head) => storage::save(
                Store::Local,
                &storage_keys::ledger_head(project, table),
                head,
            )?,
            Write::Slot(i, slot) => storage::save(
                Store::Local,
                &storage_keys::ledger_slot(project, table, *i),
                slot,
            )?,
        }
    }
    Ok(())
}

/// Forgets a table's history.
pub fn clear(project: &str, table: &str) {
    storage::remove(Store::Local, &storage_keys::ledger_head(project, table));
    for i in 0..RING_SLOTS {
        storage::remove(Store::Local, &storage_keys::ledger_slot(project, table, i));
    }
}
