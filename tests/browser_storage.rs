//! The storage adapter against the real localStorage and sessionStorage of
//! headless Chromium.
#![cfg(target_arch = "wasm32")]

use serde::{Deserialize, Serialize};
use sluice::browser::storage::{self, Store, StoreError};
use sluice_core::rate::ConsumptionRate;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn raw_local() -> web_sys::Storage {
    web_sys::window().unwrap().local_storage().unwrap().unwrap()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    table: String,
    count: u32,
}

#[wasm_bindgen_test]
fn a_value_round_trips_through_each_store() {
    let value = Sample {
        table: "events".into(),
        count: 7,
    };
    for store in [Store::Local, Store::Session] {
        let key = "sluice:test:round-trip";
        storage::save(store, key, &value).unwrap();
        assert_eq!(
            storage::load::<Sample>(store, key).unwrap(),
            Some(value.clone())
        );
        storage::remove(store, key);
        assert_eq!(storage::load::<Sample>(store, key).unwrap(), None);
    }
}

#[wasm_bindgen_test]
fn the_rate_is_stored_as_milliseconds() {
    let key = "sluice:test:rate";
    let rate = ConsumptionRate::from_position(5).unwrap();
    storage::save(Store::Local, key, &rate).unwrap();
    assert_eq!(raw_local().get_item(key).unwrap().as_deref(), Some("5000"));
    assert_eq!(
        storage::load::<ConsumptionRate>(Store::Local, key).unwrap(),
        Some(rate)
    );
    storage::remove(Store::Local, key);
}

#[wasm_bindgen_test]
fn damaged_data_is_reported_and_left_in_place() {
    let key = "sluice:test:damaged";
    for damaged in ["not json", "1234", "{\"table\":1}"] {
        raw_local().set_item(key, damaged).unwrap();
        assert_eq!(
            storage::load::<ConsumptionRate>(Store::Local, key),
            Err(StoreError::Unreadable { key: key.into() })
        );
        assert_eq!(raw_local().get_item(key).unwrap().as_deref(), Some(damaged));
    }
    storage::remove(Store::Local, key);
}

#[wasm_bindgen_test]
fn a_full_quota_is_named_as_such() {
    // Fill localStorage until the browser refuses, then check the adapter's verdict.
    let chunk = "x".repeat(1 << 20);
    let mut filled = Vec::new();
    for i in 0..64 {
        let key = format!("sluice:test:fill:{i}");
        if raw_local().set_item(&key, &chunk).is_err() {
            break;
        }
        filled.push(key);
    }
    let key = "sluice:test:one-more";
    let result = storage::save(Store::Local, key, &"y".repeat(1 << 20));
    for key in &filled {
        raw_local().remove_item(key).unwrap();
    }
    assert_eq!(result, Err(StoreError::Full { key: key.into() }));
}
