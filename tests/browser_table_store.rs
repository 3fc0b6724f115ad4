//! The table store against the real localStorage of headless Chromium: the
//! ledger's round trip, damage, clearing and size bound; dead letters.
#![cfg(target_arch = "wasm32")]

use serde_json::json;
use sluice::browser::storage::StoreError;
use sluice::browser::table_store::TableStore;
use sluice_core::dead_letters::DeadLetter;
use sluice_core::ledger::{Arrival, Ledger};
use sluice_core::source::Position;
use sluice_core::storage_keys;
use sluice_core::timestamp::format_micros;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PROJECT: &str = "http://127.0.0.1:54321";

fn local() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

fn event(i: i64) -> Position {
    let micros = 1_714_557_600_000_000 + i * 1_000;
    Position {
        key: format!("{i:08x}-0000-4000-8000-{i:012x}"),
        timestamp: format_micros(micros),
        timestamp_micros: micros,
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
    let store = TableStore::new(PROJECT, table);
    store.clear_ledger();
    let mut ledger = Ledger::default();
    for i in 0..10_000 {
        let writes = ledger.record(&event(i), Arrival::InOrder);
        store.record(&writes).unwrap();
    }
    assert_eq!(store.ledger().unwrap(), ledger);
    let used = chars_under(&storage_keys::ledger_prefix(PROJECT, table));
    assert!(used < 16 * 1024, "{used} characters after 10,000 events");
    store.clear_ledger();
    assert_eq!(chars_under(&storage_keys::ledger_prefix(PROJECT, table)), 0);
    assert_eq!(store.ledger().unwrap(), Ledger::default());
}

#[wasm_bindgen_test]
fn a_damaged_head_is_an_error_not_a_fresh_start() {
    let table = "ledger_damaged";
    let store = TableStore::new(PROJECT, table);
    local()
        .set_item(&storage_keys::ledger_head(PROJECT, table), "{\"cursor\":")
        .unwrap();
    assert!(matches!(store.ledger(), Err(StoreError::Unreadable { .. })));
    store.clear_ledger();
}

#[wasm_bindgen_test]
fn a_damaged_slot_narrows_the_look_back() {
    let table = "ledger_damaged_slot";
    let store = TableStore::new(PROJECT, table);
    store.clear_ledger();
    let mut ledger = Ledger::default();
    for i in 0..3 {
        store
            .record(&ledger.record(&event(i), Arrival::InOrder))
            .unwrap();
    }
    local()
        .set_item(&storage_keys::ledger_slot(PROJECT, table, 1), "garbage")
        .unwrap();
    let restored = store.ledger().unwrap();
    assert_eq!(restored.cursor(), ledger.cursor());
    assert_eq!(restored.late_floor(), Some(event(2).timestamp_micros));
    store.clear_ledger();
}

fn letter(key: &str, reason: &str) -> DeadLetter {
    DeadLetter {
        key: key.into(),
        event: json!({ "id": key }),
        reason: reason.into(),
        attempts: 1,
        at_ms: 0.0,
        by: None,
    }
}

#[wasm_bindgen_test]
fn dead_letters_are_added_replaced_and_removed_through_the_store() {
    let store = TableStore::new(PROJECT, "letters_round_trip");
    store
        .remove_dead_letters(&["a".into(), "b".into()])
        .unwrap();
    store.add_dead_letter(letter("a", "first")).unwrap();
    let added = store.add_dead_letter(letter("b", "r")).unwrap();
    assert_eq!(added.len(), 2);
    let again = store.add_dead_letter(letter("a", "again")).unwrap();
    assert_eq!(again.len(), 2, "a key dead again replaces its letter");
    // What another part of the page reads is what was stored.
    let stored = TableStore::new(PROJECT, "letters_round_trip")
        .dead_letters()
        .unwrap();
    assert_eq!(stored, again);
    assert_eq!(stored[1].reason, "again");
    let left = store.remove_dead_letters(&["a".into()]).unwrap();
    assert_eq!(
        left.iter().map(|l| l.key.as_str()).collect::<Vec<_>>(),
        ["b"]
    );
    // Damaged letters are an error, not an empty list written over them.
    local()
        .set_item(
            &storage_keys::dead_letters(PROJECT, "letters_round_trip"),
            "[{",
        )
        .unwrap();
    assert!(store.add_dead_letter(letter("c", "r")).is_err());
    assert_eq!(
        local()
            .get_item(&storage_keys::dead_letters(PROJECT, "letters_round_trip"))
            .unwrap()
            .as_deref(),
        Some("[{"),
        "left as it was"
    );
    local()
        .remove_item(&storage_keys::dead_letters(PROJECT, "letters_round_trip"))
        .unwrap();
}

#[wasm_bindgen_test]
fn a_full_list_of_dead_letters_refuses_the_next_and_keeps_every_one() {
    let store = TableStore::new(PROJECT, "letters_full");
    for i in 0..sluice_core::dead_letters::MAX_DEAD_LETTERS {
        store.add_dead_letter(letter(&i.to_string(), "r")).unwrap();
    }
    let before = store.dead_letters().unwrap();
    let refused = store.add_dead_letter(letter("one more", "r")).unwrap_err();
    assert!(refused.to_string().contains("full"), "{refused}");
    assert_eq!(store.dead_letters().unwrap(), before);
    local()
        .remove_item(&storage_keys::dead_letters(PROJECT, "letters_full"))
        .unwrap();
}

#[wasm_bindgen_test]
async fn clearing_a_table_another_drain_holds_waits_for_its_lock() {
    use sluice::browser::tab_lock;
    use sluice_core::ledger::PendingReset;
    use std::cell::Cell;
    use std::rc::Rc;

    let store = TableStore::new(PROJECT, "cleared_under_lock");
    store.clear_ledger();
    store
        .record(&Ledger::default().record(&event(1), Arrival::InOrder))
        .unwrap();
    // A drain holds the table's lock, as the tab draining it does.
    let held = tab_lock::try_acquire(&store.lock_name())
        .await
        .unwrap()
        .expect("the lock is free");
    let waited = Rc::new(Cell::new(false));
    let (done_tx, done_rx) = futures::channel::oneshot::channel();
    let clearing = store.clone();
    let told = waited.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let cleared = clearing.clear_under_lock(|| told.set(true)).await;
        let _ = done_tx.send(cleared);
    });
    gloo_timers::future::TimeoutFuture::new(100).await;
    assert!(waited.get(), "told that another drain holds the table");
    assert_eq!(
        store.ledger().unwrap().handled(),
        1,
        "not cleared under a drain"
    );
    assert_eq!(
        store.pending_reset().unwrap(),
        Some(PendingReset::Clear),
        "kept for the drain to come"
    );
    drop(held);
    done_rx.await.unwrap().unwrap();
    assert_eq!(
        store.ledger().unwrap().handled(),
        0,
        "cleared once the lock is free"
    );
    assert_eq!(store.pending_reset().unwrap(), None);
}
