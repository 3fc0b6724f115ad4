//! Everything Sluice keeps about one (project, table) in localStorage: the
//! ledger (a head item and one item per ring slot, so recording an event
//! writes two small items), the dead letters, the alert limits and the
//! prototype-import flag, and a confirmed reset not made yet. This is the only code that writes those keys; the
//! runner and the panels both go through it.
//!
//! Every change reads what is stored, changes it and writes it back in one
//! synchronous call, so nothing another part of the page (or another tab)
//! wrote in between is lost.

use sluice_core::alert_thresholds::AlertThresholds;
use sluice_core::dead_letters::{self, DeadLetter};
use sluice_core::ledger::{Head, Ledger, LedgerFile, PendingReset, Slot, Write, RING_SLOTS};
use sluice_core::source::Identifier;
use sluice_core::storage_keys;

use super::storage::{self, Store, StoreError};
use super::tab_lock;

/// One table of one project, as stored in this browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableStore {
    project: String,
    table: String,
}

/// Why a dead letter was not kept: its event must then stay unhandled.
#[derive(Debug, thiserror::Error)]
pub enum LetterRefused {
    #[error(
        "The dead letters of {table} are full ({}): retry, discard or export some, then resume.",
        dead_letters::MAX_DEAD_LETTERS
    )]
    Full { table: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TableStore {
    pub fn new(project: &str, table: &str) -> Self {
        Self {
            project: project.to_string(),
            table: table.to_string(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The Web Lock held by the tab that drains this table.
    pub fn lock_name(&self) -> String {
        format!("sluice:{}|{}", self.project, self.table)
    }

    /// Clears the history of a table this tab does not drain, under the
    /// table's lock, so that a tab draining it cannot undo the clear with its
    /// next event. While another tab holds the lock, `waiting` is called and
    /// the clear is kept in storage: it is made when that tab lets go, or by
    /// the next tab that drains the table, whichever comes first.
    pub async fn clear_under_lock(&self, waiting: impl FnOnce()) -> Result<(), StoreError> {
        let name = self.lock_name();
        let _lock = match tab_lock::try_acquire(&name).await {
            Ok(Some(lock)) => Some(lock),
            // Without Web Locks no tab can be kept out: clear now.
            Err(_) => None,
            Ok(None) => {
                self.save_pending_reset(&PendingReset::Clear)?;
                waiting();
                let lock = tab_lock::acquire(&name).await.ok();
                if self.pending_reset()? != Some(PendingReset::Clear) {
                    // The tab that drained it next made the clear already.
                    return Ok(());
                }
                lock
            }
        };
        self.reset(&PendingReset::Clear).map(|_| ())
    }

    /// The table's ledger; a new table starts empty. A damaged head is an
    /// error: starting from zero would hand every event to the agent again.
    pub fn ledger(&self) -> Result<Ledger, StoreError> {
        let Some(head) = storage::load::<Head>(Store::Local, &self.head_key())? else {
            return Ok(Ledger::default());
        };
        let slots = (0..RING_SLOTS)
            .map(|i| {
                storage::load::<Slot>(Store::Local, &self.slot_key(i))
                    .ok()
                    .flatten()
            })
            .collect();
        Ok(Ledger::restore(head, slots))
    }

    /// Writes what recording an event changed in the ledger.
    pub fn record(&self, writes: &[Write]) -> Result<(), StoreError> {
        for write in writes {
            match write {
                Write::Head(head) => storage::save(Store::Local, &self.head_key(), head)?,
                Write::Slot(i, slot) => storage::save(Store::Local, &self.slot_key(*i), slot)?,
            }
        }
        Ok(())
    }

    /// Forgets the table's history (its dead letters stay).
    pub fn clear_ledger(&self) {
        storage::remove(Store::Local, &self.head_key());
        for i in 0..RING_SLOTS {
            storage::remove(Store::Local, &self.slot_key(i));
        }
    }

    /// Replaces the table's history with an imported file's.
    pub fn replace_ledger(&self, file: &LedgerFile) -> Result<Ledger, StoreError> {
        self.clear_ledger();
        self.record(&file.writes())?;
        self.ledger()
    }

    /// Keeps a confirmed reset until the gate is empty.
    pub fn save_pending_reset(&self, reset: &PendingReset) -> Result<(), StoreError> {
        storage::save(Store::Local, &self.reset_key(), reset)
    }

    /// A reset confirmed earlier and not yet made.
    pub fn pending_reset(&self) -> Result<Option<PendingReset>, StoreError> {
        storage::load(Store::Local, &self.reset_key())
    }

    /// Makes a reset: the history is cleared or replaced, and the reset no
    /// longer pending. The ledger to drain from, if it could be stored.
    pub fn reset(&self, reset: &PendingReset) -> Result<Ledger, StoreError> {
        let ledger = match reset {
            PendingReset::Clear => {
                self.clear_ledger();
                Ok(Ledger::default())
            }
            PendingReset::Import(file) => self.replace_ledger(file),
        };
        storage::remove(Store::Local, &self.reset_key());
        ledger
    }

    pub fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        storage::load(Store::Local, &self.letters_key()).map(Option::unwrap_or_default)
    }

    /// Keeps a dead letter (a key dead again replaces its earlier letter)
    /// and returns the list as it now is; a full list drops none.
    pub fn add_dead_letter(&self, letter: DeadLetter) -> Result<Vec<DeadLetter>, LetterRefused> {
        let mut letters = self.dead_letters()?;
        dead_letters::push(&mut letters, letter).map_err(|dead_letters::Full| {
            LetterRefused::Full {
                table: self.table.clone(),
            }
        })?;
        self.save_letters(&letters)?;
        Ok(letters)
    }

    /// Takes the letters with these keys out; returns the list left.
    pub fn remove_dead_letters(&self, keys: &[String]) -> Result<Vec<DeadLetter>, StoreError> {
        let mut letters = self.dead_letters()?;
        dead_letters::take(&mut letters, keys);
        self.save_letters(&letters)?;
        Ok(letters)
    }

    /// The column whose values never overlap at the gate, if one is chosen.
    /// (A damaged name fails to load: `Identifier` checks it.)
    pub fn partition_key(&self) -> Result<Option<Identifier>, StoreError> {
        storage::load(Store::Local, &self.partition_key_key())
    }

    pub fn save_partition_key(&self, key: Option<&Identifier>) -> Result<(), StoreError> {
        match key {
            Some(key) => storage::save(Store::Local, &self.partition_key_key(), key),
            None => {
                storage::remove(Store::Local, &self.partition_key_key());
                Ok(())
            }
        }
    }

    pub fn alert_thresholds(&self) -> Result<AlertThresholds, StoreError> {
        storage::load(Store::Local, &self.thresholds_key()).map(Option::unwrap_or_default)
    }

    pub fn save_alert_thresholds(&self, chosen: &AlertThresholds) -> Result<(), StoreError> {
        storage::save(Store::Local, &self.thresholds_key(), chosen)
    }

    /// Whether the seed prototype's keys were already imported here.
    pub fn prototype_imported(&self) -> bool {
        matches!(
            storage::load::<bool>(Store::Local, &self.prototype_key()),
            Ok(Some(true))
        )
    }

    pub fn mark_prototype_imported(&self) -> Result<(), StoreError> {
        storage::save(Store::Local, &self.prototype_key(), &true)
    }

    fn save_letters(&self, letters: &[DeadLetter]) -> Result<(), StoreError> {
        storage::save(Store::Local, &self.letters_key(), &letters)
    }

    fn head_key(&self) -> String {
        storage_keys::ledger_head(&self.project, &self.table)
    }

    fn slot_key(&self, slot: usize) -> String {
        storage_keys::ledger_slot(&self.project, &self.table, slot)
    }

    fn letters_key(&self) -> String {
        storage_keys::dead_letters(&self.project, &self.table)
    }

    fn thresholds_key(&self) -> String {
        storage_keys::alert_thresholds(&self.project, &self.table)
    }

    fn partition_key_key(&self) -> String {
        storage_keys::partition_key(&self.project, &self.table)
    }

    fn prototype_key(&self) -> String {
        storage_keys::prototype_imported(&self.project, &self.table)
    }

    fn reset_key(&self) -> String {
        storage_keys::pending_reset(&self.project, &self.table)
    }
}
