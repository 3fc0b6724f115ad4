//! One table's dead letters in localStorage, as one small JSON list.

use sluice_core::dead_letters::DeadLetter;
use sluice_core::storage_keys;

use super::storage::{self, Store, StoreError};

pub fn load(project: &str, table: &str) -> Result<Vec<DeadLetter>, StoreError> {
    storage::load(Store::Local, &storage_keys::dead_letters(project, table))
        .map(Option::unwrap_or_default)
}

pub fn save(project: &str, table: &str, list: &[DeadLetter]) -> Result<(), StoreError> {
    storage::save(
        Store::Local,
        &storage_keys::dead_letters(project, table),
        &list,
    )
}
