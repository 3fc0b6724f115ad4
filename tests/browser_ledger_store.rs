//! The ledger's storage adapter against the real localStorage of headless
//! Chromium: round trip, damage, clearing, and the size bound.
#![cfg(target_arch = "wasm32")]

use serde_json::json;
use sluice::browser::ledger_store;
use sluice::browser::storage::StoreError;
use sluice_core::ledger::{Arrival, Ledger};
use sluice_core::source::Event;
use sluice_core::storage_keys;
use sluice_core::timestamp::format_micros;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PROJECT: &str = "http://127.0.0.1:54321";

fn local() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn event(i: i64) -> Event {
    let micros = 1_714_557_600_000_000 + i * 1_000;
    Event {
        key: format!("{i:08x}-0000-4000-8000-{i:012x}"),
        timestamp: format_micros(micros),
        timestamp_micros: micros,
        row: json!({}),
    }
}

/// Characters in localStorage under a prefix (names and values).
fn chars_under(prefix: &str) -> usize {
    let storage = local();
    (0..storage.length().unwrap())
        .filter_map(|i| storage.key(i).unwrap())
        .filter(|k| k.starts_with(prefix))
        .map(|k| k.len() + storage.get_item(&k).unwrap().unwrap().len())
        .sum()
}

#[wasm_bindgen_test]
fn a_ledger_round_trips_and_stays_small_however_many_events() {
    let table = "ledger_round_trip";
    ledger_store::clear(PROJECT, table);
    let mut ledger = Ledger::default();
    for i in 0..10_000 {
        let writes = ledger.record(&event(i), Arrival::InOrder);
        ledger_store::save(PROJECT, table, &writes).unwrap();
    }
    assert_eq!(ledger_store::load(PROJECT, table).unwrap(), ledger);
    let used = chars_under(&storage_keys::ledger_prefix(PROJECT, table));
    assert!(used < 16 * 1024, "{used} characters after 10,000 events");
    ledger_store::clear(PROJECT, table);
    assert_eq!(chars_under(&storage_keys::ledger_prefix(PROJECT, table)), 0);
    assert_eq!(
        ledger_store::load(PROJECT, table).unwrap(),
        Ledger::default()
    );
}

#[wasm_bindgen_test]
fn a_damaged_head_is_an_error_not_a_fresh_start() {
    let table = "ledger_damaged";
    local()
        .set_item(&storage_keys::ledger_head(PROJECT, table), "{\"cursor\":")
        .unwrap();
    assert!(matches!(
        ledger_store::load(PROJECT, table),
        Err(StoreError::Unreadable { .. })
    ));
    ledger_store::clear(PROJECT, table);
}

#[wasm_bindgen_test]
fn a_damaged_slot_narrows_the_look_back() {
    let table = "ledger_damaged_slot";
    ledger_store::clear(PROJECT, table);
    let mut ledger = Ledger::default();
    for i in 0..3 {
        ledger_store::save(PROJECT, table, &ledger.record(&event(i), Arrival::InOrder)).unwrap();
    }
    local()
        .set_item(&storage_keys::ledger_slot(PROJECT, table, 1), "garbage")
        .unwrap();
    let restored = ledger_store::load(PROJECT, table).unwrap();
    assert_eq!(restored.cursor(), ledger.cursor());
    assert_eq!(restored.late_floor(), Some(event(2).timestamp_micros));
    ledger_store::clear(PROJECT, table);
}
