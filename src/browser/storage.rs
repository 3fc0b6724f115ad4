//! JSON values in the browser's local or session storage, through
//! gloo-storage, with failures sorted into what an operator can act on.

use gloo_storage::errors::StorageError;
use gloo_storage::{LocalStorage, SessionStorage, Storage};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

/// Which of the browser's stores a value lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// Survives the browser restarting.
    Local,
    /// Ends with the tab.
    Session,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    #[error("Saved data under {key} is damaged or was not written by Sluice; it was left as it is and defaults are used.")]
    Unreadable { key: String },
    #[error("The browser's storage is full, so {key} could not be saved. Free some space (for example clear another table's history).")]
    Full { key: String },
    #[error("The browser refused access to its storage ({reason}); nothing can be remembered in this tab.")]
    Unavailable { reason: String },
}

fn classify(key: &str, error: StorageError) -> StoreError {
    match error {
        StorageError::SerdeError(_) => StoreError::Unreadable {
            key: key.to_string(),
        },
        StorageError::JsError(js) if js.name == "QuotaExceededError" => StoreError::Full {
            key: key.to_string(),
        },
        other => StoreError::Unavailable {
            reason: other.to_string(),
        },
    }
}

/// Reads the value under `key`; `Ok(None)` when nothing is stored there.
pub fn load<T: DeserializeOwned>(store: Store, key: &str) -> Result<Option<T>, StoreError> {
    let found = match store {
        Store::Local => LocalStorage::get(key),
        Store::Session => SessionStorage::get(key),
    };
    match found {
        Ok(value) => Ok(Some(value)),
        Err(StorageError::KeyNotFound(_)) => Ok(None),
        Err(error) => Err(classify(key, error)),
    }
}

/// Writes `value` under `key`.
pub fn save<T: Serialize>(store: Store, key: &str, value: &T) -> Result<(), StoreError> {
    match store {
        Store::Local => LocalStorage::set(key, value),
        Store::Session => SessionStorage::set(key, value),
    }
    .map_err(|error| classify(key, error))
}

/// Forgets the value under `key`.
pub fn remove(store: Store, key: &str) {
    match store {
        Store::Local => LocalStorage::delete(key),
        Store::Session => SessionStorage::delete(key),
    }
}
