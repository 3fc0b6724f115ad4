//! The agent settings as this browser keeps them: in localStorage, except
//! the token, which is kept for the tab (sessionStorage) unless the login is
//! remembered ("Remember me"), like the API key.

use sluice_core::agent::AgentSettings;
use sluice_core::credentials::StoredSession;
use sluice_core::storage_keys;

use super::storage::{self, Store, StoreError};

fn login_remembered() -> bool {
    matches!(
        storage::load::<StoredSession>(Store::Local, &storage_keys::session()),
        Ok(Some(_))
    )
}

/// The saved settings, checked as typed ones are (storage is not
/// trusted); `Err` says why they were not used.
pub fn load_valid() -> Result<Option<AgentSettings>, String> {
    let Some(saved) = load().map_err(|error| error.to_string())? else {
        return Ok(None);
    };
    saved
        .validate()
        .map(Some)
        .map_err(|why| format!("The saved agent settings were not used: {why}"))
}

/// The settings last saved, with their token if this tab (or a remembered
/// login) still has it.
pub fn load() -> Result<Option<AgentSettings>, StoreError> {
    let Some(mut settings) =
        storage::load::<AgentSettings>(Store::Local, &storage_keys::agent_settings())?
    else {
        return Ok(None);
    };
    if !settings.token.is_empty() {
        // Saved before the token was kept apart: move it out now.
        save(&settings)?;
        return Ok(Some(settings));
    }
    for store in [Store::Session, Store::Local] {
        if let Some(token) = storage::load::<String>(store, &storage_keys::agent_token())? {
            settings.token = token;
            break;
        }
    }
    Ok(Some(settings))
}

pub fn save(settings: &AgentSettings) -> Result<(), StoreError> {
    let without_token = AgentSettings {
        token: String::new(),
        ..settings.clone()
    };
    storage::save(
        Store::Local,
        &storage_keys::agent_settings(),
        &without_token,
    )?;
    for store in [Store::Session, Store::Local] {
        storage::remove(store, &storage_keys::agent_token());
    }
    if settings.token.is_empty() {
        return Ok(());
    }
    let store = if login_remembered() {
        Store::Local
    } else {
        Store::Session
    };
    storage::save(store, &storage_keys::agent_token(), &settings.token)
}
